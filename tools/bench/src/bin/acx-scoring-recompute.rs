//! `acx-scoring-recompute [--sellers N] [--reports M]`: a replica's start-up from scratch
//! and from a snapshot: M reports about N sellers (profiles with linking identifiers,
//! counterfeit findings, price observations) applied as history entries of 500 (what a
//! replica does replaying the history, recomputing after each entry), then the state
//! serialised as a snapshot and read back. Prints the time of each phase, the snapshot's
//! size and peak memory.

use std::{process::ExitCode, time::Instant};

use acx_proto::{
    common::{HashedIdentifier, IdentifierKind, Money, ProductRef, SellerAccountRef},
    ingest::{CounterfeitFinding, PriceObservation, Report, SellerProfile, Verdict, report::Kind},
};
use acx_scoring::{
    history::{Entry, FeedBatch, FeedReport},
    model::ModelParams,
    snapshot,
    state::State,
};
use clap::Parser;

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
                    hash: format!("p{seller:063x}"),
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

fn main() -> ExitCode {
    let args = Args::parse();
    let sellers = args.sellers as usize;
    let reports = args.reports as usize;
    let reports = reports.max(sellers);
    println!("full recomputation: {sellers} sellers, {reports} reports");
    let params = ModelParams {
        half_life_days: 180.0,
    };
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
    let clock = Instant::now();
    let bytes = match snapshot::encode(&state, params) {
        Ok(bytes) => bytes,
        Err(error) => {
            eprintln!("acx-scoring-recompute: snapshot: {error}");
            return ExitCode::FAILURE;
        }
    };
    let encoded = clock.elapsed();
    drop(state);
    let clock = Instant::now();
    let restored = snapshot::decode(&bytes, params);
    let decoded = clock.elapsed();
    if !matches!(restored, Ok(Some(_))) {
        eprintln!("acx-scoring-recompute: the snapshot does not read back");
        return ExitCode::FAILURE;
    }
    println!(
        "  snapshot          {:>8.1} MiB  (write {:.1} s, read {:.1} s: start-up from it)",
        bytes.len() as f64 / (1024.0 * 1024.0),
        encoded.as_secs_f64(),
        decoded.as_secs_f64()
    );
    match acx_runtime::process::peak_memory_mib() {
        Some(mib) => println!("  peak memory       {mib:>8.0} MiB"),
        None => println!("  peak memory       unknown (no /proc/self/status)"),
    }
    ExitCode::SUCCESS
}
