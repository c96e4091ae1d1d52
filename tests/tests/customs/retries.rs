//! A retry is the same declaration however its codes are written: consignment numbers with
//! other spaces, hyphens, dashes or case, a quantity unit in another case, a padded
//! description. Found by a tester: `1Z 999 AA1 …` against `1Z999AA1 …` and `pce` against
//! `PCE` answered ALREADY_EXISTS, and the stored declaration kept the noise. Declarations
//! stored before these were canonical stay the same declaration after an upgrade.

use acx_runtime::Database;

use super::*;

/// A declaration of 500 earbuds at 1.00 each on one tracking number, bill of lading and air
/// waybill, with the codes written as given, declared at one time whenever it is built (a
/// retry built a second later is otherwise another declaration: [`an_hour_ago`]).
fn noisy(id: &str, tracking: &str, lading: &str, waybill: &str, unit: &str) -> Declaration {
    let mut declared = declaration(
        id,
        vec![line(1, "8518.30", 500.0, 40.0, money("USD", "500.00"))],
    );
    declared.consignment = Some(ConsignmentNumbers {
        tracking_numbers: vec![tracking.to_owned()],
        bills_of_lading: vec![lading.to_owned()],
        air_waybills: vec![waybill.to_owned()],
    });
    declared.lines[0].quantity_unit = unit.to_owned();
    declared.lines[0].description = "  wireless earphones\t".to_owned();
    declared
}

fn outcomes(results: &[DeclarationResult]) -> Vec<DeclarationOutcome> {
    results.iter().map(DeclarationResult::outcome).collect()
}

