//! One span per gRPC server call, with the RPC semantic-convention attributes
//! (`rpc.system`, `rpc.service`, `rpc.method`, `rpc.grpc.status_code`), parented on the
//! caller's W3C trace context. The span stays open until the response body (and so the
//! gRPC status in its trailers) has been sent.

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll, ready},
};

use http_body::{Body, Frame};
use pin_project_lite::pin_project;
use tower::{Layer, Service};
use tracing::{Instrument, Span, field::Empty, instrument::Instrumented};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// Tower layer adding [`GrpcServerTrace`] around a gRPC router.
#[derive(Debug, Clone, Copy, Default)]
pub struct GrpcServerTraceLayer;

impl<S> Layer<S> for GrpcServerTraceLayer {
    type Service = GrpcServerTrace<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcServerTrace { inner }
    }
}

/// See [`GrpcServerTraceLayer`].
#[derive(Debug, Clone)]
pub struct GrpcServerTrace<S> {
    inner: S,
}

/// Health checks and reflection make no span: probes alone would make a trace every few
/// seconds per pod, and neither is a call anyone traces.
fn is_untraced(path: &str) -> bool {
    path.starts_with("/grpc.health.v1.Health/")
        || path.starts_with("/grpc.reflection.v1.ServerReflection/")
        || path.starts_with("/grpc.reflection.v1alpha.ServerReflection/")
}

/// Splits `/acx.ingest.v1.IngestService/SubmitReports` into service and method.
fn service_and_method(path: &str) -> (&str, &str) {
    let path = path.trim_start_matches('/');
    path.rsplit_once('/').unwrap_or((path, ""))
}

/// Server errors in the sense of the RPC semantic conventions.
fn is_server_error(code: i32) -> bool {
    use tonic::Code;
    [
        Code::Unknown,
        Code::DeadlineExceeded,
        Code::Unimplemented,
        Code::Internal,
        Code::Unavailable,
        Code::DataLoss,
    ]
    .iter()
    .any(|c| *c as i32 == code)
}

fn record_status(span: &Span, headers: &http::HeaderMap) -> bool {
    let Some(code) = headers
        .get("grpc-status")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<i32>().ok())
    else {
        return false;
    };
    span.record("rpc.grpc.status_code", code);
    if is_server_error(code) {
        span.record("otel.status_code", "ERROR");
    }
    true
}

impl<S, B, ResBody> Service<http::Request<B>> for GrpcServerTrace<S>
where
    S: Service<http::Request<B>, Response = http::Response<ResBody>>,
    ResBody: Body,
{
    type Response = http::Response<TracedBody<ResBody>>;
    type Error = S::Error;
    type Future = TracedFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        if is_untraced(request.uri().path()) {
            return TracedFuture {
                inner: self.inner.call(request).instrument(Span::none()),
                span: None,
            };
        }
        let (service, method) = service_and_method(request.uri().path());
        let span = tracing::info_span!(
            "grpc.server",
            otel.name = %format_args!("{service}/{method}"),
            otel.kind = "server",
            otel.status_code = Empty,
            rpc.system = "grpc",
            rpc.service = %service,
            rpc.method = %method,
            rpc.grpc.status_code = Empty,
            acx.principal = Empty,
        );
        let _ = span.set_parent(crate::extract_context(request.headers()));
        let future = {
            let _entered = span.enter();
            self.inner.call(request)
        };
        TracedFuture {
            inner: future.instrument(span.clone()),
            span: Some(span),
        }
    }
}

pin_project! {
    /// Response future of [`GrpcServerTrace`].
    pub struct TracedFuture<F> {
        #[pin]
        inner: Instrumented<F>,
        span: Option<Span>,
    }
}

impl<F, ResBody, E> Future for TracedFuture<F>
where
    F: Future<Output = Result<http::Response<ResBody>, E>>,
{
    type Output = Result<http::Response<TracedBody<ResBody>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx));
        let span = this.span.take().unwrap_or_else(Span::none);
        Poll::Ready(result.map(|response| {
            // A trailers-only response (an error before any message) carries the status in
            // its headers; otherwise it arrives in the trailers.
            let span = if record_status(&span, response.headers()) {
                None
            } else {
                Some(span)
            };
            response.map(|body| TracedBody { inner: body, span })
        }))
    }
}

pin_project! {
    /// Response body of [`GrpcServerTrace`]: records the gRPC status from the trailers and
    /// keeps the span open until the body is done.
    pub struct TracedBody<B> {
        #[pin]
        inner: B,
        span: Option<Span>,
    }
}

impl<B: Body> Body for TracedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let frame = ready!(this.inner.poll_frame(cx));
        match &frame {
            Some(Ok(frame)) => {
                if let (Some(trailers), Some(span)) = (frame.trailers_ref(), this.span.as_ref())
                    && record_status(span, trailers)
                {
                    *this.span = None;
                }
            }
            Some(Err(_)) => {
                if let Some(span) = this.span.take() {
                    span.record("otel.status_code", "ERROR");
                }
            }
            None => *this.span = None,
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_the_grpc_path() {
        assert_eq!(
            service_and_method("/acx.ingest.v1.IngestService/SubmitReports"),
            ("acx.ingest.v1.IngestService", "SubmitReports")
        );
        assert_eq!(service_and_method("/odd"), ("odd", ""));
    }

    #[test]
    fn health_and_reflection_are_not_traced() {
        assert!(is_untraced("/grpc.health.v1.Health/Check"));
        assert!(is_untraced(
            "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"
        ));
        assert!(!is_untraced("/acx.diagnostics.v1.DiagnosticsService/Echo"));
    }

    #[test]
    fn classifies_server_errors() {
        assert!(is_server_error(tonic::Code::Internal as i32));
        assert!(!is_server_error(tonic::Code::InvalidArgument as i32));
        assert!(!is_server_error(tonic::Code::Ok as i32));
    }
}
