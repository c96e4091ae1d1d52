//! What may describe a party to look for among the exchange's accounts (a name, a country,
//! identifiers): one set of rules for liaison's `CheckParty` and scoring's `CheckEntity`, so
//! that a description liaison lets through is one scoring accepts.

use acx_proto::common::Identifiers;

use crate::{
    codes,
    hashing::{self, NormalizedSet},
    identifiers::Normalization,
};

/// Longest party name, in characters.
pub const MAX_NAME_CHARS: usize = 300;

/// Checks a party description and normalises its identifiers under the current rules and
/// each version in `legacy` (older normalisations whose stored hashes should match too).
/// `country` is an ISO 3166-1 alpha-2 code or empty (any case, trimmed here). Returns the
/// normalised identifiers (invalid values and kinds with too many values left out) and the
/// violations as `(field, why)` with paths relative to the description (`name`, `country`,
/// `identifiers.phones[0]`); there is one when neither a name nor an identifier is given.
pub fn check_description(
    name: &str,
    country: &str,
    identifiers: &Identifiers,
    legacy: &[Normalization],
) -> (NormalizedSet, Vec<(String, String)>) {
    let mut violations = Vec::new();
    let country = country.trim().to_ascii_uppercase();
    let country = codes::country_alias(&country).to_owned();
    if !country.is_empty() && !codes::is_party_country(&country) {
        violations.push((
            "country".to_owned(),
            "must be an ISO 3166-1 alpha-2 code such as CN or DE (or XK, XI)".to_owned(),
        ));
    }
    if let Some(why) = crate::text::free_text_problem(name, MAX_NAME_CHARS) {
        // Names as profiles take them: no control characters or overrides (found by a
        // tester: a NUL in a name was searched for).
        violations.push(("name".to_owned(), why));
    }
    let mut set = hashing::normalize_all(
        identifiers,
        (!country.is_empty()).then_some(country.as_str()),
        legacy,
    );
    if country.is_empty() {
        in_every_register(&mut set);
    }
    violations.extend(
        std::mem::take(&mut set.too_many)
            .into_iter()
            .chain(std::mem::take(&mut set.invalid))
            .map(|(field, why)| (format!("identifiers.{field}"), why)),
    );
    if name.trim().is_empty() && set.normalized.is_empty() && violations.is_empty() {
        violations.push((
            "name".to_owned(),
            "give a name or at least one identifier".to_owned(),
        ));
    }
    (set, violations)
}

