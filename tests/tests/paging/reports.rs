//! ListReports: a platform's own reports matching the filters, each once, oldest first, up
//! to the newest at the first page, against the reports the test submitted; and pages that
//! a client with the default 4 MiB limit can read however large the reports.

use std::time::Duration;

use acx_proto::{
    common::{Money, ProductRef},
    ingest::{
        CounterfeitFinding, ListReportsRequest, PriceObservation, Report, ReportKind,
        ReportOutcome, SubmitReportsRequest, ingest_service_client::IngestServiceClient,
        report::Kind,
    },
};
use acx_tests::{Backend, IngestHarness, authorized, channel, fixtures::confirmed_finding};
use rand::{Rng, rngs::StdRng};
use tonic::transport::Channel;

use crate::seeded;

fn observed() -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp {
        seconds: 1_760_000_000,
        nanos: 0,
    })
}

fn product() -> ProductRef {
    ProductRef {
        gtin: "4006381333931".to_owned(),
        title: "Highlighter, 4 pack".to_owned(),
        ..Default::default()
    }
}

/// A confirmed counterfeit finding with `notes`.
fn finding(report_id: &str, notes: &str) -> Report {
    Report {
        report_id: report_id.to_owned(),
        kind: Some(Kind::CounterfeitFinding(CounterfeitFinding {
            products: vec![product()],
            notes: notes.to_owned(),
            ..confirmed_finding("S1", observed())
        })),
    }
}

pub(crate) fn price_report(report_id: &str) -> Report {
    Report {
        report_id: report_id.to_owned(),
        kind: Some(Kind::PriceObservation(PriceObservation {
            seller_id: "S1".to_owned(),
            product: Some(product()),
            price: Some(Money {
                currency_code: "EUR".to_owned(),
                amount: "2.49".to_owned(),
            }),
            observe_time: observed(),
        })),
    }
}

pub(crate) async fn submit_reports(
    client: &mut IngestServiceClient<Channel>,
    token: &str,
    reports: Vec<Report>,
) {
    let results = client
        .submit_reports(authorized(SubmitReportsRequest { reports }, token))
        .await
        .unwrap()
        .into_inner()
        .results;
    assert!(
        results
            .iter()
            .all(|r| r.outcome() == ReportOutcome::Accepted),
        "{results:?}"
    );
}

/// A report the test submitted.
#[derive(Debug, Clone)]
struct Submitted {
    /// Of platform A (the one listing)?
    mine: bool,
    name: String,
    kind: ReportKind,
    /// Time markers taken before it was submitted.
    markers_before: usize,
}

struct Reports<'a> {
    ingest: &'a IngestHarness,
    client: IngestServiceClient<Channel>,
    submitted: Vec<Submitted>,
    markers: Vec<i64>,
}

