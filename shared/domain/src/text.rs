//! Text callers send: free text (names, notes, descriptions) and ids, checked by one rule in
//! every service.

/// Why free text cannot be stored, if it cannot: longer than `max_chars` characters, control
/// characters other than tab, line feed and carriage return (a NUL or an escape in a stored
/// note; found by testers), or a bidirectional override (U+202D, U+202E), which makes a line
/// display another text than the one stored (`Shop\u{202e}evil`). The marks, embeddings and
/// isolates of real right-to-left text, copied from web pages, are accepted.
pub fn free_text_problem(value: &str, max_chars: usize) -> Option<String> {
    if value.chars().count() > max_chars {
        Some(format!("must be at most {max_chars} characters"))
    } else if value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    {
        Some("must not contain control characters".to_owned())
    } else if value.chars().any(|c| matches!(c, '\u{202d}' | '\u{202e}')) {
        Some("must not contain bidirectional override characters (U+202D, U+202E)".to_owned())
    } else {
        None
    }
}

/// Whether `text` names nothing: it has no letter or digit of any script (empty, spaces,
/// invisible characters, the braille blank, punctuation, symbols, emoji, a lone combining
/// mark). Found by testers: display names of zero-width spaces alone, then of `...` or one
/// emoji, passed as names.
pub fn is_blank(text: &str) -> bool {
    !text.chars().any(char::is_alphanumeric)
}

/// Whether `c` is invisible in an id: a control or format character (Unicode `Cc`, `Cf`:
/// zero-width spaces and joiners, directional marks, embeddings, overrides and isolates,
/// soft hyphens, tag characters, byte order marks), a line or paragraph separator, or
/// another default-ignorable character (variation selectors, the combining grapheme
/// joiner, Hangul fillers). Two ids that differ only by one display alike and name
/// different parties (found by testers: `US\u{ad}LAX` was a second office).
pub fn is_invisible_in_id(c: char) -> bool {
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
    matches!(
        c.general_category(),
        GeneralCategory::Control
            | GeneralCategory::Format
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
    ) || matches!(
        c,
        '\u{034f}'
            | '\u{115f}'
            | '\u{1160}'
            | '\u{17b4}'
            | '\u{17b5}'
            | '\u{180b}'..='\u{180f}'
            | '\u{3164}'
            | '\u{fe00}'..='\u{fe0f}'
            | '\u{ffa0}'
            | '\u{e0000}'..='\u{e0fff}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_text_takes_lines_and_right_to_left_text_but_not_controls_or_overrides() {
        assert_eq!(free_text_problem("two\nlines\r\n\tand a tab", 100), None);
        assert_eq!(free_text_problem("\u{202b}متجر النور\u{202c}", 100), None);
        for bad in [
            "nul\u{0}",
            "esc\u{1b}[31m",
            "Shop\u{202e}evil",
            "Shop\u{202d}x",
        ] {
            assert!(free_text_problem(bad, 100).is_some(), "{bad:?}");
        }
        assert_eq!(
            free_text_problem("abcd", 3).as_deref(),
            Some("must be at most 3 characters")
        );
    }

    #[test]
    fn invisible_characters_in_ids() {
        for c in [
            '\u{0}', '\u{200b}', '\u{200d}', '\u{202e}', '\u{2066}', '\u{feff}',
        ] {
            assert!(is_invisible_in_id(c), "{c:?}");
        }
        for c in ['A', '7', '-', 'é', '中', ' '] {
            assert!(!is_invisible_in_id(c), "{c:?}");
        }
    }
}
