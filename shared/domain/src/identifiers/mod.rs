//! Seller identifiers: what each kind accepts and how it is normalised, so that the same
//! real-world value always gives the same string, and so the same keyed hash, whoever reported
//! it and however they typed it.
//!
//! Every value is first cleaned the same way ([`text::clean`]): Unicode NFKC (full-width
//! `９１４４` becomes `9144`, `＋` becomes `+`), format characters removed (zero-width space
//! U+200B, byte-order mark U+FEFF, soft hyphen, bidi marks: the whole Unicode `Cf` category),
//! whitespace unified and trimmed. Then one small module per kind applies the field's own
//! library: [`phone`] (libphonenumber's metadata, every country), [`bank_account`] (IBAN
//! rules of every registry country), [`email`] and [`web_domain`] (IDNA: Unicode and punycode
//! forms of a domain agree), [`registration`] (registration and tax numbers) and [`address`].
//!
//! Normalisation is versioned ([`Normalization`]): raw identifiers are never stored, so a
//! hash made under an older version can only be matched by hashing a new value the old way
//! too. Version 1 ([`v1`]) is frozen for that; see [`crate::hashing`].

pub mod address;
pub mod bank_account;
pub mod email;
mod keys;
pub mod labels;
mod numbering_plan;
pub mod phone;
pub mod placeholders;
pub mod registers;
pub mod registration;
pub mod text;
pub(crate) mod v1;
pub mod web_domain;

pub use keys::{IdentifierKey, IdentifierKeys, KeyFileError};

/// The kinds of seller identifier that members report and the exchange matches on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IdentifierKind {
    /// Company or trade register number.
    BusinessRegistration,
    /// VAT, sales-tax or other tax identification number.
    TaxNumber,
    /// Bank account number or IBAN that receives payments.
    BankAccount,
    /// Postal address (business, warehouse, return address).
    Address,
    /// E-mail address.
    Email,
    /// Telephone number.
    Phone,
    /// Web domain of a shop or contact site.
    WebDomain,
    /// A national bank account number given without its bank's code (a UK account number
    /// without its sort code, a US one without its routing number), from normalisation
    /// version 6: unique only within its bank, so the same digits name unrelated accounts of
    /// two banks (found by a tester). Given in `bank_accounts`; hashed with its country
    /// ([`bank_account::in_country`]).
    NationalBankAccount,
}

impl IdentifierKind {
    /// Every kind, in declaration order, for iterating (tests, metrics, admin listings).
    pub const ALL: [IdentifierKind; 8] = [
        IdentifierKind::BusinessRegistration,
        IdentifierKind::TaxNumber,
        IdentifierKind::BankAccount,
        IdentifierKind::Address,
        IdentifierKind::Email,
        IdentifierKind::Phone,
        IdentifierKind::WebDomain,
        IdentifierKind::NationalBankAccount,
    ];

    /// Stable lowercase tag used inside hashes and logs. Never change one: every stored hash
    /// depends on it.
    pub fn tag(self) -> &'static str {
        match self {
            IdentifierKind::BusinessRegistration => "business_registration",
            IdentifierKind::TaxNumber => "tax_number",
            IdentifierKind::BankAccount => "bank_account",
            IdentifierKind::Address => "address",
            IdentifierKind::Email => "email",
            IdentifierKind::Phone => "phone",
            IdentifierKind::WebDomain => "web_domain",
            IdentifierKind::NationalBankAccount => "national_bank_account",
        }
    }

    /// The kind of the field a value of this kind is given in, and of the hashes versions
    /// before 6 made of it: a national account number is given, and was hashed, as a bank
    /// account.
    pub fn field(self) -> IdentifierKind {
        match self {
            IdentifierKind::NationalBankAccount => IdentifierKind::BankAccount,
            kind => kind,
        }
    }

    /// Registration, tax and bank identifiers identify a business on their own; the others
    /// (shared addresses, forwarded phones, reused mailboxes, and from version 6 a national
    /// account number without its bank's code) link sellers only together with a similar
    /// name.
    pub fn is_strong(self) -> bool {
        matches!(
            self,
            IdentifierKind::BusinessRegistration
                | IdentifierKind::TaxNumber
                | IdentifierKind::BankAccount
        )
    }
}

