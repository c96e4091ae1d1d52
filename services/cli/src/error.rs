//! What can stop a command, and the exit code each kind means to a script.

use std::path::PathBuf;

use acx_client::code_name;
use tonic::Code;

/// Exit codes scripts can rely on (listed in `acxctl --help` and the README).
pub mod exit {
    /// Everything worked.
    pub const OK: u8 = 0;
    /// Any other failure (I/O, an internal server error, an unexpected answer, an answer
    /// larger than the tool accepts).
    pub const FAILURE: u8 = 1;
    /// Bad flags or arguments, an unusable input file, or a request the server found
    /// invalid as a whole (`INVALID_ARGUMENT`) or too large to take (`RESOURCE_EXHAUSTED`
    /// with reason `MESSAGE_TOO_LARGE`).
    pub const USAGE: u8 = 2;
    /// The command ran, but some items (reports, declarations, lines) were rejected.
    pub const REJECTED: u8 = 3;
    /// What was asked for does not exist (`NOT_FOUND`).
    pub const NOT_FOUND: u8 = 4;
    /// Missing, unknown or insufficient credentials (`UNAUTHENTICATED`, `PERMISSION_DENIED`).
    pub const DENIED: u8 = 5;
    /// The service could not answer now (`UNAVAILABLE`, `DEADLINE_EXCEEDED`,
    /// `RESOURCE_EXHAUSTED` but for a request over the message limit): safe to retry later.
    pub const UNAVAILABLE: u8 = 6;
    /// The id is taken by something else (`ALREADY_EXISTS`, `FAILED_PRECONDITION`).
    pub const CONFLICT: u8 = 7;
    /// Stopped by Ctrl-C (a bulk load checkpointed first: rerun to resume).
    pub const INTERRUPTED: u8 = 130;
}

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Flags, arguments or an input file that cannot be used.
    #[error("{0}")]
    Usage(String),
    /// Reading or writing a local file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A call failed; keeps what the server said.
    #[error(transparent)]
    Client(#[from] acx_client::Error),
    /// Anything else (an answer the tool cannot use).
    #[error("{0}")]
    Failed(String),
}

impl CliError {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { path, source }
    }

    /// The exit code this error means.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) => exit::USAGE,
            Self::Io { .. } | Self::Failed(_) => exit::FAILURE,
            // Not a usage error: tonic reports an answer over the receive limit as OUT_OF_RANGE.
            Self::Client(acx_client::Error::Status(status)) if status.is_answer_too_large() => {
                exit::FAILURE
            }
            // Not "retry later": the same request would be refused again.
            Self::Client(acx_client::Error::Status(status)) if status.is_request_too_large() => {
                exit::USAGE
            }
            Self::Client(error) => match error.code() {
                None => exit::USAGE, // configuration: endpoint, token, certificate
                Some(code) => exit_code_of(code),
            },
        }
    }

    /// The error as JSON for `--output json` (on standard error).
    pub fn to_json(&self) -> serde_json::Value {
        let mut error = serde_json::json!({ "message": self.to_string() });
        if let Self::Client(client) = self {
            if let Some(code) = client.code() {
                error["code"] = code_name(code).into();
            }
            if let acx_client::Error::Status(status) = client {
                error["message"] = if status.is_answer_too_large() {
                    status.to_string()
                } else {
                    status.message.clone()
                }
                .into();
                if let Some(reason) = &status.reason {
                    error["reason"] = reason.clone().into();
                }
            }
            let violations: Vec<serde_json::Value> = client
                .field_violations()
                .iter()
                .map(|v| serde_json::json!({"field": v.field, "description": v.description}))
                .collect();
            if !violations.is_empty() {
                error["fieldViolations"] = violations.into();
            }
        }
        serde_json::json!({ "error": error })
    }

    /// The error for people: the code, the message and each field violation on its own line.
    pub fn to_human(&self) -> String {
        match self {
            Self::Client(acx_client::Error::Status(status)) if status.is_answer_too_large() => {
                status.to_string()
            }
            Self::Client(acx_client::Error::Status(status)) => {
                let mut text = format!("{}: {}", code_name(status.code), status.message);
                if let Some(reason) = &status.reason {
                    text.push_str(&format!(" ({reason})"));
                }
                for violation in &status.field_violations {
                    text.push_str(&format!(
                        "\n  {}: {}",
                        violation.field, violation.description
                    ));
                }
                // The call went without a token (found by a newcomer, who had not set
                // ACX_PRINCIPAL and read only the server's words).
                if status.reason.as_deref() == Some("MISSING_CREDENTIALS") {
                    text.push_str(
                        "\n  give a token: --principal <principal> (from --credentials, \
                         data/credentials by default), --token or --token-file \
                         (ACX_PRINCIPAL, ACX_TOKEN, ACX_TOKEN_FILE)",
                    );
                }
                text
            }
            other => other.to_string(),
        }
    }
}

