//! Postal addresses, as one line: compared word by word after folding case, accents and
//! the common abbreviations, so "Flat 4, 12 Baker Street" and "FLAT 4 12 BAKER ST." agree.

use unicode_normalization::UnicodeNormalization;

/// Normalises a cleaned address ([`super::text::clean`]).
///
/// Lower-cased; accents of Latin and Greek letters removed (`Brașov` and `Brasov` agree;
/// Cyrillic `ё` is `е`; other letters are kept as they are) and `ß` written `ss`;
/// every character that is not a letter or digit becomes a space; whitespace collapsed;
/// common words abbreviated (street st, strasse str, road rd, avenue ave, boulevard blvd,
/// building bldg, floor fl, room rm, suite ste, district dist, industrial ind,
/// north/south/east/west n/s/e/w, number no). At least 5 characters.
///
/// Error: "is too short to be an address".
pub fn normalize(value: &str) -> Result<String, String> {
    let folded = fold_accents(&value.to_lowercase()).replace('ß', "ss");
    let spaced: String = folded
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect();
    let out = spaced
        .split_whitespace()
        .map(abbreviate)
        .collect::<Vec<_>>()
        .join(" ");
    if out.chars().count() < 5 {
        return Err("is too short to be an address".to_owned());
    }
    Ok(out)
}

/// Removes the accents of Latin and Greek letters (the combining diacritical marks U+0300 to
/// U+036F of a canonical decomposition), and the diaeresis of Cyrillic ones (`ё` as `е`).
/// Other marks are kept, as they make other letters (Cyrillic `й`, Indic vowel signs, the
/// kana voicing marks).
pub(crate) fn fold_accents(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut base = ' ';
    for c in value.nfd() {
        let mark = ('\u{300}'..='\u{36f}').contains(&c);
        if !mark {
            base = c;
            out.push(c);
            continue;
        }
        let latin_or_greek = base.is_ascii_alphabetic() || ('\u{370}'..='\u{3ff}').contains(&base);
        let cyrillic_diaeresis = c == '\u{308}' && ('\u{400}'..='\u{4ff}').contains(&base);
        if !(latin_or_greek || cyrillic_diaeresis) {
            out.push(c);
        }
    }
    out.nfc().collect()
}

/// Word-by-word abbreviations, so "Main Street" and "Main St." agree (and German compounds,
/// "Hauptstrasse" and "Hauptstr.").
fn abbreviate(word: &str) -> std::borrow::Cow<'_, str> {
    if let Some(stem) = word.strip_suffix("strasse") {
        return format!("{stem}str").into();
    }
    std::borrow::Cow::Borrowed(match word {
        "street" => "st",
        "road" => "rd",
        "avenue" => "ave",
        "boulevard" => "blvd",
        "building" => "bldg",
        "floor" => "fl",
        "room" => "rm",
        "suite" => "ste",
        "district" => "dist",
        "industrial" => "ind",
        "north" => "n",
        "south" => "s",
        "east" => "e",
        "west" => "w",
        "number" => "no",
        other => other,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::super::{IdentifierKind::Address, normalize as normalize_kind};

    fn ok(raw: &str) -> String {
        normalize_kind(Address, raw, None).unwrap_or_else(|e| panic!("{raw}: {e}"))
    }

    #[test]
    fn case_punctuation_and_abbreviations() {
        assert_eq!(
            ok("Flat 4, 12 Baker Street, London NW1 6XE"),
            "flat 4 12 baker st london nw1 6xe"
        );
        assert_eq!(
            ok("FLAT 4 12 BAKER ST. LONDON NW1 6XE"),
            ok("Flat 4, 12 Baker Street, London NW1 6XE")
        );
        assert_eq!(
            ok("Room 1203, 12/F, Building A, No. 88 North Road, Nanshan District"),
            "rm 1203 12 f bldg a no 88 n rd nanshan dist"
        );
        assert_eq!(ok("Streetly Roadside"), "streetly roadside");
    }

    #[test]
    fn accents_eszett_and_line_breaks() {
        assert_eq!(
            ok("Strada Republicii 5, Brașov"),
            ok("Strada Republicii 5, Brasov")
        );
        assert_eq!(ok("Hauptstraße 5, 10115 Berlin"), "hauptstr 5 10115 berlin");
        assert_eq!(
            ok("Hauptstrasse 5\n10115 Berlin"),
            "hauptstr 5 10115 berlin"
        );
        // NFD input, full-width digits.
        assert_eq!(ok("Rue de l'E\u{301}glise １２"), "rue de l eglise 12");
        assert_eq!(
            ok("广东省深圳市南山区科技园路1号"),
            "广东省深圳市南山区科技园路1号"
        );
        assert_eq!(
            ok("서울특별시 강남구 테헤란로 1"),
            "서울특별시 강남구 테헤란로 1"
        );
    }

    #[test]
    fn five_characters_at_least() {
        assert_eq!(
            normalize_kind(Address, "N. St.", None).unwrap_err(),
            "is too short to be an address"
        );
        assert_eq!(ok("1 Main"), "1 main");
    }
}
