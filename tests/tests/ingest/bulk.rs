//! Bulk loads: acknowledged batch by batch and rerunnable, retries after a key rotation,
//! concurrent loads with unique ordered sequences.

use super::{feed::read_feed, *};

#[tokio::test]
async fn a_bulk_load_acknowledges_each_batch_and_can_be_rerun() {
    let dir = tempfile::tempdir().unwrap();
    let ingest = harness(Backend::Sqlite, &dir).await.unwrap();
    let batches = || {
        (0..5)
            .map(|b| BulkLoadReportsRequest {
                reports: (0..100)
                    .map(|i| {
                        let amount = if i == 7 {
                            "-1".to_owned()
                        } else {
                            format!("{i}.50")
                        };
                        price(&format!("PR-{b}-{i}"), &amount)
                    })
                    .collect(),
            })
            .collect::<Vec<_>>()
    };
    let load = |batches: Vec<BulkLoadReportsRequest>| {
        let addr = ingest.addr;
        let token = ingest.platform_a.clone();
        async move {
            let mut client = IngestServiceClient::new(channel(addr).await);
            let progress = client
                .bulk_load_reports(authorized(tokio_stream::iter(batches), &token))
                .await
                .unwrap()
                .into_inner();
            progress.map(|p| p.unwrap()).collect::<Vec<_>>().await
        }
    };

    let first = load(batches()).await;
    assert_eq!(first.len(), 5, "one acknowledgement per batch");
    assert_eq!(
        first.iter().map(|p| p.received).collect::<Vec<_>>(),
        [100, 200, 300, 400, 500]
    );
    let last = first.last().unwrap();
    assert_eq!((last.accepted, last.rejected, last.duplicates), (495, 5, 0));
    assert_eq!(first[2].problems.len(), 1);
    assert_eq!(
        first[2].problems[0].index, 207,
        "indexes count across the stream"
    );
    assert_eq!(first[2].problems[0].report_id, "PR-2-7");

    // Rerunning an interrupted load doubles nothing.
    let again = load(batches()).await;
    let last = again.last().unwrap();
    assert_eq!((last.accepted, last.rejected, last.duplicates), (0, 5, 495));

    let mut client = IngestServiceClient::new(channel(ingest.addr).await);
    let mut progress = client
        .bulk_load_reports(authorized(
            tokio_stream::iter(vec![BulkLoadReportsRequest {
                reports: (0..501).map(|i| price(&format!("X-{i}"), "1")).collect(),
            }]),
            &ingest.platform_a,
        ))
        .await
        .unwrap()
        .into_inner();
    let refused = progress.next().await.unwrap().unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn a_retry_after_a_key_rotation_is_still_a_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let mut ingest = harness(Backend::Sqlite, &dir).await.unwrap();
    let token = ingest.platform_a.clone();
    let first = submit(
        &ingest,
        &token,
        vec![profile("P-1", "S1", "+49 30 4172 9356")],
    )
    .await;
    assert_eq!(outcomes(&first), [ReportOutcome::Accepted]);

    // Rotate: a new current key first, the old one kept for what it hashed.
    let keys = dir.path().join("identifier-keys");
    let old = std::fs::read_to_string(&keys).unwrap();
    let rotated = acx_domain::identifiers::IdentifierKeys::generate_file("k2") + &old;
    std::fs::write(&keys, rotated).unwrap();
    ingest.restart().await;

    let retry = submit(
        &ingest,
        &token,
        vec![
            profile("P-1", "S1", "+49 30 4172 9356"),
            profile("P-2", "S2", "+49 30 4172 9356"),
        ],
    )
    .await;
    assert_eq!(
        outcomes(&retry),
        [ReportOutcome::Duplicate, ReportOutcome::Accepted]
    );
    assert_eq!(retry[0].sequence, first[0].sequence);
    let changes = read_feed(&ingest, 0, 2).await;
    let key_ids: Vec<String> = changes
        .iter()
        .map(|c| match &c.report.as_ref().unwrap().kind {
            Some(Kind::SellerProfile(p)) => p.hashed_identifiers[0].key_id.clone(),
            _ => panic!("profiles"),
        })
        .collect();
    assert_eq!(
        key_ids,
        ["k1", "k2"],
        "new reports are hashed with the new key"
    );
}

