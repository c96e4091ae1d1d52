# What the test command needs from the machine, in one place. Sourced (not run) by
# scripts/test.sh and scripts/gen-stubs.sh; `scripts/test.sh --plan` prints what it finds.
#
# Three kinds of needs:
#   * Debian packages: collected into the array `missing` by acx_need_*; acx_install_missing
#     installs them with apt-get when run as root, and otherwise stops naming them.
#   * Tools no Debian 12 package provides in a usable version: a Rust toolchain (rustup) and
#     kubectl (for its built-in kustomize): checked, never installed; acx_require_* stops
#     early saying how to install them.
#   * Per-user caches under ${XDG_CACHE_HOME:-$HOME/.cache}: buf from npm (acx-buf/), and two
#     Python virtualenvs from PyPI (acx-stubs-venv/, acx-deploy-venv/), each filled on first
#     use by the script that needs it.
# shellcheck shell=bash

acx_cache="${XDG_CACHE_HOME:-$HOME/.cache}"
acx_min_rust=$(sed -n 's/^rust-version *= *"\(.*\)"/\1/p' "$(dirname "${BASH_SOURCE[0]}")/../Cargo.toml")
missing=()

acx_add_missing() {
  local package
  for package in "${missing[@]}"; do
    [ "$package" = "$1" ] && return 0
  done
  missing+=("$1")
}
# A program on PATH (not a shell builtin: `kill` must be /bin/kill for the tests that run it).
need_cmd() { type -P "$1" >/dev/null 2>&1 || acx_add_missing "$2"; }
need_path() { [ -e "$1" ] || acx_add_missing "$2"; }

# Debian's python3 makes virtualenvs only with python3-venv.
acx_need_python() {
  need_cmd python3 python3
  if command -v python3 >/dev/null 2>&1 && ! python3 -c 'import ensurepip' >/dev/null 2>&1; then
    acx_add_missing python3-venv
  fi
}

# scripts/gen-stubs.sh: protoc and the local plugins, and what checks their output compiles.
acx_need_stub_tools() {
  local gocode=/usr/share/gocode java_dir=/usr/share/java
  need_cmd protoc protobuf-compiler
  need_cmd protoc-gen-go protoc-gen-go
  need_cmd protoc-gen-go-grpc protoc-gen-go-grpc
  need_cmd grpc_python_plugin protobuf-compiler-grpc
  need_cmd grpc_java_plugin protobuf-compiler-grpc-java-plugin
  need_cmd go golang-go
  need_path "$gocode/src/google.golang.org/protobuf/proto" golang-google-protobuf-dev
  need_path "$gocode/src/google.golang.org/grpc/server.go" golang-google-grpc-dev
  # grpc-go's codec goes through github.com/golang/protobuf: Debian's 1.3 builds with today's
  # messages but panics on the first reply; 1.5 (registry.go) wraps google.golang.org/protobuf.
  need_path "$gocode/src/github.com/golang/protobuf/proto/registry.go" golang-github-golang-protobuf-1-5-dev
  need_cmd javac default-jdk-headless
  need_path "$java_dir/protobuf.jar" libprotobuf-java
  need_path "$java_dir/grpc-stub.jar" libgrpc-java
  need_path "$java_dir/guava.jar" libguava-java
  need_path "$java_dir/geronimo-annotation-1.3-spec.jar" libgeronimo-annotation-1.3-spec-java
  acx_need_python
  if ! acx_have_buf; then
    need_cmd node nodejs                        # npm installs buf
    need_cmd npm npm
  fi
}

# Is buf installed in the cache (or given as ACX_BUF)?
acx_have_buf() {
  [ -n "${ACX_BUF:-}" ] || ls "$acx_cache"/acx-buf/node_modules/@bufbuild/buf-*/bin/buf >/dev/null 2>&1
}

