//! The scoring service (`acx.scoring.v1`): the exchange's judgement of sellers. It links
//! accounts across platforms, scores them with readable reasons and keeps the shared
//! blacklist (see [`model`] for the rules). This crate is the service as a library;
//! `acx-scoring` is its thin binary.
//!
//! Everything scoring learns (ingest's feed, recorded declarations, inspection outcomes)
//! is one ordered history in its database ([`history`]); every replica applies it in order
//! ([`follower`]), starting from a snapshot ([`snapshot`]), and stored effects are written
//! once ([`effects`]). One replica at a time follows ingest's feed ([`lease`], `feed`).

mod disclosure;
mod effects;
mod error;
mod feed;
mod follower;
pub mod history;
mod lease;
pub mod market;
pub mod model;
pub mod names;
mod positions;
mod requests;
mod scorer;
mod service;
pub mod settings;
pub mod snapshot;
pub mod state;
mod store;
pub mod targeting;
mod upgrade;
pub mod valuation;

pub use error::Error;

use std::sync::Arc;

use acx_proto::scoring::scoring_service_server::ScoringServiceServer;
use acx_runtime::{
    AccessPolicy, Database, Grant, Role, RunningServer, ServerConfig, ServiceSpec, Shutdown,
    client::PeerConfig, db::Migrations, server,
};

/// Fully qualified name of the gRPC service.
pub const SERVICE_NAME: &str = "acx.scoring.v1.ScoringService";
/// Port the service listens on unless configured otherwise.
pub const DEFAULT_PORT: u16 = 50052;

/// Command line and environment of `acx-scoring`.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "acx-scoring", version, about = "ACX scoring service")]
pub struct Config {
    /// Settings every ACX server shares.
    #[command(flatten)]
    pub server: ServerConfig,

    /// URL of the ingest service, whose change feed scoring follows.
    #[arg(
        long,
        env = "ACX_INGEST_URL",
        value_name = "URL",
        default_value = "http://127.0.0.1:50051"
    )]
    pub ingest_url: String,

    /// Bearer token scoring presents to ingest (a `service:scoring` token). Without it
    /// scoring serves what it has but does not follow the feed.
    #[arg(
        long,
        env = "ACX_INGEST_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true,
        value_parser = acx_runtime::client::parse_bearer_token
    )]
    pub ingest_token: Option<acx_runtime::client::BearerToken>,

    /// File of the keys that hash identifiers (the same file as ingest's), for entity
    /// checks by identifier. Without it, entity checks match names only.
    #[arg(long, env = "ACX_IDENTIFIER_KEYS_FILE", value_name = "FILE")]
    pub identifier_keys_file: Option<std::path::PathBuf>,

    /// Share of assessed declarations picked at random for inspection (0 to 1), so that
    /// outcomes keep arriving on shipments the model would not pick.
    #[arg(long, env = "ACX_SCORING_RANDOM_INSPECTION_SHARE", value_name = "SHARE", default_value_t = 0.02,
          value_parser = parse_share)]
    pub random_inspection_share: f64,

    /// Half-life of a counterfeit finding's weight, in days.
    #[arg(long, env = "ACX_SCORING_HALF_LIFE_DAYS", value_name = "DAYS", default_value_t = 180.0,
          value_parser = parse_half_life)]
    pub half_life_days: f64,

    /// Write a snapshot of the state after this many history entries (a feed entry holds
    /// up to 500 reports), by the replica holding the snapshot lease.
    #[arg(long, env = "ACX_SCORING_SNAPSHOT_EVERY_ENTRIES", value_name = "ENTRIES", default_value_t = 2000,
          value_parser = clap::value_parser!(i64).range(1..))]
    pub snapshot_every_entries: i64,

    /// Or after this many seconds, when any entry was applied since the last snapshot.
    #[arg(long, env = "ACX_SCORING_SNAPSHOT_INTERVAL_SECONDS", value_name = "SECONDS", default_value_t = 600,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub snapshot_interval_seconds: u64,

    /// Reference exchange rates in the European Central Bank's CSV format (its
    /// eurofxref-hist.csv or daily eurofxref.csv, or a table of your own in that format),
    /// replacing the built-in ECB table (weekly, 2015-01-02 to 2026-10-30). Declared values
    /// and prices are put in US dollars at the rates of their date, only to compare them.
    #[arg(long, env = "ACX_REFERENCE_RATES_FILE", value_name = "FILE")]
    pub reference_rates_file: Option<std::path::PathBuf>,

    /// Make this replica's shared settings (the finding half-life, random inspection share,
    /// identifier keys and rate table) the deployment's when they differ from the recorded
    /// ones; running replicas with the old ones stop. Without it such a replica refuses to
    /// start, naming each setting. For a deliberate change only: see docs/deploy.md. Takes
    /// true/false, 1/0, yes/no or on/off; empty is false.
    #[arg(long, env = "ACX_SCORING_ADOPT_SETTINGS", value_name = "BOOL", default_value_t = false,
          action = clap::ArgAction::Set, value_parser = parse_adopt)]
    pub adopt_settings: bool,
}

