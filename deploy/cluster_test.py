#!/usr/bin/env python3
"""The closest thing to a cluster without one: the prod overlay's pods as local processes.

    <venv>/bin/python deploy/cluster_test.py [--overlay prod] [--no-build] [--keep] [--otel stub|remove]

where <venv> is ${XDG_CACHE_HOME:-$HOME/.cache}/acx-deploy-venv, which deploy/check.sh
creates from deploy/requirements-check.txt.

It renders the overlay with `kubectl kustomize`, and for each of the Deployments acx-ingest,
acx-scoring and acx-liaison starts as many pods as the overlay does (its replicas, else its
HorizontalPodAutoscaler's minReplicas; at most --max-replicas, default 2), each pod the
process the kubelet would start:

  * command and args of the container ($(VAR) references expanded the way the kubelet does);
  * the environment: the image's ENV (from deploy/Dockerfile), docker-link variables unless
    enableServiceLinks is false, envFrom ConfigMaps (and Secrets), then env: literal values,
    configMapKeyRef from the rendered ConfigMaps, secretKeyRef from local stand-ins for the
    operator's Secrets, fieldRef from a made-up pod (name, uid, namespace, node, labels);
    plus PATH and HOSTNAME, and nothing else from this shell;
  * the volumes: Secret and ConfigMap volumes written to files with their modes, emptyDirs
    as empty directories; absolute paths under a mountPath are rewritten to the local copy;
  * the user: runAsUser/runAsGroup/fsGroup when this runs as root (files then belong to
    root:fsGroup as in a pod, and the process cannot write outside its volumes), else the
    current user;
  * the addresses: a listen address 0.0.0.0:P becomes 127.0.0.1:<free port>, and
    <service>[.<ns>[.svc[.cluster.local]]]:<port> of a rendered Service becomes the local
    address of a pod that Service selects: pod i of the caller reaches pod i mod n of the n
    pods selected (kube-proxy would pick one per connection). The OpenTelemetry collector is replaced by a
    stub OTLP receiver in this process (--otel stub, the default) or its endpoint variable is
    removed (--otel remove).

The operator's Secrets get local values: acx-database gets URLs of fresh databases
acx_ct_<service>_<random> on the PostgreSQL server of ACX_TEST_POSTGRES_URL (a throwaway
server is started, as scripts/test.sh does, when it is unset), one per service whatever its
pods; acx-tokens gets the SHA-256 hashes of random tokens for customs:ct-customs,
platform:ct-platform, service:liaison and service:scoring;
acx-peer-tokens the raw service tokens; acx-identifier-keys one random key.

Before anything starts, it checks that the rendered overlay's scoring replicas can agree
(deploy/check_manifests.py): they share one database from one Secret, and their startup and
readiness probes are the gRPC health check, NOT_SERVING until a replica has caught up with
scoring's history.

Then it starts the pods of the three release binaries together (target/release/<name>, built first when
missing or older than the sources), consumers before providers, and checks that:

  1. each answers grpc.health.v1.Health/Check with SERVING on its (mapped) startup probe port
     within the startup probe's budget, and its readiness and liveness probes pass;
  2. DiagnosticsService/Echo answers on each with the customs token, and refuses no token;
  3. LiaisonService/CheckSeller answers NOT_FOUND: liaison asked scoring, with its peer token,
     and scoring knows nothing of the seller (UNAVAILABLE would mean it could not reach it);
  4. on SIGTERM each turns NOT_SERVING, finishes a call in flight, and exits with code 0
     within terminationGracePeriodSeconds minus the preStop sleep (the kubelet runs the
     preStop hook first, inside the same grace period);
  5. peak memory stays under the container's memory limit; log lines are JSON when
     ACX_LOG_FORMAT=json; nothing is written to the emptyDir (PostgreSQL holds all state);
  6. (--otel stub) every pod exported its spans, with its pod's resource attributes, and
     the CheckSeller call is one trace across liaison and scoring;
  7. with two or more scoring and liaison pods, the replicas agree (deploy/cluster_agreement.py):
     a platform's finding shows the same on every pod and is listed once on each replica's
     change feed, one declaration sent through two liaison pods at once is assessed once and
     alike everywhere, and an inspection recorded through one pod shows through every pod.

The pods are built by deploy/cluster_pods.py; the checks of 7 are deploy/cluster_agreement.py.
Processes, databases, the throwaway server and the temporary directory are always removed
(--keep keeps the directory, with each process's log). Exit status 0 only if every check
passed; the summary names each failure.

Longer than our files usually are: the checks 1 to 6 are one sequence over the same running
pods (each step's state is the next one's input), kept in one class so they read in the order
they run; what stands apart (the pods, the agreement checks) has its own module.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from concurrent import futures
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
VENV_HINT = "${XDG_CACHE_HOME:-$HOME/.cache}/acx-deploy-venv"

# gRPC's fork handlers only log noise here: the children exec at once and never use gRPC.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")

try:
    import grpc
    import yaml
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from check_manifests import scoring_replica_errors
    from cluster_agreement import PLATFORM, check_agreement
    from cluster_pods import (BINARIES, DEPLOYMENTS, Cluster, Pod, TestFailure,
                              free_port)
except ImportError as missing:  # pragma: no cover - depends on the interpreter
    sys.exit(
        f"cluster_test.py: {missing}. Run it with the deploy virtualenv, {VENV_HINT}/bin/python "
        "(deploy/check.sh creates it), or `pip install -r deploy/requirements-check.txt`."
    )

API_SERVICE = {
    "acx-ingest": "acx.ingest.v1.IngestService",
    "acx-scoring": "acx.scoring.v1.ScoringService",
    "acx-liaison": "acx.liaison.v2.LiaisonService",
}
# Sources of the three binaries: a newer file than a binary means it must be rebuilt.
SOURCE_PATHS = ["Cargo.toml", "Cargo.lock", "services", "shared", "proto"]
CUSTOMS = "customs:ct-customs"
PRINCIPALS = [CUSTOMS, PLATFORM, "service:liaison", "service:scoring"]
# No HTTP proxy from the environment for loopback gRPC.
CHANNEL_OPTIONS = [("grpc.enable_http_proxy", 0)]


def log(message: str) -> None:
    print(f"[cluster-test {time.strftime('%H:%M:%S')}] {message}", flush=True)


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def pb_bytes(field: int, payload: bytes) -> bytes:
    return _varint(field << 3 | 2) + _varint(len(payload)) + payload


def pb_str(field: int, text: str) -> bytes:
    return pb_bytes(field, text.encode())


def pb_int(field: int, value: int) -> bytes:
    return _varint(field << 3) + _varint(value)


def pb_decode(data: bytes) -> dict[int, list[Any]]:
    """Fields of one message: varints as int, everything else as bytes."""
    fields: dict[int, list[Any]] = {}
    pos = 0

    def varint() -> int:
        nonlocal pos
        shift = result = 0
        while True:
            byte = data[pos]
            pos += 1
            result |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return result

    while pos < len(data):
        key = varint()
        field, wire = key >> 3, key & 7
        if wire == 0:
            value: Any = varint()
        elif wire == 1:
            value, pos = data[pos:pos + 8], pos + 8
        elif wire == 2:
            length = varint()
            value, pos = data[pos:pos + length], pos + length
        elif wire == 5:
            value, pos = data[pos:pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        fields.setdefault(field, []).append(value)
    return fields


def pb_first_str(fields: dict[int, list[Any]], field: int) -> str:
    values = fields.get(field) or [b""]
    return values[0].decode(errors="replace")


# --- a stand-in for the OpenTelemetry Collector ----------------------------------------------

@dataclasses.dataclass
class Span:
    service: str
    attributes: dict[str, str]      # of the resource
    trace_id: str
    name: str
    span_attributes: dict[str, str]


class StubCollector(grpc.GenericRpcHandler):
    """Accepts OTLP/gRPC trace exports, answers with an empty response, keeps the spans."""

    EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"

    def __init__(self) -> None:
        self.spans: list[Span] = []
        self.other_calls: list[str] = []
        self._lock = threading.Lock()
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        self._server.add_generic_rpc_handlers((self,))
        self.port = self._server.add_insecure_port("127.0.0.1:0")

    def start(self) -> None:
        self._server.start()

    def stop(self) -> None:
        self._server.stop(grace=None)

    def service(self, handler_call_details):  # noqa: D401 - grpc's name
        method = handler_call_details.method

        def export(request: bytes, _context) -> bytes:
            if method == self.EXPORT:
                spans = self._parse(request)
                with self._lock:
                    self.spans.extend(spans)
            else:
                with self._lock:
                    self.other_calls.append(method)
            return b""  # an empty ExportTraceServiceResponse: everything accepted

        return grpc.unary_unary_rpc_method_handler(export)

    @staticmethod
    def _parse(request: bytes) -> list[Span]:
        spans = []
        for resource_spans in pb_decode(request).get(1, []):
            rs = pb_decode(resource_spans)
            attributes = {}
            for resource in rs.get(1, []):
                attributes = StubCollector._attributes(pb_decode(resource).get(1, []))
            for scope_spans in rs.get(2, []):
                for span in pb_decode(scope_spans).get(2, []):
                    sf = pb_decode(span)
                    spans.append(Span(
                        service=attributes.get("service.name", ""),
                        attributes=attributes,
                        trace_id=(sf.get(1) or [b""])[0].hex(),
                        name=pb_first_str(sf, 5),
                        span_attributes=StubCollector._attributes(sf.get(9, [])),
                    ))
        return spans

    @staticmethod
    def _attributes(key_values: list[bytes]) -> dict[str, str]:
        """KeyValue list -> {key: value}, string values as such, others as their raw fields."""
        out = {}
        for kv in key_values:
            kv_fields = pb_decode(kv)
            value = pb_decode((kv_fields.get(2) or [b""])[0])
            if 1 in value:
                out[pb_first_str(kv_fields, 1)] = pb_first_str(value, 1)
            else:
                out[pb_first_str(kv_fields, 1)] = str(next(iter(value.values()), [""])[0])
        return out


# --- PostgreSQL --------------------------------------------------------------------------------

class Postgres:
    """The server of ACX_TEST_POSTGRES_URL, or a throwaway one started like scripts/test.sh."""

    def __init__(self, dry_run: bool = False) -> None:
        self.dry_run = dry_run
        self.url = os.environ.get("ACX_TEST_POSTGRES_URL", "")
        self.throwaway_dir: str | None = None
        self.pg_ctl: list[str] = []
        self.databases: list[str] = []
        if shutil.which("psql") is None:
            raise TestFailure("psql is not installed (Debian package postgresql-client)")

    def start_if_needed(self) -> None:
        if self.dry_run:
            self.url = self.url or "postgres://acx@127.0.0.1:5432/postgres"
            return
        if self.url:
            log(f"PostgreSQL: {self.url} (ACX_TEST_POSTGRES_URL)")
            return
        bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                      key=lambda p: [int(x) for x in re.findall(r"\d+", p.parent.parent.name)] or [0])
        if not bins:
            raise TestFailure("ACX_TEST_POSTGRES_URL is unset and no PostgreSQL server is installed "
                              "(/usr/lib/postgresql/*/bin): set it, or install the postgresql package")
        bindir = bins[-1].parent
        self.throwaway_dir = tempfile.mkdtemp(prefix="acx-ct-pg.")
        run_as: list[str] = []
        if os.geteuid() == 0:  # initdb refuses to run as root
            shutil.chown(self.throwaway_dir, user="postgres")
            run_as = ["runuser", "-u", "postgres", "--"]
        port = free_port()
        data = f"{self.throwaway_dir}/data"
        subprocess.run([*run_as, str(bindir / "initdb"), "-D", data, "-U", "acx", "--auth=trust",
                        "-E", "UTF8"], check=True, stdout=subprocess.DEVNULL)
        self.pg_ctl = [*run_as, str(bindir / "pg_ctl"), "-D", data]
        subprocess.run([*self.pg_ctl, "-l", f"{self.throwaway_dir}/server.log", "-w", "-o",
                        f"-p {port} -k {self.throwaway_dir} -c listen_addresses=127.0.0.1 "
                        "-c fsync=off -c synchronous_commit=off", "start"],
                       check=True, stdout=subprocess.DEVNULL)
        self.url = f"postgres://acx@127.0.0.1:{port}/postgres"
        log(f"PostgreSQL: started a throwaway server at {self.url}")

    def psql(self, sql: str) -> None:
        done = subprocess.run(["psql", self.url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql],
                              capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise TestFailure(f"psql {sql!r} failed: {done.stderr.strip()}")

    def create_database(self, name: str) -> str:
        if not self.dry_run:
            self.psql(f'CREATE DATABASE "{name}"')
            self.databases.append(name)
        parts = urllib.parse.urlsplit(self.url)
        return urllib.parse.urlunsplit(parts._replace(path=f"/{name}"))

    def cleanup(self) -> list[str]:
        problems = []
        for name in self.databases:
            try:
                self.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            except Exception as error:  # noqa: BLE001 - report and go on cleaning
                problems.append(f"drop database {name}: {error}")
        self.databases.clear()
        if self.throwaway_dir:
            subprocess.run([*self.pg_ctl, "-m", "immediate", "stop"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            shutil.rmtree(self.throwaway_dir, ignore_errors=True)
            self.throwaway_dir = None
        return problems


# --- binaries ----------------------------------------------------------------------------------

def target_dir() -> Path:
    configured = os.environ.get("CARGO_TARGET_DIR")
    return Path(configured) if configured else REPO / "target"


def newest_source_mtime() -> tuple[float, str]:
    newest, newest_path = 0.0, ""
    for rel in SOURCE_PATHS:
        root = REPO / rel
        paths = [root] if root.is_file() else root.rglob("*")
        for path in paths:
            if path.is_file():
                mtime = path.stat().st_mtime
                if mtime > newest:
                    newest, newest_path = mtime, str(path.relative_to(REPO))
    return newest, newest_path


def ensure_binaries(build: bool) -> dict[str, Path]:
    release = target_dir() / "release"
    binaries = {name: release / name for name in BINARIES}
    newest, newest_path = newest_source_mtime()
    stale = [name for name, path in binaries.items()
             if not path.exists() or path.stat().st_mtime < newest]
    if stale:
        why = ", ".join(stale) + f" missing or older than {newest_path}"
        if not build:
            missing = [n for n in stale if not binaries[n].exists()]
            if missing:
                raise TestFailure(f"--no-build, but {', '.join(missing)} not built in {release}")
            log(f"warning: --no-build: using binaries older than the sources ({why})")
            return binaries
        command = ["cargo", "build", "--release", "--locked"]
        for name in BINARIES:
            command += ["-p", name]
        log(f"building ({why}): {shlex.join(command)}")
        if subprocess.run(command, cwd=REPO).returncode != 0:
            raise TestFailure("the release build failed")
    for name, path in binaries.items():
        if not path.exists():
            raise TestFailure(f"{path} does not exist after the build")
    return binaries


# --- checks and the run ----------------------------------------------------------------------

class Checks:
    def __init__(self) -> None:
        self.results: list[tuple[bool, str]] = []
        self._lock = threading.Lock()

    def ok(self, message: str) -> None:
        with self._lock:
            self.results.append((True, message))
        log(f"ok    {message}")

    def fail(self, message: str) -> None:
        with self._lock:
            self.results.append((False, message))
        log(f"FAIL  {message}")

    def check(self, condition: bool, message: str, detail: str = "") -> bool:
        if condition:
            self.ok(message)
        else:
            self.fail(f"{message}{': ' + detail if detail else ''}")
        return condition

    @property
    def failures(self) -> list[str]:
        return [m for ok, m in self.results if not ok]


def health(channel: grpc.Channel, service: str, timeout: float) -> str:
    stub = health_pb2_grpc.HealthStub(channel)
    try:
        reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=timeout)
        return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
    except grpc.RpcError as error:
        return f"{error.code().name}"


def unary(channel: grpc.Channel, method: str, request: bytes, token: str | None,
          timeout: float = 10.0) -> tuple[grpc.StatusCode, bytes | str]:
    call = channel.unary_unary(method)  # no serializers: bytes in, bytes out
    metadata = [("authorization", f"Bearer {token}")] if token else None
    try:
        return grpc.StatusCode.OK, call(request, metadata=metadata, timeout=timeout)
    except grpc.RpcError as error:
        return error.code(), error.details() or ""


def read_peak_rss(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return float(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def tail(path: Path | None, lines: int = 15) -> str:
    if path is None or not path.exists():
        return "(no log)"
    text = path.read_text(errors="replace").splitlines()
    return "\n".join("      " + line for line in text[-lines:])


class Run:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.checks = Checks()
        self.workdir = Path(tempfile.mkdtemp(prefix="acx-cluster-test."))
        self.workdir.chmod(0o755)  # the pods' users must reach their files below it
        self.postgres: Postgres | None = None
        self.collector: StubCollector | None = None
        self.pods: dict[str, Pod] = {}
        self.channels: dict[str, grpc.Channel] = {}
        self.tokens: dict[str, str] = {}
        self.check_seller_done = False

    # -- set-up

    def render(self) -> list[dict]:
        overlay = Path(self.args.overlay) if "/" in self.args.overlay else \
            REPO / "deploy" / "k8s" / "overlays" / self.args.overlay
        if shutil.which("kubectl") is None:
            raise TestFailure("kubectl is required (its built-in kustomize renders the overlay)")
        done = subprocess.run(["kubectl", "kustomize", str(overlay)], capture_output=True, text=True)
        if done.returncode != 0:
            raise TestFailure(f"kubectl kustomize {overlay} failed: {done.stderr.strip()}")
        (self.workdir / "rendered.yaml").write_text(done.stdout)
        docs = [d for d in yaml.safe_load_all(done.stdout) if d]
        log(f"rendered {overlay.relative_to(REPO) if overlay.is_relative_to(REPO) else overlay}: "
            f"{len(docs)} resources")
        return docs

    def local_secrets(self) -> dict[str, dict[str, str]]:
        """Local values for the four operator-created Secrets of docs/deploy.md section 3."""
        assert self.postgres is not None
        suffix = secrets.token_hex(4)
        urls = {}
        for service in ("ingest", "scoring", "liaison"):
            urls[f"{service}-url"] = self.postgres.create_database(f"acx_ct_{service}_{suffix}")
        self.tokens = {p: "acx_" + secrets.token_hex(32) for p in PRINCIPALS}
        token_lines = "".join(f"{hashlib.sha256(t.encode()).hexdigest()} {p}\n"
                              for p, t in self.tokens.items())
        return {
            "acx-database": urls,
            "acx-tokens": {"tokens": "# <sha256-hex> <role>:<id>, made by deploy/cluster_test.py\n"
                                     + token_lines},
            "acx-identifier-keys": {"keys": f"k1 {secrets.token_hex(32)}\n"},
            "acx-peer-tokens": {"liaison-token": self.tokens["service:liaison"],
                                "scoring-token": self.tokens["service:scoring"]},
        }

    def install_image(self, binaries: dict[str, Path]) -> None:
        """The image's /usr/local/bin: the binaries, root-owned, mode 0555."""
        bindir = self.workdir / "image" / "usr" / "local" / "bin"
        bindir.mkdir(parents=True)
        for part in (self.workdir / "image", self.workdir / "image" / "usr",
                     self.workdir / "image" / "usr" / "local", bindir):
            part.chmod(0o755)
        for name, path in binaries.items():
            shutil.copy2(path, bindir / name)
            (bindir / name).chmod(0o555)

    def start(self, pod: Pod) -> None:
        pod.log_path = self.workdir / "logs" / f"{pod.key.replace('/', '-')}.log"
        pod.log_path.parent.mkdir(exist_ok=True)
        handle = open(pod.log_path, "wb")
        extra: dict[str, Any] = {}
        if pod.user is not None:
            extra = {"user": pod.user[0], "group": pod.user[1], "extra_groups": pod.user[2]}
        pod.started = time.monotonic()
        pod.process = subprocess.Popen(pod.argv, env=pod.env, cwd=pod.root, stdin=subprocess.DEVNULL,
                                       stdout=handle, stderr=subprocess.STDOUT, process_group=0,
                                       **extra)
        handle.close()

    # -- the checks

    def wait_serving(self) -> bool:
        waiting = {name: pod for name, pod in self.pods.items()}
        while waiting:
            for name, pod in list(waiting.items()):
                elapsed = time.monotonic() - pod.started
                assert pod.process is not None
                if pod.process.poll() is not None:
                    pod.exit_code = pod.process.returncode
                    self.checks.fail(f"{name}: exited with code {pod.exit_code} before serving\n"
                                     f"{tail(pod.log_path)}")
                    del waiting[name]
                    continue
                probe = pod.probes.get("startupProbe") or pod.probes.get("readinessProbe") or {}
                # A new connection per attempt, as the kubelet makes: a long-lived channel
                # would back off between reconnections and see SERVING late.
                with grpc.insecure_channel(pod.local(pod.probe_ports["startupProbe"]),
                                           options=CHANNEL_OPTIONS) as channel:
                    status = health(channel, (probe.get("grpc") or {}).get("service", ""),
                                    float(probe.get("timeoutSeconds", 1)))
                if status == "SERVING":
                    elapsed = pod.ready_after = time.monotonic() - pod.started
                    self.checks.ok(f"{name}: SERVING on startup probe port "
                                   f"{pod.probe_ports.get('startupProbe')} (local "
                                   f"{pod.local(pod.probe_ports['startupProbe'])}) after {elapsed:.2f}s "
                                   f"(budget {pod.startup_budget:.0f}s)")
                    del waiting[name]
                elif elapsed > pod.startup_budget:
                    self.checks.fail(f"{name}: not SERVING within the startup probe's "
                                     f"{pod.startup_budget:.0f}s (last: {status}); the kubelet would "
                                     f"restart it\n{tail(pod.log_path)}")
                    del waiting[name]
            time.sleep(0.2)
        return all(p.ready_after is not None for p in self.pods.values())

    def check_probes(self) -> None:
        for name, pod in self.pods.items():
            for kind in ("readinessProbe", "livenessProbe"):
                if kind not in pod.probes or kind not in pod.probe_ports:
                    continue
                probe = pod.probes[kind]
                port = pod.probe_ports[kind]
                with grpc.insecure_channel(pod.local(port), options=CHANNEL_OPTIONS) as ch:
                    status = health(ch, probe["grpc"].get("service", ""), float(probe.get("timeoutSeconds", 1)))
                self.checks.check(status == "SERVING", f"{name}: {kind} on port {port} passes", status)

    def first(self, deployment: str) -> Pod:
        return next(p for p in self.pods.values() if p.deployment == deployment)

    def check_calls(self) -> None:
        customs = self.tokens[CUSTOMS]
        for name, pod in self.pods.items():
            channel = self.channels[name]
            code, reply = unary(channel, "/acx.diagnostics.v1.DiagnosticsService/Echo", pb_str(1, "hi"), customs)
            if code == grpc.StatusCode.OK:
                fields = pb_decode(reply)  # type: ignore[arg-type]
                echoed, service = pb_first_str(fields, 1), pb_first_str(fields, 2)
                self.checks.check(echoed == "hi" and service == API_SERVICE[pod.deployment],
                                  f"{name}: Echo with the customs token answers",
                                  f"got message={echoed!r} service={service!r}")
            else:
                self.checks.fail(f"{name}: Echo with the customs token: {code.name} {reply}")
            code, reply = unary(channel, "/acx.diagnostics.v1.DiagnosticsService/Echo", pb_str(1, "hi"), None)
            self.checks.check(code == grpc.StatusCode.UNAUTHENTICATED,
                              f"{name}: Echo without a token is UNAUTHENTICATED", f"got {code.name} {reply}")

        request = pb_bytes(1, pb_str(1, "amazon") + pb_str(2, "CT-1"))
        liaison = self.first("acx-liaison").key
        code, reply = unary(self.channels[liaison], "/acx.liaison.v2.LiaisonService/CheckSeller",
                            request, customs)
        self.check_seller_done = True
        hint = {grpc.StatusCode.UNAVAILABLE: " (liaison could not reach scoring)",
                grpc.StatusCode.OK: " (scoring knew the seller?)"}.get(code, "")
        self.checks.check(code == grpc.StatusCode.NOT_FOUND,
                          f"{liaison}: CheckSeller crosses to scoring and answers NOT_FOUND",
                          f"got {code.name} {reply!r}{hint}")

    def check_replicas(self) -> None:
        """With two or more scoring and liaison pods: the answers agree (cluster_agreement.py)."""
        by_deployment: dict[str, list[tuple[str, grpc.Channel]]] = {d: [] for d in DEPLOYMENTS}
        for key, pod in self.pods.items():
            by_deployment[pod.deployment].append((key, self.channels[key]))
        if len(by_deployment["acx-scoring"]) < 2 or len(by_deployment["acx-liaison"]) < 2:
            log("one scoring or liaison pod: replica agreement not checked")
            return
        check_agreement(self.checks, by_deployment, self.tokens, CUSTOMS,
                        REPO / "docs" / "walkthrough", log)

    def terminate(self) -> None:
        customs = self.tokens[CUSTOMS]

        def one(pod: Pod) -> None:
            name = pod.key
            assert pod.process is not None
            pod.peak_rss = read_peak_rss(pod.process.pid)
            channel = self.channels[name]
            # A call in flight when SIGTERM arrives: it must finish, not be cut.
            slow = pb_str(1, "drain") + pb_bytes(2, pb_int(1, 2))  # delay: 2s
            in_flight: dict[str, Any] = {}

            def call() -> None:
                in_flight["result"] = unary(channel, "/acx.diagnostics.v1.DiagnosticsService/Echo",
                                            slow, customs, timeout=30)

            caller = threading.Thread(target=call)
            caller.start()
            time.sleep(0.5)
            budget = pod.grace - pod.pre_stop
            sent = time.monotonic()
            pod.process.send_signal(signal.SIGTERM)
            time.sleep(0.2)
            after = health(channel, "", 1.0)
            self.checks.check(after != "SERVING", f"{name}: not SERVING once SIGTERM is received "
                              f"(health: {after})", "health still SERVING 0.2s after SIGTERM")
            try:
                pod.exit_code = pod.process.wait(timeout=max(budget - (time.monotonic() - sent), 0.1))
                pod.stop_seconds = time.monotonic() - sent
            except subprocess.TimeoutExpired:
                pod.killed = True
                os.killpg(pod.process.pid, signal.SIGKILL)
                pod.exit_code = pod.process.wait()
            caller.join(timeout=30)
            if pod.killed:
                self.checks.fail(f"{name}: still running {budget}s after SIGTERM "
                                 f"(grace {pod.grace}s - preStop {pod.pre_stop}s): the kubelet "
                                 f"would SIGKILL it\n{tail(pod.log_path)}")
            else:
                self.checks.check(pod.exit_code == 0,
                                  f"{name}: exits 0 {pod.stop_seconds:.2f}s after SIGTERM "
                                  f"(budget {budget}s = grace {pod.grace}s - preStop {pod.pre_stop}s)",
                                  f"exit code {pod.exit_code}\n{tail(pod.log_path)}")
                if pod.stop_seconds is not None and pod.stop_seconds > 5:
                    # The only call this test leaves in flight ends 1.5s after SIGTERM.
                    log(f"{name}: note: draining took {pod.stop_seconds:.1f}s; something held the "
                        "server open (a long-lived stream that does not end on shutdown?)")
            code, reply = in_flight.get("result", (grpc.StatusCode.UNKNOWN, "no result"))
            echoed = pb_first_str(pb_decode(reply), 1) if code == grpc.StatusCode.OK else ""
            self.checks.check(code == grpc.StatusCode.OK and echoed == "drain",
                              f"{name}: a call in flight at SIGTERM completes", f"{code.name} {reply!r}")

        # Like `kubectl delete`: every pod gets its SIGTERM at about the same time.
        threads = [threading.Thread(target=one, args=(pod,)) for pod in self.pods.values()
                   if pod.process is not None and pod.process.poll() is None]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def check_after(self) -> None:
        for name, pod in self.pods.items():
            if pod.peak_rss is not None and pod.memory_limit is not None:
                self.checks.check(pod.peak_rss < pod.memory_limit,
                                  f"{name}: peak RSS {pod.peak_rss / 2**20:.0f}Mi under the "
                                  f"{pod.memory_limit / 2**20:.0f}Mi memory limit")
            written = [str(p.relative_to(d)) for d in pod.empty_dirs for p in d.rglob("*")]
            self.checks.check(not written, f"{name}: wrote nothing to its emptyDir volumes",
                              ", ".join(written[:10]))
            strays = [p.name for p in pod.root.iterdir() if p.name not in pod.mount_tops]
            self.checks.check(not strays, f"{name}: wrote nothing to its (read-only) root filesystem",
                              ", ".join(strays))
            if pod.log_path and pod.env.get("ACX_LOG_FORMAT") == "json":
                lines = [l for l in pod.log_path.read_text(errors="replace").splitlines() if l.strip()]
                bad, levels, loud = [], {}, []
                for line in lines:
                    try:
                        record = json.loads(line)
                        level = str(record.get("level", "?")).upper()
                        levels[level] = levels.get(level, 0) + 1
                        if level in ("WARN", "ERROR"):
                            loud.append(line)
                    except (json.JSONDecodeError, AttributeError):
                        bad.append(line)
                for line in loud[:5]:
                    log(f"{name}: logged {line}")
                self.checks.check(not bad, f"{name}: all {len(lines)} log lines are JSON "
                                  f"({', '.join(f'{k} {v}' for k, v in sorted(levels.items()))})",
                                  "not JSON: " + " | ".join(bad[:3]))
        if self.collector is not None:
            self.check_traces()

    def check_traces(self) -> None:
        assert self.collector is not None
        spans = self.collector.spans
        # What each service served, and for whom: shows the calls between services.
        for name in BINARIES:
            served: dict[str, int] = {}
            for span in spans:
                if span.service == name and span.span_attributes.get("otel.kind", "server") == "server":
                    who = span.span_attributes.get("acx.principal") or "-"
                    key = f"{span.name} by {who}"
                    served[key] = served.get(key, 0) + 1
            log(f"{name} served: " + (", ".join(f"{k} x{v}" for k, v in sorted(served.items())) or "nothing"))
        feed = [s for s in spans if s.service == "acx-ingest"
                and s.span_attributes.get("acx.principal") == "service:scoring"]
        self.checks.check(bool(feed),
                          f"scoring follows ingest's change feed as service:scoring ({len(feed)} call(s) seen)")
        for name, pod in self.pods.items():
            mine = [s for s in spans if s.service == pod.deployment
                    and s.attributes.get("k8s.pod.name") == pod.name]
            self.checks.check(bool(mine), f"{name}: {len(mine)} spans exported to the collector's "
                              f"address, with its pod's resource attributes (k8s.pod.name {pod.name})")
        for deployment in BINARIES:
            names = {p.name for p in self.pods.values() if p.deployment == deployment}
            strays = {str(s.attributes.get("k8s.pod.name")) for s in spans if s.service == deployment} - names
            self.checks.check(not strays, f"{deployment}: every span names one of its pods",
                              f"k8s.pod.name {sorted(strays)}, expected one of {sorted(names)}")
        if self.check_seller_done:
            asked = {s.trace_id for s in spans if s.service == "acx-liaison" and s.name.endswith("/CheckSeller")}
            answered = {s.trace_id for s in spans if s.service == "acx-scoring" and s.name.endswith("/GetSellerRisk")}
            self.checks.check(bool(asked & answered), "CheckSeller is one trace across liaison and scoring",
                              f"liaison traces {sorted(asked)}, scoring GetSellerRisk traces {sorted(answered)}")

    # -- the whole

    def execute(self) -> None:
        if self.args.dry_run:
            binaries = {name: target_dir() / "release" / name for name in BINARIES}
        else:
            binaries = ensure_binaries(build=not self.args.no_build)
        docs = self.render()
        # Scoring replicas share one database and take traffic once caught up with its
        # history: the same rule deploy/check.sh applies, on what this test deploys.
        replicas = scoring_replica_errors(docs)
        self.checks.check(not replicas, "acx-scoring replicas share one history and serve once caught up",
                          "; ".join(replicas))
        self.postgres = Postgres(dry_run=self.args.dry_run)
        self.postgres.start_if_needed()
        if self.args.otel == "stub":
            self.collector = StubCollector()
            self.collector.start()
        cluster = Cluster(docs, self.local_secrets(), binaries, self.workdir,
                          self.collector.port if self.collector else None, self.checks,
                          self.args.max_replicas)
        for name in DEPLOYMENTS:
            for index in range(cluster.replicas[name]):
                pod = cluster.pod(name, index)
                self.pods[pod.key] = pod
        self.describe()
        if self.checks.failures:
            raise TestFailure("the overlay cannot be run as it is (see above)")
        if self.args.dry_run:
            self.checks.ok(f"dry run: the overlay's {len(self.pods)} pods resolve (nothing started)")
            return
        self.install_image(binaries)

        for pod in self.pods.values():
            self.start(pod)
        log("started " + ", ".join(f"{n} (pid {p.process.pid})" for n, p in self.pods.items() if p.process))
        if not self.wait_serving():
            return
        for name, pod in self.pods.items():
            self.channels[name] = grpc.insecure_channel(pod.local(pod.probe_ports["startupProbe"]),
                                                        options=CHANNEL_OPTIONS)
        self.check_probes()
        self.check_calls()
        self.check_replicas()
        self.terminate()
        self.check_after()

    def describe(self) -> None:
        for name, pod in self.pods.items():
            shown = {k: ("<secret>" if k in {"ACX_SCORING_TOKEN", "ACX_INGEST_TOKEN"} else v)
                     for k, v in sorted(pod.env.items()) if k != "PATH"}
            user = f"uid {pod.user[0]} gid {pod.user[1]} groups {pod.user[2]}" if pod.user else "current user"
            log(f"{name}: {shlex.join(pod.argv)} as {user}, cwd {pod.root}\n"
                + "\n".join(f"      {k}={v}" for k, v in shown.items()))
            for note in pod.notes:
                log(f"{name}: note: {note}")

    def cleanup(self) -> list[str]:
        problems = []
        for pod in self.pods.values():
            if pod.process is not None and pod.process.poll() is None:
                try:
                    os.killpg(pod.process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                pod.process.wait()
        for channel in self.channels.values():
            channel.close()
        if self.collector is not None:
            self.collector.stop()
        if self.postgres is not None:
            problems += self.postgres.cleanup()
        if self.args.keep:
            log(f"kept {self.workdir} (logs in {self.workdir / 'logs'})")
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)
        return problems

    def summary(self) -> None:
        print(f"\n== cluster test summary ({self.args.overlay})")
        header = ("deployment", "local addr", "ready", "startup budget", "SIGTERM->exit",
                  "exit budget", "exit", "peak RSS")
        rows = [header]
        for pod in sorted(self.pods.values(), key=lambda p: (BINARIES.index(p.deployment), p.key)):
            port = pod.probe_ports.get("startupProbe")
            rows.append((
                pod.key,
                pod.local(port) if port in pod.local_ports else "-",
                f"{pod.ready_after:.2f}s" if pod.ready_after is not None else "no",
                f"{pod.startup_budget:.0f}s",
                "killed" if pod.killed else (f"{pod.stop_seconds:.2f}s" if pod.stop_seconds is not None else "-"),
                f"{pod.grace - pod.pre_stop}s",
                "-" if pod.exit_code is None else str(pod.exit_code),
                f"{pod.peak_rss / 2**20:.0f}Mi" if pod.peak_rss else "-",
            ))
        widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
        for row in rows:
            print("  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths)))
        passed = sum(ok for ok, _ in self.checks.results)
        failed = len(self.checks.results) - passed
        print()
        for ok, message in self.checks.results:
            if not ok:
                print(f"  FAIL {message}")
        print(f"{passed} passed, {failed} failed")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--overlay", default="prod", help="overlay under deploy/k8s/overlays (default prod), or a kustomization directory "
                             "(any argument with a /)")
    parser.add_argument("--no-build", action="store_true", help="use target/release as it is")
    parser.add_argument("--max-replicas", type=int, default=2,
                        help="start at most this many pods per Deployment (default 2: enough to see "
                             "replicas agree); each starts its replicas or HPA minReplicas")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory and logs")
    parser.add_argument("--dry-run", action="store_true",
                        help="render and resolve the pods, print them, start nothing")
    parser.add_argument("--otel", choices=("stub", "remove"), default="stub",
                        help="replace the collector by a local stub OTLP receiver (default), or remove "
                             "OTEL_EXPORTER_OTLP_ENDPOINT")
    args = parser.parse_args()

    def stop(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, stop)
    run = Run(args)
    try:
        run.execute()
    except TestFailure as error:
        run.checks.fail(str(error))
    except KeyboardInterrupt:
        run.checks.fail("interrupted")
    except Exception as error:  # noqa: BLE001 - a crash of the test is a failure, after cleanup
        import traceback
        traceback.print_exc()
        run.checks.fail(f"the test itself crashed: {error!r}")
    finally:
        for problem in run.cleanup():
            run.checks.fail(f"cleanup: {problem}")
    if not run.checks.results:
        run.checks.fail("no check ran")
    run.summary()
    return 1 if run.checks.failures else 0


if __name__ == "__main__":
    sys.exit(main())
