//! What reaches scoring: every field of a declaration intact, the reference rates replaced
//! at run time, and the same rules when scoring is asked directly.

use super::*;

#[tokio::test]
async fn every_field_of_a_declaration_reaches_scoring_intact() {
    let suite = TestSuite::start().await;
    let mut declared = as_customs_send_it("FULL-1");
    declared.procedure = Procedure::InwardProcessing as i32;
    declared.carrier_id = "COURIER-7".to_owned();
    declared.marketplace = "amazon".to_owned();
    declared.seller = Some(acx_proto::common::SellerAccountRef {
        platform: "amazon".to_owned(),
        seller_id: "A-77".to_owned(),
    });
    declared.consignment = Some(ConsignmentNumbers {
        tracking_numbers: vec!["1ZFULL".to_owned()],
        bills_of_lading: vec!["BOL-1".to_owned()],
        air_waybills: vec!["176-12345675".to_owned()],
    });
    let line = &mut declared.lines[0];
    line.description = "rice".to_owned();
    line.quantity = 20.0;
    line.quantity_unit = "KGM".to_owned();
    line.net_mass_kg = 20.0;
    line.gross_mass_kg = 21.5;
    line.valuation_basis = ValuationBasis::Cif as i32;
    line.declared_duty = money("KRW", "1822.2");
    accepted(&submit(&suite, vec![declared]).await);
    let stored = shipment(&suite, "FULL-1").await;
    let canonical = stored.declaration.unwrap();

    // What scoring recorded: the declaration as it stores it for every later assessment
    // and for the models trained on these fields.
    let scoring_db = suite.data_dir.path().join("scoring.db");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", scoring_db.display()))
        .await
        .unwrap();
    // Recorded declarations are entries of scoring's history (kind 2), which every replica
    // applies.
    let (payload,): (Vec<u8>,) = sqlx::query_as("SELECT payload FROM history WHERE kind = 2")
        .fetch_one(&pool)
        .await
        .unwrap();
    let recorded = acx_scoring::history::DeclarationEntry::decode(payload.as_slice())
        .unwrap()
        .shipment
        .unwrap();
    let l = &recorded.lines[0];
    let c = &canonical.lines[0];
    assert_eq!(recorded.authority, "demo-customs");
    assert_eq!(
        (
            &recorded.declaration_id,
            recorded.declaration_time,
            &recorded.customs_office,
            recorded.procedure,
            recorded.transport_mode,
            &recorded.importer_id,
            &recorded.declarant_id,
            &recorded.consignor_id,
        ),
        (
            &canonical.declaration_id,
            canonical.declaration_time,
            &canonical.customs_office,
            canonical.procedure,
            canonical.transport_mode,
            &canonical.importer_id,
            &canonical.declarant_id,
            &canonical.consignor_id,
        )
    );
    assert_eq!(
        (
            &recorded.carrier_id,
            &recorded.consignment,
            &recorded.departure_country,
            &recorded.origin_country,
            &recorded.marketplace,
            &recorded.seller,
            &recorded.national_codes,
        ),
        (
            &canonical.carrier_id,
            &canonical.consignment,
            &canonical.departure_country,
            &canonical.origin_country,
            &canonical.marketplace,
            &canonical.seller,
            &canonical.national_codes,
        )
    );
    assert_eq!(
        (
            l.line_number,
            &l.hs_code,
            &l.description,
            l.quantity,
            &l.quantity_unit,
            l.net_mass_kg,
            l.gross_mass_kg,
            &l.declared_value,
            l.valuation_basis,
            l.duty_rate,
            &l.declared_duty,
            &l.national_codes,
        ),
        (
            c.line_number,
            &c.hs_code,
            &c.description,
            c.quantity,
            &c.quantity_unit,
            c.net_mass_kg,
            c.gross_mass_kg,
            &c.declared_value,
            c.valuation_basis,
            c.duty_rate,
            &c.declared_duty,
            &c.national_codes,
        )
    );
    assert_eq!(recorded.national_codes.len(), 3);
    assert_eq!(l.national_codes.len(), 2);
}

/// Scoring started alone on `rates` (a file in the ECB's format), with a liaison token.
async fn scoring_with_rates(
    dir: &std::path::Path,
    rates: &str,
) -> Result<(acx_runtime::Shutdown, std::net::SocketAddr, String), acx_scoring::Error> {
    let token = acx_runtime::credentials::generate_token();
    let tokens = acx_tests::tokens_file(dir, &token, "service:liaison");
    let rates_file = dir.join("rates.csv");
    std::fs::write(&rates_file, rates).unwrap();
    let mut server = acx_runtime::ServerConfig::local(dir);
    server.listen_addr = Some("127.0.0.1:0".parse().unwrap());
    server.tokens_file = Some(tokens);
    let shutdown = acx_runtime::Shutdown::new();
    let config = acx_scoring::Config {
        reference_rates_file: Some(rates_file),
        ..acx_scoring::Config::standalone(server)
    };
    let running = acx_scoring::start(&config, shutdown.clone()).await?;
    Ok((shutdown, running.local_addr, token))
}

