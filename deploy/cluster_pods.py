"""The pods of a rendered overlay, as local processes would run them (for deploy/cluster_test.py).

`Cluster` reads what `kubectl kustomize` rendered and, for each pod of the Deployments under
test, builds what the kubelet would start (`Pod`): command and args with $(VAR) expanded, the
environment in the kubelet's order, Secret and ConfigMap volumes written as files, the user,
and every address mapped to loopback (a listen address to a free port, a Service name to a
pod it selects). Nothing here starts a process; cluster_test.py does, and checks them.
"""

from __future__ import annotations

import dataclasses
import os
import re
import secrets
import shlex
import socket
import subprocess
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover - only for the annotation
    from cluster_test import Checks

REPO = Path(__file__).resolve().parent.parent
# The Deployments under test, in start order: consumers before the services they call, the
# worst order for a service that does not cope with a peer that is not up yet.
DEPLOYMENTS = ["acx-liaison", "acx-scoring", "acx-ingest"]
BINARIES = ["acx-ingest", "acx-scoring", "acx-liaison"]
OTEL_ENDPOINT_VARS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
NODE_NAME = "ct-node-1"
IMAGE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class TestFailure(Exception):
    """A problem that makes the rest of the run meaningless."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- protobuf, by hand: the few messages this test sends and reads ---------------------------

def image_config() -> tuple[dict[str, str], str | None]:
    """ENV and USER of the final stage of deploy/Dockerfile (continuation lines joined)."""
    text = (REPO / "deploy" / "Dockerfile").read_text()
    text = re.sub(r"\\\n", " ", text)
    env: dict[str, str] = {}
    user: str | None = None
    for line in text.splitlines():
        words = line.strip().split(None, 1)
        if not words:
            continue
        keyword = words[0].upper()
        rest = words[1] if len(words) > 1 else ""
        if keyword == "FROM":
            env, user = {}, None
        elif keyword == "ENV":
            parts = shlex.split(rest)
            if parts and "=" not in parts[0]:  # legacy `ENV KEY value`
                env[parts[0]] = rest.split(None, 1)[1] if len(parts) > 1 else ""
            else:
                env.update(part.split("=", 1) for part in parts)
        elif keyword == "USER":
            user = rest.strip()
    return env, user


# --- rendering and the pods ---------------------------------------------------------------

def expand(text: str, env: dict[str, str]) -> str:
    """Kubernetes $(VAR) expansion: $$ is a literal $, unknown references stay as they are."""
    out, i = [], 0
    while i < len(text):
        if text[i] == "$" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt == "$":
                out.append("$")
                i += 2
                continue
            if nxt == "(":
                end = text.find(")", i + 2)
                if end != -1:
                    name = text[i + 2:end]
                    out.append(env[name] if name in env else text[i:end + 1])
                    i = end + 1
                    continue
        out.append(text[i])
        i += 1
    return "".join(out)


def parse_quantity(text: str) -> float:
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}
    match = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", str(text))
    if not match or (match.group(2) and match.group(2) not in units):
        raise ValueError(f"cannot read quantity {text!r}")
    return float(match.group(1)) * units.get(match.group(2), 1)


def pod_key(deployment: str, index: int) -> str:
    return f"{deployment}/{index}"


def replica_count(docs: list[dict], deployment: str, cap: int) -> int:
    """The pods the overlay starts for `deployment`: its `replicas`, else the minReplicas of the
    HorizontalPodAutoscaler that scales it (else 1), at most `cap` (a test, not a load run)."""
    wanted = None
    for doc in docs:
        if doc.get("kind") == "Deployment" and doc["metadata"]["name"] == deployment:
            wanted = doc["spec"].get("replicas", wanted)
        target = (doc.get("spec") or {}).get("scaleTargetRef") or {}
        if (doc.get("kind") == "HorizontalPodAutoscaler" and target.get("kind") == "Deployment"
                and target.get("name") == deployment and wanted is None):
            wanted = doc["spec"].get("minReplicas", 1)
    return max(1, min(cap, 1 if wanted is None else int(wanted)))


@dataclasses.dataclass
class Pod:
    deployment: str
    key: str                        # <deployment>/<index>: how this test names the pod
    name: str                       # the pod's name in the made-up cluster
    root: Path                      # the container's filesystem view: cwd, mounts below it
    argv: list[str]
    env: dict[str, str]
    user: tuple[int, int, list[int]] | None
    probe_ports: dict[str, int]     # probe kind -> container port
    probes: dict[str, dict]
    startup_budget: float
    grace: int
    pre_stop: int
    memory_limit: float | None
    local_ports: dict[int, int]     # container port -> local port
    empty_dirs: list[Path]
    mount_tops: set[str]            # what this test put at the top of root: volumes, mount points
    notes: list[str]
    process: subprocess.Popen | None = None
    log_path: Path | None = None
    started: float = 0.0
    ready_after: float | None = None
    stop_seconds: float | None = None
    exit_code: int | None = None
    peak_rss: float | None = None
    killed: bool = False

    def local(self, container_port: int) -> str:
        return f"127.0.0.1:{self.local_ports[container_port]}"


class Cluster:
    """What the rendered overlay says, and the local stand-ins for what it leaves out."""

    def __init__(self, docs: list[dict], secret_values: dict[str, dict[str, str]],
                 binaries: dict[str, Path], workdir: Path, otel_port: int | None,
                 checks: "Checks", max_replicas: int) -> None:
        self.docs = docs
        self.secrets = secret_values
        self.binaries = binaries
        self.workdir = workdir
        self.otel_port = otel_port
        self.checks = checks
        self.config_maps = self._of_kind("ConfigMap")
        self.services = self._of_kind("Service")
        self.deployments = self._of_kind("Deployment")
        self.image_env, self.image_user = image_config()
        self.local_ports: dict[str, dict[int, int]] = {}   # pod key -> container -> local port
        self.replicas = {d: replica_count(docs, d, max_replicas) for d in self.deployments}
        self.pod_names: dict[str, str] = {}
        for d in self.deployments:
            template_hash = secrets.token_hex(5)
            for index in range(self.replicas[d]):
                self.pod_names[pod_key(d, index)] = f"{d}-{template_hash}-{secrets.token_hex(3)[:5]}"
        # host:port of each rendered Service (every DNS spelling) -> the Deployment it selects
        # and the container port, or a fixed local address (the stub collector)
        self.service_hosts: dict[tuple[str, int], tuple[str, int] | str] = {}
        self.service_names: set[str] = set()
        self._map_services()

    def _of_kind(self, kind: str) -> dict[str, dict]:
        return {d["metadata"]["name"]: d for d in self.docs if d.get("kind") == kind}

    def local_port(self, key: str, container_port: int) -> int:
        ports = self.local_ports.setdefault(key, {})
        if container_port not in ports:
            ports[container_port] = free_port()
        return ports[container_port]

    @staticmethod
    def container_of(deployment: dict) -> dict:
        containers = deployment["spec"]["template"]["spec"]["containers"]
        if len(containers) != 1:
            raise TestFailure(f"Deployment {deployment['metadata']['name']}: expected one container")
        return containers[0]

    def _map_services(self) -> None:
        for name, service in self.services.items():
            namespace = service["metadata"].get("namespace", "default")
            selector = service["spec"].get("selector") or {}
            hosts = [name, f"{name}.{namespace}", f"{name}.{namespace}.svc",
                     f"{name}.{namespace}.svc.cluster.local"]
            self.service_names.update(hosts)
            target = None
            for dep_name, dep in self.deployments.items():
                labels = dep["spec"]["template"]["metadata"].get("labels", {})
                if selector and all(labels.get(k) == v for k, v in selector.items()):
                    target = dep_name
            for port in service["spec"].get("ports", []):
                if target in DEPLOYMENTS:
                    container = self.container_of(self.deployments[target])
                    wanted = port.get("targetPort", port["port"])
                    if isinstance(wanted, str):
                        named = [p["containerPort"] for p in container.get("ports", [])
                                 if p.get("name") == wanted]
                        if not named:
                            self.checks.fail(f"Service {name}: targetPort {wanted!r} is no port of {target}")
                            continue
                        wanted = named[0]
                    address: tuple[str, int] | str = (target, int(wanted))
                elif name == "otel-collector" and self.otel_port is not None:
                    address = f"127.0.0.1:{self.otel_port}"
                else:
                    continue
                for host in hosts:
                    self.service_hosts[(host, port["port"])] = address

    def service_address(self, host: str, port: int, index: int) -> str | None:
        """The local address pod `index` of a caller reaches for host:port of a Service: pod
        index mod n of the n pods it selects (kube-proxy would pick one per connection)."""
        target = self.service_hosts.get((host, port))
        if target is None or isinstance(target, str):
            return target
        deployment, container_port = target
        backend = pod_key(deployment, index % self.replicas[deployment])
        return f"127.0.0.1:{self.local_port(backend, container_port)}"

    # -- substitution of the values that came from the manifests (never of local secrets)

    def localize(self, value: str, key: str, index: int, mounts: dict[str, Path], where: str,
                 notes: list[str]) -> str:
        listen = re.fullmatch(r"(0\.0\.0\.0|\[::\]|::)?:(\d+)", value)
        if listen:
            return f"127.0.0.1:{self.local_port(key, int(listen.group(2)))}"

        def host_port(match: re.Match) -> str:
            host, port = match.group(1), int(match.group(2))
            return self.service_address(host, port, index) or match.group(0)

        value = re.sub(r"(?<![\w.-])([a-z0-9][a-z0-9.-]*):(\d+)(?!\d)", host_port, value)
        flag, sep, path = value.partition("=") if value.startswith("--") else ("", "", value)
        if path.startswith("/"):
            for mount_path in sorted(mounts, key=len, reverse=True):
                if path == mount_path or path.startswith(mount_path.rstrip("/") + "/"):
                    path = str(mounts[mount_path]) + path[len(mount_path.rstrip("/")):]
                    break
            else:
                notes.append(f"{where}={path}: no volume provides it (must be in the image)")
            value = flag + sep + path
        return value

    def unresolved_hosts(self, value: str) -> list[str]:
        return [f"{h}:{p}" for h, p in re.findall(r"(?<![\w.-])([a-z0-9][a-z0-9.-]*):(\d+)(?!\d)", value)
                if h in self.service_names or h.endswith(".svc") or h.endswith(".cluster.local")]

    def service_link_env(self, namespace: str, index: int) -> dict[str, str]:
        """The docker-link variables the kubelet adds when enableServiceLinks is not false."""
        env: dict[str, str] = {}
        for name, service in self.services.items():
            if service["metadata"].get("namespace", "default") != namespace:
                continue
            prefix = name.upper().replace("-", "_")
            ports = service["spec"].get("ports", [])
            if not ports:
                continue
            for index, port in enumerate(ports):
                address = (self.service_address(name, port["port"], index)
                           or f"127.0.0.1:{port['port']}")
                host, local = address.rsplit(":", 1)
                proto = port.get("protocol", "TCP")
                if index == 0:
                    env[f"{prefix}_SERVICE_HOST"] = host
                    env[f"{prefix}_SERVICE_PORT"] = local
                    env[f"{prefix}_PORT"] = f"{proto.lower()}://{address}"
                if port.get("name"):
                    env[f"{prefix}_SERVICE_PORT_{port['name'].upper().replace('-', '_')}"] = local
                base = f"{prefix}_PORT_{port['port']}_{proto}"
                env[base] = f"{proto.lower()}://{address}"
                env[f"{base}_PROTO"] = proto.lower()
                env[f"{base}_PORT"] = local
                env[f"{base}_ADDR"] = host
        return env

    def field_ref(self, deployment: dict, key: str, path: str) -> str:
        name = deployment["metadata"]["name"]
        meta = deployment["spec"]["template"]["metadata"]
        values = {
            "metadata.name": self.pod_names[key],
            "metadata.namespace": deployment["metadata"].get("namespace", "default"),
            "metadata.uid": str(uuid.uuid4()),
            "spec.nodeName": NODE_NAME,
            "spec.serviceAccountName": deployment["spec"]["template"]["spec"].get("serviceAccountName", "default"),
            "status.hostIP": "127.0.0.1",
            "status.podIP": "127.0.0.1",
            "status.podIPs": "127.0.0.1",
            "status.hostIPs": "127.0.0.1",
        }
        if path in values:
            return values[path]
        match = re.fullmatch(r"metadata\.(labels|annotations)\['([^']+)'\]", path)
        if match:
            return (meta.get(match.group(1)) or {}).get(match.group(2), "")
        raise TestFailure(f"Deployment {name}: fieldRef {path} is not emulated")

    def secret_data(self, name: str) -> dict[str, str] | None:
        """The local stand-in of a Secret; a generated one (dev) by its name without the hash."""
        if name in self.secrets:
            return self.secrets[name]
        base = re.sub(r"-[a-z0-9]{10}$", "", name)
        if base != name and name in self._of_kind("Secret"):
            return self.secrets.get(base)
        return None

    def secret_value(self, secret: str, key: str, optional: bool, where: str) -> str | None:
        data = self.secret_data(secret)
        if data is None or key not in data:
            if optional:
                return None
            raise TestFailure(f"{where}: refers to Secret {secret} key {key}, which is not one of the "
                              f"documented operator Secrets ({', '.join(sorted(self.secrets))})")
        return data[key]

    def config_map_data(self, name: str, optional: bool, where: str) -> dict[str, str] | None:
        if name not in self.config_maps:
            if optional:
                return None
            raise TestFailure(f"{where}: ConfigMap {name} is not in the rendered overlay")
        return dict(self.config_maps[name].get("data") or {})

    # -- volumes

    def materialize_volumes(self, dep_name: str, pod_spec: dict, container: dict, root: Path,
                            owner: tuple[int, int] | None) -> tuple[dict[str, Path], list[Path]]:
        volumes = {v["name"]: v for v in pod_spec.get("volumes", [])}
        mounts: dict[str, Path] = {}
        empty_dirs: list[Path] = []
        for mount in container.get("volumeMounts", []):
            where = f"Deployment {dep_name}: volumeMount {mount['name']}"
            volume = volumes.get(mount["name"])
            if volume is None:
                raise TestFailure(f"{where}: no such volume")
            local = root / "volumes" / mount["name"]
            if not local.exists():
                self._write_volume(volume, local, owner, where)
                if "emptyDir" in volume:
                    empty_dirs.append(local)
            target = local / mount["subPath"] if mount.get("subPath") else local
            mounts[mount["mountPath"]] = target
            # Show the mount where the pod has it too, for whoever reads the kept directory.
            link = root / mount["mountPath"].lstrip("/")
            link.parent.mkdir(parents=True, exist_ok=True)
            if not link.exists():
                link.symlink_to(target)
        return mounts, empty_dirs

    def _write_volume(self, volume: dict, local: Path, owner: tuple[int, int] | None,
                      where: str) -> None:
        local.mkdir(parents=True)
        local.chmod(0o755)
        if "emptyDir" in volume:
            local.chmod(0o777)  # what the kubelet gives an emptyDir
            return
        sources = []
        if "secret" in volume:
            sources.append(("secret", volume["secret"], volume["secret"].get("defaultMode", 0o644)))
        elif "configMap" in volume:
            sources.append(("configMap", volume["configMap"], volume["configMap"].get("defaultMode", 0o644)))
        elif "projected" in volume:
            mode = volume["projected"].get("defaultMode", 0o644)
            for source in volume["projected"].get("sources", []):
                kind = next(iter(source))
                if kind not in ("secret", "configMap"):
                    raise TestFailure(f"{where}: projected source {kind} is not emulated")
                sources.append((kind, source[kind], mode))
        else:
            raise TestFailure(f"{where}: volume type {sorted(set(volume) - {'name'})} is not emulated")
        for kind, ref, default_mode in sources:
            optional = bool(ref.get("optional"))
            if kind == "secret":
                name = ref.get("secretName") or ref.get("name")
                data = self.secret_data(name)
                if data is None and not optional:
                    raise TestFailure(f"{where}: Secret {name} is not one of the documented operator "
                                      f"Secrets ({', '.join(sorted(self.secrets))})")
            else:
                data = self.config_map_data(ref["name"], optional, where)
            if data is None:
                continue
            items = ref.get("items") or [{"key": k, "path": k} for k in data]
            for item in items:
                if item["key"] not in data:
                    if optional:
                        continue
                    raise TestFailure(f"{where}: {kind} {ref.get('secretName') or ref.get('name')} "
                                      f"has no key {item['key']}")
                path = local / item["path"]
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(data[item["key"]])
                if owner is not None:
                    os.chown(path, 0, owner[1])
                path.chmod(item.get("mode", default_mode))

    # -- the pod

    def pod(self, dep_name: str, index: int) -> Pod:
        this = pod_key(dep_name, index)
        deployment = self.deployments.get(dep_name)
        if deployment is None:
            raise TestFailure(f"the rendered overlay has no Deployment {dep_name}")
        spec = deployment["spec"]["template"]["spec"]
        container = self.container_of(deployment)
        namespace = deployment["metadata"].get("namespace", "default")
        where = f"Deployment {dep_name}"
        notes: list[str] = []
        if spec.get("initContainers"):
            raise TestFailure(f"{where}: init containers are not emulated")

        # user and groups: the container's securityContext wins over the pod's
        pod_sc, ctr_sc = spec.get("securityContext") or {}, container.get("securityContext") or {}
        image_uid, image_gid = (self.image_user or "0:0").partition(":")[::2]
        uid = int(ctr_sc.get("runAsUser", pod_sc.get("runAsUser", image_uid or 0)))
        gid = int(ctr_sc.get("runAsGroup", pod_sc.get("runAsGroup", image_gid or 0)))
        fs_group = pod_sc.get("fsGroup")
        if (ctr_sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) and uid == 0):
            self.checks.fail(f"{where}: runAsNonRoot, but it would run as uid 0")
        user = None
        if os.geteuid() == 0:
            groups = [int(fs_group)] if fs_group is not None else []
            groups += [int(g) for g in pod_sc.get("supplementalGroups", [])]
            user = (uid, gid, groups)
        else:
            notes.append("not root: runs as the current user, not as its runAsUser")

        root = self.workdir / "pods" / dep_name / str(index)
        root.mkdir(parents=True)
        root.chmod(0o755)
        mounts, empty_dirs = self.materialize_volumes(
            dep_name, spec, container, root, (uid, int(fs_group)) if user and fs_group is not None else None)

        # environment, in the kubelet's order
        env: dict[str, str] = {}
        from_manifest: set[str] = set()
        if spec.get("enableServiceLinks", True) is not False:
            env.update(self.service_link_env(namespace, index))
            from_manifest.update(env)
            notes.append("enableServiceLinks is not false: docker-link variables added")
        for source in container.get("envFrom", []):
            prefix = source.get("prefix", "")
            if "configMapRef" in source:
                ref = source["configMapRef"]
                data = self.config_map_data(ref["name"], bool(ref.get("optional")), where) or {}
                for key, value in data.items():
                    env[prefix + key] = value
                    from_manifest.add(prefix + key)
            elif "secretRef" in source:
                ref = source["secretRef"]
                data = self.secret_data(ref["name"])
                if data is None and not ref.get("optional"):
                    raise TestFailure(f"{where}: envFrom Secret {ref['name']} is not documented")
                for key, value in (data or {}).items():
                    env[prefix + key] = value
                    from_manifest.discard(prefix + key)
        for var in container.get("env", []):
            name = var["name"]
            if "valueFrom" not in var:
                env[name] = expand(var.get("value", ""), env)
                from_manifest.add(name)
                continue
            source = var["valueFrom"]
            value: str | None
            if "configMapKeyRef" in source:
                ref = source["configMapKeyRef"]
                data = self.config_map_data(ref["name"], bool(ref.get("optional")), where) or {}
                if ref["key"] not in data and not ref.get("optional"):
                    raise TestFailure(f"{where}: env {name}: ConfigMap {ref['name']} has no key {ref['key']}")
                value = data.get(ref["key"])
                from_manifest.add(name)
            elif "secretKeyRef" in source:
                ref = source["secretKeyRef"]
                value = self.secret_value(ref["name"], ref["key"], bool(ref.get("optional")),
                                          f"{where}: env {name}")
                from_manifest.discard(name)
            elif "fieldRef" in source:
                value = self.field_ref(deployment, this, source["fieldRef"]["fieldPath"])
                from_manifest.discard(name)
            elif "resourceFieldRef" in source:
                resource = source["resourceFieldRef"]["resource"]
                kind, _, res = resource.partition(".")
                raw = ((container.get("resources") or {}).get(kind) or {}).get(res, "0")
                value = str(int(parse_quantity(raw) / parse_quantity(source["resourceFieldRef"].get("divisor", "1"))))
                from_manifest.discard(name)
            else:
                raise TestFailure(f"{where}: env {name}: valueFrom {sorted(source)} is not emulated")
            if value is not None:
                env[name] = value

        # the OpenTelemetry collector: a local stub, or no export at all
        if self.otel_port is None:
            for name in OTEL_ENDPOINT_VARS:
                if env.pop(name, None) is not None:
                    notes.append(f"{name} removed (--otel remove): no trace export")

        for name in sorted(from_manifest & env.keys()):
            env[name] = self.localize(env[name], this, index, mounts, name, notes)
            for host in self.unresolved_hosts(env[name]):
                self.checks.fail(f"{where}: {name}={env[name]}: {host} is no Service this test can map")
            if "$(" in env[name]:
                self.checks.fail(f"{where}: {name}={env[name]}: unresolved $(VAR) reference")

        # command and args, expanded against the environment the pod has
        command = [expand(c, env) for c in container.get("command") or []]
        args = [expand(a, env) for a in container.get("args") or []]
        if not command:
            raise TestFailure(f"{where}: no command (the image has no entrypoint on purpose)")
        binary_name = Path(command[0]).name
        if binary_name not in self.binaries:
            raise TestFailure(f"{where}: command {command[0]} is not one of {', '.join(BINARIES)}")
        args = [self.localize(a, this, index, mounts, "args", notes) for a in args]
        image_bin = self.workdir / "image" / "usr" / "local" / "bin" / binary_name
        argv = [str(image_bin), *command[1:], *args]

        full_env = dict(self.image_env)
        full_env.update(env)
        full_env["HOSTNAME"] = self.pod_names[this]
        full_env["PATH"] = os.environ.get("PATH", IMAGE_PATH)

        probes = {kind: container[kind] for kind in ("startupProbe", "readinessProbe", "livenessProbe")
                  if kind in container}
        probe_ports = {}
        for kind, probe in probes.items():
            if "grpc" not in probe:
                self.checks.fail(f"{where}: {kind} is not a gRPC probe")
                continue
            probe_ports[kind] = int(probe["grpc"]["port"])
            self.local_port(this, probe_ports[kind])
        first = probes.get("startupProbe") or probes.get("readinessProbe") or {}
        startup_budget = (first.get("initialDelaySeconds", 0)
                          + first.get("periodSeconds", 10) * first.get("failureThreshold", 3))
        pre_stop_hook = (container.get("lifecycle") or {}).get("preStop") or {}
        if pre_stop_hook and "sleep" not in pre_stop_hook:
            notes.append(f"preStop {sorted(pre_stop_hook)} not emulated")
        limit = ((container.get("resources") or {}).get("limits") or {}).get("memory")
        return Pod(
            deployment=dep_name,
            key=this,
            name=self.pod_names[this],
            root=root,
            argv=argv,
            env=full_env,
            user=user,
            probe_ports=probe_ports,
            probes=probes,
            startup_budget=float(startup_budget or 60),
            grace=int(spec.get("terminationGracePeriodSeconds", 30)),
            pre_stop=int((pre_stop_hook.get("sleep") or {}).get("seconds", 0)),
            memory_limit=parse_quantity(limit) if limit else None,
            local_ports=self.local_ports.setdefault(this, {}),
            empty_dirs=empty_dirs,
            mount_tops={"volumes"} | {m.strip("/").split("/")[0] for m in mounts},
            notes=notes,
        )
