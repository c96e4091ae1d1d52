//! The `acx` binary as a process, the way an operator runs it: graceful shutdown on
//! SIGTERM, and OpenTelemetry traces that cross services and are flushed on the way out.

#![allow(clippy::unwrap_used)]

use std::{
    collections::HashMap,
    io::{BufRead, BufReader},
    net::SocketAddr,
    process::{Child, Command, ExitStatus, Stdio},
    time::Duration,
};

use acx_proto::{
    common::SellerAccountRef,
    diagnostics::{EchoRequest, diagnostics_service_client::DiagnosticsServiceClient},
    liaison::{CheckSellerRequest, liaison_service_client::LiaisonServiceClient},
};
use acx_tests::{authorized, channel};
use tonic::Code;

/// The suite running as a child process.
struct SuiteProcess {
    child: Child,
    addrs: HashMap<String, SocketAddr>,
    data_dir: tempfile::TempDir,
}

impl SuiteProcess {
    /// Starts `acx` on free ports and waits for its banner.
    fn spawn(env: &[(&str, &str)]) -> Self {
        Self::spawn_logging_to(env, Stdio::null())
    }

    /// Starts `acx` with its standard error (the log) going to `stderr`.
    fn spawn_logging_to(env: &[(&str, &str)], stderr: Stdio) -> Self {
        let data_dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_acx"))
            .arg("--data-dir")
            .arg(data_dir.path())
            .args(["--ingest-addr", "127.0.0.1:0"])
            .args(["--scoring-addr", "127.0.0.1:0"])
            .args(["--liaison-addr", "127.0.0.1:0"])
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut addrs = HashMap::new();
        for line in stdout.lines() {
            let line = line.unwrap();
            let words: Vec<&str> = line.split_whitespace().collect();
            if let [name @ ("ingest" | "scoring" | "liaison"), addr, ..] = words.as_slice() {
                addrs.insert((*name).to_owned(), addr.parse().unwrap());
            }
            if line.starts_with("Stop with Ctrl-C") {
                break;
            }
        }
        assert_eq!(
            addrs.len(),
            3,
            "the banner names the three endpoints: {addrs:?}"
        );
        Self {
            child,
            addrs,
            data_dir,
        }
    }

    fn addr(&self, service: &str) -> SocketAddr {
        self.addrs[service]
    }

    fn token(&self, principal: &str) -> String {
        let credentials =
            std::fs::read_to_string(self.data_dir.path().join("credentials")).unwrap();
        credentials
            .lines()
            .find_map(|line| {
                line.strip_prefix(principal)?
                    .strip_prefix(' ')
                    .map(str::to_owned)
            })
            .unwrap()
    }

