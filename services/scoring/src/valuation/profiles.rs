//! Inspection outcomes per party of a declaration (importer, declarant, origin, customs
//! office, 6-digit HS code): fraud rates smoothed towards the overall rate.

use std::collections::HashMap;

use acx_proto::scoring::DeclaredShipment;

/// Weight of the prior in the smoothed fraud rates: a party's rate starts at the overall
/// rate and needs about this many inspections to move away from it.
const PRIOR_WEIGHT: f64 = 5.0;

/// The labels of parties whose history is kept.
const PARTY_LABELS: [&str; 5] = ["importer", "declarant", "origin", "office", "hs"];

/// Inspection outcomes per party (importer, declarant, HS code, origin, office), smoothed
/// towards the overall rate so that one case does not condemn a newcomer and a long clean
/// record counts.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Profiles {
    /// By party.
    #[serde(with = "party_counts")]
    pub(super) parties: HashMap<Party, Counts>,
    /// All inspections.
    pub(super) overall: Counts,
}

/// A party of a declaration.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct Party {
    /// One of [`PARTY_LABELS`].
    pub label: &'static str,
    /// Its id in the declaration (for `hs`, the 6-digit HS code).
    pub id: String,
}

/// Inspections and the frauds they found. (Serialised as the pair it replaced: a struct
/// and a tuple have the same snapshot bytes.)
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub(super) struct Counts {
    /// Inspections.
    pub inspections: f64,
    /// Those that found fraud.
    pub frauds: f64,
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

/// A party whose smoothed fraud rate is above the overall rate.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct RiskyParty {
    /// The party.
    pub party: Party,
    /// Its record.
    pub history: PartyHistory,
}

/// Serialises [`Profiles::parties`] as rows `(label, id, counts)`, labels being static
/// strings.
mod party_counts {
    use std::collections::HashMap;

    use serde::{Deserialize, Deserializer, Serialize, Serializer, de::Error};

    use super::{Counts, PARTY_LABELS, Party};

    pub fn serialize<S: Serializer>(
        counts: &HashMap<Party, Counts>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let rows: Vec<(&str, &String, &Counts)> = counts
            .iter()
            .map(|(party, c)| (party.label, &party.id, c))
            .collect();
        rows.serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<HashMap<Party, Counts>, D::Error> {
        let rows: Vec<(String, String, Counts)> = Vec::deserialize(deserializer)?;
        rows.into_iter()
            .map(|(label, id, c)| {
                let label = PARTY_LABELS
                    .into_iter()
                    .find(|l| *l == label)
                    .ok_or_else(|| D::Error::custom(format!("unknown party label {label}")))?;
                Ok((Party { label, id }, c))
            })
            .collect()
    }
}

/// The parties of a declaration whose history is kept.
fn parties(shipment: &DeclaredShipment) -> Vec<Party> {
    let party = |label, id: &String| Party {
        label,
        id: id.clone(),
    };
    let mut parties = vec![
        party("importer", &shipment.importer_id),
        party("declarant", &shipment.declarant_id),
        party("origin", &shipment.origin_country),
        party("office", &shipment.customs_office),
    ];
    let mut codes: Vec<String> = shipment
        .lines
        .iter()
        .map(|l| l.hs_code.chars().take(6).collect())
        .collect();
    codes.sort();
    codes.dedup();
    parties.extend(codes.into_iter().map(|id| Party { label: "hs", id }));
    parties.retain(|party| !party.id.is_empty());
    parties
}

impl Profiles {
    /// Counts one inspection of `shipment`; `fraud` when it found counterfeits or
    /// undervaluation.
    pub fn record(&mut self, shipment: &DeclaredShipment, fraud: bool) {
        let hit = if fraud { 1.0 } else { 0.0 };
        self.overall.inspections += 1.0;
        self.overall.frauds += hit;
        for party in parties(shipment) {
            let entry = self.parties.entry(party).or_default();
            entry.inspections += 1.0;
            entry.frauds += hit;
        }
    }

    /// The overall fraud rate among inspections (with one imaginary fraud in ten, so it is
    /// never 0 or 1).
    fn base_rate(&self) -> f64 {
        (self.overall.frauds + 1.0) / (self.overall.inspections + 10.0)
    }

    /// The history of one party (`importer`, `declarant`, `origin`, `office`, `hs`), if
    /// it was ever inspected.
    pub fn history(&self, label: &'static str, id: &str) -> Option<PartyHistory> {
        let Counts {
            inspections,
            frauds,
        } = *self.parties.get(&Party {
            label,
            id: id.to_owned(),
        })?;
        let base_rate = self.base_rate();
        Some(PartyHistory {
            inspections,
            frauds,
            rate: (frauds + PRIOR_WEIGHT * base_rate) / (inspections + PRIOR_WEIGHT),
            base_rate,
        })
    }

    /// The parties of `shipment` whose smoothed fraud rate is above the overall rate.
    pub(super) fn risky_parties(&self, shipment: &DeclaredShipment) -> Vec<RiskyParty> {
        parties(shipment)
            .into_iter()
            .filter_map(|party| {
                let history = self.history(party.label, &party.id)?;
                (history.rate > history.base_rate).then_some(RiskyParty { party, history })
            })
            .collect()
    }
}
