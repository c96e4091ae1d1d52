//! The model's compact indexes: sets of accounts that hold one inline, name keys as 8
//! bytes, and string keys (seller ids, profile report ids) indexed by hash while the
//! strings themselves are kept once, by their accounts. At a million accounts they keep
//! the indexes to a few hundred MiB (docs/performance.md, "Scoring memory").

use std::{
    collections::{HashMap, hash_map::Entry},
    hash::{BuildHasher, RandomState},
};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::accounts::{AccountId, PlatformId};

/// A set of accounts in id order: the holders of an identifier or a name, the members of
/// a cluster. Most hold one account, which is kept inline: a one-item `Vec` would cost an
/// allocation of 32 bytes for 4 (about 130 MiB at a million accounts over the three
/// indexes).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) enum AccountSet {
    #[default]
    Empty,
    One(AccountId),
    /// Two or more, sorted.
    Many(Vec<AccountId>),
}

impl AccountSet {
    pub(super) fn as_slice(&self) -> &[AccountId] {
        match self {
            Self::Empty => &[],
            Self::One(id) => std::slice::from_ref(id),
            Self::Many(ids) => ids,
        }
    }

    pub(super) fn iter(&self) -> std::slice::Iter<'_, AccountId> {
        self.as_slice().iter()
    }

    pub(super) fn is_empty(&self) -> bool {
        matches!(self, Self::Empty)
    }

    /// Adds `id` (nothing when present).
    pub(super) fn insert(&mut self, id: AccountId) {
        match self {
            Self::Empty => *self = Self::One(id),
            Self::One(one) if *one == id => {}
            Self::One(one) => {
                let mut ids = vec![*one, id];
                ids.sort_unstable();
                *self = Self::Many(ids);
            }
            Self::Many(ids) => {
                if let Err(at) = ids.binary_search(&id) {
                    ids.insert(at, id);
                }
            }
        }
    }

    /// Removes `id` (nothing when absent).
    pub(super) fn remove(&mut self, id: AccountId) {
        match self {
            Self::One(one) if *one == id => *self = Self::Empty,
            Self::Many(ids) => {
                if let Ok(at) = ids.binary_search(&id) {
                    ids.remove(at);
                }
                if let [only] = ids.as_slice() {
                    *self = Self::One(*only);
                }
            }
            _ => {}
        }
    }
}

impl<'a> IntoIterator for &'a AccountSet {
    type Item = &'a AccountId;
    type IntoIter = std::slice::Iter<'a, AccountId>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// A name key ([`Name::key`]) as the name index holds it: the first 8 bytes of its
/// SHA-256, the same on every replica. Two keys may share one (rarely); a look-up checks
/// the accounts' names ([`Model::named_exactly`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub(super) struct NameKey(u64);

impl NameKey {
    pub(super) fn of(key: &str) -> Self {
        let digest = Sha256::digest(key.as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        Self(u64::from_le_bytes(first))
    }
}

/// An index from a string key of a platform (a seller id, a profile report id) to the
/// account that keeps it: 8 bytes of hash and the account per key, not the key, which its
/// account keeps once. A look-up checks the candidates' own keys, so keys whose hashes
/// collide are told apart. The hashes are this process's own (never stored): a snapshot
/// builds the index again.
#[derive(Debug, Default)]
pub(super) struct KeyIndex {
    hasher: RandomState,
    first: HashMap<u64, AccountId>,
    /// Further accounts whose keys share a hash with one of `first` (rare).
    more: HashMap<u64, Vec<AccountId>>,
}

impl KeyIndex {
    fn hash(&self, platform: PlatformId, key: &str) -> u64 {
        self.hasher.hash_one((platform, key))
    }

    /// Indexes `key` of `platform` as kept by `account`.
    pub(super) fn insert(&mut self, platform: PlatformId, key: &str, account: AccountId) {
        let hash = self.hash(platform, key);
        match self.first.entry(hash) {
            Entry::Vacant(vacant) => {
                vacant.insert(account);
            }
            Entry::Occupied(first) if *first.get() == account => {}
            Entry::Occupied(_) => {
                let more = self.more.entry(hash).or_default();
                if !more.contains(&account) {
                    more.push(account);
                }
            }
        }
    }

    /// The account keeping `key` of `platform`: the first candidate that `keeps` says
    /// holds it.
    pub(super) fn find(
        &self,
        platform: PlatformId,
        key: &str,
        keeps: impl Fn(AccountId) -> bool,
    ) -> Option<AccountId> {
        let hash = self.hash(platform, key);
        self.first
            .get(&hash)
            .into_iter()
            .chain(self.more.get(&hash).into_iter().flatten())
            .copied()
            .find(|account| keeps(*account))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u32) -> AccountId {
        AccountId::for_tests(n)
    }

    #[test]
    fn an_account_set_stays_sorted_and_inline_when_one() {
        let mut set = AccountSet::default();
        assert!(set.is_empty());
        set.insert(id(5));
        set.insert(id(5));
        assert_eq!(set, AccountSet::One(id(5)));
        for n in [9, 1, 7] {
            set.insert(id(n));
        }
        assert_eq!(set.as_slice(), [id(1), id(5), id(7), id(9)]);
        for n in [5, 9, 42, 1] {
            set.remove(id(n));
        }
        assert_eq!(set, AccountSet::One(id(7)));
        set.remove(id(7));
        assert!(set.is_empty());
    }

    #[test]
    fn keys_sharing_a_hash_are_told_apart_by_their_accounts() {
        let platform = PlatformId::for_tests(0);
        let mut index = KeyIndex::default();
        // Two accounts under one key stand for two keys whose hashes collide.
        index.insert(platform, "S1", id(1));
        index.insert(platform, "S1", id(2));
        index.insert(platform, "S1", id(2));
        assert_eq!(index.find(platform, "S1", |a| a == id(2)), Some(id(2)));
        assert_eq!(index.find(platform, "S1", |a| a == id(1)), Some(id(1)));
        assert_eq!(index.find(platform, "S1", |_| false), None);
        assert_eq!(index.find(platform, "S9", |_| true), None);
        assert_eq!(index.find(PlatformId::for_tests(1), "S1", |_| true), None);
    }
}
