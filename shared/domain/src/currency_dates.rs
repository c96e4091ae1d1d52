//! Which ISO 4217 codes were money on a given day. A declaration, a price or an inspection
//! result is judged by its own date: a 2020 invoice in Netherlands Antillean guilders (ANG)
//! is ordinary, one in Caribbean guilders (XCG), first issued in 2025, is not (found by a
//! tester: ANG, SLL, ZWL, VEF, MRO, LTL, LVL and EEK were refused on dates they were in use,
//! and XCG, SLE and ZWG accepted before they existed).
//!
//! Source: ISO 4217 List One (current) and List Three (historic denominations), as
//! maintained by SIX for the ISO 4217 Maintenance Agency, and the issuing central banks'
//! changeover announcements. Dates are generous where a changeover had a period of dual
//! circulation: a withdrawn code is accepted until that period ended, a new one from the
//! day it was first issued. Only changes since 2000 are listed: no declaration before 2000
//! is accepted.

use crate::rates::days_from_civil;

/// Codes withdrawn since 2000 and the first day they are no longer money here, with the
/// code that replaced them (for the error message and the reader).
const WITHDRAWN: &[(&str, &str, (i64, u32, u32))] = &[
    // The euro's cash changeover (dual circulation until 28 February 2002 at the latest).
    ("ATS", "EUR", (2002, 3, 1)),
    ("BEF", "EUR", (2002, 3, 1)),
    ("DEM", "EUR", (2002, 3, 1)),
    ("ESP", "EUR", (2002, 3, 1)),
    ("FIM", "EUR", (2002, 3, 1)),
    ("FRF", "EUR", (2002, 3, 1)),
    ("GRD", "EUR", (2002, 3, 1)),
    ("IEP", "EUR", (2002, 3, 1)),
    ("ITL", "EUR", (2002, 3, 1)),
    ("LUF", "EUR", (2002, 3, 1)),
    ("NLG", "EUR", (2002, 3, 1)),
    ("PTE", "EUR", (2002, 3, 1)),
    ("SIT", "EUR", (2007, 1, 15)),
    ("CYP", "EUR", (2008, 2, 1)),
    ("MTL", "EUR", (2008, 2, 1)),
    ("SKK", "EUR", (2009, 1, 17)),
    ("EEK", "EUR", (2011, 1, 15)),
    ("LVL", "EUR", (2014, 1, 15)),
    ("LTL", "EUR", (2015, 1, 16)),
    ("HRK", "EUR", (2023, 1, 15)),
    ("BGN", "EUR", (2026, 2, 1)),
    ("ADP", "EUR", (2002, 3, 1)),
    // Redenominations and replacements.
    ("BYB", "BYR", (2001, 1, 1)),
    ("ECS", "USD", (2001, 1, 1)),
    ("ECV", "USD", (2001, 1, 1)),
    ("TPE", "USD", (2003, 1, 1)),
    ("AFA", "AFN", (2003, 1, 3)),
    ("YUM", "CSD", (2004, 1, 1)),
    ("SRG", "SRD", (2004, 7, 1)),
    ("MGF", "MGA", (2005, 1, 1)),
    ("TRL", "TRY", (2006, 1, 1)),
    ("AZM", "AZN", (2007, 1, 1)),
    ("CSD", "RSD", (2007, 1, 1)),
    ("MZM", "MZN", (2007, 1, 1)),
    ("ROL", "RON", (2007, 1, 1)),
    ("SDD", "SDG", (2007, 7, 1)),
    ("GHC", "GHS", (2008, 1, 1)),
    ("VEB", "VEF", (2008, 7, 1)),
    ("TMM", "TMT", (2010, 1, 1)),
    ("ZWD", "ZWN", (2008, 9, 1)),
    ("ZWN", "ZWR", (2008, 9, 1)),
    ("ZWR", "ZWL", (2009, 3, 1)),
    ("ZMK", "ZMW", (2013, 7, 1)),
    ("USS", "USD", (2014, 4, 1)),
    ("BYR", "BYN", (2017, 1, 1)),
    ("MRO", "MRU", (2018, 7, 1)),
    ("STD", "STN", (2018, 7, 1)),
    ("VEF", "VES", (2019, 1, 1)),
    ("ZWL", "ZWG", (2024, 10, 1)),
    ("SLL", "SLE", (2025, 1, 1)),
    ("ANG", "XCG", (2025, 7, 1)),
];

