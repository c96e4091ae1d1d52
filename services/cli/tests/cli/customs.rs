//! `acxctl` as a customs authority uses it: declarations, shipments, inspection results and
//! alerts.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declarations_shipments_results_and_alerts_for_customs() {
    let suite = TestSuite::start_with(true).await;
    let dir = tempfile::tempdir().expect("temporary directory");

    // The demo's RED alerts, then the watch stops by itself.
    let watch = acxctl(
        &suite,
        CUSTOMS,
        &[
            "-o", "json", "alerts", "watch", "--lane", "red", "--max", "2",
        ],
    )
    .await;
    assert_eq!(watch.code, 0, "{watch:#?}");
    let mut names: Vec<String> = watch
        .stdout
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).expect("one JSON object per line"))
        .map(|alert| {
            assert_eq!(alert["shipment"]["assessment"]["lane"], "LANE_RED");
            // What raised it, beside the shipment as it is now.
            assert_eq!(alert["lane"], "LANE_RED", "{alert}");
            assert!(alert["risk"].as_f64().is_some_and(|r| r > 0.0), "{alert}");
            assert!(alert["cursor"].is_string(), "int64 as a string");
            alert["shipment"]["name"].as_str().unwrap_or("").to_owned()
        })
        .collect();
    names.sort();
    assert_eq!(names, ["shipments/DEMO-1001", "shipments/DEMO-1002"]);
    let human = acxctl(&suite, CUSTOMS, &["alerts", "watch", "--max", "1"]).await;
    assert_eq!(human.code, 0, "{human:#?}");
    assert_eq!(human.stdout.lines().count(), 1);
    assert!(human.stdout.contains("red"), "{human:#?}");

    // The example files: CSV (two declarations, one with two lines) and JSON Lines.
    let csv = examples().join("declarations.csv");
    let run = acxctl(
        &suite,
        CUSTOMS,
        &["-o", "json", "declarations", "submit", path(&csv)],
    )
    .await;
    assert_eq!(run.code, 0, "{run:#?}");
    let answer = run.json();
    assert_eq!(answer["accepted"], 2, "{answer:#?}");
    assert_eq!(answer["results"][0]["declarationId"], "EX-CSV-1");
    assert_eq!(answer["results"][0]["line"], 2);
    assert_eq!(
        answer["results"][1]["assessmentState"],
        "ASSESSMENT_STATE_ASSESSED"
    );
    let jsonl = examples().join("declarations.jsonl");
    let run = acxctl(&suite, CUSTOMS, &["declarations", "submit", path(&jsonl)]).await;
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(run.stdout.contains("EX-JSON-1"), "{run:#?}");
    assert!(run.stdout.contains("1 accepted"), "{run:#?}");
    // Again: duplicates, still success.
    let run = acxctl(&suite, CUSTOMS, &["declarations", "submit", path(&csv)]).await;
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(run.stdout.contains("2 duplicate"), "{run:#?}");

    // A file with bad declarations: each named with its line and field violations.
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "declaration_id,customs_office,origin_country,hs_code,quantity,currency,declared_value\n\
         B-1,USLAX,XX,12,0,USD,abc\n\
         B-2,USLAX,CN,851830,10,USD,100.00\n\
         B-3,USLAX,CN,851830,ten,USD,100.00\n",
    )
    .expect("written");
    let run = acxctl(
        &suite,
        CUSTOMS,
        &["-o", "json", "declarations", "submit", path(&bad)],
    )
    .await;
    assert_eq!(run.code, 3, "{run:#?}");
    let answer = run.json();
    let results = answer["results"].as_array().expect("results");
    assert_eq!(results.len(), 3);
    assert_eq!(results[0]["line"], 2);
    assert_eq!(results[0]["outcome"], "DECLARATION_OUTCOME_REJECTED");
    let fields: Vec<&str> = results[0]["violations"]
        .as_array()
        .expect("violations")
        .iter()
        .filter_map(|v| v["field"].as_str())
        .collect();
    assert!(fields.contains(&"origin_country"), "{fields:?}");
    assert!(fields.contains(&"lines[0].hs_code"), "{fields:?}");
    assert_eq!(results[2]["line"], 4);
    assert_eq!(results[2]["outcome"], "UNPARSEABLE");

    // Search: the table, and its JSON.
    let table = acxctl(
        &suite,
        CUSTOMS,
        &["shipments", "search", "--office", "USLAX", "--lane", "red"],
    )
    .await;
    assert_eq!(table.code, 0, "{table:#?}");
    let header = table.stdout.lines().next().unwrap_or_default();
    assert!(header.starts_with("SHIPMENT"), "{table:#?}");
    assert!(header.contains("TOP REASON"), "{table:#?}");
    assert!(table.stdout.contains("DEMO-1001"), "{table:#?}");
    assert!(table.stdout.contains("DEMO-1002"), "{table:#?}");
    assert!(!table.stdout.contains("DEMO-2000"), "{table:#?}");
    let found = acxctl(
        &suite,
        CUSTOMS,
        &[
            "-o",
            "json",
            "shipments",
            "search",
            "--importer",
            "US-IMP-9002",
        ],
    )
    .await
    .json();
    assert_eq!(found["shipments"][0]["name"], "shipments/EX-CSV-2");
    assert_eq!(
        found["shipments"][0]["declaration"]["lines"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );

    // Details, then the inspection result, once.
    let shipment = acxctl(&suite, CUSTOMS, &["shipments", "get", "DEMO-1001"]).await;
    assert_eq!(shipment.code, 0, "{shipment:#?}");
    assert!(shipment.stdout.contains("lane red"), "{shipment:#?}");
    assert!(
        shipment.stdout.contains("DECLARED_VALUE_BELOW_MARKET"),
        "{shipment:#?}"
    );
    let record = [
        "-o",
        "json",
        "shipments",
        "record-result",
        "DEMO-1001",
        "--kind",
        "counterfeit-seized",
        "--seized-quantity",
        "500",
        "--note",
        "found in the parcel",
    ];
    let recorded = acxctl(&suite, CUSTOMS, &record).await;
    assert_eq!(recorded.code, 0, "{recorded:#?}");
    let shipment = recorded.json();
    assert_eq!(
        shipment["inspectionResult"]["kind"],
        "OUTCOME_KIND_COUNTERFEIT_SEIZED"
    );
    assert_eq!(
        acxctl(&suite, CUSTOMS, &record).await.code,
        0,
        "a repeat is harmless"
    );
    let other = acxctl(
        &suite,
        CUSTOMS,
        &[
            "shipments",
            "record-result",
            "DEMO-1001",
            "--kind",
            "cleared",
        ],
    )
    .await;
    assert_eq!(other.code, 7, "a different result conflicts: {other:#?}");
    assert!(other.stderr.contains("ALREADY_EXISTS"), "{other:#?}");
}

