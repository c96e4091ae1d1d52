/// Millionths in one currency unit.
const MICROS_PER_UNIT: i64 = 1_000_000;
/// Largest amount accepted, in whole units; far above any real price, well inside `i64` micros.
const MAX_UNITS: i64 = 1_000_000_000_000;
/// Fraction digits kept: one millionth is the smallest amount that can be stored.
const MAX_FRACTION_DIGITS: usize = 6;

/// Parses a non-negative decimal amount into millionths of the currency unit (`"12.50"` gives
/// `12_500_000`), so that prices are stored and compared exactly, never as floating point.
///
/// Accepts ASCII digits with an optional '.' followed by at least one fraction digit; no sign,
/// no exponent, no thousands separators, no surrounding spaces; at most 1e12 units. Digits
/// past the sixth after the point (floating-point noise from exports, such as
/// `"241.58000000000004"`) are rounded to the nearest millionth, halves away from zero:
/// `"0.0000005"` is 1 millionth; an amount above 0 that would round to 0 (`"0.00000049"`) is
/// refused, as it would read as nothing. `Err` carries a short lowercase reason for a field
/// violation.
///
/// Every currency takes six fraction digits, whatever its ISO 4217 minor unit (none for JPY
/// and KRW, three for KWD): unit prices and converted amounts (`JPY 0.35` a piece, `JPY
/// 1500.5` from a conversion) carry more digits than a currency's coins, and refusing them
/// would lose what platforms and customs send.
pub fn parse_amount_micros(text: &str) -> Result<i64, String> {
    const FORMAT: &str = "must be a non-negative decimal such as 12.50";
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (text, None),
    };
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(whole) || fraction.is_some_and(|f| !all_digits(f)) {
        return Err(FORMAT.to_owned());
    }
    let fraction = fraction.unwrap_or_default();
    let (kept, dropped) = fraction.split_at(fraction.len().min(MAX_FRACTION_DIGITS));
    let round_up = dropped.as_bytes().first().is_some_and(|&d| d >= b'5');
    let too_large = || format!("must be at most {MAX_UNITS}");
    // Leading zeros would not change the value, but could make the text too long to parse.
    let whole = whole.trim_start_matches('0');
    if whole.len() > 13 {
        return Err(too_large());
    }
    let units: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| FORMAT)?
    };
    // Right-pad the fraction to six digits: "5" is 500000 millionths.
    let fraction_micros: i64 = format!("{kept:0<6}").parse().map_err(|_| FORMAT)?;
    let micros = units * MICROS_PER_UNIT + fraction_micros + i64::from(round_up);
    if micros > MAX_UNITS * MICROS_PER_UNIT {
        return Err(too_large());
    }
    if micros == 0 && dropped.bytes().any(|d| d != b'0') {
        // Stored as 0 it would read as a declared value of nothing, the strongest sign of
        // undervaluation (found by a tester: 0.0000004 was assessed RED).
        return Err("must be 0 or at least 0.000001".to_owned());
    }
    Ok(micros)
}

/// Formats millionths back to the shortest exact decimal text ("12.5", "3", "0.000001"), the
/// inverse of [`parse_amount_micros`]. Negative values (differences) get a leading '-'.
pub fn format_micros(micros: i64) -> String {
    let sign = if micros < 0 { "-" } else { "" };
    let abs = micros.unsigned_abs();
    let per_unit = MICROS_PER_UNIT.unsigned_abs();
    let (units, fraction) = (abs / per_unit, abs % per_unit);
    if fraction == 0 {
        return format!("{sign}{units}");
    }
    let fraction = format!("{fraction:06}");
    format!("{sign}{units}.{}", fraction.trim_end_matches('0'))
}

