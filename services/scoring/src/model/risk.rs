//! Risk (model `acx-risk-3`): each active finding on an account of the cluster weighs
//! `verdict × evidence × 0.5^(age / half-life)`, times [`WEAK_LINK_WEIGHT`] when it is on
//! an account of another party (one reached only through a weak link); findings group by
//! (source, evidence type), a group counting its strongest plus a fifth of the others,
//! groups combining as independent evidence; see the module documentation of [`super`].

use std::collections::{BTreeMap, BTreeSet};

use acx_proto::{
    common::{Reason, RiskTier},
    ingest::EvidenceType,
    scoring::{ListingBasis, SellerRisk},
};

use super::{
    ClusterId, Effects, Model, RiskUpdate,
    accounts::{AccountId, PlatformId, Platforms},
    timestamp,
};

/// The codes of [`Reason`]s scoring gives, of sellers (here) and of shipments
/// ([`crate::valuation`]): stable, never reused with another meaning (see the contract's
/// `acx.common.v1.Reason.code`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum ReasonCode {
    /// The seller is listed for its own confirmed finding.
    BlacklistedConfirmedFinding,
    /// The seller is listed for a strong link to a listed account.
    BlacklistedStrongLink,
    /// Confirmed counterfeit findings in the cluster.
    CounterfeitConfirmed,
    /// Suspected counterfeit findings in the cluster.
    CounterfeitSuspected,
    /// Customs confirmed undervaluation of the cluster's declarations.
    UndervaluationConfirmed,
    /// Anomalously low declared values of the cluster's shipments.
    DeclaredValueAnomalies,
    /// Linked (weakly) to a listed account.
    LinkedToBlacklisted,
    /// A declared value far below the platforms' prices of the goods.
    DeclaredValueBelowMarket,
    /// A declared value far below comparable declarations.
    DeclaredValueBelowPeers,
    /// A declared value far below the importer's own history.
    DeclaredValueBelowImporterHistory,
    /// The declaration's seller is listed.
    SellerBlacklisted,
    /// The declaration's seller has a risk score.
    SellerRisk,
    /// Picked for a random inspection.
    RandomSelection,
    /// A comparison left out: no reference rate for the currency.
    NoReferenceRate,
    /// A comparison left out: no quantity.
    NoQuantity,
    /// A comparison left out: no net mass.
    NoNetMass,
    /// A comparison left out: a national chapter (98, 99).
    NationalTariffCode,
    /// The importer's inspection record is worse than the overall rate.
    ProfileImporter,
    /// The declarant's inspection record is worse than the overall rate.
    ProfileDeclarant,
    /// The origin country's inspection record is worse than the overall rate.
    ProfileOrigin,
    /// The customs office's inspection record is worse than the overall rate.
    ProfileOffice,
    /// The HS code's inspection record is worse than the overall rate.
    ProfileHs,
}

impl ReasonCode {
    /// The code as the contract spells it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::BlacklistedConfirmedFinding => "BLACKLISTED_CONFIRMED_FINDING",
            Self::BlacklistedStrongLink => "BLACKLISTED_STRONG_LINK",
            Self::CounterfeitConfirmed => "COUNTERFEIT_CONFIRMED",
            Self::CounterfeitSuspected => "COUNTERFEIT_SUSPECTED",
            Self::UndervaluationConfirmed => "UNDERVALUATION_CONFIRMED",
            Self::DeclaredValueAnomalies => "DECLARED_VALUE_ANOMALIES",
            Self::LinkedToBlacklisted => "LINKED_TO_BLACKLISTED",
            Self::DeclaredValueBelowMarket => "DECLARED_VALUE_BELOW_MARKET",
            Self::DeclaredValueBelowPeers => "DECLARED_VALUE_BELOW_PEERS",
            Self::DeclaredValueBelowImporterHistory => "DECLARED_VALUE_BELOW_IMPORTER_HISTORY",
            Self::SellerBlacklisted => "SELLER_BLACKLISTED",
            Self::SellerRisk => "SELLER_RISK",
            Self::RandomSelection => "RANDOM_SELECTION",
            Self::NoReferenceRate => "NO_REFERENCE_RATE",
            Self::NoQuantity => "NO_QUANTITY",
            Self::NoNetMass => "NO_NET_MASS",
            Self::NationalTariffCode => "NATIONAL_TARIFF_CODE",
            Self::ProfileImporter => "PROFILE_IMPORTER",
            Self::ProfileDeclarant => "PROFILE_DECLARANT",
            Self::ProfileOrigin => "PROFILE_ORIGIN",
            Self::ProfileOffice => "PROFILE_OFFICE",
            Self::ProfileHs => "PROFILE_HS",
        }
    }
}

