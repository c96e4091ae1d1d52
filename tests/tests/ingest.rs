//! Ingest through its public gRPC API, on SQLite and on PostgreSQL: validation, partial
//! batches, idempotency, tenant isolation, listing, bulk loads, the change feed across a
//! restart, and privacy of identifiers.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use acx_proto::{
    common::{ConsignmentNumbers, Identifiers, Money, ProductRef},
    ingest::{
        BulkLoadReportsRequest, CounterfeitFinding, GetReportRequest, ListReportsRequest,
        PriceObservation, Report, ReportKind, ReportOutcome, ReportResult, Retraction,
        RetractionReason, SellerProfile, ShipmentLine, ShipmentNotice, StreamChangesRequest,
        StreamChangesResponse, SubmitReportsRequest, ingest_service_client::IngestServiceClient,
        report::Kind,
    },
};
use acx_tests::{Backend, IngestHarness, authorized, channel, fixtures::confirmed_finding};
use tokio_stream::StreamExt;
use tonic::{Code, transport::Channel};
use tonic_types::StatusExt;

/// A fixed observation time (2025-10-09), so that a resubmitted report is the same report
/// however long the test takes.
fn observed() -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: 1_760_000_000,
        nanos: 0,
    }
}

fn now() -> prost_types::Timestamp {
    let elapsed = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    prost_types::Timestamp {
        seconds: elapsed.as_secs() as i64,
        nanos: 0,
    }
}

fn product() -> ProductRef {
    ProductRef {
        gtin: "4006381333931".to_owned(),
        platform_product_id: "B00TESTASIN".to_owned(),
        brand: "Stabilo".to_owned(),
        title: "Highlighter, 4 pack".to_owned(),
        hs_code: "9608.20".to_owned(),
    }
}

fn finding(report_id: &str, seller_id: &str) -> Report {
    Report {
        report_id: report_id.to_owned(),
        kind: Some(Kind::CounterfeitFinding(CounterfeitFinding {
            products: vec![product()],
            notes: "test buy examined by the brand".to_owned(),
            ..confirmed_finding(seller_id, Some(observed()))
        })),
    }
}

/// Raw identifiers used in profiles; none may be found stored or on the feed.
const RAW_IDENTIFIERS: &[&str] = &[
    "DE 123.456.789",
    "GB82 WEST 1234 5698 7654 32",
    "Sales.Team+shop@GoogleMail.com",
    "+49 30 1234 5678",
    "Unit 5, 88 Industrial Road, Shenzhen",
    "https://www.shady-goods.example/about",
];

/// Their normalised forms, which must not be found either.
const NORMALISED_IDENTIFIERS: &[&str] = &[
    "DE123456789",
    "GB82WEST12345698765432",
    "salesteam@gmail.com",
    "+493012345678",
    "shady-goods.example",
];

fn profile(report_id: &str, seller_id: &str, phone: &str) -> Report {
    Report {
        report_id: report_id.to_owned(),
        kind: Some(Kind::SellerProfile(SellerProfile {
            seller_id: seller_id.to_owned(),
            display_name: "Shady Goods Store".to_owned(),
            legal_name: "Shady Goods Trading Co., Limited".to_owned(),
            country: "cn".to_owned(),
            identifiers: Some(Identifiers {
                business_registration_numbers: vec![],
                tax_numbers: vec![RAW_IDENTIFIERS[0].to_owned()],
                bank_accounts: vec![RAW_IDENTIFIERS[1].to_owned()],
                addresses: vec![RAW_IDENTIFIERS[4].to_owned()],
                emails: vec![RAW_IDENTIFIERS[2].to_owned()],
                phones: vec![phone.to_owned()],
                web_domains: vec![RAW_IDENTIFIERS[5].to_owned()],
            }),
            observe_time: Some(observed()),
            hashed_identifiers: vec![],
        })),
    }
}

fn price(report_id: &str, amount: &str) -> Report {
    Report {
        report_id: report_id.to_owned(),
        kind: Some(Kind::PriceObservation(PriceObservation {
            seller_id: "S1".to_owned(),
            product: Some(product()),
            price: Some(Money {
                currency_code: "EUR".to_owned(),
                amount: amount.to_owned(),
            }),
            observe_time: Some(observed()),
        })),
    }
}

