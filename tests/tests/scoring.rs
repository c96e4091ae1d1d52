//! Scoring end to end: platforms report to ingest, scoring follows the change feed, and
//! the risk, clusters and blacklist are read back through scoring's and liaison's APIs.

#![allow(clippy::unwrap_used)]

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
            bank("GB82 WEST 1234 5698 7654 32"),
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
            bank("gb82west12345698765432"),
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
    assert!(listed.score > 0.8 && listed.model_version.starts_with("acx-risk-1"));

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
            phone("+86 755 1234 5678"),
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
                phone("0086 755 1234-5678"),
            ),
            profile(
                "Q-2",
                "T-2",
                "Ocean Garden Supplies",
                phone("+86 755 1234 5678"),
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
                bank("DE89 3704 0044 0532 0130 00"),
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

#[tokio::test]
async fn reads_validate_and_batch() {
    let suite = TestSuite::start().await;
    submit(&suite, PLATFORM_A, vec![confirmed_finding("F-1", "S-1")]).await;
    risk_when(&suite, seller("demo-platform", "S-1"), |_| true).await;
    let token = suite.token(PLATFORM_A);
    let mut client = scoring(&suite).await;
    let batch = client
        .batch_get_seller_risks(authorized(
            BatchGetSellerRisksRequest {
                sellers: vec![
                    seller("demo-platform", "S-1"),
                    seller("demo-platform", "NOBODY"),
                ],
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(batch.risks.len(), 1);
    assert_eq!(batch.not_found, [seller("demo-platform", "NOBODY")]);

    let by_cluster = client
        .get_seller_risk(authorized(
            GetSellerRiskRequest {
                seller: None,
                cluster_id: batch.risks[0].cluster_id.clone(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        by_cluster.risk.unwrap().seller,
        Some(seller("demo-platform", "S-1"))
    );

    let neither = client
        .get_seller_risk(authorized(GetSellerRiskRequest::default(), &token))
        .await
        .unwrap_err();
    assert_eq!(neither.code(), Code::InvalidArgument);
    let bad = client
        .batch_get_seller_risks(authorized(
            BatchGetSellerRisksRequest {
                sellers: vec![seller("", "x")],
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert!(
        bad.message().contains("sellers[0].platform"),
        "{}",
        bad.message()
    );
}

/// Scoring alone, following `ingest`, on `backend`, with its own database in `dir`.
struct ScoringHarness {
    addr: std::net::SocketAddr,
    database_url: String,
    shutdown: acx_runtime::Shutdown,
    server: Option<acx_runtime::RunningServer>,
}

impl ScoringHarness {
    async fn start(
        ingest: &acx_tests::IngestHarness,
        database_url: String,
        dir: &std::path::Path,
    ) -> Self {
        let mut harness = Self {
            addr: "127.0.0.1:0".parse().unwrap(),
            database_url,
            shutdown: acx_runtime::Shutdown::new(),
            server: None,
        };
        harness.restart(ingest, dir).await;
        harness
    }

    async fn restart(&mut self, ingest: &acx_tests::IngestHarness, dir: &std::path::Path) {
        // Its own directory: ingest's token file must stay as it is.
        let dir = &dir.join("scoring");
        std::fs::create_dir_all(dir).unwrap();
        if let Some(server) = self.server.take() {
            self.shutdown.trigger();
            server.wait().await.unwrap();
            self.shutdown = acx_runtime::Shutdown::new();
        }
        let mut server = acx_runtime::ServerConfig::local(dir);
        server.listen_addr = Some(self.addr);
        server.database_url = Some(self.database_url.clone());
        let tokens = dir.join("tokens");
        let lines = format!(
            "{} platform:acme-market\n{} service:liaison\n",
            acx_runtime::credentials::hash_token(&ingest.platform_a),
            acx_runtime::credentials::hash_token(&ingest.service)
        );
        std::fs::write(&tokens, lines).unwrap();
        server.tokens_file = Some(tokens);
        let config = acx_scoring::Config {
            ingest_url: format!("http://{}", ingest.addr),
            ingest_token: Some(ingest.service.clone().into()),
            ..acx_scoring::Config::standalone(server)
        };
        let running = acx_scoring::start(&config, self.shutdown.clone())
            .await
            .unwrap();
        self.addr = running.local_addr;
        self.server = Some(running);
    }

    async fn risk_when(
        &self,
        token: &str,
        seller_id: &str,
        check: impl Fn(&SellerRisk) -> bool,
    ) -> SellerRisk {
        let mut client = ScoringServiceClient::new(channel(self.addr).await);
        for _ in 0..100 {
            let request = GetSellerRiskRequest {
                seller: Some(seller("acme-market", seller_id)),
                cluster_id: String::new(),
            };
            if let Ok(response) = client.get_seller_risk(authorized(request, token)).await {
                let risk = response.into_inner().risk.unwrap();
                if check(&risk) {
                    return risk;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{seller_id} never matched");
    }
}

impl Drop for ScoringHarness {
    fn drop(&mut self) {
        self.shutdown.trigger();
    }
}

async fn restarts_lose_and_double_nothing(backend: acx_tests::Backend) {
    let dir = tempfile::tempdir().unwrap();
    let Some(mut ingest) = acx_tests::IngestHarness::start(backend, dir.path()).await else {
        return;
    };
    let scoring_url = match backend {
        acx_tests::Backend::Sqlite => {
            format!("sqlite://{}", dir.path().join("scoring.db").display())
        }
        acx_tests::Backend::Postgres => {
            acx_tests::fresh_postgres_database(&acx_tests::postgres_server_url().unwrap()).await
        }
    };
    let mut scoring = ScoringHarness::start(&ingest, scoring_url.clone(), dir.path()).await;
    let token = ingest.platform_a.clone();
    let ingest_addr = ingest.addr; // kept across ingest's restart
    let send = |reports: Vec<Report>| {
        let addr = ingest_addr;
        let token = token.clone();
        async move {
            IngestServiceClient::new(channel(addr).await)
                .submit_reports(authorized(SubmitReportsRequest { reports }, &token))
                .await
                .unwrap()
        }
    };

    send(
        (0..10)
            .map(|i| confirmed_finding(&format!("F-{i}"), &format!("S-{i}")))
            .collect(),
    )
    .await;
    scoring.risk_when(&token, "S-9", |_| true).await;

    // A recorded declaration and its outcome, before the restart.
    let service = ingest.service.clone();
    let mut client = ScoringServiceClient::new(channel(scoring.addr).await);
    let mut shipment = declared("D-1", "TRK-1", "640399", 10.0, 5.0, "100.00");
    shipment.seller = Some(seller("acme-market", "S-0"));
    client
        .assess_shipment(authorized(
            acx_proto::scoring::AssessShipmentRequest {
                shipment: Some(shipment),
                record: true,
            },
            &service,
        ))
        .await
        .unwrap();
    let outcome = || acx_proto::scoring::RecordOutcomeRequest {
        authority: "demo-customs".to_owned(),
        declaration_id: "D-1".to_owned(),
        kind: acx_proto::scoring::OutcomeKind::UndervaluationConfirmed as i32,
        inspect_time: None,
        extra_duty: None,
    };
    assert!(
        client
            .record_outcome(authorized(outcome(), &service))
            .await
            .unwrap()
            .into_inner()
            .recorded
    );

    // Scoring restarts, then ingest restarts, with reports arriving in between.
    scoring.restart(&ingest, dir.path()).await;
    let mut client = ScoringServiceClient::new(channel(scoring.addr).await);
    let again = client
        .record_outcome(authorized(outcome(), &service))
        .await
        .unwrap()
        .into_inner();
    assert!(
        !again.recorded,
        "the outcome and its declaration survived the restart"
    );
    send(
        (10..20)
            .map(|i| confirmed_finding(&format!("F-{i}"), &format!("S-{i}")))
            .collect(),
    )
    .await;
    ingest.restart().await;
    scoring.risk_when(&token, "S-19", |_| true).await;
    send(
        (20..25)
            .map(|i| confirmed_finding(&format!("F-{i}"), &format!("S-{i}")))
            .collect(),
    )
    .await;
    scoring.risk_when(&token, "S-24", |_| true).await;

    assert_eq!(
        scalar(
            &scoring_url,
            "SELECT CAST(COALESCE(SUM(records), 0) AS BIGINT) FROM history WHERE kind = 1"
        )
        .await,
        25,
        "every report appended to the history once"
    );
    assert_eq!(
        scalar(&scoring_url, "SELECT COUNT(*) FROM risk_history").await,
        26,
        "one history entry per account, one more for S-0's outcome: nothing counted twice"
    );
    assert_eq!(
        scalar(&scoring_url, "SELECT COUNT(*) FROM blacklist").await,
        25
    );
    assert_eq!(
        scalar(&scoring_url, "SELECT COUNT(*) FROM blacklist_changes").await,
        25
    );
    let cursor = scalar(&scoring_url, "SELECT sequence FROM feed_cursor").await;
    assert!(cursor >= 25, "the cursor is at the feed's head: {cursor}");
}

#[tokio::test]
async fn restarts_of_scoring_and_ingest_lose_and_double_nothing_on_sqlite() {
    restarts_lose_and_double_nothing(acx_tests::Backend::Sqlite).await;
}

#[tokio::test]
async fn restarts_of_scoring_and_ingest_lose_and_double_nothing_on_postgres() {
    restarts_lose_and_double_nothing(acx_tests::Backend::Postgres).await;
}

#[tokio::test]
async fn the_demo_data_shows_linked_sellers_and_the_blacklist_at_once() {
    let suite = TestSuite::start_with(true).await;
    let listed = risk_when(&suite, seller("demo-platform", "S-100"), |r| {
        tier(r) == RiskTier::Blacklisted
    })
    .await;
    let strong = risk_when(&suite, seller("demo-marketplace", "T-2"), |r| {
        tier(r) == RiskTier::Blacklisted
    })
    .await;
    let weak = risk_when(&suite, seller("demo-marketplace", "T-1"), |r| {
        r.cluster_id == listed.cluster_id
    })
    .await;
    let clean = risk_when(&suite, seller("demo-platform", "S-200"), |_| true).await;
    assert_eq!(strong.cluster_id, listed.cluster_id);
    assert_eq!(
        tier(&weak),
        RiskTier::High,
        "weakly linked: not listed, but high risk: {weak:#?}"
    );
    assert!(
        weak.reasons
            .iter()
            .any(|r| r.code == "LINKED_TO_BLACKLISTED")
    );
    // The link says what is shared, then how: "shared phone, with similar names" (as an
    // service reads it: a platform sees another platform's accounts as opaque references).
    let as_service = scoring(&suite)
        .await
        .get_seller_risk(authorized(
            GetSellerRiskRequest {
                seller: Some(seller("demo-marketplace", "T-1")),
                cluster_id: String::new(),
            },
            &suite.token("service:liaison"),
        ))
        .await
        .unwrap()
        .into_inner()
        .risk
        .unwrap();
    let link = as_service
        .reasons
        .iter()
        .find(|r| r.code == "LINKED_TO_BLACKLISTED")
        .unwrap_or_else(|| panic!("{as_service:#?}"));
    assert!(
        link.evidence.contains(
            &"demo-marketplace/T-1 and demo-platform/S-100: shared phone, with similar names"
                .to_owned()
        ),
        "{:?}",
        link.evidence
    );
    assert_eq!(tier(&clean), RiskTier::Low);
    assert_ne!(clean.cluster_id, listed.cluster_id);

    let again = acx_suite::demo::load(
        suite.ingest,
        &suite.token(PLATFORM_A),
        &suite.token(PLATFORM_B),
    )
    .await
    .unwrap();
    assert_eq!(again, 0, "loading the demo again changes nothing");
}

#[tokio::test]
async fn an_entity_check_finds_a_listed_seller_by_its_bank_account_or_its_name() {
    use acx_proto::scoring::CheckEntityRequest;
    let suite = TestSuite::start_with(true).await;
    let listed = risk_when(&suite, seller("demo-platform", "S-100"), |r| {
        tier(r) == RiskTier::Blacklisted
    })
    .await;
    risk_when(&suite, seller("demo-marketplace", "T-3"), |_| true).await; // the whole demo is in
    let token = suite.token(PLATFORM_B);
    let mut client = scoring(&suite).await;

    let by_bank = client
        .check_entity(authorized(
            CheckEntityRequest {
                name: "Sunrise Gadgets".to_owned(),
                country: "CN".to_owned(),
                identifiers: Some(bank("GB82-WEST-1234-5698-7654-32")),
                max_matches: 0,
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    let top = &by_bank.matches[0];
    assert_eq!(top.cluster_id, listed.cluster_id);
    assert!(top.blacklisted);
    assert_eq!(top.matched_features, ["bank_account"]);
    assert!((top.match_score - 0.9).abs() < 1e-9);
    assert!(top.accounts.contains(&seller("demo-marketplace", "T-2")));

    let by_name = client
        .check_entity(authorized(
            CheckEntityRequest {
                name: "NORDIC LAMP CO.".to_owned(),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_name.matches.len(), 1);
    assert_eq!(
        by_name.matches[0].accounts,
        [seller("demo-marketplace", "T-3")]
    );
    assert!(!by_name.matches[0].blacklisted);

    let bad = client
        .check_entity(authorized(
            CheckEntityRequest {
                identifiers: Some(Identifiers {
                    emails: vec!["nobody".to_owned()],
                    ..Default::default()
                }),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert!(
        bad.message().contains("identifiers.emails[0]"),
        "{}",
        bad.message()
    );
    let empty = client
        .check_entity(authorized(CheckEntityRequest::default(), &token))
        .await
        .unwrap_err();
    assert_eq!(empty.code(), Code::InvalidArgument);
}

fn declared(
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

#[tokio::test]
async fn a_declared_value_far_below_marketplace_and_peer_prices_is_flagged_and_a_normal_one_is_not()
{
    use acx_proto::scoring::{AssessShipmentRequest, Lane};
    let suite = TestSuite::start_with(true).await;
    risk_when(&suite, seller("demo-marketplace", "T-3"), |_| true).await;
    let service = suite.token("service:liaison");
    let client = scoring(&suite).await;
    let assess = |shipment, record| {
        let request = authorized(
            AssessShipmentRequest {
                shipment: Some(shipment),
                record,
            },
            &service,
        );
        let mut client = client.clone();
        async move {
            client
                .assess_shipment(request)
                .await
                .map(|r| r.into_inner().assessment.unwrap())
        }
    };

    // The demo's 500 earbuds sold at 24.99 on the platform, declared at 2.00 each.
    let low = assess(
        declared(
            "D-LOW",
            "1Z 999 AA1 0123 4567 84",
            "8518.30.00",
            500.0,
            40.0,
            "1000.00",
        ),
        false,
    )
    .await
    .unwrap();
    assert_eq!(
        low.matched_shipment_notice,
        "reports/demo-platform/demo-N-100"
    );
    let anomaly = &low.lines[0].anomalies[0];
    assert_eq!(anomaly.code, "DECLARED_VALUE_BELOW_MARKET");
    assert!((anomaly.ratio - 2.0 / 24.99).abs() < 0.01, "{anomaly:?}");
    assert!(anomaly.estimated_gap_usd > 10_000.0);
    assert_eq!(low.lane(), Lane::Red);
    assert_eq!(
        low.seller_risk.as_ref().unwrap().tier(),
        RiskTier::Blacklisted,
        "the notice's seller is listed"
    );
    assert!(low.reasons.iter().any(|r| r.code == "SELLER_BLACKLISTED"));

    // Comparable declarations around 30 USD/kg, recorded, then one at 3 USD/kg.
    for i in 0..30 {
        let total = format!("{:.2}", 300.0 + f64::from(i) * 2.0);
        assess(
            declared(
                &format!("D-{i}"),
                &format!("TRK{i}"),
                "950300",
                100.0,
                10.0,
                &total,
            ),
            true,
        )
        .await
        .unwrap();
    }
    let mut cheap_one = declared("D-CHEAP", "TRK-X", "950300", 100.0, 10.0, "30.00");
    cheap_one.seller = Some(seller("demo-platform", "S-200"));
    let cheap = assess(cheap_one, true).await.unwrap();
    let codes: Vec<&str> = cheap.lines[0]
        .anomalies
        .iter()
        .map(|a| a.code.as_str())
        .collect();
    assert!(codes.contains(&"DECLARED_VALUE_BELOW_PEERS"), "{cheap:#?}");
    assert!(
        codes.contains(&"DECLARED_VALUE_BELOW_IMPORTER_HISTORY"),
        "{cheap:#?}"
    );
    let peer = cheap.lines[0]
        .anomalies
        .iter()
        .find(|a| a.code == "DECLARED_VALUE_BELOW_PEERS")
        .unwrap();
    assert_eq!(peer.comparison_group, "HS 950300 from CN");
    assert!(
        peer.expected_low > 25.0 && peer.expected_high < 40.0,
        "{peer:?}"
    );
    assert_ne!(cheap.lane(), Lane::Green);

    // The anomaly weighs on the seller behind the shipment, but never lists it.
    let weighed = risk_when(&suite, seller("demo-platform", "S-200"), |r| {
        r.reasons
            .iter()
            .any(|reason| reason.code == "DECLARED_VALUE_ANOMALIES")
    })
    .await;
    assert!(weighed.score > 0.0);
    assert_ne!(tier(&weighed), RiskTier::Blacklisted);
    // A platform sees customs' evidence by kind and opaque reference (docs/services.md, ingest).
    assert!(
        weighed.reasons[0]
            .evidence
            .iter()
            .any(|name| name.starts_with("evidence/declaration/")),
        "{weighed:#?}"
    );

    let normal = assess(
        declared("D-OK", "TRK-Y", "950300", 100.0, 10.0, "320.00"),
        false,
    )
    .await
    .unwrap();
    assert!(normal.lines[0].anomalies.is_empty(), "{normal:#?}");
    assert!(normal.risk < 0.3);

    // Only internal services assess; bad input names its fields.
    let denied = scoring(&suite)
        .await
        .assess_shipment(authorized(
            AssessShipmentRequest::default(),
            &suite.token(PLATFORM_A),
        ))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    let bad = assess(declared("", "T", "12", -1.0, 1.0, "1"), false)
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    // Every field is in the BadRequest details; the message names the first and counts
    // the others.
    let details = tonic_types::StatusExt::get_error_details(&bad);
    let fields: Vec<&str> = details
        .bad_request()
        .unwrap()
        .field_violations
        .iter()
        .map(|v| v.field.as_str())
        .collect();
    for field in [
        "shipment.declaration_id",
        "shipment.lines[0].hs_code",
        "shipment.lines[0].quantity",
    ] {
        assert!(fields.contains(&field), "{field} in {fields:?}");
    }
    assert!(
        bad.message().contains("shipment.declaration_id"),
        "{}",
        bad.message()
    );
}

#[tokio::test]
async fn outcomes_shift_later_assessments_and_a_seizure_lists_the_seller() {
    use acx_proto::scoring::{AssessShipmentRequest, OutcomeKind, RecordOutcomeRequest};
    let suite = TestSuite::start_with(true).await;
    risk_when(&suite, seller("demo-marketplace", "T-3"), |_| true).await;
    let service = suite.token("service:liaison");
    let client = scoring(&suite).await;
    let assess = |shipment: acx_proto::scoring::DeclaredShipment, record: bool| {
        let request = authorized(
            AssessShipmentRequest {
                shipment: Some(shipment),
                record,
            },
            &service,
        );
        let mut client = client.clone();
        async move {
            client
                .assess_shipment(request)
                .await
                .unwrap()
                .into_inner()
                .assessment
                .unwrap()
        }
    };
    let outcome = |id: &str, kind: OutcomeKind| {
        let request = authorized(
            RecordOutcomeRequest {
                authority: "demo-customs".to_owned(),
                declaration_id: id.to_owned(),
                kind: kind as i32,
                inspect_time: None,
                extra_duty: None,
            },
            &service,
        );
        let mut client = client.clone();
        async move {
            client
                .record_outcome(request)
                .await
                .map(|r| r.into_inner().recorded)
        }
    };
    let from = |id: &str, importer: &str| {
        let mut shipment = declared(id, &format!("TRK-{id}"), "640399", 100.0, 50.0, "900.00");
        shipment.importer_id = importer.to_owned();
        shipment
    };

    // A background of cleared inspections, then an importer caught three times.
    for i in 0..20 {
        assess(from(&format!("C-{i}"), &format!("GOOD-{}", i % 5)), true).await;
        assert!(
            outcome(&format!("C-{i}"), OutcomeKind::Cleared)
                .await
                .unwrap()
        );
    }
    let before = assess(from("NEXT-0", "IMP-BAD"), false).await;
    for i in 0..3 {
        assess(from(&format!("B-{i}"), "IMP-BAD"), true).await;
        assert!(
            outcome(&format!("B-{i}"), OutcomeKind::UndervaluationConfirmed)
                .await
                .unwrap()
        );
    }
    let after = assess(from("NEXT-1", "IMP-BAD"), false).await;
    assert!(
        after.risk > before.risk,
        "outcomes raise the importer's risk: {} -> {}",
        before.risk,
        after.risk
    );
    let profile = after
        .reasons
        .iter()
        .find(|r| r.code == "PROFILE_IMPORTER")
        .expect("importer profile reason");
    assert!(
        profile.description.contains("3 of 3"),
        "{}",
        profile.description
    );
    let good = assess(from("NEXT-2", "GOOD-1"), false).await;
    assert!(
        !good.reasons.iter().any(|r| r.code == "PROFILE_IMPORTER"),
        "a clean record adds nothing"
    );

    // Repeats change nothing; unknown declarations are not found.
    assert!(
        !outcome("B-0", OutcomeKind::UndervaluationConfirmed)
            .await
            .unwrap()
    );
    assert_eq!(
        outcome("NOPE", OutcomeKind::Cleared)
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    assert_eq!(
        outcome("B-1", OutcomeKind::Unspecified)
            .await
            .unwrap_err()
            .code(),
        Code::InvalidArgument
    );

    // A seizure on a declaration naming a clean seller lists it, with the outcome as evidence.
    let mut seized = from("S-1", "IMP-X");
    seized.seller = Some(seller("demo-platform", "S-200"));
    assess(seized, true).await;
    assert!(
        outcome("S-1", OutcomeKind::CounterfeitSeized)
            .await
            .unwrap()
    );
    let listed = risk_when(&suite, seller("demo-platform", "S-200"), |r| {
        tier(r) == RiskTier::Blacklisted
    })
    .await;
    assert!(
        listed.reasons.iter().any(|r| r
            .evidence
            .iter()
            .any(|name| name.starts_with("evidence/outcome/"))),
        "{listed:#?}"
    );
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
