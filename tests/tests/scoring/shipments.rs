//! Declared shipments through scoring: value anomalies against marketplace and peer prices,
//! and inspection outcomes that shift later assessments and list a seller.

use super::*;

#[tokio::test]
async fn a_declared_value_far_below_marketplace_and_peer_prices_is_flagged_and_a_normal_one_is_not()
{
    use acx_proto::scoring::{AssessShipmentRequest, Lane};
    let suite = TestSuite::start_with(true).await;
    risk_when(&suite, seller("demo-marketplace", "T-3"), |_| true).await;
    let service = suite.token("service:liaison");
    let client = scoring(&suite).await;
    let assess = |shipment, record| {
        let request = authorized(
            AssessShipmentRequest {
                shipment: Some(shipment),
                record,
            },
            &service,
        );
        let mut client = client.clone();
        async move {
            client
                .assess_shipment(request)
                .await
                .map(|r| r.into_inner().assessment.unwrap())
        }
    };

    // The demo's 500 earbuds sold at 24.99 on the platform, declared at 2.00 each.
    let low = assess(
        declared(
            "D-LOW",
            "1Z 999 AA1 0123 4567 84",
            "8518.30.00",
            500.0,
            40.0,
            "1000.00",
        ),
        false,
    )
    .await
    .unwrap();
    assert_eq!(
        low.matched_shipment_notice,
        "reports/demo-platform/demo-N-100"
    );
    let anomaly = &low.lines[0].anomalies[0];
    assert_eq!(anomaly.code, "DECLARED_VALUE_BELOW_MARKET");
    assert!((anomaly.ratio - 2.0 / 24.99).abs() < 0.01, "{anomaly:?}");
    assert!(anomaly.estimated_gap_usd > 10_000.0);
    assert_eq!(low.lane(), Lane::Red);
    assert_eq!(
        low.seller_risk.as_ref().unwrap().tier(),
        RiskTier::Blacklisted,
        "the notice's seller is listed"
    );
    assert!(low.reasons.iter().any(|r| r.code == "SELLER_BLACKLISTED"));

    // Comparable declarations around 30 USD/kg, recorded, then one at 3 USD/kg.
    for i in 0..30 {
        let total = format!("{:.2}", 300.0 + f64::from(i) * 2.0);
        assess(
            declared(
                &format!("D-{i}"),
                &format!("TRK{i}"),
                "950300",
                100.0,
                10.0,
                &total,
            ),
            true,
        )
        .await
        .unwrap();
    }
    let mut cheap_one = declared("D-CHEAP", "TRK-X", "950300", 100.0, 10.0, "30.00");
    cheap_one.seller = Some(seller("demo-platform", "S-200"));
    let cheap = assess(cheap_one, true).await.unwrap();
    let codes: Vec<&str> = cheap.lines[0]
        .anomalies
        .iter()
        .map(|a| a.code.as_str())
        .collect();
    assert!(codes.contains(&"DECLARED_VALUE_BELOW_PEERS"), "{cheap:#?}");
    assert!(
        codes.contains(&"DECLARED_VALUE_BELOW_IMPORTER_HISTORY"),
        "{cheap:#?}"
    );
    let peer = cheap.lines[0]
        .anomalies
        .iter()
        .find(|a| a.code == "DECLARED_VALUE_BELOW_PEERS")
        .unwrap();
    assert_eq!(peer.comparison_group, "HS 950300 from CN");
    assert!(
        peer.expected_low > 25.0 && peer.expected_high < 40.0,
        "{peer:?}"
    );
    assert_ne!(cheap.lane(), Lane::Green);

    // The anomaly weighs on the seller behind the shipment, but never lists it.
    let weighed = risk_when(&suite, seller("demo-platform", "S-200"), |r| {
        r.reasons
            .iter()
            .any(|reason| reason.code == "DECLARED_VALUE_ANOMALIES")
    })
    .await;
    assert!(weighed.score > 0.0);
    assert_ne!(tier(&weighed), RiskTier::Blacklisted);
    // A platform sees customs' evidence by kind and opaque reference (docs/services.md, ingest).
    assert!(
        weighed.reasons[0]
            .evidence
            .iter()
            .any(|name| name.starts_with("evidence/declaration/")),
        "{weighed:#?}"
    );

    let normal = assess(
        declared("D-OK", "TRK-Y", "950300", 100.0, 10.0, "320.00"),
        false,
    )
    .await
    .unwrap();
    assert!(normal.lines[0].anomalies.is_empty(), "{normal:#?}");
    assert!(normal.risk < 0.3);

    // Only internal services assess; bad input names its fields.
    let denied = scoring(&suite)
        .await
        .assess_shipment(authorized(
            AssessShipmentRequest::default(),
            &suite.token(PLATFORM_A),
        ))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    let bad = assess(declared("", "T", "12", -1.0, 1.0, "1"), false)
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    // Every field is in the BadRequest details; the message names the first and counts
    // the others.
    let details = tonic_types::StatusExt::get_error_details(&bad);
    let fields: Vec<&str> = details
        .bad_request()
        .unwrap()
        .field_violations
        .iter()
        .map(|v| v.field.as_str())
        .collect();
    for field in [
        "shipment.declaration_id",
        "shipment.lines[0].hs_code",
        "shipment.lines[0].quantity",
    ] {
        assert!(fields.contains(&field), "{field} in {fields:?}");
    }
    assert!(
        bad.message().contains("shipment.declaration_id"),
        "{}",
        bad.message()
    );
}

