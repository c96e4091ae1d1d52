//! Normalisation version 1: the hand-written rules that hashed every identifier stored before
//! version 2. **Frozen**: hashes already stored depend on every byte these functions return,
//! so they are kept exactly as they were, bugs included (no NFKC, phone trunk prefixes other
//! than a single "0", no IDN domains). Version 2 ([`super`]) is what new identifiers are
//! normalised with; this one only computes the legacy hashes that keep older data linked (see
//! [`crate::hashing`]).
//!
//! Longer than our files usually are: the frozen rules stay next to the tests that pin them,
//! so that neither is changed without the other.

use super::IdentifierKind;
use crate::codes;

/// Longest raw identifier accepted, in characters (after trimming).
const MAX_RAW_CHARS: usize = 500;

/// Normalises a raw identifier so that the same real-world value always gives the same string,
/// and so the same hash whichever member reported it and however they typed it.
///
/// `country` is the seller's ISO 3166-1 alpha-2 country when known (any case); it is used only
/// for phone numbers in national format. `Err` carries a short lowercase description of what is
/// wrong, for a field violation (e.g. "is not a valid e-mail address").
///
/// For every kind the value is first trimmed, and is rejected when empty, longer than 500
/// characters or containing control characters. Then, by kind:
///
/// - [`BusinessRegistration`](IdentifierKind::BusinessRegistration) and
///   [`TaxNumber`](IdentifierKind::TaxNumber): letters and digits only, uppercased (spaces,
///   dots, dashes, slashes and other punctuation dropped; non-ASCII letters and digits kept,
///   uppercased); at least 4 of them. "de 123.456-789" gives "DE123456789".
/// - [`BankAccount`](IdentifierKind::BankAccount): uppercased letters and digits as above. A
///   value shaped like an IBAN (2 letters, 2 digits, 11 to 30 more letters or digits) must pass
///   the ISO 7064 mod-97 check; anything else must be 6 to 34 letters or digits.
/// - [`Email`](IdentifierKind::Email): lowercased; exactly one '@' with a non-empty local part
///   and a domain of dot-separated labels of `[a-z0-9-]`, at least two; a "+tag" suffix of the
///   local part is removed; for gmail.com and googlemail.com dots in the local part are removed
///   and the domain becomes gmail.com. "John.Doe+shop@GoogleMail.com" gives "johndoe@gmail.com".
/// - [`Phone`](IdentifierKind::Phone): E.164, "+" and 8 to 15 digits. Spaces, dashes, dots,
///   parentheses and slashes are removed; a leading "+" or "00" marks international format, in
///   which a "(0)" trunk marker is dropped. A national number needs `country` with a known
///   calling code: one leading trunk "0" is dropped (except for Italy, which keeps it), as is a
///   leading "1" of an 11-digit North American number and a leading "8" of an 11-digit Russian
///   or Kazakh number, and the calling code is put in front.
/// - [`Address`](IdentifierKind::Address): lowercased; every character that is not a letter or
///   digit becomes a space; whitespace collapsed; common words abbreviated (street st, road rd,
///   avenue ave, boulevard blvd, building bldg, floor fl, room rm, suite ste, district dist,
///   industrial ind, north/south/east/west n/s/e/w, number no); at least 5 characters.
/// - [`WebDomain`](IdentifierKind::WebDomain): lowercased; scheme, userinfo, port, path, query,
///   fragment and trailing dot removed, and a leading "www." when a registrable domain remains;
///   then labels of `[a-z0-9-]` (1 to 63 characters, not starting or ending with '-') joined by
///   dots, at least two, at most 253 characters in all, not an IP address.
///   `"HTTPS://www.Shop-Example.com/about?x=1"` gives `"shop-example.com"`.
pub fn normalize(kind: IdentifierKind, raw: &str, country: Option<&str>) -> Result<String, String> {
    let value = raw.trim();
    if value.is_empty() {
        return Err("must not be empty".to_owned());
    }
    if value.chars().count() > MAX_RAW_CHARS {
        return Err(format!("must be at most {MAX_RAW_CHARS} characters"));
    }
    if value.chars().any(char::is_control) {
        return Err("must not contain control characters".to_owned());
    }
    match kind {
        IdentifierKind::BusinessRegistration | IdentifierKind::TaxNumber => {
            normalize_registration(value)
        }
        IdentifierKind::BankAccount | IdentifierKind::NationalBankAccount => {
            normalize_bank_account(value)
        }
        IdentifierKind::Email => normalize_email(value),
        IdentifierKind::Phone => normalize_phone(value, country),
        IdentifierKind::Address => normalize_address(value),
        IdentifierKind::WebDomain => normalize_web_domain(value),
    }
}

