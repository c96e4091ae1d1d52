//! `acx-scoring-eval [--train N] [--test N] [--seed S]`: generates declarations and outcomes
//! with planted truth, learns from the earlier period's inspections, ranks the later period
//! and prints precision@n%, revenue@n% and AUC next to random selection and the HS-code
//! baseline.

use std::process::ExitCode;

use acx_bench::evaluation::{EvalOptions, Metrics, run};
use clap::Parser;

/// Generates declarations and outcomes with planted truth, learns from the earlier period's
/// inspections, ranks the later period and prints precision@n%, revenue@n% and AUC next to
/// random selection and the HS-code baseline (see docs/evaluation.md).
#[derive(Debug, Parser)]
#[command(name = "acx-scoring-eval", version)]
struct Args {
    /// Declarations of the earlier period, learned from (at least 100).
    #[arg(long, value_name = "N", default_value_t = EvalOptions::default().train as u64,
          value_parser = clap::value_parser!(u64).range(100..))]
    train: u64,
    /// Declarations of the later period, ranked (at least 100).
    #[arg(long, value_name = "N", default_value_t = EvalOptions::default().test as u64,
          value_parser = clap::value_parser!(u64).range(100..))]
    test: u64,
    /// Seed of the generator.
    #[arg(long, value_name = "S", default_value_t = EvalOptions::default().seed)]
    seed: u64,
}

fn row(name: &str, metrics: &Metrics) {
    let cells: Vec<String> = metrics
        .precision
        .iter()
        .chain(&metrics.revenue)
        .map(|(_, value)| format!("{value:>6.3}"))
        .collect();
    println!("  {name:<18} {}  {:>6.3}", cells.join(" "), metrics.auc);
}

fn main() -> ExitCode {
    let args = Args::parse();
    let options = EvalOptions {
        train: args.train as usize,
        test: args.test as usize,
        seed: args.seed,
        ..EvalOptions::default()
    };
    let report = run(options);
    println!(
        "scoring evaluation: {} declarations learned from ({:.0}% inspected), {} ranked, seed {}; {:.1}% of the ranked are fraudulent",
        options.train,
        options.inspected_share * 100.0,
        options.test,
        options.seed,
        report.fraud_rate * 100.0
    );
    println!(
        "  {:<18} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6}  {:>6}",
        "", "P@1%", "P@2%", "P@5%", "P@10%", "R@1%", "R@2%", "R@5%", "R@10%", "AUC"
    );
    row("ACX model", &report.model);
    row("HS-code baseline", &report.hs_baseline);
    row("random", &report.random);
    ExitCode::SUCCESS
}
