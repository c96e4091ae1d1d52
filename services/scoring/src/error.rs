//! The scoring service's errors, and the one place they become gRPC statuses.

use acx_runtime::{FieldViolation, error};
use tonic::{Code, Status};

/// Everything that can go wrong in scoring.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request has invalid fields.
    #[error("invalid request")]
    Invalid(Vec<FieldViolation>),
    /// The exchange knows nothing of the thing asked for.
    #[error("{0}")]
    NotFound(String),
    /// The thing was recorded before with other content.
    #[error("{0}")]
    AlreadyExists(String),
    /// This replica has not applied the history up to the position asked for in time.
    #[error("this replica has applied the history up to position {applied}, not yet {wanted}")]
    Behind {
        /// The position asked for.
        wanted: i64,
        /// The position applied.
        applied: i64,
    },
    /// A history entry of a kind this version does not know (a newer replica wrote it).
    #[error("history entry of unknown kind {0}")]
    UnknownEntry(i16),
    /// A stored record could not be decoded.
    #[error("stored record is corrupt")]
    Corrupt(#[from] prost::DecodeError),
    /// The database failed.
    #[error("database error")]
    Database(#[from] sqlx::Error),
    /// The database could not be opened or migrated at start-up.
    #[error("database setup failed")]
    DatabaseSetup(#[from] acx_runtime::db::DbError),
    /// Ingest's change feed failed.
    #[error("change feed failed")]
    Feed(#[source] Status),
    /// Ingest refused this replica's change feed at start-up: a setting is wrong (named).
    #[error("ingest refused the change feed: {0}")]
    FeedRefused(String),
    /// The ingest client could not be configured.
    #[error("ingest client setup failed")]
    Peer(#[from] acx_runtime::client::PeerError),
    /// The identifier keys could not be read at start-up.
    #[error("cannot use the identifier keys file (ACX_IDENTIFIER_KEYS_FILE)")]
    Keys(#[from] acx_domain::identifiers::KeyFileError),
    /// The reference rates file could not be used at start-up.
    #[error("cannot use the reference rates")]
    Rates(#[from] acx_domain::rates::RatesError),
    /// The request cannot be served in the current state (e.g. too few outcomes to train).
    #[error("{0}")]
    FailedPrecondition(String),
    /// The answer would be larger than clients accept (says how many items fit).
    #[error("{0}")]
    AnswerTooLarge(String),
    /// Something inside failed (logged; callers see INTERNAL).
    #[error("{0}")]
    Internal(String),
    /// At start-up: this replica's shared settings are not the deployment's (each named).
    #[error(
        "this replica's settings differ from the ones its deployment's replicas share (recorded in \
         its database): {0}. Start it with the deployment's values, or with \
         ACX_SCORING_ADOPT_SETTINGS=true to make its values the deployment's (replicas with the \
         old ones then stop)"
    )]
    SettingsDiffer(crate::settings::Differences),
    /// While running: another replica adopted other shared settings, so this one stops.
    #[error(
        "another replica replaced the deployment's shared settings (ACX_SCORING_ADOPT_SETTINGS): \
         {0}. This replica stops: restart it with the deployment's values"
    )]
    SettingsReplaced(crate::settings::Differences),
    /// This replica is stopping (its settings were replaced) and will not apply a write it
    /// appended: the caller retries, on another replica (the write is idempotent).
    #[error("this scoring replica is stopping")]
    Stopping,
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
            behind @ Error::Behind { .. } => {
                error::status_with_reason(Code::Unavailable, behind.to_string(), "REPLICA_BEHIND")
            }
            Error::AnswerTooLarge(why) => {
                error::status_with_reason(Code::ResourceExhausted, why, "MESSAGE_TOO_LARGE")
            }
            // Not the settings themselves: they are the operator's business, and logged.
            Error::Stopping | Error::SettingsReplaced(_) => error::status_with_reason(
                Code::Unavailable,
                "this scoring replica is stopping (its deployment's shared settings were \
                 replaced): retry, on another replica"
                    .to_owned(),
                "REPLICA_STOPPING",
            ),
            Error::FailedPrecondition(why) => {
                error::status_with_reason(Code::FailedPrecondition, why, "FAILED_PRECONDITION")
            }
            Error::Database(db) => error::database(&db),
            other => error::internal(&other),
        }
    }
}
