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
