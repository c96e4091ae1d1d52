//! Declared-value anomalies and shipment assessment.
//!
//! A declared line is compared on a log scale with robust statistics (median and MAD) of:
//! - **marketplace prices** of the same goods, per unit: the listings (price observations)
//!   of the products on the platform shipment notice whose consignment numbers match the
//!   declaration, and the notice's own unit prices;
//! - **comparable declarations**, per kilogram: the same HS code, falling back from 6 to 4
//!   to 2 digits, with the origin country first and then without, taking the first group
//!   with at least [`MIN_PEERS`] values;
//! - **the importer's own history**, per kilogram, for the same 6-digit HS code (at least
//!   [`MIN_HISTORY`] values).
//!
//! A comparison flags the line when the robust z-score is at most [`ANOMALY_Z`] (or, for
//! marketplace prices with fewer than five observations, when the value is under half the
//! median). A declared value of 0 is the strongest anomaly of all (robust z [`MIN_Z`]).
//! Values are put in US dollars with the European Central Bank's reference rates of the
//! declaration date ([`ReferenceRates`]), only to compare them. The statistics keep the
//! latest [`RESERVOIR`] values of each group and are updated as declarations are recorded;
//! values of 0 (no logarithm), lines of national chapters (98, 99: not goods classes) and
//! the origin `ZZ` (unknown) stay out of them.
//!
//! What a line does not carry leaves comparisons out, and the assessment says so
//! ([`SkippedComparison`]; each code once among the reasons, with contribution 0): no
//! reference rate for the currency (no comparison), no quantity (no per-unit comparison
//! with a matched notice), net mass 0 (no per-kilogram comparison), a national chapter (no
//! comparison with other declarations or the importer's history).

use std::collections::{BTreeMap, HashMap, VecDeque};

use acx_domain::{
    codes, money,
    rates::{self, ReferenceRates},
};
use acx_proto::{
    common::{Money, Reason, RiskTier},
    scoring::{
        ComparisonBasis, DeclaredLine, DeclaredShipment, Lane, LineAssessment, SellerRisk,
        ShipmentAssessment, SkippedComparison, ValueAnomaly,
    },
};
use sha2::{Digest, Sha256};

use crate::{
    market::{MarketIndex, NoticeLine, NoticeRef},
    model::ReasonCode,
};

/// Values kept per group.
pub const RESERVOIR: usize = 2000;
/// Fewest comparable declarations for a peer comparison.
pub const MIN_PEERS: usize = 20;
/// Fewest earlier declarations for an importer comparison.
pub const MIN_HISTORY: usize = 5;
/// Robust z-score at or below which a value is anomalously low.
pub const ANOMALY_Z: f64 = -2.5;
/// Smallest MAD (log scale) used, so that identical values do not make every difference
/// infinitely significant.
const MIN_MAD: f64 = 0.05;
/// Bounds of a reported robust z-score; a declared value of 0 (no logarithm) gets `MIN_Z`.
pub const MIN_Z: f64 = -99.0;
/// Upper bound of a reported robust z-score.
const MAX_Z: f64 = 99.0;

/// The latest values of one group (natural logs of US-dollar values).
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Reservoir {
    values: VecDeque<f64>,
}

impl Reservoir {
    pub(crate) fn push(&mut self, value: f64) {
        if self.values.len() == RESERVOIR {
            self.values.pop_front();
        }
        self.values.push_back(value);
    }

    /// Median and MAD of the values, and how many there are.
    fn robust(&self) -> Option<(f64, f64, usize)> {
        if self.values.is_empty() {
            return None;
        }
        let mut sorted: Vec<f64> = self.values.iter().copied().collect();
        sorted.sort_by(f64::total_cmp);
        let median = middle(&sorted);
        let mut deviations: Vec<f64> = sorted.iter().map(|v| (v - median).abs()).collect();
        deviations.sort_by(f64::total_cmp);
        Some((median, middle(&deviations).max(MIN_MAD), sorted.len()))
    }
}

