//! The model's unit tests: scores, links, clusters and listings of small feeds.

use std::collections::BTreeSet;

use acx_proto::{
    common::{self as pb, HashedIdentifier, RiskTier, SellerAccountRef},
    ingest::{
        CounterfeitFinding, EvidenceType, Report, Retraction, RetractionReason, SellerProfile,
        Verdict, report::Kind,
    },
    scoring::ListingBasis,
};

use super::{AccountKey, Merge, Model, ModelParams, cluster_id_of, timestamp};

const DAY_US: i64 = 86_400_000_000;
const NOW: i64 = 1_760_000_000_000_000;

pub(super) fn params() -> ModelParams {
    ModelParams {
        half_life_days: 180.0,
    }
}

pub(super) fn key(platform: &str, seller: &str) -> AccountKey {
    (platform.to_owned(), seller.to_owned())
}

pub(super) fn finding(
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

pub(super) fn profile(
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
pub(super) fn model_of(reports: &[(&str, Report)]) -> Model {
    let mut model = Model::new(params());
    let mut touched = BTreeSet::new();
    for (i, (platform, report)) in reports.iter().enumerate() {
        touched.extend(model.apply(i as i64 + 1, platform, report));
    }
    model.recompute(&touched, NOW);
    model
}

pub(super) fn score(model: &Model, account: &AccountKey) -> f64 {
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
        let id = model.account_id(x).expect("known");
        model
            .links_of(id)
            .into_iter()
            .map(|(k, _)| model.key_of(k))
            .collect()
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

/// A profile whose hashes carry their normalisation versions: (kind, hash, version).
fn versioned_profile(
    id: &str,
    seller: &str,
    name: &str,
    identifiers: &[(pb::IdentifierKind, &str, u32)],
) -> Report {
    let mut report = profile(id, seller, name, &[]);
    if let Some(Kind::SellerProfile(p)) = report.kind.as_mut() {
        p.hashed_identifiers = identifiers
            .iter()
            .map(|(kind, hash, version)| HashedIdentifier {
                kind: *kind as i32,
                key_id: "k1".to_owned(),
                hash: (*hash).to_owned(),
                normalization_version: *version,
            })
            .collect();
    }
    report
}

/// Found by a tester: the same national account number of a British and an American seller
/// linked them strongly and a finding against one blacklisted the other. A national account
/// number links only with a similar name, and so does a bank account that a profile sent
/// again (version 6) holds only as a version-5 legacy hash; two profiles still under
/// version 5 stay strongly linked (their hashes cannot tell a national number from an IBAN).
#[test]
fn national_account_numbers_and_old_bank_account_legacy_hashes_link_only_with_similar_names() {
    use pb::IdentifierKind::{BankAccount, NationalBankAccount};
    let model = model_of(&[
        (
            "a",
            versioned_profile("P1", "S1", "Bright Lantern Ltd", &[(BankAccount, "b1", 5)]),
        ),
        ("a", finding("F1", "S1", true, EvidenceType::TestBuy, 3)),
        // Sent again under version 6: its national number, and the version-5 form as legacy.
        (
            "b",
            versioned_profile(
                "P2",
                "T1",
                "Ohio Garden Supply LLC",
                &[(NationalBankAccount, "n1", 6), (BankAccount, "b1", 5)],
            ),
        ),
        (
            "b",
            versioned_profile(
                "P3",
                "T2",
                "Bright Lantern Ltd",
                &[(NationalBankAccount, "n1", 6), (BankAccount, "b1", 5)],
            ),
        ),
        // Still under version 5.
        (
            "c",
            versioned_profile("P4", "U1", "Meadowbrook Home", &[(BankAccount, "b1", 5)]),
        ),
        // Two sellers of version 6 with one national number and unrelated names.
        (
            "d",
            versioned_profile(
                "P5",
                "V1",
                "Kestrel Audio",
                &[(NationalBankAccount, "n2", 6)],
            ),
        ),
        (
            "d",
            versioned_profile(
                "P6",
                "V2",
                "Harbour Tea Rooms",
                &[(NationalBankAccount, "n2", 6)],
            ),
        ),
    ]);
    let risk = |platform: &str, seller: &str| model.risk(&key(platform, seller)).expect("scored");
    let listed = risk("a", "S1");
    assert_eq!(listed.tier, RiskTier::Blacklisted as i32);
    let american = risk("b", "T1");
    assert_ne!(american.cluster_id, listed.cluster_id);
    assert_ne!(american.tier, RiskTier::Blacklisted as i32);
    assert_eq!(risk("b", "T2").cluster_id, listed.cluster_id);
    assert_ne!(risk("b", "T2").tier, RiskTier::Blacklisted as i32);
    let old = risk("c", "U1");
    assert_eq!(old.cluster_id, listed.cluster_id);
    assert_eq!(old.tier, RiskTier::Blacklisted as i32);
    assert_ne!(risk("d", "V1").cluster_id, risk("d", "V2").cluster_id);
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

#[test]
fn hashes_equal_only_the_same_text() {
    use super::accounts::Identifier;
    let hex = "2a25903b5bea85055db646cf9ccd03ea1d31262d281a5d81ee9e54b153e2e87e";
    let kind = pb::IdentifierKind::Phone as i32;
    assert_eq!(Identifier::new(kind, hex), Identifier::new(kind, hex));
    assert_ne!(
        Identifier::new(kind, hex),
        Identifier::new(pb::IdentifierKind::Email as i32, hex)
    );
    // Upper case, short or non-hex text is its own identifier: it never meets the
    // lower-case form, nor another text.
    let others = [
        hex.to_uppercase(),
        hex[..62].to_owned(),
        format!("{}g", &hex[..63]),
        format!("{}G", &hex[..63]),
    ];
    for (i, other) in others.iter().enumerate() {
        assert_eq!(Identifier::new(kind, other), Identifier::new(kind, other));
        assert_ne!(
            Identifier::new(kind, other),
            Identifier::new(kind, hex),
            "{other}"
        );
        for different in &others[i + 1..] {
            assert_ne!(
                Identifier::new(kind, other),
                Identifier::new(kind, different)
            );
        }
    }
}

/// A retraction of a profile undoes its links, on the model that applied everything and on
/// one read back from its serialised form (whose seller and profile report indexes are
/// built again from the accounts).
#[test]
fn a_retracted_profile_undoes_its_links_after_a_snapshot_too() {
    let model = model_of(&[
        (
            "a",
            profile("P1", "S1", "One", &[(pb::IdentifierKind::TaxNumber, "t1")]),
        ),
        (
            "b",
            profile("P2", "T1", "Two", &[(pb::IdentifierKind::TaxNumber, "t1")]),
        ),
        ("b", profile("P3", "T2", "Three", &[])),
    ]);
    let bytes = postcard::to_stdvec(&model).expect("serialises");
    let restored: Model = postcard::from_bytes(&bytes).expect("reads back");
    let retraction = Report {
        report_id: "R1".to_owned(),
        kind: Some(Kind::Retraction(Retraction {
            retracted_report_id: "P2".to_owned(),
            reason: RetractionReason::FalsePositive as i32,
            note: String::new(),
        })),
    };
    let cluster = |m: &Model, a: &AccountKey| m.risk(a).expect("scored").cluster_id.clone();
    for mut model in [model, restored] {
        assert_eq!(
            cluster(&model, &key("a", "S1")),
            cluster(&model, &key("b", "T1"))
        );
        let touched = model.apply(4, "b", &retraction);
        assert!(
            touched.len() >= 2,
            "the retraction reaches the linked accounts"
        );
        model.recompute(&touched, NOW);
        assert_ne!(
            cluster(&model, &key("a", "S1")),
            cluster(&model, &key("b", "T1"))
        );
        // The same report id from another platform, or of an unknown report, is not it.
        assert!(model.apply(5, "a", &retraction).is_empty());
        assert!(model.risk(&key("b", "T2")).is_some());
        assert!(model.risk(&key("b", "nobody")).is_none());
    }
}

#[test]
fn a_large_listed_cluster_lists_a_bounded_number_of_link_reasons() {
    // 60 accounts of one name on one phone (weak links, not listed with it), one confirmed
    // finding: 1,770 linked pairs, of which a reader gets MAX_LINK_REASONS and a count.
    let mut reports: Vec<(&str, Report)> = (0..60)
        .map(|i| {
            (
                "a",
                profile(
                    &format!("P{i}"),
                    &format!("S{i}"),
                    "Bright Trading Co., Ltd",
                    &[(pb::IdentifierKind::Phone, "phone-1")],
                ),
            )
        })
        .collect();
    reports.push(("a", finding("F1", "S0", true, EvidenceType::TestBuy, 1)));
    let model = model_of(&reports);
    let risk = model.risk(&key("a", "S59")).expect("scored");
    let linked = risk
        .reasons
        .iter()
        .find(|r| r.code == "LINKED_TO_BLACKLISTED")
        .unwrap_or_else(|| panic!("{:?}", risk.reasons));
    assert_eq!(
        linked.evidence.len(),
        super::linking::MAX_LINK_REASONS + 1,
        "{:?}",
        linked.evidence
    );
    assert_eq!(
        linked.evidence.last().map(String::as_str),
        Some("and 1750 more linked pairs in the cluster")
    );
}

#[test]
fn a_weak_value_that_many_accounts_give_links_no_one() {
    // A forwarding agent's phone on more accounts than COMMON_WEAK_VALUE, all of one name:
    // not a sign of one operator. One account fewer, and they are one cluster.
    let cluster_of = |accounts: usize| {
        let reports: Vec<(&str, Report)> = (0..accounts)
            .map(|i| {
                (
                    "a",
                    profile(
                        &format!("P{i}"),
                        &format!("S{i}"),
                        "Bright Trading Co., Ltd",
                        &[(pb::IdentifierKind::Phone, "agent-phone")],
                    ),
                )
            })
            .collect();
        let model = model_of(&reports);
        let first = model.risk(&key("a", "S0")).expect("scored").cluster_id;
        let last = model
            .risk(&key("a", &format!("S{}", accounts - 1)))
            .expect("scored")
            .cluster_id;
        first == last
    };
    let limit = super::linking::COMMON_WEAK_VALUE;
    assert!(cluster_of(limit), "{limit} holders still link");
    assert!(!cluster_of(limit + 1), "{} holders do not", limit + 1);
}