    fn sigterm(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the process to exit, at most `limit`.
    async fn exit_within(&mut self, limit: Duration) -> ExitStatus {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "still running after {limit:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for SuiteProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn sigterm_lets_the_call_in_flight_finish_then_exits_zero() {
    let mut suite = SuiteProcess::spawn(&[]);
    let token = suite.token("customs:demo-customs");
    let mut client = DiagnosticsServiceClient::new(channel(suite.addr("liaison")).await);
    let slow = authorized(
        EchoRequest {
            message: "draining".to_owned(),
            delay: Some(prost_types_duration(Duration::from_secs(6))),
        },
        &token,
    );
    let in_flight = tokio::spawn(async move { client.echo(slow).await });
    // Margins for a busy machine: the call is in flight within a second, and the listener
    // closes within a few after the signal, well before the call ends.
    tokio::time::sleep(Duration::from_secs(1)).await;
    suite.sigterm();
    let endpoint =
        tonic::transport::Endpoint::from_shared(format!("http://{}", suite.addr("liaison")))
            .unwrap();
    let closing = tokio::time::Instant::now() + Duration::from_secs(4);
    while endpoint.connect().await.is_ok() {
        assert!(
            tokio::time::Instant::now() < closing,
            "no new connections once draining"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let answer = in_flight
        .await
        .unwrap()
        .expect("the call in flight completes");
    assert_eq!(answer.into_inner().message, "draining");
    let status = suite.exit_within(Duration::from_secs(10)).await;
    assert_eq!(status.code(), Some(0), "clean exit after the drain");
}

fn prost_types_duration(duration: Duration) -> prost_types::Duration {
    prost_types::Duration {
        seconds: duration.as_secs() as i64,
        nanos: duration.subsec_nanos() as i32,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customs_question_is_one_trace_across_liaison_and_scoring() {
    let mut collector = fake_opentelemetry_collector::FakeCollectorServer::start()
        .await
        .unwrap();
    let endpoint = collector.endpoint();
    let mut suite = SuiteProcess::spawn(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_SERVICE_NAME", "acx-test"),
    ]);
    let token = suite.token("customs:demo-customs");

    // The caller's own trace: ACX's spans must continue it.
    let caller_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let caller_span = "00f067aa0ba902b7";
    let mut request = authorized(
        CheckSellerRequest {
            seller: Some(SellerAccountRef {
                platform: "amazon".to_owned(),
                seller_id: "TRACED".to_owned(),
            }),
        },
        &token,
    );
    request.metadata_mut().insert(
        "traceparent",
        format!("00-{caller_trace}-{caller_span}-01")
            .parse()
            .unwrap(),
    );
    let mut liaison = LiaisonServiceClient::new(channel(suite.addr("liaison")).await);
    let answer = liaison
        .check_seller(request)
        .await
        .expect_err("unknown seller");
    assert_eq!(answer.code(), Code::NotFound);
    // Probes and reflection make no trace.
    let liaison_channel = channel(suite.addr("liaison")).await;
    for (path, message) in [
        ("/grpc.health.v1.Health/Check", vec![]),
        (
            "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
            vec![0x3a, 0x00],
        ),
        (
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
            vec![0x3a, 0x00],
        ),
    ] {
        let answer = acx_tests::raw::call(
            &liaison_channel,
            path,
            None,
            acx_tests::raw::frame(&message),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
        assert_eq!(answer.code(), Some(Code::Ok), "{path}: {answer:?}");
    }

    // The batch exporter's delay is seconds: these spans arrive only through the flush on
    // shutdown.
    suite.sigterm();
    assert_eq!(
        suite.exit_within(Duration::from_secs(15)).await.code(),
        Some(0)
    );
    let spans = collector.exported_spans(3, Duration::from_secs(10)).await;

    let find = |kind: &str, service: &str, method: &str| {
        spans
            .iter()
            .find(|s| {
                s.kind == kind
                    && has_string(s, "rpc.service", service)
                    && has_string(s, "rpc.method", method)
            })
            .unwrap_or_else(|| panic!("no {kind} span for {service}/{method} in {spans:#?}"))
    };
    let liaison_span = find(
        "SPAN_KIND_SERVER",
        "acx.liaison.v1.LiaisonService",
        "CheckSeller",
    );
    // Liaison calls scoring through the shared client stack, which makes a client span.
    let client_span = find(
        "SPAN_KIND_CLIENT",
        "acx.scoring.v1.ScoringService",
        "GetSellerRisk",
    );
    let scoring_span = find(
        "SPAN_KIND_SERVER",
        "acx.scoring.v1.ScoringService",
        "GetSellerRisk",
    );

    assert_eq!(
        liaison_span.trace_id, caller_trace,
        "liaison continues the caller's trace"
    );
    assert_eq!(liaison_span.parent_span_id, caller_span);
    assert_eq!(
        scoring_span.trace_id, caller_trace,
        "one trace across both services"
    );
    assert_eq!(
        client_span.parent_span_id, liaison_span.span_id,
        "liaison's call to scoring is its server span's child"
    );
    assert_eq!(
        scoring_span.parent_span_id, client_span.span_id,
        "scoring's span is the child of liaison's call"
    );
    for span in [liaison_span, client_span, scoring_span] {
        assert!(has_string(span, "rpc.system", "grpc"), "{span:#?}");
        assert!(
            has_int(span, "rpc.grpc.status_code", 5),
            "NOT_FOUND: {span:#?}"
        );
    }
    assert!(
        spans
            .iter()
            .all(|s| s.attributes.contains_key("rpc.system")),
        "only the RPC spans are exported, no transport internals: {spans:#?}"
    );
    assert!(
        !spans
            .iter()
            .any(|s| s.attributes.get("rpc.service").is_some_and(|service| {
                service.contains("grpc.health") || service.contains("grpc.reflection")
            })),
        "health checks and reflection are not traced: {spans:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_collector_is_logged_once_in_a_while_in_the_log_format() {
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let log_dir = tempfile::tempdir().unwrap();
    let log_path = log_dir.path().join("stderr.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let endpoint = format!("http://{closed}");
    let mut suite = SuiteProcess::spawn_logging_to(
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
            ("ACX_LOG_FORMAT", "json"),
            ("RUST_LOG", "warn"),
        ],
        Stdio::from(log),
    );
    let token = suite.token("customs:demo-customs");
    let mut client = DiagnosticsServiceClient::new(channel(suite.addr("liaison")).await);
    let warnings = || -> Vec<serde_json::Value> {
        std::fs::read_to_string(&log_path)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).expect("every log line is JSON"))
            .filter(|line: &serde_json::Value| {
                line["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("span export failed"))
            })
            .collect()
    };
    // Calls make spans; every batch of them fails to export. The failure shows while the
    // server runs, not only at shutdown.
    let mut rounds = 0;
    while warnings().is_empty() {
        rounds += 1;
        assert!(rounds < 600, "no warning about the unreachable collector");
        client
            .echo(authorized(
                EchoRequest {
                    message: "spans".into(),
                    delay: None,
                },
                &token,
            ))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Many more failing batches: still one warning (at most one a minute).
    for _ in 0..40 {
        client
            .echo(authorized(
                EchoRequest {
                    message: "more spans".into(),
                    delay: None,
                },
                &token,
            ))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let seen = warnings();
    assert_eq!(seen.len(), 1, "{seen:#?}");
    assert_eq!(seen[0]["level"], "WARN", "{seen:#?}");
    suite.sigterm();
    assert_eq!(
        suite.exit_within(Duration::from_secs(30)).await.code(),
        Some(0)
    );
}

/// The fake collector keeps attribute values as the debug text of the OTLP `AnyValue`.
fn has_string(span: &fake_opentelemetry_collector::ExportedSpan, key: &str, value: &str) -> bool {
    span.attributes
        .get(key)
        .is_some_and(|text| text.contains(&format!("StringValue({value:?})")))
}

fn has_int(span: &fake_opentelemetry_collector::ExportedSpan, key: &str, value: i64) -> bool {
    span.attributes
        .get(key)
        .is_some_and(|text| text.contains(&format!("IntValue({value})")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scoring_applying_a_traced_report_links_to_the_reports_trace() {
    use acx_proto::{
        ingest::{
            BulkLoadReportsRequest, Report, SubmitReportsRequest,
            ingest_service_client::IngestServiceClient, report::Kind,
        },
        scoring::{GetSellerRiskRequest, scoring_service_client::ScoringServiceClient},
    };
    let mut collector = fake_opentelemetry_collector::FakeCollectorServer::start()
        .await
        .unwrap();
    let endpoint = collector.endpoint();
    let mut suite = SuiteProcess::spawn(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_SERVICE_NAME", "acx-test"),
    ]);
    let token = suite.token("platform:demo-platform");
    // One report submitted, one bulk-loaded, each in a trace of its own.
    let report_trace = "0af7651916cd43dd8448eb211c80319c";
    let bulk_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let finding = |report_id: &str, seller_id: &str| Report {
        report_id: report_id.into(),
        kind: Some(Kind::CounterfeitFinding(
            acx_tests::fixtures::confirmed_finding(
                seller_id,
                Some(prost_types::Timestamp {
                    seconds: now - 3_600,
                    nanos: 0,
                }),
            ),
        )),
    };
    let traced = |trace: &str| -> tonic::metadata::MetadataValue<tonic::metadata::Ascii> {
        format!("00-{trace}-b7ad6b7169203331-01").parse().unwrap()
    };
    let mut ingest = IngestServiceClient::new(channel(suite.addr("ingest")).await);
    let mut request = authorized(
        SubmitReportsRequest {
            reports: vec![finding("TRACED-1", "S-TRACED")],
        },
        &token,
    );
    request
        .metadata_mut()
        .insert("traceparent", traced(report_trace));
    ingest.submit_reports(request).await.unwrap();
    let mut request = authorized(
        tokio_stream::iter([BulkLoadReportsRequest {
            reports: vec![finding("TRACED-2", "S-TRACED-BULK")],
        }]),
        &token,
    );
    request
        .metadata_mut()
        .insert("traceparent", traced(bulk_trace));
    let progress = ingest
        .bulk_load_reports(request)
        .await
        .unwrap()
        .into_inner();
    let acknowledged: Vec<_> = tokio_stream::StreamExt::collect(progress).await;
    assert_eq!(acknowledged.last().unwrap().as_ref().unwrap().accepted, 1);
    // Wait until scoring has applied both.
    let mut scoring = ScoringServiceClient::new(channel(suite.addr("scoring")).await);
    let mut applied = false;
    for _ in 0..300 {
        let ask = authorized(
            GetSellerRiskRequest {
                seller: Some(SellerAccountRef {
                    platform: "demo-platform".into(),
                    seller_id: "S-TRACED-BULK".into(),
                }),
                cluster_id: String::new(),
            },
            &token,
        );
        if scoring.get_seller_risk(ask).await.is_ok() {
            applied = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(applied, "scoring never applied the report");
    suite.sigterm();
    assert_eq!(
        suite.exit_within(Duration::from_secs(15)).await.code(),
        Some(0)
    );
    let spans = collector.exported_spans(3, Duration::from_secs(10)).await;
    for trace in [report_trace, bulk_trace] {
        let applying = spans
            .iter()
            .filter(|span| span.name == "scoring/apply feed reports")
            .find(|span| span.links.iter().any(|link| link.trace_id == trace))
            .unwrap_or_else(|| panic!("no applying span links to trace {trace}: {spans:#?}"));
        assert_ne!(applying.trace_id, trace, "a trace of its own, linked");
    }
}
