#!/usr/bin/env bash
# Generates the client stubs for Go, Python, Java and Kotlin from the contracts in proto/
# (buf.gen.yaml) into gen/, and checks that they are usable:
#
#   1. every service has its stubs in every language (Go *_grpc.pb.go, Python *_pb2_grpc.py,
#      Java *Grpc.java; Kotlin builders for every request message);
#   2. Go: the generated packages build (go build, offline, in GOPATH mode against Debian's
#      google.golang.org/protobuf and google.golang.org/grpc sources), and a reply survives a
#      round trip through grpc-go's codec;
#   3. Java: messages and gRPC stubs compile (javac against Debian's protobuf and grpc-java
#      jars), and a reply survives a round trip through its gRPC method's marshaller;
#   4. Python: every module imports, with the runtime pinned by
#      shared/client/examples/python/requirements.txt in a virtualenv.
#
# Kotlin is generated but not compiled: Debian ships neither a current kotlinc nor the
# protobuf-kotlin runtime, and Maven Central is out of reach here.
#
# The plugins are local, so nothing comes from buf.build: missing ones are installed from
# Debian when run as root (otherwise the script names the packages; the list is in
# scripts/prereqs.sh). buf comes from npm
# (or ACX_BUF). Finally it writes gen/stubs.env (ACX_PYTHON, ACX_PY_STUBS) for the test that
# runs the Python example against the suite (tests/tests/stubs.rs). Repeated runs skip the
# installs and the Java compile when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
cache="${XDG_CACHE_HOME:-$HOME/.cache}"
venv="$cache/acx-stubs-venv"
requirements="$root/shared/client/examples/python/requirements.txt"
java_dir=/usr/share/java
java_jars=(protobuf grpc-api grpc-stub grpc-protobuf grpc-protobuf-lite guava geronimo-annotation-1.3-spec)
gocode=/usr/share/gocode
go_prefix=github.com/acx-exchange/acx/gen/go

step() { printf '==> %s\n' "$*" >&2; }
die() { printf 'gen-stubs.sh: %s\n' "$*" >&2; exit 1; }
sha() { sha256sum | cut -d' ' -f1; }

# --- tools: every missing one as the Debian package that has it (scripts/prereqs.sh) -------
# shellcheck source=scripts/prereqs.sh
. "$root/scripts/prereqs.sh"
acx_need_stub_tools
acx_install_missing gen-stubs.sh
acx_install_buf

# --- generate -------------------------------------------------------------------------------
step "buf generate (buf.gen.yaml) into gen/"
"$ACX_BUF" generate

# --- 1. every service in every language -----------------------------------------------------
step "checking that every service has stubs in every language"
services=0
for proto in proto/acx/*/v1/*.proto; do
  rel=${proto#proto/}
  dir=$(dirname "$rel")
  base=$(basename "$rel" .proto)
  java_pkg=com/$dir
  for service in $(sed -n 's/^service \([A-Za-z0-9_]*\).*/\1/p' "$proto"); do
    services=$((services + 1))
    for file in "gen/go/$dir/${base}_grpc.pb.go" "gen/python/$dir/${base}_pb2_grpc.py" \
      "gen/python/$dir/${base}_pb2.pyi" "gen/java/$java_pkg/${service}Grpc.java"; do
      [ -s "$file" ] || die "no $file for $service"
    done
    for request in $(sed -n 's/^ *rpc [A-Za-z0-9_]*(\(stream \)\{0,1\}\([A-Za-z0-9_]*\)).*/\2/p' "$proto"); do
      [ -s "gen/kotlin/$java_pkg/${request}Kt.kt" ] || die "no Kotlin builder for $request"
    done
  done
done
[ "$services" -ge 4 ] || die "found only $services services under proto/"

