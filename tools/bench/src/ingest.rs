//! The ingest benchmark behind `acx-ingest-bench`: N realistic reports streamed over gRPC
//! (BulkLoadReports, through authentication, validation, hashing and storage), next to the
//! same rows inserted straight into a fresh database of the same backend (the raw storage
//! rate), measured in the same run so the ratio means something on a noisy machine: the load
//! is cut into rounds and the two paths take turns, round by round, so a machine that
//! speeds up or slows down during the run (a shared VM's neighbours) weighs on both. Peak
//! memory is read at a quarter, half and all of the load, to show it does not grow with N.

use std::time::{Duration, Instant, SystemTime};

use acx_domain::identifiers::IdentifierKeys;
use acx_proto::{
    common::{ConsignmentNumbers, Identifiers, Money, ProductRef, SellerAccountRef},
    ingest::{
        ActionTaken, BulkLoadReportsRequest, CounterfeitFinding, EvidenceType, PriceObservation,
        Report, SellerProfile, ShipmentLine, ShipmentNotice, Verdict,
        ingest_service_client::IngestServiceClient, report::Kind,
    },
};
use acx_runtime::{Database, ServerConfig, Shutdown, credentials};
use tokio_stream::StreamExt;

use acx_ingest::{Config, storage};

/// What to run.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Reports to load on each path.
    pub reports: usize,
    /// Reports per batch (per gRPC message and per raw transaction).
    pub batch: usize,
    /// `None` for SQLite in a temporary directory, or a PostgreSQL server URL on which
    /// two fresh databases are made (and dropped afterwards).
    pub postgres: Option<String>,
    /// Rounds the load is cut into; the paths alternate, each round beginning with the
    /// path the previous round ended with.
    pub rounds: usize,
}

/// A deterministic, realistic report: half price observations, a fifth shipment notices,
/// and the rest seller profiles (with identifiers) and counterfeit findings.
pub fn sample_report(n: usize) -> Report {
    let seller_id = format!("SELLER-{:06}", n % 50_000);
    let observed = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64 - 3600);
    let time = Some(prost_types::Timestamp {
        seconds: observed - (n % 86_400) as i64,
        nanos: 0,
    });
    let product = ProductRef {
        gtin: gtin(n % 10_000),
        platform_product_id: format!("B0{:08}", n % 10_000),
        brand: ["Lumina", "Vortex", "Kestrel", "Aurum"][n % 4].to_owned(),
        title: format!("Wireless earbuds, model {} with charging case", n % 300),
        hs_code: "851830".to_owned(),
    };
    let money = |amount: String| {
        Some(Money {
            currency_code: "USD".to_owned(),
            amount,
        })
    };
    let kind = match n % 20 {
        0..10 => Kind::PriceObservation(PriceObservation {
            seller_id,
            product: Some(product),
            price: money(format!("{}.{:02}", 20 + n % 80, n % 100)),
            observe_time: time,
        }),
        10..14 => Kind::ShipmentNotice(ShipmentNotice {
            seller_id,
            consignment: Some(ConsignmentNumbers {
                tracking_numbers: vec![format!("1Z{:016}", n)],
                bills_of_lading: vec![],
                air_waybills: vec![format!("176-{:08}", n % 100_000_000)],
            }),
            lines: (0..3)
                .map(|line| ShipmentLine {
                    product: Some(product.clone()),
                    quantity: 10 + (n + line) as i64 % 500,
                    unit_price: money(format!("{}.99", 15 + line)),
                })
                .collect(),
            ship_time: time,
        }),
        14..17 => Kind::SellerProfile(SellerProfile {
            seller_id,
            display_name: format!("Bright Deals Store {}", n % 50_000),
            legal_name: format!("Shenzhen Bright Trading Co., Ltd. {}", n % 50_000),
            country: SELLER_PHONES[n % SELLER_PHONES.len()].0.to_owned(),
            identifiers: Some(Identifiers {
                business_registration_numbers: vec![format!("91440300MA5F{:06}", n % 1_000_000)],
                tax_numbers: vec![],
                bank_accounts: vec![format!("6222 0210 {:08}", n % 100_000_000)],
                addresses: vec![format!(
                    "Room {}, Building 5, Bantian Industrial Road, Shenzhen",
                    n % 900
                )],
                emails: vec![format!("sales{}@bright-deals.example", n % 50_000)],
                phones: vec![seller_phone(n)],
                web_domains: vec![format!("bright-deals-{}.example", n % 50_000)],
            }),
            observe_time: time,
            hashed_identifiers: vec![],
        }),
        _ => Kind::CounterfeitFinding(CounterfeitFinding {
            seller: Some(SellerAccountRef {
                platform: String::new(),
                seller_id,
            }),
            products: vec![product],
            evidence_type: EvidenceType::TestBuy as i32,
            verdict: if n.is_multiple_of(2) {
                Verdict::Confirmed
            } else {
                Verdict::Suspected
            } as i32,
            action_taken: ActionTaken::ListingRemoved as i32,
            observe_time: time,
            notes: "test buy: packaging and serial number do not match the brand's".to_owned(),
        }),
    };
    Report {
        report_id: format!("R-{n:09}"),
        kind: Some(kind),
    }
}

