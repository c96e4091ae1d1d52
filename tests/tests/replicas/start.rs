//! Starting a replica: from a snapshot and the history's tail it answers as one that applied
//! everything, and it is NOT_SERVING until it has caught up.

use super::*;

async fn snapshot_and_tail_equal_scratch(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let Some(ingest) = IngestHarness::start(backend, dir.path()).await else {
        return;
    };
    let url = match backend {
        Backend::Sqlite => format!("sqlite://{}", dir.path().join("scoring.db").display()),
        Backend::Postgres => {
            acx_tests::fresh_postgres_database(&acx_tests::postgres_server_url().unwrap()).await
        }
    };
    let token = acx_runtime::credentials::generate_token();
    // A applies everything from the start and writes a snapshot every 2 entries.
    let a = Replica::start(Some(&ingest), &token, &url, &dir.path().join("a"), 2).await;
    const SELLERS: usize = 600;
    let mut total = 0;
    for part in 0..6 {
        let batch = reports(part * 100..(part + 1) * 100);
        total += batch.len() as i64;
        submit(&ingest, batch, &url, total).await;
    }
    for _ in 0..100 {
        if scalar(&url, "SELECT COUNT(*) FROM snapshots").await > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The test takes the snapshot lease, so no newer snapshot is written; then a tail.
    scalar(
        &url,
        "INSERT INTO leases (name, holder, expires_us) VALUES ('snapshot', 'test', 9000000000000000000) \
         ON CONFLICT (name) DO UPDATE SET holder = 'test', expires_us = 9000000000000000000 \
         RETURNING CAST(0 AS BIGINT)",
    )
    .await;
    let mut client = a.client().await;
    for n in 0..3 {
        client
            .assess_shipment(authorized(
                AssessShipmentRequest {
                    shipment: Some(declaration(&format!("T-{n}"), n)),
                    record: true,
                },
                &token,
            ))
            .await
            .unwrap();
    }
    let head = scalar(&url, HEAD).await;
    let database = acx_runtime::Database::connect(&url).await.unwrap();
    let params = acx_scoring::model::ModelParams {
        half_life_days: 180.0,
    };
    let settings = acx_scoring::settings::SharedSettings::new(
        params.half_life_days,
        0.02,
        None,
        &acx_domain::rates::ReferenceRates::builtin(),
    );
    let (at, _) = acx_scoring::snapshot::restore_latest(&database, params, &settings.fingerprint())
        .await
        .unwrap()
        .expect("a valid snapshot");
    database.close().await;
    assert!(at < head, "the snapshot at {at} leaves a tail to {head}");

    // C starts from that snapshot and the tail.
    let c = Replica::start(None, &token, &url, &dir.path().join("c"), 1_000_000).await;
    assert_eq!(
        risks(&a, &token, SELLERS, head).await,
        risks(&c, &token, SELLERS, head).await,
        "snapshot + tail answers as the replica that applied everything"
    );
    assert_eq!(
        blacklist(&a, &token, head).await,
        blacklist(&c, &token, head).await
    );
    assert_eq!(c.health_once_serving().await, 1, "SERVING once caught up");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_from_a_snapshot_and_the_tail_answers_as_one_from_scratch_on_sqlite() {
    snapshot_and_tail_equal_scratch(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_from_a_snapshot_and_the_tail_answers_as_one_from_scratch_on_postgres() {
    snapshot_and_tail_equal_scratch(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_is_not_serving_until_it_has_caught_up() {
    let dir = tempfile::tempdir().unwrap();
    let Some(ingest) = IngestHarness::start(Backend::Postgres, dir.path()).await else {
        return;
    };
    let url = acx_tests::fresh_postgres_database(&acx_tests::postgres_server_url().unwrap()).await;
    let token = acx_runtime::credentials::generate_token();
    let mut a = Replica::start(Some(&ingest), &token, &url, &dir.path().join("a"), 2000).await;
    let batch = reports(0..50);
    let total = batch.len() as i64;
    submit(&ingest, batch, &url, total).await;
    a.stop().await;

    // Hold the snapshot table, which a starting replica reads first: it cannot catch up.
    use sqlx::Connection;
    let mut blocker = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::query("BEGIN").execute(&mut blocker).await.unwrap();
    sqlx::query("LOCK TABLE snapshots IN ACCESS EXCLUSIVE MODE")
        .execute(&mut blocker)
        .await
        .unwrap();
    let b = Replica::start(None, &token, &url, &dir.path().join("b"), 2000).await;
    assert_eq!(b.health().await, 2, "NOT_SERVING while behind");
    let mut request = authorized(
        GetSellerRiskRequest {
            seller: Some(seller(0)),
            cluster_id: String::new(),
        },
        &token,
    );
    // The deadline the server sees (the client itself waits longer).
    request
        .metadata_mut()
        .insert("grpc-timeout", "300m".parse().unwrap());
    let behind = b.client().await.get_seller_risk(request).await.unwrap_err();
    assert!(
        matches!(
            behind.code(),
            Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled
        ),
        "a read waits for the replica to catch up, then gives up (never a stale NOT_FOUND): {behind:?}"
    );

    sqlx::query("COMMIT").execute(&mut blocker).await.unwrap();
    assert_eq!(b.health_once_serving().await, 1, "SERVING once caught up");
    let risk = b
        .client()
        .await
        .get_seller_risk(authorized(
            GetSellerRiskRequest {
                seller: Some(seller(0)),
                cluster_id: String::new(),
            },
            &token,
        ))
        .await
        .unwrap();
    assert!(position(&risk) >= scalar(&url, HEAD).await);
}

/// A position past the stored history is refused at once (found by a tester: 530 calls
/// waiting 30 s each for position 9e18 held every other caller off the server's limit); one
/// that exists but is not applied yet is still waited for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_position_past_the_history_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("scoring.db").display());
    let token = acx_runtime::credentials::generate_token();
    let replica = Replica::start(None, &token, &url, &dir.path().join("a"), 2000).await;
    let mut client = replica.client().await;
    let shipment = Some(declaration("P-1", 1));
    let written = client
        .assess_shipment(authorized(
            AssessShipmentRequest {
                shipment,
                record: true,
            },
            &token,
        ))
        .await
        .unwrap();
    let head = position(&written);
    let ask = |min: i64| {
        let message = GetSellerRiskRequest {
            seller: Some(seller(1)),
            ..Default::default()
        };
        let mut request = at_least(message, &reader(&token), min);
        request.set_timeout(Duration::from_secs(20));
        request
    };
    // Waiting, it would answer UNAVAILABLE (REPLICA_BEHIND) at 16 s.
    let status = client.get_seller_risk(ask(head + 1)).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(
        status.message().contains("acx-min-position"),
        "names the header: {status:?}"
    );
    // The head itself is applied: answered (NOT_FOUND: the seller was never reported).
    if let Err(status) = client.get_seller_risk(ask(head)).await {
        assert_eq!(status.code(), Code::NotFound, "{status:?}");
    }
}
