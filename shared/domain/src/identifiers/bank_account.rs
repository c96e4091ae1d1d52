//! Bank and payout accounts: IBANs checked against the IBAN registry (the `iban_validate`
//! crate: check digits and each country's account format), other account numbers taken as
//! they are printed and, from version 6, as their country's ([`in_country`]), weak unless
//! they carry their bank's code ([`names_its_bank`]).

use iban::{BaseIban, Iban, IbanLike, ParseIbanError};

/// Normalises a cleaned bank account ([`super::text::clean`]).
///
/// Separators (spaces, dashes, dots, slashes) are dropped and letters upper-cased. Then:
/// - a value that starts with two letters and two digits is an **IBAN**: its ISO 7064
///   check digits must be right and, for a country in the IBAN registry, its account part
///   must have that country's format (an IBAN of a country the registry does not list yet
///   is accepted on its check digits). Result: the electronic form,
///   `"de93 3704 0044 0817 2635 44"` gives `"DE93370400440817263544"`;
/// - anything else is a **national account number** (a US routing and account number, a
///   Chinese bank card number, a sort code and account): accepted as 6 to 34 letters and
///   digits, as national systems have no common check.
///
/// Errors: "is not a valid IBAN: ..." with the reason, "must be an IBAN or an account number
/// of 6 to 34 letters or digits".
///
/// With `labels` (version 3 on), the `IBAN` of the paper format is dropped first
/// ([`super::labels::bank_account`]), and refused are: words without a digit (`PayPal`),
/// accounts printed as examples (the IBAN registry's, test card numbers) and placeholder
/// national numbers ([`super::placeholders`]).
pub fn normalize(value: &str, labels: bool) -> Result<String, String> {
    let compact: String = value
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_uppercase)
        .collect();
    let compact = if labels {
        super::labels::bank_account(&compact)
    } else {
        &compact
    };
    if labels && super::placeholders::has_no_digit(compact) {
        return Err(if super::placeholders::is_placeholder(compact) {
            "is a placeholder, not an account (such as 000000)"
        } else {
            "has no digits: an account number, not words (such as PayPal or cash on delivery)"
        }
        .to_owned());
    }
    if labels && super::placeholders::is_scientific_notation(value) {
        return Err(super::placeholders::SCIENTIFIC.to_owned());
    }
    if labels
        && !looks_like_iban(compact)
        && !compact.chars().all(|c| c.is_ascii_digit())
        && compact.chars().filter(char::is_ascii_digit).count() < 6
    {
        // Seller consoles show a payout account as its last digits in words (found by a
        // tester: `ending in 4821` linked two sellers whose accounts ended alike).
        return Err(
            "has too few digits for an account (such as ending in 4821): the whole IBAN or account number"
                .to_owned(),
        );
    }
    if labels && super::placeholders::is_example_account(compact) {
        return Err("is an example printed in documentation, not an account".to_owned());
    }
    if looks_like_iban(compact) {
        return match compact.parse::<Iban>() {
            Ok(iban) => Ok(iban.electronic_str().to_owned()),
            Err(ParseIbanError::UnknownCountry(base)) => Ok(base.electronic_str().to_owned()),
            Err(ParseIbanError::InvalidBban(_)) => {
                Err("is not a valid IBAN: the account part does not fit its country".to_owned())
            }
            Err(ParseIbanError::InvalidBaseIban { .. }) => match compact.parse::<BaseIban>() {
                Err(iban::ParseBaseIbanError::InvalidChecksum) => {
                    Err("is not a valid IBAN: wrong check digits".to_owned())
                }
                _ => Err("is not a valid IBAN: wrong length or characters".to_owned()),
            },
        };
    }
    if !(6..=34).contains(&compact.chars().count()) || !compact.is_ascii() {
        Err("must be an IBAN or an account number of 6 to 34 letters or digits".to_owned())
    } else if labels && super::placeholders::is_placeholder(compact) {
        Err("is a placeholder, not an account (such as 000000)".to_owned())
    } else {
        Ok(compact.to_owned())
    }
}

