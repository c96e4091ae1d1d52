//! Whether a phone number is valid under its country's numbering plan: libphonenumber's
//! rule, as the `phonenumber` crate applies it ([`phonenumber::is_valid`]), over the same
//! metadata, with each pattern compiled once for the life of the process.
//!
//! Why not the crate's own check: it compiles its patterns into one process-wide cache of
//! 100 regular expressions behind a mutex, and a country's check uses a dozen or more. With
//! numbers of more than about seven countries in turn, as a bulk load of real profiles has,
//! every check evicts and recompiles patterns: 5.5 ms a number for 30 countries against
//! 5 µs for one (measured Dec 2 2026; upstream removed the cache after 0.3.10, unreleased).
//! Here a pattern is compiled the first time a number of its country is checked and kept;
//! the memory grows with the countries seen (a few hundred KiB each), not with the numbers.

use std::{
    collections::HashMap,
    sync::{LazyLock, PoisonError, RwLock},
};

use phonenumber::{
    PhoneNumber, country,
    metadata::{DATABASE, Descriptor, Metadata},
};
use regex::Regex;

/// Compiled national number patterns, by the address of their text in the crate's
/// metadata (a static, never freed: each address is one pattern for the process).
static COMPILED: LazyLock<RwLock<HashMap<usize, Regex>>> = LazyLock::new(Default::default);

/// [`phonenumber::is_valid`] without the crate's regex cache: the number's region (for a
/// calling code shared by several, the first whose leading digits or patterns take the
/// number) has a type (fixed line, mobile, toll free, ...) whose pattern and lengths the
/// national number matches.
pub fn is_valid(number: &PhoneNumber) -> bool {
    let national = number.national().to_string();
    region_of(number.code().value(), &national).is_some_and(|meta| has_type(meta, &national))
}

/// The metadata that describes numbers of calling code `code` beginning `national`
/// (`phonenumber::validator::source_for`, then the region's or the code's entry).
fn region_of(code: u16, national: &str) -> Option<&'static Metadata> {
    let regions = DATABASE.region(&code)?;
    if let [region] = regions.as_slice() {
        if *region == "001" {
            // A non-geographic code (+800, +979, ...): one entry for the code.
            return DATABASE.by_code(&code)?.into_iter().next();
        }
        return region
            .parse::<country::Id>()
            .ok()
            .and_then(|_| DATABASE.by_id(*region));
    }
    regions.into_iter().find_map(|region| {
        let meta = DATABASE.by_id(region)?;
        let takes = match meta.leading_digits() {
            Some(leading) => anchored_match(leading.as_str(), national),
            None => has_type(meta, national),
        };
        (takes && region.parse::<country::Id>().is_ok()).then_some(meta)
    })
}

/// Whether `national` is a number of some type of the region: it matches the general
/// description and at least one type's (`phonenumber::validator::number_type` is not
/// `Unknown`).
fn has_type(meta: &'static Metadata, national: &str) -> bool {
    let descriptors = meta.descriptors();
    if !matches(descriptors.general(), national) {
        return false;
    }
    [
        descriptors.premium_rate(),
        descriptors.toll_free(),
        descriptors.shared_cost(),
        descriptors.voip(),
        descriptors.personal_number(),
        descriptors.pager(),
        descriptors.uan(),
        descriptors.voicemail(),
        descriptors.fixed_line(),
        descriptors.mobile(),
    ]
    .into_iter()
    .flatten()
    .any(|descriptor| matches(descriptor, national))
}

/// `Descriptor::is_match`: a length the type allows (when it lists any), and its pattern
/// matching from the first digit.
fn matches(descriptor: &'static Descriptor, national: &str) -> bool {
    let lengths = descriptor.possible_length();
    if !lengths.is_empty() && !lengths.contains(&(national.len() as u16)) {
        return false;
    }
    anchored_match(descriptor.national_number().as_str(), national)
}

/// Whether `pattern` (metadata text, whitespace insignificant) matches `text` from its
/// start; compiled on first use and kept. A pattern that does not compile matches nothing.
fn anchored_match(pattern: &'static str, text: &str) -> bool {
    let key = pattern.as_ptr() as usize;
    {
        let compiled = COMPILED.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(regex) = compiled.get(&key) {
            return regex.is_match(text);
        }
    }
    // `\A(?:...)` matches where the crate's `find` finds a match starting at 0: the
    // leftmost match starts at 0 whenever any does.
    let regex = regex::RegexBuilder::new(&format!(r"\A(?:{pattern})"))
        .ignore_whitespace(true)
        .build();
    let matched = regex.as_ref().is_ok_and(|regex| regex.is_match(text));
    if let Ok(regex) = regex {
        COMPILED
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, regex);
    }
    matched
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use phonenumber::metadata::DATABASE;

    /// Example numbers of every calling code's every type, and each changed as typing
    /// errors change numbers (a digit more, a digit less, a digit changed, two swapped).
    fn numbers_of(code: u16) -> Vec<String> {
        let mut examples = Vec::new();
        for meta in DATABASE.by_code(&code).unwrap_or_default() {
            let d = meta.descriptors();
            for descriptor in [
                Some(d.general()),
                d.fixed_line(),
                d.mobile(),
                d.toll_free(),
                d.premium_rate(),
                d.shared_cost(),
                d.personal_number(),
                d.voip(),
                d.pager(),
                d.uan(),
                d.voicemail(),
            ]
            .into_iter()
            .flatten()
            {
                if let Some(example) = descriptor.example() {
                    examples.push(example.to_owned());
                }
            }
        }
        let mut numbers = Vec::new();
        for example in examples {
            let digits: Vec<char> = example.chars().collect();
            let changed = |i: usize, to: char| {
                let mut d = digits.clone();
                d[i] = to;
                d.into_iter().collect::<String>()
            };
            numbers.push(example.clone());
            numbers.push(format!("{example}7"));
            numbers.push(example[..example.len() - 1].to_owned());
            for (i, digit) in digits.iter().enumerate() {
                let next = char::from_digit((digit.to_digit(10).unwrap_or(0) + 3) % 10, 10);
                numbers.push(changed(i, next.unwrap()));
            }
            if digits.len() > 2 {
                let mut swapped = digits.clone();
                swapped.swap(0, 1);
                numbers.push(swapped.into_iter().collect());
            }
        }
        numbers
            .into_iter()
            .map(|national| format!("+{code}{national}"))
            .collect()
    }

    #[test]
    fn the_same_answer_as_the_crate_for_every_calling_code() {
        let (mut compared, mut valid) = (0, 0);
        // One calling code at a time, so that the crate's cache of 100 holds its patterns.
        for code in 1..1000u16 {
            for text in numbers_of(code) {
                let Ok(number) = phonenumber::parse(None, &text) else {
                    continue;
                };
                let expected = phonenumber::is_valid(&number);
                assert_eq!(super::is_valid(&number), expected, "{text}");
                compared += 1;
                valid += usize::from(expected);
            }
        }
        // Both answers were compared many times (14,516 numbers, 9,440 valid, on 0.3.10).
        assert!(compared > 10_000 && valid > 5_000, "{compared} {valid}");
        assert!(compared - valid > 3_000, "{compared} {valid}");
    }
}
