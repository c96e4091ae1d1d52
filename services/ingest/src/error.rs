//! The ingest service's errors, and the one place they become gRPC statuses.

use acx_runtime::{FieldViolation, error};
use tonic::{Code, Status};

/// Everything that can go wrong in ingest.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request has invalid fields.
    #[error("invalid request")]
    Invalid(Vec<FieldViolation>),
    /// The thing asked for does not exist (for this caller).
    #[error("{0}")]
    NotFound(String),
    /// A stored report could not be decoded.
    #[error("stored report is corrupt")]
    Corrupt(#[from] prost::DecodeError),
    /// The database failed.
    #[error("database error")]
    Database(#[from] sqlx::Error),
    /// The identifier keys could not be read at start-up.
    #[error("cannot use the identifier keys file (ACX_IDENTIFIER_KEYS_FILE)")]
    Keys(#[from] acx_domain::identifiers::KeyFileError),
    /// The database could not be opened or migrated at start-up.
    #[error("database setup failed")]
    DatabaseSetup(#[from] acx_runtime::db::DbError),
    /// The gRPC server could not start.
    #[error("server setup failed")]
    Serve(#[from] acx_runtime::server::ServeError),
}

impl From<Error> for Status {
    fn from(error: Error) -> Self {
        match error {
            Error::Invalid(violations) => error::invalid_argument(&violations),
            Error::NotFound(what) => error::status_with_reason(Code::NotFound, what, "NOT_FOUND"),
            Error::Database(db) => error::database(&db),
            other => error::internal(&other),
        }
    }
}
