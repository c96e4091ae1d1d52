//! The contract's identifiers (`acx.common.v1.Identifiers`) turned into keyed hashes, by
//! one set of rules for every service: ingest when it stores a profile, scoring when an
//! entity check asks about a name and identifiers.
//!
//! ## Hash continuity across normalisation versions
//! Raw identifiers are never stored, so a hash made under older rules cannot be recomputed
//! under new ones. Each value is therefore hashed under the current rules (its *primary*
//! hash, [`Normalization::CURRENT`]) and, while older versions are in use, under each older
//! version too (its *legacy* hashes): the old rules applied to the raw value and to the
//! current normalised value (so a value an old rule refused or mis-read, such as a phone
//! with an extension, still meets an old record typed the plain way). A legacy hash equal to
//! the primary one is not repeated: the HMAC input holds no version, so wherever the rules
//! agree (most values) old and new hashes are simply equal.
//!
//! Scoring links two profiles on a shared hash only when it means the same under both sides'
//! rules ([`links_across_versions`]): primary meets primary, or a legacy hash of version
//! *v* meets the primary hash of a profile made under version *v*. Two legacy hashes never
//! link, so an old rule's mistakes do not spread to new data.

use acx_proto::common::{self as pb, HashedIdentifier, Identifiers};

use crate::identifiers::{self, IdentifierKey, IdentifierKind, Normalization};

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
        IdentifierKind::NationalBankAccount => pb::IdentifierKind::NationalBankAccount,
    }
}

/// The identifier kind of the contract's enum value, `None` for one this build does not know.
pub fn domain_kind(kind: i32) -> Option<IdentifierKind> {
    IdentifierKind::ALL
        .into_iter()
        .find(|k| proto_kind(*k) as i32 == kind)
}

/// A problem with one identifier: its field path under `identifiers` and a description,
/// e.g. `("emails[0]", "is not a valid e-mail address")`.
pub type Problem = (String, String);

/// One identifier normalised: its current form, and its forms under older versions that
/// differ from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Normalized {
    /// The kind of identifier.
    pub kind: IdentifierKind,
    /// Normalised under [`Normalization::CURRENT`].
    pub current: String,
    /// Legacy forms: (older version, its normalised value), none equal to `current`.
    pub legacy: Vec<(Normalization, String)>,
}

/// What [`normalize_all`] made of a set of identifiers.
#[derive(Debug, Default)]
pub struct NormalizedSet {
    /// The valid identifiers, in request order.
    pub normalized: Vec<Normalized>,
    /// Values that are not valid identifiers of their kind: left out (a warning for a stored
    /// profile, a field violation for a question).
    pub invalid: Vec<Problem>,
    /// Kinds with more than [`MAX_PER_KIND`] values: the request is malformed.
    pub too_many: Vec<Problem>,
}

/// Normalises every identifier under the current rules and under each version in `legacy`
/// (older versions whose hashes are still to be matched; see the module docs). `country` is
/// the seller's ISO 3166-1 country, for phone numbers in national form.
pub fn normalize_all(
    identifiers: &Identifiers,
    country: Option<&str>,
    legacy: &[Normalization],
) -> NormalizedSet {
    let mut set = NormalizedSet::default();
    for (kind, name, values) in by_kind(identifiers) {
        if values.len() > MAX_PER_KIND {
            set.too_many.push((
                name.to_owned(),
                format!("must have at most {MAX_PER_KIND} entries"),
            ));
            continue;
        }
        for (i, raw) in values.iter().enumerate() {
            match identifiers::normalize(kind, raw, country) {
                Ok(current) => {
                    let legacy = legacy_forms(kind, raw, &current, country, legacy);
                    set.normalized.push(Normalized {
                        kind: identifiers::hash_kind(kind, Normalization::CURRENT, &current),
                        current,
                        legacy,
                    });
                }
                Err(reason) => set.invalid.push((format!("{name}[{i}]"), reason)),
            }
        }
    }
    set
}