/// A version of the normalisation rules. Every hash records the version that made it (the
/// contract's `HashedIdentifier.normalization_version`), so that a change of rules never
/// silently orphans the hashes already stored: while older versions are in use, identifiers
/// are hashed under the older rules too (see [`crate::hashing`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Normalization {
    /// The hand-written rules used before versions were recorded (hashes with version 0 on
    /// the wire were made under it). Frozen.
    V1,
    /// NFKC and format characters first, then a field library per kind: libphonenumber,
    /// IBAN registry rules, IDNA.
    V2,
    /// Version 2, and printed labels dropped from bank accounts (`IBAN GB82 ...`), e-mail
    /// addresses (`mailto:`, `Name <...>`) and registration and tax numbers (`VAT:`,
    /// `USt-IdNr.`): see [`labels`]; placeholders (`NONE`, `0000000000`) refused as
    /// registration and tax numbers and national bank accounts: see [`placeholders`]. Other
    /// kinds read as in version 2.
    V3,
    /// Version 3, and a tax number given without its VAT prefix by a seller of a VAT country
    /// written with it: `136695976` from a German seller is `DE136695976`, as printed on an
    /// invoice (version 3 scoped it as `DE:136695976`, which never met the prefixed form:
    /// found by a tester). See [`registration::tax_in_register`]. A Russian `ИНН/КПП` pair is
    /// its INN, and a German register number is read with its registry court and refused
    /// without one ([`registers`]). Other kinds read as in version 3.
    V4,
    /// Version 4, and forms that named one party apart (found by a tester): a Swiss or
    /// Norwegian VAT number with its register's suffix (`CHE-116.281.710 MWST`,
    /// `NO 923 609 016 MVA`) is the number without it whatever the seller's country; a German
    /// registry court is read in its ASCII spelling as well (`Muenchen` is `München`), and a
    /// number with the court's letter (`HRB 84729 B`) is that number whether the court is
    /// named or not; in an address, spaces between Chinese or Japanese characters, or
    /// between them and digits, are dropped (`南山区 1号楼` is `南山区1号楼`), and US postal
    /// forms read alike (`Parkway` and `Pkwy`, `California` and `CA`, a trailing `USA`).
    /// Other kinds read as in version 4.
    V5,
    /// Version 5, and a national bank account number (not an IBAN) is its country's, as a
    /// registration number of digits only is: hashed with the seller's country
    /// (`GB:40178362`), and, given without its bank's code (a UK sort code),
    /// a weak identifier of its own kind ([`IdentifierKind::NationalBankAccount`]): the
    /// same digits named accounts of two banks, or of two countries, and a finding against
    /// one blacklisted the other (found by a tester). See [`bank_account::in_country`].
    /// IBANs, and other kinds, read as in version 5.
    V6,
}

impl Normalization {
    /// The version new identifiers are normalised and hashed with.
    pub const CURRENT: Normalization = Normalization::V6;
    /// Every version, oldest first.
    pub const ALL: [Normalization; 6] = [
        Normalization::V1,
        Normalization::V2,
        Normalization::V3,
        Normalization::V4,
        Normalization::V5,
        Normalization::V6,
    ];

    /// The version's number, as the contract carries it (1, 2, ...).
    pub fn number(self) -> u32 {
        match self {
            Normalization::V1 => 1,
            Normalization::V2 => 2,
            Normalization::V3 => 3,
            Normalization::V4 => 4,
            Normalization::V5 => 5,
            Normalization::V6 => 6,
        }
    }

    /// The version a number on the wire stands for: 0 (a hash stored before versions were
    /// recorded) is version 1. `None` for a version this build does not know.
    pub fn from_number(number: u32) -> Option<Normalization> {
        match number {
            0 | 1 => Some(Normalization::V1),
            2 => Some(Normalization::V2),
            3 => Some(Normalization::V3),
            4 => Some(Normalization::V4),
            5 => Some(Normalization::V5),
            6 => Some(Normalization::V6),
            _ => None,
        }
    }

