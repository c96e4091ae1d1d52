//! Business registration and tax numbers (VAT, EORI, USCC, EIN, ...): letters and digits
//! only, upper case, as registries compare them.

/// Letters and digits of a cleaned value ([`super::text::clean`]), upper case; spaces, dots,
/// dashes, slashes and other punctuation dropped. At least 4 letters or digits.
///
/// `"de 123.456-789"` and `"ＤＥ１２３４５６７８９"` both give `"DE123456789"`. Letters of
/// other scripts are kept, upper-cased (`"ωμέγα 1234"` gives `"ΩΜΈΓΑ1234"`).
///
/// Error: "must contain at least 4 letters or digits".
///
/// With `labels` (version 3 on), a leading label (`VAT:`, `USt-IdNr.`, `Tax ID`, ...) is
/// dropped first ([`super::labels::number`]), and a placeholder is refused
/// ([`super::placeholders`]): "is a placeholder, not a number (such as NONE, N/A or
/// 0000000000)"; a value without a digit is words, not a number: "has no digits: ...".
pub fn normalize(value: &str, labels: bool) -> Result<String, String> {
    const NO_DIGIT: &str = "has no digits: a number a register issued, not words (such as see website or Kleinunternehmer)";
    let value = if labels {
        super::labels::number(value)
    } else {
        value
    };
    let out: String = value
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_uppercase)
        .collect();
    if out.chars().count() < 4 {
        return Err("must contain at least 4 letters or digits".to_owned());
    }
    if labels && super::placeholders::is_placeholder(&out) {
        return Err("is a placeholder, not a number (such as NONE, N/A or 0000000000)".to_owned());
    }
    if labels && super::placeholders::has_no_digit(&out) {
        return Err(NO_DIGIT.to_owned());
    }
    if labels && masked(value) {
        return Err("is masked, not a number (such as DE1366XXXXX or DE*****5976)".to_owned());
    }
    Ok(out)
}

/// Whether a number is shown partly hidden, as statements and seller pages show one: two or
/// more mask characters (`*`, `•`, `●`, `#`) or three or more `X` in a row (`DE1366XXXXX`,
/// `DE*****5976`, `HRB 12XXX`). The characters left name many parties: found by a tester,
/// two sellers whose masked VAT numbers ended alike were linked and listed together.
fn masked(value: &str) -> bool {
    let upper = value.to_uppercase();
    ["**", "••", "●●", "##", "XXX"]
        .iter()
        .any(|mask| upper.replace([' ', '-', '.'], "").contains(mask))
}

/// A business registration or tax number as its register knows it (version 3 on): one of
/// digits only is its country's, prefixed with the country of registration (`GB:04732918`),
/// as registers number independently and the same digits name unrelated parties in two
/// countries (found by testers: a British and an Irish company with one company number, and
/// a Russian INN, a Turkish VKN and a US EIN of the same digits, were linked, and a finding
/// against one listed the others). One with letters stays as it is: it is written in its
/// register's own format (a USCC, an EU VAT or EORI number with its country, `SC123456`),
/// so it does not collide across countries, and the same party gives the same number on
/// every platform whatever country a platform records (a Chinese seller's USCC under `HK`,
/// its German VAT number). Without a country the number stays as it is, and meets only
/// numbers given without one.
pub fn in_register(number: String, country: Option<&str>) -> String {
    if !number.bytes().all(|b| b.is_ascii_digit()) {
        return number;
    }
    match country.map(str::trim).filter(|c| c.len() == 2) {
        Some(country) => format!("{}:{number}", country.to_ascii_uppercase()),
        None => number,
    }
}

/// The VAT prefix of a country of the EU VAT area or the UK (ISO 3166-1 code, any case):
/// its own code, but `EL` for Greece; `XI` (Northern Ireland) is its own.
fn vat_prefix(country: &str) -> Option<&'static str> {
    const AREA: &[&str] = &[
        "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GB", "HR", "HU", "IE",
        "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK", "XI",
    ];
    let country = country.trim().to_ascii_uppercase();
    if country == "GR" || country == "EL" {
        return Some("EL");
    }
    AREA.iter().find(|c| **c == country).copied()
}

