//! The connection, the metadata every call carries, and the retry loop.

use std::{future::Future, sync::Arc, time::Duration};

use acx_proto::{
    diagnostics::diagnostics_service_client::DiagnosticsServiceClient,
    ingest::ingest_service_client::IngestServiceClient,
    liaison::liaison_service_client::LiaisonServiceClient,
    scoring::scoring_service_client::ScoringServiceClient,
};
use tokio::time::Instant;
use tonic::{
    Code, Status,
    metadata::AsciiMetadataValue,
    service::{Interceptor, interceptor::InterceptedService},
    transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity},
};
use tracing::{Instrument as _, field::Empty};

use crate::{
    ClientConfig, DiagnosticsClient, Error, IngestClient, LiaisonClient, RetryPolicy,
    ScoringClient, ServerError,
};

/// Whether repeating a call can change the outcome. Only `Idempotent` calls are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    /// Repeating the call answers the same (a read, or a write keyed by the caller's id).
    Idempotent,
    /// A repeat could act twice: never retried.
    NonIdempotent,
}

/// The metadata every call carries: the bearer token, the W3C trace context of the current
/// span, and, on unary calls, the deadline as `grpc-timeout`.
///
/// Values a caller already put on a request (its own `authorization` or `grpc-timeout`)
/// are left as they are.
#[derive(Clone)]
pub struct CallMetadata {
    authorization: Option<AsciiMetadataValue>,
    deadline: Option<Duration>,
}

impl std::fmt::Debug for CallMetadata {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallMetadata")
            .field(
                "authorization",
                &self.authorization.as_ref().map(|_| "<redacted>"),
            )
            .field("deadline", &self.deadline)
            .finish()
    }
}

impl Interceptor for CallMetadata {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, Status> {
        if let Some(authorization) = &self.authorization
            && !request.metadata().contains_key("authorization")
        {
            request
                .metadata_mut()
                .insert("authorization", authorization.clone());
        }
        if let Some(deadline) = self.deadline
            && !request.metadata().contains_key("grpc-timeout")
        {
            request.set_timeout(deadline);
        }
        acx_telemetry::TraceContextInterceptor.call(request)
    }
}

/// A channel that adds [`CallMetadata`] to every call; what the generated stubs run on.
pub type AuthChannel = InterceptedService<Channel, CallMetadata>;

/// One connection (a cheap-to-clone tonic `Channel` underneath, which reconnects by
/// itself) to one ACX service endpoint, with its token, deadline and retry policy.
#[derive(Clone)]
pub struct Client {
    channel: Channel,
    authorization: Option<AsciiMetadataValue>,
    endpoint: Arc<str>,
    deadline: Duration,
    retry: RetryPolicy,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("endpoint", &self.endpoint)
            .field("authenticated", &self.authorization.is_some())
            .field("deadline", &self.deadline)
            .field("retry", &self.retry)
            .finish()
    }
}

/// Largest header list accepted in an answer. ACX errors stay far below it, but h2's
/// default of 16 KiB is where a client drops the whole connection, failing every call that
/// shares it: one caller's oversized error must never cost the others theirs (a service
/// shares one connection to a peer among all its callers).
const MAX_HEADER_LIST_BYTES: u32 = 256 * 1024;

fn config_error(message: impl Into<String>) -> Error {
    Error::Config(message.into())
}

/// Reads a PEM file, checking that it holds what it should (`CERTIFICATE`, `PRIVATE KEY`)
/// so a wrong path fails here rather than as a TLS error on the first call.
async fn read_pem(path: &std::path::Path, what: &str, marker: &str) -> Result<Vec<u8>, Error> {
    let pem = tokio::fs::read(path)
        .await
        .map_err(|error| config_error(format!("cannot read {what} {}: {error}", path.display())))?;
    let text = String::from_utf8_lossy(&pem);
    if !text.contains("-----BEGIN") || !text.contains(marker) {
        return Err(config_error(format!(
            "{what} {} is not a PEM file with a {marker}",
            path.display()
        )));
    }
    Ok(pem)
}

