//! Company and shop names as the exchange compares them: what a name says once Unicode forms,
//! case, accents, punctuation, scripts and legal forms are set aside.
//!
//! A name is cleaned like an identifier ([`crate::identifiers::text::fold_compatibility`]:
//! NFKC, format characters removed), lower-cased, stripped of Latin and Greek accents (Latin
//! words are written in ASCII: `ß` as `ss`, `ø` as `o`), and cut into tokens: words of letters and digits, dotted initials joined
//! (`S.p.A.` is `spa`, `J.P.` is `jp`), and each Chinese character or Japanese kana a token of
//! its own, as those scripts write no spaces between words. Each token also has a Latin form,
//! transliterated by `any_ascii` (`Ромашка` `romashka`, `明亮` `ming` `liang`), which is what
//! phrases are matched on and what names in two scripts are compared by.
//!
//! Legal forms ([`legal_forms`], from the ISO 20275 list) are removed at either end of the
//! name, also when a place in brackets follows them (`Bright Trading Co., Ltd. (Shenzhen)`).
//! Filler words of trade names (`trading`, `international`, `group`, ...) and places
//! (`Shenzhen`, `深圳市`, `Hong Kong`) are kept but marked, so that a comparison can tell them
//! from the words that name the party.

mod legal_forms;

use crate::identifiers::{address::fold_accents, text::fold_compatibility};

pub use legal_forms::{is_legal_form, legal_form_count};

/// The writing system of a token, as far as comparing names needs it.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Script {
    /// Latin letters (and digits alone).
    Latin,
    /// Cyrillic.
    Cyrillic,
    /// Greek.
    Greek,
    /// Chinese characters (Han), also as used in Japanese and Korean.
    Han,
    /// Japanese hiragana and katakana.
    Kana,
    /// Korean Hangul.
    Hangul,
    /// Arabic.
    Arabic,
    /// Any other script.
    Other,
}

/// What a token does in a name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Role {
    /// A word that names the party.
    Distinctive,
    /// A word of trade names that says little about who the party is (`trading`, `group`).
    Filler,
    /// Part of a place name (`Shenzhen`, `Hong Kong`).
    Place,
}

/// One token of a name.
///
/// Kept compact (scoring holds the names of every seller profile): the Latin form once,
/// and the native form only when it differs from it (a token of another script).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Token {
    /// As written, folded, when not the same as `latin`.
    native: Option<Box<str>>,
    /// Transliterated to lower-case ASCII letters and digits.
    latin: Box<str>,
    /// The script it is written in.
    pub script: Script,
    /// What it does in the name.
    pub role: Role,
}

impl Token {
    /// As written, folded: lower case, without accents (for a Latin-script token, its
    /// Latin form).
    pub fn native(&self) -> &str {
        self.native.as_deref().unwrap_or(&self.latin)
    }

    /// Transliterated to lower-case ASCII letters and digits.
    pub fn latin(&self) -> &str {
        &self.latin
    }
}

/// A name analysed for comparison: its tokens without legal forms.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Name {
    /// The tokens, in the order written, legal forms removed.
    pub tokens: Vec<Token>,
}

impl Name {
    /// Analyses a name. An empty or all-punctuation name gives no tokens.
    pub fn parse(raw: &str) -> Name {
        let mut tokens = tokenize(raw);
        legal_forms::strip(&mut tokens);
        legal_forms::mark_roles(&mut tokens);
        // Legal forms removed leave room that a stored name would keep.
        tokens.shrink_to_fit();
        Name { tokens }
    }

    /// Whether the name is a legal form and nothing else (`Ltd`, `GmbH`): it names no one.
    pub fn is_only_legal_form(&self) -> bool {
        legal_forms::is_only_legal_form(&self.tokens)
    }

    /// The tokens that name the party.
    pub fn distinctive(&self) -> impl Iterator<Item = &Token> {
        self.tokens.iter().filter(|t| t.role == Role::Distinctive)
    }

    /// The script most of the distinctive tokens are written in (Latin for a name of digits
    /// only, or none).
    pub fn script(&self) -> Script {
        let mut counts: Vec<(Script, usize)> = Vec::new();
        for token in self.distinctive() {
            match counts.iter_mut().find(|(s, _)| *s == token.script) {
                Some((_, n)) => *n += 1,
                None => counts.push((token.script, 1)),
            }
        }
        counts
            .into_iter()
            .max_by_key(|(script, n)| (*n, std::cmp::Reverse(*script)))
            .map_or(Script::Latin, |(script, _)| script)
    }

