//! Linking: accounts sharing a strong identifier hash are linked; a weak one links only
//! with similar names. Clusters are the connected groups, named after their founder (the
//! account first seen), so an id survives new members and a merge keeps the older one.

use std::collections::{BTreeMap, BTreeSet, VecDeque, btree_map::Entry};

use acx_domain::{hashing, identifiers::IdentifierKind};
use acx_proto::{common as pb, scoring::SellerRisk};
use sha2::{Digest, Sha256};

use super::{
    Effects, Merge, Model,
    accounts::{Account, AccountId, AccountKey},
};
use crate::names;

/// A cluster's id: the first 8 bytes of SHA-256 of its founder's `{platform}/{seller id}`,
/// shown as `cl-` and 16 hex digits (so ids order as their strings do).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub(super) struct ClusterId(u64);

impl ClusterId {
    /// The id of the cluster `platform`/`seller_id` founds.
    fn founded_by(platform: &str, seller_id: &str) -> Self {
        let digest = Sha256::digest(format!("{platform}/{seller_id}").as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        Self(u64::from_be_bytes(first))
    }

    /// Reads `cl-` and 16 hex digits.
    pub(super) fn parse(text: &str) -> Option<Self> {
        let hex = text.strip_prefix("cl-")?;
        if hex.len() != 16 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return None;
        }
        u64::from_str_radix(hex, 16).ok().map(Self)
    }
}

impl std::fmt::Display for ClusterId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cl-{:016x}", self.0)
    }
}

/// Whether identifiers of `kind` (`acx.common.v1.IdentifierKind`) link accounts on their
/// own: registration and tax numbers, IBANs and national account numbers with their bank's
/// code ([`IdentifierKind::is_strong`]).
pub(super) fn is_strong(kind: i32) -> bool {
    hashing::domain_kind(kind).is_some_and(IdentifierKind::is_strong)
}

/// Whether a hash of `kind` shared by two profiles, each side's (hash version, profile
/// version), links them on its own ([`hashing::links_strongly`]): a bank-account hash that
/// one side holds only as a legacy hash of a version before 6 may be a national number
/// without its bank, and links with similar names only.
pub(super) fn links_strongly(kind: i32, a: (u32, u32), b: (u32, u32)) -> bool {
    hashing::domain_kind(kind).is_some_and(|kind| hashing::links_strongly(kind, a, b))
}

/// How a link reason names a kind of identifier, in words (`bank account`, not the tag).
fn kind_words(kind: i32) -> &'static str {
    match pb::IdentifierKind::try_from(kind) {
        Ok(pb::IdentifierKind::BusinessRegistration) => "registration number",
        Ok(pb::IdentifierKind::TaxNumber) => "tax number",
        Ok(pb::IdentifierKind::BankAccount) => "bank account",
        Ok(pb::IdentifierKind::Address) => "address",
        Ok(pb::IdentifierKind::Email) => "e-mail",
        Ok(pb::IdentifierKind::Phone) => "phone",
        Ok(pb::IdentifierKind::WebDomain) => "web domain",
        Ok(pb::IdentifierKind::NationalBankAccount) => "national account number",
        _ => "identifier",
    }
}

pub(super) fn kind_label(kind: i32) -> &'static str {
    hashing::domain_kind(kind).map_or("identifier", IdentifierKind::tag)
}

/// The cluster id founded by `account`.
pub fn cluster_id_of(account: &AccountKey) -> String {
    ClusterId::founded_by(&account.0, &account.1).to_string()
}

/// Most link reasons listed for a cluster (see [`Model::link_reasons`]).
pub const MAX_LINK_REASONS: usize = 20;

/// Accounts holding one weak identifier (phone, e-mail, address, web domain) beyond which it
/// links no one: a value that many accounts give is a warehouse's address, a forwarding
/// agent's phone or a marketplace's placeholder, not a sign of one operator, and comparing
/// every pair of their names would cost the square of their number on every report (found by
/// a tester: one shared phone among 400 accounts stalled every replica).
pub const COMMON_WEAK_VALUE: usize = 64;

/// The direct links of the accounts of one cluster: account → (linked account, strong).
#[derive(Debug, Default)]
pub(super) struct Links(BTreeMap<AccountId, Vec<(AccountId, bool)>>);

