//! Business registration and tax numbers (VAT, EORI, USCC, EIN, ...): letters and digits
//! only, upper case, as registries compare them.

/// Letters and digits of a cleaned value ([`super::text::clean`]), upper case; spaces, dots,
/// dashes, slashes and other punctuation dropped. At least 4 letters or digits.
///
/// `"de 136.695-976"` and `"ＤＥ１３６６９５９７６"` both give `"DE136695976"`. Letters of
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
    if labels && (value.contains('§') || out.contains("USTG")) {
        // Germany's small businesses write the exemption they invoke where the form asks
        // for a VAT number (found by a tester: `Kleinunternehmer gem. § 19 UStG` linked
        // unrelated sellers, its 19 taken for a number).
        return Err(
            "cites a law, not a number (such as Kleinunternehmer gem. § 19 UStG)".to_owned(),
        );
    }
    if labels && super::placeholders::is_scientific_notation(value) {
        return Err(super::placeholders::SCIENTIFIC.to_owned());
    }
    if labels && super::placeholders::is_placeholder(&out) {
        return Err("is a placeholder, not a number (such as NONE, N/A or 0000000000)".to_owned());
    }
    if labels && is_import_scheme_number(&out) {
        return Err(IMPORT_SCHEME.to_owned());
    }
    if labels && super::placeholders::has_no_digit(&out) {
        return Err(NO_DIGIT.to_owned());
    }
    if labels && masked(value) {
        return Err("is masked, not a number (such as DE1366XXXXX or DE*****5976)".to_owned());
    }
    Ok(out)
}

/// Why an import One-Stop-Shop number is refused ([`is_import_scheme_number`]).
const IMPORT_SCHEME: &str = "is an EU import VAT scheme number (IOSS IM..., non-Union OSS EU...), which names whoever collects the VAT, on a marketplace the marketplace itself, not the seller";

/// Whether a compact number (letters and digits, upper case) is an EU VAT scheme number of
/// distance sales, with or without an `IOSS` or `OSS` label: an Import One-Stop Shop
/// number, `IM` and ten digits (the identifying member state's ISO 3166 numeric code and
/// seven digits), or a non-Union scheme number, `EU` and nine digits (Council Implementing
/// Regulation (EU) 282/2011 and Directive 2006/112/EC, art. 362 and 369q). A marketplace
/// that facilitates a sale is its deemed supplier (art. 14a) and prints its own such
/// number on every seller's orders and listings, so the number names the marketplace and
/// would link every seller on it (found by a tester: `IM2760000742` and `EU372000041` on
/// unrelated sellers' profiles). Neither is any register's business number.
fn is_import_scheme_number(compact: &str) -> bool {
    let number = [
        "IOSSNUMBER",
        "IOSSNO",
        "IOSSID",
        "IOSS",
        "OSSNUMBER",
        "OSSNO",
        "OSS",
    ]
    .iter()
    .find_map(|label| compact.strip_prefix(label))
    .unwrap_or(compact);
    let digits =
        |rest: &str, count: usize| rest.len() == count && rest.bytes().all(|b| b.is_ascii_digit());
    number
        .strip_prefix("IM")
        .is_some_and(|rest| digits(rest, 10))
        || number
            .strip_prefix("EU")
            .is_some_and(|rest| digits(rest, 9))
}

/// Whether a number is shown partly hidden, as statements and seller pages show one: two or
/// more mask characters (`*`, `•`, `●`, `#`) or three or more `X` in a row (`DE1366XXXXX`,
/// `DE*****5976`, `HRB 12XXX`). The characters left name many parties: found by a tester,
/// two sellers whose masked VAT numbers ended alike were linked and listed together.
fn masked(value: &str) -> bool {
    let compact = value.to_uppercase().replace([' ', '-', '.'], "");
    ["**", "••", "●●", "##", "XXX"]
        .iter()
        .any(|mask| compact.contains(mask))
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

/// The VAT prefix of a country of the EU VAT area, the UK, Switzerland or Norway (ISO 3166-1
/// code, any case): its own code, but `EL` for Greece and `CHE` for Switzerland; `XI`
/// (Northern Ireland) is its own.
fn vat_prefix(country: &str) -> Option<&'static str> {
    const AREA: &[&str] = &[
        "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GB", "HR", "HU", "IE",
        "IT", "LT", "LU", "LV", "MT", "NL", "NO", "PL", "PT", "RO", "SE", "SI", "SK", "XI",
    ];
    match country.trim().to_ascii_uppercase().as_str() {
        "GR" | "EL" => Some("EL"),
        "CH" => Some("CHE"),
        country => AREA.iter().find(|c| **c == country).copied(),
    }
}

