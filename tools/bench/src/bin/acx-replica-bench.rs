//! `acx-replica-bench --postgres SERVER_URL [--writes N] [--callers C]`: the replica lag of scoring.
//! Two scoring replicas over one fresh PostgreSQL database; N times, a declaration is
//! recorded through replica A, then the same read is asked of replica B at the position
//! A answered with (`acx-min-position`): B answers once it has applied the write. Prints
//! the lag (A's answer to B's answer) at p50/p99 next to the same read on A, already at
//! that position (the baseline round trip), measured in the same run. Then customs
//! outcomes (RecordOutcome) on the recorded declarations: half by one caller through A,
//! half by `--callers` callers spread over both replicas, and the rate of the many against
//! the one (how far concurrent history appends scale).

use std::{
    process::ExitCode,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use acx_proto::{
    common::{Money, SellerAccountRef},
    scoring::{
        AssessShipmentRequest, BatchGetSellerRisksRequest, DeclaredLine, DeclaredShipment,
        OutcomeKind, RecordOutcomeRequest, scoring_service_client::ScoringServiceClient,
    },
};
use sqlx::Connection;
use tonic::{Request, transport::Channel};

type Failure = Box<dyn std::error::Error>;

/// The replica lag of scoring: two replicas over a fresh PostgreSQL database; a write
/// through one, the same read through the other at the write's position.
#[derive(Debug, clap::Parser)]
#[command(name = "acx-replica-bench", version)]
struct Args {
    /// PostgreSQL server URL (a database is made on it for the run and dropped after).
    #[arg(long, value_name = "SERVER_URL")]
    postgres: String,
    /// Writes measured.
    #[arg(long, value_name = "N", default_value_t = 500,
          value_parser = clap::value_parser!(u64).range(1..))]
    writes: u64,
    /// Concurrent callers of the outcome writes.
    #[arg(long, value_name = "C", default_value_t = 16,
          value_parser = clap::value_parser!(u64).range(1..))]
    callers: u64,
}

fn request<T>(message: T, token: &str, min: Option<i64>) -> Request<T> {
    let mut request = Request::new(message);
    if let Ok(value) = format!("Bearer {token}").parse() {
        request.metadata_mut().insert("authorization", value);
    }
    if let Some(min) = min
        && let Ok(value) = min.to_string().parse()
    {
        request.metadata_mut().insert("acx-min-position", value);
    }
    request
}

