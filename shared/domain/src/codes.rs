/// True for an officially assigned ISO 3166-1 alpha-2 country code ("DE", "CN", "HK").
///
/// Only the uppercase form is accepted: callers store codes as given, so "de" is a field
/// violation rather than something to fix silently. User-assigned and reserved codes ("XK",
/// "EU", "UK") are rejected.
pub fn is_country(code: &str) -> bool {
    COUNTRIES.binary_search(&code).is_ok()
}

/// The officially assigned ISO 3166-1 alpha-2 country codes, sorted.
pub fn countries() -> &'static [&'static str] {
    &COUNTRIES
}

/// The ISO 3166-1 code of a country as people and registers write it: `UK` (reserved by ISO
/// for the United Kingdom, and what many forms say) is `GB`, `EL` (Greece in EU VAT numbers
/// and documents) is `GR`; any other code is returned as it is. Upper case in, upper case out.
pub fn country_alias(code: &str) -> &str {
    match code {
        "UK" => "GB",
        "EL" => "GR",
        other => other,
    }
}

/// The code customs systems declare for an unknown country ("ZZ", user-assigned in ISO
/// 3166-1 and used so by the UN/LOCODE and the customs data models).
pub const UNKNOWN_COUNTRY: &str = "ZZ";

/// True for a country code a customs declaration may carry: an officially assigned ISO
/// 3166-1 alpha-2 code, [`UNKNOWN_COUNTRY`] ("ZZ"), or one of the user-assigned codes
/// customs data models use ([`CUSTOMS_COUNTRY_CODES`]). Upper case only.
pub fn is_declared_country(code: &str) -> bool {
    is_country(code) || code == UNKNOWN_COUNTRY || CUSTOMS_COUNTRY_CODES.contains(&code)
}

/// True for the country of a seller or a party to look for: an officially assigned ISO
/// 3166-1 alpha-2 code or one of [`CUSTOMS_COUNTRY_CODES`] (`XK` Kosovo, `XI` Northern
/// Ireland, ...), which declarations carry too (found by a tester: a seller in Kosovo could
/// not be reported at all). Upper case only.
pub fn is_party_country(code: &str) -> bool {
    is_country(code) || CUSTOMS_COUNTRY_CODES.contains(&code)
}

/// User-assigned ISO 3166-1 codes that customs declarations carry, from the EU's
/// geonomenclature (Commission Implementing Regulation (EU) 2020/1470 and its amendments),
/// which the UCC data requirements and other administrations use: `XK` Kosovo (also the
/// UN/CEFACT's), `XI` United Kingdom (Northern Ireland) and `XU` United Kingdom (excluding
/// Northern Ireland), in use since 2021 under the Windsor Framework (found by a tester: an
/// ordinary EU declaration from Northern Ireland was refused), `XC` Ceuta and `XL` Melilla.
pub const CUSTOMS_COUNTRY_CODES: &[&str] = &["XC", "XI", "XK", "XL", "XU"];

/// True for an active ISO 4217 currency (or fund) code that a price or an invoice can be
/// stated in ("EUR", "USD", "CNY", "CLF"), uppercase only.
///
/// Withdrawn codes ("DEM", "HRK") are rejected so that every stored amount has a currency that
/// can still be converted, and so are the codes ISO 4217 lists that are no money anyone pays
/// with (found by testers on price observations): `XTS` (reserved for testing), `XXX` (no
/// currency involved), the precious metals (`XAU`, `XAG`, `XPD`, `XPT`: a troy ounce, not a
/// price), the bond-market units (`XBA` to `XBD`) and the units of account of the IMF, the
/// SUCRE and the African Development Bank (`XDR`, `XSU`, `XUA`). Funds (`CLF`, `USN`, ...)
/// stay: contracts and invoices of their countries are stated in them.
pub fn is_currency(code: &str) -> bool {
    CURRENCIES.binary_search(&code).is_ok()
}

/// The active ISO 4217 currency and fund codes, sorted.
pub fn currencies() -> &'static [&'static str] {
    &CURRENCIES
}

