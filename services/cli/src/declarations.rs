//! Declarations from a file: JSON Lines (one `acx.liaison.v1.Declaration` per line, in the
//! proto3 JSON mapping) or CSV (one row per declaration line, grouped by declaration id).
//!
//! The CSV form is for exports from spreadsheets and customs systems, which are flat: the
//! header names the columns ([`CSV_COLUMNS`], in any order, any subset but
//! `declaration_id`); the declaration's own fields may be repeated on each of its rows or
//! given on the first only, and a row that contradicts an earlier one is an error. The
//! file's delimiter, decimal style and the zone of its times are given or detected
//! ([`crate::dialect`]), as European spreadsheets write `;`, `1.540,00` and
//! `25.11.2026 14:00`.

use std::{collections::HashMap, path::Path};

use acx_proto::{
    common::{ConsignmentNumbers, Money, NationalCode, SellerAccountRef},
    liaison::{Declaration, DeclarationLine, Procedure, TransportMode, ValuationBasis},
};

use crate::{
    dialect::{self, CsvOptions, DecimalStyle, Dialect},
    error::CliError,
    json,
};

/// A declaration read from the file, with where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// The first line (JSON Lines) or row (CSV, the header being line 1) of the
    /// declaration.
    pub line: u64,
    /// The declaration id as read, also of a declaration that could not be read whole (a
    /// CSV row with a value the tool cannot read); empty when unknown.
    pub declaration_id: String,
    /// The declaration, or why the input is not one.
    pub declaration: Result<Declaration, String>,
}

/// The CSV columns, for the help text and the README.
pub const CSV_COLUMNS: &str = "\
CSV columns (header row required; one row per declaration line, rows grouped by
declaration_id; declaration fields may be given on the first row of a declaration only;
names in any case, spaces for '_' allowed: \"Declaration ID\"):
  declaration_id      required: the authority's reference (e.g. the MRN)
  declaration_time    with a zone: 2026-11-20T08:00:00Z, 2026-11-20T09:00:00+01:00;
                      without one (2026-11-20 09:00, 20.11.2026 09:00, 20.11.2026) only
                      with --timezone
  customs_office      e.g. USLAX
  procedure           HOME_USE, TEMPORARY_ADMISSION, INWARD_PROCESSING, TRANSIT, OTHER
  transport_mode      SEA, AIR, ROAD, RAIL, POSTAL, COURIER, OTHER
  importer_id, declarant_id, consignor_id, carrier_id
  tracking_numbers, bills_of_lading, air_waybills    several separated by ';'
  departure_country, origin_country                  ISO 3166-1 alpha-2, e.g. CN; ZZ unknown
  marketplace, seller_platform, seller_id            the marketplace seller, if known
  national_codes      declaration-level national codes: scheme=code;scheme=code,
                      e.g. kr.import_type=11;kr.payment_type=43
  line_number         1, 2, ...; rows in order when empty
  hs_code             6 to 10 digits (dots, spaces, hyphens allowed), e.g. 8518.30
  description, quantity, quantity_unit (e.g. PCE), net_mass_kg, gross_mass_kg
  currency            ISO 4217, for declared_value and declared_duty, e.g. USD
  declared_value      decimal, e.g. 1000.00 (or 1.000,00 with a decimal comma)
  valuation_basis     FOB or CIF
  duty_rate           a fraction: 0.05 is 5 %
  declared_duty       decimal
  line_national_codes line-level national codes, e.g. kr.tax_type=FCN1
Enum values may also be given in full (PROCEDURE_HOME_USE). The delimiter (',' ';' tab
'|') and the decimal style (24.5 or 24,5) are detected unless --delimiter and --decimal
say; what was used is reported.";

const COLUMNS: &[&str] = &[
    "declaration_id",
    "declaration_time",
    "customs_office",
    "procedure",
    "transport_mode",
    "importer_id",
    "declarant_id",
    "consignor_id",
    "carrier_id",
    "tracking_numbers",
    "bills_of_lading",
    "air_waybills",
    "departure_country",
    "origin_country",
    "marketplace",
    "seller_platform",
    "seller_id",
    "line_number",
    "hs_code",
    "description",
    "quantity",
    "quantity_unit",
    "net_mass_kg",
    "gross_mass_kg",
    "currency",
    "declared_value",
    "valuation_basis",
    "duty_rate",
    "declared_duty",
    "national_codes",
    "line_national_codes",
];

