//! A shipment notice's consignment numbers are sets, as the contract says: stored sorted with
//! a repeat dropped, so a retry with its numbers in another order, or one repeated in another
//! case, is the same notice (found by a tester: both were ALREADY_EXISTS, and GetReport showed
//! the numbers in the order sent), also against a notice an earlier version stored in the
//! order sent.

use acx_domain::identifiers::{IdentifierKeys, Normalization};
use acx_runtime::Database;
use prost::Message;

use super::*;

fn notice(id: &str, numbers: &[&str]) -> Report {
    let mut report = shipment(id);
    if let Some(Kind::ShipmentNotice(notice)) = report.kind.as_mut() {
        notice.consignment = Some(ConsignmentNumbers {
            tracking_numbers: numbers.iter().map(|n| (*n).to_owned()).collect(),
            ..Default::default()
        });
    }
    report
}

async fn stored_numbers(ingest: &IngestHarness, id: &str) -> Vec<String> {
    let stored = client(ingest)
        .await
        .get_report(authorized(
            GetReportRequest {
                name: format!("reports/{id}"),
            },
            &ingest.platform_a,
        ))
        .await
        .unwrap()
        .into_inner()
        .report
        .unwrap();
    let Some(Kind::ShipmentNotice(notice)) = stored.report.unwrap().kind else {
        panic!("a shipment notice")
    };
    notice.consignment.unwrap().tracking_numbers
}

/// Rewrites the stored `id` as a version that kept the numbers in the order sent stored it:
/// its tracking numbers reversed, with the content hash of those bytes.
async fn store_as_sent_before(ingest: &IngestHarness, id: &str) {
    let Database::Sqlite(pool) = Database::connect(&ingest.database_url).await.unwrap() else {
        unreachable!("the harness runs on SQLite here");
    };
    let (payload,): (Vec<u8>,) = sqlx::query_as("SELECT payload FROM reports WHERE report_id = $1")
        .bind(id)
        .fetch_one(&pool)
        .await
        .unwrap();
    let mut report = Report::decode(payload.as_slice()).unwrap();
    let Some(Kind::ShipmentNotice(notice)) = report.kind.as_mut() else {
        panic!("a shipment notice")
    };
    notice
        .consignment
        .as_mut()
        .unwrap()
        .tracking_numbers
        .reverse();
    let bytes = report.encode_to_vec();
    let keys = IdentifierKeys::load(&ingest.dir.join("identifier-keys")).unwrap();
    let hash = acx_ingest::content_hash(Normalization::CURRENT, keys.current(), &bytes);
    let done =
        sqlx::query("UPDATE reports SET payload = $1, content_hash = $2 WHERE report_id = $3")
            .bind(&bytes)
            .bind(&hash)
            .bind(id)
            .execute(&pool)
            .await
            .unwrap();
    assert_eq!(done.rows_affected(), 1);
    pool.close().await;
}

#[tokio::test]
async fn a_notice_s_numbers_in_another_order_are_the_same_notice() {
    let dir = tempfile::tempdir().unwrap();
    let Some(ingest) = harness(Backend::Sqlite, &dir).await else {
        return;
    };
    let token = ingest.platform_a.clone();
    let (ups, post) = ("1Z999AA10123456784", "LX123456785CN");
    let first = submit(
        &ingest,
        &token,
        vec![notice("N-1", &[post, ups]), notice("N-2", &[ups, post])],
    )
    .await;
    assert_eq!(
        outcomes(&first),
        [ReportOutcome::Accepted, ReportOutcome::Accepted],
        "{first:#?}"
    );
    assert_eq!(stored_numbers(&ingest, "N-1").await, [ups, post]);

    store_as_sent_before(&ingest, "N-2").await;
    assert_eq!(stored_numbers(&ingest, "N-2").await, [post, ups]);
    let retries = submit(
        &ingest,
        &token,
        vec![
            notice("N-1", &[ups, post]),
            notice("N-1", &["lx 123 456 785 cn", ups, post]),
            // A zero-width space copied with a number from a web page (found by a tester:
            // the whole notice was refused).
            notice("N-1", &["LX123456785CN\u{200b}", ups]),
            notice("N-2", &[ups, post]),
            notice("N-2", &[post, ups]),
            notice("N-1", &[ups]),
        ],
    )
    .await;
    assert_eq!(
        outcomes(&retries),
        [
            ReportOutcome::Duplicate,
            ReportOutcome::Duplicate,
            ReportOutcome::Duplicate,
            ReportOutcome::Duplicate,
            ReportOutcome::Duplicate,
            ReportOutcome::AlreadyExists,
        ],
        "{retries:#?}"
    );
}

/// A notice's lines are a set too (found by a tester: a retry listing them in another order
/// was ALREADY_EXISTS).
#[tokio::test]
async fn a_notice_s_lines_in_another_order_are_the_same_notice() {
    let dir = tempfile::tempdir().unwrap();
    let Some(ingest) = harness(Backend::Sqlite, &dir).await else {
        return;
    };
    let token = ingest.platform_a.clone();
    let with_lines = |quantities: &[i64]| {
        let mut report = shipment("L-1");
        if let Some(Kind::ShipmentNotice(notice)) = report.kind.as_mut() {
            let line = notice.lines[0].clone();
            notice.lines = quantities
                .iter()
                .map(|q| ShipmentLine {
                    quantity: *q,
                    ..line.clone()
                })
                .collect();
        }
        report
    };
    let first = submit(&ingest, &token, vec![with_lines(&[200, 50, 75])]).await;
    assert_eq!(outcomes(&first), [ReportOutcome::Accepted], "{first:#?}");
    let retries = submit(
        &ingest,
        &token,
        vec![with_lines(&[75, 200, 50]), with_lines(&[75, 200])],
    )
    .await;
    assert_eq!(
        outcomes(&retries),
        [ReportOutcome::Duplicate, ReportOutcome::AlreadyExists],
        "{retries:#?}"
    );
}