/// Letters and digits of `value`, uppercased; everything else dropped.
fn upper_alphanumerics(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars().filter(|c| c.is_alphanumeric()) {
        if c.is_ascii() {
            out.push(c.to_ascii_uppercase());
        } else {
            out.extend(c.to_uppercase());
        }
    }
    out
}

fn normalize_registration(value: &str) -> Result<String, String> {
    let out = upper_alphanumerics(value);
    if out.chars().count() < 4 {
        return Err("must contain at least 4 letters or digits".to_owned());
    }
    Ok(out)
}

fn normalize_bank_account(value: &str) -> Result<String, String> {
    let out = upper_alphanumerics(value);
    if looks_like_iban(&out) {
        if iban_checksum_ok(&out) {
            return Ok(out);
        }
        return Err("is not a valid IBAN (check digits)".to_owned());
    }
    if (6..=34).contains(&out.chars().count()) {
        Ok(out)
    } else {
        Err("must be an IBAN or an account number of 6 to 34 letters or digits".to_owned())
    }
}

/// Two letters, two digits, then 11 to 30 letters or digits (all ASCII, already uppercased).
fn looks_like_iban(s: &str) -> bool {
    let b = s.as_bytes();
    (15..=34).contains(&b.len())
        && b[..2].iter().all(u8::is_ascii_uppercase)
        && b[2..4].iter().all(u8::is_ascii_digit)
        && b[4..]
            .iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// ISO 7064 mod 97-10 as used by IBAN: move the first four characters to the end, read letters
/// as 10..35, and the resulting number must leave remainder 1 when divided by 97.
fn iban_checksum_ok(iban: &str) -> bool {
    let (head, tail) = iban.split_at(4);
    let mut rem: u32 = 0;
    for c in tail.chars().chain(head.chars()) {
        let Some(v) = c.to_digit(36) else {
            return false;
        };
        rem = if v < 10 {
            (rem * 10 + v) % 97
        } else {
            (rem * 100 + v) % 97
        };
    }
    rem == 1
}

fn normalize_email(value: &str) -> Result<String, String> {
    const INVALID: &str = "is not a valid e-mail address";
    let lower = value.to_lowercase();
    let (local, domain) = lower.split_once('@').ok_or(INVALID)?;
    if domain.contains('@') || local.is_empty() || local.chars().any(char::is_whitespace) {
        return Err(INVALID.to_owned());
    }
    let labels_ok = domain.split('.').all(|label| {
        !label.is_empty()
            && label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    });
    if !domain.contains('.') || !labels_ok {
        return Err(INVALID.to_owned());
    }
    let local = local.split_once('+').map_or(local, |(base, _tag)| base);
    let (local, domain) = match domain {
        "gmail.com" | "googlemail.com" => (local.replace('.', ""), "gmail.com"),
        _ => (local.to_owned(), domain),
    };
    if local.is_empty() {
        return Err(INVALID.to_owned());
    }
    Ok(format!("{local}@{domain}"))
}

fn normalize_phone(value: &str, country: Option<&str>) -> Result<String, String> {
    const INVALID: &str = "is not a valid phone number";
    const NOT_INTERNATIONAL: &str = "must be in international format (+<country code> ...)";
    let (international, rest) = if let Some(rest) = value.strip_prefix('+') {
        (true, rest)
    } else if let Some(rest) = value.strip_prefix("00") {
        (true, rest)
    } else {
        (false, value)
    };
    // "+44 (0)20 7946 0958": the "(0)" is the national trunk prefix, not part of the number.
    let rest = if international {
        rest.replace("(0)", "")
    } else {
        rest.to_owned()
    };
    let mut digits = String::with_capacity(rest.len());
    for c in rest.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '.' | '(' | ')' | '/' => {}
            _ => return Err(INVALID.to_owned()),
        }
    }
    let full = if international {
        if digits.starts_with('0') {
            return Err(INVALID.to_owned());
        }
        digits
    } else {
        let country = country.map(|c| c.trim().to_ascii_uppercase());
        let code = country
            .as_deref()
            .and_then(codes::calling_code)
            .ok_or(NOT_INTERNATIONAL)?;
        let national = match (code, country.as_deref()) {
            (_, Some("IT")) => digits.as_str(),
            ("1", _) if digits.len() == 11 => digits.strip_prefix('1').unwrap_or(&digits),
            ("7", _) if digits.len() == 11 => digits.strip_prefix('8').unwrap_or(&digits),
            _ => digits.strip_prefix('0').unwrap_or(&digits),
        };
        if national.is_empty() {
            return Err(INVALID.to_owned());
        }
        format!("{code}{national}")
    };
    if !(8..=15).contains(&full.len()) {
        return Err(INVALID.to_owned());
    }
    Ok(format!("+{full}"))
}

