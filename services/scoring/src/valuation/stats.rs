//! Robust statistics of a group of values: the latest [`RESERVOIR`] values, their median
//! and median absolute deviation (MAD).

use std::collections::VecDeque;

/// Values kept per group.
pub const RESERVOIR: usize = 2000;
/// Smallest MAD (log scale) used, so that identical values do not make every difference
/// infinitely significant.
const MIN_MAD: f64 = 0.05;

/// The latest values of one group (natural logs of US-dollar values).
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Reservoir {
    values: VecDeque<f64>,
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
        let mut sorted: Vec<f64> = self.values.iter().copied().collect();
        sorted.sort_by(f64::total_cmp);
        let median = middle(&sorted);
        let mut deviations: Vec<f64> = sorted.iter().map(|v| (v - median).abs()).collect();
        deviations.sort_by(f64::total_cmp);
        Some(Robust {
            median,
            mad: middle(&deviations).max(MIN_MAD),
            count: sorted.len(),
        })
    }
}

/// The middle of sorted values (the mean of the two middle ones when their number is even).
fn middle(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}
