//! The contract's identifiers (`acx.common.v1.Identifiers`) turned into keyed hashes, by
//! one set of rules for every service: ingest when it stores a profile, scoring when an
//! entity check asks about a name and identifiers.

use acx_proto::common::{self as pb, HashedIdentifier, Identifiers};

use crate::identifiers::{self, IdentifierKey, IdentifierKind};

/// Most identifiers of one kind in one request.
pub const MAX_PER_KIND: usize = 50;

/// The raw identifiers by kind, with their field names in the contract.
pub fn by_kind(identifiers: &Identifiers) -> [(IdentifierKind, &'static str, &[String]); 7] {
    [
        (
            IdentifierKind::BusinessRegistration,
            "business_registration_numbers",
            &identifiers.business_registration_numbers,
        ),
        (
            IdentifierKind::TaxNumber,
            "tax_numbers",
            &identifiers.tax_numbers,
        ),
        (
            IdentifierKind::BankAccount,
            "bank_accounts",
            &identifiers.bank_accounts,
        ),
        (IdentifierKind::Address, "addresses", &identifiers.addresses),
        (IdentifierKind::Email, "emails", &identifiers.emails),
        (IdentifierKind::Phone, "phones", &identifiers.phones),
        (
            IdentifierKind::WebDomain,
            "web_domains",
            &identifiers.web_domains,
        ),
    ]
}

/// The contract's enum value for an identifier kind.
pub fn proto_kind(kind: IdentifierKind) -> pb::IdentifierKind {
    match kind {
        IdentifierKind::BusinessRegistration => pb::IdentifierKind::BusinessRegistration,
        IdentifierKind::TaxNumber => pb::IdentifierKind::TaxNumber,
        IdentifierKind::BankAccount => pb::IdentifierKind::BankAccount,
        IdentifierKind::Address => pb::IdentifierKind::Address,
        IdentifierKind::Email => pb::IdentifierKind::Email,
        IdentifierKind::Phone => pb::IdentifierKind::Phone,
        IdentifierKind::WebDomain => pb::IdentifierKind::WebDomain,
    }
}

/// A problem with one identifier: its field path under `identifiers` and a description,
/// e.g. `("emails[0]", "is not a valid e-mail address")`.
pub type Problem = (String, String);

/// The normalised identifiers, by kind, and the problems of those that are not valid.
pub fn normalize_all(
    identifiers: &Identifiers,
    country: Option<&str>,
) -> (Vec<(IdentifierKind, String)>, Vec<Problem>) {
    let mut normalized = Vec::new();
    let mut problems = Vec::new();
    for (kind, name, values) in by_kind(identifiers) {
        if values.len() > MAX_PER_KIND {
            problems.push((
                name.to_owned(),
                format!("must have at most {MAX_PER_KIND} entries"),
            ));
            continue;
        }
        for (i, value) in values.iter().enumerate() {
            match identifiers::normalize(kind, value, country) {
                Ok(value) => normalized.push((kind, value)),
                Err(reason) => problems.push((format!("{name}[{i}]"), reason)),
            }
        }
    }
    (normalized, problems)
}

/// The keyed hash of a normalised identifier, as the contract carries it.
pub fn hashed(kind: IdentifierKind, normalized: &str, key: &IdentifierKey) -> HashedIdentifier {
    HashedIdentifier {
        kind: proto_kind(kind) as i32,
        key_id: key.id().to_owned(),
        hash: key.hash_identifier(kind, normalized),
    }
}