/// A share between 0 and 1 (`ACX_SCORING_RANDOM_INSPECTION_SHARE`, the suite's flag too).
pub fn parse_share(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(share) if (0.0..=1.0).contains(&share) => Ok(share),
        _ => Err(format!("{text:?} is not a share between 0 and 1")),
    }
}

/// `ACX_SCORING_ADOPT_SETTINGS`: true/false, 1/0, yes/no, on/off in any case; empty (a
/// manifest's `value: ""`) is false.
fn parse_adopt(text: &str) -> Result<bool, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "" | "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(format!(
            "{text:?} is not true or false (also 1/0, yes/no, on/off)"
        )),
    }
}

fn parse_half_life(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(days) if days.is_finite() && days >= 1.0 => Ok(days),
        _ => Err(format!("{text:?} is not a number of days of at least 1")),
    }
}

impl Config {
    /// Scoring with `server` settings, no feed, default model parameters (for tests).
    pub fn standalone(server: ServerConfig) -> Self {
        Self {
            server,
            ingest_url: "http://127.0.0.1:50051".to_owned(),
            ingest_token: None,
            identifier_keys_file: None,
            random_inspection_share: 0.02,
            half_life_days: 180.0,
            snapshot_every_entries: 2000,
            snapshot_interval_seconds: 600,
            reference_rates_file: None,
            adopt_settings: false,
        }
    }
}

/// Scoring's migrations for both backends.
pub fn migrations() -> Migrations {
    Migrations {
        sqlite: sqlx::migrate!("./migrations/sqlite"),
        postgres: sqlx::migrate!("./migrations/postgres"),
    }
}

/// Who may call what: platforms read seller risk and the blacklist; liaison
/// (`service:liaison`, no other service) asks what customs ask through it (a seller's risk,
/// an entity check) and alone assesses shipments, records outcomes, reads a party's
/// inspection history and sets lane policies; auditors and operators (`service:operator`)
/// read the model card, and operators alone start a training. Nothing else is granted.
pub fn access_policy() -> AccessPolicy {
    const PLATFORMS: Grant = Grant::Role(Role::Platform);
    const LIAISON: Grant = Grant::service("liaison");
    const AUDITORS: Grant = Grant::Role(Role::Auditor);
    // Operators of the deployment hold a `service:operator` token.
    const OPERATOR: Grant = Grant::service("operator");
    AccessPolicy::new()
        .grant_service(SERVICE_NAME, &[PLATFORMS])
        .grant_method(SERVICE_NAME, "GetSellerRisk", &[PLATFORMS, LIAISON])
        .grant_method(SERVICE_NAME, "CheckEntity", &[PLATFORMS, LIAISON])
        .grant_method(SERVICE_NAME, "AssessShipment", &[LIAISON])
        .grant_method(SERVICE_NAME, "AssessShipments", &[LIAISON])
        .grant_method(SERVICE_NAME, "RecordOutcome", &[LIAISON])
        .grant_method(SERVICE_NAME, "GetPartyHistory", &[LIAISON])
        .grant_method(SERVICE_NAME, "GetModelCard", &[LIAISON, AUDITORS, OPERATOR])
        .grant_method(SERVICE_NAME, "TrainModel", &[OPERATOR])
        .grant_method(SERVICE_NAME, "SetLanePolicy", &[LIAISON])
        .service("acx.diagnostics.v1.DiagnosticsService", Role::ALL)
}

