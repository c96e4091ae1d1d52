//! Large declarations (found by a tester): one over 1 MiB is refused at the door, naming
//! why, instead of being accepted and never assessed; batches near the 4 MiB request limit
//! reach scoring in calls it accepts and are assessed at once; seller ids are what
//! platforms send.

use super::*;

/// A declaration of about `bytes` bytes: tracking numbers of a consolidated consignment.
fn consolidated(id: &str, bytes: usize) -> Declaration {
    let mut declaration = declaration(id, "1Z999AA10123456784", 10.0, "100.00");
    // Each number is 13 bytes, and 2 more for its tag and length.
    let numbers = bytes / 15;
    declaration.consignment.as_mut().unwrap().tracking_numbers =
        (0..numbers).map(|n| format!("LX{n:09}CN")).collect();
    declaration
}

#[tokio::test]
async fn large_declarations_are_assessed_at_once_or_refused_at_the_door() {
    let suite = TestSuite::start_with(false).await;
    let token = suite.token("customs:demo-customs");
    let mut liaison = LiaisonServiceClient::new(channel(suite.liaison).await);

    // Four declarations of 0.9 MiB: a 3.6 MiB request, under liaison's 4 MiB limit, but
    // over scoring's as one call (with the authority added to each).
    let batch: Vec<Declaration> = (0..4)
        .map(|n| consolidated(&format!("BIG-{n}"), 900 * 1024))
        .collect();
    let size: usize = batch.iter().map(prost::Message::encoded_len).sum();
    assert!(size > 3_600_000 && size < 4_000_000, "{size}");
    let results = submit(&mut liaison, &token, batch).await;
    for result in &results {
        assert_eq!(result.outcome(), DeclarationOutcome::Accepted, "{result:?}");
        assert_eq!(
            result.assessment_state(),
            AssessmentState::Assessed,
            "{result:?}"
        );
    }

    // Over 1 MiB: refused, naming the declaration and the bound.
    let mut seller_too_long = declaration("SELLER-LONG", "1Z999AA10123456785", 1.0, "5");
    seller_too_long.seller = Some(acx_proto::common::SellerAccountRef {
        platform: "demo-platform".to_owned(),
        seller_id: "S".repeat(200),
    });
    let results = submit(
        &mut liaison,
        &token,
        vec![consolidated("HUGE", 1100 * 1024), seller_too_long],
    )
    .await;
    assert_eq!(results[0].outcome(), DeclarationOutcome::Rejected);
    assert_eq!(results[0].violations[0].field, "declarations[0]");
    assert!(
        results[0].violations[0]
            .description
            .contains("at most 1048576"),
        "{:?}",
        results[0].violations
    );
    assert_eq!(results[1].outcome(), DeclarationOutcome::Rejected);
    assert_eq!(
        results[1].violations[0].field,
        "declarations[1].seller.seller_id"
    );

    // Each stored one reads back whole, within a default client's 4 MiB.
    for n in 0..4 {
        let shipment = get_shipment(&mut liaison, &token, &format!("BIG-{n}")).await;
        assert_eq!(shipment.assessment_state(), AssessmentState::Assessed);
    }
}
