//! The blacklist: an account with an active confirmed finding is listed (basis: confirmed
//! finding), and so is every account strongly linked to it (basis: strong link); a
//! retraction, an upheld appeal or an undone link delists. Every change carries its reason.

use std::collections::BTreeMap;

use acx_proto::scoring::{BlacklistEntry, ListingBasis};

use super::{
    ClusterId, Effects, ListingChange, Model,
    accounts::{AccountId, AccountKey},
    linking::Links,
    timestamp,
};

impl Model {
    /// Lists the accounts of the cluster `cluster_id` (its `members`) anew, as of `now_us`,
    /// and records what changed.
    pub(super) fn settle_listings(
        &mut self,
        members: &[AccountId],
        links: &Links,
        cluster_id: ClusterId,
        now_us: i64,
        effects: &mut Effects,
    ) {
        // Listings: own active confirmed findings, then strong links to them.
        let confirmed_of = |account: AccountId| -> Vec<String> {
            self.accounts
                .get(account)
                .map(|a| a.findings.as_slice())
                .unwrap_or_default()
                .iter()
                .filter(|key| {
                    self.findings
                        .get(*key)
                        .is_some_and(|f| f.lists && !f.retracted)
                })
                .map(|key| key.name(&self.platforms))
                .collect()
        };
        let mut new_listings: BTreeMap<AccountId, BlacklistEntry> = BTreeMap::new();
        for &account in members {
            let evidence = confirmed_of(account);
            if evidence.is_empty() {
                continue;
            }
            for linked in links.component(account, true) {
                let basis = if linked == account {
                    ListingBasis::ConfirmedFinding
                } else {
                    ListingBasis::StrongLink
                };
                let entry = new_listings
                    .entry(linked)
                    .or_insert_with(|| BlacklistEntry {
                        seller: Some(self.seller_ref(linked)),
                        cluster_id: cluster_id.to_string(),
                        basis: basis as i32,
                        evidence: Vec::new(),
                        list_time: Some(timestamp(now_us)),
                    });
                if basis == ListingBasis::ConfirmedFinding {
                    entry.basis = basis as i32;
                }
                entry.evidence.extend(evidence.iter().cloned());
            }
        }
        for entry in new_listings.values_mut() {
            entry.evidence.sort();
            entry.evidence.dedup();
            entry.evidence.truncate(super::risk::MAX_EVIDENCE);
        }
        self.diff_listings(members, new_listings, effects);
    }

    fn diff_listings(
        &mut self,
        members: &[AccountId],
        new_listings: BTreeMap<AccountId, BlacklistEntry>,
        effects: &mut Effects,
    ) {
        for &account in members {
            let before = self.listings.get(&account).cloned();
            let after = new_listings.get(&account).cloned();
            let reason = match (&before, &after) {
                (None, None) => continue,
                (None, Some(entry)) => match ListingBasis::try_from(entry.basis) {
                    Ok(ListingBasis::ConfirmedFinding) => {
                        format!("confirmed finding {}", entry.evidence.join(", "))
                    }
                    _ => format!(
                        "strongly linked to an account listed for {}",
                        entry.evidence.join(", ")
                    ),
                },
                (Some(old), None) => {
                    let notes: Vec<&String> = old
                        .evidence
                        .iter()
                        .filter_map(|name| {
                            let mut parts = name.trim_start_matches("reports/").splitn(2, '/');
                            let key = (parts.next()?.to_owned(), parts.next()?.to_owned());
                            self.retraction_notes.get(&key)
                        })
                        .collect();
                    if notes.is_empty() {
                        "the link to the listed account was undone".to_owned()
                    } else {
                        notes.into_iter().cloned().collect::<Vec<_>>().join("; ")
                    }
                }
                (Some(old), Some(new)) => {
                    let mut old_cmp = old.clone();
                    old_cmp.list_time = new.list_time;
                    if old_cmp == *new {
                        continue;
                    }
                    "basis, cluster or evidence changed".to_owned()
                }
            };
            let mut kept = after.clone();
            if let (Some(old), Some(entry)) = (&before, kept.as_mut()) {
                entry.list_time = old.list_time; // listed since the first listing
            }
            let key = self.key_of(account);
            match &kept {
                Some(entry) => {
                    self.listings.insert(account, entry.clone());
                    self.listing_order.insert(key.clone(), account);
                }
                None => {
                    self.listings.remove(&account);
                    self.listing_order.remove(&key);
                }
            };
            effects.listings.push(ListingChange {
                account: key,
                entry: kept,
                before,
                reason,
            });
        }
    }

    /// The blacklist, in account order, after `after` (exclusive), at most `limit`.
    pub fn blacklist_page(&self, after: Option<&AccountKey>, limit: usize) -> Vec<BlacklistEntry> {
        let range = match after {
            Some(key) => self.listing_order.range((
                std::ops::Bound::Excluded(key.clone()),
                std::ops::Bound::Unbounded,
            )),
            None => self.listing_order.range::<AccountKey, _>(..),
        };
        range
            .take(limit)
            .filter_map(|(_, id)| self.listings.get(id).cloned())
            .collect()
    }
}
