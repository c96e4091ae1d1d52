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
            let label = field_label(field);
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

/// Reasons from contributions (`names[i]` ↔ `contributions[i]`, log-odds) for a shipment
/// scored `risk`: the groups that raised it, most first, each with its share of the risk;
/// when none did, the group that lowered it most (share 0), so every assessment has one.
pub fn reasons(
    names: &[String],
    contributions: &[f64],
    risk: f64,
    declared: &Declared,
    stats: &Stats,
) -> Vec<Reason> {
    let mut groups: BTreeMap<String, f64> = BTreeMap::new();
    for (name, c) in names.iter().zip(contributions) {
        *groups.entry(group_of(name)).or_default() += c;
    }
    let mut ranked: Vec<(String, f64)> = groups.into_iter().collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let positive: f64 = ranked.iter().map(|g| g.1.max(0.0)).sum();
    let mut out: Vec<Reason> = ranked
        .iter()
        .filter(|g| g.1 > 0.0)
        .take(MAX_REASONS)
        .map(|(group, c)| Reason {
            code: code_of(group),
            description: format!("raises the risk: {}", words(group, declared, stats)),
            contribution: risk * c / positive,
            evidence: Vec::new(),
        })
        .collect();
    if out.is_empty()
        && let Some((group, _)) = ranked.last()
    {
        out.push(Reason {
            code: code_of(group),
            description: format!("lowers the risk: {}", words(group, declared, stats)),
            contribution: 0.0,
            evidence: Vec::new(),
        });
    }
    out
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
}