/// An inspection result's amounts are in the declaration's currency unless `--currency`
/// says otherwise (found by a tester: they went in as USD on declarations in KRW and EUR),
/// and a declaration in several currencies needs `--currency`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_results_amounts_are_in_the_declarations_currency() {
    use acx_proto::{
        common::Money,
        liaison::{SubmitDeclarationsRequest, liaison_service_client::LiaisonServiceClient},
    };
    let suite = TestSuite::start().await;
    let in_currencies = |id: &str, currencies: &[&str]| {
        let mut declared = acx_tests::fixtures::declaration(id);
        let template = declared.lines[0].clone();
        declared.lines = currencies
            .iter()
            .enumerate()
            .map(|(i, currency)| {
                let mut line = template.clone();
                line.line_number = i as i32 + 1;
                line.declared_value = Some(Money {
                    currency_code: (*currency).to_owned(),
                    amount: "100".to_owned(),
                });
                line
            })
            .collect();
        declared
    };
    LiaisonServiceClient::new(channel(suite.liaison).await)
        .submit_declarations(authorized(
            SubmitDeclarationsRequest {
                declarations: vec![
                    in_currencies("IN-EUR", &["EUR", "EUR"]),
                    in_currencies("IN-MIXED", &["EUR", "USD"]),
                ],
            },
            &suite.token(CUSTOMS),
        ))
        .await
        .expect("declarations submitted");
    let record = |id: &'static str| {
        [
            "-o",
            "json",
            "shipments",
            "record-result",
            id,
            "--kind",
            "undervaluation-confirmed",
            "--assessed-value",
            "450",
        ]
    };
    let recorded = acxctl(&suite, CUSTOMS, &record("IN-EUR")).await;
    assert_eq!(recorded.code, 0, "{recorded:#?}");
    assert_eq!(
        recorded.json()["inspectionResult"]["assessedValue"]["currencyCode"],
        "EUR"
    );
    let mixed = acxctl(&suite, CUSTOMS, &record("IN-MIXED")).await;
    assert_eq!(mixed.code, 2, "{mixed:#?}");
    assert!(mixed.stderr.contains("--currency"), "{mixed:#?}");
    let mut told = record("IN-MIXED").to_vec();
    told.extend(["--currency", "USD"]);
    assert_eq!(acxctl(&suite, CUSTOMS, &told).await.code, 0);
}

