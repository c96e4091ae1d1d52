//! Values that fill a required field instead of a number (normalisation version 3): `NONE`,
//! `N/A`, `0000000000`, `123456789`, `not provided`, `xxxx`. Marketplace exports are full of
//! them, and as strong identifiers they linked every seller that gave one into one cluster,
//! so that one confirmed finding listed them all (found by a tester).

/// Words that stand for "no number", in letters only, upper case.
const WORDS: &[&str] = &[
    "DUMMY",
    "EMPTY",
    "NA",
    "NIL",
    "NONE",
    "NOTAPPLICABLE",
    "NOTAVAILABLE",
    "NOTPROVIDED",
    "NOVAT",
    "NULL",
    "PENDING",
    "SAMPLE",
    "TBA",
    "TBD",
    "TEST",
    "UNKNOWN",
];

/// Whether a compact value (letters and digits, upper case) is a placeholder: one character
/// repeated (`0000000000`, `XXXX`), a run of consecutive digits (`123456789`, `987654321`),
/// or placeholder words with nothing but zeros beside them (`NONE`, `NANA` from `N/A N/A`,
/// `TBD0`, `NOTPROVIDED`).
pub fn is_placeholder(compact: &str) -> bool {
    let chars: Vec<char> = compact.chars().collect();
    let Some(&first) = chars.first() else {
        return true;
    };
    if chars.iter().all(|c| *c == first) {
        return true;
    }
    let digits: Vec<u32> = chars.iter().filter_map(|c| c.to_digit(10)).collect();
    if digits.len() == chars.len() && digits.len() >= 4 {
        let step = |up: bool| {
            digits.windows(2).all(|w| {
                if up {
                    w[1] == w[0] + 1
                } else {
                    w[0] == w[1] + 1
                }
            })
        };
        if step(true) || step(false) {
            return true;
        }
    }
    let letters: String = chars.iter().filter(|c| **c != '0').collect();
    letters.is_empty() || only_words(&letters)
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
            "NA12345",
            "1235",
            "TESTA1",
        ] {
            assert!(!is_placeholder(number), "{number}");
        }
    }
}