/// Two platforms bulk-loading at once, in batches large enough for PostgreSQL's COPY path,
/// each stream ending with reruns of earlier batches and a batch half new, half retried:
/// every accepted report gets a unique sequence, the feed lists them in strictly increasing
/// order, each platform's reports in the order it sent them, and the retries are
/// duplicates that store nothing. A synchronous batch's sequences follow its order too.
async fn concurrent_bulk_loads_get_unique_ordered_sequences(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let Some(ingest) = harness(backend, &dir).await else {
        return;
    };
    let batch = |prefix: &str, b: usize| BulkLoadReportsRequest {
        reports: (0..100)
            .map(|i| price(&format!("{prefix}-{b}-{i}"), &format!("{i}.25")))
            .collect(),
    };
    // Batches 0..6, batches 0 and 1 again, then 50 reports of batch 2 with 50 new ones.
    let stream = |prefix: &str| {
        let mut batches: Vec<_> = (0..6).map(|b| batch(prefix, b)).collect();
        batches.push(batch(prefix, 0));
        batches.push(batch(prefix, 1));
        let mut mixed = batch(prefix, 2).reports.split_off(50);
        mixed.extend(batch(prefix, 6).reports.into_iter().take(50));
        batches.push(BulkLoadReportsRequest { reports: mixed });
        batches
    };
    let expected = |prefix: &str| -> Vec<String> {
        let mut ids: Vec<String> = (0..6)
            .flat_map(|b| (0..100).map(move |i| format!("{prefix}-{b}-{i}")))
            .collect();
        ids.extend((0..50).map(|i| format!("{prefix}-6-{i}")));
        ids
    };
    let load = |batches: Vec<BulkLoadReportsRequest>, token: String| {
        let addr = ingest.addr;
        async move {
            let mut client = IngestServiceClient::new(channel(addr).await);
            let progress = client
                .bulk_load_reports(authorized(tokio_stream::iter(batches), &token))
                .await
                .unwrap()
                .into_inner();
            progress.map(|p| p.unwrap()).collect::<Vec<_>>().await
        }
    };
    let (a, b) = tokio::join!(
        tokio::spawn(load(stream("A"), ingest.platform_a.clone())),
        tokio::spawn(load(stream("B"), ingest.platform_b.clone())),
    );
    for progress in [a.unwrap(), b.unwrap()] {
        let last = progress.last().unwrap();
        assert_eq!(
            (last.received, last.accepted, last.duplicates, last.rejected),
            (900, 650, 250, 0)
        );
        assert_eq!(last.already_exists, 0);
    }

    let feed = read_feed(&ingest, 0, 1300).await;
    let sequences: Vec<i64> = feed.iter().map(|c| c.sequence).collect();
    assert!(
        sequences.windows(2).all(|w| w[0] < w[1]),
        "the feed's sequences are unique and strictly increasing"
    );
    for (platform, prefix) in [("acme-market", "A"), ("bazaar", "B")] {
        let ids: Vec<String> = feed
            .iter()
            .filter(|c| c.platform == platform)
            .map(|c| c.report.as_ref().unwrap().report_id.clone())
            .collect();
        assert_eq!(ids, expected(prefix), "{platform}'s reports in its order");
    }

    // A synchronous batch on the same path: 80 new reports between 20 retries.
    let mut reports: Vec<Report> = (0..80).map(|i| price(&format!("S-{i}"), "3.50")).collect();
    reports.splice(40..40, batch("A", 3).reports.into_iter().take(20));
    let results = submit(&ingest, &ingest.platform_a, reports).await;
    let accepted: Vec<i64> = results
        .iter()
        .filter(|r| r.outcome() == ReportOutcome::Accepted)
        .map(|r| r.sequence)
        .collect();
    assert_eq!(accepted.len(), 80);
    assert!(accepted.windows(2).all(|w| w[0] < w[1]));
    assert!(accepted[0] > *sequences.last().unwrap());
    let stored_sequence = |id: &str| {
        feed.iter()
            .find(|c| c.report.as_ref().unwrap().report_id == id)
            .map(|c| c.sequence)
    };
    for retry in results.iter().filter(|r| r.report_id.starts_with("A-")) {
        assert_eq!(retry.outcome(), ReportOutcome::Duplicate);
        assert_eq!(Some(retry.sequence), stored_sequence(&retry.report_id));
    }
    let fed = read_feed(&ingest, *sequences.last().unwrap(), 80).await;
    assert_eq!(fed.iter().map(|c| c.sequence).collect::<Vec<_>>(), accepted);
}

#[tokio::test]
async fn concurrent_bulk_loads_get_unique_ordered_sequences_on_sqlite() {
    concurrent_bulk_loads_get_unique_ordered_sequences(Backend::Sqlite).await;
}

#[tokio::test]
async fn concurrent_bulk_loads_get_unique_ordered_sequences_on_postgres() {
    concurrent_bulk_loads_get_unique_ordered_sequences(Backend::Postgres).await;
}
