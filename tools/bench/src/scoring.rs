//! The scoring benchmark behind `acx-scoring-bench`, run against the whole suite in this
//! process (real gRPC over loopback):
//! - read throughput and latency of `GetSellerRisk` under concurrency, next to the
//!   diagnostics `Echo` of the same scoring server in the same run (the baseline);
//! - freshness: from a report accepted by ingest to the changed score being readable.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use acx_proto::{
    common::SellerAccountRef,
    diagnostics::{EchoRequest, diagnostics_service_client::DiagnosticsServiceClient},
    ingest::{
        ActionTaken, CounterfeitFinding, EvidenceType, Report, SellerProfile, SubmitReportsRequest,
        Verdict, ingest_service_client::IngestServiceClient, report::Kind,
    },
    scoring::{GetSellerRiskRequest, scoring_service_client::ScoringServiceClient},
};
use acx_runtime::Shutdown;
use tonic::{Request, metadata::MetadataValue, transport::Channel};

use acx_suite::SuiteArgs;

/// What to run.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Seller accounts loaded before measuring.
    pub sellers: usize,
    /// Concurrent callers.
    pub concurrency: usize,
    /// How long each read load runs.
    pub duration: Duration,
    /// Freshness samples.
    pub freshness_samples: usize,
}

/// Rate and latency of one load.
#[derive(Debug, Clone, Copy)]
pub struct LoadFigures {
    /// Calls per second.
    pub rate: f64,
    /// Median latency.
    pub p50: Duration,
    /// 99th percentile latency.
    pub p99: Duration,
}

/// The figures of one run.
#[derive(Debug, Clone, Copy)]
pub struct BenchReport {
    /// `GetSellerRisk`.
    pub risk: LoadFigures,
    /// `Echo` on the same server.
    pub echo: LoadFigures,
    /// Report accepted → new score readable: median.
    pub freshness_p50: Duration,
    /// ... and 99th percentile.
    pub freshness_p99: Duration,
}

type BenchError = Box<dyn std::error::Error + Send + Sync>;

pub(crate) fn authorized<T>(message: T, token: &str) -> Request<T> {
    let mut request = Request::new(message);
    if let Ok(value) = MetadataValue::try_from(format!("Bearer {token}")) {
        request.metadata_mut().insert("authorization", value);
    }
    request
}

pub(crate) fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[index]
}

fn recent() -> Option<prost_types::Timestamp> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    Some(prost_types::Timestamp {
        seconds: now - 3600,
        nanos: 0,
    })
}

fn seller_profile(n: usize) -> Report {
    Report {
        report_id: format!("bench-P-{n}"),
        kind: Some(Kind::SellerProfile(SellerProfile {
            seller_id: format!("S-{n}"),
            display_name: format!("Bench Store {n}"),
            legal_name: String::new(),
            country: "CN".to_owned(),
            identifiers: None,
            observe_time: recent(),
            hashed_identifiers: Vec::new(),
        })),
    }
}

fn finding(id: &str, seller: &str) -> Report {
    Report {
        report_id: id.to_owned(),
        kind: Some(Kind::CounterfeitFinding(CounterfeitFinding {
            seller: Some(SellerAccountRef {
                platform: String::new(),
                seller_id: seller.to_owned(),
            }),
            products: vec![acx_proto::common::ProductRef {
                gtin: "4006381333931".to_owned(),
                ..Default::default()
            }],
            evidence_type: EvidenceType::TestBuy as i32,
            verdict: Verdict::Suspected as i32,
            action_taken: ActionTaken::None as i32,
            observe_time: recent(),
            notes: String::new(),
        })),
    }
}

fn seller(n: usize) -> SellerAccountRef {
    SellerAccountRef {
        platform: "demo-platform".to_owned(),
        seller_id: format!("S-{n}"),
    }
}

/// The baseline of every benchmark: the diagnostics `Echo` of the server behind `channel`,
/// under the same load as the RPC it is compared with.
pub(crate) async fn echo_load(
    channel: Channel,
    token: String,
    concurrency: usize,
    duration: Duration,
) -> LoadFigures {
    load(concurrency, duration, move |_| {
        let mut client = DiagnosticsServiceClient::new(channel.clone());
        let request = authorized(
            EchoRequest {
                message: "bench".to_owned(),
                delay: None,
            },
            &token,
        );
        async move { client.echo(request).await.is_ok() }
    })
    .await
}

