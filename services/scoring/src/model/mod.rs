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
//! ## Risk (model `acx-risk-1`)
//! Each active counterfeit finding on any account of the cluster weighs
//! `verdict × evidence × 0.5^(age / half-life)`: confirmed 0.9, suspected 0.35; test buy
//! and customs seizure 1.0, rights-owner notice 0.85, other 0.6, automated detection 0.5.
//! Findings are grouped by (platform, evidence type): a group counts its strongest finding
//! plus a fifth of the others (repetition by one source adds little), and groups combine
//! as independent evidence, `1 - Π(1 - group)` (corroboration across platforms and evidence
//! types adds much). An account that is not listed but sits in a cluster with a listed
//! account gets a link component of 0.5. The score is `1 - Π(1 - component)`; each reason's
//! contribution is its share of the score.
//!
//! ## Blacklist
//! An account with an active confirmed finding is listed (basis: confirmed finding), and so
//! is every account strongly linked to it (basis: strong link). A retraction, an upheld
//! appeal or an undone link delists; every change is recorded with its reason. Tiers:
//! listed accounts are BLACKLISTED; otherwise HIGH from 0.7, ELEVATED from 0.3, else LOW.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use acx_domain::{hashing, identifiers::IdentifierKind, names::Name};
use acx_proto::{
    common::{self as pb, Reason, RiskTier, SellerAccountRef},
    ingest::{EvidenceType, Report, RetractionReason, Verdict, report::Kind},
    scoring::{BlacklistEntry, EntityMatch, ListingBasis, SellerRisk},
};
use sha2::{Digest, Sha256};

use crate::names;

/// A seller account: (platform, platform seller id).
pub type AccountKey = (String, String);

/// Tunable parameters; part of the model version.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ModelParams {
    /// Half-life of a finding's weight, in days.
    pub half_life_days: f64,
}

impl ModelParams {
    /// The version string of this model with these parameters.
    pub fn version(&self) -> String {
        format!("acx-risk-1;half-life={}d", self.half_life_days)
    }
}

/// One version of an account's profile.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Profile {
    report_id: String,
    observe_us: i64,
    /// The display and legal names, analysed for comparison once.
    parsed_names: Vec<Name>,
    identifiers: BTreeSet<(i32, String)>,
    /// The normalisation version the profile was hashed under
    /// ([`acx_domain::hashing::primary_version`]).
    normalization: u32,
    /// Its legacy hashes (made under an older version, to meet profiles stored under it),
    /// with their versions; every other hash is a primary one.
    legacy: BTreeMap<(i32, String), u32>,
    retracted: bool,
}

impl Profile {
    /// (version of this profile's hash, the profile's own version), for
    /// [`acx_domain::hashing::links_across_versions`].
    fn version_of(&self, identifier: &(i32, String)) -> (u32, u32) {
        let version = self
            .legacy
            .get(identifier)
            .copied()
            .unwrap_or(self.normalization);
        (version, self.normalization)
    }
}

#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
struct Account {
    /// Feed sequence of the first report that named the account.
    first_seen: i64,
    profiles: Vec<Profile>,
}

impl Account {
    /// The profile in force: the latest observed, not retracted.
    fn current(&self) -> Option<&Profile> {
        self.profiles
            .iter()
            .filter(|p| !p.retracted)
            .max_by(|a, b| (a.observe_us, &a.report_id).cmp(&(b.observe_us, &b.report_id)))
    }

    fn names(&self) -> Vec<&Name> {
        self.current()
            .map(|p| p.parsed_names.iter().collect())
            .unwrap_or_default()
    }
}

/// Evidence about an account: a platform's finding, a customs outcome, or a declared-value
/// anomaly on one of its shipments.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Finding {
    account: AccountKey,
    /// Which reason it feeds.
    bucket: Bucket,
    /// Its weight before decay.
    weight: f64,
    /// Whether it lists the account (confirmed counterfeits only).
    lists: bool,
    evidence_type: i32,
    observe_us: i64,
    retracted: bool,
}

/// What a stored report is, for retractions to find it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
enum Target {
    Finding,
    Profile(AccountKey),
    Other,
}

/// Which reason a finding's weight goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
enum Bucket {
    Confirmed,
    Suspected,
    Undervaluation,
    ValueAnomaly,
}

/// A finding's weight, its reason, and its resource name.
type Weighted = (f64, Bucket, String);

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

/// The whole state of the model.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Model {
    params: ModelParams,
    accounts: BTreeMap<AccountKey, Account>,
    /// Current-profile identifiers → accounts holding them.
    holders: HashMap<(i32, String), BTreeSet<AccountKey>>,
    /// Current-profile names (as [`Name::key`]) → accounts holding them.
    named: HashMap<String, BTreeSet<AccountKey>>,
    name_keys_of: HashMap<AccountKey, BTreeSet<String>>,
    findings: BTreeMap<(String, String), Finding>,
    findings_of: HashMap<AccountKey, BTreeSet<(String, String)>>,
    targets: HashMap<(String, String), Target>,
    cluster_of: HashMap<AccountKey, String>,
    members_of: HashMap<String, BTreeSet<AccountKey>>,
    #[serde(with = "crate::snapshot::prost_values")]
    risks: HashMap<AccountKey, SellerRisk>,
    #[serde(with = "crate::snapshot::prost_values")]
    listings: BTreeMap<AccountKey, BlacklistEntry>,
    /// Why the last retractions happened, by retracted report, for delisting reasons.
    retraction_notes: HashMap<(String, String), String>,
    /// Marketplace prices and shipment notices, for declared-value comparisons.
    market: crate::valuation::MarketIndex,
}

