//! Training: the labelled declarations are replayed in time order through fresh [`Stats`]
//! (each declaration's features come from the outcomes inspected before it, never its own),
//! gradient-boosted trees learn from the older 80 %, and the most recent 20 % is the
//! backtest the promotion rule reads.

use std::collections::BTreeMap;

use forust_ml::{GradientBooster, Matrix};
use serde::{Deserialize, Serialize};

use super::backtest::{Hs6Profile, Quality, measure};
use super::features::{Context, Declared, FeatureSpace, Stats};

/// Outcomes needed before a model is trained (cold start: the rules assess until then).
pub const MIN_OUTCOMES: usize = 500;
/// Frauds needed among them.
pub const MIN_FRAUDS: usize = 20;
/// Share of the most recent labelled declarations held out as the backtest.
const BACKTEST_SHARE: f64 = 0.2;
/// A national code scheme becomes a feature when this share of declarations carries it.
const CODE_SCHEME_SHARE: f64 = 0.05;
/// At most this many national code schemes become features.
const MAX_CODE_SCHEMES: usize = 12;
/// The challenger is promoted unless its AUC is more than this below the champion's on the
/// same window (differences this small are noise on a few thousand outcomes).
const AUC_TOLERANCE: f64 = 0.002;
/// Fewest backtest shipments (and frauds) the champion has not learned from that make a
/// comparison; with fewer the champion stays.
const MIN_COMPARED: usize = 100;
const MIN_COMPARED_FRAUDS: usize = 5;

/// One recorded declaration, with its outcome when inspected.
#[derive(Debug, Clone)]
pub struct Example {
    /// What the model reads of it.
    pub declared: Declared,
    /// The seller context when it was assessed.
    pub context: Context,
    /// Its outcome: (fraud, recovered duty in the outcome's currency units, inspection day).
    pub outcome: Option<(bool, f64, f64)>,
}

/// The trees' settings. 200 trees of depth 5 at learning rate 0.1 with half the rows per
/// tree: on the development data as good as 800 slower trees (docs/targeting.md).
fn booster(threads: usize) -> GradientBooster {
    GradientBooster::default()
        .set_iterations(200)
        .set_learning_rate(0.1)
        .set_max_depth(5)
        .set_min_leaf_weight(5.0)
        .set_subsample(0.5)
        .set_colsample_bytree(0.8)
        .set_l2(1.0)
        .set_nbins(64)
        .set_seed(0)
        .set_parallel(threads > 1)
        .set_num_threads(Some(threads.max(1)))
}

/// Feature rows of the labelled declarations, in declaration time order.
#[derive(Debug, Default)]
pub struct Dataset {
    /// One vector per feature space asked for, per row.
    pub rows: Vec<Vec<Vec<f64>>>,
    /// Fraud found.
    pub fraud: Vec<bool>,
    /// Recovered duty.
    pub revenue: Vec<f64>,
    /// Declaration day.
    pub day: Vec<f64>,
    /// HS subheading, for the baseline.
    pub hs6: Vec<String>,
}

/// National code schemes frequent enough to be features, sorted.
pub fn code_schemes(examples: &[Example]) -> Vec<String> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    let labelled = examples.iter().filter(|e| e.outcome.is_some());
    let mut n = 0;
    for example in labelled {
        n += 1;
        for field in example.declared.keys.keys() {
            if let Some(scheme) = field.strip_prefix("code:") {
                *counts.entry(scheme).or_default() += 1;
            }
        }
    }
    let mut schemes: Vec<(usize, &str)> = counts
        .into_iter()
        .filter(|(_, c)| *c as f64 >= CODE_SCHEME_SHARE * n as f64)
        .map(|(s, c)| (c, s))
        .collect();
    schemes.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
    let mut out: Vec<String> = schemes
        .into_iter()
        .take(MAX_CODE_SCHEMES)
        .map(|(_, s)| s.to_owned())
        .collect();
    out.sort();
    out
}