/// A registration or tax number of digits only asked about without a country: the number
/// in every country's register (profiles hold it under their country's, [`crate::identifiers::registration`]),
/// so a question that does not know the country still finds the holders, in every register
/// that issued it.
///
/// Likewise a national bank account number (version 6): profiles hold it under their
/// country (`GB:40178362`), so a question without a country asks about it in every country,
/// each form of the kind it is there (with a UK sort code, 14 digits, a bank account).
fn in_every_register(set: &mut NormalizedSet) {
    use crate::identifiers::IdentifierKind::{
        self, BankAccount, BusinessRegistration, NationalBankAccount, TaxNumber,
    };
    let numbers: Vec<(IdentifierKind, String)> = set
        .normalized
        .iter()
        .filter(|n| {
            (matches!(n.kind, BusinessRegistration | TaxNumber)
                && n.current.bytes().all(|b| b.is_ascii_digit()))
                || n.kind == NationalBankAccount
        })
        .map(|n| (n.kind, n.current.clone()))
        .collect();
    for (kind, number) in numbers {
        if kind == NationalBankAccount {
            let mut forms: Vec<String> = codes::countries()
                .iter()
                .map(|country| {
                    crate::identifiers::bank_account::in_country(number.clone(), Some(country))
                })
                .collect();
            forms.sort_unstable();
            forms.dedup();
            set.normalized
                .extend(forms.into_iter().map(|current| hashing::Normalized {
                    kind: crate::identifiers::hash_kind(
                        BankAccount,
                        Normalization::CURRENT,
                        &current,
                    ),
                    current,
                    legacy: Vec::new(),
                }));
            continue;
        }
        let mut forms: Vec<String> = codes::countries()
            .iter()
            .map(|country| match kind {
                // A tax number of a VAT-area seller is held with its VAT prefix
                // (`DE136695976`; found by a tester: asked without a country, it was not
                // found).
                TaxNumber => {
                    crate::identifiers::registration::tax_in_register(number.clone(), Some(country))
                }
                _ => format!("{country}:{number}"),
            })
            .collect();
        forms.sort_unstable();
        forms.dedup();
        set.normalized
            .extend(forms.into_iter().map(|current| hashing::Normalized {
                kind,
                current,
                legacy: Vec::new(),
            }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_each_field_relative_to_the_description() {
        let identifiers = Identifiers {
            phones: vec!["not a phone".into()],
            ..Default::default()
        };
        let (set, violations) = check_description("", "XX", &identifiers, &[]);
        let fields: Vec<&str> = violations.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(fields, ["country", "identifiers.phones[0]"]);
        assert!(set.normalized.is_empty() && set.invalid.is_empty());
        let (_, violations) = check_description(" ", "", &Identifiers::default(), &[]);
        assert_eq!(violations[0].0, "name");
        let (_, violations) =
            check_description(&"n".repeat(301), "cn", &Identifiers::default(), &[]);
        assert_eq!(violations.len(), 1, "{violations:?}");
        let (set, violations) =
            check_description("Bright Deals", " cn ", &Identifiers::default(), &[]);
        assert!(violations.is_empty() && set.normalized.is_empty());
    }

    #[test]
    fn a_number_asked_without_a_country_is_asked_in_every_register() {
        let identifiers = Identifiers {
            tax_numbers: vec!["136695976".into()],
            business_registration_numbers: vec!["04732918".into()],
            ..Default::default()
        };
        let (set, violations) = check_description("", "", &identifiers, &[]);
        assert!(violations.is_empty(), "{violations:?}");
        let forms: Vec<&str> = set.normalized.iter().map(|n| n.current.as_str()).collect();
        for form in [
            "136695976",
            "DE136695976",
            "EL136695976",
            "RU:136695976",
            "GB:04732918",
        ] {
            assert!(forms.contains(&form), "{form} not in {forms:?}");
        }
    }

    /// A national account number (version 6): asked with a country, in that country only;
    /// without one, in every country, each form of its kind there; an IBAN as it is.
    #[test]
    fn a_national_account_is_asked_in_its_country_or_in_every_one() {
        use crate::identifiers::IdentifierKind::{BankAccount, NationalBankAccount};
        let identifiers = Identifiers {
            bank_accounts: vec!["40178362".into(), "20000040178362".into()],
            ..Default::default()
        };
        let forms = |country: &str| {
            let (set, violations) = check_description("", country, &identifiers, &[]);
            assert!(violations.is_empty(), "{violations:?}");
            set.normalized
                .into_iter()
                .map(|n| (n.current, n.kind))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            forms("US"),
            [
                ("US:40178362".to_owned(), NationalBankAccount),
                ("US:20000040178362".to_owned(), NationalBankAccount)
            ]
        );
        let anywhere = forms("");
        for form in [
            ("40178362".to_owned(), NationalBankAccount),
            ("GB:40178362".to_owned(), NationalBankAccount),
            ("US:40178362".to_owned(), NationalBankAccount),
            ("GB:20000040178362".to_owned(), BankAccount),
            ("US:20000040178362".to_owned(), NationalBankAccount),
        ] {
            assert!(anywhere.contains(&form), "{form:?} not in {anywhere:?}");
        }
        let iban = Identifiers {
            bank_accounts: vec!["GB07 NWBK 6016 1331 9268 27".into()],
            ..Default::default()
        };
        let (set, _) = check_description("", "", &iban, &[]);
        assert_eq!(set.normalized.len(), 1);
        assert_eq!(set.normalized[0].kind, BankAccount);
    }
}
