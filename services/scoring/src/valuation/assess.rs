//! The assessment of a declaration: each line's comparisons (marketplace prices, comparable
//! declarations, the importer's history) with those left out, combined with the parties'
//! inspection records and the seller's risk into a risk, a lane and reasons.

use std::collections::BTreeMap;

use acx_domain::{
    codes,
    rates::{self, ReferenceRates},
    units,
};
use acx_proto::{
    common::{Reason, RiskTier},
    scoring::{
        ComparisonBasis, DeclaredLine, DeclaredShipment, Lane, LineAssessment, SellerRisk,
        ShipmentAssessment, SkippedComparison,
    },
};

use super::{
    anomaly::{Comparison, compare, strength},
    currency::usd,
    peers::{MIN_HISTORY, MIN_PEERS, Peers, peer_groups},
    profiles::{PartyHistory, Profiles, RiskyParty},
};
use crate::{
    market::{MarketIndex, NoticeLine, NoticeRef},
    model::ReasonCode,
};

/// Everything an assessment reads.
pub struct AssessmentInputs<'a> {
    /// Marketplace prices and notices.
    pub market: &'a MarketIndex,
    /// Comparable declarations.
    pub peers: &'a Peers,
    /// Reference rates, to put declared values in US dollars.
    pub rates: &'a ReferenceRates,
    /// Inspection outcomes per party.
    pub profiles: &'a Profiles,
    /// The seller's risk, if the exchange knows the seller.
    pub seller_risk: Option<SellerRisk>,
    /// The notice matched by consignment numbers.
    pub notice: Option<&'a NoticeRef>,
    /// Selected at random for inspection (drawn by the caller once per declaration:
    /// [`crate::targeting::lanes::Draws`]).
    pub random_selection: bool,
    /// Model version.
    pub model_version: String,
}

/// Why comparisons were left out, with the lines they concern, by reason code.
type Notes = BTreeMap<&'static str, Vec<SkipNote>>;

/// Why a line's comparison was left out.
struct SkipNote {
    /// The line's number.
    line: i32,
    /// Why, as the line's [`SkippedComparison`] says.
    why: String,
}

