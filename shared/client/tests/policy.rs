//! The client's retry policy, deadline, metadata and trace context against a small
//! diagnostics server that answers from a script and records what it received.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use acx_client::{Client, ClientConfig, Error, Idempotency, RetryPolicy};
use acx_proto::diagnostics::{EchoRequest, diagnostics_service_client::DiagnosticsServiceClient};
use tonic::{Code, Request, Status};
use tonic_types::{ErrorDetails, StatusExt};

mod common;

use common::{client, echo, quick_retries, scripted_server};

#[tokio::test]
async fn unavailable_is_retried_until_it_succeeds() {
    let (addr, server) = scripted_server(vec![
        Status::unavailable("restarting"),
        Status::unavailable("restarting"),
    ])
    .await;
    let client = client(addr, quick_retries(4)).await;
    let answer = client.diagnostics().echo(echo("hello")).await.unwrap();
    assert_eq!(answer.message, "hello");
    assert_eq!(server.attempts(), 3, "two failures, then success");
}

#[tokio::test]
async fn resource_exhausted_is_retried() {
    let (addr, server) =
        scripted_server(vec![Status::resource_exhausted("rate limit reached")]).await;
    let client = client(addr, quick_retries(4)).await;
    client.diagnostics().echo(echo("again")).await.unwrap();
    assert_eq!(server.attempts(), 2);
}

/// A request over the server's message limit would be refused again: not retried, and
/// the error says so.
#[tokio::test]
async fn a_request_over_the_message_limit_is_not_retried() {
    let mut details = ErrorDetails::new();
    details.set_error_info(
        "MESSAGE_TOO_LARGE",
        "acx.exchange",
        std::collections::HashMap::new(),
    );
    let (addr, server) = scripted_server(vec![Status::with_error_details(
        Code::ResourceExhausted,
        "request message of 5000000 bytes is over the limit of 4194304 bytes",
        details,
    )])
    .await;
    let client = client(addr, quick_retries(4)).await;
    let error = client.diagnostics().echo(echo("x")).await.unwrap_err();
    assert_eq!(server.attempts(), 1, "never retried");
    let Error::Status(status) = &error else {
        panic!("{error:?}")
    };
    assert!(status.is_request_too_large(), "{status:?}");
    assert!(!status.is_answer_too_large());
}

/// A write that conflicted with a concurrent one wrote nothing (the server says ABORTED):
/// an idempotent call is sent again.
#[tokio::test]
async fn aborted_is_retried() {
    let (addr, server) = scripted_server(vec![Status::aborted("write conflict")]).await;
    let client = client(addr, quick_retries(4)).await;
    client.diagnostics().echo(echo("again")).await.unwrap();
    assert_eq!(server.attempts(), 2);
}

#[tokio::test]
async fn invalid_argument_is_final_and_keeps_the_field_violations() {
    let mut details = ErrorDetails::new();
    details.add_bad_request_violation("message", "must not be empty");
    details.set_error_info(
        "INVALID_ARGUMENT",
        "acx.exchange",
        std::collections::HashMap::new(),
    );
    let (addr, server) = scripted_server(vec![Status::with_error_details(
        Code::InvalidArgument,
        "invalid request: message: must not be empty",
        details,
    )])
    .await;
    let client = client(addr, quick_retries(4)).await;
    let error = client.diagnostics().echo(echo("")).await.unwrap_err();
    assert_eq!(server.attempts(), 1, "never retried");
    let Error::Status(status) = &error else {
        panic!("{error:?}")
    };
    assert_eq!(status.code, Code::InvalidArgument);
    assert_eq!(status.attempts, 1);
    assert_eq!(status.reason.as_deref(), Some("INVALID_ARGUMENT"));
    assert_eq!(error.field_violations()[0].field, "message");
    assert_eq!(error.field_violations()[0].description, "must not be empty");
}