    /// Whether this version reads `kind` exactly as `other` does (then hashing a value under
    /// both gives one hash, and the older one need not be computed).
    pub fn reads_alike(self, other: Normalization, kind: IdentifierKind) -> bool {
        use Normalization::*;
        // A national account number was a bank account to every version before 6.
        let kind = kind.field();
        let (a, b) = (self.min(other), self.max(other));
        // Each step from one version to the next changes some kinds; versions read a kind
        // alike when no step between them changes it.
        let step_keeps = |to: Normalization| match to {
            V1 | V2 => false,
            V3 => !matches!(
                kind,
                IdentifierKind::BankAccount
                    | IdentifierKind::Email
                    | IdentifierKind::BusinessRegistration
                    | IdentifierKind::TaxNumber
            ),
            V4 => !matches!(
                kind,
                IdentifierKind::TaxNumber | IdentifierKind::BusinessRegistration
            ),
            V5 => !matches!(
                kind,
                IdentifierKind::TaxNumber
                    | IdentifierKind::BusinessRegistration
                    | IdentifierKind::Address
            ),
            V6 => !matches!(
                kind,
                IdentifierKind::BankAccount | IdentifierKind::NationalBankAccount
            ),
        };
        Normalization::ALL
            .into_iter()
            .filter(|v| *v > a && *v <= b)
            .all(step_keeps)
    }

    /// The versions before this one, newest first.
    pub fn older(self) -> impl Iterator<Item = Normalization> {
        Normalization::ALL
            .into_iter()
            .rev()
            .filter(move |v| *v < self)
    }
}

impl std::fmt::Display for Normalization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.number())
    }
}

impl std::str::FromStr for Normalization {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.trim()
            .parse::<u32>()
            .ok()
            .filter(|n| *n > 0)
            .and_then(Normalization::from_number)
            .ok_or_else(|| {
                format!("unknown normalisation version {s:?}: this build knows 1, 2, 3, 4, 5 and 6")
            })
    }
}

/// Normalises a raw identifier under the current rules ([`Normalization::CURRENT`]).
///
/// `country` is the seller's ISO 3166-1 alpha-2 country when known (any case), the country
/// of its registration: it reads phone numbers written in national form and, from version 3
/// on, names the register of a business registration number
/// ([`registration::in_register`]), and from version 6 the country of a national bank
/// account number ([`bank_account::in_country`]); [`hash_kind`] says whether such a number
/// is hashed as a bank account or as a national account number. `Err` is a short lowercase text for a
/// field violation or warning, e.g. "is not a valid e-mail address".
pub fn normalize(kind: IdentifierKind, raw: &str, country: Option<&str>) -> Result<String, String> {
    normalize_as(Normalization::CURRENT, kind, raw, country)
}

/// Normalises a raw identifier under the rules of `version`.
pub fn normalize_as(
    version: Normalization,
    kind: IdentifierKind,
    raw: &str,
    country: Option<&str>,
) -> Result<String, String> {
    let kind = kind.field();
    if version == Normalization::V1 {
        return v1::normalize(kind, raw, country);
    }
    let mut value = text::clean(raw)?;
    let labels = version >= Normalization::V3;
    let number = matches!(
        kind,
        IdentifierKind::BusinessRegistration
            | IdentifierKind::TaxNumber
            | IdentifierKind::BankAccount
            | IdentifierKind::Phone
    );
    if labels && number {
        value = text::ascii_digits(&value).into_owned();
    }
    if version >= Normalization::V4
        && matches!(
            kind,
            IdentifierKind::BusinessRegistration | IdentifierKind::TaxNumber
        )
    {
        let unlabelled = labels::number_with(&value, labels::NUMBER_LABELS_V4);
        if unlabelled.len() != value.len() {
            value = unlabelled.to_owned();
        }
        if let Some(inn) = registers::russian_inn(&value) {
            value = inn;
        } else if kind == IdentifierKind::BusinessRegistration
            && let Some(read) = registers::german_register(&value, version >= Normalization::V5)
        {
            return read;
        }
    }
    match kind {
        IdentifierKind::TaxNumber if version >= Normalization::V6 => {
            registration::normalize(&value, labels).map(|number| {
                registration::northern_ireland_as_gb(registration::tax_in_register(
                    registration::without_vat_suffix(number),
                    country,
                ))
            })
        }
        IdentifierKind::BusinessRegistration if version >= Normalization::V6 => {
            registration::normalize(&value, labels).map(|number| {
                registration::northern_ireland_as_gb(registration::in_register(number, country))
            })
        }
        IdentifierKind::TaxNumber if version >= Normalization::V5 => {
            registration::normalize(&value, labels).map(|number| {
                registration::tax_in_register(registration::without_vat_suffix(number), country)
            })
        }
        IdentifierKind::TaxNumber if version >= Normalization::V4 => {
            registration::normalize(&value, labels)
                .map(|number| registration::tax_in_register(number, country))
        }
        IdentifierKind::BusinessRegistration | IdentifierKind::TaxNumber
            if version >= Normalization::V3 =>
        {
            registration::normalize(&value, labels)
                .map(|number| registration::in_register(number, country))
        }
        IdentifierKind::BusinessRegistration | IdentifierKind::TaxNumber => {
            registration::normalize(&value, labels)
        }
        IdentifierKind::BankAccount if version >= Normalization::V6 => {
            let value = bank_account::national_parts(&value, country).unwrap_or(value);
            bank_account::normalize(&value, labels)
                .map(|account| bank_account::in_country(account, country))
        }
        IdentifierKind::BankAccount | IdentifierKind::NationalBankAccount => {
            bank_account::normalize(&value, labels)
        }
        IdentifierKind::Email => email::normalize(&value, labels),
        IdentifierKind::Phone => phone::normalize(&value, country, labels),
        IdentifierKind::Address => address::normalize(&value, version >= Normalization::V5),
        IdentifierKind::WebDomain => web_domain::normalize(&value).and_then(|host| {
            if labels && web_domain::is_shared_host(&host) {
                Err("is a shared platform's or mail provider's domain, not the seller's own (such as ebay.com or gmail.com)".to_owned())
            } else {
                Ok(host)
            }
        }),
    }
}

