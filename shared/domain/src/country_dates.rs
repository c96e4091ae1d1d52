//! Which country codes a declaration of a given day may carry. A declaration is judged by its
//! own date, as its currencies are ([`crate::currency_dates`]): goods of 2009 from the
//! Netherlands Antilles are declared `AN`, which ISO 3166-1 withdrew in 2010 for `BQ`, `CW`
//! and `SX` (found by a tester: `AN` on a 2009 declaration, `CS` in 2005 and `YU` in 2001 were
//! refused), and `SS` (South Sudan) names no country before 2011.
//!
//! Source: ISO 3166-3 (formerly used codes) and the ISO 3166 Maintenance Agency's newsletters
//! for the dates of each change. Only changes since 2000 are listed: no
//! declaration before 2000 is accepted. A withdrawn code is accepted for
//! [`WITHDRAWN_GRACE_DAYS`] after ISO withdrew it, as customs systems and their code lists
//! take months to follow a change.

use crate::rates::days_from_civil;

/// Days a withdrawn code is still accepted after its withdrawal: declarations filed by a
/// system whose code list has not caught up yet are ordinary, not malformed.
pub const WITHDRAWN_GRACE_DAYS: i64 = 365;

/// Codes withdrawn since 2000, the day ISO withdrew them, and the codes that replaced them
/// (for the error message).
const WITHDRAWN: &[(&str, (i64, u32, u32), &str)] = &[
    ("TP", (2002, 5, 20), "TL"),
    ("YU", (2003, 7, 23), "CS"),
    ("CS", (2006, 9, 26), "RS or ME"),
    ("AN", (2010, 12, 15), "BQ, CW or SX"),
];

/// Current ISO 3166-1 codes assigned since 2000 and the day they were assigned. The EU's
/// user-assigned codes (`XI`, `XU`, ...) are not dated: ISO does not assign them.
const INTRODUCED: &[(&str, (i64, u32, u32))] = &[
    ("TL", (2002, 5, 20)),
    ("AX", (2004, 2, 13)),
    ("GG", (2006, 3, 29)),
    ("IM", (2006, 3, 29)),
    ("JE", (2006, 3, 29)),
    ("ME", (2006, 9, 26)),
    ("RS", (2006, 9, 26)),
    ("BL", (2007, 9, 21)),
    ("MF", (2007, 9, 21)),
    ("BQ", (2010, 12, 15)),
    ("CW", (2010, 12, 15)),
    ("SX", (2010, 12, 15)),
    ("SS", (2011, 8, 9)),
];

fn day((year, month, day): (i64, u32, u32)) -> i64 {
    days_from_civil(year, month, day)
}

/// Why a declaration may not carry country `code` (upper case), or `None` when it may.
///
/// `on` is the declaration's day (days since 1970-01-01) when known: a code of
/// [`crate::codes::is_declared_country`] from the day it was assigned, or a withdrawn one
/// until [`WITHDRAWN_GRACE_DAYS`] after its withdrawal. Without a day, a current code. The
/// reason is a short lower-case text for a field violation, naming the replacing codes.
pub fn problem_on(code: &str, on: Option<i64>) -> Option<String> {
    if crate::codes::is_declared_country(code) {
        let (_, from) = INTRODUCED.iter().find(|(c, _)| *c == code)?;
        return on.is_some_and(|on| on < day(*from)).then(|| {
            format!(
                "{code} was first assigned on {}: a code in use on the declaration's date is required",
                iso_date(*from)
            )
        });
    }
    let Some((_, withdrawn, by)) = WITHDRAWN.iter().find(|(c, _, _)| *c == code) else {
        return Some(
            "must be an ISO 3166-1 alpha-2 code such as CN or DE (ZZ when unknown)".to_owned(),
        );
    };
    let until = day(*withdrawn) + WITHDRAWN_GRACE_DAYS;
    (on.is_none_or(|on| on >= until)).then(|| {
        format!(
            "{code} was withdrawn from ISO 3166-1 on {} (now {by}): a code in use on the declaration's date is required",
            iso_date(*withdrawn)
        )
    })
}

fn iso_date((year, month, day): (i64, u32, u32)) -> String {
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_accepted_from_their_assignment_until_a_year_after_their_withdrawal() {
        let cases = [
            ("AN", (2009, 6, 1), true),
            ("AN", (2011, 6, 1), true),
            ("AN", (2012, 1, 1), false),
            ("CW", (2009, 6, 1), false),
            ("CW", (2011, 1, 1), true),
            ("CS", (2005, 3, 1), true),
            ("CS", (2002, 3, 1), true),
            ("CS", (2008, 3, 1), false),
            ("RS", (2005, 3, 1), false),
            ("RS", (2007, 3, 1), true),
            ("YU", (2001, 3, 1), true),
            ("YU", (2005, 3, 1), false),
            ("TP", (2001, 3, 1), true),
            ("TL", (2001, 3, 1), false),
            ("SS", (2010, 3, 1), false),
            ("SS", (2020, 3, 1), true),
            ("XI", (2020, 6, 1), true),
            ("XK", (2009, 6, 1), true),
            ("DE", (2000, 1, 1), true),
            ("ZZ", (2000, 1, 1), true),
        ];
        for (code, date, accepted) in cases {
            let why = problem_on(code, Some(day(date)));
            assert_eq!(why.is_none(), accepted, "{code} on {date:?}: {why:?}");
        }
        let why = problem_on("AN", Some(day((2020, 1, 1)))).expect("refused");
        assert!(
            why.contains("2010-12-15") && why.contains("BQ, CW or SX"),
            "{why}"
        );
        // Without a date: current codes only.
        assert_eq!(problem_on("SS", None), None);
        assert!(problem_on("AN", None).is_some());
        for unknown in ["QQ", "EU", "UK"] {
            let why = problem_on(unknown, Some(day((2020, 1, 1)))).expect("refused");
            assert!(why.starts_with("must be an ISO 3166-1"), "{why}");
        }
    }

    #[test]
    fn the_lists_name_each_code_once_and_never_both_current_and_withdrawn() {
        for (code, _, _) in WITHDRAWN {
            assert!(
                !crate::codes::is_declared_country(code),
                "{code} is current"
            );
            assert_eq!(WITHDRAWN.iter().filter(|w| w.0 == *code).count(), 1);
        }
        for (code, _) in INTRODUCED {
            assert!(crate::codes::is_declared_country(code), "{code}");
            assert_eq!(INTRODUCED.iter().filter(|w| w.0 == *code).count(), 1);
        }
    }
}
