//! `acx --demo`: a small, realistic data set loaded through ingest's public API, so that a
//! new user sees linked sellers, risk scores and the blacklist at once. Report ids are
//! fixed, so loading again changes nothing (every report comes back as a duplicate).
//!
//! The story: "Bright Deals" sells counterfeit earbuds on the demo platform and was caught
//! by a test buy; customs then declare two shipments of its earbuds at a tenth of their
//! marketplace price (RED alerts) among ordinary ones. On the demo marketplace it trades as "Lucky Star Shop" (same bank account:
//! listed as strongly linked) and as "Bright Trading (Shenzhen) Limited" (same phone, a
//! similar name: linked, elevated). A headphone outlet has a suspected finding; two shops
//! are clean.

use std::net::SocketAddr;

use acx_proto::{
    common::{ConsignmentNumbers, Identifiers, Money, ProductRef, SellerAccountRef},
    ingest::{
        ActionTaken, CounterfeitFinding, EvidenceType, PriceObservation, Report, ReportOutcome,
        SellerProfile, ShipmentLine, ShipmentNotice, SubmitReportsRequest, Verdict,
        ingest_service_client::IngestServiceClient, report::Kind,
    },
    liaison::{
        Declaration, DeclarationLine, DeclarationOutcome, Procedure, SubmitDeclarationsRequest,
        TransportMode, ValuationBasis, liaison_service_client::LiaisonServiceClient,
    },
    scoring::{GetSellerRiskRequest, scoring_service_client::ScoringServiceClient},
};
use tonic::{metadata::MetadataValue, transport::Endpoint};

/// Why the demo data could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// Ingest could not be reached.
    #[error("cannot reach ingest")]
    Connect(#[from] tonic::transport::Error),
    /// Ingest refused a call.
    #[error("ingest refused the demo reports")]
    Refused(#[from] tonic::Status),
    /// A report was rejected (a bug in the demo data).
    #[error("demo report {0} was rejected: {1}")]
    Rejected(String, String),
    /// Scoring did not know the demo sellers within [`SCORING_WAIT`] of their reports, so the
    /// demo declarations would be assessed without them.
    #[error("scoring did not take the demo reports within {} s", SCORING_WAIT.as_secs())]
    ScoringBehind,
}

/// How long the demo waits for scoring to know its sellers before it declares shipments
/// (a debug build on a busy machine takes seconds; a release build well under one).
pub const SCORING_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

fn days_ago(days: i64) -> Option<prost_types::Timestamp> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    // Whole days, so that a reload on the same day is recognised as the same reports.
    Some(prost_types::Timestamp {
        seconds: (now / 86_400 - days) * 86_400,
        nanos: 0,
    })
}

fn earbuds() -> ProductRef {
    ProductRef {
        gtin: "0194252721407".to_owned(),
        platform_product_id: "B0BDHWDR12".to_owned(),
        brand: "Lumina".to_owned(),
        title: "Lumina Pro wireless earbuds with charging case".to_owned(),
        hs_code: "8518.30".to_owned(),
    }
}

fn headphones() -> ProductRef {
    ProductRef {
        gtin: "4006381333931".to_owned(),
        platform_product_id: "B07KESTREL".to_owned(),
        brand: "Kestrel".to_owned(),
        title: "Kestrel Studio over-ear headphones".to_owned(),
        hs_code: "8518.30".to_owned(),
    }
}

fn usd(amount: &str) -> Option<Money> {
    Some(Money {
        currency_code: "USD".to_owned(),
        amount: amount.to_owned(),
    })
}

fn profile(id: &str, seller: &str, display: &str, legal: &str, identifiers: Identifiers) -> Report {
    Report {
        report_id: id.to_owned(),
        kind: Some(Kind::SellerProfile(SellerProfile {
            seller_id: seller.to_owned(),
            display_name: display.to_owned(),
            legal_name: legal.to_owned(),
            country: "CN".to_owned(),
            identifiers: Some(identifiers),
            observe_time: days_ago(30),
            hashed_identifiers: Vec::new(),
        })),
    }
}

fn finding(
    id: &str,
    seller: &str,
    product: ProductRef,
    evidence: EvidenceType,
    verdict: Verdict,
    age: i64,
) -> Report {
    Report {
        report_id: id.to_owned(),
        kind: Some(Kind::CounterfeitFinding(CounterfeitFinding {
            seller: Some(SellerAccountRef {
                platform: String::new(),
                seller_id: seller.to_owned(),
            }),
            products: vec![product],
            evidence_type: evidence as i32,
            verdict: verdict as i32,
            action_taken: ActionTaken::ListingRemoved as i32,
            observe_time: days_ago(age),
            notes: "demo data".to_owned(),
        })),
    }
}

fn price(id: &str, seller: &str, product: ProductRef, amount: &str) -> Report {
    Report {
        report_id: id.to_owned(),
        kind: Some(Kind::PriceObservation(PriceObservation {
            seller_id: seller.to_owned(),
            product: Some(product),
            price: usd(amount),
            observe_time: days_ago(5),
        })),
    }
}

