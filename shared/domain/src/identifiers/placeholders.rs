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
    // IBANs: SWIFT's IBAN registry examples (one per country), and the ones textbooks and
    // Wikipedia print.
    "AD1200012030200359100100",
    "AE070331234567890123456",
    "AL47212110090000000235698741",
    "AT611904300234573201",
    "AZ21NABZ00000000137010001944",
    "BA391290079401028494",
    "BE68539007547034",
    "BG80BNBG96611020345678",
    "BH67BMAG00001299123456",
    "BR1800360305000010009795493C1",
    "BR9700360305000010009795493P1",
    "BY13NBRB3600900000002Z00AB00",
    "CH9300762011623852957",
    "CR05015202001026284066",
    "CY17002001280000001200527600",
    "CZ6508000000192000145399",
    "DE44500105175407324931",
    "DE89370400440532013000",
    "DK5000400440116243",
    "DO28BAGR00000001212453611324",
    "EE382200221020145685",
    "EG380019000500000000263180002",
    "EG800002000156789012345180002",
    "ES9121000418450200051332",
    "FI2112345600000785",
    "FO6264600001631634",
    "FR1420041010050500013M02606",
    "FR7630006000011234567890189",
    "GB29NWBK60161331926819",
    "GB33BUKB20201555555555",
    "GB82WEST12345698765432",
    "GE29NB0000000101904917",
    "GI75NWBK000000007099453",
    "GL8964710001000206",
    "GR1601101250000000012300695",
    "GT82TRAJ01020000001210029690",
    "HR1210010051863000160",
    "HU42117730161111101800000000",
    "IE29AIBK93115212345678",
    "IL620108000000099999999",
    "IQ98NBIQ850123456789012",
    "IS140159260076545510730339",
    "IT60X0542811101000000123456",
    "JO94CBJO0010000000000131000302",
    "KW81CBKU0000000000001234560101",
    "KZ86125KZT5004100100",
    "LB62099900000001001901229114",
    "LC55HEMM000100010012001200023015",
    "LI21088100002324013AA",
    "LT121000011101001000",
    "LU280019400644750000",
    "LV80BANK0000435195001",
    "LY83002048000020100120361",
    "MC5811222000010123456789030",
    "MD24AG000225100013104168",
    "ME25505000012345678951",
    "MK07250120000058984",
    "MR1300020001010000123456753",
    "MT84MALT011000012345MTLCAST001S",
    "MU17BOMM0101101030300200000MUR",
    "NL91ABNA0417164300",
    "NO9386011117947",
    "PK36SCBL0000001123456702",
    "PL61109010140000071219812874",
    "PS92PALS000000000400123456702",
    "PT50000201231234567890154",
    "QA58DOHB00001234567890ABCDEFG",
    "RO49AAAA1B31007593840000",
    "RS35260005601001611379",
    "SA0380000000608010167519",
    "SC18SSCB11010000000000001497USD",
    "SD2129010501234001",
    "SE4550000000058398257466",
    "SI56263300012039086",
    "SK3112000000198742637541",
    "SM86U0322509800000000270100",
    "ST68000100010051845310112",
    "SV62CENR00000000000000700025",
    "TL380080012345678910157",
    "TN5910006035183598478831",
    "TR330006100519786457841326",
    "UA213223130000026007233566001",
    "VA59001123000012345678",
    "VG96VPVG0000012345678901",
    "XK051212012345678906",
    // Payment providers' published test IBANs (found by a tester: they linked unrelated
    // sellers).
    "DE02120300000000202051",
    "DE02500105170137075030",
    "GB94BARC10201530093459",
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

/// Why a number in scientific notation is refused.
pub const SCIENTIFIC: &str = "is in a spreadsheet's scientific notation (such as 1.0E+10), which lost its digits: send it as text";

/// Whether `value` is a number a spreadsheet wrote in scientific notation (`1.0E+10`,
/// `4.40E+17`): its digits past the first few are gone, so it names no one (found by a
/// tester: `1.0E+10` linked unrelated sellers).
pub fn is_scientific_notation(value: &str) -> bool {
    let value = value.trim();
    let Some((mantissa, exponent)) = value.split_once(['E', 'e']) else {
        return false;
    };
    let exponent = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
    let mut parts = mantissa.splitn(2, ['.', ',']);
    let whole = parts.next().unwrap_or_default();
    let fraction = parts.next().unwrap_or("0");
    [whole, fraction, exponent]
        .iter()
        .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
}

