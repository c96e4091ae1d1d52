//! How a CSV file from a real tool is written: its delimiter (`,` `;` tab `|`), its
//! decimal style (`24.5` or `24,5`, with grouping such as `1,540.00` or `1.540,00`) and the
//! time zone of times written without one (`25.11.2026 14:00`). Each is given by a flag or
//! detected from the file, and what was used is reported ([`Dialect`]). A time without a
//! zone is never taken as UTC silently: the file must name a zone or the user must give
//! `--timezone`.

use std::fmt;

use jiff::{Timestamp, civil, tz::TimeZone};

/// The delimiters tried, in order of preference when several fit.
pub const DELIMITERS: [u8; 4] = [b',', b';', b'\t', b'|'];

/// How decimal numbers are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DecimalStyle {
    /// `1,540.25`: a point before the fraction, commas (or spaces) grouping thousands.
    Point,
    /// `1.540,25`: a comma before the fraction, points (or spaces) grouping thousands.
    Comma,
}

impl DecimalStyle {
    fn separators(self) -> (char, char) {
        match self {
            Self::Point => ('.', ','),
            Self::Comma => (',', '.'),
        }
    }

    /// The lowercase name, as the flag takes it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Point => "point",
            Self::Comma => "comma",
        }
    }
}

/// What the user said about the file (`None`: detect).
#[derive(Debug, Clone, Default)]
pub struct CsvOptions {
    /// `--delimiter`.
    pub delimiter: Option<u8>,
    /// `--decimal`.
    pub decimal: Option<DecimalStyle>,
    /// `--timezone`: for times written without a zone.
    pub timezone: Option<Zone>,
}

/// The flags of a CSV input.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct CsvArgs {
    /// CSV delimiter: ',', ';', 'tab' or '|' (default: detected from the header).
    #[arg(long, value_parser = parse_delimiter)]
    pub delimiter: Option<u8>,
    /// Decimal style of numbers in a CSV file: point (1,540.25) or comma (1.540,25)
    /// (default: detected from the numbers; a file that could be read both ways is refused).
    #[arg(long, value_enum)]
    pub decimal: Option<DecimalStyle>,
    /// Time zone of CSV times written without one (25.11.2026 14:00): an IANA name
    /// (Europe/Berlin) or an offset (+01:00). Without it such times are refused, never
    /// taken as UTC.
    #[arg(long, value_parser = Zone::parse)]
    pub timezone: Option<Zone>,
}

impl CsvArgs {
    /// The options these flags give.
    pub fn options(&self) -> CsvOptions {
        CsvOptions {
            delimiter: self.delimiter,
            decimal: self.decimal,
            timezone: self.timezone.clone(),
        }
    }
}

fn parse_delimiter(text: &str) -> Result<u8, String> {
    match text {
        "tab" | "\\t" | "\t" => Ok(b'\t'),
        "," | ";" | "|" => Ok(text.as_bytes()[0]),
        _ => Err(format!(
            "{text:?} is not a delimiter: ',', ';', 'tab' or '|'"
        )),
    }
}

/// A time zone given by the user: an IANA name or a fixed offset.
#[derive(Debug, Clone)]
pub struct Zone {
    /// As given, for messages.
    pub name: String,
    zone: TimeZone,
}

impl Zone {
    /// An IANA name (`Europe/Berlin`, `UTC`) or a fixed offset (`+01:00`, `-05:30`).
    pub fn parse(text: &str) -> Result<Self, String> {
        static PARSER: jiff::fmt::temporal::DateTimeParser =
            jiff::fmt::temporal::DateTimeParser::new();
        let zone = PARSER.parse_time_zone(text).map_err(|_| {
            format!("{text:?} is not a time zone: give an IANA name such as Europe/Berlin, or an offset such as +01:00")
        })?;
        Ok(Self {
            name: text.to_owned(),
            zone,
        })
    }
}

/// What was used to read a file, and whether it was detected or given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialect {
    /// The delimiter.
    pub delimiter: u8,
    /// Whether it was detected.
    pub delimiter_detected: bool,
    /// The decimal style; `None` when the file has no number with a fraction or grouping.
    pub decimal: Option<DecimalStyle>,
    /// Whether it was detected.
    pub decimal_detected: bool,
    /// The zone of times written without one, when given.
    pub timezone: Option<String>,
}

