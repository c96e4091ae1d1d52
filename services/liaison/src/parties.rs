//! What liaison checks before it asks scoring about a party, and what scoring's answer
//! means for liaison's caller.
//!
//! Liaison validates what it forwards with the rules scoring applies, so that a caller's
//! mistake is reported under the caller's own field paths (`entity.identifiers.phones[3]`)
//! and never travels to scoring at all. Should scoring still refuse a request as invalid,
//! that is the caller's problem too: `INVALID_ARGUMENT` with scoring's violations moved
//! under the field liaison filled the request from, never `UNAVAILABLE`.

use acx_domain::{customs, parties};
use acx_proto::liaison::{PartyDescription, check_party_request::Party};
use acx_runtime::FieldViolation;
use tonic::{Code, Status};
use tonic_types::StatusExt;

use crate::{Error, audit::value};

/// The violations of a `CheckParty` party, under the request's paths; an importer id is
/// trimmed in place, as declarations' are.
pub(crate) fn validate(party: Option<&mut Party>) -> Vec<FieldViolation> {
    match party {
        Some(Party::ImporterId(id)) => match customs::trim_id(id) {
            Err(why) => vec![FieldViolation::new("importer_id", why)],
            Ok(()) if id.is_empty() => vec![FieldViolation::new("importer_id", "is required")],
            Ok(()) => Vec::new(),
        },
        Some(Party::Entity(entity)) => validate_entity(entity),
        None => vec![FieldViolation::new("party", "give importer_id or entity")],
    }
}

fn validate_entity(entity: &PartyDescription) -> Vec<FieldViolation> {
    let identifiers = entity.identifiers.clone().unwrap_or_default();
    // Only the current rules: a question is checked, not stored, so legacy forms add nothing.
    let (_, violations) =
        parties::check_description(&entity.name, &entity.country, &identifiers, &[]);
    violations
        .into_iter()
        .map(|(field, why)| FieldViolation::new(format!("entity.{field}"), why))
        .collect()
}

/// What a failed call to scoring, made for the caller's field `parent`, means for the
/// caller: scoring's `INVALID_ARGUMENT` is the caller's (its violations under `parent`);
/// anything else is scoring failing (`UNAVAILABLE`, safe to retry). `NOT_FOUND` is each
/// caller's to word, before this.
pub(crate) fn scoring_failure(status: Status, parent: &str) -> Error {
    if status.code() != Code::InvalidArgument {
        return Error::Scoring(status);
    }
    let listed = status
        .get_error_details()
        .bad_request()
        .map(|bad| bad.field_violations.clone())
        .unwrap_or_default();
    let violations = if listed.is_empty() {
        vec![FieldViolation::new(parent, status.message())]
    } else {
        listed
            .into_iter()
            .map(|v| FieldViolation::new(v.field, v.description).nested(parent))
            .collect()
    };
    Error::Invalid(violations)
}

/// A CheckParty call's audit parameters, and the identifier checks it spends of the
/// caller's quota (one for the name, one per identifier). A party described by identifiers
/// is recorded with how many of each kind were asked (found by a security tester: only the
/// name was recorded, so a lookup by phone under any cover name left no trace of what it
/// asked).
pub(crate) fn audit_parameters(party: Option<&Party>) -> (String, u32) {
    match party {
        Some(Party::ImporterId(id)) => (format!("importer={}", value(id)), 1),
        Some(Party::Entity(entity)) => {
            let asked = identifier_counts(entity.identifiers.as_ref());
            let units = 1 + asked.iter().map(|(_, n)| *n as u32).sum::<u32>();
            let counts: Vec<String> = asked
                .iter()
                .filter(|(_, n)| *n > 0)
                .map(|(kind, n)| format!("{kind}={n}"))
                .collect();
            let counts = if counts.is_empty() {
                "none".to_owned()
            } else {
                counts.join(" ")
            };
            let parameters = format!(
                "entity name={} country={} identifiers: {counts}",
                value(&entity.name),
                value(&entity.country),
            );
            (parameters, units)
        }
        None => ("party=".to_owned(), 1),
    }
}

/// How many values of each kind of identifier a party description carries, by the field
/// names of `Identifiers`.
pub(crate) fn identifier_counts(
    identifiers: Option<&acx_proto::common::Identifiers>,
) -> [(&'static str, usize); 7] {
    let none = acx_proto::common::Identifiers::default();
    let ids = identifiers.unwrap_or(&none);
    [
        (
            "business_registration_numbers",
            ids.business_registration_numbers.len(),
        ),
        ("tax_numbers", ids.tax_numbers.len()),
        ("bank_accounts", ids.bank_accounts.len()),
        ("addresses", ids.addresses.len()),
        ("emails", ids.emails.len()),
        ("phones", ids.phones.len()),
        ("web_domains", ids.web_domains.len()),
    ]
}

#[cfg(test)]
mod tests {
    use acx_proto::common::Identifiers;

    use super::*;

    #[test]
    fn names_the_callers_fields() {
        let entity = PartyDescription {
            name: String::new(),
            country: "XX".into(),
            identifiers: Some(Identifiers {
                phones: vec!["not a phone".into()],
                ..Default::default()
            }),
        };
        let fields: Vec<String> = validate(Some(&mut Party::Entity(entity)))
            .into_iter()
            .map(|v| v.field)
            .collect();
        assert_eq!(fields, ["entity.country", "entity.identifiers.phones[0]"]);
        let mut long = Party::ImporterId("x".repeat(129));
        assert_eq!(validate(Some(&mut long))[0].field, "importer_id");
        assert!(validate(Some(&mut Party::ImporterId(" IMP-1 ".into()))).is_empty());
    }

    #[test]
    fn scorings_invalid_argument_stays_invalid_argument_under_the_callers_path() {
        let status = acx_runtime::error::invalid_argument(&[FieldViolation::new(
            "identifiers.emails[0]",
            "is not an e-mail address",
        )]);
        let Error::Invalid(violations) = scoring_failure(status, "entity") else {
            panic!("not invalid")
        };
        assert_eq!(violations[0].field, "entity.identifiers.emails[0]");
        assert!(matches!(
            scoring_failure(Status::unavailable("down"), "entity"),
            Error::Scoring(_)
        ));
    }
}
