"""Replicas that agree: the checks deploy/cluster_test.py runs on several pods per Deployment.

When the overlay starts at least two scoring and two liaison pods, callers reach different
pods (kube-proxy spreads connections; here pod i of a caller is sent to pod i of the Service
it calls: liaison/0 to scoring/0, liaison/1 to scoring/1, scoring/i to ingest/i), and every
answer must be the same whichever pod is asked:

  1. a confirmed counterfeit finding and a shipment notice reported to the first ingest pod:
     CheckSeller through every liaison pod shows the seller BLACKLISTED, the same answer, and
     ListBlacklistChanges on every scoring pod lists that listing once, at the same cursor
     (one feed consumer, effects written once);
  2. the same declaration submitted through two liaison pods at once: both accepted; every
     liaison pod shows one assessment, the same risk, lane and reasons, RED for the listed
     seller's shipment (scoring assessed it once, whichever replica was asked first);
  3. an inspection result recorded through the last liaison pod: CheckParty of the importer
     through every liaison pod (each asking its own scoring replica) shows the inspection,
     the same answer.

Requests are the walkthrough's JSON files (docs/walkthrough/) and messages are built from the
servers' own reflection, as grpcurl or buf curl would build them.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any, Callable

import grpc
from google.protobuf import descriptor_pool, json_format, message_factory
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

PLATFORM = "platform:ct-platform"
SELLER = "CT-42"
IMPORTER = "US-IMP-4711"
# How long a write on one replica may take to show on the others before it is a failure:
# generous for a loaded 2-core machine (the measured lag is milliseconds, docs/performance.md).
AGREE_WITHIN = 60.0


class Api:
    """Calls by method name with proto3-JSON bodies, typed by a server's reflection."""

    def __init__(self, channel: grpc.Channel) -> None:
        self.pool = descriptor_pool.DescriptorPool(ProtoReflectionDescriptorDatabase(channel))

    def call(self, channel: grpc.Channel, method: str, body: dict, token: str,
             timeout: float = 10.0) -> tuple[grpc.StatusCode, Any]:
        """(OK, the answer as proto3 JSON) or (the status code, its message)."""
        service, _, name = method.rpartition("/")
        descriptor = self.pool.FindServiceByName(service).FindMethodByName(name)
        request_type = message_factory.GetMessageClass(descriptor.input_type)
        response_type = message_factory.GetMessageClass(descriptor.output_type)
        stub = channel.unary_unary(f"/{method}", request_serializer=lambda m: m.SerializeToString(),
                                   response_deserializer=response_type.FromString)
        request = json_format.ParseDict(body, request_type())
        try:
            reply = stub(request, metadata=[("authorization", f"Bearer {token}")], timeout=timeout)
        except grpc.RpcError as error:
            return error.code(), error.details() or ""
        return grpc.StatusCode.OK, json_format.MessageToDict(reply)


def until(condition: Callable[[], tuple[bool, Any]], within: float = AGREE_WITHIN) -> tuple[bool, Any, float]:
    """Polls `condition` until it holds or `within` seconds pass: (held, last value, seconds)."""
    started = time.monotonic()
    while True:
        held, value = condition()
        waited = time.monotonic() - started
        if held or waited > within:
            return held, value, waited
        time.sleep(0.2)


def same(answers: list[Any]) -> bool:
    return all(a == answers[0] for a in answers[1:])