#[tokio::test]
async fn non_idempotent_calls_are_not_retried() {
    let (addr, server) = scripted_server(vec![Status::unavailable("restarting")]).await;
    let client = client(addr, quick_retries(4)).await;
    let error = client
        .call(
            "acx.diagnostics.v1.DiagnosticsService/Echo",
            Idempotency::NonIdempotent,
            |channel| async move { DiagnosticsServiceClient::new(channel).echo(echo("x")).await },
        )
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some(Code::Unavailable));
    assert_eq!(server.attempts(), 1);

    // The same call marked idempotent is retried (and the script now lets it through).
    let (addr, server) = scripted_server(vec![Status::unavailable("restarting")]).await;
    let client = self::client(addr, quick_retries(4)).await;
    let answer = client
        .call(
            "acx.diagnostics.v1.DiagnosticsService/Echo",
            Idempotency::Idempotent,
            |channel| async move { DiagnosticsServiceClient::new(channel).echo(echo("y")).await },
        )
        .await
        .unwrap();
    assert_eq!(answer.message, "y");
    assert_eq!(server.attempts(), 2);
}

#[tokio::test]
async fn it_gives_up_after_max_attempts_and_says_how_many() {
    let (addr, server) = scripted_server(vec![Status::unavailable("down"); 10]).await;
    let client = client(addr, quick_retries(3)).await;
    let error = client.diagnostics().echo(echo("x")).await.unwrap_err();
    assert_eq!(server.attempts(), 3);
    let Error::Status(status) = &error else {
        panic!("{error:?}")
    };
    assert_eq!(status.code, Code::Unavailable);
    assert_eq!(status.attempts, 3);
    assert!(error.to_string().contains("after 3 attempts"), "{error}");

    // RetryPolicy::none() makes one attempt.
    let none = client.with_retry(RetryPolicy::none());
    let error = none.diagnostics().echo(echo("x")).await.unwrap_err();
    assert_eq!(server.attempts(), 4);
    assert_eq!(
        error.to_string(),
        "UNAVAILABLE: down",
        "one attempt, no count"
    );
}

#[tokio::test]
async fn a_port_where_nothing_listens_is_unavailable_after_the_retries() {
    let free = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = free.local_addr().unwrap();
    drop(free);
    let client = client(addr, quick_retries(2)).await;
    let error = client.diagnostics().echo(echo("x")).await.unwrap_err();
    let Error::Status(status) = &error else {
        panic!("{error:?}")
    };
    assert_eq!(status.code, Code::Unavailable, "{error}");
    assert_eq!(status.attempts, 2);
}

#[tokio::test]
async fn the_wait_grows_and_honours_the_servers_retry_delay() {
    // Real waits: with a 40 ms ceiling doubling each time and full jitter, three retries
    // wait at most 40 + 80 + 160 ms.
    let (addr, _server) = scripted_server(vec![Status::unavailable("down"); 3]).await;
    let policy = RetryPolicy {
        max_attempts: 4,
        initial_backoff: Duration::from_millis(40),
        max_backoff: Duration::from_secs(1),
        multiplier: 2.0,
    };
    let client = client(addr, policy).await;
    let started = Instant::now();
    client.diagnostics().echo(echo("x")).await.unwrap();
    assert!(
        started.elapsed() < Duration::from_millis(280 + 500),
        "bounded"
    );

    // A RetryInfo delay from the server is a floor for the wait.
    let mut details = ErrorDetails::new();
    details.set_retry_info(Some(Duration::from_millis(300)));
    let (addr, server) = scripted_server(vec![Status::with_error_details(
        Code::ResourceExhausted,
        "slow down",
        details,
    )])
    .await;
    // (within max_backoff, so a server cannot hold a caller longer than its policy allows)
    let policy = RetryPolicy {
        max_attempts: 2,
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_secs(1),
        multiplier: 2.0,
    };
    let client = self::client(addr, policy).await;
    let started = Instant::now();
    client.diagnostics().echo(echo("x")).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(server.attempts(), 2);
}

