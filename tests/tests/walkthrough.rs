//! The README's customs walkthrough, run as printed through an independent client that
//! knows the API only by server reflection (`buf curl`, from npm), with the same request
//! files (`docs/walkthrough/*.json`) the README feeds to grpcurl. If the walkthrough rots,
//! this fails.

#![allow(clippy::unwrap_used)]

use std::{
    io::BufRead,
    path::PathBuf,
    process::{Command, Stdio},
    time::Duration,
};

use acx_tests::TestSuite;

/// The buf binary: `ACX_BUF`, set by scripts/test.sh (which installs buf from npm).
fn buf() -> Option<PathBuf> {
    acx_tests::tool_from_env("ACX_BUF", "the walkthrough")
}

fn walkthrough_file(name: &str) -> String {
    format!("@{}/../docs/walkthrough/{name}", env!("CARGO_MANIFEST_DIR"))
}

struct Curl {
    buf: PathBuf,
    base: String,
    token: String,
}

impl Curl {
    fn command(&self, authorized: bool) -> Command {
        let mut command = Command::new(&self.buf);
        command.args(["curl", "--protocol", "grpc", "--http2-prior-knowledge"]);
        if authorized {
            command.args(["-H", &format!("authorization: Bearer {}", self.token)]);
        }
        command
    }

    /// Runs one call with a request file; returns (exit code, stdout + stderr).
    fn call(&self, method: &str, file: &str, authorized: bool) -> (i32, String) {
        let output = self
            .command(authorized)
            .args([
                "-d",
                &walkthrough_file(file),
                &format!("{}/acx.liaison.v2.LiaisonService/{method}", self.base),
            ])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr);
        (output.status.code().unwrap_or(-1), text)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_customs_walkthrough_works_as_printed() {
    let Some(buf) = buf() else { return };
    let suite = TestSuite::start_with(true).await;
    let curl = Curl {
        buf,
        base: format!("http://{}", suite.liaison),
        token: suite.token("customs:demo-customs"),
    };
    let blocking = tokio::task::spawn_blocking(move || {
        // List services and methods through reflection.
        let listed = curl
            .command(false)
            .args(["--list-services", &curl.base])
            .output()
            .unwrap();
        let services = String::from_utf8_lossy(&listed.stdout).into_owned();
        assert!(
            services.contains("acx.liaison.v2.LiaisonService"),
            "{services}"
        );
        let methods = curl
            .command(false)
            .args(["--list-methods", &curl.base])
            .output()
            .unwrap();
        let methods = String::from_utf8_lossy(&methods.stdout).into_owned();
        for method in [
            "SubmitDeclarations",
            "GetShipment",
            "SearchShipments",
            "WatchAlerts",
            "RecordInspectionResult",
        ] {
            assert!(methods.contains(method), "{method} in {methods}");
        }

        let (code, out) = curl.call("SubmitDeclarations", "submit-declarations.json", true);
        assert_eq!(code, 0, "{out}");
        assert!(
            out.contains("DECLARATION_OUTCOME_ACCEPTED") && out.contains("LANE_RED"),
            "{out}"
        );

        let (code, out) = curl.call("GetShipment", "get-shipment.json", true);
        assert_eq!(code, 0, "{out}");
        assert!(out.contains("DECLARED_VALUE_BELOW_MARKET"), "{out}");
        assert!(out.contains("reports/demo-platform/demo-N-100"), "{out}");

        let (code, out) = curl.call("SearchShipments", "search-shipments.json", true);
        assert_eq!(code, 0, "{out}");
        assert!(out.contains("shipments/WALK-0001"), "{out}");

        // The alert stream stays open: read what arrives until the alert (buf is a Go
        // process that first asks for the schema by reflection; a busy machine takes seconds).
        let mut watch = curl
            .command(true)
            .args([
                "-d",
                &walkthrough_file("watch-alerts.json"),
                &format!("{}/acx.liaison.v2.LiaisonService/WatchAlerts", curl.base),
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let (lines, arrived) = std::sync::mpsc::channel();
        let stdout = std::io::BufReader::new(watch.stdout.take().unwrap());
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        let mut streamed = String::new();
        while !streamed.contains("shipments/WALK-0001") {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match arrived.recv_timeout(left) {
                Ok(line) => streamed.push_str(&line),
                Err(_) => break,
            }
        }
        let _ = watch.kill();
        let _ = watch.wait();
        assert!(streamed.contains("shipments/WALK-0001"), "{streamed}");

        let (code, out) = curl.call(
            "RecordInspectionResult",
            "record-inspection-result.json",
            true,
        );
        assert_eq!(code, 0, "{out}");
        assert!(
            out.contains("OUTCOME_KIND_UNDERVALUATION_CONFIRMED"),
            "{out}"
        );

        let (code, out) = curl.call("CheckSeller", "check-seller.json", true);
        assert_eq!(code, 0, "{out}");
        assert!(out.contains("RISK_TIER_BLACKLISTED"), "{out}");

        // The targeting model: cold start in the demo; lanes by capacity.
        let (code, out) = curl.call("GetModelCard", "get-model-card.json", true);
        assert_eq!(code, 0, "{out}");
        assert!(out.contains("coldStart") && out.contains("rules"), "{out}");
        let (code, out) = curl.call("SetLanePolicy", "set-lane-policy.json", true);
        assert_eq!(code, 0, "{out}");
        assert!(
            out.contains("redThreshold") || out.contains("redShare"),
            "{out}"
        );

        // Errors read well: no token is UNAUTHENTICATED (buf curl exits with the code × 8).
        let (code, out) = curl.call("GetShipment", "get-shipment.json", false);
        assert_eq!(code, 16 * 8, "{out}");
        assert!(
            out.contains("unauthenticated") && out.contains("authorization: Bearer"),
            "{out}"
        );
    });
    blocking.await.unwrap();
}
