//! Identifiers and names as platforms and customs really send them, end to end: accepted by
//! ingest, hashed like their plain forms, linked (or kept apart) by scoring, found by entity
//! checks through scoring and liaison; invalid ones left out with a warning; GTINs as one
//! product whatever their length (`forms`); and hashes stored under the previous
//! normalisation, recognised after the upgrade (`versions`). The reports, submissions and
//! reads both use are here.

#![allow(clippy::unwrap_used)]

mod bank_accounts;
mod false_links;
mod forms;
mod registers;
mod shared_domains;
mod versions;

use std::time::Duration;

use acx_proto::{
    common::{Identifiers, SellerAccountRef},
    ingest::{
        Report, ReportOutcome, ReportResult, SellerProfile, SubmitReportsRequest,
        ingest_service_client::IngestServiceClient, report::Kind,
    },
    scoring::{
        CheckEntityRequest, GetSellerRiskRequest, SellerRisk,
        scoring_service_client::ScoringServiceClient,
    },
};
use acx_tests::{
    TestSuite, authorized, channel,
    fixtures::{confirmed_finding, seconds_ago},
};

const PLATFORM_A: &str = "platform:demo-platform";
const PLATFORM_B: &str = "platform:demo-marketplace";

fn now_minus(seconds: i64) -> Option<prost_types::Timestamp> {
    Some(seconds_ago(seconds))
}

fn profile(id: &str, seller: &str, name: &str, country: &str, ids: Identifiers) -> Report {
    Report {
        report_id: id.to_owned(),
        kind: Some(Kind::SellerProfile(SellerProfile {
            seller_id: seller.to_owned(),
            display_name: name.to_owned(),
            country: country.to_owned(),
            identifiers: Some(ids),
            observe_time: now_minus(3600),
            ..Default::default()
        })),
    }
}

fn confirmed(id: &str, seller: &str) -> Report {
    Report {
        report_id: id.to_owned(),
        kind: Some(Kind::CounterfeitFinding(confirmed_finding(
            seller,
            now_minus(1800),
        ))),
    }
}

fn phones(numbers: &[&str]) -> Identifiers {
    Identifiers {
        phones: numbers.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

async fn submit_to(
    addr: std::net::SocketAddr,
    token: &str,
    reports: Vec<Report>,
) -> Vec<ReportResult> {
    IngestServiceClient::new(channel(addr).await)
        .submit_reports(authorized(SubmitReportsRequest { reports }, token))
        .await
        .unwrap()
        .into_inner()
        .results
}

async fn submit(suite: &TestSuite, principal: &str, reports: Vec<Report>) -> Vec<ReportResult> {
    submit_to(suite.ingest, &suite.token(principal), reports).await
}

async fn accept(suite: &TestSuite, principal: &str, reports: Vec<Report>) {
    let results = submit(suite, principal, reports).await;
    assert!(
        results
            .iter()
            .all(|r| r.outcome() == ReportOutcome::Accepted && r.warnings.is_empty()),
        "{results:#?}"
    );
}

fn account(platform: &str, seller: &str) -> SellerAccountRef {
    SellerAccountRef {
        platform: platform.to_owned(),
        seller_id: seller.to_owned(),
    }
}

/// The account's risk once scoring knows it (the feed is asynchronous).
async fn risk(suite: &TestSuite, who: SellerAccountRef) -> SellerRisk {
    let token = suite.token(PLATFORM_A);
    let mut client = ScoringServiceClient::new(channel(suite.scoring).await);
    for _ in 0..200 {
        let request = GetSellerRiskRequest {
            seller: Some(who.clone()),
            cluster_id: String::new(),
        };
        if let Ok(response) = client.get_seller_risk(authorized(request, &token)).await {
            return response.into_inner().risk.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("scoring never knew {who:?}");
}

async fn check_entity(
    suite: &TestSuite,
    name: &str,
    country: &str,
    ids: Identifiers,
) -> Vec<acx_proto::scoring::EntityMatch> {
    ScoringServiceClient::new(channel(suite.scoring).await)
        .check_entity(authorized(
            CheckEntityRequest {
                name: name.to_owned(),
                country: country.to_owned(),
                identifiers: Some(ids),
                max_matches: 0,
            },
            &suite.token(PLATFORM_B),
        ))
        .await
        .unwrap()
        .into_inner()
        .matches
}
