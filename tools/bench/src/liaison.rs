//! The liaison benchmark behind `acx-liaison-bench`, against the whole suite in this process:
//! declaration intake with assessment by scoring, next to intake with scoring unreachable
//! (declarations stored as pending: the cost of assessment shows as the difference); then,
//! over many stored declarations, GetShipment and SearchShipments throughput and latency
//! under concurrency, next to the Echo of the same liaison server. Inspection results
//! recorded on the assessed declarations (each forwarded to scoring and applied there before
//! the answer) are measured next to the same server's Echo.

use std::time::{Duration, Instant};

use acx_proto::{
    common::{ConsignmentNumbers, Money},
    liaison::{
        Declaration, DeclarationLine, GetShipmentRequest, InspectionResult, Procedure,
        RecordInspectionResultRequest, SearchShipmentsRequest, SubmitDeclarationsRequest,
        TransportMode, ValuationBasis, liaison_service_client::LiaisonServiceClient,
    },
};
use acx_runtime::{ServerConfig, Shutdown};
use tonic::transport::{Channel, Endpoint};

use acx_suite::SuiteArgs;

use crate::scoring::{LoadFigures, authorized, echo_load, load, percentile};
use acx_proto::scoring::OutcomeKind;
use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

/// What to run.
#[derive(Debug, Clone)]
pub struct LiaisonBenchOptions {
    /// Declarations submitted for each intake measurement.
    pub intake: usize,
    /// Callers submitting the intake's batches at the same time.
    pub intake_callers: usize,
    /// Declarations stored before the read loads.
    pub stored: usize,
    /// Concurrent callers of the read loads.
    pub concurrency: usize,
    /// Duration of each read load.
    pub duration: Duration,
    /// Rounds of the read loads (Echo, GetShipment, SearchShipments, one after the other):
    /// on a shared machine the median of the per-round ratios is steadier than one round.
    pub rounds: usize,
}

/// Figures of one run.
#[derive(Debug, Clone)]
pub struct LiaisonBenchReport {
    /// Declarations per second, assessed by scoring on the way in.
    pub intake_assessed: f64,
    /// Declarations per second with scoring unreachable (stored as pending).
    pub intake_pending: f64,
    /// The read loads, a round each.
    pub rounds: Vec<ReadRound>,
    /// Inspection results recorded, next to the Echo of the same server.
    pub outcomes: OutcomeFigures,
}

/// RecordInspectionResult under concurrency: one result per assessed declaration.
#[derive(Debug, Clone, Copy)]
pub struct OutcomeFigures {
    /// Echo of the liaison that records them, just before (the baseline).
    pub echo: LoadFigures,
    /// Results recorded per second, with latency.
    pub recorded: LoadFigures,
    /// How many were recorded.
    pub count: usize,
}

/// One round of the read loads, run back to back.
#[derive(Debug, Clone, Copy)]
pub struct ReadRound {
    /// Echo of liaison.
    pub echo: LoadFigures,
    /// GetShipment.
    pub get: LoadFigures,
    /// SearchShipments (one importer, 20 per page, by risk).
    pub search: LoadFigures,
}

/// The median of `values` (0 for none).
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

type BenchError = Box<dyn std::error::Error + Send + Sync>;

fn declaration(n: usize) -> Declaration {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    Declaration {
        declaration_id: format!("B{n:09}"),
        declaration_time: Some(prost_types::Timestamp {
            seconds: now - 3600 - (n % 86_400) as i64,
            nanos: 0,
        }),
        customs_office: ["USLAX", "USNYC", "USMIA"][n % 3].to_owned(),
        procedure: Procedure::HomeUse as i32,
        transport_mode: TransportMode::Courier as i32,
        importer_id: format!("IMP-{}", n % 5000),
        declarant_id: format!("BR-{}", n % 200),
        consignor_id: String::new(),
        carrier_id: "UPS".to_owned(),
        consignment: Some(ConsignmentNumbers {
            tracking_numbers: vec![format!("1ZB{n:012}")],
            ..Default::default()
        }),
        departure_country: "CN".to_owned(),
        origin_country: "CN".to_owned(),
        marketplace: String::new(),
        seller: None,
        lines: vec![DeclarationLine {
            line_number: 1,
            hs_code: ["851830", "950300", "640399", "940542"][n % 4].to_owned(),
            description: "goods".to_owned(),
            quantity: 10.0 + (n % 90) as f64,
            quantity_unit: "PCE".to_owned(),
            net_mass_kg: 5.0 + (n % 40) as f64,
            gross_mass_kg: 0.0,
            declared_value: Some(Money {
                currency_code: "USD".to_owned(),
                amount: format!("{}.00", 200 + n % 3000),
            }),
            valuation_basis: ValuationBasis::Fob as i32,
            duty_rate: 0.05,
            declared_duty: None,
            national_codes: Vec::new(),
        }],
        national_codes: Vec::new(),
    }
}

async fn connect(addr: std::net::SocketAddr) -> Result<Channel, BenchError> {
    Ok(Endpoint::from_shared(format!("http://{addr}"))?
        .connect()
        .await?)
}

