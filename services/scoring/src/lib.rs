//! The scoring service (`acx.scoring.v1`): the exchange's judgement of sellers and
//! shipments. This crate is the service as a library; `acx-scoring` is its thin binary.

mod error;
mod service;

pub use error::Error;

use acx_proto::scoring::scoring_service_server::ScoringServiceServer;
use acx_runtime::{
    AccessPolicy, Database, Role, RunningServer, ServerConfig, ServiceSpec, Shutdown,
    db::Migrations, server,
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
}

/// Scoring's migrations for both backends.
pub fn migrations() -> Migrations {
    Migrations {
        sqlite: sqlx::migrate!("./migrations/sqlite"),
        postgres: sqlx::migrate!("./migrations/postgres"),
    }
}

/// Who may call what: platforms read seller risk, and so do the other ACX services
/// (liaison asks on behalf of customs).
pub fn access_policy() -> AccessPolicy {
    AccessPolicy::new()
        .service(SERVICE_NAME, &[Role::Platform, Role::Service])
        .service("acx.diagnostics.v1.DiagnosticsService", Role::ALL)
}

/// Opens the database, migrates it and starts serving until `shutdown`.
pub async fn start(config: &Config, shutdown: Shutdown) -> Result<RunningServer, Error> {
    let database = Database::connect(&config.server.database_url_or_default("scoring")).await?;
    database.migrate(&migrations()).await?;
    let scoring = service::Scoring::new(database.clone());
    let routes = tonic::service::Routes::new(
        ScoringServiceServer::new(scoring)
            .max_decoding_message_size(config.server.max_message_bytes as usize),
    );
    let spec = ServiceSpec {
        name: SERVICE_NAME,
        routes,
        policy: access_policy(),
        database,
    };
    Ok(server::serve(&config.server, DEFAULT_PORT, spec, shutdown).await?)
}
