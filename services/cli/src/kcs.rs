//! The development data: the Korea Customs Service's import declarations with inspection
//! outcomes ("Customs Import Declaration Datasets", Jeong, Kim, Park, Choi, arXiv
//! 2208.02484; synthesised from inspected declarations; MIT licence), as kept beside the
//! repository in `shared/data/kcs-2020/declarations-2020.csv`. Each row becomes an
//! `acx.liaison.v1.Declaration` and the `InspectionResult` of its inspection, for loading
//! (`SubmitDeclarations`, `RecordInspectionResult`) and for evaluating ACX's targeting.
//!
//! How a row is read (columns as in the data set's README):
//!
//! | column | becomes |
//! |---|---|
//! | Declaration ID | `declaration_id` |
//! | Date | `declaration_time`: noon Korea time (03:00 UTC) of that date, so that the date is the same in Korea and in UTC (the data has no time of day) |
//! | Office ID | `customs_office` |
//! | Process Type, Import Type, Import Use, Payment Type | national codes `kr.process_type`, `kr.import_type`, `kr.import_use`, `kr.payment_type`; `procedure` stays unset (the codes do not map onto the contract's procedures) |
//! | Mode of Transport | `transport_mode` read as UN/ECE Recommendation 19 codes × 10: 10 sea, 20 rail, 30 road, 40 air, 50 mail (postal), anything else (90) OTHER; the national code is kept as `kr.transport_mode` |
//! | Declarant ID, Importer ID | `declarant_id`, `importer_id` |
//! | Seller ID | `consignor_id` (the foreign supplier; not a marketplace account) |
//! | Courier ID | `carrier_id` (often empty) |
//! | HS6 Code | the line's `hs_code`, left-padded with zeros to 6 digits |
//! | Country of Departure, Country of Origin | `departure_country`, `origin_country` (`ZZ`: unknown) |
//! | Tax Rate | the line's `duty_rate`: percent / 100 |
//! | Tax Type, Country of Origin Indicator | line national codes `kr.tax_type`, `kr.origin_indicator` |
//! | Net Mass | the line's `net_mass_kg` (0 occurs: recorded to 0.1 kg) |
//! | Item Price | the line's `declared_value` in KRW, the text as written (the server rounds its floating-point noise to the millionth) |
//! | Fraud, Critical Fraud | the inspection result (below) |
//!
//! There is one goods line per row (line number 1), no quantity, no description and no
//! valuation basis: none is in the data, so none is made up.
//!
//! **Inspection outcomes.** Fraud 0 is `CLEARED`. Fraud 1 is `UNDERVALUATION_CONFIRMED`:
//! the data set's fraud is "an attempt to reduce duty", which is what ACX calls a confirmed
//! undervaluation (a counterfeit seizure would list the seller on the blacklist, which the
//! data does not support). Critical Fraud 2 ("fraud that may threaten public safety") is
//! also `UNDERVALUATION_CONFIRMED`, with the level kept in the note ("KCS critical fraud
//! 2"), as is level 1. The inspection time is the declaration time: the data has no other.

use std::path::{Path, PathBuf};

use acx_proto::{
    common::{Money, NationalCode},
    liaison::{Declaration, DeclarationLine, InspectionResult, TransportMode},
    scoring::OutcomeKind,
};

/// Where the development data lies, relative to a directory above the repository.
pub const DATA_FILE: &str = "shared/data/kcs-2020/declarations-2020.csv";

/// Seconds from midnight UTC to noon in Korea (UTC+9).
const NOON_KST_UTC_SECONDS: i64 = 3 * 3600;

/// One row of the data: the declaration and what its inspection found.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Line of the row in the file (the header is line 1).
    pub line: u64,
    /// The declaration.
    pub declaration: Declaration,
    /// The inspection result.
    pub result: InspectionResult,
    /// The data set's own label: Fraud = 1.
    pub fraud: bool,
    /// The data set's Critical Fraud: 0 none, 1 fraud, 2 fraud that may threaten public
    /// safety.
    pub critical: u8,
}

/// One row, as the file names its columns.
#[derive(Debug, serde::Deserialize)]
struct Row {
    #[serde(rename = "Declaration ID")]
    declaration_id: String,
    #[serde(rename = "Date")]
    date: String,
    #[serde(rename = "Office ID")]
    office: String,
    #[serde(rename = "Process Type")]
    process_type: String,
    #[serde(rename = "Import Type")]
    import_type: String,
    #[serde(rename = "Import Use")]
    import_use: String,
    #[serde(rename = "Payment Type")]
    payment_type: String,
    #[serde(rename = "Mode of Transport")]
    transport: String,
    #[serde(rename = "Declarant ID")]
    declarant: String,
    #[serde(rename = "Importer ID")]
    importer: String,
    #[serde(rename = "Seller ID")]
    seller: String,
    #[serde(rename = "Courier ID")]
    courier: String,
    #[serde(rename = "HS6 Code")]
    hs6: String,
    #[serde(rename = "Country of Departure")]
    departure: String,
    #[serde(rename = "Country of Origin")]
    origin: String,
    #[serde(rename = "Tax Rate")]
    tax_rate: String,
    #[serde(rename = "Tax Type")]
    tax_type: String,
    #[serde(rename = "Country of Origin Indicator")]
    origin_indicator: String,
    #[serde(rename = "Net Mass")]
    net_mass: String,
    #[serde(rename = "Item Price")]
    item_price: String,
    #[serde(rename = "Fraud", default)]
    fraud: String,
    #[serde(rename = "Critical Fraud", default)]
    critical: String,
}

