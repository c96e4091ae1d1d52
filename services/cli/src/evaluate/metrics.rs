//! How customs judge a targeting model, computed over one ranked period: precision@n%
//! (the share of fraud among the top n% by risk), revenue@n% (the share of the period's
//! recoverable revenue those shipments hold) and the AUC (the chance that a random
//! fraudulent shipment is ranked above a random honest one, ties counting half). Also the
//! two references every figure is read against: random selection (expected values) and the
//! fraud rate of the HS6 code learned from the earlier period's outcomes.
//!
//! Pure functions of their inputs, so that they are tested against brute force.

use std::collections::HashMap;

/// The n of precision@n% and revenue@n%.
pub const LEVELS: [f64; 4] = [1.0, 2.0, 5.0, 10.0];

/// One ranked shipment: its score and what it truly was.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    /// Higher is riskier. Compared with `f64::total_cmp`.
    pub score: f64,
    /// Breaks ties in score: the lower key ranks first. A hash of the declaration id
    /// ([`tie_key`]), so that ties fall in an order unrelated to the outcome and the same in
    /// every run.
    pub tie: u64,
    /// Whether the inspection found fraud.
    pub fraud: bool,
    /// The revenue the inspection recovered (or would have), when the source says; 0 for
    /// an honest shipment.
    pub revenue: f64,
}

/// precision@n%, revenue@n% and AUC of one ranking.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Metrics {
    /// Share of fraud among the top n% (a fraction, 0 to 1), one per [`LEVELS`].
    pub precision: Vec<f64>,
    /// Share of the period's revenue in the top n%, one per [`LEVELS`]; `None` when the
    /// source carries no revenue (or the period holds none).
    pub revenue: Option<Vec<f64>>,
    /// Area under the ROC curve; `None` when the period holds no fraud or no honest
    /// shipment (it is then undefined).
    pub auc: Option<f64>,
}

/// How many shipments the top `percent`% of `n` holds: rounded, at least one of a
/// non-empty period, never more than `n`.
pub fn top_count(n: usize, percent: f64) -> usize {
    if n == 0 {
        return 0;
    }
    let count = (n as f64 * percent / 100.0).round() as usize;
    count.clamp(1, n)
}

