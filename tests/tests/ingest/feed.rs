//! The change feed across restarts, retractions of a platform's own reports, and no raw
//! identifier stored, returned or fed.

use super::*;

pub(crate) async fn read_feed(
    harness: &IngestHarness,
    after: i64,
    count: usize,
) -> Vec<StreamChangesResponse> {
    let mut stream = client(harness)
        .await
        .stream_changes(authorized(
            StreamChangesRequest {
                after_sequence: after,
            },
            &harness.service,
        ))
        .await
        .unwrap()
        .into_inner();
    let mut changes = Vec::new();
    while changes.len() < count {
        let next = tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await
            .expect("the feed delivers within 10 s")
            .expect("the feed stays open")
            .unwrap();
        changes.push(next);
    }
    changes
}

async fn feed_resumes_after_restart(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let Some(mut ingest) = harness(backend, &dir).await else {
        return;
    };
    let token = ingest.platform_a.clone();
    let first: Vec<Report> = (0..20).map(|i| price(&format!("PR-{i}"), "3")).collect();
    submit(&ingest, &token, first).await;

    let early = read_feed(&ingest, 0, 12).await;
    let cursor = early.last().unwrap().sequence;

    ingest.restart().await;
    let later: Vec<Report> = vec![
        finding("F-1", "S1"),
        retraction("R-1", "F-1"),
        profile("P-1", "S1", "+86 755 4172 9356"),
    ];
    let results = submit(&ingest, &token, later).await;
    assert_eq!(
        outcomes(&results),
        [ReportOutcome::Accepted; 3],
        "{results:?}"
    );

    // Live: the reader catches up, then follows what arrives while it listens.
    let resumed = read_feed(&ingest, cursor, 11).await;
    let mut all = early;
    all.extend(resumed);
    let sequences: Vec<i64> = all.iter().map(|c| c.sequence).collect();
    assert!(
        sequences.windows(2).all(|w| w[0] < w[1]),
        "no reordering: {sequences:?}"
    );
    let ids: Vec<String> = all
        .iter()
        .map(|c| c.report.as_ref().unwrap().report_id.clone())
        .collect();
    let mut expected: Vec<String> = (0..20).map(|i| format!("PR-{i}")).collect();
    expected.extend(["F-1", "R-1", "P-1"].map(String::from));
    assert_eq!(ids, expected, "no gap, no duplicate across the restart");
    assert!(all.iter().all(|c| c.platform == "acme-market"));
    let retracted = all
        .iter()
        .find_map(|c| match &c.report.as_ref().unwrap().kind {
            Some(Kind::Retraction(r)) => Some(r.retracted_report_id.clone()),
            _ => None,
        });
    assert_eq!(
        retracted.as_deref(),
        Some("F-1"),
        "the retraction is on the feed"
    );

    let mut live = client(&ingest)
        .await
        .stream_changes(authorized(
            StreamChangesRequest {
                after_sequence: *sequences.last().unwrap(),
            },
            &ingest.service,
        ))
        .await
        .unwrap()
        .into_inner();
    submit(&ingest, &token, vec![price("PR-live", "4")]).await;
    let next = tokio::time::timeout(Duration::from_secs(5), live.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(next.report.unwrap().report_id, "PR-live");
}

#[tokio::test]
async fn the_change_feed_resumes_after_a_restart_without_gap_or_duplicate_on_sqlite() {
    feed_resumes_after_restart(Backend::Sqlite).await;
}

#[tokio::test]
async fn the_change_feed_resumes_after_a_restart_without_gap_or_duplicate_on_postgres() {
    feed_resumes_after_restart(Backend::Postgres).await;
}

#[tokio::test]
async fn retractions_must_name_an_own_report_once() {
    let dir = tempfile::tempdir().unwrap();
    let ingest = harness(Backend::Sqlite, &dir).await.unwrap();
    submit(&ingest, &ingest.platform_b, vec![finding("F-b", "S1")]).await;
    let results = submit(
        &ingest,
        &ingest.platform_a,
        vec![
            finding("F-1", "S1"),
            retraction("R-1", "F-1"),
            retraction("R-2", "F-1"),
            retraction("R-3", "F-b"),
            retraction("R-4", "R-1"),
        ],
    )
    .await;
    assert_eq!(
        outcomes(&results),
        [
            ReportOutcome::Accepted,
            ReportOutcome::Accepted,
            ReportOutcome::Rejected,
            ReportOutcome::Rejected,
            ReportOutcome::Rejected
        ]
    );
    assert!(
        results[2].violations[0]
            .description
            .contains("already retracted")
    );
    assert!(
        results[3].violations[0]
            .description
            .contains("no accepted report"),
        "another platform's report"
    );
    assert!(
        results[4].violations[0]
            .description
            .contains("cannot be retracted")
    );

    // The same finding and retraction sent again, as a client retries (found by a tester:
    // the retraction was REJECTED as 'already retracted by' itself); one with another id
    // is still refused, one with the same id and another target is a conflicting reuse.
    let again = submit(
        &ingest,
        &ingest.platform_a,
        vec![
            finding("F-1", "S1"),
            retraction("R-1", "F-1"),
            retraction("R-5", "F-1"),
        ],
    )
    .await;
    assert_eq!(
        outcomes(&again),
        [
            ReportOutcome::Duplicate,
            ReportOutcome::Duplicate,
            ReportOutcome::Rejected
        ],
        "{again:#?}"
    );
    assert_eq!(again[1].sequence, results[1].sequence);
    assert!(
        again[2].violations[0]
            .description
            .contains("already retracted by report R-1")
    );
    submit(&ingest, &ingest.platform_a, vec![finding("F-2", "S1")]).await;
    let reused = submit(&ingest, &ingest.platform_a, vec![retraction("R-1", "F-2")]).await;
    assert_eq!(outcomes(&reused), [ReportOutcome::AlreadyExists]);
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    let needle = needle.as_bytes();
    haystack
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

#[tokio::test]
async fn no_raw_identifier_is_stored_returned_or_fed() {
    let dir = tempfile::tempdir().unwrap();
    let ingest = harness(Backend::Sqlite, &dir).await.unwrap();
    let results = submit(
        &ingest,
        &ingest.platform_a,
        vec![profile("P-1", "S1", RAW_IDENTIFIERS[3])],
    )
    .await;
    assert_eq!(outcomes(&results), [ReportOutcome::Accepted], "{results:?}");

    let feed = read_feed(&ingest, 0, 1).await;
    let Some(Kind::SellerProfile(fed)) = feed[0].report.as_ref().unwrap().kind.clone() else {
        panic!("profile")
    };
    assert!(fed.identifiers.is_none(), "raw identifiers never leave");
    assert_eq!(
        fed.hashed_identifiers.len(),
        6,
        "one keyed hash per identifier"
    );
    assert!(
        fed.hashed_identifiers
            .iter()
            .all(|h| h.hash.len() == 64 && h.key_id == "k1")
    );
    assert_eq!(
        fed.legal_name, "Shady Goods Trading Co., Limited",
        "names are kept for matching"
    );

    let listed = client(&ingest)
        .await
        .list_reports(authorized(
            ListReportsRequest::default(),
            &ingest.platform_a,
        ))
        .await
        .unwrap()
        .into_inner();
    let mut exposed = prost::Message::encode_to_vec(&listed);
    exposed.extend(prost::Message::encode_to_vec(&feed[0]));
    for file in ["ingest.db", "ingest.db-wal", "ingest.db-shm"] {
        if let Ok(bytes) = std::fs::read(dir.path().join(file)) {
            exposed.extend(bytes);
        }
    }
    assert!(
        contains(&exposed, "Shady Goods Store"),
        "the search itself works"
    );
    for secret in RAW_IDENTIFIERS.iter().chain(NORMALISED_IDENTIFIERS) {
        assert!(!contains(&exposed, secret), "{secret} leaked");
    }
}
