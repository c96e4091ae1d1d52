//! Seller accounts and their profiles: every version a platform reported (so a retraction
//! falls back to the one before), the current one, and the indexes of current identifiers
//! and names that linking and entity checks read.
//!
//! Accounts are interned: the model refers to one as an [`AccountId`] (its place in
//! [`Accounts`]), platforms as a [`PlatformId`]; the strings are kept once, in the table.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use acx_domain::names::Name;
use acx_proto::common::SellerAccountRef;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

use super::{
    ClusterId, Model, ServedRisk,
    index::{KeyIndex, NameKey},
    risk::FindingKey,
};

/// A seller account as callers name it: (platform, platform seller id).
pub type AccountKey = (String, String);

/// A hashed identifier of a profile: its kind and its keyed hash, in 36 bytes (the model
/// holds two or more per account, in profiles and in the holder index).
///
/// Ingest sends every hash as an HMAC-SHA256 written as 64 lower-case hex digits; those
/// are kept as their 32 bytes. Any other text (an older or foreign client) is kept as the
/// SHA-256 of the text: it still equals only the same text, and never a hex hash (that
/// would need a SHA-256 preimage).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Identifier {
    /// The identifier kind (`acx.common.v1.IdentifierKind`).
    pub(super) kind: i32,
    hash: [u8; 32],
}

impl Identifier {
    /// The identifier of `kind` hashed as `text`.
    pub(super) fn new(kind: i32, text: &str) -> Self {
        let mut hash = [0u8; 32];
        let lower_hex = text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if !(text.len() == 64 && lower_hex && hex::decode_to_slice(text, &mut hash).is_ok()) {
            hash = Sha256::digest(text.as_bytes()).into();
        }
        Self { kind, hash }
    }
}

/// An account of the model: its index in [`Accounts`], in the order accounts were first
/// seen (the same on every replica, which apply the same history).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AccountId(u32);

#[cfg(test)]
impl AccountId {
    pub(super) fn for_tests(n: u32) -> Self {
        Self(n)
    }
}

/// A platform, interned ([`Platforms`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub(super) struct PlatformId(u16);

#[cfg(test)]
impl PlatformId {
    pub(super) fn for_tests(n: u16) -> Self {
        Self(n)
    }
}

/// Platform names, each kept once.
#[derive(Debug, Default)]
pub(super) struct Platforms {
    names: Vec<Box<str>>,
    ids: HashMap<Box<str>, PlatformId>,
}

impl Platforms {
    /// The id of `name`, added if new.
    pub(super) fn intern(&mut self, name: &str) -> PlatformId {
        if let Some(id) = self.ids.get(name) {
            return *id;
        }
        // More than 65,536 platforms is not a deployment this model is sized for; the
        // last id is shared rather than panicking.
        let id = PlatformId(u16::try_from(self.names.len()).unwrap_or(u16::MAX));
        self.names.push(name.into());
        self.ids.insert(name.into(), id);
        id
    }

    /// The id of `name`, if known.
    pub(super) fn get(&self, name: &str) -> Option<PlatformId> {
        self.ids.get(name).copied()
    }

    /// The name of `id`.
    pub(super) fn name(&self, id: PlatformId) -> &str {
        self.names.get(usize::from(id.0)).map_or("", |n| n)
    }
}

impl Serialize for Platforms {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.names.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Platforms {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let names: Vec<Box<str>> = Vec::deserialize(deserializer)?;
        let ids = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), PlatformId(i as u16)))
            .collect();
        Ok(Self { names, ids })
    }
}

