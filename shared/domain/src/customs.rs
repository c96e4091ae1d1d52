//! What a customs declaration may hold: the rules liaison applies to the declarations customs
//! send (`acx.liaison.v1.Declaration`) and scoring to the declarations it assesses
//! (`acx.scoring.v1.DeclaredShipment`), in one place, so that both accept, refuse and
//! canonicalise exactly the same things.
//!
//! The rule is to accept what real declarations carry and refuse only what is malformed:
//! a missing quantity, a net mass of 0 (masses are recorded to 0.1 kg), a duty rate of
//! several hundred percent, an unknown country (`ZZ`), no transport mode or procedure, a
//! national tariff chapter (98, 99), amounts with floating-point noise, and any active
//! ISO 4217 currency are all accepted; the assessment then says which comparisons it could
//! not make. Refused: what cannot be read (a negative or non-finite number, a code of the
//! wrong shape, an unknown enum value), a line number below 1 or used twice, and what
//! contradicts itself (a gross mass below the net mass).
//!
//! Each service borrows its message's fields into a [`DeclarationFields`] and calls
//! [`check`]; problems come back as (path within the declaration, reason).

use acx_proto::common::{
    ConsignmentNumbers, Money, NationalCode, Procedure, SellerAccountRef, TransportMode,
    ValuationBasis,
};

use unicode_normalization::UnicodeNormalization;

use crate::{accounts, codes, country_dates, money};

/// Most goods items in a declaration (the WCO goods item number has three digits).
pub const MAX_LINES: usize = 999;
/// Highest duty rate accepted, as a fraction: 100 is 10 000 %. Real ad valorem rates reach
/// several hundred percent (754 % in the development data); this bound only keeps out
/// numbers that cannot be rates.
pub const MAX_DUTY_RATE: f64 = 100.0;
/// Most national codes on one declaration or line.
pub const MAX_NATIONAL_CODES: usize = 32;
/// Longest party id, office code or marketplace id, in characters.
pub const MAX_ID_CHARS: usize = 128;
/// Largest declaration, encoded (protobuf bytes, with its assessment's inputs): 1 MiB. A
/// declaration of 999 lines with full descriptions is about 0.6 MiB; the bound keeps a
/// declaration, its assessment and an answer about it inside one 4 MiB message between the
/// services and to callers (found by a tester: a declaration just under the request limit
/// was accepted, grew past scoring's limit when forwarded and was never assessed).
pub const MAX_DECLARATION_BYTES: usize = 1 << 20;

/// Why a declaration of `encoded_bytes` (its protobuf encoding) is too large, or None: the
/// one wording liaison, scoring and acxctl give.
pub fn oversize_problem(encoded_bytes: usize) -> Option<String> {
    (encoded_bytes > MAX_DECLARATION_BYTES).then(|| {
        format!("is {encoded_bytes} bytes encoded; at most {MAX_DECLARATION_BYTES} (1 MiB) per declaration")
    })
}

/// `batch` cut, in order, into calls of at most `max_items` items and `max_bytes` bytes, where
/// `size` is an item's bytes in the request (its encoding with its tag and length). An item
/// larger than `max_bytes` on its own goes alone in its call; none is dropped. The one rule
/// acxctl (declarations to liaison) and liaison (declarations to scoring) split batches by.
pub fn calls<T>(
    batch: &[T],
    max_items: usize,
    max_bytes: usize,
    size: impl Fn(&T) -> usize,
) -> Vec<&[T]> {
    let mut calls = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, item) in batch.iter().enumerate() {
        let item_bytes = size(item);
        if i > start && (i - start >= max_items || bytes + item_bytes > max_bytes) {
            calls.push(&batch[start..i]);
            (start, bytes) = (i, 0);
        }
        bytes += item_bytes;
    }
    if start < batch.len() {
        calls.push(&batch[start..]);
    }
    calls
}

/// Longest trade description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 500;
/// How far in the future a declaration time may be (clock skew), in seconds.
pub const MAX_SKEW_SECONDS: i64 = 300;
/// 2000-01-01T00:00:00Z: no declaration time before it is believable.
const EARLIEST_SECONDS: i64 = 946_684_800;