#[tokio::test]
async fn outcomes_shift_later_assessments_and_a_seizure_lists_the_seller() {
    use acx_proto::scoring::{AssessShipmentRequest, OutcomeKind, RecordOutcomeRequest};
    let suite = TestSuite::start_with(true).await;
    risk_when(&suite, seller("demo-marketplace", "T-3"), |_| true).await;
    let service = suite.token("service:liaison");
    let client = scoring(&suite).await;
    let assess = |shipment: acx_proto::scoring::DeclaredShipment, record: bool| {
        let request = authorized(
            AssessShipmentRequest {
                shipment: Some(shipment),
                record,
            },
            &service,
        );
        let mut client = client.clone();
        async move {
            client
                .assess_shipment(request)
                .await
                .unwrap()
                .into_inner()
                .assessment
                .unwrap()
        }
    };
    let outcome = |id: &str, kind: OutcomeKind| {
        let request = authorized(
            RecordOutcomeRequest {
                authority: "demo-customs".to_owned(),
                declaration_id: id.to_owned(),
                kind: kind as i32,
                inspect_time: None,
                extra_duty: None,
            },
            &service,
        );
        let mut client = client.clone();
        async move {
            client
                .record_outcome(request)
                .await
                .map(|r| r.into_inner().recorded)
        }
    };
    let from = |id: &str, importer: &str| {
        let mut shipment = declared(id, &format!("TRK-{id}"), "640399", 100.0, 50.0, "900.00");
        shipment.importer_id = importer.to_owned();
        shipment
    };

    // A background of cleared inspections, then an importer caught three times.
    for i in 0..20 {
        assess(from(&format!("C-{i}"), &format!("GOOD-{}", i % 5)), true).await;
        assert!(
            outcome(&format!("C-{i}"), OutcomeKind::Cleared)
                .await
                .unwrap()
        );
    }
    let before = assess(from("NEXT-0", "IMP-BAD"), false).await;
    for i in 0..3 {
        assess(from(&format!("B-{i}"), "IMP-BAD"), true).await;
        assert!(
            outcome(&format!("B-{i}"), OutcomeKind::UndervaluationConfirmed)
                .await
                .unwrap()
        );
    }
    let after = assess(from("NEXT-1", "IMP-BAD"), false).await;
    assert!(
        after.risk > before.risk,
        "outcomes raise the importer's risk: {} -> {}",
        before.risk,
        after.risk
    );
    let profile = after
        .reasons
        .iter()
        .find(|r| r.code == "PROFILE_IMPORTER")
        .expect("importer profile reason");
    assert!(
        profile.description.contains("3 of 3"),
        "{}",
        profile.description
    );
    let good = assess(from("NEXT-2", "GOOD-1"), false).await;
    assert!(
        !good.reasons.iter().any(|r| r.code == "PROFILE_IMPORTER"),
        "a clean record adds nothing"
    );

    // Repeats change nothing; unknown declarations are not found.
    assert!(
        !outcome("B-0", OutcomeKind::UndervaluationConfirmed)
            .await
            .unwrap()
    );
    assert_eq!(
        outcome("NOPE", OutcomeKind::Cleared)
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    assert_eq!(
        outcome("B-1", OutcomeKind::Unspecified)
            .await
            .unwrap_err()
            .code(),
        Code::InvalidArgument
    );

    // A seizure on a declaration naming a clean seller lists it, with the outcome as evidence.
    let mut seized = from("S-1", "IMP-X");
    seized.seller = Some(seller("demo-platform", "S-200"));
    assess(seized, true).await;
    assert!(
        outcome("S-1", OutcomeKind::CounterfeitSeized)
            .await
            .unwrap()
    );
    let listed = risk_when(&suite, seller("demo-platform", "S-200"), |r| {
        tier(r) == RiskTier::Blacklisted
    })
    .await;
    assert!(
        listed.reasons.iter().any(|r| r
            .evidence
            .iter()
            .any(|name| name.starts_with("evidence/outcome/"))),
        "{listed:#?}"
    );
}
