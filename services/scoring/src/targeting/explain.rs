//! Reasons from the model itself: the trees' per-feature contributions (log-odds) are
//! summed per field, and each field that raised the risk becomes a reason with its evidence
//! in words an officer reads ("importer IMP-9: 6 of 8 inspections found fraud").

use std::collections::BTreeMap;

use acx_proto::common::Reason;

use super::features::{Declared, MISSING, Stats, feature_group, field_label};

/// Most reasons from the model on one assessment.
const MAX_REASONS: usize = 4;

/// The reason group of a feature: its field, or a group of numeric features.
fn group_of(feature: &str) -> String {
    match feature {
        "value_usd_log" | "net_mass_kg_log" | "value_per_kg_log" | "zero_value" | "zero_mass" => {
            "declared_value".to_owned()
        }
        "duty_rate" | "duty_at_stake_usd_log" => "duty".to_owned(),
        other => feature_group(other).to_owned(),
    }
}

/// The reason code of a group, e.g. IMPORTER_RECORD, HS6_ORIGIN_RECORD, DECLARED_VALUE.
fn code_of(group: &str) -> String {
    let upper: String = group
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    match group {
        "declared_value" | "duty" | "lines" | "value_anomaly" => {
            format!("MODEL_{upper}")
        }
        "seller" => "MODEL_SELLER_RISK".to_owned(),
        _ => format!("{upper}_RECORD"),
    }
}

fn plural(n: u32, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// US dollars as an officer reads them: whole dollars, or cents below 10 (a value of
/// USD 0.06 is not "USD 0"; found by a tester).
fn usd(v: f64) -> String {
    if v < 10.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.0}")
    }
}

/// The evidence of a group in words.
fn words(group: &str, declared: &Declared, stats: &Stats) -> String {
    match group {
        "declared_value" => match declared.value_usd {
            Some(v) if v <= 0.0 => "declared value is zero".to_owned(),
            Some(v) if declared.net_mass_kg > 0.0 => format!(
                "declared value USD {} for {:.1} kg (USD {:.2} per kg)",
                usd(v),
                declared.net_mass_kg,
                v / declared.net_mass_kg
            ),
            Some(v) => format!("declared value USD {}, no net mass", usd(v)),
            None => "declared value in a currency without a reference rate".to_owned(),
        },
        "duty" => format!(
            "duty rate {:.1}% on USD {:.0}",
            declared.duty_rate * 100.0,
            declared.value_usd.unwrap_or(0.0)
        ),
        "lines" => format!(
            "{} declared",
            plural(declared.lines as u32, "line", "lines")
        ),
        "value_anomaly" => "declared value far below comparable prices or declarations".to_owned(),
        "seller" => "the linked marketplace seller's risk".to_owned(),
        field => {
            // A national code scheme the model knows that this declaration does not carry
            // (found by a tester: "raises the risk: national code kr.import_type" on French
            // declarations with no Korean codes read as if the code were declared).
            let Some(value) = declared.keys.get(field) else {
                return format!("{}: not declared", field_label(field));
            };
            let label = tariff_label(field, value, field_label(field));
            // What was not declared is said so, not shown as a code (found by a tester:
            // "consignor ∅", "transport mode 0").
            let shown = value
                .split('|')
                .map(|part| {
                    let undeclared = part == MISSING
                        || (matches!(field, "transport" | "procedure") && part == "0");
                    if undeclared { "not declared" } else { part }
                })
                .collect::<Vec<_>>()
                .join(" / ");
            match stats.record_of(field, value) {
                Some(r) if r.inspections >= 20 => format!(
                    "{label} {shown}: fraud in {:.0}% of {} inspections",
                    100.0 * f64::from(r.frauds) / f64::from(r.inspections),
                    r.inspections
                ),
                // Few and clean: what the model weighs is how little is known (a tester read
                // "raises the risk: ...: 0 of 4 inspections found fraud" as a contradiction).
                Some(r) if r.frauds == 0 => format!(
                    "{label} {shown}: too little known, {} so far, none found fraud",
                    plural(r.inspections, "inspection", "inspections")
                ),
                Some(r) => format!(
                    "{label} {shown}: {} of {} found fraud",
                    r.frauds,
                    plural(r.inspections, "inspection", "inspections")
                ),
                None => {
                    let seen = stats.seen_count(field, value);
                    if seen > 0 {
                        format!(
                            "{label} {shown}: never inspected ({} seen)",
                            plural(seen, "declaration", "declarations")
                        )
                    } else {
                        format!("{label} {shown}: never inspected")
                    }
                }
            }
        }
    }
}

