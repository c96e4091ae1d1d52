//! The ingest service (`acx.ingest.v1`): the platforms' door to the exchange. Reports are
//! checked field by field, identifiers are normalised and kept only as keyed hashes, a
//! retry never doubles a report, a platform sees only its own reports, and every accepted
//! report joins an ordered change feed that scoring follows. This crate is the service as a
//! library; `acx-ingest` is its thin binary.

mod error;
mod intake;
mod prepare;
mod service;
pub mod storage;
mod store;

pub use error::Error;
pub use prepare::content_hash;

use std::{path::PathBuf, sync::Arc};

use acx_domain::identifiers::{IdentifierKeys, Normalization};
use acx_proto::ingest::ingest_service_server::IngestServiceServer;
use acx_runtime::{
    AccessPolicy, Database, Grant, Role, RunningServer, ServerConfig, ServiceSpec, Shutdown,
    db::Migrations, server,
};

/// Fully qualified name of the gRPC service.
pub const SERVICE_NAME: &str = "acx.ingest.v1.IngestService";
/// Port the service listens on unless configured otherwise.
pub const DEFAULT_PORT: u16 = 50051;

/// Command line and environment of `acx-ingest`.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "acx-ingest",
    version,
    about = "ACX ingest service: platform reports in"
)]
pub struct Config {
    /// Settings every ACX server shares.
    #[command(flatten)]
    pub server: ServerConfig,

    /// File of the keys that hash identifiers: `<key-id> <hex secret>` per line, the
    /// current key first, older ones kept for reports hashed before a rotation.
    #[arg(long, env = "ACX_IDENTIFIER_KEYS_FILE", value_name = "FILE")]
    pub identifier_keys_file: PathBuf,

    /// Older normalisation versions whose hashes new profiles also carry, so that they link
    /// to profiles stored under those versions, and under which retries of reports stored
    /// before an upgrade are recognised: a comma-separated list of versions, `none` for
    /// none. Default: every older version (`1,2,3,4,5` today).
    #[arg(long, env = "ACX_INGEST_LEGACY_NORMALIZATIONS", value_name = "VERSIONS",
          default_value = "1,2,3,4,5", value_parser = parse_legacy)]
    pub legacy_normalizations: LegacyNormalizations,

    /// Most reports in one SubmitReports call or one bulk-load batch.
    #[arg(long, env = "ACX_INGEST_MAX_BATCH_REPORTS", value_name = "N", default_value_t = 1000,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_batch_reports: u32,
}

/// Older normalisation versions to hash under as well (see
/// [`Config::legacy_normalizations`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyNormalizations(pub Vec<Normalization>);

impl Default for LegacyNormalizations {
    /// Every version older than the current one.
    fn default() -> Self {
        LegacyNormalizations(Normalization::CURRENT.older().collect())
    }
}

fn parse_legacy(text: &str) -> Result<LegacyNormalizations, String> {
    if matches!(text.trim(), "" | "none") {
        return Ok(LegacyNormalizations(Vec::new()));
    }
    let mut versions = Vec::new();
    for part in text.split(',') {
        let version: Normalization = part.parse()?;
        if version >= Normalization::CURRENT {
            return Err(format!(
                "version {version} is not older than the current version {}",
                Normalization::CURRENT
            ));
        }
        if !versions.contains(&version) {
            versions.push(version);
        }
    }
    // Newest first, as the default: a form two versions share is hashed as the newer's.
    versions.sort_unstable_by(|a, b| b.cmp(a));
    Ok(LegacyNormalizations(versions))
}

/// Ingest's migrations for both backends.
pub fn migrations() -> Migrations {
    Migrations {
        sqlite: sqlx::migrate!("./migrations/sqlite"),
        postgres: sqlx::migrate!("./migrations/postgres"),
    }
}

/// Who may call what: platforms report and read their own reports; only scoring
/// (`service:scoring`, no other service) follows the change feed, which carries every
/// platform's reports.
pub fn access_policy() -> AccessPolicy {
    AccessPolicy::new()
        .service(SERVICE_NAME, &[Role::Platform])
        .grant_method(SERVICE_NAME, "StreamChanges", &[Grant::service("scoring")])
        .service("acx.diagnostics.v1.DiagnosticsService", Role::ALL)
}

/// Opens the database, migrates it and starts serving until `shutdown`.
pub async fn start(config: &Config, shutdown: Shutdown) -> Result<RunningServer, Error> {
    let tokens = config
        .server
        .load_tokens()
        .map_err(acx_runtime::server::ServeError::from)?;
    let keys = IdentifierKeys::load(&config.identifier_keys_file)?;
    let database = Database::open(
        &config.server.database_url_or_default("ingest"),
        &migrations(),
    )
    .await?;
    let head = store::head(&database).await?;
    let intake = Arc::new(intake::Intake::new(
        database.clone(),
        keys,
        config.legacy_normalizations.0.clone(),
        head,
    ));
    let page_tokens = acx_runtime::paging::PageTokens::load_or_create(&database).await?;
    let ingest = service::Ingest::new(
        intake,
        config.max_batch_reports as usize,
        page_tokens,
        shutdown.clone(),
    );
    let routes = tonic::service::Routes::new(
        IngestServiceServer::new(ingest)
            .max_decoding_message_size(config.server.max_message_bytes as usize),
    );
    let spec = ServiceSpec {
        name: SERVICE_NAME,
        other_versions: &[],
        routes,
        policy: access_policy(),
        tokens,
        database,
        ready: None,
    };
    Ok(server::serve(&config.server, DEFAULT_PORT, spec, shutdown).await?)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[test]
    fn the_legacy_versions_by_default_are_every_older_one() {
        // The command line's default is text, so it must be kept in step with the versions.
        let config = Config::try_parse_from(["acx-ingest", "--identifier-keys-file", "keys"])
            .expect("defaults parse");
        assert_eq!(
            config.legacy_normalizations,
            LegacyNormalizations::default()
        );
    }
}
