#!/usr/bin/env python3
"""ACX from Python, for a customs integrator: submit a declaration, read its assessment,
list the shipments recommended for physical inspection.

Uses the stubs `scripts/gen-stubs.sh` generates into gen/python (or your own `buf generate`
output: pass its directory with --stubs or ACX_PY_STUBS). Against the demo suite
(`cargo run --release --bin acx -- --demo`) the declaration below goes to the RED lane: its
tracking number is on a platform's shipment notice from a blacklisted seller who sells the
same earbuds at 24.99 USD, and it declares them at 2 USD each.

    pip install -r requirements.txt
    export ACX_TOKEN=$(awk '$1=="customs:demo-customs" {print $2}' data/credentials)
    python3 quickstart.py
"""

import argparse
import os
import sys
from datetime import datetime, timezone
from pathlib import Path

import grpc

# The repository's gen/python, when run from a checkout.
DEFAULT_STUBS = Path(__file__).resolve().parents[4] / "gen" / "python"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--endpoint",
        default=os.environ.get("ACX_LIAISON_ENDPOINT", "localhost:50053"),
        help="liaison's host:port (ACX_LIAISON_ENDPOINT; default localhost:50053)",
    )
    parser.add_argument(
        "--token",
        default=os.environ.get("ACX_TOKEN"),
        help="your customs authority's bearer token (ACX_TOKEN)",
    )
    parser.add_argument(
        "--stubs",
        default=os.environ.get("ACX_PY_STUBS", str(DEFAULT_STUBS)),
        help="directory of the generated Python stubs (ACX_PY_STUBS; default gen/python)",
    )
    parser.add_argument(
        "--ca-cert",
        help="PEM CA certificate of liaison's TLS certificate (plaintext without it)",
    )
    parser.add_argument(
        "--declaration-id",
        default="PY-" + datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f"),
        help="your reference of the declaration (default: PY-<current time>)",
    )
    args = parser.parse_args()
    if not args.token:
        parser.error("a bearer token is needed: --token or ACX_TOKEN")
    return args


def main():
    args = parse_args()
    sys.path.insert(0, args.stubs)
    # Version 2 of the liaison contract: everything it returns is in its package and in
    # acx.common.v1 (lanes and assessments in assessment.proto).
    from acx.common.v1 import assessment_pb2, common_pb2
    from acx.liaison.v2 import liaison_pb2, liaison_pb2_grpc

    if args.ca_cert:
        with open(args.ca_cert, "rb") as ca:
            credentials = grpc.ssl_channel_credentials(root_certificates=ca.read())
        channel = grpc.secure_channel(args.endpoint, credentials)
    else:
        channel = grpc.insecure_channel(args.endpoint)
    liaison = liaison_pb2_grpc.LiaisonServiceStub(channel)
    # Every call but health and reflection carries the bearer token.
    auth = [("authorization", f"Bearer {args.token}")]
    lane_name = assessment_pb2.Lane.Name

    # 1. Submit one declaration: 500 wireless earphones declared at 1000 USD.
    declaration = liaison_pb2.Declaration(
        declaration_id=args.declaration_id,
        customs_office="USLAX",
        procedure=common_pb2.PROCEDURE_HOME_USE,
        transport_mode=common_pb2.TRANSPORT_MODE_COURIER,
        importer_id="US-IMP-4711",
        declarant_id="BROKER-9",
        consignor_id="CN-EXP-318",
        carrier_id="UPS",
        consignment=common_pb2.ConsignmentNumbers(tracking_numbers=["1Z999AA10123456784"]),
        departure_country="CN",
        origin_country="CN",
        lines=[
            liaison_pb2.DeclarationLine(
                line_number=1,
                hs_code="8518302000",
                description="wireless earphones with charging case",
                quantity=500,
                quantity_unit="PCE",
                net_mass_kg=40,
                gross_mass_kg=44,
                declared_value=common_pb2.Money(currency_code="USD", amount="1000.00"),
                valuation_basis=common_pb2.VALUATION_BASIS_FOB,
                duty_rate=0.049,
                declared_duty=common_pb2.Money(currency_code="USD", amount="49.00"),
            )
        ],
    )
    declaration.declaration_time.GetCurrentTime()
    submitted = liaison.SubmitDeclarations(
        liaison_pb2.SubmitDeclarationsRequest(declarations=[declaration]),
        metadata=auth,
        timeout=10,
    )
    result = submitted.results[0]
    outcome = liaison_pb2.DeclarationOutcome.Name(result.outcome)
    print(f"submitted {result.declaration_id}: {outcome}")
    if result.outcome not in (
        liaison_pb2.DECLARATION_OUTCOME_ACCEPTED,
        liaison_pb2.DECLARATION_OUTCOME_DUPLICATE,
    ):
        for violation in result.violations:
            print(f"  {violation.field}: {violation.description}", file=sys.stderr)
        return 1

    # 2. The shipment with its assessment: lane, risk, and why.
    shipment = liaison.GetShipment(
        liaison_pb2.GetShipmentRequest(name=f"shipments/{args.declaration_id}"),
        metadata=auth,
        timeout=10,
    ).shipment
    state = liaison_pb2.AssessmentState.Name(shipment.assessment_state)
    if shipment.assessment_state != liaison_pb2.ASSESSMENT_STATE_ASSESSED:
        print(f"{shipment.name}: {state} (scoring is catching up; ask again shortly)")
    else:
        assessment = shipment.assessment
        print(f"{shipment.name}: lane {lane_name(assessment.lane)}, risk {assessment.risk:.2f}")
        for reason in assessment.reasons:
            print(f"  reason {reason.code} ({reason.contribution:.2f}): {reason.description}")
        for line in assessment.lines:
            for anomaly in line.anomalies:
                print(
                    f"  line {line.line_number}: {anomaly.code} against {anomaly.comparison_group}:"
                    f" {anomaly.ratio:.2f} of the median, expected"
                    f" {anomaly.expected_low:.2f}-{anomaly.expected_high:.2f} USD"
                )

    # 3. The shipments recommended for physical inspection, riskiest first.
    found = liaison.SearchShipments(
        liaison_pb2.SearchShipmentsRequest(
            lane=assessment_pb2.LANE_RED,
            order_by=liaison_pb2.SHIPMENT_ORDER_RISK,
            page_size=10,
        ),
        metadata=auth,
        timeout=10,
    )
    print("RED shipments, riskiest first:")
    for red in found.shipments:
        print(
            f"  {red.name}  risk {red.assessment.risk:.2f}"
            f"  importer {red.declaration.importer_id}"
        )
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except ModuleNotFoundError as error:
        sys.exit(f"cannot import the generated stubs ({error}): see --stubs")
    except grpc.RpcError as error:
        # The status code and ACX's message, which names the reason (or the field) at fault.
        sys.exit(f"{error.code().name}: {error.details()}")