impl Links {
    /// The direct links of `account` (none when it is not in the cluster).
    pub(super) fn of(&self, account: AccountId) -> &[(AccountId, bool)] {
        self.0.get(&account).map_or(&[], Vec::as_slice)
    }

    /// The accounts of the cluster.
    pub(super) fn members(&self) -> BTreeSet<AccountId> {
        self.0.keys().copied().collect()
    }

    /// The connected component of `start`, following strong links only or all links.
    pub(super) fn component(&self, start: AccountId, strong_only: bool) -> BTreeSet<AccountId> {
        let mut seen = BTreeSet::from([start]);
        let mut queue = VecDeque::from([start]);
        while let Some(account) = queue.pop_front() {
            for &(other, strong) in self.of(account) {
                if (strong || !strong_only) && seen.insert(other) {
                    queue.push_back(other);
                }
            }
        }
        seen
    }
}

impl Model {
    /// The accounts linked to `account` directly, with whether the link is strong.
    pub(super) fn links_of(&self, account: AccountId) -> Vec<(AccountId, bool)> {
        let Some(own) = self.accounts.get(account) else {
            return Vec::new();
        };
        let Some(profile) = own.current() else {
            return Vec::new();
        };
        let names = own.names();
        let mut links: BTreeMap<AccountId, bool> = BTreeMap::new();
        for identifier in &profile.identifiers {
            let Some(holders) = self.holders.get(identifier) else {
                continue;
            };
            if !is_strong(identifier.kind) && holders.as_slice().len() > COMMON_WEAK_VALUE {
                continue;
            }
            for &other in holders.iter().filter(|other| **other != account) {
                let theirs = self.accounts.get(other);
                // A shared hash counts only if it means the same under both sides' rules.
                let Some(versions) = theirs
                    .and_then(Account::current)
                    .map(|theirs| {
                        (
                            profile.version_of(identifier),
                            theirs.version_of(identifier),
                        )
                    })
                    .filter(|(ours, theirs)| hashing::links_across_versions(*ours, *theirs))
                else {
                    continue;
                };
                if links_strongly(identifier.kind, versions.0, versions.1) {
                    links.insert(other, true);
                } else if let Entry::Vacant(vacant) = links.entry(other) {
                    let other_names = theirs.map(Account::names).unwrap_or_default();
                    if names::any_similar(&names, &other_names) {
                        vacant.insert(false);
                    }
                }
            }
        }
        links.into_iter().collect()
    }

    /// The connected component of `start`, following strong links only or all links.
    pub(super) fn component(&self, start: AccountId, strong_only: bool) -> BTreeSet<AccountId> {
        self.cluster_links(start).component(start, strong_only)
    }

    /// The links of every account of `start`'s cluster, each account's computed once: a
    /// cluster is settled from them (its members, its strong components, why they are
    /// linked) without comparing its names again for each of those questions.
    pub(super) fn cluster_links(&self, start: AccountId) -> Links {
        let mut links = Links::default();
        let mut queue = VecDeque::from([start]);
        while let Some(account) = queue.pop_front() {
            if links.0.contains_key(&account) {
                continue;
            }
            let direct = self.links_of(account);
            queue.extend(
                direct
                    .iter()
                    .map(|(other, _)| *other)
                    .filter(|other| !links.0.contains_key(other)),
            );
            links.0.insert(account, direct);
        }
        links
    }

    /// Why two accounts of a cluster are linked: one line per linked pair with the kinds of
    /// identifier they share, at most [`MAX_LINK_REASONS`] (then how many more): a cluster of
    /// hundreds of accounts has tens of thousands of pairs, which no reader needs one by one
    /// (found by a tester: 450 kB of reasons per account at 100 accounts).
    pub(super) fn link_reasons(&self, members: &[AccountId], links: &Links) -> Vec<String> {
        let mut reasons = BTreeSet::new();
        let mut more = 0usize;
        let set: BTreeSet<AccountId> = members.iter().copied().collect();
        for &account in members {
            for &(other, strong) in links.of(account) {
                if self.key_ref(account) >= self.key_ref(other) || !set.contains(&other) {
                    continue;
                }
                if reasons.len() >= MAX_LINK_REASONS {
                    more += 1;
                    continue;
                }
                let theirs = self.current_identifiers(other);
                let shared: BTreeSet<&'static str> = self
                    .current_identifiers(account)
                    .iter()
                    .filter(|identifier| theirs.contains(identifier))
                    .map(|identifier| kind_words(identifier.kind))
                    .collect();
                let kinds: Vec<&str> = shared.into_iter().collect();
                // "shared phone, with similar names", never "shared, with similar names phone".
                let names = if strong { "" } else { ", with similar names" };
                let ((p1, s1), (p2, s2)) = (self.key_ref(account), self.key_ref(other));
                reasons.insert(format!(
                    "{p1}/{s1} and {p2}/{s2}: shared {}{names}",
                    kinds.join(", ")
                ));
            }
        }
        let mut reasons: Vec<String> = reasons.into_iter().collect();
        if more > 0 {
            reasons.push(format!("and {more} more linked pairs in the cluster"));
        }
        reasons
    }