impl Client {
    /// Checks `config` (endpoint URL, token, certificate files) and sets up the channel.
    /// The connection itself is opened on the first call, so a server that is still
    /// starting is not an error here; a call to one that stays down fails `UNAVAILABLE`.
    pub async fn connect(config: ClientConfig) -> Result<Client, Error> {
        let mut endpoint = Endpoint::from_shared(config.endpoint.clone()).map_err(|error| {
            config_error(format!(
                "invalid endpoint {:?} ({error}): expected http://host:port or https://host:port",
                config.endpoint
            ))
        })?;
        let https = match endpoint.uri().scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => {
                return Err(config_error(format!(
                    "invalid endpoint {:?}: expected http://host:port or https://host:port",
                    config.endpoint
                )));
            }
        };
        if config.deadline.is_zero() {
            return Err(config_error("the deadline must be longer than zero"));
        }
        if config.retry.max_attempts == 0 {
            return Err(config_error(
                "retry.max_attempts must be at least 1 (1 means no retry)",
            ));
        }
        let authorization = match &config.token {
            None => None,
            Some(token) if token.trim().is_empty() => {
                return Err(config_error("the token is empty"));
            }
            Some(token) => Some(
                AsciiMetadataValue::try_from(format!("Bearer {}", token.trim())).map_err(|_| {
                    config_error("the token has characters that cannot go in a header")
                })?,
            ),
        };

