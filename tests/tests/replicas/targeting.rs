//! The targeting model across scoring replicas: outcomes recorded through either replica
//! train one model (one trainer at a time), which then assesses alike on both; a lane
//! policy set through one holds on the other; a replica started later (from a snapshot
//! and the history's tail) assesses as the others do.

use acx_proto::scoring::{
    AssessShipmentRequest, DeclaredShipment, GetModelCardRequest, LanePolicy, ModelCard,
    OutcomeKind, RecordOutcomeRequest, SetLanePolicyRequest, ShipmentAssessment, TrainModelRequest,
    scoring_service_client::ScoringServiceClient,
};
use tonic::{Code, transport::Channel};

use super::{HEAD, Replica, at_least, declaration, operator, position, scalar};

/// 2020-01-01T00:00:00Z.
const START: i64 = 1_577_836_800;

/// Declaration `n` of importer `n % 30`, declared on day `n / 10`.
fn declared(n: usize) -> DeclaredShipment {
    let mut shipment = declaration(&format!("T-{n}"), 100 + n % 40);
    shipment.importer_id = format!("IMP-{}", n % 30);
    shipment.declaration_time = Some(prost_types::Timestamp {
        seconds: START + (n / 10) as i64 * 86_400,
        nanos: 0,
    });
    shipment
}

/// Importers 0, 5, 10, ... undervalue two shipments in three; the others one in twenty.
fn fraudulent(n: usize) -> bool {
    if (n % 30).is_multiple_of(5) {
        !n.is_multiple_of(3)
    } else {
        n.is_multiple_of(20)
    }
}

async fn card(client: &mut ScoringServiceClient<Channel>, token: &str, min: i64) -> ModelCard {
    client
        .get_model_card(at_least(
            GetModelCardRequest {
                authority: "customs-x".to_owned(),
            },
            token,
            min,
        ))
        .await
        .unwrap()
        .into_inner()
        .card
        .unwrap()
}