/// A tax number as its register knows it (version 4 on): as [`in_register`], except that a
/// seller of the EU VAT area or the UK who gives its number without the VAT prefix has it
/// written with the prefix, as printed on an invoice, so that the same number given either
/// way is one party (found by a tester: `136695976` and `DE136695976` from two German
/// sellers never linked, so a counterfeiter dodged the strong link by dropping two letters).
/// Prefixed are a number of digits only (`136695976` from `DE` is `DE136695976`, `094014201`
/// from `GR` is `EL094014201`) and Austria's `U` form (`U13585627` is `ATU13585627`). A
/// number of other countries is scoped as in version 3 (`RU:7707083893`).
pub fn tax_in_register(number: String, country: Option<&str>) -> String {
    let Some(prefix) = country.and_then(vat_prefix) else {
        return in_register(number, country);
    };
    let digits = number.bytes().all(|b| b.is_ascii_digit());
    let austrian_u = prefix == "AT"
        && number.len() == 9
        && number.starts_with('U')
        && number[1..].bytes().all(|b| b.is_ascii_digit());
    if digits || austrian_u {
        format!("{prefix}{number}")
    } else {
        number
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::super::{IdentifierKind::*, normalize as normalize_kind};

    fn ok(raw: &str) -> String {
        let a = normalize_kind(BusinessRegistration, raw, None).unwrap();
        assert_eq!(normalize_kind(TaxNumber, raw, None).unwrap(), a);
        a
    }

    #[test]
    fn punctuation_and_case_do_not_matter() {
        assert_eq!(ok("de 123.456-789"), "DE123456789");
        assert_eq!(ok("HRB 12345 B"), "HRB12345B");
        assert_eq!(ok("GB 123/4567/89"), "GB123456789");
        assert_eq!(ok("(FR) 40_303_265_045"), "FR40303265045");
        assert_eq!(ok("94-1081436"), "941081436");
    }

    #[test]
    fn registration_numbers_are_numbers_of_their_country_s_register() {
        let gb = normalize_kind(BusinessRegistration, "04732918", Some("GB")).unwrap();
        let ie = normalize_kind(BusinessRegistration, "04732918", Some("ie")).unwrap();
        assert_eq!((gb.as_str(), ie.as_str()), ("GB:04732918", "IE:04732918"));
        assert_eq!(
            normalize_kind(BusinessRegistration, "04732918", None).unwrap(),
            "04732918"
        );
        // Numbers with letters are not scoped; digits alone are, for either kind.
        assert_eq!(
            normalize_kind(BusinessRegistration, "91440300MA5FXL2X3K", Some("HK")).unwrap(),
            "91440300MA5FXL2X3K"
        );
        assert_eq!(
            normalize_kind(TaxNumber, "DE 123 456 789", Some("CN")).unwrap(),
            "DE123456789"
        );
        assert_eq!(
            normalize_kind(TaxNumber, "ИНН 7707083893", Some("RU")).unwrap(),
            "RU:7707083893"
        );
        assert_eq!(
            normalize_kind(TaxNumber, "EIN 77-07083893", Some("US")).unwrap(),
            "US:7707083893"
        );
        // Version 2 read them unscoped.
        assert_eq!(
            super::super::normalize_as(
                super::super::Normalization::V2,
                BusinessRegistration,
                "04732918",
                Some("GB")
            )
            .unwrap(),
            "04732918"
        );
    }

    /// Version 4: a VAT number given without its prefix by a seller of the VAT area is the
    /// prefixed number (found by a tester: `136695976` and `DE136695976` never linked).
    #[test]
    fn a_vat_number_without_its_prefix_is_the_prefixed_number() {
        for (raw, country, prefixed) in [
            ("136695976", "DE", "DE136695976"),
            ("P.IVA 00743110157", "IT", "IT00743110157"),
            ("U13585627", "AT", "ATU13585627"),
            ("094014201", "GR", "EL094014201"),
            ("314 1592 65", "gb", "GB314159265"),
            ("40303265045", "FR", "FR40303265045"),
        ] {
            let bare = normalize_kind(TaxNumber, raw, Some(country)).unwrap();
            let with = normalize_kind(TaxNumber, prefixed, Some(country)).unwrap();
            assert_eq!(
                (bare.as_str(), with.as_str()),
                (prefixed, prefixed),
                "{raw} {country}"
            );
        }
        // Outside the VAT area, and for registration numbers, digits stay scoped.
        assert_eq!(
            normalize_kind(TaxNumber, "7707083893", Some("RU")).unwrap(),
            "RU:7707083893"
        );
        assert_eq!(
            normalize_kind(BusinessRegistration, "04732918", Some("GB")).unwrap(),
            "GB:04732918"
        );
        // Version 3 scoped them: its hashes are kept as legacy forms.
        assert_eq!(
            super::super::normalize_as(
                super::super::Normalization::V3,
                TaxNumber,
                "136695976",
                Some("DE")
            )
            .unwrap(),
            "DE:136695976"
        );
    }

    /// Found by a tester: words in a number's place linked unrelated sellers.
    #[test]
    fn words_without_digits_are_not_numbers() {
        for raw in [
            "see website",
            "Privatperson",
            "in Bearbeitung",
            "Kleinunternehmer",
            "same as VAT",
            "SELLERTAXID",
        ] {
            for kind in [BusinessRegistration, TaxNumber] {
                let error = normalize_kind(kind, raw, Some("DE")).unwrap_err();
                assert!(error.starts_with("has no digits"), "{raw}: {error}");
            }
        }
        for raw in [
            "DE1366XXXXX",
            "DE136695XXX",
            "DEXXXXX5976",
            "DE*****5976",
            "DE•••••5976",
            "HRB 12XXX",
        ] {
            let error = normalize_kind(TaxNumber, raw, Some("DE")).unwrap_err();
            assert!(error.contains("masked"), "{raw}: {error}");
        }
        for raw in ["DE999999999", "XX-XXX1234", "XXX-XX-1234"] {
            let error = normalize_kind(TaxNumber, raw, Some("DE")).unwrap_err();
            assert!(error.contains("placeholder"), "{raw}: {error}");
        }
    }

    #[test]
    fn placeholders_are_not_numbers() {
        // Found by a tester: each of these linked unrelated sellers into one listed cluster.
        for filler in [
            "NONE",
            "N/A N/A",
            "0000000000",
            "UNKNOWN",
            "null",
            "TBD0",
            "123456789",
            "-- -- 0000 --",
            "not provided",
            "PENDING",
            "xxxx",
        ] {
            for kind in [BusinessRegistration, TaxNumber] {
                assert_eq!(
                    normalize_kind(kind, filler, None).unwrap_err(),
                    "is a placeholder, not a number (such as NONE, N/A or 0000000000)",
                    "{filler}"
                );
            }
        }
        assert!(normalize_kind(TaxNumber, "VAT: N/A", None).is_err());
    }

    #[test]
    fn full_width_and_invisible_characters_hash_like_ascii() {
        // A Chinese unified social credit code typed in full-width digits.
        assert_eq!(
            ok("９１４４０３００ＭＡ５ＦＸＬ２Ｘ３Ｋ"),
            "91440300MA5FXL2X3K"
        );
        assert_eq!(ok("91440300MA5FXL2X3K"), "91440300MA5FXL2X3K");
        assert_eq!(
            ok("9144\u{200b}0300MA5FXL2X3K\u{feff}"),
            "91440300MA5FXL2X3K"
        );
        assert_eq!(ok("ＤＥ　１２３ ４５６ ７８９"), "DE123456789");
    }

    #[test]
    fn other_scripts_are_kept_upper_cased() {
        assert_eq!(ok("ÖSTERREICH fn 12345a"), "ÖSTERREICHFN12345A");
        assert_eq!(ok("ωμέγα 1234"), "ΩΜΈΓΑ1234");
        assert_eq!(ok("株式会社 0123"), "株式会社0123");
    }

    #[test]
    fn fewer_than_four_letters_or_digits_are_refused() {
        for raw in ["a-1.2", "１２３", "--"] {
            assert_eq!(
                normalize_kind(TaxNumber, raw, None).unwrap_err(),
                "must contain at least 4 letters or digits"
            );
        }
    }
}
