//! Liaison's calls to scoring, all through the shared peer client
//! ([`acx_runtime::client`]: token, trace context, a deadline per attempt, retries of
//! idempotent calls on `UNAVAILABLE` and `RESOURCE_EXHAUSTED` with full jitter). Each
//! caller states its deadline here instead of wrapping the call in a timeout of its own.

use std::{future::Future, time::Duration};

use acx_proto::scoring::scoring_service_client::ScoringServiceClient;
use acx_runtime::client::{AuthChannel, Idempotency, PeerClient, RetryPolicy};
use tonic::{Response, Status};

/// The generated scoring stub over one attempt's channel.
pub(crate) type Stub = ScoringServiceClient<AuthChannel>;

/// Each attempt of a call made for a customs caller (checks, model card, lane policy), and
/// of a re-assessment: scoring answers a read that must wait for a position within most
/// of it, else `UNAVAILABLE`, which is tried again.
pub(crate) const READ_DEADLINE: Duration = Duration::from_secs(10);
/// Forwarding an outcome: one attempt; past it, or on any failure, the result stays in
/// the outbox and the worker tries again (the outbox is the retry, so a customs caller
/// is not kept waiting for scoring).
pub(crate) const OUTCOME_DEADLINE: Duration = Duration::from_secs(3);
/// One batch assessment (up to 500 declarations): one attempt; past it, or on any
/// failure, the declarations stay pending and the worker tries again.
pub(crate) const BATCH_DEADLINE: Duration = Duration::from_secs(10);

/// `client` for the calls whose retry is the worker's (see [`BATCH_DEADLINE`]): one
/// attempt within `deadline`.
pub(crate) fn once(client: &PeerClient, deadline: Duration) -> PeerClient {
    client
        .with_deadline(deadline)
        .with_retry(RetryPolicy::none())
}

/// Runs `call` on a fresh stub for each attempt, under `client`'s deadline and retry
/// policy; the whole answer (its metadata carries scoring's position), or scoring's last
/// status as it sent it.
pub(crate) async fn call<T, F, Fut>(
    client: &PeerClient,
    rpc: &'static str,
    idempotency: Idempotency,
    mut call: F,
) -> Result<Response<T>, Status>
where
    F: FnMut(Stub) -> Fut,
    Fut: Future<Output = Result<Response<T>, Status>>,
{
    client
        .call_peer(rpc, idempotency, move |channel| {
            call(ScoringServiceClient::new(channel))
        })
        .await
}
