//! Scoring end to end: platforms report to ingest, scoring follows the change feed, and
//! the risk, clusters and blacklist are read back through scoring's and liaison's APIs.

#![allow(clippy::unwrap_used)]

mod evidence;
mod reads;
mod restarts;
mod selections;
mod shipments;

use std::time::Duration;

use acx_proto::{
    common::{Identifiers, RiskTier, SellerAccountRef},
    ingest::{
        GetReportRequest, Report, ReportOutcome, Retraction, RetractionReason, SellerProfile,
        SubmitReportsRequest, ingest_service_client::IngestServiceClient, report::Kind,
    },
    liaison::{CheckSellerRequest, liaison_service_client::LiaisonServiceClient},
    scoring::{
        BatchGetSellerRisksRequest, BlacklistChangeType, GetSellerRiskRequest,
        ListBlacklistChangesRequest, ListBlacklistRequest, ListSellerRiskHistoryRequest,
        ListingBasis, SellerRisk, scoring_service_client::ScoringServiceClient,
    },
};
use acx_tests::{
    TestSuite, authorized, channel,
    fixtures::{self, scalar, seconds_ago},
};
use tonic::{Code, transport::Channel};

const PLATFORM_A: &str = "platform:demo-platform";
const PLATFORM_B: &str = "platform:demo-marketplace";

/// `days_ago` days and a minute ago.
fn observed(days_ago: i64) -> Option<prost_types::Timestamp> {
    Some(seconds_ago(days_ago * 86_400 + 60))
}

fn profile(report_id: &str, seller_id: &str, name: &str, identifiers: Identifiers) -> Report {
    Report {
        report_id: report_id.to_owned(),
        kind: Some(Kind::SellerProfile(SellerProfile {
            seller_id: seller_id.to_owned(),
            display_name: name.to_owned(),
            legal_name: String::new(),
            country: "CN".to_owned(),
            identifiers: Some(identifiers),
            observe_time: observed(1),
            hashed_identifiers: vec![],
        })),
    }
}

fn confirmed_finding(report_id: &str, seller_id: &str) -> Report {
    Report {
        report_id: report_id.to_owned(),
        kind: Some(Kind::CounterfeitFinding(fixtures::confirmed_finding(
            seller_id,
            observed(2),
        ))),
    }
}

fn bank(account: &str) -> Identifiers {
    Identifiers {
        bank_accounts: vec![account.to_owned()],
        ..Default::default()
    }
}

fn phone(number: &str) -> Identifiers {
    Identifiers {
        phones: vec![number.to_owned()],
        ..Default::default()
    }
}

async fn submit(suite: &TestSuite, principal: &str, reports: Vec<Report>) {
    let results = IngestServiceClient::new(channel(suite.ingest).await)
        .submit_reports(authorized(
            SubmitReportsRequest { reports },
            &suite.token(principal),
        ))
        .await
        .unwrap()
        .into_inner()
        .results;
    assert!(
        results
            .iter()
            .all(|r| r.outcome() == ReportOutcome::Accepted),
        "{results:?}"
    );
}

fn seller(platform: &str, seller_id: &str) -> SellerAccountRef {
    SellerAccountRef {
        platform: platform.to_owned(),
        seller_id: seller_id.to_owned(),
    }
}

async fn scoring(suite: &TestSuite) -> ScoringServiceClient<Channel> {
    ScoringServiceClient::new(channel(suite.scoring).await)
}

