//! `acx-scoring-bench [--sellers N] [--concurrency C] [--seconds S] [--freshness K]`: prints
//! GetSellerRisk throughput and latency next to the Echo baseline of the same server, and
//! the freshness of scores after a report is accepted.

use std::{process::ExitCode, time::Duration};

use acx_suite::bench::{BenchOptions, run};

fn parse_args() -> Result<BenchOptions, String> {
    let mut options = BenchOptions {
        sellers: 20_000,
        concurrency: 32,
        duration: Duration::from_secs(5),
        freshness_samples: 200,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value: usize = args
            .next()
            .and_then(|v| v.parse().ok())
            .ok_or(format!("{flag} needs a positive number"))?;
        match flag.as_str() {
            "--sellers" => options.sellers = value,
            "--concurrency" => options.concurrency = value,
            "--seconds" => options.duration = Duration::from_secs(value as u64),
            "--freshness" => options.freshness_samples = value,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if options.sellers == 0 || options.concurrency == 0 || options.freshness_samples == 0 {
        return Err("every number must be positive".to_owned());
    }
    Ok(options)
}

#[tokio::main]
async fn main() -> ExitCode {
    let options = match parse_args() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("acx-scoring-bench: {message}");
            return ExitCode::from(2);
        }
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
