//! The metrics against brute force on random data with many ties, and on hand-made cases.

use super::*;
use crate::evaluate::generator::Rng;

/// Random shipments: scores from a few values (so most of them tie) or continuous, tie
/// keys sometimes equal, a fraud share between none and all.
fn random_items(rng: &mut Rng) -> Vec<Scored> {
    let n = rng.below(300);
    let fraud_share = rng.unit();
    let discrete = rng.unit() < 0.7;
    (0..n)
        .map(|_| {
            let fraud = rng.unit() < fraud_share;
            Scored {
                score: if discrete {
                    [0.0, 0.1, 0.5, 1.0][rng.below(4)]
                } else {
                    rng.unit()
                },
                tie: rng.below(20) as u64,
                fraud,
                revenue: if fraud { 100.0 * rng.unit() } else { 0.0 },
            }
        })
        .collect()
}

/// Whether `a` ranks above `b`, written out as the rule says.
fn above(items: &[Scored], a: usize, b: usize) -> bool {
    let (x, y) = (&items[a], &items[b]);
    x.score > y.score || (x.score == y.score && (x.tie < y.tie || (x.tie == y.tie && a < b)))
}

/// The top `k` by counting, for each shipment, how many rank above it.
fn brute_top(items: &[Scored], k: usize) -> Vec<usize> {
    (0..items.len())
        .filter(|&i| (0..items.len()).filter(|&j| above(items, j, i)).count() < k)
        .collect()
}

/// The AUC over every (fraud, honest) pair.
fn brute_auc(items: &[Scored]) -> Option<f64> {
    let (mut wins, mut pairs) = (0.0, 0.0);
    for p in items.iter().filter(|i| i.fraud) {
        for n in items.iter().filter(|i| !i.fraud) {
            pairs += 1.0;
            if p.score > n.score {
                wins += 1.0;
            } else if p.score == n.score {
                wins += 0.5;
            }
        }
    }
    (pairs > 0.0).then(|| wins / pairs)
}

#[test]
fn precision_revenue_and_auc_match_brute_force() {
    let mut rng = Rng(20_240_601);
    for _ in 0..300 {
        let items = random_items(&mut rng);
        let metrics = evaluate(&items, true);
        let total: f64 = items.iter().map(|i| i.revenue).sum();
        for (index, level) in LEVELS.iter().enumerate() {
            let k = top_count(items.len(), *level);
            let top = brute_top(&items, k);
            assert_eq!(top.len(), k);
            let expected = if k == 0 {
                0.0
            } else {
                top.iter().filter(|&&i| items[i].fraud).count() as f64 / k as f64
            };
            assert!((metrics.precision[index] - expected).abs() < 1e-12);
            assert!((0.0..=1.0).contains(&metrics.precision[index]));
            match &metrics.revenue {
                Some(revenue) => {
                    let expected = top.iter().map(|&i| items[i].revenue).sum::<f64>() / total;
                    assert!((revenue[index] - expected).abs() < 1e-9);
                }
                None => assert_eq!(total, 0.0),
            }
        }
        match (metrics.auc, brute_auc(&items)) {
            (Some(fast), Some(slow)) => assert!((fast - slow).abs() < 1e-9, "{fast} vs {slow}"),
            (fast, slow) => assert_eq!(fast, slow),
        }
    }
}

#[test]
fn the_ranking_is_total_and_repeatable() {
    let mut rng = Rng(7);
    for _ in 0..50 {
        let items = random_items(&mut rng);
        let order = ranking(&items);
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..items.len()).collect::<Vec<_>>());
        for pair in order.windows(2) {
            assert!(above(&items, pair[0], pair[1]));
        }
        assert_eq!(order, ranking(&items));
    }
}

#[test]
fn random_expectation_is_the_mean_of_shuffles() {
    let mut rng = Rng(99);
    let items: Vec<Scored> = (0..400)
        .map(|i| Scored {
            score: 0.0,
            tie: 0,
            fraud: i % 4 == 0,
            revenue: if i % 4 == 0 { f64::from(i) } else { 0.0 },
        })
        .collect();
    let expected = random_expectation(&items, true);
    assert_eq!(expected.precision, vec![0.25; 4]);
    assert_eq!(expected.auc, Some(0.5));
    let rounds = 2000;
    let mut sums = [0.0; 4];
    for _ in 0..rounds {
        let shuffled: Vec<Scored> = items
            .iter()
            .map(|i| Scored {
                score: rng.unit(),
                ..*i
            })
            .collect();
        for (sum, value) in sums.iter_mut().zip(evaluate(&shuffled, true).precision) {
            *sum += value;
        }
    }
    for sum in sums {
        assert!((sum / f64::from(rounds) - 0.25).abs() < 0.02, "{sums:?}");
    }
    let revenue = expected.revenue.expect("revenue");
    assert_eq!(revenue[3], 40.0 / 400.0);
}

#[test]
fn perfect_and_reversed_rankings() {
    let items = |scores: [f64; 4]| -> Vec<Scored> {
        scores
            .iter()
            .zip([true, false, false, true])
            .map(|(&score, fraud)| Scored {
                score,
                tie: 0,
                fraud,
                revenue: if fraud { 10.0 } else { 0.0 },
            })
            .collect()
    };
    let perfect = evaluate(&items([0.9, 0.1, 0.2, 0.8]), true);
    assert_eq!(perfect.auc, Some(1.0));
    assert_eq!(perfect.precision[0], 1.0);
    assert_eq!(perfect.revenue.as_ref().map(|r| r[0]), Some(0.5));
    let reversed = evaluate(&items([0.1, 0.9, 0.8, 0.2]), false);
    assert_eq!(reversed.auc, Some(0.0));
    assert_eq!(reversed.precision[0], 0.0);
    assert_eq!(reversed.revenue, None);
    assert_eq!(evaluate(&[], true).auc, None);
}

#[test]
fn top_counts_round_and_hold_at_least_one() {
    assert_eq!(top_count(0, 1.0), 0);
    assert_eq!(top_count(10, 1.0), 1);
    assert_eq!(top_count(8634, 1.0), 86);
    assert_eq!(top_count(8634, 10.0), 863);
    assert_eq!(top_count(150, 1.0), 2);
    assert_eq!(top_count(3, 100.0), 3);
}

#[test]
fn the_hs6_baseline_smooths_towards_the_overall_rate() {
    let mut baseline = HsBaseline::default();
    for fraud in [true, true, false, false] {
        baseline.learn("851830", fraud);
    }
    for _ in 0..4 {
        baseline.learn("0901210000", false);
    }
    assert_eq!(baseline.inspections(), 8);
    assert_eq!(baseline.overall_rate(), 0.25);
    // (2 + 5 × 0.25) / (4 + 5)
    assert!((baseline.score("851830") - 3.25 / 9.0).abs() < 1e-12);
    // National extensions count under their HS6 code.
    assert!((baseline.score("090121") - 1.25 / 9.0).abs() < 1e-12);
    assert_eq!(baseline.score("999999"), 0.25);
    assert_eq!(HsBaseline::default().score("851830"), 0.0);
}

#[test]
fn tie_keys_depend_on_the_id_alone() {
    assert_eq!(tie_key("97061800"), tie_key("97061800"));
    assert_ne!(tie_key("97061800"), tie_key("97061801"));
}