/// Replays `examples` in time order (a declaration at its time, its outcome at its
/// inspection time but never before the declaration) and returns the features of every
/// labelled declaration as they were when it was declared, in each of `spaces`.
pub fn replay(examples: &[Example], spaces: &[&FeatureSpace]) -> Dataset {
    // (time, 0 = declaration / 1 = outcome, index): declarations of a moment before its
    // outcomes, so none sees an outcome of its own moment.
    let mut events: Vec<(f64, u8, usize)> = Vec::with_capacity(examples.len() * 2);
    for (i, example) in examples.iter().enumerate() {
        events.push((example.declared.day, 0, i));
        if let Some((_, _, inspected)) = example.outcome {
            events.push((inspected.max(example.declared.day), 1, i));
        }
    }
    events.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let mut stats = Stats::default();
    let mut data = Dataset::default();
    for (_, kind, i) in events {
        let example = &examples[i];
        if kind == 0 {
            if let Some((fraud, revenue, _)) = example.outcome {
                data.rows.push(
                    spaces
                        .iter()
                        .map(|s| s.vector(&example.declared, &example.context, &stats))
                        .collect(),
                );
                data.fraud.push(fraud);
                data.revenue.push(revenue);
                data.day.push(example.declared.day);
                data.hs6.push(
                    example
                        .declared
                        .keys
                        .get("hs6")
                        .cloned()
                        .unwrap_or_default(),
                );
            }
            stats.see(&example.declared);
        } else if let Some((fraud, _, day)) = example.outcome {
            stats.record(&example.declared, fraud, day.max(example.declared.day));
        }
    }
    data
}

/// A trained model and what is known of it.
pub struct Fitted {
    /// The trees.
    pub booster: GradientBooster,
    /// Its features.
    pub space: FeatureSpace,
    /// Its facts.
    pub facts: Facts,
    /// Its scores (probabilities) of the backtest declarations, point in time: how it
    /// scores declarations it has not seen, to seed the lane thresholds.
    pub backtest_scores: Vec<f64>,
}

/// Facts about a trained model, kept with it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Facts {
    /// Outcomes it learned from and of which frauds.
    pub training_outcomes: usize,
    /// See `training_outcomes`.
    pub training_frauds: usize,
    /// First and last declaration day it learned from.
    pub window: (f64, f64),
    /// Its backtest on the most recent outcomes it did not learn from.
    pub backtest: Quality,
    /// The HS6 profile on the same window.
    pub baseline: Quality,
    /// Feature names.
    pub features: Vec<String>,
}

/// Column-major matrix data of `rows` (the layout the trees read).
fn columns(rows: &[&[f64]]) -> Vec<f64> {
    let cols = rows.first().map_or(0, |r| r.len());
    let mut data = Vec::with_capacity(rows.len() * cols);
    for c in 0..cols {
        data.extend(rows.iter().map(|r| r[c]));
    }
    data
}

/// The probability of a log-odds score: the trees' output on the risk scale.
pub fn sigmoid(log_odds: f64) -> f64 {
    1.0 / (1.0 + (-log_odds).exp())
}

/// Raw (log-odds) predictions of `booster` for `rows`.
pub fn predict(booster: &GradientBooster, rows: &[&[f64]]) -> Vec<f64> {
    let cols = rows.first().map_or(0, |r| r.len());
    let data = columns(rows);
    booster.predict(&Matrix::new(&data, rows.len(), cols), false)
}

/// Why a training did not run.
#[derive(Debug, thiserror::Error)]
pub enum NotTrained {
    /// Cold start.
    #[error(
        "{outcomes} outcomes ({frauds} frauds) recorded; {MIN_OUTCOMES} outcomes with {MIN_FRAUDS} frauds are needed"
    )]
    TooFew {
        /// Outcomes recorded.
        outcomes: usize,
        /// Frauds among them.
        frauds: usize,
    },
    /// The library failed.
    #[error("the trees could not be trained: {0}")]
    Trees(String),
}

