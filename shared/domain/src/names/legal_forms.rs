//! Legal forms, filler words and places in names.
//!
//! Legal forms come from `data/legal-forms.txt`, derived from the ISO 20275 Entity Legal
//! Forms code list (GLEIF, CC0 1.0; see `data/make-legal-forms.py` for the source, the
//! licence and what was left out): 3,600 local names, transliterations and abbreviations of
//! every jurisdiction, so `Aktieselskab`, `A/S`, `Besloten Vennootschap`, `B.V.`, `Kabushiki
//! Kaisha`, `株式会社` and `Общество с ограниченной ответственностью` are all recognised.
//! Phrases are compared by the concatenated Latin forms of their tokens, so dotted, spaced,
//! transliterated and original-script spellings of a form agree (`S.A.`, `SA`; `ООО`,
//! `OOO`; `有限公司`, `Youxian Gongsi`).
//!
//! Filler words and places are short hand-kept lists: they are not legal forms, and only
//! mark tokens for the comparison rules (they are never removed).

use std::collections::HashSet;
use std::sync::LazyLock;

use super::{Role, Token};

/// The legal forms: concatenated Latin forms of each phrase's tokens, and the longest phrase
/// in tokens.
struct Phrases {
    set: HashSet<String>,
    longest: usize,
}

impl Phrases {
    fn of<'a>(phrases: impl Iterator<Item = &'a str>) -> Phrases {
        let mut set = HashSet::new();
        // A phrase of one Latin word may span several tokens of a name in a script written
        // without spaces ("maoyi" is 贸 易), so count syllables, not only words.
        let mut longest = 4;
        for phrase in phrases {
            let tokens = super::tokenize(phrase);
            let key: String = tokens.iter().map(|t| t.latin()).collect();
            if !key.is_empty() {
                longest = longest.max(tokens.len());
                set.insert(key);
            }
        }
        Phrases { set, longest }
    }

    /// How many tokens from `start` (forwards) form a phrase, longest first.
    fn match_at(&self, tokens: &[Token], start: usize) -> Option<usize> {
        (1..=self.longest.min(tokens.len() - start))
            .rev()
            .find(|&n| self.contains(&tokens[start..start + n]))
    }

    /// How many tokens ending at `end` (exclusive) form a phrase, longest first.
    fn match_before(&self, tokens: &[Token], end: usize) -> Option<usize> {
        (1..=self.longest.min(end))
            .rev()
            .find(|&n| self.contains(&tokens[end - n..end]))
    }

    fn contains(&self, tokens: &[Token]) -> bool {
        let key: String = tokens.iter().map(|t| t.latin()).collect();
        self.set.contains(&key)
    }
}

static LEGAL_FORMS: LazyLock<Phrases> = LazyLock::new(|| {
    Phrases::of(
        include_str!("../../data/legal-forms.txt")
            .lines()
            .filter(|line| !line.starts_with('#'))
            .filter_map(|line| line.split_once('\t').map(|(_, form)| form)),
    )
});

/// Words of trade names that do not say who the party is. Kept short: an industry word
/// (`energy`, `electronics`) does, as `Siemens` and `Siemens Energy` are two companies.
const FILLERS: &[&str] = &[
    "and",
    "the",
    "of",
    "de",
    "du",
    "des",
    "der",
    "und",
    "et",
    "y",
    "co",
    "company",
    "group",
    "holding",
    "holdings",
    "international",
    "intl",
    "global",
    "trading",
    "trade",
    "traders",
    "enterprise",
    "enterprises",
    "store",
    "shop",
    "official",
    // Shop words that marketplaces' generic shop names are made of ("Best Price", "Online
    // Mall"; found by a tester).
    "best",
    "price",
    "prices",
    "mall",
    "online",
    "discount",
    "shopping",
    "flagship",
    "boutique",
    "seller",
    "maoyi",
    "jituan",
    "gongsi",
    "shi",
    "sheng",
    "qu",
    "xian",
];

/// Places that trade names carry before or after the name proper (Chinese trade names
/// begin with their city). Marked so that a name with its place and one without can be
/// the same party, while two different places tell two parties apart.
const PLACES: &[&str] = &[
    "china",
    "hongkong",
    "hk",
    "macau",
    "taiwan",
    "shenzhen",
    "guangzhou",
    "dongguan",
    "foshan",
    "zhongshan",
    "huizhou",
    "shantou",
    "jiangmen",
    "yiwu",
    "jinhua",
    "hangzhou",
    "ningbo",
    "wenzhou",
    "taizhou",
    "shaoxing",
    "shanghai",
    "beijing",
    "tianjin",
    "suzhou",
    "wuxi",
    "changzhou",
    "nanjing",
    "xiamen",
    "quanzhou",
    "fuzhou",
    "putian",
    "jinjiang",
    "qingdao",
    "jinan",
    "wuhan",
    "changsha",
    "chengdu",
    "chongqing",
    "xian",
    "zhengzhou",
    "hefei",
    "guangdong",
    "zhejiang",
    "jiangsu",
    "fujian",
    "shandong",
    "hubei",
    "hunan",
    "sichuan",
    "hebei",
    "henan",
    "anhui",
    "jiangxi",
    "singapore",
    "vietnam",
    "hanoi",
    "hochiminh",
    "india",
    "mumbai",
    "delhi",
    "usa",
    "america",
    "uk",
    "london",
    "europe",
    "eu",
    "asia",
    "germany",
    "deutschland",
    "france",
    "italy",
    "spain",
    "turkey",
    "istanbul",
    "japan",
    "tokyo",
    "osaka",
    "korea",
    "seoul",
    "thailand",
    "bangkok",
    "malaysia",
    "indonesia",
    "jakarta",
    "pakistan",
    "karachi",
    "bangladesh",
    "dhaka",
];