/// Submits declarations `range` in batches of 100; returns declarations per second.
async fn submit(
    channel: Channel,
    token: &str,
    range: std::ops::Range<usize>,
    callers: usize,
) -> Result<f64, BenchError> {
    let count = range.len();
    let batches: Vec<Vec<usize>> = range
        .collect::<Vec<_>>()
        .chunks(100)
        .map(<[usize]>::to_vec)
        .collect();
    let next = Arc::new(AtomicUsize::new(0));
    let batches = Arc::new(batches);
    let clock = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..callers.max(1) {
        let (mut client, token) = (LiaisonServiceClient::new(channel.clone()), token.to_owned());
        let (next, batches) = (next.clone(), batches.clone());
        tasks.spawn(async move {
            while let Some(batch) = batches.get(next.fetch_add(1, Ordering::Relaxed)) {
                let declarations = batch.iter().map(|n| declaration(*n)).collect();
                client
                    .submit_declarations(authorized(
                        SubmitDeclarationsRequest { declarations },
                        &token,
                    ))
                    .await?;
            }
            Ok::<(), BenchError>(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    Ok(count as f64 / clock.elapsed().as_secs_f64())
}

/// Runs the benchmark.
pub async fn run(options: &LiaisonBenchOptions) -> Result<LiaisonBenchReport, BenchError> {
    let dir = tempfile::tempdir()?;
    let args = SuiteArgs::on_free_ports(dir.path());
    let shutdown = Shutdown::new();
    let suite = acx_suite::start(&args, shutdown.clone()).await?;
    let customs = suite
        .credentials
        .token_of("customs:demo-customs")?
        .to_owned();
    let liaison = connect(suite.liaison_addr).await?;
    let intake_assessed = submit(
        liaison.clone(),
        &customs,
        0..options.intake,
        options.intake_callers,
    )
    .await?;
    let outcomes = record_results(liaison.clone(), &customs, options).await?;

    // A second liaison on its own database whose scoring is unreachable: intake without
    // assessment. It also holds the stored declarations for the read loads.
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let mut server = ServerConfig::local(dir.path().join("pending"));
    server.listen_addr = Some("127.0.0.1:0".parse()?);
    server.tokens_file = Some(suite.credentials.tokens_file.clone());
    server.max_concurrent_calls = 4096;
    let pending_config = acx_liaison::Config {
        server,
        reassess_interval_secs: 0,
        scoring_url: format!("http://{closed_port}"),
        audit_database_url: None,
        scoring_token: suite.credentials.token_of("service:liaison")?.into(),
    };
    let pending = acx_liaison::start(&pending_config, shutdown.clone()).await?;
    let pending_channel = connect(pending.local_addr).await?;
    let intake_pending = submit(
        pending_channel.clone(),
        &customs,
        0..options.intake,
        options.intake_callers,
    )
    .await?;
    submit(
        pending_channel.clone(),
        &customs,
        options.intake..options.stored.max(options.intake),
        1,
    )
    .await?;

    let stored = options.stored.max(options.intake);
    let mut rounds = Vec::new();
    for _ in 0..options.rounds.max(1) {
        let echo = echo_load(
            pending_channel.clone(),
            customs.clone(),
            options.concurrency,
            options.duration,
        )
        .await;
        let (channel, token) = (pending_channel.clone(), customs.clone());
        let get = load(options.concurrency, options.duration, move |i| {
            let mut client = LiaisonServiceClient::new(channel.clone());
            let name = format!("shipments/B{:09}", (i * 7919) % stored);
            let request = authorized(GetShipmentRequest { name }, &token);
            async move { client.get_shipment(request).await.is_ok() }
        })
        .await;
        let (channel, token) = (pending_channel.clone(), customs.clone());
        let search = load(options.concurrency, options.duration, move |i| {
            let mut client = LiaisonServiceClient::new(channel.clone());
            let request = authorized(
                SearchShipmentsRequest {
                    importer_id: format!("IMP-{}", i % 5000),
                    page_size: 20,
                    ..Default::default()
                },
                &token,
            );
            async move { client.search_shipments(request).await.is_ok() }
        })
        .await;
        rounds.push(ReadRound { echo, get, search });
    }
    shutdown.trigger();
    Ok(LiaisonBenchReport {
        intake_assessed,
        intake_pending,
        rounds,
        outcomes,
    })
}

/// Records one inspection result on each of the first `options.intake` declarations (every
/// tenth a seizure, the rest cleared), `options.concurrency` at a time; then an Echo load of
/// the same server for as long as the recording took (the baseline).
async fn record_results(
    channel: Channel,
    token: &str,
    options: &LiaisonBenchOptions,
) -> Result<OutcomeFigures, BenchError> {
    let count = options.intake;
    let next = Arc::new(AtomicUsize::new(0));
    let clock = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..options.concurrency.max(1) {
        let (mut client, token, next) = (
            LiaisonServiceClient::new(channel.clone()),
            token.to_owned(),
            Arc::clone(&next),
        );
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= count {
                    return Ok::<_, tonic::Status>(latencies);
                }
                let kind = if n % 10 == 0 {
                    OutcomeKind::CounterfeitSeized
                } else {
                    OutcomeKind::Cleared
                };
                let request = RecordInspectionResultRequest {
                    name: format!("shipments/B{n:09}"),
                    result: Some(InspectionResult {
                        kind: kind as i32,
                        seized_quantity: if n % 10 == 0 { 10.0 } else { 0.0 },
                        ..Default::default()
                    }),
                };
                let begin = Instant::now();
                client
                    .record_inspection_result(authorized(request, &token))
                    .await?;
                latencies.push(begin.elapsed());
            }
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await??);
    }
    let elapsed = clock.elapsed();
    latencies.sort();
    let recorded = LoadFigures {
        rate: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50: percentile(&latencies, 0.5),
        p99: percentile(&latencies, 0.99),
    };
    let echo = echo_load(
        channel,
        token.to_owned(),
        options.concurrency,
        elapsed.max(Duration::from_secs(1)),
    )
    .await;
    Ok(OutcomeFigures {
        echo,
        recorded,
        count,
    })
}