/// Checks a GS1 GTIN (EAN-8, UPC-A, EAN-13 or GTIN-14) so that typing mistakes in product
/// codes are caught at ingest rather than silently failing to match later.
///
/// Returns `None` when `gtin` is 8, 12, 13 or 14 ASCII digits with a correct check digit,
/// otherwise `Some(reason)`, a short lowercase text for a field violation.
pub fn gtin_error(gtin: &str) -> Option<String> {
    let bytes = gtin.as_bytes();
    if !matches!(bytes.len(), 8 | 12 | 13 | 14) || !bytes.iter().all(u8::is_ascii_digit) {
        return Some("must be 8, 12, 13 or 14 digits".to_owned());
    }
    let (body, check) = bytes.split_at(bytes.len() - 1);
    // GS1: weights 3, 1, 3, 1, ... from the digit next to the check digit leftwards.
    let sum: u32 = body
        .iter()
        .rev()
        .enumerate()
        .map(|(i, b)| u32::from(b - b'0') * if i % 2 == 0 { 3 } else { 1 })
        .sum();
    let expected = (10 - sum % 10) % 10;
    if u32::from(check[0] - b'0') == expected {
        None
    } else {
        Some("has a wrong check digit".to_owned())
    }
}

/// Normalises a tariff code (the Harmonized System code, or a national extension of it) so
/// that the notations of printed tariffs are one code: "6403.99", "6403 99", "6403-99" and
/// "640399" are the same.
///
/// Rules, in order:
/// - full-width digits as ASCII ([`narrow`]), dots and separators ([`is_separator`]: white
///   space, hyphens and other dashes) are removed; what is left must be ASCII digits;
/// - 5 digits are a 6-digit code whose leading zero was lost (spreadsheets and data exports
///   store codes as numbers, so "090121" becomes "90121"): a zero is put back. Only 5: a
///   7- or 9-digit code is a national code of its own (Japan's statistical codes have 9);
/// - 6 to 10 digits are kept as they are, leading zeros included;
/// - the chapter (first two digits) must exist: 01 to 97 but not 77 (reserved) are the HS,
///   98 and 99 national chapters (e.g. US "9903.88.15"; see [`is_national_chapter`]).
///
/// Returns the digits, or a short lowercase reason.
pub fn normalize_hs_code(code: &str) -> Result<String, String> {
    let mut digits: String = code
        .chars()
        .filter(|&c| c != '.' && !is_separator(c))
        .map(narrow)
        .collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) || !(5..=10).contains(&digits.len()) {
        return Err("must be 6 to 10 digits (dots, spaces and hyphens allowed)".to_owned());
    }
    if digits.len() == 5 {
        digits.insert(0, '0');
    }
    let chapter: u8 = digits[..2].parse().map_err(|_| "is not a valid HS code")?;
    if chapter == 0 || chapter == 77 {
        // Names the chapter it found: "not 77" alone read as if 00 were taken for 77.
        return Err(format!(
            "has chapter {:02}, which does not exist (the first two digits must be 01 to 99; \
             77 is reserved by the HS)",
            chapter
        ));
    }
    Ok(digits)
}

/// True for what people and printers put between groups of a code and that is not part of
/// it: white space and hyphens, including the Unicode dashes word processors and PDF exports
/// substitute for `-` (U+2010 to U+2015, U+2212 minus, U+FE63 and U+FF0D, the small and
/// full-width hyphen-minus) and the soft hyphen (U+00AD) pages carry invisibly.
pub fn is_separator(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '-' | '\u{AD}' | '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{FE63}' | '\u{FF0D}'
        )
}

/// `c` with a full-width ASCII letter or digit (`Ａ`, `１`, as East Asian input methods type
/// them) as its ASCII form; any other character as it is. Only these: a wider compatibility
/// mapping (NFKC) turns symbols into letters (`№` into `No`, `™` into `TM`, `①` into `1`), so
/// a number with a stray symbol would silently become another number (found by a tester).
pub fn narrow(c: char) -> char {
    match c {
        '\u{FF10}'..='\u{FF19}' | '\u{FF21}'..='\u{FF3A}' | '\u{FF41}'..='\u{FF5A}' => {
            char::from_u32(c as u32 - 0xFEE0).unwrap_or(c)
        }
        other => other,
    }
}

/// Longest transport document number, in characters (after [`consignment_number`]).
pub const MAX_CONSIGNMENT_NUMBER_CHARS: usize = 64;