/// Current codes first issued since 2000 and the first day they are money.
const INTRODUCED: &[(&str, (i64, u32, u32))] = &[
    ("AFN", (2002, 10, 7)),
    ("SRD", (2004, 1, 1)),
    ("TRY", (2005, 1, 1)),
    ("RON", (2005, 7, 1)),
    ("AZN", (2006, 1, 1)),
    ("MZN", (2006, 7, 1)),
    ("SDG", (2007, 1, 10)),
    ("GHS", (2007, 7, 3)),
    ("TMT", (2009, 1, 1)),
    ("SSP", (2011, 7, 18)),
    ("ZMW", (2013, 1, 1)),
    ("BYN", (2016, 7, 1)),
    ("MRU", (2018, 1, 1)),
    ("STN", (2018, 1, 1)),
    ("VES", (2018, 8, 20)),
    ("VED", (2021, 10, 1)),
    ("SLE", (2022, 4, 1)),
    ("ZWG", (2024, 4, 5)),
    ("XCG", (2025, 3, 31)),
];

fn day((year, month, day): (i64, u32, u32)) -> i64 {
    days_from_civil(year, month, day)
}

/// True when `code` (upper case) was money on `day` (days since 1970-01-01): a current
/// code ([`crate::codes::is_currency`]) from the day it was first issued, or a withdrawn
/// one until its changeover ended.
pub fn in_use_on(code: &str, on: i64) -> bool {
    if crate::codes::is_currency(code) {
        return INTRODUCED
            .iter()
            .find(|(c, _)| *c == code)
            .is_none_or(|(_, from)| on >= day(*from));
    }
    WITHDRAWN
        .iter()
        .any(|(c, _, until)| *c == code && on < day(*until))
}

/// The code that replaced a withdrawn `code`, if it is one listed here.
pub fn replaced_by(code: &str) -> Option<&'static str> {
    WITHDRAWN
        .iter()
        .find(|(c, _, _)| *c == code)
        .map(|(_, by, _)| *by)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on(date: (i64, u32, u32)) -> i64 {
        day(date)
    }

    #[test]
    fn codes_are_money_between_their_issue_and_the_end_of_their_changeover() {
        let cases = [
            ("ANG", (2020, 6, 1), true),
            ("ANG", (2025, 6, 30), true),
            ("ANG", (2025, 7, 1), false),
            ("XCG", (2020, 6, 1), false),
            ("XCG", (2025, 3, 31), true),
            ("SLL", (2021, 3, 1), true),
            ("SLE", (2020, 6, 1), false),
            ("SLE", (2023, 1, 1), true),
            ("ZWL", (2023, 5, 1), true),
            ("ZWG", (2020, 6, 1), false),
            ("VEF", (2017, 5, 1), true),
            ("MRO", (2017, 5, 1), true),
            ("LTL", (2014, 5, 1), true),
            ("LTL", (2016, 5, 1), false),
            ("LVL", (2013, 5, 1), true),
            ("EEK", (2010, 5, 1), true),
            ("DEM", (2001, 5, 1), true),
            ("DEM", (2003, 5, 1), false),
            ("HRK", (2022, 6, 1), true),
            ("HRK", (2023, 6, 1), false),
            ("BGN", (2025, 6, 1), true),
            ("BGN", (2026, 2, 15), false),
            ("ZWD", (2005, 6, 1), true),
            ("ECS", (2000, 3, 1), true),
            ("YUM", (2002, 6, 1), true),
            ("EUR", (2001, 5, 1), true),
            ("USD", (2000, 1, 1), true),
            ("XTS", (2020, 1, 1), false),
            ("RMB", (2020, 1, 1), false),
        ];
        for (code, date, money) in cases {
            assert_eq!(in_use_on(code, on(date)), money, "{code} on {date:?}");
        }
        assert_eq!(replaced_by("ANG"), Some("XCG"));
        assert_eq!(replaced_by("USD"), None);
    }

    #[test]
    fn the_lists_name_each_code_once_and_never_both_current_and_withdrawn() {
        for (code, _, _) in WITHDRAWN {
            assert!(!crate::codes::is_currency(code), "{code} is current");
            assert_eq!(
                WITHDRAWN.iter().filter(|w| w.0 == *code).count(),
                1,
                "{code}"
            );
        }
        for (code, _) in INTRODUCED {
            assert!(crate::codes::is_currency(code), "{code} is not current");
        }
        for (code, by, _) in WITHDRAWN {
            assert!(
                crate::codes::is_currency(by) || WITHDRAWN.iter().any(|w| w.0 == *by),
                "{code} → {by}"
            );
        }
    }
}
