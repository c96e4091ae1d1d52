//! The liaison service (`acx.liaison.v2`, and `acx.liaison.v1` for existing clients): the
//! customs door. Declarations in (stored first,
//! then assessed by scoring, or pending until it answers), shipments and party risk out,
//! inspection results back to scoring through a durable outbox, and an audit record of every
//! call. This crate is the service as a library; `acx-liaison` is its thin binary.

mod audit;
pub mod declarations;
mod error;
mod parties;
mod positions;
mod reads;
mod results;
mod scoring;
mod search;
mod service;
mod shipments;
mod store;
mod v2;
mod watch;

pub use error::Error;

use std::sync::Arc;

use acx_proto::{
    liaison::liaison_service_server::LiaisonServiceServer,
    liaison_v2::liaison_service_server::LiaisonServiceServer as LiaisonServiceServerV2,
};
use acx_runtime::{
    AccessPolicy, Database, Role, RunningServer, ServerConfig, ServiceSpec, Shutdown,
    client::{BearerToken, PeerConfig},
    db::Migrations,
    server,
};

/// Fully qualified name of the gRPC service, in the contract's current version.
pub const SERVICE_NAME: &str = "acx.liaison.v2.LiaisonService";
/// The same service in version 1 of the contract, served by the same handlers for clients
/// built from it (`proto/acx/liaison/v2/liaison.proto` says what changed).
pub const SERVICE_NAME_V1: &str = "acx.liaison.v1.LiaisonService";
/// Port the service listens on unless configured otherwise.
pub const DEFAULT_PORT: u16 = 50053;

/// Command line and environment of `acx-liaison`.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "acx-liaison",
    version,
    about = "ACX liaison service: the customs door"
)]
pub struct Config {
    /// Settings every ACX server shares.
    #[command(flatten)]
    pub server: ServerConfig,

    /// URL of the scoring service.
    #[arg(
        long,
        env = "ACX_SCORING_URL",
        value_name = "URL",
        default_value = "http://127.0.0.1:50052"
    )]
    pub scoring_url: String,

    /// Database of the audit trail. Default: the liaison database, except when that is a
    /// SQLite file: then a `-audit` file beside it, because every write to a SQLite file
    /// empties the page cache of its readers, and the trail is written on every call.
    #[arg(long, env = "ACX_AUDIT_DATABASE_URL", value_name = "URL")]
    pub audit_database_url: Option<String>,

    /// Bearer token liaison presents to scoring (a `service:liaison` token).
    #[arg(
        long,
        env = "ACX_SCORING_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true,
        value_parser = acx_runtime::client::parse_bearer_token
    )]
    pub scoring_token: BearerToken,

    /// Seconds between looks at scoring's model card; when the model or the outcomes
    /// recorded changed, open (uninspected) shipments are re-assessed. 0 turns it off.
    #[arg(
        long,
        env = "ACX_REASSESS_INTERVAL",
        value_name = "SECONDS",
        default_value_t = 5
    )]
    pub reassess_interval_secs: u64,
}

/// Liaison's migrations for both backends.
pub fn migrations() -> Migrations {
    Migrations {
        sqlite: sqlx::migrate!("./migrations/sqlite"),
        postgres: sqlx::migrate!("./migrations/postgres"),
    }
}

/// Who may call what: only customs authorities, but auditors read the audit trail and the
/// model card. The same in both versions of the contract.
pub fn access_policy() -> AccessPolicy {
    [SERVICE_NAME, SERVICE_NAME_V1]
        .into_iter()
        .fold(AccessPolicy::new(), |policy, service| {
            policy
                .service(service, &[Role::Customs])
                .method(service, "ListAuditRecords", &[Role::Auditor])
                .method(service, "GetModelCard", &[Role::Customs, Role::Auditor])
        })
        .service("acx.diagnostics.v1.DiagnosticsService", Role::ALL)
}

impl Config {
    /// The audit trail's database URL (see `audit_database_url`).
    pub fn audit_database_url_or_default(&self) -> String {
        let main = self.server.database_url_or_default("liaison");
        self.audit_database_url
            .clone()
            .unwrap_or_else(|| beside_sqlite_file(&main, "-audit").unwrap_or(main))
    }
}

/// `url` with `suffix` added to the SQLite file's name (before `.db`), or None when `url`
/// is not a SQLite file (a server database, or an in-memory one).
fn beside_sqlite_file(url: &str, suffix: &str) -> Option<String> {
    let rest = url.strip_prefix("sqlite:")?;
    let (path, query) = match rest.split_once('?') {
        Some((path, query)) => (path, format!("?{query}")),
        None => (rest, String::new()),
    };
    let file_start = path.rfind('/').map_or(0, |slash| slash + 1);
    let file = &path[file_start..];
    if file.is_empty() || file.contains(":memory:") {
        return None;
    }
    let renamed = match file.rsplit_once('.') {
        Some((stem, extension)) if !stem.is_empty() => format!("{stem}{suffix}.{extension}"),
        _ => format!("{file}{suffix}"),
    };
    Some(format!("sqlite:{}{renamed}{query}", &path[..file_start]))
}

