//! Connections under callers that never speak, go silent, or are too many: a connection
//! that does not send the HTTP/2 preface in time is closed; one that stops answering
//! keepalive pings is dropped; every connection is told to go away at its maximum age (its
//! client reconnects); past the cap new connections are closed while the callers already
//! connected keep working. Each waits for an event, bounded by a generous guard, never for
//! a time.

#![allow(clippy::unwrap_used)]

use std::{sync::atomic::Ordering, time::Duration};

use acx_proto::diagnostics::{EchoRequest, diagnostics_service_client::DiagnosticsServiceClient};
use acx_runtime::{ServerConfig, Shutdown};
use acx_tests::{authorized, raw, tokens_file};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};
use tonic::transport::Channel;

/// How long a test waits for an event before it fails (a hang, not a slow server).
const GUARD: Duration = Duration::from_secs(60);
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// An empty SETTINGS frame: what a client sends right after the preface.
const SETTINGS: &[u8] = &[0, 0, 0, 4, 0, 0, 0, 0, 0];

struct Server {
    addr: std::net::SocketAddr,
    token: String,
    shutdown: Shutdown,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown.trigger();
    }
}

/// Scoring alone, with `configure`d connection settings.
async fn server(configure: impl FnOnce(&mut ServerConfig)) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let token = acx_runtime::credentials::generate_token();
    let mut config = ServerConfig::local(dir.path());
    config.listen_addr = Some("127.0.0.1:0".parse().unwrap());
    config.tokens_file = Some(tokens_file(dir.path(), &token, "customs:test"));
    configure(&mut config);
    let shutdown = Shutdown::new();
    let running = acx_scoring::start(&acx_scoring::Config::standalone(config), shutdown.clone())
        .await
        .unwrap();
    Server {
        addr: running.local_addr,
        token,
        shutdown,
        _dir: dir,
    }
}

async fn echo(channel: &Channel, token: &str) -> Result<(), tonic::Status> {
    DiagnosticsServiceClient::new(channel.clone())
        .echo(authorized(
            EchoRequest {
                message: "hi".into(),
                ..Default::default()
            },
            token,
        ))
        .await
        .map(|_| ())
}

/// Reads (and discards) whatever the server sends until it closes the connection.
async fn wait_closed(mut socket: TcpStream) {
    let mut buf = [0u8; 4096];
    tokio::time::timeout(GUARD, async {
        loop {
            match socket.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .expect("the server closed the connection");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_that_never_send_the_preface_are_closed_and_real_clients_are_not() {
    let server = server(|config| config.handshake_timeout = Duration::from_millis(300)).await;
    let mut silent = Vec::new();
    for _ in 0..50 {
        silent.push(TcpStream::connect(server.addr).await.unwrap());
    }
    // Half a preface is no preface.
    let mut half = TcpStream::connect(server.addr).await.unwrap();
    half.write_all(&PREFACE[..10]).await.unwrap();
    silent.push(half);
    let (channel, connections) = raw::counted_channel(server.addr).await;
    echo(&channel, &server.token).await.unwrap();
    futures_util::future::join_all(silent.into_iter().map(wait_closed)).await;

    // A client that spoke is not bound by the handshake deadline, however idle it is.
    tokio::time::sleep(Duration::from_millis(600)).await;
    echo(&channel, &server.token).await.unwrap();
    assert_eq!(connections.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_cap_new_connections_are_closed_while_connected_callers_keep_working() {
    let server = server(|config| {
        config.max_connections = 4;
        config.handshake_timeout = Duration::from_secs(600);
    })
    .await;
    let (channel, connections) = raw::counted_channel(server.addr).await;
    echo(&channel, &server.token).await.unwrap();
    // Three silent connections fill the cap (accepted in the order they connected).
    let mut holders = Vec::new();
    for _ in 0..3 {
        holders.push(TcpStream::connect(server.addr).await.unwrap());
    }
    let over = TcpStream::connect(server.addr).await.unwrap();
    wait_closed(over).await;
    // The caller already connected is not disturbed.
    for _ in 0..20 {
        echo(&channel, &server.token).await.unwrap();
    }
    assert_eq!(connections.load(Ordering::SeqCst), 1);

    // A connection that closes frees its place.
    drop(holders.pop());
    let token = server.token.clone();
    let addr = server.addr;
    tokio::time::timeout(GUARD, async move {
        loop {
            let attempt = async {
                let channel = acx_tests::channel_result(addr).await?;
                echo(&channel, &token).await.map_err(|e| e.to_string())
            };
            if attempt.await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("a new client connects once a place is free");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_stops_answering_keepalive_pings_is_dropped() {
    let server = server(|config| {
        config.keepalive_interval = Duration::from_millis(200);
        config.keepalive_timeout = Duration::from_millis(200);
    })
    .await;
    // Speaks HTTP/2 (preface and settings), then never answers anything again.
    let mut socket = TcpStream::connect(server.addr).await.unwrap();
    socket.write_all(PREFACE).await.unwrap();
    socket.write_all(SETTINGS).await.unwrap();
    wait_closed(socket).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_go_away_at_their_maximum_age_and_clients_reconnect() {
    let server = server(|config| {
        config.max_connection_age = Duration::from_millis(300);
        config.max_connection_age_grace = Duration::from_secs(60);
    })
    .await;
    let (channel, connections) = raw::counted_channel(server.addr).await;
    let token = server.token.clone();
    tokio::time::timeout(GUARD, async {
        while connections.load(Ordering::SeqCst) < 2 {
            // A call racing the GOAWAY may be refused (safe to retry); the client then
            // opens a new connection.
            let _ = echo(&channel, &token).await;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the client was told to go away and reconnected");
    echo(&channel, &token).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_still_running_past_the_age_and_its_grace_is_cut_off() {
    let server = server(|config| {
        config.max_connection_age = Duration::from_millis(200);
        config.max_connection_age_grace = Duration::from_millis(200);
    })
    .await;
    let (channel, _) = raw::counted_channel(server.addr).await;
    // An echo that takes 10 s: far past the age and its grace, so the connection is closed
    // under it (a call that ends within the grace finishes: see the test above).
    let slow = DiagnosticsServiceClient::new(channel)
        .echo(authorized(
            EchoRequest {
                message: "slow".into(),
                delay: Some(prost_types::Duration {
                    seconds: 10,
                    nanos: 0,
                }),
            },
            &server.token,
        ))
        .await;
    let status = slow.unwrap_err();
    assert!(
        matches!(
            status.code(),
            tonic::Code::Unavailable
                | tonic::Code::Unknown
                | tonic::Code::Internal
                | tonic::Code::Cancelled
        ),
        "{status:?}"
    );
}
