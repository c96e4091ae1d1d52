//! Checks of the shared `acx.common.v1` messages, reporting every problem as a
//! [`FieldViolation`] under the path of the field in the request.

use acx_proto::common::SellerAccountRef;

use crate::FieldViolation;

/// Violations of a required seller account reference at `path` (`seller`).
pub fn seller_ref(seller: Option<&SellerAccountRef>, path: &str) -> Vec<FieldViolation> {
    let Some(seller) = seller else {
        return vec![FieldViolation::new(path, "is required")];
    };
    let mut violations = Vec::new();
    if seller.platform.trim().is_empty() {
        violations.push(FieldViolation::new("platform", "is required").nested(path));
    }
    if seller.seller_id.trim().is_empty() {
        violations.push(FieldViolation::new("seller_id", "is required").nested(path));
    }
    violations
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_each_missing_field() {
        assert_eq!(seller_ref(None, "seller")[0].field, "seller");
        let empty = SellerAccountRef::default();
        let fields: Vec<String> = seller_ref(Some(&empty), "seller")
            .into_iter()
            .map(|v| v.field)
            .collect();
        assert_eq!(fields, ["seller.platform", "seller.seller_id"]);
        let good = SellerAccountRef {
            platform: "amazon".into(),
            seller_id: "A1".into(),
        };
        assert!(seller_ref(Some(&good), "seller").is_empty());
    }
}