/// The forms of one value under older versions: each version's rules applied to the raw value
/// and to the current form, without repeats or the current form itself.
fn legacy_forms(
    kind: IdentifierKind,
    raw: &str,
    current: &str,
    country: Option<&str>,
    versions: &[Normalization],
) -> Vec<(Normalization, String)> {
    let mut forms: Vec<(Normalization, String)> = Vec::new();
    let older = versions.iter().filter(|v| **v < Normalization::CURRENT);
    // The version whose forms were last computed: one that reads the kind alike gives the
    // same forms, which would be dropped as repeats, so they are not computed again.
    let mut computed: Option<Normalization> = None;
    for &version in older.filter(|v| !v.reads_alike(Normalization::CURRENT, kind)) {
        if computed.is_some_and(|last| last.reads_alike(version, kind)) {
            continue;
        }
        computed = Some(version);
        // The current form of a registration or tax number may name its register
        // (`GB:...`), and from version 6 that of a national bank account its country, which
        // older versions never read: then only the raw value gives theirs.
        let inputs: &[&str] = if current.contains(':') && kind.is_strong() {
            &[raw]
        } else {
            &[raw, current]
        };
        for &input in inputs {
            if let Ok(form) = identifiers::normalize_as(version, kind, input, country)
                && form != current
                && !forms.iter().any(|(_, f)| *f == form)
            {
                forms.push((version, form));
            }
        }
    }
    forms
}

/// The keyed hashes of normalised identifiers under `key`, as the contract carries them:
/// each primary hash (current version) and its legacy hashes, sorted by kind and hash, each
/// hash once (the newest version wins).
pub fn hash_all(normalized: &[Normalized], key: &IdentifierKey) -> Vec<HashedIdentifier> {
    let mut hashed: Vec<HashedIdentifier> = Vec::new();
    for item in normalized {
        hashed.push(hashed_one(
            item.kind,
            &item.current,
            Normalization::CURRENT,
            key,
        ));
        for (version, form) in &item.legacy {
            // Each version's own kind: a national account number was a bank account before
            // version 6.
            let kind = identifiers::hash_kind(item.kind.field(), *version, form);
            hashed.push(hashed_one(kind, form, *version, key));
        }
    }
    hashed.sort_by(|a, b| {
        (a.kind, &a.hash)
            .cmp(&(b.kind, &b.hash))
            .then(b.normalization_version.cmp(&a.normalization_version))
    });
    hashed.dedup_by(|later, earlier| later.kind == earlier.kind && later.hash == earlier.hash);
    hashed
}

/// The hashes a profile's `identifiers` carried when `version` (2 or later) was the current
/// normalisation: each valid value's form under that version, hashed as that version, sorted
/// and without repeats, as [`hash_all`] kept them then (its legacy hashes are not part of a
/// report's content). Ingest recognises a retry of a report stored before an upgrade by them
/// (found by a tester: a profile stored under version 5 and sent again after version 6 was
/// ALREADY_EXISTS).
pub fn hash_as_current_in(
    version: Normalization,
    identifiers: &Identifiers,
    country: Option<&str>,
    key: &IdentifierKey,
) -> Vec<HashedIdentifier> {
    let mut hashed: Vec<HashedIdentifier> = by_kind(identifiers)
        .into_iter()
        .filter(|(_, _, values)| values.len() <= MAX_PER_KIND)
        .flat_map(|(kind, _, values)| {
            values.iter().filter_map(move |raw| {
                let form = identifiers::normalize_as(version, kind, raw, country).ok()?;
                let kind = identifiers::hash_kind(kind, version, &form);
                Some(hashed_one(kind, &form, version, key))
            })
        })
        .collect();
    hashed.sort_by(|a, b| (a.kind, &a.hash).cmp(&(b.kind, &b.hash)));
    hashed.dedup_by(|later, earlier| later.kind == earlier.kind && later.hash == earlier.hash);
    hashed
}

/// The keyed hash of one normalised value, as the contract carries it.
pub fn hashed_one(
    kind: IdentifierKind,
    normalized: &str,
    version: Normalization,
    key: &IdentifierKey,
) -> HashedIdentifier {
    HashedIdentifier {
        kind: proto_kind(kind) as i32,
        key_id: key.id().to_owned(),
        hash: key.hash_identifier(kind, normalized),
        normalization_version: version.number(),
    }
}

