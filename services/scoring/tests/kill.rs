//! Scoring replicas as processes: one is killed with SIGKILL in the middle of a load (no
//! lease released, nothing flushed); the other takes over the feed once the lease
//! expires, the killed one rejoins, and both answer the same, with each blacklist change
//! stored once. Needs PostgreSQL (`ACX_TEST_POSTGRES_URL`; skipped without it unless
//! `ACX_REQUIRE_POSTGRES=1`).

#![allow(clippy::unwrap_used)]

use std::{
    net::SocketAddr,
    process::{Child, Command, Stdio},
    time::Duration,
};

use acx_proto::{
    common::{Identifiers, ProductRef, SellerAccountRef},
    ingest::{
        CounterfeitFinding, EvidenceType, Report, ReportOutcome, SellerProfile,
        SubmitReportsRequest, Verdict, ingest_service_client::IngestServiceClient, report::Kind,
    },
    scoring::{
        BatchGetSellerRisksRequest, ListBlacklistChangesRequest, SellerRisk,
        scoring_service_client::ScoringServiceClient,
    },
};
use acx_runtime::credentials::{generate_token, hash_token};
use sqlx::Connection;
use tonic::{Request, transport::Channel};

fn postgres() -> Option<String> {
    match std::env::var("ACX_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("ACX_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "ACX_REQUIRE_POSTGRES=1 but ACX_TEST_POSTGRES_URL is not set"
            );
            eprintln!("skipping: ACX_TEST_POSTGRES_URL is not set");
            None
        }
    }
}

async fn fresh_database(server: &str) -> String {
    let name = format!("acx_kill_{:016x}", rand::random::<u64>());
    let mut admin = sqlx::PgConnection::connect(server).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .unwrap();
    format!("{}/{name}", server.rsplit_once('/').unwrap().0)
}

async fn scalar(url: &str, sql: &str) -> i64 {
    let mut connection = sqlx::PgConnection::connect(url).await.unwrap();
    let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_one(&mut connection)
        .await
        .unwrap();
    n
}

fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// An `acx-scoring` process.
struct Process {
    child: Child,
    addr: SocketAddr,
}

impl Process {
    fn spawn(
        addr: SocketAddr,
        dir: &std::path::Path,
        url: &str,
        ingest: &str,
        token: &str,
    ) -> Self {
        let child = Command::new(env!("CARGO_BIN_EXE_acx-scoring"))
            .env("ACX_LISTEN_ADDR", addr.to_string())
            .env("ACX_DATABASE_URL", url)
            .env("ACX_DATA_DIR", dir)
            .env("ACX_TOKENS_FILE", dir.join("tokens"))
            .env("ACX_INGEST_URL", format!("http://{ingest}"))
            .env("ACX_INGEST_TOKEN", token)
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Self { child, addr }
    }

