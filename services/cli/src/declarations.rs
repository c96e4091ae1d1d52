//! Declarations from a file: JSON Lines (one `acx.liaison.v1.Declaration` per line, in the
//! proto3 JSON mapping) or CSV (one row per declaration line, grouped by declaration id).
//!
//! The CSV form is for exports from spreadsheets and customs systems, which are flat: the
//! header names the columns ([`CSV_COLUMNS`], in any order, any subset but
//! `declaration_id`); the declaration's own fields may be repeated on each of its rows or
//! given on the first only, and a row that contradicts an earlier one is an error.

use std::{collections::HashMap, path::Path};

use acx_proto::{
    common::{ConsignmentNumbers, Money, SellerAccountRef},
    liaison::{Declaration, DeclarationLine, Procedure, TransportMode, ValuationBasis},
};

use crate::{error::CliError, json};

/// A declaration read from the file, with where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// The first line (JSON Lines) or row (CSV, the header being line 1) of the
    /// declaration.
    pub line: u64,
    /// The declaration, or why the input is not one.
    pub declaration: Result<Declaration, String>,
}

/// The CSV columns, for the help text and the README.
pub const CSV_COLUMNS: &str = "\
CSV columns (header row required; one row per declaration line, rows grouped by
declaration_id; declaration fields may be given on the first row of a declaration only):
  declaration_id      required: the authority's reference (e.g. the MRN)
  declaration_time    RFC 3339, e.g. 2026-11-20T08:00:00Z
  customs_office      e.g. USLAX
  procedure           HOME_USE, TEMPORARY_ADMISSION, INWARD_PROCESSING, TRANSIT, OTHER
  transport_mode      SEA, AIR, ROAD, RAIL, POSTAL, COURIER
  importer_id, declarant_id, consignor_id, carrier_id
  tracking_numbers, bills_of_lading, air_waybills    several separated by ';'
  departure_country, origin_country                  ISO 3166-1 alpha-2, e.g. CN
  marketplace, seller_platform, seller_id            the marketplace seller, if known
  line_number         1, 2, ...; rows in order when empty
  hs_code             6 to 10 digits (dots allowed), e.g. 8518.30
  description, quantity, quantity_unit (e.g. PCE), net_mass_kg, gross_mass_kg
  currency            ISO 4217, for declared_value and declared_duty, e.g. USD
  declared_value      decimal, e.g. 1000.00
  valuation_basis     FOB or CIF
  duty_rate           a fraction: 0.05 is 5 %
  declared_duty       decimal
Enum values may also be given in full (PROCEDURE_HOME_USE).";

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
];

/// Reads declarations from `path`: CSV when it ends in `.csv` (or `csv` is set), else
/// JSON Lines.
pub fn read(path: &Path, csv: bool) -> Result<Vec<Item>, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))?;
    if csv {
        read_csv(&text).map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))
    } else {
        Ok(read_jsonl(&text))
    }
}

/// One declaration per non-blank line.
pub fn read_jsonl(text: &str) -> Vec<Item> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(index, line)| Item {
            line: index as u64 + 1,
            declaration: json::parse::<Declaration>(line.trim()).map_err(|e| e.to_string()),
        })
        .collect()
}

