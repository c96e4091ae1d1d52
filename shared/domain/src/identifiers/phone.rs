//! Telephone numbers: parsed with libphonenumber's metadata for every country (the
//! `phonenumber` crate) and written in E.164.

use phonenumber::{Mode, country};

/// Normalises a cleaned phone number ([`super::text::clean`]) to E.164 (`+` and the full
/// number, at most 15 digits).
///
/// Read the way libphonenumber reads what people type: separators and a `tel:` scheme are
/// ignored; an extension (`ext. 12`, `x12`, `#12`) is accepted and dropped, since it names
/// a desk, not a different line; an international number starts with `+` (or `00`, which
/// is read as `+` when no country says otherwise); a number in national form is read with
/// `country`, the seller's ISO 3166-1 country, whose national trunk prefix is then removed
/// (`06 1 234 5678` in HU, `8 495 123-45-67` in RU, `0176 12345678` in DE all become their
/// international forms; Italy's leading 0 is kept, as it belongs to the number). A `(0)` after
/// the country code (`+44 (0)20 ...`) is ignored. The number must be possible for its
/// country (a length its numbering plan allows).
///
/// Errors: "must be in international format (+<country code> ...) or come with the seller's
/// country" for a national number without a usable country; "is not a valid phone number".
pub fn normalize(value: &str, country: Option<&str>) -> Result<String, String> {
    const INVALID: &str = "is not a valid phone number";
    const NOT_INTERNATIONAL: &str =
        "must be in international format (+<country code> ...) or come with the seller's country";
    let region: Option<country::Id> = country
        .map(str::trim)
        .filter(|c| c.len() == 2)
        .and_then(|c| c.to_ascii_uppercase().parse().ok());
    let mut text = value.trim().to_owned();
    if let Some(rest) = text.strip_prefix("tel:") {
        text = rest.to_owned();
    }
    if text.starts_with('+') {
        // "+44 (0)20 7946 0958": the "(0)" is the trunk prefix, not part of the number.
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
    // parse as written, so no number that parsed before reads differently now.
    let number = phonenumber::parse(region, &text)
        .or_else(|error| match with_extension_words_read(&text) {
            Some(read) => phonenumber::parse(region, &read),
            None => Err(error),
        })
        .map_err(|_| INVALID.to_owned())?;
    if !is_possible(&number) {
        return Err(INVALID.to_owned());
    }
    Ok(number.format().mode(Mode::E164).to_string())
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

/// Whether the number is valid, or at least has a length its country's numbering plan allows:
/// metadata lags behind new number ranges, and refusing a real number loses a link, while a
/// wrong one only fails to match.
///
/// The length is checked first: it is a look-up, while validity runs the country's number
/// patterns, and the answer is the same either way.
fn is_possible(number: &phonenumber::PhoneNumber) -> bool {
    let possible_length = number
        .metadata(&phonenumber::metadata::DATABASE)
        .is_some_and(|meta| {
            let national = number.national().to_string();
            let lengths = meta.descriptors().general().possible_length();
            lengths.contains(&(national.len() as u16))
        });
    possible_length || phonenumber::is_valid(number)
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
    fn international_numbers_of_every_shape() {
        assert_eq!(ok("+44 20 7946 0958", None), "+442079460958");
        assert_eq!(ok("0044 20 7946 0958", None), "+442079460958");
        assert_eq!(ok("+44 (0)20 7946 0958", None), "+442079460958");
        assert_eq!(ok("+1 (650) 555-0134", None), "+16505550134");
        assert_eq!(ok("+86 138-0013-8000", None), "+8613800138000");
        assert_eq!(ok("+49 30/123456-78", None), "+493012345678");
        assert_eq!(ok("tel:+36-1-234-5678", None), "+3612345678");
        assert_eq!(
            ok("＋８６ １３８ ００１３ ８０００", None),
            "+8613800138000"
        );
    }

    #[test]
    fn extension_markers_of_other_languages_are_read() {
        let plain = ok("+7 495 123-45-67", None);
        assert_eq!(ok("+7 (495) 123 45 67 доб. 12", None), plain);
        assert_eq!(ok("+7 (495) 123 45 67 ДОБ 12", None), plain);
        assert_eq!(
            ok("+49 30 1234567 Durchwahl 12", None),
            ok("+49 30 1234567", None)
        );
    }

    #[test]
    fn extensions_are_accepted_and_dropped() {
        for raw in [
            "+1 650 555 0134 ext. 12",
            "+1 650 555 0134 ext 12",
            "+1 650 555 0134 x12",
            "+1-650-555-0134;ext=12",
            "+1 650 555 0134",
        ] {
            assert_eq!(ok(raw, None), "+16505550134", "{raw}");
        }
        assert_eq!(ok("(650) 555-0134 x 7", Some("US")), "+16505550134");
    }

    #[test]
    fn national_numbers_use_the_country_and_its_trunk_prefix() {
        // Hungary's trunk prefix is 06, not 0.
        assert_eq!(ok("06 1 234 5678", Some("HU")), "+3612345678");
        assert_eq!(ok("+36 1 234 5678", None), "+3612345678");
        assert_eq!(ok("06 30 123 4567", Some("hu")), "+36301234567");
        assert_eq!(ok("020 7946 0958", Some("GB")), "+442079460958");
        assert_eq!(ok("0176/12345678", Some("DE")), "+4917612345678");
        assert_eq!(ok("138 0013 8000", Some("CN")), "+8613800138000");
        assert_eq!(ok("1-650-555-0134", Some("US")), "+16505550134");
        assert_eq!(ok("06 12 34 56 78", Some("FR")), "+33612345678");
        assert_eq!(ok("8 (495) 123-45-67", Some("RU")), "+74951234567");
        assert_eq!(ok("2123 4567", Some("HK")), "+85221234567");
        // Italy keeps its leading zero.
        assert_eq!(ok("06 1234 5678", Some("IT")), "+390612345678");
        // With a country, 00 is that country's international prefix.
        assert_eq!(ok("00 44 20 7946 0958", Some("DE")), "+442079460958");
    }

    #[test]
    fn countries_beyond_the_old_table() {
        // A few of the countries the hand-kept table of 83 did not cover.
        assert_eq!(ok("0912 345 6789", Some("PH")), "+639123456789");
        assert_eq!(ok("0803 123 4567", Some("NG")), "+2348031234567");
        assert_eq!(ok("077 123 4567", Some("LK")), "+94771234567");
        assert_eq!(ok("0991 234 567", Some("EC")), "+593991234567");
        assert_eq!(ok("+975 17 12 34 56", None), "+97517123456");
        assert_eq!(ok("+290 22 158", None), "+29022158");
    }

    #[test]
    fn national_numbers_without_a_usable_country_are_refused() {
        let msg = "must be in international format (+<country code> ...) or come with the seller's country";
        assert_eq!(phone("020 7946 0958", None).unwrap_err(), msg);
        assert_eq!(phone("020 7946 0958", Some("XX")).unwrap_err(), msg);
        assert_eq!(phone("020 7946 0958", Some("")).unwrap_err(), msg);
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
