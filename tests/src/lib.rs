//! Helpers for the end-to-end tests in `tests/tests/` (and the process tests of the suite
//! binary): a suite started in-process on free ports with fresh SQLite files, typed
//! clients, and fresh PostgreSQL databases when a test server is configured; a stand-in
//! for scoring with only the RPCs a test needs ([`partial_scoring`]); shared builders
//! ([`fixtures`]).

pub mod fixtures;
pub mod partial_scoring;
pub mod raw;

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
        Self::start_with(false).await
    }

    /// Starts the suite, with the demo data when `demo` is set.
    pub async fn start_with(demo: bool) -> Self {
        Self::start_in(tempfile::tempdir().expect("temporary data directory"), demo).await
    }

    /// Starts the suite with principals of its own beside those the suite creates
    /// (`customs:second-customs`, `service:other`), each with a fresh token.
    pub async fn start_with_principals(extra: &[&str]) -> Self {
        let data_dir = tempfile::tempdir().expect("temporary data directory");
        let mut text = String::new();
        for principal in acx_suite::PRINCIPALS.iter().chain(extra) {
            text.push_str(&format!(
                "{principal} {}\n",
                acx_runtime::credentials::generate_token()
            ));
        }
        std::fs::write(data_dir.path().join("credentials"), text).expect("credentials file");
        Self::start_in(data_dir, false).await
    }

    /// Starts the suite on `data_dir`, which may hold what an earlier run left (credentials,
    /// keys, databases).
    pub async fn start_in(data_dir: tempfile::TempDir, demo: bool) -> Self {
        let args = SuiteArgs {
            demo,
            // No random selections: the lane a test expects is the rules' or the model's,
            // not a draw keyed with this suite's own secret (a test of random selection sets
            // a lane policy's random share).
            random_inspection_share: 0.0,
            ..SuiteArgs::on_free_ports(data_dir.path())
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

/// A channel to `addr`, or why it could not connect (a server refusing connections).
pub async fn channel_result(addr: SocketAddr) -> Result<Channel, String> {
    Endpoint::from_shared(format!("http://{addr}"))
        .map_err(|e| e.to_string())?
        .connect()
        .await
        .map_err(|e| e.to_string())
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

/// Ingest running alone for a test, with two platforms and the scoring service as callers.
pub struct IngestHarness {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Token of `platform:acme-market`.
    pub platform_a: String,
    /// Token of `platform:bazaar`.
    pub platform_b: String,
    /// Token of `service:scoring`.
    pub service: String,
    /// Its database URL (SQLite file or PostgreSQL database).
    pub database_url: String,
    /// Directory of its token and key files (and SQLite database).
    pub dir: std::path::PathBuf,
    /// Older normalisation versions it hashes under too (set, then [`Self::restart`]).
    pub legacy_normalizations: acx_ingest::LegacyNormalizations,
    shutdown: Shutdown,
    server: Option<acx_runtime::RunningServer>,
}

/// Which database a harness runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file in a temporary directory.
    Sqlite,
    /// A fresh database on the test PostgreSQL server.
    Postgres,
}

impl IngestHarness {
    /// Starts ingest on `backend` in `dir`; `None` when PostgreSQL is asked for but not
    /// configured (see [`postgres_server_url`]).
    pub async fn start(backend: Backend, dir: &std::path::Path) -> Option<Self> {
        let database_url = match backend {
            Backend::Sqlite => format!("sqlite://{}", dir.join("ingest.db").display()),
            Backend::Postgres => fresh_postgres_database(&postgres_server_url()?).await,
        };
        let [platform_a, platform_b, service] =
            [(); 3].map(|()| acx_runtime::credentials::generate_token());
        let tokens = format!(
            "{} platform:acme-market\n{} platform:bazaar\n{} service:scoring\n",
            hash_token(&platform_a),
            hash_token(&platform_b),
            hash_token(&service)
        );
        std::fs::write(dir.join("tokens"), tokens).expect("tokens file");
        let keys = dir.join("identifier-keys");
        if !keys.exists() {
            std::fs::write(
                &keys,
                acx_domain::identifiers::IdentifierKeys::generate_file("k1"),
            )
            .expect("keys file");
        }
        let mut harness = Self {
            addr: any_port(),
            platform_a,
            platform_b,
            service,
            database_url,
            dir: dir.to_owned(),
            legacy_normalizations: Default::default(),
            shutdown: Shutdown::new(),
            server: None,
        };
        harness.restart().await;
        Some(harness)
    }

    /// Stops ingest (if running), waits for it to drain, and starts it again on the same
    /// database, keys and port.
    pub async fn restart(&mut self) {
        if let Some(server) = self.server.take() {
            self.shutdown.trigger();
            server.wait().await.expect("clean stop");
            self.shutdown = Shutdown::new();
        }
        let mut server = acx_runtime::ServerConfig::local(&self.dir);
        server.listen_addr = Some(self.addr);
        server.database_url = Some(self.database_url.clone());
        server.tokens_file = Some(self.dir.join("tokens"));
        server.shutdown_grace = std::time::Duration::from_secs(2);
        let config = acx_ingest::Config {
            server,
            identifier_keys_file: self.dir.join("identifier-keys"),
            max_batch_reports: 500,
            legacy_normalizations: self.legacy_normalizations.clone(),
        };
        let running = acx_ingest::start(&config, self.shutdown.clone())
            .await
            .expect("ingest starts");
        self.addr = running.local_addr;
        self.server = Some(running);
    }
}

impl Drop for IngestHarness {
    fn drop(&mut self) {
        self.shutdown.trigger();
    }
}

/// A tool that `scripts/test.sh` provides through the environment variable `variable`
/// (buf, the Python with generated stubs): `None`, with a message, when it is missing
/// locally, so the test skips; a failure where it must be there (`ACX_REQUIRE_POSTGRES=1`,
/// set by scripts/test.sh, as in CI).
pub fn tool_from_env(variable: &str, skipping: &str) -> Option<std::path::PathBuf> {
    match std::env::var_os(variable) {
        Some(path) => Some(path.into()),
        None => {
            assert!(
                std::env::var("ACX_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "scripts/test.sh sets {variable}; it is missing"
            );
            eprintln!("skipping {skipping}: {variable} is not set (scripts/test.sh sets it)");
            None
        }
    }
}
