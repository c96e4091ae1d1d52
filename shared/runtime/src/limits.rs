//! Request limits, in one layer: message size, deadline, and concurrency with load shedding.
//!
//! Written here rather than taken from tower because the gRPC details matter: tower's
//! timeout cannot read the caller's `grpc-timeout` and tonic reports an expired one as
//! `CANCELLED`; tonic reports an oversized message as `OUT_OF_RANGE`; and health probes must
//! never be shed, or a busy pod would be taken out of its Service. Here:
//! - a request message over the size limit is `RESOURCE_EXHAUSTED`, detected from the gRPC
//!   frame header before the message is buffered;
//! - a call runs for at most the caller's deadline or the default one, then
//!   `DEADLINE_EXCEEDED` (for a streaming response, until its headers are sent); calls to
//!   peers made while serving it get what is left of that deadline
//!   ([`acx_client::deadline`]);
//! - past the concurrency limit a call is refused at once with `RESOURCE_EXHAUSTED`
//!   instead of queueing.

use std::{
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll, ready},
    time::Duration,
};

use bytes::{Buf, Bytes};
use http_body::Frame;
use pin_project_lite::pin_project;
use tokio::sync::Semaphore;
use tonic::{Code, body::Body};
use tower::{Layer, Service};

use crate::error::status_with_reason;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// The limits applied to every call of a server.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request message accepted, in bytes.
    pub max_message_bytes: usize,
    /// Deadline of a call whose caller sent none (or a longer one).
    pub default_deadline: Duration,
    /// Calls served at once; more are refused.
    pub max_concurrent_calls: usize,
}

/// Tower layer applying [`Limits`].
#[derive(Debug, Clone)]
pub struct LimitsLayer {
    limits: Arc<Limits>,
    permits: Arc<Semaphore>,
}

impl LimitsLayer {
    /// One layer per server: its permits are shared by all connections.
    pub fn new(limits: Limits) -> Self {
        let permits = Arc::new(Semaphore::new(limits.max_concurrent_calls));
        Self {
            limits: Arc::new(limits),
            permits,
        }
    }
}

impl<S> Layer<S> for LimitsLayer {
    type Service = LimitsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        LimitsService {
            inner,
            layer: self.clone(),
        }
    }
}

/// See [`LimitsLayer`].
#[derive(Debug, Clone)]
pub struct LimitsService<S> {
    inner: S,
    layer: LimitsLayer,
}

/// Health checks are never shed.
fn is_exempt_from_shedding(path: &str) -> bool {
    path.starts_with("/grpc.health.v1.Health/")
}

/// Parses a `grpc-timeout` header value (`100m`, `5S`, ...: at most 8 digits and a unit, per
/// gRPC over HTTP/2); None when it is not one.
pub fn parse_grpc_timeout(value: &str) -> Option<Duration> {
    if value.len() < 2 || value.len() > 9 {
        return None;
    }
    let (digits, unit) = value.split_at(value.len() - 1);
    let amount: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(amount.checked_mul(3600)?),
        "M" => Duration::from_secs(amount.checked_mul(60)?),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return None,
    })
}

impl<S> Service<http::Request<Body>> for LimitsService<S>
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
        let limits = &self.layer.limits;
        let path = request.uri().path();
        let permit = match self.layer.permits.clone().try_acquire_owned() {
            Ok(permit) => Some(permit),
            Err(_) if is_exempt_from_shedding(path) => None,
            Err(_) => {
                tracing::warn!(rpc.path = %path, "over the concurrency limit, call shed");
                let status = status_with_reason(
                    Code::ResourceExhausted,
                    "the server is at its concurrency limit; retry with backoff",
                    "OVERLOADED",
                );
                return Box::pin(std::future::ready(Ok(status.into_http())));
            }
        };

        let deadline = request
            .headers()
            .get("grpc-timeout")
            .and_then(|value| value.to_str().ok())
            .and_then(parse_grpc_timeout)
            // A hair under the caller's deadline, so that this layer's DEADLINE_EXCEEDED
            // answers before tonic's own timer on the same header, which says CANCELLED.
            .map_or(limits.default_deadline, |asked| {
                asked
                    .saturating_sub(Duration::from_millis(1))
                    .min(limits.default_deadline)
            });
        let max = limits.max_message_bytes;
        let request = request.map(|body| Body::new(SizeLimitedBody::new(body, max)));
        // Calls to peers made while serving this one get what is left of its deadline.
        let call = acx_client::deadline::scope(
            tokio::time::Instant::now() + deadline,
            self.inner.call(request),
        );
        Box::pin(async move {
            let mut call = std::pin::pin!(call);
            // Dropped before `call`: a call ended by its deadline or its client going away
            // is noted as cut off before its database statements are dropped.
            let mut cut_off = crate::db::CutOff::armed();
            let outcome = tokio::time::timeout(deadline, call.as_mut()).await;
            if outcome.is_ok() {
                cut_off.finished();
            }
            drop(permit);
            match outcome {
                Ok(result) => result,
                Err(_) => Ok(status_with_reason(
                    Code::DeadlineExceeded,
                    format!("deadline of {} ms exceeded", deadline.as_millis()),
                    "DEADLINE_EXCEEDED",
                )
                .into_http()),
            }
        })
    }
}