/// Where a finding comes from: a platform's report, a customs outcome, or a declaration
/// whose value was anomalous.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub(super) enum FindingKey {
    /// A counterfeit finding on the feed.
    Report {
        platform: PlatformId,
        report_id: Box<str>,
    },
    /// A customs outcome (seizure or confirmed undervaluation) of a declaration.
    Outcome {
        authority: Box<str>,
        declaration_id: Box<str>,
    },
    /// A declared-value anomaly of a recorded declaration.
    Declaration {
        authority: Box<str>,
        declaration_id: Box<str>,
    },
}

impl FindingKey {
    /// Its resource name: `reports/{platform}/{id}`, `outcomes/{authority}/{declaration}`
    /// or `declarations/{authority}/{declaration}`.
    pub(super) fn name(&self, platforms: &Platforms) -> String {
        match self {
            Self::Report {
                platform,
                report_id,
            } => format!("reports/{}/{report_id}", platforms.name(*platform)),
            Self::Outcome {
                authority,
                declaration_id,
            } => format!("outcomes/{authority}/{declaration_id}"),
            Self::Declaration {
                authority,
                declaration_id,
            } => format!("declarations/{authority}/{declaration_id}"),
        }
    }

    /// The source findings are grouped by (with the evidence type): the platform, or the
    /// authority as `customs:{authority}` / `declarations:{authority}` (labels that order
    /// the groups as they always have, so scores stay the same to the last digit).
    fn source(&self, platforms: &Platforms) -> String {
        match self {
            Self::Report { platform, .. } => platforms.name(*platform).to_owned(),
            Self::Outcome { authority, .. } => format!("customs:{authority}"),
            Self::Declaration { authority, .. } => format!("declarations:{authority}"),
        }
    }
}

/// Evidence about an account: a platform's finding, a customs outcome, or a declared-value
/// anomaly on one of its shipments.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(super) struct Finding {
    pub(super) account: AccountId,
    /// Which reason it feeds.
    pub(super) bucket: Bucket,
    /// Its weight before decay.
    pub(super) weight: f64,
    /// Whether it lists the account (confirmed counterfeits only).
    pub(super) lists: bool,
    pub(super) evidence_type: i32,
    pub(super) observe_us: i64,
    pub(super) retracted: bool,
}

/// Which reason a finding's weight goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(super) enum Bucket {
    Confirmed,
    Suspected,
    Undervaluation,
    ValueAnomaly,
}

/// How much a finding on an account of another party of the cluster counts, against one
/// on the account itself or on an account strongly linked to it (1). A weak link (similar
/// names and a shared phone, e-mail, address or web domain) points to one operator but does
/// not prove it, so an account never scores above the account whose findings it has only
/// through a weak link (found by a tester: a weakly linked account with no findings scored
/// 0.93 against 0.86 for the confirmed counterfeiter it was linked to, when the link added
/// a component of 0.5 on top of the cluster's findings counted in full).
pub const WEAK_LINK_WEIGHT: f64 = 0.75;

/// Most that repetition by one source (a group's findings beyond its strongest, a fifth of
/// each) adds to the group: this share of what the strongest leaves to certainty. So ten
/// suspected test buys from one platform stay ELEVATED (at most 0.675) below one confirmed
/// finding (0.9), which they overtook before (found by a tester: 0.98, HIGH, under
/// `acx-risk-2`); a confirmed finding's group reaches at most 0.95.
pub const REPETITION_LIMIT: f64 = 0.5;

/// A finding's weight (decayed, and reduced across a weak link), its reason, and its
/// resource name.
struct Weighted {
    weight: f64,
    /// Its bucket, or None when it counts as the link to a listed party.
    bucket: Option<Bucket>,
    name: String,
}

