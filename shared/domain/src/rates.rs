//! Reference exchange rates, to put declared values and marketplace prices in one currency
//! (US dollars) for comparison. Never to compute a customs value.
//!
//! **Source**: the European Central Bank's euro foreign exchange reference rates
//! (<https://www.ecb.europa.eu/stats/policy_and_exchange_rates/euro_reference_exchange_rates/>),
//! published each TARGET business day at about 16:00 CET for some 30 currencies, as units of
//! each currency per euro. Reuse is free of charge with the source acknowledged.
//!
//! **Built in**: `data/ecb-reference-rates.csv`, the ECB's own CSV format (`Date,USD,JPY,...`,
//! newest first, `N/A` where a currency is not quoted), holding the first reference day of
//! each ISO week from 2015-01-02 to 2026-10-26 and the latest day, 2026-10-30, made from the
//! ECB's `eurofxref-hist.csv` by `scripts/reference-rates.py`.
//!
//! **Replaced at run time** by a file in the same format (the full `eurofxref-hist.csv`, the
//! daily `eurofxref.csv`, or a table of one's own): scoring's `--reference-rates-file` /
//! `ACX_REFERENCE_RATES_FILE`.
//!
//! **Which rate**: the table's row of the latest date at or before the day asked about (the
//! first row for earlier days, the last for later ones). A currency without a value in that
//! row (not published by the ECB, or no longer: RUB since March 2022, BGN since the euro)
//! has no rate that day.

use std::{collections::HashMap, path::Path, sync::Arc, sync::LazyLock};

use sha2::Digest;

/// The built-in table (see the module documentation).
const BUILTIN: &str = include_str!("../data/ecb-reference-rates.csv");

/// A table of reference rates, by day.
#[derive(Debug, Clone)]
pub struct ReferenceRates {
    /// Where the table came from, for logs.
    source: String,
    /// SHA-256 of the table's content ([`table_digest`]), to tell whether two processes use
    /// the same table.
    digest: [u8; 32],
    /// Column of each currency in `values`.
    columns: HashMap<String, usize>,
    /// Days since 1970-01-01 of the rows, ascending.
    days: Vec<i64>,
    /// Units of each currency per euro, row by row; NaN where not quoted.
    values: Vec<Vec<f64>>,
}