/// Sellers' countries and the start of a line there, with the digits that follow: a bulk
/// load of real profiles has numbers of many countries, and checking them costs more than
/// checking one country's (see docs/performance.md).
const SELLER_PHONES: &[(&str, &str, usize)] = &[
    ("CN", "+86 755 ", 8),
    ("HK", "+852 2", 7),
    ("US", "+1 650 253 ", 4),
    ("GB", "+44 20 7", 7),
    ("DE", "+49 30 ", 7),
    ("FR", "+33 1 47 ", 6),
    ("IT", "+39 06 ", 8),
    ("TR", "+90 212 ", 7),
    ("IN", "+91 80 ", 8),
    ("VN", "+84 24 ", 8),
    ("KR", "+82 2 ", 8),
    ("JP", "+81 3 ", 8),
    ("BR", "+55 11 3", 7),
    ("MX", "+52 55 ", 8),
    ("RU", "+7 495 ", 7),
    ("PL", "+48 22 ", 7),
];

/// The phone of the seller of report `n`, in its country ([`SELLER_PHONES`]).
fn seller_phone(n: usize) -> String {
    let (_, start, digits) = SELLER_PHONES[n % SELLER_PHONES.len()];
    // The line's first digit is 2 to 9, as subscriber numbers begin.
    let first = 10usize.pow(digits as u32 - 1);
    let line = 2 * first + (n / SELLER_PHONES.len()) % (8 * first);
    format!("{start}{line}")
}

/// A valid GTIN-13 made from `n`.
fn gtin(n: usize) -> String {
    let body = format!("400{:09}", n);
    let sum: u32 = body
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| u32::from(b - b'0') * if i % 2 == 0 { 3 } else { 1 })
        .sum();
    format!("{body}{}", (10 - sum % 10) % 10)
}

use acx_runtime::process::peak_memory_mib;

/// Figures of one run.
#[derive(Debug, Clone)]
pub struct BenchReport {
    /// Reports per second straight into the database.
    pub raw_rate: f64,
    /// Reports per second over gRPC.
    pub grpc_rate: f64,
    /// The gRPC rate over the raw rate in each round: their spread shows the noise.
    pub round_ratios: Vec<f64>,
    /// Reports per second checked, normalised and hashed by one thread, no storage: the
    /// CPU part of the gRPC path that the raw rate leaves out.
    pub prepare_rate: f64,
    /// Peak memory after a quarter, half and all of the gRPC load.
    pub peak_mib: [Option<f64>; 3],
}

type BenchError = Box<dyn std::error::Error + Send + Sync>;