/// The parties of a cluster: each member's party number, equal for accounts joined by
/// strong links (registration number, tax number, bank account) alone.
fn parties(members: &[AccountId], links: &super::linking::Links) -> BTreeMap<AccountId, usize> {
    let mut party = BTreeMap::new();
    for (number, &start) in members.iter().enumerate() {
        if party.contains_key(&start) {
            continue;
        }
        for account in links.component(start, true) {
            party.insert(account, number);
        }
    }
    party
}

/// What the risks of one cluster's accounts are computed from.
struct ClusterContext<'a> {
    id: ClusterId,
    /// Its active findings, each with the account it is on.
    findings: &'a [(AccountId, &'a FindingKey, &'a Finding)],
    parties: &'a BTreeMap<AccountId, usize>,
    /// The parties with a listed account.
    listed_parties: &'a BTreeSet<usize>,
    /// Why its accounts are linked (when a party is listed).
    link_reasons: &'a [String],
}

/// Most evidence names a reason or a listing gives: the heaviest findings (a listing: the
/// first in name order), while its description counts them all. Found by a tester: 32,000
/// findings on one seller made a 4.4 MB risk, over the 4 MiB gRPC clients accept, so the
/// platform could not read it and customs' declarations of that seller stayed pending.
pub const MAX_EVIDENCE: usize = 20;

/// What one reason adds up: its share before scaling, and its evidence with the weight of
/// each finding.
#[derive(Default)]
struct Part {
    sum: f64,
    evidence: Vec<(f64, String)>,
}

impl Part {
    /// The reason: its [`MAX_EVIDENCE`] heaviest names in name order, and the counts of
    /// all its reports and their sources.
    fn into_reason(mut self, code: ReasonCode, contribution: f64) -> ServedReason {
        let sources: BTreeSet<&str> = self
            .evidence
            .iter()
            .filter_map(|(_, name)| name.split('/').nth(1))
            .collect();
        let (reports, sources) = (self.evidence.len() as u32, sources.len() as u32);
        self.evidence
            .sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        self.evidence.truncate(MAX_EVIDENCE);
        let mut evidence: Vec<String> = self.evidence.into_iter().map(|(_, name)| name).collect();
        evidence.sort();
        ServedReason {
            code,
            contribution,
            evidence,
            reports,
            sources,
        }
    }
}

/// A served risk as kept: what [`SellerRisk`] says that is not the account's own key,
/// its cluster's or the model's version (those are put back when it is read).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub(super) struct ServedRisk {
    pub(super) cluster: ClusterId,
    pub(super) score: f64,
    pub(super) tier: i32,
    pub(super) reasons: Vec<ServedReason>,
    pub(super) compute_us: i64,
}

impl ServedRisk {
    /// The risk without the spare capacity its lists grew while it was computed: it is
    /// kept for every account until the next recomputation.
    fn compact(mut self) -> Self {
        self.reasons.shrink_to_fit();
        for reason in &mut self.reasons {
            reason.evidence.shrink_to_fit();
        }
        self
    }
}

/// A reason as kept; its description follows from its code and evidence.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub(super) struct ServedReason {
    code: ReasonCode,
    contribution: f64,
    /// At most [`MAX_EVIDENCE`] names (the link lines of `LINKED_TO_BLACKLISTED` bound
    /// themselves).
    evidence: Vec<String>,
    /// Reports behind a counted reason, all of them (0 for the others).
    reports: u32,
    /// Their sources (platforms, customs authorities).
    sources: u32,
}

impl ServedReason {
    fn describe(&self) -> String {
        let counted = |text: &str| {
            let (reports, sources) = (self.reports as usize, self.sources as usize);
            let listed = if reports > self.evidence.len() {
                format!("; the evidence names the {} heaviest", self.evidence.len())
            } else {
                String::new()
            };
            format!(
                "{text} ({} from {}{listed})",
                plural(reports, "report"),
                plural(sources, "source")
            )
        };
        match self.code {
            ReasonCode::BlacklistedConfirmedFinding => "on the blacklist: a platform or customs confirmed counterfeit goods from this account (the evidence: the confirmed findings of this account and of accounts sharing a registration number, tax number or bank account with it)".to_owned(),
            ReasonCode::BlacklistedStrongLink => "on the blacklist: shares a registration number, tax number or bank account with a listed account".to_owned(),
            ReasonCode::CounterfeitConfirmed => {
                counted("confirmed counterfeit findings on this account or linked accounts")
            }
            ReasonCode::CounterfeitSuspected => {
                counted("suspected counterfeit findings on this account or linked accounts")
            }
            ReasonCode::UndervaluationConfirmed => counted(
                "customs confirmed undervalued declarations of this account or linked accounts",
            ),
            ReasonCode::DeclaredValueAnomalies => counted(
                "declarations of shipments of this account or linked accounts with anomalously low values",
            ),
            _ => "linked to a blacklisted account: a shared phone, e-mail, address or web domain and similar names (the findings of the accounts so linked count three quarters)"
                .to_owned(),
        }
    }

