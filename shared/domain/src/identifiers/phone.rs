//! Telephone numbers: parsed with libphonenumber's metadata for every country (the
//! `phonenumber` crate) and written in E.164.

use phonenumber::country;

/// Normalises a cleaned phone number ([`super::text::clean`]) to E.164 (`+` and the full
/// number, at most 15 digits).
///
/// Read the way libphonenumber reads what people type: separators and a `tel:` scheme are
/// ignored; an extension (`ext. 12`, `x12`, `#12`) is accepted and dropped, since it names
/// a desk, not a different line; an international number starts with `+` (or `00`, which
/// is read as `+` when no country says otherwise); a number in national form is read with
/// `country`, the seller's ISO 3166-1 country, whose national trunk prefix is then removed
/// (`06 1 457 8823` in HU, `8 495 123-45-67` in RU, `0176 41729356` in DE all become their
/// international forms; Italy's leading 0 is kept, as it belongs to the number). A `(0)` after
/// the country code (`+44 (0)20 ...`) is ignored. The number must be valid under its
/// country's numbering plan, as libphonenumber's metadata has it
/// ([`super::numbering_plan::is_valid`]).
///
/// Errors: "must be in international format (+<country code> ...) or come with the seller's
/// country" for a national number without a usable country; "is not a valid phone number".
///
/// With `refuse_placeholders` (version 3 on), a placeholder or fictional number
/// ([`is_placeholder`]) is refused: [`PLACEHOLDER`].
pub fn normalize(
    value: &str,
    country: Option<&str>,
    refuse_placeholders: bool,
) -> Result<String, String> {
    const INVALID: &str = "is not a valid phone number";
    const NOT_INTERNATIONAL: &str =
        "must be in international format (+<country code> ...) or come with the seller's country";
    let region: Option<country::Id> = country
        .map(str::trim)
        .filter(|c| c.len() == 2)
        .and_then(|c| c.to_ascii_uppercase().parse().ok());
    let mut text = without_label(value.trim()).to_owned();
    if let Some(rest) = text.strip_prefix("tel:") {
        text = rest.to_owned();
    }
    if text.starts_with('+') {
        // "+44 (0)20 7318 4623": the "(0)" is the trunk prefix, not part of the number.
        text = text.replacen("(0)", "", 1);
    } else if region.is_none() {
        match text.strip_prefix("00") {
            Some(rest) => text = format!("+{rest}"),
            None if text.starts_with(|c: char| c.is_ascii_digit() || c == '(') => {
                return Err(NOT_INTERNATIONAL.to_owned());
            }
            None => return Err(INVALID.to_owned()),
        }
    }
    // An extension marker of another language is read as "ext." only when the number does not
    // read as a valid number as written, so no number accepted before reads differently
    // now. (Found by a tester: `poste` and `ramal` were read as vanity letters, so the
    // number parsed, too long, and was refused.)
    let valid = |text: &str| {
        phonenumber::parse(region, text)
            .ok()
            .filter(super::numbering_plan::is_valid)
    };
    // "00" is how most of the world dials abroad, so "00852 9183 4627" beside a seller's
    // country is an international number too; read so only when it does not read as a
    // number of that country as written (found by a tester: refused with HK, JP, KR, BR, AU,
    // SG, TH, RU and NG, and accepted without a country).
    let abroad = || {
        text.strip_prefix("00")
            .filter(|_| region.is_some())
            .and_then(|rest| valid(&format!("+{rest}")))
    };
    let number = valid(&text)
        .or_else(|| with_extension_words_read(&text).and_then(|read| valid(&read)))
        .or_else(abroad)
        .ok_or_else(|| INVALID.to_owned())?;
    if refuse_placeholders && is_placeholder(&number) {
        return Err(PLACEHOLDER.to_owned());
    }
    Ok(e164(&number))
}

/// The number in E.164: `+`, the country calling code and the national significant number
/// (with Italy's leading zero). The crate's formatter writes the same, but first picks the
/// number's national format by its patterns (unused for E.164: a twentieth of a profile's
/// preparation).
fn e164(number: &phonenumber::PhoneNumber) -> String {
    format!("+{}{}", number.country().code(), number.national())
}

/// Why a placeholder number is refused (normalisation version 3).
pub const PLACEHOLDER: &str =
    "is a placeholder or fictional number, not a seller's line (such as +1 555 555 5555)";