static FILLER_PHRASES: LazyLock<Phrases> = LazyLock::new(|| Phrases::of(FILLERS.iter().copied()));
static PLACE_PHRASES: LazyLock<Phrases> = LazyLock::new(|| Phrases::of(PLACES.iter().copied()));

/// Whether `phrase` is a legal form of the list (in any of its spellings).
pub fn is_legal_form(phrase: &str) -> bool {
    let tokens = super::tokenize(phrase);
    !tokens.is_empty() && LEGAL_FORMS.contains(&tokens)
}

/// Whether `tokens` are one legal form and nothing else (a name that is only `Ltd`).
pub(super) fn is_only_legal_form(tokens: &[Token]) -> bool {
    !tokens.is_empty() && LEGAL_FORMS.contains(tokens)
}

/// How many distinct legal forms (by their Latin key) the list holds.
pub fn legal_form_count() -> usize {
    LEGAL_FORMS.set.len()
}

/// Removes legal forms at either end of the name, repeatedly (`Co., Ltd.` is two), also
/// when places follow or precede them, as long as a token is left.
pub(super) fn strip(tokens: &mut Vec<Token>) {
    loop {
        let before = tokens.len();
        // At the end, skipping trailing places: "Bright Co., Ltd. (Shenzhen)".
        let mut end = tokens.len();
        while let Some(n) = PLACE_PHRASES.match_before(tokens, end) {
            if n == end {
                break;
            }
            end -= n;
        }
        if let Some(n) = LEGAL_FORMS.match_before(tokens, end)
            && n < tokens.len()
        {
            tokens.drain(end - n..end);
            continue;
        }
        // At the start, skipping leading places.
        let mut start = 0;
        while start < tokens.len()
            && let Some(n) = PLACE_PHRASES.match_at(tokens, start)
        {
            start += n;
        }
        if start < tokens.len()
            && let Some(n) = LEGAL_FORMS.match_at(tokens, start)
            && n < tokens.len()
            && prefix_form(&tokens[start..start + n])
        {
            tokens.drain(start..start + n);
            continue;
        }
        if tokens.len() == before {
            break;
        }
    }
}

/// Whether a legal form found at the start of a name is taken as one: two-letter
/// abbreviations are mostly written after the name, and before it they are more often
/// initials ("J.P. Morgan", "AB InBev"), except for the forms written first by custom.
fn prefix_form(form: &[Token]) -> bool {
    let key: String = form.iter().map(|t| t.latin()).collect();
    key.len() > 2 || matches!(key.as_str(), "pt" | "cv" | "ud" | "ao" | "ip")
}

/// Marks filler and place tokens.
pub(super) fn mark_roles(tokens: &mut [Token]) {
    let mut i = 0;
    while i < tokens.len() {
        if let Some(n) = PLACE_PHRASES.match_at(tokens, i) {
            tokens[i..i + n]
                .iter_mut()
                .for_each(|t| t.role = Role::Place);
            i += n;
        } else if let Some(n) = FILLER_PHRASES.match_at(tokens, i) {
            // "shi", "qu", ... (市 city, 区 district) are fillers only right after a place:
            // elsewhere "Shi" is as likely a surname.
            let admin = matches!(tokens[i].latin(), "shi" | "sheng" | "qu" | "xian");
            if !admin || (i > 0 && tokens[i - 1].role == Role::Place) {
                tokens[i..i + n]
                    .iter_mut()
                    .for_each(|t| t.role = Role::Filler);
            }
            i += n;
        } else {
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_is_loaded_and_knows_the_forms_of_major_trading_languages() {
        assert!(legal_form_count() > 3000, "{}", legal_form_count());
        for form in [
            "GmbH",
            "AG",
            "Aktiengesellschaft",
            "S.A.",
            "SA",
            "Sociedad Anónima",
            "S.r.l.",
            "SRL",
            "B.V.",
            "Besloten Vennootschap",
            "N.V.",
            "A/S",
            "Aktieselskab",
            "AB",
            "Aktiebolag",
            "Oy",
            "S.p.A.",
            "SARL",
            "SAS",
            "Sp. z o.o.",
            "Kft.",
            "s.r.o.",
            "Ltd",
            "Limited",
            "Inc.",
            "Incorporated",
            "Corp.",
            "Corporation",
            "LLC",
            "PLC",
            "Pty Ltd",
            "Pvt. Ltd.",
            "Pte. Ltd.",
            "Co., Ltd.",
            "Kabushiki Kaisha",
            "株式会社",
            "K.K.",
            "有限公司",
            "有限责任公司",
            "Youxian Gongsi",
            "주식회사",
            "ООО",
            "OOO",
            "Общество с ограниченной ответственностью",
            "A.Ş.",
            "Ltd. Şti.",
            "Công ty TNHH",
        ] {
            assert!(is_legal_form(form), "{form}");
        }
        for word in [
            "Bank", "Siemens", "Energy", "China", "Trading", "Business", "株",
        ] {
            assert!(!is_legal_form(word), "{word}");
        }
    }
}