    /// The id of the cluster of `members`: its founder's, the account first seen (ties by
    /// account).
    fn founder_cluster_id(&self, members: &[AccountId]) -> ClusterId {
        let founder = members.iter().copied().min_by(|a, b| {
            let first_seen =
                |id: AccountId| self.accounts.get(id).map_or(i64::MAX, |acc| acc.first_seen);
            first_seen(*a)
                .cmp(&first_seen(*b))
                .then_with(|| self.key_ref(*a).cmp(&self.key_ref(*b)))
        });
        let (platform, seller_id) = founder.map_or(("", ""), |f| self.key_ref(f));
        ClusterId::founded_by(platform, seller_id)
    }

    /// The founder's cluster id for `members` (in account order), assigned to each;
    /// records merges.
    pub(super) fn settle_cluster_id(
        &mut self,
        members: &[AccountId],
        effects: &mut Effects,
    ) -> ClusterId {
        let cluster_id = self.founder_cluster_id(members);
        for &account in members {
            if let Some(old) = self.assign_cluster(account, cluster_id) {
                let merge = Merge {
                    from: old.to_string(),
                    into: cluster_id.to_string(),
                };
                if !effects.merges.contains(&merge) {
                    effects.merges.push(merge);
                }
            }
        }
        cluster_id
    }

    /// Puts `account` in `cluster_id`; returns the cluster it left, if it changed.
    fn assign_cluster(&mut self, account: AccountId, cluster_id: ClusterId) -> Option<ClusterId> {
        let entry = self.accounts.get_mut(account)?;
        let old = entry.cluster.replace(cluster_id);
        self.members_of
            .entry(cluster_id)
            .or_default()
            .insert(account);
        let old = old.filter(|old| *old != cluster_id)?;
        if let Some(members) = self.members_of.get_mut(&old) {
            members.remove(account);
            if members.is_empty() {
                self.members_of.remove(&old);
            }
        }
        Some(old)
    }

    /// The riskiest account of a cluster.
    pub fn cluster_risk(&self, cluster_id: &str) -> Option<SellerRisk> {
        self.riskiest_of(ClusterId::parse(cluster_id)?)
    }

    /// The riskiest account of a cluster (ties: the smallest seller id, then the first in
    /// account order).
    pub(super) fn riskiest_of(&self, cluster: ClusterId) -> Option<SellerRisk> {
        let members = self.in_key_order(self.members_of.get(&cluster)?.iter().copied());
        let riskiest = members
            .into_iter()
            .filter_map(|id| Some((id, self.accounts.get(id)?.risk.as_deref()?)))
            .max_by(|(a, ra), (b, rb)| {
                ra.score
                    .total_cmp(&rb.score)
                    .then_with(|| self.key_ref(*b).1.cmp(self.key_ref(*a).1))
            })?;
        Some(self.served(riskiest.0, riskiest.1))
    }

    /// Assigns clusters to every account after a replay, without emitting anything.
    pub fn settle_clusters_quietly(&mut self) {
        let mut done: BTreeSet<AccountId> = BTreeSet::new();
        let accounts: Vec<AccountId> = self.accounts.iter().map(|(id, _)| id).collect();
        for start in accounts {
            if done.contains(&start) {
                continue;
            }
            let members: Vec<AccountId> = self.component(start, false).into_iter().collect();
            let cluster_id = self.founder_cluster_id(&members);
            for &account in &members {
                self.assign_cluster(account, cluster_id);
            }
            done.extend(members);
        }
    }
}
