//! `acx-scoring-eval [--train N] [--test N] [--seed S]`: generates declarations and outcomes
//! with planted truth, learns from the earlier period's inspections, ranks the later period
//! and prints precision@n%, revenue@n% and AUC next to random selection and the HS-code
//! baseline.

use std::process::ExitCode;

use acx_scoring::evaluation::{EvalOptions, Metrics, run};

fn parse_args() -> Result<EvalOptions, String> {
    let mut options = EvalOptions::default();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value: u64 = args
            .next()
            .and_then(|v| v.parse().ok())
            .ok_or(format!("{flag} needs a number"))?;
        match flag.as_str() {
            "--train" => options.train = value as usize,
            "--test" => options.test = value as usize,
            "--seed" => options.seed = value,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if options.train < 100 || options.test < 100 {
        return Err("--train and --test need at least 100 declarations".to_owned());
    }
    Ok(options)
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
    let options = match parse_args() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("acx-scoring-eval: {message}");
            return ExitCode::from(2);
        }
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