fn position<T>(response: &tonic::Response<T>) -> i64 {
    response
        .metadata()
        .get("acx-applied-position")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn declaration(n: usize) -> DeclaredShipment {
    DeclaredShipment {
        declaration_id: format!("LAG-{n}"),
        authority: "bench-customs".to_owned(),
        importer_id: format!("IMP-{}", n % 50),
        origin_country: "CN".to_owned(),
        customs_office: "BENCH-01".to_owned(),
        lines: vec![DeclaredLine {
            line_number: 1,
            hs_code: "851830".to_owned(),
            quantity: 10.0,
            net_mass_kg: 2.0,
            declared_value: Some(Money {
                currency_code: "USD".to_owned(),
                amount: format!("{}.00", 100 + n % 50),
            }),
            ..Default::default()
        }],
        seller: Some(SellerAccountRef {
            platform: "bench".to_owned(),
            seller_id: format!("S-{}", n % 100),
        }),
        ..Default::default()
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

/// Records a cleared outcome on each declaration of `range`, `callers` at a time, the
/// callers taking turns over `replicas`; returns outcomes per second.
async fn record_outcomes(
    replicas: &[ScoringServiceClient<Channel>],
    token: &str,
    range: std::ops::Range<usize>,
    callers: usize,
) -> Result<f64, Failure> {
    let count = range.len();
    let next = Arc::new(AtomicUsize::new(range.start));
    let clock = Instant::now();
    let mut tasks = Vec::new();
    for caller in 0..callers {
        let mut client = replicas[caller % replicas.len()].clone();
        let (next, token, end) = (Arc::clone(&next), token.to_owned(), range.end);
        tasks.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= end {
                    return Ok::<_, tonic::Status>(());
                }
                let outcome = RecordOutcomeRequest {
                    authority: "bench-customs".to_owned(),
                    declaration_id: format!("LAG-{n}"),
                    kind: OutcomeKind::Cleared as i32,
                    ..Default::default()
                };
                client
                    .record_outcome(request(outcome, &token, None))
                    .await?;
            }
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(count as f64 / clock.elapsed().as_secs_f64())
}

async fn run(server: &str, writes: usize, callers: usize) -> Result<(), Failure> {
    let name = format!("acx_replica_bench_{}", std::process::id());
    let mut admin = sqlx::PgConnection::connect(server).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await?;
    let url = format!("{}/{name}", server.rsplit_once('/').map_or(server, |p| p.0));
    let dir = tempfile::tempdir()?;
    // Liaison records declarations; a platform reads risks in batches.
    let token = acx_runtime::credentials::generate_token();
    let reader = acx_runtime::credentials::generate_token();
    std::fs::write(
        dir.path().join("tokens"),
        format!(
            "{} service:liaison\n{} platform:bench-reader\n",
            acx_runtime::credentials::hash_token(&token),
            acx_runtime::credentials::hash_token(&reader)
        ),
    )?;
    let shutdown = acx_runtime::Shutdown::new();
    let mut clients = Vec::new();
    for _ in 0..2 {
        let mut server = acx_runtime::ServerConfig::local(dir.path());
        server.listen_addr = Some("127.0.0.1:0".parse()?);
        server.database_url = Some(url.clone());
        server.tokens_file = Some(dir.path().join("tokens"));
        let config = acx_scoring::Config::standalone(server);
        let running = acx_scoring::start(&config, shutdown.clone()).await?;
        let channel = Channel::from_shared(format!("http://{}", running.local_addr))?
            .connect()
            .await?;
        clients.push((ScoringServiceClient::new(channel), running));
    }
    let (mut a, mut b) = (clients[0].0.clone(), clients[1].0.clone());
    let read = || BatchGetSellerRisksRequest {
        sellers: vec![SellerAccountRef {
            platform: "bench".to_owned(),
            seller_id: "S-1".to_owned(),
        }],
    };
    let (mut lags, mut baselines) = (Vec::new(), Vec::new());
    for n in 0..writes {
        let written = a
            .assess_shipment(request(
                AssessShipmentRequest {
                    shipment: Some(declaration(n)),
                    record: true,
                },
                &token,
                None,
            ))
            .await?;
        let at = position(&written);
        let clock = Instant::now();
        b.batch_get_seller_risks(request(read(), &reader, Some(at)))
            .await?;
        lags.push(clock.elapsed());
        let clock = Instant::now();
        a.batch_get_seller_risks(request(read(), &reader, Some(at)))
            .await?;
        baselines.push(clock.elapsed());
    }
    lags.sort();
    baselines.sort();
    println!("replica lag: {writes} writes through replica A, read back through B (PostgreSQL)");
    for (label, p) in [("p50", 0.5), ("p99", 0.99)] {
        let (lag, base) = (percentile(&lags, p), percentile(&baselines, p));
        println!(
            "  {label}  lag {lag:>7.2} ms   same read on A {base:>6.2} ms   ratio {:>5.1}",
            lag / base
        );
    }
    let half = writes / 2;
    let one = record_outcomes(&[a.clone()], &token, 0..half, 1).await?;
    let many = record_outcomes(&[a, b], &token, half..writes, callers).await?;
    println!("outcomes: RecordOutcome on the recorded declarations");
    println!("  1 caller through A                 {one:>8.0} outcomes/s");
    println!(
        "  {callers} callers through A and B {:>10.0} outcomes/s   ratio {:>5.2}",
        many,
        many / one
    );
    shutdown.trigger();
    for (_, running) in clients {
        running.wait().await?;
    }
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await?;
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = <Args as clap::Parser>::parse();
    let (server, writes) = (args.postgres, args.writes as usize);
    match run(&server, writes, args.callers as usize).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("acx-replica-bench: {error}");
            ExitCode::FAILURE
        }
    }
}
