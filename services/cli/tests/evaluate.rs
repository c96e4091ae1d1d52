//! `acxctl evaluate` end to end: the real binary replays a slice of the development data
//! (the earliest 1,200 declarations of the learning window with their outcomes, then the
//! earliest 400 of the evaluation window) into the real suite started in this process, and
//! its report is checked against the data and against the risks read independently through
//! liaison. It does not judge how well ACX targets (that is the documented benchmark);
//! it proves the measurement complete and right. Then the generator's data, which carries
//! revenue, and a rerun, which must not fail.
//!
//! The data lies beside the repository (`shared/data/kcs-2020/`, or `ACX_KCS_2020_CSV`);
//! without it the test says so and skips.

#![allow(clippy::unwrap_used)]

use std::collections::HashSet;

use acx_cli::{
    evaluate::metrics::{self, HsBaseline, Scored},
    kcs,
};
use acx_proto::liaison::{GetShipmentRequest, liaison_service_client::LiaisonServiceClient};
use acx_tests::{TestSuite, authorized, channel};
use serde_json::Value;

const LEARN: usize = 1200;
const EVALUATE: usize = 400;
/// 2020-10-01T00:00:00Z: the evaluation window of the default split starts here.
const OCTOBER: i64 = 1_601_510_400;

fn data_file() -> Option<std::path::PathBuf> {
    if let Some(path) = std::env::var_os("ACX_KCS_2020_CSV") {
        return Some(path.into());
    }
    let found = kcs::find_data_file(std::path::Path::new(env!("CARGO_MANIFEST_DIR")));
    if found.is_none() {
        eprintln!(
            "skipping: {} not found above the repository (set ACX_KCS_2020_CSV)",
            kcs::DATA_FILE
        );
    }
    found
}