/// The version a set of hashes (one profile's) was made under: the newest version among
/// them; version 1 for hashes stored before versions were recorded.
pub fn primary_version(hashes: &[HashedIdentifier]) -> u32 {
    hashes
        .iter()
        .map(|h| h.normalization_version.max(1))
        .max()
        .unwrap_or(1)
}

/// Whether a hash shared by two profiles links them, given each side's version of that hash
/// and each profile's [`primary_version`]: when both are primary hashes (made under their
/// profile's own rules, whatever the versions), or when a legacy hash of one meets the
/// primary hash of a profile made under that very version. Two legacy hashes never link.
pub fn links_across_versions(
    (version_a, primary_a): (u32, u32),
    (version_b, primary_b): (u32, u32),
) -> bool {
    let (version_a, version_b) = (version_a.max(1), version_b.max(1));
    let a_primary = version_a == primary_a;
    let b_primary = version_b == primary_b;
    (a_primary && b_primary) || (a_primary != b_primary && version_a == version_b)
}

/// Whether a hash of `kind` that links two profiles ([`links_across_versions`], same
/// arguments) links them on its own, as a strong identifier, rather than only with similar
/// names. A bank-account hash made under a version before 6 may be of a national account
/// number without its bank, which names no account on its own; so where one side's is such
/// a legacy hash (the profile was sent again since, and its own hash of the number is
/// a national account number's or a scoped one's), the link is weak: a profile sent again
/// no longer keeps a false strong link to one stored before (found by a tester: a British
/// and an American seller with the same 8 digits). Two primary hashes keep their kind's
/// strength: an IBAN is the same hash under every version.
pub fn links_strongly(
    kind: IdentifierKind,
    (version_a, primary_a): (u32, u32),
    (version_b, primary_b): (u32, u32),
) -> bool {
    let old_account = |version: u32, primary: u32| {
        let version = version.max(1);
        version < primary.max(1) && version < Normalization::V6.number()
    };
    kind.is_strong()
        && !(kind == IdentifierKind::BankAccount
            && (old_account(version_a, primary_a) || old_account(version_b, primary_b)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn key() -> IdentifierKey {
        crate::identifiers::IdentifierKeys::parse(&format!("k1 {}", "ab".repeat(32)))
            .unwrap()
            .current()
            .clone()
    }

    fn ids(phones: &[&str], emails: &[&str]) -> Identifiers {
        Identifiers {
            phones: phones.iter().map(|s| s.to_string()).collect(),
            emails: emails.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn invalid_values_are_left_out_and_named() {
        let set = normalize_all(
            &ids(&["+1 650 253 0147 ext. 12", "call me"], &["a@b"]),
            None,
            &[Normalization::V1],
        );
        assert_eq!(set.normalized.len(), 1);
        assert_eq!(set.normalized[0].current, "+16502530147");
        assert_eq!(
            set.invalid,
            [
                (
                    "emails[0]".to_owned(),
                    "is not a valid e-mail address".to_owned()
                ),
                (
                    "phones[1]".to_owned(),
                    "is not a valid phone number".to_owned()
                ),
            ]
        );
        assert!(set.too_many.is_empty());
        let many: Vec<&str> = vec!["+1 650 253 0147"; 51];
        let set = normalize_all(&ids(&many, &[]), None, &[]);
        assert_eq!(set.too_many.len(), 1);
        assert!(set.normalized.is_empty());
    }

    #[test]
    fn a_labelled_value_keeps_its_version_2_form_as_legacy() {
        // Version 2 read "IBAN GB82 ..." as a national account "IBANGB82...": a profile
        // stored then still links through that legacy form, a new one through the IBAN.
        let identifiers = Identifiers {
            bank_accounts: vec!["IBAN GB85 WEST 1234 5641 0875 29".to_owned()],
            emails: vec!["mailto:sales@example.com".to_owned()],
            tax_numbers: vec!["VAT: DE136695976".to_owned()],
            phones: vec!["+44 20 7318 4623".to_owned()],
            ..Default::default()
        };
        let set = normalize_all(&identifiers, None, &[Normalization::V2]);
        let forms: Vec<(&str, Vec<&str>)> = set
            .normalized
            .iter()
            .map(|n| {
                (
                    n.current.as_str(),
                    n.legacy.iter().map(|(_, f)| f.as_str()).collect(),
                )
            })
            .collect();
        assert_eq!(
            forms,
            [
                ("DE136695976", vec!["VATDE136695976"]),
                ("GB85WEST12345641087529", vec!["IBANGB85WEST12345641087529"]),
                ("sales@example.com", vec!["mailto:sales@example.com"]),
                ("+442073184623", vec![]),
            ]
        );
    }

    /// A VAT number without its prefix: version 4 writes it prefixed, and keeps version 3's
    /// scoped form as a legacy form, so profiles stored under version 3 still link.
    #[test]
    fn a_bare_vat_number_keeps_its_version_3_form_as_legacy() {
        let identifiers = Identifiers {
            tax_numbers: vec!["136695976".to_owned(), "DE136695976".to_owned()],
            phones: vec!["+49 30 4172 9356".to_owned()],
            ..Default::default()
        };
        let set = normalize_all(&identifiers, Some("DE"), &[Normalization::V3]);
        let forms: Vec<(&str, &[(Normalization, String)])> = set
            .normalized
            .iter()
            .map(|n| (n.current.as_str(), n.legacy.as_slice()))
            .collect();
        assert_eq!(
            forms,
            [
                (
                    "DE136695976",
                    &[(Normalization::V3, "DE:136695976".to_owned())][..]
                ),
                ("DE136695976", &[][..]),
                ("+493041729356", &[][..]),
            ]
        );
    }

    /// A national account number: version 6 scopes it to the country and hashes it as a
    /// national account number (weak); its version-5 form, the bare number, is kept as a
    /// legacy bank-account hash, which links weakly ([`links_strongly`]). An IBAN needs no
    /// legacy form.
    #[test]
    fn a_national_account_keeps_its_version_5_form_as_a_bank_account_legacy() {
        let identifiers = Identifiers {
            bank_accounts: vec![
                "4017 8362".to_owned(),
                "GB07 NWBK 6016 1331 9268 27".to_owned(),
            ],
            ..Default::default()
        };
        let set = normalize_all(&identifiers, Some("GB"), &[Normalization::V5]);
        /// A value's hash kind, current form and legacy forms.
        type Forms<'a> = (IdentifierKind, &'a str, &'a [(Normalization, String)]);
        let forms: Vec<Forms> = set
            .normalized
            .iter()
            .map(|n| (n.kind, n.current.as_str(), n.legacy.as_slice()))
            .collect();
        assert_eq!(
            forms,
            [
                (
                    IdentifierKind::NationalBankAccount,
                    "GB:40178362",
                    &[(Normalization::V5, "40178362".to_owned())][..]
                ),
                (
                    IdentifierKind::BankAccount,
                    "GB07NWBK60161331926827",
                    &[][..]
                ),
            ]
        );
        let k = key();
        let hashed = hash_all(&set.normalized, &k);
        let legacy = hashed
            .iter()
            .find(|h| h.normalization_version == 5)
            .unwrap();
        assert_eq!(legacy.kind, pb::IdentifierKind::BankAccount as i32);
        assert_eq!(
            legacy.hash,
            k.hash_identifier(IdentifierKind::BankAccount, "40178362")
        );
        assert_eq!(
            hashed
                .iter()
                .filter(|h| h.kind == pb::IdentifierKind::NationalBankAccount as i32)
                .count(),
            1
        );
        assert_eq!(
            domain_kind(pb::IdentifierKind::NationalBankAccount as i32),
            Some(IdentifierKind::NationalBankAccount)
        );
        assert_eq!(domain_kind(99), None);
    }

    #[test]
    fn old_bank_account_hashes_link_strongly_only_between_profiles_of_their_version() {
        use IdentifierKind::*;
        let (resent_legacy, old_primary, new_primary) = ((5, 6), (5, 5), (6, 6));
        // Two profiles stored under version 5: their hashes keep their kind's strength.
        assert!(links_strongly(BankAccount, old_primary, old_primary));
        // An IBAN (one hash under every version) meets an old profile's: strong.
        assert!(links_strongly(BankAccount, new_primary, old_primary));
        // A profile sent again meets an old one through its version-5 legacy hash: weak.
        assert!(!links_strongly(BankAccount, resent_legacy, old_primary));
        assert!(!links_strongly(BankAccount, old_primary, resent_legacy));
        assert!(links_strongly(TaxNumber, resent_legacy, old_primary));
        assert!(!links_strongly(
            NationalBankAccount,
            new_primary,
            new_primary
        ));
        assert!(!links_strongly(Phone, new_primary, new_primary));
    }

    #[test]
    fn legacy_forms_appear_only_where_the_rules_differ() {
        // Plain values: version 1 agrees, so one hash serves both.
        let set = normalize_all(
            &ids(&["+44 20 7318 4623"], &["info@example.com"]),
            None,
            &[Normalization::V1],
        );
        assert!(set.normalized.iter().all(|n| n.legacy.is_empty()));
        let hashed = hash_all(&set.normalized, &key());
        assert_eq!(hashed.len(), 2);
        assert!(
            hashed
                .iter()
                .all(|h| h.normalization_version == Normalization::CURRENT.number())
        );

        // Hungarian trunk prefix: version 1 read "06 1 ..." as "+36 6 1 ...".
        let set = normalize_all(
            &ids(&["06 1 457 8823"], &[]),
            Some("HU"),
            &[Normalization::V1],
        );
        assert_eq!(set.normalized[0].current, "+3614578823");
        assert_eq!(
            set.normalized[0].legacy,
            [(Normalization::V1, "+36614578823".to_owned())]
        );
        let hashed = hash_all(&set.normalized, &key());
        assert_eq!(
            hashed
                .iter()
                .map(|h| h.normalization_version)
                .collect::<Vec<_>>()
                .len(),
            2
        );
        // Without legacy versions, only the primary hash.
        let set = normalize_all(&ids(&["06 1 457 8823"], &[]), Some("HU"), &[]);
        assert_eq!(hash_all(&set.normalized, &key()).len(), 1);
    }

    #[test]
    fn version_one_hashes_of_a_clean_value_equal_the_current_ones() {
        let k = key();
        let v1 = identifiers::normalize_as(
            Normalization::V1,
            IdentifierKind::TaxNumber,
            "DE 136 695 976",
            None,
        )
        .unwrap();
        let v2 = identifiers::normalize(IdentifierKind::TaxNumber, "ＤＥ１３６６９５９７６", None)
            .unwrap();
        assert_eq!(
            k.hash_identifier(IdentifierKind::TaxNumber, &v1),
            k.hash_identifier(IdentifierKind::TaxNumber, &v2)
        );
    }

    #[test]
    fn the_version_rule() {
        // (version of the shared hash, primary version of its profile)
        let new_primary = (2, 2);
        let new_legacy = (1, 2);
        let old = (1, 1);
        let old_unversioned = (0, 1);
        assert!(links_across_versions(new_primary, new_primary));
        assert!(links_across_versions(new_primary, old));
        assert!(links_across_versions(new_legacy, old));
        assert!(links_across_versions(old_unversioned, new_legacy));
        assert!(links_across_versions(old, old_unversioned));
        assert!(!links_across_versions(new_legacy, new_legacy));
        assert!(!links_across_versions(new_legacy, new_primary));
        assert_eq!(primary_version(&[]), 1);
        let h = |v| HashedIdentifier {
            normalization_version: v,
            ..Default::default()
        };
        assert_eq!(primary_version(&[h(0), h(0)]), 1);
        assert_eq!(primary_version(&[h(1), h(2)]), 2);
    }
}