/// Words that label the parts of a national account as payout forms print them (version 6):
/// a UK sort code and account, a US routing (ABA) number and account, an Australian BSB, a
/// Canadian transit and institution number.
const NATIONAL_LABELS: &[&str] = &[
    "ABA",
    "AC",
    "ACC",
    "ACCOUNT",
    "ACCT",
    "BANK",
    "BSB",
    "CODE",
    "INSTITUTION",
    "NO",
    "NR",
    "NUMBER",
    "ROUTING",
    "RTN",
    "SC",
    "SORT",
    "SORTCODE",
    "TRANSIT",
];

/// A national account written with the labels of its parts, as its digits (version 6 on):
/// `Sort code 20-00-00, account 40178362` is `20000040178362`, `S/C 20-00-00 A/C 40178362`
/// the same, and a British account written before its sort code, `40178362 (20-00-00)`, is
/// put after it. `None` when `value` is anything else (no label, or a word that is none),
/// which is then read as it is (found by a tester: labelled sort codes and accounts were kept
/// with their words and met no unlabelled form, and `S/C ...` was read as a Seychelles IBAN).
pub fn national_parts(value: &str, country: Option<&str>) -> Option<String> {
    let mut groups: Vec<String> = Vec::new();
    let mut labelled = false;
    for token in value.split(|c: char| c.is_whitespace() || ",;:()[]#".contains(c)) {
        let compact: String = token
            .chars()
            .filter(|c| !matches!(c, '-' | '.' | '/' | '\u{2010}'..='\u{2015}'))
            .collect();
        if compact.is_empty() {
            continue;
        }
        if compact.bytes().all(|b| b.is_ascii_digit()) {
            groups.push(compact);
        } else if NATIONAL_LABELS.contains(&compact.to_ascii_uppercase().as_str()) {
            labelled = true;
        } else {
            return None;
        }
    }
    // A British account before its sort code is put after it, labelled or not.
    let british = country.is_some_and(|c| c.trim().eq_ignore_ascii_case("GB"));
    let reversed = british && groups.len() == 2 && groups[0].len() == 8 && groups[1].len() == 6;
    if reversed {
        groups.swap(0, 1);
    }
    // Too few digits are no account: the words' own check says so (`account 1234`).
    let digits: usize = groups.iter().map(String::len).sum();
    ((labelled || reversed) && digits >= 6).then(|| groups.concat())
}

/// A bank account as its country's banks know it (version 6 on): an IBAN stays as it is
/// (its country and bank are in it, and it is one account whatever country a platform
/// records); a national account number is prefixed with the seller's country
/// (`GB:40178362`), as national numbering is each country's own and the same digits name
/// unrelated accounts in two countries (found by a tester: a British seller's `40178362`
/// and an American seller's were linked, and a finding against the one blacklisted the
/// other). Without a country the number stays as it is, and meets only numbers given
/// without one.
pub fn in_country(account: String, country: Option<&str>) -> String {
    if looks_like_iban(&account) {
        return account;
    }
    match country.map(str::trim).filter(|c| c.len() == 2) {
        Some(country) => format!("{}:{account}", country.to_ascii_uppercase()),
        None => account,
    }
}

/// Whether a bank account normalised under version 6 ([`in_country`]) names its bank, and
/// so one account on its own: an IBAN, or a national number with its bank's code where the
/// country's form is known: a UK sort code and account number (`GB:` and 14 digits). Any
/// other national number (a US routing and account number too), and one
/// given without a country, is unique only within a bank the value does not name, so it
/// links as a weak identifier, with a similar name only
/// ([`super::IdentifierKind::NationalBankAccount`]).
pub fn names_its_bank(normalized: &str) -> bool {
    if looks_like_iban(normalized) {
        return true;
    }
    let Some((country, number)) = normalized.split_once(':') else {
        return false;
    };
    if !number.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    // A US routing number cannot be told from the first digits of a long account number
    // once the two are written as one run (found by a tester: a bare 14-digit account whose
    // first nine digits passed the ABA check linked, and blacklisted, an innocent seller), so
    // US numbers stay weak, as other countries' do. A UK account number has 8 digits: 14 are
    // a sort code and an account.
    country == "GB" && number.len() == 14
}