/// Whether `body` is a VAT number's part after the prefix `prefix`, in the formats of the
/// EU's VIES and of the UK, Swiss and Norwegian registers, where they have letters: Ireland
/// (`6388047V`, `1234567WA`, `8Z49289F`), Cyprus (`10259033P`), Spain (`B12345674`,
/// `12345678Z`), the Netherlands (`004495445B01`), France (`40303265045`, `XA303265045`).
/// A body of digits only is every country's.
fn vat_body(prefix: &str, body: &str) -> bool {
    let b = body.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        b.get(range)
            .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
    };
    let letter = |i: usize| b.get(i).is_some_and(u8::is_ascii_uppercase);
    if !b.is_empty() && b.iter().all(u8::is_ascii_digit) {
        return true;
    }
    match prefix {
        "IE" => {
            (b.len() == 8 && digits(0..7) && letter(7))
                || (b.len() == 9 && digits(0..7) && letter(7) && letter(8))
                || (b.len() == 8 && digits(0..1) && letter(1) && digits(2..7) && letter(7))
        }
        "CY" => b.len() == 9 && digits(0..8) && letter(8),
        "ES" => b.len() == 9 && digits(1..8) && (letter(0) || letter(8)),
        "NL" => b.len() == 12 && digits(0..9) && b[9] == b'B' && digits(10..12),
        "FR" => b.len() == 11 && digits(2..11) && (letter(0) || letter(1)),
        _ => false,
    }
}

/// A Swiss or Norwegian VAT number without its register's suffix, whatever the seller's
/// country (version 5): `CHE116281710MWST` (or `TVA`, `IVA`) is `CHE116281710`,
/// `NO923609016MVA` is `NO923609016`; any other number as it is. The prefix names the
/// register, so the number is one party whether or not a platform records the country
/// (found by a tester: under version 4 they linked only when it did).
pub fn without_vat_suffix(number: String) -> String {
    for (prefix, suffixes) in [("CHE", &["MWST", "TVA", "IVA"][..]), ("NO", &["MVA"][..])] {
        let Some(body) = number.strip_prefix(prefix) else {
            continue;
        };
        for suffix in suffixes {
            if let Some(digits) = body.strip_suffix(suffix)
                && digits.len() == 9
                && digits.bytes().all(|b| b.is_ascii_digit())
            {
                return format!("{prefix}{digits}");
            }
        }
    }
    number
}

/// A UK VAT or EORI number given with Northern Ireland's prefix as the UK's (version 6 on):
/// `XI318472956` is `GB318472956`, `XI318472956000` (an EORI) is `GB318472956000`. HMRC issues
/// the `XI` number on the same registration for trade in goods with the EU from Northern
/// Ireland, so both name one business (found by a tester: `GB 318 4729 56` on one platform
/// and `XI 318 4729 56` on another were two sellers). Any other number as it is.
pub fn northern_ireland_as_gb(number: String) -> String {
    match number.strip_prefix("XI") {
        Some(digits)
            if matches!(digits.len(), 9 | 12) && digits.bytes().all(|b| b.is_ascii_digit()) =>
        {
            format!("GB{digits}")
        }
        _ => number,
    }
}

