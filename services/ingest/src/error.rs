//! The ingest service's errors, and the one place they become gRPC statuses.

use acx_runtime::error;
use tonic::{Code, Status};

/// Everything that can go wrong in ingest.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The RPC is part of the contract but not served by this version.
    #[error("{0} is not available in this version of ingest")]
    NotYetServed(&'static str),
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
            Error::NotYetServed(_) => {
                error::status_with_reason(Code::Unimplemented, error.to_string(), "NOT_YET_SERVED")
            }
            other => error::internal(&other),
        }
    }
}
