//! Declared-value anomalies and shipment assessment.
//!
//! A declared line is compared on a log scale with robust statistics (median and MAD) of:
//! - **marketplace prices** of the same goods, per unit: the listings (price observations)
//!   of the products on the platform shipment notice whose consignment numbers match the
//!   declaration, and the notice's own unit prices;
//! - **comparable declarations**, per kilogram: the same HS code, falling back from 6 to 4
//!   to 2 digits, with the origin country first and then without, taking the first group
//!   with at least [`MIN_PEERS`] values;
//! - **the importer's own history**, per kilogram, for the same 6-digit HS code (at least
//!   [`MIN_HISTORY`] values).
//!
//! A comparison flags the line when the robust z-score is at most [`ANOMALY_Z`] (or, for
//! marketplace prices with fewer than five observations, when the value is under half the
//! median). A declared value of 0 is the strongest anomaly of all (robust z [`MIN_Z`]).
//! Values are put in US dollars with the European Central Bank's reference rates of the
//! declaration date ([`ReferenceRates`](acx_domain::rates::ReferenceRates)), only to
//! compare them. The statistics keep the latest [`RESERVOIR`] values of each group and
//! are updated as declarations are recorded; values of 0 (no logarithm), lines of
//! national chapters (98, 99: not goods classes) and the origin `ZZ` (unknown) stay out of
//! them.
//!
//! What a line does not carry leaves comparisons out, and the assessment says so
//! ([`SkippedComparison`](acx_proto::scoring::SkippedComparison); each code once among the reasons, with contribution 0): no
//! reference rate for the currency (no comparison), no quantity (no per-unit comparison
//! with a matched notice), net mass 0 (no per-kilogram comparison), a national chapter (no
//! comparison with other declarations or the importer's history).
//!
//! The parts, one file each: `stats` (a group's latest values, median and MAD), `currency`
//! (values in US dollars), `peers` (comparable declarations and importers' histories),
//! `profiles` (inspection outcomes per party), `anomaly` (the rule) and `assess` (a
//! declaration's risk, lane and reasons).

mod anomaly;
mod assess;
mod currency;
mod peers;
mod profiles;
mod stats;

pub use anomaly::{ANOMALY_Z, MIN_Z, anomaly_strength, market_anomaly_strength};
pub use assess::ANOMALY_WEIGHT;
pub use assess::{AssessmentInputs, assess};
pub(crate) use currency::day_of;
pub use currency::usd;
pub use peers::{MIN_HISTORY, MIN_PEERS, Peers};
pub use profiles::{PartyHistory, Profiles};
pub use stats::{RESERVOIR, Reservoir};

#[cfg(test)]
mod tests;
