//! Builders the end-to-end tests share: times relative to now, a confirmed counterfeit
//! finding and a valid customs declaration that tests vary, server settings for a service started on its own, and reads a test makes
//! of a liaison or a database.

use std::{net::SocketAddr, path::Path, time::Duration};

use acx_proto::{
    common::{ConsignmentNumbers, Money, ProductRef, SellerAccountRef},
    ingest::{
        ActionTaken, CounterfeitFinding, EvidenceType, Report, ShipmentLine, ShipmentNotice,
        SubmitReportsRequest, Verdict, ingest_service_client::IngestServiceClient, report::Kind,
    },
    liaison::{
        Declaration, DeclarationLine, GetShipmentRequest, Procedure, Shipment, TransportMode,
        ValuationBasis, liaison_service_client::LiaisonServiceClient,
    },
    scoring::{
        AssessShipmentRequest, DeclaredLine, DeclaredShipment,
        scoring_service_client::ScoringServiceClient,
    },
};
use acx_runtime::{Database, ServerConfig};
use tonic::transport::Channel;

use crate::{TestSuite, authorized, channel};

/// Seconds since the epoch, now.
pub fn now_seconds() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_secs() as i64
}

/// The time `seconds` before now (whole seconds).
pub fn seconds_ago(seconds: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: now_seconds() - seconds,
        nanos: 0,
    }
}

/// A counterfeit finding a platform confirmed by a test buy, observed at `observe_time`:
/// the seller's account `seller_id` (on the reporting platform) sold GTIN 4006381333931 and
/// is suspended. Tests set what they vary.
pub fn confirmed_finding(
    seller_id: &str,
    observe_time: Option<prost_types::Timestamp>,
) -> CounterfeitFinding {
    CounterfeitFinding {
        seller: Some(SellerAccountRef {
            platform: String::new(),
            seller_id: seller_id.to_owned(),
        }),
        products: vec![ProductRef {
            gtin: "4006381333931".to_owned(),
            ..Default::default()
        }],
        evidence_type: EvidenceType::TestBuy as i32,
        verdict: Verdict::Confirmed as i32,
        action_taken: ActionTaken::AccountSuspended as i32,
        observe_time,
        notes: String::new(),
    }
}

/// An hour before the first call in this test process, the same for every call: a
/// declaration built twice (a retry, the same id written another way) is the same
/// declaration even when a second boundary falls between the two.
pub fn an_hour_ago() -> prost_types::Timestamp {
    static AT: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    prost_types::Timestamp {
        seconds: *AT.get_or_init(|| now_seconds() - 3600),
        nanos: 0,
    }
}