/// Runs `acxctl evaluate ARGS --output json` against `suite`; the exit code and the report.
async fn evaluate(suite: &TestSuite, token: Option<&str>, args: &[&str]) -> (i32, Value) {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_acxctl"));
    command
        .args(["--output", "json", "evaluate"])
        .args(args)
        .env("ACX_LIAISON_ENDPOINT", format!("http://{}", suite.liaison))
        .env_remove("ACX_TOKEN")
        .env_remove("ACX_TOKEN_FILE")
        .env_remove("ACX_PRINCIPAL")
        .env_remove("ACX_OUTPUT")
        .kill_on_drop(true);
    if let Some(token) = token {
        command.env("ACX_TOKEN", token);
    }
    let started = std::time::Instant::now();
    let output = command.output().await.expect("acxctl runs");
    eprintln!(
        "acxctl evaluate {args:?}: {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {stdout}\nstderr: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output.status.code().unwrap_or(-1), report)
}

fn number(value: &Value) -> f64 {
    value
        .as_f64()
        .unwrap_or_else(|| panic!("{value} is not a number"))
}

fn count(value: &Value) -> u64 {
    value
        .as_u64()
        .unwrap_or_else(|| panic!("{value} is not a count"))
}

/// Every figure of a ranking is a fraction; precision has one per level.
fn assert_sane(name: &str, metrics: &Value, with_revenue: bool) {
    let precision = metrics["precision"].as_array().unwrap();
    assert_eq!(precision.len(), 4, "{name}: {metrics}");
    for value in precision {
        assert!((0.0..=1.0).contains(&number(value)), "{name}: {metrics}");
    }
    let auc = number(&metrics["auc"]);
    assert!((0.0..=1.0).contains(&auc), "{name}: {metrics}");
    match metrics["revenue"].as_array() {
        Some(revenue) => {
            assert!(with_revenue, "{name}: revenue without a source of it");
            assert_eq!(revenue.len(), 4);
            let values: Vec<f64> = revenue.iter().map(number).collect();
            assert!(values.iter().all(|v| (0.0..=1.0 + 1e-12).contains(v)));
            assert!(
                values.windows(2).all(|w| w[0] <= w[1] + 1e-12),
                "{values:?}"
            );
        }
        None => assert!(!with_revenue, "{name}: no revenue: {metrics}"),
    }
}

fn assert_close(actual: &Value, expected: &metrics::Metrics, what: &str) {
    let actual: Vec<f64> = actual["precision"]
        .as_array()
        .unwrap()
        .iter()
        .map(number)
        .collect();
    for (a, e) in actual.iter().zip(&expected.precision) {
        assert!((a - e).abs() < 1e-12, "{what}: {actual:?} vs {expected:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evaluate_replays_a_slice_of_the_development_data_and_reports_it_completely() {
    let Some(path) = data_file() else {
        return;
    };
    let suite = TestSuite::start().await;
    let token = suite.token("customs:demo-customs");
    let file = path.to_str().unwrap();
    let (code, report) = evaluate(
        &suite,
        Some(&token),
        &[
            "--file",
            file,
            "--limit",
            &LEARN.to_string(),
            "--evaluate-limit",
            &EVALUATE.to_string(),
            "--batch",
            "200",
            "--concurrency",
            "16",
        ],
    )
    .await;
    assert_eq!(code, 0, "{report:#}");

    // The slice, as the command must have chosen it: time order, file order within a day.
    let mut records = kcs::read(&path).unwrap();
    records.sort_by_key(|r| r.declaration.declaration_time.unwrap().seconds);
    let (learning, evaluation): (Vec<_>, Vec<_>) = records
        .into_iter()
        .partition(|r| r.declaration.declaration_time.unwrap().seconds < OCTOBER);
    let learning = &learning[..LEARN];
    let evaluation = &evaluation[..EVALUATE];
    let frauds = evaluation.iter().filter(|r| r.fraud).count() as u64;

    // Counts match the slice; everything went in, was recorded and came back.
    assert_eq!(count(&report["learning"]["declarations"]), LEARN as u64);
    assert_eq!(count(&report["learning"]["withOutcome"]), LEARN as u64);
    assert_eq!(
        count(&report["evaluation"]["declarations"]),
        EVALUATE as u64
    );
    assert_eq!(count(&report["evaluation"]["frauds"]), frauds);
    assert_eq!(report["evaluation"]["firstDay"], "2020-10-01");
    let submitted = &report["submitted"];
    assert_eq!(count(&submitted["accepted"]), (LEARN + EVALUATE) as u64);
    for field in ["duplicates", "rejected", "alreadyExists", "pending"] {
        assert_eq!(count(&submitted[field]), 0, "{field}: {submitted}");
    }
    assert_eq!(count(&report["results"]["recorded"]), LEARN as u64);
    assert_eq!(count(&report["results"]["conflicting"]), 0);
    let read_back = &report["readBack"];
    for field in ["expected", "read", "ranked"] {
        assert_eq!(count(&read_back[field]), EVALUATE as u64, "{read_back}");
    }
    assert_eq!(
        count(&read_back["viaSearch"]) + count(&read_back["viaGet"]),
        EVALUATE as u64
    );
    assert_eq!(count(&read_back["notAssessed"]), 0);
    assert_eq!(
        count(&read_back["alreadyInspected"]),
        0,
        "outcomes held back"
    );
    assert!(count(&read_back["withoutReason"]) <= EVALUATE as u64);
    let base_rate = number(&report["baseRate"]);
    assert!((base_rate - frauds as f64 / EVALUATE as f64).abs() < 1e-12);

    // The rankings: sane, and random selection's expectation is the base rate.
    for name in ["acx", "hs6Baseline", "random"] {
        assert_sane(name, &report[name], false);
    }
    for value in report["random"]["precision"].as_array().unwrap() {
        assert!((number(value) - base_rate).abs() < 1e-12);
    }
    assert_eq!(number(&report["random"]["auc"]), 0.5);

    // The HS6 baseline was learned from exactly the learning slice's outcomes.
    let mut baseline = HsBaseline::default();
    for record in learning {
        baseline.learn(&record.declaration.lines[0].hs_code, record.fraud);
    }
    let scored = |score: &dyn Fn(&kcs::Record) -> f64| -> Vec<Scored> {
        evaluation
            .iter()
            .map(|r| Scored {
                score: score(r),
                tie: metrics::tie_key(&r.declaration.declaration_id),
                fraud: r.fraud,
                revenue: 0.0,
            })
            .collect()
    };
    let expected = metrics::evaluate(
        &scored(&|r| baseline.score(&r.declaration.lines[0].hs_code)),
        false,
    );
    assert_close(&report["hs6Baseline"], &expected, "HS6 baseline");

    // ACX's figures are those of the risks liaison gave each shipment on arrival.
    let mut liaison = LiaisonServiceClient::new(channel(suite.liaison).await);
    let mut risks = std::collections::HashMap::new();
    let mut versions = HashSet::new();
    for record in evaluation {
        let id = &record.declaration.declaration_id;
        let shipment = liaison
            .get_shipment(authorized(
                GetShipmentRequest {
                    name: format!("shipments/{id}"),
                },
                &token,
            ))
            .await
            .unwrap()
            .into_inner()
            .shipment
            .unwrap();
        // The assessment made on arrival (a later re-assessment does not count).
        let arrival = shipment.assessment_history.first().unwrap();
        versions.insert(arrival.model_version.clone());
        risks.insert(id.clone(), arrival.risk);
    }
    let expected = metrics::evaluate(&scored(&|r| risks[&r.declaration.declaration_id]), false);
    assert_close(&report["acx"], &expected, "ACX");
    assert_eq!(number(&report["acx"]["auc"]), expected.auc.unwrap());

    // Lanes and model versions cover every ranked shipment.
    let lanes = report["lanes"].as_array().unwrap();
    let shipments: u64 = lanes.iter().map(|l| count(&l["shipments"])).sum();
    assert_eq!(shipments, EVALUATE as u64);
    let shares: f64 = lanes.iter().map(|l| number(&l["share"])).sum();
    assert!((shares - 1.0).abs() < 1e-9, "{lanes:?}");
    let models = report["modelVersions"].as_array().unwrap();
    let seen: HashSet<String> = models
        .iter()
        .map(|m| m["version"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(seen, versions);
    assert_eq!(
        models.iter().map(|m| count(&m["shipments"])).sum::<u64>(),
        EVALUATE as u64
    );

    // The generator's world carries revenue; its declarations do not disturb the others.
    let (code, generated) = evaluate(
        &suite,
        Some(&token),
        &["--source", "generator", "--train", "300", "--test", "150"],
    )
    .await;
    assert_eq!(code, 0, "{generated:#}");
    assert_eq!(count(&generated["evaluation"]["declarations"]), 150);
    assert_eq!(count(&generated["readBack"]["ranked"]), 150);
    assert_eq!(
        count(&generated["results"]["recorded"]),
        count(&generated["learning"]["withOutcome"])
    );
    for name in ["acx", "hs6Baseline", "random"] {
        assert_sane(name, &generated[name], true);
    }

    // A rerun, as the authority named on the command line, fails nothing: all duplicates.
    let credentials = suite.data_dir.path().join("credentials");
    let (code, rerun) = evaluate(
        &suite,
        None,
        &[
            "--credentials",
            credentials.to_str().unwrap(),
            "--authority",
            "demo-customs",
            "--file",
            file,
            "--limit",
            "200",
            "--evaluate-limit",
            "100",
        ],
    )
    .await;
    assert_eq!(code, 0, "{rerun:#}");
    assert_eq!(count(&rerun["submitted"]["duplicates"]), 300);
    assert_eq!(count(&rerun["submitted"]["accepted"]), 0);
    assert_eq!(count(&rerun["results"]["recorded"]), 200);
    assert_eq!(count(&rerun["readBack"]["read"]), 100);
}
