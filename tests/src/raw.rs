//! gRPC calls with raw request bodies, for tests that send what no generated client would:
//! malformed messages, broken frames, any RPC by its path. The answer is the status the
//! server sent, whether in a trailers-only answer or in the trailers of a stream.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use tonic::{Status, body::Body, transport::Channel};
use tower::ServiceExt;

/// What a raw call got back.
#[derive(Debug)]
pub enum RawAnswer {
    /// The call ended with this status (`OK` included).
    Status(Status),
    /// A stream was still open, without a final status, after the wait: the server took
    /// the request as valid.
    StillStreaming,
    /// The body ended without a `grpc-status`: not a gRPC answer.
    NoStatus,
}

impl RawAnswer {
    /// The status code, `None` for a stream still open or no status.
    pub fn code(&self) -> Option<tonic::Code> {
        match self {
            RawAnswer::Status(status) => Some(status.code()),
            _ => None,
        }
    }
}

/// `message` in one gRPC frame (uncompressed).
pub fn frame(message: &[u8]) -> Vec<u8> {
    let mut framed = Vec::with_capacity(message.len() + 5);
    framed.push(0);
    framed.extend_from_slice(&u32::try_from(message.len()).expect("small").to_be_bytes());
    framed.extend_from_slice(message);
    framed
}

/// Sends `body` (already framed: see [`frame`]) to `path` on `channel`, with the bearer
/// `token` if any, and waits up to `wait` for the status. `Err` is a transport failure:
/// the connection, not the call, failed.
pub async fn call(
    channel: &Channel,
    path: &str,
    token: Option<&str>,
    body: Vec<u8>,
    wait: Duration,
) -> Result<RawAnswer, tonic::transport::Error> {
    Ok(call_keeping_messages(channel, path, token, body, wait)
        .await?
        .0)
}

/// As [`call`], and also the bytes of the messages answered before the status (their gRPC
/// frames, concatenated as received).
pub async fn call_keeping_messages(
    channel: &Channel,
    path: &str,
    token: Option<&str>,
    body: Vec<u8>,
    wait: Duration,
) -> Result<(RawAnswer, Vec<u8>), tonic::transport::Error> {
    let mut request = http::Request::builder()
        .method(http::Method::POST)
        .uri(path)
        .header("content-type", "application/grpc")
        .header("te", "trailers");
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let request = request
        .body(Body::new(Full::new(Bytes::from(body))))
        .expect("valid request");
    let response = channel.clone().oneshot(request).await?;
    if let Some(status) = Status::from_header_map(response.headers()) {
        return Ok((RawAnswer::Status(status), Vec::new()));
    }
    let mut body = response.into_body();
    let mut messages = Vec::new();
    loop {
        let answer = match tokio::time::timeout(wait, body.frame()).await {
            Err(_) => RawAnswer::StillStreaming,
            Ok(None) => RawAnswer::NoStatus,
            Ok(Some(Err(status))) => RawAnswer::Status(status),
            Ok(Some(Ok(frame))) => match frame.into_data() {
                Ok(data) => {
                    messages.extend_from_slice(&data);
                    continue;
                }
                Err(frame) => frame
                    .trailers_ref()
                    .and_then(Status::from_header_map)
                    .map_or(RawAnswer::NoStatus, RawAnswer::Status),
            },
        };
        return Ok((answer, messages));
    }
}

/// A channel to `addr` that counts the TCP connections it opens: a test that sees more than
/// one knows the server (or the client) dropped a connection on the way.
pub async fn counted_channel(
    addr: std::net::SocketAddr,
) -> (Channel, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    };
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = connections.clone();
    let connector = tower::service_fn(move |_: http::Uri| {
        let counter = counter.clone();
        async move {
            let stream = tokio::net::TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            counter.fetch_add(1, Ordering::SeqCst);
            Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(stream))
        }
    });
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .expect("valid endpoint")
        .connect_with_connector(connector)
        .await
        .expect("server reachable");
    (channel, connections)
}
