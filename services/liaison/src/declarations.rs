//! Checking a customs declaration field by field (as ingest checks reports), putting its
//! codes in canonical form, and turning it into what scoring assesses.

use std::time::{SystemTime, UNIX_EPOCH};

use acx_domain::{codes, money};
use acx_proto::{
    common::Money,
    liaison::{Declaration, Procedure, TransportMode, ValuationBasis},
    scoring::{DeclaredLine, DeclaredShipment},
};
use acx_runtime::FieldViolation;
use sha2::{Digest, Sha256};

/// How far in the future a declaration time may be (clock skew).
const MAX_SKEW_SECONDS: i64 = 300;

/// Accumulates violations under a path prefix.
struct Check<'a> {
    prefix: &'a str,
    violations: Vec<FieldViolation>,
}

impl Check<'_> {
    fn fail(&mut self, field: impl AsRef<str>, why: impl Into<String>) {
        self.violations.push(FieldViolation::new(
            format!("{}.{}", self.prefix, field.as_ref()),
            why,
        ));
    }

    fn id(&mut self, field: &str, value: &str, required: bool) {
        if value.trim().is_empty() {
            if required {
                self.fail(field, "is required");
            }
        } else if value.len() > 128 || value.chars().any(char::is_control) {
            self.fail(
                field,
                "must be at most 128 characters without control characters",
            );
        }
    }

    fn country(&mut self, field: &str, value: &mut String, required: bool) {
        *value = value.trim().to_ascii_uppercase();
        if value.is_empty() {
            if required {
                self.fail(field, "is required");
            }
        } else if !codes::is_country(value) {
            self.fail(field, "must be an ISO 3166-1 alpha-2 code such as CN or DE");
        }
    }

    fn money(&mut self, field: &str, value: Option<&mut Money>, required: bool) {
        let Some(value) = value else {
            if required {
                self.fail(field, "is required");
            }
            return;
        };
        for (sub, why) in money::canonicalize(value) {
            self.fail(format!("{field}.{sub}"), why);
        }
    }
}

