//! `acx-ingest-bench [--reports N] [--batch B] [--postgres URL]`: prints the gRPC bulk-load
//! rate next to the raw storage rate of the same rows, and peak memory along the way.

use std::process::ExitCode;

use acx_ingest::bench::{BenchOptions, run};

fn parse_args() -> Result<BenchOptions, String> {
    let mut options = BenchOptions {
        reports: 1_000_000,
        batch: 1000,
        postgres: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--reports" => {
                options.reports = value()?.parse().map_err(|_| "--reports takes a number")?
            }
            "--batch" => options.batch = value()?.parse().map_err(|_| "--batch takes a number")?,
            "--postgres" => options.postgres = Some(value()?),
            other => {
                return Err(format!(
                    "unknown argument {other}; use --reports N --batch B --postgres URL"
                ));
            }
        }
    }
    if options.reports == 0 || options.batch == 0 {
        return Err("--reports and --batch must be positive".to_owned());
    }
    Ok(options)
}

#[tokio::main]
async fn main() -> ExitCode {
    let options = match parse_args() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("acx-ingest-bench: {message}");
            return ExitCode::from(2);
        }
    };
    let backend = if options.postgres.is_some() {
        "postgres"
    } else {
        "sqlite"
    };
    println!(
        "ingest bench: {} reports, {backend}, batches of {}",
        options.reports, options.batch
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