async fn assess(
    client: &mut ScoringServiceClient<Channel>,
    token: &str,
    shipment: DeclaredShipment,
    min: i64,
) -> ShipmentAssessment {
    client
        .assess_shipment(at_least(
            AssessShipmentRequest {
                shipment: Some(shipment),
                record: false,
            },
            token,
            min,
        ))
        .await
        .unwrap()
        .into_inner()
        .assessment
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_train_one_model_and_assess_alike_with_it() {
    let Some(server) = acx_tests::postgres_server_url() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let url = acx_tests::fresh_postgres_database(&server).await;
    let token = acx_runtime::credentials::generate_token();
    let a = Replica::start(None, &token, &url, &dir.path().join("a"), 200).await;
    let b = Replica::start(None, &token, &url, &dir.path().join("b"), 200).await;
    let (mut ca, mut cb) = (a.client().await, b.client().await);

    // 700 declarations through A and B in turn, each inspected through the other.
    let mut last = 0;
    for n in 0..700 {
        let (here, there) = if n % 2 == 0 {
            (&mut ca, &mut cb)
        } else {
            (&mut cb, &mut ca)
        };
        let assessed = here
            .assess_shipment(at_least(
                AssessShipmentRequest {
                    shipment: Some(declared(n)),
                    record: true,
                },
                &token,
                last,
            ))
            .await
            .unwrap();
        let kind = if fraudulent(n) {
            OutcomeKind::UndervaluationConfirmed
        } else {
            OutcomeKind::Cleared
        };
        let recorded = there
            .record_outcome(at_least(
                RecordOutcomeRequest {
                    authority: "customs-x".to_owned(),
                    declaration_id: format!("T-{n}"),
                    kind: kind as i32,
                    inspect_time: Some(prost_types::Timestamp {
                        seconds: START + (n / 10) as i64 * 86_400 + 7_200,
                        nanos: 0,
                    }),
                    extra_duty: None,
                },
                &token,
                position(&assessed),
            ))
            .await
            .unwrap();
        last = position(&recorded);
    }
    let both = card(&mut ca, &token, last).await;
    assert_eq!(both.outcomes_recorded, 700);
    assert_eq!(
        card(&mut cb, &token, last).await.outcomes_recorded,
        700,
        "outcomes through either replica count on both"
    );

    // Trainings on both at once: one trainer at a time, every version trained once.
    let (one, two) = tokio::join!(
        ca.train_model(at_least(TrainModelRequest {}, &operator(&token), last)),
        cb.train_model(at_least(TrainModelRequest {}, &operator(&token), last)),
    );
    let mut trained = 0;
    for result in [one, two] {
        match result {
            Ok(response) => {
                trained += 1;
                last = last.max(position(&response));
            }
            Err(status) => assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}"),
        }
    }
    assert!(trained >= 1, "one of the two trains");
    let versions = scalar(&url, "SELECT COUNT(*) FROM targeting_models").await;
    let entries = scalar(&url, "SELECT COUNT(*) FROM history WHERE kind = 4").await;
    assert_eq!(
        versions, entries,
        "each version trained is one history entry"
    );
    assert!(versions >= trained);

    let (card_a, card_b) = (
        card(&mut ca, &token, last).await,
        card(&mut cb, &token, last).await,
    );
    assert!(card_a.trained, "{card_a:?}");
    assert_eq!(card_a.version, card_b.version, "one model in force on both");
    assert_eq!(card_a.lanes, card_b.lanes);

    // The same new declaration: the same model, risk, lane and explanation on both.
    let fresh = || {
        let mut shipment = declared(10_000);
        shipment.importer_id = "IMP-5".to_owned();
        shipment
    };
    let (on_a, on_b) = (
        assess(&mut ca, &token, fresh(), last).await,
        assess(&mut cb, &token, fresh(), last).await,
    );
    assert_eq!(on_a.model_version, card_a.version);
    assert!(on_a.explanation.is_some());
    assert_eq!(on_a, on_b, "both replicas assess alike");

    // A lane policy set through A holds on B at its position.
    let set = ca
        .set_lane_policy(at_least(
            SetLanePolicyRequest {
                policy: Some(LanePolicy {
                    authority: "customs-x".to_owned(),
                    customs_office: String::new(),
                    red_share: 0.2,
                    yellow_share: 0.3,
                    random_share: 0.0,
                    exploration_share: 0.0,
                }),
            },
            &token,
            last,
        ))
        .await
        .unwrap();
    last = position(&set);
    let thresholds = set.into_inner().thresholds.unwrap();
    let on_b = card(&mut cb, &token, last).await;
    let lane = on_b
        .lanes
        .iter()
        .find(|l| l.policy.as_ref().is_some_and(|p| p.red_share == 0.2))
        .unwrap_or_else(|| panic!("B holds A's policy: {:?}", on_b.lanes));
    assert_eq!(*lane, thresholds);

    // A replica started now (from a snapshot and the tail) holds the same model and lanes,
    // and assesses as the others do.
    let head = scalar(&url, HEAD).await;
    assert!(
        scalar(&url, "SELECT COUNT(*) FROM snapshots").await > 0,
        "snapshots are written every 200 entries"
    );
    let c = Replica::start(None, &token, &url, &dir.path().join("c"), 200).await;
    let mut cc = c.client().await;
    let card_c = card(&mut cc, &token, head).await;
    assert_eq!(card_c.version, card_a.version);
    assert_eq!(card_c.lanes, card(&mut ca, &token, head).await.lanes);
    assert_eq!(
        assess(&mut cc, &token, fresh(), head).await,
        assess(&mut ca, &token, fresh(), head).await,
        "a replica from a snapshot assesses as the others"
    );

    // Every replica has read its card; a training through B now is one more version on
    // each replica's card, beside every version before it (each card keeps the versions it
    // has read, and learns of a new one by following the history).
    let before = listed(&card(&mut ca, &token, head).await);
    let again = loop {
        match cb
            .train_model(at_least(TrainModelRequest {}, &operator(&token), head))
            .await
        {
            Ok(response) => break response,
            Err(status) => assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}"),
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    let trained_at = position(&again);
    let new = again.into_inner().challenger.unwrap().version;
    assert!(!before.contains(&new), "{new} is new: {before:?}");
    for client in [&mut ca, &mut cb, &mut cc] {
        let after = listed(&card(client, &token, trained_at).await);
        assert!(after.contains(&new), "{new} on the card: {after:?}");
        assert!(
            before.iter().all(|v| after.contains(v)),
            "{before:?} {after:?}"
        );
    }
}

/// Every trained version a card names: the one in force and the previous ones.
fn listed(card: &ModelCard) -> Vec<String> {
    std::iter::once(&card.version)
        .filter(|_| card.trained)
        .chain(card.previous.iter().map(|v| &v.version))
        .cloned()
        .collect()
}