/// Word-by-word abbreviations applied to addresses, so "Main Street" and "Main St." agree.
fn abbreviate(word: &str) -> &str {
    match word {
        "street" => "st",
        "road" => "rd",
        "avenue" => "ave",
        "boulevard" => "blvd",
        "building" => "bldg",
        "floor" => "fl",
        "room" => "rm",
        "suite" => "ste",
        "district" => "dist",
        "industrial" => "ind",
        "north" => "n",
        "south" => "s",
        "east" => "e",
        "west" => "w",
        "number" => "no",
        other => other,
    }
}

fn normalize_address(value: &str) -> Result<String, String> {
    let spaced: String = value
        .to_lowercase()
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect();
    let out = spaced
        .split_whitespace()
        .map(abbreviate)
        .collect::<Vec<_>>()
        .join(" ");
    if out.chars().count() < 5 {
        return Err("is too short to be an address".to_owned());
    }
    Ok(out)
}

fn normalize_web_domain(value: &str) -> Result<String, String> {
    const INVALID: &str = "is not a valid web domain";
    let lower = value.to_lowercase();
    let mut rest = lower.as_str();
    if let Some((scheme, after)) = rest.split_once("://") {
        let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_lowercase())
            && scheme
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+.-".contains(&b));
        if !scheme_ok {
            return Err(INVALID.to_owned());
        }
        rest = after;
    } else if let Some(after) = rest.strip_prefix("//") {
        rest = after;
    }
    // Host ends where the path, query or fragment begins.
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host_port.split_once(':') {
        Some((host, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => host,
        Some(_) => return Err(INVALID.to_owned()),
        None => host_port,
    };
    let host = host.strip_suffix('.').unwrap_or(host);
    let host = match host.strip_prefix("www.") {
        Some(bare) if bare.contains('.') => bare,
        _ => host,
    };
    let labels: Vec<&str> = host.split('.').collect();
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
    if labels.len() < 2 || host.len() > 253 || !labels.iter().all(label_ok) || is_ip {
        return Err(INVALID.to_owned());
    }
    Ok(host.to_owned())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    use IdentifierKind::*;

    fn ok(kind: IdentifierKind, raw: &str) -> String {
        normalize(kind, raw, None).unwrap_or_else(|e| panic!("{kind:?} {raw:?}: {e}"))
    }

    fn err(kind: IdentifierKind, raw: &str) -> String {
        normalize(kind, raw, None).expect_err(raw)
    }

    fn phone(raw: &str, country: &str) -> Result<String, String> {
        normalize(Phone, raw, Some(country))
    }

    // --- rules for every kind ---

    #[test]
    fn every_kind_trims_and_rejects_empty() {
        for kind in IdentifierKind::ALL {
            assert_eq!(err(kind, ""), "must not be empty");
            assert_eq!(err(kind, "  \t\n "), "must not be empty");
        }
        assert_eq!(ok(TaxNumber, "  DE123456789\n"), "DE123456789");
        assert_eq!(ok(WebDomain, "\texample.com "), "example.com");
    }

    #[test]
    fn every_kind_rejects_over_500_chars() {
        let long = "a".repeat(501);
        for kind in IdentifierKind::ALL {
            assert_eq!(err(kind, &long), "must be at most 500 characters");
        }
        // 500 characters are fine (counted as characters, not bytes).
        assert_eq!(ok(TaxNumber, &"A".repeat(500)).len(), 500);
        assert_eq!(ok(Address, &"ä".repeat(500)).chars().count(), 500);
    }

    #[test]
    fn every_kind_rejects_control_characters() {
        for kind in IdentifierKind::ALL {
            assert_eq!(
                err(kind, "DE123\u{0}456"),
                "must not contain control characters"
            );
            assert_eq!(
                err(kind, "line one\nline two"),
                "must not contain control characters"
            );
            assert_eq!(
                err(kind, "a\u{7f}bcdef"),
                "must not contain control characters"
            );
            assert_eq!(
                err(kind, "Main\tStreet 5"),
                "must not contain control characters"
            );
        }
    }

    // --- business registration and tax numbers ---

    #[test]
    fn registration_and_tax_keep_uppercase_alphanumerics() {
        for kind in [BusinessRegistration, TaxNumber] {
            assert_eq!(ok(kind, "de 123.456-789"), "DE123456789");
            assert_eq!(ok(kind, "HRB 12345 B"), "HRB12345B");
            assert_eq!(ok(kind, "91310000MA1FL4XQ2K"), "91310000MA1FL4XQ2K");
            assert_eq!(ok(kind, "GB 123/4567/89"), "GB123456789");
            assert_eq!(ok(kind, "12-3456789"), "123456789");
            assert_eq!(ok(kind, "(FR) 40_303_265_045"), "FR40303265045");
        }
    }

    #[test]
    fn registration_uppercases_non_ascii_letters() {
        assert_eq!(
            ok(BusinessRegistration, "ÖSTERREICH fn 12345a"),
            "ÖSTERREICHFN12345A"
        );
        assert_eq!(ok(TaxNumber, "ωμέγα 1234"), "ΩΜΈΓΑ1234");
        assert_eq!(ok(BusinessRegistration, "株式会社 0123"), "株式会社0123");
    }

    #[test]
    fn registration_needs_four_alphanumerics() {
        for kind in [BusinessRegistration, TaxNumber] {
            assert_eq!(
                err(kind, "a-1.2"),
                "must contain at least 4 letters or digits"
            );
            assert_eq!(
                err(kind, "---"),
                "must contain at least 4 letters or digits"
            );
            assert_eq!(ok(kind, "a-1.2/3"), "A123");
        }
    }

    // --- bank accounts ---

    #[test]
    fn valid_ibans_are_accepted_without_spaces() {
        assert_eq!(
            ok(BankAccount, "GB82 WEST 1234 5698 7654 32"),
            "GB82WEST12345698765432"
        );
        assert_eq!(
            ok(BankAccount, "DE89 3704 0044 0532 0130 00"),
            "DE89370400440532013000"
        );
        assert_eq!(
            ok(BankAccount, "de89-3704-0044-0532-0130-00"),
            "DE89370400440532013000"
        );
        assert_eq!(
            ok(BankAccount, "FR14 2004 1010 0505 0001 3M02 606"),
            "FR1420041010050500013M02606"
        );
        assert_eq!(ok(BankAccount, "NO93 8601 1117 947"), "NO9386011117947");
    }

    #[test]
    fn ibans_with_wrong_check_digits_are_rejected() {
        assert_eq!(
            err(BankAccount, "GB82 WEST 1234 5698 7654 33"),
            "is not a valid IBAN (check digits)"
        );
        assert_eq!(
            err(BankAccount, "DE88 3704 0044 0532 0130 00"),
            "is not a valid IBAN (check digits)"
        );
        // Swapped digits are caught too.
        assert_eq!(
            err(BankAccount, "DE89 3704 0044 0532 0103 00"),
            "is not a valid IBAN (check digits)"
        );
    }

    #[test]
    fn other_account_numbers_need_6_to_34_alphanumerics() {
        assert_eq!(
            ok(BankAccount, "6222 0212 3456 7890 123"),
            "6222021234567890123"
        );
        assert_eq!(ok(BankAccount, "021000021-123456"), "021000021123456");
        assert_eq!(ok(BankAccount, "12-34-56"), "123456");
        assert_eq!(
            err(BankAccount, "12345"),
            "must be an IBAN or an account number of 6 to 34 letters or digits"
        );
        assert_eq!(
            err(BankAccount, &"1".repeat(35)),
            "must be an IBAN or an account number of 6 to 34 letters or digits"
        );
        assert_eq!(ok(BankAccount, &"1".repeat(34)), "1".repeat(34));
    }

    #[test]
    fn iban_shape_boundaries() {
        assert!(looks_like_iban("NO9386011117947"));
        assert!(!looks_like_iban("NO938601111794")); // 14 characters
        assert!(!looks_like_iban("N09386011117947")); // digit in country
        assert!(!looks_like_iban("NOX386011117947")); // letter in check digits
        assert!(looks_like_iban(&format!("MT84{}", "1".repeat(30))));
        assert!(!looks_like_iban(&format!("MT84{}", "1".repeat(31))));
        assert!(iban_checksum_ok("GB82WEST12345698765432"));
        assert!(!iban_checksum_ok("GB82WEST12345698765433"));
    }

    // --- e-mail ---

    #[test]
    fn email_is_lowercased_and_tag_stripped() {
        assert_eq!(
            ok(Email, "John.Doe+shop@GoogleMail.com"),
            "johndoe@gmail.com"
        );
        assert_eq!(ok(Email, "Sales@Example.CO.UK"), "sales@example.co.uk");
        assert_eq!(ok(Email, "wang.wei+orders@163.com"), "wang.wei@163.com");
        assert_eq!(
            ok(Email, "info+a+b@shop-example.com"),
            "info@shop-example.com"
        );
        assert_eq!(
            ok(Email, "  first_last@mail.example.org "),
            "first_last@mail.example.org"
        );
    }

    #[test]
    fn gmail_dots_are_removed() {
        assert_eq!(ok(Email, "j.o.h.n@gmail.com"), "john@gmail.com");
        assert_eq!(ok(Email, "john@googlemail.com"), "john@gmail.com");
        assert_eq!(ok(Email, "J.Doe@GMAIL.COM"), "jdoe@gmail.com");
        // Only Gmail ignores dots.
        assert_eq!(ok(Email, "j.doe@outlook.com"), "j.doe@outlook.com");
    }

    #[test]
    fn invalid_emails_are_rejected() {
        for raw in [
            "john.doe",
            "john@doe@example.com",
            "@example.com",
            "john@",
            "john@localhost",
            "john@exa mple.com",
            "jo hn@example.com",
            "john@exam_ple.com",
            "john@example..com",
            "john@.example.com",
            "john@example.com.",
            "+tag@example.com",
            "...+x@gmail.com",
            "john@bücher.de",
        ] {
            assert_eq!(err(Email, raw), "is not a valid e-mail address", "{raw}");
        }
    }

    // --- phone ---

    #[test]
    fn international_phones_keep_their_digits() {
        assert_eq!(ok(Phone, "+44 20 7946 0958"), "+442079460958");
        assert_eq!(ok(Phone, "0044 20 7946 0958"), "+442079460958");
        assert_eq!(ok(Phone, "+1 (415) 555-0132"), "+14155550132");
        assert_eq!(ok(Phone, "+86 138-0013-8000"), "+8613800138000");
        assert_eq!(ok(Phone, "+49 30/123456-78"), "+493012345678");
        assert_eq!(ok(Phone, "+852 2123.4567"), "+85221234567");
    }

    #[test]
    fn international_trunk_marker_is_dropped() {
        assert_eq!(ok(Phone, "+44 (0)20 7946 0958"), "+442079460958");
        assert_eq!(ok(Phone, "+49 (0) 30 12345678"), "+493012345678");
    }

    #[test]
    fn national_phones_use_the_country_calling_code() {
        assert_eq!(phone("020 7946 0958", "GB").unwrap(), "+442079460958");
        assert_eq!(phone("030 12345678", "DE").unwrap(), "+493012345678");
        assert_eq!(phone("0176/12345678", "de").unwrap(), "+4917612345678");
        assert_eq!(phone("138 0013 8000", "CN").unwrap(), "+8613800138000");
        assert_eq!(phone("(415) 555-0132", "US").unwrap(), "+14155550132");
        assert_eq!(phone("1-415-555-0132", "US").unwrap(), "+14155550132");
        assert_eq!(phone("06 12 34 56 78", "FR").unwrap(), "+33612345678");
        assert_eq!(phone("8 (495) 123-45-67", "RU").unwrap(), "+74951234567");
        assert_eq!(phone("2123 4567", "HK").unwrap(), "+85221234567");
    }

    #[test]
    fn italy_keeps_its_leading_zero() {
        assert_eq!(phone("06 1234 5678", "IT").unwrap(), "+390612345678");
        assert_eq!(phone("02 1234567", "it").unwrap(), "+39021234567");
        assert_eq!(phone("333 123 4567", "IT").unwrap(), "+393331234567");
    }

    #[test]
    fn national_phone_without_known_country_is_rejected() {
        let msg = "must be in international format (+<country code> ...)";
        assert_eq!(err(Phone, "020 7946 0958"), msg);
        assert_eq!(phone("020 7946 0958", "XX").unwrap_err(), msg);
        assert_eq!(phone("020 7946 0958", "AQ").unwrap_err(), msg);
        assert_eq!(phone("020 7946 0958", "").unwrap_err(), msg);
    }

    #[test]
    fn invalid_phones_are_rejected() {
        let msg = "is not a valid phone number";
        for raw in [
            "+44 20 7946 0958 ext. 12",
            "+44 20 79A6 0958",
            "++44 20 7946 0958",
            "+44 20 7946 + 0958",
            "+0 123 456 789",
            "+44 123",
            "+1234567890123456",
            "+",
            "00",
            "tel:+442079460958",
        ] {
            assert_eq!(err(Phone, raw), msg, "{raw}");
        }
        assert_eq!(phone("0", "GB").unwrap_err(), msg);
        assert_eq!(phone("123", "GB").unwrap_err(), msg);
    }

    #[test]
    fn phone_length_limits() {
        assert_eq!(ok(Phone, "+12345678"), "+12345678");
        assert_eq!(err(Phone, "+1234567"), "is not a valid phone number");
        assert_eq!(ok(Phone, "+123456789012345"), "+123456789012345");
    }

    // --- address ---

    #[test]
    fn address_is_lowercased_and_punctuation_collapsed() {
        assert_eq!(
            ok(Address, "Flat 4, 12 Baker Street, London NW1 6XE"),
            "flat 4 12 baker st london nw1 6xe"
        );
        assert_eq!(
            ok(
                Address,
                "  1600   Amphitheatre Pkwy.,  Mountain View, CA 94043 "
            ),
            "1600 amphitheatre pkwy mountain view ca 94043"
        );
        assert_eq!(
            ok(Address, "Hauptstraße 5, 10115 Berlin"),
            "hauptstraße 5 10115 berlin"
        );
        assert_eq!(
            ok(Address, "广东省深圳市南山区科技园路1号"),
            "广东省深圳市南山区科技园路1号"
        );
    }

    #[test]
    fn address_abbreviations_are_unified() {
        assert_eq!(
            ok(
                Address,
                "Room 1203, 12/F, Building A, No. 88 North Road, Nanshan District"
            ),
            "rm 1203 12 f bldg a no 88 n rd nanshan dist"
        );
        assert_eq!(
            ok(Address, "RM 1203 12 F BLDG A NO 88 N RD NANSHAN DIST"),
            "rm 1203 12 f bldg a no 88 n rd nanshan dist"
        );
        assert_eq!(
            ok(Address, "Suite 200, 5th Floor, 350 Fifth Avenue, New York"),
            "ste 200 5th fl 350 fifth ave new york"
        );
        assert_eq!(
            ok(
                Address,
                "Unit 7 West Industrial Estate, Number 3 East Boulevard, South"
            ),
            "unit 7 w ind estate no 3 e blvd s"
        );
        // Whole words only.
        assert_eq!(ok(Address, "Streetly Roadside"), "streetly roadside");
    }

    #[test]
    fn address_must_have_five_characters() {
        assert_eq!(err(Address, "N. St."), "is too short to be an address");
        assert_eq!(err(Address, "--!!--"), "is too short to be an address");
        assert_eq!(ok(Address, "1 Main"), "1 main");
    }

    // --- web domain ---

    #[test]
    fn web_domain_strips_url_parts() {
        assert_eq!(
            ok(WebDomain, "HTTPS://www.Shop-Example.com/about?x=1"),
            "shop-example.com"
        );
        assert_eq!(
            ok(WebDomain, "http://shop.example.co.uk:8080/path#top"),
            "shop.example.co.uk"
        );
        assert_eq!(
            ok(WebDomain, "https://user:pw@cheap-bags.shop/"),
            "cheap-bags.shop"
        );
        assert_eq!(ok(WebDomain, "www.example.com."), "example.com");
        assert_eq!(ok(WebDomain, "example.com?ref=ad"), "example.com");
        assert_eq!(ok(WebDomain, "//cdn.example.net/x.js"), "cdn.example.net");
        assert_eq!(ok(WebDomain, "xn--bcher-kva.de"), "xn--bcher-kva.de");
        assert_eq!(ok(WebDomain, "WWW.SHOP123.CN"), "shop123.cn");
    }

    #[test]
    fn web_domain_keeps_www_when_nothing_else_remains() {
        assert_eq!(ok(WebDomain, "www.com"), "www.com");
        assert_eq!(ok(WebDomain, "www.www.example.com"), "www.example.com");
    }

    #[test]
    fn invalid_web_domains_are_rejected() {
        let msg = "is not a valid web domain";
        for raw in [
            "localhost",
            "https://localhost:8080/",
            "-shop.com",
            "shop-.com",
            "shop..com",
            "shop_example.com",
            "bücher.de",
            "example.com:http",
            "example.com:",
            "192.168.0.1",
            "http://[::1]/",
            "ht tp://example.com",
            "https://",
        ] {
            assert_eq!(err(WebDomain, raw), msg, "{raw}");
        }
        let long_label = format!("{}.com", "a".repeat(64));
        assert_eq!(err(WebDomain, &long_label), msg);
        assert_eq!(ok(WebDomain, &format!("{}.com", "a".repeat(63))).len(), 67);
        let long_name = format!("{}com", "abcdefghi.".repeat(26)); // 263 characters
        assert_eq!(err(WebDomain, &long_name), msg);
    }
}
