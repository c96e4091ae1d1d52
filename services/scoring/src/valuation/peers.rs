//! Comparable declarations and importers' own histories: per-kilogram values of recorded
//! declarations, grouped by HS code (6, 4 and 2 digits, with and without the origin) and by
//! importer and 6-digit HS code.

use std::collections::HashMap;

use acx_domain::{codes, rates::ReferenceRates};
use acx_proto::scoring::DeclaredShipment;

use super::{
    currency::{day_of, usd},
    stats::Reservoir,
};

/// Fewest comparable declarations for a peer comparison.
pub const MIN_PEERS: usize = 20;
/// Fewest earlier declarations for an importer comparison.
pub const MIN_HISTORY: usize = 5;

/// Comparable declarations and importers' histories, fed by recorded declarations (each
/// once: the history records a declaration id once).
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Peers {
    /// By [`PeerGroup::key`].
    pub(super) groups: HashMap<String, Reservoir>,
    /// By importer and 6-digit HS code.
    pub(super) importers: HashMap<ImporterGoods, Reservoir>,
}

/// An importer's declarations of one 6-digit HS code. (Serialised as the pair it replaced:
/// a struct and a tuple have the same snapshot bytes.)
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub(super) struct ImporterGoods {
    /// The importer of record's id.
    pub importer_id: String,
    /// The first six digits of the HS code.
    pub hs6: String,
}

/// A group of comparable declarations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PeerGroup {
    /// Key in [`Peers`]: the HS prefix, with `|` and the origin when it has one.
    pub key: String,
    /// What a person reads: `HS 6403 from CN`.
    pub label: String,
}

/// The peer groups of a line, most specific first; an unknown origin (`ZZ`) is no group.
pub(super) fn peer_groups(hs_code: &str, origin: &str) -> Vec<PeerGroup> {
    let mut groups = Vec::new();
    for digits in [6, 4, 2] {
        let prefix: String = hs_code.chars().take(digits).collect();
        if !origin.is_empty() && origin != codes::UNKNOWN_COUNTRY {
            groups.push(PeerGroup {
                key: format!("{prefix}|{origin}"),
                label: format!("HS {prefix} from {origin}"),
            });
        }
        groups.push(PeerGroup {
            label: format!("HS {prefix}"),
            key: prefix,
        });
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
            for group in peer_groups(&line.hs_code, &shipment.origin_country) {
                self.groups.entry(group.key).or_default().push(per_kg.ln());
            }
            self.importers
                .entry(ImporterGoods {
                    importer_id: shipment.importer_id.clone(),
                    hs6: line.hs_code.chars().take(6).collect(),
                })
                .or_default()
                .push(per_kg.ln());
        }
    }

    /// The most specific group of `groups` with at least [`MIN_PEERS`] values.
    pub(super) fn comparable(&self, groups: Vec<PeerGroup>) -> Option<(PeerGroup, &Reservoir)> {
        groups.into_iter().find_map(|group| {
            let values = self.groups.get(&group.key)?;
            (values.len() >= MIN_PEERS).then_some((group, values))
        })
    }

    /// The importer's own values for a 6-digit HS code, if any.
    pub(super) fn importer(&self, importer_id: &str, hs6: &str) -> Option<&Reservoir> {
        self.importers.get(&ImporterGoods {
            importer_id: importer_id.to_owned(),
            hs6: hs6.to_owned(),
        })
    }
}