/// Whether a parsed number is a placeholder rather than a line (normalisation version 3):
/// marketplace forms and exports fill a required phone with them, and as a shared weak
/// value they linked unrelated sellers with common names (found by a tester: two "LI WEI"
/// accounts giving China Mobile's service number 13827654401, one of them listed, made the
/// other HIGH). Refused:
/// - a national number, or its last 7 digits, of one digit repeated or a run of
///   consecutive digits (`+49 1234567890`, `+7 495 123-45-67`, `+86 138 0000 0000`);
/// - the ranges regulators reserve for fiction and examples: NANP `555-0100` to `555-0199`
///   under any area code, and area code 555, which is not in service; Ofcom's drama numbers
///   (`020 7946 0xxx`, `07700 900xxx`, `0113`–`0118`, `0121`, `0131`, `0141`, `0151`,
///   `0161 496 0xxx`, `0191 498 0xxx`, `0808 157 0xxx`, `0909 879 0xxx`, `03069 990xxx`);
///   ACMA's (`0x 5550 xxxx`, `0x 7010 xxxx` in Australia's geographic areas 2, 3, 7, 8);
/// - service numbers that stand in for a seller's own: China Mobile's `13827654401`.
fn is_placeholder(number: &phonenumber::PhoneNumber) -> bool {
    let national = number.national().to_string();
    if filler_digits(&national) {
        return true;
    }
    let starts = |prefixes: &[&str]| prefixes.iter().any(|p| national.starts_with(p));
    match number.code().value() {
        1 => {
            national.len() == 10
                && (national.starts_with("555")
                    || (&national[3..6] == "555" && &national[6..8] == "01"))
        }
        44 => starts(&[
            "2079460", "7700900", "1134960", "1144960", "1154960", "1164960", "1174960", "1184960",
            "1214960", "1314960", "1414960", "1514960", "1614960", "1914980", "8081570", "9098790",
            "3069990",
        ]),
        61 => starts(&[
            "25550", "27010", "35550", "37010", "75550", "77010", "85550", "87010",
        ]),
        86 => national == "13800138000",
        _ => false,
    }
}

/// A national number of at least 6 digits that is one digit repeated or a run (ascending
/// or descending, passing from 9 to 0 as in `1234567890`), or whose last 7 digits are:
/// `+7 495 123-45-67`, `020 123 4567`, `138 0000 0000`, `777-77-77`. The last 7 digits are
/// the subscriber part in most plans, whatever the length of the area code before them, so
/// one rule holds in every country (found by a tester: the same `123 45 67` was refused in
/// Amsterdam and kept in Madrid, when the rule looked at the last 8). A real line with such
/// a subscriber part (a vanity `888 8888`) loses a weak link; a placeholder that passed
/// linked unrelated sellers of common names.
fn filler_digits(national: &str) -> bool {
    let digits: Vec<u32> = national.chars().filter_map(|c| c.to_digit(10)).collect();
    let filler = |digits: &[u32]| {
        digits.windows(2).all(|w| w[0] == w[1])
            || super::placeholders::longest_run(digits) == digits.len()
    };
    digits.len() >= 6 && (filler(&digits) || filler(&digits[digits.len().saturating_sub(7)..]))
}

/// `text` without a leading label such as `Tel:`, `Phone`, `Mob.` or `Тел.`: letters, spaces,
/// dots and a colon before the first `+`, digit or `(`. libphonenumber skips them when it
/// has a country, so without one `Tel: +44 20 7946 3812` was refused while it was read with
/// any country (found by a tester). A vanity number starts with digits and keeps its letters.
fn without_label(text: &str) -> &str {
    match text.find(|c: char| c == '+' || c == '(' || c.is_ascii_digit()) {
        Some(start)
            if start > 0
                && text[..start]
                    .chars()
                    .all(|c| c.is_alphabetic() || c.is_whitespace() || matches!(c, '.' | ':')) =>
        {
            let label = &text[..start];
            // `tel:` is a URI scheme, read below.
            if label.eq_ignore_ascii_case("tel:") {
                text
            } else {
                &text[start..]
            }
        }
        _ => text,
    }
}

/// Extension markers libphonenumber does not know, written before the extension's digits:
/// Russian `доб.` and `вн.`, German `Durchwahl`, French `poste`, Italian `interno`,
/// Portuguese `ramal`, Chinese `分機`/`分机`/`內線`/`内线` (found by a tester: `+7 (495) 123 45 67
/// доб. 12` was refused while `ext 12` was read).
const EXTENSION_WORDS: &[&str] = &[
    "доб.",
    "доб",
    "вн.",
    "durchwahl",
    "poste",
    "interno",
    "ramal",
    "分機",
    "分机",
    "內線",
    "内线",
];

