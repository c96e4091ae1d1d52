#!/usr/bin/env python3
"""ACX-specific checks on rendered overlays, the ones no generic linter knows about.

Usage: check_manifests.py OVERLAY_NAME RENDERED.yaml [...]

For every ACX service Deployment (app.kubernetes.io/part-of=acx, component ingest, scoring
or liaison) it checks that:
  * the listen port (ACX_LISTEN_ADDR), the container port named grpc, the three gRPC probe
    ports and the Service port named grpc are one and the same number;
  * terminationGracePeriodSeconds exceeds the preStop sleep plus ACX_SHUTDOWN_GRACE, so the
    kubelet never kills a replica that is still draining calls;
  * database URLs and tokens come from Secrets, never from a ConfigMap or a literal;
  * the peer URLs (ACX_SCORING_URL, ACX_INGEST_URL) name an existing Service and its port;
  * the pod mounts no service account token and gets no docker-link variables;
  * all three run the same image;
  * scoring replicas can agree (docs/deploy.md section 7): every replica reads its database URL
    from one Secret (a PostgreSQL URL where the Secret is rendered; a literal URL, or SQLite,
    would give each pod a history of its own), and its startup and readiness probes are the
    gRPC health check, which is NOT_SERVING until the replica has caught up with the history;
    prod keeps at least two scoring replicas;
and that every Secret a pod refers to is either rendered (dev) or one of the documented,
operator-created Secrets (prod).
"""

from __future__ import annotations

import base64
import re
import sys
from urllib.parse import urlparse

import yaml

SERVICES = {"ingest", "scoring", "liaison"}
SECRET_VARS = {"ACX_DATABASE_URL", "ACX_SCORING_TOKEN", "ACX_INGEST_TOKEN"}
OPERATOR_SECRETS = {"acx-database", "acx-tokens", "acx-identifier-keys", "acx-peer-tokens"}
PEER_URL_VARS = {"ACX_SCORING_URL", "ACX_INGEST_URL"}


def parse_seconds(text: str) -> float:
    match = re.fullmatch(r"(\d+)(ms|s|m|h)?", text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a duration")
    amount, unit = int(match.group(1)), match.group(2) or "s"
    return amount * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]


# Scoring replicas agree because every one applies one ordered history kept in scoring's
# PostgreSQL database and reports NOT_SERVING (gRPC health, service "" or its own) until it has
# caught up with it (docs/deploy.md section 7). Any number of replicas is safe when they share
# that database and traffic reaches a replica only once it has caught up.
SCORING_DEPLOYMENT = "acx-scoring"
SCORING_HEALTH_SERVICES = ("", "acx.scoring.v1.ScoringService")
# Production keeps at least this many scoring replicas, so a rollout or a drain never stops it.
PROD_MIN_SCORING_REPLICAS = 2


def load(paths: list[str]) -> list[dict]:
    docs = []
    for path in paths:
        with open(path, encoding="utf-8") as handle:
            docs.extend(doc for doc in yaml.safe_load_all(handle) if doc)
    return docs


def secret_value(secret: dict, key: str) -> str | None:
    """A rendered Secret's value of `key` (stringData or base64 data), if present."""
    if key in secret.get("stringData", {}):
        return str(secret["stringData"][key])
    if key in secret.get("data", {}):
        return base64.b64decode(secret["data"][key]).decode("utf-8", "replace")
    return None


def scoring_replica_errors(docs: list[dict], min_replicas: int = 1) -> list[str]:
    """Every way the rendered manifests could run scoring replicas that do not agree, or fewer
    than `min_replicas` of them."""
    errors: list[str] = []
    deployments = [
        d for d in docs
        if d.get("kind") == "Deployment" and d.get("metadata", {}).get("name") == SCORING_DEPLOYMENT
    ]
    if len(deployments) != 1:
        return [f"expected one Deployment {SCORING_DEPLOYMENT}, found {len(deployments)}"]
    spec = deployments[0]["spec"]
    containers = spec["template"]["spec"]["containers"]
    if len(containers) != 1:
        return [f"Deployment {SCORING_DEPLOYMENT} must have one container"]
    container = containers[0]

    # One history: every replica's database is the same PostgreSQL database.
    url_vars = [v for v in container.get("env", []) if v.get("name") == "ACX_DATABASE_URL"]
    ref = url_vars[0].get("valueFrom", {}).get("secretKeyRef") if len(url_vars) == 1 else None
    if ref is None:
        errors.append(
            f"Deployment {SCORING_DEPLOYMENT}: ACX_DATABASE_URL must come from one Secret, so that "
            "every replica follows the same history"
        )
    else:
        rendered = {
            d["metadata"]["name"]: d for d in docs if d.get("kind") == "Secret"
        }.get(ref.get("name"))
        url = secret_value(rendered, ref.get("key", "")) if rendered else None
        if url is not None and urlparse(url).scheme not in ("postgres", "postgresql"):
            errors.append(
                f"Deployment {SCORING_DEPLOYMENT}: its database ({ref.get('name')}/{ref.get('key')}) "
                "must be PostgreSQL, shared by every replica (SQLite is a file per pod)"
            )

    # Traffic only once caught up: the probes are the health check that says so.
    ports = [p["containerPort"] for p in container.get("ports", []) if p.get("name") == "grpc"]
    for probe in ("startupProbe", "readinessProbe"):
        check = container.get(probe, {}).get("grpc")
        if (
            not isinstance(check, dict)
            or check.get("port") not in ports
            or check.get("service", "") not in SCORING_HEALTH_SERVICES
        ):
            errors.append(
                f"Deployment {SCORING_DEPLOYMENT}: its {probe} must be the gRPC health check on its "
                "grpc port (NOT_SERVING until the replica has caught up with the history), "
                f"got {container.get(probe)!r}"
            )

    # The floor of replicas: the autoscalers' minReplicas, else the Deployment's replicas.
    floors = [
        doc["spec"].get("minReplicas", doc["spec"].get("minReplicaCount", 1))
        for doc in docs
        if isinstance(doc.get("spec"), dict)
        and (doc["spec"].get("scaleTargetRef") or {}).get("name") == SCORING_DEPLOYMENT
    ]
    floor = min(floors) if floors else spec.get("replicas", 1)
    if floor < min_replicas:
        errors.append(
            f"{SCORING_DEPLOYMENT} may run {floor} replica(s), fewer than {min_replicas}"
        )
    return errors


