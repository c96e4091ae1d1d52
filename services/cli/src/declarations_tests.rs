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
    let items = read_csv(CSV, &CsvOptions::default())
        .expect("valid header")
        .0;
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
    // The refusal names the values that would do, and the rows keep their ids (found by a
    // newcomer: a row with PLANE showed no declaration and no word of AIR).
    assert!(
        d3.contains("one of HOME_USE, ") && d3.contains("or empty"),
        "{d3}"
    );
    let ids: Vec<&str> = items.iter().map(|i| i.declaration_id.as_str()).collect();
    assert_eq!(ids, ["D-1", "D-2", "D-3"]);
}

/// Excel writes CRLF: each declaration still names its file line (found by a tester: the
/// line before was named).
#[test]
fn crlf_files_name_the_same_lines() {
    let lines = |text: &str| -> Vec<u64> {
        read_csv(text, &CsvOptions::default())
            .expect("valid header")
            .0
            .iter()
            .map(|item| item.line)
            .collect()
    };
    let crlf = CSV.replace('\n', "\r\n");
    assert_eq!(lines(CSV), [2, 3, 5]);
    assert_eq!(lines(&crlf), lines(CSV));
}

#[test]
fn the_header_must_be_known_and_name_the_declaration() {
    let read = |text: &str| read_csv(text, &CsvOptions::default());
    assert!(read("declaration_id,hs_cod\nD,1\n").is_err());
    assert!(read("hs_code\n851830\n").is_err());
    assert!(read("declaration_id,declaration_id\nD,D\n").is_err());
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

/// As a German spreadsheet saves it: semicolons, decimal commas, grouping points, dotted
/// dates without a zone, a byte-order mark, header names with spaces.
const EUROPEAN: &str = "\u{feff}Declaration ID;Declaration Time;Customs Office;Importer ID;Origin Country;HS Code;Quantity;Net Mass kg;Currency;Declared Value;Duty Rate;National Codes;Line National Codes
DE-1;25.11.2026 14:00;DE004750;IMP-1;CN;8518.30;500;24,5;EUR;1.540,00;0,049;kr.import_type=11;kr.tax_type=A
DE-1;;;;;6403.99;200;180;EUR;7.600,5;0,1;;
";

fn berlin() -> CsvOptions {
    CsvOptions {
        timezone: Some(crate::dialect::Zone::parse("Europe/Berlin").expect("a zone")),
        ..Default::default()
    }
}

#[test]
fn a_european_spreadsheet_is_read_with_what_was_detected() {
    let (items, dialect) = read_csv(EUROPEAN, &berlin()).expect("readable");
    assert_eq!(dialect.delimiter, b';');
    assert!(dialect.delimiter_detected && dialect.decimal_detected);
    assert_eq!(dialect.decimal, Some(DecimalStyle::Comma));
    assert_eq!(
        dialect.to_string(),
        "delimiter ';' (detected), decimal comma (detected), times without a zone in Europe/Berlin"
    );
    let declaration = items[0].declaration.as_ref().expect("valid");
    // 14:00 in Berlin in November is 13:00 UTC.
    let time = declaration.declaration_time.expect("a time");
    assert_eq!(time.seconds, 1_795_611_600);
    let line = &declaration.lines[0];
    assert_eq!(line.net_mass_kg, 24.5);
    assert_eq!(line.duty_rate, 0.049);
    assert_eq!(
        line.declared_value.as_ref().map(|m| m.amount.as_str()),
        Some("1540.00")
    );
    assert_eq!(
        declaration.lines[1]
            .declared_value
            .as_ref()
            .map(|m| m.amount.as_str()),
        Some("7600.5")
    );
    assert_eq!(declaration.national_codes[0].scheme, "kr.import_type");
    assert_eq!(line.national_codes[0].code, "A");
}

#[test]
fn a_time_without_a_zone_is_never_taken_as_utc() {
    let error = read_csv(EUROPEAN, &CsvOptions::default()).expect_err("no zone");
    assert!(error.contains("line 2"), "{error}");
    assert!(error.contains("--timezone"), "{error}");
    // With a zone written in the file, no flag is needed.
    let zoned = EUROPEAN.replace("25.11.2026 14:00", "2026-11-25T14:00:00+01:00");
    let (items, dialect) = read_csv(&zoned, &CsvOptions::default()).expect("readable");
    assert_eq!(dialect.timezone, None);
    let time = items[0]
        .declaration
        .as_ref()
        .expect("valid")
        .declaration_time
        .expect("a time");
    assert_eq!(time.seconds, 1_795_611_600);
}

#[test]
fn flags_win_over_detection_and_unclear_files_are_refused() {
    // Only "1.540": a thousands group or a fraction; the file does not say which.
    let unclear = "declaration_id;declared_value;currency\nD;1.540;EUR\n";
    let error = read_csv(unclear, &CsvOptions::default()).expect_err("unclear");
    assert!(error.contains("--decimal"), "{error}");
    let comma = CsvOptions {
        decimal: Some(DecimalStyle::Comma),
        ..Default::default()
    };
    let (items, dialect) = read_csv(unclear, &comma).expect("told");
    assert!(!dialect.decimal_detected);
    let value = items[0].declaration.as_ref().expect("valid").lines[0]
        .declared_value
        .clone()
        .unwrap_or_default();
    assert_eq!(value.amount, "1540");
    // Both styles in one file.
    let mixed = "declaration_id;quantity;net_mass_kg\nD;24,5;2.5\n";
    assert!(read_csv(mixed, &CsvOptions::default()).is_err());
    // A delimiter given that does not split the header.
    let semicolons = CsvOptions {
        delimiter: Some(b','),
        ..Default::default()
    };
    let error = read_csv(EUROPEAN, &semicolons).expect_err("wrong delimiter");
    assert!(error.starts_with("unknown column"), "{error}");
    assert!(error.len() < 600, "the header is not echoed whole: {error}");
    // No delimiter fits: says which were tried.
    let error = read_csv("id;value\n1;2\n", &CsvOptions::default()).expect_err("unknown");
    assert!(error.contains("no delimiter"), "{error}");
}

#[test]
fn tab_separated_files_and_bad_national_codes() {
    let tabs = "declaration_id\tquantity\tnational_codes\nD\t1\tkr.import_type\n";
    let (items, dialect) = read_csv(tabs, &CsvOptions::default()).expect("readable");
    assert_eq!(dialect.delimiter, b'\t');
    let error = items[0].declaration.as_ref().expect_err("not scheme=code");
    assert!(error.contains("scheme=code"), "{error}");
}
