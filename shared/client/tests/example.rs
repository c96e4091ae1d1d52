//! The quickstart example, as a platform engineer would run it, against the suite.
//!
//! `cargo test -p acx-client` builds the example before the tests; this test finds the
//! binary next to its own (`target/<profile>/examples/quickstart`).

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use acx_tests::TestSuite;

/// The built example: the test runs from `target/<profile>/deps/`.
fn quickstart() -> PathBuf {
    let test = std::env::current_exe().unwrap();
    let profile_dir = test.parent().and_then(|deps| deps.parent()).unwrap();
    let binary = profile_dir
        .join("examples")
        .join(format!("quickstart{}", std::env::consts::EXE_SUFFIX));
    assert!(
        binary.exists(),
        "{} is missing: run `cargo test -p acx-client`, which builds the examples",
        binary.display()
    );
    binary
}

async fn run(suite: &TestSuite, token: &str, args: &[&str]) -> (bool, String, String) {
    let output = tokio::process::Command::new(quickstart())
        .args(args)
        .env("ACX_LIAISON_ENDPOINT", format!("http://{}", suite.liaison))
        .env("ACX_TOKEN", token)
        .env_remove("ACX_CA_CERT")
        .output()
        .await
        .unwrap();
    (
        output.status.success(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

#[tokio::test]
async fn the_quickstart_submits_reads_back_and_checks_a_seller() {
    let suite = TestSuite::start_with(true).await;
    let customs = suite.token("customs:demo-customs");

    let (ok, out, err) = run(&suite, &customs, &[]).await;
    assert!(ok, "stdout:\n{out}\nstderr:\n{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "declaration QUICKSTART-0001: DECLARATION_OUTCOME_ACCEPTED"
    );
    assert!(
        out.contains("shipment shipments/QUICKSTART-0001: lane LANE_RED, risk "),
        "{out}"
    );
    assert!(
        out.contains("  reason "),
        "the lane comes with reasons: {out}"
    );
    assert!(out.contains("seller demo-marketplace/T-2: score "), "{out}");

    // Running it again is safe: the declaration is a duplicate, the answers the same.
    let (ok, again, _) = run(&suite, &customs, &[]).await;
    assert!(ok);
    assert!(again.starts_with("declaration QUICKSTART-0001: DECLARATION_OUTCOME_DUPLICATE"));
    assert!(again.contains("lane LANE_RED"), "{again}");

    // A wrong token: a clear error on stderr and a failing exit status.
    let (ok, out, err) = run(&suite, "wrong-token", &[]).await;
    assert!(!ok);
    assert!(out.is_empty(), "{out}");
    assert!(err.starts_with("error: UNAUTHENTICATED"), "{err}");

    // An invalid seller: the server's field path is printed.
    let (ok, _, err) = run(
        &suite,
        &customs,
        &["--declaration-id", "QUICKSTART-0002", "--seller-id", " "],
    )
    .await;
    assert!(!ok);
    assert!(err.contains("  seller.seller_id: "), "{err}");
}
