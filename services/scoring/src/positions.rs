//! History positions on every call: read-your-writes across scoring replicas.
//!
//! Every answer carries the `acx-applied-position` header: the history position this
//! replica had applied (writes: the position of their own entry). A caller that sends
//! `acx-min-position: N` is answered only once the replica has applied N, waiting up to
//! the call's deadline (at most [`MAX_POSITION_WAIT`]), else UNAVAILABLE with reason
//! `REPLICA_BEHIND`: so a write through one replica is read back through any other. Until a
//! replica has caught up with the history as it was when it started, every call waits the
//! same way (health is NOT_SERVING meanwhile). A position past the stored history's last
//! is INVALID_ARGUMENT at once: no replica could reach it.

use acx_runtime::FieldViolation;
use tonic::{Request, Response, Status};

use crate::{Error, service::Scoring};

/// Request header: the least history position the answer must reflect.
pub const MIN_POSITION_HEADER: &str = "acx-min-position";
/// Response header: the history position the answer reflects.
pub const APPLIED_POSITION_HEADER: &str = "acx-applied-position";
/// Longest a call waits for its replica to reach a position.
const MAX_POSITION_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// The `grpc-timeout` of a request, if it has a valid one.
fn grpc_timeout<T>(request: &Request<T>) -> Option<std::time::Duration> {
    let text = request.metadata().get("grpc-timeout")?.to_str().ok()?;
    acx_runtime::limits::parse_grpc_timeout(text)
}

impl Scoring {
    /// Waits until this replica has caught up with its start-up head and with the
    /// request's `acx-min-position`; returns the position applied.
    pub(crate) async fn at_position<T>(&self, request: &Request<T>) -> Result<i64, Status> {
        let mut wanted = self
            .scorer
            .start_head
            .load(std::sync::atomic::Ordering::Relaxed);
        if let Some(value) = request.metadata().get(MIN_POSITION_HEADER) {
            let Some(position) = value
                .to_str()
                .ok()
                .and_then(|v| v.trim().parse::<i64>().ok())
            else {
                return Err(Error::Invalid(vec![FieldViolation::new(
                    MIN_POSITION_HEADER,
                    "must be a history position (a whole number) as returned in acx-applied-position",
                )])
                .into());
            };
            wanted = wanted.max(position);
        }
        if self.scorer.applied() >= wanted {
            return Ok(self.scorer.applied());
        }
        // A position past the stored history would be waited for in vain, holding a call
        // of the server's limit: found by a tester, 530 such calls from one platform held
        // every other caller off for their 30 s. Positions handed out are stored first.
        let head = acx_runtime::db::bounded(crate::history::head(self.scorer.database()))
            .await
            .map_err(Error::from)?;
        if wanted > head {
            return Err(Error::Invalid(vec![FieldViolation::new(
                MIN_POSITION_HEADER,
                format!(
                    "position {wanted} is past the history's last, {head}: ask for one returned in acx-applied-position"
                ),
            )])
            .into());
        }
        // Most of the deadline, so the caller hears UNAVAILABLE before its own timeout.
        let wait =
            grpc_timeout(request).map_or(MAX_POSITION_WAIT, |t| (t - t / 5).min(MAX_POSITION_WAIT));
        Ok(self.scorer.wait_applied(wanted, wait).await?)
    }
}

/// `message` with the `acx-applied-position` header.
pub(crate) fn at<T>(message: T, position: i64) -> Response<T> {
    let mut response = Response::new(message);
    if let Ok(value) = position.to_string().parse() {
        response
            .metadata_mut()
            .insert(APPLIED_POSITION_HEADER, value);
    }
    response
}

/// A NOT_FOUND answer with the position it reflects, as answers found carry it: a caller
/// asking whether scoring knows something yet can tell "not yet here" from "not at all" by
/// asking again with `acx-min-position`.
pub(crate) fn not_found_at(error: Error, position: i64) -> Status {
    let mut status = Status::from(error);
    if let Ok(value) = position.to_string().parse() {
        status.metadata_mut().insert(APPLIED_POSITION_HEADER, value);
    }
    status
}