/// Whether a CSV header row is the data set's (it names `Declaration ID`, `HS6 Code` and
/// `Item Price`, compared as [`fold`] compares them), so that a user who gives such a file as the tool's own CSV is told to say
/// `--format kcs`.
pub fn is_header(header: &str) -> bool {
    let header = fold(header);
    ["Declaration ID", "HS6 Code", "Item Price"]
        .iter()
        .all(|column| header.contains(&fold(column)))
}

/// A column name as compared: lower case, runs of white space as one space
/// (`declaration  id` is `Declaration ID`).
fn fold(name: &str) -> String {
    name.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// The data file, looked for in `start` and each directory above it (the data lies in
/// `shared/` beside the repository's checkout).
pub fn find_data_file(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .map(|dir| dir.join(DATA_FILE))
        .find(|path| path.is_file())
}

/// Reads every row of the file at `path`, in file order, outcomes required. A row that
/// cannot be read is an error naming its line.
pub fn read(path: &Path) -> Result<Vec<Record>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    rows(&text, true)
        .and_then(|rows| rows.into_iter().map(|(_, row)| row).collect())
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// The declarations of a text in the data set's columns, each with its file line, for
/// submitting: the outcome columns may be missing or empty (declarations whose inspection
/// is still to come). A header that lacks a column is one error for the whole file.
pub fn declarations(text: &str) -> Result<Vec<Lined<Declaration>>, String> {
    Ok(rows(text, false)?
        .into_iter()
        .map(|(line, row)| (line, row.map(|record| record.declaration)))
        .collect())
}

/// A row's file line, and what it holds or why it cannot be read.
pub type Lined<T> = (u64, Result<T, String>);

/// The columns of the data set, as its files name them.
const COLUMNS: &[&str] = &[
    "Declaration ID",
    "Date",
    "Office ID",
    "Process Type",
    "Import Type",
    "Import Use",
    "Payment Type",
    "Mode of Transport",
    "Declarant ID",
    "Importer ID",
    "Seller ID",
    "Courier ID",
    "HS6 Code",
    "Country of Departure",
    "Country of Origin",
    "Tax Rate",
    "Tax Type",
    "Country of Origin Indicator",
    "Net Mass",
    "Item Price",
    "Fraud",
    "Critical Fraud",
];

/// The outcome columns, which a file of declarations to submit may leave out.
const OUTCOME_COLUMNS: &[&str] = &["Fraud", "Critical Fraud"];

/// Every row of `text` with its file line; `outcomes`: whether the outcome columns must be
/// there and filled. Column names are matched in any case and spacing (`declaration id`).
fn rows(text: &str, outcomes: bool) -> Result<Vec<Lined<Record>>, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let given = reader
        .headers()
        .map_err(|e| format!("header row: {e}"))?
        .clone();
    let headers: csv::StringRecord = given
        .iter()
        .map(|name| {
            COLUMNS
                .iter()
                .find(|column| fold(column) == fold(name))
                .map_or(name, |column| *column)
        })
        .collect();
    let missing: Vec<&str> = COLUMNS
        .iter()
        .filter(|column| outcomes || !OUTCOME_COLUMNS.contains(column))
        .filter(|column| !headers.iter().any(|h| h == **column))
        .copied()
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "header row: no column {} (the data set's columns, in any case: {})",
            missing.join(", "),
            COLUMNS.join(", ")
        ));
    }
    let mut rows = Vec::new();
    let mut lines = crate::declarations::Lines::new(text);
    for record in reader.records() {
        let record = record.map_err(|e| e.to_string())?;
        let line = lines.of(&record);
        let row = record
            .deserialize::<Row>(Some(&headers))
            .map_err(|e| e.to_string())
            .and_then(|row| to_record(row, line, outcomes))
            .map_err(|e| format!("line {line}: {e}"));
        rows.push((line, row));
    }
    Ok(rows)
}

fn code(scheme: &str, code: &str) -> Option<NationalCode> {
    (!code.is_empty()).then(|| NationalCode {
        scheme: scheme.to_owned(),
        code: code.to_owned(),
    })
}

