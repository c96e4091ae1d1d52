//! Evidence is bounded: a reason names at most its 20 heaviest findings and counts them all;
//! a listing and its change records name at most 20; a batch of risks too large for a
//! client's 4 MiB is refused saying how many fit. Found by a tester: 32,000 findings on
//! one seller made a 4.4 MB risk no client could read, and customs' declarations of that
//! seller stayed pending for ever. Many findings of one source also add little.

use acx_proto::scoring::{BatchGetSellerRisksRequest, ListBlacklistChangesRequest};
use tonic_types::StatusExt;

use super::*;

/// A finding with a long id (real ids run to 128 characters), `days_ago` old.
fn finding(prefix: &str, n: usize, seller_id: &str, days_ago: i64) -> Report {
    Report {
        report_id: format!("{prefix}-{n:03}-{}", "x".repeat(90)),
        kind: Some(Kind::CounterfeitFinding(fixtures::confirmed_finding(
            seller_id,
            observed(days_ago),
        ))),
    }
}

#[tokio::test]
async fn a_seller_with_many_findings_has_bounded_evidence_that_counts_them_all() {
    let suite = TestSuite::start().await;
    // One seller on two platforms (a shared bank account): 25 recent and 35 old findings
    // on one, 30 recent on the other.
    let mut mine = vec![profile(
        "P-A",
        "S-MANY",
        "Many Deals",
        bank("DE93 3704 0044 0817 2635 44"),
    )];
    mine.extend((0..25).map(|n| finding("F-RECENT", n, "S-MANY", 1)));
    mine.extend((0..35).map(|n| finding("F-OLD", n, "S-MANY", 300)));
    submit(&suite, PLATFORM_A, mine).await;
    let mut theirs = vec![profile(
        "P-B",
        "S-OTHER",
        "Many Deals",
        bank("DE93 3704 0044 0817 2635 44"),
    )];
    theirs.extend((0..30).map(|n| finding("G", n, "S-OTHER", 2)));
    submit(&suite, PLATFORM_B, theirs).await;

    let account = seller("demo-platform", "S-MANY");
    let risk = risk_when(&suite, account.clone(), |r| {
        r.reasons
            .iter()
            .any(|reason| reason.description.contains("90 reports"))
    })
    .await;
    let confirmed = risk
        .reasons
        .iter()
        .find(|r| r.code == "COUNTERFEIT_CONFIRMED")
        .unwrap();
    assert!(
        confirmed
            .description
            .ends_with("(90 reports from 2 sources; the evidence names the 20 heaviest)"),
        "{}",
        confirmed.description
    );
    // The heaviest are the most recent: this platform's own, by name.
    assert_eq!(confirmed.evidence.len(), 20, "{:#?}", confirmed.evidence);
    for name in &confirmed.evidence {
        assert!(
            name.starts_with("reports/demo-platform/F-RECENT-"),
            "{name}"
        );
    }
    let listed = risk
        .reasons
        .iter()
        .find(|r| r.code == "BLACKLISTED_CONFIRMED_FINDING")
        .unwrap();
    assert_eq!(listed.evidence.len(), 20);

    let token = suite.token(PLATFORM_A);
    let mut client = scoring(&suite).await;
    let blacklist = client
        .list_blacklist(authorized(ListBlacklistRequest::default(), &token))
        .await
        .unwrap()
        .into_inner();
    assert!(!blacklist.entries.is_empty());
    for entry in &blacklist.entries {
        assert!(entry.evidence.len() <= 20, "{entry:#?}");
    }
    let changes = client
        .list_blacklist_changes(authorized(ListBlacklistChangesRequest::default(), &token))
        .await
        .unwrap()
        .into_inner()
        .changes;
    for change in &changes {
        let entry = change.entry.as_ref().unwrap();
        assert!(entry.evidence.len() <= 20, "{change:#?}");
        assert!(change.reason.len() < 21 * 130, "{}", change.reason);
    }

    // A batch of risks within 3 MiB is answered; one over it is refused saying how many fit.
    let batch = |count: usize| BatchGetSellerRisksRequest {
        sellers: vec![account.clone(); count],
    };
    let fits = client
        .batch_get_seller_risks(authorized(batch(100), &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(fits.risks.len(), 100);
    let refused = client
        .batch_get_seller_risks(authorized(batch(1000), &token))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    assert_eq!(
        refused
            .get_details_error_info()
            .map(|i| i.reason)
            .as_deref(),
        Some("MESSAGE_TOO_LARGE")
    );
    assert!(
        refused.message().contains("ask for about"),
        "{}",
        refused.message()
    );
}

/// Repetition by one source adds little: ten suspected test buys from one platform stay
/// ELEVATED, below one confirmed finding (found by a tester: under `acx-risk-2` they
/// reached 0.98, HIGH, above the confirmed seller's 0.9).
#[tokio::test]
async fn repeated_suspicions_of_one_source_stay_below_a_confirmed_finding() {
    use acx_proto::ingest::Verdict;
    let suite = TestSuite::start().await;
    let mut reports: Vec<Report> = (0..10)
        .map(|n| {
            let mut suspected = fixtures::confirmed_finding("S-SUSPECT", observed(1));
            suspected.verdict = Verdict::Suspected as i32;
            Report {
                report_id: format!("SUS-{n}"),
                kind: Some(Kind::CounterfeitFinding(suspected)),
            }
        })
        .collect();
    reports.push(confirmed_finding("CONF-1", "S-CONFIRMED"));
    submit(&suite, PLATFORM_A, reports).await;
    let suspected = risk_when(&suite, seller("demo-platform", "S-SUSPECT"), |r| {
        r.reasons
            .iter()
            .any(|reason| reason.description.contains("10 reports"))
    })
    .await;
    let confirmed = risk_when(&suite, seller("demo-platform", "S-CONFIRMED"), |r| {
        tier(r) == RiskTier::Blacklisted
    })
    .await;
    assert_eq!(tier(&suspected), RiskTier::Elevated, "{suspected:#?}");
    assert!(suspected.score <= 0.675, "{suspected:#?}");
    assert!(
        suspected.score < confirmed.score,
        "{suspected:#?} {confirmed:#?}"
    );
}