/// One version of an account's profile.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Profile {
    pub(super) report_id: Box<str>,
    pub(super) observe_us: i64,
    /// The display and legal names, analysed for comparison once.
    pub(super) parsed_names: Box<[Name]>,
    /// Sorted, without repeats.
    pub(super) identifiers: Vec<Identifier>,
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
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Account {
    pub(super) platform: PlatformId,
    pub(super) seller_id: Box<str>,
    /// Feed sequence of the first report that named the account.
    pub(super) first_seen: i64,
    pub(super) profiles: Vec<Profile>,
    /// The name keys it is indexed under, sorted.
    pub(super) name_keys: Vec<NameKey>,
    /// Its findings, sorted.
    pub(super) findings: Vec<FindingKey>,
    /// Its cluster, once settled.
    pub(super) cluster: Option<ClusterId>,
    /// The risk served for it.
    pub(super) risk: Option<Box<ServedRisk>>,
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

/// Every account, by id; the indexes from (platform, seller id) and from (platform,
/// profile report id) to id.
#[derive(Debug, Default)]
pub(super) struct Accounts {
    list: Vec<Account>,
    ids: KeyIndex,
    /// Profile reports, for retractions.
    profile_reports: KeyIndex,
}

impl Accounts {
    pub(super) fn get(&self, id: AccountId) -> Option<&Account> {
        self.list.get(id.0 as usize)
    }

    pub(super) fn get_mut(&mut self, id: AccountId) -> Option<&mut Account> {
        self.list.get_mut(id.0 as usize)
    }

    pub(super) fn id(&self, platform: PlatformId, seller_id: &str) -> Option<AccountId> {
        self.ids.find(platform, seller_id, |id| {
            self.get(id)
                .is_some_and(|a| a.platform == platform && *a.seller_id == *seller_id)
        })
    }

    /// The account whose profile was reported as `report_id` by `platform`.
    pub(super) fn of_profile_report(
        &self,
        platform: PlatformId,
        report_id: &str,
    ) -> Option<AccountId> {
        self.profile_reports.find(platform, report_id, |id| {
            self.get(id).is_some_and(|a| {
                a.platform == platform && a.profiles.iter().any(|p| *p.report_id == *report_id)
            })
        })
    }

    /// Adds `profile` to the versions of `id`'s profile.
    pub(super) fn add_profile(&mut self, id: AccountId, profile: Profile) {
        let Some(account) = self.list.get_mut(id.0 as usize) else {
            return;
        };
        self.profile_reports
            .insert(account.platform, &profile.report_id, id);
        grow_for_one(&mut account.profiles);
        account.profiles.push(profile);
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = (AccountId, &Account)> {
        self.list
            .iter()
            .enumerate()
            .map(|(i, a)| (AccountId(i as u32), a))
    }

    fn add(&mut self, platform: PlatformId, seller_id: &str, first_seen: i64) -> AccountId {
        let id = AccountId(self.list.len() as u32);
        self.list.push(Account {
            platform,
            seller_id: seller_id.into(),
            first_seen,
            profiles: Vec::new(),
            name_keys: Vec::new(),
            findings: Vec::new(),
            cluster: None,
            risk: None,
        });
        self.ids.insert(platform, seller_id, id);
        id
    }
}

impl Serialize for Accounts {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.list.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Accounts {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let list: Vec<Account> = Vec::deserialize(deserializer)?;
        // The indexes' hashes are this process's own: built again, never stored.
        let mut accounts = Self {
            list,
            ..Self::default()
        };
        for (i, account) in accounts.list.iter().enumerate() {
            let id = AccountId(i as u32);
            accounts
                .ids
                .insert(account.platform, &account.seller_id, id);
            for profile in &account.profiles {
                accounts
                    .profile_reports
                    .insert(account.platform, &profile.report_id, id);
            }
        }
        Ok(accounts)
    }
}

/// Makes room for one more item in a list that usually holds one or a few (an account's
/// profiles and findings): exactly one while it is short, instead
/// of `Vec`'s first step of four. With a million accounts the slack of those first steps
/// was about 300 MiB of the model.
pub(super) fn grow_for_one<T>(list: &mut Vec<T>) {
    if list.len() == list.capacity() && list.len() < 8 {
        list.reserve_exact(1);
    }
}

impl Model {
    /// The id of `account`, if the model has heard of it.
    pub(super) fn account_id(&self, account: &AccountKey) -> Option<AccountId> {
        let platform = self.platforms.get(&account.0)?;
        self.accounts.id(platform, &account.1)
    }

    /// The id of the account `seller_id` of `platform`, added (first seen at `sequence`)
    /// if new.
    pub(super) fn touch_account(
        &mut self,
        platform: &str,
        seller_id: &str,
        sequence: i64,
    ) -> AccountId {
        let platform = self.platforms.intern(platform);
        match self.accounts.id(platform, seller_id) {
            Some(id) => id,
            None => self.accounts.add(platform, seller_id, sequence),
        }
    }

    /// The account as callers name it.
    pub(super) fn key_of(&self, id: AccountId) -> AccountKey {
        self.accounts.get(id).map_or_else(Default::default, |a| {
            (
                self.platforms.name(a.platform).to_owned(),
                a.seller_id.to_string(),
            )
        })
    }

    /// (platform, seller id) of an account, borrowed: the order accounts are listed in.
    pub(super) fn key_ref(&self, id: AccountId) -> (&str, &str) {
        self.accounts.get(id).map_or(("", ""), |a| {
            (self.platforms.name(a.platform), &a.seller_id)
        })
    }

    /// The account as the contract names it.
    pub(super) fn seller_ref(&self, id: AccountId) -> SellerAccountRef {
        let (platform, seller_id) = self.key_of(id);
        SellerAccountRef {
            platform,
            seller_id,
        }
    }

    /// `ids` in account order (platform, then seller id): the order answers list them in.
    pub(super) fn in_key_order(&self, ids: impl IntoIterator<Item = AccountId>) -> Vec<AccountId> {
        let mut ids: Vec<AccountId> = ids.into_iter().collect();
        ids.sort_by(|a, b| self.key_ref(*a).cmp(&self.key_ref(*b)));
        ids
    }

    /// Sets the holder index of `account` to its current profile; returns every account
    /// that held one of the old or new identifiers (their links may have changed).
    pub(super) fn reindex(
        &mut self,
        account: AccountId,
        before: &[Identifier],
    ) -> BTreeSet<AccountId> {
        let after = self.current_identifiers(account);
        let (before_set, after_set): (BTreeSet<&Identifier>, BTreeSet<&Identifier>) =
            (before.iter().collect(), after.iter().collect());
        let mut touched = BTreeSet::from([account]);
        for identifier in before_set.union(&after_set) {
            if let Some(holders) = self.holders.get(*identifier) {
                touched.extend(holders.iter().copied());
            }
        }
        for identifier in before_set.difference(&after_set) {
            if let Some(holders) = self.holders.get_mut(*identifier) {
                holders.remove(account);
                if holders.is_empty() {
                    self.holders.remove(*identifier);
                }
            }
        }
        for identifier in after_set.difference(&before_set) {
            self.holders
                .entry(**identifier)
                .or_default()
                .insert(account);
        }
        self.reindex_names(account);
        touched
    }

    /// Puts `account` under the names of its current profile only.
    fn reindex_names(&mut self, account: AccountId) {
        let Some(entry) = self.accounts.get(account) else {
            return;
        };
        let keys: BTreeSet<NameKey> = entry
            .names()
            .into_iter()
            .map(Name::key)
            .filter(|key| !key.is_empty())
            .map(|key| NameKey::of(&key))
            .collect();
        let before: BTreeSet<NameKey> = entry.name_keys.iter().copied().collect();
        for key in before.difference(&keys) {
            if let Some(holders) = self.named.get_mut(key) {
                holders.remove(account);
                if holders.is_empty() {
                    self.named.remove(key);
                }
            }
        }
        for key in keys.difference(&before) {
            self.named.entry(*key).or_default().insert(account);
        }
        if let Some(entry) = self.accounts.get_mut(account) {
            entry.name_keys = keys.into_iter().collect();
        }
    }

    /// The accounts whose current profile has a name of key `key` ([`Name::key`]).
    pub(super) fn named_exactly<'a>(
        &'a self,
        key: &'a str,
    ) -> impl Iterator<Item = AccountId> + 'a {
        self.named
            .get(&NameKey::of(key))
            .into_iter()
            .flatten()
            .copied()
            .filter(move |account| {
                self.accounts
                    .get(*account)
                    .is_some_and(|a| a.names().into_iter().any(|name| name.key() == key))
            })
    }

    /// The identifiers of the current profile of `account`.
    pub(super) fn current_identifiers(&self, account: AccountId) -> Vec<Identifier> {
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
        for (_, account) in self.accounts.iter() {
            if let Some(profile) = account.current()
                && !profile.identifiers.is_empty()
            {
                *counts.entry(profile.normalization).or_default() += 1;
            }
        }
        counts
    }
}