fn shipment(
    id: &str,
    seller: &str,
    tracking: &str,
    product: ProductRef,
    quantity: i64,
    unit_price: &str,
) -> Report {
    Report {
        report_id: id.to_owned(),
        kind: Some(Kind::ShipmentNotice(ShipmentNotice {
            seller_id: seller.to_owned(),
            consignment: Some(ConsignmentNumbers {
                tracking_numbers: vec![tracking.to_owned()],
                bills_of_lading: Vec::new(),
                air_waybills: Vec::new(),
            }),
            lines: vec![ShipmentLine {
                product: Some(product),
                quantity,
                unit_price: usd(unit_price),
            }],
            ship_time: days_ago(3),
        })),
    }
}

const BANK: &str = "GB85 WEST 1234 5641 0875 29";
const PHONE: &str = "+86 755 8888 1234";

/// The demo platform's reports.
fn platform_reports() -> Vec<Report> {
    vec![
        profile(
            "demo-P-100",
            "S-100",
            "Bright Deals Store",
            "Shenzhen Bright Trading Co., Ltd.",
            Identifiers {
                bank_accounts: vec![BANK.to_owned()],
                phones: vec![PHONE.to_owned()],
                emails: vec!["sales@bright-deals.example".to_owned()],
                ..Default::default()
            },
        ),
        profile(
            "demo-P-200",
            "S-200",
            "Happy Home Goods",
            "Happy Home Goods LLC",
            Identifiers {
                tax_numbers: vec!["US 12-3456789".to_owned()],
                ..Default::default()
            },
        ),
        profile(
            "demo-P-300",
            "S-300",
            "Kestrel Audio Outlet",
            "",
            Identifiers::default(),
        ),
        finding(
            "demo-F-100",
            "S-100",
            earbuds(),
            EvidenceType::TestBuy,
            Verdict::Confirmed,
            12,
        ),
        finding(
            "demo-F-300",
            "S-300",
            headphones(),
            EvidenceType::RightsOwnerNotice,
            Verdict::Suspected,
            40,
        ),
        price("demo-L-100", "S-100", earbuds(), "24.99"),
        price("demo-L-200", "S-200", earbuds(), "149.00"),
        shipment(
            "demo-N-100",
            "S-100",
            "1Z999AA10123456784",
            earbuds(),
            500,
            "24.99",
        ),
    ]
}

/// The demo marketplace's reports.
fn marketplace_reports() -> Vec<Report> {
    vec![
        profile(
            "demo-Q-1",
            "T-1",
            "BRIGHT TRADING (SHENZHEN) LIMITED",
            "",
            Identifiers {
                phones: vec!["0086 755 8888-1234".to_owned()],
                ..Default::default()
            },
        ),
        profile(
            "demo-Q-2",
            "T-2",
            "Lucky Star Shop",
            "",
            Identifiers {
                bank_accounts: vec!["gb85west12345641087529".to_owned()],
                ..Default::default()
            },
        ),
        profile(
            "demo-Q-3",
            "T-3",
            "Nordic Lamp Co",
            "Nordic Lamp AB",
            Identifiers::default(),
        ),
        finding(
            "demo-G-1",
            "T-1",
            earbuds(),
            EvidenceType::AutomatedDetection,
            Verdict::Suspected,
            2,
        ),
        price("demo-M-2", "T-2", earbuds(), "19.90"),
        shipment("demo-M-3", "T-2", "LX123456789CN", earbuds(), 800, "19.90"),
    ]
}

async fn submit(ingest: SocketAddr, token: &str, reports: Vec<Report>) -> Result<usize, DemoError> {
    let channel = Endpoint::from_shared(format!("http://{ingest}"))?
        .connect()
        .await?;
    let mut client = IngestServiceClient::new(channel);
    let request = with_token(SubmitReportsRequest { reports }, token);
    let results = client.submit_reports(request).await?.into_inner().results;
    let mut accepted = 0;
    for result in results {
        match result.outcome() {
            ReportOutcome::Accepted => accepted += 1,
            // Loaded by an earlier run (on another day the dates differ: same story).
            ReportOutcome::Duplicate | ReportOutcome::AlreadyExists => {}
            _ => {
                let why: Vec<String> = result
                    .violations
                    .iter()
                    .map(|v| format!("{}: {}", v.field, v.description))
                    .collect();
                return Err(DemoError::Rejected(result.report_id, why.join("; ")));
            }
        }
    }
    Ok(accepted)
}

/// The goods of a demo declaration line: HS code, quantity, net mass (kg), value (USD).
type Goods<'a> = (&'a str, f64, f64, &'a str);