/// The comparisons of one line at the reference rates of `day`, with those it left out.
fn assess_line(
    shipment: &DeclaredShipment,
    line: &DeclaredLine,
    day: i64,
    inputs: &AssessmentInputs<'_>,
) -> LineAssessment {
    let hs6: String = line.hs_code.chars().take(6).collect();
    let mut anomalies = Vec::new();
    let mut skipped = Vec::new();
    let mut skip = |code: &str, basis: ComparisonBasis, description: String| {
        skipped.push(SkippedComparison {
            code: code.to_owned(),
            basis: basis as i32,
            description,
        });
    };
    let currency = line
        .declared_value
        .as_ref()
        .map(|v| v.currency_code.to_ascii_uppercase())
        .unwrap_or_default();
    let Some(total) = line
        .declared_value
        .as_ref()
        .and_then(|value| usd(value, inputs.rates, day))
    else {
        skip(
            NO_REFERENCE_RATE,
            ComparisonBasis::Unspecified,
            format!(
                "no reference rate for {currency} on {}: the value was not compared",
                rates::format_day(day)
            ),
        );
        return LineAssessment {
            line_number: line.line_number,
            skipped_comparisons: skipped,
            ..Default::default()
        };
    };
    // A value of 0 is 0 per unit and per kilogram, whatever the quantity and the mass.
    // A quotient that is not a finite number (a mass of 5e-324 kg) is no value per unit
    // (found by a tester: an infinite value per kg was stored and shown).
    let per = |amount: f64| {
        if amount > 0.0 {
            Some(total / amount).filter(|v| v.is_finite())
        } else {
            (total == 0.0).then_some(0.0)
        }
    };
    let (unit, per_kg) = (per(line.quantity), per(line.net_mass_kg));
    // Platforms price items: the quantity in items, when its unit counts them (a dozen is
    // 12; kilograms are no count).
    let items_per_unit = units::items_per_unit(&line.quantity_unit);
    let items = items_per_unit.map_or(0.0, |n| line.quantity * n);
    let per_item = items_per_unit.and_then(|_| per(items));

    // Marketplace: the notice's products of the same HS code (or the only product).
    if let Some(notice) = inputs.notice {
        let candidates: Vec<&NoticeLine> = if notice.lines.len() == 1 {
            notice.lines.iter().collect()
        } else {
            notice
                .lines
                .iter()
                .filter(|l| !l.hs6.is_empty() && hs6.starts_with(l.hs6.as_str()))
                .collect()
        };
        match per_item {
            None if candidates.is_empty() => {}
            None if items_per_unit.is_none() => skip(
                NO_QUANTITY,
                ComparisonBasis::MarketplacePrice,
                format!(
                    "quantity in {:?}, not a count of items: not compared per item with the platforms' prices",
                    line.quantity_unit
                ),
            ),
            None => skip(
                NO_QUANTITY,
                ComparisonBasis::MarketplacePrice,
                "no quantity declared: not compared per unit with the platforms' prices".to_owned(),
            ),
            Some(per_item) => {
                for NoticeLine {
                    gtin,
                    unit_usd: notice_price,
                    ..
                } in candidates
                {
                    let mut group = inputs.market.prices(gtin).cloned().unwrap_or_default();
                    if group.is_empty()
                        && let Some(price) = notice_price
                        && *price > 0.0
                    {
                        group.push(price.ln());
                    }
                    let label = if gtin.is_empty() {
                        "the matched shipment notice".to_owned()
                    } else {
                        format!("GTIN {gtin}")
                    };
                    if let Some(anomaly) = compare(
                        per_item,
                        items,
                        Comparison {
                            group: &group,
                            basis: ComparisonBasis::MarketplacePrice,
                            label,
                            min_size: 1,
                        },
                    ) {
                        anomalies.push(anomaly);
                        break;
                    }
                }
            }
        }
    }
    let per_kg_bases = [
        ComparisonBasis::PeerDeclarations,
        ComparisonBasis::ImporterHistory,
    ];
    match per_kg {
        _ if codes::is_national_chapter(&line.hs_code) => {
            for basis in per_kg_bases {
                skip(
                    NATIONAL_TARIFF_CODE,
                    basis,
                    format!(
                        "{} is a national chapter code, not a class of goods: not compared with other declarations",
                        line.hs_code
                    ),
                );
            }
        }
        None => {
            for basis in per_kg_bases {
                skip(
                    NO_NET_MASS,
                    basis,
                    "net mass 0: not compared per kilogram with other declarations".to_owned(),
                );
            }
        }
        Some(per_kg) => {
            // Comparable declarations, most specific group with enough values.
            if let Some((peer_group, group)) = inputs
                .peers
                .comparable(peer_groups(&line.hs_code, &shipment.origin_country))
                && let Some(anomaly) = compare(
                    per_kg,
                    line.net_mass_kg,
                    Comparison {
                        group,
                        basis: ComparisonBasis::PeerDeclarations,
                        label: peer_group.label,
                        min_size: MIN_PEERS,
                    },
                )
            {
                anomalies.push(anomaly);
            }
            // The importer's own history.
            if let Some(group) = inputs.peers.importer(&shipment.importer_id, &hs6)
                && let Some(anomaly) = compare(
                    per_kg,
                    line.net_mass_kg,
                    Comparison {
                        group,
                        basis: ComparisonBasis::ImporterHistory,
                        label: format!("importer {} HS {hs6}", shipment.importer_id),
                        min_size: MIN_HISTORY,
                    },
                )
            {
                anomalies.push(anomaly);
            }
        }
    }
    let round = |v: Option<f64>| (v.unwrap_or(0.0) * 1e4).round() / 1e4;
    LineAssessment {
        line_number: line.line_number,
        declared_unit_value_usd: round(unit),
        declared_value_per_kg_usd: round(per_kg),
        anomalies,
        skipped_comparisons: skipped,
    }
}

/// Reason codes of comparisons left out (see [`SkippedComparison`]).
const NO_REFERENCE_RATE: &str = ReasonCode::NoReferenceRate.as_str();
const NO_QUANTITY: &str = ReasonCode::NoQuantity.as_str();
const NO_NET_MASS: &str = ReasonCode::NoNetMass.as_str();
const NATIONAL_TARIFF_CODE: &str = ReasonCode::NationalTariffCode.as_str();

