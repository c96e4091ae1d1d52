//! Seller accounts and their profiles: every version a platform reported (so a retraction
//! falls back to the one before), the current one, and the indexes of current identifiers
//! and names that linking and entity checks read.

use std::collections::{BTreeMap, BTreeSet};

use acx_domain::names::Name;
use acx_proto::common::SellerAccountRef;

use super::Model;

/// A seller account: (platform, platform seller id).
pub type AccountKey = (String, String);

/// A hashed identifier of a profile: (identifier kind, hash).
pub type Identifier = (i32, String);

/// One version of an account's profile.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(super) struct Profile {
    pub(super) report_id: String,
    pub(super) observe_us: i64,
    /// The display and legal names, analysed for comparison once.
    pub(super) parsed_names: Vec<Name>,
    pub(super) identifiers: BTreeSet<Identifier>,
    /// The normalisation version the profile was hashed under
    /// ([`acx_domain::hashing::primary_version`]).
    pub(super) normalization: u32,
    /// Its legacy hashes (made under an older version, to meet profiles stored under it),
    /// with their versions; every other hash is a primary one.
    pub(super) legacy: BTreeMap<Identifier, u32>,
    pub(super) retracted: bool,
}

impl Profile {
    /// (version of this profile's hash, the profile's own version), for
    /// [`acx_domain::hashing::links_across_versions`].
    pub(super) fn version_of(&self, identifier: &Identifier) -> (u32, u32) {
        let version = self
            .legacy
            .get(identifier)
            .copied()
            .unwrap_or(self.normalization);
        (version, self.normalization)
    }
}

/// What the model knows of one seller account.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub(super) struct Account {
    /// Feed sequence of the first report that named the account.
    pub(super) first_seen: i64,
    pub(super) profiles: Vec<Profile>,
}

impl Account {
    /// The profile in force: the latest observed, not retracted.
    pub(super) fn current(&self) -> Option<&Profile> {
        self.profiles
            .iter()
            .filter(|p| !p.retracted)
            .max_by(|a, b| (a.observe_us, &a.report_id).cmp(&(b.observe_us, &b.report_id)))
    }

    pub(super) fn names(&self) -> Vec<&Name> {
        self.current()
            .map(|p| p.parsed_names.iter().collect())
            .unwrap_or_default()
    }
}

/// The account as the contract names it.
pub(super) fn seller_ref(account: &AccountKey) -> SellerAccountRef {
    SellerAccountRef {
        platform: account.0.clone(),
        seller_id: account.1.clone(),
    }
}

impl Model {
    pub(super) fn touch_account(&mut self, account: &AccountKey, sequence: i64) {
        self.accounts
            .entry(account.clone())
            .or_insert_with(|| Account {
                first_seen: sequence,
                profiles: Vec::new(),
            });
    }

    /// Sets the holder index of `account` to its current profile; returns every account
    /// that held one of the old or new identifiers (their links may have changed).
    pub(super) fn reindex(
        &mut self,
        account: &AccountKey,
        before: &BTreeSet<(i32, String)>,
    ) -> BTreeSet<AccountKey> {
        let after: BTreeSet<(i32, String)> = self
            .accounts
            .get(account)
            .and_then(Account::current)
            .map(|p| p.identifiers.clone())
            .unwrap_or_default();
        let mut touched = BTreeSet::from([account.clone()]);
        for identifier in before.union(&after) {
            if let Some(holders) = self.holders.get(identifier) {
                touched.extend(holders.iter().cloned());
            }
        }
        for identifier in before.difference(&after) {
            if let Some(holders) = self.holders.get_mut(identifier) {
                holders.remove(account);
                if holders.is_empty() {
                    self.holders.remove(identifier);
                }
            }
        }
        for identifier in after.difference(before) {
            self.holders
                .entry(identifier.clone())
                .or_default()
                .insert(account.clone());
        }
        self.reindex_names(account);
        touched
    }

    /// Puts `account` under the names of its current profile only.
    pub(super) fn reindex_names(&mut self, account: &AccountKey) {
        let keys: BTreeSet<String> = self
            .accounts
            .get(account)
            .map(Account::names)
            .unwrap_or_default()
            .into_iter()
            .map(Name::key)
            .filter(|key| !key.is_empty())
            .collect();
        let before = self
            .name_keys_of
            .insert(account.clone(), keys.clone())
            .unwrap_or_default();
        for key in before.difference(&keys) {
            if let Some(holders) = self.named.get_mut(key) {
                holders.remove(account);
                if holders.is_empty() {
                    self.named.remove(key);
                }
            }
        }
        for key in keys {
            self.named.entry(key).or_default().insert(account.clone());
        }
    }

    pub(super) fn current_identifiers(&self, account: &AccountKey) -> BTreeSet<(i32, String)> {
        self.accounts
            .get(account)
            .and_then(Account::current)
            .map(|p| p.identifiers.clone())
            .unwrap_or_default()
    }

    /// How many accounts' current profiles (with identifiers) were hashed under each
    /// normalisation version: while older versions have profiles, ingest should keep
    /// hashing new ones under them too (README, "Privacy").
    pub fn profiles_by_normalization(&self) -> BTreeMap<u32, usize> {
        let mut counts = BTreeMap::new();
        for profile in self.accounts.values().filter_map(Account::current) {
            if !profile.identifiers.is_empty() {
                *counts.entry(profile.normalization).or_default() += 1;
            }
        }
        counts
    }
}