/// Rows grouped into declarations, in order of first appearance. Errors in the header
/// (an unknown column, no `declaration_id`) fail the whole file; errors in a row fail
/// only its declaration.
pub fn read_csv(text: &str) -> Result<Vec<Item>, String> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(text.as_bytes());
    let header = reader
        .headers()
        .map_err(|e| format!("header row: {e}"))?
        .clone();
    let mut index = HashMap::new();
    for (position, name) in header.iter().enumerate() {
        let name = name.to_ascii_lowercase();
        if !COLUMNS.contains(&name.as_str()) {
            return Err(format!(
                "unknown column {name:?}; known columns: {}",
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

    let mut items: Vec<Item> = Vec::new();
    let mut by_id: HashMap<String, usize> = HashMap::new();
    for record in reader.records() {
        let record = record.map_err(|e| e.to_string())?;
        let line = record.position().map_or(0, |p| p.line());
        let field = |name: &str| -> &str {
            index
                .get(name)
                .and_then(|&i| record.get(i))
                .unwrap_or_default()
        };
        let id = field("declaration_id");
        if record.iter().all(str::is_empty) {
            continue;
        }
        let position = *by_id.entry(id.to_owned()).or_insert_with(|| {
            items.push(Item {
                line,
                declaration: Ok(Declaration {
                    declaration_id: id.to_owned(),
                    ..Default::default()
                }),
            });
            items.len() - 1
        });
        let item = &mut items[position];
        if let Ok(declaration) = &mut item.declaration
            && let Err(error) = add_row(declaration, &field)
        {
            item.declaration = Err(format!("row at line {line}: {error}"));
        }
    }
    Ok(items)
}

/// Adds one row: its declaration fields (checked against earlier rows) and its line.
fn add_row<'a>(
    declaration: &mut Declaration,
    field: &impl Fn(&str) -> &'a str,
) -> Result<(), String> {
    let first = declaration.lines.is_empty();
    let mut header = Declaration {
        declaration_id: declaration.declaration_id.clone(),
        customs_office: field("customs_office").to_owned(),
        importer_id: field("importer_id").to_owned(),
        declarant_id: field("declarant_id").to_owned(),
        consignor_id: field("consignor_id").to_owned(),
        carrier_id: field("carrier_id").to_owned(),
        departure_country: field("departure_country").to_owned(),
        origin_country: field("origin_country").to_owned(),
        marketplace: field("marketplace").to_owned(),
        ..Default::default()
    };
    let time = field("declaration_time");
    if !time.is_empty() {
        header.declaration_time = Some(
            time.parse::<prost_types::Timestamp>()
                .map_err(|_| format!("declaration_time {time:?} is not an RFC 3339 time"))?,
        );
    }
    header.procedure = enum_value("procedure", field("procedure"), "PROCEDURE_", |name| {
        Procedure::from_str_name(name).map(|v| v as i32)
    })?;
    header.transport_mode = enum_value(
        "transport_mode",
        field("transport_mode"),
        "TRANSPORT_MODE_",
        |name| TransportMode::from_str_name(name).map(|v| v as i32),
    )?;
    let consignment = ConsignmentNumbers {
        tracking_numbers: list(field("tracking_numbers")),
        bills_of_lading: list(field("bills_of_lading")),
        air_waybills: list(field("air_waybills")),
    };
    if consignment != ConsignmentNumbers::default() {
        header.consignment = Some(consignment);
    }
    let (platform, seller) = (field("seller_platform"), field("seller_id"));
    if !platform.is_empty() || !seller.is_empty() {
        header.seller = Some(SellerAccountRef {
            platform: platform.to_owned(),
            seller_id: seller.to_owned(),
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
        let amount = field(name);
        (!amount.is_empty() || !currency.is_empty()).then(|| Money {
            currency_code: currency.to_owned(),
            amount: amount.to_owned(),
        })
    };
    let line_number = match field("line_number") {
        "" => i32::try_from(declaration.lines.len() + 1).unwrap_or(i32::MAX),
        text => text
            .parse()
            .map_err(|_| format!("line_number {text:?} is not a whole number"))?,
    };
    declaration.lines.push(DeclarationLine {
        line_number,
        hs_code: field("hs_code").to_owned(),
        description: field("description").to_owned(),
        quantity: number("quantity", field("quantity"))?,
        quantity_unit: field("quantity_unit").to_owned(),
        net_mass_kg: number("net_mass_kg", field("net_mass_kg"))?,
        gross_mass_kg: number("gross_mass_kg", field("gross_mass_kg"))?,
        declared_value: money("declared_value"),
        valuation_basis: enum_value(
            "valuation_basis",
            field("valuation_basis"),
            "VALUATION_BASIS_",
            |name| ValuationBasis::from_str_name(name).map(|v| v as i32),
        )?,
        duty_rate: number("duty_rate", field("duty_rate"))?,
        declared_duty: if field("declared_duty").is_empty() {
            None
        } else {
            money("declared_duty")
        },
        national_codes: Vec::new(),
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

fn number(name: &str, text: &str) -> Result<f64, String> {
    if text.is_empty() {
        return Ok(0.0);
    }
    text.parse::<f64>()
        .ok()
        .filter(|n| n.is_finite())
        .ok_or_else(|| format!("{name} {text:?} is not a number"))
}

/// An enum value by its short (`FOB`) or full (`VALUATION_BASIS_FOB`) name; 0 when empty.
fn enum_value(
    name: &str,
    text: &str,
    prefix: &str,
    lookup: impl Fn(&str) -> Option<i32>,
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
    lookup(&full)
        .filter(|&v| v != 0)
        .ok_or_else(|| format!("{name} {text:?} is not a known value"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CSV: &str = "\
declaration_id,declaration_time,customs_office,procedure,transport_mode,importer_id,tracking_numbers,origin_country,hs_code,description,quantity,quantity_unit,net_mass_kg,currency,declared_value,valuation_basis,duty_rate
D-1,2026-11-20T08:00:00Z,USLAX,HOME_USE,COURIER,IMP-1,1Z1;1Z2,CN,8518.30,\"earbuds, wireless\",500,PCE,40,USD,1000.00,FOB,0.05
D-2,2026-11-20T09:00:00Z,USLAX,home_use,AIR,IMP-2,,CN,9405.42,lamps,120,PCE,300,USD,5400.00,CIF,0.04
D-1,,,,,,,,6403.99,shoes,200,PR,180,USD,7600.00,FOB,0.1
D-3,,USLAX,TELEPORT,,,,,,,,,,,,,
D-2,,USJFK,,,,,,9503.00,toys,10,PCE,5,USD,50,FOB,0
";

    #[test]
    fn rows_are_grouped_into_declarations_with_their_lines() {
        let items = read_csv(CSV).expect("valid header");
        assert_eq!(items.len(), 3);
        let d1 = items[0].declaration.as_ref().expect("D-1 is valid");
        assert_eq!(items[0].line, 2);
        assert_eq!(d1.declaration_id, "D-1");
        assert_eq!(d1.procedure(), Procedure::HomeUse);
        assert_eq!(d1.transport_mode(), TransportMode::Courier);
        assert_eq!(
            d1.consignment.as_ref().map(|c| c.tracking_numbers.clone()),
            Some(vec!["1Z1".to_owned(), "1Z2".to_owned()])
        );
        assert_eq!(d1.lines.len(), 2);
        assert_eq!(d1.lines[0].description, "earbuds, wireless");
        assert_eq!(d1.lines[1].line_number, 2);
        assert_eq!(d1.lines[1].hs_code, "6403.99");
        assert_eq!(
            d1.lines[1]
                .declared_value
                .as_ref()
                .map(|m| m.amount.as_str()),
            Some("7600.00")
        );
        assert_eq!(d1.lines[1].valuation_basis(), ValuationBasis::Fob);
        assert!(d1.declaration_time.is_some());
        // A contradicting office fails D-2; an unknown procedure fails D-3.
        let d2 = items[1]
            .declaration
            .as_ref()
            .expect_err("D-2 contradicts itself");
        assert!(d2.contains("customs_office"), "{d2}");
        let d3 = items[2].declaration.as_ref().expect_err("D-3 is invalid");
        assert!(d3.contains("TELEPORT"), "{d3}");
    }

    #[test]
    fn the_header_must_be_known_and_name_the_declaration() {
        assert!(read_csv("declaration_id,hs_cod\nD,1\n").is_err());
        assert!(read_csv("hs_code\n851830\n").is_err());
        assert!(read_csv("declaration_id,declaration_id\nD,D\n").is_err());
    }

    #[test]
    fn json_lines_keep_their_line_numbers() {
        let items = read_jsonl("{\"declarationId\": \"A\"}\n\n{nope\n");
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].line, 1);
        assert!(items[0].declaration.is_ok());
        assert_eq!(items[1].line, 3);
        assert!(items[1].declaration.is_err());
    }
}