/// The exit code of a gRPC status code.
pub fn exit_code_of(code: Code) -> u8 {
    match code {
        Code::Ok => exit::OK,
        Code::NotFound => exit::NOT_FOUND,
        Code::Unauthenticated | Code::PermissionDenied => exit::DENIED,
        Code::Unavailable | Code::DeadlineExceeded | Code::ResourceExhausted | Code::Aborted => {
            exit::UNAVAILABLE
        }
        Code::InvalidArgument | Code::OutOfRange => exit::USAGE,
        Code::AlreadyExists | Code::FailedPrecondition => exit::CONFLICT,
        _ => exit::FAILURE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Broken;

    impl std::fmt::Display for Broken {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("h2 protocol error: connection reset")
        }
    }

    impl std::error::Error for Broken {}

    #[test]
    fn a_connection_broken_under_a_call_is_unavailable_and_a_bare_unknown_a_failure() {
        // Found by a tester: a load whose ingest replica was killed exited 1, not 6.
        let client_error = |status: tonic::Status| {
            CliError::Client(acx_client::Error::Status(
                acx_client::ServerError::from_status(&status, 1),
            ))
        };
        let broken = tonic::Status::from_error(Box::new(Broken));
        assert_eq!(broken.code(), Code::Unknown);
        assert_eq!(client_error(broken).exit_code(), exit::UNAVAILABLE);
        let sent = tonic::Status::unknown("the server said so");
        assert_eq!(client_error(sent).exit_code(), exit::FAILURE);
    }

    #[test]
    fn a_request_over_the_message_limit_is_a_usage_error_not_retry_later() {
        use tonic_types::{ErrorDetails, StatusExt};
        let status = |reason: &str| {
            let mut details = ErrorDetails::new();
            details.set_error_info(reason, "acx.exchange", std::collections::HashMap::new());
            let status = tonic::Status::with_error_details(
                Code::ResourceExhausted,
                "over the limit",
                details,
            );
            CliError::Client(acx_client::Error::Status(
                acx_client::ServerError::from_status(&status, 1),
            ))
        };
        assert_eq!(status("MESSAGE_TOO_LARGE").exit_code(), exit::USAGE);
        assert_eq!(status("OVERLOADED").exit_code(), exit::UNAVAILABLE);
    }

    #[test]
    fn a_call_without_a_token_says_how_to_give_one() {
        use tonic_types::{ErrorDetails, StatusExt};
        let refused = |reason: &str| {
            let mut details = ErrorDetails::new();
            details.set_error_info(reason, "acx.exchange", std::collections::HashMap::new());
            let status =
                tonic::Status::with_error_details(Code::Unauthenticated, "no token", details);
            CliError::Client(acx_client::Error::Status(
                acx_client::ServerError::from_status(&status, 1),
            ))
            .to_human()
        };
        assert!(refused("MISSING_CREDENTIALS").contains("--principal"));
        assert!(!refused("INVALID_CREDENTIALS").contains("--principal"));
    }
}