/// The delimiter as a person reads it.
pub fn delimiter_name(delimiter: u8) -> String {
    match delimiter {
        b'\t' => "tab".to_owned(),
        other => format!("'{}'", char::from(other)),
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let how = |detected: bool| if detected { "detected" } else { "given" };
        write!(
            f,
            "delimiter {} ({})",
            delimiter_name(self.delimiter),
            how(self.delimiter_detected)
        )?;
        match self.decimal {
            Some(style) => write!(
                f,
                ", decimal {} ({})",
                style.name(),
                how(self.decimal_detected)
            )?,
            None => write!(f, ", whole numbers only")?,
        }
        match &self.timezone {
            Some(zone) => write!(f, ", times without a zone in {zone}"),
            None => write!(f, ", times with their zone"),
        }
    }
}

/// Grouping characters accepted besides the style's own: spaces (plain, no-break, narrow
/// no-break) and the apostrophe (Swiss `1'540.00`).
const SPACES: [char; 4] = [' ', '\u{a0}', '\u{202f}', '\''];

/// What a number says about the decimal style: evidence for one, ambiguity, or nothing.
#[derive(Debug, PartialEq)]
pub enum Hint {
    /// The number can only be read one way.
    Style(DecimalStyle),
    /// `1.540` or `1,540`: a fraction of three digits, or a thousands group.
    Ambiguous,
    /// Digits only (or not a number at all).
    None,
}

/// What `text` says about the decimal style.
pub fn hint(text: &str) -> Hint {
    let text: String = text
        .trim()
        .trim_start_matches('-')
        .chars()
        .filter(|c| !SPACES.contains(c))
        .collect();
    let (last_point, last_comma) = (text.rfind('.'), text.rfind(','));
    match (last_point, last_comma) {
        (None, None) => Hint::None,
        (Some(p), Some(c)) => Hint::Style(if p > c {
            DecimalStyle::Point
        } else {
            DecimalStyle::Comma
        }),
        (Some(at), None) | (None, Some(at)) => {
            let separator = if last_point.is_some() { '.' } else { ',' };
            let groups: Vec<&str> = text.split(separator).collect();
            // A thousands group never follows a lone 0 ("0,049" is a fraction).
            let grouping = groups.len() >= 2
                && (1..=3).contains(&groups[0].len())
                && !groups[0].starts_with('0')
                && groups[1..].iter().all(|g| g.len() == 3);
            let style = if separator == '.' {
                DecimalStyle::Point
            } else {
                DecimalStyle::Comma
            };
            if groups.len() > 2 {
                // Two separators of one kind are grouping: the other style.
                Hint::Style(other(style))
            } else if grouping && text.len() - at - 1 == 3 {
                Hint::Ambiguous
            } else {
                Hint::Style(style)
            }
        }
    }
}

fn other(style: DecimalStyle) -> DecimalStyle {
    match style {
        DecimalStyle::Point => DecimalStyle::Comma,
        DecimalStyle::Comma => DecimalStyle::Point,
    }
}

/// Decides the decimal style from the numbers of a file, `(line, text)`: the one they show,
/// `None` when none shows one; an error when they contradict each other or can only be
/// read both ways.
pub fn detect_decimal<'a>(
    numbers: impl IntoIterator<Item = (u64, &'a str)>,
) -> Result<Option<DecimalStyle>, String> {
    let mut seen: [Option<(u64, &str)>; 2] = [None, None];
    let mut ambiguous = None;
    for (line, text) in numbers {
        match hint(text) {
            Hint::Style(style) => {
                let slot = &mut seen[style as usize];
                if slot.is_none() {
                    *slot = Some((line, text));
                }
            }
            Hint::Ambiguous if ambiguous.is_none() => ambiguous = Some((line, text)),
            _ => {}
        }
    }
    match (seen[0], seen[1], ambiguous) {
        (Some((pl, pt)), Some((cl, ct)), _) => Err(format!(
            "numbers are written with a decimal point (line {pl}: {pt:?}) and with a decimal comma (line {cl}: {ct:?}): give --decimal point or --decimal comma"
        )),
        (Some(_), None, _) => Ok(Some(DecimalStyle::Point)),
        (None, Some(_), _) => Ok(Some(DecimalStyle::Comma)),
        (None, None, Some((line, text))) => Err(format!(
            "cannot tell whether {text:?} (line {line}) has a decimal point or a thousands separator: give --decimal point or --decimal comma"
        )),
        (None, None, None) => Ok(None),
    }
}