    async fn client(&self) -> ScoringServiceClient<Channel> {
        for _ in 0..200 {
            if let Ok(channel) = Channel::from_shared(format!("http://{}", self.addr))
                .unwrap()
                .connect()
                .await
            {
                return ScoringServiceClient::new(channel);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("scoring at {} never listened", self.addr);
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn authorized<T>(message: T, token: &str, min: i64) -> Request<T> {
    let mut request = Request::new(message);
    let metadata = request.metadata_mut();
    metadata.insert("authorization", format!("Bearer {token}").parse().unwrap());
    metadata.insert("acx-min-position", min.to_string().parse().unwrap());
    request
}

fn reports(range: std::ops::Range<usize>) -> Vec<Report> {
    let observed = Some(prost_types::Timestamp {
        seconds: 1_760_000_000,
        nanos: 0,
    });
    range
        .flat_map(|i| {
            let profile = Report {
                report_id: format!("P-{i}"),
                kind: Some(Kind::SellerProfile(SellerProfile {
                    seller_id: format!("S-{i}"),
                    display_name: format!("Store {i}"),
                    identifiers: Some(Identifiers {
                        phones: vec![format!("+1 415 555 {:04}", i % 10_000)],
                        ..Default::default()
                    }),
                    observe_time: observed,
                    ..Default::default()
                })),
            };
            let finding = (i % 7 == 0).then(|| Report {
                report_id: format!("F-{i}"),
                kind: Some(Kind::CounterfeitFinding(CounterfeitFinding {
                    seller: Some(SellerAccountRef {
                        platform: String::new(),
                        seller_id: format!("S-{i}"),
                    }),
                    products: vec![ProductRef {
                        gtin: "4006381333931".to_owned(),
                        ..Default::default()
                    }],
                    evidence_type: EvidenceType::TestBuy as i32,
                    verdict: Verdict::Confirmed as i32,
                    action_taken: 1,
                    observe_time: observed,
                    notes: String::new(),
                })),
            });
            std::iter::once(profile).chain(finding)
        })
        .collect()
}

async fn risks(process: &Process, token: &str, sellers: usize, min: i64) -> Vec<SellerRisk> {
    let mut client = process.client().await;
    let mut all = Vec::new();
    for start in (0..sellers).step_by(1000) {
        let sellers = (start..sellers.min(start + 1000))
            .map(|i| SellerAccountRef {
                platform: "acme-market".to_owned(),
                seller_id: format!("S-{i}"),
            })
            .collect();
        let mut response = None;
        for _ in 0..300 {
            match client
                .batch_get_seller_risks(authorized(
                    BatchGetSellerRisksRequest {
                        sellers: Vec::clone(&sellers),
                    },
                    token,
                    min,
                ))
                .await
            {
                Ok(answer) => {
                    response = Some(answer.into_inner());
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        let response = response.expect("the replica answers once caught up");
        assert!(response.not_found.is_empty());
        all.extend(response.risks);
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_killed_mid_load_rejoins_and_the_replicas_agree() {
    let Some(server) = postgres() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // Ingest in this process.
    let ingest_url = fresh_database(&server).await;
    let (platform, scoring_token, liaison) = (generate_token(), generate_token(), generate_token());
    std::fs::write(
        dir.path().join("tokens"),
        format!(
            "{} platform:acme-market\n{} service:scoring\n{} service:liaison\n",
            hash_token(&platform),
            hash_token(&scoring_token),
            hash_token(&liaison)
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("identifier-keys"),
        acx_domain::identifiers::IdentifierKeys::generate_file("k1"),
    )
    .unwrap();
    let mut config = acx_runtime::ServerConfig::local(dir.path());
    config.listen_addr = Some("127.0.0.1:0".parse().unwrap());
    config.database_url = Some(ingest_url);
    config.tokens_file = Some(dir.path().join("tokens"));
    let shutdown = acx_runtime::Shutdown::new();
    let ingest = acx_ingest::start(
        &acx_ingest::Config {
            server: config,
            identifier_keys_file: dir.path().join("identifier-keys"),
            legacy_normalizations: Default::default(),
            max_batch_reports: 500,
        },
        shutdown.clone(),
    )
    .await
    .unwrap();
    let ingest_addr = ingest.local_addr.to_string();

    let url = fresh_database(&server).await;
    let (addr_a, addr_b) = (free_addr(), free_addr());
    let mut a = Process::spawn(addr_a, dir.path(), &url, &ingest_addr, &scoring_token);
    a.client().await;
    // A holds the feed lease before B starts.
    for _ in 0..100 {
        if scalar(&url, "SELECT COUNT(*) FROM leases WHERE name = 'feed'").await > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let b = Process::spawn(addr_b, dir.path(), &url, &ingest_addr, &scoring_token);
    b.client().await;

    const SELLERS: usize = 3000;
    let all = reports(0..SELLERS);
    let total = all.len() as i64;
    let mut client = IngestServiceClient::new(
        Channel::from_shared(format!("http://{ingest_addr}"))
            .unwrap()
            .connect()
            .await
            .unwrap(),
    );
    for (n, batch) in all.chunks(500).enumerate() {
        if n == 3 {
            a.child.kill().unwrap(); // SIGKILL, mid-load
            a.child.wait().unwrap();
        }
        let mut request = Request::new(SubmitReportsRequest {
            reports: batch.to_vec(),
        });
        request.metadata_mut().insert(
            "authorization",
            format!("Bearer {platform}").parse().unwrap(),
        );
        let results = client
            .submit_reports(request)
            .await
            .unwrap()
            .into_inner()
            .results;
        assert!(
            results
                .iter()
                .all(|r| r.outcome == ReportOutcome::Accepted as i32)
        );
    }
    // The lease expires, B follows the feed; A rejoins.
    a = Process::spawn(addr_a, dir.path(), &url, &ingest_addr, &scoring_token);
    let reports_in = "SELECT CAST(COALESCE(SUM(records), 0) AS BIGINT) FROM history WHERE kind = 1";
    for _ in 0..600 {
        if scalar(&url, reports_in).await >= total {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(scalar(&url, reports_in).await, total, "every report once");
    let head = scalar(&url, "SELECT COALESCE(MAX(position), 0) FROM history").await;
    let (from_a, from_b) = (
        risks(&a, &platform, SELLERS, head).await,
        risks(&b, &platform, SELLERS, head).await,
    );
    assert_eq!(from_a, from_b, "the replicas agree");
    let changes = b
        .client()
        .await
        .list_blacklist_changes(authorized(
            ListBlacklistChangesRequest {
                after_cursor: 0,
                page_size: 1000,
            },
            &platform,
            head,
        ))
        .await
        .unwrap()
        .into_inner()
        .changes;
    let listed = from_a
        .iter()
        .filter(|r| r.tier == acx_proto::common::RiskTier::Blacklisted as i32)
        .count();
    assert_eq!(changes.len(), listed, "each listing stored once");
    shutdown.trigger();
}
