//! Random selection (found by a customs analyst): a declaration's pick is drawn once, when it
//! is recorded, under the lane policy of that day, and a re-assessment keeps it (shipments
//! GREEN on arrival became "selected at random" once the random share was raised, and most
//! picks vanished); and the draw is keyed with the deployment's secret, so a trader cannot
//! compute it from the declaration id (an unkeyed SHA-256 reproduced all 185 picks of a run).

use acx_proto::scoring::{
    AssessShipmentsRequest, DeclaredShipment, Lane, LanePolicy, SetLanePolicyRequest,
    ShipmentAssessment,
};

use super::*;

const SERVICE: &str = "service:liaison";

async fn set_random_share(suite: &TestSuite, share: f64) {
    scoring(suite)
        .await
        .set_lane_policy(authorized(
            SetLanePolicyRequest {
                policy: Some(LanePolicy {
                    authority: "demo-customs".to_owned(),
                    red_share: 0.05,
                    yellow_share: 0.10,
                    random_share: share,
                    ..Default::default()
                }),
            },
            &suite.token(SERVICE),
        ))
        .await
        .unwrap();
}

async fn assess(
    suite: &TestSuite,
    shipments: &[DeclaredShipment],
    record: bool,
) -> Vec<ShipmentAssessment> {
    scoring(suite)
        .await
        .assess_shipments(authorized(
            AssessShipmentsRequest {
                shipments: shipments.to_vec(),
                record,
            },
            &suite.token(SERVICE),
        ))
        .await
        .unwrap()
        .into_inner()
        .results
        .into_iter()
        .map(|r| r.assessment.expect("assessed"))
        .collect()
}

fn batch(prefix: &str, n: usize) -> Vec<DeclaredShipment> {
    (0..n)
        .map(|i| {
            let id = format!("{prefix}-{i}");
            declared(
                &id,
                &format!("TRK{prefix}{i}"),
                "640399",
                10.0,
                5.0,
                "90.00",
            )
        })
        .collect()
}

fn picked(assessments: &[ShipmentAssessment]) -> Vec<bool> {
    assessments.iter().map(|a| a.random_selection).collect()
}

#[tokio::test]
async fn a_random_selection_is_drawn_once_on_arrival_and_kept() {
    let suite = TestSuite::start().await;
    // Recorded under a share of 0: none picked, and none when re-assessed under 1.
    set_random_share(&suite, 0.0).await;
    let before = batch("BEFORE", 40);
    assert!(!picked(&assess(&suite, &before, true).await).contains(&true));
    set_random_share(&suite, 1.0).await;
    let again = assess(&suite, &before, false).await;
    assert!(!picked(&again).contains(&true), "{again:#?}");

    // Recorded under a share of 1: every one picked (RED), and still when re-assessed
    // under 0, while one never recorded is drawn under today's share.
    let after = batch("AFTER", 40);
    let first = assess(&suite, &after, true).await;
    assert!(picked(&first).iter().all(|p| *p));
    assert!(first.iter().all(|a| a.lane() == Lane::Red));
    set_random_share(&suite, 0.0).await;
    let again = assess(&suite, &after, false).await;
    assert!(picked(&again).iter().all(|p| *p), "{again:#?}");
    assert!(again.iter().all(|a| a.lane() == Lane::Red));
    let unrecorded = assess(&suite, &batch("NEVER", 5), false).await;
    assert!(!picked(&unrecorded).contains(&true));
}

#[tokio::test]
async fn the_random_draw_is_keyed_with_the_deployment_s_secret() {
    use sha2::{Digest, Sha256};
    let shipments = batch("KEYED", 200);
    let mut picks = Vec::new();
    for _ in 0..2 {
        let suite = TestSuite::start().await;
        set_random_share(&suite, 0.5).await;
        picks.push(picked(&assess(&suite, &shipments, false).await));
    }
    let share = |p: &[bool]| p.iter().filter(|p| **p).count();
    for p in &picks {
        assert!((60..140).contains(&share(p)), "about half: {}", share(p));
    }
    // Two deployments pick differently (the chance of 200 equal draws is 2^-200), and the
    // unkeyed hash a trader could compute (SHA-256 of the authority and id) predicts no
    // better than a coin.
    assert_ne!(picks[0], picks[1]);
    let guessed: Vec<bool> = shipments
        .iter()
        .map(|s| {
            let digest = Sha256::digest(format!("random/{}/{}", s.authority, s.declaration_id));
            let draw = u64::from_be_bytes(digest[..8].try_into().unwrap());
            (draw as f64 / u64::MAX as f64) < 0.5
        })
        .collect();
    let agree = guessed
        .iter()
        .zip(&picks[0])
        .filter(|(a, b)| a == b)
        .count();
    assert!((60..140).contains(&agree), "{agree} of 200 guessed");
}