/// Checks an amount of money from a request and puts it in canonical form (upper-case
/// currency, shortest decimal amount). Problems as (sub-field, description):
/// `("currency_code", ...)` or `("amount", ...)`.
///
/// `at_seconds` is the Unix time the amount is of (a declaration's, a price's), when known:
/// the currency must have been money on that day ([`crate::currency_dates::in_use_on`]:
/// ANG on a 2020 declaration, not XCG; HRK in 2022, not in 2023; found by testers), or be
/// quoted on it by the built-in reference rates. Without a date, a current code.
pub fn canonicalize(
    value: &mut acx_proto::common::Money,
    at_seconds: Option<i64>,
) -> Vec<(&'static str, String)> {
    let mut problems = Vec::new();
    value.currency_code = value.currency_code.trim().to_ascii_uppercase();
    let code = value.currency_code.as_str();
    let quoted_then = || {
        at_seconds.is_some_and(|seconds| {
            code != "USD"
                && crate::rates::ReferenceRates::builtin()
                    .usd_per_unit(code, crate::rates::day_of(seconds))
                    .is_some()
        })
    };
    // Money on the amount's own date when it has one, else today.
    let money = match at_seconds {
        Some(seconds) => {
            crate::currency_dates::in_use_on(code, crate::rates::day_of(seconds)) || quoted_then()
        }
        None => crate::codes::is_currency(code),
    };
    if code.is_empty() {
        problems.push(("currency_code", "is required".to_owned()));
    } else if !money {
        let why = match (crate::currency_dates::replaced_by(code), at_seconds) {
            (Some(by), Some(_)) => format!(
                "{code} was replaced by {by} before this date: an ISO 4217 code in use on the date is required"
            ),
            (Some(by), None) => format!("{code} was replaced by {by}: give the amount's date, or a current ISO 4217 code"),
            (None, Some(_)) if crate::codes::is_currency(code) => format!(
                "{code} was not yet issued on this date: an ISO 4217 code in use on the date is required"
            ),
            _ => "must be an ISO 4217 currency code such as USD or EUR (one since withdrawn, such as HRK, only on a date it was in use)".to_owned(),
        };
        problems.push(("currency_code", why));
    }
    match parse_amount_micros(value.amount.trim()) {
        Ok(micros) => value.amount = format_micros(micros),
        Err(why) => problems.push(("amount", why)),
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_decimals() {
        assert_eq!(parse_amount_micros("12.50"), Ok(12_500_000));
        assert_eq!(parse_amount_micros("12.5"), Ok(12_500_000));
        assert_eq!(parse_amount_micros("3"), Ok(3_000_000));
        assert_eq!(parse_amount_micros("0"), Ok(0));
        assert_eq!(parse_amount_micros("0.0"), Ok(0));
        assert_eq!(parse_amount_micros("0.000001"), Ok(1));
        assert_eq!(parse_amount_micros("199.999999"), Ok(199_999_999));
        assert_eq!(parse_amount_micros("007.10"), Ok(7_100_000));
    }

    #[test]
    fn limit_is_one_trillion_units() {
        assert_eq!(
            parse_amount_micros("1000000000000"),
            Ok(1_000_000_000_000_000_000)
        );
        assert_eq!(
            parse_amount_micros("1000000000000.000000"),
            Ok(1_000_000_000_000_000_000)
        );
        let msg = Err("must be at most 1000000000000".to_owned());
        assert_eq!(parse_amount_micros("1000000000000.000001"), msg);
        assert_eq!(parse_amount_micros("1000000000001"), msg);
        assert_eq!(parse_amount_micros("99999999999999999999999"), msg);
        // Leading zeros do not count towards the size.
        assert_eq!(
            parse_amount_micros(&format!("{}1.5", "0".repeat(40))),
            Ok(1_500_000)
        );
    }

    #[test]
    fn rejects_other_notations() {
        let msg = Err("must be a non-negative decimal such as 12.50".to_owned());
        for text in [
            "", "-1", "+1", "1e3", "1E3", "1,000", "1 000", "1,5", ".5", "5.", "1.2.3", " 1", "1 ",
            "NaN", "inf", "0x10", "١٢", "１２", "12.5€", "$12",
        ] {
            assert_eq!(parse_amount_micros(text), msg, "{text:?}");
        }
    }

    #[test]
    fn rounds_past_the_sixth_fraction_digit_halves_away_from_zero() {
        let nothing = Err("must be 0 or at least 0.000001".to_owned());
        assert_eq!(parse_amount_micros("0.0000001"), nothing);
        assert_eq!(parse_amount_micros("0.00000049"), nothing);
        assert_eq!(parse_amount_micros("0.0000000"), Ok(0));
        assert_eq!(parse_amount_micros("0.0000005"), Ok(1));
        assert_eq!(parse_amount_micros("1.1234560"), Ok(1_123_456));
        assert_eq!(parse_amount_micros("1.9999995"), Ok(2_000_000));
        // Floating-point noise from exports of the development data.
        assert_eq!(parse_amount_micros("241.58000000000004"), Ok(241_580_000));
        assert_eq!(
            parse_amount_micros("2359189.8000000003"),
            Ok(2_359_189_800_000)
        );
        assert_eq!(parse_amount_micros("57.22000000000001"), Ok(57_220_000));
        assert_eq!(
            parse_amount_micros(&format!("3.{}", "9".repeat(200))),
            Ok(4_000_000)
        );
        // Rounding up may not pass the limit.
        assert_eq!(
            parse_amount_micros("999999999999.9999995"),
            Ok(1_000_000_000_000_000_000)
        );
        assert_eq!(
            parse_amount_micros("1000000000000.0000005"),
            Err("must be at most 1000000000000".to_owned())
        );
    }

    #[test]
    fn formats_shortest_text() {
        assert_eq!(format_micros(12_500_000), "12.5");
        assert_eq!(format_micros(3_000_000), "3");
        assert_eq!(format_micros(1), "0.000001");
        assert_eq!(format_micros(0), "0");
        assert_eq!(format_micros(100_000), "0.1");
        assert_eq!(format_micros(1_000_000_000_000_000_000), "1000000000000");
        assert_eq!(format_micros(-2_050_000), "-2.05");
        assert_eq!(format_micros(i64::MIN), "-9223372036854.775808");
        assert_eq!(format_micros(i64::MAX), "9223372036854.775807");
    }

    #[test]
    fn format_and_parse_round_trip() {
        for micros in [
            0,
            1,
            10,
            999_999,
            1_000_000,
            12_345_678,
            1_000_000_000_000_000_000,
        ] {
            assert_eq!(parse_amount_micros(&format_micros(micros)), Ok(micros));
        }
        for text in ["12.5", "3", "0.000001", "0.1", "1000000000000", "42.123456"] {
            assert_eq!(format_micros(parse_amount_micros(text).expect(text)), text);
        }
    }
}

#[cfg(test)]
mod canonical_tests {
    use super::canonicalize;
    use acx_proto::common::Money;

    #[test]
    fn canonical_money_and_its_problems() {
        let mut good = Money {
            currency_code: " usd ".to_owned(),
            amount: "12.50".to_owned(),
        };
        assert!(canonicalize(&mut good, None).is_empty());
        assert_eq!(
            (good.currency_code.as_str(), good.amount.as_str()),
            ("USD", "12.5")
        );
        let mut bad = Money {
            currency_code: String::new(),
            amount: "-1".to_owned(),
        };
        let fields: Vec<&str> = canonicalize(&mut bad, None)
            .into_iter()
            .map(|(f, _)| f)
            .collect();
        assert_eq!(fields, ["currency_code", "amount"]);
    }

    #[test]
    fn a_withdrawn_currency_is_money_while_it_was_in_use() {
        let kuna = || Money {
            currency_code: "HRK".to_owned(),
            amount: "10".to_owned(),
        };
        // 2022-06-01 and 2023-06-01.
        assert!(canonicalize(&mut kuna(), Some(1_654_041_600)).is_empty());
        assert_eq!(canonicalize(&mut kuna(), Some(1_685_577_600)).len(), 1);
        assert_eq!(canonicalize(&mut kuna(), None).len(), 1);
    }
}
