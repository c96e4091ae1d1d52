//! The targeting model on the development data (KCS 2020), in process: the features,
//! training and ranking the service uses, on data the project did not make. Learn from the
//! January-September outcomes (features replayed point in time), rank October-December
//! with the statistics of every learning-window outcome, as the service would. The floor
//! of issue 13: precision at 1/2/5/10 % at or above the HS6 fraud-rate profile, AUC ≥ 0.78.
//! (The same figures through the public API: `acxctl evaluate`, docs/evaluation.md.)
//!
//! Without the data beside the repository the test says so and skips.

#![allow(clippy::unwrap_used)]

use acx_cli::kcs;
use acx_domain::rates::ReferenceRates;
use acx_scoring::targeting::{
    backtest::{Hs6Profile, measure},
    features::{Context, Declared, Stats},
    train::{self, Example},
};

fn data_file() -> Option<std::path::PathBuf> {
    if let Some(path) = std::env::var_os("ACX_KCS_2020_CSV") {
        return Some(path.into());
    }
    let found = kcs::find_data_file(std::path::Path::new(env!("CARGO_MANIFEST_DIR")));
    if found.is_none() {
        eprintln!(
            "skipping: {} not found above the repository",
            kcs::DATA_FILE
        );
    }
    found
}

#[test]
fn the_model_ranks_the_evaluation_window_above_the_hs6_profile() {
    let Some(path) = data_file() else { return };
    let rates = ReferenceRates::builtin();
    let split = acx_domain::rates::days_from_civil(2020, 10, 1) as f64;
    let mut learn = Vec::new();
    let mut evaluate = Vec::new();
    for record in kcs::read(&path).unwrap() {
        let shipment = acx_liaison::declarations::to_scoring("KCS", &record.declaration);
        let declared = Declared::read(&shipment, &rates);
        if declared.day < split {
            let day = record
                .result
                .inspect_time
                .as_ref()
                .map_or(declared.day, |t| t.seconds as f64 / 86_400.0);
            learn.push(Example {
                declared,
                context: Context::default(),
                outcome: Some((record.fraud, 0.0, day)),
            });
        } else {
            evaluate.push((declared, record.fraud));
        }
    }
    let (fitted, _) = train::train(&learn, None, 2).unwrap();
    println!(
        "trained on {} outcomes; backtest AUC {:.3} (HS6 {:.3})",
        fitted.facts.training_outcomes, fitted.facts.backtest.auc, fitted.facts.baseline.auc
    );

    // The service's statistics after the learning window: every outcome, none of the
    // evaluation window's; the evaluation window's declarations are seen as they arrive.
    let mut stats = Stats::default();
    learn.sort_by(|a, b| a.declared.day.total_cmp(&b.declared.day));
    for example in &learn {
        stats.see(&example.declared);
        let (fraud, _, day) = example.outcome.unwrap();
        stats.record(&example.declared, fraud, day);
    }
    evaluate.sort_by(|a, b| a.0.day.total_cmp(&b.0.day));
    let mut scores = Vec::new();
    for (declared, _) in &evaluate {
        let x = fitted.space.vector(declared, &Context::default(), &stats);
        scores.push(train::predict(&fitted.booster, &[x.as_slice()])[0]);
        stats.see(declared);
    }
    let fraud: Vec<bool> = evaluate.iter().map(|e| e.1).collect();
    let zeros = vec![0.0; fraud.len()];
    let model = measure(&scores, &fraud, &zeros, &zeros);
    let profile = Hs6Profile::learn(learn.iter().map(|e| {
        (
            e.declared.keys.get("hs6").map_or("", String::as_str),
            e.outcome.unwrap().0,
        )
    }));
    let hs6_scores: Vec<f64> = evaluate
        .iter()
        .map(|(d, _)| profile.score(d.keys.get("hs6").map_or("", String::as_str)))
        .collect();
    let baseline = measure(&hs6_scores, &fraud, &zeros, &zeros);
    println!("model    P@1/2/5/10 {:?} AUC {:.3}", model.top, model.auc);
    println!(
        "HS6 rate P@1/2/5/10 {:?} AUC {:.3}",
        baseline.top, baseline.auc
    );
    for (m, b) in model.top.iter().zip(&baseline.top) {
        assert!(
            m.1 >= b.1,
            "top {}%: model {:.3} below the HS6 profile {:.3}",
            m.0,
            m.1,
            b.1
        );
    }
    assert!(model.auc >= 0.78, "AUC {:.3}", model.auc);
}