#[tokio::test]
async fn the_reference_rates_are_replaced_at_run_time_by_a_file_in_the_ecb_format() {
    let dir = tempfile::tempdir().unwrap();
    // A table of one's own: AED (which the ECB does not publish) at 4 per euro, the euro
    // at 1.2 USD, from 2026-01-01 on; and an older row at other rates.
    let table = "Date,USD,AED,\n2026-01-01,1.2,4.0,\n2019-01-01,1.1,4.4,\n";
    let (shutdown, addr, token) = scoring_with_rates(dir.path(), table).await.unwrap();
    let mut scoring = ScoringServiceClient::new(channel(addr).await);
    let assess = |seconds: i64| DeclaredShipment {
        declaration_id: format!("R-{seconds}"),
        authority: "customs-x".to_owned(),
        importer_id: "I".to_owned(),
        customs_office: "O".to_owned(),
        origin_country: "AE".to_owned(),
        declaration_time: Some(prost_types::Timestamp { seconds, nanos: 0 }),
        lines: vec![acx_proto::scoring::DeclaredLine {
            line_number: 1,
            hs_code: "851830".to_owned(),
            quantity: 10.0,
            net_mass_kg: 1.0,
            declared_value: money("AED", "100"),
            ..Default::default()
        }],
        ..Default::default()
    };
    let mut unit_value = async |seconds: i64| {
        let request = AssessShipmentRequest {
            shipment: Some(assess(seconds)),
            record: false,
        };
        let assessment = scoring
            .assess_shipment(authorized(request, &token))
            .await
            .unwrap()
            .into_inner()
            .assessment
            .unwrap();
        assert!(
            assessment.lines[0].skipped_comparisons.is_empty(),
            "{assessment:#?}"
        );
        assessment.lines[0].declared_unit_value_usd
    };
    // 100 AED = 25 EUR = 30 USD in 2026; = 100 / 4.4 × 1.1 = 25 USD in 2019.
    assert_eq!(unit_value(now_seconds() - 3600).await, 3.0);
    assert_eq!(unit_value(1_560_000_000).await, 2.5);
    shutdown.trigger();

    // A file that is not a table of rates stops scoring at start-up, naming the line.
    let other = tempfile::tempdir().unwrap();
    let error = scoring_with_rates(other.path(), "Date,USD\n2026-01-01,1\n2026-02-30,1\n")
        .await
        .map(|_| ())
        .unwrap_err();
    let chain = acx_runtime::error::cause_chain(&error);
    assert!(chain.contains("line 3"), "{chain}");
    assert!(chain.contains("2026-02-30"), "{chain}");
}

#[tokio::test]
async fn scoring_applies_the_same_rules_when_asked_directly() {
    let suite = TestSuite::start().await;
    let mut scoring = ScoringServiceClient::new(channel(suite.scoring).await);
    let token = suite.token("service:liaison");
    let mut shipment = DeclaredShipment {
        declaration_id: "S-1".to_owned(),
        authority: "x".to_owned(),
        importer_id: "I".to_owned(),
        customs_office: "O".to_owned(),
        origin_country: "zz".to_owned(),
        transport_mode: acx_proto::common::TransportMode::Other as i32,
        lines: vec![acx_proto::scoring::DeclaredLine {
            line_number: 1,
            hs_code: "9903.88.15".to_owned(),
            declared_value: money("HUF", "1250000.0000001"),
            duty_rate: 3.0,
            ..Default::default()
        }],
        ..Default::default()
    };
    let request = AssessShipmentRequest {
        shipment: Some(shipment.clone()),
        record: false,
    };
    let answer = scoring
        .assess_shipment(authorized(request, &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        reason_codes(&answer.assessment.unwrap()),
        ["NATIONAL_TARIFF_CODE"]
    );
    shipment.lines[0].line_number = -1;
    shipment.lines[0].quantity = -1.0;
    let request = AssessShipmentRequest {
        shipment: Some(shipment),
        record: false,
    };
    let status = scoring
        .assess_shipment(authorized(request, &token))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    // Every field is in the BadRequest details (the message names the first and counts the
    // others: errors are bounded).
    let details = tonic_types::StatusExt::get_error_details(&status);
    let fields: Vec<&str> = details
        .bad_request()
        .unwrap()
        .field_violations
        .iter()
        .map(|v| v.field.as_str())
        .collect();
    for field in [
        "shipment.lines[0].line_number",
        "shipment.lines[0].quantity",
    ] {
        assert!(fields.contains(&field), "{field} in {fields:?}");
    }
}
