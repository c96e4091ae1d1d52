//! The scoring model: what the exchange knows of each seller account (from ingest's
//! feed), how accounts link into clusters, the risk of each account with its reasons, and
//! the blacklist. Everything here is deterministic: the same inputs and the same as-of time
//! give the same clusters, scores and listings.
//!
//! ## Linking
//! Accounts sharing a strong identifier hash (registration number, tax number, bank
//! account) are linked. Accounts sharing a weak one (phone, e-mail, address, web domain)
//! are linked only if their display or legal names are similar ([`crate::names`]). A
//! cluster is a connected group of linked accounts; its id is derived from its oldest
//! account (first seen on the feed), so it survives new accounts joining, and when two
//! clusters merge the older id is kept and the other recorded as merged into it. Only an
//! account's current profile (the latest by observation time, not retracted) links it, so
//! superseded or retracted profiles undo their links.
//!
//! ## Risk (model `acx-risk-3`)
//! Each active counterfeit finding on any account of the cluster weighs
//! `verdict × evidence × 0.5^(age / half-life)`: confirmed 0.9, suspected 0.35; test buy
//! and customs seizure 1.0, rights-owner notice 0.85, other 0.6, automated detection 0.5.
//! A finding on an account of another party (accounts joined by strong links alone are one
//! party; another is reached only through a weak link) counts
//! [`risk::WEAK_LINK_WEIGHT`] (0.75) of that, so an account never scores above the one
//! whose findings it has only through a weak link. Findings are grouped by
//! (source, evidence type): a group counts its strongest finding
//! plus a fifth of the others, at most half of what the strongest leaves to 1
//! ([`risk::REPETITION_LIMIT`]: repetition by one source adds little), and groups combine
//! as independent evidence, `1 - Π(1 - group)` (corroboration across platforms and evidence
//! types adds much). Findings of another party count as `LINKED_TO_BLACKLISTED` when that
//! party is listed, else under their own reasons. Each
//! reason's contribution is its share of the score. (`acx-risk-2` had no limit on
//! repetition, so ten suspected findings of one source outscored a confirmed one;
//! `acx-risk-1` counted the cluster's
//! findings in full for every account and added a link component of 0.5 for an unlisted
//! account in a listed cluster, which put weakly linked accounts above the listed one.)

//! ## Blacklist
//! An account with an active confirmed finding is listed (basis: confirmed finding), and so
//! is every account strongly linked to it (basis: strong link). A retraction, an upheld
//! appeal or an undone link delists; every change is recorded with its reason. Tiers:
//! listed accounts are BLACKLISTED; otherwise HIGH from 0.7, ELEVATED from 0.3, else LOW.
//!
//! ## Layout
//! [`accounts`]: accounts, profiles, the identifier and name indexes ([`index`]: their
//! compact forms); [`linking`]: links and clusters; [`risk`]: findings, risk and
//! [`ReasonCode`]; [`blacklist`]: listings; [`entity`]: entity checks. Marketplace prices are not the seller model's:
//! [`crate::market`].

mod accounts;
mod blacklist;
mod entity;
mod index;
mod linking;
mod risk;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_parties;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use acx_domain::{hashing, names::Name};
use acx_proto::{
    ingest::{EvidenceType, Report, RetractionReason, Verdict, report::Kind},
    scoring::{BlacklistEntry, SellerRisk},
};
use acx_runtime::time::to_timestamp as timestamp;

pub use accounts::{AccountId, AccountKey};
use accounts::{Accounts, Identifier, Platforms, Profile};
use index::{AccountSet, NameKey};
use linking::ClusterId;
pub use linking::cluster_id_of;
pub use risk::ReasonCode;
use risk::{Bucket, Finding, FindingKey, ServedRisk, evidence_weight};

/// Tunable parameters; part of the model version.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ModelParams {
    /// Half-life of a finding's weight, in days.
    pub half_life_days: f64,
}

impl ModelParams {
    /// The version string of this model with these parameters.
    pub fn version(&self) -> String {
        format!("acx-risk-3;half-life={}d", self.half_life_days)
    }
}

