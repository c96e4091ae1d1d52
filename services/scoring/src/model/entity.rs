//! Entity checks: which clusters a party described by customs (a name and hashed
//! identifiers) matches, and how well.

use std::collections::BTreeMap;

use acx_domain::{hashing, names::Name};
use acx_proto::{common::SellerAccountRef, scoring::EntityMatch};

use super::{
    ClusterId, Model,
    accounts::{Account, Identifier},
    index::AccountSet,
    linking::{kind_label, links_strongly},
};
use crate::names;

impl Model {
    /// Clusters matching a party described by `name` and hashed identifiers, best first.
    /// `identifiers` are (kind, hash, normalisation version) under the current version and,
    /// for the legacy versions, under those (see [`acx_domain::hashing`]).
    pub fn check_entity(
        &self,
        name: &str,
        identifiers: &[(i32, String, u32)],
        limit: usize,
    ) -> Vec<EntityMatch> {
        let asked_version = identifiers.iter().map(|i| i.2.max(1)).max().unwrap_or(1);
        // Per cluster: the strongest weight of each matched feature.
        let mut found: BTreeMap<ClusterId, BTreeMap<String, f64>> = BTreeMap::new();
        for (kind, hash, version) in identifiers {
            let identifier = Identifier::new(*kind, hash);
            let asked = ((*version).max(1), asked_version);
            for (account, theirs) in self
                .holders
                .get(&identifier)
                .into_iter()
                .flatten()
                .filter_map(|account| {
                    let theirs = self
                        .accounts
                        .get(*account)
                        .and_then(Account::current)?
                        .version_of(&identifier);
                    hashing::links_across_versions(asked, theirs).then_some((account, theirs))
                })
            {
                if let Some(cluster) = self.accounts.get(*account).and_then(|a| a.cluster) {
                    let weight = if links_strongly(*kind, asked, theirs) {
                        0.9
                    } else {
                        0.35
                    };
                    let feature = found
                        .entry(cluster)
                        .or_default()
                        .entry(kind_label(*kind).to_owned())
                        .or_default();
                    *feature = feature.max(weight);
                }
            }
        }
        let name = Name::parse(name);
        if !name.tokens.is_empty() {
            for account in self.named_exactly(&name.key()) {
                if let Some(cluster) = self.accounts.get(account).and_then(|a| a.cluster) {
                    found
                        .entry(cluster)
                        .or_default()
                        .insert("name (same)".to_owned(), 0.5);
                }
            }
            for (cluster, features) in &mut found {
                if features.contains_key("name (same)") {
                    continue;
                }
                let best = self
                    .members_of
                    .get(cluster)
                    .into_iter()
                    .flatten()
                    .flat_map(|a| {
                        self.accounts
                            .get(*a)
                            .map(Account::names)
                            .unwrap_or_default()
                    })
                    .map(|other| names::compare(&name, other))
                    .fold(0.0, f64::max);
                if best >= names::SIMILAR_NAMES {
                    features.insert(format!("name (similarity {best:.2})"), 0.5 * best);
                }
            }
        }
        let mut matches: Vec<EntityMatch> = found
            .into_iter()
            .map(|(cluster_id, features)| {
                let score = 1.0 - features.values().fold(1.0, |rest, w| rest * (1.0 - w));
                let members = self
                    .members_of
                    .get(&cluster_id)
                    .map_or(&[][..], AccountSet::as_slice);
                let accounts: Vec<SellerAccountRef> = self
                    .in_key_order(members.iter().copied())
                    .into_iter()
                    .map(|a| self.seller_ref(a))
                    .collect();
                let blacklisted = members.iter().any(|a| self.listings.contains_key(a));
                EntityMatch {
                    risk: self.riskiest_of(cluster_id),
                    cluster_id: cluster_id.to_string(),
                    match_score: (score * 1e6).round() / 1e6,
                    matched_features: features.into_keys().collect(),
                    blacklisted,
                    accounts,
                }
            })
            .collect();
        matches.sort_by(|a, b| {
            b.match_score
                .total_cmp(&a.match_score)
                .then_with(|| a.cluster_id.cmp(&b.cluster_id))
        });
        matches.truncate(limit);
        matches
    }
}