    /// The name's key for exact look-ups: the Latin forms of its distinctive and place
    /// tokens, in order, without spaces. Equal for the same name written with other legal
    /// forms, accents, Unicode forms, punctuation, spacing or script (when the Latin name is
    /// the transliteration of the other).
    pub fn key(&self) -> String {
        self.tokens
            .iter()
            .filter(|t| t.role != Role::Filler)
            .map(|t| t.latin())
            .collect()
    }
}

/// The script of a character, for [`Token::script`].
fn script_of(c: char) -> Script {
    match c as u32 {
        0x0370..=0x03FF | 0x1F00..=0x1FFF => Script::Greek,
        0x0400..=0x052F | 0x1C80..=0x1C8F | 0x2DE0..=0x2DFF | 0xA640..=0xA69F => Script::Cyrillic,
        0x3040..=0x30FF | 0x31F0..=0x31FF | 0xFF66..=0xFF9F => Script::Kana,
        0x1100..=0x11FF | 0x3130..=0x318F | 0xAC00..=0xD7AF => Script::Hangul,
        0x2E80..=0x2FDF
        | 0x3005..=0x3007
        | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF
        | 0xF900..=0xFAFF
        | 0x20000..=0x3FFFF => Script::Han,
        0x0600..=0x06FF | 0x0750..=0x077F | 0x08A0..=0x08FF => Script::Arabic,
        _ if c.is_ascii_alphanumeric() => Script::Latin,
        0x00C0..=0x024F | 0x1E00..=0x1EFF => Script::Latin,
        _ => Script::Other,
    }
}

/// Characters written without spaces between words, so each is a token of its own.
fn stands_alone(c: char) -> bool {
    matches!(script_of(c), Script::Han | Script::Kana)
}