/// A recomputed risk that differs from the one served before.
#[derive(Debug, Clone)]
pub struct RiskUpdate {
    /// The account.
    pub account: AccountKey,
    /// Its new risk.
    pub risk: SellerRisk,
}

/// A change of the blacklist.
#[derive(Debug, Clone)]
pub struct ListingChange {
    /// The account.
    pub account: AccountKey,
    /// The entry now (None when delisted).
    pub entry: Option<BlacklistEntry>,
    /// The entry before (None when newly listed).
    pub before: Option<BlacklistEntry>,
    /// Why, in words.
    pub reason: String,
}

/// Two clusters became one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merge {
    /// The id that no longer exists.
    pub from: String,
    /// The id that was kept.
    pub into: String,
}

/// What one recomputation changed.
#[derive(Debug, Default)]
pub struct Effects {
    /// Risks that changed.
    pub risks: Vec<RiskUpdate>,
    /// Blacklist changes.
    pub listings: Vec<ListingChange>,
    /// Cluster merges.
    pub merges: Vec<Merge>,
}

/// The whole state of the model: what scoring serves from, and what later reports
/// need (a retraction, a new profile). Memory grows with accounts, identifiers, findings
/// and listings, not with reports: a price observation or shipment notice leaves only its
/// account here (its price goes to [`crate::market`]), and of a profile only its version
/// is kept (so that a retraction falls back to the one before).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Model {
    params: ModelParams,
    platforms: Platforms,
    accounts: Accounts,
    /// Current-profile identifiers → accounts holding them (sorted).
    holders: HashMap<Identifier, AccountSet>,
    /// Current-profile names (as [`Name::key`], hashed) → accounts holding them (sorted).
    named: HashMap<NameKey, AccountSet>,
    /// Findings by key; each also listed on its account.
    findings: BTreeMap<FindingKey, Finding>,
    /// Clusters → their members (sorted).
    members_of: HashMap<ClusterId, AccountSet>,
    /// The blacklist.
    #[serde(with = "crate::snapshot::prost_values")]
    listings: HashMap<AccountId, BlacklistEntry>,
    /// The listed accounts in account order, for paging.
    listing_order: BTreeMap<AccountKey, AccountId>,
    /// Why the last retractions happened, by retracted report, for delisting reasons.
    retraction_notes: HashMap<(String, String), String>,
}

/// A report's time in microseconds, 0 when it has none.
fn micros(time: Option<&prost_types::Timestamp>) -> i64 {
    time.map_or(0, acx_runtime::time::from_timestamp)
}

impl Model {
    /// An empty model.
    pub fn new(params: ModelParams) -> Self {
        Self {
            params,
            platforms: Platforms::default(),
            accounts: Accounts::default(),
            holders: HashMap::new(),
            named: HashMap::new(),
            findings: BTreeMap::new(),
            members_of: HashMap::new(),
            listings: HashMap::new(),
            listing_order: BTreeMap::new(),
            retraction_notes: HashMap::new(),
        }
    }

    /// The model's parameters.
    pub fn params(&self) -> ModelParams {
        self.params
    }

