//! Risk across a cluster's parties (since `acx-risk-2`): a weak link passes findings on at
//! [`super::risk::WEAK_LINK_WEIGHT`], so an account whose own party has no findings never
//! scores above any account of its cluster.

use std::collections::{BTreeMap, BTreeSet};

use acx_proto::{
    common::{self as pb, RiskTier},
    ingest::{EvidenceType, Report},
};
use rand::{Rng, SeedableRng, rngs::StdRng};

use super::tests::{finding, key, model_of, profile, score};

/// The case a tester found: "Sunrise Ltd" shares a warehouse address with the confirmed
/// counterfeiter "Sunrise Trading Ltd" (a weak link: similar names and a shared address) and
/// has no findings of its own. It scored 0.93, HIGH, above the listed account's 0.86.
#[test]
fn a_weakly_linked_account_without_findings_scores_below_the_listed_one() {
    let model = model_of(&[
        (
            "amazon",
            profile(
                "P1",
                "W1",
                "Sunrise Trading Ltd",
                &[(pb::IdentifierKind::Address, "warehouse")],
            ),
        ),
        (
            "amazon",
            finding("F1", "W1", true, EvidenceType::TestBuy, 30),
        ),
        (
            "ebay",
            profile(
                "P2",
                "W2",
                "Sunrise Ltd",
                &[(pb::IdentifierKind::Address, "warehouse")],
            ),
        ),
    ]);
    let listed = model.risk(&key("amazon", "W1")).expect("scored");
    let linked = model.risk(&key("ebay", "W2")).expect("scored");
    assert_eq!(listed.cluster_id, linked.cluster_id, "weakly linked");
    assert_eq!(listed.tier, RiskTier::Blacklisted as i32);
    assert_ne!(linked.tier, RiskTier::Blacklisted as i32);
    assert!(linked.score < listed.score, "{linked:#?} {listed:#?}");
    // Three quarters of the listed account's one finding, all of it through the link.
    assert!(
        (linked.score - 0.75 * listed.score).abs() < 1e-6,
        "{linked:#?}"
    );
    let codes: Vec<&str> = linked.reasons.iter().map(|r| r.code.as_str()).collect();
    assert_eq!(codes, ["LINKED_TO_BLACKLISTED"]);
    assert!((linked.reasons[0].contribution - linked.score).abs() < 1e-6);
}

/// A strong link makes one party: its findings count in full, as the account's own.
#[test]
fn a_strongly_linked_account_has_its_partys_findings_in_full() {
    let model = model_of(&[
        (
            "a",
            profile(
                "P1",
                "S1",
                "Alpha",
                &[(pb::IdentifierKind::BankAccount, "b1")],
            ),
        ),
        ("a", finding("F1", "S1", false, EvidenceType::TestBuy, 0)),
        (
            "b",
            profile(
                "P2",
                "T1",
                "Omega",
                &[(pb::IdentifierKind::BankAccount, "b1")],
            ),
        ),
    ]);
    assert!((score(&model, &key("b", "T1")) - 0.35).abs() < 1e-9);
    assert!((score(&model, &key("a", "S1")) - 0.35).abs() < 1e-9);
}

