//! Starting a service: bind first (so port 0 works and the real address is known), then
//! serve the service's routes behind the shared layers until the shutdown signal, then
//! drain calls in flight for at most the grace period.

use std::{net::SocketAddr, time::Duration};

use acx_telemetry::GrpcServerTraceLayer;
use tokio::{net::TcpListener, sync::watch, task::JoinHandle};
use tonic::{
    service::Routes,
    transport::{Certificate, Identity, Server, ServerTlsConfig, server::TcpIncoming},
};
use tonic_health::{ServingStatus, server::HealthReporter};

use crate::{
    AccessPolicy, Database, ServerConfig, Shutdown,
    auth::{AuthLayer, TokenRegistry},
    connections,
    diagnostics::Diagnostics,
    limits::LimitsLayer,
    malformed::MalformedRequestLayer,
};

/// How often the health service re-checks the database.
const HEALTH_CHECK_INTERVAL: Duration = Duration::from_secs(2);

/// What a service brings to [`serve`].
#[derive(Debug)]
pub struct ServiceSpec {
    /// Fully qualified gRPC service name (`acx.ingest.v1.IngestService`): the health
    /// service reports under it and under `""`.
    pub name: &'static str,
    /// Other versions of the service served beside `name` (`acx.liaison.v1.LiaisonService`
    /// beside v2), for clients built from an older contract: health reports them as it
    /// reports `name`, and reflection lists them.
    pub other_versions: &'static [&'static str],
    /// The service's own gRPC servers.
    pub routes: Routes,
    /// Which roles may call which RPC.
    pub policy: AccessPolicy,
    /// Who holds which role ([`ServerConfig::load_tokens`]).
    pub tokens: TokenRegistry,
    /// The service's database: health is SERVING only while it answers.
    pub database: Database,
    /// Whether the service is ready to serve (scoring: caught up with its history);
    /// health is NOT_SERVING while it is false. None: always ready.
    pub ready: Option<watch::Receiver<bool>>,
}