fn middle(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

/// A money amount in US dollars on `day` (days since 1970-01-01), if it parses and its
/// currency has a reference rate that day.
pub fn usd(value: &Money, rates: &ReferenceRates, day: i64) -> Option<f64> {
    let micros = money::parse_amount_micros(&value.amount).ok()?;
    let rate = rates.usd_per_unit(&value.currency_code.to_ascii_uppercase(), day)?;
    Some(micros as f64 / 1e6 * rate)
}

/// The day of a report's or declaration's time; without one, the table's latest rates (so
/// a replay gives the same values whenever it runs).
pub(crate) fn day_of(time: Option<&prost_types::Timestamp>) -> i64 {
    time.map_or(i64::MAX, |t| rates::day_of(t.seconds))
}

/// Comparable declarations and importers' histories, fed by recorded declarations (each
/// once: the history records a declaration id once).
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Peers {
    groups: HashMap<String, Reservoir>,
    importers: HashMap<(String, String), Reservoir>,
}

/// The peer groups of a line, most specific first; an unknown origin (`ZZ`) is no group.
fn peer_groups(hs_code: &str, origin: &str) -> Vec<(String, String)> {
    let mut groups = Vec::new();
    for digits in [6, 4, 2] {
        let prefix: String = hs_code.chars().take(digits).collect();
        if !origin.is_empty() && origin != codes::UNKNOWN_COUNTRY {
            groups.push((
                format!("{prefix}|{origin}"),
                format!("HS {prefix} from {origin}"),
            ));
        }
        groups.push((prefix.clone(), format!("HS {prefix}")));
    }
    groups
}

impl Peers {
    /// Adds a declaration's per-kilogram values (in US dollars with `rates`). Lines of
    /// national chapters, without net mass, without a rate or declared at 0 add nothing:
    /// they are no value per kilogram of a class of goods.
    pub fn record(&mut self, shipment: &DeclaredShipment, rates: &ReferenceRates) {
        let day = day_of(shipment.declaration_time.as_ref());
        for line in &shipment.lines {
            if codes::is_national_chapter(&line.hs_code) || line.net_mass_kg <= 0.0 {
                continue;
            }
            let Some(per_kg) = line
                .declared_value
                .as_ref()
                .and_then(|value| usd(value, rates, day))
                .map(|v| v / line.net_mass_kg)
            else {
                continue;
            };
            if !(per_kg > 0.0 && per_kg.is_finite()) {
                continue;
            }
            for (key, _) in peer_groups(&line.hs_code, &shipment.origin_country) {
                self.groups.entry(key).or_default().push(per_kg.ln());
            }
            let hs6: String = line.hs_code.chars().take(6).collect();
            self.importers
                .entry((shipment.importer_id.clone(), hs6))
                .or_default()
                .push(per_kg.ln());
        }
    }
}

/// Weight of the prior in the smoothed fraud rates: a party's rate starts at the overall
/// rate and needs about this many inspections to move away from it.
const PRIOR_WEIGHT: f64 = 5.0;

/// Inspection outcomes per party (importer, declarant, HS code, origin, office), smoothed
/// towards the overall rate so that one case does not condemn a newcomer and a long clean
/// record counts.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Profiles {
    #[serde(with = "party_counts")]
    parties: HashMap<(&'static str, String), (f64, f64)>,
    overall: (f64, f64),
}

/// A party's inspection record.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PartyHistory {
    /// Inspections of its declarations.
    pub inspections: f64,
    /// Those that found fraud (counterfeits or undervaluation).
    pub frauds: f64,
    /// Its fraud rate, smoothed towards the overall rate.
    pub rate: f64,
    /// The overall fraud rate among inspections.
    pub base_rate: f64,
}

/// The labels of parties whose history is kept.
const PARTY_LABELS: [&str; 5] = ["importer", "declarant", "origin", "office", "hs"];

/// Serialises [`Profiles::parties`], whose labels are static strings.
mod party_counts {
    use std::collections::HashMap;

    use serde::{Deserialize, Deserializer, Serialize, Serializer, de::Error};

