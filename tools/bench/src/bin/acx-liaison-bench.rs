//! `acx-liaison-bench [--intake N] [--intake-callers K] [--stored M] [--concurrency C]
//! [--seconds S] [--rounds R]`: prints declaration intake (batches of 100 from K callers)
//! with and without assessment, and GetShipment / SearchShipments
//! over M stored declarations next to the Echo baseline of the same liaison server, R rounds
//! and the median ratios; then RecordInspectionResult on the N assessed declarations, C at a
//! time, next to the Echo of that server.

use std::{process::ExitCode, time::Duration};

use acx_bench::liaison::{LiaisonBenchOptions, ReadRound, median, run};
use clap::Parser;

/// Runs the whole suite in this process and prints declaration intake with and without
/// assessment, and GetShipment / SearchShipments over the stored declarations next to the
/// Echo baseline of the same liaison server, round by round, with the median ratios.
#[derive(Debug, Parser)]
#[command(name = "acx-liaison-bench", version)]
struct Args {
    /// Declarations per intake run.
    #[arg(long, value_name = "N", default_value_t = 2000,
          value_parser = clap::value_parser!(u64).range(1..))]
    intake: u64,
    /// Callers submitting the intake's batches of 100 at the same time (several offices or
    /// brokers of one authority).
    #[arg(long, value_name = "K", default_value_t = 1,
          value_parser = clap::value_parser!(u64).range(1..=64))]
    intake_callers: u64,
    /// Declarations stored before the reads.
    #[arg(long, value_name = "M", default_value_t = 100_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    stored: u64,
    /// Concurrent callers.
    #[arg(long, value_name = "C", default_value_t = 32,
          value_parser = clap::value_parser!(u64).range(1..))]
    concurrency: u64,
    /// Seconds per read load.
    #[arg(long, value_name = "S", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(1..))]
    seconds: u64,
    /// Rounds of reads.
    #[arg(long, value_name = "R", default_value_t = 3,
          value_parser = clap::value_parser!(u64).range(1..))]
    rounds: u64,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let options = LiaisonBenchOptions {
        intake: args.intake as usize,
        intake_callers: args.intake_callers as usize,
        stored: args.stored as usize,
        concurrency: args.concurrency as usize,
        duration: Duration::from_secs(args.seconds),
        rounds: args.rounds as usize,
    };
    println!(
        "liaison bench: {} declarations per intake run from {} callers, {} stored, {} concurrent callers",
        options.intake, options.intake_callers, options.stored, options.concurrency
    );
    match run(&options).await {
        Ok(report) => {
            println!(
                "  intake, assessed by scoring       {:>8.0} declarations/s",
                report.intake_assessed
            );
            println!(
                "  intake, scoring unreachable       {:>8.0} declarations/s (stored as pending)",
                report.intake_pending
            );
            let ms = |d: Duration| d.as_secs_f64() * 1000.0;
            for (index, round) in report.rounds.iter().enumerate() {
                println!("  round {}", index + 1);
                for (name, figures) in [
                    ("Echo (baseline)", round.echo),
                    ("GetShipment", round.get),
                    ("SearchShipments", round.search),
                ] {
                    println!(
                        "    {name:<16} {:>8.0} calls/s  p50 {:.2} ms  p99 {:.2} ms  ({:.2} of Echo)",
                        figures.rate,
                        ms(figures.p50),
                        ms(figures.p99),
                        figures.rate / round.echo.rate
                    );
                }
            }
            let ratios = |of: fn(&ReadRound) -> f64| {
                median(report.rounds.iter().map(|r| of(r) / r.echo.rate).collect())
            };
            println!(
                "  median of {} rounds: GetShipment {:.2} of Echo, SearchShipments {:.2} of Echo",
                report.rounds.len(),
                ratios(|r| r.get.rate),
                ratios(|r| r.search.rate)
            );
            let outcomes = report.outcomes;
            println!(
                "  RecordInspectionResult ({} results) {:>8.0} calls/s  p50 {:.2} ms  p99 {:.2} ms  ({:.3} of Echo: {:.0} calls/s)",
                outcomes.count,
                outcomes.recorded.rate,
                ms(outcomes.recorded.p50),
                ms(outcomes.recorded.p99),
                outcomes.recorded.rate / outcomes.echo.rate,
                outcomes.echo.rate
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("acx-liaison-bench: {error}");
            ExitCode::FAILURE
        }
    }
}