pin_project! {
    /// A request body that fails with `RESOURCE_EXHAUSTED` as soon as a gRPC frame header
    /// announces a message larger than the limit. It reads the 5-byte frame headers
    /// (compressed flag, big-endian length) as the bytes pass; it buffers nothing.
    struct SizeLimitedBody {
        #[pin]
        inner: Body,
        max: usize,
        header: [u8; 5],
        header_len: usize,
        remaining: u64,
    }
}

impl SizeLimitedBody {
    fn new(inner: Body, max: usize) -> Self {
        Self {
            inner,
            max,
            header: [0; 5],
            header_len: 0,
            remaining: 0,
        }
    }
}

/// Walks a chunk through the frame parser; `Err(len)` when a frame is over the limit.
fn scan_frames(
    mut chunk: &[u8],
    header: &mut [u8; 5],
    header_len: &mut usize,
    remaining: &mut u64,
    max: usize,
) -> Result<(), u64> {
    while !chunk.is_empty() {
        if *remaining > 0 {
            let step = (*remaining).min(chunk.len() as u64);
            *remaining -= step;
            chunk.advance(step as usize);
            continue;
        }
        let take = (5 - *header_len).min(chunk.len());
        header[*header_len..*header_len + take].copy_from_slice(&chunk[..take]);
        *header_len += take;
        chunk.advance(take);
        if *header_len == 5 {
            let len = u64::from(u32::from_be_bytes([
                header[1], header[2], header[3], header[4],
            ]));
            if len > max as u64 {
                return Err(len);
            }
            *remaining = len;
            *header_len = 0;
        }
    }
    Ok(())
}

impl http_body::Body for SizeLimitedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let frame = match ready!(this.inner.poll_frame(cx)) {
            Some(Ok(frame)) => frame,
            Some(Err(status)) => return Poll::Ready(Some(Err(status.into()))),
            None => return Poll::Ready(None),
        };
        if let Some(data) = frame.data_ref()
            && let Err(len) = scan_frames(
                data,
                this.header,
                this.header_len,
                this.remaining,
                *this.max,
            )
        {
            tracing::warn!(
                message.bytes = len,
                limit = *this.max,
                "request message over the size limit"
            );
            let status = status_with_reason(
                Code::ResourceExhausted,
                format!(
                    "request message of {len} bytes is over the limit of {} bytes",
                    this.max
                ),
                "MESSAGE_TOO_LARGE",
            );
            return Poll::Ready(Some(Err(Box::new(status))));
        }
        Poll::Ready(Some(Ok(frame)))
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

    fn frame(len: u32) -> Vec<u8> {
        let mut bytes = vec![0];
        bytes.extend_from_slice(&len.to_be_bytes());
        bytes.extend(std::iter::repeat_n(7, len as usize));
        bytes
    }

    fn scan(chunks: &[&[u8]], max: usize) -> Result<(), u64> {
        let (mut header, mut header_len, mut remaining) = ([0; 5], 0, 0);
        for chunk in chunks {
            scan_frames(chunk, &mut header, &mut header_len, &mut remaining, max)?;
        }
        Ok(())
    }

    #[test]
    fn accepts_frames_within_the_limit_however_they_are_split() {
        let mut stream = frame(10);
        stream.extend(frame(3));
        assert_eq!(scan(&[&stream], 10), Ok(()));
        let (a, b) = stream.split_at(3);
        assert_eq!(scan(&[a, b], 10), Ok(()));
        let pieces: Vec<&[u8]> = stream.chunks(1).collect();
        assert_eq!(scan(&pieces, 10), Ok(()));
    }

    #[test]
    fn refuses_an_oversized_frame_even_after_small_ones() {
        let mut stream = frame(4);
        stream.extend(frame(11));
        assert_eq!(scan(&[&stream], 10), Err(11));
        let pieces: Vec<&[u8]> = stream.chunks(2).collect();
        assert_eq!(scan(&pieces, 10), Err(11));
    }

    #[test]
    fn parses_grpc_timeouts() {
        assert_eq!(parse_grpc_timeout("100m"), Some(Duration::from_millis(100)));
        assert_eq!(parse_grpc_timeout("5S"), Some(Duration::from_secs(5)));
        assert_eq!(parse_grpc_timeout("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_grpc_timeout("5x"), None);
        assert_eq!(parse_grpc_timeout("m"), None);
        assert_eq!(parse_grpc_timeout("123456789m"), None);
    }
}