/// `text` with each extension marker of [`EXTENSION_WORDS`] written `ext.`, or `None` when it
/// has none.
fn with_extension_words_read(text: &str) -> Option<String> {
    let mut found = false;
    let words: Vec<&str> = text
        .split_whitespace()
        .map(|word| {
            if EXTENSION_WORDS.contains(&word.to_lowercase().as_str()) {
                found = true;
                "ext."
            } else {
                word
            }
        })
        .collect();
    found.then(|| words.join(" "))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::super::{IdentifierKind::Phone, normalize as normalize_kind};

    fn phone(raw: &str, country: Option<&str>) -> Result<String, String> {
        normalize_kind(Phone, raw, country)
    }

    fn ok(raw: &str, country: Option<&str>) -> String {
        phone(raw, country).unwrap_or_else(|e| panic!("{raw} {country:?}: {e}"))
    }

    #[test]
    fn e164_is_what_the_crate_formats() {
        for raw in [
            "+44 20 7318 4623",
            "+39 06 4172 9356",
            "+39 347 418 2936",
            "+1 650 253 0147",
            "+86 755 8888 1234",
            "+7 495 417-29-35",
            "+36 1 457 8823",
            "+290 22 158",
            "+225 07 48 29 36 51",
            "+49 30 4172935",
        ] {
            let number = phonenumber::parse(None, raw).unwrap_or_else(|e| panic!("{raw}: {e}"));
            let crate_form = number.format().mode(phonenumber::Mode::E164).to_string();
            assert_eq!(super::e164(&number), crate_form, "{raw}");
            assert_eq!(ok(raw, None), crate_form, "{raw}");
        }
    }

    #[test]
    fn international_numbers_of_every_shape() {
        assert_eq!(ok("+44 20 7318 4623", None), "+442073184623");
        assert_eq!(ok("0044 20 7318 4623", None), "+442073184623");
        assert_eq!(ok("+44 (0)20 7318 4623", None), "+442073184623");
        assert_eq!(ok("+1 (650) 253-0147", None), "+16502530147");
        assert_eq!(ok("+86 138-2765-4401", None), "+8613827654401");
        assert_eq!(ok("+49 30/417293-56", None), "+493041729356");
        assert_eq!(ok("tel:+36-1-457-8823", None), "+3614578823");
        assert_eq!(
            ok("＋８６ １３８ ２７６５ ４４０１", None),
            "+8613827654401"
        );
        // "00" and the country code beside a seller's country, which may be another one
        // (found by a tester: refused with a country, accepted without).
        for country in [
            "HK", "JP", "KR", "BR", "AU", "SG", "TH", "RU", "NG", "CN", "US",
        ] {
            assert_eq!(
                ok("00852 9183 4627", Some(country)),
                "+85291834627",
                "{country}"
            );
        }
        assert_eq!(ok("0044 20 7318 4623", Some("GB")), "+442073184623");
        // A national number of the country as written still reads as one.
        assert_eq!(ok("020 7318 4623", Some("GB")), "+442073184623");
    }

    #[test]
    fn placeholders_and_fictional_numbers_are_refused() {
        for (raw, country) in [
            ("+1 555-555-5555", None),
            ("+1 (650) 555-0134", None),
            ("650 555 0199", Some("US")),
            ("+1 555 123 4567", None),
            ("+86 138 0013 8000", None),
            ("13800138000", Some("CN")),
            ("+44 20 7946 0958", None),
            ("0113 496 0123", Some("GB")),
            ("0161 496 0000", Some("GB")),
            ("(02) 5550 1234", Some("AU")),
            ("+49 176 12345678", None),
            ("+49 151 23456789", None),
            ("+49 30 1234567", None),
            // Found by a tester in a second round: the last 7 digits, in every country.
            ("+86 138 0000 0000", None),
            ("+86 138 8888 8888", None),
            ("+7 495 123-45-67", None),
            ("020 123 4567", Some("NL")),
            ("91 123 45 67", Some("ES")),
            ("+81 3 5555 5555", None),
            ("+7 999 999 99 99", None),
            ("+33 9 87 65 43 21", None),
            ("06 1 234 5678", Some("HU")),
        ] {
            // Area code 555 is also not a valid number for libphonenumber.
            let error = phone(raw, country).unwrap_err();
            assert!(
                error == super::PLACEHOLDER
                    || (raw.starts_with("+1 555") && error == "is not a valid phone number"),
                "{raw} {country:?}: {error}"
            );
        }
        // Near them, real-looking lines are read.
        for (raw, country) in [
            ("+1 650 555 0234", None),
            ("+1 650 253 0000", None),
            ("+86 138 0013 8001", None),
            ("+44 20 7946 1958", None),
            ("+49 30 4172935", None),
            ("+86 755 8888 1234", None),
        ] {
            assert!(phone(raw, country).is_ok(), "{raw} {country:?}");
        }
        // Version 2 read them as numbers: its hashes stay as they were.
        assert_eq!(
            super::super::normalize_as(
                super::super::Normalization::V2,
                super::super::IdentifierKind::Phone,
                "+86 138 0013 8000",
                None
            )
            .unwrap(),
            "+8613800138000"
        );
    }

    #[test]
    fn extension_markers_of_other_languages_are_read() {
        let plain = ok("+7 495 417-29-35", None);
        assert_eq!(ok("+7 (495) 417 29 35 доб. 12", None), plain);
        assert_eq!(ok("+7 (495) 417 29 35 ДОБ 12", None), plain);
        assert_eq!(
            ok("+49 30 4172935 Durchwahl 12", None),
            ok("+49 30 4172935", None)
        );
        // Found by a tester: read as vanity letters, these were refused.
        let paris = ok("+33 1 47 38 29 16", None);
        assert_eq!(ok("+33 1 47 38 29 16 poste 22", None), paris);
        assert_eq!(ok("01 47 38 29 16 poste 221", Some("FR")), paris);
        assert_eq!(
            ok("+55 11 3847-2916 ramal 12", None),
            ok("+55 11 3847-2916", None)
        );
    }

    #[test]
    fn a_leading_label_is_read_with_or_without_a_country() {
        let london = ok("+44 20 7946 3812", None);
        for labelled in [
            "Tel: +44 20 7946 3812",
            "Phone +44 20 7946 3812",
            "Тел.: +44 20 7946 3812",
        ] {
            assert_eq!(ok(labelled, None), london, "{labelled}");
            assert_eq!(ok(labelled, Some("DE")), london, "{labelled}");
        }
        assert_eq!(ok("tel:+44-20-7946-3812", None), london);
    }

    #[test]
    fn extensions_are_accepted_and_dropped() {
        for raw in [
            "+1 650 253 0147 ext. 12",
            "+1 650 253 0147 ext 12",
            "+1 650 253 0147 x12",
            "+1-650-253-0147;ext=12",
            "+1 650 253 0147",
        ] {
            assert_eq!(ok(raw, None), "+16502530147", "{raw}");
        }
        assert_eq!(ok("(650) 253-0147 x 7", Some("US")), "+16502530147");
    }

    #[test]
    fn national_numbers_use_the_country_and_its_trunk_prefix() {
        // Hungary's trunk prefix is 06, not 0.
        assert_eq!(ok("06 1 457 8823", Some("HU")), "+3614578823");
        assert_eq!(ok("+36 1 457 8823", None), "+3614578823");
        assert_eq!(ok("06 30 417 2935", Some("hu")), "+36304172935");
        assert_eq!(ok("020 7318 4623", Some("GB")), "+442073184623");
        assert_eq!(ok("0176/41729356", Some("DE")), "+4917641729356");
        assert_eq!(ok("138 2765 4401", Some("CN")), "+8613827654401");
        assert_eq!(ok("1-650-253-0147", Some("US")), "+16502530147");
        assert_eq!(ok("06 41 72 93 56", Some("FR")), "+33641729356");
        assert_eq!(ok("8 (495) 417-29-35", Some("RU")), "+74954172935");
        assert_eq!(ok("2417 2935", Some("HK")), "+85224172935");
        // Italy keeps its leading zero.
        assert_eq!(ok("06 4172 9356", Some("IT")), "+390641729356");
        // With a country, 00 is that country's international prefix.
        assert_eq!(ok("00 44 20 7318 4623", Some("DE")), "+442073184623");
    }

    #[test]
    fn countries_beyond_the_old_table() {
        // A few of the countries the hand-kept table of 83 did not cover.
        assert_eq!(ok("0917 452 8830", Some("PH")), "+639174528830");
        assert_eq!(ok("0803 417 2935", Some("NG")), "+2348034172935");
        assert_eq!(ok("077 417 2935", Some("LK")), "+94774172935");
        assert_eq!(ok("0991 728 463", Some("EC")), "+593991728463");
        assert_eq!(ok("+975 17 12 34 56", None), "+97517123456");
        assert_eq!(ok("+290 22 158", None), "+29022158");
    }

    #[test]
    fn national_numbers_without_a_usable_country_are_refused() {
        let msg = "must be in international format (+<country code> ...) or come with the seller's country";
        assert_eq!(phone("020 7318 4623", None).unwrap_err(), msg);
        assert_eq!(phone("020 7318 4623", Some("XX")).unwrap_err(), msg);
        assert_eq!(phone("020 7318 4623", Some("")).unwrap_err(), msg);
    }

    #[test]
    fn invalid_numbers_are_refused() {
        for raw in [
            "+44 1",
            "+0 123 456 789",
            "+44 123",
            "+1234567890123456",
            "+",
            "00",
            "call me",
        ] {
            assert_eq!(
                phone(raw, None).unwrap_err(),
                "is not a valid phone number",
                "{raw}"
            );
        }
        assert!(phone("0", Some("GB")).is_err());
        assert!(phone("123", Some("GB")).is_err());
    }
}
