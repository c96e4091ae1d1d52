//! Helpers for the end-to-end tests in `tests/tests/` (and the process tests of the suite
//! binary): a suite started in-process on free ports with fresh SQLite files, typed
//! clients, and fresh PostgreSQL databases when a test server is configured.

use std::net::SocketAddr;

use acx_runtime::{Shutdown, credentials::hash_token};
use acx_suite::{Credentials, SuiteArgs};
use tonic::{
    Request,
    metadata::MetadataValue,
    transport::{Channel, Endpoint},
};

/// The suite running in this test process; stopped when dropped.
pub struct TestSuite {
    /// Where ingest listens.
    pub ingest: SocketAddr,
    /// Where scoring listens.
    pub scoring: SocketAddr,
    /// Where liaison listens.
    pub liaison: SocketAddr,
    /// The first-run credentials the suite made.
    pub credentials: Credentials,
    /// The data directory (SQLite files, credentials).
    pub data_dir: tempfile::TempDir,
    shutdown: Shutdown,
}

impl Drop for TestSuite {
    fn drop(&mut self) {
        self.shutdown.trigger();
    }
}

fn any_port() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

impl TestSuite {
    /// Starts ingest, scoring and liaison on free loopback ports.
    pub async fn start() -> Self {
        let data_dir = tempfile::tempdir().expect("temporary data directory");
        let args = SuiteArgs {
            data_dir: data_dir.path().to_owned(),
            ingest_addr: any_port(),
            scoring_addr: any_port(),
            liaison_addr: any_port(),
            log_format: Default::default(),
        };
        let shutdown = Shutdown::new();
        let suite = acx_suite::start(&args, shutdown.clone())
            .await
            .expect("suite starts");
        Self {
            ingest: suite.ingest_addr,
            scoring: suite.scoring_addr,
            liaison: suite.liaison_addr,
            credentials: suite.credentials,
            data_dir,
            shutdown,
        }
    }

    /// The token of a principal the suite created (`customs:demo-customs`).
    pub fn token(&self, principal: &str) -> String {
        self.credentials
            .token_of(principal)
            .expect("principal created on first run")
            .to_owned()
    }
}

/// A connected channel to `addr`.
pub async fn channel(addr: SocketAddr) -> Channel {
    Endpoint::from_shared(format!("http://{addr}"))
        .expect("valid endpoint")
        .connect()
        .await
        .expect("server reachable")
}

/// `message` with `authorization: Bearer <token>`.
pub fn authorized<T>(message: T, token: &str) -> Request<T> {
    let mut request = Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        MetadataValue::try_from(format!("Bearer {token}")).expect("ascii token"),
    );
    request
}

/// Writes a token file accepting `token` as `principal`, in `dir`; returns its path.
pub fn tokens_file(dir: &std::path::Path, token: &str, principal: &str) -> std::path::PathBuf {
    let path = dir.join("tokens");
    std::fs::write(&path, format!("{} {principal}\n", hash_token(token))).expect("tokens file");
    path
}

/// URL of the PostgreSQL server for tests (`ACX_TEST_POSTGRES_URL`, set by
/// `scripts/test.sh`). Without it PostgreSQL tests are skipped with a notice, unless
/// `ACX_REQUIRE_POSTGRES=1` (as in CI), where its absence fails them.
pub fn postgres_server_url() -> Option<String> {
    match std::env::var("ACX_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("ACX_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "ACX_REQUIRE_POSTGRES=1 but ACX_TEST_POSTGRES_URL is not set: run scripts/test.sh"
            );
            eprintln!(
                "skipping the PostgreSQL part: ACX_TEST_POSTGRES_URL is not set (scripts/test.sh sets it)"
            );
            None
        }
    }
}

/// A new, empty PostgreSQL database on the test server; returns its URL.
pub async fn fresh_postgres_database(server_url: &str) -> String {
    use sqlx::Connection;
    let name = format!("acx_test_{:016x}", rand::random::<u64>());
    let mut admin = sqlx::PgConnection::connect(server_url)
        .await
        .expect("PostgreSQL test server reachable");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .expect("create test database");
    let base = server_url
        .rsplit_once('/')
        .map_or(server_url, |(base, _)| base);
    format!("{base}/{name}")
}

/// Drops a database made by [`fresh_postgres_database`], closing its connections first.
pub async fn drop_postgres_database(server_url: &str, database_url: &str) {
    use sqlx::Connection;
    let name = database_url.rsplit('/').next().expect("database name");
    let mut admin = sqlx::PgConnection::connect(server_url)
        .await
        .expect("PostgreSQL test server reachable");
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await
    .expect("drop test database");
}
