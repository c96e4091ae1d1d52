//! The cleaning every identifier (and every name, see [`crate::names`]) gets before its kind's
//! own rules: what real systems send arrives in NFD or full-width forms, with zero-width
//! characters, byte-order marks and line breaks inside a value.

use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// Longest identifier accepted, in characters, after cleaning.
pub const MAX_CHARS: usize = 500;

/// Whether `c` is a format character (Unicode general category `Cf`): zero-width space and
/// joiners (U+200B-U+200D), word joiner (U+2060), byte-order mark (U+FEFF), soft hyphen
/// (U+00AD), bidirectional marks and embeddings. Invisible, so never part of a value.
pub fn is_format(c: char) -> bool {
    c.general_category() == GeneralCategory::Format
}

/// Unicode NFKC with format characters removed, every run of whitespace (tabs and line
/// breaks included) made one space, trimmed. Used for identifiers and names alike.
pub fn fold_compatibility(raw: &str) -> String {
    // ASCII is its own NFKC form and holds no format character: most identifiers are ASCII,
    // and skipping the normalisation tables for them halves the cost of a report's checks.
    if raw.is_ascii() {
        return fold_whitespace(raw.chars());
    }
    fold_whitespace(raw.nfkc().filter(|c| !is_format(*c)))
}

/// The value with every decimal digit of another script (Arabic-Indic `٣`, Persian `۴`,
/// Devanagari `२`, Thai `๓`, ...) written as its ASCII digit (normalisation version 3, for
/// numbers: found by a tester, a tax number in Arabic-Indic digits was stored as another
/// value than its ASCII form, and a phone in them was dropped). NFKC leaves these digits as
/// they are; Unicode lays each script's digits out as a run from 0 to 9.
pub fn ascii_digits(value: &str) -> std::borrow::Cow<'_, str> {
    let is_digit = |c: char| c.general_category() == GeneralCategory::DecimalNumber;
    if value.is_ascii() || !value.chars().any(|c| is_digit(c) && !c.is_ascii_digit()) {
        return std::borrow::Cow::Borrowed(value);
    }
    let digit = |c: char| -> char {
        // The run of digits `c` is in starts at a 0; its place in the run is its value.
        let mut start = c as u32;
        while let Some(before) = start.checked_sub(1).and_then(char::from_u32) {
            if !is_digit(before) {
                break;
            }
            start -= 1;
        }
        char::from_digit((c as u32 - start) % 10, 10).unwrap_or(c)
    };
    value
        .chars()
        .map(|c| {
            if is_digit(c) && !c.is_ascii_digit() {
                digit(c)
            } else {
                c
            }
        })
        .collect()
}

/// Every run of whitespace made one space, trimmed.
fn fold_whitespace(chars: impl Iterator<Item = char>) -> String {
    let (size, _) = chars.size_hint();
    let mut out = String::with_capacity(size);
    let mut space = false;
    for c in chars {
        if c.is_whitespace() {
            space = !out.is_empty();
        } else {
            if space {
                out.push(' ');
                space = false;
            }
            out.push(c);
        }
    }
    out
}

/// Cleans a raw identifier: [`fold_compatibility`], then checks that something is left, that
/// it is at most [`MAX_CHARS`] characters and holds no control characters (tabs and line
/// breaks count as spaces, as multi-line addresses have them).
///
/// Errors: "must not be empty", "must be at most 500 characters", "must not contain control
/// characters".
pub fn clean(raw: &str) -> Result<String, String> {
    let value = fold_compatibility(raw);
    if value.is_empty() {
        return Err("must not be empty".to_owned());
    }
    if value.chars().count() > MAX_CHARS {
        return Err(format!("must be at most {MAX_CHARS} characters"));
    }
    if value.chars().any(char::is_control) {
        return Err("must not contain control characters".to_owned());
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn nfkc_turns_full_width_and_compatibility_forms_into_plain_ones() {
        assert_eq!(
            clean("９１４４０３００ＭＡ５ＦＸ").unwrap(),
            "91440300MA5FX"
        );
        assert_eq!(clean("＋４４ ２０").unwrap(), "+44 20");
        assert_eq!(
            clean("ｓｈｏｐ＠ｅｘａｍｐｌｅ．ｃｏｍ").unwrap(),
            "shop@example.com"
        );
        // NFD and NFC of the same text agree.
        assert_eq!(clean("Đức Phát"), clean("Đức Phát"));
    }

    #[test]
    fn format_characters_go_and_whitespace_is_one_space() {
        for c in [
            '\u{200b}', '\u{200c}', '\u{200d}', '\u{2060}', '\u{feff}', '\u{ad}', '\u{200e}',
        ] {
            assert!(is_format(c), "{c:?}");
            assert_eq!(clean(&format!("a{c}b")).unwrap(), "ab", "{c:?}");
        }
        assert_eq!(
            clean(" a \t b\r\n c\u{3000}d\u{a0}e ").unwrap(),
            "a b c d e"
        );
        assert!(!is_format('a') && !is_format(' '));
    }

    #[test]
    fn the_ascii_shortcut_is_what_the_tables_give() {
        // Every ASCII character on its own and all of them in a row: NFKC leaves them as
        // they are and none is a format character, so skipping the tables changes nothing.
        let all: String = (0u8..128).map(char::from).collect();
        for text in (0u8..128).map(|b| char::from(b).to_string()).chain([all]) {
            let tables = fold_whitespace(text.nfkc().filter(|c| !is_format(*c)));
            assert_eq!(fold_compatibility(&text), tables, "{text:?}");
        }
    }

    #[test]
    fn empty_long_and_control_characters_are_refused() {
        assert_eq!(
            clean(" \u{200b}\u{feff} ").unwrap_err(),
            "must not be empty"
        );
        assert_eq!(
            clean(&"a".repeat(501)).unwrap_err(),
            "must be at most 500 characters"
        );
        assert_eq!(clean(&"ä".repeat(500)).unwrap().chars().count(), 500);
        for bad in ["a\u{0}b", "a\u{7f}b", "a\u{1b}b"] {
            assert_eq!(
                clean(bad).unwrap_err(),
                "must not contain control characters"
            );
        }
    }
}
