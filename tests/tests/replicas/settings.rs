//! Shared settings: a replica whose finding half-life, identifier keys (or other setting
//! that shapes what it computes) differ from the ones its deployment recorded refuses to
//! start, naming the setting; one started with `adopt_settings` replaces them, and a
//! running replica with the old ones then stops instead of storing its own.

use std::time::Duration;

use acx_proto::scoring::{
    AssessShipmentRequest, GetSellerRiskRequest, OutcomeKind, RecordOutcomeRequest,
};

use super::{
    Backend, Replica, authorized, batches::database_url, declaration, replica_config, scalar,
    seller,
};

async fn refused_then_adopted(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let Some(url) = database_url(backend, dir.path()).await else {
        return;
    };
    let token = acx_runtime::credentials::generate_token();
    // A writes a snapshot after every entry.
    let mut a = Replica::start(None, &token, &url, &dir.path().join("a"), 1).await;
    a.client()
        .await
        .assess_shipment(authorized(
            AssessShipmentRequest {
                shipment: Some(declaration("D-0", 0)),
                record: true,
            },
            &token,
        ))
        .await
        .unwrap();
    for _ in 0..100 {
        if scalar(&url, "SELECT COUNT(*) FROM snapshots").await > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Another half-life: refused, naming the setting, both values and the way to adopt.
    let mut other = replica_config(&token, &url, &dir.path().join("b"));
    other.half_life_days = 90.0;
    let refused = Replica::start_with(&other).await.err().expect("refused");
    let text = refused.to_string();
    assert!(
        text.contains("ACX_SCORING_HALF_LIFE_DAYS is \"90\" here but \"180\" for the deployment")
            && text.contains("ACX_SCORING_ADOPT_SETTINGS=true"),
        "{text}"
    );
    assert!(
        !text.contains("ACX_IDENTIFIER_KEYS_FILE"),
        "only what differs: {text}"
    );

    // Identifier keys where the deployment has none: refused too, the secret not shown.
    let keys_file = dir.path().join("identifier-keys");
    let keys_text = acx_domain::identifiers::IdentifierKeys::generate_file("k1");
    std::fs::write(&keys_file, &keys_text).unwrap();
    let mut keyed = replica_config(&token, &url, &dir.path().join("k"));
    keyed.identifier_keys_file = Some(keys_file);
    let text = Replica::start_with(&keyed)
        .await
        .err()
        .expect("refused")
        .to_string();
    let secret = keys_text
        .lines()
        .find_map(|l| l.strip_prefix("k1 "))
        .unwrap();
    assert!(
        text.contains("ACX_IDENTIFIER_KEYS_FILE is \"k1 (check value ")
            && text.contains("for the deployment")
            && !text.contains(secret),
        "{text}"
    );

    // Adopted on purpose: B serves with 90 days, and A, which still has 180, stops at its
    // next effects write (B's assessment) instead of storing what it computes.
    other.adopt_settings = true;
    let mut a_client = a.client().await;
    let b = Replica::start_with(&other).await.expect("adopts");

    // A declaration sent to A after the adoption is refused at once, and not recorded with
    // A's replaced settings: the caller retries elsewhere.
    let started = std::time::Instant::now();
    let refused = a_client
        .assess_shipment(authorized(
            AssessShipmentRequest {
                shipment: Some(declaration("D-A", 2)),
                record: true,
            },
            &token,
        ))
        .await
        .expect_err("A has stopped or stops");
    assert_eq!(refused.code(), tonic::Code::Unavailable, "{refused:?}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        scalar(
            &url,
            "SELECT CAST(COUNT(*) AS BIGINT) FROM declarations WHERE declaration_id = 'D-A'"
        )
        .await,
        0,
        "nothing computed with replaced settings is stored"
    );

    let mut client = b.client().await;
    client
        .assess_shipment(authorized(
            AssessShipmentRequest {
                shipment: Some(declaration("D-1", 1)),
                record: true,
            },
            &token,
        ))
        .await
        .unwrap();
    client
        .record_outcome(authorized(
            RecordOutcomeRequest {
                authority: "customs-x".to_owned(),
                declaration_id: "D-1".to_owned(),
                kind: OutcomeKind::CounterfeitSeized as i32,
                inspect_time: None,
                extra_duty: None,
            },
            &token,
        ))
        .await
        .unwrap();
    let server = a.server.take().unwrap();
    let stopped = tokio::time::timeout(Duration::from_secs(30), server.wait())
        .await
        .expect("A stops within 30 s");
    let text = stopped.expect_err("A fails").to_string();
    assert!(
        text.contains("ACX_SCORING_HALF_LIFE_DAYS is \"180\" here but \"90\" for the deployment"),
        "{text}"
    );
    assert_eq!(
        scalar(
            &url,
            "SELECT CAST(COUNT(*) AS BIGINT) FROM shared_settings WHERE name = 'ACX_SCORING_HALF_LIFE_DAYS' AND value = '90'"
        )
        .await,
        1
    );
    let risk = client
        .get_seller_risk(authorized(
            GetSellerRiskRequest {
                seller: Some(seller(1)),
                cluster_id: String::new(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(
        risk.risk.unwrap().model_version.contains("half-life=90d"),
        "B scores with the adopted half-life"
    );

    // A's snapshot is of the old settings: a replica with the new ones does not start from
    // it (the half-life is in the snapshot too, but a rates table or keys are not).
    let database = acx_runtime::Database::connect(&url).await.unwrap();
    let fingerprint = |half_life_days: f64| {
        acx_scoring::settings::SharedSettings::new(
            half_life_days,
            0.02,
            None,
            &acx_domain::rates::ReferenceRates::builtin(),
        )
        .fingerprint()
    };
    let params = |half_life_days| acx_scoring::model::ModelParams { half_life_days };
    // The model parameters stay 180 days, so only the settings' fingerprint tells them apart.
    let restore = |settings_days: f64| {
        let database = &database;
        async move {
            acx_scoring::snapshot::restore_latest(
                database,
                params(180.0),
                &fingerprint(settings_days),
            )
            .await
            .unwrap()
            .map(|(position, _)| position)
        }
    };
    assert!(
        restore(180.0).await.is_some(),
        "A's snapshot, under A's settings"
    );
    assert_eq!(restore(90.0).await, None, "skipped under the new settings");
    database.close().await;

    // The old settings are now the odd ones out.
    let old = replica_config(&token, &url, &dir.path().join("c"));
    let text = Replica::start_with(&old)
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(text.contains("is \"180\" here but \"90\""), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_with_other_settings_is_refused_and_one_adopting_them_stops_the_others_on_sqlite()
{
    refused_then_adopted(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_with_other_settings_is_refused_and_one_adopting_them_stops_the_others_on_postgres()
 {
    refused_then_adopted(Backend::Postgres).await;
}