#[tokio::test]
async fn a_retry_is_a_duplicate_however_its_codes_are_written() {
    let suite = TestSuite::start().await;
    earbuds_notice(&suite, "S-NOISE", "1Z999AA10123456784").await;
    let first = submit(
        &suite,
        vec![noisy(
            "NOISE-1",
            "1Z999AA1-0123-456784",
            "maeu 123456789",
            "176\u{2013}12345675",
            " pce ",
        )],
    )
    .await;
    accepted(&first);

    // Stored in canonical form, and still matched to the platform's notice.
    let stored = shipment(&suite, "NOISE-1").await;
    let declared = stored.declaration.as_ref().unwrap();
    let consignment = declared.consignment.as_ref().unwrap();
    assert_eq!(consignment.tracking_numbers, ["1Z999AA10123456784"]);
    assert_eq!(consignment.bills_of_lading, ["MAEU123456789"]);
    assert_eq!(consignment.air_waybills, ["17612345675"]);
    assert_eq!(declared.lines[0].quantity_unit, "PCE");
    assert_eq!(declared.lines[0].description, "wireless earphones");
    let anomaly = &assessment(&stored).lines[0].anomalies[0];
    assert_eq!(anomaly.code, "DECLARED_VALUE_BELOW_MARKET", "{stored:#?}");

    // The same declaration written otherwise, in another call and twice in one batch.
    let again = submit(
        &suite,
        vec![
            noisy(
                "NOISE-1",
                "1z 999 aa1 01 2345 6784",
                "MAEU-1234-56789",
                "176 1234 5675",
                "PCE",
            ),
            noisy(
                "NOISE-2",
                "1Z999AA10123456784",
                "MAEU123456789",
                "17612345675",
                "pce",
            ),
            noisy(
                "NOISE-2",
                "1Z 999 AA1 0123 456784",
                "maeu123456789",
                "\u{ff11}\u{ff17}\u{ff16}-12345675",
                "Pce",
            ),
        ],
    )
    .await;
    assert_eq!(
        outcomes(&again),
        [
            DeclarationOutcome::Duplicate,
            DeclarationOutcome::Accepted,
            DeclarationOutcome::Duplicate
        ],
        "{again:#?}"
    );
    assert_eq!(
        (again[0].lane, again[0].risk),
        (first[0].lane, first[0].risk)
    );

    // The same numbers in another order or repeated, a soft hyphen, a description typed
    // with combining accents: the same declaration too (found by a second tester).
    let mut reordered = noisy(
        "NOISE-1",
        "1Z999AA10123456784",
        "MAEU123456789",
        "17612345675",
        "PCE",
    );
    let consignment = reordered.consignment.as_mut().unwrap();
    consignment.air_waybills = vec!["176\u{ad}12345675".to_owned(), "17612345675".to_owned()];
    consignment.tracking_numbers = vec!["1Z999AA10123456784".to_owned()];
    let mut accented = noisy("NOISE-3", "1Z1", "MAEU1", "1761", "PCE");
    accented.lines[0].description = "Caf\u{e9} cr\u{e8}me mugs".to_owned();
    let mut decomposed = accented.clone();
    decomposed.lines[0].description = "Cafe\u{301} cre\u{300}me mugs".to_owned();
    let mut two = noisy("NOISE-4", "EE123456789CN", "MAEU1", "1761", "PCE");
    two.consignment.as_mut().unwrap().tracking_numbers =
        vec!["EE123456789CN".to_owned(), "1Z999AA10123456784".to_owned()];
    let mut swapped = two.clone();
    swapped
        .consignment
        .as_mut()
        .unwrap()
        .tracking_numbers
        .reverse();
    let same = submit(&suite, vec![reordered, accented, decomposed, two, swapped]).await;
    assert_eq!(
        outcomes(&same),
        [
            DeclarationOutcome::Duplicate,
            DeclarationOutcome::Accepted,
            DeclarationOutcome::Duplicate,
            DeclarationOutcome::Accepted,
            DeclarationOutcome::Duplicate
        ],
        "{same:#?}"
    );
    let stored = shipment(&suite, "NOISE-4").await;
    let declared = stored.declaration.unwrap();
    assert_eq!(
        declared.consignment.unwrap().tracking_numbers,
        ["1Z999AA10123456784", "EE123456789CN"]
    );

    // A symbol is no letter: `№ LX…` was stored as `NOLX…` (NFKC) and so matched no notice.
    let symbol = submit(
        &suite,
        vec![noisy(
            "NOISE-5",
            "\u{2116} LX123456789CN",
            "MAEU1",
            "1761",
            "PCE",
        )],
    )
    .await;
    assert_eq!(outcomes(&symbol), [DeclarationOutcome::Rejected]);
    assert_eq!(
        symbol[0].violations[0].field,
        "declarations[0].consignment.tracking_numbers[0]"
    );

    // An id far too long is refused and echoed cut to 128 characters (a tester's 200,000
    // came back whole).
    let long = submit(
        &suite,
        vec![noisy(&"Z".repeat(200_000), "1Z1", "MAEU1", "1761", "PCE")],
    )
    .await;
    assert_eq!(outcomes(&long), [DeclarationOutcome::Rejected]);
    assert_eq!(long[0].declaration_id, "Z".repeat(128));

    // Another number, or a unit that means something else, is another declaration.
    let other = submit(
        &suite,
        vec![
            noisy(
                "NOISE-1",
                "1Z999AA10123456784",
                "MAEU123456789",
                "17612345686",
                "PCE",
            ),
            noisy(
                "NOISE-1",
                "1Z999AA10123456784",
                "MAEU123456789",
                "17612345675",
                "DZN",
            ),
        ],
    )
    .await;
    assert_eq!(
        outcomes(&other),
        [
            DeclarationOutcome::AlreadyExists,
            DeclarationOutcome::AlreadyExists
        ],
        "{other:#?}"
    );
}

/// Rewrites the stored declaration `id` in liaison's database as an earlier version stored
/// it: `payload` as sent, its content hash over those bytes.
async fn store_as_before(suite: &TestSuite, id: &str, payload: &Declaration) {
    let url = format!(
        "sqlite://{}",
        suite.data_dir.path().join("liaison.db").display()
    );
    let Database::Sqlite(pool) = Database::connect(&url).await.unwrap() else {
        unreachable!("the suite's liaison runs on SQLite");
    };
    let bytes = payload.encode_to_vec();
    let done = sqlx::query(
        "UPDATE declarations SET payload = $1, content_hash = $2 WHERE declaration_id = $3",
    )
    .bind(&bytes)
    .bind(acx_liaison::declarations::content_hash(&bytes))
    .bind(id)
    .execute(&pool)
    .await
    .unwrap();
    assert_eq!(done.rows_affected(), 1);
    pool.close().await;
}