/// Opens the database, migrates it, starts following the history (ready once caught up
/// with its head as of now), follows ingest's feed while holding the feed lease, and serves
/// until `shutdown`.
pub async fn start(config: &Config, shutdown: Shutdown) -> Result<RunningServer, Error> {
    let tokens = config
        .server
        .load_tokens()
        .map_err(acx_runtime::server::ServeError::from)?;
    let params = model::ModelParams {
        half_life_days: config.half_life_days,
    };
    let rates = match &config.reference_rates_file {
        Some(path) => Arc::new(acx_domain::rates::ReferenceRates::load(path)?),
        None => acx_domain::rates::ReferenceRates::builtin(),
    };
    let (first, last) = rates.date_range();
    tracing::info!(rates.source = %rates.source(), rates.first = %first, rates.last = %last,
        rates.currencies = rates.currencies().len(), "reference rates loaded");
    let keys = match &config.identifier_keys_file {
        Some(path) => Some(acx_domain::identifiers::IdentifierKeys::load(path)?),
        None => None,
    };
    // Files first: a wrong one is reported at once, not after the database.
    let database = Database::open(
        &config.server.database_url_or_default("scoring"),
        &migrations(),
    )
    .await?;
    let shared = settings::SharedSettings::new(
        config.half_life_days,
        config.random_inspection_share,
        keys.as_ref(),
        &rates,
    );
    settings::agree(&database, &shared, config.adopt_settings).await?;
    // The deployment's stored secret (the same on every replica): it seals page tokens and
    // keys the selections' draws, which traders must not be able to compute.
    let page_tokens = acx_runtime::paging::PageTokens::load_or_create(&database).await?;
    let scorer = Arc::new(scorer::Scorer::new(
        database.clone(),
        params,
        config.random_inspection_share,
        rates,
        shared,
        targeting::lanes::Draws::new(page_tokens.derive("acx.scoring.selection-draws")),
    ));
    upgrade::from_legacy(&database).await?;
    let head = history::head(&database).await?;
    scorer
        .start_head
        .store(head, std::sync::atomic::Ordering::Relaxed);
    // An empty history: ready at once (otherwise once the follower has applied `head`).
    scorer.ready.send_replace(head == 0);
    let policy = follower::SnapshotPolicy {
        every_entries: config.snapshot_every_entries,
        every: std::time::Duration::from_secs(config.snapshot_interval_seconds),
    };
    tokio::spawn(Arc::clone(&scorer).follow_history(policy, shutdown.clone()));
    tokio::spawn(Arc::clone(&scorer).run_trainer(shutdown.clone()));
    match &config.ingest_token {
        Some(token) => {
            let ingest = PeerConfig::new(
                config.ingest_url.clone(),
                token.clone(),
                feed::INGEST_DEADLINE,
            );
            feed::check_access(&ingest).await?;
            tokio::spawn(Arc::clone(&scorer).follow_feed(ingest, shutdown.clone()));
        }
        None => tracing::warn!(
            "no ACX_INGEST_TOKEN: scoring serves what it has but does not follow ingest's feed"
        ),
    }
    let ready = scorer.ready();
    let scoring = service::Scoring::new(Arc::clone(&scorer), keys, page_tokens);
    let routes = tonic::service::Routes::new(
        ScoringServiceServer::new(scoring)
            .max_decoding_message_size(config.server.max_message_bytes as usize),
    );
    let spec = ServiceSpec {
        name: SERVICE_NAME,
        other_versions: &[],
        routes,
        policy: access_policy(),
        tokens,
        database,
        ready: Some(ready),
    };
    let server = server::serve(&config.server, DEFAULT_PORT, spec, shutdown.clone()).await?;
    Ok(server.or_fatal(async move { scorer.failed().await }, shutdown))
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::Config;

    fn adopt(value: &str) -> Result<bool, String> {
        Config::try_parse_from(["acx-scoring", "--adopt-settings", value])
            .map(|config| config.adopt_settings)
            .map_err(|error| error.to_string())
    }

    #[test]
    fn the_adopt_flag_takes_the_usual_spellings_and_empty_is_false() {
        for yes in ["true", "TRUE", "1", "yes", "On", " true"] {
            assert_eq!(adopt(yes), Ok(true), "{yes:?}");
        }
        for no in ["", "false", "0", "no", "OFF"] {
            assert_eq!(adopt(no), Ok(false), "{no:?}");
        }
        let refused = adopt("maybe").expect_err("refused");
        assert!(refused.contains("is not true or false"), "{refused}");
        let unset = Config::try_parse_from(["acx-scoring"]).expect("parses");
        assert!(!unset.adopt_settings);
    }
}