/// `2020-01-31` as Unix seconds of its midnight UTC.
fn date_seconds(date: &str) -> Result<i64, String> {
    let parsed: jiff::civil::Date = date
        .parse()
        .map_err(|_| format!("Date {date:?} is not a date"))?;
    let midnight = parsed
        .to_datetime(jiff::civil::Time::midnight())
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .map_err(|e| format!("Date {date:?}: {e}"))?;
    Ok(midnight.timestamp().as_second())
}

/// The contract's mode for a national mode code (UN/ECE Recommendation 19 × 10).
fn transport_mode(code: &str) -> TransportMode {
    match code {
        "10" => TransportMode::Sea,
        "20" => TransportMode::Rail,
        "30" => TransportMode::Road,
        "40" => TransportMode::Air,
        "50" => TransportMode::Postal,
        _ => TransportMode::Other,
    }
}

/// `outcomes`: whether the outcome columns must be filled (else empty is no fraud).
fn to_record(row: Row, line: u64, outcomes: bool) -> Result<Record, String> {
    let number = |name: &str, text: &str| -> Result<f64, String> {
        text.parse::<f64>()
            .ok()
            .filter(|n| n.is_finite())
            .ok_or_else(|| format!("{name} {text:?} is not a number"))
    };
    let seconds = date_seconds(&row.date)? + NOON_KST_UTC_SECONDS;
    let time = prost_types::Timestamp { seconds, nanos: 0 };
    let hs_code = if !row.hs6.is_empty() && row.hs6.len() < 6 {
        format!("{:0>6}", row.hs6)
    } else {
        row.hs6.clone()
    };
    let declaration = Declaration {
        declaration_id: row.declaration_id,
        declaration_time: Some(time),
        customs_office: row.office,
        transport_mode: transport_mode(&row.transport) as i32,
        importer_id: row.importer,
        declarant_id: row.declarant,
        consignor_id: row.seller,
        carrier_id: row.courier,
        departure_country: row.departure,
        origin_country: row.origin,
        national_codes: [
            code("kr.process_type", &row.process_type),
            code("kr.import_type", &row.import_type),
            code("kr.import_use", &row.import_use),
            code("kr.payment_type", &row.payment_type),
            code("kr.transport_mode", &row.transport),
        ]
        .into_iter()
        .flatten()
        .collect(),
        lines: vec![DeclarationLine {
            line_number: 1,
            hs_code,
            net_mass_kg: number("Net Mass", &row.net_mass)?,
            declared_value: Some(Money {
                currency_code: "KRW".to_owned(),
                amount: row.item_price,
            }),
            duty_rate: number("Tax Rate", &row.tax_rate)? / 100.0,
            national_codes: [
                code("kr.tax_type", &row.tax_type),
                code("kr.origin_indicator", &row.origin_indicator),
            ]
            .into_iter()
            .flatten()
            .collect(),
            ..Default::default()
        }],
        ..Default::default()
    };
    let fraud = match row.fraud.as_str() {
        "" if !outcomes => false,
        "0" => false,
        "1" => true,
        other => return Err(format!("Fraud {other:?} is not 0 or 1")),
    };
    let critical: u8 = match row.critical.as_str() {
        "" if !outcomes => 0,
        "0" => 0,
        "1" => 1,
        "2" => 2,
        other => return Err(format!("Critical Fraud {other:?} is not 0, 1 or 2")),
    };
    let (kind, note) = match (fraud, critical) {
        (false, 0) => (OutcomeKind::Cleared, "KCS: no fraud found".to_owned()),
        (false, level) => {
            return Err(format!("Critical Fraud {level} without Fraud"));
        }
        (true, level) => (
            OutcomeKind::UndervaluationConfirmed,
            match level {
                2 => "KCS critical fraud 2: an attempt to reduce duty that may threaten public safety",
                _ => "KCS fraud: an attempt to reduce duty",
            }
            .to_owned(),
        ),
    };
    Ok(Record {
        line,
        declaration,
        result: InspectionResult {
            kind: kind as i32,
            note,
            inspect_time: Some(time),
            ..Default::default()
        },
        fraud,
        critical,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The header and the first rows of the development data (MIT licence, © 2022 Institute
    /// for Basic Science & Korea Customs Service), with one row changed to show the rest of
    /// the mapping (a short HS code, mode 90, fraud levels).
    const SAMPLE: &str = "\
Declaration ID,Date,Office ID,Process Type,Import Type,Import Use,Payment Type,Mode of Transport,Declarant ID,Importer ID,Seller ID,Courier ID,HS6 Code,Country of Departure,Country of Origin,Tax Rate,Tax Type,Country of Origin Indicator,Net Mass,Item Price,Fraud,Critical Fraud
97061800,2020-01-01,30,B,11,21,11,10,ZZR1LT6,QLRUBN9,0VKY2BR,,440890,BE,BE,0.0,FEU1,G,108.0,372254.4,0,0
85945189,2020-01-01,40,B,11,21,11,40,SWF9S4X,7JD1S2X,8WDKMC6,,690722,CN,CN,8.0,A,Y,11352.0,375751.2,0,0
77854751,2020-01-01,20,B,11,21,11,90,X4XT6P8,WI9O3I5,,C1,90121,ZZ,ZZ,754.3,FCN1,B,0.0,241.58000000000004,1,2
";

    #[test]
    fn rows_become_declarations_and_results() {
        let records: Vec<Record> = rows(SAMPLE, true)
            .expect("the header reads")
            .into_iter()
            .map(|(_, row)| row)
            .collect::<Result<_, _>>()
            .expect("the sample reads");
        assert_eq!(records.len(), 3);
        let first = &records[0];
        assert_eq!(first.line, 2);
        let d = &first.declaration;
        assert_eq!(d.declaration_id, "97061800");
        // 2020-01-01T03:00:00Z is noon in Seoul.
        assert_eq!(d.declaration_time.map(|t| t.seconds), Some(1_577_847_600));
        assert_eq!(d.transport_mode(), TransportMode::Sea);
        assert_eq!(
            (d.importer_id.as_str(), d.consignor_id.as_str()),
            ("QLRUBN9", "0VKY2BR")
        );
        assert_eq!(d.national_codes.len(), 5);
        let l = &d.lines[0];
        assert_eq!(l.hs_code, "440890");
        assert_eq!(l.net_mass_kg, 108.0);
        assert_eq!(l.quantity, 0.0);
        assert_eq!(
            l.declared_value
                .as_ref()
                .map(|m| (m.currency_code.as_str(), m.amount.as_str())),
            Some(("KRW", "372254.4"))
        );
        assert_eq!(first.result.kind(), OutcomeKind::Cleared);
        assert_eq!(records[1].declaration.transport_mode(), TransportMode::Air);

        let odd = &records[2];
        let d = &odd.declaration;
        assert_eq!(d.transport_mode(), TransportMode::Other);
        assert!(
            d.national_codes
                .iter()
                .any(|c| c.scheme == "kr.transport_mode" && c.code == "90")
        );
        assert_eq!(d.lines[0].hs_code, "090121");
        assert!((d.lines[0].duty_rate - 7.543).abs() < 1e-12);
        assert_eq!(d.carrier_id, "C1");
        assert!(d.consignor_id.is_empty());
        assert_eq!((odd.fraud, odd.critical), (true, 2));
        assert_eq!(odd.result.kind(), OutcomeKind::UndervaluationConfirmed);
        assert!(odd.result.note.contains("critical fraud 2"));
    }

    fn first_error(text: &str, outcomes: bool) -> (u64, String) {
        rows(text, outcomes)
            .expect("the header reads")
            .into_iter()
            .find_map(|(line, row)| row.err().map(|error| (line, error)))
            .expect("an error")
    }

    #[test]
    fn unreadable_rows_name_their_line() {
        let bad = SAMPLE.replace("108.0,372254.4,0,0", "heavy,372254.4,0,0");
        let (line, error) = first_error(&bad, true);
        assert!(error.starts_with("line 2: Net Mass"), "{error}");
        assert_eq!(line, 2);
        let bad = SAMPLE.replace("375751.2,0,0", "375751.2,0,1");
        assert!(first_error(&bad, true).1.contains("line 3"));
        // As Excel writes it: CRLF line ends name the same lines (found by a tester: one
        // line short).
        let crlf = SAMPLE
            .replace("108.0,372254.4,0,0", "heavy,372254.4,0,0")
            .replace('\n', "\r\n");
        assert_eq!(first_error(&crlf, true), (2, error));
    }

    /// Declarations to submit need no outcome, and the header is read in any case and
    /// spacing; a header without a column is one error, not one per row (found by a tester).
    #[test]
    fn declarations_to_submit_need_no_outcome_columns() {
        let without: String = SAMPLE
            .lines()
            .map(|line| line.rsplitn(3, ',').nth(2).unwrap_or(line).to_owned() + "\n")
            .collect::<String>()
            .replacen("Declaration ID", "declaration  id", 1);
        let read = declarations(&without).expect("readable");
        assert_eq!(read.len(), 3);
        assert!(read.iter().all(|(_, d)| d.is_ok()), "{read:?}");
        assert_eq!(read[2].0, 4);
        let error = rows(&without, true).expect_err("outcomes required");
        assert!(error.contains("no column Fraud, Critical Fraud"), "{error}");
        let error = declarations("Declaration ID,Date\n1,2020-01-01\n").expect_err("columns");
        assert!(
            error.starts_with("header row: no column Office ID"),
            "{error}"
        );
    }
}
