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
/// From version 5 (`v5`), no space is kept next to a Chinese or Japanese character (Han,
/// kana): those scripts write addresses without spaces, and where one is put is arbitrary
/// (found by a tester: `南山区 1号楼` and `南山区1号楼` did not agree); and US postal forms
/// are read alike ([`us_forms`]).
///
/// Error: "is too short to be an address".
pub fn normalize(value: &str, v5: bool) -> Result<String, String> {
    let folded = fold_accents(&value.to_lowercase()).replace('ß', "ss");
    let spaced: String = folded
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect();
    let mut words: Vec<_> = spaced.split_whitespace().map(abbreviate).collect();
    if v5 {
        words = us_forms(words);
    }
    let mut out = String::with_capacity(spaced.len());
    for (i, word) in words.iter().enumerate() {
        let joined = v5
            && i > 0
            && (words[i - 1].chars().last().is_some_and(is_cjk)
                || word.chars().next().is_some_and(is_cjk));
        if i > 0 && !joined {
            out.push(' ');
        }
        out.push_str(word);
    }
    if out.chars().count() < 5 {
        return Err("is too short to be an address".to_owned());
    }
    Ok(out)
}

/// US postal forms (version 5): street words the USPS
/// abbreviates (`parkway` `pkwy`, `drive` `dr`, `lane` `ln`, `court` `ct`, `place` `pl`,
/// `highway` `hwy`, `apartment` `apt`), a state's name as its USPS code (`california` `ca`,
/// `new york` `ny`), and a trailing `usa`, `united states` or `united states of america`
/// dropped (found by a tester: `Pkwy` and `Parkway`, `CA` and `California`, and a trailing
/// `, USA` kept one address apart).
fn us_forms(words: Vec<std::borrow::Cow<'_, str>>) -> Vec<std::borrow::Cow<'_, str>> {
    use std::borrow::Cow;
    let mut out: Vec<Cow<'_, str>> = Vec::with_capacity(words.len());
    let mut i = 0;
    while i < words.len() {
        if let Some((n, code)) = us_state(&words[i..]) {
            out.push(Cow::Borrowed(code));
            i += n;
            continue;
        }
        out.push(match words[i].as_ref() {
            "parkway" => Cow::Borrowed("pkwy"),
            "drive" => Cow::Borrowed("dr"),
            "lane" => Cow::Borrowed("ln"),
            "court" => Cow::Borrowed("ct"),
            "place" => Cow::Borrowed("pl"),
            "highway" => Cow::Borrowed("hwy"),
            "apartment" => Cow::Borrowed("apt"),
            _ => words[i].clone(),
        });
        i += 1;
    }
    for tail in [
        &["united", "states", "of", "america"][..],
        &["united", "states"],
        &["usa"],
    ] {
        if out.len() > tail.len()
            && out[out.len() - tail.len()..]
                .iter()
                .zip(tail)
                .all(|(w, t)| w == t)
        {
            out.truncate(out.len() - tail.len());
            break;
        }
    }
    out
}

/// The USPS code of the US state, district or territory whose full name (as [`abbreviate`]
/// leaves it: `n carolina`) the words begin with, longest first, and how many words it
/// takes; None when they begin with none. Compared word by word, without building phrases.
fn us_state(words: &[std::borrow::Cow<'_, str>]) -> Option<(usize, &'static str)> {
    const STATES: &[(&str, &str)] = &[
        ("alabama", "al"),
        ("alaska", "ak"),
        ("arizona", "az"),
        ("arkansas", "ar"),
        ("california", "ca"),
        ("colorado", "co"),
        ("connecticut", "ct"),
        ("delaware", "de"),
        ("dist of columbia", "dc"),
        ("florida", "fl"),
        ("georgia", "ga"),
        ("hawaii", "hi"),
        ("idaho", "id"),
        ("illinois", "il"),
        ("indiana", "in"),
        ("iowa", "ia"),
        ("kansas", "ks"),
        ("kentucky", "ky"),
        ("louisiana", "la"),
        ("maine", "me"),
        ("maryland", "md"),
        ("massachusetts", "ma"),
        ("michigan", "mi"),
        ("minnesota", "mn"),
        ("mississippi", "ms"),
        ("missouri", "mo"),
        ("montana", "mt"),
        ("nebraska", "ne"),
        ("nevada", "nv"),
        ("new hampshire", "nh"),
        ("new jersey", "nj"),
        ("new mexico", "nm"),
        ("new york", "ny"),
        ("n carolina", "nc"),
        ("n dakota", "nd"),
        ("ohio", "oh"),
        ("oklahoma", "ok"),
        ("oregon", "or"),
        ("pennsylvania", "pa"),
        ("puerto rico", "pr"),
        ("rhode island", "ri"),
        ("s carolina", "sc"),
        ("s dakota", "sd"),
        ("tennessee", "tn"),
        ("texas", "tx"),
        ("utah", "ut"),
        ("vermont", "vt"),
        ("virginia", "va"),
        ("washington", "wa"),
        ("w virginia", "wv"),
        ("wisconsin", "wi"),
        ("wyoming", "wy"),
    ];
    let first = words.first()?.as_ref();
    STATES
        .iter()
        .filter(|(full, _)| full.split(' ').next() == Some(first))
        .filter_map(|(full, code)| {
            let parts = full.split(' ').count();
            let begins =
                words.len() >= parts && full.split(' ').zip(words).all(|(part, word)| part == word);
            begins.then_some((parts, *code))
        })
        .max_by_key(|(parts, _)| *parts)
}

/// Whether `c` is a Chinese or Japanese character: a Han ideograph (the CJK Unified
/// Ideographs and their Extension A, the compatibility ideographs) or kana.
fn is_cjk(c: char) -> bool {
    matches!(c,
        '\u{3040}'..='\u{30ff}' // hiragana, katakana
        | '\u{3400}'..='\u{4dbf}' // extension A
        | '\u{4e00}'..='\u{9fff}' // unified ideographs
        | '\u{f900}'..='\u{faff}' // compatibility ideographs
        | '\u{ff66}'..='\u{ff9f}') // half-width katakana
}

/// Removes the accents of Latin and Greek letters (the combining diacritical marks U+0300 to
/// U+036F of a canonical decomposition), and the diaeresis of Cyrillic ones (`ё` as `е`).
/// Other marks are kept, as they make other letters (Cyrillic `й`, Indic vowel signs, the
/// kana voicing marks).
pub(crate) fn fold_accents(value: &str) -> String {
    // ASCII holds no combining mark and is its own NFD and NFC: most addresses and names are
    // ASCII, and the two passes through the tables were a tenth of a profile's preparation.
    if value.is_ascii() {
        return value.to_owned();
    }
    fold_accents_by_tables(value)
}

/// [`fold_accents`] through the Unicode tables, for any text.
fn fold_accents_by_tables(value: &str) -> String {
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
    fn the_ascii_shortcut_is_what_the_tables_give() {
        // Every ASCII character on its own, after each letter (where a mark would attach)
        // and all of them in a row.
        let all: String = (0u8..128).map(char::from).collect();
        let texts = (0u8..128)
            .map(|b| char::from(b).to_string())
            .chain((0u8..128).map(|b| format!("a{}e", char::from(b))))
            .chain([all]);
        for text in texts {
            assert_eq!(
                super::fold_accents(&text),
                super::fold_accents_by_tables(&text),
                "{text:?}"
            );
        }
        // Text outside ASCII still goes through them.
        assert_eq!(super::fold_accents("Brașov Ёлка"), "Brasov Елка");
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
    fn chinese_and_japanese_addresses_read_alike_however_they_are_spaced() {
        assert_eq!(
            ok("深圳市南山区科技园南区 1号楼"),
            ok("深圳市南山区科技园南区1号楼")
        );
        assert_eq!(ok("深圳市 南山区 科技园"), "深圳市南山区科技园");
        assert_eq!(ok("東京都 渋谷区 神南 1-2-3"), ok("東京都渋谷区神南1-2-3"));
        // Latin words keep their spaces, beside Chinese ones too.
        assert_eq!(ok("Room 1203 深圳市"), "rm 1203深圳市");
        // Version 4 kept them.
        let v4 = |raw: &str| {
            super::super::normalize_as(super::super::Normalization::V4, Address, raw, None).unwrap()
        };
        assert_ne!(v4("深圳市南山区 1号楼"), v4("深圳市南山区1号楼"));
    }

    #[test]
    fn us_postal_forms_read_alike() {
        assert_eq!(
            ok("1600 Amphitheatre Parkway, Mountain View, California 94043, USA"),
            ok("1600 Amphitheatre Pkwy, Mountain View, CA 94043")
        );
        assert_eq!(
            ok("12 Oak Drive, Raleigh, North Carolina 27601, United States of America"),
            "12 oak dr raleigh nc 27601"
        );
        assert_eq!(
            ok("1 Main St, Washington, District of Columbia 20001"),
            ok("1 Main Street, Washington, DC 20001")
        );
        // Only a trailing country goes.
        assert_eq!(ok("USA Plaza 5, Springfield"), "usa plaza 5 springfield");
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