/// Why a server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The token file could not be read.
    #[error(transparent)]
    Tokens(#[from] crate::auth::TokenFileError),
    /// A TLS file could not be read or used.
    #[error("tls configuration: {0}")]
    Tls(String),
    /// Reflection could not be built from the descriptors.
    #[error("cannot build the reflection service")]
    Reflection(#[from] tonic_reflection::server::Error),
    /// The transport failed.
    #[error("grpc server failed")]
    Transport(#[from] tonic::transport::Error),
    /// The service found it must stop serving (it says why).
    #[error("{0}")]
    Fatal(String),
    /// The server task panicked or was cancelled.
    #[error("grpc server task failed")]
    Join(#[from] tokio::task::JoinError),
}

/// A server running in the background.
#[derive(Debug)]
pub struct RunningServer {
    /// The address it listens on.
    pub local_addr: SocketAddr,
    task: JoinHandle<Result<(), ServeError>>,
}

impl RunningServer {
    /// Waits until the server has stopped (after the shutdown signal and the drain).
    pub async fn wait(self) -> Result<(), ServeError> {
        self.task.await?
    }

    /// This server, whose `wait` also waits for `after` once the server has stopped: for
    /// work the answered calls left behind (an audit trail to flush, say).
    pub fn then(self, after: impl Future<Output = ()> + Send + 'static) -> Self {
        let task = self.task;
        Self {
            local_addr: self.local_addr,
            task: tokio::spawn(async move {
                let served = task.await;
                after.await;
                served?
            }),
        }
    }
}

impl RunningServer {
    /// This server, which also stops (draining calls, as on `shutdown`) and fails with
    /// [`ServeError::Fatal`] if `fatal` resolves first: for a condition under which the
    /// process must not go on serving (a scoring replica whose shared settings another
    /// replica replaced).
    pub fn or_fatal(
        self,
        fatal: impl Future<Output = String> + Send + 'static,
        shutdown: Shutdown,
    ) -> Self {
        let mut task = self.task;
        Self {
            local_addr: self.local_addr,
            task: tokio::spawn(async move {
                tokio::select! {
                    served = &mut task => served?,
                    why = fatal => {
                        shutdown.trigger();
                        task.await??;
                        Err(ServeError::Fatal(why))
                    }
                }
            }),
        }
    }
}

fn read_file(path: &std::path::Path) -> Result<Vec<u8>, ServeError> {
    std::fs::read(path).map_err(|e| ServeError::Tls(format!("{}: {e}", path.display())))
}

fn tls_config(config: &ServerConfig) -> Result<Option<ServerTlsConfig>, ServeError> {
    let (Some(cert), Some(key)) = (&config.tls_cert, &config.tls_key) else {
        return Ok(None);
    };
    let mut tls =
        ServerTlsConfig::new().identity(Identity::from_pem(read_file(cert)?, read_file(key)?));
    if let Some(ca) = &config.tls_client_ca {
        tls = tls.client_ca_root(Certificate::from_pem(read_file(ca)?));
    }
    Ok(Some(tls))
}

async fn database_status(
    database: &Database,
    ready: Option<&watch::Receiver<bool>>,
) -> ServingStatus {
    if ready.is_none_or(|ready| *ready.borrow()) && database.ping().await {
        ServingStatus::Serving
    } else {
        ServingStatus::NotServing
    }
}

/// Keeps the health status in step with the database until shutdown, then reports
/// NOT_SERVING. `last` is the status already reported.
async fn watch_health(
    reporter: HealthReporter,
    names: Vec<&'static str>,
    database: Database,
    mut ready: Option<watch::Receiver<bool>>,
    shutdown: Shutdown,
    mut last: ServingStatus,
) {
    loop {
        let readiness_changed = async {
            let changed = match &mut ready {
                Some(ready) => ready.changed().await.is_ok(),
                None => false,
            };
            if !changed {
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(HEALTH_CHECK_INTERVAL) => {}
            _ = readiness_changed => {}
            _ = shutdown.triggered() => break,
        }
        let status = database_status(&database, ready.as_ref()).await;
        if status != last {
            if status == ServingStatus::NotServing {
                tracing::warn!(
                    service = names[0],
                    "database unreachable or service not ready, health is NOT_SERVING"
                );
            } else {
                tracing::info!(
                    service = names[0],
                    "database reachable and service ready, health is SERVING"
                );
            }
            reporter.set_service_status("", status).await;
            for name in &names {
                reporter.set_service_status(*name, status).await;
            }
            last = status;
        }
    }
    reporter
        .set_service_status("", ServingStatus::NotServing)
        .await;
    for name in names {
        reporter
            .set_service_status(name, ServingStatus::NotServing)
            .await;
    }
}

/// Binds `config`'s address (or `127.0.0.1:default_port`) and serves `spec` until
/// `shutdown` is triggered. Returns once the server is listening.
pub async fn serve(
    config: &ServerConfig,
    default_port: u16,
    spec: ServiceSpec,
    shutdown: Shutdown,
) -> Result<RunningServer, ServeError> {
    let tokens = spec.tokens;
    if tokens.is_empty() {
        tracing::warn!(
            service = spec.name,
            "no tokens configured: only health and reflection will answer"
        );
    }

    let addr = config.listen_addr_or(default_port);
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })?;
    let local_addr = listener
        .local_addr()
        .map_err(|source| ServeError::Bind { addr, source })?;

    let (reporter, health) = tonic_health::server::health_reporter();
    // Checked once before the server answers, so a started server whose database is up is
    // SERVING from its first probe.
    let initial = database_status(&spec.database, spec.ready.as_ref()).await;
    reporter.set_service_status("", initial).await;
    let names: Vec<&'static str> = std::iter::once(spec.name)
        .chain(spec.other_versions.iter().copied())
        .collect();
    for name in &names {
        reporter.set_service_status(*name, initial).await;
    }
    tokio::spawn(watch_health(
        reporter,
        names.clone(),
        spec.database.clone(),
        spec.ready.clone(),
        shutdown.clone(),
        initial,
    ));

    let reflection = || {
        let builder = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(acx_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            // google.rpc.Status and the error details (BadRequest, ErrorInfo, RetryInfo, ...):
            // grpcurl and buf curl decode the details of an error only if reflection knows them.
            .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)
            .with_service_name("acx.diagnostics.v1.DiagnosticsService")
            .with_service_name("grpc.health.v1.Health");
        names
            .iter()
            .fold(builder, |builder, name| builder.with_service_name(*name))
    };
    let routes = spec
        .routes
        .add_service(health)
        .add_service(reflection().build_v1()?)
        .add_service(reflection().build_v1alpha()?)
        .add_service(Diagnostics::server(spec.name));

    let layers = tower::ServiceBuilder::new()
        .layer(GrpcServerTraceLayer)
        .layer(MalformedRequestLayer)
        .layer(AuthLayer::new(tokens, spec.policy))
        .layer(LimitsLayer::new(config.limits()));
    // Windows larger than HTTP/2's 64 KiB default let a bulk load keep the pipe full; they
    // also bound what one stream can make the server buffer. Keepalive pings drop dead
    // peers; the maximum age sends GOAWAY, so clients reconnect (and spread over replicas).
    let mut builder = Server::builder()
        .http2_keepalive_interval(Some(config.keepalive_interval))
        .http2_keepalive_timeout(Some(config.keepalive_timeout))
        // No max_connection_age_grace here: connections::limit enforces it (see there).
        .max_connection_age(config.max_connection_age)
        .initial_stream_window_size(Some(1024 * 1024))
        .initial_connection_window_size(Some(4 * 1024 * 1024));
    if let Some(tls) = tls_config(config)? {
        builder = builder.tls_config(tls.timeout(config.handshake_timeout))?;
    }
    let router = builder.layer(layers).add_routes(routes);

    let incoming = connections::limit(
        TcpIncoming::from(listener)
            .with_nodelay(Some(true))
            .with_keepalive(Some(config.keepalive_interval)),
        &config.connection_limits(),
    );
    let grace = config.shutdown_grace;
    let name = spec.name;
    let signal = shutdown.clone();
    let task = tokio::spawn(async move {
        let serving = router.serve_with_incoming_shutdown(incoming, signal.triggered());
        tokio::pin!(serving);
        let drain_deadline = async {
            shutdown.triggered().await;
            tokio::time::sleep(grace).await;
        };
        tokio::select! {
            result = &mut serving => {
                tracing::info!(service = name, "server stopped");
                result.map_err(ServeError::from)
            }
            () = drain_deadline => {
                tracing::warn!(service = name, grace_ms = grace.as_millis() as u64,
                    "grace period over, calls still in flight were dropped");
                Ok(())
            }
        }
    });
    tracing::info!(service = name, addr = %local_addr, backend = spec.database.backend(), "listening");
    Ok(RunningServer { local_addr, task })
}
