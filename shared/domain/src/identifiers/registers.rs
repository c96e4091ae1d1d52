//! Forms of particular registers that name a party only when read the register's way
//! (normalisation version 4): a Russian INN printed with its KPP, and a German commercial
//! register number, which is unique only within its registry court.

/// The INN of a Russian `ИНН/КПП` pair, as invoices print it (`ИНН/КПП 7707083893/770701001`,
/// `ИНН 7707083893 КПП 770701001`): the 10-digit INN names the company, the 9-digit KPP only
/// the branch or tax office registering it, so the pair is the INN. `None` for anything else
/// (found by a tester: the pair never met the same INN given alone).
pub fn russian_inn(value: &str) -> Option<String> {
    let upper = value.to_uppercase();
    let paired = upper.contains("КПП") || upper.contains("KPP") || value.contains('/');
    let groups: Vec<&str> = value
        .split(|c: char| !c.is_ascii_digit())
        .filter(|g| !g.is_empty())
        .collect();
    match groups.as_slice() {
        [inn, kpp] if paired && inn.len() == 10 && kpp.len() == 9 => Some((*inn).to_owned()),
        _ => None,
    }
}

/// Register types of the German commercial, cooperative, partnership and association
/// registers (`Handelsregister` A and B, `Genossenschafts-`, `Partnerschafts-`,
/// `Vereinsregister`), as numbers are printed with them.
const GERMAN_REGISTERS: &[&str] = &["HRA", "HRB", "GNR", "GSR", "PR", "VR"];

/// Words that introduce a registry court: `Amtsgericht München`, `AG München`,
/// `Registergericht München`.
const COURT_WORDS: &[&str] = &["AMTSGERICHT", "AG", "REGISTERGERICHT", "REGISTERGERICHTS"];

/// A German register number read with its registry court: `Amtsgericht München HRB 12345`,
/// `HRB 12345 (AG München)` and `HRB 12345, Registergericht München` are all
/// `HRB12345@MÜNCHEN`; a number with the court's letter after it (`HRB 12345 B`, the
/// Charlottenburg court's) is `HRB12345B`. A bare number (`HRB 12345`) is refused: each of
/// about 150 courts numbers from 1, so it names a company in every one of them (found by a
/// tester: two companies of one number at two courts were linked, and a finding against one
/// listed the other). `None` when the value is no German register number.
///
/// With `v5` (version 5), the court is read in its ASCII spelling (`MÜNCHEN` and
/// `MUENCHEN` are `MUENCHEN`) and a number with the court's letter is that number whether
/// the court is named or not (found by a tester: `Amtsgericht Muenchen` and
/// `Amtsgericht Charlottenburg HRB 84729 B` never met the usual forms).
pub fn german_register(value: &str, v5: bool) -> Option<Result<String, String>> {
    let upper = value.to_uppercase();
    let words: Vec<&str> = upper
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    // The register type, and the number after it (in the same word or the next).
    let (at, register, rest) = words.iter().enumerate().find_map(|(i, word)| {
        GERMAN_REGISTERS.iter().find_map(|register| {
            let rest = word.strip_prefix(register)?;
            (rest.is_empty() || rest.starts_with(|c: char| c.is_ascii_digit()))
                .then_some((i, *register, rest))
        })
    })?;
    let (number_word, next) = if rest.is_empty() {
        (*words.get(at + 1)?, at + 2)
    } else {
        (rest, at + 1)
    };
    let digits: String = number_word
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    if digits.is_empty() {
        return None;
    }
    let mut suffix: String = number_word[digits.len()..].to_owned();
    let mut after = next;
    if suffix.is_empty()
        && let Some(word) = words.get(next)
        && word.len() <= 2
        && word.chars().all(char::is_alphabetic)
        && !COURT_WORDS.contains(word)
    {
        suffix = (*word).to_owned();
        after += 1;
    }
    let court = words
        .iter()
        .enumerate()
        .filter(|(i, _)| *i < at || *i >= after)
        .find_map(|(i, word)| {
            COURT_WORDS
                .contains(word)
                .then(|| words.get(i + 1))
                .flatten()
        });
    Some(match (court, suffix.is_empty()) {
        (Some(_), false) if v5 => Ok(format!("{register}{digits}{suffix}")),
        (Some(court), _) if v5 => Ok(format!("{register}{digits}{suffix}@{}", ascii_court(court))),
        (Some(court), _) => Ok(format!("{register}{digits}{suffix}@{court}")),
        (None, false) => Ok(format!("{register}{digits}{suffix}")),
        (None, true) => Err(format!(
            "names a company only with its registry court: give it as printed, e.g. \
             Amtsgericht München {register} {digits}"
        )),
    })
}

