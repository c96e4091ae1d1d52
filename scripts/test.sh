#!/usr/bin/env bash
# The test command: every test ACX has, on a fresh Debian 12 machine with a Rust toolchain
# and kubectl (README, "Quick start"). It says first what it will install and build
# (`scripts/test.sh --plan` says only that), installs what is missing, then runs:
#
#   * the workspace's tests (cargo test) against real SQLite and a real PostgreSQL, among
#     them the README's customs walkthrough through buf curl and the Python example through
#     the stubs that scripts/gen-stubs.sh generates and checks;
#   * the static checks of the Kubernetes manifests (deploy/check.sh);
#   * the cluster-like test, which builds the three release binaries and starts them as the
#     prod overlay's pods would (deploy/cluster_test.py).
#
# What it needs and installs is in scripts/prereqs.sh: Debian packages with apt-get when run
# as root (otherwise it names them and stops), buf from npm and two Python virtualenvs from
# PyPI under ~/.cache. Unless ACX_TEST_POSTGRES_URL points at a server already, it starts a
# throwaway PostgreSQL cluster on a free loopback port and removes it afterwards. Extra
# arguments go to `cargo test` only, and skip the deploy checks (e.g. `scripts/test.sh -p
# acx-runtime`; `scripts/test.sh --no-fail-fast` for every cargo test without them).
set -euo pipefail
cd "$(dirname "$0")/.."

pg_dir=""
pg_ctl=()
stop_postgres() {
  if [ -n "$pg_dir" ]; then
    "${pg_ctl[@]}" -D "$pg_dir/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$pg_dir"
  fi
}

start_postgres() {
  local bin
  # Installed by acx_install_missing (the Debian package postgresql) when it was missing.
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)

  pg_dir=$(mktemp -d /tmp/acx-test-pg.XXXXXX)
  local run_as=()
  if [ "$(id -u)" -eq 0 ]; then
    # initdb refuses to run as root: the cluster belongs to the postgres user.
    chown postgres "$pg_dir"
    run_as=(runuser -u postgres --)
  fi
  pg_ctl=("${run_as[@]}" "$bin/pg_ctl")
  trap stop_postgres EXIT

  local port
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "${run_as[@]}" "$bin/initdb" -D "$pg_dir/data" -U acx --auth=trust -E UTF8 >/dev/null
  "${pg_ctl[@]}" -D "$pg_dir/data" -l "$pg_dir/server.log" -w \
    -o "-p $port -k $pg_dir -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off -c synchronous_commit=off" \
    start >/dev/null
  export ACX_TEST_POSTGRES_URL="postgres://acx@127.0.0.1:$port/postgres"
  echo "PostgreSQL for tests at $ACX_TEST_POSTGRES_URL" >&2
}

# --- what this run needs, said before anything is installed -----------------------------------
# shellcheck source=scripts/prereqs.sh
. scripts/prereqs.sh
plan_only=0
if [ "${1:-}" = "--plan" ]; then
  plan_only=1
  shift
fi
with_deploy=0
[ "$#" -eq 0 ] && with_deploy=1
acx_need_test_tools "$with_deploy"

problems=()
problem=$(acx_rust_problem)
[ -n "$problem" ] && problems+=("$problem")
if [ "$with_deploy" = 1 ]; then
  problem=$(acx_kubectl_problem)
  [ -n "$problem" ] && problems+=("$problem")
fi
if [ "${#missing[@]}" -gt 0 ] && { [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; }; then
  problems+=("missing Debian packages, and not root with apt-get to install them: sudo apt-get install ${missing[*]}")
fi

say() { printf '  %-9s %s\n' "$1" "$2" >&2; }
echo "scripts/test.sh: what this run will do (scripts/test.sh --plan prints only this)" >&2
say "rust" "$(cargo --version 2>/dev/null || echo 'cargo: not found') (needs $acx_min_rust or newer)"
if [ "${#missing[@]}" -gt 0 ]; then
  say "apt-get" "install ${#missing[@]} Debian packages and their dependencies: ${missing[*]}"
else
  say "apt-get" "nothing to install: every Debian package needed is there"
fi
if acx_have_buf; then
  say "npm" "nothing: buf is in ${ACX_BUF:-$acx_cache/acx-buf}"
else
  say "npm" "install buf 1.x (@bufbuild/buf) into $acx_cache/acx-buf"
fi
plan_venv() {
  if acx_venv_current "$acx_cache/$1" "$2"; then
    say "pip" "nothing: $acx_cache/$1 has $2"
  else
    say "pip" "install $2 ($(grep -c '^[A-Za-z]' "$2") pinned packages, with their dependencies) into the virtualenv $acx_cache/$1"
  fi
}
plan_venv acx-stubs-venv shared/client/examples/python/requirements.txt
[ "$with_deploy" = 1 ] && plan_venv acx-deploy-venv deploy/requirements-check.txt
if [ -n "${ACX_TEST_POSTGRES_URL:-}" ]; then
  say "postgres" "use ACX_TEST_POSTGRES_URL"
else
  say "postgres" "start a throwaway cluster (initdb in /tmp, a free 127.0.0.1 port), removed at exit"
fi
say "build" "cargo test --workspace --locked${*:+ $*}: a debug build into target/ (the first one takes the longest; later runs reuse target/)"
if [ "$with_deploy" = 1 ]; then
  say "build" "deploy/cluster_test.py: cargo build --release --locked -p acx-ingest -p acx-scoring -p acx-liaison when target/release is older than the sources (about 15 minutes on a fresh 2-core machine)"
  say "check" "deploy/check.sh: kubectl kustomize, linters and schema checks of deploy/"
fi
if [ "${#problems[@]}" -gt 0 ]; then
  for problem in "${problems[@]}"; do
    printf 'scripts/test.sh: cannot run: %s\n' "$problem" >&2
  done
  exit 1
fi
[ "$plan_only" = 1 ] && exit 0

# --- install, then run ----------------------------------------------------------------------------
acx_install_missing scripts/test.sh
if [ -z "${ACX_TEST_POSTGRES_URL:-}" ]; then
  start_postgres
fi

# buf, from npm, for the README walkthrough test (an independent reflection client).
acx_install_buf
# Client stubs for Go, Python, Java and Kotlin into gen/ (checked to build and import), and
# the Python runtime for the test that runs the Python example against the suite.
scripts/gen-stubs.sh
set -a
# shellcheck source=/dev/null
. gen/stubs.env
set +a
# The PostgreSQL tests (and the walkthrough and stubs tests) fail rather than skip from here on.
export ACX_REQUIRE_POSTGRES=1
cargo test --workspace --locked "$@"

if [ "$with_deploy" = 1 ]; then
  # Installs its pinned Python tools into a virtualenv on first use.
  deploy/check.sh
  "$acx_cache/acx-deploy-venv/bin/python" deploy/cluster_test.py
fi
