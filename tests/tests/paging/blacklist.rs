//! Scoring's lists through the whole suite (platforms report to ingest, scoring follows):
//! ListBlacklist walked while accounts are listed and delisted (a copy made of its pages,
//! brought up to date with the changes after its cursor, is the blacklist; no account
//! twice), ListBlacklistChanges walked while changes arrive (each change once, in order:
//! exactly the listings and delistings the test caused), and ListSellerRiskHistory walked
//! while the account's risk keeps changing (against the history as stored in the database).

use std::{collections::BTreeMap, time::Duration};

use acx_proto::{
    common::RiskTier,
    ingest::{
        Report, ReportOutcome, Retraction, RetractionReason, SubmitReportsRequest,
        ingest_service_client::IngestServiceClient, report::Kind,
    },
    scoring::{
        BlacklistChangeType, BlacklistEntry, GetSellerRiskRequest, ListBlacklistChangesRequest,
        ListBlacklistRequest, ListSellerRiskHistoryRequest, SellerRiskChange,
        scoring_service_client::ScoringServiceClient,
    },
};
use acx_tests::{TestSuite, authorized, channel, fixtures::confirmed_finding};
use prost::Message;
use rand::{Rng, rngs::StdRng, seq::IteratorRandom};
use tonic::transport::Channel;

use crate::{seeded, seller};

pub(crate) const PLATFORM: &str = "demo-platform";

/// The suite with a record of what the test listed and delisted.
pub(crate) struct Exchange {
    pub(crate) suite: TestSuite,
    ingest: IngestServiceClient<Channel>,
    pub(crate) scoring: ScoringServiceClient<Channel>,
    reporter: String,
    /// Listed sellers, with the id of the finding that listed them.
    listed: BTreeMap<String, String>,
    /// Every change the test caused, in order: (listed?, seller id).
    changes: Vec<(bool, String)>,
    reports: usize,
}

impl Exchange {
    pub(crate) async fn start() -> Self {
        let suite = TestSuite::start().await;
        Self {
            ingest: IngestServiceClient::new(channel(suite.ingest).await),
            scoring: ScoringServiceClient::new(channel(suite.scoring).await),
            reporter: suite.token(&format!("platform:{PLATFORM}")),
            suite,
            listed: BTreeMap::new(),
            changes: Vec::new(),
            reports: 0,
        }
    }

    async fn report(&mut self, report: Report) {
        let results = self
            .ingest
            .submit_reports(authorized(
                SubmitReportsRequest {
                    reports: vec![report],
                },
                &self.reporter,
            ))
            .await
            .unwrap()
            .into_inner()
            .results;
        assert_eq!(results[0].outcome(), ReportOutcome::Accepted, "{results:?}");
    }