/// Opens the databases, migrates them and starts serving until `shutdown`.
pub async fn start(config: &Config, shutdown: Shutdown) -> Result<RunningServer, Error> {
    let tokens = config
        .server
        .load_tokens()
        .map_err(acx_runtime::server::ServeError::from)?;
    let database_url = config.server.database_url_or_default("liaison");
    let database = Database::open(&database_url, &migrations()).await?;
    // The audit database has liaison's schema; only its audit_log is used.
    let audit_url = config.audit_database_url_or_default();
    let audit_database = if audit_url == database_url {
        database.clone()
    } else {
        Database::open(&audit_url, &migrations()).await?
    };
    let scoring = scoring::Scoring::new(
        PeerConfig::new(
            config.scoring_url.clone(),
            config.scoring_token.clone(),
            scoring::READ_DEADLINE,
        )
        .connect()
        .await?,
    );
    scoring.check_access().await?;
    let sqlite_file = acx_runtime::db::sqlite_file(&database_url);
    let reader = reads::ShipmentReader::start(database.clone(), sqlite_file.as_deref())
        .map_err(Error::ReaderSetup)?;
    let shipments = shipments::Shipments::new(database.clone(), reader, scoring.clone());
    // Assesses pending declarations and forwards inspection results until scoring has them.
    tokio::spawn(shipments.clone().run_worker(shutdown.clone()));
    if config.reassess_interval_secs > 0 {
        let interval = std::time::Duration::from_secs(config.reassess_interval_secs);
        tokio::spawn(shipments.clone().run_reassessor(interval, shutdown.clone()));
    }
    // Every call is audited: answered ones by the handlers, refused ones through the policy.
    let audit = audit::AuditLog::start(audit_database.dedicated_connection().await?);
    let refusals = audit.clone();
    let flush = audit.clone();
    let policy =
        access_policy().on_refusal(Arc::new(move |refusal| refusals.record_refusal(refusal)));
    let page_tokens = acx_runtime::paging::PageTokens::load_or_create(&database).await?;
    let liaison = service::Liaison::new(
        audit_database,
        scoring,
        shipments,
        audit,
        page_tokens,
        shutdown.clone(),
    );
    let max_message_bytes = config.server.max_message_bytes as usize;
    let routes = tonic::service::Routes::new(
        LiaisonServiceServerV2::new(v2::LiaisonV2(liaison.clone()))
            .max_decoding_message_size(max_message_bytes),
    )
    .add_service(LiaisonServiceServer::new(liaison).max_decoding_message_size(max_message_bytes));
    let spec = ServiceSpec {
        name: SERVICE_NAME,
        other_versions: &[SERVICE_NAME_V1],
        routes,
        policy,
        tokens,
        database,
        ready: None,
    };
    let running = server::serve(&config.server, DEFAULT_PORT, spec, shutdown).await?;
    // Questions answer before their audit record is committed: write those before exiting.
    Ok(running.then(async move {
        if let Err(error) = flush.flush().await {
            tracing::error!(%error, "the audit trail could not be flushed at shutdown");
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::beside_sqlite_file;

    #[test]
    fn the_audit_file_sits_beside_the_sqlite_file() {
        let beside = |url| beside_sqlite_file(url, "-audit");
        assert_eq!(
            beside("sqlite:///var/lib/acx/liaison.db").as_deref(),
            Some("sqlite:///var/lib/acx/liaison-audit.db")
        );
        assert_eq!(
            beside("sqlite:data/liaison.db?mode=rwc").as_deref(),
            Some("sqlite:data/liaison-audit.db?mode=rwc")
        );
        assert_eq!(
            beside("sqlite:liaison").as_deref(),
            Some("sqlite:liaison-audit")
        );
        assert_eq!(beside("sqlite::memory:"), None);
        assert_eq!(beside("postgres://acx@db/acx"), None);
    }

    #[test]
    fn the_scoring_token_never_shows_in_the_configuration() {
        use clap::Parser as _;
        let config =
            super::Config::try_parse_from(["acx-liaison", "--scoring-token", "s3cret-token-value"])
                .expect("the token alone is enough");
        assert_eq!(config.scoring_token.expose(), "s3cret-token-value");
        let shown = format!("{config:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("scoring_token: [redacted]"), "{shown}");
    }

    #[test]
    fn an_empty_or_spaced_scoring_token_is_a_bad_setting() {
        use clap::Parser as _;
        for bad in ["", "two words", "tab\t"] {
            let error = super::Config::try_parse_from(["acx-liaison", "--scoring-token", bad])
                .expect_err(bad);
            // Exit 2, naming the setting.
            assert_eq!(error.exit_code(), 2, "{bad:?}");
            assert!(error.to_string().contains("--scoring-token"), "{error}");
        }
    }
}