    fn to_reason(&self) -> Reason {
        Reason {
            code: self.code.as_str().to_owned(),
            description: self.describe(),
            contribution: self.contribution,
            evidence: self.evidence.clone(),
        }
    }
}

/// The weight of a finding's evidence type.
pub(super) fn evidence_weight(evidence_type: i32) -> f64 {
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

impl Model {
    /// The served risk of `account` as the contract has it.
    pub(super) fn served(&self, account: AccountId, risk: &ServedRisk) -> SellerRisk {
        SellerRisk {
            cluster_id: risk.cluster.to_string(),
            seller: Some(self.seller_ref(account)),
            score: risk.score,
            tier: risk.tier,
            reasons: risk.reasons.iter().map(ServedReason::to_reason).collect(),
            model_version: self.params.version(),
            compute_time: Some(timestamp(risk.compute_us)),
        }
    }

    /// Recomputes the risk of every member of the cluster `cluster_id` (`members` in
    /// account order); records those that changed.
    pub(super) fn settle_risks(
        &mut self,
        members: &[AccountId],
        links: &super::linking::Links,
        cluster_id: ClusterId,
        now_us: i64,
        effects: &mut Effects,
    ) {
        let cluster_findings: Vec<(AccountId, &FindingKey, &Finding)> = members
            .iter()
            .filter_map(|&a| Some((a, self.accounts.get(a)?)))
            .flat_map(|(a, account)| account.findings.iter().map(move |key| (a, key)))
            .filter_map(|(a, key)| self.findings.get(key).map(|f| (a, key, f)))
            .filter(|(_, _, f)| !f.retracted)
            .collect();
        let parties = parties(members, links);
        let listed_parties: BTreeSet<usize> = members
            .iter()
            .filter(|a| self.listings.contains_key(a))
            .filter_map(|a| parties.get(a).copied())
            .collect();
        let link_reasons = if listed_parties.is_empty() {
            Vec::new()
        } else {
            self.link_reasons(members, links)
        };
        let context = ClusterContext {
            id: cluster_id,
            findings: &cluster_findings,
            parties: &parties,
            listed_parties: &listed_parties,
            link_reasons: &link_reasons,
        };
        let mut updates = Vec::new();
        for &account in members {
            let risk = self.account_risk(account, &context, now_us);
            let unchanged = self
                .accounts
                .get(account)
                .and_then(|a| a.risk.as_deref())
                .is_some_and(|old| {
                    old.score == risk.score
                        && old.tier == risk.tier
                        && old.cluster == risk.cluster
                        && old.reasons == risk.reasons
                });
            if !unchanged {
                updates.push((account, risk));
            }
        }
        for (account, risk) in updates {
            effects.risks.push(RiskUpdate {
                account: self.key_of(account),
                risk: self.served(account, &risk),
            });
            if let Some(entry) = self.accounts.get_mut(account) {
                entry.risk = Some(Box::new(risk.compact()));
            }
        }
    }

    fn account_risk(
        &self,
        account: AccountId,
        cluster: &ClusterContext<'_>,
        now_us: i64,
    ) -> ServedRisk {
        let half_life_us = self.params.half_life_days * 86_400.0 * 1e6;
        let party = cluster.parties.get(&account).copied();
        // Group strengths by (source, evidence type), in a fixed order.
        let mut groups: BTreeMap<(String, i32), Vec<Weighted>> = BTreeMap::new();
        for (owner, key, finding) in cluster.findings {
            let age = (now_us - finding.observe_us).max(0) as f64;
            let owner_party = cluster.parties.get(owner).copied();
            let own_party = owner_party == party;
            // The findings of another party that is listed count as the link to it; those
            // of an unlisted party keep their own reasons (a tester saw an unlisted
            // party's suspected findings described as a link to a listed account).
            let via_listed_party =
                !own_party && owner_party.is_some_and(|p| cluster.listed_parties.contains(&p));
            let across = if own_party { 1.0 } else { WEAK_LINK_WEIGHT };
            let weight = finding.weight * 0.5_f64.powf(age / half_life_us) * across;
            groups
                .entry((key.source(&self.platforms), finding.evidence_type))
                .or_default()
                .push(Weighted {
                    weight,
                    bucket: (!via_listed_party).then_some(finding.bucket),
                    name: key.name(&self.platforms),
                });
        }
        let mut confirmed = Part::default();
        let mut suspected = Part::default();
        let mut undervalued = Part::default();
        let mut anomalous = Part::default();
        let mut linked = Part::default();
        let mut not_evidence = 1.0;
        for members in groups.values_mut() {
            members.sort_by(|a, b| {
                b.weight
                    .total_cmp(&a.weight)
                    .then_with(|| a.name.cmp(&b.name))
            });
            let strongest = members[0].weight;
            let rest: f64 = members[1..].iter().map(|m| m.weight).sum();
            let group =
                (strongest + (0.2 * rest).min(REPETITION_LIMIT * (1.0 - strongest))).min(0.99);
            not_evidence *= 1.0 - group;
            let total: f64 = members.iter().map(|m| m.weight).sum();
            for Weighted {
                weight,
                bucket,
                name,
            } in members.iter()
            {
                let share = if total > 0.0 {
                    group * weight / total
                } else {
                    0.0
                };
                let part = match bucket {
                    Some(Bucket::Confirmed) => &mut confirmed,
                    Some(Bucket::Suspected) => &mut suspected,
                    Some(Bucket::Undervaluation) => &mut undervalued,
                    Some(Bucket::ValueAnomaly) => &mut anomalous,
                    None => &mut linked,
                };
                part.sum += share;
                part.evidence.push((*weight, name.clone()));
            }
        }
        let score = 1.0 - not_evidence;
        let listing = self.listings.get(&account);
        let raw_total =
            confirmed.sum + suspected.sum + undervalued.sum + anomalous.sum + linked.sum;
        let share = |part: f64| {
            if raw_total > 0.0 {
                score * part / raw_total
            } else {
                0.0
            }
        };
        let mut reasons = Vec::new();
        if let Some(entry) = listing {
            let code = match ListingBasis::try_from(entry.basis) {
                Ok(ListingBasis::ConfirmedFinding) => ReasonCode::BlacklistedConfirmedFinding,
                _ => ReasonCode::BlacklistedStrongLink,
            };
            reasons.push(ServedReason {
                code,
                contribution: 0.0,
                evidence: entry.evidence.clone(),
                reports: 0,
                sources: 0,
            });
        }
        for (code, part) in [
            (ReasonCode::CounterfeitConfirmed, confirmed),
            (ReasonCode::CounterfeitSuspected, suspected),
            (ReasonCode::UndervaluationConfirmed, undervalued),
            (ReasonCode::DeclaredValueAnomalies, anomalous),
        ] {
            if part.sum > 0.0 {
                let contribution = share(part.sum);
                reasons.push(part.into_reason(code, contribution));
            }
        }
        if linked.sum > 0.0 {
            reasons.push(ServedReason {
                code: ReasonCode::LinkedToBlacklisted,
                contribution: share(linked.sum),
                evidence: cluster.link_reasons.to_vec(),
                reports: 0,
                sources: 0,
            });
        }
        // The listing decides the tier, so it leads; the rest by contribution.
        reasons.sort_by(|a, b| {
            let unlisted = |r: &ServedReason| {
                !matches!(
                    r.code,
                    ReasonCode::BlacklistedConfirmedFinding | ReasonCode::BlacklistedStrongLink
                )
            };
            unlisted(a)
                .cmp(&unlisted(b))
                .then_with(|| b.contribution.total_cmp(&a.contribution))
                .then_with(|| a.code.as_str().cmp(b.code.as_str()))
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
        ServedRisk {
            cluster: cluster.id,
            score: (score * 1e6).round() / 1e6,
            tier: tier as i32,
            reasons,
            compute_us: now_us,
        }
    }
}