/// The numeric columns, whose values tell the decimal style.
const NUMERIC: [&str; 6] = [
    "quantity",
    "net_mass_kg",
    "gross_mass_kg",
    "declared_value",
    "duty_rate",
    "declared_duty",
];

/// Reads declarations from `path`: CSV read with `csv` when given, else JSON Lines; for
/// CSV also how it was read.
pub fn read(
    path: &Path,
    csv: Option<&CsvOptions>,
) -> Result<(Vec<Item>, Option<Dialect>), CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))?;
    match csv {
        Some(options) => read_csv(&text, options)
            .map(|(items, dialect)| (items, Some(dialect)))
            .map_err(|e| CliError::Usage(format!("{}: {e}", path.display()))),
        None => Ok((read_jsonl(&text), None)),
    }
}

/// One declaration per non-blank line.
pub fn read_jsonl(text: &str) -> Vec<Item> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(index, line)| {
            let declaration = json::parse::<Declaration>(line.trim()).map_err(|e| e.to_string());
            Item {
                line: index as u64 + 1,
                declaration_id: declaration
                    .as_ref()
                    .map_or_else(|_| String::new(), |d| d.declaration_id.clone()),
                declaration,
            }
        })
        .collect()
}

/// A column name as spreadsheets write it, in the form of [`COLUMNS`]: `Declaration ID`
/// is `declaration_id`.
fn column_name(name: &str) -> String {
    name.trim().to_lowercase().replace([' ', '-'], "_")
}

/// The header's columns with `delimiter`: (name, position), or why they are not usable.
fn header_with(text: &str, delimiter: u8) -> Result<HashMap<String, usize>, String> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let header = reader.headers().map_err(|e| format!("header row: {e}"))?;
    let mut index = HashMap::new();
    for (position, name) in header.iter().enumerate() {
        let name = column_name(name);
        if !COLUMNS.contains(&name.as_str()) {
            let shown: String = name.chars().take(60).collect();
            return Err(format!(
                "unknown column {shown:?}; known columns: {}",
                COLUMNS.join(", ")
            ));
        }
        if index.insert(name.clone(), position).is_some() {
            return Err(format!("column {name:?} appears twice"));
        }
    }
    if !index.contains_key("declaration_id") {
        return Err("the header has no declaration_id column".to_owned());
    }
    Ok(index)
}

/// The delimiter: the given one, else the first of [`dialect::DELIMITERS`] with which the
/// header is all known columns.
fn delimiter_of(text: &str, given: Option<u8>) -> Result<(u8, HashMap<String, usize>), String> {
    if let Some(delimiter) = given {
        return header_with(text, delimiter).map(|index| (delimiter, index));
    }
    let mut first_error = None;
    for delimiter in dialect::DELIMITERS {
        match header_with(text, delimiter) {
            Ok(index) => return Ok((delimiter, index)),
            Err(error) => {
                first_error.get_or_insert(error);
            }
        }
    }
    Err(format!(
        "no delimiter (',', ';', tab, '|') splits the header into known columns; with ',': {}",
        first_error.unwrap_or_default()
    ))
}

/// The file lines CSV records of a text start on (the first line is 1), for records read
/// in order. Counted from each record's byte offset: the csv crate's own line count is one
/// short on CRLF files, as Excel writes them (found by testers: errors named the line
/// before theirs). The offset may point at the terminator before the record: skipped. Each
/// call counts only from the previous record on, so a file is read once.
pub(crate) struct Lines<'a> {
    text: &'a [u8],
    /// Bytes counted so far, and the line the next byte is on.
    counted: usize,
    line: u64,
}

impl<'a> Lines<'a> {
    /// Lines of `text`.
    pub(crate) fn new(text: &'a str) -> Self {
        Self {
            text: text.as_bytes(),
            counted: 0,
            line: 1,
        }
    }

