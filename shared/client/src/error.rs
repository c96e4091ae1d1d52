//! What went wrong, keeping what the server said: its code and message, the field
//! violations of `google.rpc.BadRequest`, the reason of `google.rpc.ErrorInfo`.

use std::{fmt, time::Duration};

use tonic::Code;
use tonic_types::StatusExt;

/// What went wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server answered with a non-OK status (or the call could not reach it: tonic
    /// reports that as `UNAVAILABLE`, a missed deadline as `DEADLINE_EXCEEDED`).
    #[error("{0}")]
    Status(ServerError),
    /// Bad configuration: endpoint URL, token with invalid characters, unreadable
    /// certificate.
    #[error("invalid client configuration: {0}")]
    Config(String),
}

impl Error {
    /// The gRPC status code, when the server (or the transport) gave one.
    pub fn code(&self) -> Option<Code> {
        match self {
            Self::Status(error) => Some(error.code),
            Self::Config(_) => None,
        }
    }

    /// The invalid fields the server named (empty unless the request was invalid).
    pub fn field_violations(&self) -> &[FieldViolation] {
        match self {
            Self::Status(error) => &error.field_violations,
            Self::Config(_) => &[],
        }
    }

    /// The stable `ErrorInfo` reason (`INVALID_ARGUMENT`, `DEPENDENCY_UNAVAILABLE`, ...).
    pub fn reason(&self) -> Option<&str> {
        match self {
            Self::Status(error) => error.reason.as_deref(),
            Self::Config(_) => None,
        }
    }
}

/// A non-OK answer, decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerError {
    /// The gRPC status code.
    pub code: Code,
    /// The server's message.
    pub message: String,
    /// One entry per invalid field (`google.rpc.BadRequest`), with the field's path in the
    /// request as the server wrote it (`declarations[1].lines[0].hs_code`).
    pub field_violations: Vec<FieldViolation>,
    /// `google.rpc.ErrorInfo.reason`: stable, for programs to branch on.
    pub reason: Option<String>,
    /// `google.rpc.RetryInfo.retry_delay`: how long the server asked callers to wait.
    pub retry_delay: Option<Duration>,
    /// Attempts made, the first included.
    pub attempts: u32,
}

/// One invalid field of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// Path of the field in the request, proto field names, `[i]` for list items.
    pub field: String,
    /// What is wrong with it.
    pub description: String,
}

impl ServerError {
    /// Decodes `status` and its details after `attempts` attempts.
    pub fn from_status(status: &tonic::Status, attempts: u32) -> Self {
        let details = status.get_error_details();
        let field_violations = details
            .bad_request()
            .map(|bad_request| {
                bad_request
                    .field_violations
                    .iter()
                    .map(|violation| FieldViolation {
                        field: violation.field.clone(),
                        description: violation.description.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let reason = details
            .error_info()
            .map(|info| info.reason.clone())
            .filter(|reason| !reason.is_empty());
        let retry_delay = details.retry_info().and_then(|info| info.retry_delay);
        // tonic says UNKNOWN, with the transport's error as its source, for a connection that
        // broke under a call (a replica killed mid-load): no server said anything, and the
        // call may be tried again, which is what UNAVAILABLE tells callers. A status a server
        // sent has no source.
        let broken =
            status.code() == tonic::Code::Unknown && std::error::Error::source(status).is_some();
        Self {
            code: if broken {
                tonic::Code::Unavailable
            } else {
                status.code()
            },
            message: status.message().to_owned(),
            field_violations,
            reason,
            retry_delay,
            attempts,
        }
    }
}

/// How tonic words its refusal of an answer larger than the client's receive limit.
const TOO_LARGE: &str = "Error, decoded message length too large";

impl ServerError {
    /// Whether this is not the server's answer but the client's refusal of it: larger than
    /// the client's receive limit (4 MiB by default). tonic reports that as `OUT_OF_RANGE`,
    /// which would otherwise read as a request out of range.
    pub fn is_answer_too_large(&self) -> bool {
        self.code == Code::OutOfRange && self.message.starts_with(TOO_LARGE)
    }

    /// Whether the server refused the request as larger than its message limit
    /// (`RESOURCE_EXHAUSTED` with reason `MESSAGE_TOO_LARGE`; 4 MiB by default): the same
    /// request would be refused again, so it is not retried; it must be split.
    pub fn is_request_too_large(&self) -> bool {
        self.code == Code::ResourceExhausted && self.reason.as_deref() == Some("MESSAGE_TOO_LARGE")
    }
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_answer_too_large() {
            let detail = self
                .message
                .trim_start_matches(TOO_LARGE)
                .trim_start_matches(':');
            return write!(
                f,
                "the answer is larger than this client accepts ({}); ask for less at once, \
                 e.g. fewer items per page",
                detail.trim()
            );
        }
        write!(f, "{}: {}", code_name(self.code), self.message)?;
        // The server's message already names the fields; add them only when it did not.
        for violation in &self.field_violations {
            if !self.message.contains(&violation.field) {
                write!(f, "; {}: {}", violation.field, violation.description)?;
            }
        }
        if self.attempts > 1 {
            write!(f, " (after {} attempts)", self.attempts)?;
        }
        Ok(())
    }
}

impl std::error::Error for ServerError {}

/// The canonical upper-case name of a code (`INVALID_ARGUMENT`), as grpcurl and the
/// other gRPC tools print it.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic_types::ErrorDetails;

    #[test]
    fn details_are_decoded() {
        let mut details = ErrorDetails::new();
        details.add_bad_request_violation("lines[0].hs_code", "must be 6 to 10 digits");
        details.set_error_info(
            "INVALID_ARGUMENT",
            "acx.exchange",
            std::collections::HashMap::new(),
        );
        details.set_retry_info(Some(Duration::from_millis(250)));
        let status =
            tonic::Status::with_error_details(Code::InvalidArgument, "invalid request", details);
        let error = ServerError::from_status(&status, 1);
        assert_eq!(error.code, Code::InvalidArgument);
        assert_eq!(
            error.field_violations,
            [FieldViolation {
                field: "lines[0].hs_code".to_owned(),
                description: "must be 6 to 10 digits".to_owned()
            }]
        );
        assert_eq!(error.reason.as_deref(), Some("INVALID_ARGUMENT"));
        assert_eq!(error.retry_delay, Some(Duration::from_millis(250)));
        assert_eq!(
            error.to_string(),
            "INVALID_ARGUMENT: invalid request; lines[0].hs_code: must be 6 to 10 digits"
        );
    }

    #[test]
    fn an_answer_over_the_receive_limit_is_told_apart_from_a_server_error() {
        let local = tonic::Status::out_of_range(
            "Error, decoded message length too large: found 5000000 bytes, the limit is: 4194304 bytes",
        );
        let error = ServerError::from_status(&local, 1);
        assert!(error.is_answer_too_large());
        assert_eq!(
            error.to_string(),
            "the answer is larger than this client accepts (found 5000000 bytes, the limit is: \
             4194304 bytes); ask for less at once, e.g. fewer items per page"
        );
        let server = ServerError::from_status(&tonic::Status::out_of_range("page 9 of 3"), 1);
        assert!(!server.is_answer_too_large());
    }

    #[test]
    fn a_plain_status_has_no_details() {
        let error = ServerError::from_status(&tonic::Status::unavailable("down"), 4);
        assert!(error.field_violations.is_empty());
        assert_eq!(error.reason, None);
        assert_eq!(error.to_string(), "UNAVAILABLE: down (after 4 attempts)");
    }
}