/// A field's label with its tariff code named as the national one it is, when its code is
/// of chapter 98 or 99, which the HS leaves to each country (found by a tester: a Korean
/// national code read "HS subheading 990388"). `value` is the field's key (`990388|CN`).
fn tariff_label(field: &str, value: &str, label: String) -> String {
    let part = match field {
        "hs2" | "hs4" | "hs6" | "hs6_origin" | "hs6_departure" | "hs4_origin" => 0,
        "importer_hs2" | "consignor_hs6" => 1,
        _ => return label,
    };
    match value.split('|').nth(part) {
        Some(code) if acx_domain::codes::is_national_chapter(code) => {
            label.replace("HS ", "national tariff ")
        }
        _ => label,
    }
}

/// Reasons from contributions (`names[i]` ↔ `contributions[i]`, log-odds) for a shipment
/// scored `risk`: the groups that raised it, most first, each with its share of the risk;
/// when none did, the group that lowered it most (share 0), so every assessment has one.
pub fn reasons(
    names: &[String],
    contributions: &[f64],
    values: &[f64],
    risk: f64,
    declared: &Declared,
    stats: &Stats,
) -> Vec<Reason> {
    // Per group: its summed contribution, and the feature that moved it most (in the
    // direction of the sum) with that feature's value, so the words say what weighed.
    let mut groups: BTreeMap<String, (f64, Option<Driver<'_>>)> = BTreeMap::new();
    for ((name, c), v) in names.iter().zip(contributions).zip(values) {
        let entry = groups.entry(group_of(name)).or_default();
        entry.0 += c;
        if entry.1.is_none_or(|d| c.abs() > d.contribution.abs()) {
            entry.1 = Some(Driver {
                feature: name,
                value: *v,
                contribution: *c,
            });
        }
    }
    let mut ranked: Vec<(String, f64, Option<Driver<'_>>)> =
        groups.into_iter().map(|(g, (c, d))| (g, c, d)).collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let positive: f64 = ranked.iter().map(|g| g.1.max(0.0)).sum();
    let said = |group: &str, driver: Option<Driver<'_>>| {
        let record = words(group, declared, stats);
        match driver.and_then(|d| what_weighed(group, d, stats, declared)) {
            Some(weighed) => format!("{record}; {weighed}"),
            None => record,
        }
    };
    let mut out: Vec<Reason> = ranked
        .iter()
        .filter(|g| g.1 > 0.0)
        .take(MAX_REASONS)
        .map(|(group, c, driver)| Reason {
            code: code_of(group),
            description: format!("raises the risk: {}", said(group, *driver)),
            contribution: risk * c / positive,
            evidence: Vec::new(),
        })
        .collect();
    if out.is_empty()
        && let Some((group, _, driver)) = ranked.last()
    {
        out.push(Reason {
            code: code_of(group),
            description: format!("lowers the risk: {}", said(group, *driver)),
            contribution: 0.0,
            evidence: Vec::new(),
        });
    }
    out
}

/// The feature of a group that moved the risk most, with its value.
#[derive(Debug, Clone, Copy)]
struct Driver<'a> {
    feature: &'a str,
    value: f64,
    contribution: f64,
}

