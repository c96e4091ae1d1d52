//! The liaison service's errors, and the one place they become gRPC statuses.

use acx_runtime::{FieldViolation, error};
use tonic::{Code, Status};

/// Everything that can go wrong in liaison.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request has invalid fields.
    #[error("invalid request")]
    Invalid(Vec<FieldViolation>),
    /// The exchange knows nothing of the thing asked for.
    #[error("{0}")]
    NotFound(String),
    /// The id is taken by something else.
    #[error("{0}")]
    AlreadyExists(String),
    /// What was asked kept changing while it was read; a retry is answered.
    #[error("{0}")]
    Busy(String),
    /// Too many of something open at once (alert streams).
    #[error("{0}")]
    TooMany(String),
    /// Over the caller's quota of party checks; try again after this long.
    #[error("over the quota of party checks")]
    Quota(std::time::Duration),
    /// A stored record could not be decoded.
    #[error("stored record is corrupt")]
    Corrupt(#[from] prost::DecodeError),
    /// Scoring could not be reached or failed.
    #[error("scoring call failed")]
    Scoring(#[source] Status),
    /// The audit record could not be written (the call fails: nothing goes unrecorded).
    #[error("audit trail unavailable")]
    Audit(#[from] crate::audit::AuditError),
    /// The database failed.
    #[error("database error")]
    Database(#[from] sqlx::Error),
    /// A coalesced read failed (the database, or the reader stopped with the server).
    #[error("shipment read failed")]
    Read(#[from] crate::reads::ReadError),
    /// The database could not be opened or migrated at start-up.
    #[error("database setup failed")]
    DatabaseSetup(#[from] acx_runtime::db::DbError),
    /// The shipment reader could not open its connection or start its thread.
    #[error("cannot start the shipment reader")]
    ReaderSetup(#[source] std::io::Error),
    /// Scoring refused liaison's settings at start-up: a setting is wrong (named).
    #[error("scoring refused this liaison: {0}")]
    ScoringRefused(String),
    /// The scoring client could not be configured.
    #[error("scoring client setup failed")]
    Peer(#[from] acx_runtime::client::PeerError),
    /// The gRPC server could not start.
    #[error("server setup failed")]
    Serve(#[from] acx_runtime::server::ServeError),
}

impl From<Error> for Status {
    fn from(error: Error) -> Self {
        match error {
            Error::Invalid(violations) => error::invalid_argument(&violations),
            Error::NotFound(what) => error::status_with_reason(Code::NotFound, what, "NOT_FOUND"),
            Error::AlreadyExists(what) => {
                error::status_with_reason(Code::AlreadyExists, what, "ALREADY_EXISTS")
            }
            // The caller's own deadline passed while scoring was asked: that is the
            // answer, not scoring being unavailable.
            Error::Scoring(status) if acx_runtime::client::is_callers_deadline(&status) => {
                error::status_with_reason(
                    Code::DeadlineExceeded,
                    "the call's deadline passed while scoring was asked",
                    "DEADLINE_EXCEEDED",
                )
            }
            // Scoring down, overloaded or slow: retrying can help. Anything else (an answer
            // too large to read, a method it lacks) cannot, and is liaison's or the
            // deployment's fault: INTERNAL, logged (found by a tester: an answer over the
            // 4 MiB limit was "unavailable; retry later", and every retry failed alike).
            Error::Scoring(status) if is_transient(&status) => {
                error::unavailable("scoring", &status)
            }
            Error::Busy(what) => error::status_with_reason(Code::Unavailable, what, "CHANGING"),
            Error::Quota(retry) => acx_runtime::quota::exceeded("identifier checks", retry),
            Error::TooMany(what) => {
                error::status_with_reason(Code::ResourceExhausted, what, "TOO_MANY_STREAMS")
            }
            Error::Database(db) => error::database(&db),
            // Nothing is answered unrecorded: with the trail out of reach the call fails,
            // and a retry (writes are idempotent by id) is answered once it is back.
            Error::Audit(audit) if audit.transient => error::unavailable("the audit trail", &audit),
            Error::Read(crate::reads::ReadError::Database(db)) => error::database(&db),
            other => error::internal(&other),
        }
    }
}

/// Whether a failed call to scoring may succeed when tried again: scoring unreachable,
/// shedding load or out of time, but not refusing a message as too large.
fn is_transient(status: &Status) -> bool {
    match status.code() {
        Code::Unavailable
        | Code::DeadlineExceeded
        | Code::Aborted
        | Code::Cancelled
        | Code::Unknown => true,
        Code::ResourceExhausted => tonic_types::StatusExt::get_error_details(status)
            .error_info()
            .is_none_or(|info| info.reason != "MESSAGE_TOO_LARGE"),
        _ => false,
    }
}
