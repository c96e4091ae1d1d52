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

/// Domains many unrelated sellers give as their "web domain": marketplaces (a storefront
/// URL reduces to the marketplace's host), free mail providers and social or link pages.
/// Given as a web domain (without a seller's own subdomain, which stays its own:
/// `bright.myshopify.com`), each is refused (normalisation version 3 on): found by a
/// tester, two "John Smith"s whose storefront URLs were on `ebay.com`, and a seller giving
/// `gmail.com`, were linked; a second tester's Trendyol, Noon, Weidian, `bit.ly` and
/// `smartstore.naver.com` shop pages linked two shops with similar names).
const SHARED_HOSTS: &[&str] = &[
    "11st",
    "126",
    "163",
    "1688",
    "alibaba",
    "aliexpress",
    "allegro",
    "amazon",
    "amzn",
    "aol",
    "avito",
    "beacons",
    "bit",
    "bol",
    "cdiscount",
    "coupang",
    "depop",
    "ebay",
    "etsy",
    "facebook",
    "flipkart",
    "github",
    "gmail",
    "gmarket",
    "gmx",
    "goo",
    "google",
    "googlemail",
    "gumroad",
    "hepsiburada",
    "hotmail",
    "icloud",
    "instagram",
    "jd",
    "jumia",
    "kaufland",
    "ko-fi",
    "lazada",
    "linkedin",
    "linktr",
    "live",
    "mail",
    "meesho",
    "mercadolibre",
    "mercadolivre",
    "mercari",
    "n11",
    "naver",
    "noon",
    "olx",
    "otto",
    "outlook",
    "ow",
    "ozon",
    "pinterest",
    "poshmark",
    "proton",
    "protonmail",
    "qq",
    "rakuten",
    "shein",
    "shope",
    "shopee",
    "shopify",
    "snapdeal",
    "t",
    "taobao",
    "temu",
    "tiktok",
    "tinyurl",
    "tmall",
    "tokopedia",
    "trendyol",
    "twitter",
    "vinted",
    "vk",
    "wa",
    "walmart",
    "wayfair",
    "web",
    "weidian",
    "wildberries",
    "wish",
    "wixsite",
    "x",
    "yahoo",
    "yandex",
    "youtube",
    "zalando",
];

/// The platform's own subdomains of a shared host, where its sellers' pages live
/// (`smartstore.naver.com/{shop}`, `sites.google.com/view/{page}`, `m.facebook.com`): not a
/// seller's subdomain, which names the seller (`shop123.taobao.com`, `nike.tmall.com`).
const PLATFORM_SUBDOMAINS: &[&str] = &[
    "a",
    "click",
    "blog",
    "business",
    "detail",
    "docs",
    "drive",
    "global",
    "h5",
    "item",
    "jp",
    "m",
    "mall",
    "mobile",
    "my",
    "pages",
    "play",
    "s",
    "seller",
    "shop",
    "shopping",
    "sites",
    "smartstore",
    "store",
    "stores",
    "vt",
    "web",
];

/// Whether a normalised host is a [`SHARED_HOSTS`] name under a public suffix of one or two
/// short labels (`ebay.com`, `amazon.co.uk`, `mail.ru`, `wa.me`), with no subdomain or one of
/// the platform's own in front ([`PLATFORM_SUBDOMAINS`]: `smartstore.naver.com`,
/// `m.smartstore.naver.com`, `detail.tmall.com`, `s.click.aliexpress.com`).
pub(crate) fn is_shared_host(host: &str) -> bool {
    // Each of the platform's own labels in front (`m.smartstore.naver.com`, found by a
    // second tester).
    let mut host = host;
    while let Some((sub, rest)) = host.split_once('.')
        && PLATFORM_SUBDOMAINS.contains(&sub)
    {
        host = rest;
    }
    let Some((name, suffix)) = host.split_once('.') else {
        return false;
    };
    let labels: Vec<&str> = suffix.split('.').collect();
    SHARED_HOSTS.contains(&name)
        && labels.len() <= 2
        && labels.iter().all(|l| (2..=4).contains(&l.len()))
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
    fn shared_hosts_are_no_seller_s_domain() {
        for raw in [
            "ebay.com/str/li-wei-shop",
            "https://www.ebay.com/usr/john",
            "gmail.com",
            "amazon.co.uk/shops/x",
            "https://www.facebook.com/brightdeals",
            "wa.me/8613812345678",
            // A second tester's shop pages on the marketplaces of the TR, KR and AE markets,
            // a site builder's pages and a link shortener.
            "https://www.trendyol.com/magaza/anka-ev-tekstil-m-123456",
            "https://smartstore.naver.com/hanbit_shop",
            "noon.com/uae-en/seller/p-12345",
            "sites.google.com/view/bright-deals",
            "https://bit.ly/3xYzAbc",
            "weidian.com/?userid=1234567",
            "m.facebook.com/brightdeals",
            // A second tester's: a platform's labels stacked, item pages, short links.
            "https://m.smartstore.naver.com/seoulbeauty",
            "detail.tmall.com/item.htm?id=1",
            "h5.m.taobao.com/awp/core/detail.htm",
            "s.click.aliexpress.com/e/_abc",
            "https://amzn.to/3abc",
            "shope.ee/abc",
            "docs.google.com/forms/x",
            "ko-fi.com/bright",
            "jp.mercari.com/user/profile/123",
        ] {
            let error = normalize_kind(WebDomain, raw, None).unwrap_err();
            assert!(error.contains("shared"), "{raw}: {error}");
        }
        assert_eq!(ok("bright.myshopify.com"), "bright.myshopify.com");
        // A seller's own subdomain of a marketplace names the seller.
        assert_eq!(ok("shop123456.taobao.com"), "shop123456.taobao.com");
        assert_eq!(ok("nike.tmall.com"), "nike.tmall.com");
        assert_eq!(ok("ebay-deals.com"), "ebay-deals.com");
        assert_eq!(ok("shop.example.co.uk"), "shop.example.co.uk");
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
