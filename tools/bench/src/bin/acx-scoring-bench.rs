//! `acx-scoring-bench [--sellers N] [--concurrency C] [--seconds S] [--freshness K]`: prints
//! GetSellerRisk throughput and latency next to the Echo baseline of the same server, and
//! the freshness of scores after a report is accepted.

use std::{process::ExitCode, time::Duration};

use acx_bench::scoring::{BenchOptions, run};
use clap::Parser;

/// Runs the whole suite in this process and prints GetSellerRisk throughput and latency
/// next to the Echo baseline of the same server, and the freshness of scores after a report
/// is accepted.
#[derive(Debug, Parser)]
#[command(name = "acx-scoring-bench", version)]
struct Args {
    /// Sellers loaded before the reads.
    #[arg(long, value_name = "N", default_value_t = 20_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    sellers: u64,
    /// Concurrent callers.
    #[arg(long, value_name = "C", default_value_t = 32,
          value_parser = clap::value_parser!(u64).range(1..))]
    concurrency: u64,
    /// Seconds per load (Echo, then GetSellerRisk).
    #[arg(long, value_name = "S", default_value_t = 5)]
    seconds: u64,
    /// Freshness samples (reports whose new score is waited for).
    #[arg(long, value_name = "K", default_value_t = 200,
          value_parser = clap::value_parser!(u64).range(1..))]
    freshness: u64,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let options = BenchOptions {
        sellers: args.sellers as usize,
        concurrency: args.concurrency as usize,
        duration: Duration::from_secs(args.seconds),
        freshness_samples: args.freshness as usize,
    };
    println!(
        "scoring bench: {} sellers, {} concurrent callers, {} s per load",
        options.sellers,
        options.concurrency,
        options.duration.as_secs()
    );
    match run(&options).await {
        Ok(report) => {
            let ms = |d: Duration| d.as_secs_f64() * 1000.0;
            for (name, figures) in [
                ("Echo (baseline)", report.echo),
                ("GetSellerRisk", report.risk),
            ] {
                println!(
                    "  {name:<16} {:>8.0} calls/s  p50 {:.2} ms  p99 {:.2} ms",
                    figures.rate,
                    ms(figures.p50),
                    ms(figures.p99)
                );
            }
            println!(
                "  GetSellerRisk / Echo = {:.2}",
                report.risk.rate / report.echo.rate
            );
            println!(
                "  freshness (report accepted -> new score readable): p50 {:.1} ms  p99 {:.1} ms",
                ms(report.freshness_p50),
                ms(report.freshness_p99)
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("acx-scoring-bench: {error}");
            ExitCode::FAILURE
        }
    }
}
