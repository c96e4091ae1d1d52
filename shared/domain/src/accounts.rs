//! Seller accounts as the exchange names them: the platform's id as registered with ACX
//! (lower case, as in its credentials) and the platform's own seller id. Customs systems
//! and platform integrations write platform ids as people do (`Demo-Marketplace`, with
//! padding from fixed-width exports); each is put in the registered form at the edge, so
//! that the same account is one account in every service.

use acx_proto::common::SellerAccountRef;

/// Longest platform id, in characters: the longest principal id.
pub const MAX_PLATFORM_CHARS: usize = 64;
/// Longest platform seller id, in characters (as ingest takes them).
pub const MAX_SELLER_ID_CHARS: usize = 128;

/// The registered form of a platform id: trimmed and in ASCII lower case
/// (`" Demo-Marketplace "` → `"demo-marketplace"`).
///
/// Errors: "is required"; "must be 1-64 letters, digits, '-', '_' or '.', as the platform is
/// registered with ACX" (anything else cannot name a platform).
pub fn platform_id(raw: &str) -> Result<String, String> {
    let id = raw.trim().to_ascii_lowercase();
    if id.is_empty() {
        return Err("is required".to_owned());
    }
    let registrable = id.len() <= MAX_PLATFORM_CHARS
        && id.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.')
        });
    if !registrable {
        return Err(format!(
            "must be 1-{MAX_PLATFORM_CHARS} letters, digits, '-', '_' or '.', as the platform is registered with ACX"
        ));
    }
    Ok(id)
}

/// Puts a seller account reference in canonical form in place: the platform id as
/// [`platform_id`], the seller id trimmed (platforms' seller ids hold no spaces; otherwise it
/// is compared byte for byte). Returns each problem as (`platform` or `seller_id`, why).
///
/// A seller id is 1 to [`MAX_SELLER_ID_CHARS`] printable ASCII characters, as ingest takes
/// them from platforms: no other id can name an account the exchange knows, and customs
/// systems sent megabyte-long ids with control characters that ended up in every answer
/// about the shipment (found by a tester).
pub fn canonicalize_seller(seller: &mut SellerAccountRef) -> Vec<(&'static str, String)> {
    let mut problems = Vec::new();
    match platform_id(&seller.platform) {
        Ok(id) => seller.platform = id,
        Err(why) => problems.push(("platform", why)),
    }
    let trimmed = seller.seller_id.trim();
    if trimmed.is_empty() {
        problems.push(("seller_id", "is required".to_owned()));
    } else if trimmed.len() > MAX_SELLER_ID_CHARS {
        problems.push((
            "seller_id",
            format!("must be at most {MAX_SELLER_ID_CHARS} characters"),
        ));
    } else if !trimmed.bytes().all(|b| b.is_ascii_graphic()) {
        problems.push((
            "seller_id",
            "must be printable ASCII without spaces, as platforms' seller ids are".to_owned(),
        ));
    } else if trimmed.len() != seller.seller_id.len() {
        seller.seller_id = trimmed.to_owned();
    }
    problems
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn seller_ids_are_what_platforms_send() {
        let seller = |id: &str| SellerAccountRef {
            platform: "amazon".to_owned(),
            seller_id: id.to_owned(),
        };
        let mut padded = seller(" A2EUQ1WTGCTBG2\t");
        assert!(canonicalize_seller(&mut padded).is_empty());
        assert_eq!(padded.seller_id, "A2EUQ1WTGCTBG2");
        for bad in [
            "a".repeat(129),
            "two words".to_owned(),
            "A1\u{0}".to_owned(),
            "shop\u{202e}x".to_owned(),
            "店铺".to_owned(),
        ] {
            let problems = canonicalize_seller(&mut seller(&bad));
            assert_eq!(problems.len(), 1, "{bad:?}");
            assert_eq!(problems[0].0, "seller_id");
        }
        assert!(canonicalize_seller(&mut seller(&"a".repeat(128))).is_empty());
    }

    #[test]
    fn platform_ids_as_people_write_them_are_the_registered_one() {
        for raw in [
            "demo-marketplace",
            "Demo-Marketplace",
            " DEMO-MARKETPLACE\t",
        ] {
            assert_eq!(platform_id(raw).unwrap(), "demo-marketplace", "{raw:?}");
        }
        assert_eq!(platform_id("walmart.com").unwrap(), "walmart.com");
        assert_eq!(platform_id("  ").unwrap_err(), "is required");
        for bad in ["demo marketplace", "amazon/de", "bücher", &"a".repeat(65)] {
            assert!(
                platform_id(bad).unwrap_err().starts_with("must be 1-64"),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_seller_reference_is_put_in_canonical_form_in_place() {
        let mut seller = SellerAccountRef {
            platform: "Demo-Marketplace ".into(),
            seller_id: " T-2 ".into(),
        };
        assert!(canonicalize_seller(&mut seller).is_empty());
        assert_eq!(
            (seller.platform.as_str(), seller.seller_id.as_str()),
            ("demo-marketplace", "T-2")
        );
        let mut empty = SellerAccountRef::default();
        let fields: Vec<&str> = canonicalize_seller(&mut empty)
            .into_iter()
            .map(|p| p.0)
            .collect();
        assert_eq!(fields, ["platform", "seller_id"]);
    }
}