/// A rates file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RatesError {
    /// The file cannot be read.
    #[error("cannot read reference rates file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The text is not a table of rates in the ECB's CSV format.
    #[error("reference rates {source_name}, line {line}: {message}")]
    Format {
        /// The file, or "built-in".
        source_name: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

static BUILTIN_RATES: LazyLock<Arc<ReferenceRates>> = LazyLock::new(|| {
    #[allow(clippy::expect_used)]
    let rates = ReferenceRates::parse(BUILTIN, "built-in ECB reference rates")
        .expect("the built-in table parses (checked by a unit test)");
    Arc::new(rates)
});

impl ReferenceRates {
    /// The built-in table, parsed once per process.
    pub fn builtin() -> Arc<Self> {
        Arc::clone(&BUILTIN_RATES)
    }

    /// Reads a table in the ECB's CSV format from `path`.
    pub fn load(path: &Path) -> Result<Self, RatesError> {
        let text = std::fs::read_to_string(path).map_err(|source| RatesError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses a table in the ECB's CSV format: a header `Date,USD,JPY,...` (cells may be
    /// padded with spaces, a trailing comma is allowed), then one row per day, in any order,
    /// with the date as `2026-10-30` or `30 October 2026` and units of each currency per
    /// euro, `N/A` or empty where not quoted. A `USD` column is required (values are put in
    /// US dollars); rates must be positive.
    pub fn parse(text: &str, source: &str) -> Result<Self, RatesError> {
        let fail = |line: usize, message: String| RatesError::Format {
            source_name: source.to_owned(),
            line,
            message,
        };
        let mut lines = text
            .lines()
            .enumerate()
            .map(|(i, l)| (i + 1, l.trim_start_matches('\u{feff}')))
            .filter(|(_, l)| !l.trim().is_empty());
        let Some((_, header)) = lines.next() else {
            return Err(fail(1, "the file is empty".to_owned()));
        };
        let names: Vec<&str> = header.split(',').map(str::trim).collect();
        if !names
            .first()
            .is_some_and(|n| n.eq_ignore_ascii_case("date"))
        {
            return Err(fail(1, "the header must start with Date".to_owned()));
        }
        let mut columns = HashMap::new();
        let mut positions = Vec::new(); // (cell index, column)
        for (cell, name) in names.iter().enumerate().skip(1) {
            if name.is_empty() {
                continue;
            }
            let code = name.to_ascii_uppercase();
            if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(fail(1, format!("{name:?} is not a currency code")));
            }
            if columns.insert(code, positions.len()).is_some() {
                return Err(fail(1, format!("{name} appears twice")));
            }
            positions.push(cell);
        }
        if !columns.contains_key("USD") {
            return Err(fail(1, "there is no USD column".to_owned()));
        }
        let mut rows: Vec<(i64, Vec<f64>)> = Vec::new();
        for (number, line) in lines {
            let cells: Vec<&str> = line.split(',').map(str::trim).collect();
            let day = parse_date(cells[0])
                .ok_or_else(|| fail(number, format!("{:?} is not a date", cells[0])))?;
            let mut values = Vec::with_capacity(positions.len());
            for &cell in &positions {
                let text = cells.get(cell).copied().unwrap_or_default();
                let value = if text.is_empty() || text.eq_ignore_ascii_case("N/A") {
                    f64::NAN
                } else {
                    match text.parse::<f64>() {
                        Ok(v) if v.is_finite() && v > 0.0 => v,
                        _ => {
                            return Err(fail(
                                number,
                                format!("{:?} of {} is not a positive rate", text, names[cell]),
                            ));
                        }
                    }
                };
                values.push(value);
            }
            rows.push((day, values));
        }
        if rows.is_empty() {
            return Err(fail(1, "the table has no rows".to_owned()));
        }
        rows.sort_by_key(|(day, _)| *day);
        if let Some(pair) = rows.windows(2).find(|pair| pair[0].0 == pair[1].0) {
            return Err(fail(1, format!("{} appears twice", format_day(pair[0].0))));
        }
        let (days, values): (Vec<i64>, Vec<Vec<f64>>) = rows.into_iter().unzip();
        Ok(Self {
            source: source.to_owned(),
            digest: table_digest(&columns, &days, &values),
            columns,
            days,
            values,
        })
    }

    /// US dollars per unit of `currency` (ISO 4217, upper case) on day `day` (days since
    /// 1970-01-01, see [`day_of`]), from the ECB's cross rates of that day's row; `None` when
    /// the currency has no rate that day. USD is always 1.
    pub fn usd_per_unit(&self, currency: &str, day: i64) -> Option<f64> {
        if currency == "USD" {
            return Some(1.0);
        }
        let row = &self.values[self.row_index(day)];
        let usd = row[self.columns["USD"]];
        let per_euro = if currency == "EUR" {
            1.0
        } else {
            row[*self.columns.get(currency)?]
        };
        let rate = usd / per_euro;
        rate.is_finite().then_some(rate)
    }

    /// The date (`YYYY-MM-DD`) of the row used for `day`.
    pub fn date_used(&self, day: i64) -> String {
        format_day(self.days[self.row_index(day)])
    }

    fn row_index(&self, day: i64) -> usize {
        self.days.partition_point(|&d| d <= day).saturating_sub(1)
    }

    /// The first and last dates of the table (`YYYY-MM-DD`).
    pub fn date_range(&self) -> (String, String) {
        (
            format_day(self.days[0]),
            format_day(self.days[self.days.len() - 1]),
        )
    }

    /// The currencies the table quotes (besides EUR), sorted.
    pub fn currencies(&self) -> Vec<&str> {
        let mut codes: Vec<&str> = self.columns.keys().map(String::as_str).collect();
        codes.sort_unstable();
        codes
    }

    /// Where the table came from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// SHA-256 of the table's content: equal tables have equal digests whatever their path,
    /// line endings, column or row order or number format (scoring replicas must use one
    /// table, see `acx_scoring::settings`).
    pub fn digest(&self) -> [u8; 32] {
        self.digest
    }
}

/// SHA-256 of a table's content: for each currency quoted at least once, in name order,
/// its code, then for each
/// day (ascending) the day and each currency's rate (IEEE 754 bits, NaN where not quoted).
fn table_digest(columns: &HashMap<String, usize>, days: &[i64], values: &[Vec<f64>]) -> [u8; 32] {
    // A currency never quoted (a column of `N/A`, as ECB files carry) adds no rate.
    let mut currencies: Vec<(&String, &usize)> = columns
        .iter()
        .filter(|(_, column)| {
            values
                .iter()
                .any(|row| row.get(**column).is_some_and(|r| !r.is_nan()))
        })
        .collect();
    currencies.sort();
    let mut hash = sha2::Sha256::new();
    for (code, _) in &currencies {
        hash.update(code.as_bytes());
        hash.update([0]);
    }
    for (day, row) in days.iter().zip(values) {
        hash.update(day.to_le_bytes());
        for (_, column) in &currencies {
            let rate = row.get(**column).copied().unwrap_or(f64::NAN);
            let bits = if rate.is_nan() {
                f64::NAN.to_bits()
            } else {
                rate.to_bits()
            };
            hash.update(bits.to_le_bytes());
        }
    }
    hash.finalize().into()
}

/// The day (days since 1970-01-01, UTC) of a Unix time in seconds.
pub fn day_of(unix_seconds: i64) -> i64 {
    unix_seconds.div_euclid(86_400)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYY-MM-DD` of a day since 1970-01-01 (H. Hinnant's `civil_from_days`).
pub fn format_day(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// `2026-10-30` or `30 October 2026` (the ECB's daily file) as days since 1970-01-01.
fn parse_date(text: &str) -> Option<i64> {
    let (year, month, day) = if let [y, m, d] = text.split('-').collect::<Vec<_>>()[..] {
        (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)
    } else if let [d, m, y] = text.split_whitespace().collect::<Vec<_>>()[..] {
        let m = m.to_ascii_lowercase();
        let month = MONTHS
            .iter()
            .position(|name| *name == m || (m.len() >= 3 && name.starts_with(&m)))?;
        (y.parse().ok()?, month as u32 + 1, d.parse().ok()?)
    } else {
        return None;
    };
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        _ => return None,
    };
    ((1900..=9999).contains(&year) && (1..=days_in_month).contains(&day))
        .then(|| days_from_civil(year, month, day))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> i64 {
        parse_date(text).unwrap_or_else(|| panic!("{text} is a date"))
    }

    #[test]
    fn dates_round_trip() {
        assert_eq!(day("1970-01-01"), 0);
        assert_eq!(day("2000-03-01"), 11_017);
        assert_eq!(day("30 October 2026"), day("2026-10-30"));
        assert_eq!(day("1 Feb 2024"), day("2024-02-01"));
        for d in [-1000, 0, 59, 60, 11_016, 11_017, 20_000, 30_000] {
            assert_eq!(day(&format_day(d)), d);
        }
        for bad in [
            "2026-02-29",
            "2026-13-01",
            "2026-00-10",
            "30 Octember 2026",
            "x",
            "",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
        assert_eq!(day_of(-1), -1);
        assert_eq!(day_of(86_399), 0);
    }

    #[test]
    fn the_digest_is_of_the_content_not_the_text() {
        let digest = |text: &str| ReferenceRates::parse(text, "t").expect("parses").digest();
        let table = "Date,USD,JPY,\n2026-10-30,1.1600,175.10,\n2026-10-29,1.1650,N/A,\n";
        let same = [
            // CRLF, a byte order mark, rows and columns in another order, other number
            // formats, padded cells, another date format.
            "\u{feff}Date,USD,JPY\r\n2026-10-30,1.16,175.1\r\n2026-10-29,1.165,\r\n",
            "Date, JPY, USD\n29 October 2026, N/A, 1.1650\n30 October 2026, 175.10, 1.1600\n",
            // A currency never quoted.
            "Date,USD,JPY,SEK,\n2026-10-30,1.1600,175.10,N/A,\n2026-10-29,1.1650,N/A,N/A,\n",
        ];
        for text in same {
            assert_eq!(digest(text), digest(table), "{text:?}");
        }
        let other = [
            "Date,USD,JPY,\n2026-10-30,1.1600,175.11,\n2026-10-29,1.1650,N/A,\n",
            "Date,USD,JPY,\n2026-10-30,1.1600,175.10,\n",
            "Date,USD,\n2026-10-30,1.1600,\n2026-10-29,1.1650,\n",
        ];
        for text in other {
            assert_ne!(digest(text), digest(table), "{text:?}");
        }
    }

    #[test]
    fn the_builtin_table_covers_2015_to_late_2026_with_krw_and_huf() {
        let rates = ReferenceRates::builtin();
        assert_eq!(
            rates.date_range(),
            ("2015-01-02".to_owned(), "2026-10-30".to_owned())
        );
        for code in [
            "USD", "JPY", "GBP", "HUF", "PLN", "CZK", "KRW", "CNY", "INR", "TRY",
        ] {
            assert!(rates.currencies().contains(&code), "{code}");
        }
        // 2020-01-06: 1.1194 USD and 1308.83 KRW per euro (ECB).
        let krw = rates
            .usd_per_unit("KRW", day("2020-01-08"))
            .expect("KRW has a rate in 2020");
        assert_eq!(rates.date_used(day("2020-01-08")), "2020-01-06");
        assert!((krw - 1.1194 / 1308.83).abs() < 1e-9, "{krw}");
        assert!(
            (rates.usd_per_unit("EUR", day("2020-01-08")).unwrap_or(0.0) - 1.1194).abs() < 1e-9
        );
        assert_eq!(rates.usd_per_unit("USD", day("1990-01-01")), Some(1.0));
        // Not published by the ECB, or no longer.
        assert_eq!(rates.usd_per_unit("AED", day("2020-01-08")), None);
        assert!(rates.usd_per_unit("RUB", day("2021-06-01")).is_some());
        assert_eq!(rates.usd_per_unit("RUB", day("2024-06-01")), None);
        assert!(rates.usd_per_unit("HRK", day("2022-06-01")).is_some());
        assert_eq!(rates.usd_per_unit("HRK", day("2023-06-01")), None);
        // Before the table, its first row; after it, its last.
        assert_eq!(rates.date_used(day("2001-05-05")), "2015-01-02");
        assert_eq!(rates.date_used(day("2030-01-01")), "2026-10-30");
    }

    #[test]
    fn the_daily_file_and_the_history_format_both_parse() {
        let daily = "Date, USD, JPY, HUF, \n30 October 2026, 1.1172, 175.68, 366.33, \n";
        let rates = ReferenceRates::parse(daily, "daily").expect("the ECB's daily format");
        let huf = rates.usd_per_unit("HUF", day("2026-11-20")).unwrap_or(0.0);
        assert!((huf - 1.1172 / 366.33).abs() < 1e-12);
        let history = "\u{feff}Date,USD,HUF,\n2026-10-30,1.1172,366.33,\n2026-10-29,1.113,N/A,\n";
        let rates = ReferenceRates::parse(history, "hist").expect("the history format");
        assert_eq!(rates.usd_per_unit("HUF", day("2026-10-29")), None);
        assert!(rates.usd_per_unit("HUF", day("2026-10-30")).is_some());
    }

    #[test]
    fn malformed_tables_are_refused_with_their_line() {
        for (text, line, needle) in [
            ("", 1, "empty"),
            ("Day,USD\n2026-01-01,1\n", 1, "Date"),
            ("Date,JPY\n2026-01-01,170\n", 1, "USD"),
            ("Date,USD,USD\n2026-01-01,1,1\n", 1, "twice"),
            ("Date,USD\n", 1, "no rows"),
            ("Date,USD\n2026-01-01,1\n2026-13-01,1\n", 3, "not a date"),
            ("Date,USD\n2026-01-01,-1\n", 2, "positive"),
            ("Date,USD\n2026-01-01,abc\n", 2, "positive"),
            ("Date,USD\n2026-01-01,1\n2026-01-01,1.1\n", 1, "twice"),
        ] {
            match ReferenceRates::parse(text, "test") {
                Err(RatesError::Format {
                    line: got, message, ..
                }) => {
                    assert_eq!(got, line, "{text:?}: {message}");
                    assert!(message.contains(needle), "{text:?}: {message}");
                }
                other => panic!("{text:?}: {other:?}"),
            }
        }
    }
}
