//! Following ingest's feed: a replica whose settings ingest refuses stops at start, naming
//! the setting; a lease holder that cannot reach ingest hands the lease on, so the others
//! go on learning (found by a tester: one replica with a wrong token held the lease and
//! every replica stopped learning, all SERVING).

use super::*;

#[tokio::test]
async fn a_replica_whose_ingest_token_is_refused_stops_at_start_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let ingest = IngestHarness::start(Backend::Sqlite, dir.path())
        .await
        .unwrap();
    let url = format!("sqlite://{}", dir.path().join("scoring.db").display());
    let token = acx_runtime::credentials::generate_token();
    for (name, ingest_token) in [
        ("unknown", acx_runtime::credentials::generate_token()),
        // A platform's token: known, but not allowed to read the feed.
        ("platform", ingest.platform_a.clone()),
    ] {
        let mut config = replica_config(&token, &url, &dir.path().join(name));
        config.ingest_url = format!("http://{}", ingest.addr);
        config.ingest_token = Some(ingest_token.into());
        let Err(error) = Replica::start_with(&config).await else {
            panic!("{name}: started with a token ingest refuses");
        };
        let message = acx_runtime::error::cause_chain(&error);
        assert!(message.contains("ACX_INGEST_TOKEN"), "{name}: {message}");
    }
    // An address that is not ingest's (scoring's own: it has no change feed).
    let good = Replica::start(None, &token, &url, &dir.path().join("good"), 0).await;
    let mut config = replica_config(&token, &url, &dir.path().join("elsewhere"));
    config.ingest_url = format!("http://{}", good.addr);
    config.ingest_token = Some(token.clone().into());
    let Err(error) = Replica::start_with(&config).await else {
        panic!("started with an ingest address that is scoring's");
    };
    let message = acx_runtime::error::cause_chain(&error);
    assert!(message.contains("ACX_INGEST_URL"), "{message}");
}

#[tokio::test]
async fn a_lease_holder_that_cannot_reach_ingest_hands_the_feed_on() {
    let dir = tempfile::tempdir().unwrap();
    let ingest = IngestHarness::start(Backend::Sqlite, dir.path())
        .await
        .unwrap();
    let url = format!("sqlite://{}", dir.path().join("scoring.db").display());
    let token = acx_runtime::credentials::generate_token();
    // Cut off: its ingest address answers nothing (unreachable at start is only logged,
    // as ingest may start after scoring). Alone, it takes the feed lease.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let nowhere = closed.local_addr().unwrap();
    drop(closed);
    let mut config = replica_config(&token, &url, &dir.path().join("cut-off"));
    config.ingest_url = format!("http://{nowhere}");
    config.ingest_token = Some(ingest.service.clone().into());
    let cut_off = Replica::start_with(&config).await.unwrap();
    const HELD: &str = "SELECT COUNT(*) FROM leases WHERE name = 'feed' AND expires_us > 0";
    for _ in 0..100 {
        if scalar(&url, HELD).await > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        scalar(&url, HELD).await,
        1,
        "the cut-off replica took the lease"
    );
    let healthy = Replica::start(Some(&ingest), &token, &url, &dir.path().join("ok"), 0).await;
    // The healthy replica learns the reports once the cut-off one hands the lease on
    // (after feed::HAND_ON_AFTER, 15 s), and so does the cut-off one, from the history.
    submit(&ingest, reports(0..20), &url, 20).await;
    let at = scalar(&url, HEAD).await;
    let mut answers = Vec::new();
    for replica in [&healthy, &cut_off] {
        answers.push(risks(replica, &token, 20, at).await);
    }
    assert_eq!(answers[0], answers[1]);
    assert!(answers[0].iter().any(|r| r.score > 0.0), "{:?}", answers[0]);
}
