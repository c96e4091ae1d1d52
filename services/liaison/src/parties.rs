//! What liaison checks before it asks scoring about a party, and what scoring's answer
//! means for liaison's caller.
//!
//! Liaison validates what it forwards with the rules scoring applies, so that a caller's
//! mistake is reported under the caller's own field paths (`entity.identifiers.phones[3]`)
//! and never travels to scoring at all. Should scoring still refuse a request as invalid,
//! that is the caller's problem too: `INVALID_ARGUMENT` with scoring's violations moved
//! under the field liaison filled the request from, never `UNAVAILABLE`.

use acx_domain::parties;
use acx_proto::liaison::{PartyDescription, check_party_request::Party};
use acx_runtime::FieldViolation;
use tonic::{Code, Status};
use tonic_types::StatusExt;

use crate::Error;

/// Longest importer id, as for declarations.
const MAX_ID_BYTES: usize = 128;

/// The violations of a `CheckParty` party, under the request's paths.
pub(crate) fn validate(party: Option<&Party>) -> Vec<FieldViolation> {
    match party {
        Some(Party::ImporterId(id)) => {
            if id.trim().is_empty() {
                vec![FieldViolation::new("importer_id", "is required")]
            } else if id.len() > MAX_ID_BYTES || id.chars().any(char::is_control) {
                vec![FieldViolation::new(
                    "importer_id",
                    "must be at most 128 characters without control characters",
                )]
            } else {
                Vec::new()
            }
        }
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
        let fields: Vec<String> = validate(Some(&Party::Entity(entity)))
            .into_iter()
            .map(|v| v.field)
            .collect();
        assert_eq!(fields, ["entity.country", "entity.identifiers.phones[0]"]);
        let long = Party::ImporterId("x".repeat(129));
        assert_eq!(validate(Some(&long))[0].field, "importer_id");
        assert!(validate(Some(&Party::ImporterId("IMP-1".into()))).is_empty());
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