/// A court's name (upper case) in the ASCII spelling German writes without umlauts:
/// `Ä` `AE`, `Ö` `OE`, `Ü` `UE` (`ß` is upper-cased `SS` already).
fn ascii_court(court: &str) -> String {
    let mut out = String::with_capacity(court.len() + 2);
    for c in court.chars() {
        match c {
            'Ä' => out.push_str("AE"),
            'Ö' => out.push_str("OE"),
            'Ü' => out.push_str("UE"),
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn an_inn_with_its_kpp_is_the_inn() {
        for pair in [
            "ИНН/КПП 7707083893/770701001",
            "ИНН 7707083893 КПП 770701001",
            "7707083893 / 770701001",
            "INN/KPP 7707083893/770701001",
        ] {
            assert_eq!(russian_inn(pair).as_deref(), Some("7707083893"), "{pair}");
        }
        for other in [
            "7707083893",
            "ИНН 7707083893",
            "DE136695976",
            "1234567890 123456789",
        ] {
            assert_eq!(russian_inn(other), None, "{other}");
        }
    }

    #[test]
    fn a_german_register_number_is_its_courts() {
        let court = |v: &str| german_register(v, false).expect(v);
        for (printed, read) in [
            ("Amtsgericht München HRB 12345", "HRB12345@MÜNCHEN"),
            ("HRB 12345 (AG München)", "HRB12345@MÜNCHEN"),
            ("HRB12345, Registergericht München", "HRB12345@MÜNCHEN"),
            ("HRB 12345 B", "HRB12345B"),
            ("Amtsgericht Hamburg HRA 987", "HRA987@HAMBURG"),
        ] {
            assert_eq!(court(printed).as_deref(), Ok(read), "{printed}");
        }
        for bare in ["HRB 12345", "HRB12345", "hrb 12345"] {
            assert!(
                court(bare).unwrap_err().contains("registry court"),
                "{bare}"
            );
        }
        for other in [
            "DE136695976",
            "04732918",
            "91440300MA5FXL2X3K",
            "PRIVAT",
            "HRBX",
        ] {
            assert_eq!(german_register(other, false), None, "{other}");
        }
    }

    #[test]
    fn from_version_5_a_court_reads_alike_in_ascii_and_its_letter_names_it() {
        let v5 = |v: &str| german_register(v, true).expect(v);
        for (printed, read) in [
            ("Amtsgericht München HRB 84729", "HRB84729@MUENCHEN"),
            ("HRB 84729, Amtsgericht Muenchen", "HRB84729@MUENCHEN"),
            ("HRB 84729 (AG München)", "HRB84729@MUENCHEN"),
            ("Amtsgericht Köln HRB 1", "HRB1@KOELN"),
            ("HRB 84729 B", "HRB84729B"),
            ("Amtsgericht Charlottenburg HRB 84729 B", "HRB84729B"),
            ("Amtsgericht Hamburg HRA 987", "HRA987@HAMBURG"),
        ] {
            assert_eq!(v5(printed).as_deref(), Ok(read), "{printed}");
        }
        assert!(v5("HRB 84729").is_err());
    }
}