/// Checks the time of a customs event (a declaration, an inspection): from 2000-01-01 to
/// [`MAX_SKEW_SECONDS`] past `now_seconds`, nanos 0 to 999,999,999. Errors: (`""` or
/// `".nanos"`, why), to append to the field's path.
pub fn event_time_problem(
    seconds: i64,
    nanos: i32,
    now_seconds: i64,
) -> Result<(), (&'static str, &'static str)> {
    if seconds > now_seconds.saturating_add(MAX_SKEW_SECONDS) {
        Err(("", "must not be in the future"))
    } else if seconds < EARLIEST_SECONDS {
        Err(("", "must not be before 2000-01-01"))
    } else if !(0..1_000_000_000).contains(&nanos) {
        Err((".nanos", "must be 0 to 999999999"))
    } else {
        Ok(())
    }
}

/// [`DeclarationFields`] borrowed from a declaration message (`&mut`): liaison's
/// `Declaration` and scoring's `DeclaredShipment` carry these fields under the same names
/// (scoring's is what liaison forwards), so one expansion serves both. `time_required`:
/// whether a declaration without a time is invalid (liaison) or taken as recorded now
/// (scoring).
#[macro_export]
macro_rules! declaration_fields {
    ($declaration:expr, time_required: $required:expr) => {{
        let declaration = $declaration;
        $crate::customs::DeclarationFields {
            declaration_id: &mut declaration.declaration_id,
            declaration_seconds: declaration.declaration_time.as_ref().map(|t| t.seconds),
            declaration_nanos: declaration.declaration_time.as_ref().map_or(0, |t| t.nanos),
            time_required: $required,
            customs_office: &mut declaration.customs_office,
            procedure: declaration.procedure,
            transport_mode: declaration.transport_mode,
            importer_id: &mut declaration.importer_id,
            declarant_id: &mut declaration.declarant_id,
            consignor_id: &mut declaration.consignor_id,
            carrier_id: &mut declaration.carrier_id,
            marketplace: &mut declaration.marketplace,
            consignment: declaration.consignment.as_mut(),
            departure_country: &mut declaration.departure_country,
            origin_country: &mut declaration.origin_country,
            seller: declaration.seller.as_mut(),
            national_codes: &mut declaration.national_codes,
            lines: declaration
                .lines
                .iter_mut()
                .map(|line| $crate::customs::GoodsItem {
                    line_number: line.line_number,
                    hs_code: &mut line.hs_code,
                    description: &mut line.description,
                    quantity: &mut line.quantity,
                    quantity_unit: &mut line.quantity_unit,
                    net_mass_kg: &mut line.net_mass_kg,
                    gross_mass_kg: &mut line.gross_mass_kg,
                    declared_value: line.declared_value.as_mut(),
                    valuation_basis: line.valuation_basis,
                    duty_rate: &mut line.duty_rate,
                    declared_duty: line.declared_duty.as_mut(),
                    national_codes: &mut line.national_codes,
                })
                .collect(),
        }
    }};
}

/// The fields of a declaration, borrowed from either service's message. Ids are trimmed
/// (fixed-width exports pad them), platform ids put in their registered form, and codes,
/// countries, amounts and national codes in canonical form, in place.
#[derive(Debug)]
pub struct DeclarationFields<'a> {
    /// The authority's declaration id; required.
    pub declaration_id: &'a mut String,
    /// Unix seconds of the declaration time, if given.
    pub declaration_seconds: Option<i64>,
    /// Its nanoseconds (0 to 999,999,999, as `google.protobuf.Timestamp` requires).
    pub declaration_nanos: i32,
    /// Whether a declaration time is required (liaison: yes; scoring: the time of
    /// recording when unset).
    pub time_required: bool,
    /// Customs office code; required.
    pub customs_office: &'a mut String,
    /// `Procedure` number (liaison's and common's have the same values); 0 accepted.
    pub procedure: i32,
    /// `TransportMode` number; 0 accepted.
    pub transport_mode: i32,
    /// Importer of record; required.
    pub importer_id: &'a mut String,
    /// Declarant; optional.
    pub declarant_id: &'a mut String,
    /// Consignor; optional.
    pub consignor_id: &'a mut String,
    /// Carrier; optional.
    pub carrier_id: &'a mut String,
    /// Marketplace: a platform id ([`crate::accounts::platform_id`]); optional.
    pub marketplace: &'a mut String,
    /// Transport document numbers; optional.
    pub consignment: Option<&'a mut ConsignmentNumbers>,
    /// Country of dispatch; optional.
    pub departure_country: &'a mut String,
    /// Country of origin; required (`ZZ` when unknown).
    pub origin_country: &'a mut String,
    /// The marketplace seller account; optional, both parts when given.
    pub seller: Option<&'a mut SellerAccountRef>,
    /// Declaration-level national codes.
    pub national_codes: &'a mut Vec<NationalCode>,
    /// The goods items.
    pub lines: Vec<GoodsItem<'a>>,
}