    /// Takes one report from the feed; returns the accounts whose cluster or risk may have
    /// changed.
    pub fn apply(&mut self, sequence: i64, platform: &str, report: &Report) -> BTreeSet<AccountId> {
        let Some(kind) = &report.kind else {
            return BTreeSet::new();
        };
        match kind {
            Kind::SellerProfile(profile) => {
                let account = self.touch_account(platform, &profile.seller_id, sequence);
                let before = self.current_identifiers(account);
                let identifiers: BTreeSet<Identifier> = profile
                    .hashed_identifiers
                    .iter()
                    .map(|h| Identifier::new(h.kind, &h.hash))
                    .collect();
                let normalization = hashing::primary_version(&profile.hashed_identifiers);
                let legacy = profile
                    .hashed_identifiers
                    .iter()
                    .filter(|h| h.normalization_version.max(1) < normalization)
                    .map(|h| {
                        (
                            Identifier::new(h.kind, &h.hash),
                            h.normalization_version.max(1),
                        )
                    })
                    .collect();
                self.accounts.add_profile(
                    account,
                    Profile {
                        report_id: report.report_id.as_str().into(),
                        observe_us: micros(profile.observe_time.as_ref()),
                        parsed_names: [&profile.display_name, &profile.legal_name]
                            .into_iter()
                            .filter(|n| !n.trim().is_empty())
                            .map(|n| Name::parse(n))
                            .collect::<Vec<_>>()
                            .into(),
                        identifiers: identifiers.into_iter().collect(),
                        normalization,
                        legacy,
                        retracted: false,
                    },
                );
                self.reindex(account, &before)
            }
            Kind::CounterfeitFinding(finding) => {
                let confirmed = finding.verdict == Verdict::Confirmed as i32;
                let seller_id = finding.seller.as_ref().map_or("", |s| s.seller_id.as_str());
                let account = self.touch_account(platform, seller_id, sequence);
                let key = FindingKey::Report {
                    platform: self.platforms.intern(platform),
                    report_id: report.report_id.as_str().into(),
                };
                self.add_finding(
                    key,
                    Finding {
                        account,
                        bucket: if confirmed {
                            Bucket::Confirmed
                        } else {
                            Bucket::Suspected
                        },
                        weight: if confirmed { 0.9 } else { 0.35 }
                            * evidence_weight(finding.evidence_type),
                        lists: confirmed,
                        evidence_type: finding.evidence_type,
                        observe_us: micros(finding.observe_time.as_ref()),
                        retracted: false,
                    },
                );
                BTreeSet::from([account])
            }
            // Their prices and lines go to the market index (crate::market): here only the
            // account is heard of, and nothing is kept for a retraction (it changes nothing).
            Kind::PriceObservation(price) => {
                BTreeSet::from([self.touch_account(platform, &price.seller_id, sequence)])
            }
            Kind::ShipmentNotice(notice) => {
                BTreeSet::from([self.touch_account(platform, &notice.seller_id, sequence)])
            }
            Kind::Retraction(retraction) => {
                let target = (platform.to_owned(), retraction.retracted_report_id.clone());
                let why = RetractionReason::try_from(retraction.reason)
                    .map(|r| {
                        r.as_str_name()
                            .trim_start_matches("RETRACTION_REASON_")
                            .to_lowercase()
                            .replace('_', " ")
                    })
                    .unwrap_or_else(|_| "other".to_owned());
                self.retraction_notes.insert(
                    target.clone(),
                    format!(
                        "report {platform}/{} retracted {}: {why}",
                        report.report_id, target.1
                    ),
                );
                let Some(platform) = self.platforms.get(platform) else {
                    return BTreeSet::new();
                };
                let report_id: Box<str> = target.1.as_str().into();
                let finding_key = FindingKey::Report {
                    platform,
                    report_id: report_id.clone(),
                };
                if let Some(finding) = self.findings.get_mut(&finding_key) {
                    finding.retracted = true;
                    return BTreeSet::from([finding.account]);
                }
                let Some(account) = self.accounts.of_profile_report(platform, &report_id) else {
                    return BTreeSet::new();
                };
                let before = self.current_identifiers(account);
                if let Some(entry) = self.accounts.get_mut(account) {
                    for profile in entry
                        .profiles
                        .iter_mut()
                        .filter(|p| *p.report_id == *target.1)
                    {
                        profile.retracted = true;
                    }
                }
                self.reindex(account, &before)
            }
        }
    }

    /// Adds a finding (unless its key is known) to the findings and its account's list.
    fn add_finding(&mut self, key: FindingKey, finding: Finding) {
        let account = finding.account;
        if let Some(entry) = self.accounts.get_mut(account)
            && let Err(at) = entry.findings.binary_search(&key)
        {
            accounts::grow_for_one(&mut entry.findings);
            entry.findings.insert(at, key.clone());
        }
        self.findings.insert(key, finding);
    }

