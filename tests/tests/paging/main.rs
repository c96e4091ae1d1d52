//! Paging of every list RPC, through the public gRPC API: each listing walked page by page
//! (page sizes from 1 up, rows arriving, being assessed and changing between pages) gives
//! every matching row exactly once, in order, against a brute-force listing; pages are
//! bounded by bytes; page tokens are bound to their caller and filters and refused when
//! altered, foreign or from an earlier release. Beside them, batches of declarations
//! against a brute-force model of what is stored (`intake`), on the same harness.
//!
//! The properties run as seeded random cases rather than with `proptest`: every case drives
//! real servers through async calls, which proptest's synchronous runner and shrinking do
//! not help with, and `rand` is already a dependency. A failure prints its seed; set
//! `ACX_PAGING_SEED` to replay it.

#![allow(clippy::unwrap_used)]

mod audit;
mod blacklist;
mod bytes;
mod fake_scoring;
mod intake;
mod peer_calls;
mod reports;
mod search;
mod tokens;

use std::net::SocketAddr;

use acx_proto::{
    common::{Money, SellerAccountRef},
    liaison::{Declaration, liaison_service_client::LiaisonServiceClient},
};
use acx_runtime::{Shutdown, credentials::hash_token};
use acx_tests::{
    Backend, channel,
    fixtures::{self, now_seconds, server_config},
};
use fake_scoring::FakeScoring;
use rand::{SeedableRng, rngs::StdRng};
use tonic::transport::Channel;

/// Customs authorities of a [`LiaisonHarness`]: `customs:c0` to `customs:c{N-1}`.
const AUTHORITIES: usize = 48;

/// A random source for a property, from `ACX_PAGING_SEED` or a fresh seed, which a failure
/// message must print.
/// Whether a walk of `pages` pages that should list `expected` items has gone on too long:
/// more than twice the pages it needs even at one item a page, so a listing that never ends
/// fails instead of hanging, however long the random listing grows.
fn endless(pages: usize, expected: usize) -> bool {
    pages > 2 * expected + 10
}

fn seeded() -> (u64, StdRng) {
    let seed = std::env::var("ACX_PAGING_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or_else(rand::random);
    (seed, StdRng::seed_from_u64(seed))
}

/// Liaison alone over a fresh database, assessing through a [`FakeScoring`], with many
/// customs authorities (one per case of a property) and an auditor.
struct LiaisonHarness {
    addr: SocketAddr,
    fake: FakeScoring,
    /// Token of `customs:c{i}`.
    customs: Vec<String>,
    /// Token of `auditor:a0`.
    auditor: String,
    /// Token of `auditor:a1`.
    other_auditor: String,
    /// Token of `platform:p0` (refused by liaison).
    platform: String,
    shutdown: Shutdown,
    _dir: tempfile::TempDir,
}

impl Drop for LiaisonHarness {
    fn drop(&mut self) {
        self.shutdown.trigger();
    }
}

impl LiaisonHarness {
    /// None when PostgreSQL is asked for but not configured.
    async fn start(backend: Backend) -> Option<Self> {
        Self::start_with(backend, 0).await
    }

    /// As [`LiaisonHarness::start`], re-assessing open shipments when the fake's model
    /// changes, looking every `reassess_interval_secs` (0: never).
    async fn start_with(backend: Backend, reassess_interval_secs: u64) -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let database_url = match backend {
            Backend::Sqlite => format!("sqlite://{}", dir.path().join("liaison.db").display()),
            Backend::Postgres => {
                acx_tests::fresh_postgres_database(&acx_tests::postgres_server_url()?).await
            }
        };
        let token = |_| acx_runtime::credentials::generate_token();
        let customs: Vec<String> = (0..AUTHORITIES).map(token).collect();
        let [auditor, other_auditor, platform, service] = [0, 1, 2, 3].map(token);
        let mut tokens = String::new();
        for (i, customs) in customs.iter().enumerate() {
            tokens.push_str(&format!("{} customs:c{i}\n", hash_token(customs)));
        }
        tokens.push_str(&format!("{} auditor:a0\n", hash_token(&auditor)));
        tokens.push_str(&format!("{} auditor:a1\n", hash_token(&other_auditor)));
        tokens.push_str(&format!("{} platform:p0\n", hash_token(&platform)));
        std::fs::write(dir.path().join("tokens"), tokens).unwrap();
        let (fake, scoring) = FakeScoring::start().await;
        let config = acx_liaison::Config {
            server: server_config(
                dir.path(),
                &database_url,
                SocketAddr::from(([127, 0, 0, 1], 0)),
                &dir.path().join("tokens"),
            ),
            reassess_interval_secs,
            scoring_url: format!("http://{scoring}"),
            audit_database_url: None,
            scoring_token: service.into(),
        };
        let shutdown = Shutdown::new();
        let running = acx_liaison::start(&config, shutdown.clone()).await.unwrap();
        Some(Self {
            addr: running.local_addr,
            fake,
            customs,
            auditor,
            other_auditor,
            platform,
            shutdown,
            _dir: dir,
        })
    }

    async fn client(&self) -> LiaisonServiceClient<Channel> {
        LiaisonServiceClient::new(channel(self.addr).await)
    }
}

/// A valid one-line declaration `id` at `office`, by `importer`, of goods under `hs_code`,
/// declared at `time` (seconds).
fn declaration(id: &str, office: &str, importer: &str, hs_code: &str, time: i64) -> Declaration {
    let mut declaration = fixtures::declaration(id);
    declaration.declaration_time = Some(prost_types::Timestamp {
        seconds: time,
        nanos: 0,
    });
    declaration.customs_office = office.to_owned();
    declaration.importer_id = importer.to_owned();
    let line = &mut declaration.lines[0];
    line.hs_code = hs_code.to_owned();
    line.declared_value = Some(Money {
        currency_code: "USD".to_owned(),
        amount: "2500.00".to_owned(),
    });
    declaration
}

fn seller(platform: &str, seller_id: &str) -> SellerAccountRef {
    SellerAccountRef {
        platform: platform.to_owned(),
        seller_id: seller_id.to_owned(),
    }
}
