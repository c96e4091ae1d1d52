//! A PostgreSQL server that vanishes without closing its connections: a node lost, or the
//! Kubernetes pod behind a service gone, so packets are dropped and nothing answers or
//! resets, while a new server takes its address. A statement in flight then waits for an
//! answer that never comes; without keepalives on the connections (sqlx 0.9 sets none)
//! only a limit of the service's own ends the wait. Before, a call cut off by its caller
//! there kept its connection out of the pool for good (16 such calls and the service
//! answered UNAVAILABLE until restarted), and a scoring replica whose follower was reading
//! the history stopped applying it for good while its health said SERVING.

use super::lost::{Proxy, WriteBlock};
use super::*;

/// Waits until `block` holds back `count` statements (up to 20 s).
async fn until_waiting(block: &mut WriteBlock, count: i64) {
    for _ in 0..400 {
        if block.waiting().await >= count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let activity = block.activity().await;
    panic!("fewer than {count} statements waited for the lock: {activity:#?}");
}

/// AssessShipment without recording, which reads the recorded declarations, within
/// `timeout`.
fn reassess(id: &str, token: &str, timeout: Duration) -> Request<AssessShipmentRequest> {
    let message = AssessShipmentRequest {
        shipment: Some(declaration(id, 1)),
        record: false,
    };
    let mut request = authorized(message, token);
    request.set_timeout(timeout);
    request
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_cut_off_while_the_server_vanished_give_their_connections_back() {
    let Some((proxy, server)) = Proxy::to_test_server().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let url = acx_tests::fresh_postgres_database(&server).await;
    let token = acx_runtime::credentials::generate_token();
    let replica = Replica::start(None, &token, &proxy.url(&url), dir.path(), 2000).await;
    let client = replica.client().await;
    client
        .clone()
        .assess_shipment(reassess("V-0", &token, Duration::from_secs(10)))
        .await
        .unwrap();

    // More calls than the pool has connections, each waiting for a lock until its caller
    // gives up; then the server vanishes under them.
    let mut block = WriteBlock::against_reads(&url, "declarations").await;
    for i in 0..16 {
        let request = reassess(&format!("V-{i}"), &token, Duration::from_secs(1));
        let status = client.clone().assess_shipment(request).await.unwrap_err();
        assert!(
            matches!(
                status.code(),
                Code::DeadlineExceeded | Code::Cancelled | Code::Unavailable
            ),
            "{status:?}"
        );
    }
    // Every connection of the pool but the one the follower listens on.
    until_waiting(&mut block, 15).await;
    proxy.strand();
    block.release().await;

    // Served again over new connections, unrestarted.
    let mut served = None;
    for _ in 0..30 {
        let answer = client
            .clone()
            .assess_shipment(reassess("V-0", &token, Duration::from_secs(10)))
            .await;
        match answer {
            Ok(_) => {
                served = None;
                break;
            }
            Err(status) => served = Some(status),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(served.is_none(), "not served again: {served:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_whose_history_read_was_stranded_applies_the_history_again() {
    let Some((proxy, server)) = Proxy::to_test_server().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let url = acx_tests::fresh_postgres_database(&server).await;
    let token = acx_runtime::credentials::generate_token();
    let stranded =
        Replica::start(None, &token, &proxy.url(&url), &dir.path().join("a"), 2000).await;
    let writer = Replica::start(None, &token, &url, &dir.path().join("b"), 2000).await;
    assert_eq!(stranded.health_once_serving().await, 1);
    let assess = |id: &str| {
        let shipment = Some(declaration(id, 1));
        let message = AssessShipmentRequest {
            shipment,
            record: true,
        };
        authorized(message, &token)
    };
    writer
        .client()
        .await
        .assess_shipment(assess("V-1"))
        .await
        .unwrap();

    // Both followers' reads of the history wait for a lock when the server vanishes.
    let mut block = WriteBlock::against_reads(&url, "history").await;
    until_waiting(&mut block, 2).await;
    proxy.strand();
    block.release().await;
    let written = writer
        .client()
        .await
        .assess_shipment(assess("V-2"))
        .await
        .unwrap();
    let head = position(&written);

    // The stranded replica reads on over a new connection and catches up.
    let mut applied = 0;
    for _ in 0..60 {
        let request = reassess("V-3", &token, Duration::from_secs(2));
        if let Ok(answer) = stranded.client().await.assess_shipment(request).await {
            applied = position(&answer);
            if applied >= head {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(applied >= head, "applied {applied} of {head}");
}
