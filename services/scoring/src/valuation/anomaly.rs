//! The declared-value anomaly rule: a value compared on a log scale with a group's median
//! and MAD (robust z-score), and how strong an anomaly is.

use acx_proto::scoring::{ComparisonBasis, ShipmentAssessment, ValueAnomaly};

use super::stats::{Reservoir, Robust};
use crate::model::ReasonCode;

/// Robust z-score at or below which a value is anomalously low.
pub const ANOMALY_Z: f64 = -2.5;
/// Bounds of a reported robust z-score; a declared value of 0 (no logarithm) gets `MIN_Z`.
pub const MIN_Z: f64 = -99.0;
/// Upper bound of a reported robust z-score.
const MAX_Z: f64 = 99.0;

/// A group a declared value is compared with.
pub(super) struct Comparison<'a> {
    /// The group's values (natural logs of US dollars, per unit or per kilogram).
    pub group: &'a Reservoir,
    /// What the group is.
    pub basis: ComparisonBasis,
    /// What a person reads: `GTIN 0123...`, `HS 6403 from CN`.
    pub label: String,
    /// Fewest values for a comparison.
    pub min_size: usize,
}

/// Compares `declared` (US dollars per unit or per kilogram, as the group) of `quantity`
/// units or kilograms with a group; `Some` anomaly when it is anomalously low.
pub(super) fn compare(
    declared: f64,
    quantity: f64,
    comparison: Comparison<'_>,
) -> Option<ValueAnomaly> {
    let Comparison {
        group,
        basis,
        label,
        min_size,
    } = comparison;
    let Robust { median, mad, count } = group.robust()?;
    if count < min_size || !(declared >= 0.0 && declared.is_finite()) {
        return None;
    }
    let sigma = 1.4826 * mad;
    // A value of 0 has no logarithm: it is as far below any group as a value can be.
    let z = if declared > 0.0 {
        ((declared.ln() - median) / sigma).clamp(MIN_Z, MAX_Z)
    } else {
        MIN_Z
    };
    let ratio = declared / median.exp();
    let small_market = basis == ComparisonBasis::MarketplacePrice && count < 5;
    let anomalous = if small_market {
        ratio < 0.5
    } else {
        z <= ANOMALY_Z
    };
    if !anomalous {
        return None;
    }
    let code = match basis {
        ComparisonBasis::MarketplacePrice => ReasonCode::DeclaredValueBelowMarket,
        ComparisonBasis::PeerDeclarations => ReasonCode::DeclaredValueBelowPeers,
        _ => ReasonCode::DeclaredValueBelowImporterHistory,
    };
    let round = |v: f64| (v * 1e4).round() / 1e4;
    Some(ValueAnomaly {
        code: code.as_str().to_owned(),
        basis: basis as i32,
        comparison_group: label,
        expected_low: round((median - 2.0 * sigma).exp()),
        expected_high: round((median + 2.0 * sigma).exp()),
        ratio: round(ratio),
        robust_z: round(z),
        estimated_gap_usd: round(((median.exp() - declared) * quantity).max(0.0)),
        sample_size: count as i64,
    })
}

/// How strong an anomaly is, 0 to 1: z = -2.5 gives 0.25, -4 gives 0.75, -4.75 or lower
/// gives 1; a thin market's ratio under 0.5 counts as z = -4, and a declared value of 0
/// (or a ratio that rounds to 0, under 0.00005) is always 1, the strongest.
pub(super) fn strength(anomaly: &ValueAnomaly) -> f64 {
    let thin_market =
        anomaly.sample_size < 5 && anomaly.basis == ComparisonBasis::MarketplacePrice as i32;
    let z = if thin_market && anomaly.ratio > 0.0 {
        -4.0
    } else {
        anomaly.robust_z
    };
    ((-z - 1.75) / 3.0).clamp(0.0, 1.0)
}

/// The strongest value anomaly of an assessment, 0 when there is none.
pub fn anomaly_strength(assessment: &ShipmentAssessment) -> f64 {
    strongest(assessment, |_| true)
}

/// The strongest anomaly against the platforms' own prices for the same goods
/// (`DECLARED_VALUE_BELOW_MARKET`), 0 when there is none.
pub fn market_anomaly_strength(assessment: &ShipmentAssessment) -> f64 {
    strongest(assessment, |anomaly| {
        anomaly.basis == ComparisonBasis::MarketplacePrice as i32
    })
}

fn strongest(assessment: &ShipmentAssessment, which: impl Fn(&ValueAnomaly) -> bool) -> f64 {
    assessment
        .lines
        .iter()
        .flat_map(|line| &line.anomalies)
        .filter(|anomaly| which(anomaly))
        .map(strength)
        .fold(0.0, f64::max)
}