/// A number written in `style` as plain decimal text (`1.540,25` → `1540.25`), grouping
/// checked (groups of three) and removed. Digits only otherwise; an optional leading `-`
/// is kept (the server says what is wrong with a negative amount).
pub fn plain_number(text: &str, style: Option<DecimalStyle>) -> Result<String, String> {
    let bad = || format!("{text:?} is not a number");
    let trimmed = text.trim();
    let (sign, body) = match trimmed.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", trimmed),
    };
    let (decimal, group) = style.unwrap_or(DecimalStyle::Point).separators();
    let (whole, fraction) = match body.rsplit_once(decimal) {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (body, None),
    };
    let groups: Vec<&str> = whole.split(|c| c == group || SPACES.contains(&c)).collect();
    let grouped = groups.len() > 1;
    if groups
        .iter()
        .any(|g| g.is_empty() || !g.bytes().all(|b| b.is_ascii_digit()))
        || (grouped && (groups[0].len() > 3 || groups[1..].iter().any(|g| g.len() != 3)))
    {
        return Err(bad());
    }
    let mut plain = format!("{sign}{}", groups.concat());
    if let Some(fraction) = fraction {
        if fraction.is_empty() || !fraction.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        plain.push('.');
        plain.push_str(fraction);
    }
    Ok(plain)
}

/// Local date-time layouts accepted (strftime), most specific first.
const LOCAL_LAYOUTS: [&str; 6] = [
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
];

