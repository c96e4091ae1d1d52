//! `acx-scoring-recompute [--sellers N] [--reports M]`: a replica's start-up from scratch
//! and from a snapshot: M reports about N sellers (profiles with linking identifiers,
//! counterfeit findings, price observations) applied as history entries of 500 (what a
//! replica does replaying the history, recomputing after each entry), then the state
//! written as a snapshot into a fresh SQLite database and read back from it, as a replica
//! starts. Prints the time of each phase, the snapshot's size and peak memory.

use std::{process::ExitCode, sync::Arc, time::Instant};

use acx_proto::{
    common::{HashedIdentifier, IdentifierKind, Money, ProductRef, SellerAccountRef},
    ingest::{CounterfeitFinding, PriceObservation, Report, SellerProfile, Verdict, report::Kind},
};
use acx_runtime::Database;
use acx_scoring::{
    history::{Entry, FeedBatch, FeedReport},
    model::ModelParams,
    snapshot,
    state::State,
};
use clap::Parser;
use tokio::sync::RwLock;

/// A full recomputation of scoring's model from N sellers' M reports, timed: applying the
/// reports, then recomputing every touched seller.
#[derive(Debug, Parser)]
#[command(name = "acx-scoring-recompute", version)]
struct Args {
    /// Sellers.
    #[arg(long, value_name = "N", default_value_t = 1_000_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    sellers: u64,
    /// Reports (at least one per seller).
    #[arg(long, value_name = "M", default_value_t = 10_000_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    reports: u64,
    /// Only start from the snapshot in this SQLite database, as a restarting replica
    /// does, and print the time and this process's peak memory (the bench runs itself
    /// so, in a fresh process, after writing the snapshot).
    #[arg(long, value_name = "SQLITE_URL")]
    restore: Option<String>,
}

fn report(n: usize, sellers: usize) -> (String, Report) {
    let seller = n % sellers;
    let platform = ["mkt-a", "mkt-b", "mkt-c"][seller % 3].to_owned();
    let seller_id = format!("S{seller}");
    let time = Some(prost_types::Timestamp {
        seconds: 1_760_000_000 - (n % 10_000) as i64 * 60,
        nanos: 0,
    });
    let kind = if n < sellers {
        // First a profile per seller; one in 50 shares a bank account with its neighbour.
        let bank = if seller % 50 == 1 { seller - 1 } else { seller };
        Kind::SellerProfile(SellerProfile {
            seller_id,
            display_name: format!("Store {seller}"),
            hashed_identifiers: vec![
                HashedIdentifier {
                    kind: IdentifierKind::BankAccount as i32,
                    key_id: "k1".to_owned(),
                    hash: format!("{bank:064x}"),
                    normalization_version: 2,
                },
                HashedIdentifier {
                    kind: IdentifierKind::Phone as i32,
                    key_id: "k1".to_owned(),
                    // Ingest sends every hash as 64 hex digits (HMAC-SHA256).
                    hash: format!("{:064x}", (1u128 << 100) | seller as u128),
                    normalization_version: 2,
                },
            ],
            observe_time: time,
            ..Default::default()
        })
    } else if n.is_multiple_of(20) {
        Kind::CounterfeitFinding(CounterfeitFinding {
            seller: Some(SellerAccountRef {
                platform: String::new(),
                seller_id,
            }),
            products: vec![],
            evidence_type: 1 + (n % 4) as i32,
            verdict: if n.is_multiple_of(60) {
                Verdict::Confirmed
            } else {
                Verdict::Suspected
            } as i32,
            action_taken: 1,
            observe_time: time,
            notes: String::new(),
        })
    } else {
        Kind::PriceObservation(PriceObservation {
            seller_id,
            product: Some(ProductRef {
                gtin: format!("{:013}", n % 100_000),
                ..Default::default()
            }),
            price: Some(Money {
                currency_code: "USD".to_owned(),
                amount: format!("{}.99", n % 90 + 5),
            }),
            observe_time: time,
        })
    };
    (
        platform,
        Report {
            report_id: format!("R{n}"),
            kind: Some(kind),
        },
    )
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
}

