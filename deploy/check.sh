#!/usr/bin/env bash
# Static checks of everything under deploy/, runnable offline and without a cluster:
#
#   1. shellcheck   this script
#   2. hadolint     deploy/Dockerfile
#   3. yamllint     every YAML file under deploy/ (deploy/.yamllint.yaml)
#   4. kustomize    render every overlay (kubectl kustomize) into a temporary directory
#   5. kubernetes-validate --strict, against the oldest and the newest Kubernetes we support
#   6. checkov      the rendered manifests and the Dockerfile (deploy/.checkov.yaml)
#   7. ACX invariants (deploy/check_manifests.py): ports, probes, grace periods, secrets,
#      scoring replicas that agree (one shared database, readiness = caught up)
#   8. the invariant check itself: prod overlays patched so that scoring replicas could
#      disagree or serve before catching up (a probe other than the gRPC health check, a
#      database of each pod's own) or fall below two must each be refused
#
# Needs bash, python3 (3.9+) and kubectl (for its built-in kustomize). The Python tools are
# installed on first use into ${XDG_CACHE_HOME:-$HOME/.cache}/acx-deploy-venv, pinned by
# deploy/requirements-check.txt. Exits non-zero at the first failure.
#
#   deploy/check.sh                  # everything
#   KEEP_RENDERED=1 deploy/check.sh  # keep the rendered manifests and print where they are
set -euo pipefail

deploy_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# Oldest supported (native preStop sleep is on by default from 1.30) and newest known.
k8s_versions=("1.30.0" "1.37.0")
venv="${XDG_CACHE_HOME:-$HOME/.cache}/acx-deploy-venv"
requirements="$deploy_dir/requirements-check.txt"

step() { printf '\n==> %s\n' "$*"; }
die() { printf 'check.sh: %s\n' "$*" >&2; exit 1; }

command -v kubectl >/dev/null 2>&1 || die "kubectl is required (its built-in kustomize renders the overlays)"
command -v python3 >/dev/null 2>&1 || die "python3 is required"

# --- tools -------------------------------------------------------------------------------
if [[ ! -x "$venv/bin/python" ]]; then
  step "creating virtualenv $venv"
  python3 -m venv "$venv"
fi
stamp="$venv/.acx-requirements.sha256"
wanted="$("$venv/bin/python" -c 'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())' "$requirements")"
if [[ "$(cat "$stamp" 2>/dev/null || true)" != "$wanted" ]]; then
  step "installing check tools into $venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
  printf '%s\n' "$wanted" >"$stamp"
fi
bin="$venv/bin"

rendered="$(mktemp -d "${TMPDIR:-/tmp}/acx-deploy-check.XXXXXX")"
if [[ -n "${KEEP_RENDERED:-}" ]]; then
  trap 'echo "rendered manifests kept in $rendered"' EXIT
else
  trap 'rm -rf "$rendered"' EXIT
fi

# --- 1-3: linters ----------------------------------------------------------------------------
step "shellcheck deploy/check.sh"
"$bin/shellcheck" "$deploy_dir/check.sh"

step "hadolint deploy/Dockerfile"
"$bin/hadolint" "$deploy_dir/Dockerfile"

step "yamllint deploy/"
"$bin/yamllint" --strict -c "$deploy_dir/.yamllint.yaml" "$deploy_dir"

# --- 4: render -----------------------------------------------------------------------------
overlays=()
for dir in "$deploy_dir"/k8s/overlays/*/; do
  overlays+=("$(basename "$dir")")
done
(( ${#overlays[@]} > 0 )) || die "no overlays under $deploy_dir/k8s/overlays"

for overlay in "${overlays[@]}"; do
  step "kubectl kustomize overlays/$overlay"
  kubectl kustomize "$deploy_dir/k8s/overlays/$overlay" >"$rendered/$overlay.yaml"
  printf '%s resources\n' "$(grep -c '^kind:' "$rendered/$overlay.yaml")"
done

# --- 5: schema ---------------------------------------------------------------------------------
for version in "${k8s_versions[@]}"; do
  step "kubernetes-validate --strict -k $version"
  "$bin/kubernetes-validate" --strict --quiet -k "$version" "$rendered"/*.yaml
  echo "ok"
done

# --- 6: checkov ------------------------------------------------------------------------------
step "checkov (kubernetes) on the rendered overlays"
"$bin/checkov" --config-file "$deploy_dir/.checkov.yaml" --framework kubernetes -d "$rendered"

step "checkov (dockerfile) on deploy/Dockerfile"
"$bin/checkov" --config-file "$deploy_dir/.checkov.yaml" --framework dockerfile -f "$deploy_dir/Dockerfile"

# --- 7: ACX invariants -------------------------------------------------------------------------
step "ACX manifest invariants"
for overlay in "${overlays[@]}"; do
  "$bin/python" "$deploy_dir/check_manifests.py" "$overlay" "$rendered/$overlay.yaml"
done

# --- 8: the scoring guard refuses what it must ---------------------------------------------
step "a prod overlay whose scoring replicas could disagree is refused"
container=/spec/template/spec/containers/0
mutants=(
  'kind: HorizontalPodAutoscaler|/spec/minReplicas|1'
  "kind: Deployment|$container/readinessProbe|{\"tcpSocket\": {\"port\": 50052}}"
  "kind: Deployment|$container/startupProbe/grpc|{\"port\": 50052, \"service\": \"acx.ingest.v1.IngestService\"}"
  "kind: Deployment|$container/env/0|{\"name\": \"ACX_DATABASE_URL\", \"value\": \"sqlite:///tmp/scoring.db\"}"
)
for mutant in "${mutants[@]}"; do
  IFS='|' read -r target path value <<<"$mutant"
  dir="$rendered/mutant"
  rm -rf "$dir" && mkdir -p "$dir"
  # kustomize takes no absolute root: name prod relative to the mutant's directory.
  prod="$("$bin/python" -c 'import os, sys; print(os.path.relpath(sys.argv[1], sys.argv[2]))' \
    "$deploy_dir/k8s/overlays/prod" "$dir")"
  cat >"$dir/kustomization.yaml" <<EOF
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - $prod
patches:
  - target:
      $target
      name: acx-scoring
    patch: |-
      - op: replace
        path: $path
        value: $value
EOF
  kubectl kustomize "$dir" >"$dir/rendered.yaml"
  if "$bin/python" "$deploy_dir/check_manifests.py" prod "$dir/rendered.yaml" >/dev/null 2>&1; then
    die "check_manifests.py accepted prod with scoring $path = $value"
  fi
  echo "refused: $path = $value"
done
rm -rf "$rendered/mutant"

printf '\ndeploy/check.sh: all checks passed (%s)\n' "${overlays[*]}"