/// A key for breaking ties in score, derived from the declaration id alone (FNV-1a, then
/// a SplitMix64 finaliser to spread close ids).
pub fn tie_key(id: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in id.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    let mut z = hash.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The positions of `items`, riskiest first: by score (descending), then tie key, then
/// position, so the order is total and repeatable.
pub fn ranking(items: &[Scored]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by(|&a, &b| {
        items[b]
            .score
            .total_cmp(&items[a].score)
            .then(items[a].tie.cmp(&items[b].tie))
            .then(a.cmp(&b))
    });
    order
}

/// The metrics of ranking `items` by their scores. `with_revenue` false (the source has no
/// revenue) leaves revenue@n% out.
pub fn evaluate(items: &[Scored], with_revenue: bool) -> Metrics {
    let order = ranking(items);
    let total_revenue: f64 = items.iter().map(|i| i.revenue).sum();
    let mut precision = Vec::with_capacity(LEVELS.len());
    let mut revenue = Vec::with_capacity(LEVELS.len());
    for level in LEVELS {
        let top = &order[..top_count(items.len(), level)];
        let frauds = top.iter().filter(|&&i| items[i].fraud).count();
        precision.push(if top.is_empty() {
            0.0
        } else {
            frauds as f64 / top.len() as f64
        });
        revenue.push(top.iter().map(|&i| items[i].revenue).sum::<f64>() / total_revenue);
    }
    Metrics {
        precision,
        revenue: (with_revenue && total_revenue > 0.0).then_some(revenue),
        auc: auc(items),
    }
}

/// The AUC of `items` by score (Mann-Whitney: the mean rank of the frauds among all, ties
/// sharing their average rank); `None` without both frauds and honest shipments.
pub fn auc(items: &[Scored]) -> Option<f64> {
    let mut ascending: Vec<usize> = (0..items.len()).collect();
    ascending.sort_by(|&a, &b| items[a].score.total_cmp(&items[b].score));
    let (mut rank_sum, mut positives) = (0.0, 0.0);
    let mut start = 0;
    while start < ascending.len() {
        let score = items[ascending[start]].score;
        let end = ascending[start..]
            .iter()
            .position(|&i| items[i].score.total_cmp(&score).is_ne())
            .map_or(ascending.len(), |offset| start + offset);
        // Ranks start + 1 ..= end share their mean.
        let mean_rank = (start + 1 + end) as f64 / 2.0;
        for &i in &ascending[start..end] {
            if items[i].fraud {
                rank_sum += mean_rank;
                positives += 1.0;
            }
        }
        start = end;
    }
    let negatives = items.len() as f64 - positives;
    (positives > 0.0 && negatives > 0.0)
        .then(|| (rank_sum - positives * (positives + 1.0) / 2.0) / (positives * negatives))
}

/// What random selection gets on average: precision@n% is the top's expected share of
/// fraud (the base rate), revenue@n% the top's share of the shipments, the AUC one half.
pub fn random_expectation(items: &[Scored], with_revenue: bool) -> Metrics {
    let n = items.len();
    let base_rate = if n == 0 {
        0.0
    } else {
        items.iter().filter(|i| i.fraud).count() as f64 / n as f64
    };
    let total_revenue: f64 = items.iter().map(|i| i.revenue).sum();
    Metrics {
        precision: LEVELS.iter().map(|_| base_rate).collect(),
        revenue: (with_revenue && total_revenue > 0.0).then(|| {
            LEVELS
                .iter()
                .map(|&level| top_count(n, level) as f64 / n as f64)
                .collect()
        }),
        auc: auc(items).map(|_| 0.5),
    }
}

/// The HS6 baseline: each HS6 code's fraud rate among the outcomes learned, smoothed
/// towards the rate over all codes as if [`HsBaseline::PRIOR`] more inspections had found
/// fraud at that rate. A code never inspected scores the overall rate.
#[derive(Debug, Clone, Default)]
pub struct HsBaseline {
    /// HS6 code: (inspections, frauds).
    counts: HashMap<String, (u64, u64)>,
    inspections: u64,
    frauds: u64,
}

impl HsBaseline {
    /// Weight of the overall rate, in inspections: with 5, the baseline reproduces the
    /// reference figures of the development data's README (P@1% 61.6, AUC 0.73).
    pub const PRIOR: f64 = 5.0;

    /// Learns one outcome of a shipment of `hs_code` (its first 6 digits count).
    pub fn learn(&mut self, hs_code: &str, fraud: bool) {
        let entry = self.counts.entry(hs6(hs_code).to_owned()).or_default();
        entry.0 += 1;
        self.inspections += 1;
        if fraud {
            entry.1 += 1;
            self.frauds += 1;
        }
    }

    /// The fraud rate over every outcome learned (0 before any).
    pub fn overall_rate(&self) -> f64 {
        if self.inspections == 0 {
            0.0
        } else {
            self.frauds as f64 / self.inspections as f64
        }
    }

    /// The smoothed fraud rate of `hs_code`'s HS6 code.
    pub fn score(&self, hs_code: &str) -> f64 {
        let overall = self.overall_rate();
        let (inspections, frauds) = self.counts.get(hs6(hs_code)).copied().unwrap_or_default();
        (frauds as f64 + Self::PRIOR * overall) / (inspections as f64 + Self::PRIOR)
    }

    /// How many outcomes were learned.
    pub fn inspections(&self) -> u64 {
        self.inspections
    }
}

fn hs6(code: &str) -> &str {
    code.get(..6).unwrap_or(code)
}

#[cfg(test)]
#[path = "metrics_tests.rs"]
mod tests;