/// The kind a value given as `kind` and normalised under `version` to `normalized` is
/// hashed as: from version 6 a bank account that is neither an IBAN nor a national number
/// with its bank's code is a [`IdentifierKind::NationalBankAccount`]
/// ([`bank_account::names_its_bank`]); every other value is of the kind it was given as.
pub fn hash_kind(kind: IdentifierKind, version: Normalization, normalized: &str) -> IdentifierKind {
    match kind.field() {
        IdentifierKind::BankAccount
            if version >= Normalization::V6 && !bank_account::names_its_bank(normalized) =>
        {
            IdentifierKind::NationalBankAccount
        }
        kind => kind,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    use IdentifierKind::*;

    // --- kinds ---

    #[test]
    fn tags_are_stable_and_distinct() {
        let tags: Vec<&str> = IdentifierKind::ALL.iter().map(|k| k.tag()).collect();
        assert_eq!(
            tags,
            [
                "business_registration",
                "tax_number",
                "bank_account",
                "address",
                "email",
                "phone",
                "web_domain",
                "national_bank_account"
            ]
        );
    }

    #[test]
    fn strong_kinds_are_registration_tax_and_bank() {
        let strong: Vec<IdentifierKind> = IdentifierKind::ALL
            .into_iter()
            .filter(|k| k.is_strong())
            .collect();
        assert_eq!(strong, [BusinessRegistration, TaxNumber, BankAccount]);
        assert_eq!(NationalBankAccount.field(), BankAccount);
        assert_eq!(Phone.field(), Phone);
    }

    #[test]
    fn all_is_sorted_and_complete() {
        let mut sorted = IdentifierKind::ALL;
        sorted.sort();
        assert_eq!(sorted, IdentifierKind::ALL);
    }

    #[test]
    fn versions_round_trip() {
        assert_eq!(Normalization::from_number(0), Some(Normalization::V1));
        for v in Normalization::ALL {
            assert_eq!(Normalization::from_number(v.number()), Some(v));
            assert_eq!(v.to_string().parse::<Normalization>().unwrap(), v);
        }
        assert_eq!(Normalization::from_number(7), None);
        assert!("0".parse::<Normalization>().is_err());
        assert!("x".parse::<Normalization>().is_err());
        assert_eq!(
            Normalization::V6.older().collect::<Vec<_>>(),
            [
                Normalization::V5,
                Normalization::V4,
                Normalization::V3,
                Normalization::V2,
                Normalization::V1
            ]
        );
        assert_eq!(Normalization::V1.older().count(), 0);
    }

    #[test]
    fn every_kind_cleans_before_its_rules() {
        // NFKC, zero-width and format characters, whatever the kind.
        assert_eq!(
            normalize(TaxNumber, "\u{feff}ＤＥ１３６６９５９７６", None).unwrap(),
            "DE136695976"
        );
        assert_eq!(
            normalize(Email, "in\u{200b}fo@example.com", None).unwrap(),
            "info@example.com"
        );
        for kind in IdentifierKind::ALL {
            assert_eq!(
                normalize(kind, " \u{200b} ", None).unwrap_err(),
                "must not be empty"
            );
        }
    }
}