fn is_strong(kind: i32) -> bool {
    [
        pb::IdentifierKind::BusinessRegistration,
        pb::IdentifierKind::TaxNumber,
        pb::IdentifierKind::BankAccount,
    ]
    .iter()
    .any(|k| *k as i32 == kind)
}

fn kind_label(kind: i32) -> &'static str {
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

fn seller_ref(account: &AccountKey) -> SellerAccountRef {
    SellerAccountRef {
        platform: account.0.clone(),
        seller_id: account.1.clone(),
    }
}

use acx_runtime::time::to_timestamp as timestamp;

/// A report's time in microseconds, 0 when it has none.
fn micros(time: Option<&prost_types::Timestamp>) -> i64 {
    time.map_or(0, acx_runtime::time::from_timestamp)
}

fn evidence_weight(evidence_type: i32) -> f64 {
    match EvidenceType::try_from(evidence_type) {
        Ok(EvidenceType::TestBuy | EvidenceType::CustomsSeizure) => 1.0,
        Ok(EvidenceType::RightsOwnerNotice) => 0.85,
        Ok(EvidenceType::AutomatedDetection) => 0.5,
        _ => 0.6,
    }
}

fn plural(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

/// Platforms' findings are `reports/{platform}/{id}`; customs outcomes, kept under the
/// platform `customs:{authority}`, are `outcomes/{authority}/{declaration_id}`.
fn finding_name(key: &(String, String)) -> String {
    if let Some(authority) = key.0.strip_prefix("customs:") {
        format!("outcomes/{authority}/{}", key.1)
    } else if let Some(authority) = key.0.strip_prefix("declarations:") {
        format!("declarations/{authority}/{}", key.1)
    } else {
        format!("reports/{}/{}", key.0, key.1)
    }
}

impl Model {
    /// An empty model.
    pub fn new(params: ModelParams) -> Self {
        Self {
            params,
            accounts: BTreeMap::new(),
            holders: HashMap::new(),
            named: HashMap::new(),
            name_keys_of: HashMap::new(),
            findings: BTreeMap::new(),
            findings_of: HashMap::new(),
            targets: HashMap::new(),
            cluster_of: HashMap::new(),
            members_of: HashMap::new(),
            risks: HashMap::new(),
            listings: BTreeMap::new(),
            retraction_notes: HashMap::new(),
            market: crate::valuation::MarketIndex::default(),
        }
    }

    /// The model's parameters.
    pub fn params(&self) -> ModelParams {
        self.params
    }

    fn touch_account(&mut self, account: &AccountKey, sequence: i64) {
        self.accounts
            .entry(account.clone())
            .or_insert_with(|| Account {
                first_seen: sequence,
                profiles: Vec::new(),
            });
    }

    /// Sets the holder index of `account` to its current profile; returns every account
    /// that held one of the old or new identifiers (their links may have changed).
    fn reindex(
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
    fn reindex_names(&mut self, account: &AccountKey) {
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

    fn current_identifiers(&self, account: &AccountKey) -> BTreeSet<(i32, String)> {
        self.accounts
            .get(account)
            .and_then(Account::current)
            .map(|p| p.identifiers.clone())
            .unwrap_or_default()
    }

    /// Takes one report from the feed; returns the accounts whose cluster or risk may have
    /// changed.
    pub fn apply(
        &mut self,
        sequence: i64,
        platform: &str,
        report: &Report,
    ) -> BTreeSet<AccountKey> {
        let report_key = (platform.to_owned(), report.report_id.clone());
        let Some(kind) = &report.kind else {
            return BTreeSet::new();
        };
        match kind {
            Kind::SellerProfile(profile) => {
                let account = (platform.to_owned(), profile.seller_id.clone());
                self.touch_account(&account, sequence);
                let before = self.current_identifiers(&account);
                let identifiers = profile
                    .hashed_identifiers
                    .iter()
                    .map(|h| (h.kind, h.hash.clone()))
                    .collect();
                let normalization = hashing::primary_version(&profile.hashed_identifiers);
                let legacy = profile
                    .hashed_identifiers
                    .iter()
                    .filter(|h| h.normalization_version.max(1) < normalization)
                    .map(|h| ((h.kind, h.hash.clone()), h.normalization_version.max(1)))
                    .collect();
                if let Some(entry) = self.accounts.get_mut(&account) {
                    entry.profiles.push(Profile {
                        report_id: report.report_id.clone(),
                        observe_us: micros(profile.observe_time.as_ref()),
                        parsed_names: [&profile.display_name, &profile.legal_name]
                            .into_iter()
                            .filter(|n| !n.trim().is_empty())
                            .map(|n| Name::parse(n))
                            .collect(),
                        identifiers,
                        normalization,
                        legacy,
                        retracted: false,
                    });
                }
                self.targets
                    .insert(report_key, Target::Profile(account.clone()));
                self.reindex(&account, &before)
            }
            Kind::CounterfeitFinding(finding) => {
                let confirmed = finding.verdict == Verdict::Confirmed as i32;
                let seller_id = finding
                    .seller
                    .as_ref()
                    .map(|s| s.seller_id.clone())
                    .unwrap_or_default();
                let account = (platform.to_owned(), seller_id);
                self.touch_account(&account, sequence);
                self.findings.insert(
                    report_key.clone(),
                    Finding {
                        account: account.clone(),
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
                self.findings_of
                    .entry(account.clone())
                    .or_default()
                    .insert(report_key.clone());
                self.targets.insert(report_key, Target::Finding);
                BTreeSet::from([account])
            }
            Kind::PriceObservation(price) => {
                let account = (platform.to_owned(), price.seller_id.clone());
                self.touch_account(&account, sequence);
                self.targets.insert(report_key, Target::Other);
                if let (Some(product), Some(value)) = (&price.product, &price.price) {
                    self.market
                        .observe_price(&product.gtin, value, price.observe_time.as_ref());
                }
                BTreeSet::from([account])
            }
            Kind::ShipmentNotice(notice) => {
                let account = (platform.to_owned(), notice.seller_id.clone());
                self.touch_account(&account, sequence);
                self.targets.insert(report_key, Target::Other);
                self.market
                    .observe_notice(platform, &report.report_id, notice);
                BTreeSet::from([account])
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
                match self.targets.get(&target).cloned() {
                    Some(Target::Finding) => {
                        let Some(finding) = self.findings.get_mut(&target) else {
                            return BTreeSet::new();
                        };
                        finding.retracted = true;
                        BTreeSet::from([finding.account.clone()])
                    }
                    Some(Target::Profile(account)) => {
                        let before = self.current_identifiers(&account);
                        if let Some(entry) = self.accounts.get_mut(&account) {
                            for profile in entry
                                .profiles
                                .iter_mut()
                                .filter(|p| p.report_id == target.1)
                            {
                                profile.retracted = true;
                            }
                        }
                        self.reindex(&account, &before)
                    }
                    _ => BTreeSet::new(),
                }
            }
        }
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
    ) -> BTreeSet<AccountKey> {
        let key = (format!("customs:{authority}"), declaration_id.to_owned());
        if self.findings.contains_key(&key) {
            return BTreeSet::new();
        }
        self.touch_account(account, i64::MAX);
        self.findings.insert(
            key.clone(),
            Finding {
                account: account.clone(),
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
        self.findings_of
            .entry(account.clone())
            .or_default()
            .insert(key);
        BTreeSet::from([account.clone()])
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
    ) -> BTreeSet<AccountKey> {
        let key = (
            format!("declarations:{authority}"),
            declaration_id.to_owned(),
        );
        if strength <= 0.0 || self.findings.contains_key(&key) {
            return BTreeSet::new();
        }
        self.touch_account(account, i64::MAX);
        self.findings.insert(
            key.clone(),
            Finding {
                account: account.clone(),
                bucket: Bucket::ValueAnomaly,
                weight: 0.3 * strength.min(1.0),
                lists: false,
                evidence_type: EvidenceType::Unspecified as i32,
                observe_us,
                retracted: false,
            },
        );
        self.findings_of
            .entry(account.clone())
            .or_default()
            .insert(key);
        BTreeSet::from([account.clone()])
    }

    /// The accounts linked to `account` directly, with whether the link is strong.
    fn links_of(&self, account: &AccountKey) -> Vec<(AccountKey, bool)> {
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
    fn component(&self, start: &AccountKey, strong_only: bool) -> BTreeSet<AccountKey> {
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

    /// Recomputes clusters, risks and listings of everything reachable from `touched`, as
    /// of `now_us`; returns what changed.
    pub fn recompute(&mut self, touched: &BTreeSet<AccountKey>, now_us: i64) -> Effects {
        // Everything that was in a cluster with a touched account, or is now.
        let mut affected: BTreeSet<AccountKey> = touched.clone();
        for account in touched {
            if let Some(members) = self
                .cluster_of
                .get(account)
                .and_then(|c| self.members_of.get(c))
            {
                affected.extend(members.iter().cloned());
            }
        }

        let mut effects = Effects::default();
        let mut done: BTreeSet<AccountKey> = BTreeSet::new();
        for start in &affected {
            if done.contains(start) || !self.accounts.contains_key(start) {
                continue;
            }
            let members = self.component(start, false);
            done.extend(members.iter().cloned());
            self.settle_cluster(&members, now_us, &mut effects);
        }
        effects
    }

    /// Assigns the cluster id of `members` and recomputes their listings and risks.
    fn settle_cluster(
        &mut self,
        members: &BTreeSet<AccountKey>,
        now_us: i64,
        effects: &mut Effects,
    ) {
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
        let cluster_id = cluster_id_of(&founder);
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

        // Listings: own active confirmed findings, then strong links to them.
        let confirmed_of = |account: &AccountKey| -> Vec<String> {
            self.findings_of
                .get(account)
                .into_iter()
                .flatten()
                .filter(|key| {
                    self.findings
                        .get(*key)
                        .is_some_and(|f| f.lists && !f.retracted)
                })
                .map(finding_name)
                .collect()
        };
        let mut new_listings: BTreeMap<AccountKey, BlacklistEntry> = BTreeMap::new();
        for account in members {
            let evidence = confirmed_of(account);
            if evidence.is_empty() {
                continue;
            }
            for linked in self.component(account, true) {
                let basis = if &linked == account {
                    ListingBasis::ConfirmedFinding
                } else {
                    ListingBasis::StrongLink
                };
                let entry = new_listings
                    .entry(linked.clone())
                    .or_insert_with(|| BlacklistEntry {
                        seller: Some(seller_ref(&linked)),
                        cluster_id: cluster_id.clone(),
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
        }
        self.diff_listings(members, new_listings, effects);

        // Risk of every member.
        let cluster_findings: Vec<(&(String, String), &Finding)> = members
            .iter()
            .flat_map(|a| self.findings_of.get(a).into_iter().flatten())
            .filter_map(|key| self.findings.get(key).map(|f| (key, f)))
            .filter(|(_, f)| !f.retracted)
            .collect();
        let cluster_listed = members.iter().any(|a| self.listings.contains_key(a));
        let link_reasons = if cluster_listed {
            self.link_reasons(members)
        } else {
            Vec::new()
        };
        let mut updates = Vec::new();
        for account in members {
            let risk = self.account_risk(
                account,
                &cluster_id,
                &cluster_findings,
                cluster_listed,
                &link_reasons,
                now_us,
            );
            let unchanged = self.risks.get(account).is_some_and(|old| {
                old.score == risk.score
                    && old.tier == risk.tier
                    && old.cluster_id == risk.cluster_id
                    && old.reasons == risk.reasons
            });
            if !unchanged {
                updates.push(RiskUpdate {
                    account: account.clone(),
                    risk,
                });
            }
        }
        for update in &updates {
            self.risks
                .insert(update.account.clone(), update.risk.clone());
        }
        effects.risks.extend(updates);
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

    fn diff_listings(
        &mut self,
        members: &BTreeSet<AccountKey>,
        new_listings: BTreeMap<AccountKey, BlacklistEntry>,
        effects: &mut Effects,
    ) {
        for account in members {
            let before = self.listings.get(account).cloned();
            let after = new_listings.get(account).cloned();
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
            match &kept {
                Some(entry) => self.listings.insert(account.clone(), entry.clone()),
                None => self.listings.remove(account),
            };
            effects.listings.push(ListingChange {
                account: account.clone(),
                entry: kept,
                before,
                reason,
            });
        }
    }

    fn account_risk(
        &self,
        account: &AccountKey,
        cluster_id: &str,
        findings: &[(&(String, String), &Finding)],
        cluster_listed: bool,
        link_reasons: &[String],
        now_us: i64,
    ) -> SellerRisk {
        let half_life_us = self.params.half_life_days * 86_400.0 * 1e6;
        // Group strengths by (platform, evidence type), in a fixed order.
        let mut groups: BTreeMap<(String, i32), Vec<Weighted>> = BTreeMap::new();
        for (key, finding) in findings {
            let age = (now_us - finding.observe_us).max(0) as f64;
            let weight = finding.weight * 0.5_f64.powf(age / half_life_us);
            groups
                .entry((key.0.clone(), finding.evidence_type))
                .or_default()
                .push((weight, finding.bucket, finding_name(key)));
        }
        let mut confirmed = (0.0, Vec::new());
        let mut suspected = (0.0, Vec::new());
        let mut undervalued = (0.0, Vec::new());
        let mut anomalous = (0.0, Vec::new());
        let mut not_evidence = 1.0;
        for members in groups.values_mut() {
            members.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.2.cmp(&b.2)));
            let strongest = members[0].0;
            let rest: f64 = members[1..].iter().map(|m| m.0).sum();
            let group = (strongest + 0.2 * rest).min(0.99);
            not_evidence *= 1.0 - group;
            let total: f64 = members.iter().map(|m| m.0).sum();
            for (weight, kind, name) in members.iter() {
                let share = if total > 0.0 {
                    group * weight / total
                } else {
                    0.0
                };
                let bucket = match kind {
                    Bucket::Confirmed => &mut confirmed,
                    Bucket::Suspected => &mut suspected,
                    Bucket::Undervaluation => &mut undervalued,
                    Bucket::ValueAnomaly => &mut anomalous,
                };
                bucket.0 += share;
                bucket.1.push(name.clone());
            }
        }
        let findings_component = 1.0 - not_evidence;
        let listing = self.listings.get(account);
        let link_component = if cluster_listed && listing.is_none() {
            0.5
        } else {
            0.0
        };
        let score = 1.0 - (1.0 - findings_component) * (1.0 - link_component);

        let raw_total = confirmed.0 + suspected.0 + undervalued.0 + anomalous.0 + link_component;
        let share = |part: f64| {
            if raw_total > 0.0 {
                score * part / raw_total
            } else {
                0.0
            }
        };
        let mut reasons = Vec::new();
        if let Some(entry) = listing {
            let (code, description) = match ListingBasis::try_from(entry.basis) {
                Ok(ListingBasis::ConfirmedFinding) => (
                    "BLACKLISTED_CONFIRMED_FINDING",
                    "on the blacklist: a platform or customs confirmed counterfeit goods from this account",
                ),
                _ => (
                    "BLACKLISTED_STRONG_LINK",
                    "on the blacklist: shares a registration number, tax number or bank account with a listed account",
                ),
            };
            reasons.push(Reason {
                code: code.to_owned(),
                description: description.to_owned(),
                contribution: 0.0,
                evidence: entry.evidence.clone(),
            });
        }
        for (code, description, (part, mut evidence)) in [
            (
                "COUNTERFEIT_CONFIRMED",
                "confirmed counterfeit findings on this account or linked accounts",
                confirmed,
            ),
            (
                "COUNTERFEIT_SUSPECTED",
                "suspected counterfeit findings on this account or linked accounts",
                suspected,
            ),
            (
                "UNDERVALUATION_CONFIRMED",
                "customs confirmed undervalued declarations of this account or linked accounts",
                undervalued,
            ),
            (
                "DECLARED_VALUE_ANOMALIES",
                "declarations of this account's shipments with anomalously low values",
                anomalous,
            ),
        ] {
            if part > 0.0 {
                evidence.sort();
                let platforms: BTreeSet<&str> = evidence
                    .iter()
                    .filter_map(|e| e.split('/').nth(1))
                    .collect();
                reasons.push(Reason {
                    code: code.to_owned(),
                    description: format!(
                        "{description} ({} from {})",
                        plural(evidence.len(), "report"),
                        plural(platforms.len(), "source")
                    ),
                    contribution: share(part),
                    evidence,
                });
            }
        }
        if link_component > 0.0 {
            reasons.push(Reason {
                code: "LINKED_TO_BLACKLISTED".to_owned(),
                description:
                    "linked to a blacklisted account (shared identifiers with similar names)"
                        .to_owned(),
                contribution: share(link_component),
                evidence: link_reasons.to_vec(),
            });
        }
        // The listing decides the tier, so it leads; the rest by contribution.
        reasons.sort_by(|a, b| {
            let unlisted = |r: &Reason| !r.code.starts_with("BLACKLISTED_");
            unlisted(a)
                .cmp(&unlisted(b))
                .then_with(|| b.contribution.total_cmp(&a.contribution))
                .then_with(|| a.code.cmp(&b.code))
        });

        let tier = if listing.is_some() {
            RiskTier::Blacklisted
        } else if score >= 0.7 {
            RiskTier::High
        } else if score >= 0.3 {
            RiskTier::Elevated
        } else {
            RiskTier::Low
        };
        SellerRisk {
            cluster_id: cluster_id.to_owned(),
            seller: Some(seller_ref(account)),
            score: (score * 1e6).round() / 1e6,
            tier: tier as i32,
            reasons,
            model_version: self.params.version(),
            compute_time: Some(timestamp(now_us)),
        }
    }

    /// Marketplace prices and shipment notices.
    pub fn market(&self) -> &crate::valuation::MarketIndex {
        &self.market
    }

    /// Puts marketplace prices in US dollars with `rates`: call it before the first report
    /// is applied, and on a state restored from a snapshot (which holds no rates).
    pub fn use_reference_rates(
        &mut self,
        rates: std::sync::Arc<acx_domain::rates::ReferenceRates>,
    ) {
        self.market.set_rates(rates);
    }

    /// The served risk of an account.
    pub fn risk(&self, account: &AccountKey) -> Option<&SellerRisk> {
        self.risks.get(account)
    }

    /// Whether the model has heard of an account.
    pub fn knows(&self, account: &AccountKey) -> bool {
        self.accounts.contains_key(account)
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
        let mut found: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
        for (kind, hash, version) in identifiers {
            let identifier = (*kind, hash.clone());
            for account in self
                .holders
                .get(&identifier)
                .into_iter()
                .flatten()
                .filter(|account| {
                    self.accounts
                        .get(*account)
                        .and_then(Account::current)
                        .is_some_and(|theirs| {
                            hashing::links_across_versions(
                                ((*version).max(1), asked_version),
                                theirs.version_of(&identifier),
                            )
                        })
                })
            {
                if let Some(cluster) = self.cluster_of.get(account) {
                    let weight = if is_strong(*kind) { 0.9 } else { 0.35 };
                    let feature = found
                        .entry(cluster.clone())
                        .or_default()
                        .entry(kind_label(*kind).to_owned())
                        .or_default();
                    *feature = feature.max(weight);
                }
            }
        }
        let name = Name::parse(name);
        if !name.tokens.is_empty() {
            for account in self.named.get(&name.key()).into_iter().flatten() {
                if let Some(cluster) = self.cluster_of.get(account) {
                    found
                        .entry(cluster.clone())
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
                    .flat_map(|a| self.accounts.get(a).map(Account::names).unwrap_or_default())
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
                let accounts: Vec<SellerAccountRef> = self
                    .members_of
                    .get(&cluster_id)
                    .into_iter()
                    .flatten()
                    .map(seller_ref)
                    .collect();
                let blacklisted = self
                    .members_of
                    .get(&cluster_id)
                    .into_iter()
                    .flatten()
                    .any(|a| self.listings.contains_key(a));
                EntityMatch {
                    risk: self.cluster_risk(&cluster_id).cloned(),
                    cluster_id,
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

    /// The blacklist, in account order, after `after` (exclusive), at most `limit`.
    pub fn blacklist_page(&self, after: Option<&AccountKey>, limit: usize) -> Vec<BlacklistEntry> {
        let range = match after {
            Some(key) => self.listings.range((
                std::ops::Bound::Excluded(key.clone()),
                std::ops::Bound::Unbounded,
            )),
            None => self.listings.range::<AccountKey, _>(..),
        };
        range.take(limit).map(|(_, entry)| entry.clone()).collect()
    }

    /// Restores served risks and listings (from the database) after a replay.
    pub fn restore(
        &mut self,
        risks: Vec<(AccountKey, SellerRisk)>,
        listings: Vec<(AccountKey, BlacklistEntry)>,
    ) {
        self.risks = risks.into_iter().collect();
        self.listings = listings.into_iter().collect();
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
            let cluster_id = cluster_id_of(&founder);
            for account in &members {
                self.assign_cluster(account, &cluster_id);
            }
            done.extend(members);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use acx_proto::{
        common::HashedIdentifier,
        ingest::{CounterfeitFinding, Retraction, SellerProfile},
    };

    const DAY_US: i64 = 86_400_000_000;
    const NOW: i64 = 1_760_000_000_000_000;

    fn params() -> ModelParams {
        ModelParams {
            half_life_days: 180.0,
        }
    }

    fn key(platform: &str, seller: &str) -> AccountKey {
        (platform.to_owned(), seller.to_owned())
    }

    fn finding(
        id: &str,
        seller: &str,
        confirmed: bool,
        evidence: EvidenceType,
        age_days: i64,
    ) -> Report {
        Report {
            report_id: id.to_owned(),
            kind: Some(Kind::CounterfeitFinding(CounterfeitFinding {
                seller: Some(SellerAccountRef {
                    platform: String::new(),
                    seller_id: seller.to_owned(),
                }),
                products: vec![],
                evidence_type: evidence as i32,
                verdict: if confirmed {
                    Verdict::Confirmed
                } else {
                    Verdict::Suspected
                } as i32,
                action_taken: 1,
                observe_time: Some(timestamp(NOW - age_days * DAY_US)),
                notes: String::new(),
            })),
        }
    }

    fn profile(
        id: &str,
        seller: &str,
        name: &str,
        identifiers: &[(pb::IdentifierKind, &str)],
    ) -> Report {
        Report {
            report_id: id.to_owned(),
            kind: Some(Kind::SellerProfile(SellerProfile {
                seller_id: seller.to_owned(),
                display_name: name.to_owned(),
                legal_name: String::new(),
                country: String::new(),
                identifiers: None,
                observe_time: Some(timestamp(NOW - DAY_US)),
                hashed_identifiers: identifiers
                    .iter()
                    .map(|(kind, hash)| HashedIdentifier {
                        kind: *kind as i32,
                        key_id: "k1".to_owned(),
                        hash: (*hash).to_owned(),
                        normalization_version: 2,
                    })
                    .collect(),
            })),
        }
    }

    /// Feeds `reports` (platform, report) in order and recomputes; returns the model.
    fn model_of(reports: &[(&str, Report)]) -> Model {
        let mut model = Model::new(params());
        let mut touched = BTreeSet::new();
        for (i, (platform, report)) in reports.iter().enumerate() {
            touched.extend(model.apply(i as i64 + 1, platform, report));
        }
        model.recompute(&touched, NOW);
        model
    }

    fn score(model: &Model, account: &AccountKey) -> f64 {
        model.risk(account).expect("scored").score
    }

    #[test]
    fn confirmed_weighs_more_than_suspected_and_findings_decay() {
        let confirmed = model_of(&[("a", finding("F1", "S1", true, EvidenceType::TestBuy, 0))]);
        let suspected = model_of(&[("a", finding("F1", "S1", false, EvidenceType::TestBuy, 0))]);
        let old = model_of(&[("a", finding("F1", "S1", true, EvidenceType::TestBuy, 180))]);
        let s = key("a", "S1");
        assert!((score(&confirmed, &s) - 0.9).abs() < 1e-9);
        assert!((score(&suspected, &s) - 0.35).abs() < 1e-9);
        assert!(
            (score(&old, &s) - 0.45).abs() < 1e-9,
            "one half-life halves the weight"
        );
    }

    #[test]
    fn corroboration_across_platforms_counts_more_than_repetition() {
        let repeated = model_of(&[
            (
                "a",
                profile(
                    "P1",
                    "S1",
                    "Bright Trading",
                    &[(pb::IdentifierKind::TaxNumber, "t1")],
                ),
            ),
            (
                "a",
                finding("F1", "S1", false, EvidenceType::AutomatedDetection, 0),
            ),
            (
                "a",
                finding("F2", "S1", false, EvidenceType::AutomatedDetection, 0),
            ),
        ]);
        let corroborated = model_of(&[
            (
                "a",
                profile(
                    "P1",
                    "S1",
                    "Bright Trading",
                    &[(pb::IdentifierKind::TaxNumber, "t1")],
                ),
            ),
            (
                "b",
                profile(
                    "P2",
                    "T1",
                    "Other Name",
                    &[(pb::IdentifierKind::TaxNumber, "t1")],
                ),
            ),
            (
                "a",
                finding("F1", "S1", false, EvidenceType::AutomatedDetection, 0),
            ),
            (
                "b",
                finding("F2", "T1", false, EvidenceType::AutomatedDetection, 0),
            ),
        ]);
        let (r, c) = (
            score(&repeated, &key("a", "S1")),
            score(&corroborated, &key("a", "S1")),
        );
        // Repetition: 0.175 + 0.2 × 0.175 = 0.21. Two platforms: 1 − 0.825² ≈ 0.319.
        assert!((r - 0.21).abs() < 1e-9, "{r}");
        assert!((c - (1.0 - 0.825_f64 * 0.825)).abs() < 1e-6, "{c}");
        assert_eq!(
            score(&corroborated, &key("b", "T1")),
            c,
            "linked accounts share the cluster's evidence"
        );
    }

    #[test]
    fn weak_identifiers_link_only_with_similar_names() {
        let model = model_of(&[
            (
                "a",
                profile(
                    "P1",
                    "S1",
                    "Bright Trading Co., Ltd",
                    &[(pb::IdentifierKind::Phone, "p1")],
                ),
            ),
            (
                "b",
                profile(
                    "P2",
                    "T1",
                    "BRIGHT TRADING LIMITED",
                    &[(pb::IdentifierKind::Phone, "p1")],
                ),
            ),
            (
                "c",
                profile(
                    "P3",
                    "U1",
                    "Ocean Star Imports",
                    &[(pb::IdentifierKind::Phone, "p1")],
                ),
            ),
        ]);
        let cluster = |a: &AccountKey| model.risk(a).expect("scored").cluster_id.clone();
        assert_eq!(cluster(&key("a", "S1")), cluster(&key("b", "T1")));
        assert_ne!(cluster(&key("a", "S1")), cluster(&key("c", "U1")));
    }

    #[test]
    fn hashes_link_only_when_they_mean_the_same_under_both_profiles_rules() {
        // (kind, hash, normalisation version); version 0 is a hash stored before versions.
        let with_versions = |id: &str, seller: &str, hashes: &[(&str, u32)]| {
            let mut report = profile(id, seller, "Bright Deals", &[]);
            if let Some(Kind::SellerProfile(p)) = report.kind.as_mut() {
                p.hashed_identifiers = hashes
                    .iter()
                    .map(|(hash, version)| HashedIdentifier {
                        kind: pb::IdentifierKind::Phone as i32,
                        key_id: "k1".to_owned(),
                        hash: (*hash).to_owned(),
                        normalization_version: *version,
                    })
                    .collect();
            }
            report
        };
        let model = model_of(&[
            // Stored under version 1; its number read the old way ("old").
            ("a", with_versions("P1", "OLD", &[("old", 0)])),
            // The same number now: primary "new", legacy "old".
            ("b", with_versions("P2", "NEW", &[("new", 2), ("old", 1)])),
            // Another number whose current form is "old": must not meet the legacy hash.
            ("c", with_versions("P3", "OTHER", &[("old", 2)])),
            // A second new profile of the first number, legacy hash only in common with c.
            ("d", with_versions("P4", "NEW2", &[("new2", 2), ("old", 1)])),
        ]);
        let cluster = |a: &AccountKey| model.risk(a).expect("scored").cluster_id.clone();
        assert_eq!(cluster(&key("a", "OLD")), cluster(&key("b", "NEW")));
        assert_eq!(cluster(&key("a", "OLD")), cluster(&key("d", "NEW2")));
        // c meets a primary to primary (the old rules' output is what c's number is now), so
        // it joins them; but b and d never link through their legacy hashes alone, and c
        // never through b's or d's legacy hash.
        let direct = |x: &AccountKey| -> BTreeSet<AccountKey> {
            model.links_of(x).into_iter().map(|(k, _)| k).collect()
        };
        assert_eq!(direct(&key("b", "NEW")), BTreeSet::from([key("a", "OLD")]));
        assert_eq!(
            direct(&key("c", "OTHER")),
            BTreeSet::from([key("a", "OLD")])
        );
    }

    #[test]
    fn cluster_ids_are_stable_and_merges_keep_the_oldest() {
        let mut model = Model::new(params());
        let oldest = key("a", "S1");
        let t = model.apply(
            1,
            "a",
            &profile(
                "P1",
                "S1",
                "One",
                &[(pb::IdentifierKind::BankAccount, "b1")],
            ),
        );
        model.recompute(&t, NOW);
        let t = model.apply(
            2,
            "b",
            &profile("P2", "T1", "Two", &[(pb::IdentifierKind::TaxNumber, "t2")]),
        );
        let effects = model.recompute(&t, NOW);
        assert!(effects.merges.is_empty());
        let t = model.apply(
            3,
            "c",
            &profile(
                "P3",
                "U1",
                "Three",
                &[
                    (pb::IdentifierKind::BankAccount, "b1"),
                    (pb::IdentifierKind::TaxNumber, "t2"),
                ],
            ),
        );
        let effects = model.recompute(&t, NOW);
        let kept = cluster_id_of(&oldest);
        for account in [key("a", "S1"), key("b", "T1"), key("c", "U1")] {
            assert_eq!(model.risk(&account).expect("scored").cluster_id, kept);
        }
        assert_eq!(
            effects.merges,
            [Merge {
                from: cluster_id_of(&key("b", "T1")),
                into: kept
            }]
        );
    }

    #[test]
    fn a_confirmed_finding_lists_the_account_and_its_strong_links_and_a_retraction_delists() {
        let mut model = Model::new(params());
        let mut touched = BTreeSet::new();
        for (i, (platform, report)) in [
            (
                "a",
                profile(
                    "P1",
                    "S1",
                    "Bright",
                    &[(pb::IdentifierKind::BankAccount, "b1")],
                ),
            ),
            (
                "b",
                profile(
                    "P2",
                    "T1",
                    "Whatever",
                    &[(pb::IdentifierKind::BankAccount, "b1")],
                ),
            ),
            ("a", finding("F1", "S1", true, EvidenceType::TestBuy, 3)),
        ]
        .into_iter()
        .enumerate()
        {
            touched.extend(model.apply(i as i64 + 1, platform, &report));
        }
        let effects = model.recompute(&touched, NOW);
        assert_eq!(effects.listings.len(), 2);
        let tier = |m: &Model, a: &AccountKey| m.risk(a).expect("scored").tier;
        assert_eq!(tier(&model, &key("a", "S1")), RiskTier::Blacklisted as i32);
        assert_eq!(tier(&model, &key("b", "T1")), RiskTier::Blacklisted as i32);
        let basis = model
            .blacklist_page(None, 10)
            .iter()
            .map(|e| e.basis)
            .collect::<Vec<_>>();
        assert_eq!(
            basis,
            [
                ListingBasis::ConfirmedFinding as i32,
                ListingBasis::StrongLink as i32
            ]
        );

        let retraction = Report {
            report_id: "R1".to_owned(),
            kind: Some(Kind::Retraction(Retraction {
                retracted_report_id: "F1".to_owned(),
                reason: RetractionReason::AppealUpheld as i32,
                note: String::new(),
            })),
        };
        let touched = model.apply(4, "a", &retraction);
        let effects = model.recompute(&touched, NOW);
        assert_eq!(effects.listings.len(), 2);
        assert!(
            effects
                .listings
                .iter()
                .all(|c| c.entry.is_none() && c.reason.contains("appeal upheld"))
        );
        assert_eq!(tier(&model, &key("a", "S1")), RiskTier::Low as i32);
        assert_eq!(score(&model, &key("a", "S1")), 0.0);
    }

    #[test]
    fn a_superseded_profile_undoes_its_links() {
        let mut model = model_of(&[
            (
                "a",
                profile("P1", "S1", "One", &[(pb::IdentifierKind::TaxNumber, "t1")]),
            ),
            (
                "b",
                profile("P2", "T1", "Two", &[(pb::IdentifierKind::TaxNumber, "t1")]),
            ),
        ]);
        let cluster = |m: &Model, a: &AccountKey| m.risk(a).expect("scored").cluster_id.clone();
        assert_eq!(
            cluster(&model, &key("a", "S1")),
            cluster(&model, &key("b", "T1"))
        );
        let mut newer = profile("P3", "T1", "Two", &[(pb::IdentifierKind::TaxNumber, "t9")]);
        if let Some(Kind::SellerProfile(p)) = newer.kind.as_mut() {
            p.observe_time = Some(timestamp(NOW));
        }
        let touched = model.apply(3, "b", &newer);
        model.recompute(&touched, NOW);
        assert_ne!(
            cluster(&model, &key("a", "S1")),
            cluster(&model, &key("b", "T1"))
        );
    }

    #[test]
    fn the_same_inputs_give_the_same_scores() {
        let reports = [
            (
                "a",
                profile("P1", "S1", "Bright", &[(pb::IdentifierKind::Email, "e1")]),
            ),
            (
                "b",
                profile(
                    "P2",
                    "T1",
                    "Bright Ltd",
                    &[(pb::IdentifierKind::Email, "e1")],
                ),
            ),
            (
                "a",
                finding("F1", "S1", false, EvidenceType::RightsOwnerNotice, 10),
            ),
            (
                "b",
                finding("F2", "T1", true, EvidenceType::CustomsSeizure, 40),
            ),
        ];
        let (one, two) = (model_of(&reports), model_of(&reports));
        for account in [key("a", "S1"), key("b", "T1")] {
            assert_eq!(one.risk(&account), two.risk(&account));
        }
    }
}
