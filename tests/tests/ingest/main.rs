//! Ingest through its public gRPC API, on SQLite and on PostgreSQL: validation, partial
//! batches, idempotency, tenant isolation, listing, bulk loads, the change feed across a
//! restart, and privacy of identifiers.

#![allow(clippy::unwrap_used)]

mod bulk;
mod feed;
mod notices;
mod reads;

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
    "DE 136.695.976",
    "GB85 WEST 1234 5641 0875 29",
    "Sales.Team+shop@GoogleMail.com",
    "+49 30 4172 9356",
    "Unit 5, 88 Industrial Road, Shenzhen",
    "https://www.shady-goods.example/about",
];

/// Their normalised forms, which must not be found either.
const NORMALISED_IDENTIFIERS: &[&str] = &[
    "DE136695976",
    "GB85WEST12345641087529",
    "salesteam@gmail.com",
    "+493041729356",
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

/// Copies of one id in a batch are answered by what is stored, not by the batch's first
/// copy, and a retraction whose id is taken withdraws nothing for later ones in the batch
/// (both found by a tester). 70 more reports put the batch on PostgreSQL's COPY path.
async fn copies_in_one_batch_are_answered_by_what_is_stored(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let Some(ingest) = harness(backend, &dir).await else {
        return;
    };
    let platform = &ingest.platform_a;
    let seeded = submit(
        &ingest,
        platform,
        vec![
            price("X", "1.00"),
            price("Z", "1.00"),
            finding("T", "S1"),
            finding("R", "S1"),
        ],
    )
    .await;
    assert_eq!(outcomes(&seeded), [ReportOutcome::Accepted; 4]);
    let mut batch = vec![
        price("X", "9.00"),
        price("X", "9.00"),
        price("Z", "9.00"),
        price("Z", "1.00"),
        retraction("R", "T"),
        retraction("R3", "T"),
    ];
    batch.extend((0..70).map(|i| price(&format!("FILL-{i}"), "2.00")));
    let results = submit(&ingest, platform, batch).await;
    assert_eq!(
        outcomes(&results[..6]),
        [
            ReportOutcome::AlreadyExists,
            ReportOutcome::AlreadyExists,
            ReportOutcome::AlreadyExists,
            ReportOutcome::Duplicate,
            ReportOutcome::AlreadyExists,
            ReportOutcome::Accepted,
        ],
        "{results:#?}"
    );
    assert_eq!(results[3].sequence, seeded[1].sequence);
    assert!(
        results[6..]
            .iter()
            .all(|r| r.outcome() == ReportOutcome::Accepted)
    );
}

#[tokio::test]
async fn copies_in_one_batch_are_answered_by_what_is_stored_on_sqlite() {
    copies_in_one_batch_are_answered_by_what_is_stored(Backend::Sqlite).await;
}

#[tokio::test]
async fn copies_in_one_batch_are_answered_by_what_is_stored_on_postgres() {
    copies_in_one_batch_are_answered_by_what_is_stored(Backend::Postgres).await;
}

/// A product's id, brand and title at fault are named by their whole path, in a finding's
/// product list and a shipment's lines alike (the paths are built only for values at fault).
#[tokio::test]
async fn a_products_text_and_id_at_fault_are_named_by_path() {
    let dir = tempfile::tempdir().unwrap();
    let ingest = harness(Backend::Sqlite, &dir).await.unwrap();
    let mut bad_finding = finding("F-text", "S1");
    if let Some(Kind::CounterfeitFinding(f)) = bad_finding.kind.as_mut() {
        f.products.push(product());
        f.products[1].brand = "B".repeat(201);
    }
    let mut bad_shipment = shipment("SH-text");
    if let Some(Kind::ShipmentNotice(n)) = bad_shipment.kind.as_mut() {
        let product = n.lines[0].product.as_mut().unwrap();
        product.platform_product_id = "SKU 1".to_owned();
        product.title = "\u{0007}bell".to_owned();
    }
    let results = submit(&ingest, &ingest.platform_a, vec![bad_finding, bad_shipment]).await;
    assert_eq!(outcomes(&results), [ReportOutcome::Rejected; 2]);
    assert_eq!(
        violation_fields(&results[0]),
        ["reports[0].counterfeit_finding.products[1].brand"]
    );
    assert!(results[0].violations[0].description.contains("200"));
    assert_eq!(
        violation_fields(&results[1]),
        [
            "reports[1].shipment_notice.lines[0].product.platform_product_id",
            "reports[1].shipment_notice.lines[0].product.title",
        ]
    );
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
    // Codes that are no money and no product (found by a tester): ISO 4217's "no currency"
    // and a GTIN of zeros, whose check digit is right.
    let mut placeholder_price = price("PR-zero", "3.49");
    if let Some(Kind::PriceObservation(p)) = placeholder_price.kind.as_mut() {
        p.price.as_mut().unwrap().currency_code = "XXX".to_owned();
        p.product.as_mut().unwrap().gtin = "00000000000000".to_owned();
    }
    // A troy ounce of gold is no price (found by a tester).
    let mut gold_price = price("PR-gold", "0.02");
    if let Some(Kind::PriceObservation(p)) = gold_price.kind.as_mut() {
        p.price.as_mut().unwrap().currency_code = "XAU".to_owned();
    }

    // A right-to-left override displays another name than the one stored (found by a
    // tester); the embeddings of right-to-left text copied from a web page are fine.
    let mut spoofed = profile("P-rlo", "S-rlo", "+1 650 253 0147");
    if let Some(Kind::SellerProfile(p)) = spoofed.kind.as_mut() {
        p.display_name = "Shop\u{202e}evil".to_owned();
        p.legal_name = "\u{202b}متجر النور\u{202c}".to_owned();
    }

    let results = submit(
        &ingest,
        &ingest.platform_a,
        vec![
            bad_finding,
            bad_profile,
            bad_price,
            no_kind,
            placeholder_price,
            spoofed,
            gold_price,
        ],
    )
    .await;
    assert_eq!(outcomes(&results), [ReportOutcome::Rejected; 7]);
    assert_eq!(
        violation_fields(&results[6]),
        ["reports[6].price_observation.price.currency_code"]
    );
    assert_eq!(
        violation_fields(&results[5]),
        ["reports[5].seller_profile.display_name"]
    );
    assert_eq!(
        violation_fields(&results[4]),
        [
            "reports[4].price_observation.product.gtin",
            "reports[4].price_observation.price.currency_code",
        ]
    );
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
        profile("P-1", "S1", "+49 30 4172 9356"),
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
            profile("P-1", "S1", "0049 (30) 4172-9356"),
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

/// What the contract says is enough is accepted (found by a tester): a finding's product
/// described by brand and title, a profile with its legal name only. Prices still need a
/// product code, as they are compared per product.
#[tokio::test]
async fn a_product_by_brand_and_title_and_a_profile_by_legal_name_are_enough() {
    let dir = tempfile::tempdir().unwrap();
    let ingest = harness(Backend::Sqlite, &dir).await.unwrap();
    let described = || ProductRef {
        brand: "Nike".to_owned(),
        title: "Air Max 90, white".to_owned(),
        ..Default::default()
    };
    let mut by_description = finding("F-DESC", "S-DESC");
    if let Some(Kind::CounterfeitFinding(f)) = by_description.kind.as_mut() {
        f.products = vec![described()];
    }
    let mut brand_only = finding("F-BRAND", "S-DESC");
    if let Some(Kind::CounterfeitFinding(f)) = brand_only.kind.as_mut() {
        f.products = vec![ProductRef {
            brand: "Nike".to_owned(),
            ..Default::default()
        }];
    }
    let mut priced = price("PR-DESC", "89.99");
    if let Some(Kind::PriceObservation(p)) = priced.kind.as_mut() {
        p.product = Some(described());
    }
    let mut legal_only = profile("P-LEGAL", "S-LEGAL", "+1 650 253 0135");
    if let Some(Kind::SellerProfile(p)) = legal_only.kind.as_mut() {
        p.display_name.clear();
        p.legal_name = "Harbour Tea Ltd".to_owned();
    }
    // `UK` as forms write it, and hashes sent by the caller (ACX hashes under its own key).
    if let Some(Kind::SellerProfile(p)) = legal_only.kind.as_mut() {
        p.country = "uk".to_owned();
        p.hashed_identifiers = vec![acx_proto::common::HashedIdentifier {
            kind: acx_proto::common::IdentifierKind::TaxNumber as i32,
            hash: "ab".repeat(32),
            ..Default::default()
        }];
    }
    let mut nameless = profile("P-NONAME", "S-NONAME", "+1 650 253 0136");
    if let Some(Kind::SellerProfile(p)) = nameless.kind.as_mut() {
        p.display_name.clear();
        p.legal_name.clear();
    }
    // Names with no letter or digit name no one (found by testers: zero-width characters,
    // then the braille blank, `...` and an emoji, were accepted as names).
    let mut invisible = profile("P-INVISIBLE", "S-INVISIBLE", "+1 650 253 0137");
    if let Some(Kind::SellerProfile(p)) = invisible.kind.as_mut() {
        p.display_name = "\u{200b}\u{2800}... \u{1f600}".to_owned();
        p.legal_name = " \u{2060}\u{301} ".to_owned();
    }
    let results = submit(
        &ingest,
        &ingest.platform_a,
        vec![
            by_description,
            brand_only,
            priced,
            legal_only,
            nameless,
            invisible,
        ],
    )
    .await;
    assert_eq!(
        outcomes(&results),
        [
            ReportOutcome::Accepted,
            ReportOutcome::Rejected,
            ReportOutcome::Rejected,
            ReportOutcome::Accepted,
            ReportOutcome::Rejected,
            ReportOutcome::Rejected
        ],
        "{results:#?}"
    );
    assert!(
        violation_fields(&results[5]).contains(&"reports[5].seller_profile.display_name"),
        "{results:#?}"
    );
    assert_eq!(
        violation_fields(&results[1]),
        ["reports[1].counterfeit_finding.products[0]"]
    );
    assert_eq!(
        violation_fields(&results[2]),
        ["reports[2].price_observation.product"]
    );
    assert_eq!(
        violation_fields(&results[4]),
        ["reports[4].seller_profile.display_name"]
    );
    let warned: Vec<&str> = results[3]
        .warnings
        .iter()
        .map(|w| w.field.as_str())
        .collect();
    assert_eq!(warned, ["reports[3].seller_profile.hashed_identifiers"]);
    let stored = client(&ingest)
        .await
        .get_report(acx_tests::authorized(
            acx_proto::ingest::GetReportRequest {
                name: "reports/P-LEGAL".to_owned(),
            },
            &ingest.platform_a,
        ))
        .await
        .unwrap()
        .into_inner();
    let Some(Kind::SellerProfile(p)) = stored.report.and_then(|s| s.report).and_then(|r| r.kind)
    else {
        panic!("a profile");
    };
    assert_eq!(p.country, "GB");
}
