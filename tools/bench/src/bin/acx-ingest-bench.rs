//! `acx-ingest-bench [--reports N] [--batch B] [--rounds R] [--postgres URL]`: prints the
//! gRPC bulk-load rate next to the raw storage rate of the same rows, the two taking turns
//! round by round, and peak memory along the way.

use std::process::ExitCode;

use acx_bench::ingest::{BenchOptions, run};
use clap::Parser;

/// Streams N realistic reports to ingest over gRPC (BulkLoadReports) and prints the rate
/// next to the raw storage rate of the same rows, and peak memory along the way.
#[derive(Debug, Parser)]
#[command(name = "acx-ingest-bench", version)]
struct Args {
    /// Reports to load on each path.
    #[arg(long, value_name = "N", default_value_t = 1_000_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    reports: u64,
    /// Reports per batch (per gRPC message and per raw transaction).
    #[arg(long, value_name = "B", default_value_t = 1000,
          value_parser = clap::value_parser!(u32).range(1..))]
    batch: u32,
    /// Rounds the load is cut into, the raw and gRPC paths taking turns (so that a machine
    /// whose speed drifts during the run weighs on both alike).
    #[arg(long, value_name = "R", default_value_t = 4,
          value_parser = clap::value_parser!(u32).range(1..))]
    rounds: u32,
    /// A PostgreSQL server URL on which two fresh databases are made (and dropped
    /// afterwards). Default: SQLite in a temporary directory.
    #[arg(long, value_name = "URL")]
    postgres: Option<String>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let options = BenchOptions {
        reports: args.reports as usize,
        batch: args.batch as usize,
        postgres: args.postgres,
        rounds: args.rounds as usize,
    };
    let backend = if options.postgres.is_some() {
        "postgres"
    } else {
        "sqlite"
    };
    println!(
        "ingest bench: {} reports, {backend}, batches of {}, {} rounds",
        options.reports, options.batch, options.rounds
    );
    match run(&options).await {
        Ok(report) => {
            let mib = |v: Option<f64>| v.map_or("?".to_owned(), |v| format!("{v:.0}"));
            println!("  raw storage     {:>9.0} reports/s", report.raw_rate);
            println!(
                "  gRPC bulk load  {:>9.0} reports/s  = {:.2} of raw",
                report.grpc_rate,
                report.grpc_rate / report.raw_rate
            );
            let rounds: Vec<String> = report
                .round_ratios
                .iter()
                .map(|r| format!("{r:.2}"))
                .collect();
            println!("  ratio in each round: {}", rounds.join(", "));
            println!(
                "  preparation alone, one thread, no storage: {:.0} reports/s ({:.1} µs a report)",
                report.prepare_rate,
                1e6 / report.prepare_rate
            );
            println!(
                "  peak memory (VmHWM) after 25% / 50% / 100% of the gRPC load: {} / {} / {} MiB",
                mib(report.peak_mib[0]),
                mib(report.peak_mib[1]),
                mib(report.peak_mib[2])
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("acx-ingest-bench: {error}");
            ExitCode::FAILURE
        }
    }
}