# --- 2. Go ----------------------------------------------------------------------------------
step "go build (GOPATH mode, Debian's Go libraries, offline)"
work=$(mktemp -d "${TMPDIR:-/tmp}/acx-gen-stubs.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/src/$(dirname "$go_prefix")"
cp -r gen/go "$work/src/$go_prefix"
mkdir -p "$work/src/acxcheck"
# A reply through grpc-go's own codec, as a client decodes it.
cat >"$work/src/acxcheck/main.go" <<GO
package main

import (
	"log"

	commonv1 "$go_prefix/acx/common/v1"
	liaisonv2 "$go_prefix/acx/liaison/v2"
	"google.golang.org/grpc/encoding"
	_ "google.golang.org/grpc/encoding/proto"
)

func main() {
	codec := encoding.GetCodec("proto")
	sent := &liaisonv2.GetShipmentResponse{Shipment: &liaisonv2.Shipment{
		Name: "shipments/X", Assessment: &commonv1.ShipmentAssessment{Lane: commonv1.Lane_LANE_RED}}}
	data, err := codec.Marshal(sent)
	if err != nil {
		log.Fatal(err)
	}
	var got liaisonv2.GetShipmentResponse
	if err := codec.Unmarshal(data, &got); err != nil {
		log.Fatal(err)
	}
	if got.GetShipment().GetAssessment().GetLane() != commonv1.Lane_LANE_RED {
		log.Fatalf("round trip through grpc's codec lost the lane: %v", &got)
	}
}
GO
go_env=(env GO111MODULE=off GOFLAGS="" GOPROXY=off GOPATH="$work:$gocode" GOCACHE="$cache/acx-go-build")
"${go_env[@]}" go build "$go_prefix/..."
"${go_env[@]}" go run acxcheck

# --- 3. Java --------------------------------------------------------------------------------
classpath=""
for jar in "${java_jars[@]}"; do classpath+="$java_dir/$jar.jar:"; done
classpath=${classpath%:}
java_sum=$( (javac -version 2>&1; echo "$classpath"; cd gen/java && find . -type f -print0 | sort -z | xargs -0 sha256sum) | sha)
java_stamp="$cache/acx-stubs-java.sha256"
if [ "$(cat "$java_stamp" 2>/dev/null || true)" = "$java_sum" ]; then
  step "javac: generated Java unchanged since the last successful compile"
else
  step "javac (messages and gRPC stubs, against Debian's jars)"
  mkdir -p "$work/check"
  # A reply through its gRPC method's own marshaller, as a client decodes it.
  cat >"$work/check/AcxStubCheck.java" <<'JAVA'
import com.acx.common.v1.Lane;
import com.acx.common.v1.ShipmentAssessment;
import com.acx.liaison.v2.GetShipmentRequest;
import com.acx.liaison.v2.GetShipmentResponse;
import com.acx.liaison.v2.LiaisonServiceGrpc;
import com.acx.liaison.v2.Shipment;
import io.grpc.MethodDescriptor;

public final class AcxStubCheck {
  public static void main(String[] args) {
    GetShipmentResponse sent = GetShipmentResponse.newBuilder()
        .setShipment(Shipment.newBuilder().setName("shipments/X")
            .setAssessment(ShipmentAssessment.newBuilder().setLane(Lane.LANE_RED)))
        .build();
    MethodDescriptor<GetShipmentRequest, GetShipmentResponse> method =
        LiaisonServiceGrpc.getGetShipmentMethod();
    GetShipmentResponse got = method.parseResponse(method.streamResponse(sent));
    if (got.getShipment().getAssessment().getLane() != Lane.LANE_RED) {
      throw new AssertionError("round trip through the gRPC marshaller lost the lane: " + got);
    }
  }
}
JAVA
  find gen/java "$work/check" -name '*.java' >"$work/java-sources"
  javac -nowarn -encoding UTF-8 -d "$work/classes" -cp "$classpath" "@$work/java-sources"
  java -cp "$work/classes:$classpath" AcxStubCheck
  printf '%s\n' "$java_sum" >"$java_stamp"
fi

# --- 4. Python ------------------------------------------------------------------------------
if [ ! -x "$venv/bin/python" ]; then
  step "creating virtualenv $venv"
  python3 -m venv "$venv"
fi
py_stamp="$venv/.acx-requirements.sha256"
wanted=$(sha <"$requirements")
if [ "$(cat "$py_stamp" 2>/dev/null || true)" != "$wanted" ]; then
  step "installing the Python runtime ($requirements)"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
  printf '%s\n' "$wanted" >"$py_stamp"
fi
step "importing every Python module"
(cd gen/python && find acx -name '*.py' | sed 's/\.py$//; s#/#.#g' | sort) >"$work/py-modules"
PYTHONPATH="$root/gen/python" "$venv/bin/python" - "$work/py-modules" <<'EOF'
import importlib, sys
names = open(sys.argv[1]).read().split()
for name in names:
    importlib.import_module(name)
print(f"imported {len(names)} modules", file=sys.stderr)
EOF

printf 'ACX_PYTHON=%q\nACX_PY_STUBS=%q\n' "$venv/bin/python" "$root/gen/python" >gen/stubs.env
step "stubs for $services services in gen/{go,python,java,kotlin}; test environment in gen/stubs.env"