    /// The line `record` starts on.
    pub(crate) fn of(&mut self, record: &csv::StringRecord) -> u64 {
        let Some(position) = record.position() else {
            return 0;
        };
        let mut start = usize::try_from(position.byte())
            .unwrap_or(usize::MAX)
            .min(self.text.len());
        while self
            .text
            .get(start)
            .is_some_and(|b| matches!(b, b'\r' | b'\n'))
        {
            start += 1;
        }
        if start >= self.counted {
            let newlines = self.text[self.counted..start]
                .iter()
                .filter(|b| **b == b'\n')
                .count();
            self.line += newlines as u64;
            self.counted = start;
        }
        self.line
    }
}

/// Rows grouped into declarations, in order of first appearance, and how the file was
/// read. Errors of the file as a whole (the header, a decimal style or time zone that
/// cannot be told) fail it; errors in a row fail only its declaration.
pub fn read_csv(text: &str, options: &CsvOptions) -> Result<(Vec<Item>, Dialect), String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let (delimiter, index) = delimiter_of(text, options.delimiter)?;
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(text.as_bytes());
    let mut records = Vec::new();
    let mut lines = Lines::new(text);
    for record in reader.records() {
        let record = record.map_err(|e| e.to_string())?;
        let line = lines.of(&record);
        records.push((line, record));
    }
    let cell = |record: &csv::StringRecord, name: &str| -> String {
        index
            .get(name)
            .and_then(|&i| record.get(i))
            .unwrap_or_default()
            .to_owned()
    };
    let decimal = match options.decimal {
        Some(style) => Some(style),
        None => {
            let index = &index;
            dialect::detect_decimal(records.iter().flat_map(|(line, record)| {
                NUMERIC.iter().filter_map(move |name| {
                    index
                        .get(*name)
                        .and_then(|&i| record.get(i))
                        .map(|text| (*line, text))
                })
            }))?
        }
    };
    for (line, record) in &records {
        let time = cell(record, "declaration_time");
        if !time.is_empty()
            && let Err(None) = dialect::parse_time(&time, options.timezone.as_ref())
        {
            return Err(format!(
                "line {line}: declaration_time {time:?} has no time zone, and times are never taken as UTC unasked: give --timezone (e.g. Europe/Berlin or +01:00), or write the zone (2026-11-25T14:00:00+01:00)"
            ));
        }
    }
    let dialect = Dialect {
        delimiter,
        delimiter_detected: options.delimiter.is_none(),
        decimal,
        decimal_detected: options.decimal.is_none(),
        timezone: options.timezone.as_ref().map(|z| z.name.clone()),
    };

    let mut items: Vec<Item> = Vec::new();
    let mut by_id: HashMap<String, usize> = HashMap::new();
    for (line, record) in &records {
        let line = *line;
        if record.iter().all(str::is_empty) {
            continue;
        }
        let id = cell(record, "declaration_id");
        let position = *by_id.entry(id.clone()).or_insert_with(|| {
            items.push(Item {
                line,
                declaration_id: id.clone(),
                declaration: Ok(Declaration {
                    declaration_id: id.clone(),
                    ..Default::default()
                }),
            });
            items.len() - 1
        });
        let item = &mut items[position];
        let row = Row {
            field: &|name: &str| cell(record, name),
            decimal,
            timezone: options.timezone.as_ref(),
        };
        if let Ok(declaration) = &mut item.declaration
            && let Err(error) = add_row(declaration, &row)
        {
            item.declaration = Err(format!("row at line {line}: {error}"));
        }
    }
    Ok((items, dialect))
}

/// One CSV row: its cells by column name, and how to read numbers and times.
struct Row<'a> {
    field: &'a dyn Fn(&str) -> String,
    decimal: Option<DecimalStyle>,
    timezone: Option<&'a dialect::Zone>,
}