async fn fresh_database(
    options: &BenchOptions,
    dir: &std::path::Path,
    name: &str,
) -> Result<String, BenchError> {
    let Some(server) = &options.postgres else {
        return Ok(format!(
            "sqlite://{}",
            dir.join(format!("{name}.db")).display()
        ));
    };
    use sqlx::Connection;
    let database = format!("acx_bench_{}_{name}", std::process::id());
    let mut admin = sqlx::PgConnection::connect(server).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {database}")))
        .execute(&mut admin)
        .await?;
    let base = server
        .rsplit_once('/')
        .map_or(server.as_str(), |(base, _)| base);
    Ok(format!("{base}/{database}"))
}

async fn drop_database(options: &BenchOptions, url: &str) -> Result<(), BenchError> {
    let Some(server) = &options.postgres else {
        return Ok(());
    };
    use sqlx::Connection;
    let name = url.rsplit('/').next().unwrap_or_default();
    let mut admin = sqlx::PgConnection::connect(server).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await?;
    Ok(())
}

/// One raw round: reports `range`, prepared outside the clock, written batch by batch
/// without gRPC, lookups or read-back (on PostgreSQL one binary COPY per batch, on SQLite
/// the same multi-row statements). Returns the time storing and, apart, preparing.
async fn raw_round(
    database: &Database,
    range: std::ops::Range<usize>,
    batch: usize,
    keys: &IdentifierKeys,
) -> Result<(Duration, Duration), BenchError> {
    let mut stored = Duration::ZERO;
    let mut preparing = Duration::ZERO;
    let now = SystemTime::now();
    for start in range.clone().step_by(batch) {
        let end = (start + batch).min(range.end);
        let reports: Vec<_> = (start..end).map(sample_report).collect();
        let clock = Instant::now();
        let prepared: Vec<_> = reports
            .into_iter()
            .filter_map(|report| {
                storage::prepare(report, "bench-platform", keys.current(), now).ok()
            })
            .collect();
        preparing += clock.elapsed();
        let clock = Instant::now();
        storage::store(database, "bench-platform", &prepared).await?;
        stored += clock.elapsed();
    }
    Ok((stored, preparing))
}

/// One gRPC round: reports `range` in one bulk load, built as the client sends them.
/// Records peak memory as the whole load passes a quarter, half and all of `total`.
async fn grpc_round(
    client: &mut IngestServiceClient<tonic::transport::Channel>,
    token: &str,
    range: std::ops::Range<usize>,
    batch: usize,
    total: usize,
    peak: &mut [Option<f64>; 3],
) -> Result<Duration, BenchError> {
    let (start, end) = (range.start, range.end);
    let batches = tokio_stream::iter(range.step_by(batch).map(move |first| {
        BulkLoadReportsRequest {
            reports: (first..(first + batch).min(end))
                .map(sample_report)
                .collect(),
        }
    }));
    let mut request = tonic::Request::new(batches);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse()?);
    let clock = Instant::now();
    let mut progress = client.bulk_load_reports(request).await?.into_inner();
    let mut received = 0;
    while let Some(update) = progress.next().await {
        received = update?.received as usize;
        let marks = [total / 4, total / 2, total];
        for (slot, mark) in marks.iter().enumerate() {
            if start + received >= *mark && peak[slot].is_none() {
                peak[slot] = peak_memory_mib();
            }
        }
    }
    let elapsed = clock.elapsed();
    if received != end - start {
        return Err(format!(
            "the load stopped after {received} of {} reports",
            end - start
        )
        .into());
    }
    Ok(elapsed)
}

