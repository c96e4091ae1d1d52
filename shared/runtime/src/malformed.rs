//! Undecodable requests are the caller's fault: `INVALID_ARGUMENT`, not `INTERNAL`.
//!
//! tonic (0.14) answers a request body it cannot decode with `INTERNAL`: prost's decode
//! errors (truncated, a string that is not UTF-8, field number 0, a wrong wire type), a
//! gRPC frame cut short, an unknown compressed flag, and a unary call with no message at
//! all. Its decoder is shared with the client side and cannot tell the two apart, so this
//! layer, on the server, rewrites exactly those statuses (recognised by tonic's own texts,
//! which no ACX handler produces: they return `error::internal`'s generic message) into
//! [`crate::error::malformed_message`], in a trailers-only answer or in the trailers of a
//! streaming one. Every other status passes untouched.

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll, ready},
};

use http_body::Frame;
use pin_project_lite::pin_project;
use tonic::{Code, Status, body::Body};
use tower::{Layer, Service};

use crate::error::malformed_message;

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// What tonic and prost say of a request body they cannot decode.
const PROST_PREFIX: &str = "failed to decode Protobuf message: ";
const FRAMING_MESSAGES: &[(&str, &str)] = &[
    (
        "protocol error: received message with compressed-flag but no grpc-encoding",
        "a message is flagged compressed but the call names no grpc-encoding",
    ),
    (
        "protocol error: received message with invalid compression flag",
        "a gRPC frame has an invalid compressed flag (valid: 0 and 1)",
    ),
    (
        "Unexpected EOF decoding stream",
        "the request ends inside a gRPC frame (truncated)",
    ),
    (
        "Missing request message",
        "the request carries no message (an empty body)",
    ),
    (
        "Error decompressing",
        "a compressed message cannot be decompressed",
    ),
];

/// The `INVALID_ARGUMENT` a tonic decode status stands for, or `None` for any other status.
pub(crate) fn rewrite(status: &Status) -> Option<Status> {
    if status.code() != Code::Internal {
        return None;
    }
    let message = status.message();
    if let Some(rest) = message.strip_prefix(PROST_PREFIX) {
        let (field, description) = prost_field_path(rest);
        return Some(malformed_message(description, field.as_deref()));
    }
    FRAMING_MESSAGES
        .iter()
        .find(|(prefix, _)| message.starts_with(prefix))
        .map(|(_, description)| malformed_message(description, None))
}

/// Splits prost's `Inner.field: Outer.inner: description` (innermost first) into the path
/// `inner.field` (proto field names) and the description.
fn prost_field_path(text: &str) -> (Option<String>, &str) {
    let mut fields = Vec::new();
    let mut rest = text;
    while let Some((frame, tail)) = rest.split_once(": ") {
        let Some((message, field)) = frame.rsplit_once('.') else {
            break;
        };
        let is_name = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'#')
        };
        if !is_name(message) || !is_name(field) {
            break;
        }
        fields.push(field.trim_start_matches("r#"));
        rest = tail;
    }
    if fields.is_empty() {
        return (None, rest);
    }
    fields.reverse();
    (Some(fields.join(".")), rest)
}

/// Rewrites `headers` in place when they carry a tonic decode status.
fn rewrite_headers(headers: &mut http::HeaderMap) {
    // Cheap test first: only INTERNAL is ever rewritten.
    if headers.get("grpc-status").map(http::HeaderValue::as_bytes) != Some(b"13") {
        return;
    }
    let Some(replacement) = Status::from_header_map(headers).as_ref().and_then(rewrite) else {
        return;
    };
    tracing::debug!(reason = %replacement.message(), "malformed request");
    headers.remove("grpc-status");
    headers.remove("grpc-message");
    headers.remove("grpc-status-details-bin");
    if replacement.add_header(headers).is_err() {
        headers.insert("grpc-status", http::HeaderValue::from_static("3"));
    }
}

/// Tower layer turning tonic's `INTERNAL` for undecodable requests into `INVALID_ARGUMENT`.
#[derive(Debug, Clone, Copy, Default)]
pub struct MalformedRequestLayer;

impl<S> Layer<S> for MalformedRequestLayer {
    type Service = MalformedRequests<S>;

    fn layer(&self, inner: S) -> Self::Service {
        MalformedRequests { inner }
    }
}

/// See [`MalformedRequestLayer`].
#[derive(Debug, Clone)]
pub struct MalformedRequests<S> {
    inner: S,
}

impl<S> Service<http::Request<Body>> for MalformedRequests<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let call = self.inner.call(request);
        Box::pin(async move {
            let mut response = call.await?;
            if response.headers().contains_key("grpc-status") {
                // Trailers-only: the whole answer is in the headers.
                rewrite_headers(response.headers_mut());
                return Ok(response);
            }
            Ok(response.map(|body| Body::new(RewrittenTrailers { inner: body })))
        })
    }
}

pin_project! {
    /// A response body whose trailers are rewritten like trailers-only headers.
    struct RewrittenTrailers {
        #[pin]
        inner: Body,
    }
}

impl http_body::Body for RewrittenTrailers {
    type Data = bytes::Bytes;
    type Error = Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let frame = ready!(self.project().inner.poll_frame(cx));
        Poll::Ready(frame.map(|frame| {
            frame.map(|frame| match frame.into_trailers() {
                Ok(mut trailers) => {
                    rewrite_headers(&mut trailers);
                    Frame::trailers(trailers)
                }
                Err(frame) => frame,
            })
        }))
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
    use tonic_types::StatusExt;

    #[test]
    fn prost_errors_become_invalid_argument_with_the_field_path() {
        let status = Status::internal(
            "failed to decode Protobuf message: SellerAccountRef.seller_id: \
             SubmitReportsRequest.reports: invalid string value: data is not UTF-8 encoded",
        );
        let rewritten = rewrite(&status).expect("rewritten");
        assert_eq!(rewritten.code(), Code::InvalidArgument);
        let details = rewritten.get_error_details();
        let violation = &details.bad_request().expect("bad request").field_violations[0];
        assert_eq!(violation.field, "reports.seller_id");
        assert_eq!(
            violation.description,
            "invalid string value: data is not UTF-8 encoded"
        );
        assert_eq!(
            details.error_info().expect("info").reason,
            "MALFORMED_MESSAGE"
        );

        let no_field = rewrite(&Status::internal(
            "failed to decode Protobuf message: invalid tag value: 0",
        ))
        .expect("rewritten");
        assert!(no_field.get_error_details().bad_request().is_none());
        assert!(no_field.message().ends_with("invalid tag value: 0"));
    }

    #[test]
    fn framing_errors_are_rewritten_and_other_statuses_are_not() {
        for (tonic_text, _) in FRAMING_MESSAGES {
            let rewritten = rewrite(&Status::internal(*tonic_text)).expect("rewritten");
            assert_eq!(rewritten.code(), Code::InvalidArgument);
        }
        assert!(rewrite(&Status::internal("internal error; it has been logged")).is_none());
        assert!(rewrite(&Status::unavailable("failed to decode Protobuf message: x")).is_none());
    }

    #[test]
    fn headers_are_rewritten_in_place() {
        let mut headers = http::HeaderMap::new();
        Status::internal("Unexpected EOF decoding stream.")
            .add_header(&mut headers)
            .expect("headers");
        rewrite_headers(&mut headers);
        let status = Status::from_header_map(&headers).expect("status");
        assert_eq!(status.code(), Code::InvalidArgument);
    }
}