fn shipment(report_id: &str) -> Report {
    Report {
        report_id: report_id.to_owned(),
        kind: Some(Kind::ShipmentNotice(ShipmentNotice {
            seller_id: "S1".to_owned(),
            consignment: Some(ConsignmentNumbers {
                tracking_numbers: vec!["1Z 999 AA1 0123 4567 84".to_owned()],
                bills_of_lading: vec![],
                air_waybills: vec![],
            }),
            lines: vec![ShipmentLine {
                product: Some(product()),
                quantity: 200,
                unit_price: Some(Money {
                    currency_code: "USD".to_owned(),
                    amount: "12.99".to_owned(),
                }),
            }],
            ship_time: Some(observed()),
        })),
    }
}

fn retraction(report_id: &str, target: &str) -> Report {
    Report {
        report_id: report_id.to_owned(),
        kind: Some(Kind::Retraction(Retraction {
            retracted_report_id: target.to_owned(),
            reason: RetractionReason::AppealUpheld as i32,
            note: "seller proved the goods genuine".to_owned(),
        })),
    }
}

async fn client(harness: &IngestHarness) -> IngestServiceClient<Channel> {
    IngestServiceClient::new(channel(harness.addr).await)
}

async fn submit(harness: &IngestHarness, token: &str, reports: Vec<Report>) -> Vec<ReportResult> {
    client(harness)
        .await
        .submit_reports(authorized(SubmitReportsRequest { reports }, token))
        .await
        .unwrap()
        .into_inner()
        .results
}

fn outcomes(results: &[ReportResult]) -> Vec<ReportOutcome> {
    results.iter().map(|r| r.outcome()).collect()
}

fn violation_fields(result: &ReportResult) -> Vec<&str> {
    result.violations.iter().map(|v| v.field.as_str()).collect()
}

async fn harness(backend: Backend, dir: &tempfile::TempDir) -> Option<IngestHarness> {
    IngestHarness::start(backend, dir.path()).await
}

#[tokio::test]
async fn every_bad_field_is_named_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let ingest = harness(Backend::Sqlite, &dir).await.unwrap();

    let mut bad_finding = finding("F-bad", "");
    if let Some(Kind::CounterfeitFinding(f)) = bad_finding.kind.as_mut() {
        f.products[0].gtin = "4006381333932".to_owned(); // wrong check digit
        f.products[0].hs_code = "12".to_owned();
        f.verdict = 0;
        f.evidence_type = 99;
        f.observe_time = Some(prost_types::Timestamp {
            seconds: now().seconds + 86_400,
            nanos: 0,
        });
    }
    let mut bad_profile = profile("P-bad", "S9", "12345");
    if let Some(Kind::SellerProfile(p)) = bad_profile.kind.as_mut() {
        p.country = "XX".to_owned();
        p.identifiers.as_mut().unwrap().emails = vec!["not-an-email".to_owned()];
    }
    let mut bad_price = price("", "-3");
    if let Some(Kind::PriceObservation(p)) = bad_price.kind.as_mut() {
        p.price.as_mut().unwrap().currency_code = "EUX".to_owned();
    }
    let no_kind = Report {
        report_id: "K-1".to_owned(),
        kind: None,
    };

    let results = submit(
        &ingest,
        &ingest.platform_a,
        vec![bad_finding, bad_profile, bad_price, no_kind],
    )
    .await;
    assert_eq!(outcomes(&results), [ReportOutcome::Rejected; 4]);
    assert_eq!(
        violation_fields(&results[0]),
        [
            "reports[0].counterfeit_finding.seller.seller_id",
            "reports[0].counterfeit_finding.products[0].gtin",
            "reports[0].counterfeit_finding.products[0].hs_code",
            "reports[0].counterfeit_finding.evidence_type",
            "reports[0].counterfeit_finding.verdict",
            "reports[0].counterfeit_finding.observe_time",
        ]
    );
    assert!(
        results[0].violations[1].description.contains("check digit"),
        "{:?}",
        results[0].violations[1]
    );
    assert!(results[0].violations[5].description.contains("future"));
    assert_eq!(
        violation_fields(&results[1]),
        ["reports[1].seller_profile.country"]
    );
    // Invalid identifiers never refuse a profile on their own; they are named as warnings,
    // here next to the violation that does refuse it.
    let warned: Vec<&str> = results[1]
        .warnings
        .iter()
        .map(|w| w.field.as_str())
        .collect();
    assert_eq!(
        warned,
        [
            "reports[1].seller_profile.identifiers.emails[0]",
            "reports[1].seller_profile.identifiers.phones[0]",
        ]
    );
    assert_eq!(
        violation_fields(&results[2]),
        [
            "reports[2].report_id",
            "reports[2].price_observation.price.currency_code",
            "reports[2].price_observation.price.amount",
        ]
    );
    assert_eq!(violation_fields(&results[3]), ["reports[3].kind"]);
    assert!(results.iter().all(|r| r.sequence == 0));
}