/// The fields of one goods item, borrowed from either service's message.
#[derive(Debug)]
pub struct GoodsItem<'a> {
    /// Goods item number: 1 or more, unique within the declaration.
    pub line_number: i32,
    /// Tariff code (see [`codes::normalize_hs_code`]).
    pub hs_code: &'a mut String,
    /// Trade description.
    pub description: &'a mut String,
    /// Quantity: not negative; 0 when not declared. Kept to the millionth ([`to_millionth`]),
    /// as are the masses and the duty rate.
    pub quantity: &'a mut f64,
    /// Unit of the quantity.
    pub quantity_unit: &'a mut String,
    /// Net mass, kg: not negative; 0 when not declared.
    pub net_mass_kg: &'a mut f64,
    /// Gross mass, kg: not negative; not below the net mass when both are declared.
    pub gross_mass_kg: &'a mut f64,
    /// Declared value; required.
    pub declared_value: Option<&'a mut Money>,
    /// `ValuationBasis` number; 0 accepted.
    pub valuation_basis: i32,
    /// Duty rate as a fraction, 0 to [`MAX_DUTY_RATE`].
    pub duty_rate: &'a mut f64,
    /// Declared duty; optional.
    pub declared_duty: Option<&'a mut Money>,
    /// Line-level national codes.
    pub national_codes: &'a mut Vec<NationalCode>,
}

/// Problems found, as (path within the declaration, reason).
pub type Problems = Vec<(String, String)>;

/// Checks a declaration at `now_seconds` (Unix time) and canonicalises it in place.
pub fn check(fields: DeclarationFields<'_>, now_seconds: i64) -> Problems {
    let mut problems = Problems::new();
    let mut fail = |field: &str, why: &str| problems.push((field.to_owned(), why.to_owned()));
    let DeclarationFields {
        declaration_id,
        customs_office,
        importer_id,
        declarant_id,
        consignor_id,
        carrier_id,
        marketplace,
        ..
    } = fields;
    id(&mut fail, "declaration_id", declaration_id, true);
    match fields.declaration_seconds {
        None if fields.time_required => fail("declaration_time", "is required"),
        None => {}
        Some(seconds) => {
            if let Err((sub, why)) =
                event_time_problem(seconds, fields.declaration_nanos, now_seconds)
            {
                fail(&format!("declaration_time{sub}"), why);
            }
        }
    }
    id(&mut fail, "customs_office", customs_office, true);
    if Procedure::try_from(fields.procedure).is_err() {
        fail(
            "procedure",
            "is not a known procedure: one of the PROCEDURE_ values, or unset",
        );
    }
    if TransportMode::try_from(fields.transport_mode).is_err() {
        fail(
            "transport_mode",
            "is not a known mode: one of the TRANSPORT_MODE_ values (OTHER for a mode they do not name), or unset",
        );
    }
    id(&mut fail, "importer_id", importer_id, true);
    for (field, value) in [
        ("declarant_id", declarant_id),
        ("consignor_id", consignor_id),
        ("carrier_id", carrier_id),
    ] {
        id(&mut fail, field, value, false);
    }
    if !marketplace.trim().is_empty() {
        match accounts::platform_id(marketplace) {
            Ok(canonical) => *marketplace = canonical,
            Err(why) => fail("marketplace", &why),
        }
    }
    let day = fields.declaration_seconds.map(crate::rates::day_of);
    country(
        &mut fail,
        "origin_country",
        fields.origin_country,
        true,
        day,
    );
    country(
        &mut fail,
        "departure_country",
        fields.departure_country,
        false,
        day,
    );
    if let Some(seller) = fields.seller {
        if seller.platform.trim().is_empty() || seller.seller_id.trim().is_empty() {
            fail(
                "seller",
                "needs both platform and seller_id, or leave it out",
            );
        } else {
            for (field, why) in accounts::canonicalize_seller(seller) {
                fail(&format!("seller.{field}"), &why);
            }
        }
    }
    if let Some(consignment) = fields.consignment {
        for (path, why) in consignment_problems(consignment) {
            fail(&format!("consignment.{path}"), why);
        }
    }
    national_codes(&mut fail, "national_codes", fields.national_codes);
    if fields.lines.is_empty() || fields.lines.len() > MAX_LINES {
        fail("lines", &format!("needs 1 to {MAX_LINES} lines"));
    }
    let mut seen = std::collections::HashMap::new();
    for (i, line) in fields.lines.into_iter().enumerate() {
        let at = |field: &str| format!("lines[{i}].{field}");
        if line.line_number < 1 {
            fail(
                &at("line_number"),
                "must be 1 or more (goods item numbers start at 1)",
            );
        } else if let Some(first) = seen.insert(line.line_number, i) {
            fail(
                &at("line_number"),
                &format!(
                    "{} is already the number of lines[{first}]",
                    line.line_number
                ),
            );
        }
        goods_item(
            &mut |field, why| fail(&at(field), why),
            line,
            fields.declaration_seconds,
        );
    }
    problems
}

