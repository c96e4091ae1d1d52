//! Who sees whose evidence (docs/services.md, ingest): a platform sees its own reports by name and
//! every other platform's (and customs') evidence only as its kind and an opaque, stable
//! reference, in risks, entity checks, the blacklist and its change feed; customs (through
//! liaison) see every name in full.
//!
//! The demo data has platform `demo-platform` confirm counterfeit `demo-F-100` against its
//! seller `S-100`, and `demo-marketplace`'s seller `T-2` listed for a strong link to it.

#![allow(clippy::unwrap_used)]

use std::{collections::BTreeSet, time::Duration};

use acx_proto::{
    common::{RiskTier, SellerAccountRef},
    liaison::{CheckSellerRequest, liaison_service_client::LiaisonServiceClient},
    scoring::{
        GetSellerRiskRequest, ListBlacklistChangesRequest, ListBlacklistRequest, SellerRisk,
        scoring_service_client::ScoringServiceClient,
    },
};
use acx_tests::{TestSuite, authorized, channel};

const REPORTER: &str = "platform:demo-platform";
const OTHER: &str = "platform:demo-marketplace";
const FINDING: &str = "reports/demo-platform/demo-F-100";

fn t2() -> SellerAccountRef {
    SellerAccountRef {
        platform: "demo-marketplace".into(),
        seller_id: "T-2".into(),
    }
}

async fn risk_of(suite: &TestSuite, principal: &str) -> SellerRisk {
    let mut client = ScoringServiceClient::new(channel(suite.scoring).await);
    for _ in 0..200 {
        let request = GetSellerRiskRequest {
            seller: Some(t2()),
            cluster_id: String::new(),
        };
        if let Ok(answer) = client
            .get_seller_risk(authorized(request, &suite.token(principal)))
            .await
        {
            let risk = answer.into_inner().risk.unwrap();
            if risk.tier() == RiskTier::Blacklisted {
                return risk;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("T-2 was never listed");
}

fn evidence(risk: &SellerRisk) -> BTreeSet<String> {
    risk.reasons
        .iter()
        .flat_map(|reason| reason.evidence.iter().cloned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_platforms_see_kind_and_opaque_reference_the_reporter_and_customs_see_names() {
    let suite = TestSuite::start_with(true).await;

    let for_reporter = evidence(&risk_of(&suite, REPORTER).await);
    assert!(for_reporter.contains(FINDING), "{for_reporter:?}");

    let for_other = evidence(&risk_of(&suite, OTHER).await);
    assert!(!for_other.is_empty());
    for name in &for_other {
        assert!(
            !name.contains("demo-platform") && !name.contains("demo-F-"),
            "{name}"
        );
    }
    let references: BTreeSet<&String> = for_other
        .iter()
        .filter(|name| name.starts_with("evidence/report/"))
        .collect();
    assert!(!references.is_empty(), "{for_other:?}");
    // Stable: the same reference in every answer.
    assert_eq!(evidence(&risk_of(&suite, OTHER).await), for_other);

    let mut scoring = ScoringServiceClient::new(channel(suite.scoring).await);
    let listed = scoring
        .list_blacklist(authorized(
            ListBlacklistRequest::default(),
            &suite.token(OTHER),
        ))
        .await
        .unwrap()
        .into_inner();
    let t2_entry = listed
        .entries
        .iter()
        .find(|entry| entry.seller.as_ref() == Some(&t2()))
        .unwrap();
    for name in &t2_entry.evidence {
        assert!(!name.contains("demo-platform"), "{name}");
        assert!(
            for_other.contains(name),
            "the same reference as in the risk: {name}"
        );
    }
    let changes = scoring
        .list_blacklist_changes(authorized(
            ListBlacklistChangesRequest::default(),
            &suite.token(OTHER),
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(!changes.changes.is_empty());
    for change in &changes.changes {
        assert!(
            !change.reason.contains("demo-platform"),
            "{}",
            change.reason
        );
        for name in &change.entry.as_ref().unwrap().evidence {
            assert!(!name.contains("demo-platform"), "{name}");
        }
    }
    let for_reporter_changes = scoring
        .list_blacklist_changes(authorized(
            ListBlacklistChangesRequest::default(),
            &suite.token(REPORTER),
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(
        for_reporter_changes
            .changes
            .iter()
            .any(|change| change.reason.contains(FINDING)),
        "{for_reporter_changes:?}"
    );

    // Customs, through liaison, see every name.
    let mut liaison = LiaisonServiceClient::new(channel(suite.liaison).await);
    let for_customs = liaison
        .check_seller(authorized(
            CheckSellerRequest { seller: Some(t2()) },
            &suite.token("customs:demo-customs"),
        ))
        .await
        .unwrap()
        .into_inner()
        .risk
        .unwrap();
    let names: BTreeSet<String> = for_customs
        .reasons
        .iter()
        .flat_map(|reason| reason.evidence.iter().cloned())
        .collect();
    assert!(names.contains(FINDING), "{names:?}");
}