fn note_code(code: &str) -> &'static str {
    match code {
        NO_REFERENCE_RATE => NO_REFERENCE_RATE,
        NO_QUANTITY => NO_QUANTITY,
        NO_NET_MASS => NO_NET_MASS,
        _ => NATIONAL_TARIFF_CODE,
    }
}

/// One note per code of the comparisons left out, naming up to five lines.
fn note_reasons(notes: Notes) -> Vec<Reason> {
    notes
        .into_iter()
        .map(|(code, mut lines)| {
            lines.dedup_by_key(|note| note.line);
            let mut parts: Vec<String> = lines
                .iter()
                .take(5)
                .map(|SkipNote { line, why }| format!("line {line}: {why}"))
                .collect();
            if lines.len() > 5 {
                parts.push(format!("and {} more lines", lines.len() - 5));
            }
            Reason {
                code: code.to_owned(),
                description: parts.join("; "),
                contribution: 0.0,
                evidence: Vec::new(),
            }
        })
        .collect()
}

/// The strongest anomaly of one kind in a declaration, with where each was found.
#[derive(Default)]
struct Gap {
    /// The strongest of them, 0 to 1 (see [`strength`]).
    strength: f64,
    /// `line n: group (ratio r)` for each.
    evidence: Vec<String>,
}

/// What a party with a worse inspection record than the overall rate adds to the risk.
struct PartyRisk {
    /// `PROFILE_*` by the party's label.
    code: ReasonCode,
    /// Its component of the risk, 0 to 1.
    component: f64,
    /// What a person reads.
    description: String,
}

/// The risk one value anomaly of full strength gives on its own (0.8: strong evidence, but
/// a targeting signal, never proof; an anomaly of strength `s` gives `0.8 s`).
pub const ANOMALY_WEIGHT: f64 = 0.8;

