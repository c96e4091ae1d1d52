//! Declared and listed values in US dollars, at the European Central Bank's reference rates
//! of their date ([`ReferenceRates`]), only to compare them.

use acx_domain::{
    money,
    rates::{self, ReferenceRates},
};
use acx_proto::common::Money;

/// A money amount in US dollars on `day` (days since 1970-01-01), if it parses and its
/// currency has a reference rate that day.
pub fn usd(value: &Money, rates: &ReferenceRates, day: i64) -> Option<f64> {
    let micros = money::parse_amount_micros(&value.amount).ok()?;
    let rate = rates.usd_per_unit(&value.currency_code.to_ascii_uppercase(), day)?;
    Some(micros as f64 / 1e6 * rate)
}

/// The day of a report's or declaration's time; without one, the table's latest rates (so
/// a replay gives the same values whenever it runs).
pub(crate) fn day_of(time: Option<&prost_types::Timestamp>) -> i64 {
    time.map_or(i64::MAX, |t| rates::day_of(t.seconds))
}