def main(overlay: str, paths: list[str]) -> int:
    docs = load(paths)

    def of_kind(kind: str) -> dict[str, dict]:
        return {d["metadata"]["name"]: d for d in docs if d.get("kind") == kind}

    config_maps, secrets = of_kind("ConfigMap"), of_kind("Secret")
    services = of_kind("Service")
    errors: list[str] = []
    images: set[str] = set()
    seen: set[str] = set()

    for name, deployment in of_kind("Deployment").items():
        labels = deployment["spec"]["template"]["metadata"].get("labels", {})
        component = labels.get("app.kubernetes.io/component")
        if labels.get("app.kubernetes.io/part-of") != "acx" or component not in SERVICES:
            continue
        seen.add(component)
        where = f"{overlay}: Deployment {name}"
        pod = deployment["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        images.add(container["image"])

        if pod.get("automountServiceAccountToken") is not False:
            errors.append(f"{where}: automountServiceAccountToken must be false")
        if pod.get("enableServiceLinks") is not False:
            errors.append(f"{where}: enableServiceLinks must be false (its variables share the ACX_ prefix)")

        env: dict[str, str] = {}
        for ref in container.get("envFrom", []):
            cm_name = ref.get("configMapRef", {}).get("name")
            if cm_name not in config_maps:
                errors.append(f"{where}: envFrom ConfigMap {cm_name} is not rendered")
                continue
            data = config_maps[cm_name].get("data", {})
            for key in SECRET_VARS & data.keys():
                errors.append(f"{where}: {key} must come from a Secret, not ConfigMap {cm_name}")
            env.update(data)
        for var in container.get("env", []):
            if var["name"] in SECRET_VARS and "secretKeyRef" not in var.get("valueFrom", {}):
                errors.append(f"{where}: {var['name']} must come from a secretKeyRef")
            if "value" in var:
                env[var["name"]] = var["value"]
        if "ACX_DATABASE_URL" not in {v["name"] for v in container.get("env", [])}:
            errors.append(f"{where}: ACX_DATABASE_URL is not set")

        grpc_ports = [p["containerPort"] for p in container.get("ports", []) if p.get("name") == "grpc"]
        if len(grpc_ports) != 1:
            errors.append(f"{where}: expected one container port named grpc")
            continue
        port = grpc_ports[0]
        listen = env.get("ACX_LISTEN_ADDR", "")
        if listen != f"0.0.0.0:{port}":
            errors.append(f"{where}: ACX_LISTEN_ADDR is {listen!r}, expected 0.0.0.0:{port}")
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            probe_port = container.get(probe, {}).get("grpc", {}).get("port")
            if probe_port != port:
                errors.append(f"{where}: {probe} must be a grpc probe on port {port}, got {probe_port!r}")
        service = services.get(name)
        if service is None:
            errors.append(f"{where}: no Service named {name}")
        else:
            service_ports = [p for p in service["spec"]["ports"] if p.get("name") == "grpc"]
            if [p["port"] for p in service_ports] != [port]:
                errors.append(f"{where}: Service {name} must expose port {port} named grpc")

        grace = pod.get("terminationGracePeriodSeconds", 30)
        pre_stop = container.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0)
        drain = parse_seconds(env.get("ACX_SHUTDOWN_GRACE", "20s"))
        if not grace > pre_stop + drain:
            errors.append(
                f"{where}: terminationGracePeriodSeconds {grace} must exceed "
                f"preStop {pre_stop}s + ACX_SHUTDOWN_GRACE {drain:g}s"
            )

        for var in PEER_URL_VARS & env.keys():
            url = urlparse(env[var])
            target = services.get(url.hostname or "")
            if target is None or url.port not in {p["port"] for p in target["spec"]["ports"]}:
                errors.append(f"{where}: {var}={env[var]} names no rendered Service and port")

        referenced = {
            v["valueFrom"]["secretKeyRef"]["name"]
            for v in container.get("env", [])
            if "secretKeyRef" in v.get("valueFrom", {})
        } | {vol["secret"]["secretName"] for vol in pod.get("volumes", []) if "secret" in vol}
        for secret in sorted(referenced):
            if secret not in secrets and secret not in OPERATOR_SECRETS:
                errors.append(f"{where}: Secret {secret} is neither rendered nor a documented operator Secret")

    if seen != SERVICES:
        errors.append(f"{overlay}: expected Deployments for {sorted(SERVICES)}, found {sorted(seen)}")
    if len(images) > 1:
        errors.append(f"{overlay}: the three services must run one image, found {sorted(images)}")
    min_scoring = PROD_MIN_SCORING_REPLICAS if overlay == "prod" else 1
    errors.extend(f"{overlay}: {error}" for error in scoring_replica_errors(docs, min_scoring))

    for error in errors:
        print(f"error: {error}", file=sys.stderr)
    if not errors:
        print(f"{overlay}: ACX manifest invariants hold ({len(docs)} resources)")
    return 1 if errors else 0


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2:]))
