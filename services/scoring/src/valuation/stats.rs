//! Robust statistics of a group of values: the latest [`RESERVOIR`] values, their median
//! and median absolute deviation (MAD).

use std::{collections::VecDeque, sync::OnceLock};

/// Values kept per group.
pub const RESERVOIR: usize = 2000;
/// Smallest MAD (log scale) used, so that identical values do not make every difference
/// infinitely significant.
const MIN_MAD: f64 = 0.05;

/// The latest values of one group (natural logs of US-dollar values).
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Reservoir {
    values: VecDeque<f64>,
    /// The median and MAD of `values`, computed on first use after a change: every
    /// declaration of a busy group reads them, and values arrive far less often (a batch
    /// of 100 declarations read a group of 2,000 values hundreds of times, each time
    /// sorting it twice: a tenth of intake's CPU).
    #[serde(skip)]
    robust: OnceLock<Robust>,
}

/// The centre and spread of a group, on the scale of its values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Robust {
    /// Median of the values.
    pub median: f64,
    /// Median absolute deviation from the median, at least [`MIN_MAD`].
    pub mad: f64,
    /// How many values there are.
    pub count: usize,
}

impl Reservoir {
    /// Adds a value, dropping the oldest when [`RESERVOIR`] are kept.
    pub(crate) fn push(&mut self, value: f64) {
        if self.values.len() == RESERVOIR {
            self.values.pop_front();
        }
        self.values.push_back(value);
        self.robust = OnceLock::new();
    }

    /// How many values are kept.
    pub(super) fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether no value is kept.
    pub(super) fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Median and MAD of the values; `None` when there are none.
    pub(super) fn robust(&self) -> Option<Robust> {
        if self.values.is_empty() {
            return None;
        }
        Some(
            *self
                .robust
                .get_or_init(|| robust_of(self.values.iter().copied().collect())),
        )
    }
}

/// Median and MAD of `values` (in any order, not empty). Selection, not sorting: the same
/// values as sorting would pick, in linear time.
fn robust_of(mut values: Vec<f64>) -> Robust {
    let centre = median(&mut values);
    let count = values.len();
    for value in &mut values {
        *value = (*value - centre).abs();
    }
    Robust {
        median: centre,
        mad: median(&mut values).max(MIN_MAD),
        count,
    }
}

/// The middle value of `values` in [`f64::total_cmp`] order (the mean of the two middle
/// ones when their number is even), as sorting them would give; reorders `values`.
/// `values` must not be empty.
fn median(values: &mut [f64]) -> f64 {
    let n = values.len();
    let (below, middle, _) = values.select_nth_unstable_by(n / 2, f64::total_cmp);
    if n % 2 == 1 {
        *middle
    } else {
        // The other middle value is the largest of those below.
        let lower = below
            .iter()
            .copied()
            .max_by(f64::total_cmp)
            .unwrap_or(*middle);
        (lower + *middle) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng, rngs::StdRng};

    use super::*;

    /// Median and MAD as they were computed before selection: two full sorts.
    fn sorted_robust(values: &[f64]) -> Robust {
        let middle = |sorted: &[f64]| {
            let n = sorted.len();
            if n % 2 == 1 {
                sorted[n / 2]
            } else {
                (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
            }
        };
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let median = middle(&sorted);
        let mut deviations: Vec<f64> = sorted.iter().map(|v| (v - median).abs()).collect();
        deviations.sort_by(f64::total_cmp);
        Robust {
            median,
            mad: middle(&deviations).max(MIN_MAD),
            count: sorted.len(),
        }
    }

    #[test]
    fn selection_gives_what_sorting_gave() {
        let mut rng = StdRng::seed_from_u64(7);
        for round in 0..2_000 {
            let n = 1 + round % 97 + if round % 10 == 0 { 1_900 } else { 0 };
            // Repeats and ties as real prices have them: few distinct values in some rounds.
            let distinct = if round % 3 == 0 { 4 } else { 1_000_000 };
            let values: Vec<f64> = (0..n)
                .map(|_| (rng.random_range(0..distinct) as f64 / 97.0).ln_1p() - 2.0)
                .collect();
            let mut reservoir = Reservoir::default();
            for value in &values {
                reservoir.push(*value);
            }
            let kept = &values[values.len().saturating_sub(RESERVOIR)..];
            assert_eq!(reservoir.robust(), Some(sorted_robust(kept)), "{values:?}");
        }
        assert_eq!(Reservoir::default().robust(), None);
    }

    #[test]
    fn a_new_value_is_counted_after_a_read() {
        let mut reservoir = Reservoir::default();
        reservoir.push(1.0);
        reservoir.push(3.0);
        assert_eq!(
            reservoir.robust().map(|r| (r.median, r.count)),
            Some((2.0, 2))
        );
        reservoir.push(10.0);
        assert_eq!(
            reservoir.robust().map(|r| (r.median, r.count)),
            Some((3.0, 3))
        );
        // A copy keeps its values and computes alike.
        let copy = reservoir.clone();
        assert_eq!(copy.robust(), reservoir.robust());
    }
}