fn peak() -> String {
    acx_runtime::process::peak_memory_mib()
        .map_or_else(|| "unknown".to_owned(), |mib| format!("{mib:.0} MiB"))
}

/// Writes `state` as a snapshot into a fresh SQLite database, then starts from it in a
/// fresh process (this bench with `--restore`), as a restarting replica does.
fn snapshot_round_trip(state: State, params: ModelParams) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("scoring.db").display()
    );
    let (size, written) = runtime()?.block_on(async {
        let database = Database::open(&url, &acx_scoring::migrations())
            .await
            .map_err(|e| e.to_string())?;
        // Written as the serving replica holding the snapshot lease writes it: under the
        // state's read lock, streamed in chunks.
        let guard = Arc::new(RwLock::new(state)).read_owned().await;
        let clock = Instant::now();
        let size = snapshot::write(&database, 1, guard, params, BENCH_SETTINGS)
            .await
            .map_err(|e| e.to_string())?;
        let written = clock.elapsed();
        database.close().await;
        Ok::<_, String>((size, written))
    })?;
    println!(
        "  write snapshot    {:>8.1} s  ({:.1} MiB; peak memory so far {})",
        written.as_secs_f64(),
        size as f64 / (1024.0 * 1024.0),
        peak()
    );
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let status = std::process::Command::new(exe)
        .args(["--restore", &url])
        .status()
        .map_err(|e| e.to_string())?;
    if !status.success() {
        return Err("the snapshot does not read back".to_owned());
    }
    Ok(())
}

/// The shared settings' fingerprint the bench's snapshot is written and read under.
const BENCH_SETTINGS: &[u8] = b"acx-scoring-recompute";

/// `--restore`: starts from the latest snapshot of `url`; prints the time and the peak.
fn restore(url: &str, params: ModelParams) -> ExitCode {
    let started = runtime().and_then(|runtime| {
        runtime.block_on(async {
            let database = Database::connect(url).await.map_err(|e| e.to_string())?;
            let clock = Instant::now();
            let restored = snapshot::restore_latest(&database, params, BENCH_SETTINGS)
                .await
                .map_err(|e| e.to_string())?;
            let read = clock.elapsed();
            database.close().await;
            match restored {
                Some(_) => Ok(read),
                None => Err("no usable snapshot".to_owned()),
            }
        })
    });
    match started {
        Ok(read) => {
            println!(
                "  start from it     {:>8.1} s  (a fresh process; its peak memory {})",
                read.as_secs_f64(),
                peak()
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("acx-scoring-recompute: restore: {error}");
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let params = ModelParams {
        half_life_days: 180.0,
    };
    if let Some(url) = &args.restore {
        return restore(url, params);
    }
    let sellers = args.sellers as usize;
    let reports = args.reports as usize;
    let reports = reports.max(sellers);
    println!("full recomputation: {sellers} sellers, {reports} reports");
    let mut state = State::new(params, acx_domain::rates::ReferenceRates::builtin());
    let clock = Instant::now();
    let (mut risks, mut listings) = (0, 0);
    let mut batch = Vec::with_capacity(500);
    for n in 0..reports {
        let (platform, report) = report(n, sellers);
        batch.push(FeedReport {
            sequence: n as i64 + 1,
            platform,
            report: Some(report),
            traceparent: String::new(),
        });
        if batch.len() == 500 || n + 1 == reports {
            let entry = Entry::Feed(FeedBatch {
                reports: std::mem::take(&mut batch),
            });
            let effects = state.apply(&entry, 1_760_000_000_000_000);
            risks += effects.risks.len();
            listings += effects.listings.len();
        }
    }
    let applied = clock.elapsed();
    println!(
        "  replay history    {:>8.1} s  ({:.0} reports/s; {risks} risk changes, {listings} listing changes)",
        applied.as_secs_f64(),
        reports as f64 / applied.as_secs_f64()
    );
    println!("  peak memory so far {}", peak());
    match snapshot_round_trip(state, params) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("acx-scoring-recompute: snapshot: {error}");
            ExitCode::FAILURE
        }
    }
}
