//! Values that fill a required field instead of a number (normalisation version 3): `NONE`,
//! `N/A`, `0000000000`, `123456789`, `not provided`, `xxxx`. Marketplace exports are full of
//! them, and as strong identifiers they linked every seller that gave one into one cluster,
//! so that one confirmed finding listed them all (found by a tester).

/// Words that stand for "no number", in letters only, upper case; a placeholder is any
/// sequence of them (`NOTREGISTERED`, `VATEXEMPT`, `NICHTVORHANDEN`, `SINRFC`).
const WORDS: &[&str] = &[
    "APPLIED",
    "AUCUN",
    "DUMMY",
    "EMPTY",
    "EXEMPT",
    "FOR",
    "GIVEN",
    "KEINE",
    "NA",
    "NICHT",
    "NIL",
    "NINGUNO",
    "NO",
    "NONE",
    "NOT",
    "NOTAPPLICABLE",
    "NOTAVAILABLE",
    "NOTPROVIDED",
    "NOVAT",
    "NULL",
    "NUMBER",
    "PENDING",
    "REGISTERED",
    "RFC",
    "SAMPLE",
    "SIN",
    "TAX",
    "TBA",
    "TBD",
    "TEST",
    "UNDEFINED",
    "UNKNOWN",
    "UNREGISTERED",
    "VAT",
    "VORHANDEN",
];

/// Generic numbers a register issues for "anyone": Mexico's RFC for the general public and
/// for foreign parties.
const GENERIC: &[&str] = &["XAXX010101000", "XEXX010101000"];

/// Account numbers printed as examples, which sellers paste into a required field: the
/// IBAN registry's and textbooks' example IBANs, and the card networks' test card numbers
/// (found by a tester: `GB82 WEST 1234 5698 7654 32`, `DE89 3704 0044 0532 0130 00` and
/// `4111 1111 1111 1111` linked unrelated sellers, and one finding listed them all).
const EXAMPLE_ACCOUNTS: &[&str] = &[
    // IBANs: SWIFT's IBAN registry examples, and the ones textbooks and Wikipedia print.
    "AT611904300234573201",
    "BE68539007547034",
    "CH9300762011623852957",
    "DE44500105175407324931",
    "DE89370400440532013000",
    "DK5000400440116243",
    "ES9121000418450200051332",
    "FI2112345600000785",
    "FR1420041010050500013M02606",
    "FR7630006000011234567890189",
    "GB29NWBK60161331926819",
    "GB33BUKB20201555555555",
    "GB82WEST12345698765432",
    "IE29AIBK93115212345678",
    "IT60X0542811101000000123456",
    "LU280019400644750000",
    "NL91ABNA0417164300",
    "NO9386011117947",
    "PL61109010140000071219812874",
    "PT50000201231234567890154",
    "SE4550000000058398257466",
    // Test card numbers of the card networks and payment providers.
    "2223003122003222",
    "3056930009020004",
    "36227206271667",
    "3566002020360505",
    "371449635398431",
    "378282246310005",
    "4000056655665556",
    "4012888888881881",
    "4111111111111111",
    "4242424242424242",
    "5105105105105100",
    "5555555555554444",
    "6011000990139424",
    "6011111111111117",
    "6200000000000005",
];

/// Whether a compact account (letters and digits, upper case; an IBAN in its electronic
/// form) is one printed as an example ([`EXAMPLE_ACCOUNTS`]).
pub fn is_example_account(compact: &str) -> bool {
    EXAMPLE_ACCOUNTS.contains(&compact)
}

/// Whether a compact value has no digit at all: words in a number's place (`PAYPAL`,
/// `SEEWEBSITE`, `KLEINUNTERNEHMER`, `SAMEASVAT`); every register's number and every account
/// number has digits.
pub fn has_no_digit(compact: &str) -> bool {
    !compact.chars().any(|c| c.is_ascii_digit())
}