/// Trains a challenger on `examples`; with `champion`, also measures the champion on the
/// challenger's backtest rows it never learned from. Returns the challenger and the
/// champion's quality on those rows (`None` when there are too few to compare).
pub fn train(
    examples: &[Example],
    champion: Option<(&FeatureSpace, &GradientBooster, f64)>,
    threads: usize,
) -> Result<(Fitted, Option<(Quality, Quality)>), NotTrained> {
    let labelled: Vec<&Example> = examples.iter().filter(|e| e.outcome.is_some()).collect();
    let frauds = labelled
        .iter()
        .filter(|e| e.outcome.is_some_and(|o| o.0))
        .count();
    if labelled.len() < MIN_OUTCOMES || frauds < MIN_FRAUDS {
        return Err(NotTrained::TooFew {
            outcomes: labelled.len(),
            frauds,
        });
    }
    let space = FeatureSpace::new(&code_schemes(examples));
    let mut spaces = vec![&space];
    if let Some((champion_space, _, _)) = champion {
        spaces.push(champion_space);
    }
    let data = replay(examples, &spaces);
    let n = data.fraud.len();
    let cut = ((n as f64) * (1.0 - BACKTEST_SHARE)).round() as usize;
    let (train_rows, test_rows) = (0..cut, cut..n);
    let rows = |range: std::ops::Range<usize>, s: usize| -> Vec<&[f64]> {
        range.map(|i| data.rows[i][s].as_slice()).collect()
    };
    let x = rows(train_rows.clone(), 0);
    let y: Vec<f64> = data.fraud[..cut]
        .iter()
        .map(|f| f64::from(u8::from(*f)))
        .collect();
    let matrix_data = columns(&x);
    let mut booster = booster(threads);
    booster
        .fit_unweighted(
            &Matrix::new(&matrix_data, x.len(), space.names().len()),
            &y,
            None,
        )
        .map_err(|e| NotTrained::Trees(e.to_string()))?;

    let test = rows(test_rows.clone(), 0);
    let scores = predict(&booster, &test);
    let window = |r: std::ops::Range<usize>| (data.day[r.start], data.day[r.end - 1]);
    let backtest = measure(
        &scores,
        &data.fraud[cut..],
        &data.revenue[cut..],
        &data.day[cut..],
    );
    let profile = Hs6Profile::learn((0..cut).map(|i| (data.hs6[i].as_str(), data.fraud[i])));
    let hs_scores: Vec<f64> = (cut..n).map(|i| profile.score(&data.hs6[i])).collect();
    let baseline = measure(
        &hs_scores,
        &data.fraud[cut..],
        &data.revenue[cut..],
        &data.day[cut..],
    );
    let compared = champion.and_then(|(_, champion_booster, trained_until)| {
        // Backtest rows declared after the champion's training window: unseen by both.
        let unseen: Vec<usize> = (cut..n).filter(|&i| data.day[i] > trained_until).collect();
        let unseen_frauds = unseen.iter().filter(|&&i| data.fraud[i]).count();
        if unseen.len() < MIN_COMPARED || unseen_frauds < MIN_COMPARED_FRAUDS {
            return None;
        }
        let pick = |s: usize| -> Vec<&[f64]> {
            unseen.iter().map(|&i| data.rows[i][s].as_slice()).collect()
        };
        let fraud: Vec<bool> = unseen.iter().map(|&i| data.fraud[i]).collect();
        let revenue: Vec<f64> = unseen.iter().map(|&i| data.revenue[i]).collect();
        let days: Vec<f64> = unseen.iter().map(|&i| data.day[i]).collect();
        let challenger = measure(&predict(&booster, &pick(0)), &fraud, &revenue, &days);
        let incumbent = measure(
            &predict(champion_booster, &pick(1)),
            &fraud,
            &revenue,
            &days,
        );
        Some((challenger, incumbent))
    });
    let facts = Facts {
        training_outcomes: cut,
        training_frauds: data.fraud[..cut].iter().filter(|f| **f).count(),
        window: window(train_rows),
        backtest,
        baseline,
        features: space.names(),
    };
    let backtest_scores = scores.iter().copied().map(sigmoid).collect();
    Ok((
        Fitted {
            booster,
            space,
            facts,
            backtest_scores,
        },
        compared,
    ))
}

/// The promotion rule: (promote, why). Without a champion the challenger must not rank
/// worse than the HS6 profile on its backtest; with one, its AUC on the backtest rows
/// neither learned from must not be below the champion's (by more than the tolerance).
pub fn decide(
    facts: &Facts,
    has_champion: bool,
    compared: Option<&(Quality, Quality)>,
) -> (bool, String) {
    match (has_champion, compared) {
        (false, _) => {
            let ok = facts.backtest.auc + AUC_TOLERANCE >= facts.baseline.auc;
            (
                ok,
                format!(
                    "first model: backtest AUC {:.3} against the HS6 profile's {:.3}",
                    facts.backtest.auc, facts.baseline.auc
                ),
            )
        }
        (true, None) => (
            false,
            format!(
                "too few backtest outcomes the champion has not learned from to compare (need {MIN_COMPARED} with {MIN_COMPARED_FRAUDS} frauds)"
            ),
        ),
        (true, Some((challenger, champion))) => (
            challenger.auc + AUC_TOLERANCE >= champion.auc,
            format!(
                "on {} backtest outcomes neither learned from: challenger AUC {:.3}, champion {:.3}",
                challenger.shipments, challenger.auc, champion.auc
            ),
        ),
    }
}

