//! `acx-liaison-bench [--intake N] [--stored M] [--concurrency C] [--seconds S] [--rounds R]`:
//! prints declaration intake with and without assessment, and GetShipment / SearchShipments
//! over M stored declarations next to the Echo baseline of the same liaison server, R rounds
//! and the median ratios.

use std::{process::ExitCode, time::Duration};

use acx_suite::liaison_bench::{LiaisonBenchOptions, median, run};

#[tokio::main]
async fn main() -> ExitCode {
    let mut options = LiaisonBenchOptions {
        intake: 2000,
        stored: 100_000,
        concurrency: 32,
        duration: Duration::from_secs(5),
        rounds: 3,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let Some(value) = args
            .next()
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|v| *v > 0)
        else {
            eprintln!("acx-liaison-bench: {flag} needs a positive number");
            return ExitCode::from(2);
        };
        match flag.as_str() {
            "--intake" => options.intake = value,
            "--stored" => options.stored = value,
            "--concurrency" => options.concurrency = value,
            "--seconds" => options.duration = Duration::from_secs(value as u64),
            "--rounds" => options.rounds = value,
            other => {
                eprintln!("acx-liaison-bench: unknown argument {other}");
                return ExitCode::from(2);
            }
        }
    }
    println!(
        "liaison bench: {} declarations per intake run, {} stored, {} concurrent callers",
        options.intake, options.stored, options.concurrency
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
            let ratios = |of: fn(&acx_suite::liaison_bench::ReadRound) -> f64| {
                median(report.rounds.iter().map(|r| of(r) / r.echo.rate).collect())
            };
            println!(
                "  median of {} rounds: GetShipment {:.2} of Echo, SearchShipments {:.2} of Echo",
                report.rounds.len(),
                ratios(|r| r.get.rate),
                ratios(|r| r.search.rate)
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("acx-liaison-bench: {error}");
            ExitCode::FAILURE
        }
    }
}