#[tokio::test]
async fn every_call_carries_the_token_and_its_deadline() {
    let (addr, server) = scripted_server(vec![]).await;
    let config = ClientConfig::new(format!("http://{addr}"))
        .with_token("test-token")
        .with_deadline(Duration::from_millis(1500));
    let client = Client::connect(config).await.unwrap();
    client.diagnostics().echo(echo("x")).await.unwrap();
    let metadata = server.last_call();
    assert_eq!(
        metadata.get("authorization").unwrap().to_str().unwrap(),
        "Bearer test-token"
    );
    let timeout = metadata.get("grpc-timeout").unwrap().to_str().unwrap();
    assert!(
        ["1500m", "1500000u", "1500000000n"].contains(&timeout),
        "{timeout}"
    );

    // Raw stubs carry the token but no deadline: they also serve streams.
    client.raw_diagnostics().echo(echo("x")).await.unwrap();
    let metadata = server.last_call();
    assert!(metadata.get("authorization").is_some());
    assert!(metadata.get("grpc-timeout").is_none());
}

#[tokio::test]
async fn a_slow_answer_is_deadline_exceeded_and_not_retried() {
    let (addr, server) = scripted_server(vec![]).await;
    let config = ClientConfig::new(format!("http://{addr}"))
        .with_deadline(Duration::from_millis(100))
        .with_retry(quick_retries(4));
    let client = Client::connect(config).await.unwrap();
    let started = Instant::now();
    let error = client
        .diagnostics()
        .echo(EchoRequest {
            message: "slow".to_owned(),
            delay: Some(prost_types::Duration {
                seconds: 2,
                nanos: 0,
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some(Code::DeadlineExceeded), "{error}");
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(server.attempts(), 1);

    // Why the client maps it: tonic on its own ends such a call CANCELLED.
    let mut request = Request::new(EchoRequest {
        message: "slow".to_owned(),
        delay: Some(prost_types::Duration {
            seconds: 2,
            nanos: 0,
        }),
    });
    request.set_timeout(Duration::from_millis(100));
    let status = client.raw_diagnostics().echo(request).await.unwrap_err();
    assert_eq!(status.code(), Code::Cancelled, "{status:?}");
}

#[tokio::test]
async fn the_trace_context_of_the_current_span_is_sent() {
    use opentelemetry::trace::{TraceContextExt as _, TracerProvider as _};
    use tracing::Instrument as _;
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    use tracing_subscriber::layer::SubscriberExt as _;

    opentelemetry::global::set_text_map_propagator(
        opentelemetry_sdk::propagation::TraceContextPropagator::new(),
    );
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
    // The test runtime runs on this thread only, so a thread-local default covers the call.
    let _default = tracing::subscriber::set_default(subscriber);

    let (addr, server) = scripted_server(vec![Status::unavailable("once")]).await;
    let client = client(addr, quick_retries(2)).await;
    let span = tracing::info_span!("customs question");
    let trace_id = span.context().span().span_context().trace_id();
    assert_ne!(trace_id, opentelemetry::trace::TraceId::INVALID);
    client
        .diagnostics()
        .echo(echo("traced"))
        .instrument(span)
        .await
        .unwrap();

    let calls = server.0.lock().unwrap().calls.clone();
    assert_eq!(calls.len(), 2);
    for metadata in calls {
        let traceparent = metadata.get("traceparent").unwrap().to_str().unwrap();
        let parts: Vec<&str> = traceparent.split('-').collect();
        assert_eq!(parts.len(), 4, "{traceparent}");
        assert_eq!(parts[1], trace_id.to_string(), "the caller's trace");
    }
}

#[tokio::test]
async fn bad_configuration_is_refused_up_front() {
    async fn refused(config: ClientConfig) -> String {
        match Client::connect(config).await {
            Err(Error::Config(message)) => message,
            other => panic!("expected a config error, got {other:?}"),
        }
    }
    let message = refused(ClientConfig::new("127.0.0.1:50053")).await;
    assert!(message.contains("http://host:port"), "{message}");
    let message = refused(ClientConfig::new("ftp://127.0.0.1:1")).await;
    assert!(message.contains("expected http"), "{message}");
    let message = refused(ClientConfig::new("http://127.0.0.1:1").with_token("a\nb")).await;
    assert!(message.contains("token"), "{message}");
    let message = refused(ClientConfig::new("http://127.0.0.1:1").with_token("  ")).await;
    assert!(message.contains("empty"), "{message}");
    let message =
        refused(ClientConfig::new("http://127.0.0.1:1").with_ca_certificate("/nonexistent/ca.pem"))
            .await;
    assert!(message.contains("https://"), "{message}");
    let message = refused(
        ClientConfig::new("https://127.0.0.1:1").with_ca_certificate("/nonexistent/ca.pem"),
    )
    .await;
    assert!(message.contains("/nonexistent/ca.pem"), "{message}");
    let message =
        refused(ClientConfig::new("http://127.0.0.1:1").with_deadline(Duration::ZERO)).await;
    assert!(message.contains("deadline"), "{message}");
}

/// Echo through `call_peer`, as a service calls a peer: the status as the client ends it.
async fn echo_peer(client: &Client, request: EchoRequest) -> Result<(), Status> {
    client
        .call_peer(
            "acx.diagnostics.v1.DiagnosticsService/Echo",
            Idempotency::Idempotent,
            |channel| {
                let request = request.clone();
                async move { DiagnosticsServiceClient::new(channel).echo(request).await }
            },
        )
        .await
        .map(|_| ())
}

#[tokio::test]
async fn a_call_made_while_serving_one_never_outlives_it() {
    let (addr, server) = scripted_server(vec![]).await;
    let client = client(addr, quick_retries(4)).await; // 10 s per attempt
    let slow = EchoRequest {
        message: "slow".to_owned(),
        delay: Some(prost_types::Duration {
            seconds: 5,
            nanos: 0,
        }),
    };
    // Serving a call with 200 ms left: the one attempt is sent with no more than that, and
    // ends DEADLINE_EXCEEDED marked as the served call's (not the peer's) deadline.
    let until = tokio::time::Instant::now() + Duration::from_millis(200);
    let status = acx_client::deadline::scope(until, echo_peer(&client, slow.clone()))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    assert!(acx_client::deadline::is_callers(&status), "{status:?}");
    assert_eq!(server.attempts(), 1);
    let sent = server.last_call();
    let sent = sent.get("grpc-timeout").unwrap().to_str().unwrap();
    let (digits, unit) = sent.split_at(sent.len() - 1);
    let sent_ms = digits.parse::<u64>().unwrap()
        / match unit {
            "m" => 1,
            "u" => 1_000,
            "n" => 1_000_000,
            _ => panic!("{sent}"),
        };
    assert!(sent_ms <= 200, "{sent}");

    // Once the deadline has passed nothing is sent.
    let status = acx_client::deadline::scope(
        tokio::time::Instant::now(),
        echo_peer(&client, echo("late")),
    )
    .await
    .unwrap_err();
    assert!(acx_client::deadline::is_callers(&status), "{status:?}");
    assert_eq!(server.attempts(), 1);

    // A retry whose wait (here the server's RetryInfo, 1 s) would end past the deadline is
    // not started: the last answer stands.
    let mut details = ErrorDetails::new();
    details.set_retry_info(Some(Duration::from_secs(1)));
    let (addr, server) = scripted_server(vec![
        Status::with_error_details(
            Code::Unavailable,
            "down",
            details
        );
        4
    ])
    .await;
    let policy = RetryPolicy {
        max_attempts: 4,
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_secs(1),
        multiplier: 2.0,
    };
    let client = self::client(addr, policy).await;
    let until = tokio::time::Instant::now() + Duration::from_millis(500);
    let status = acx_client::deadline::scope(until, echo_peer(&client, echo("x")))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert_eq!(server.attempts(), 1);
}