    /// Takes a customs outcome attributed to `account`: a counterfeit seizure counts as a
    /// confirmed finding with customs-seizure evidence (and so lists the account), a
    /// confirmed undervaluation as evidence of a lesser weight that never lists.
    pub fn apply_outcome(
        &mut self,
        authority: &str,
        declaration_id: &str,
        account: &AccountKey,
        seized: bool,
        observe_us: i64,
    ) -> BTreeSet<AccountId> {
        let key = FindingKey::Outcome {
            authority: authority.into(),
            declaration_id: declaration_id.into(),
        };
        if self.findings.contains_key(&key) {
            return BTreeSet::new();
        }
        let account = self.touch_account(&account.0, &account.1, i64::MAX);
        self.add_finding(
            key,
            Finding {
                account,
                bucket: if seized {
                    Bucket::Confirmed
                } else {
                    Bucket::Undervaluation
                },
                weight: if seized { 0.9 } else { 0.4 },
                lists: seized,
                evidence_type: EvidenceType::CustomsSeizure as i32,
                observe_us,
                retracted: false,
            },
        );
        BTreeSet::from([account])
    }

    /// Takes a declared-value anomaly (of `strength` 0 to 1) on a shipment of `account`:
    /// weak evidence that never lists anyone on its own.
    pub fn apply_value_anomaly(
        &mut self,
        authority: &str,
        declaration_id: &str,
        account: &AccountKey,
        strength: f64,
        observe_us: i64,
    ) -> BTreeSet<AccountId> {
        let key = FindingKey::Declaration {
            authority: authority.into(),
            declaration_id: declaration_id.into(),
        };
        if strength <= 0.0 || self.findings.contains_key(&key) {
            return BTreeSet::new();
        }
        let account = self.touch_account(&account.0, &account.1, i64::MAX);
        self.add_finding(
            key,
            Finding {
                account,
                bucket: Bucket::ValueAnomaly,
                weight: 0.3 * strength.min(1.0),
                lists: false,
                evidence_type: EvidenceType::Unspecified as i32,
                observe_us,
                retracted: false,
            },
        );
        BTreeSet::from([account])
    }

    /// Recomputes clusters, risks and listings of everything reachable from `touched`, as
    /// of `now_us`; returns what changed.
    pub fn recompute(&mut self, touched: &BTreeSet<AccountId>, now_us: i64) -> Effects {
        // Everything that was in a cluster with a touched account, or is now.
        let mut affected: BTreeSet<AccountId> = touched.clone();
        for account in touched {
            if let Some(members) = self
                .accounts
                .get(*account)
                .and_then(|a| a.cluster)
                .and_then(|c| self.members_of.get(&c))
            {
                affected.extend(members.iter().copied());
            }
        }

        let mut effects = Effects::default();
        let mut done: BTreeSet<AccountId> = BTreeSet::new();
        // In account order, as answers and stored effects list them.
        for start in self.in_key_order(affected) {
            if done.contains(&start) {
                continue;
            }
            let links = self.cluster_links(start);
            done.extend(links.members());
            self.settle_cluster(&links, now_us, &mut effects);
        }
        effects
    }

    /// Assigns the cluster id of the accounts of `links` and recomputes their listings and
    /// risks.
    fn settle_cluster(&mut self, links: &linking::Links, now_us: i64, effects: &mut Effects) {
        let members = self.in_key_order(links.members());
        let cluster_id = self.settle_cluster_id(&members, effects);
        self.settle_listings(&members, links, cluster_id, now_us, effects);
        self.settle_risks(&members, links, cluster_id, now_us, effects);
    }

    /// The served risk of an account.
    pub fn risk(&self, account: &AccountKey) -> Option<SellerRisk> {
        let id = self.account_id(account)?;
        let risk = self.accounts.get(id)?.risk.as_deref()?;
        Some(self.served(id, risk))
    }

    /// Whether the model has heard of an account.
    pub fn knows(&self, account: &AccountKey) -> bool {
        self.account_id(account).is_some()
    }
}
