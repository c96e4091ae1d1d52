//! The liaison service (`acx.liaison.v1`): the customs door. Declarations in (stored first,
//! then assessed by scoring, or pending until it answers), shipments and party risk out,
//! inspection results back to scoring through a durable outbox, and an audit record of every
//! call. This crate is the service as a library; `acx-liaison` is its thin binary.

mod audit;
mod declarations;
mod error;
mod service;
mod shipments;
mod store;

pub use error::Error;

use std::sync::Arc;

use acx_proto::{
    liaison::liaison_service_server::LiaisonServiceServer,
    scoring::scoring_service_client::ScoringServiceClient,
};
use acx_runtime::{
    AccessPolicy, Database, Role, RunningServer, ServerConfig, ServiceSpec, Shutdown,
    client::peer_channel, db::Migrations, server,
};

/// Fully qualified name of the gRPC service.
pub const SERVICE_NAME: &str = "acx.liaison.v1.LiaisonService";
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

    /// Bearer token liaison presents to scoring (a `service:liaison` token).
    #[arg(
        long,
        env = "ACX_SCORING_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub scoring_token: String,
}

/// Liaison's migrations for both backends.
pub fn migrations() -> Migrations {
    Migrations {
        sqlite: sqlx::migrate!("./migrations/sqlite"),
        postgres: sqlx::migrate!("./migrations/postgres"),
    }
}

/// Who may call what: only customs authorities.
pub fn access_policy() -> AccessPolicy {
    AccessPolicy::new()
        .service(SERVICE_NAME, &[Role::Customs])
        .method(SERVICE_NAME, "ListAuditRecords", &[Role::Auditor])
        .service("acx.diagnostics.v1.DiagnosticsService", Role::ALL)
}

/// Opens the database, migrates it and starts serving until `shutdown`.
pub async fn start(config: &Config, shutdown: Shutdown) -> Result<RunningServer, Error> {
    let database = Database::open(
        &config.server.database_url_or_default("liaison"),
        &migrations(),
    )
    .await?;
    let scoring =
        ScoringServiceClient::new(peer_channel(&config.scoring_url, &config.scoring_token)?);
    let shipments = shipments::Shipments::new(database.clone(), scoring.clone());
    // Assesses pending declarations and forwards inspection results until scoring has them.
    tokio::spawn(shipments.clone().run_worker(shutdown.clone()));
    // Every call is audited: answered ones by the handlers, refused ones through the policy.
    let audit = audit::AuditLog::start(database.clone());
    let refusals = audit.clone();
    let policy =
        access_policy().on_refusal(Arc::new(move |refusal| refusals.record_refusal(refusal)));
    let liaison = service::Liaison::new(
        database.clone(),
        scoring,
        shipments,
        audit,
        shutdown.clone(),
    );
    let routes = tonic::service::Routes::new(
        LiaisonServiceServer::new(liaison)
            .max_decoding_message_size(config.server.max_message_bytes as usize),
    );
    let spec = ServiceSpec {
        name: SERVICE_NAME,
        routes,
        policy,
        database,
    };
    Ok(server::serve(&config.server, DEFAULT_PORT, spec, shutdown).await?)
}