/// What weighed most in a party's or code's group, when it is not the record the words
/// already give (found by a tester: "importer X: 2 of 2 inspections found fraud" where the
/// importer's days known weighed, and "fraud in 0% of 99 inspections" raising a risk through
/// how often the code is declared): how long the party is known, how often declared, how its
/// value per kg compares, how long since its last fraud.
fn what_weighed(
    group: &str,
    driver: Driver<'_>,
    stats: &Stats,
    declared: &Declared,
) -> Option<String> {
    let (_, feature) = driver.feature.rsplit_once('.')?;
    let v = driver.value;
    if !v.is_finite() {
        return None;
    }
    let days = |d: f64| plural(d.round().max(0.0) as u32, "day", "days");
    match feature {
        "days_known" if v < 1.0 => Some("first declared now: a new importer".to_owned()),
        "days_known" => Some(format!("first declared {} before", days(v))),
        // An undeclared party is no party that was seen (found by a second tester:
        // "consignor not declared: ... 2917 declarations seen before").
        _ if declared
            .keys
            .get(group)
            .is_some_and(|v| v.split('|').any(|part| part == MISSING)) =>
        {
            None
        }
        "declarations_log" => {
            let seen = (v.exp() - 1.0).round().max(0.0) as u32;
            Some(format!(
                "{} seen before",
                plural(seen, "declaration", "declarations")
            ))
        }
        // Said only when it is far from its declarations' (found by a second tester: "0.2
        // standard deviations above" read as an anomaly where the values were the same in
        // another currency), and without a figure past ten, where few values make the
        // spread small.
        "value_per_kg_z" if v.abs() >= 1.5 => {
            let side = if v < 0.0 { "below" } else { "above" };
            Some(if v.abs() > 10.0 {
                format!("value per kg far {side} its declarations'")
            } else {
                format!(
                    "value per kg {:.1} standard deviations {side} its declarations'",
                    v.abs()
                )
            })
        }
        "days_since_fraud" | "days_since_outcome" if v < 9_000.0 => {
            let what = if feature == "days_since_fraud" {
                "last fraud found"
            } else {
                "last inspected"
            };
            Some(if v < 1.0 {
                format!("{what} the same day")
            } else {
                format!("{what} {} before", days(v))
            })
        }
        // The record itself: the words say it, unless no fraud was found in many
        // inspections and what weighed is how many there were (a rate of 0% raising the
        // risk reads as a contradiction).
        "outcomes_log" => {
            let value = declared.keys.get(group)?;
            let record = stats.record_of(group, value)?;
            (record.frauds == 0 && record.inspections >= 20 && driver.contribution > 0.0)
                .then(|| "weighed for how often it is inspected, not for fraud found".to_owned())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_national_code_the_declaration_does_not_carry_is_said_to_be_not_declared() {
        let declared = Declared::default();
        let stats = Stats::default();
        let reasons = reasons(
            &["code:kr.import_type.fraud_rate".to_owned()],
            &[0.4],
            &[0.2],
            0.3,
            &declared,
            &stats,
        );
        assert_eq!(reasons[0].code, "CODE_KR_IMPORT_TYPE_RECORD");
        assert_eq!(
            reasons[0].description,
            "raises the risk: national code kr.import_type: not declared"
        );
    }

    #[test]
    fn a_reason_says_which_of_its_group_s_features_weighed() {
        let mut declared = Declared::default();
        declared
            .keys
            .insert("importer".to_owned(), "GFXOURM".to_owned());
        let stats = Stats::default();
        let names = [
            "importer.fraud_rate".to_owned(),
            "importer.days_known".to_owned(),
            "importer.declarations_log".to_owned(),
        ];
        // The importer's days known weighed, not its record.
        let said = reasons(
            &names,
            &[-0.067, 0.29, 0.01],
            &[0.3, 0.0, 0.0],
            0.5,
            &declared,
            &stats,
        );
        assert_eq!(said[0].code, "IMPORTER_RECORD");
        assert!(
            said[0]
                .description
                .ends_with("; first declared now: a new importer"),
            "{}",
            said[0].description
        );
        // How often it was declared weighed: 12 declarations seen.
        let said = reasons(
            &names,
            &[0.0, 0.01, 0.4],
            &[0.3, 40.0, 13f64.ln()],
            0.5,
            &declared,
            &stats,
        );
        assert!(
            said[0]
                .description
                .ends_with("; 12 declarations seen before"),
            "{}",
            said[0].description
        );
    }

    #[test]
    fn a_national_chapter_is_named_as_a_national_tariff_code() {
        let mut declared = Declared::default();
        declared.keys.insert("hs6".to_owned(), "990388".to_owned());
        declared
            .keys
            .insert("importer_hs2".to_owned(), "990001|61".to_owned());
        let stats = Stats::default();
        let said = reasons(
            &[
                "hs6.fraud_rate".to_owned(),
                "importer_hs2.fraud_rate".to_owned(),
            ],
            &[0.5, 0.4],
            &[0.2, 0.2],
            0.6,
            &declared,
            &stats,
        );
        assert!(
            said[0]
                .description
                .starts_with("raises the risk: national tariff subheading 990388: never inspected"),
            "{}",
            said[0].description
        );
        assert!(
            said[1]
                .description
                .contains("importer in HS chapter 990001 / 61"),
            "{}",
            said[1].description
        );
    }

    #[test]
    fn a_value_per_kg_near_its_declarations_or_an_undeclared_party_adds_no_clause() {
        let mut declared = Declared::default();
        declared.keys.insert("hs6".to_owned(), "730840".to_owned());
        declared
            .keys
            .insert("consignor".to_owned(), MISSING.to_owned());
        let stats = Stats::default();
        let one = |feature: &str, value: f64| {
            reasons(
                &[feature.to_owned()],
                &[0.3],
                &[value],
                0.4,
                &declared,
                &stats,
            )
            .remove(0)
            .description
        };
        assert!(!one("hs6.value_per_kg_z", 0.2).contains(';'));
        assert!(
            one("hs6.value_per_kg_z", -31.9)
                .ends_with("; value per kg far below its declarations'")
        );
        assert!(
            one("hs6.value_per_kg_z", -2.24)
                .ends_with("; value per kg 2.2 standard deviations below its declarations'")
        );
        assert!(!one("consignor.declarations_log", 8.0).contains(';'));
    }
}
