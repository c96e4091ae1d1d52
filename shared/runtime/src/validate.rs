//! Checks of the shared `acx.common.v1` messages, reporting every problem as a
//! [`FieldViolation`] under the path of the field in the request.

use acx_domain::accounts;
use acx_proto::common::SellerAccountRef;

use crate::FieldViolation;

/// Violations of a required seller account reference at `path` (`seller`); a valid one is put
/// in canonical form in place (platform id as registered, seller id trimmed: see
/// [`acx_domain::accounts`]), so that `Demo-Marketplace` names the account `demo-marketplace`.
pub fn seller_ref(seller: Option<&mut SellerAccountRef>, path: &str) -> Vec<FieldViolation> {
    let Some(seller) = seller else {
        return vec![FieldViolation::new(path, "is required")];
    };
    accounts::canonicalize_seller(seller)
        .into_iter()
        .map(|(field, why)| FieldViolation::new(field, why).nested(path))
        .collect()
}

/// Violations of a listing's time range (`start_time` inclusive, `end_time` exclusive, each
/// optional): nanos out of 0..999,999,999, or a start after the end, which would list
/// nothing instead of saying the filter is wrong (found by testers).
pub fn time_range(
    start: Option<&prost_types::Timestamp>,
    end: Option<&prost_types::Timestamp>,
) -> Vec<FieldViolation> {
    let mut violations = Vec::new();
    for (field, time) in [("start_time", start), ("end_time", end)] {
        if time.is_some_and(|t| !(0..1_000_000_000).contains(&t.nanos)) {
            violations.push(FieldViolation::new(
                format!("{field}.nanos"),
                "must be 0 to 999999999",
            ));
        }
    }
    if let (Some(start), Some(end)) = (start, end)
        && (start.seconds, start.nanos) > (end.seconds, end.nanos)
    {
        violations.push(FieldViolation::new(
            "start_time",
            "must not be after end_time",
        ));
    }
    violations
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_each_missing_field_and_canonicalizes_a_good_one() {
        assert_eq!(seller_ref(None, "seller")[0].field, "seller");
        let mut empty = SellerAccountRef::default();
        let fields: Vec<String> = seller_ref(Some(&mut empty), "seller")
            .into_iter()
            .map(|v| v.field)
            .collect();
        assert_eq!(fields, ["seller.platform", "seller.seller_id"]);
        let mut good = SellerAccountRef {
            platform: " Amazon".into(),
            seller_id: "A1 ".into(),
        };
        assert!(seller_ref(Some(&mut good), "seller").is_empty());
        assert_eq!(
            (good.platform.as_str(), good.seller_id.as_str()),
            ("amazon", "A1")
        );
    }
}