impl Row<'_> {
    fn field(&self, name: &str) -> String {
        (self.field)(name)
    }

    /// A number column as an `f64`; 0 when empty.
    fn number(&self, name: &str) -> Result<f64, String> {
        let text = self.field(name);
        if text.is_empty() {
            return Ok(0.0);
        }
        dialect::plain_number(&text, self.decimal)
            .ok()
            .and_then(|plain| plain.parse::<f64>().ok())
            .filter(|n| n.is_finite())
            .ok_or_else(|| format!("{name} {text:?} is not a number"))
    }

    /// An amount column as plain decimal text (as the contract takes it); text that is no
    /// number goes as it is, for the server to say what is wrong with it.
    fn amount(&self, name: &str) -> String {
        let text = self.field(name);
        dialect::plain_number(&text, self.decimal).unwrap_or(text)
    }
}

/// `scheme=code;scheme=code` as national codes.
fn national_codes(name: &str, text: &str) -> Result<Vec<NationalCode>, String> {
    list(text)
        .into_iter()
        .map(|pair| match pair.split_once('=') {
            Some((scheme, code)) => Ok(NationalCode {
                scheme: scheme.trim().to_owned(),
                code: code.trim().to_owned(),
            }),
            None => Err(format!(
                "{name} {pair:?} is not scheme=code, e.g. kr.import_type=11"
            )),
        })
        .collect()
}

/// Adds one row: its declaration fields (checked against earlier rows) and its line.
fn add_row(declaration: &mut Declaration, row: &Row<'_>) -> Result<(), String> {
    let field = |name: &str| row.field(name);
    let first = declaration.lines.is_empty();
    let mut header = Declaration {
        declaration_id: declaration.declaration_id.clone(),
        customs_office: field("customs_office"),
        importer_id: field("importer_id"),
        declarant_id: field("declarant_id"),
        consignor_id: field("consignor_id"),
        carrier_id: field("carrier_id"),
        departure_country: field("departure_country"),
        origin_country: field("origin_country"),
        marketplace: field("marketplace"),
        national_codes: national_codes("national_codes", &field("national_codes"))?,
        ..Default::default()
    };
    let time = field("declaration_time");
    if !time.is_empty() {
        let timestamp = dialect::parse_time(&time, row.timezone).map_err(|why| {
            why.unwrap_or_else(|| format!("declaration_time {time:?} has no time zone"))
        })?;
        header.declaration_time = Some(prost_types::Timestamp {
            seconds: timestamp.as_second(),
            nanos: timestamp.subsec_nanosecond(),
        });
    }
    header.procedure = enum_value(
        "procedure",
        &field("procedure"),
        "PROCEDURE_",
        |name| Procedure::from_str_name(name).map(|v| v as i32),
        |v| Procedure::try_from(v).ok().map(|p| p.as_str_name()),
    )?;
    header.transport_mode = enum_value(
        "transport_mode",
        &field("transport_mode"),
        "TRANSPORT_MODE_",
        |name| TransportMode::from_str_name(name).map(|v| v as i32),
        |v| TransportMode::try_from(v).ok().map(|m| m.as_str_name()),
    )?;
    let consignment = ConsignmentNumbers {
        tracking_numbers: list(&field("tracking_numbers")),
        bills_of_lading: list(&field("bills_of_lading")),
        air_waybills: list(&field("air_waybills")),
    };
    if consignment != ConsignmentNumbers::default() {
        header.consignment = Some(consignment);
    }
    let (platform, seller) = (field("seller_platform"), field("seller_id"));
    if !platform.is_empty() || !seller.is_empty() {
        header.seller = Some(SellerAccountRef {
            platform,
            seller_id: seller,
        });
    }
    if first {
        *declaration = Declaration {
            lines: Vec::new(),
            ..header
        };
    } else {
        check_same(declaration, &header)?;
    }

    let currency = field("currency");
    let money = |name: &str| {
        let amount = row.amount(name);
        (!amount.is_empty() || !currency.is_empty()).then(|| Money {
            currency_code: currency.clone(),
            amount,
        })
    };
    let line_number = match field("line_number").as_str() {
        "" => i32::try_from(declaration.lines.len() + 1).unwrap_or(i32::MAX),
        text => text
            .parse()
            .map_err(|_| format!("line_number {text:?} is not a whole number"))?,
    };
    declaration.lines.push(DeclarationLine {
        line_number,
        hs_code: field("hs_code"),
        description: field("description"),
        quantity: row.number("quantity")?,
        quantity_unit: field("quantity_unit"),
        net_mass_kg: row.number("net_mass_kg")?,
        gross_mass_kg: row.number("gross_mass_kg")?,
        declared_value: money("declared_value"),
        valuation_basis: enum_value(
            "valuation_basis",
            &field("valuation_basis"),
            "VALUATION_BASIS_",
            |name| ValuationBasis::from_str_name(name).map(|v| v as i32),
            |v| ValuationBasis::try_from(v).ok().map(|b| b.as_str_name()),
        )?,
        duty_rate: row.number("duty_rate")?,
        declared_duty: if field("declared_duty").is_empty() {
            None
        } else {
            money("declared_duty")
        },
        national_codes: national_codes("line_national_codes", &field("line_national_codes"))?,
    });
    Ok(())
}