impl std::fmt::Debug for Fitted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fitted")
            .field("trees", &self.booster.trees.len())
            .field("space", &self.space)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn quality(auc: f64) -> Quality {
        Quality {
            shipments: 500,
            frauds: 50,
            auc,
            ..Quality::default()
        }
    }

    fn example(day: f64, fraud: bool) -> Example {
        let mut declared = Declared {
            day,
            ..Declared::default()
        };
        declared
            .keys
            .insert("importer".to_owned(), "IMP-9".to_owned());
        Example {
            declared,
            context: Context::default(),
            outcome: Some((fraud, 0.0, day)),
        }
    }

    #[test]
    fn a_declaration_never_sees_its_own_outcome_nor_later_ones() {
        // Outcomes inspected the day they were declared, and one recorded as inspected
        // before its declaration (bad data): it still comes after its own declaration.
        let mut examples = vec![
            example(10.0, true),
            example(10.0, true),
            example(12.0, false),
        ];
        examples.push(Example {
            outcome: Some((true, 0.0, 1.0)),
            ..example(11.0, true)
        });
        let space = FeatureSpace::new(&[]);
        let names = space.names();
        let n = names
            .iter()
            .position(|f| f == "importer.outcomes_log")
            .unwrap();
        let data = replay(&examples, &[&space]);
        let outcomes_seen: Vec<f64> = data.rows.iter().map(|r| r[0][n].exp_m1().round()).collect();
        // day 10 (twice): none yet; day 11: the two of day 10; day 12: those and day 11's.
        assert_eq!(outcomes_seen, vec![0.0, 0.0, 2.0, 3.0]);
    }

    #[test]
    fn a_reassessment_reads_the_declaration_as_when_it_arrived() {
        let mut stats = Stats::default();
        let mut earlier = Vec::new();
        for (day, value, mass) in [(1.0, 100.0, 2.0), (2.0, 300.0, 4.0), (3.0, 90.0, 1.0)] {
            let mut e = example(day, false);
            e.declared.value_usd = Some(value);
            e.declared.net_mass_kg = mass;
            e.declared
                .keys
                .insert("hs6".to_owned(), "851830".to_owned());
            stats.see(&e.declared);
            earlier.push(e);
        }
        let mut new = example(4.0, false);
        new.declared.value_usd = Some(40.0);
        new.declared.net_mass_kg = 3.0;
        new.declared
            .keys
            .insert("hs6".to_owned(), "851830".to_owned());
        let space = FeatureSpace::new(&[]);
        let on_arrival = space.vector(&new.declared, &new.context, &stats);
        stats.see(&new.declared);
        let again = space.vector_seen(&new.declared, &new.context, &stats);
        for ((name, a), b) in space.names().iter().zip(&on_arrival).zip(&again) {
            assert!(
                (a - b).abs() < 1e-9 || (a.is_nan() && b.is_nan()),
                "{name}: {a} vs {b}"
            );
        }
    }

    #[test]
    fn counts_added_for_a_batch_are_taken_back_exactly() {
        let mut stats = Stats::default();
        let space = FeatureSpace::new(&[]);
        let declared = |day: f64, value: f64| {
            let mut e = example(day, false);
            e.declared.value_usd = Some(value);
            e.declared.net_mass_kg = 2.0;
            e.declared
                .keys
                .insert("hs6".to_owned(), "851830".to_owned());
            e
        };
        stats.see(&declared(5.0, 100.0).declared);
        let probe = declared(9.0, 70.0);
        let before = space.vector(&probe.declared, &probe.context, &stats);
        // A batch: one earlier than anything seen (it moves `first`), one of a new importer.
        let mut newcomer = declared(3.0, 400.0);
        newcomer
            .declared
            .keys
            .insert("importer".to_owned(), "IMP-NEW".to_owned());
        let undo = vec![
            stats.see_undoable(&declared(2.0, 10.0).declared),
            stats.see_undoable(&newcomer.declared),
        ];
        let during = space.vector(&probe.declared, &probe.context, &stats);
        assert_ne!(
            format!("{before:?}"),
            format!("{during:?}"),
            "the batch counts"
        );
        for undo in undo.into_iter().rev() {
            stats.undo(undo);
        }
        let after = space.vector(&probe.declared, &probe.context, &stats);
        assert_eq!(format!("{before:?}"), format!("{after:?}"));
        assert_eq!(stats.seen_count("importer", "IMP-NEW"), 0);
    }

    #[test]
    fn a_challenger_that_backtests_worse_is_not_promoted() {
        let facts = Facts::default();
        assert!(!decide(&facts, true, Some(&(quality(0.70), quality(0.80)))).0);
        assert!(decide(&facts, true, Some(&(quality(0.80), quality(0.80)))).0);
        assert!(decide(&facts, true, Some(&(quality(0.85), quality(0.80)))).0);
        assert!(
            !decide(&facts, true, None).0,
            "nothing to compare: the champion stays"
        );
    }

    #[test]
    fn the_first_model_must_not_rank_worse_than_the_hs6_profile() {
        let mut facts = Facts {
            backtest: quality(0.60),
            baseline: quality(0.70),
            ..Facts::default()
        };
        assert!(!decide(&facts, false, None).0);
        facts.backtest.auc = 0.75;
        assert!(decide(&facts, false, None).0);
    }
}
