//! The client against the real suite (with its demo data): tokens, typed errors with the
//! server's field paths, deadlines, unary calls and a stream.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use acx_client::{Client, ClientConfig, Error, RetryPolicy};
use acx_proto::{
    common::SellerAccountRef,
    diagnostics::EchoRequest,
    liaison::{
        CheckSellerRequest, DeclarationOutcome, GetShipmentRequest, SearchShipmentsRequest,
        SubmitDeclarationsRequest, WatchAlertsRequest,
    },
    scoring::Lane,
};
use acx_tests::TestSuite;
use tonic::Code;

async fn liaison(suite: &TestSuite, token: &str) -> Client {
    Client::connect(ClientConfig::new(format!("http://{}", suite.liaison)).with_token(token))
        .await
        .unwrap()
}

fn seller(platform: &str, seller_id: &str) -> CheckSellerRequest {
    CheckSellerRequest {
        seller: Some(SellerAccountRef {
            platform: platform.to_owned(),
            seller_id: seller_id.to_owned(),
        }),
    }
}

/// A valid declaration, as in `docs/walkthrough/submit-declarations.json`.
fn declaration(id: &str) -> acx_proto::liaison::Declaration {
    use acx_proto::{
        common::{ConsignmentNumbers, Money},
        liaison::{Declaration, DeclarationLine, Procedure, TransportMode, ValuationBasis},
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    Declaration {
        declaration_id: id.to_owned(),
        declaration_time: Some(prost_types::Timestamp {
            seconds: now - 3600,
            nanos: 0,
        }),
        customs_office: "USLAX".to_owned(),
        procedure: Procedure::HomeUse as i32,
        transport_mode: TransportMode::Courier as i32,
        importer_id: "US-IMP-4711".to_owned(),
        declarant_id: "BROKER-9".to_owned(),
        consignor_id: "CN-EXP-318".to_owned(),
        carrier_id: "UPS".to_owned(),
        consignment: Some(ConsignmentNumbers {
            tracking_numbers: vec!["1Z999AA10123456784".to_owned()],
            ..Default::default()
        }),
        departure_country: "CN".to_owned(),
        origin_country: "CN".to_owned(),
        lines: vec![DeclarationLine {
            line_number: 1,
            hs_code: "8518.30.2000".to_owned(),
            description: "wireless earphones with charging case".to_owned(),
            quantity: 500.0,
            quantity_unit: "PCE".to_owned(),
            net_mass_kg: 40.0,
            gross_mass_kg: 44.0,
            declared_value: Some(Money {
                currency_code: "USD".to_owned(),
                amount: "1000.00".to_owned(),
            }),
            valuation_basis: ValuationBasis::Fob as i32,
            duty_rate: 0.049,
            declared_duty: None,
            ..Default::default()
        }],
        ..Default::default()
    }
}

#[tokio::test]
async fn the_client_against_the_suite() {
    let suite = TestSuite::start_with(true).await;
    let customs = liaison(&suite, &suite.token("customs:demo-customs")).await;

    // A wrong token: UNAUTHENTICATED, final at once.
    let stranger = liaison(&suite, "not-a-token").await;
    let error = stranger
        .liaison()
        .check_seller(seller("demo-marketplace", "T-2"))
        .await
        .unwrap_err();
    let Error::Status(status) = &error else {
        panic!("{error:?}")
    };
    assert_eq!(status.code, Code::Unauthenticated, "{error}");
    assert_eq!(status.attempts, 1);

    // A valid call.
    let risk = customs
        .liaison()
        .check_seller(seller("demo-marketplace", "T-2"))
        .await
        .unwrap()
        .risk
        .unwrap();
    assert_eq!(risk.seller.unwrap().seller_id, "T-2");
    assert!(risk.score > 0.0);

    // An invalid request: INVALID_ARGUMENT with the server's field paths and reason.
    let error = customs
        .liaison()
        .check_seller(seller("demo-marketplace", " "))
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some(Code::InvalidArgument), "{error}");
    assert_eq!(error.reason(), Some("INVALID_ARGUMENT"));
    let fields: Vec<&str> = error
        .field_violations()
        .iter()
        .map(|violation| violation.field.as_str())
        .collect();
    assert_eq!(fields, ["seller.seller_id"]);
    let error = customs
        .liaison()
        .search_shipments(SearchShipmentsRequest {
            min_risk: 2.0,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(error.field_violations()[0].field, "min_risk");
    let error = customs
        .liaison()
        .submit_declarations(SubmitDeclarationsRequest {
            declarations: vec![],
        })
        .await
        .unwrap_err();
    assert_eq!(error.field_violations()[0].field, "declarations");

    // Declarations: an invalid one is rejected in its own result with its field paths;
    // a valid one is accepted, and a repeat (what a retry sends) is a DUPLICATE.
    let mut bad = declaration("ACX-CLIENT-BAD");
    bad.lines[0].hs_code = "12".to_owned();
    let good = declaration("ACX-CLIENT-1");
    let results = customs
        .liaison()
        .submit_declarations(SubmitDeclarationsRequest {
            declarations: vec![good.clone(), bad],
        })
        .await
        .unwrap()
        .results;
    assert_eq!(results[0].outcome(), DeclarationOutcome::Accepted);
    assert_eq!(results[0].lane(), Lane::Red, "{results:?}");
    assert_eq!(results[1].outcome(), DeclarationOutcome::Rejected);
    assert_eq!(
        results[1].violations[0].field,
        "declarations[1].lines[0].hs_code"
    );
    let again = customs
        .liaison()
        .submit_declarations(SubmitDeclarationsRequest {
            declarations: vec![good],
        })
        .await
        .unwrap()
        .results;
    assert_eq!(again[0].outcome(), DeclarationOutcome::Duplicate);
    let shipment = customs
        .liaison()
        .get_shipment(GetShipmentRequest {
            name: "shipments/ACX-CLIENT-1".to_owned(),
        })
        .await
        .unwrap()
        .shipment
        .unwrap();
    assert_eq!(shipment.assessment.unwrap().lane(), Lane::Red);

    // A missing shipment: NOT_FOUND, not retried.
    let error = customs
        .liaison()
        .get_shipment(GetShipmentRequest {
            name: "shipments/NOPE".to_owned(),
        })
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some(Code::NotFound));

    // A stream: the RED alerts from the start, the demo's and ours.
    let mut alerts = customs
        .liaison()
        .watch_alerts(WatchAlertsRequest {
            after_cursor: 0,
            lane: Lane::Red as i32,
            ..Default::default()
        })
        .await
        .unwrap();
    let first = tokio::time::timeout(Duration::from_secs(10), alerts.message())
        .await
        .expect("an alert in time")
        .unwrap()
        .expect("the stream is open");
    assert!(first.cursor > 0);
    assert!(first.shipment.is_some());
}

#[tokio::test]
async fn the_deadline_bounds_each_call() {
    let suite = TestSuite::start_with(false).await;
    let config = ClientConfig::new(format!("http://{}", suite.liaison))
        .with_token(suite.token("customs:demo-customs"))
        .with_deadline(Duration::from_millis(200))
        .with_retry(RetryPolicy::none());
    let client = Client::connect(config).await.unwrap();
    client
        .diagnostics()
        .echo(EchoRequest {
            message: "quick".to_owned(),
            delay: None,
        })
        .await
        .unwrap();

    // The server would wait 3 s before answering: the client stops at 200 ms.
    let started = std::time::Instant::now();
    let error = client
        .diagnostics()
        .echo(EchoRequest {
            message: "slow".to_owned(),
            delay: Some(prost_types::Duration {
                seconds: 3,
                nanos: 0,
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some(Code::DeadlineExceeded), "{error}");
    assert!(started.elapsed() < Duration::from_secs(2));

    // A longer deadline for one call lets it through.
    let answer = client
        .with_deadline(Duration::from_secs(5))
        .diagnostics()
        .echo(EchoRequest {
            message: "patient".to_owned(),
            delay: Some(prost_types::Duration {
                seconds: 0,
                nanos: 300_000_000,
            }),
        })
        .await
        .unwrap();
    assert_eq!(answer.message, "patient");
}

/// A price observation, as in `tests/tests/ingest.rs`.
fn price(report_id: &str) -> acx_proto::ingest::Report {
    use acx_proto::{
        common::{Money, ProductRef},
        ingest::{PriceObservation, Report, report::Kind},
    };
    Report {
        report_id: report_id.to_owned(),
        kind: Some(Kind::PriceObservation(PriceObservation {
            seller_id: "S1".to_owned(),
            product: Some(ProductRef {
                gtin: "4006381333931".to_owned(),
                platform_product_id: "B00TESTASIN".to_owned(),
                brand: "Stabilo".to_owned(),
                title: "Highlighter, 4 pack".to_owned(),
                hs_code: "9608.20".to_owned(),
            }),
            price: Some(Money {
                currency_code: "EUR".to_owned(),
                amount: "4.50".to_owned(),
            }),
            observe_time: Some(prost_types::Timestamp {
                seconds: 1_760_000_000,
                nanos: 0,
            }),
        })),
    }
}

#[tokio::test]
async fn streams_outlive_the_deadline() {
    use acx_proto::ingest::BulkLoadReportsRequest;
    let suite = TestSuite::start_with(true).await;
    let deadline = Duration::from_millis(300);
    let connect = |addr: std::net::SocketAddr, principal: &str| {
        let config = ClientConfig::new(format!("http://{addr}"))
            .with_token(suite.token(principal))
            .with_deadline(deadline);
        Client::connect(config)
    };

    // A bulk load whose batches come slower than the unary deadline.
    let ingest = connect(suite.ingest, "platform:demo-platform")
        .await
        .unwrap();
    let (batches, receiver) = tokio::sync::mpsc::channel(1);
    let mut progress = ingest
        .ingest()
        .bulk_load_reports(tokio_stream::wrappers::ReceiverStream::new(receiver))
        .await
        .unwrap();
    // (Ingest acknowledges a batch once it has read the next one or the end of the
    // stream: it stores one batch while reading the next.)
    for batch in 0..2 {
        tokio::time::sleep(deadline * 2).await;
        batches
            .send(BulkLoadReportsRequest {
                reports: vec![price(&format!("ACX-CLIENT-P-{batch}"))],
            })
            .await
            .unwrap();
    }
    drop(batches);
    for batch in 0..2 {
        let acknowledged = progress.message().await.unwrap().unwrap();
        assert_eq!(acknowledged.accepted, batch + 1, "{acknowledged:?}");
    }
    assert!(progress.message().await.unwrap().is_none(), "load complete");

    // An alert watch that waits longer than the deadline still sees a new alert live:
    // read the alerts already there until the stream has been quiet for twice the
    // deadline, then declare a new undervalued shipment.
    let customs = connect(suite.liaison, "customs:demo-customs")
        .await
        .unwrap();
    let mut alerts = customs
        .liaison()
        .watch_alerts(WatchAlertsRequest {
            after_cursor: 0,
            lane: Lane::Red as i32,
            ..Default::default()
        })
        .await
        .unwrap();
    while let Ok(alert) = tokio::time::timeout(deadline * 2, alerts.message()).await {
        assert!(alert.unwrap().is_some(), "the stream stays open");
    }
    customs
        .with_deadline(Duration::from_secs(10))
        .liaison()
        .submit_declarations(SubmitDeclarationsRequest {
            declarations: vec![declaration("ACX-CLIENT-LIVE")],
        })
        .await
        .unwrap();
    // On a busy machine the backlog may still be arriving: skip it to the live alert.
    let live = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let alert = alerts.message().await.unwrap();
            let alert = alert.expect("the stream is still open");
            if alert.shipment.unwrap().name == "shipments/ACX-CLIENT-LIVE" {
                return;
            }
        }
    });
    live.await.expect("the live alert in time");
}