/// A valid one-line declaration `id` as a courier brings it: declared an hour ago at USLAX
/// for home use by importer `US-IMP-77` (declarant `BROKER-9`, consignor `CN-EXP-1`,
/// carrier `UPS`, tracking number `TRK{id}`), from and made in CN: 100 PCE of wireless
/// earphones (HS 8518.30.2000), 40 kg net and 45 kg gross, USD 900.00 FOB, duty rate 4.9%.
/// Tests set what they vary.
pub fn declaration(id: &str) -> Declaration {
    Declaration {
        declaration_id: id.to_owned(),
        declaration_time: Some(an_hour_ago()),
        customs_office: "USLAX".to_owned(),
        procedure: Procedure::HomeUse as i32,
        transport_mode: TransportMode::Courier as i32,
        importer_id: "US-IMP-77".to_owned(),
        declarant_id: "BROKER-9".to_owned(),
        consignor_id: "CN-EXP-1".to_owned(),
        carrier_id: "UPS".to_owned(),
        consignment: Some(ConsignmentNumbers {
            tracking_numbers: vec![format!("TRK{id}")],
            ..Default::default()
        }),
        departure_country: "CN".to_owned(),
        origin_country: "CN".to_owned(),
        lines: vec![DeclarationLine {
            line_number: 1,
            hs_code: "8518.30.2000".to_owned(),
            description: "wireless earphones".to_owned(),
            quantity: 100.0,
            quantity_unit: "PCE".to_owned(),
            net_mass_kg: 40.0,
            gross_mass_kg: 45.0,
            declared_value: Some(Money {
                currency_code: "USD".to_owned(),
                amount: "900.00".to_owned(),
            }),
            valuation_basis: ValuationBasis::Fob as i32,
            duty_rate: 0.049,
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// Settings of a service started on its own in a test: data in `dir`, its database at
/// `database_url`, listening on `listen` (port 0 for any), callers' tokens in `tokens`,
/// and a short shutdown grace (2 s) so that restarts in a test are quick.
pub fn server_config(
    dir: &Path,
    database_url: &str,
    listen: SocketAddr,
    tokens: &Path,
) -> ServerConfig {
    let mut server = ServerConfig::local(dir);
    server.listen_addr = Some(listen);
    server.database_url = Some(database_url.to_owned());
    server.tokens_file = Some(tokens.to_owned());
    server.shutdown_grace = Duration::from_secs(2);
    server
}

/// Shipment `id` as liaison answers `token` (`GetShipment`); panics on an error.
pub async fn get_shipment(
    client: &mut LiaisonServiceClient<Channel>,
    token: &str,
    id: &str,
) -> Shipment {
    client
        .get_shipment(authorized(
            GetShipmentRequest {
                name: format!("shipments/{id}"),
            },
            token,
        ))
        .await
        .expect("the shipment")
        .into_inner()
        .shipment
        .expect("a shipment in the answer")
}

/// The one integer `sql` selects from the database at `database_url` (a count, a
/// position).
pub async fn scalar(database_url: &str, sql: &str) -> i64 {
    let database = Database::connect(database_url).await.expect("the database");
    let sql = sqlx::AssertSqlSafe(sql.to_owned());
    let (n,): (i64,) = match &database {
        Database::Sqlite(pool) => sqlx::query_as(sql).fetch_one(pool).await,
        Database::Postgres(pool) => sqlx::query_as(sql).fetch_one(pool).await,
    }
    .expect("one integer");
    database.close().await;
    n
}

/// Ingest takes a platform's shipment notice of `seller`: 500 earbuds at 24.99 each on a
/// tracking number; scoring has it once an assessment matches it.
pub async fn earbuds_notice(suite: &TestSuite, seller: &str, tracking: &str) {
    let notice = Report {
        report_id: format!("N-{tracking}"),
        kind: Some(Kind::ShipmentNotice(ShipmentNotice {
            seller_id: seller.to_owned(),
            consignment: Some(ConsignmentNumbers {
                tracking_numbers: vec![tracking.to_owned()],
                ..Default::default()
            }),
            lines: vec![ShipmentLine {
                product: Some(ProductRef {
                    gtin: "4006381333931".to_owned(),
                    hs_code: "851830".to_owned(),
                    ..Default::default()
                }),
                quantity: 500,
                unit_price: Some(Money {
                    currency_code: "USD".to_owned(),
                    amount: "24.99".to_owned(),
                }),
            }],
            ship_time: Some(prost_types::Timestamp {
                seconds: now_seconds() - 86_400,
                nanos: 0,
            }),
        })),
    };
    let mut ingest = IngestServiceClient::new(channel(suite.ingest).await);
    ingest
        .submit_reports(authorized(
            SubmitReportsRequest {
                reports: vec![notice],
            },
            &suite.token("platform:demo-platform"),
        ))
        .await
        .expect("ingest takes the notice");
    let mut scoring = ScoringServiceClient::new(channel(suite.scoring).await);
    let probe = DeclaredShipment {
        declaration_id: "PROBE".to_owned(),
        authority: "probe".to_owned(),
        importer_id: "I".to_owned(),
        customs_office: "O".to_owned(),
        origin_country: "CN".to_owned(),
        consignment: Some(ConsignmentNumbers {
            tracking_numbers: vec![tracking.to_owned()],
            ..Default::default()
        }),
        lines: vec![DeclaredLine {
            line_number: 1,
            hs_code: "851830".to_owned(),
            declared_value: Some(Money {
                currency_code: "USD".to_owned(),
                amount: "1".to_owned(),
            }),
            ..Default::default()
        }],
        ..Default::default()
    };
    for _ in 0..100 {
        let request = AssessShipmentRequest {
            shipment: Some(probe.clone()),
            record: false,
        };
        let answer = scoring
            .assess_shipment(authorized(request, &suite.token("service:liaison")))
            .await
            .expect("scoring assesses the probe")
            .into_inner();
        if answer
            .assessment
            .is_some_and(|a| !a.matched_shipment_notice.is_empty())
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("scoring never took the notice of {tracking}");
}