/// Two ASCII letters then two digits: how every IBAN begins, and no national account number.
pub(super) fn looks_like_iban(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 4
        && b[..2].iter().all(u8::is_ascii_uppercase)
        && b[2..4].iter().all(u8::is_ascii_digit)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::super::{IdentifierKind::BankAccount, normalize as normalize_kind};

    fn ok(raw: &str) -> String {
        normalize_kind(BankAccount, raw, None).unwrap_or_else(|e| panic!("{raw}: {e}"))
    }

    fn err(raw: &str) -> String {
        normalize_kind(BankAccount, raw, None).expect_err(raw)
    }

    #[test]
    fn ibans_of_many_countries_in_print_and_electronic_form() {
        assert_eq!(ok("DE93 3704 0044 0817 2635 44"), "DE93370400440817263544");
        assert_eq!(ok("de93-3704-0044-0817-2635-44"), "DE93370400440817263544");
        assert_eq!(
            ok("ＤＥ９３３７０４００４４０８１７２６３５４４"),
            "DE93370400440817263544"
        );
        assert_eq!(ok("GB07 NWBK 6016 1331 9268 27"), "GB07NWBK60161331926827");
        assert_eq!(
            ok("HU68 1177 3016 1111 1018 0000 0017"),
            "HU68117730161111101800000017"
        );
        assert_eq!(
            ok("FR89 2004 1010 0505 0001 3M02 614"),
            "FR8920041010050500013M02614"
        );
        assert_eq!(
            ok("MT03 MALT 0110 0001 2345 MTLC AST0 02S"),
            "MT03MALT011000012345MTLCAST002S"
        );
        assert_eq!(
            ok("RO75 AAAA 1B31 0075 9384 0017"),
            "RO75AAAA1B31007593840017"
        );
    }

    /// Found by a tester: each linked unrelated sellers, and one finding listed them all.
    #[test]
    fn examples_words_and_test_cards_are_not_accounts() {
        for raw in [
            "GB82 WEST 1234 5698 7654 32",
            "DE89 3704 0044 0532 0130 00",
            "GB29 NWBK 6016 1331 9268 19",
            "4111 1111 1111 1111",
            "4242-4242-4242-4242",
            // A second round of the tester's: the registry's examples of other countries.
            "LT12 1000 0111 0100 1000",
            "TR33 0006 1005 1978 6457 8413 26",
            "HU42 1177 3016 1111 1018 0000 0000",
            "SA03 8000 0000 6080 1016 7519",
        ] {
            assert!(err(raw).contains("example"), "{raw}: {}", err(raw));
        }
        for raw in ["PayPal", "Alipay", "Cash on delivery", "Überweisung"] {
            assert!(err(raw).starts_with("has no digits"), "{raw}: {}", err(raw));
        }
        // Version 2 took them: its hashes stay as they were.
        assert_eq!(
            super::super::normalize_as(
                super::super::Normalization::V2,
                BankAccount,
                "GB82 WEST 1234 5698 7654 32",
                None
            )
            .unwrap(),
            "GB82WEST12345698765432"
        );
    }

    /// Found by a tester: a British seller's account number `40178362` and an American
    /// seller's were one hash, and so were two British sellers' of two banks; a finding
    /// against one blacklisted the others. From version 6 a national number is its
    /// country's, and without its bank's code a weak identifier of its own kind.
    #[test]
    fn national_numbers_are_their_country_s_and_weak_without_their_bank() {
        use super::super::{
            IdentifierKind::NationalBankAccount, Normalization, hash_kind, normalize_as,
        };
        let in_country = |raw: &str, country: &str| {
            let form = normalize_kind(BankAccount, raw, Some(country)).unwrap();
            let kind = hash_kind(BankAccount, Normalization::V6, &form);
            (form, kind)
        };
        assert_eq!(
            in_country("40178362", "GB"),
            ("GB:40178362".to_owned(), NationalBankAccount)
        );
        // The labels of the parts, in either order (found by a tester).
        for labelled in [
            "Sort code 20-00-00, account 40178362",
            "sort 200000 acc 40178362",
            "S/C 20-00-00 A/C 40178362",
            "40178362 (20-00-00)",
            "Account No. 40178362, Sort Code: 20-00-00",
        ] {
            assert_eq!(
                in_country(labelled, "GB"),
                ("GB:20000040178362".to_owned(), BankAccount),
                "{labelled}"
            );
        }
        assert_eq!(
            in_country("Routing 021000021 Account 4455667788", "US").0,
            "US:0210000214455667788"
        );
        // A word that is no label leaves the value as it is written.
        assert_eq!(super::national_parts("Barclays 40178362", Some("GB")), None);
        assert_eq!(
            in_country("4017 8362", "us"),
            ("US:40178362".to_owned(), NationalBankAccount)
        );
        // With its bank's code: a UK sort code.
        assert_eq!(
            in_country("20-00-00 40178362", "GB"),
            ("GB:20000040178362".to_owned(), BankAccount)
        );
        // A US routing number is no different from an account's first digits: weak.
        assert_eq!(
            in_country("021000021 / 40178362", "US"),
            ("US:02100002140178362".to_owned(), NationalBankAccount)
        );
        assert_eq!(in_country("63100251678008", "US").1, NationalBankAccount);
        // 14 digits name a British bank, not an American one.
        assert_eq!(in_country("20000040178362", "US").1, NationalBankAccount);
        // An IBAN stays as it is and strong, whatever the country.
        assert_eq!(
            in_country("GB07 NWBK 6016 1331 9268 27", "US"),
            ("GB07NWBK60161331926827".to_owned(), BankAccount)
        );
        // Without a country: unscoped, and weak.
        let bare = normalize_kind(BankAccount, "40178362", None).unwrap();
        assert_eq!(bare, "40178362");
        assert_eq!(
            hash_kind(BankAccount, Normalization::V6, &bare),
            NationalBankAccount
        );
        // Version 5 took every national number as it was, as a bank account.
        let v5 = normalize_as(Normalization::V5, BankAccount, "40178362", Some("GB")).unwrap();
        assert_eq!(v5, "40178362");
        assert_eq!(hash_kind(BankAccount, Normalization::V5, &v5), BankAccount);
    }

    #[test]
    fn bad_ibans_say_why() {
        assert_eq!(
            err("DE93 3704 0044 0817 2635 45"),
            "is not a valid IBAN: wrong check digits"
        );
        // Right check digits, but a German account part must be 18 digits.
        assert_eq!(
            err("DE86 3704 0044 0532 0130"),
            "is not a valid IBAN: the account part does not fit its country"
        );
        assert_eq!(
            err(&format!("DE89{}", "1".repeat(40))),
            "is not a valid IBAN: wrong length or characters"
        );
    }

    #[test]
    fn national_account_numbers_are_accepted_as_printed() {
        assert_eq!(ok("021000021 / 123456789"), "021000021123456789");
        assert_eq!(ok("6222 0202 0000 1234 567"), "6222020200001234567");
        assert_eq!(ok("12-34-56 12345678"), "12345612345678");
        assert_eq!(
            err("12345"),
            "must be an IBAN or an account number of 6 to 34 letters or digits"
        );
        // Found by a tester: the last digits in words linked sellers whose accounts ended
        // alike; a spreadsheet's scientific notation too.
        for shown in ["ending in 4821", "account 1234", "Konto endet auf 4821"] {
            assert!(err(shown).starts_with("has too few digits"), "{shown}");
        }
        assert!(err("1.0E+10").contains("scientific notation"));
        assert_eq!(
            err(&"1".repeat(35)),
            "must be an IBAN or an account number of 6 to 34 letters or digits"
        );
        for filler in ["000000", "0000 0000 0000", "123456789"] {
            assert_eq!(
                err(filler),
                "is a placeholder, not an account (such as 000000)"
            );
        }
    }
}