/// Cuts a name into tokens (see the module docs); roles are all [`Role::Distinctive`] here.
fn tokenize(raw: &str) -> Vec<Token> {
    let folded = fold_accents(&fold_compatibility(raw).to_lowercase()).replace('ß', "ss");
    // (word, followed directly by a dot)
    let mut words: Vec<(String, bool)> = Vec::new();
    let mut word = String::new();
    let mut chars = folded.chars().peekable();
    while let Some(c) = chars.next() {
        if stands_alone(c) {
            if !word.is_empty() {
                words.push((std::mem::take(&mut word), false));
            }
            words.push((c.to_string(), false));
        } else if c.is_alphanumeric() {
            word.push(c);
        } else if matches!(c, '\'' | '’' | '`' | 'ʼ') && !word.is_empty() {
            // "Macy's", "L'Oréal": an apostrophe joins, it does not separate.
        } else if !word.is_empty() {
            words.push((std::mem::take(&mut word), c == '.'));
        }
        let _ = chars.peek();
    }
    if !word.is_empty() {
        words.push((word, false));
    }
    // Dotted initials: "s.p.a." and "j.p." are one token.
    let mut merged: Vec<String> = Vec::new();
    let mut previous_dotted_initial = false;
    for (word, dotted) in words {
        let initial = word.chars().count() == 1 && !word.chars().all(stands_alone);
        match merged.last_mut() {
            Some(last) if initial && previous_dotted_initial => last.push_str(&word),
            _ => merged.push(word),
        }
        previous_dotted_initial = initial && dotted;
    }
    merged
        .into_iter()
        .map(|native| {
            let latin: String = any_ascii::any_ascii(&native)
                .to_ascii_lowercase()
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .collect();
            let script = native
                .chars()
                .find(|c| c.is_alphabetic())
                .map_or(Script::Latin, script_of);
            // Latin letters without a decomposition (ø, ł, đ, æ) fold by transliteration.
            let native = (script != Script::Latin && native != latin).then(|| native.into());
            Token {
                native,
                latin: latin.into(),
                script,
                role: Role::Distinctive,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn distinctive(name: &str) -> Vec<String> {
        Name::parse(name)
            .distinctive()
            .map(|t| t.native().to_owned())
            .collect()
    }

    #[test]
    fn tokens_fold_case_accents_unicode_forms_and_initials() {
        assert_eq!(distinctive("Brașov Trading SRL"), ["brasov"]);
        assert_eq!(distinctive("BRASOV TRADING S.R.L."), ["brasov"]);
        assert_eq!(distinctive("J.P. Morgan"), ["jp", "morgan"]);
        assert_eq!(distinctive("Macy's"), ["macys"]);
        assert_eq!(
            distinctive("Ｍüｌｌｅｒ\u{200b} Handels GmbH"),
            ["muller", "handels"]
        );
        let nfc = "Công ty TNHH Thương mại Đức Phát";
        let nfd: String = unicode_normalization::UnicodeNormalization::nfd(nfc).collect();
        assert_ne!(nfc, nfd);
        assert_eq!(Name::parse(nfc), Name::parse(&nfd));
        assert_eq!(distinctive(nfc), ["thuong", "mai", "duc", "phat"]);
        assert_eq!(distinctive("Ørsted A/S"), ["orsted"]);
        assert_eq!(distinctive("Łukasz Trade"), ["lukasz"]);
    }

    #[test]
    fn cjk_characters_are_tokens_of_their_own() {
        let name = Name::parse("深圳市明亮贸易有限公司");
        let native: Vec<&str> = name.tokens.iter().map(|t| t.native()).collect();
        assert_eq!(native, ["深", "圳", "市", "明", "亮", "贸", "易"]);
        assert_eq!(name.script(), Script::Han);
        assert_eq!(distinctive("深圳市明亮贸易有限公司"), ["明", "亮"]);
        assert_eq!(distinctive("株式会社ソニー"), ["ソ", "ニ", "ー"]);
    }

    #[test]
    fn legal_forms_of_many_languages_are_removed() {
        for (name, rest) in [
            ("Siemens AG", "siemens"),
            ("Siemens Aktiengesellschaft", "siemens"),
            ("Maersk A/S", "maersk"),
            ("Maersk Aktieselskab", "maersk"),
            ("Philips B.V.", "philips"),
            ("Philips Besloten Vennootschap", "philips"),
            ("Toyota Kabushiki Kaisha", "toyota"),
            ("Toyota K.K.", "toyota"),
            ("Bright Trading Co., Ltd.", "bright"),
            ("Bright Trading Co., Ltd. (Shenzhen)", "bright"),
            ("Nestlé S.A.", "nestle"),
            ("Ferrari S.p.A.", "ferrari"),
            ("Kowalski Sp. z o.o.", "kowalski"),
            ("Acme Pte. Ltd.", "acme"),
            ("Acme Pvt Ltd", "acme"),
            ("Acme Inc.", "acme"),
            ("Acme LLC", "acme"),
            ("Ромашка ООО", "ромашка"),
        ] {
            assert_eq!(distinctive(name), [rest], "{name}");
        }
        assert_eq!(
            Name::parse("Общество с ограниченной ответственностью «Ромашка»").key(),
            "romashka"
        );
        assert_eq!(Name::parse("ООО «Ромашка»").key(), "romashka");
        assert_eq!(Name::parse("Romashka LLC").key(), "romashka");
    }

    #[test]
    fn a_name_that_is_only_a_legal_form_keeps_it() {
        // Both words are legal forms; the last one standing is kept ("company" is a filler).
        assert_eq!(Name::parse("Company Limited").key(), "limited");
        assert!(Name::parse("  .,  ").tokens.is_empty());
    }

    #[test]
    fn fillers_and_places_are_marked() {
        let name = Name::parse("Shenzhen Bright International Trading Co., Ltd.");
        let roles: Vec<Role> = name.tokens.iter().map(|t| t.role).collect();
        assert_eq!(
            roles,
            [Role::Place, Role::Distinctive, Role::Filler, Role::Filler]
        );
        let name = Name::parse("深圳市明亮贸易有限公司");
        assert_eq!(name.key(), "shenzhenmingliang");
        assert_eq!(
            Name::parse("Shenzhen Shi Mingliang Maoyi Youxian Gongsi").key(),
            "shenzhenmingliang"
        );
        assert_eq!(Name::parse("Bank of China Limited").key(), "bankchina");
    }

    #[test]
    fn scripts() {
        assert_eq!(Name::parse("Ромашка").script(), Script::Cyrillic);
        assert_eq!(Name::parse("Romashka").script(), Script::Latin);
        assert_eq!(Name::parse("삼성전자 주식회사").script(), Script::Hangul);
        assert_eq!(Name::parse("Ωμέγα").script(), Script::Greek);
        assert_eq!(Name::parse("1234").script(), Script::Latin);
    }
}