fn now_seconds() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Checks `declaration` (violations under `prefix`, e.g. `declarations[2]`) and puts its
/// codes and amounts in canonical form.
pub fn validate(declaration: &mut Declaration, prefix: &str) -> Vec<FieldViolation> {
    let mut check = Check {
        prefix,
        violations: Vec::new(),
    };
    check.id("declaration_id", &declaration.declaration_id, true);
    match &declaration.declaration_time {
        None => check.fail("declaration_time", "is required"),
        Some(time) if time.seconds > now_seconds() + MAX_SKEW_SECONDS => {
            check.fail("declaration_time", "must not be in the future")
        }
        Some(time) if time.seconds < 946_684_800 => {
            check.fail("declaration_time", "must not be before 2000-01-01")
        }
        Some(_) => {}
    }
    check.id("customs_office", &declaration.customs_office, true);
    if !matches!(Procedure::try_from(declaration.procedure), Ok(p) if p != Procedure::Unspecified) {
        check.fail("procedure", "is required: one of the PROCEDURE_ values");
    }
    if !matches!(TransportMode::try_from(declaration.transport_mode), Ok(m) if m != TransportMode::Unspecified)
    {
        check.fail(
            "transport_mode",
            "is required: one of the TRANSPORT_MODE_ values",
        );
    }
    check.id("importer_id", &declaration.importer_id, true);
    for (field, value) in [
        ("declarant_id", &declaration.declarant_id),
        ("consignor_id", &declaration.consignor_id),
        ("carrier_id", &declaration.carrier_id),
        ("marketplace", &declaration.marketplace),
    ] {
        check.id(field, value, false);
    }
    check.country("origin_country", &mut declaration.origin_country, true);
    check.country(
        "departure_country",
        &mut declaration.departure_country,
        false,
    );
    if let Some(seller) = &declaration.seller
        && (seller.platform.trim().is_empty() || seller.seller_id.trim().is_empty())
    {
        check.fail(
            "seller",
            "needs both platform and seller_id, or leave it out",
        );
    }
    if let Some(consignment) = &declaration.consignment {
        let numbers = consignment
            .tracking_numbers
            .iter()
            .chain(&consignment.bills_of_lading)
            .chain(&consignment.air_waybills);
        for number in numbers {
            let canonical: String = number
                .chars()
                .filter(|c| !c.is_whitespace() && *c != '-')
                .collect();
            if canonical.is_empty()
                || canonical.len() > 64
                || !canonical.chars().all(|c| c.is_ascii_alphanumeric())
            {
                check.fail(
                    "consignment",
                    format!("{number:?} is not 1 to 64 letters and digits"),
                );
            }
        }
    }
    if declaration.lines.is_empty() || declaration.lines.len() > 999 {
        check.fail("lines", "needs 1 to 999 lines");
    }
    for (i, line) in declaration.lines.iter_mut().enumerate() {
        let at = |field: &str| format!("lines[{i}].{field}");
        match codes::normalize_hs_code(&line.hs_code) {
            Ok(code) => line.hs_code = code,
            Err(why) => check.fail(at("hs_code"), why),
        }
        if line.description.chars().count() > 500 {
            check.fail(at("description"), "must be at most 500 characters");
        }
        if !(line.quantity > 0.0 && line.quantity.is_finite()) {
            check.fail(at("quantity"), "must be greater than zero");
        }
        if !(line.net_mass_kg > 0.0 && line.net_mass_kg.is_finite()) {
            check.fail(at("net_mass_kg"), "must be greater than zero");
        }
        if line.gross_mass_kg != 0.0
            && !(line.gross_mass_kg >= line.net_mass_kg && line.gross_mass_kg.is_finite())
        {
            check.fail(at("gross_mass_kg"), "must not be less than net_mass_kg");
        }
        check.money(&at("declared_value"), line.declared_value.as_mut(), true);
        if let Some(value) = &line.declared_value
            && codes::is_currency(&value.currency_code)
            && money::usd_per_unit(&value.currency_code).is_none()
        {
            check.fail(
                at("declared_value.currency_code"),
                "has no reference rate for comparison: use a major currency",
            );
        }
        if !matches!(ValuationBasis::try_from(line.valuation_basis), Ok(b) if b != ValuationBasis::Unspecified)
        {
            check.fail(
                at("valuation_basis"),
                "is required: VALUATION_BASIS_FOB or VALUATION_BASIS_CIF",
            );
        }
        if !(0.0..=1.0).contains(&line.duty_rate) {
            check.fail(
                at("duty_rate"),
                "must be a fraction between 0 and 1 (0.12 for 12%)",
            );
        }
        check.money(&at("declared_duty"), line.declared_duty.as_mut(), false);
    }
    check.violations
}

/// SHA-256 of the (canonical) declaration, to tell a retry from a reuse of its id.
pub fn content_hash(encoded: &[u8]) -> Vec<u8> {
    Sha256::digest(encoded).to_vec()
}

/// What scoring needs of a declaration by `authority`.
pub fn to_scoring(authority: &str, declaration: &Declaration) -> DeclaredShipment {
    DeclaredShipment {
        declaration_id: declaration.declaration_id.clone(),
        authority: authority.to_owned(),
        importer_id: declaration.importer_id.clone(),
        origin_country: declaration.origin_country.clone(),
        seller: declaration.seller.clone(),
        consignment: declaration.consignment.clone(),
        lines: declaration
            .lines
            .iter()
            .map(|line| DeclaredLine {
                line_number: line.line_number,
                hs_code: line.hs_code.clone(),
                quantity: line.quantity,
                net_mass_kg: line.net_mass_kg,
                declared_value: line.declared_value.clone(),
            })
            .collect(),
        declarant_id: declaration.declarant_id.clone(),
        customs_office: declaration.customs_office.clone(),
        declaration_time: declaration.declaration_time,
    }
}