/// Runs both paths, alternating round by round, and returns the figures.
pub async fn run(options: &BenchOptions) -> Result<BenchReport, BenchError> {
    let dir = tempfile::tempdir()?;
    let keys_file = dir.path().join("identifier-keys");
    std::fs::write(&keys_file, IdentifierKeys::generate_file("k1"))?;
    let keys = IdentifierKeys::load(&keys_file)?;
    let token = credentials::generate_token();
    let tokens_file = dir.path().join("tokens");
    std::fs::write(
        &tokens_file,
        format!(
            "{} platform:bench-platform\n",
            credentials::hash_token(&token)
        ),
    )?;

    let raw_url = fresh_database(options, dir.path(), "raw").await?;
    let raw = Database::connect(&raw_url).await?;
    raw.migrate(&acx_ingest::migrations()).await?;

    let grpc_url = fresh_database(options, dir.path(), "grpc").await?;
    let mut server = ServerConfig::local(dir.path());
    server.listen_addr = Some("127.0.0.1:0".parse()?);
    server.database_url = Some(grpc_url.clone());
    server.tokens_file = Some(tokens_file);
    server.default_deadline = Duration::from_secs(3600);
    let config = Config {
        server,
        identifier_keys_file: keys_file,
        max_batch_reports: options.batch as u32,
        legacy_normalizations: Default::default(),
    };
    let shutdown = Shutdown::new();
    let running = acx_ingest::start(&config, shutdown.clone()).await?;
    let channel =
        tonic::transport::Endpoint::from_shared(format!("http://{}", running.local_addr))?
            .connect()
            .await?;
    let mut client = IngestServiceClient::new(channel).max_encoding_message_size(64 * 1024 * 1024);

    let reports = options.reports;
    let rounds = options.rounds.clamp(1, reports);
    let (mut raw_time, mut preparing, mut grpc_time) =
        (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let mut round_ratios = Vec::with_capacity(rounds);
    let mut peak = [None; 3];
    for round in 0..rounds {
        let range = reports * round / rounds..reports * (round + 1) / rounds;
        let mut raw_part = (Duration::ZERO, Duration::ZERO);
        let mut grpc_part = Duration::ZERO;
        // Raw, gRPC; gRPC, raw; raw, gRPC; ...
        for path in [round % 2, 1 - round % 2] {
            if path == 0 {
                raw_part = raw_round(&raw, range.clone(), options.batch, &keys).await?;
            } else {
                grpc_part = grpc_round(
                    &mut client,
                    &token,
                    range.clone(),
                    options.batch,
                    reports,
                    &mut peak,
                )
                .await?;
            }
        }
        raw_time += raw_part.0;
        preparing += raw_part.1;
        grpc_time += grpc_part;
        round_ratios.push(raw_part.0.as_secs_f64() / grpc_part.as_secs_f64());
    }
    shutdown.trigger();
    running.wait().await?;
    raw.close().await;
    drop_database(options, &grpc_url).await?;
    drop_database(options, &raw_url).await?;
    let rate = |time: Duration| reports as f64 / time.as_secs_f64();
    Ok(BenchReport {
        raw_rate: rate(raw_time),
        grpc_rate: rate(grpc_time),
        round_ratios,
        prepare_rate: rate(preparing),
        peak_mib: peak,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_reports_are_valid() {
        let keys = IdentifierKeys::parse(&IdentifierKeys::generate_file("k1")).expect("keys");
        for n in 0..40 {
            let prepared = storage::prepare(
                sample_report(n),
                "bench-platform",
                keys.current(),
                SystemTime::now(),
            );
            assert!(prepared.is_ok(), "report {n}: {prepared:?}");
        }
    }

    #[test]
    fn sellers_phones_are_read_in_every_country() {
        // Mostly kept: a number left out (a run of digits read as a placeholder) is rare.
        let kept = (0..1600)
            .map(|n| n * 7919)
            .filter(|&n| {
                let (country, ..) = SELLER_PHONES[n % SELLER_PHONES.len()];
                acx_domain::identifiers::normalize(
                    acx_domain::identifiers::IdentifierKind::Phone,
                    &seller_phone(n),
                    Some(country),
                )
                .is_ok()
            })
            .count();
        assert!(kept > 1500, "{kept} of 1600");
    }
}
