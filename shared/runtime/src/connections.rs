//! Connections, bounded: how many a server holds at once, and how long one may take to
//! start speaking HTTP/2.
//!
//! - Past [`ConnectionLimits::max_connections`] a new connection is accepted and closed at
//!   once (the kernel would otherwise queue it in the backlog, unanswered); the callers on
//!   the connections already open are not disturbed.
//! - A connection must send the 24 bytes of the HTTP/2 client preface within
//!   [`ConnectionLimits::handshake_timeout`] of being accepted, or it is closed. With TLS
//!   the same deadline covers the TLS handshake (tonic's own timeout) and the first bytes.
//!
//! - A connection still open [`ConnectionLimits::close_after`] after it was accepted (its
//!   maximum age plus the grace for calls in flight) is closed. The graceful part, GOAWAY
//!   at the maximum age, is tonic's `max_connection_age`; its own grace timer is not used,
//!   because tonic 0.14 then skips the GOAWAY and only closes the connection at age +
//!   grace, cutting every call short.
//!
//! Dead peers (connections that spoke, then went silent without closing) are dropped by
//! HTTP/2 keepalive pings, set on the server builder (`server::serve`).

use std::{
    io,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    task::{Context, Poll, ready},
    time::{Duration, Instant},
};

use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::TcpStream,
    sync::{OwnedSemaphorePermit, Semaphore},
    time::Sleep,
};
use tokio_stream::{Stream, StreamExt};
use tonic::transport::server::{Connected, TcpConnectInfo};

/// Length of the HTTP/2 client connection preface (`PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`).
const PREFACE_BYTES: usize = 24;
/// At most one warning per this interval about connections refused over the limit.
const REFUSAL_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// The connection limits of one server.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    /// Connections held at once; more are closed as soon as they are accepted.
    pub max_connections: usize,
    /// Time from accept to the end of the HTTP/2 preface (and the TLS handshake).
    pub handshake_timeout: Duration,
    /// Time from accept after which a connection is closed, whatever it carries.
    pub close_after: Duration,
}

/// `incoming` with the limits applied: connections over the cap are closed at once, the
/// others are wrapped so that a silent one is closed at its handshake deadline.
pub fn limit<S>(
    incoming: S,
    limits: &ConnectionLimits,
) -> impl Stream<Item = io::Result<LimitedConnection>> + use<S>
where
    S: Stream<Item = io::Result<TcpStream>>,
{
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let handshake_timeout = limits.handshake_timeout;
    let close_after = limits.close_after;
    let max = limits.max_connections;
    let refusals = RefusalLog::default();
    incoming.filter_map(move |accepted| {
        let stream = match accepted {
            Ok(stream) => stream,
            Err(error) => return Some(Err(error)),
        };
        match permits.clone().try_acquire_owned() {
            Ok(permit) => Some(Ok(LimitedConnection {
                inner: stream,
                preface_left: PREFACE_BYTES,
                deadline: Some(Box::pin(tokio::time::sleep(handshake_timeout))),
                close_at: Box::pin(tokio::time::sleep(close_after)),
                _permit: permit,
            })),
            Err(_) => {
                refusals.refused(max, stream.peer_addr().ok());
                // Dropping the stream closes it.
                None
            }
        }
    })
}

/// Counts refused connections and logs them at most once per [`REFUSAL_LOG_INTERVAL`].
#[derive(Debug)]
struct RefusalLog {
    since_last: AtomicU64,
    last: std::sync::Mutex<Option<Instant>>,
}

impl Default for RefusalLog {
    fn default() -> Self {
        Self {
            since_last: AtomicU64::new(0),
            last: std::sync::Mutex::new(None),
        }
    }
}

impl RefusalLog {
    fn refused(&self, max: usize, peer: Option<std::net::SocketAddr>) {
        let count = self.since_last.fetch_add(1, Ordering::Relaxed) + 1;
        let mut last = self
            .last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if last.is_some_and(|at| at.elapsed() < REFUSAL_LOG_INTERVAL) {
            return;
        }
        *last = Some(Instant::now());
        self.since_last.store(0, Ordering::Relaxed);
        tracing::warn!(
            limit = max,
            refused = count,
            peer = ?peer,
            "connection limit reached, new connections are closed"
        );
    }
}

/// An accepted connection holding its place under the cap until it closes, and closed
/// with an error if it has not sent the HTTP/2 preface by its deadline, or once it has
/// lived past its maximum age and grace.
pub struct LimitedConnection {
    inner: TcpStream,
    preface_left: usize,
    deadline: Option<Pin<Box<Sleep>>>,
    close_at: Pin<Box<Sleep>>,
    _permit: OwnedSemaphorePermit,
}

impl std::fmt::Debug for LimitedConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LimitedConnection")
            .field("peer", &self.inner.peer_addr().ok())
            .field("preface_left", &self.preface_left)
            .finish()
    }
}

impl Connected for LimitedConnection {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.inner.connect_info()
    }
}

impl AsyncRead for LimitedConnection {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.close_at.as_mut().poll(cx).is_ready() {
            tracing::debug!(peer = ?this.inner.peer_addr().ok(), "connection past its maximum age and grace, closed");
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the connection is past its maximum age and grace",
            )));
        }
        if let Some(deadline) = this.deadline.as_mut()
            && deadline.as_mut().poll(cx).is_ready()
        {
            tracing::debug!(peer = ?this.inner.peer_addr().ok(), "no http/2 preface in time, connection closed");
            this.deadline = None;
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the connection did not send the HTTP/2 preface in time",
            )));
        }
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
        if this.deadline.is_some() {
            let read = buf.filled().len() - before;
            this.preface_left = this.preface_left.saturating_sub(read);
            if this.preface_left == 0 || read == 0 {
                this.deadline = None;
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for LimitedConnection {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
