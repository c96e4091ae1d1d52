//! Benchmark of the targeting model's costs (docs/targeting.md), in process:
//! - training: the development data's learning window replicated to `--rows` outcomes
//!   (each copy a year later, ids suffixed), replayed point in time and fitted, timed;
//! - assessment: the model's part of one assessment (features, trees with contributions)
//!   on the evaluation window, p50/p99, next to the features alone as the baseline of the same
//!   run.
//!
//! `cargo run --release -p acx-bench --bin acx-targeting-bench -- --rows 1000000`

#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::time::Instant;

use acx_cli::kcs;
use acx_domain::rates::{ReferenceRates, days_from_civil};
use acx_scoring::targeting::{
    features::{Context, Declared, Stats},
    train::{self, Example},
};
use clap::Parser;
use forust_ml::{Matrix, gradientbooster::ContributionsMethod};

/// Times training the targeting model on the development data's learning window replicated
/// to N outcomes, and the model's part of one assessment next to its features alone (the
/// baseline). Needs the development data (shared/data/kcs-2020) beside the checkout.
#[derive(Debug, Parser)]
#[command(name = "acx-targeting-bench", version)]
struct Args {
    /// Outcomes to train on (the learning window replicated, each copy a year later).
    #[arg(long, value_name = "N", default_value_t = 1_000_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    rows: u64,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let rows = Args::parse().rows as usize;
    let path = kcs::find_data_file(std::path::Path::new(env!("CARGO_MANIFEST_DIR")))
        .expect("the development data beside the repository");
    let rates = ReferenceRates::builtin();
    let split = days_from_civil(2020, 10, 1) as f64;
    let mut learn = Vec::new();
    let mut evaluate = Vec::new();
    for record in kcs::read(&path).unwrap() {
        let shipment = acx_liaison::declarations::to_scoring("KCS", &record.declaration);
        let declared = Declared::read(&shipment, &rates);
        if declared.day < split {
            let day = declared.day;
            learn.push(Example {
                declared,
                context: Context::default(),
                outcome: Some((record.fraud, 0.0, day)),
            });
        } else {
            evaluate.push(declared);
        }
    }
    // Replicate: copy k is k years later, its parties and codes the same (as a long history).
    let base = learn.len();
    let mut examples = Vec::with_capacity(rows);
    for i in 0..rows {
        let mut e = learn[i % base].clone();
        let copy = (i / base) as f64;
        e.declared.day += 366.0 * copy;
        if let Some(o) = &mut e.outcome {
            o.2 += 366.0 * copy;
        }
        examples.push(e);
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let started = Instant::now();
    let (fitted, _) = train::train(&examples, None, threads).unwrap();
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "training on {rows} outcomes ({threads} threads): {seconds:.1} s (replay and trees); backtest AUC {:.3}",
        fitted.facts.backtest.auc
    );

    // One assessment's model part, against building the features alone.
    let mut stats = Stats::default();
    for e in &learn {
        stats.see(&e.declared);
        let (fraud, _, day) = e.outcome.unwrap();
        stats.record(&e.declared, fraud, day);
    }
    let (mut features_us, mut model_us) = (Vec::new(), Vec::new());
    for declared in evaluate.iter().take(5000) {
        let t = Instant::now();
        std::hint::black_box(fitted.space.vector(declared, &Context::default(), &stats));
        features_us.push(t.elapsed().as_secs_f64() * 1e6);
        let t = Instant::now();
        let x = fitted.space.vector(declared, &Context::default(), &stats);
        let c = fitted.booster.predict_contributions(
            &Matrix::new(&x, 1, x.len()),
            ContributionsMethod::Average,
            false,
        );
        std::hint::black_box(c);
        model_us.push(t.elapsed().as_secs_f64() * 1e6);
    }
    features_us.sort_by(f64::total_cmp);
    model_us.sort_by(f64::total_cmp);
    println!(
        "per assessment: features alone p50 {:.1} µs p99 {:.1} µs; features + trees with contributions p50 {:.1} µs p99 {:.1} µs (ratio p50 {:.1}x)",
        percentile(&features_us, 0.5),
        percentile(&features_us, 0.99),
        percentile(&model_us, 0.5),
        percentile(&model_us, 0.99),
        percentile(&model_us, 0.5) / percentile(&features_us, 0.5)
    );
}
