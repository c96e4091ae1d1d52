//! Name similarity for linking accounts on weak identifiers: "Shenzhen Bright Trading Co.,
//! Limited" and "BRIGHT TRADING (SHENZHEN) LTD" are the same company. Names are folded
//! (case, accents, punctuation), legal-form words are dropped, and two measures are taken:
//! word overlap (copes with word order) and character trigram overlap (copes with
//! transliteration noise such as "Shenzen" / "Shenzhen").

use std::collections::BTreeSet;

/// Similarity at or above which two names count as the same party.
pub const SIMILAR_NAMES: f64 = 0.6;

/// Legal-form and filler words that say nothing about who the party is.
const LEGAL_FORMS: &[&str] = &[
    "ab",
    "ag",
    "and",
    "as",
    "bv",
    "co",
    "company",
    "corp",
    "corporation",
    "e",
    "enterprise",
    "enterprises",
    "gmbh",
    "group",
    "inc",
    "incorporated",
    "international",
    "k",
    "kft",
    "kg",
    "limited",
    "llc",
    "llp",
    "ltd",
    "mbh",
    "nv",
    "oy",
    "plc",
    "pte",
    "pty",
    "sa",
    "sarl",
    "sas",
    "spa",
    "sp",
    "srl",
    "store",
    "shop",
    "the",
    "trading",
    "ug",
    "z",
    "o",
    "oo",
];

/// Folds accented Latin letters to ASCII; other characters pass through lowercased.
fn fold(c: char) -> char {
    match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' => 'a',
        'ç' | 'ć' | 'č' => 'c',
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ę' => 'e',
        'ì' | 'í' | 'î' | 'ï' | 'ī' => 'i',
        'ñ' | 'ń' => 'n',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' => 'o',
        'ù' | 'ú' | 'û' | 'ü' | 'ū' => 'u',
        'ý' | 'ÿ' => 'y',
        'ś' | 'š' | 'ß' => 's',
        'ź' | 'ż' | 'ž' => 'z',
        'ł' => 'l',
        other => other,
    }
}

/// The distinctive words of a name: folded, without punctuation or legal forms.
pub fn name_words(name: &str) -> BTreeSet<String> {
    let folded: String = name
        .chars()
        .flat_map(char::to_lowercase)
        .map(fold)
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect();
    folded
        .split_whitespace()
        .filter(|word| !LEGAL_FORMS.contains(word))
        .map(str::to_owned)
        .collect()
}

/// A name reduced to its distinctive words in order, for exact look-ups.
pub fn name_key(name: &str) -> String {
    name_words(name).into_iter().collect::<Vec<_>>().join(" ")
}

fn trigrams(words: &BTreeSet<String>) -> BTreeSet<[char; 3]> {
    let mut grams = BTreeSet::new();
    for word in words {
        let padded: Vec<char> = format!("  {word} ").chars().collect();
        for window in padded.windows(3) {
            grams.insert([window[0], window[1], window[2]]);
        }
    }
    grams
}

fn overlap<T: Ord>(a: &BTreeSet<T>, b: &BTreeSet<T>) -> f64 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let shared = a.intersection(b).count() as f64;
    // Dice coefficient: 2|A∩B| / (|A|+|B|).
    2.0 * shared / (a.len() + b.len()) as f64
}

/// How alike two names are, 0 to 1.
pub fn similarity(a: &str, b: &str) -> f64 {
    let (words_a, words_b) = (name_words(a), name_words(b));
    overlap(&words_a, &words_b).max(overlap(&trigrams(&words_a), &trigrams(&words_b)))
}

/// Whether any name of one party is similar to any name of the other.
pub fn any_similar(a: &[&str], b: &[&str]) -> bool {
    a.iter().filter(|n| !n.trim().is_empty()).any(|x| {
        b.iter()
            .filter(|n| !n.trim().is_empty())
            .any(|y| similarity(x, y) >= SIMILAR_NAMES)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legal_forms_order_case_and_punctuation_do_not_matter() {
        assert!(
            similarity(
                "Shenzhen Bright Trading Co., Limited",
                "BRIGHT (SHENZHEN) LTD"
            ) >= SIMILAR_NAMES
        );
        assert!(similarity("Müller Handels GmbH", "Muller Handels") >= SIMILAR_NAMES);
        assert!(similarity("Kestrel Audio LLC", "kestrel-audio inc.") >= SIMILAR_NAMES);
    }

    #[test]
    fn transliteration_noise_is_tolerated() {
        assert!(
            similarity(
                "Guangzhou Xinyuan Electronics",
                "Guangzou Xin Yuan Electronic"
            ) >= SIMILAR_NAMES
        );
    }

    #[test]
    fn different_companies_are_not_similar() {
        assert!(similarity("Bright Trading Co Ltd", "Ocean Star Imports GmbH") < SIMILAR_NAMES);
        assert!(similarity("Acme Corp", "") < SIMILAR_NAMES);
        assert!(!any_similar(
            &["Blue Lantern"],
            &["Red Dragon Garden Supplies"]
        ));
    }
}