def check_agreement(checks: Any, pods: dict[str, list[tuple[str, grpc.Channel]]],
                    tokens: dict[str, str], customs: str, walkthrough: Path,
                    log: Callable[[str], None]) -> None:
    """Runs the three checks above; `pods` maps a Deployment to its (pod key, channel) pairs."""
    liaisons, scorings, ingests = pods["acx-liaison"], pods["acx-scoring"], pods["acx-ingest"]
    api = Api(liaisons[0][1])
    platform, customs_token = tokens[PLATFORM], tokens[customs]

    def walk(name: str) -> dict:
        return json.loads((walkthrough / name).read_text())

    # 1. a platform's finding reaches every replica, and is listed once on each
    earbuds = {"gtin": "0194252721407", "brand": "Lumina", "hsCode": "8518.30",
               "title": "Lumina Pro wireless earbuds with charging case"}
    reports = {"reports": [
        {"reportId": "CT-F-1", "counterfeitFinding": {
            "seller": {"sellerId": SELLER}, "products": [earbuds],
            "evidenceType": "EVIDENCE_TYPE_TEST_BUY", "verdict": "VERDICT_CONFIRMED",
            "actionTaken": "ACTION_TAKEN_ACCOUNT_SUSPENDED", "observeTime": "2026-11-18T10:00:00Z"}},
        {"reportId": "CT-N-1", "shipmentNotice": {
            "sellerId": SELLER, "consignment": {"trackingNumbers": ["1Z999AA10123456784"]},
            "lines": [{"product": earbuds, "quantity": 500,
                       "unitPrice": {"currencyCode": "USD", "amount": "24.99"}}],
            "shipTime": "2026-11-18T12:00:00Z"}},
    ]}
    code, answer = api.call(ingests[0][1], "acx.ingest.v1.IngestService/SubmitReports", reports, platform)
    accepted = code == grpc.StatusCode.OK and all(
        r.get("outcome") == "REPORT_OUTCOME_ACCEPTED" for r in answer.get("results", []))
    if not checks.check(accepted, f"{ingests[0][0]}: a platform's finding and shipment notice accepted",
                        f"{code.name} {answer}"):
        return
    seller = {"seller": {"platform": "ct-platform", "sellerId": SELLER}}

    def sellers() -> tuple[bool, list]:
        answers = [api.call(ch, "acx.liaison.v2.LiaisonService/CheckSeller", seller, customs_token)
                   for _, ch in liaisons]
        listed = all(c == grpc.StatusCode.OK and a["risk"].get("tier") == "RISK_TIER_BLACKLISTED"
                     for c, a in answers)
        return listed and same(answers), answers

    held, answers, waited = until(sellers)
    checks.check(held, f"CheckSeller through {', '.join(k for k, _ in liaisons)} (each asking its own "
                 f"scoring replica): the same BLACKLISTED answer after {waited:.1f}s",
                 json.dumps([[c.name, a] for c, a in answers])[:2000])

    def changes() -> tuple[bool, list]:
        answers = [api.call(ch, "acx.scoring.v1.ScoringService/ListBlacklistChanges",
                            {"afterCursor": 0, "pageSize": 100}, platform) for _, ch in scorings]
        ok = all(c == grpc.StatusCode.OK and len(a.get("changes", [])) == 1 for c, a in answers)
        return ok and same(answers), answers

    held, answers, waited = until(changes)
    checks.check(held, f"ListBlacklistChanges on {', '.join(k for k, _ in scorings)}: the listing "
                 "once, the same change at the same cursor on every replica",
                 json.dumps([[c.name, a] for c, a in answers])[:2000])

    # 2. one declaration through two liaison pods at once: assessed once, the same everywhere
    declarations = walk("submit-declarations.json")
    declaration_id = declarations["declarations"][0]["declarationId"]
    submitted: dict[str, tuple[grpc.StatusCode, Any]] = {}

    def submit(key: str, channel: grpc.Channel) -> None:
        submitted[key] = api.call(channel, "acx.liaison.v2.LiaisonService/SubmitDeclarations",
                                  declarations, customs_token, timeout=30)

    threads = [threading.Thread(target=submit, args=pod) for pod in liaisons[:2]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    taken = all(c == grpc.StatusCode.OK and a["results"][0].get("outcome") != "DECLARATION_OUTCOME_REJECTED"
                for c, a in submitted.values())
    checks.check(taken, f"{declaration_id} submitted through {' and '.join(submitted)} at once: "
                 "both accepted", json.dumps({k: [c.name, a] for k, (c, a) in submitted.items()})[:2000])
    shipment = {"name": f"shipments/{declaration_id}"}

    def assessments() -> tuple[bool, list]:
        answers = []
        for _, channel in liaisons:
            code, answer = api.call(channel, "acx.liaison.v2.LiaisonService/GetShipment", shipment,
                                    customs_token)
            found = answer.get("shipment", {}) if code == grpc.StatusCode.OK else {}
            answers.append([code.name, found.get("assessmentState"), found.get("assessment"),
                            found.get("assessmentHistory")])
        assessed = all(a[1] == "ASSESSMENT_STATE_ASSESSED" and len(a[3] or []) == 1 for a in answers)
        return assessed and same(answers), answers

    held, answers, waited = until(assessments)
    lane = (answers[0][2] or {}).get("lane")
    checks.check(held and lane == "LANE_RED",
                 f"GetShipment {declaration_id} through every liaison pod: one assessment, the same "
                 f"({lane}, risk {(answers[0][2] or {}).get('risk')}) after {waited:.1f}s",
                 json.dumps(answers)[:2000])

    # 3. an inspection recorded through the last liaison pod shows through every pod
    code, answer = api.call(liaisons[-1][1], "acx.liaison.v2.LiaisonService/RecordInspectionResult",
                            walk("record-inspection-result.json"), customs_token)
    if not checks.check(code == grpc.StatusCode.OK, f"{liaisons[-1][0]}: inspection result recorded",
                        f"{code.name} {answer}"):
        return

    def importers() -> tuple[bool, list]:
        answers = [api.call(ch, "acx.liaison.v2.LiaisonService/CheckParty", {"importerId": IMPORTER},
                            customs_token) for _, ch in liaisons]
        seen = all(c == grpc.StatusCode.OK and int(a.get("importer", {}).get("inspections", 0)) == 1
                   for c, a in answers)
        return seen and same(answers), answers

    held, answers, waited = until(importers)
    checks.check(held, f"CheckParty {IMPORTER} through every liaison pod (each asking its own scoring "
                 f"replica): the inspection recorded through {liaisons[-1][0]}, the same answer after "
                 f"{waited:.1f}s", json.dumps([[c.name, a] for c, a in answers])[:2000])
    log(f"replicas agree: {len(ingests)} ingest, {len(scorings)} scoring, {len(liaisons)} liaison pods")
