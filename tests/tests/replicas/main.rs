//! Scoring replicas over one database: they apply one history, so they answer the same;
//! stored effects are written once; a write through one is read through the other at the
//! position it returned; a replica starting from a snapshot and the history's tail agrees
//! with one that applied everything; a replica is NOT_SERVING until it has caught up. And
//! every service over PostgreSQL answers a write whose connection was lost UNAVAILABLE.

#![allow(clippy::unwrap_used)]

mod batches;
mod feed;
mod liaisons;
mod lost;
mod settings;
mod start;
mod targeting;
mod vanished;

use std::time::Duration;

use acx_proto::{
    common::{ConsignmentNumbers, Identifiers, Money, SellerAccountRef},
    ingest::{
        CounterfeitFinding, Report, ReportOutcome, SellerProfile, SubmitReportsRequest,
        ingest_service_client::IngestServiceClient, report::Kind,
    },
    liaison::{
        CheckSellerRequest, Declaration, DeclarationOutcome, GetShipmentRequest, InspectionResult,
        RecordInspectionResultRequest, SubmitDeclarationsRequest, WatchAlertsRequest,
        liaison_service_client::LiaisonServiceClient,
    },
    scoring::{
        AssessShipmentRequest, BatchGetSellerRisksRequest, BlacklistChangeType, BlacklistEntry,
        DeclaredLine, DeclaredShipment, GetSellerRiskRequest, Lane, ListBlacklistChangesRequest,
        ListBlacklistRequest, OutcomeKind, RecordOutcomeRequest, SellerRisk,
        scoring_service_client::ScoringServiceClient,
    },
};
use acx_tests::{
    Backend, IngestHarness, authorized, channel,
    fixtures::{self, get_shipment, scalar, seconds_ago, server_config},
};
use tonic::{Code, Request, Status, transport::Channel};
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

const PLATFORM: &str = "acme-market";

/// One scoring replica in this process.
struct Replica {
    addr: std::net::SocketAddr,
    shutdown: acx_runtime::Shutdown,
    server: Option<acx_runtime::RunningServer>,
}

impl Replica {
    /// Starts a replica on `database_url`; with `ingest`, it competes for the feed lease.
    async fn start(
        ingest: Option<&IngestHarness>,
        token: &str,
        database_url: &str,
        dir: &std::path::Path,
        snapshot_every_entries: i64,
    ) -> Self {
        let mut config = replica_config(token, database_url, dir);
        if let Some(ingest) = ingest {
            config.ingest_url = format!("http://{}", ingest.addr);
            config.ingest_token = Some(ingest.service.clone().into());
        }
        config.snapshot_every_entries = snapshot_every_entries;
        Self::start_with(&config).await.unwrap()
    }

    /// Starts a replica as `config` says.
    async fn start_with(config: &acx_scoring::Config) -> Result<Self, acx_scoring::Error> {
        let shutdown = acx_runtime::Shutdown::new();
        let running = acx_scoring::start(config, shutdown.clone()).await?;
        Ok(Self {
            addr: running.local_addr,
            shutdown,
            server: Some(running),
        })
    }

    async fn client(&self) -> ScoringServiceClient<Channel> {
        ScoringServiceClient::new(channel(self.addr).await)
    }

    async fn stop(&mut self) {
        self.shutdown.trigger();
        if let Some(server) = self.server.take() {
            server.wait().await.unwrap();
        }
    }

