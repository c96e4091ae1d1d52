#!/usr/bin/env bash
# Runs every test: the workspace's tests against real SQLite and a real PostgreSQL (and the
# README's customs walkthrough through buf curl, installed from npm on first use, and the
# Python example through the stubs scripts/gen-stubs.sh generates and checks), the
# static checks of the Kubernetes manifests (deploy/check.sh), and the cluster-like test
# that starts the three release binaries as the prod overlay's pods would
# (deploy/cluster_test.py).
#
# Unless ACX_TEST_POSTGRES_URL points at a server already, it starts a throwaway
# PostgreSQL cluster (installing the Debian package first if it is missing and we are
# root), on a free loopback port, and removes it afterwards. Extra arguments go to
# `cargo test` only, and skip the deploy checks (e.g. `scripts/test.sh -p acx-runtime`).
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
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -z "$bin" ]; then
    if [ "$(id -u)" -ne 0 ]; then
      echo "PostgreSQL is not installed: install the 'postgresql' package, or set ACX_TEST_POSTGRES_URL" >&2
      exit 1
    fi
    echo "installing PostgreSQL..." >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  fi

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

if [ -z "${ACX_TEST_POSTGRES_URL:-}" ]; then
  start_postgres
fi

# buf, from npm, for the README walkthrough test (an independent reflection client). The
# native binary, not npm's wrapper script, so that a test can stop a streaming call.
if [ -z "${ACX_BUF:-}" ]; then
  buf_dir="${XDG_CACHE_HOME:-$HOME/.cache}/acx-buf"
  if ! ls "$buf_dir"/node_modules/@bufbuild/buf-*/bin/buf >/dev/null 2>&1; then
    npm install --silent --no-audit --no-fund --prefix "$buf_dir" @bufbuild/buf@1 >/dev/null
  fi
  ACX_BUF=$(ls "$buf_dir"/node_modules/@bufbuild/buf-*/bin/buf | head -n 1)
  export ACX_BUF
fi
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

if [ "$#" -eq 0 ]; then
  # Installs its pinned Python tools into a virtualenv on first use.
  deploy/check.sh
  "${XDG_CACHE_HOME:-$HOME/.cache}/acx-deploy-venv/bin/python" deploy/cluster_test.py
fi