/// Large declarations go in calls the services take: a batch is cut by bytes as well as by
/// count, and a declaration over 1 MiB is refused on its line without being sent (found by
/// a tester: ten consolidations of 30,000 tracking numbers made one 5 MB call, refused as a
/// whole with RESOURCE_EXHAUSTED, which acxctl reported as "retry later", exit 6).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_declarations_go_in_calls_that_fit_and_one_over_1_mib_is_refused_on_its_line() {
    let suite = TestSuite::start().await;
    let dir = tempfile::tempdir().expect("temporary directory");
    let declaration = |id: &str, parcels: usize| {
        let tracking: Vec<String> = (0..parcels).map(|i| format!("\"LX{i:09}CN\"")).collect();
        format!(
            r#"{{"declarationId": "{id}", "declarationTime": "2026-10-09T08:00:00Z", "customsOffice": "USLAX", "procedure": "PROCEDURE_HOME_USE", "importerId": "US-IMP-9003", "consignment": {{"trackingNumbers": [{}]}}, "originCountry": "CN", "lines": [{{"lineNumber": 1, "hsCode": "9503.00", "quantity": 1000, "netMassKg": 250, "declaredValue": {{"currencyCode": "USD", "amount": "4200.00"}}}}]}}"#,
            tracking.join(", ")
        )
    };
    let mut lines: Vec<String> = (0..10)
        .map(|i| declaration(&format!("CONSOL-{i}"), 30_000))
        .collect();
    lines.insert(4, declaration("CONSOL-HUGE", 80_000));
    let file = dir.path().join("consolidations.jsonl");
    std::fs::write(&file, lines.join("\n") + "\n").expect("written");

    let run = acxctl(
        &suite,
        CUSTOMS,
        // 300,000 tracking numbers take seconds of a debug build's deadline of 10 s.
        &[
            "--deadline",
            "60s",
            "-o",
            "json",
            "declarations",
            "submit",
            path(&file),
        ],
    )
    .await;
    assert_eq!(run.code, 3, "one refused, the rest taken: {run:#?}");
    let answer = run.json();
    assert_eq!(answer["accepted"], 10, "{answer:#?}");
    assert_eq!(answer["rejected"], 1, "{answer:#?}");
    let refused = &answer["results"][4];
    assert_eq!(refused["line"], 5, "{refused:#?}");
    assert_eq!(refused["declarationId"], "CONSOL-HUGE");
    assert_eq!(refused["outcome"], "DECLARATION_OUTCOME_REJECTED");
    let why = refused["violations"][0]["description"]
        .as_str()
        .unwrap_or("");
    assert!(
        why.ends_with("at most 1048576 (1 MiB) per declaration"),
        "{why}"
    );

    // Human output names the whole declaration's problem on its line.
    let again = acxctl(
        &suite,
        CUSTOMS,
        &["--deadline", "60s", "declarations", "submit", path(&file)],
    )
    .await;
    assert_eq!(again.code, 3, "{again:#?}");
    assert!(again.stdout.contains("10 duplicate"), "{again:#?}");
    let row = again
        .stdout
        .lines()
        .find(|l| l.contains("CONSOL-HUGE"))
        .unwrap_or_default();
    assert!(row.contains("(1 MiB) per declaration"), "{row}");
}