/// A tax number as its register knows it (version 4 on): as [`in_register`], except that a
/// seller of the EU VAT area, the UK, Switzerland or Norway who gives its VAT number
/// without its prefix, or with the register's suffix, has it written as the VAT number is
/// printed with its prefix, so that the same number given either way is one party (found by
/// testers: `136695976` and `DE136695976` from two German sellers never linked, so a
/// counterfeiter dodged the strong link by dropping two letters; likewise Irish, Cypriot,
/// Spanish and Dutch numbers with letters). So: a body in the country's VAT format
/// ([`vat_body`]) takes the prefix (`136695976` from `DE` is `DE136695976`, `6388047V` from
/// `IE` is `IE6388047V`); Greece's prefix is `EL` (`GR094014201` is `EL094014201`);
/// Austria's is `ATU` (`U13585627` and `13585627`); Belgium's old 9 digits take their leading
/// 0; a Hungarian tax number (`12892312-2-41`) is its VAT number (`HU12892312`); the Swiss
/// `MWST`/`TVA`/`IVA` and Norwegian `MVA` suffixes are dropped (`CHE-116.281.710 MWST` is
/// `CHE116281710`). A number of other countries is scoped as in version 3
/// (`RU:7707083893`).
pub fn tax_in_register(number: String, country: Option<&str>) -> String {
    let Some(prefix) = country.and_then(vat_prefix) else {
        return in_register(number, country);
    };
    let mut body = number.as_str();
    for suffix in ["MWST", "TVA", "IVA", "MVA"] {
        if let Some(rest) = body.strip_suffix(suffix)
            && rest.bytes().any(|b| b.is_ascii_digit())
        {
            body = rest;
            break;
        }
    }
    if prefix == "EL"
        && let Some(rest) = body.strip_prefix("GR")
    {
        body = rest;
    }
    let body = match prefix {
        "AT" => body.strip_prefix("ATU").or_else(|| body.strip_prefix('U')),
        _ => body.strip_prefix(prefix),
    }
    .unwrap_or(body);
    // Judged after the prefix is taken off, so a number reads alike with and without it.
    let all_digits = !body.is_empty() && body.bytes().all(|b| b.is_ascii_digit());
    match prefix {
        "AT" if all_digits && body.len() == 8 => format!("ATU{body}"),
        "BE" if all_digits && body.len() == 9 => format!("BE0{body}"),
        "HU" if all_digits && body.len() == 11 => format!("HU{}", &body[..8]),
        _ if vat_body(prefix, body) => format!("{prefix}{body}"),
        _ => number,
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
        assert_eq!(ok("de 136.695-976"), "DE136695976");
        assert_eq!(ok("HRB 12345 B"), "HRB12345B");
        assert_eq!(ok("GB 134/5712/68"), "GB134571268");
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
            normalize_kind(TaxNumber, "DE 136 695 976", Some("CN")).unwrap(),
            "DE136695976"
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
            // A tester's second round: formats with letters, other prefixes and suffixes.
            ("6388047V", "IE", "IE6388047V"),
            ("1234567WA", "IE", "IE1234567WA"),
            ("10259033P", "CY", "CY10259033P"),
            ("B12345674", "ES", "ESB12345674"),
            ("NIF: B-12345674", "ES", "ESB12345674"),
            ("54362315K", "ES", "ES54362315K"),
            ("004495445B01", "NL", "NL004495445B01"),
            ("GR094014201", "GR", "EL094014201"),
            ("ΑΦΜ 094014201", "GR", "EL094014201"),
            ("13585627", "AT", "ATU13585627"),
            ("403170701", "BE", "BE0403170701"),
            ("BE403170701", "BE", "BE0403170701"),
            ("12892312-2-41", "HU", "HU12892312"),
            ("CVR 12345674", "DK", "DK12345674"),
            ("CHE-116.281.710 MWST", "CH", "CHE116281710"),
            ("CHE-116.281.710 TVA", "CH", "CHE116281710"),
            ("923609016 MVA", "NO", "NO923609016"),
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
    fn from_version_5_a_swiss_or_norwegian_suffix_goes_whatever_the_country() {
        for (raw, country, read) in [
            ("CHE-116.281.710 MWST", None, "CHE116281710"),
            ("CHE-116.281.710 TVA", Some("DE"), "CHE116281710"),
            ("CHE-116.281.710", None, "CHE116281710"),
            ("NO 923 609 016 MVA", None, "NO923609016"),
            ("923609016MVA", Some("NO"), "NO923609016"),
        ] {
            assert_eq!(
                normalize_kind(TaxNumber, raw, country).as_deref(),
                Ok(read),
                "{raw} {country:?}"
            );
        }
        let v4 = super::super::normalize_as(
            super::super::Normalization::V4,
            TaxNumber,
            "NO 923 609 016 MVA",
            None,
        );
        assert_eq!(v4.as_deref(), Ok("NO923609016MVA"));
    }

    #[test]
    fn an_exemption_a_law_or_a_spreadsheet_number_is_not_a_number() {
        for cited in [
            "Kleinunternehmer gem. § 19 UStG",
            "§19 UStG",
            "Kleinunternehmer nach §19",
            "steuerbefreit nach § 19 UStG",
            "Gemäß § 19 UStG wird keine Umsatzsteuer berechnet",
            "Kleinunternehmer 19 UStG",
        ] {
            assert!(
                normalize_kind(TaxNumber, cited, Some("DE"))
                    .unwrap_err()
                    .starts_with("cites a law"),
                "{cited}"
            );
        }
        assert!(
            normalize_kind(TaxNumber, "1.0E+10", Some("DE"))
                .unwrap_err()
                .contains("scientific notation")
        );
        for copied in ["GB999999973", "LU 20260743", "DE 123 456 789", "ABC123"] {
            assert!(normalize_kind(TaxNumber, copied, None).is_err(), "{copied}");
        }
    }

    #[test]
    fn import_vat_scheme_numbers_are_no_sellers_own() {
        for scheme in [
            "IM2760000742",
            "IOSS: IM 276 000 0742",
            "IOSS IM2760000742",
            "EU372000041",
            "OSS No. EU 372 000 041",
        ] {
            assert!(
                normalize_kind(TaxNumber, scheme, None)
                    .unwrap_err()
                    .starts_with("is an EU import VAT scheme number"),
                "{scheme}"
            );
        }
        // Other numbers of those letters and lengths are kept: an Isle of Man company
        // number, a number of other digits, a VAT number of a member state.
        for kept in ["IM 012345C", "IM27600007421", "EU37200004", "DE136695976"] {
            assert!(normalize_kind(TaxNumber, kept, None).is_ok(), "{kept}");
        }
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
        assert_eq!(ok("ＤＥ　１３６ ６９５ ９７６"), "DE136695976");
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

    #[test]
    fn from_version_6_a_northern_irish_vat_or_eori_number_is_the_uk_s() {
        use crate::identifiers::{IdentifierKind, Normalization, normalize_as};
        let v6 = |kind, raw: &str, country: Option<&str>| {
            normalize_as(Normalization::V6, kind, raw, country).unwrap()
        };
        assert_eq!(
            v6(IdentifierKind::TaxNumber, "XI 318 4729 56", None),
            "GB318472956"
        );
        assert_eq!(
            v6(IdentifierKind::TaxNumber, "318 4729 56", Some("XI")),
            "GB318472956"
        );
        assert_eq!(
            v6(IdentifierKind::TaxNumber, "GB 318 4729 56", Some("XI")),
            "GB318472956"
        );
        assert_eq!(
            v6(
                IdentifierKind::BusinessRegistration,
                "XI318472956000",
                Some("GB")
            ),
            "GB318472956000"
        );
        // Version 5 kept it its own; a number of another form stays as it is.
        assert_eq!(
            normalize_as(
                Normalization::V5,
                IdentifierKind::TaxNumber,
                "XI318472956",
                None
            )
            .unwrap(),
            "XI318472956"
        );
        assert_eq!(super::northern_ireland_as_gb("XIA123".to_owned()), "XIA123");
    }
}