/// Random feeds of accounts with similar names, a few phones (weak) and banks (strong),
/// and findings: in every cluster, an account whose party has no findings scores no higher
/// than any other account of the cluster (it has every finding at three quarters, each of
/// them at least that much).
#[test]
fn an_account_without_findings_in_its_party_scores_lowest_in_its_cluster() {
    let seed: u64 = std::env::var("ACX_MODEL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    let mut rng = StdRng::seed_from_u64(seed);
    for case in 0..60 {
        let accounts: usize = rng.random_range(2..9);
        let mut reports: Vec<(&str, Report)> = Vec::new();
        let mut banks = Vec::new();
        let mut with_findings = BTreeSet::new();
        for i in 0..accounts {
            let platform = if i.is_multiple_of(2) { "a" } else { "b" };
            let bank = rng.random_range(0..accounts);
            banks.push(bank);
            let phone = format!("p{}", rng.random_range(0..3));
            let bank_hash = format!("b{bank}");
            reports.push((
                platform,
                profile(
                    &format!("P{i}"),
                    &format!("S{i}"),
                    "Bright Deals Trading",
                    &[
                        (pb::IdentifierKind::Phone, phone.as_str()),
                        (pb::IdentifierKind::BankAccount, bank_hash.as_str()),
                    ],
                ),
            ));
            if rng.random_bool(0.3) {
                let evidence = if rng.random_bool(0.5) {
                    EvidenceType::TestBuy
                } else {
                    EvidenceType::AutomatedDetection
                };
                let confirmed = rng.random_bool(0.5);
                let age = rng.random_range(0..400);
                reports.push((
                    platform,
                    finding(&format!("F{i}"), &format!("S{i}"), confirmed, evidence, age),
                ));
                with_findings.insert(i);
            }
        }
        let model = model_of(&reports);
        // Accounts are strongly linked only by a shared bank: a party is one bank's holders.
        let party = &banks;
        let account = |i: usize| {
            key(
                if i.is_multiple_of(2) { "a" } else { "b" },
                &format!("S{i}"),
            )
        };
        let mut clusters: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for i in 0..accounts {
            let risk = model.risk(&account(i)).expect("scored");
            clusters.entry(risk.cluster_id).or_default().push(i);
        }
        for members in clusters.values() {
            for &w in members {
                let party_has_findings = members
                    .iter()
                    .any(|&o| party[o] == party[w] && with_findings.contains(&o));
                if party_has_findings {
                    continue;
                }
                for &other in members {
                    assert!(
                        score(&model, &account(w)) <= score(&model, &account(other)) + 1e-9,
                        "case {case} of seed {seed} (ACX_MODEL_SEED): S{w} above S{other}"
                    );
                }
            }
        }
    }
}

/// Three parties joined by weak links: a listed one (a confirmed finding), an unlisted one
/// with a suspected finding, and the account between them. The unlisted party's finding is
/// no link to a listed account: it keeps its own reason (it was counted as
/// `LINKED_TO_BLACKLISTED` whenever any other party was listed). Scores are unchanged.
#[test]
fn an_unlisted_partys_findings_keep_their_reason_beside_a_listed_party() {
    let model = model_of(&[
        (
            "amazon",
            profile(
                "P1",
                "W1",
                "Sunrise Trading Ltd",
                &[(pb::IdentifierKind::Address, "warehouse")],
            ),
        ),
        (
            "amazon",
            finding("F1", "W1", true, EvidenceType::TestBuy, 30),
        ),
        (
            "ebay",
            profile(
                "P2",
                "W2",
                "Sunrise Trading Ltd",
                &[
                    (pb::IdentifierKind::Address, "warehouse"),
                    (pb::IdentifierKind::Phone, "+493027593841"),
                ],
            ),
        ),
        (
            "walmart",
            profile(
                "P3",
                "W3",
                "Sunrise Trading Ltd",
                &[(pb::IdentifierKind::Phone, "+493027593841")],
            ),
        ),
        (
            "walmart",
            finding("F3", "W3", false, EvidenceType::RightsOwnerNotice, 10),
        ),
    ]);
    let listed = model.risk(&key("amazon", "W1")).expect("scored");
    let between = model.risk(&key("ebay", "W2")).expect("scored");
    let unlisted = model.risk(&key("walmart", "W3")).expect("scored");
    assert_eq!(listed.cluster_id, between.cluster_id, "{between:#?}");
    assert_eq!(unlisted.cluster_id, between.cluster_id, "{unlisted:#?}");
    assert_eq!(listed.tier, RiskTier::Blacklisted as i32);
    assert_ne!(unlisted.tier, RiskTier::Blacklisted as i32);

    let reason = |risk: &acx_proto::scoring::SellerRisk, code: &str| {
        risk.reasons
            .iter()
            .find(|r| r.code == code)
            .cloned()
            .unwrap_or_else(|| panic!("no {code} in {risk:#?}"))
    };
    // The account between: the listed party's finding is the link; the unlisted party's
    // suspected finding is a suspected finding, with its report as evidence.
    assert!(reason(&between, "LINKED_TO_BLACKLISTED").contribution > 0.0);
    let suspected = reason(&between, "COUNTERFEIT_SUSPECTED");
    assert_eq!(suspected.evidence, ["reports/walmart/F3"], "{between:#?}");
    assert!(suspected.contribution > 0.0);
    // The unlisted party itself: its own finding, and the listed party's as the link.
    assert_eq!(
        reason(&unlisted, "COUNTERFEIT_SUSPECTED").evidence,
        ["reports/walmart/F3"]
    );
    assert!(reason(&unlisted, "LINKED_TO_BLACKLISTED").contribution > 0.0);
    for risk in [&between, &unlisted] {
        let total: f64 = risk.reasons.iter().map(|r| r.contribution).sum();
        assert!((total - risk.score).abs() < 1e-6, "{risk:#?}");
    }
}
