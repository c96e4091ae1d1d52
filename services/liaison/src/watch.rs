//! WatchAlerts' filter: checked as SearchShipments checks its own, and matched against the
//! assessment that raised each alert.

use acx_proto::liaison::WatchAlertsRequest;

/// Checks a WatchAlerts filter as SearchShipments checks its own, and trims its office
/// (found by a tester: a lane of 9, a risk of 2 or NaN, or a padded office gave an empty
/// stream that never ended, with no error).
pub(crate) fn check_alert_filter(
    filter: &mut WatchAlertsRequest,
) -> Vec<acx_runtime::FieldViolation> {
    use acx_runtime::FieldViolation;
    let mut violations = Vec::new();
    if filter.after_cursor < 0 {
        violations.push(FieldViolation::new("after_cursor", "must not be negative"));
    }
    if !matches!(
        acx_proto::scoring::Lane::try_from(filter.lane),
        Ok(acx_proto::scoring::Lane::Unspecified
            | acx_proto::scoring::Lane::Red
            | acx_proto::scoring::Lane::Yellow)
    ) {
        violations.push(FieldViolation::new(
            "lane",
            "must be LANE_RED or LANE_YELLOW (alerts are raised for those), or unset for both",
        ));
    }
    if !(0.0..=1.0).contains(&filter.min_risk) {
        violations.push(FieldViolation::new(
            "min_risk",
            "must be a number from 0 to 1",
        ));
    }
    if let Err(why) = acx_domain::customs::trim_id(&mut filter.customs_office) {
        violations.push(FieldViolation::new("customs_office", why));
    }
    violations
}

/// Whether an alert raised by an assessment of `(lane, risk)` passes `filter` (the lane and
/// risk that raised it, not the shipment's now: found by a tester, a RED watcher missed
/// alerts of shipments re-assessed GREEN since, and a GREEN filter streamed them).
pub(crate) fn matches_alert(
    filter: &WatchAlertsRequest,
    (lane, risk): (i32, f64),
    shipment: &acx_proto::liaison::Shipment,
) -> bool {
    (filter.lane == 0 || lane == filter.lane)
        && risk >= filter.min_risk
        && (filter.customs_office.is_empty()
            || shipment
                .declaration
                .as_ref()
                .is_some_and(|d| d.customs_office == filter.customs_office))
}

/// Most alert streams one authority holds open at once: each holds up to two batches of
/// shipments in memory for a slow reader (found by a security tester: 30 streams opened and
/// never read took a liaison from 364 MiB to 4.7 GiB, and 25,000 small ones were all
/// accepted and starved the database pool).
pub(crate) const MAX_STREAMS_PER_AUTHORITY: usize = 8;
/// Most alert streams one liaison holds open, over all authorities.
pub(crate) const MAX_STREAMS: usize = 128;
/// Alerts read from the database at a time, and held for the reader at most: a shipment
/// may be up to a few MiB.
pub(crate) const ALERT_BATCH: i64 = 16;

/// The alert streams open, per authority.
#[derive(Debug, Clone, Default)]
pub(crate) struct OpenStreams(
    std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, usize>>>,
);

/// One open stream, counted until dropped.
#[derive(Debug)]
pub(crate) struct Opened {
    streams: OpenStreams,
    authority: String,
}

impl OpenStreams {
    /// Counts a new stream of `authority`; the reason when it would be one too many.
    pub(crate) fn open(&self, authority: &str) -> Result<Opened, String> {
        let mut open = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if open.get(authority).copied().unwrap_or(0) >= MAX_STREAMS_PER_AUTHORITY {
            return Err(format!(
                "this authority has {MAX_STREAMS_PER_AUTHORITY} alert streams open already: close one, or resume one from its last cursor"
            ));
        }
        if open.values().sum::<usize>() >= MAX_STREAMS {
            return Err(format!(
                "this liaison has {MAX_STREAMS} alert streams open: retry with backoff"
            ));
        }
        *open.entry(authority.to_owned()).or_default() += 1;
        Ok(Opened {
            streams: self.clone(),
            authority: authority.to_owned(),
        })
    }
}

impl Drop for Opened {
    fn drop(&mut self) {
        let mut open = self
            .streams
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.authority) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.authority);
            }
        }
    }
}