# scripts/test.sh: everything, for the cargo tests alone (0) or with the deploy checks (1).
acx_need_test_tools() {
  local with_deploy=$1
  need_cmd cc gcc                               # C parts of crates (SQLite, ring)
  need_path /usr/include/stdio.h libc6-dev
  need_cmd openssl openssl                      # test certificates for TLS and mutual TLS
  need_cmd kill procps                          # tests that signal the suite and acxctl
  if [ -z "${ACX_TEST_POSTGRES_URL:-}" ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    acx_add_missing postgresql                  # the throwaway test cluster
  fi
  if [ "$with_deploy" = 1 ]; then
    need_cmd psql postgresql-client             # deploy/cluster_test.py makes its databases
  fi
  acx_need_stub_tools
}

# Installs `missing` with apt-get as root, or stops naming the packages.
acx_install_missing() {
  local who=$1
  [ "${#missing[@]}" -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    printf '%s: missing Debian packages: %s\n' "$who" "${missing[*]}" >&2
    printf '%s: install them (sudo apt-get install %s), or run this as root on Debian 12\n' \
      "$who" "${missing[*]}" >&2
    exit 1
  fi
  printf '==> %s: installing with apt-get: %s\n' "$who" "${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  missing=()
}

# buf from npm into the cache (first use only); exports ACX_BUF, the native binary (not npm's
# wrapper script, so that a test can stop a streaming call).
acx_install_buf() {
  if [ -z "${ACX_BUF:-}" ]; then
    local buf_dir="$acx_cache/acx-buf"
    if ! acx_have_buf; then
      printf '==> installing buf 1.x from npm into %s\n' "$buf_dir" >&2
      npm install --silent --no-audit --no-fund --prefix "$buf_dir" @bufbuild/buf@1 >/dev/null
    fi
    ACX_BUF=$(ls "$buf_dir"/node_modules/@bufbuild/buf-*/bin/buf | head -n 1)
  fi
  export ACX_BUF
}

# A Rust toolchain of the workspace's rust-version or newer. rustup installs one; no Debian
# 12 package is new enough.
acx_rust_problem() {
  local version
  if ! command -v cargo >/dev/null 2>&1; then
    echo "no Rust toolchain (cargo): install one with rustup (https://rustup.rs), $acx_min_rust or newer"
    return
  fi
  version=$(cargo --version | cut -d' ' -f2)
  if [ "$(printf '%s\n%s\n' "$acx_min_rust" "$version" | sort -V | head -n 1)" != "$acx_min_rust" ]; then
    echo "cargo $version is older than the workspace's rust-version $acx_min_rust: rustup update"
  fi
}

# kubectl whose built-in kustomize renders deploy/k8s (components, `labels` with
# includeTemplates: kubectl 1.27 or later, whose kustomize is 5.0, does). Debian 12's
# kubernetes-client is 1.20 (kustomize 2): too old.
acx_kubectl_problem() {
  local repo
  repo="$(dirname "${BASH_SOURCE[0]}")/.."
  local how="install kubectl 1.27 or later from the Kubernetes project (https://kubernetes.io/docs/tasks/tools/; Debian 12's kubernetes-client is too old), or run the cargo tests alone: scripts/test.sh --no-fail-fast"
  if ! command -v kubectl >/dev/null 2>&1; then
    echo "kubectl is not installed (the manifest checks and the cluster-like test render deploy/k8s with its built-in kustomize): $how"
  elif ! kubectl kustomize "$repo/deploy/k8s/overlays/prod" >/dev/null 2>&1; then
    echo "this kubectl ($(kubectl version --client 2>/dev/null | head -n 1)) cannot render deploy/k8s/overlays/prod: $how"
  fi
}

# Is the virtualenv at $1 filled from the requirements file $2 (the stamp the scripts write)?
acx_venv_current() {
  [ -x "$1/bin/python" ] && [ "$(cat "$1/.acx-requirements.sha256" 2>/dev/null || true)" = "$(sha256sum <"$2" | cut -d' ' -f1)" ]
}
