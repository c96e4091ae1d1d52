//! The span exporter, watched: an export that fails (a collector that cannot be reached,
//! say) is logged as a warning, in the process's log format, at most once a minute with the
//! number of batches lost since the last warning; the first export that succeeds again is
//! logged once. Without this the SDK drops the spans silently until shutdown.

use std::{
    sync::Mutex,
    time::{Duration, Instant},
};

use opentelemetry_sdk::{
    error::OTelSdkResult,
    trace::{SpanData, SpanExporter},
};

/// At most one warning per this interval.
const WARN_INTERVAL: Duration = Duration::from_secs(60);

#[derive(Debug, Default)]
struct Failures {
    /// Since the last success; `None` while exports succeed.
    failing: Option<u64>,
    /// Batches lost since the last warning.
    unreported: u64,
    last_warning: Option<Instant>,
}

/// Wraps an exporter and reports its failures to the log (see the module).
#[derive(Debug)]
pub struct WatchedExporter<E> {
    inner: E,
    failures: Mutex<Failures>,
}

impl<E> WatchedExporter<E> {
    /// Watches `inner`.
    pub fn new(inner: E) -> Self {
        Self {
            inner,
            failures: Mutex::new(Failures::default()),
        }
    }

    fn record(&self, result: &OTelSdkResult, spans: usize) {
        let mut failures = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match result {
            Ok(()) => {
                if let Some(lost) = failures.failing.take() {
                    tracing::info!(lost_batches = lost, "span export works again");
                }
                failures.unreported = 0;
                failures.last_warning = None;
            }
            Err(error) => {
                *failures.failing.get_or_insert(0) += 1;
                failures.unreported += 1;
                if failures
                    .last_warning
                    .is_some_and(|at| at.elapsed() < WARN_INTERVAL)
                {
                    return;
                }
                tracing::warn!(
                    error = %error,
                    spans,
                    lost_batches = failures.unreported,
                    "span export failed: is the OpenTelemetry collector reachable? (next warning in a minute at the earliest)"
                );
                failures.unreported = 0;
                failures.last_warning = Some(Instant::now());
            }
        }
    }
}

impl<E: SpanExporter> SpanExporter for WatchedExporter<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let spans = batch.len();
        let result = self.inner.export(batch).await;
        self.record(&result, spans);
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        self.inner.set_resource(resource);
    }
}