/// A transport document number (a parcel tracking number, a bill of lading or an air waybill
/// number, as in `ConsignmentNumbers`) in its canonical form: full-width letters and digits
/// as ASCII ([`narrow`]), separators ([`is_separator`]) and format characters (zero-width
/// spaces) removed and letters upper-cased, since carriers print them in groups and any case
/// ("1z 999 aa1 01 2345 6784" is `1Z999AA10123456784`, "176-12345675" is `17612345675`).
/// Declarations, shipment notices and their matching all use this form, so that a number
/// written two ways is one number. Errors: why the rest is not 1 to
/// [`MAX_CONSIGNMENT_NUMBER_CHARS`] ASCII letters and digits (the number is not echoed:
/// it may be long).
pub fn consignment_number(number: &str) -> Result<String, &'static str> {
    // Format characters (a zero-width space copied with the number from a web page) are
    // dropped, as identifiers drop them (found by a tester: one refused a whole declaration).
    let canonical: String = number
        .chars()
        .filter(|&c| !is_separator(c) && !crate::identifiers::text::is_format(c))
        .map(|c| narrow(c).to_ascii_uppercase())
        .collect();
    if canonical.is_empty()
        || canonical.len() > MAX_CONSIGNMENT_NUMBER_CHARS
        || !canonical.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return Err("must be 1 to 64 letters and digits (spaces and hyphens are ignored)");
    }
    Ok(canonical)
}

/// True for a normalised tariff code of a national chapter (98 or 99): chapters the HS
/// leaves to national use for special provisions (US chapter 99: temporary and additional
/// duties such as "9903.88.15", listed before the goods' own code on an entry line). Such a
/// code does not say what the goods are, so it is kept out of comparisons between goods.
pub fn is_national_chapter(code: &str) -> bool {
    code.starts_with("98") || code.starts_with("99")
}

/// The international calling code (without '+') of a country, for turning phone numbers in
/// national format into E.164. `country` is an uppercase ISO 3166-1 alpha-2 code; `None` for
/// countries not in the table.
pub fn calling_code(country: &str) -> Option<&'static str> {
    CALLING_CODES
        .binary_search_by_key(&country, |&(c, _)| c)
        .ok()
        .map(|i| CALLING_CODES[i].1)
}

/// ISO 3166-1 alpha-2 codes, officially assigned only (249), sorted for binary search.
const COUNTRIES: [&str; 249] = [
    "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ",
    "BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS",
    "BT", "BV", "BW", "BY", "BZ", "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN",
    "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE", "DJ", "DK", "DM", "DO", "DZ", "EC", "EE",
    "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK", "FM", "FO", "FR", "GA", "GB", "GD", "GE", "GF",
    "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK", "HM",
    "HN", "HR", "HT", "HU", "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE", "JM",
    "JO", "JP", "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC",
    "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY", "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK",
    "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS", "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA",
    "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ", "OM", "PA", "PE", "PF", "PG",
    "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS", "RU", "RW",
    "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS",
    "ST", "SV", "SX", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO",
    "TR", "TT", "TV", "TW", "TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI",
    "VN", "VU", "WF", "WS", "YE", "YT", "ZA", "ZM", "ZW",
];

/// ISO 4217 active currency and fund codes (list one as of 2026: HRK, SLL, ZWL, ANG and BGN
/// withdrawn, XCG and ZWG added), without the codes that are no money (see [`is_currency`]);
/// sorted for binary search. Withdrawn codes are money on the dates
/// [`crate::currency_dates`] gives.
const CURRENCIES: [&str; 165] = [
    "AED", "AFN", "ALL", "AMD", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BHD",
    "BIF", "BMD", "BND", "BOB", "BOV", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF",
    "CHE", "CHF", "CHW", "CLF", "CLP", "CNY", "COP", "COU", "CRC", "CUC", "CUP", "CVE", "CZK",
    "DJF", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS",
    "GIP", "GMD", "GNF", "GTQ", "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IQD",
    "IRR", "ISK", "JMD", "JOD", "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD",
    "KZT", "LAK", "LBP", "LKR", "LRD", "LSL", "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT",
    "MOP", "MRU", "MUR", "MVR", "MWK", "MXN", "MXV", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK",
    "NPR", "NZD", "OMR", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD",
    "RUB", "RWF", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP",
    "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT", "TND", "TOP", "TRY", "TTD", "TWD", "TZS",
    "UAH", "UGX", "USD", "USN", "UYI", "UYU", "UYW", "UZS", "VED", "VES", "VND", "VUV", "WST",
    "XAF", "XCD", "XCG", "XOF", "XPF", "YER", "ZAR", "ZMW", "ZWG",
];