        let wants_tls = config.ca_certificate.is_some()
            || config.client_identity.is_some()
            || config.tls_domain_name.is_some();
        if wants_tls && !https {
            return Err(config_error(format!(
                "TLS settings given for the plaintext endpoint {:?}: use https://",
                config.endpoint
            )));
        }
        if https {
            let mut tls = ClientTlsConfig::new().timeout(config.connect_timeout);
            tls = match &config.ca_certificate {
                Some(path) => tls.ca_certificate(Certificate::from_pem(
                    read_pem(path, "CA certificate", "CERTIFICATE").await?,
                )),
                None => tls.with_webpki_roots(),
            };
            if let Some((certificate, key)) = &config.client_identity {
                tls = tls.identity(Identity::from_pem(
                    read_pem(certificate, "client certificate", "CERTIFICATE").await?,
                    read_pem(key, "client key", "PRIVATE KEY").await?,
                ));
            }
            if let Some(domain) = &config.tls_domain_name {
                tls = tls.domain_name(domain.clone());
            }
            endpoint = endpoint
                .tls_config(tls)
                .map_err(|error| config_error(format!("invalid TLS settings: {error}")))?;
        }
        let channel = endpoint
            .http2_max_header_list_size(MAX_HEADER_LIST_BYTES)
            .connect_timeout(config.connect_timeout)
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(30))
            .keep_alive_timeout(Duration::from_secs(20))
            .keep_alive_while_idle(true)
            .connect_lazy();
        Ok(Client {
            channel,
            authorization,
            endpoint: config.endpoint.into(),
            deadline: config.deadline,
            retry: config.retry,
        })
    }

    /// The endpoint this client calls.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The per-attempt deadline of unary calls.
    pub fn deadline(&self) -> Duration {
        self.deadline
    }

    /// The retry policy of idempotent unary calls.
    pub fn retry_policy(&self) -> RetryPolicy {
        self.retry
    }

    /// The same connection with another per-attempt deadline (for one slow call).
    #[must_use]
    pub fn with_deadline(&self, deadline: Duration) -> Self {
        Self {
            deadline: if deadline.is_zero() {
                self.deadline
            } else {
                deadline
            },
            ..self.clone()
        }
    }

    /// The same connection with another retry policy.
    #[must_use]
    pub fn with_retry(&self, retry: RetryPolicy) -> Self {
        Self {
            retry: RetryPolicy {
                max_attempts: retry.max_attempts.max(1),
                ..retry
            },
            ..self.clone()
        }
    }

    /// The channel with the token and trace context, and `deadline` as `grpc-timeout`.
    fn channel_with(&self, deadline: Option<Duration>) -> AuthChannel {
        InterceptedService::new(
            self.channel.clone(),
            CallMetadata {
                authorization: self.authorization.clone(),
                deadline,
            },
        )
    }

    /// The channel for streaming calls and the raw stubs: token and trace context, no
    /// deadline (a stream lives as long as its reader wants).
    pub fn auth_channel(&self) -> AuthChannel {
        self.channel_with(None)
    }

    /// Typed calls to ingest (the platforms' door).
    pub fn ingest(&self) -> IngestClient {
        IngestClient::new(self.clone())
    }

    /// Typed calls to scoring.
    pub fn scoring(&self) -> ScoringClient {
        ScoringClient::new(self.clone())
    }

    /// Typed calls to liaison (the customs door).
    pub fn liaison(&self) -> LiaisonClient {
        LiaisonClient::new(self.clone())
    }

    /// Typed calls to the diagnostics service every ACX server exposes.
    pub fn diagnostics(&self) -> DiagnosticsClient {
        DiagnosticsClient::new(self.clone())
    }

    /// The generated ingest stub with the token and trace context attached, for anything
    /// not wrapped. No deadline and no retry: set `Request::set_timeout` yourself.
    pub fn raw_ingest(&self) -> IngestServiceClient<AuthChannel> {
        IngestServiceClient::new(self.auth_channel())
    }

    /// The generated scoring stub; see [`Client::raw_ingest`].
    pub fn raw_scoring(&self) -> ScoringServiceClient<AuthChannel> {
        ScoringServiceClient::new(self.auth_channel())
    }

    /// The generated liaison stub; see [`Client::raw_ingest`].
    pub fn raw_liaison(&self) -> LiaisonServiceClient<AuthChannel> {
        LiaisonServiceClient::new(self.auth_channel())
    }

    /// The generated diagnostics stub; see [`Client::raw_ingest`].
    pub fn raw_diagnostics(&self) -> DiagnosticsServiceClient<AuthChannel> {
        DiagnosticsServiceClient::new(self.auth_channel())
    }

    /// Runs `call` with this client's deadline and retry policy. `rpc` names the call in
    /// traces and logs (`acx.liaison.v1.LiaisonService/CheckSeller`).
    ///
    /// Each attempt gets the channel with the token, the trace context and the deadline
    /// (also enforced here, so a server that never answers cannot hold the caller).
    /// `UNAVAILABLE`, `RESOURCE_EXHAUSTED` and `ABORTED` are retried, for [`Idempotency::Idempotent`]
    /// calls only, after a full-jitter backoff (at least the server's `RetryInfo` delay,
    /// within `max_backoff`); every other code is final. A missed deadline is final too:
    /// the server may have acted, and the caller's own budget is spent.
    pub async fn call<T, F, Fut>(
        &self,
        rpc: &'static str,
        idempotency: Idempotency,
        call: F,
    ) -> Result<T, Error>
    where
        F: FnMut(AuthChannel) -> Fut,
        Fut: Future<Output = Result<tonic::Response<T>, Status>>,
    {
        match self.run(rpc, idempotency, call).await {
            Ok(response) => Ok(response.into_inner()),
            Err((status, attempts)) => {
                Err(Error::Status(ServerError::from_status(&status, attempts)))
            }
        }
    }

    /// [`Client::call`] as one service calls another: the same deadline, retries and
    /// client span, but the whole response (a service reads its metadata) and the last
    /// status as the peer sent it (details intact, for the caller to map into its own
    /// answer).
    pub async fn call_peer<T, F, Fut>(
        &self,
        rpc: &'static str,
        idempotency: Idempotency,
        call: F,
    ) -> Result<tonic::Response<T>, Status>
    where
        F: FnMut(AuthChannel) -> Fut,
        Fut: Future<Output = Result<tonic::Response<T>, Status>>,
    {
        self.run(rpc, idempotency, call)
            .await
            .map_err(|(status, _attempts)| status)
    }

    /// The retry loop of [`Client::call`]: the response, or the last status and the
    /// number of attempts made.
    async fn run<T, F, Fut>(
        &self,
        rpc: &'static str,
        idempotency: Idempotency,
        mut call: F,
    ) -> Result<tonic::Response<T>, (Status, u32)>
    where
        F: FnMut(AuthChannel) -> Fut,
        Fut: Future<Output = Result<tonic::Response<T>, Status>>,
    {
        let (service, method) = rpc.split_once('/').unwrap_or(("", rpc));
        let span = tracing::info_span!(
            target: "acx_client",
            "grpc client call",
            otel.name = rpc,
            otel.kind = "client",
            rpc.system = "grpc",
            rpc.service = service,
            rpc.method = method,
            rpc.grpc.status_code = Empty,
            acx.client.attempts = Empty,
        );
        let until = crate::deadline::current();
        async move {
            let mut attempts = 0;
            loop {
                attempts += 1;
                let budget = self.budget(until);
                if budget.time.is_zero() {
                    record_outcome(Code::DeadlineExceeded, attempts);
                    return Err((crate::deadline::callers_deadline_exceeded(rpc), attempts));
                }
                let channel = self.channel_with(Some(budget.time));
                let status = match self.attempt(rpc, budget, call(channel)).await {
                    Ok(response) => {
                        record_outcome(Code::Ok, attempts);
                        return Ok(response);
                    }
                    Err(status) => status,
                };
                let answer = ServerError::from_status(&status, attempts);
                let retryable = idempotency == Idempotency::Idempotent
                    && matches!(
                        status.code(),
                        Code::Unavailable | Code::ResourceExhausted | Code::Aborted
                    )
                    && !answer.is_request_too_large()
                    && attempts < self.retry.max_attempts;
                if !retryable {
                    record_outcome(status.code(), attempts);
                    return Err((status, attempts));
                }
                let jitter = self.retry.jittered_backoff(attempts - 1);
                let wait = match answer.retry_delay {
                    Some(asked) => jitter.max(asked.min(self.retry.max_backoff)),
                    None => jitter,
                };
                if until.is_some_and(|until| Instant::now() + wait >= until) {
                    // No time left for another attempt: the last answer stands.
                    record_outcome(status.code(), attempts);
                    return Err((status, attempts));
                }
                tracing::debug!(
                    target: "acx_client",
                    attempt = attempts,
                    code = crate::error::code_name(status.code()),
                    wait_ms = wait.as_millis() as u64,
                    "retrying"
                );
                tokio::time::sleep(wait).await;
            }
        }
        .instrument(span)
        .await
    }

    /// The time one attempt may take: the client's deadline, or what is left of the served
    /// call's deadline `until` when that is less.
    fn budget(&self, until: Option<Instant>) -> Budget {
        match until {
            Some(until) if until.saturating_duration_since(Instant::now()) < self.deadline => {
                Budget {
                    time: until.saturating_duration_since(Instant::now()),
                    callers: true,
                }
            }
            _ => Budget {
                time: self.deadline,
                callers: false,
            },
        }
    }

    /// One attempt within `budget`. Tonic reports its own client-side timeout as
    /// `CANCELLED`; a call cut short by the deadline is `DEADLINE_EXCEEDED`, as gRPC defines.
    /// When the served call's deadline set the budget, a missed deadline (here or at the
    /// peer, which was sent the same) says so ([`crate::deadline::is_callers`]).
    async fn attempt<T>(
        &self,
        rpc: &str,
        budget: Budget,
        call: impl Future<Output = Result<tonic::Response<T>, Status>>,
    ) -> Result<tonic::Response<T>, Status> {
        let started = Instant::now();
        let missed = || {
            if budget.callers {
                crate::deadline::callers_deadline_exceeded(rpc)
            } else {
                Status::deadline_exceeded(format!(
                    "no answer within the deadline of {:?}",
                    budget.time
                ))
            }
        };
        match tokio::time::timeout(budget.time, call).await {
            Ok(Err(status))
                if status.code() == Code::Cancelled && started.elapsed() >= budget.time =>
            {
                Err(missed())
            }
            Ok(Err(status)) if budget.callers && status.code() == Code::DeadlineExceeded => {
                Err(missed())
            }
            Ok(result) => result,
            Err(_elapsed) => Err(missed()),
        }
    }

    /// Opens a streaming call: one attempt, the deadline bounding only the wait for the
    /// server's response headers. Streams are not retried; see the crate docs for how a
    /// caller resumes each one.
    pub(crate) async fn open_stream<T>(
        &self,
        rpc: &'static str,
        open: impl Future<Output = Result<tonic::Response<T>, Status>>,
    ) -> Result<T, Error> {
        let result = self
            .attempt(rpc, self.budget(crate::deadline::current()), open)
            .await;
        let code = result.as_ref().map_or_else(Status::code, |_| Code::Ok);
        tracing::debug!(target: "acx_client", rpc, code = crate::error::code_name(code), "stream opened");
        result
            .map(tonic::Response::into_inner)
            .map_err(|status| Error::Status(ServerError::from_status(&status, 1)))
    }
}

/// The time an attempt may take, and whether the served call's deadline set it.
#[derive(Debug, Clone, Copy)]
struct Budget {
    time: Duration,
    callers: bool,
}

fn record_outcome(code: Code, attempts: u32) {
    let span = tracing::Span::current();
    span.record("rpc.grpc.status_code", code as i32);
    span.record("acx.client.attempts", attempts);
}
