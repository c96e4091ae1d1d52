//! Ranking quality of scores against inspection outcomes: precision and recovered revenue
//! among the top 1, 2, 5 and 10 percent, and the area under the ROC curve; and the HS6
//! fraud-rate profile that every model is compared with.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// The top shares reported, in percent.
pub const TOP_PERCENTS: [f64; 4] = [1.0, 2.0, 5.0, 10.0];

/// Ranking quality on one window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Quality {
    /// First and last declaration day (days since 1970-01-01) of the window.
    pub window: (f64, f64),
    /// Shipments in the window.
    pub shipments: usize,
    /// Of which found fraud.
    pub frauds: usize,
    /// (percent, precision, revenue share) for each of [`TOP_PERCENTS`].
    pub top: Vec<(f64, f64, f64)>,
    /// Area under the ROC curve; 0.5 when one class is absent.
    pub auc: f64,
}

impl Quality {
    /// Mean precision over the top shares: the summary the promotion rule reads with AUC.
    pub fn mean_precision(&self) -> f64 {
        if self.top.is_empty() {
            return 0.0;
        }
        self.top.iter().map(|t| t.1).sum::<f64>() / self.top.len() as f64
    }
}

/// The number of shipments in the top `percent` of `n`: at least one.
pub fn top_count(n: usize, percent: f64) -> usize {
    ((n as f64 * percent / 100.0).ceil() as usize).clamp(1, n.max(1))
}

/// Measures `scores` against `fraud` (and `revenue` recovered per shipment). Ties in score
/// are broken by position, so the result is deterministic.
pub fn measure(scores: &[f64], fraud: &[bool], revenue: &[f64], days: &[f64]) -> Quality {
    let n = scores.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    let total_revenue: f64 = revenue.iter().sum();
    let frauds = fraud.iter().filter(|f| **f).count();
    let top = TOP_PERCENTS
        .iter()
        .map(|&p| {
            let k = top_count(n, p);
            let top = &order[..k.min(n)];
            let hits = top.iter().filter(|&&i| fraud[i]).count();
            let found: f64 = top.iter().map(|&i| revenue[i]).sum();
            let share = if total_revenue > 0.0 {
                found / total_revenue
            } else {
                0.0
            };
            (p, if n == 0 { 0.0 } else { hits as f64 / k as f64 }, share)
        })
        .collect();
    let window = days
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |w, &d| {
            (w.0.min(d), w.1.max(d))
        });
    Quality {
        window: if n == 0 { (0.0, 0.0) } else { window },
        shipments: n,
        frauds,
        top,
        auc: auc(scores, fraud),
    }
}

/// Area under the ROC curve by the rank-sum (Mann-Whitney) statistic, ties counted half.
pub fn auc(scores: &[f64], fraud: &[bool]) -> f64 {
    let positives = fraud.iter().filter(|f| **f).count();
    let negatives = fraud.len() - positives;
    if positives == 0 || negatives == 0 {
        return 0.5;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        // ranks i+1 ..= j+1 share their mean
        let mean_rank = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += order[i..=j].iter().filter(|&&k| fraud[k]).count() as f64 * mean_rank;
        i = j + 1;
    }
    let p = positives as f64;
    (rank_sum - p * (p + 1.0) / 2.0) / (p * negatives as f64)
}

/// The HS6 fraud-rate profile: each HS subheading's fraud rate among the training outcomes,
/// smoothed towards the overall rate with one imaginary inspection.
#[derive(Debug, Default)]
pub struct Hs6Profile {
    counts: HashMap<String, (f64, f64)>,
    overall: f64,
}

impl Hs6Profile {
    /// Learns from `(hs6, fraud)` outcomes.
    pub fn learn<'a>(outcomes: impl Iterator<Item = (&'a str, bool)>) -> Self {
        let mut counts: HashMap<String, (f64, f64)> = HashMap::new();
        let (mut n, mut f) = (0.0, 0.0);
        for (hs6, fraud) in outcomes {
            let c = counts.entry(hs6.to_owned()).or_default();
            c.0 += 1.0;
            c.1 += f64::from(u8::from(fraud));
            n += 1.0;
            f += f64::from(u8::from(fraud));
        }
        Self {
            counts,
            overall: (f + 1.0) / (n + 5.0),
        }
    }

    /// The profile's score of an HS subheading.
    pub fn score(&self, hs6: &str) -> f64 {
        self.counts
            .get(hs6)
            .map_or(self.overall, |(n, f)| (f + self.overall) / (n + 1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AUC by its definition: the share of (fraud, clean) pairs ranked right, ties half.
    fn auc_pairs(scores: &[f64], fraud: &[bool]) -> f64 {
        let (mut good, mut pairs) = (0.0, 0.0);
        for i in 0..scores.len() {
            for j in 0..scores.len() {
                if fraud[i] && !fraud[j] {
                    pairs += 1.0;
                    if scores[i] > scores[j] {
                        good += 1.0;
                    } else if scores[i] == scores[j] {
                        good += 0.5;
                    }
                }
            }
        }
        if pairs == 0.0 { 0.5 } else { good / pairs }
    }

    /// A small deterministic generator, so the property runs on many different inputs.
    fn lcg(seed: &mut u64) -> u64 {
        *seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        *seed >> 33
    }

    #[test]
    fn auc_and_precision_agree_with_brute_force_on_random_inputs_with_ties() {
        let mut seed = 7;
        for case in 0..300 {
            let n = 1 + (lcg(&mut seed) % 80) as usize;
            let levels = 1 + lcg(&mut seed) % 6; // few levels: many ties
            let scores: Vec<f64> = (0..n).map(|_| (lcg(&mut seed) % levels) as f64).collect();
            let fraud: Vec<bool> = (0..n).map(|_| lcg(&mut seed).is_multiple_of(3)).collect();
            let revenue: Vec<f64> = fraud.iter().map(|f| if *f { 2.0 } else { 0.0 }).collect();
            let days = vec![0.0; n];
            let q = measure(&scores, &fraud, &revenue, &days);
            assert!(
                (q.auc - auc_pairs(&scores, &fraud)).abs() < 1e-12,
                "case {case}"
            );
            for &(p, precision, _) in &q.top {
                // brute force: stable sort by score descending, take the first k
                let mut idx: Vec<usize> = (0..n).collect();
                idx.sort_by(|&a, &b| {
                    scores[b]
                        .partial_cmp(&scores[a])
                        .unwrap_or(std::cmp::Ordering::Equal)
                });
                let k = top_count(n, p);
                let hits = idx[..k].iter().filter(|&&i| fraud[i]).count();
                assert_eq!(precision, hits as f64 / k as f64, "case {case} top {p}%");
            }
        }
    }

    #[test]
    fn a_perfect_ranking_has_auc_one_and_a_reversed_one_zero() {
        let fraud = [true, true, false, false, false];
        assert_eq!(auc(&[5.0, 4.0, 3.0, 2.0, 1.0], &fraud), 1.0);
        assert_eq!(auc(&[1.0, 2.0, 3.0, 4.0, 5.0], &fraud), 0.0);
        assert_eq!(auc(&[1.0; 5], &fraud), 0.5);
    }

    #[test]
    fn hs6_profile_ranks_the_fraudulent_code_first() {
        let outcomes = [("851830", true), ("851830", true), ("610910", false)];
        let p = Hs6Profile::learn(outcomes.iter().copied());
        assert!(p.score("851830") > p.score("999999"));
        assert!(p.score("999999") > p.score("610910"));
    }
}