/// A later row may leave a declaration field empty, but may not contradict the first.
fn check_same(first: &Declaration, row: &Declaration) -> Result<(), String> {
    let text = |name: &'static str, first: &str, row: &str| {
        (!row.is_empty() && row != first).then_some(name)
    };
    let other = |name: &'static str, given: bool, same: bool| (given && !same).then_some(name);
    let differs = [
        text("customs_office", &first.customs_office, &row.customs_office),
        text("importer_id", &first.importer_id, &row.importer_id),
        text("declarant_id", &first.declarant_id, &row.declarant_id),
        text("consignor_id", &first.consignor_id, &row.consignor_id),
        text("carrier_id", &first.carrier_id, &row.carrier_id),
        text(
            "departure_country",
            &first.departure_country,
            &row.departure_country,
        ),
        text("origin_country", &first.origin_country, &row.origin_country),
        text("marketplace", &first.marketplace, &row.marketplace),
        other(
            "declaration_time",
            row.declaration_time.is_some(),
            row.declaration_time == first.declaration_time,
        ),
        other(
            "procedure",
            row.procedure != 0,
            row.procedure == first.procedure,
        ),
        other(
            "transport_mode",
            row.transport_mode != 0,
            row.transport_mode == first.transport_mode,
        ),
        other(
            "the consignment numbers",
            row.consignment.is_some(),
            row.consignment == first.consignment,
        ),
        other(
            "the seller",
            row.seller.is_some(),
            row.seller == first.seller,
        ),
        other(
            "national_codes",
            !row.national_codes.is_empty(),
            row.national_codes == first.national_codes,
        ),
    ];
    match differs.into_iter().flatten().next() {
        Some(name) => Err(format!(
            "{name} differs from the declaration's first row (leave it empty or repeat it)"
        )),
        None => Ok(()),
    }
}

/// `a; b;c` as a list.
fn list(text: &str) -> Vec<String> {
    text.split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// An enum value by its short (`FOB`) or full (`VALUATION_BASIS_FOB`) name; 0 when empty.
fn enum_value(
    name: &str,
    text: &str,
    prefix: &str,
    lookup: impl Fn(&str) -> Option<i32>,
    name_of: impl Fn(i32) -> Option<&'static str>,
) -> Result<i32, String> {
    if text.is_empty() {
        return Ok(0);
    }
    let upper = text.to_ascii_uppercase().replace(['-', ' '], "_");
    let full = if upper.starts_with(prefix) {
        upper
    } else {
        format!("{prefix}{upper}")
    };
    lookup(&full).filter(|&v| v != 0).ok_or_else(|| {
        // The values it takes, so the row can be mended without the docs (found by a
        // newcomer: `PLANE` was refused with no word of AIR).
        let known: Vec<&str> = (1..64)
            .filter_map(&name_of)
            .map(|full| full.trim_start_matches(prefix))
            .collect();
        format!(
            "{name} {text:?} is not a known value: one of {}, or empty",
            known.join(", ")
        )
    })
}

#[cfg(test)]
#[path = "declarations_tests.rs"]
mod tests;
