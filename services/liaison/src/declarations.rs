//! Checking a customs declaration field by field with the rules scoring applies too
//! ([`acx_domain::customs`]), putting its codes in canonical form, and turning it into what
//! scoring assesses.

use std::time::{SystemTime, UNIX_EPOCH};

use acx_domain::customs;
use acx_proto::{
    liaison::Declaration,
    scoring::{DeclaredLine, DeclaredShipment},
};
use acx_runtime::FieldViolation;
use sha2::{Digest, Sha256};

fn now_seconds() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Checks `declaration` (violations under `prefix`, e.g. `declarations[2]`) and puts its
/// codes, countries, amounts and national codes in canonical form.
pub fn validate(declaration: &mut Declaration, prefix: &str) -> Vec<FieldViolation> {
    use prost::Message;
    let fields = acx_domain::declaration_fields!(&mut *declaration, time_required: true);
    let mut violations: Vec<FieldViolation> = customs::check(fields, now_seconds())
        .into_iter()
        .map(|(field, why)| FieldViolation::new(format!("{prefix}.{field}"), why))
        .collect();
    if let Some(why) = customs::oversize_problem(declaration.encoded_len()) {
        violations.push(FieldViolation::new(prefix, why));
    }
    violations
}

/// SHA-256 of the (canonical) declaration, to tell a retry from a reuse of its id.
pub fn content_hash(encoded: &[u8]) -> Vec<u8> {
    Sha256::digest(encoded).to_vec()
}

/// Whether a stored declaration (`stored_hash`, `stored_payload`) is `declaration`, checked
/// and canonicalised now with content hash `hash`: the hashes agree or, for one stored before
/// its canonical form last changed (consignment numbers, quantity units and descriptions
/// were once stored as sent), the stored one in today's canonical form is equal. So a retry
/// stays DUPLICATE across an upgrade without rewriting what is stored.
pub fn same_content(
    stored_hash: &[u8],
    stored_payload: &[u8],
    hash: &[u8],
    declaration: &Declaration,
) -> bool {
    use prost::Message;
    if stored_hash == hash {
        return true;
    }
    let Ok(mut stored) = Declaration::decode(stored_payload) else {
        return false;
    };
    // Its problems, if today's rules refuse it, do not matter: only its form is compared.
    let _ = validate(&mut stored, "");
    stored == *declaration
}

/// What scoring assesses of a declaration by `authority`: every field it holds. The enums
/// have the same numbers in `acx.liaison.v1` and `acx.common.v1`.
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
                description: line.description.clone(),
                quantity_unit: line.quantity_unit.clone(),
                gross_mass_kg: line.gross_mass_kg,
                valuation_basis: line.valuation_basis,
                duty_rate: line.duty_rate,
                declared_duty: line.declared_duty.clone(),
                national_codes: line.national_codes.clone(),
            })
            .collect(),
        declarant_id: declaration.declarant_id.clone(),
        customs_office: declaration.customs_office.clone(),
        declaration_time: declaration.declaration_time,
        consignor_id: declaration.consignor_id.clone(),
        carrier_id: declaration.carrier_id.clone(),
        departure_country: declaration.departure_country.clone(),
        transport_mode: declaration.transport_mode,
        procedure: declaration.procedure,
        marketplace: declaration.marketplace.clone(),
        national_codes: declaration.national_codes.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use acx_proto::{
        common::{Money, NationalCode},
        liaison::{DeclarationLine, Procedure, TransportMode, ValuationBasis},
    };

    /// Every field of a declaration set, so that a field `to_scoring` forgets shows.
    fn full() -> Declaration {
        let code = |scheme: &str, code: &str| NationalCode {
            scheme: scheme.to_owned(),
            code: code.to_owned(),
        };
        let money = |amount: &str| Money {
            currency_code: "KRW".to_owned(),
            amount: amount.to_owned(),
        };
        Declaration {
            declaration_id: "D".to_owned(),
            declaration_time: Some(prost_types::Timestamp {
                seconds: 1_600_000_000,
                nanos: 0,
            }),
            customs_office: "30".to_owned(),
            procedure: Procedure::InwardProcessing as i32,
            transport_mode: TransportMode::Other as i32,
            importer_id: "I".to_owned(),
            declarant_id: "B".to_owned(),
            consignor_id: "S".to_owned(),
            carrier_id: "C".to_owned(),
            consignment: Some(acx_proto::common::ConsignmentNumbers {
                tracking_numbers: vec!["T1".to_owned()],
                bills_of_lading: vec!["B1".to_owned()],
                air_waybills: vec!["A1".to_owned()],
            }),
            departure_country: "JP".to_owned(),
            origin_country: "ZZ".to_owned(),
            marketplace: "amazon".to_owned(),
            seller: Some(acx_proto::common::SellerAccountRef {
                platform: "amazon".to_owned(),
                seller_id: "A1".to_owned(),
            }),
            lines: vec![DeclarationLine {
                line_number: 3,
                hs_code: "9903881500".to_owned(),
                description: "earbuds".to_owned(),
                quantity: 5.0,
                quantity_unit: "PCE".to_owned(),
                net_mass_kg: 0.5,
                gross_mass_kg: 0.7,
                declared_value: Some(money("1000")),
                valuation_basis: ValuationBasis::Cif as i32,
                duty_rate: 7.5,
                declared_duty: Some(money("7500")),
                national_codes: vec![code("kr.tax_type", "A")],
            }],
            national_codes: vec![code("kr.import_type", "11")],
        }
    }

    #[test]
    fn scoring_gets_every_field_of_the_declaration() {
        let declaration = full();
        let shipment = to_scoring("kcs", &declaration);
        // Every field (each set to something other than its default) comes back.
        let back = {
            let s = &shipment;
            let l = &s.lines[0];
            Declaration {
                declaration_id: s.declaration_id.clone(),
                declaration_time: s.declaration_time,
                customs_office: s.customs_office.clone(),
                procedure: s.procedure,
                transport_mode: s.transport_mode,
                importer_id: s.importer_id.clone(),
                declarant_id: s.declarant_id.clone(),
                consignor_id: s.consignor_id.clone(),
                carrier_id: s.carrier_id.clone(),
                consignment: s.consignment.clone(),
                departure_country: s.departure_country.clone(),
                origin_country: s.origin_country.clone(),
                marketplace: s.marketplace.clone(),
                seller: s.seller.clone(),
                lines: vec![DeclarationLine {
                    line_number: l.line_number,
                    hs_code: l.hs_code.clone(),
                    description: l.description.clone(),
                    quantity: l.quantity,
                    quantity_unit: l.quantity_unit.clone(),
                    net_mass_kg: l.net_mass_kg,
                    gross_mass_kg: l.gross_mass_kg,
                    declared_value: l.declared_value.clone(),
                    valuation_basis: l.valuation_basis,
                    duty_rate: l.duty_rate,
                    declared_duty: l.declared_duty.clone(),
                    national_codes: l.national_codes.clone(),
                }],
                national_codes: s.national_codes.clone(),
            }
        };
        assert_eq!(back, declaration);
        assert_eq!(shipment.authority, "kcs");
        let mut valid = declaration.clone();
        assert_eq!(validate(&mut valid, "d"), Vec::new());
    }
}
