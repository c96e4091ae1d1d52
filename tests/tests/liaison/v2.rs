//! Liaison's contract version 2 (`acx.liaison.v2`) through its own generated stubs: every
//! RPC answers, with lanes, outcome kinds and field violations from `acx.common.v1`, and
//! says what v1 says about the same shipments (one store, whichever version wrote it).

use std::time::Duration;

use acx_proto::{
    common::{self, Lane, OutcomeKind},
    liaison::liaison_service_client::LiaisonServiceClient as V1Client,
    liaison_v2::{
        self as v2, AssessmentState, DeclarationOutcome,
        liaison_service_client::LiaisonServiceClient as V2Client,
    },
    scoring,
};
use acx_tests::{TestSuite, authorized, channel, fixtures};
use prost::Message;
use tokio_stream::StreamExt as _;
use tonic::Code;

/// `message` as the other version's type (the same bytes).
fn other<A: Message, B: Message + Default>(message: &A) -> B {
    B::decode(message.encode_to_vec().as_slice()).unwrap()
}

/// Fixture declaration `id`, built as a v2 client would send it.
fn declaration(id: &str) -> v2::Declaration {
    let mut declaration: v2::Declaration = other(&fixtures::declaration(id));
    declaration.transport_mode = common::TransportMode::Postal as i32;
    declaration.lines[0].valuation_basis = common::ValuationBasis::Cif as i32;
    declaration
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rpc_of_liaison_v2_answers_with_common_types_as_v1_does() {
    let suite = TestSuite::start_with(true).await;
    let token = suite.token("customs:demo-customs");
    let auditor = suite.token("auditor:demo-auditor");
    let mut client = V2Client::new(channel(suite.liaison).await);
    let mut v1 = V1Client::new(channel(suite.liaison).await);

    // Alerts of the demo's two RED shipments, with v2's (common) lane.
    let mut alerts = client
        .watch_alerts(authorized(v2::WatchAlertsRequest::default(), &token))
        .await
        .unwrap()
        .into_inner();
    let mut alerted = Vec::new();
    for _ in 0..2 {
        let alert = tokio::time::timeout(Duration::from_secs(10), alerts.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(alert.lane(), Lane::Red, "{alert:?}");
        alerted.push(alert.shipment.unwrap().name);
    }
    alerted.sort();
    assert_eq!(alerted, ["shipments/DEMO-1001", "shipments/DEMO-1002"]);

    // Declarations in: one accepted, one refused with a common FieldViolation.
    let mut malformed = declaration("V2-BAD");
    malformed.lines[0].hs_code = "12".to_owned();
    let results = client
        .submit_declarations(authorized(
            v2::SubmitDeclarationsRequest {
                declarations: vec![declaration("V2-1"), malformed],
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .results;
    assert_eq!(results[0].outcome(), DeclarationOutcome::Accepted);
    assert_eq!(results[0].assessment_state(), AssessmentState::Assessed);
    assert_ne!(results[0].lane(), Lane::Unspecified);
    assert_eq!(results[1].outcome(), DeclarationOutcome::Rejected);
    let violation: &common::FieldViolation = &results[1].violations[0];
    assert!(
        violation.field.ends_with("lines[0].hs_code"),
        "{violation:?}"
    );

    // The same shipment through both versions; what v1 wrote, v2 reads.
    let read = |name: &str| v2::GetShipmentRequest {
        name: format!("shipments/{name}"),
    };
    let through_v2 = client
        .get_shipment(authorized(read("V2-1"), &token))
        .await
        .unwrap()
        .into_inner()
        .shipment
        .unwrap();
    let through_v1 = fixtures::get_shipment(&mut v1, &token, "V2-1").await;
    assert_eq!(through_v2, other(&through_v1));
    assert_eq!(
        through_v2.declaration.as_ref().unwrap().transport_mode(),
        common::TransportMode::Postal
    );
    let red = client
        .get_shipment(authorized(read("DEMO-1001"), &token))
        .await
        .unwrap()
        .into_inner()
        .shipment
        .unwrap();
    let assessment: &common::ShipmentAssessment = red.assessment.as_ref().unwrap();
    assert_eq!(assessment.lane(), Lane::Red);
    assert!(!assessment.reasons.is_empty());

    // An inspection result with a common outcome kind, read back through v1.
    client
        .record_inspection_result(authorized(
            v2::RecordInspectionResultRequest {
                name: "shipments/DEMO-1001".to_owned(),
                result: Some(v2::InspectionResult {
                    kind: OutcomeKind::CounterfeitSeized as i32,
                    inspect_time: Some(fixtures::seconds_ago(60)),
                    ..Default::default()
                }),
            },
            &token,
        ))
        .await
        .unwrap();
    let inspected = fixtures::get_shipment(&mut v1, &token, "DEMO-1001").await;
    assert_eq!(
        inspected.inspection_result.unwrap().kind(),
        scoring::OutcomeKind::CounterfeitSeized
    );

    // A search filtered by a common lane.
    let found = client
        .search_shipments(authorized(
            v2::SearchShipmentsRequest {
                lane: Lane::Red as i32,
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .shipments;
    assert!(found.iter().any(|s| s.name == "shipments/DEMO-1001"));
    assert!(
        found
            .iter()
            .all(|s| s.assessment.as_ref().unwrap().lane() == Lane::Red)
    );

    // Party questions: the seller behind the RED shipment, its importer.
    let seller = assessment.seller_risk.as_ref().unwrap().seller.clone();
    let party = client
        .check_seller(authorized(v2::CheckSellerRequest { seller }, &token))
        .await
        .unwrap()
        .into_inner()
        .risk
        .unwrap();
    assert_eq!(party.tier(), common::RiskTier::Blacklisted);
    let importer = red.declaration.as_ref().unwrap().importer_id.clone();
    let history = client
        .check_party(authorized(
            v2::CheckPartyRequest {
                party: Some(v2::check_party_request::Party::ImporterId(importer)),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(history.importer.is_some(), "{history:?}");

    // The model card and a lane policy, with v2's common model types.
    let card: common::ModelCard = client
        .get_model_card(authorized(v2::GetModelCardRequest {}, &auditor))
        .await
        .unwrap()
        .into_inner()
        .card
        .unwrap();
    assert!(!card.version.is_empty());
    let thresholds: common::LaneThresholds = client
        .set_lane_policy(authorized(
            v2::SetLanePolicyRequest {
                red_share: 0.05,
                yellow_share: 0.1,
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .thresholds
        .unwrap();
    assert_eq!(thresholds.policy.unwrap().red_share, 0.05);

    // The audit trail, read through v2, holds the calls made through it.
    let records = client
        .list_audit_records(authorized(
            v2::ListAuditRecordsRequest {
                rpc: "SubmitDeclarations".to_owned(),
                ..Default::default()
            },
            &auditor,
        ))
        .await
        .unwrap()
        .into_inner()
        .records;
    assert!(
        records.iter().any(|r| r.parameters.contains("V2-1")),
        "{records:?}"
    );

    // Errors and access as in v1: empty batch refused with the field, platforms turned away.
    let empty = client
        .submit_declarations(authorized(v2::SubmitDeclarationsRequest::default(), &token))
        .await
        .unwrap_err();
    assert_eq!(empty.code(), Code::InvalidArgument);
    assert!(empty.message().contains("declarations"), "{empty:?}");
    let platform = suite.token("platform:demo-platform");
    let refused = client
        .get_shipment(authorized(read("V2-1"), &platform))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
}