    /// Waits until scoring shows `seller_id` listed or not.
    async fn settled(&mut self, seller_id: &str, listed: bool) {
        for _ in 0..400 {
            let request = GetSellerRiskRequest {
                seller: Some(seller(PLATFORM, seller_id)),
                cluster_id: String::new(),
            };
            if let Ok(answer) = self
                .scoring
                .get_seller_risk(authorized(request, &self.reporter))
                .await
            {
                let tier = answer.into_inner().risk.unwrap().tier();
                if (tier == RiskTier::Blacklisted) == listed {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("scoring never showed {seller_id} listed = {listed}");
    }

    /// Lists `seller_id` with a confirmed finding.
    pub(crate) async fn list(&mut self, seller_id: &str) {
        self.reports += 1;
        let id = format!("F-{}", self.reports);
        let finding = Report {
            report_id: id.clone(),
            kind: Some(Kind::CounterfeitFinding(confirmed_finding(
                seller_id,
                Some(prost_types::Timestamp {
                    seconds: 1_760_000_000,
                    nanos: 0,
                }),
            ))),
        };
        self.report(finding).await;
        self.settled(seller_id, true).await;
        self.listed.insert(seller_id.to_owned(), id);
        self.changes.push((true, seller_id.to_owned()));
    }

    /// Delists `seller_id` by retracting its finding.
    pub(crate) async fn delist(&mut self, seller_id: &str) {
        let finding = self.listed.remove(seller_id).unwrap();
        self.reports += 1;
        let retraction = Report {
            report_id: format!("R-{}", self.reports),
            kind: Some(Kind::Retraction(Retraction {
                retracted_report_id: finding,
                reason: RetractionReason::AppealUpheld as i32,
                note: "appeal upheld".to_owned(),
            })),
        };
        self.report(retraction).await;
        self.settled(seller_id, false).await;
        self.changes.push((false, seller_id.to_owned()));
    }

    /// Lists a seller of `pool` that is not listed, or delists one that is.
    async fn change(&mut self, rng: &mut StdRng, pool: &[String]) {
        let listed: Vec<&String> = pool
            .iter()
            .filter(|s| self.listed.contains_key(*s))
            .collect();
        let unlisted: Vec<&String> = pool
            .iter()
            .filter(|s| !self.listed.contains_key(*s))
            .collect();
        if !listed.is_empty() && (unlisted.is_empty() || rng.random_bool(0.4)) {
            let seller_id = listed.into_iter().choose(rng).unwrap().clone();
            self.delist(&seller_id).await;
        } else if let Some(seller_id) = unlisted.into_iter().choose(rng) {
            let seller_id = seller_id.clone();
            self.list(&seller_id).await;
        }
    }
}

fn key(entry: &BlacklistEntry) -> (String, String) {
    let seller = entry.seller.clone().unwrap_or_default();
    (seller.platform, seller.seller_id)
}

#[tokio::test]
async fn a_blacklist_copy_from_pages_and_changes_is_the_blacklist() {
    let mut exchange = Exchange::start().await;
    let (seed, mut rng) = seeded();
    let pool: Vec<String> = (0..24).map(|i| format!("S-{i}")).collect();
    let reader = exchange.suite.token("platform:demo-marketplace");
    let mut scoring = exchange.scoring.clone();
    for case in 0..12 {
        for _ in 0..rng.random_range(1..6) {
            exchange.change(&mut rng, &pool).await;
        }
        let at_first_page = exchange.listed.clone();
        let mut request = ListBlacklistRequest::default();
        let mut copy: BTreeMap<(String, String), BlacklistEntry> = BTreeMap::new();
        let mut walked = Vec::new();
        let mut cursor = None;
        let mut sizes = Vec::new();
        loop {
            request.page_size = rng.random_range(1..=3);
            sizes.push(request.page_size);
            let page = scoring
                .list_blacklist(authorized(request.clone(), &reader))
                .await
                .unwrap()
                .into_inner();
            assert!(page.entries.len() <= request.page_size as usize);
            assert_eq!(
                *cursor.get_or_insert(page.changes_cursor),
                page.changes_cursor
            );
            for entry in page.entries {
                walked.push(key(&entry));
                copy.insert(key(&entry), entry);
            }
            if page.next_page_token.is_empty() {
                break;
            }
            assert!(sizes.len() < 1000, "the listing never ends");
            request.page_token = page.next_page_token;
            if rng.random_bool(0.5) {
                exchange.change(&mut rng, &pool).await;
            }
        }
        let context = format!("seed {seed} (ACX_PAGING_SEED), case {case}, page sizes {sizes:?}");
        let mut unique = walked.clone();
        unique.dedup();
        assert_eq!(unique, walked, "in order, no account twice: {context}");
        // Listed throughout: still listed by the same finding (a seller delisted and listed
        // again during the walk may rightly be missed by it; the changes bring it back).
        for (seller_id, finding) in &at_first_page {
            if exchange.listed.get(seller_id) == Some(finding) {
                let account = (PLATFORM.to_owned(), seller_id.clone());
                assert!(
                    walked.contains(&account),
                    "{seller_id} listed throughout: {context}"
                );
            }
        }
        // Follow the changes from the cursor of the first page.
        let changes = scoring
            .list_blacklist_changes(authorized(
                ListBlacklistChangesRequest {
                    after_cursor: cursor.unwrap(),
                    page_size: 1000,
                },
                &reader,
            ))
            .await
            .unwrap()
            .into_inner()
            .changes;
        for change in changes {
            let entry = change.entry.clone().unwrap();
            match change.r#type() {
                BlacklistChangeType::Delisted => copy.remove(&key(&entry)),
                _ => copy.insert(key(&entry), entry),
            };
        }
        let copied: Vec<String> = copy.keys().map(|(_, s)| s.clone()).collect();
        let truth: Vec<String> = exchange.listed.keys().cloned().collect();
        assert_eq!(copied, truth, "{context}");
    }
}

#[tokio::test]
async fn the_change_feed_gives_each_change_once_in_order() {
    let mut exchange = Exchange::start().await;
    let (seed, mut rng) = seeded();
    let pool: Vec<String> = (0..8).map(|i| format!("S-{i}")).collect();
    let reader = exchange.suite.token("platform:demo-marketplace");
    let mut scoring = exchange.scoring.clone();
    for case in 0..10 {
        let from = exchange.changes.len();
        let start = scoring
            .list_blacklist(authorized(ListBlacklistRequest::default(), &reader))
            .await
            .unwrap()
            .into_inner()
            .changes_cursor;
        for _ in 0..rng.random_range(0..5) {
            exchange.change(&mut rng, &pool).await;
        }
        let mut cursor = start;
        let mut got = Vec::new();
        let mut sizes = Vec::new();
        loop {
            let size = rng.random_range(1..=4);
            sizes.push(size);
            let page = scoring
                .list_blacklist_changes(authorized(
                    ListBlacklistChangesRequest {
                        after_cursor: cursor,
                        page_size: size,
                    },
                    &reader,
                ))
                .await
                .unwrap()
                .into_inner();
            assert!(page.changes.len() <= size as usize);
            let empty = page.changes.is_empty();
            for change in page.changes {
                assert!(change.cursor > cursor, "seed {seed}, case {case}");
                cursor = change.cursor;
                let listed = change.r#type() != BlacklistChangeType::Delisted;
                got.push((listed, key(&change.entry.unwrap()).1));
            }
            assert_eq!(page.next_cursor, cursor);
            if empty && sizes.len() > 1 {
                break;
            }
            assert!(sizes.len() < 1000, "the feed never ends");
            // Changes arriving while the feed is read come on later pages.
            if rng.random_bool(0.3) {
                exchange.change(&mut rng, &pool).await;
            }
        }
        assert_eq!(
            got,
            exchange.changes[from..],
            "seed {seed} (ACX_PAGING_SEED), case {case}, page sizes {sizes:?}"
        );
    }
}

/// The account's history as stored, newest first (the brute-force listing).
async fn stored_history(suite: &TestSuite, seller_id: &str) -> Vec<SellerRiskChange> {
    use sqlx::Connection;
    let path = suite.data_dir.path().join("scoring.db");
    let mut connection = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let rows: Vec<(Vec<u8>,)> = sqlx::query_as(
        "SELECT change FROM risk_history WHERE platform = $1 AND seller_id = $2 ORDER BY id DESC",
    )
    .bind(PLATFORM)
    .bind(seller_id)
    .fetch_all(&mut connection)
    .await
    .unwrap();
    rows.into_iter()
        .map(|(bytes,)| SellerRiskChange::decode(bytes.as_slice()).unwrap())
        .collect()
}

#[tokio::test]
async fn a_risk_history_lists_each_entry_once_newest_first() {
    let mut exchange = Exchange::start().await;
    let (seed, mut rng) = seeded();
    let pool = vec!["S-H".to_owned()];
    let reader = exchange.suite.token("platform:demo-marketplace");
    let mut scoring = exchange.scoring.clone();
    for case in 0..8 {
        for _ in 0..rng.random_range(1..4) {
            exchange.change(&mut rng, &pool).await;
        }
        let want = stored_history(&exchange.suite, "S-H").await;
        let mut request = ListSellerRiskHistoryRequest {
            seller: Some(seller(PLATFORM, "S-H")),
            ..Default::default()
        };
        let mut got = Vec::new();
        let mut sizes = Vec::new();
        loop {
            request.page_size = rng.random_range(1..=3);
            sizes.push(request.page_size);
            let page = scoring
                .list_seller_risk_history(authorized(request.clone(), &reader))
                .await
                .unwrap()
                .into_inner();
            assert!(page.changes.len() <= request.page_size as usize);
            got.extend(page.changes);
            if page.next_page_token.is_empty() {
                break;
            }
            assert!(sizes.len() < 1000, "the listing never ends");
            request.page_token = page.next_page_token;
            // New entries (the account listed or delisted again) are not in this listing.
            if rng.random_bool(0.5) {
                exchange.change(&mut rng, &pool).await;
            }
        }
        assert_eq!(
            got, want,
            "seed {seed} (ACX_PAGING_SEED), case {case}, page sizes {sizes:?}"
        );
    }
}