/// Quantities and masses are below this: the WCO data model gives them the format n..16,6
/// (at most 10 digits before the decimal point). Found by a tester: a quantity of 1e308 was
/// accepted, and every per-unit comparison of that line read 0.
pub const MAX_MEASURE: f64 = 1e10;

/// `at_seconds`: the declaration's time, for its currencies ([`money::canonicalize`]).
fn goods_item(fail: &mut impl FnMut(&str, &str), line: GoodsItem<'_>, at_seconds: Option<i64>) {
    // Rounded before they are checked, so a check never turns on the noise (found by a
    // tester: a net mass of 0.1 + 0.2 against a gross mass of 0.3 was "more than the gross").
    for measure in [
        &mut *line.quantity,
        &mut *line.net_mass_kg,
        &mut *line.gross_mass_kg,
        &mut *line.duty_rate,
    ] {
        *measure = to_millionth(*measure);
    }
    match codes::normalize_hs_code(line.hs_code) {
        Ok(code) => *line.hs_code = code,
        Err(why) => fail("hs_code", &why),
    }
    // Fixed-width exports pad descriptions too; written composed (NFC), as ids are, so that
    // a retry typed with combining accents is the same declaration (found by a tester).
    trim_in_place(line.description);
    if !unicode_normalization::is_nfc(line.description) {
        *line.description = line.description.nfc().collect();
    }
    if let Some(why) = crate::text::free_text_problem(line.description, MAX_DESCRIPTION_CHARS) {
        fail("description", &why);
    }
    if !(*line.quantity >= 0.0 && *line.quantity < MAX_MEASURE) {
        fail(
            "quantity",
            "must be a number from 0 to 9,999,999,999.999999 (0 or unset when not declared)",
        );
    }
    // Unit codes are case-blind ("pce" is PCE): stored upper case, full-width letters as
    // ASCII, so that a retry in another case is the same declaration (found by a tester).
    *line.quantity_unit = line
        .quantity_unit
        .trim()
        .chars()
        .map(codes::narrow)
        .collect::<String>()
        .to_uppercase();
    if line.quantity_unit.chars().count() > 16 || line.quantity_unit.chars().any(char::is_control) {
        fail(
            "quantity_unit",
            "must be a unit code of at most 16 characters, e.g. PCE",
        );
    }
    let mass = |kg: f64| (0.0..MAX_MEASURE).contains(&kg);
    if !mass(*line.net_mass_kg) {
        fail(
            "net_mass_kg",
            "must be a number of kilograms from 0 to 9,999,999,999.999999 (0 when below the recorded precision)",
        );
    }
    if !mass(*line.gross_mass_kg) {
        fail(
            "gross_mass_kg",
            "must be a number of kilograms from 0 to 9,999,999,999.999999 (0 or unset when not declared)",
        );
    } else if *line.gross_mass_kg > 0.0 && *line.gross_mass_kg < *line.net_mass_kg {
        fail("gross_mass_kg", "must not be less than net_mass_kg");
    }
    amount(
        fail,
        "declared_value",
        line.declared_value,
        true,
        at_seconds,
    );
    if ValuationBasis::try_from(line.valuation_basis).is_err() {
        fail(
            "valuation_basis",
            "is not a known basis: VALUATION_BASIS_FOB, VALUATION_BASIS_CIF, or unset",
        );
    }
    if !(*line.duty_rate >= 0.0 && *line.duty_rate <= MAX_DUTY_RATE) {
        fail(
            "duty_rate",
            &format!("must be a fraction from 0 to {MAX_DUTY_RATE} (0.12 for 12%, 5.0 for 500%)"),
        );
    }
    amount(fail, "declared_duty", line.declared_duty, false, at_seconds);
    national_codes(fail, "national_codes", line.national_codes);
}

