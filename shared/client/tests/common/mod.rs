//! The scripted diagnostics server and client helpers the client's tests share.

// Each test binary uses a part of this.
#![allow(dead_code, clippy::unwrap_used)]

use std::{
    collections::VecDeque,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use acx_client::{Client, ClientConfig, RetryPolicy};
use acx_proto::diagnostics::{
    EchoRequest, EchoResponse,
    diagnostics_service_server::{DiagnosticsService, DiagnosticsServiceServer},
};
use tonic::{Request, Response, Status, metadata::MetadataMap};

/// What the scripted server sees and answers.
#[derive(Default)]
pub struct Script {
    /// Answers to give, in order; once empty, every call succeeds.
    pub answers: VecDeque<Status>,
    /// Metadata of every call received.
    pub calls: Vec<MetadataMap>,
}

#[derive(Clone, Default)]
pub struct Scripted(pub Arc<Mutex<Script>>);

#[tonic::async_trait]
impl DiagnosticsService for Scripted {
    async fn echo(&self, request: Request<EchoRequest>) -> Result<Response<EchoResponse>, Status> {
        let answer = {
            let mut script = self.0.lock().unwrap();
            script.calls.push(request.metadata().clone());
            script.answers.pop_front()
        };
        let message = request.into_inner();
        if let Some(delay) = message.delay {
            let delay = Duration::try_from(delay).unwrap_or_default();
            tokio::time::sleep(delay).await;
        }
        match answer {
            Some(status) => Err(status),
            None => Ok(Response::new(EchoResponse {
                message: message.message,
                service: "scripted".to_owned(),
            })),
        }
    }
}

impl Scripted {
    pub fn attempts(&self) -> usize {
        self.0.lock().unwrap().calls.len()
    }

    pub fn last_call(&self) -> MetadataMap {
        self.0.lock().unwrap().calls.last().cloned().unwrap()
    }
}

/// Serves `answers` on a free loopback port.
pub async fn scripted_server(answers: Vec<Status>) -> (SocketAddr, Scripted) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let scripted = Scripted(Arc::new(Mutex::new(Script {
        answers: answers.into(),
        calls: Vec::new(),
    })));
    let service = DiagnosticsServiceServer::new(scripted.clone());
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
            .await
    });
    (addr, scripted)
}

/// Retries that do not slow the tests down.
pub fn quick_retries(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        initial_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(20),
        multiplier: 2.0,
    }
}

pub async fn client(addr: SocketAddr, retry: RetryPolicy) -> Client {
    Client::connect(
        ClientConfig::new(format!("http://{addr}"))
            .with_token("test-token")
            .with_retry(retry),
    )
    .await
    .unwrap()
}

pub fn echo(message: &str) -> EchoRequest {
    EchoRequest {
        message: message.to_owned(),
        delay: None,
    }
}