/// A declaration time: RFC 3339 or ISO 8601 with a zone (`2026-11-25T14:00:00+01:00`,
/// `2026-11-25 13:00Z`), or a local time (`2026-11-25 14:00`, `25.11.2026 14:00`, a date
/// alone meaning its midnight) in `zone`. `Err(None)` when the time has no zone and none is
/// given; `Err(Some(why))` when it cannot be read or does not exist once in the zone.
pub fn parse_time(text: &str, zone: Option<&Zone>) -> Result<Timestamp, Option<String>> {
    let text = text.trim();
    if let Ok(timestamp) = text.parse::<Timestamp>() {
        return Ok(timestamp);
    }
    if let Ok(zoned) = text.parse::<jiff::ZonedDateTime>() {
        return Ok(zoned.timestamp());
    }
    let local = LOCAL_LAYOUTS
        .iter()
        .find_map(|layout| civil::DateTime::strptime(layout, text).ok())
        .or_else(|| {
            ["%Y-%m-%d", "%d.%m.%Y"]
                .iter()
                .find_map(|layout| civil::Date::strptime(layout, text).ok())
                .map(|date| date.to_datetime(civil::Time::midnight()))
        })
        .ok_or_else(|| {
            Some(format!(
                "{text:?} is not a time: write 2026-11-25T14:00:00+01:00, 2026-11-25 14:00 or 25.11.2026 14:00"
            ))
        })?;
    let zone = zone.ok_or(None)?;
    zone.zone
        .to_ambiguous_timestamp(local)
        .unambiguous()
        .map_err(|_| {
            Some(format!(
                "{text:?} is ambiguous or does not exist in {} (a daylight saving change): write it with its offset",
                zone.name
            ))
        })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn decimal_styles_are_read_from_what_only_one_style_can_mean() {
        use DecimalStyle::{Comma, Point};
        for (text, expected) in [
            ("24,5", Hint::Style(Comma)),
            ("1.540,00", Hint::Style(Comma)),
            ("1.540.000", Hint::Style(Comma)),
            ("0,049", Hint::Style(Comma)),
            ("24.5", Hint::Style(Point)),
            ("1,540.00", Hint::Style(Point)),
            ("1,540,000", Hint::Style(Point)),
            ("1 540,00", Hint::Style(Comma)),
            ("1540.000", Hint::Style(Point)),
            ("1.540", Hint::Ambiguous),
            ("1,540", Hint::Ambiguous),
            ("12", Hint::None),
            ("", Hint::None),
        ] {
            assert_eq!(hint(text), expected, "{text:?}");
        }
        assert_eq!(
            detect_decimal([(2, "24,5"), (3, "1.540,00"), (4, "7")]),
            Ok(Some(Comma))
        );
        assert_eq!(detect_decimal([(2, "1.540"), (3, "24.5")]), Ok(Some(Point)));
        assert_eq!(detect_decimal([(2, "12")]), Ok(None));
        let mixed = detect_decimal([(2, "24,5"), (3, "2.5")]).unwrap_err();
        assert!(
            mixed.contains("line 3") && mixed.contains("line 2"),
            "{mixed}"
        );
        let unclear = detect_decimal([(2, "1.540"), (3, "12")]).unwrap_err();
        assert!(unclear.contains("\"1.540\""), "{unclear}");
    }

    #[test]
    fn numbers_become_plain_decimals() {
        let comma = Some(DecimalStyle::Comma);
        let point = Some(DecimalStyle::Point);
        for (text, style, expected) in [
            ("24,5", comma, "24.5"),
            ("1.540,00", comma, "1540.00"),
            ("1 540,00", comma, "1540.00"),
            ("1\u{a0}540,00", comma, "1540.00"),
            ("-3,5", comma, "-3.5"),
            ("1,540.25", point, "1540.25"),
            ("1'540.25", point, "1540.25"),
            ("42", None, "42"),
            ("0.049", None, "0.049"),
        ] {
            assert_eq!(plain_number(text, style).as_deref(), Ok(expected), "{text}");
        }
        for (text, style) in [
            ("1.54,0", comma),
            ("15.40,0", comma),
            ("1,5,4", point),
            ("24,5", point),
            ("abc", None),
            ("1,", comma),
            ("", None),
        ] {
            assert!(plain_number(text, style).is_err(), "{text}");
        }
    }

    #[test]
    fn times_without_a_zone_need_one() {
        let berlin = Zone::parse("Europe/Berlin").unwrap();
        let expected: Timestamp = "2026-11-25T13:00:00Z".parse().unwrap();
        for text in [
            "25.11.2026 14:00",
            "2026-11-25 14:00",
            "2026-11-25T14:00:00",
            "25.11.2026 14:00:00",
        ] {
            assert_eq!(parse_time(text, Some(&berlin)), Ok(expected), "{text}");
            assert_eq!(parse_time(text, None), Err(None), "{text}");
        }
        // Summer time in Berlin is UTC+2.
        assert_eq!(
            parse_time("25.06.2026 14:00", Some(&berlin)),
            Ok("2026-06-25T12:00:00Z".parse().unwrap())
        );
        // A date alone is its midnight.
        assert_eq!(
            parse_time("25.11.2026", Some(&berlin)),
            Ok("2026-11-24T23:00:00Z".parse().unwrap())
        );
        // A zone in the text wins over the one given.
        for text in ["2026-11-25T14:00:00+01:00", "2026-11-25T13:00:00Z"] {
            assert_eq!(parse_time(text, Some(&berlin)), Ok(expected), "{text}");
            assert_eq!(parse_time(text, None), Ok(expected), "{text}");
        }
        let fixed = Zone::parse("+01:00").unwrap();
        assert_eq!(parse_time("25.11.2026 14:00", Some(&fixed)), Ok(expected));
        // The hour that happens twice when summer time ends.
        let twice = parse_time("25.10.2026 02:30", Some(&berlin)).unwrap_err();
        assert!(twice.is_some_and(|why| why.contains("daylight saving")));
        assert!(parse_time("soon", Some(&berlin)).unwrap_err().is_some());
        assert!(Zone::parse("Mars/Olympus").is_err());
        assert!(Zone::parse("01:00").is_err());
    }
}