    type Counts = HashMap<(&'static str, String), (f64, f64)>;

    pub fn serialize<S: Serializer>(counts: &Counts, serializer: S) -> Result<S::Ok, S::Error> {
        let rows: Vec<(&str, &String, &(f64, f64))> = counts
            .iter()
            .map(|((label, id), c)| (*label, id, c))
            .collect();
        rows.serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Counts, D::Error> {
        let rows: Vec<(String, String, (f64, f64))> = Vec::deserialize(deserializer)?;
        rows.into_iter()
            .map(|(label, id, c)| {
                let label = super::PARTY_LABELS
                    .into_iter()
                    .find(|l| *l == label)
                    .ok_or_else(|| D::Error::custom(format!("unknown party label {label}")))?;
                Ok(((label, id), c))
            })
            .collect()
    }
}

/// The parties of a declaration whose history is kept, with their labels.
fn parties(shipment: &DeclaredShipment) -> Vec<(&'static str, String)> {
    let mut parties = vec![
        ("importer", shipment.importer_id.clone()),
        ("declarant", shipment.declarant_id.clone()),
        ("origin", shipment.origin_country.clone()),
        ("office", shipment.customs_office.clone()),
    ];
    let mut codes: Vec<String> = shipment
        .lines
        .iter()
        .map(|l| l.hs_code.chars().take(6).collect())
        .collect();
    codes.sort();
    codes.dedup();
    parties.extend(codes.into_iter().map(|code| ("hs", code)));
    parties.retain(|(_, id)| !id.is_empty());
    parties
}

impl Profiles {
    /// Counts one inspection of `shipment`; `fraud` when it found counterfeits or
    /// undervaluation.
    pub fn record(&mut self, shipment: &DeclaredShipment, fraud: bool) {
        let hit = if fraud { 1.0 } else { 0.0 };
        self.overall.0 += 1.0;
        self.overall.1 += hit;
        for party in parties(shipment) {
            let entry = self.parties.entry(party).or_default();
            entry.0 += 1.0;
            entry.1 += hit;
        }
    }

    /// The overall fraud rate among inspections (with one imaginary fraud in ten, so it is
    /// never 0 or 1).
    fn base_rate(&self) -> f64 {
        (self.overall.1 + 1.0) / (self.overall.0 + 10.0)
    }

    /// The history of one party (`importer`, `declarant`, `origin`, `office`, `hs`), if
    /// it was ever inspected.
    pub fn history(&self, label: &'static str, id: &str) -> Option<PartyHistory> {
        let (inspections, frauds) = *self.parties.get(&(label, id.to_owned()))?;
        let base_rate = self.base_rate();
        Some(PartyHistory {
            inspections,
            frauds,
            rate: (frauds + PRIOR_WEIGHT * base_rate) / (inspections + PRIOR_WEIGHT),
            base_rate,
        })
    }

    /// The parties of `shipment` whose smoothed fraud rate is above the overall rate, with
    /// their labels and ids.
    fn risky_parties(
        &self,
        shipment: &DeclaredShipment,
    ) -> Vec<(&'static str, String, PartyHistory)> {
        parties(shipment)
            .into_iter()
            .filter_map(|(label, id)| {
                let history = self.history(label, &id)?;
                (history.rate > history.base_rate).then_some((label, id, history))
            })
            .collect()
    }
}

/// Compares `declared` (USD) with a group; `Some` anomaly when it is anomalously low.
fn compare(
    declared: f64,
    quantity: f64,
    group: &Reservoir,
    basis: ComparisonBasis,
    label: String,
    min_size: usize,
) -> Option<ValueAnomaly> {
    let (median, mad, n) = group.robust()?;
    if n < min_size || !(declared >= 0.0 && declared.is_finite()) {
        return None;
    }
    let sigma = 1.4826 * mad;
    // A value of 0 has no logarithm: it is as far below any group as a value can be.
    let z = if declared > 0.0 {
        ((declared.ln() - median) / sigma).clamp(MIN_Z, MAX_Z)
    } else {
        MIN_Z
    };
    let ratio = declared / median.exp();
    let small_market = basis == ComparisonBasis::MarketplacePrice && n < 5;
    let anomalous = if small_market {
        ratio < 0.5
    } else {
        z <= ANOMALY_Z
    };
    if !anomalous {
        return None;
    }
    let code = match basis {
        ComparisonBasis::MarketplacePrice => ReasonCode::DeclaredValueBelowMarket,
        ComparisonBasis::PeerDeclarations => ReasonCode::DeclaredValueBelowPeers,
        _ => ReasonCode::DeclaredValueBelowImporterHistory,
    };
    let round = |v: f64| (v * 1e4).round() / 1e4;
    Some(ValueAnomaly {
        code: code.as_str().to_owned(),
        basis: basis as i32,
        comparison_group: label,
        expected_low: round((median - 2.0 * sigma).exp()),
        expected_high: round((median + 2.0 * sigma).exp()),
        ratio: round(ratio),
        robust_z: round(z),
        estimated_gap_usd: round(((median.exp() - declared) * quantity).max(0.0)),
        sample_size: n as i64,
    })
}

/// How strong an anomaly is, 0 to 1: z = -2.5 gives 0.25, -4 gives 0.75, -4.75 or lower
/// gives 1; a thin market's ratio under 0.5 counts as z = -4, and a declared value of 0
/// (or a ratio that rounds to 0, under 0.00005) is always 1, the strongest.
fn strength(anomaly: &ValueAnomaly) -> f64 {
    let thin_market =
        anomaly.sample_size < 5 && anomaly.basis == ComparisonBasis::MarketplacePrice as i32;
    let z = if thin_market && anomaly.ratio > 0.0 {
        -4.0
    } else {
        anomaly.robust_z
    };
    ((-z - 1.75) / 3.0).clamp(0.0, 1.0)
}

/// The strongest value anomaly of an assessment, 0 when there is none.
pub fn anomaly_strength(assessment: &ShipmentAssessment) -> f64 {
    assessment
        .lines
        .iter()
        .flat_map(|line| &line.anomalies)
        .map(strength)
        .fold(0.0, f64::max)
}

/// Whether a declaration is picked for a random inspection: a fixed function of its id,
/// so the same declaration is always picked the same way.
pub fn randomly_selected(shipment: &DeclaredShipment, share: f64) -> bool {
    let digest =
        Sha256::digest(format!("{}/{}", shipment.authority, shipment.declaration_id).as_bytes());
    let draw = u64::from_be_bytes([
        digest[0], digest[1], digest[2], digest[3], digest[4], digest[5], digest[6], digest[7],
    ]);
    (draw as f64 / u64::MAX as f64) < share
}

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
    /// Share of declarations picked at random for inspection.
    pub random_share: f64,
    /// Model version.
    pub model_version: String,
}

/// Why comparisons were left out, with the lines they concern: reason code → "line n: why".
type Notes = BTreeMap<&'static str, Vec<(i32, String)>>;

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
    let per = |amount: f64| {
        if amount > 0.0 {
            Some(total / amount)
        } else {
            (total == 0.0).then_some(0.0)
        }
    };
    let (unit, per_kg) = (per(line.quantity), per(line.net_mass_kg));

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
        match unit {
            None if !candidates.is_empty() => skip(
                NO_QUANTITY,
                ComparisonBasis::MarketplacePrice,
                "no quantity declared: not compared per unit with the platforms' prices".to_owned(),
            ),
            None => {}
            Some(unit) => {
                for NoticeLine {
                    gtin,
                    unit_usd: notice_price,
                    ..
                } in candidates
                {
                    let mut group = inputs.market.prices(gtin).cloned().unwrap_or_default();
                    if group.values.is_empty()
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
                        unit,
                        line.quantity,
                        &group,
                        ComparisonBasis::MarketplacePrice,
                        label,
                        1,
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
            for (key, label) in peer_groups(&line.hs_code, &shipment.origin_country) {
                if let Some(group) = inputs.peers.groups.get(&key)
                    && group.values.len() >= MIN_PEERS
                {
                    if let Some(anomaly) = compare(
                        per_kg,
                        line.net_mass_kg,
                        group,
                        ComparisonBasis::PeerDeclarations,
                        label,
                        MIN_PEERS,
                    ) {
                        anomalies.push(anomaly);
                    }
                    break;
                }
            }
            // The importer's own history.
            if let Some(group) = inputs
                .peers
                .importers
                .get(&(shipment.importer_id.clone(), hs6.clone()))
                && let Some(anomaly) = compare(
                    per_kg,
                    line.net_mass_kg,
                    group,
                    ComparisonBasis::ImporterHistory,
                    format!("importer {} HS {hs6}", shipment.importer_id),
                    MIN_HISTORY,
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
            lines.dedup_by_key(|(line, _)| *line);
            let mut parts: Vec<String> = lines
                .iter()
                .take(5)
                .map(|(line, why)| format!("line {line}: {why}"))
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

/// Assesses a (validated) declaration, at the reference rates of its declaration date (of
/// today when it has none).
pub fn assess(shipment: &DeclaredShipment, inputs: AssessmentInputs<'_>) -> ShipmentAssessment {
    let day = rates::day_of(shipment.declaration_time.as_ref().map_or_else(
        || acx_runtime::time::now_micros().div_euclid(1_000_000),
        |t| t.seconds,
    ));
    let mut lines = Vec::new();
    let mut line_strength: Vec<(f64, String)> = Vec::new();
    let mut gaps: BTreeMap<&'static str, (f64, Vec<String>)> = BTreeMap::new();
    let mut notes = Notes::new();
    for line in &shipment.lines {
        let assessed = assess_line(shipment, line, day, &inputs);
        for anomaly in &assessed.anomalies {
            let strength = strength(anomaly);
            line_strength.push((strength, anomaly.code.clone()));
            let entry = gaps.entry(code_static(&anomaly.code)).or_default();
            entry.0 = entry.0.max(strength);
            entry.1.push(format!(
                "line {}: {} (ratio {:.2})",
                line.line_number, anomaly.comparison_group, anomaly.ratio
            ));
        }
        for skipped in &assessed.skipped_comparisons {
            notes
                .entry(note_code(&skipped.code))
                .or_default()
                .push((line.line_number, skipped.description.clone()));
        }
        lines.push(assessed);
    }

    let value_component = 1.0
        - line_strength
            .iter()
            .fold(1.0, |rest, (s, _)| rest * (1.0 - 0.8 * s));
    // Parties with a worse inspection record than the overall rate.
    let history: Vec<(String, f64, String)> = inputs
        .profiles
        .risky_parties(shipment)
        .into_iter()
        .map(|(label, id, party)| {
            let PartyHistory {
                inspections: inspected,
                frauds,
                rate,
                base_rate: base,
            } = party;
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
            (code.as_str().to_owned(), component, description)
        })
        .collect();
    let history_component = 1.0 - history.iter().fold(1.0, |rest, (_, c, _)| rest * (1.0 - c));
    let seller_score = inputs.seller_risk.as_ref().map_or(0.0, |r| r.score);
    let seller_listed = inputs
        .seller_risk
        .as_ref()
        .is_some_and(|r| r.tier == RiskTier::Blacklisted as i32);
    let seller_component = if seller_listed { 1.0 } else { seller_score };
    let risk = 1.0 - (1.0 - value_component) * (1.0 - seller_component) * (1.0 - history_component);

    let mut reasons = Vec::new();
    let total_raw: f64 = gaps.values().map(|(s, _)| 0.8 * s).sum::<f64>()
        + seller_component
        + history.iter().map(|(_, c, _)| c).sum::<f64>();
    for (code, component, description) in &history {
        reasons.push(Reason {
            code: code.clone(),
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
    for (code, (strength, evidence)) in &gaps {
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
            contribution: share(0.8 * strength),
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

    let random_selection = randomly_selected(shipment, inputs.random_share);
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

#[cfg(test)]
#[path = "valuation_tests.rs"]
mod tests;