impl Reports<'_> {
    /// A batch of one to four reports of A or B.
    async fn batch(&mut self, rng: &mut StdRng) {
        let mine = rng.random_bool(0.7);
        let mut reports = Vec::new();
        for _ in 0..rng.random_range(1..=4) {
            let id = format!("R-{}", self.submitted.len());
            let (report, kind) = if rng.random_bool(0.5) {
                (price_report(&id), ReportKind::PriceObservation)
            } else {
                (finding(&id, "test buy"), ReportKind::CounterfeitFinding)
            };
            reports.push(report);
            self.submitted.push(Submitted {
                mine,
                name: format!("reports/{id}"),
                kind,
                markers_before: self.markers.len(),
            });
        }
        let token = if mine {
            &self.ingest.platform_a
        } else {
            &self.ingest.platform_b
        };
        submit_reports(&mut self.client, token, reports).await;
    }

    async fn marker(&mut self) {
        tokio::time::sleep(Duration::from_millis(2)).await;
        self.markers.push(acx_runtime::time::now_micros());
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

fn filters(
    rng: &mut StdRng,
    markers: &[i64],
) -> (ListReportsRequest, Option<usize>, Option<usize>) {
    let mut request = ListReportsRequest::default();
    if rng.random_bool(0.3) {
        request.kind = if rng.random_bool(0.5) {
            ReportKind::PriceObservation
        } else {
            ReportKind::CounterfeitFinding
        } as i32;
    }
    let mut bound = || {
        (!markers.is_empty() && rng.random_bool(0.3)).then(|| rng.random_range(0..markers.len()))
    };
    let (mut start, mut end) = (bound(), bound());
    if let (Some(s), Some(e)) = (start, end)
        && e < s
    {
        (start, end) = (Some(e), Some(s));
    }
    request.start_time = start.map(|s| acx_runtime::time::to_timestamp(markers[s]));
    request.end_time = end.map(|e| acx_runtime::time::to_timestamp(markers[e]));
    (request, start, end)
}

async fn every_listing_lists_each_own_report_once(backend: Backend, cases: usize) {
    let dir = tempfile::tempdir().unwrap();
    let Some(ingest) = IngestHarness::start(backend, dir.path()).await else {
        return;
    };
    let (seed, mut rng) = seeded();
    let mut state = Reports {
        ingest: &ingest,
        client: IngestServiceClient::new(channel(ingest.addr).await),
        submitted: Vec::new(),
        markers: Vec::new(),
    };
    for case in 0..cases {
        for _ in 0..rng.random_range(0..5) {
            if rng.random_bool(0.4) {
                state.marker().await;
            }
            state.batch(&mut rng).await;
        }
        let (mut request, start, end) = filters(&mut rng, &state.markers);
        let want: Vec<String> = state
            .submitted
            .iter()
            .filter(|report| {
                report.mine
                    && (request.kind == 0 || report.kind as i32 == request.kind)
                    && start.is_none_or(|s| report.markers_before > s)
                    && end.is_none_or(|e| report.markers_before <= e)
            })
            .map(|report| report.name.clone())
            .collect();
        let mut got = Vec::new();
        let mut sizes = Vec::new();
        loop {
            request.page_size = rng.random_range(1..=6);
            sizes.push(request.page_size);
            let page = state
                .client
                .list_reports(authorized(request.clone(), &ingest.platform_a))
                .await
                .unwrap()
                .into_inner();
            assert!(page.reports.len() <= request.page_size as usize);
            got.extend(page.reports.into_iter().map(|r| r.name));
            if page.next_page_token.is_empty() || crate::endless(sizes.len(), want.len()) {
                break;
            }
            request.page_token = page.next_page_token;
            // Reports of either platform arriving between pages are not in this listing.
            if rng.random_bool(0.4) {
                state.batch(&mut rng).await;
            }
        }
        request.page_token.clear();
        assert_eq!(
            got, want,
            "seed {seed} (ACX_PAGING_SEED), case {case}: filters {request:?}, page sizes {sizes:?}"
        );
    }
}

#[tokio::test]
async fn every_listing_lists_each_own_report_once_on_sqlite() {
    every_listing_lists_each_own_report_once(Backend::Sqlite, 30).await;
}

#[tokio::test]
async fn every_listing_lists_each_own_report_once_on_postgres() {
    every_listing_lists_each_own_report_once(Backend::Postgres, 10).await;
}

/// A thousand findings with notes of 2,000 two-byte characters are about 4.1 MB: a page of
/// all of them is more than a client with the default 4 MiB limit reads. Pages stop at about
/// 1 MiB instead, with a token, and the walk still gives each report once.
#[tokio::test]
async fn pages_of_large_reports_stay_readable_by_default_clients() {
    let dir = tempfile::tempdir().unwrap();
    let ingest = IngestHarness::start(Backend::Sqlite, dir.path())
        .await
        .unwrap();
    // A client with tonic's default limits (4 MiB to receive), as grpcurl and grpcio have.
    let mut client = IngestServiceClient::new(channel(ingest.addr).await);
    let notes = "\u{e9}".repeat(2000);
    for batch in 0..4 {
        let reports = (0..250)
            .map(|i| finding(&format!("F-{batch}-{i}"), &notes))
            .collect();
        submit_reports(&mut client, &ingest.platform_a, reports).await;
    }
    let mut request = ListReportsRequest {
        page_size: 1000,
        ..Default::default()
    };
    let mut pages = Vec::new();
    loop {
        let page = client
            .list_reports(authorized(request.clone(), &ingest.platform_a))
            .await
            .unwrap()
            .into_inner();
        let bytes = prost::Message::encoded_len(&page);
        assert!(bytes <= 1024 * 1024 + 256, "{bytes} bytes");
        pages.push(page.reports.len());
        if page.next_page_token.is_empty() {
            break;
        }
        request.page_token = page.next_page_token;
    }
    assert!(pages.len() >= 4, "{pages:?}");
    assert_eq!(pages.iter().sum::<usize>(), 1000);
}