/// Assesses a (validated) declaration, at the reference rates of its declaration date (of
/// today when it has none).
pub fn assess(shipment: &DeclaredShipment, inputs: AssessmentInputs<'_>) -> ShipmentAssessment {
    let day = rates::day_of(shipment.declaration_time.as_ref().map_or_else(
        || acx_runtime::time::now_micros().div_euclid(1_000_000),
        |t| t.seconds,
    ));
    let mut lines = Vec::new();
    let mut strengths: Vec<f64> = Vec::new();
    let mut gaps: BTreeMap<&'static str, Gap> = BTreeMap::new();
    let mut notes = Notes::new();
    for line in &shipment.lines {
        let assessed = assess_line(shipment, line, day, &inputs);
        for anomaly in &assessed.anomalies {
            let strength = strength(anomaly);
            strengths.push(strength);
            let gap = gaps.entry(code_static(&anomaly.code)).or_default();
            gap.strength = gap.strength.max(strength);
            gap.evidence.push(format!(
                "line {}: {} (ratio {:.2})",
                line.line_number, anomaly.comparison_group, anomaly.ratio
            ));
        }
        for skipped in &assessed.skipped_comparisons {
            notes
                .entry(note_code(&skipped.code))
                .or_default()
                .push(SkipNote {
                    line: line.line_number,
                    why: skipped.description.clone(),
                });
        }
        lines.push(assessed);
    }

    let value_component = 1.0
        - strengths
            .iter()
            .fold(1.0, |rest, s| rest * (1.0 - ANOMALY_WEIGHT * s));
    // Parties with a worse inspection record than the overall rate.
    let history: Vec<PartyRisk> = inputs
        .profiles
        .risky_parties(shipment)
        .into_iter()
        .map(|RiskyParty { party, history }| {
            let PartyHistory {
                inspections: inspected,
                frauds,
                rate,
                base_rate: base,
            } = history;
            let (label, id) = (party.label, party.id);
            let component = 0.8 * (rate - base) / (1.0 - base);
            let description = format!(
                "{label} {id}: {frauds:.0} of {inspected:.0} inspections found fraud (smoothed rate {rate:.2}, overall {base:.2})"
            );
            let code = match label {
                "importer" => ReasonCode::ProfileImporter,
                "declarant" => ReasonCode::ProfileDeclarant,
                "origin" => ReasonCode::ProfileOrigin,
                "office" => ReasonCode::ProfileOffice,
                _ => ReasonCode::ProfileHs,
            };
            PartyRisk {
                code,
                component,
                description,
            }
        })
        .collect();
    let history_component = 1.0
        - history
            .iter()
            .fold(1.0, |rest, party| rest * (1.0 - party.component));
    let seller_score = inputs.seller_risk.as_ref().map_or(0.0, |r| r.score);
    let seller_listed = inputs
        .seller_risk
        .as_ref()
        .is_some_and(|r| r.tier == RiskTier::Blacklisted as i32);
    let seller_component = if seller_listed { 1.0 } else { seller_score };
    let risk = 1.0 - (1.0 - value_component) * (1.0 - seller_component) * (1.0 - history_component);

    let mut reasons = Vec::new();
    let total_raw: f64 = gaps
        .values()
        .map(|gap| ANOMALY_WEIGHT * gap.strength)
        .sum::<f64>()
        + seller_component
        + history.iter().map(|party| party.component).sum::<f64>();
    for PartyRisk {
        code,
        component,
        description,
    } in &history
    {
        reasons.push(Reason {
            code: code.as_str().to_owned(),
            description: description.clone(),
            contribution: if total_raw > 0.0 {
                risk * component / total_raw
            } else {
                0.0
            },
            evidence: Vec::new(),
        });
    }
    let share = |part: f64| {
        if total_raw > 0.0 {
            risk * part / total_raw
        } else {
            0.0
        }
    };
    for (code, Gap { strength, evidence }) in &gaps {
        reasons.push(Reason {
            code: (*code).to_owned(),
            description: match *code {
                "DECLARED_VALUE_BELOW_MARKET" => {
                    "declared value far below the price of the same goods on the platforms"
                }
                "DECLARED_VALUE_BELOW_PEERS" => "declared value far below comparable declarations",
                _ => "declared value far below the importer's own earlier declarations",
            }
            .to_owned(),
            contribution: share(ANOMALY_WEIGHT * strength),
            evidence: evidence.clone(),
        });
    }
    if let Some(seller) = &inputs.seller_risk
        && seller_component > 0.0
    {
        let account = seller.seller.clone().unwrap_or_default();
        reasons.push(Reason {
            code: if seller_listed {
                ReasonCode::SellerBlacklisted
            } else {
                ReasonCode::SellerRisk
            }
            .as_str()
            .to_owned(),
            description: format!(
                "the seller {}/{} is {}",
                account.platform,
                account.seller_id,
                if seller_listed {
                    "on the blacklist".to_owned()
                } else {
                    format!("scored {:.2}", seller.score)
                }
            ),
            contribution: share(seller_component),
            // The listing's evidence is also its findings': each name once, first seen first.
            evidence: {
                let mut seen = std::collections::HashSet::new();
                seller
                    .reasons
                    .iter()
                    .flat_map(|r| r.evidence.iter())
                    .filter(|name| seen.insert(name.as_str()))
                    .take(10)
                    .cloned()
                    .collect()
            },
        });
    }
    reasons.sort_by(|a, b| {
        b.contribution
            .total_cmp(&a.contribution)
            .then_with(|| a.code.cmp(&b.code))
    });

    let random_selection = inputs.random_selection;
    let lane = if random_selection || seller_listed || risk >= 0.6 {
        Lane::Red
    } else if risk >= 0.3 {
        Lane::Yellow
    } else {
        Lane::Green
    };
    if random_selection {
        reasons.push(Reason {
            code: ReasonCode::RandomSelection.as_str().to_owned(),
            description: "selected at random for inspection, so that outcomes arrive on shipments the model would not pick".to_owned(),
            contribution: 0.0,
            evidence: Vec::new(),
        });
    }
    reasons.extend(note_reasons(notes));
    ShipmentAssessment {
        risk: (risk * 1e6).round() / 1e6,
        lane: lane as i32,
        random_selection,
        reasons,
        lines,
        seller_risk: inputs.seller_risk,
        matched_shipment_notice: inputs.notice.map(|n| n.name.clone()).unwrap_or_default(),
        model_version: inputs.model_version,
        explanation: None,
        exploration: false,
    }
}

fn code_static(code: &str) -> &'static str {
    [
        ReasonCode::DeclaredValueBelowMarket,
        ReasonCode::DeclaredValueBelowPeers,
    ]
    .into_iter()
    .find(|c| c.as_str() == code)
    .unwrap_or(ReasonCode::DeclaredValueBelowImporterHistory)
    .as_str()
}