/// International calling codes (ITU-T E.164) by ISO 3166-1 alpha-2 country, sorted by country.
/// Covers the countries where most reported sellers are; extend as needed.
const CALLING_CODES: [(&str, &str); 83] = [
    ("AE", "971"),
    ("AR", "54"),
    ("AT", "43"),
    ("AU", "61"),
    ("BD", "880"),
    ("BE", "32"),
    ("BG", "359"),
    ("BH", "973"),
    ("BR", "55"),
    ("CA", "1"),
    ("CH", "41"),
    ("CL", "56"),
    ("CN", "86"),
    ("CO", "57"),
    ("CY", "357"),
    ("CZ", "420"),
    ("DE", "49"),
    ("DK", "45"),
    ("DZ", "213"),
    ("EE", "372"),
    ("EG", "20"),
    ("ES", "34"),
    ("FI", "358"),
    ("FR", "33"),
    ("GB", "44"),
    ("GH", "233"),
    ("GR", "30"),
    ("HK", "852"),
    ("HR", "385"),
    ("HU", "36"),
    ("ID", "62"),
    ("IE", "353"),
    ("IL", "972"),
    ("IN", "91"),
    ("IS", "354"),
    ("IT", "39"),
    ("JO", "962"),
    ("JP", "81"),
    ("KE", "254"),
    ("KH", "855"),
    ("KR", "82"),
    ("KW", "965"),
    ("KZ", "7"),
    ("LA", "856"),
    ("LB", "961"),
    ("LK", "94"),
    ("LT", "370"),
    ("LU", "352"),
    ("LV", "371"),
    ("MA", "212"),
    ("MM", "95"),
    ("MO", "853"),
    ("MT", "356"),
    ("MX", "52"),
    ("MY", "60"),
    ("NG", "234"),
    ("NL", "31"),
    ("NO", "47"),
    ("NP", "977"),
    ("NZ", "64"),
    ("OM", "968"),
    ("PE", "51"),
    ("PH", "63"),
    ("PK", "92"),
    ("PL", "48"),
    ("PT", "351"),
    ("QA", "974"),
    ("RO", "40"),
    ("RU", "7"),
    ("SA", "966"),
    ("SE", "46"),
    ("SG", "65"),
    ("SI", "386"),
    ("SK", "421"),
    ("TH", "66"),
    ("TN", "216"),
    ("TR", "90"),
    ("TW", "886"),
    ("UA", "380"),
    ("US", "1"),
    ("VE", "58"),
    ("VN", "84"),
    ("ZA", "27"),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_sorted_unique(list: &[&str]) {
        for pair in list.windows(2) {
            assert!(pair[0] < pair[1], "{} before {}", pair[0], pair[1]);
        }
    }

    #[test]
    fn tables_are_sorted_for_binary_search() {
        assert_sorted_unique(&COUNTRIES);
        assert_sorted_unique(&CURRENCIES);
        let countries: Vec<&str> = CALLING_CODES.iter().map(|&(c, _)| c).collect();
        assert_sorted_unique(&countries);
    }

    #[test]
    fn table_entries_are_well_formed() {
        assert!(
            COUNTRIES
                .iter()
                .all(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase()))
        );
        assert!(
            CURRENCIES
                .iter()
                .all(|c| c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase()))
        );
        for (country, code) in CALLING_CODES {
            assert!(is_country(country), "{country}");
            assert!((1..=3).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_digit()));
            assert!(!code.starts_with('0'));
        }
    }

    #[test]
    fn countries() {
        for code in [
            "DE", "CN", "HK", "TW", "US", "GB", "AX", "BQ", "SS", "ZW", "AD",
        ] {
            assert!(is_country(code), "{code}");
        }
        assert_eq!(COUNTRIES.len(), 249);
        // Not officially assigned, withdrawn, wrong case or wrong shape.
        for code in [
            "XK", "EU", "UK", "AN", "YU", "CS", "ZZ", "de", "De", "", "D", "DEU", " DE",
        ] {
            assert!(!is_country(code), "{code}");
        }
    }

    #[test]
    fn currencies() {
        for code in [
            "EUR", "USD", "CNY", "HKD", "GBP", "JPY", "CHF", "SLE", "VED", "XCG", "ZWG", "CLF",
            "USN", "XOF", "XAF", "XPF", "XCD",
        ] {
            assert!(is_currency(code), "{code}");
        }
        for code in [
            "DEM", "FRF", "HRK", "ZWL", "SLL", "VEF", "BGN", "RMB", "BTC", "eur", "EU", "EURO", "",
            "XTS", "XXX", "XAU", "XAG", "XPD", "XPT", "XBA", "XBB", "XBC", "XBD", "XDR", "XSU",
            "XUA",
        ] {
            assert!(!is_currency(code), "{code}");
        }
    }

    #[test]
    fn valid_gtins() {
        for gtin in [
            "96385074",       // EAN-8
            "036000291452",   // UPC-A
            "4006381333931",  // EAN-13
            "9780306406157",  // ISBN-13
            "5901234123457",  // EAN-13 (GS1 example)
            "10614141000415", // GTIN-14
            "00000000",
        ] {
            assert_eq!(gtin_error(gtin), None, "{gtin}");
        }
    }

    #[test]
    fn gtin_wrong_check_digit() {
        for gtin in [
            "96385075",
            "036000291453",
            "4006381333932",
            "10614141000416",
            "4006381333913",
        ] {
            assert_eq!(
                gtin_error(gtin).as_deref(),
                Some("has a wrong check digit"),
                "{gtin}"
            );
        }
    }

    #[test]
    fn gtin_wrong_shape() {
        for gtin in [
            "",
            "1234567",
            "123456789",
            "40063813339",
            "400638133393112",
            "4006381 333931",
            "4006-381333931",
            "400638133393X",
            "４００６３８１３３３９３１",
        ] {
            assert_eq!(
                gtin_error(gtin).as_deref(),
                Some("must be 8, 12, 13 or 14 digits"),
                "{gtin}"
            );
        }
    }

    #[test]
    fn hs_codes_are_normalised() {
        assert_eq!(normalize_hs_code("6403.99"), Ok("640399".to_owned()));
        assert_eq!(normalize_hs_code("6403 99"), Ok("640399".to_owned()));
        assert_eq!(normalize_hs_code("4202.21.00"), Ok("42022100".to_owned()));
        assert_eq!(
            normalize_hs_code(" 8517.13.00.00 "),
            Ok("8517130000".to_owned())
        );
        assert_eq!(normalize_hs_code("010121"), Ok("010121".to_owned()));
        assert_eq!(normalize_hs_code("9701.10"), Ok("970110".to_owned()));
        assert_eq!(normalize_hs_code("6403991"), Ok("6403991".to_owned()));
    }

    #[test]
    fn hs_codes_in_the_notations_of_national_tariffs() {
        for (given, canonical) in [
            ("6403-99", "640399"),
            ("8518.30.20 00", "8518302000"),
            ("8518 30 20-00", "8518302000"),
            ("\t6403.99\u{a0}", "640399"),
            ("0901.21", "090121"),
            ("090121", "090121"),
            ("0101.21.00.10", "0101210010"),
            // A leading zero lost to a spreadsheet.
            ("90121", "090121"),
            ("901.21", "090121"),
            // National chapters.
            ("9903.88.15", "99038815"),
            ("9801.00.10", "98010010"),
            ("990388", "990388"),
            // Japan's 9-digit statistical codes stay as they are.
            ("6403.99.000", "640399000"),
            // Dashes a word processor or a PDF export put for '-'.
            ("8518.30\u{2013}2000", "8518302000"),
            ("6403\u{2010}99", "640399"),
            (
                "\u{ff16}\u{ff14}\u{ff10}\u{ff13}.\u{ff19}\u{ff19}",
                "640399",
            ),
        ] {
            assert_eq!(
                normalize_hs_code(given),
                Ok(canonical.to_owned()),
                "{given:?}"
            );
        }
        assert!(is_national_chapter("99038815"));
        assert!(is_national_chapter("98010010"));
        assert!(!is_national_chapter("970110"));
        assert!(!is_national_chapter("090121"));
    }

    #[test]
    fn consignment_numbers_are_one_number_however_they_are_written() {
        for (given, canonical) in [
            ("1Z999AA10123456784", "1Z999AA10123456784"),
            ("1z 999 aa1 01 2345 6784", "1Z999AA10123456784"),
            ("\t1Z999AA1-0123-456784\u{a0}", "1Z999AA10123456784"),
            ("176-12345675", "17612345675"),
            ("176\u{2013}1234 5675", "17612345675"),
            ("maeu123456789", "MAEU123456789"),
            // Full-width forms, as East Asian input methods type them.
            ("\u{ff11}\u{ff3a}\u{ff19}\u{ff19}", "1Z99"),
            // A zero-width space or byte-order mark copied with it.
            ("1Z999AA1\u{200b}0123456784\u{feff}", "1Z999AA10123456784"),
        ] {
            assert_eq!(
                consignment_number(given).as_deref(),
                Ok(canonical),
                "{given:?}"
            );
        }
        let long = "A".repeat(MAX_CONSIGNMENT_NUMBER_CHARS);
        assert_eq!(consignment_number(&long).as_deref(), Ok(long.as_str()));
        assert_eq!(
            consignment_number("1Z\u{ad}999").as_deref(),
            Ok("1Z999"),
            "a soft hyphen"
        );
        // Symbols are no letters or digits, even where NFKC would make them some.
        for bad in [
            "",
            " - ",
            "1Z/999",
            "1Z.999",
            "1Z\u{e9}",
            &"A".repeat(65),
            "\u{2116} LX123456789CN",
            "1Z999\u{2122}",
            "LX\u{2460}23",
            "1Z\u{1d7ce}",
        ] {
            assert!(consignment_number(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn hs_codes_with_wrong_length_or_characters() {
        let msg = Err("must be 6 to 10 digits (dots, spaces and hyphens allowed)".to_owned());
        for code in [
            "",
            "6403",
            "...",
            "64039912345",
            "6403.9A",
            "6403_99_00",
            "-",
        ] {
            assert_eq!(normalize_hs_code(code), msg, "{code}");
        }
    }

    #[test]
    fn hs_codes_with_unknown_chapter() {
        let msg = |chapter: &str| {
            Err(format!(
                "has chapter {chapter}, which does not exist (the first two digits must be 01 \
                 to 99; 77 is reserved by the HS)"
            ))
        };
        for (code, chapter) in [
            ("000000", "00"),
            ("001234", "00"),
            ("770000", "77"),
            ("7701.10", "77"),
            ("00123", "00"),
        ] {
            assert_eq!(normalize_hs_code(code), msg(chapter), "{code}");
        }
    }

    #[test]
    fn declared_countries_include_unknown_and_the_customs_codes() {
        for code in ["ZZ", "XK", "XI", "XU", "XC", "XL", "CN", "DE"] {
            assert!(is_declared_country(code), "{code}");
        }
        for code in ["zz", "XX", "EU", "UK", ""] {
            assert!(!is_declared_country(code), "{code}");
        }
    }

    #[test]
    fn calling_codes() {
        let expected = [
            ("US", "1"),
            ("CA", "1"),
            ("GB", "44"),
            ("DE", "49"),
            ("FR", "33"),
            ("IT", "39"),
            ("ES", "34"),
            ("NL", "31"),
            ("BE", "32"),
            ("PL", "48"),
            ("SE", "46"),
            ("CH", "41"),
            ("AT", "43"),
            ("IE", "353"),
            ("PT", "351"),
            ("DK", "45"),
            ("NO", "47"),
            ("FI", "358"),
            ("CN", "86"),
            ("HK", "852"),
            ("TW", "886"),
            ("JP", "81"),
            ("KR", "82"),
            ("IN", "91"),
            ("SG", "65"),
            ("MY", "60"),
            ("TH", "66"),
            ("VN", "84"),
            ("ID", "62"),
            ("PH", "63"),
            ("AU", "61"),
            ("NZ", "64"),
            ("BR", "55"),
            ("MX", "52"),
            ("AR", "54"),
            ("TR", "90"),
            ("AE", "971"),
            ("SA", "966"),
            ("IL", "972"),
            ("ZA", "27"),
            ("NG", "234"),
            ("EG", "20"),
            ("RU", "7"),
            ("UA", "380"),
            ("PK", "92"),
            ("BD", "880"),
        ];
        for (country, code) in expected {
            assert_eq!(calling_code(country), Some(code), "{country}");
        }
        for country in ["AQ", "XX", "gb", "", "GBR"] {
            assert_eq!(calling_code(country), None, "{country}");
        }
    }
}
