//! A declared quantity is in a unit (`quantity_unit`): pieces, pairs, dozens, or a measure
//! such as kilograms or litres. Marketplace prices are per item, so a declared value is set
//! beside them only when its quantity counts items (found by a tester: any unit, even
//! "BANANA" or "KGM", was taken as a count, so 10 kg of earbuds read as 10 earbuds).
//!
//! Sources: UN/ECE Recommendation 20 (Codes for Units of Measure Used in International
//! Trade, rev. 17): `H87` piece, `C62` one, `EA` each, `NAR` number of articles, `PCE`
//! piece (withdrawn, still sent), `PR` and `NPR` pair, `SET` set, `DZN` dozen, `DPR` dozen
//! pairs, `GRO` gross; the U.S. HTS units `NO`, `PCS`, `DOZ`, `PRS`; the EU Combined
//! Nomenclature's supplementary unit `p/st` (pieces). Codes that mean a measure or a
//! package (`KGM`, `LTR`, `PK`, `CT`) or mean different things in different lists (`GR`,
//! gross or grams; `PA`, packet or pairs) are not counts.

/// Items in one `unit` (trimmed, any case): 1 for a piece, a pair or a set (a platform lists
/// a pair of shoes or a set as one item), 12 for a dozen, 144 for a gross; None for a
/// measure, a package or a code this list does not know. An empty unit (not declared: most
/// declarations carry none) counts items, 1.
pub fn items_per_unit(unit: &str) -> Option<f64> {
    let unit = unit.trim().to_ascii_uppercase();
    match unit.as_str() {
        "" | "H87" | "C62" | "EA" | "EACH" | "NAR" | "PCE" | "PCS" | "PC" | "PIECE" | "PIECES"
        | "NO" | "NOS" | "NMB" | "U" | "UN" | "UNIT" | "UNITS" | "P/ST" | "PST" | "PR" | "NPR"
        | "PRS" | "PAIR" | "PAIRS" | "SET" | "SETS" => Some(1.0),
        "DZN" | "DOZ" | "DPR" => Some(12.0),
        "GRO" => Some(144.0),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::items_per_unit;

    #[test]
    fn counts_are_items_and_measures_are_not() {
        for unit in ["", " pce ", "H87", "pcs", "EA", "PR", "set", "p/st", "NO"] {
            assert_eq!(items_per_unit(unit), Some(1.0), "{unit:?}");
        }
        assert_eq!(items_per_unit("dzn"), Some(12.0));
        assert_eq!(items_per_unit("GRO"), Some(144.0));
        for unit in [
            "KGM", "kg", "LTR", "MTR", "MTK", "PK", "CT", "GR", "PA", "BANANA",
        ] {
            assert_eq!(items_per_unit(unit), None, "{unit:?}");
        }
    }
}
