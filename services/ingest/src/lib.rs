//! The ingest service (`acx.ingest.v1`): the platforms' door to the exchange. This crate is
//! the service as a library; `acx-ingest` is its thin binary.

mod error;
mod service;

pub use error::Error;

use acx_proto::ingest::ingest_service_server::IngestServiceServer;
use acx_runtime::{
    AccessPolicy, Database, Role, RunningServer, ServerConfig, ServiceSpec, Shutdown,
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
}

/// Ingest's migrations for both backends.
pub fn migrations() -> Migrations {
    Migrations {
        sqlite: sqlx::migrate!("./migrations/sqlite"),
        postgres: sqlx::migrate!("./migrations/postgres"),
    }
}

/// Who may call what: platforms report; other roles may only echo.
pub fn access_policy() -> AccessPolicy {
    AccessPolicy::new()
        .service(SERVICE_NAME, &[Role::Platform])
        .service("acx.diagnostics.v1.DiagnosticsService", Role::ALL)
}

/// Opens the database, migrates it and starts serving until `shutdown`.
pub async fn start(config: &Config, shutdown: Shutdown) -> Result<RunningServer, Error> {
    let database = Database::connect(&config.server.database_url_or_default("ingest")).await?;
    database.migrate(&migrations()).await?;
    let routes = tonic::service::Routes::new(
        IngestServiceServer::new(service::Ingest)
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