/// A quantity, mass or rate kept to the millionth, as amounts are: the floating-point noise
/// of an export or a conversion (`112.50000000000001` kg, `0.052000000000000005` for a rate
/// of 5.2 %) is not content, so a retry that carries it, or carries none, is the same
/// declaration (found by a tester: 440 of 20,000 declarations resent through another
/// mapping of the same file were `ALREADY_EXISTS`). Through the decimal text, so every
/// noisy form of a value gives the same number; below half a millionth it is 0 (the noise
/// of a computed zero); a value that is not finite is returned as it is (the checks refuse
/// it).
pub fn to_millionth(value: f64) -> f64 {
    if !value.is_finite() {
        return value;
    }
    let rounded: f64 = format!("{value:.6}").parse().unwrap_or(value);
    // Noise around zero is zero, not -0.
    if rounded == 0.0 { 0.0 } else { rounded }
}

/// Checks a party id, office code or declaration id and trims it in place.
fn id(fail: &mut impl FnMut(&str, &str), field: &str, value: &mut String, required: bool) {
    match trim_id(value) {
        Err(why) => fail(field, &why),
        Ok(()) if value.is_empty() && required => fail(field, "is required"),
        Ok(()) => {}
    }
}

/// Removes white space at both ends of `value`, without copying when there is none.
pub fn trim_in_place(value: &mut String) {
    let trimmed = value.trim();
    if trimmed.len() != value.len() {
        *value = trimmed.to_owned();
    }
}

/// Trims a declaration id, party id or customs office code in place (fixed-width exports pad
/// them), writes it in Unicode's composed form (NFC: `A` with a combining acute is `Á`, so
/// two ids that look the same are one; found by a tester: they were two declarations), and
/// checks what is left; an empty one is the caller's to judge. Every service applies this
/// one rule, so that a padded or decomposed id names the same party everywhere.
///
/// Errors: "must be at most 128 characters without control or invisible characters"
/// ([`crate::text::is_invisible_in_id`], and noncharacters or private-use characters);
/// "must not begin with a combining mark" (an accent alone, U+0301).
pub fn trim_id(value: &mut String) -> Result<(), String> {
    trim_in_place(value);
    if !unicode_normalization::is_nfc(value) {
        *value = value.nfc().collect();
    }
    // Noncharacters (U+FFFF, U+FDD0..) and private-use characters name nothing any system
    // prints (found by a tester: an office of `O` and U+FFFF took a lane policy).
    let unprintable = |c: char| {
        crate::text::is_invisible_in_id(c)
            || matches!(c as u32, 0xFDD0..=0xFDEF | 0xE000..=0xF8FF | 0xF0000..)
            || (c as u32 & 0xFFFE) == 0xFFFE
    };
    if value.chars().count() > MAX_ID_CHARS || value.chars().any(unprintable) {
        return Err(format!(
            "must be at most {MAX_ID_CHARS} characters without control or invisible characters"
        ));
    }
    // A mark with no letter before it to carry it (found by a tester: an importer id of
    // U+0301 alone was accepted) is no id any system prints.
    if value
        .chars()
        .next()
        .is_some_and(unicode_normalization::char::is_combining_mark)
    {
        return Err("must not begin with a combining mark (an accent with no letter)".to_owned());
    }
    Ok(())
}