    /// Health, once it is SERVING (1) or after 10 s: it follows readiness on the health
    /// watcher's next round, a moment after reads are answered.
    async fn health_once_serving(&self) -> i32 {
        let mut status = 0;
        for _ in 0..100 {
            status = self.health().await;
            if status == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        status
    }

    async fn health(&self) -> i32 {
        HealthClient::new(channel(self.addr).await)
            .check(HealthCheckRequest {
                service: acx_scoring::SERVICE_NAME.to_owned(),
            })
            .await
            .unwrap()
            .into_inner()
            .status
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.shutdown.trigger();
    }
}

/// The settings of a replica on `database_url` that follows no feed, answering liaison's
/// `token` and its [`reader`] and [`operator`].
fn replica_config(token: &str, database_url: &str, dir: &std::path::Path) -> acx_scoring::Config {
    std::fs::create_dir_all(dir).unwrap();
    let mut server = acx_runtime::ServerConfig::local(dir);
    server.listen_addr = Some("127.0.0.1:0".parse().unwrap());
    server.database_url = Some(database_url.to_owned());
    let tokens = dir.join("tokens");
    std::fs::write(
        &tokens,
        format!(
            "{} service:liaison\n{} platform:reader\n{} service:operator\n",
            acx_runtime::credentials::hash_token(token),
            acx_runtime::credentials::hash_token(&reader(token)),
            acx_runtime::credentials::hash_token(&operator(token)),
        ),
    )
    .unwrap();
    server.tokens_file = Some(tokens);
    acx_scoring::Config::standalone(server)
}

/// The token of a platform (`platform:reader`) on replicas started with `token` (which is
/// liaison's): the blacklist and batch risk reads are for platforms only.
fn reader(token: &str) -> String {
    format!("{token}-reader")
}

/// The token of an operator (`service:operator`) on replicas started with `token`: it
/// starts trainings.
fn operator(token: &str) -> String {
    format!("{token}-operator")
}

/// `message` with credentials, asking for history position `min` at least.
fn at_least<T>(message: T, token: &str, min: i64) -> Request<T> {
    let mut request = authorized(message, token);
    request
        .metadata_mut()
        .insert("acx-min-position", min.to_string().parse().unwrap());
    request
}

/// The history position an answer reflects.
fn position<T>(response: &tonic::Response<T>) -> i64 {
    response
        .metadata()
        .get("acx-applied-position")
        .expect("every answer says its position")
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

const HEAD: &str = "SELECT COALESCE(MAX(position), 0) FROM history";
const REPORTS: &str =
    "SELECT CAST(COALESCE(SUM(records), 0) AS BIGINT) FROM history WHERE kind = 1";

fn seller(i: usize) -> SellerAccountRef {
    SellerAccountRef {
        platform: PLATFORM.to_owned(),
        seller_id: format!("S-{i}"),
    }
}

/// A day ago.
fn observed() -> Option<prost_types::Timestamp> {
    Some(seconds_ago(86_400))
}

/// A valid German IBAN for account number `n` (ingest checks the check digits).
fn iban(n: usize) -> String {
    let bban = format!("37040044{n:010}");
    // ISO 13616: the BBAN, then "DE00" as digits (D = 13, E = 14), modulo 97.
    let remainder = format!("{bban}131400").bytes().fold(0u32, |rest, digit| {
        (rest * 10 + u32::from(digit - b'0')) % 97
    });
    format!("DE{:02}{bban}", 98 - remainder)
}

/// Sellers `range`: pairs (2k, 2k+1) share a bank account (a strong link); every tenth
/// has a confirmed finding (so it and its partner are listed).
fn reports(range: std::ops::Range<usize>) -> Vec<Report> {
    let mut reports = Vec::new();
    for i in range {
        reports.push(Report {
            report_id: format!("P-{i}"),
            kind: Some(Kind::SellerProfile(SellerProfile {
                seller_id: format!("S-{i}"),
                display_name: format!("Store {i}"),
                country: "CN".to_owned(),
                identifiers: Some(Identifiers {
                    bank_accounts: vec![iban(i / 2)],
                    ..Default::default()
                }),
                observe_time: observed(),
                ..Default::default()
            })),
        });
        if i % 10 == 0 {
            reports.push(Report {
                report_id: format!("F-{i}"),
                kind: Some(Kind::CounterfeitFinding(CounterfeitFinding {
                    seller: Some(seller(i)),
                    ..fixtures::confirmed_finding("", observed())
                })),
            });
        }
    }
    reports
}

/// Submits `reports` to ingest in batches and waits until the history holds `total`.
async fn submit(ingest: &IngestHarness, reports: Vec<Report>, database_url: &str, total: i64) {
    let mut client = IngestServiceClient::new(channel(ingest.addr).await);
    for batch in reports.chunks(500) {
        let results = client
            .submit_reports(authorized(
                SubmitReportsRequest {
                    reports: batch.to_vec(),
                },
                &ingest.platform_a,
            ))
            .await
            .unwrap()
            .into_inner()
            .results;
        let rejected: Vec<_> = results
            .iter()
            .filter(|r| r.outcome != ReportOutcome::Accepted as i32)
            .take(3)
            .collect();
        assert!(rejected.is_empty(), "{rejected:?}");
    }
    for _ in 0..600 {
        if scalar(database_url, REPORTS).await >= total {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the history never held {total} reports");
}

/// Every seller's risk in `0..sellers` as answered by `replica` at position `min`.
async fn risks(replica: &Replica, token: &str, sellers: usize, min: i64) -> Vec<SellerRisk> {
    let mut client = replica.client().await;
    let mut all = Vec::new();
    for start in (0..sellers).step_by(1000) {
        let response = client
            .batch_get_seller_risks(at_least(
                BatchGetSellerRisksRequest {
                    sellers: (start..sellers.min(start + 1000)).map(seller).collect(),
                },
                &reader(token),
                min,
            ))
            .await
            .unwrap();
        assert!(position(&response) >= min);
        let response = response.into_inner();
        assert!(response.not_found.is_empty(), "{:?}", response.not_found);
        all.extend(response.risks);
    }
    all
}

/// The whole blacklist as answered by `replica` at position `min`.
async fn blacklist(replica: &Replica, token: &str, min: i64) -> Vec<BlacklistEntry> {
    let mut client = replica.client().await;
    let mut entries = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_blacklist(at_least(
                ListBlacklistRequest {
                    page_size: 100,
                    page_token: page_token.clone(),
                },
                &reader(token),
                min,
            ))
            .await
            .unwrap()
            .into_inner();
        entries.extend(page.entries);
        if page.next_page_token.is_empty() {
            return entries;
        }
        page_token = page.next_page_token;
    }
}

fn declaration(id: &str, seller_index: usize) -> DeclaredShipment {
    DeclaredShipment {
        declaration_id: id.to_owned(),
        authority: "customs-x".to_owned(),
        importer_id: "IMP-1".to_owned(),
        origin_country: "CN".to_owned(),
        customs_office: "USLAX".to_owned(),
        seller: Some(seller(seller_index)),
        consignment: Some(ConsignmentNumbers {
            tracking_numbers: vec![format!("TRK{id}")],
            ..Default::default()
        }),
        lines: vec![DeclaredLine {
            line_number: 1,
            hs_code: "640399".to_owned(),
            quantity: 10.0,
            net_mass_kg: 5.0,
            declared_value: Some(Money {
                currency_code: "USD".to_owned(),
                amount: "100.00".to_owned(),
            }),
            ..Default::default()
        }],
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_agree_store_each_effect_once_and_read_each_others_writes() {
    let dir = tempfile::tempdir().unwrap();
    let Some(ingest) = IngestHarness::start(Backend::Postgres, dir.path()).await else {
        return;
    };
    let url = acx_tests::fresh_postgres_database(&acx_tests::postgres_server_url().unwrap()).await;
    let token = acx_runtime::credentials::generate_token();
    let a = Replica::start(Some(&ingest), &token, &url, &dir.path().join("a"), 2000).await;
    let mut b = Replica::start(Some(&ingest), &token, &url, &dir.path().join("b"), 2000).await;

    const SELLERS: usize = 1200;
    let all = reports(0..SELLERS);
    let total = all.len() as i64;
    submit(&ingest, all, &url, total).await;
    let head = scalar(&url, HEAD).await;
    let (from_a, from_b) = (
        risks(&a, &token, SELLERS, head).await,
        risks(&b, &token, SELLERS, head).await,
    );
    assert_eq!(from_a, from_b, "both replicas answer the same risks");
    let listed = blacklist(&a, &token, head).await;
    assert_eq!(listed, blacklist(&b, &token, head).await);
    assert_eq!(listed.len(), SELLERS / 10 * 2, "each finding lists a pair");
    // A page token of one replica continues on the other (one key per deployment, stored).
    let page = |page_token: String| ListBlacklistRequest {
        page_size: 7,
        page_token,
    };
    let first = a
        .client()
        .await
        .list_blacklist(at_least(page(String::new()), &reader(&token), head))
        .await
        .unwrap()
        .into_inner();
    let second = b
        .client()
        .await
        .list_blacklist(at_least(page(first.next_page_token), &reader(&token), head))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        [first.entries, second.entries].concat(),
        listed[..14],
        "pages of two replicas"
    );

    // Each change once on the change feed, and no effect written twice.
    let changes = a
        .client()
        .await
        .list_blacklist_changes(authorized(
            ListBlacklistChangesRequest {
                after_cursor: 0,
                page_size: 1000,
            },
            &reader(&token),
        ))
        .await
        .unwrap()
        .into_inner()
        .changes;
    let mut accounts: Vec<String> = changes
        .iter()
        .filter(|c| c.r#type == BlacklistChangeType::Listed as i32)
        .map(|c| {
            let s = c.entry.as_ref().unwrap().seller.as_ref().unwrap();
            s.seller_id.clone()
        })
        .collect();
    assert_eq!(changes.len(), listed.len(), "one change per listing");
    accounts.sort();
    accounts.dedup();
    assert_eq!(accounts.len(), listed.len(), "each account listed once");
    assert_eq!(
        scalar(
            &url,
            "SELECT COUNT(*) FROM (SELECT platform, seller_id, change FROM risk_history \
             GROUP BY platform, seller_id, change HAVING COUNT(*) > 1) doubled"
        )
        .await,
        0,
        "no risk change stored twice"
    );

    // A declaration through A, its seizure through B: read back through A at B's position.
    let (mut ca, mut cb) = (a.client().await, b.client().await);
    let unlisted = 3; // pair (2, 3), no finding
    let assessed = ca
        .assess_shipment(authorized(
            AssessShipmentRequest {
                shipment: Some(declaration("D-1", unlisted)),
                record: true,
            },
            &token,
        ))
        .await
        .unwrap();
    let recorded = cb
        .record_outcome(at_least(
            RecordOutcomeRequest {
                authority: "customs-x".to_owned(),
                declaration_id: "D-1".to_owned(),
                kind: OutcomeKind::CounterfeitSeized as i32,
                inspect_time: None,
                extra_duty: None,
            },
            &token,
            position(&assessed),
        ))
        .await
        .unwrap();
    assert!(position(&recorded) > position(&assessed));
    assert!(recorded.get_ref().recorded);
    for client in [&mut ca, &mut cb] {
        let risk = client
            .get_seller_risk(at_least(
                GetSellerRiskRequest {
                    seller: Some(seller(unlisted)),
                    cluster_id: String::new(),
                },
                &token,
                position(&recorded),
            ))
            .await
            .unwrap()
            .into_inner()
            .risk
            .unwrap();
        assert_eq!(
            risk.tier,
            acx_proto::common::RiskTier::Blacklisted as i32,
            "the seizure through B lists the seller on both"
        );
    }

    // The same new declaration through both at once: assessed once, the same answer.
    let request = || AssessShipmentRequest {
        shipment: Some(declaration("D-2", 5)),
        record: true,
    };
    let (one, two) = tokio::join!(
        ca.assess_shipment(authorized(request(), &token)),
        cb.assess_shipment(authorized(request(), &token)),
    );
    assert_eq!(
        one.unwrap().into_inner().assessment,
        two.unwrap().into_inner().assessment
    );
    assert_eq!(scalar(&url, "SELECT COUNT(*) FROM declarations").await, 2);
    assert_eq!(
        scalar(&url, "SELECT COUNT(*) FROM history WHERE kind = 2").await,
        2
    );
    let mut other = declaration("D-2", 5);
    other.importer_id = "IMP-2".to_owned();
    let conflict = ca
        .assess_shipment(authorized(
            AssessShipmentRequest {
                shipment: Some(other),
                record: true,
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(conflict.code(), Code::AlreadyExists);

    // One replica stops (the feed lease, if it held it, goes to the other); reports go on.
    drop(a);
    submit(&ingest, reports(SELLERS..SELLERS + 20), &url, total + 22).await;
    let head = scalar(&url, HEAD).await;
    assert_eq!(
        risks(&b, &token, SELLERS + 20, head).await.len(),
        SELLERS + 20
    );
    b.stop().await;
}

/// A database from before the history (reports kept in `inputs`, replayed at start) is
/// moved into the history once, and what it knew is served.
#[tokio::test]
async fn a_database_from_before_the_history_is_moved_into_it() {
    use prost::Message;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("scoring.db").display());
    let token = acx_runtime::credentials::generate_token();
    let mut replica = Replica::start(None, &token, &url, &dir.path().join("a"), 2000).await;
    replica.stop().await;
    // What the previous version stored: hashed reports in `inputs`, the feed cursor.
    let database = acx_runtime::Database::connect(&url).await.unwrap();
    let acx_runtime::Database::Sqlite(pool) = &database else {
        unreachable!()
    };
    let mut profile = reports(0..1).remove(0);
    if let Some(Kind::SellerProfile(p)) = profile.kind.as_mut() {
        p.identifiers = None;
        p.hashed_identifiers = vec![acx_proto::common::HashedIdentifier {
            kind: acx_proto::common::IdentifierKind::BankAccount as i32,
            key_id: "k1".to_owned(),
            hash: "b0".to_owned(),
            // Stored before normalisation versions.
            normalization_version: 0,
        }];
    }
    let finding = reports(0..1).remove(1);
    for (sequence, report) in [(1_i64, &profile), (2, &finding)] {
        sqlx::query("INSERT INTO inputs (sequence, platform, payload) VALUES ($1, $2, $3)")
            .bind(sequence)
            .bind(PLATFORM)
            .bind(report.encode_to_vec())
            .execute(pool)
            .await
            .unwrap();
    }
    sqlx::query("UPDATE feed_cursor SET sequence = 2")
        .execute(pool)
        .await
        .unwrap();
    database.close().await;

    let replica = Replica::start(None, &token, &url, &dir.path().join("a"), 2000).await;
    let risk = replica
        .client()
        .await
        .get_seller_risk(authorized(
            GetSellerRiskRequest {
                seller: Some(seller(0)),
                cluster_id: String::new(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .risk
        .unwrap();
    assert_eq!(risk.tier, acx_proto::common::RiskTier::Blacklisted as i32);
    assert_eq!(scalar(&url, REPORTS).await, 2, "both reports moved, once");
    assert_eq!(scalar(&url, "SELECT COUNT(*) FROM inputs").await, 0);
    assert_eq!(
        scalar(&url, "SELECT position FROM effects_cursor").await,
        1,
        "their effects were stored before"
    );
}
