//! Web domains of a seller's shop or contact site, and the domain part of e-mail addresses:
//! internationalised domain names in their ASCII (punycode) form through IDNA (UTS #46), so
//! `bücherwurm-versand.de` and `xn--bcherwurm-versand-22b.de` are one domain.

/// Normalises a cleaned web domain or URL ([`super::text::clean`]).
///
/// Scheme, user info, port, path, query, fragment and a trailing dot are removed; the host
/// goes through IDNA to ASCII (lower case, Unicode mapped, punycode); a leading `www.` is
/// dropped when a registrable domain remains. The host must have at least two labels, obey
/// the DNS rules (letters, digits and hyphens, labels of 1 to 63 characters, 253 in all) and
/// not be an IP address. `"HTTPS://www.Bücher.de/about?x=1"` gives `"xn--bcher-kva.de"`.
///
/// Error: "is not a valid web domain".
pub fn normalize(value: &str) -> Result<String, String> {
    const INVALID: &str = "is not a valid web domain";
    let mut rest = value;
    if let Some((scheme, after)) = rest.split_once("://") {
        let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+.-".contains(&b));
        if !scheme_ok {
            return Err(INVALID.to_owned());
        }
        rest = after;
    } else if let Some(after) = rest.strip_prefix("//") {
        rest = after;
    }
    // The host ends where the path, query or fragment begins.
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host_port.split_once(':') {
        Some((host, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => host,
        Some(_) => return Err(INVALID.to_owned()),
        None => host_port,
    };
    let host = to_ascii(host).ok_or(INVALID)?;
    let host = match host.strip_prefix("www.") {
        Some(bare) if bare.contains('.') => bare.to_owned(),
        _ => host,
    };
    Ok(host)
}

/// A host name in its IDNA ASCII form, or `None` when it is not a valid DNS name of at least
/// two labels (or is an IP address). A trailing dot is ignored.
pub(crate) fn to_ascii(host: &str) -> Option<String> {
    let host = host.strip_suffix('.').unwrap_or(host);
    if host.is_empty() || host.chars().any(char::is_whitespace) {
        return None;
    }
    let ascii = idna::domain_to_ascii_strict(host).ok()?;
    let labels: Vec<&str> = ascii.split('.').collect();
    let label_ok = |l: &&str| {
        (1..=63).contains(&l.len())
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    let is_ip = labels
        .last()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()));
    (labels.len() >= 2 && ascii.len() <= 253 && labels.iter().all(label_ok) && !is_ip)
        .then_some(ascii)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::super::{IdentifierKind::WebDomain, normalize as normalize_kind};

    fn ok(raw: &str) -> String {
        normalize_kind(WebDomain, raw, None).unwrap_or_else(|e| panic!("{raw}: {e}"))
    }

    #[test]
    fn url_parts_are_removed() {
        assert_eq!(
            ok("HTTPS://www.Shop-Example.com/about?x=1"),
            "shop-example.com"
        );
        assert_eq!(
            ok("http://shop.example.co.uk:8080/path#top"),
            "shop.example.co.uk"
        );
        assert_eq!(ok("https://user:pw@cheap-bags.shop/"), "cheap-bags.shop");
        assert_eq!(ok("www.example.com."), "example.com");
        assert_eq!(ok("example.com?ref=ad"), "example.com");
        assert_eq!(ok("//cdn.example.net/x.js"), "cdn.example.net");
        assert_eq!(ok("WWW.SHOP123.CN"), "shop123.cn");
        assert_eq!(ok("www.com"), "www.com");
    }

    #[test]
    fn unicode_and_punycode_forms_are_one_domain() {
        let punycode = ok("xn--bcherwurm-versand-22b.de");
        assert_eq!(ok("bücherwurm-versand.de"), punycode);
        assert_eq!(ok("https://www.BÜCHERWURM-VERSAND.de/"), punycode);
        // NFD (u + combining diaeresis) and full-width forms too.
        assert_eq!(ok("bu\u{308}cherwurm-versand.de"), punycode);
        assert_eq!(ok("ｂüｃｈｅｒｗｕｒｍ-versand.de"), punycode);
        assert_eq!(ok("例子.广告"), ok("xn--fsqu00a.xn--4rr70v"));
        assert_eq!(ok("пример.рф"), "xn--e1afmkfd.xn--p1ai");
    }

    #[test]
    fn invalid_domains_are_refused() {
        for raw in [
            "localhost",
            "https://localhost:8080/",
            "-shop.com",
            "shop-.com",
            "shop..com",
            "shop_example.com",
            "example.com:http",
            "example.com:",
            "192.168.0.1",
            "http://[::1]/",
            "ht tp://example.com",
            "https://",
            "xn--a.com",
        ] {
            assert_eq!(
                normalize_kind(WebDomain, raw, None).unwrap_err(),
                "is not a valid web domain",
                "{raw}"
            );
        }
        assert!(normalize_kind(WebDomain, &format!("{}.com", "a".repeat(64)), None).is_err());
        assert_eq!(ok(&format!("{}.com", "a".repeat(63))).len(), 67);
    }
}
