//! W3C trace-context propagation: extraction on the server side, injection on the client
//! side, both through the global propagator that [`crate::init`] installs.

use opentelemetry::{
    propagation::{Extractor, Injector},
    trace::TraceContextExt as _,
};
use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};
use tracing_opentelemetry::OpenTelemetrySpanExt;

struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

struct MetadataInjector<'a>(&'a mut MetadataMap);

impl Injector for MetadataInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(key), Ok(value)) = (
            MetadataKey::from_bytes(key.as_bytes()),
            MetadataValue::try_from(value),
        ) {
            self.0.insert(key, value);
        }
    }
}

/// The caller's trace context carried in `traceparent` / `tracestate` headers (an empty
/// context when there is none or it is malformed).
pub fn extract_context(headers: &http::HeaderMap) -> opentelemetry::Context {
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&HeaderExtractor(headers))
    })
}

/// Writes the current span's trace context into outgoing gRPC metadata.
pub fn inject_context(metadata: &mut MetadataMap) {
    let context = tracing::Span::current().context();
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut MetadataInjector(metadata));
    });
}

/// The W3C `traceparent` of the current span: to carry a trace past a queue or a table
/// (ingest's change feed), where no request carries it. `None` outside a trace.
pub fn current_traceparent() -> Option<String> {
    let context = tracing::Span::current().context();
    let mut carrier = std::collections::HashMap::new();
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut carrier);
    });
    carrier.remove("traceparent")
}

/// Links `span` to the span a `traceparent` names (one the work of `span` follows from,
/// such as the call that stored a feed item); a malformed or empty one adds nothing.
pub fn link_to_traceparent(span: &tracing::Span, traceparent: &str) {
    if traceparent.is_empty() {
        return;
    }
    let carrier =
        std::collections::HashMap::from([("traceparent".to_owned(), traceparent.to_owned())]);
    let context =
        opentelemetry::global::get_text_map_propagator(|propagator| propagator.extract(&carrier));
    let linked = context.span().span_context().clone();
    if linked.is_valid() {
        span.add_link(linked);
    }
}

/// A client interceptor that injects the current trace context into every call, so the
/// callee's server span becomes a child of the caller's span.
#[derive(Debug, Clone, Copy, Default)]
pub struct TraceContextInterceptor;

impl tonic::service::Interceptor for TraceContextInterceptor {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        inject_context(request.metadata_mut());
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
    use tracing_subscriber::layer::SubscriberExt;

    const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn a_known_traceparent_survives_extract_and_inject() {
        opentelemetry::global::set_text_map_propagator(
            opentelemetry_sdk::propagation::TraceContextPropagator::new(),
        );
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));

        tracing::subscriber::with_default(subscriber, || {
            let mut headers = http::HeaderMap::new();
            headers.insert("traceparent", TRACEPARENT.parse().expect("valid header"));
            let parent = extract_context(&headers);
            assert!(parent.span().span_context().is_remote());

            let span = tracing::info_span!("child");
            let _ = span.set_parent(parent);
            let _entered = span.enter();

            let mut metadata = MetadataMap::new();
            inject_context(&mut metadata);
            let sent = metadata
                .get("traceparent")
                .and_then(|value| value.to_str().ok())
                .expect("traceparent injected");
            let parts: Vec<&str> = sent.split('-').collect();
            assert_eq!(
                parts[1], "4bf92f3577b34da6a3ce929d0e0e4736",
                "same trace id"
            );
            assert_ne!(parts[2], "00f067aa0ba902b7", "a new span id: the child's");
            assert_eq!(parts[3], "01", "sampled flag kept");
        });
    }

    #[test]
    fn a_malformed_traceparent_gives_an_empty_context() {
        opentelemetry::global::set_text_map_propagator(
            opentelemetry_sdk::propagation::TraceContextPropagator::new(),
        );
        let mut headers = http::HeaderMap::new();
        headers.insert("traceparent", "not-a-trace".parse().expect("valid header"));
        let context = extract_context(&headers);
        assert!(!context.span().span_context().is_valid());
    }
}
