//! A Rust client for the ACX services (ingest, scoring, liaison): the endpoint, TLS and
//! bearer token set in one place, a deadline on every unary call, retries with
//! exponential backoff and full jitter where a retry is safe, the W3C trace context of
//! the current span on every call, and errors that keep what the server said.
//!
//! ```no_run
//! use acx_client::{Client, ClientConfig};
//! use acx_client::proto::{common::SellerAccountRef, liaison::CheckSellerRequest};
//!
//! # async fn run() -> Result<(), acx_client::Error> {
//! let config = ClientConfig::new("http://127.0.0.1:50053")
//!     .with_token(std::env::var("ACX_TOKEN").unwrap_or_default())
//!     .with_deadline(std::time::Duration::from_secs(5));
//! let client = Client::connect(config).await?;
//! let request = CheckSellerRequest {
//!     seller: Some(SellerAccountRef {
//!         platform: "demo-marketplace".into(),
//!         seller_id: "T-2".into(),
//!     }),
//! };
//! match client.liaison().check_seller(request).await {
//!     Ok(answer) => println!("{:?}", answer.risk),
//!     Err(error) => {
//!         for violation in error.field_violations() {
//!             eprintln!("{}: {}", violation.field, violation.description);
//!         }
//!         return Err(error);
//!     }
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # Retries
//!
//! A unary call is tried again only when the answer was `UNAVAILABLE` (the server or the
//! connection is down, or a dependency is), `RESOURCE_EXHAUSTED` (a rate or concurrency
//! limit) or `ABORTED` (a write that conflicted with a concurrent one, nothing written), and
//! only for calls marked [`Idempotency::Idempotent`]; every other code is
//! final. The wait before retry `n` is random in `0 ..= min(max_backoff, initial_backoff *
//! multiplier^n)` ([`RetryPolicy`]), and at least the delay of a `google.rpc.RetryInfo`
//! the server sent. All typed wrappers are idempotent: ACX writes are keyed by the
//! caller's own ids (see the table in [`services`]). For your own calls through
//! [`Client::call`], pass [`Idempotency::NonIdempotent`] unless a repeat is harmless.
//!
//! # Streams
//!
//! Streams are opened once and never retried (a stream that broke half way cannot be
//! replayed blindly). Each one can be resumed by the caller:
//!
//! - `BulkLoadReports`: run the load again; reports already accepted answer `DUPLICATE`.
//! - `StreamChanges`: reopen with `after_sequence` = the last sequence processed.
//! - `WatchAlerts`: reopen with `after_cursor` = the cursor of the last alert seen.
//!
//! # Deadlines
//!
//! [`ClientConfig::deadline`] (10 s by default) bounds each attempt of a unary call: it is
//! sent as `grpc-timeout` so the server stops working for a caller that has gone, and it
//! is enforced here so a server that never answers cannot hold the caller. A missed
//! deadline is `DEADLINE_EXCEEDED` and is not retried. Streams carry no deadline; only the
//! wait for their first response headers is bounded.
//!
//! # Trace context
//!
//! Every call carries the W3C `traceparent` of the current `tracing` span (through
//! `tracing-opentelemetry` and the global propagator, as [`acx_telemetry`] sets up), so
//! the server's spans join the caller's trace. Each unary call also gets a client span,
//! target `acx_client`, with the RPC semantic-convention attributes. An application
//! with its own OpenTelemetry set-up must install the W3C propagator:
//! `opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new())`.
//!
//! # TLS
//!
//! `https://` endpoints use TLS: with [`ClientConfig::ca_certificate`] the server must
//! present a certificate signed by that CA; without it, by a CA of the Mozilla root set
//! compiled into the library (`webpki-roots`, which also works in images without a
//! system trust store). [`ClientConfig::client_identity`] adds a client certificate for
//! servers that require mutual TLS.

mod client;
mod config;
pub mod deadline;
mod error;
pub mod services;

pub use client::{AuthChannel, CallMetadata, Client, Idempotency};
pub use config::{ClientConfig, RetryPolicy};
pub use error::{Error, FieldViolation, ServerError, code_name};
pub use services::{DiagnosticsClient, IngestClient, LiaisonClient, ScoringClient};

/// The generated messages and stubs, re-exported so callers need no second dependency.
pub use acx_proto as proto;