#[tokio::test]
async fn a_declaration_stored_with_its_codes_as_sent_is_still_the_same_declaration() {
    let suite = TestSuite::start().await;
    let as_sent = || {
        noisy(
            "OLD-1",
            "1z 999 aa1 01 2345 6784",
            "maeu 1234-56789",
            "176-12345675",
            "pce",
        )
    };
    accepted(&submit(&suite, vec![as_sent()]).await);
    // As an earlier version stored it: the codes as sent (the id and amounts canonical).
    let mut before = as_sent();
    before.lines[0].hs_code = "851830".to_owned();
    store_as_before(&suite, "OLD-1", &before).await;

    let retries = submit(
        &suite,
        vec![
            as_sent(),
            noisy(
                "OLD-1",
                "1Z999AA10123456784",
                "MAEU123456789",
                "17612345675",
                "PCE",
            ),
            noisy(
                "OLD-1",
                "1Z999AA10123456784",
                "MAEU123456789",
                "17612345686",
                "PCE",
            ),
        ],
    )
    .await;
    assert_eq!(
        outcomes(&retries),
        [
            DeclarationOutcome::Duplicate,
            DeclarationOutcome::Duplicate,
            DeclarationOutcome::AlreadyExists
        ],
        "{retries:#?}"
    );
}

/// Float noise is not content (found by a tester: 440 of 20,000 KCS declarations resent
/// with the duty rate computed as `5.2 / 100` or a mass of `112.50000000000001` answered
/// ALREADY_EXISTS, and the evaluation dropped their outcomes): quantities, masses and rates
/// are kept to the millionth, so the retry is DUPLICATE in either direction, also against a
/// declaration an earlier version stored with its noise; an inspection result's seized
/// quantity likewise.
#[tokio::test]
async fn a_retry_with_float_noise_is_the_same_declaration_and_result() {
    use acx_proto::{
        common::OutcomeKind,
        liaison::{InspectionResult, RecordInspectionResultRequest},
    };
    let suite = TestSuite::start().await;
    let declared = |id: &str, rate: f64, kg: f64, quantity: f64| {
        let mut declared = noisy(
            id,
            "1Z999AA10123456784",
            "MAEU123456789",
            "17612345675",
            "PCE",
        );
        let line = &mut declared.lines[0];
        (line.duty_rate, line.net_mass_kg, line.gross_mass_kg) = (rate, kg, 0.0);
        line.quantity = quantity;
        declared
    };
    let noise = (5.2 / 100.0, 112.500_000_000_000_01, 0.1 + 0.2);
    let clean = (0.052, 112.5, 0.3);
    accepted(&submit(&suite, vec![declared("FLOAT-1", noise.0, noise.1, noise.2)]).await);
    accepted(&submit(&suite, vec![declared("FLOAT-2", clean.0, clean.1, clean.2)]).await);
    let stored = shipment(&suite, "FLOAT-1").await;
    let line = &stored.declaration.as_ref().unwrap().lines[0];
    assert_eq!(
        (line.duty_rate, line.net_mass_kg, line.quantity),
        clean,
        "{line:#?}"
    );
    // As an earlier version stored it: with the noise.
    store_as_before(
        &suite,
        "FLOAT-2",
        &declared("FLOAT-2", noise.0, noise.1, noise.2),
    )
    .await;
    let retries = submit(
        &suite,
        vec![
            declared("FLOAT-1", clean.0, clean.1, clean.2),
            declared("FLOAT-2", clean.0, clean.1, clean.2),
            declared("FLOAT-2", noise.0, noise.1, noise.2),
            declared("FLOAT-1", 0.053, clean.1, clean.2),
        ],
    )
    .await;
    assert_eq!(
        outcomes(&retries),
        [
            DeclarationOutcome::Duplicate,
            DeclarationOutcome::Duplicate,
            DeclarationOutcome::Duplicate,
            DeclarationOutcome::AlreadyExists
        ],
        "{retries:#?}"
    );

    let mut liaison = liaison(&suite).await;
    let token = suite.token(CUSTOMS);
    // One time for both calls: a retry computed a second later would be a different result.
    let inspected = now_seconds() - 60;
    let record = |seized: f64| {
        authorized(
            RecordInspectionResultRequest {
                name: "shipments/FLOAT-1".to_owned(),
                result: Some(InspectionResult {
                    kind: OutcomeKind::CounterfeitSeized as i32,
                    seized_quantity: seized,
                    inspect_time: Some(prost_types::Timestamp {
                        seconds: inspected,
                        nanos: 0,
                    }),
                    ..Default::default()
                }),
            },
            &token,
        )
    };
    let first = liaison.record_inspection_result(record(0.1 + 0.2)).await;
    let retry = liaison.record_inspection_result(record(0.3)).await;
    let seized = first.unwrap().into_inner().shipment.unwrap();
    assert_eq!(seized.inspection_result.unwrap().seized_quantity, 0.3);
    assert!(retry.is_ok(), "{retry:?}");
}