/// Checks a consignment's numbers and puts them in canonical form
/// ([`codes::consignment_number`]), for a declaration and a platform's shipment notice alike:
/// problems as (path such as `tracking_numbers[2]`, reason). Each list is a set, sorted with
/// a repeat dropped, so that the same numbers in another order are the same declaration or
/// report (found by testers: a retry with its numbers reordered was ALREADY_EXISTS). A list
/// with a refused number is left as sent, so the paths name the numbers as sent; the value
/// is not echoed (found by a tester: 100,000 bad numbers made a 7 MB answer).
pub fn consignment_problems(consignment: &mut ConsignmentNumbers) -> Vec<(String, &'static str)> {
    let mut problems = Vec::new();
    for (list, numbers) in [
        ("tracking_numbers", &mut consignment.tracking_numbers),
        ("bills_of_lading", &mut consignment.bills_of_lading),
        ("air_waybills", &mut consignment.air_waybills),
    ] {
        let before = problems.len();
        for (i, number) in numbers.iter_mut().enumerate() {
            match codes::consignment_number(number) {
                Ok(canonical) => *number = canonical,
                Err(why) => problems.push((format!("{list}[{i}]"), why)),
            }
        }
        if problems.len() == before {
            numbers.sort_unstable();
            numbers.dedup();
        }
    }
    problems
}

/// An ISO 3166-1 alpha-2 code in either case, `ZZ` (unknown) or a customs code such as `XI`
/// ([`codes::is_declared_country`]), in use on the declaration's day `on` (days since
/// 1970-01-01) when it is known ([`country_dates::problem_on`]: `AN` in 2009, not in 2020).
fn country(
    fail: &mut impl FnMut(&str, &str),
    field: &str,
    value: &mut String,
    required: bool,
    on: Option<i64>,
) {
    *value = value.trim().to_ascii_uppercase();
    if value.is_empty() {
        if required {
            fail(field, "is required (ZZ when unknown)");
        }
    } else if let Some(why) = country_dates::problem_on(value, on) {
        fail(field, &why);
    }
}

fn amount(
    fail: &mut impl FnMut(&str, &str),
    field: &str,
    value: Option<&mut Money>,
    required: bool,
    at_seconds: Option<i64>,
) {
    match value {
        None if required => fail(field, "is required"),
        None => {}
        Some(value) => {
            for (sub, why) in money::canonicalize(value, at_seconds) {
                fail(&format!("{field}.{sub}"), &why);
            }
        }
    }
}

/// Checks national codes and puts them in canonical form: schemes in lower case, codes
/// trimmed, sorted by scheme, an exact repeat dropped.
fn national_codes(fail: &mut impl FnMut(&str, &str), field: &str, list: &mut Vec<NationalCode>) {
    if list.len() > MAX_NATIONAL_CODES {
        fail(
            field,
            &format!("must hold at most {MAX_NATIONAL_CODES} codes"),
        );
        return;
    }
    for (i, entry) in list.iter_mut().enumerate() {
        entry.scheme = entry.scheme.trim().to_ascii_lowercase();
        entry.code = entry.code.trim().to_owned();
        let scheme_ok = (1..=64).contains(&entry.scheme.len())
            && entry
                .scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !scheme_ok {
            fail(
                &format!("{field}[{i}].scheme"),
                "must be 1 to 64 letters, digits, '.', '_' or '-', e.g. kr.import_type",
            );
        }
        let length = entry.code.chars().count();
        if !(1..=64).contains(&length) || entry.code.chars().any(char::is_control) {
            fail(
                &format!("{field}[{i}].code"),
                "must be 1 to 64 characters without control characters",
            );
        }
    }
    let mut order: Vec<usize> = (0..list.len()).collect();
    order.sort_by(|&a, &b| list[a].scheme.cmp(&list[b].scheme).then(a.cmp(&b)));
    for pair in order.windows(2) {
        let (first, second) = (&list[pair[0]], &list[pair[1]]);
        if first.scheme == second.scheme && first.code != second.code {
            fail(
                &format!("{field}[{}].scheme", pair[1]),
                &format!(
                    "{} is already given with code {:?}: one code per scheme",
                    first.scheme, first.code
                ),
            );
        }
    }
    list.sort_by(|a, b| a.scheme.cmp(&b.scheme));
    list.dedup();
}

#[cfg(test)]
#[path = "customs_tests.rs"]
mod tests;
