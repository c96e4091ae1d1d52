//! Linking: accounts sharing a strong identifier hash are linked; a weak one links only
//! with similar names. Clusters are the connected groups, named after their founder (the
//! account first seen), so an id survives new members and a merge keeps the older one.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use acx_domain::{hashing, identifiers::IdentifierKind};
use acx_proto::{common as pb, scoring::SellerRisk};
use sha2::{Digest, Sha256};

use super::{
    Effects, Merge, Model,
    accounts::{Account, AccountKey},
};
use crate::names;

pub(super) fn is_strong(kind: i32) -> bool {
    [
        pb::IdentifierKind::BusinessRegistration,
        pb::IdentifierKind::TaxNumber,
        pb::IdentifierKind::BankAccount,
    ]
    .iter()
    .any(|k| *k as i32 == kind)
}

pub(super) fn kind_label(kind: i32) -> &'static str {
    let domain = match pb::IdentifierKind::try_from(kind) {
        Ok(pb::IdentifierKind::BusinessRegistration) => IdentifierKind::BusinessRegistration,
        Ok(pb::IdentifierKind::TaxNumber) => IdentifierKind::TaxNumber,
        Ok(pb::IdentifierKind::BankAccount) => IdentifierKind::BankAccount,
        Ok(pb::IdentifierKind::Address) => IdentifierKind::Address,
        Ok(pb::IdentifierKind::Email) => IdentifierKind::Email,
        Ok(pb::IdentifierKind::Phone) => IdentifierKind::Phone,
        Ok(pb::IdentifierKind::WebDomain) => IdentifierKind::WebDomain,
        _ => return "identifier",
    };
    domain.tag()
}

/// The cluster id founded by `account`.
pub fn cluster_id_of(account: &AccountKey) -> String {
    let digest = Sha256::digest(format!("{}/{}", account.0, account.1).as_bytes());
    format!("cl-{}", &hex::encode(digest)[..16])
}

impl Model {
    /// The accounts linked to `account` directly, with whether the link is strong.
    pub(super) fn links_of(&self, account: &AccountKey) -> Vec<(AccountKey, bool)> {
        let Some(profile) = self.accounts.get(account).and_then(Account::current) else {
            return Vec::new();
        };
        let names = self
            .accounts
            .get(account)
            .map(Account::names)
            .unwrap_or_default();
        let mut links: BTreeMap<AccountKey, bool> = BTreeMap::new();
        for identifier @ (kind, _) in &profile.identifiers {
            let Some(holders) = self.holders.get(identifier) else {
                continue;
            };
            for other in holders.iter().filter(|other| *other != account) {
                // A shared hash counts only if it means the same under both sides' rules.
                let same_rules = self
                    .accounts
                    .get(other)
                    .and_then(Account::current)
                    .is_some_and(|theirs| {
                        hashing::links_across_versions(
                            profile.version_of(identifier),
                            theirs.version_of(identifier),
                        )
                    });
                if !same_rules {
                    continue;
                }
                if is_strong(*kind) {
                    links.insert(other.clone(), true);
                } else if !links.contains_key(other) {
                    let other_names = self
                        .accounts
                        .get(other)
                        .map(Account::names)
                        .unwrap_or_default();
                    if names::any_similar(&names, &other_names) {
                        links.insert(other.clone(), false);
                    }
                }
            }
        }
        links.into_iter().collect()
    }

    /// The connected component of `start`, following strong links only or all links.
    pub(super) fn component(&self, start: &AccountKey, strong_only: bool) -> BTreeSet<AccountKey> {
        let mut seen = BTreeSet::from([start.clone()]);
        let mut queue = VecDeque::from([start.clone()]);
        while let Some(account) = queue.pop_front() {
            for (other, strong) in self.links_of(&account) {
                if (strong || !strong_only) && seen.insert(other.clone()) {
                    queue.push_back(other);
                }
            }
        }
        seen
    }

    /// Why two accounts of a cluster are linked: one line per shared identifier kind.
    pub fn link_reasons(&self, members: &BTreeSet<AccountKey>) -> Vec<String> {
        let mut reasons = BTreeSet::new();
        for account in members {
            for (other, strong) in self.links_of(account) {
                if account >= &other || !members.contains(&other) {
                    continue;
                }
                let shared: BTreeSet<&'static str> = self
                    .current_identifiers(account)
                    .intersection(&self.current_identifiers(&other))
                    .map(|(kind, _)| kind_label(*kind))
                    .collect();
                let kinds: Vec<&str> = shared.into_iter().collect();
                let how = if strong {
                    "shared"
                } else {
                    "shared, with similar names"
                };
                reasons.insert(format!(
                    "{}/{} and {}/{}: {how} {}",
                    account.0,
                    account.1,
                    other.0,
                    other.1,
                    kinds.join(", ")
                ));
            }
        }
        reasons.into_iter().collect()
    }

    /// The id of the cluster of `members`: its founder's, the account first seen (ties by
    /// account).
    fn founder_cluster_id(&self, members: &BTreeSet<AccountKey>) -> String {
        let founder = members
            .iter()
            .min_by_key(|a| {
                (
                    self.accounts.get(*a).map_or(i64::MAX, |acc| acc.first_seen),
                    (*a).clone(),
                )
            })
            .cloned()
            .unwrap_or_default();
        cluster_id_of(&founder)
    }

    /// The founder's cluster id for `members`, assigned to each; records merges.
    pub(super) fn settle_cluster_id(
        &mut self,
        members: &BTreeSet<AccountKey>,
        effects: &mut Effects,
    ) -> String {
        let cluster_id = self.founder_cluster_id(members);
        for account in members {
            if let Some(old) = self.assign_cluster(account, &cluster_id) {
                let merge = Merge {
                    from: old,
                    into: cluster_id.clone(),
                };
                if !effects.merges.contains(&merge) {
                    effects.merges.push(merge);
                }
            }
        }
        cluster_id
    }

    /// Puts `account` in `cluster_id`; returns the cluster it left, if it changed.
    fn assign_cluster(&mut self, account: &AccountKey, cluster_id: &str) -> Option<String> {
        let old = self
            .cluster_of
            .insert(account.clone(), cluster_id.to_owned());
        self.members_of
            .entry(cluster_id.to_owned())
            .or_default()
            .insert(account.clone());
        let old = old.filter(|old| old != cluster_id)?;
        if let Some(members) = self.members_of.get_mut(&old) {
            members.remove(account);
            if members.is_empty() {
                self.members_of.remove(&old);
            }
        }
        Some(old)
    }

    /// The riskiest account of a cluster (or of the cluster it was merged into).
    pub fn cluster_risk(&self, cluster_id: &str) -> Option<&SellerRisk> {
        self.members_of
            .get(cluster_id)?
            .iter()
            .filter_map(|account| self.risks.get(account))
            .max_by(|a, b| {
                a.score.total_cmp(&b.score).then_with(|| {
                    b.seller
                        .as_ref()
                        .map(|s| &s.seller_id)
                        .cmp(&a.seller.as_ref().map(|s| &s.seller_id))
                })
            })
    }

    /// Assigns clusters to every account after a replay, without emitting anything.
    pub fn settle_clusters_quietly(&mut self) {
        let mut done: BTreeSet<AccountKey> = BTreeSet::new();
        let accounts: Vec<AccountKey> = self.accounts.keys().cloned().collect();
        for start in accounts {
            if done.contains(&start) {
                continue;
            }
            let members = self.component(&start, false);
            let cluster_id = self.founder_cluster_id(&members);
            for account in &members {
                self.assign_cluster(account, &cluster_id);
            }
            done.extend(members);
        }
    }
}
