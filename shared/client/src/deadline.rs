//! The deadline of the call being served, passed on to the calls made while serving it.
//!
//! A server runs each call inside [`scope`] with the instant its caller's deadline (or its
//! own default one) passes; [`Client`](crate::Client) reads it through [`current`], so a
//! call to a peer made while serving, all attempts and waits between them together, never
//! outlives the call it serves: each attempt gets the smaller of the client's deadline and
//! the time left, sent on as `grpc-timeout`, and no retry starts that could not end in
//! time. Work spawned onto other tasks is outside the scope (it is not the caller's).

use std::future::Future;

use tokio::time::Instant;
use tonic::{Code, Status};

tokio::task_local! {
    static CALL_DEADLINE: Instant;
}

/// Metadata key on a status made by this client when the served call's deadline, not the
/// client's own, cut an attempt short (see [`is_callers`]).
const MARKER: &str = "acx-callers-deadline";

/// Runs `future` with `deadline` as the served call's deadline (the earlier one wins when
/// scopes nest).
pub async fn scope<F: Future>(deadline: Instant, future: F) -> F::Output {
    let deadline = current().map_or(deadline, |outer| outer.min(deadline));
    CALL_DEADLINE.scope(deadline, future).await
}

/// The served call's deadline, when this task is serving one.
pub fn current() -> Option<Instant> {
    CALL_DEADLINE.try_with(|deadline| *deadline).ok()
}

/// `DEADLINE_EXCEEDED` for an attempt the served call's deadline cut short.
pub(crate) fn callers_deadline_exceeded(rpc: &str) -> Status {
    let mut status = Status::deadline_exceeded(format!(
        "the deadline of the call being served passed before {rpc} answered"
    ));
    status.metadata_mut().insert(
        MARKER,
        tonic::metadata::AsciiMetadataValue::from_static("1"),
    );
    status
}

/// Whether `status` says that the served call's deadline passed during a peer call (so
/// the served call answers `DEADLINE_EXCEEDED` itself, rather than blaming the peer).
pub fn is_callers(status: &Status) -> bool {
    status.code() == Code::DeadlineExceeded && status.metadata().contains_key(MARKER)
}