/// Whether a compact value (letters and digits, upper case) is a placeholder:
/// - one character repeated (`0000000000`, `XXXX`);
/// - a run of consecutive digits or letters (`123456789`, `987654321`, `ABCDEFGH`), also with
///   zeros after it (`12345678900`);
/// - zeros ending in one digit (`00000001`);
/// - placeholder words with nothing but such digits beside them (`NONE`, `NANA` from
///   `N/A N/A`, `TBD0`, `TEST1234`, `VATEXEMPT`);
/// - up to three letters (a country's) and one digit repeated (`GB000000000`,
///   `DE999999999`);
/// - digits masked by three or more `X` (`XX-XXX1234`, `XXX-XX-1234`);
/// - a register's generic number ([`GENERIC`]).
///
/// Found by testers: each of these linked unrelated sellers into one listed cluster.
pub fn is_placeholder(compact: &str) -> bool {
    let chars: Vec<char> = compact.chars().collect();
    let Some(&first) = chars.first() else {
        return true;
    };
    if chars.iter().all(|c| *c == first) || GENERIC.contains(&compact) {
        return true;
    }
    let letters: String = chars.iter().filter(|c| !c.is_ascii_digit()).collect();
    let digits: Vec<u32> = chars.iter().filter_map(|c| c.to_digit(10)).collect();
    let filler_digits = digits.is_empty() || filler_number(&digits);
    if letters.is_empty() {
        return filler_digits;
    }
    if !filler_digits {
        return false;
    }
    let one_digit = !digits.is_empty() && digits.iter().all(|d| *d == digits[0]);
    let masked = letters.chars().all(|c| c == 'X') && letters.len() >= 3;
    only_words(&letters)
        || consecutive(&letters.chars().map(u32::from).collect::<Vec<_>>())
        || (one_digit && letters.chars().count() <= 3)
        || masked
}

/// Digits that number nothing: zeros, one digit repeated (at least six), zeros ending in
/// one digit, or a run of consecutive digits (at least four), with zeros after it or not.
fn filler_number(digits: &[u32]) -> bool {
    if digits.iter().all(|d| *d == 0)
        || (digits.len() >= 6 && digits.iter().all(|d| *d == digits[0]))
    {
        return true;
    }
    let last = digits.len() - 1;
    if digits.len() >= 6 && digits[..last].iter().all(|d| *d == 0) {
        return true;
    }
    let significant = digits.len() - digits.iter().rev().take_while(|d| **d == 0).count();
    consecutive(&digits[..significant])
}

/// At least four values, each one more (or each one less) than the one before.
fn consecutive(values: &[u32]) -> bool {
    let step = |up: bool| {
        values.windows(2).all(|w| {
            if up {
                w[1] == w[0] + 1
            } else {
                w[0] == w[1] + 1
            }
        })
    };
    values.len() >= 4 && (step(true) || step(false))
}

/// Whether `text` is made of placeholder words only.
fn only_words(text: &str) -> bool {
    text.is_empty()
        || WORDS.iter().any(|word| {
            text.strip_prefix(word)
                .is_some_and(|rest| rest.len() < text.len() && only_words(rest))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fillers_are_placeholders_and_numbers_are_not() {
        for filler in [
            "NONE",
            "NANA",
            "0000000000",
            "UNKNOWN",
            "NULL",
            "TBD0",
            "123456789",
            "0123456789",
            "987654321",
            "0000",
            "NOTPROVIDED",
            "PENDING",
            "XXXX",
            "000000",
            "000000000000",
            "1234",
            // Found by a tester in a second round: each was accepted and linked.
            "VATEXEMPT",
            "EXEMPT",
            "GB000000000",
            "DE000000000",
            "CN000000000000000000",
            "KEINE",
            "NICHTVORHANDEN",
            "XAXX010101000",
            "XEXX010101000",
            "NOTREGISTERED",
            "APPLIEDFOR",
            "NONEGIVEN",
            "UNDEFINED",
            "TEST1234",
            "ABCDEFGH",
            "00000001",
            "00000000001",
            "12345678900",
            "SINRFC",
            "NA12345",
            // Found by a tester in a third round.
            "DE999999999",
            "GB111111111",
            "XXXXX1234",
            "XXXXX1234",
        ] {
            assert!(is_placeholder(filler), "{filler}");
        }
        for number in [
            "DE123456789",
            "91440300MA5FXL2X3K",
            "HRB12345B",
            "12345612345678",
            "6222020200001234567",
            "GB82WEST12345698765432",
            "NA12395",
            "1235",
            "TESTA1",
            "7707083893",
            "941081436",
            "10000000",
            "04732918",
            "NO923609016",
            "GOMJ800101AB1",
            "27AAPFU0939F1ZV",
            "ATU12345678",
            "DE136695976",
            "91440300X8765432X1",
        ] {
            assert!(!is_placeholder(number), "{number}");
        }
    }
}