/// Whether a compact value has no digit at all: words in a number's place (`PAYPAL`,
/// `SEEWEBSITE`, `KLEINUNTERNEHMER`, `SAMEASVAT`); every register's number and every account
/// number has digits.
pub fn has_no_digit(compact: &str) -> bool {
    !compact.chars().any(|c| c.is_ascii_digit())
}

/// Tax numbers that are no seller's own, which sellers copy into the field: the HMRC's
/// published test VAT number, and a marketplace's own VAT number printed on its invoices
/// (Amazon EU S.à r.l., Luxembourg). Found by a tester: each linked unrelated sellers.
const SHARED_NUMBERS: &[&str] = &["GB999999973", "LU20260743"];

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
/// - a register's generic number ([`GENERIC`]) or a number many sellers copy
///   ([`SHARED_NUMBERS`]);
/// - up to three letters (a country's prefix and a format's letters) around a run of at
///   least eight consecutive digits with at most three others (`DE123456789`, `ATU12345678`, `NL123456789B01`,
///   `ES12345678Z`, `FR12345678901`: the examples every VAT form prints), or letters and
///   digits both in runs (`ABC123`).
///
/// Found by testers: each of these linked unrelated sellers into one listed cluster.
pub fn is_placeholder(compact: &str) -> bool {
    let chars: Vec<char> = compact.chars().collect();
    let Some(&first) = chars.first() else {
        return true;
    };
    if chars.iter().all(|c| *c == first)
        || GENERIC.contains(&compact)
        || SHARED_NUMBERS.contains(&compact)
    {
        return true;
    }
    let letters: String = chars.iter().filter(|c| !c.is_ascii_digit()).collect();
    let digits: Vec<u32> = chars.iter().filter_map(|c| c.to_digit(10)).collect();
    let run = longest_run(&digits);
    if letters.chars().count() <= 3 && run >= 8 && run + 3 >= digits.len() {
        return true;
    }
    let letter_values: Vec<u32> = letters.chars().map(u32::from).collect();
    if letter_values.len() >= 3
        && digits.len() >= 3
        && consecutive_from(&letter_values, 3)
        && consecutive_from(&digits, 3)
    {
        return true;
    }
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

/// The longest run of digits each one more than the one before (9 then 0, as on a keyboard:
/// `1234567890`) or each one less.
pub(super) fn longest_run(digits: &[u32]) -> usize {
    let mut longest = usize::from(!digits.is_empty());
    for step in [1, 9] {
        let mut run = 1;
        for w in digits.windows(2) {
            run = if w[1] == (w[0] + step) % 10 {
                run + 1
            } else {
                1
            };
            longest = longest.max(run);
        }
    }
    longest
}

/// At least `min` values, each one more (or each one less) than the one before.
fn consecutive_from(values: &[u32], min: usize) -> bool {
    let up = values.windows(2).all(|w| w[1] == w[0] + 1);
    let down = values.windows(2).all(|w| w[0] == w[1] + 1);
    values.len() >= min && (up || down)
}

/// At least four values, each one more (or each one less) than the one before.
fn consecutive(values: &[u32]) -> bool {
    consecutive_from(values, 4)
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
    fn numbers_in_scientific_notation_are_told_apart() {
        for value in ["1.0E+10", "4.40E+17", " 1E10 ", "9,12e-3"] {
            assert!(is_scientific_notation(value), "{value}");
        }
        for value in ["DE136695976", "1E", "E10", "12E4A", "HRB 12345 E"] {
            assert!(!is_scientific_notation(value), "{value}");
        }
    }

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
            // Found by a tester in a fourth round: VAT forms' examples, numbers many
            // sellers copy, letters and digits in runs.
            "DE123456789",
            "ATU12345678",
            "NL123456789B01",
            "ES12345678Z",
            "FR12345678901",
            "IT12345678901",
            "PL1234567890",
            "CHE123456789",
            "123456789012",
            "GB999999973",
            "LU20260743",
            "ABC123",
        ] {
            assert!(is_placeholder(filler), "{filler}");
        }
        for number in [
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
            "DE136695976",
            "91440300X8765432X1",
            // Real numbers with a short run in them.
            "NL004495445B01",
            "ABC124",
            "ABD123",
            "ESB12345674",
        ] {
            assert!(!is_placeholder(number), "{number}");
        }
    }
}