fn demo_declaration(
    id: &str,
    hours_ago: i64,
    importer: &str,
    tracking: &str,
    goods: Goods<'_>,
) -> Declaration {
    let (hs, quantity, kg, usd) = goods;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    Declaration {
        declaration_id: id.to_owned(),
        declaration_time: Some(prost_types::Timestamp {
            seconds: (now / 3600 - hours_ago) * 3600,
            nanos: 0,
        }),
        customs_office: "USLAX".to_owned(),
        procedure: Procedure::HomeUse as i32,
        transport_mode: TransportMode::Courier as i32,
        importer_id: importer.to_owned(),
        declarant_id: "BROKER-DEMO".to_owned(),
        consignor_id: String::new(),
        carrier_id: "DEMO-EXPRESS".to_owned(),
        consignment: Some(ConsignmentNumbers {
            tracking_numbers: vec![tracking.to_owned()],
            bills_of_lading: Vec::new(),
            air_waybills: Vec::new(),
        }),
        departure_country: "CN".to_owned(),
        origin_country: "CN".to_owned(),
        marketplace: String::new(),
        seller: None,
        lines: vec![DeclarationLine {
            line_number: 1,
            hs_code: hs.to_owned(),
            description: "demo goods".to_owned(),
            quantity,
            quantity_unit: "PCE".to_owned(),
            net_mass_kg: kg,
            gross_mass_kg: kg * 1.1,
            declared_value: self::usd(usd),
            valuation_basis: ValuationBasis::Fob as i32,
            duty_rate: 0.05,
            declared_duty: None,
            national_codes: Vec::new(),
        }],
        national_codes: Vec::new(),
    }
}

/// The demo customs authority's declarations: two undervalued shipments of the listed
/// seller's earbuds (matched to the platforms' shipment notices by tracking number), and
/// ordinary ones.
fn declarations() -> Vec<Declaration> {
    let mut all = vec![
        demo_declaration(
            "DEMO-1001",
            5,
            "US-IMP-4711",
            "1Z999AA10123456784",
            ("8518.30", 500.0, 40.0, "1000.00"),
        ),
        demo_declaration(
            "DEMO-1002",
            4,
            "US-IMP-4711",
            "LX123456789CN",
            ("8518.30", 800.0, 60.0, "720.00"),
        ),
    ];
    let ordinary = [
        ("9405.42", 120.0, 300.0, "5400.00"),
        ("6403.99", 200.0, 180.0, "7600.00"),
        ("9503.00", 1000.0, 250.0, "4200.00"),
        ("8471.30", 50.0, 75.0, "16500.00"),
        ("4202.92", 300.0, 90.0, "3900.00"),
        ("8516.31", 150.0, 120.0, "4100.00"),
    ];
    for (i, (hs, quantity, kg, usd)) in ordinary.into_iter().enumerate() {
        all.push(demo_declaration(
            &format!("DEMO-20{i:02}"),
            10 - i as i64,
            &format!("US-IMP-{}", 100 + i),
            &format!("1ZDEMO{i:04}"),
            (hs, quantity, kg, usd),
        ));
    }
    all
}

/// Loads the demo customs authority's declarations once scoring has taken the platforms'
/// reports, so their assessments see the shipment notices; returns how many were new.
pub async fn load_declarations(
    liaison: SocketAddr,
    scoring: SocketAddr,
    customs_token: &str,
    platform_token: &str,
) -> Result<usize, DemoError> {
    let scoring_channel = Endpoint::from_shared(format!("http://{scoring}"))?
        .connect()
        .await?;
    let mut scoring_client = ScoringServiceClient::new(scoring_channel);
    let deadline = tokio::time::Instant::now() + SCORING_WAIT;
    loop {
        let request = GetSellerRiskRequest {
            seller: Some(SellerAccountRef {
                platform: "demo-marketplace".to_owned(),
                seller_id: "T-3".to_owned(),
            }),
            cluster_id: String::new(),
        };
        if scoring_client
            .get_seller_risk(with_token(request, platform_token))
            .await
            .is_ok()
        {
            break;
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(DemoError::ScoringBehind);
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let channel = Endpoint::from_shared(format!("http://{liaison}"))?
        .connect()
        .await?;
    let request = with_token(
        SubmitDeclarationsRequest {
            declarations: declarations(),
        },
        customs_token,
    );
    let results = LiaisonServiceClient::new(channel)
        .submit_declarations(request)
        .await?
        .into_inner()
        .results;
    let mut accepted = 0;
    for result in results {
        match result.outcome() {
            DeclarationOutcome::Accepted => accepted += 1,
            DeclarationOutcome::Duplicate | DeclarationOutcome::AlreadyExists => {}
            _ => {
                let why: Vec<String> = result
                    .violations
                    .iter()
                    .map(|v| format!("{}: {}", v.field, v.description))
                    .collect();
                return Err(DemoError::Rejected(result.declaration_id, why.join("; ")));
            }
        }
    }
    Ok(accepted)
}

fn with_token<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Ok(value) = MetadataValue::try_from(format!("Bearer {token}")) {
        request.metadata_mut().insert("authorization", value);
    }
    request
}

/// Loads the demo reports of both demo platforms; returns how many were new.
pub async fn load(
    ingest: SocketAddr,
    platform_token: &str,
    marketplace_token: &str,
) -> Result<usize, DemoError> {
    Ok(submit(ingest, platform_token, platform_reports()).await?
        + submit(ingest, marketplace_token, marketplace_reports()).await?)
}