/// Runs `call` from `concurrency` tasks for `duration`; returns rate and latencies.
pub(crate) async fn load<F, Fut>(concurrency: usize, duration: Duration, call: F) -> LoadFigures
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let call = Arc::new(call);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..concurrency {
        let call = Arc::clone(&call);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut i = worker;
            while start.elapsed() < duration {
                let begin = Instant::now();
                if call(i).await {
                    latencies.push(begin.elapsed());
                }
                i += concurrency;
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.unwrap_or_default());
    }
    let elapsed = start.elapsed();
    latencies.sort();
    LoadFigures {
        rate: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50: percentile(&latencies, 0.5),
        p99: percentile(&latencies, 0.99),
    }
}

/// Starts the suite in a temporary directory and measures.
pub async fn run(options: &BenchOptions) -> Result<BenchReport, BenchError> {
    let dir = tempfile::tempdir()?;
    let args = SuiteArgs::on_free_ports(dir.path());
    let shutdown = Shutdown::new();
    let suite = acx_suite::start(&args, shutdown.clone()).await?;
    let platform = suite
        .credentials
        .token_of("platform:demo-platform")?
        .to_owned();
    let connect = |addr: std::net::SocketAddr| async move {
        tonic::transport::Endpoint::from_shared(format!("http://{addr}"))?
            .connect()
            .await
    };
    let ingest_channel = connect(suite.ingest_addr).await?;
    let scoring_channel: Channel = connect(suite.scoring_addr).await?;

    // Load the sellers, a tenth of them with a finding.
    let mut ingest = IngestServiceClient::new(ingest_channel);
    for start in (0..options.sellers).step_by(900) {
        let end = (start + 900).min(options.sellers);
        let mut reports: Vec<Report> = (start..end).map(seller_profile).collect();
        reports.extend(
            (start..end)
                .filter(|n| n % 10 == 0)
                .map(|n| finding(&format!("bench-F-{n}"), &format!("S-{n}"))),
        );
        ingest
            .submit_reports(authorized(SubmitReportsRequest { reports }, &platform))
            .await?;
    }
    let mut scoring = ScoringServiceClient::new(scoring_channel.clone());
    let last = seller(options.sellers - 1);
    let ready = Instant::now();
    loop {
        let request = GetSellerRiskRequest {
            seller: Some(last.clone()),
            cluster_id: String::new(),
        };
        if scoring
            .get_seller_risk(authorized(request, &platform))
            .await
            .is_ok()
        {
            break;
        }
        if ready.elapsed() > Duration::from_secs(300) {
            return Err("scoring did not catch up with the load within 5 minutes".into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let sellers = options.sellers;
    let (channel, token) = (scoring_channel.clone(), platform.clone());
    let risk = load(options.concurrency, options.duration, move |i| {
        let mut client = ScoringServiceClient::new(channel.clone());
        let request = authorized(
            GetSellerRiskRequest {
                seller: Some(seller((i * 7919) % sellers)),
                cluster_id: String::new(),
            },
            &token,
        );
        async move { client.get_seller_risk(request).await.is_ok() }
    })
    .await;
    let echo = echo_load(
        scoring_channel.clone(),
        platform.clone(),
        options.concurrency,
        options.duration,
    )
    .await;

    // Freshness: a new suspected finding on a known seller, then poll its score.
    let mut freshness = Vec::new();
    for sample in 0..options.freshness_samples {
        let n = (sample * 104_729 + 1) % sellers;
        let before = scoring
            .get_seller_risk(authorized(
                GetSellerRiskRequest {
                    seller: Some(seller(n)),
                    cluster_id: String::new(),
                },
                &platform,
            ))
            .await?
            .into_inner()
            .risk
            .map(|r| r.score);
        let report = finding(&format!("bench-fresh-{sample}"), &format!("S-{n}"));
        let clock = Instant::now();
        ingest
            .submit_reports(authorized(
                SubmitReportsRequest {
                    reports: vec![report],
                },
                &platform,
            ))
            .await?;
        loop {
            let now = scoring
                .get_seller_risk(authorized(
                    GetSellerRiskRequest {
                        seller: Some(seller(n)),
                        cluster_id: String::new(),
                    },
                    &platform,
                ))
                .await?
                .into_inner()
                .risk
                .map(|r| r.score);
            if now != before {
                freshness.push(clock.elapsed());
                break;
            }
            if clock.elapsed() > Duration::from_secs(30) {
                return Err("a new finding was not reflected within 30 s".into());
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    freshness.sort();
    shutdown.trigger();
    for server in suite.servers {
        server.wait().await?;
    }
    Ok(BenchReport {
        risk,
        echo,
        freshness_p50: percentile(&freshness, 0.5),
        freshness_p99: percentile(&freshness, 0.99),
    })
}