async fn mixed_batch_and_idempotency(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let Some(ingest) = harness(backend, &dir).await else {
        return;
    };
    let token = ingest.platform_a.clone();
    let batch = vec![
        finding("F-1", "S1"),
        price("PR-1", "not a number"),
        profile("P-1", "S1", "+49 30 1234 5678"),
        shipment("SH-1"),
        price("PR-2", "19.90"),
    ];
    let first = submit(&ingest, &token, batch.clone()).await;
    assert_eq!(
        outcomes(&first),
        [
            ReportOutcome::Accepted,
            ReportOutcome::Rejected,
            ReportOutcome::Accepted,
            ReportOutcome::Accepted,
            ReportOutcome::Accepted
        ]
    );
    let sequences: Vec<i64> = first
        .iter()
        .map(|r| r.sequence)
        .filter(|s| *s > 0)
        .collect();
    assert!(
        sequences.windows(2).all(|w| w[0] < w[1]),
        "increasing in batch order: {sequences:?}"
    );

    // The same batch again: every good report is a duplicate of itself, nothing changes.
    let retry = submit(&ingest, &token, batch).await;
    assert_eq!(
        outcomes(&retry),
        [
            ReportOutcome::Duplicate,
            ReportOutcome::Rejected,
            ReportOutcome::Duplicate,
            ReportOutcome::Duplicate,
            ReportOutcome::Duplicate
        ]
    );
    for (a, b) in first.iter().zip(&retry) {
        assert_eq!(a.sequence, b.sequence, "a duplicate points at the original");
    }

    // Same content written differently (phone format, amount "19.9") is still the same report.
    let same = submit(
        &ingest,
        &token,
        vec![
            profile("P-1", "S1", "0049 (30) 1234-5678"),
            price("PR-2", "19.9"),
        ],
    )
    .await;
    assert_eq!(
        outcomes(&same),
        [ReportOutcome::Duplicate, ReportOutcome::Duplicate]
    );

    // The same id with other content is refused for that report only.
    let conflict = submit(
        &ingest,
        &token,
        vec![price("PR-2", "5.00"), price("PR-3", "5.00")],
    )
    .await;
    assert_eq!(
        outcomes(&conflict),
        [ReportOutcome::AlreadyExists, ReportOutcome::Accepted]
    );
    assert_eq!(conflict[0].sequence, first[4].sequence);

    // Within one batch, too.
    let twice = submit(
        &ingest,
        &token,
        vec![price("PR-4", "1"), price("PR-4", "1"), price("PR-4", "2")],
    )
    .await;
    assert_eq!(
        outcomes(&twice),
        [
            ReportOutcome::Accepted,
            ReportOutcome::Duplicate,
            ReportOutcome::AlreadyExists
        ]
    );

    // Only good reports were stored.
    let mut reader = client(&ingest).await;
    let stored = reader
        .get_report(authorized(
            GetReportRequest {
                name: "reports/F-1".to_owned(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .report
        .unwrap();
    assert_eq!(stored.sequence, first[0].sequence);
    let Some(Kind::CounterfeitFinding(f)) = stored.report.unwrap().kind else {
        panic!("finding")
    };
    assert_eq!(
        f.seller.unwrap().platform,
        "acme-market",
        "the platform is the caller"
    );
    assert_eq!(
        f.products[0].hs_code, "960820",
        "codes are stored in canonical form"
    );
    let missing = reader
        .get_report(authorized(
            GetReportRequest {
                name: "reports/PR-1".to_owned(),
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
}

#[tokio::test]
async fn a_mixed_batch_stores_the_good_reports_and_retries_double_nothing_on_sqlite() {
    mixed_batch_and_idempotency(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_mixed_batch_stores_the_good_reports_and_retries_double_nothing_on_postgres() {
    mixed_batch_and_idempotency(Backend::Postgres).await;
}

#[tokio::test]
async fn get_report_takes_the_platform_qualified_name_of_evidence_too() {
    let dir = tempfile::tempdir().unwrap();
    let ingest = harness(Backend::Sqlite, &dir).await.unwrap();
    // Ids may contain '/': "acme-market/F-2" is a report id of its own.
    let accepted = submit(
        &ingest,
        &ingest.platform_a,
        vec![
            finding("F-1", "S1"),
            finding("F-2", "S1"),
            finding("acme-market/F-2", "S2"),
        ],
    )
    .await;
    assert_eq!(outcomes(&accepted), [ReportOutcome::Accepted; 3]);
    let sequence_of = |id: &str| {
        let at = ["F-1", "F-2", "acme-market/F-2"]
            .iter()
            .position(|known| *known == id)
            .unwrap();
        accepted[at].sequence
    };

    let mut reader = client(&ingest).await;
    let get = |name: &str, token: &str| {
        let request = authorized(
            GetReportRequest {
                name: name.to_owned(),
            },
            token,
        );
        let mut reader = reader.clone();
        async move { reader.get_report(request).await }
    };
    // (name asked, token, the report it must resolve to, or None for NOT_FOUND)
    let cases = [
        ("reports/F-1", &ingest.platform_a, Some("F-1")),
        ("reports/acme-market/F-1", &ingest.platform_a, Some("F-1")),
        // The id as given wins over the qualified reading.
        (
            "reports/acme-market/F-2",
            &ingest.platform_a,
            Some("acme-market/F-2"),
        ),
        (
            "reports/acme-market/acme-market/F-2",
            &ingest.platform_a,
            Some("acme-market/F-2"),
        ),
        ("reports/acme-market/F-9", &ingest.platform_a, None),
        ("reports/bazaar/F-1", &ingest.platform_a, None),
        ("reports/acme-market/F-1", &ingest.platform_b, None),
        ("reports/bazaar/F-1", &ingest.platform_b, None),
    ];
    for (name, token, expected) in cases {
        match (get(name, token).await, expected) {
            (Ok(response), Some(id)) => {
                let report = response.into_inner().report.unwrap();
                assert_eq!(report.sequence, sequence_of(id), "{name}");
                assert_eq!(report.name, format!("reports/{id}"), "{name}");
            }
            (Err(status), None) => assert_eq!(status.code(), Code::NotFound, "{name}"),
            (other, expected) => panic!("{name}: expected {expected:?}, got {other:?}"),
        }
    }
    let malformed = reader
        .get_report(authorized(
            GetReportRequest {
                name: "reports/".to_owned(),
            },
            &ingest.platform_a,
        ))
        .await
        .unwrap_err();
    assert_eq!(malformed.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn a_platform_never_sees_another_platforms_reports() {
    let dir = tempfile::tempdir().unwrap();
    let ingest = harness(Backend::Sqlite, &dir).await.unwrap();
    let accepted = submit(&ingest, &ingest.platform_a, vec![finding("F-1", "S1")]).await;
    assert_eq!(outcomes(&accepted), [ReportOutcome::Accepted]);

    let mut other = client(&ingest).await;
    let read = other
        .get_report(authorized(
            GetReportRequest {
                name: "reports/F-1".to_owned(),
            },
            &ingest.platform_b,
        ))
        .await
        .unwrap_err();
    assert_eq!(read.code(), Code::NotFound);
    let listed = other
        .list_reports(authorized(
            ListReportsRequest::default(),
            &ingest.platform_b,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(listed.reports.is_empty());

    // B may use the same report id for its own report: ids are per platform.
    let own = submit(&ingest, &ingest.platform_b, vec![finding("F-1", "S7")]).await;
    assert_eq!(outcomes(&own), [ReportOutcome::Accepted]);

    // B cannot report on A's sellers by naming A in the seller reference.
    let mut forged = finding("F-2", "S1");
    if let Some(Kind::CounterfeitFinding(f)) = forged.kind.as_mut() {
        f.seller.as_mut().unwrap().platform = "acme-market".to_owned();
    }
    let refused = submit(&ingest, &ingest.platform_b, vec![forged]).await;
    assert_eq!(outcomes(&refused), [ReportOutcome::Rejected]);
    assert_eq!(
        violation_fields(&refused[0]),
        ["reports[0].counterfeit_finding.seller.platform"]
    );

    // The feed is for internal services only.
    let feed = other
        .stream_changes(authorized(
            StreamChangesRequest::default(),
            &ingest.platform_a,
        ))
        .await
        .unwrap_err();
    assert_eq!(feed.code(), Code::PermissionDenied);
}

#[tokio::test]
async fn batches_must_have_between_one_report_and_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let ingest = harness(Backend::Sqlite, &dir).await.unwrap();
    let mut ingest_client = client(&ingest).await;
    for reports in [
        vec![],
        (0..501).map(|i| price(&format!("PR-{i}"), "1")).collect(),
    ] {
        let error = ingest_client
            .submit_reports(authorized(
                SubmitReportsRequest { reports },
                &ingest.platform_a,
            ))
            .await
            .unwrap_err();
        assert_eq!(error.code(), Code::InvalidArgument);
        assert_eq!(
            error.get_details_bad_request().unwrap().field_violations[0].field,
            "reports"
        );
    }
}

#[tokio::test]
async fn listing_pages_through_own_reports_with_filters() {
    let dir = tempfile::tempdir().unwrap();
    let ingest = harness(Backend::Sqlite, &dir).await.unwrap();
    let reports = (0..5)
        .map(|i| price(&format!("PR-{i}"), "2"))
        .chain([finding("F-1", "S1"), shipment("SH-1")])
        .collect();
    submit(&ingest, &ingest.platform_a, reports).await;
    let mut reader = client(&ingest).await;

    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = reader
            .list_reports(authorized(
                ListReportsRequest {
                    page_size: 2,
                    page_token: token.clone(),
                    kind: ReportKind::PriceObservation as i32,
                    ..Default::default()
                },
                &ingest.platform_a,
            ))
            .await
            .unwrap()
            .into_inner();
        assert!(page.reports.len() <= 2);
        seen.extend(page.reports.into_iter().map(|r| r.name));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
        // New reports arriving between pages do not disturb the pages already served.
        submit(
            &ingest,
            &ingest.platform_a,
            vec![finding(&format!("F-late-{}", seen.len()), "S2")],
        )
        .await;
    }
    assert_eq!(
        seen,
        (0..5)
            .map(|i| format!("reports/PR-{i}"))
            .collect::<Vec<_>>()
    );

    let first = reader
        .list_reports(authorized(
            ListReportsRequest {
                page_size: 1,
                ..Default::default()
            },
            &ingest.platform_a,
        ))
        .await
        .unwrap()
        .into_inner();
    let foreign = reader
        .list_reports(authorized(
            ListReportsRequest {
                page_size: 1,
                page_token: first.next_page_token,
                kind: ReportKind::ShipmentNotice as i32,
                ..Default::default()
            },
            &ingest.platform_a,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        foreign.code(),
        Code::InvalidArgument,
        "a token is bound to its filters"
    );

    let future_only = reader
        .list_reports(authorized(
            ListReportsRequest {
                start_time: Some(prost_types::Timestamp {
                    seconds: now().seconds + 3600,
                    nanos: 0,
                }),
                ..Default::default()
            },
            &ingest.platform_a,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(future_only.reports.is_empty(), "time filters apply");
}

async fn read_feed(
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
        profile("P-1", "S1", "+86 755 1234 5678"),
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
        vec![profile("P-1", "S1", "+49 30 1234 5678")],
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
            profile("P-1", "S1", "+49 30 1234 5678"),
            profile("P-2", "S2", "+49 30 1234 5678"),
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
