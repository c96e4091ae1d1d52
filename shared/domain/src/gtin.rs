//! GS1 Global Trade Item Numbers in one canonical form, so that the same product written as
//! UPC-A, EAN-13 or GTIN-14 is one product for price comparison.

use unicode_normalization::UnicodeNormalization;

use crate::codes;

/// The GTIN-14 form of a GTIN-8, GTIN-12 (UPC-A), GTIN-13 (EAN-13) or GTIN-14: the digits
/// with zeros in front up to 14, after checking the GS1 check digit (which the zeros do not
/// change). Spaces and dashes, as printed under bar codes, are ignored, and full-width digits
/// read as digits.
///
/// UPC-A `"036000291452"`, EAN-13 `"0036000291452"` and `"0 36000 29145 2"` all give
/// `"00036000291452"`.
///
/// Errors (short lowercase texts for a field violation): "must be 8, 12, 13 or 14 digits",
/// "has a wrong check digit", "is all zeros, a placeholder and not a product's GTIN".
pub fn canonical(gtin: &str) -> Result<String, String> {
    let printed = |c: &char| !c.is_whitespace() && *c != '-';
    // ASCII is its own NFKC form; only full-width digits and the like need the tables.
    let digits: String = if gtin.is_ascii() {
        gtin.chars().filter(printed).collect()
    } else {
        gtin.nfkc().filter(printed).collect()
    };
    if let Some(reason) = codes::gtin_error(&digits) {
        return Err(reason);
    }
    if digits.bytes().all(|b| b == b'0') {
        // Valid by its check digit, but no product: exports fill an unknown GTIN with zeros,
        // and as a product key it would pool unrelated products' prices.
        return Err("is all zeros, a placeholder and not a product's GTIN".to_owned());
    }
    Ok(format!("{digits:0>14}"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn all_zeros_is_no_product() {
        for zeros in [
            "00000000",
            "000000000000",
            "0000000000000",
            "00000000000000",
        ] {
            assert_eq!(
                canonical(zeros).unwrap_err(),
                "is all zeros, a placeholder and not a product's GTIN"
            );
        }
    }

    #[test]
    fn every_length_becomes_gtin_14() {
        let upc_a = canonical("036000291452").unwrap();
        assert_eq!(upc_a, "00036000291452");
        assert_eq!(canonical("0036000291452").unwrap(), upc_a);
        assert_eq!(canonical("00036000291452").unwrap(), upc_a);
        assert_eq!(canonical("0 36000 29145 2").unwrap(), upc_a);
        assert_eq!(canonical("０３６０００２９１４５２").unwrap(), upc_a);
        assert_eq!(canonical("4006381333931").unwrap(), "04006381333931");
        assert_eq!(canonical("96385074").unwrap(), "00000096385074");
        assert_eq!(canonical("10012345678902").unwrap(), "10012345678902");
    }

    #[test]
    fn check_digits_and_lengths_are_checked() {
        assert_eq!(
            canonical("036000291453").unwrap_err(),
            "has a wrong check digit"
        );
        for bad in ["12345", "0360002914521", "03600029145x", ""] {
            assert!(canonical(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn canonical_is_idempotent() {
        for gtin in ["036000291452", "4006381333931", "96385074"] {
            let once = canonical(gtin).unwrap();
            assert_eq!(canonical(&once).unwrap(), once);
        }
    }
}