/// Polls scoring until `check` holds for the account's risk (the feed is asynchronous).
async fn risk_when(
    suite: &TestSuite,
    account: SellerAccountRef,
    check: impl Fn(&SellerRisk) -> bool,
) -> SellerRisk {
    let token = suite.token(PLATFORM_A);
    let mut client = scoring(suite).await;
    let mut last = None;
    for _ in 0..100 {
        let request = GetSellerRiskRequest {
            seller: Some(account.clone()),
            cluster_id: String::new(),
        };
        if let Ok(response) = client.get_seller_risk(authorized(request, &token)).await {
            let risk = response.into_inner().risk.unwrap();
            if check(&risk) {
                return risk;
            }
            last = Some(risk);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the risk of {account:?} never matched; last {last:#?}");
}

pub(crate) fn declared(
    id: &str,
    tracking: &str,
    hs: &str,
    quantity: f64,
    kg: f64,
    usd_total: &str,
) -> acx_proto::scoring::DeclaredShipment {
    acx_proto::scoring::DeclaredShipment {
        declaration_id: id.to_owned(),
        authority: "demo-customs".to_owned(),
        importer_id: "IMP-1".to_owned(),
        origin_country: "CN".to_owned(),
        seller: None,
        consignment: Some(acx_proto::common::ConsignmentNumbers {
            tracking_numbers: vec![tracking.to_owned()],
            ..Default::default()
        }),
        declarant_id: "BROKER-1".to_owned(),
        customs_office: "USLAX".to_owned(),
        declaration_time: None,
        lines: vec![acx_proto::scoring::DeclaredLine {
            line_number: 1,
            hs_code: hs.to_owned(),
            quantity,
            net_mass_kg: kg,
            declared_value: Some(acx_proto::common::Money {
                currency_code: "USD".to_owned(),
                amount: usd_total.to_owned(),
            }),
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn tier(risk: &SellerRisk) -> RiskTier {
    risk.tier()
}

#[tokio::test]
async fn a_strong_link_across_platforms_shares_the_cluster_and_the_listing() {
    let suite = TestSuite::start().await;
    submit(
        &suite,
        PLATFORM_A,
        vec![profile(
            "P-1",
            "S-1",
            "Bright Deals",
            bank("GB85 WEST 1234 5641 0875 29"),
        )],
    )
    .await;
    // Another platform, another name, the same bank account written differently.
    submit(
        &suite,
        PLATFORM_B,
        vec![profile(
            "Q-1",
            "T-9",
            "Lucky Star Shop",
            bank("gb85west12345641087529"),
        )],
    )
    .await;
    submit(&suite, PLATFORM_A, vec![confirmed_finding("F-1", "S-1")]).await;

    let listed = risk_when(&suite, seller("demo-platform", "S-1"), |r| {
        tier(r) == RiskTier::Blacklisted
    })
    .await;
    let linked = risk_when(&suite, seller("demo-marketplace", "T-9"), |r| {
        tier(r) == RiskTier::Blacklisted
    })
    .await;
    assert_eq!(
        listed.cluster_id, linked.cluster_id,
        "one seller behind both accounts"
    );
    assert_eq!(
        listed.reasons[0].code, "BLACKLISTED_CONFIRMED_FINDING",
        "the listing leads the reasons"
    );
    assert_eq!(listed.reasons[1].code, "COUNTERFEIT_CONFIRMED");
    assert!(
        listed.reasons[1]
            .evidence
            .contains(&"reports/demo-platform/F-1".to_owned())
    );
    // Every evidence name of the caller's platform is a resource its GetReport serves;
    // another platform's GetReport does not serve it.
    let mut ingest = IngestServiceClient::new(channel(suite.ingest).await);
    let own: Vec<&String> = listed
        .reasons
        .iter()
        .flat_map(|reason| &reason.evidence)
        .filter(|name| name.starts_with("reports/demo-platform/"))
        .collect();
    assert!(!own.is_empty());
    for name in own {
        let report = ingest
            .get_report(authorized(
                GetReportRequest { name: name.clone() },
                &suite.token(PLATFORM_A),
            ))
            .await
            .unwrap_or_else(|status| panic!("{name}: {status:?}"))
            .into_inner()
            .report
            .unwrap();
        assert_eq!(
            format!("reports/demo-platform/{}", &report.name["reports/".len()..]),
            *name
        );
        let elsewhere = ingest
            .get_report(authorized(
                GetReportRequest { name: name.clone() },
                &suite.token(PLATFORM_B),
            ))
            .await
            .unwrap_err();
        assert_eq!(elsewhere.code(), Code::NotFound, "{name}");
    }

    // A shipment of the listed seller: the seller's reason carries each piece of evidence
    // once (the listing's evidence is also its confirmed finding's), first seen first.
    let mut shipment = declared("D-LISTED", "TRK-LISTED", "640399", 10.0, 5.0, "100.00");
    shipment.seller = Some(seller("demo-platform", "S-1"));
    let assessment = scoring(&suite)
        .await
        .assess_shipment(authorized(
            acx_proto::scoring::AssessShipmentRequest {
                shipment: Some(shipment),
                record: false,
            },
            &suite.token("service:liaison"),
        ))
        .await
        .unwrap()
        .into_inner()
        .assessment
        .unwrap();
    let seller_reason = assessment
        .reasons
        .iter()
        .find(|reason| reason.code == "SELLER_BLACKLISTED")
        .unwrap_or_else(|| panic!("{assessment:#?}"));
    let mut unique = seller_reason.evidence.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        seller_reason.evidence.len(),
        "{:?}",
        seller_reason.evidence
    );
    assert!(!seller_reason.evidence.is_empty());
    assert!(
        linked
            .reasons
            .iter()
            .any(|r| r.code == "BLACKLISTED_STRONG_LINK")
    );
    assert!(listed.score > 0.8 && listed.model_version.starts_with("acx-risk-3"));

    let list = scoring(&suite)
        .await
        .list_blacklist(authorized(
            ListBlacklistRequest::default(),
            &suite.token(PLATFORM_B),
        ))
        .await
        .unwrap()
        .into_inner();
    let bases: Vec<(String, ListingBasis)> = list
        .entries
        .iter()
        .map(|e| (e.seller.clone().unwrap().seller_id, e.basis()))
        .collect();
    // In account order: demo-marketplace before demo-platform.
    assert_eq!(
        bases,
        [
            ("T-9".to_owned(), ListingBasis::StrongLink),
            ("S-1".to_owned(), ListingBasis::ConfirmedFinding)
        ]
    );

    // Customs see the same through liaison.
    let customs = LiaisonServiceClient::new(channel(suite.liaison).await)
        .check_seller(authorized(
            CheckSellerRequest {
                seller: Some(seller("demo-marketplace", "T-9")),
            },
            &suite.token("customs:demo-customs"),
        ))
        .await
        .unwrap()
        .into_inner()
        .risk
        .unwrap();
    assert!(customs.blacklisted);
    assert_eq!(customs.cluster_id, listed.cluster_id);
}

#[tokio::test]
async fn a_weak_link_needs_a_similar_name() {
    let suite = TestSuite::start().await;
    submit(
        &suite,
        PLATFORM_A,
        vec![profile(
            "P-1",
            "S-1",
            "Shenzhen Bright Trading Co., Ltd",
            phone("+86 755 4172 9356"),
        )],
    )
    .await;
    submit(
        &suite,
        PLATFORM_B,
        vec![
            profile(
                "Q-1",
                "T-1",
                "BRIGHT TRADING (SHENZHEN) LIMITED",
                phone("0086 755 4172-9356"),
            ),
            profile(
                "Q-2",
                "T-2",
                "Ocean Garden Supplies",
                phone("+86 755 4172 9356"),
            ),
        ],
    )
    .await;
    let a = risk_when(&suite, seller("demo-platform", "S-1"), |_| true).await;
    let similar = risk_when(&suite, seller("demo-marketplace", "T-1"), |r| {
        r.cluster_id == a.cluster_id
    })
    .await;
    let other = risk_when(&suite, seller("demo-marketplace", "T-2"), |_| true).await;
    assert_eq!(similar.cluster_id, a.cluster_id);
    assert_ne!(
        other.cluster_id, a.cluster_id,
        "a shared phone alone does not link"
    );
}

#[tokio::test]
async fn a_retraction_delists_and_the_delta_feed_says_why() {
    let suite = TestSuite::start().await;
    submit(
        &suite,
        PLATFORM_A,
        vec![
            profile(
                "P-1",
                "S-1",
                "Bright Deals",
                bank("DE93 3704 0044 0817 2635 44"),
            ),
            confirmed_finding("F-1", "S-1"),
        ],
    )
    .await;
    risk_when(&suite, seller("demo-platform", "S-1"), |r| {
        tier(r) == RiskTier::Blacklisted
    })
    .await;

    let token = suite.token(PLATFORM_B);
    let mut client = scoring(&suite).await;
    let start = client
        .list_blacklist(authorized(ListBlacklistRequest::default(), &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(start.entries.len(), 1);

    let retraction = Report {
        report_id: "R-1".to_owned(),
        kind: Some(Kind::Retraction(Retraction {
            retracted_report_id: "F-1".to_owned(),
            reason: RetractionReason::AppealUpheld as i32,
            note: "the seller proved the goods genuine".to_owned(),
        })),
    };
    submit(&suite, PLATFORM_A, vec![retraction]).await;
    let after = risk_when(&suite, seller("demo-platform", "S-1"), |r| {
        tier(r) != RiskTier::Blacklisted
    })
    .await;
    assert_eq!(after.score, 0.0);

    let delta = client
        .list_blacklist_changes(authorized(
            ListBlacklistChangesRequest {
                after_cursor: start.changes_cursor,
                page_size: 0,
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(delta.changes.len(), 1, "{delta:#?}");
    assert_eq!(delta.changes[0].r#type(), BlacklistChangeType::Delisted);
    assert!(
        delta.changes[0].reason.contains("appeal upheld"),
        "{}",
        delta.changes[0].reason
    );
    assert_eq!(delta.next_cursor, delta.changes[0].cursor);

    let everything = client
        .list_blacklist_changes(authorized(ListBlacklistChangesRequest::default(), &token))
        .await
        .unwrap()
        .into_inner();
    let types: Vec<BlacklistChangeType> = everything.changes.iter().map(|c| c.r#type()).collect();
    assert_eq!(
        types,
        [BlacklistChangeType::Listed, BlacklistChangeType::Delisted],
        "the trail is kept"
    );
    // At the newest change: nothing new. Past it (a cursor kept from another deployment or
    // from before a restore): refused, instead of answered empty and followed, which skipped
    // every change until the feed reached it.
    let head = everything.next_cursor;
    let at_head = client
        .list_blacklist_changes(authorized(
            ListBlacklistChangesRequest {
                after_cursor: head,
                page_size: 0,
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(at_head.changes.is_empty() && at_head.next_cursor == head);
    let past = client
        .list_blacklist_changes(authorized(
            ListBlacklistChangesRequest {
                after_cursor: head + 100_000,
                page_size: 0,
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(past.code(), tonic::Code::InvalidArgument, "{past:?}");
    assert!(
        past.message().contains("after_cursor") && past.message().contains("ListBlacklist"),
        "{past:?}"
    );
    let empty = client
        .list_blacklist(authorized(ListBlacklistRequest::default(), &token))
        .await
        .unwrap()
        .into_inner();
    assert!(empty.entries.is_empty());

    let history = client
        .list_seller_risk_history(authorized(
            ListSellerRiskHistoryRequest {
                seller: Some(seller("demo-platform", "S-1")),
                page_size: 1,
                page_token: String::new(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(history.changes[0].tier(), RiskTier::Low, "newest first");
    assert!(!history.next_page_token.is_empty());
}

#[test]
fn the_ingest_token_never_shows_in_scorings_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let config = acx_scoring::Config {
        ingest_token: Some("s3cret-token-value".into()),
        ..acx_scoring::Config::standalone(acx_runtime::ServerConfig::local(dir.path()))
    };
    let shown = format!("{config:?}");
    assert!(!shown.contains("s3cret"), "{shown}");
    assert!(shown.contains("ingest_token: Some([redacted])"), "{shown}");
}
