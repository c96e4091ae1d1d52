//! The Python example (shared/client/examples/python/quickstart.py) run as a customs
//! integrator would run it, with the stubs `scripts/gen-stubs.sh` generates from proto/,
//! against the real suite: if the generated stubs or the example stop working with the
//! services, this fails.

#![allow(clippy::unwrap_used)]

use std::{path::PathBuf, process::Output, time::Duration};

use acx_tests::TestSuite;
use tokio::process::Command;

/// Where the Python interpreter and the generated stubs are: `ACX_PYTHON` and
/// `ACX_PY_STUBS`, which scripts/test.sh takes from gen/stubs.env (written by
/// scripts/gen-stubs.sh).
fn python_env() -> Option<(PathBuf, PathBuf)> {
    let skipping = "the Python example (run scripts/gen-stubs.sh)";
    let python = acx_tests::tool_from_env("ACX_PYTHON", skipping)?;
    let stubs = acx_tests::tool_from_env("ACX_PY_STUBS", skipping)?;
    Some((python, stubs))
}

/// Runs the quickstart against `suite` with `token`; returns its exit status and output.
async fn quickstart(suite: &TestSuite, token: &str, args: &[&str]) -> (Output, String) {
    let (python, stubs) = python_env().unwrap();
    let script = format!(
        "{}/../shared/client/examples/python/quickstart.py",
        env!("CARGO_MANIFEST_DIR")
    );
    let run = Command::new(python)
        .arg(script)
        .args(args)
        .env("ACX_TOKEN", token)
        .env("ACX_LIAISON_ENDPOINT", suite.liaison.to_string())
        .env("ACX_PY_STUBS", stubs)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("the example finishes within a minute")
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output, text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_quickstart_submits_assesses_and_searches() {
    if python_env().is_none() {
        return;
    }
    let suite = TestSuite::start_with(true).await;
    let token = suite.token("customs:demo-customs");
    let (output, out) = quickstart(&suite, &token, &["--declaration-id", "PY-TEST-1"]).await;
    assert!(output.status.success(), "{out}");

    assert!(
        out.contains("submitted PY-TEST-1: DECLARATION_OUTCOME_ACCEPTED"),
        "{out}"
    );
    // The earbuds at 2 USD against 24.99 on the platforms, from a blacklisted seller.
    assert!(
        out.contains("shipments/PY-TEST-1: lane LANE_RED, risk "),
        "{out}"
    );
    assert!(out.contains("reason DECLARED_VALUE_BELOW_MARKET"), "{out}");
    assert!(out.contains("reason SELLER_BLACKLISTED"), "{out}");
    // Prices are grouped by GTIN-14 (the demo reports the EAN-13 0194252721407).
    assert!(out.contains("GTIN 00194252721407"), "{out}");
    // The search lists it with the demo's RED shipments.
    let red = out.split("RED shipments, riskiest first:").nth(1).unwrap();
    assert!(red.contains("shipments/PY-TEST-1"), "{out}");
    assert!(red.contains("shipments/DEMO-1001"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_quickstart_reports_refused_calls_by_status() {
    if python_env().is_none() {
        return;
    }
    let suite = TestSuite::start_with(false).await;

    let (output, out) = quickstart(&suite, "not-a-token", &[]).await;
    assert_eq!(output.status.code(), Some(1), "{out}");
    assert!(out.contains("UNAUTHENTICATED"), "{out}");

    let platform = suite.token("platform:demo-platform");
    let (output, out) = quickstart(&suite, &platform, &[]).await;
    assert_eq!(output.status.code(), Some(1), "{out}");
    assert!(out.contains("PERMISSION_DENIED"), "{out}");
}
