//! Telemetry for every ACX service: one call to [`init`] sets up logs (`RUST_LOG`, human or
//! JSON) and, when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, OpenTelemetry traces exported over
//! OTLP/gRPC. The SDK reads the standard `OTEL_*` variables itself; nothing here keeps a copy.
//!
//! [`GrpcServerTraceLayer`] gives every server call one span with the RPC semantic-convention
//! attributes, continuing the caller's W3C `traceparent`; [`TraceContextInterceptor`] injects
//! it on every client call. Attribute names are listed in `docs/telemetry.md`.

mod context;
mod export;
mod server;

pub use context::{
    TraceContextInterceptor, current_traceparent, extract_context, inject_context,
    link_to_traceparent,
};
pub use server::{GrpcServerTrace, GrpcServerTraceLayer};

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::{EnvFilter, Layer, filter::Targets, layer::SubscriberExt};

/// How log lines are written to standard error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Readable lines for a terminal.
    #[default]
    Human,
    /// One JSON object per line, for log collectors.
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "human" | "text" => Ok(Self::Human),
            "json" => Ok(Self::Json),
            other => Err(format!(
                "unknown log format {other:?}: expected human or json"
            )),
        }
    }
}

/// Why telemetry could not start.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// The OTLP exporter could not be built from the `OTEL_*` settings.
    #[error("cannot build the otlp span exporter")]
    Exporter(#[from] opentelemetry_otlp::ExporterBuildError),
    /// A global subscriber was already installed in this process.
    #[error("a tracing subscriber is already installed")]
    AlreadyInstalled(#[from] tracing::subscriber::SetGlobalDefaultError),
}

/// Keeps the tracer provider alive; [`TelemetryGuard::shutdown`] flushes pending spans.
#[must_use = "dropping the guard without shutdown() may lose the last spans"]
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl TelemetryGuard {
    /// Whether spans are being exported over OTLP.
    pub fn exporting(&self) -> bool {
        self.provider.is_some()
    }

    /// Flushes and stops the span exporter. Call it after the servers have stopped, so the
    /// spans of the last calls are sent. The flush blocks, so it runs off the async workers
    /// while the export task it waits for keeps running on them.
    pub async fn shutdown(mut self) {
        let Some(provider) = self.provider.take() else {
            return;
        };
        match tokio::task::spawn_blocking(move || provider.shutdown()).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => eprintln!("telemetry shutdown failed: {error}"),
            Err(error) => eprintln!("telemetry shutdown failed: {error}"),
        }
    }
}

/// The targets whose spans are exported: the project's own crates. Transport internals
/// (h2, hyper, tower, tonic) would otherwise send hundreds of spans per call.
fn exported_targets() -> Targets {
    Targets::new().with_target("acx", tracing::Level::INFO)
}

/// Installs the global subscriber. `default_service_name` names the service in traces when
/// `OTEL_SERVICE_NAME` is not set. Must be called from inside a Tokio runtime.
pub fn init(
    default_service_name: &str,
    format: LogFormat,
) -> Result<TelemetryGuard, TelemetryError> {
    opentelemetry::global::set_text_map_propagator(
        opentelemetry_sdk::propagation::TraceContextPropagator::new(),
    );

    let log_filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let logs = match format {
        LogFormat::Human => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_writer(std::io::stderr)
            .boxed(),
    }
    .with_filter(log_filter);

    let provider = match std::env::var_os("OTEL_EXPORTER_OTLP_ENDPOINT") {
        Some(_) => Some(tracer_provider(default_service_name)?),
        None => None,
    };
    let traces = provider.as_ref().map(|provider| {
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("acx"))
            .with_filter(exported_targets())
    });

    let subscriber = tracing_subscriber::registry().with(logs).with(traces);
    tracing::subscriber::set_global_default(subscriber)?;
    if let Some(provider) = &provider {
        opentelemetry::global::set_tracer_provider(provider.clone());
    }
    Ok(TelemetryGuard { provider })
}

/// Builds the OTLP/gRPC exporter pipeline. The exporter reads `OTEL_EXPORTER_OTLP_*` and the
/// resource reads `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES`; the batch processor runs
/// on the Tokio runtime because the tonic exporter needs its reactor.
fn tracer_provider(default_service_name: &str) -> Result<SdkTracerProvider, TelemetryError> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .build()?;
    let processor =
        opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor::builder(
            export::WatchedExporter::new(exporter),
            opentelemetry_sdk::runtime::Tokio,
        )
        .build();
    let mut resource = opentelemetry_sdk::Resource::builder();
    if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
        resource = resource.with_service_name(default_service_name.to_owned());
    }
    Ok(SdkTracerProvider::builder()
        .with_span_processor(processor)
        .with_resource(resource.build())
        .build())
}
