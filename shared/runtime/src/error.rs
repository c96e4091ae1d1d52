//! Building blocks for the one place per service where its error type becomes a
//! `tonic::Status`: `google.rpc.BadRequest` field violations for invalid input, an
//! `ErrorInfo` reason on every refusal, and internal errors logged with their cause chain
//! but never sent to callers.

use std::{error::Error, fmt::Write as _};

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// The `ErrorInfo.domain` of every ACX error.
pub const ERROR_DOMAIN: &str = "acx.exchange";

/// One invalid field: its path in the request (`reports[3].seller.country`) and what is
/// wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// Path of the field in the request, proto field names, `[i]` for list items.
    pub field: String,
    /// What is wrong, in words a person can act on.
    pub description: String,
}

impl FieldViolation {
    /// A violation of `field`.
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            description: description.into(),
        }
    }

    /// The same violation under a parent path (`reports[3]` + `seller.country`).
    pub fn nested(self, parent: &str) -> Self {
        Self {
            field: if parent.is_empty() {
                self.field
            } else {
                format!("{parent}.{}", self.field)
            },
            description: self.description,
        }
    }
}

/// A status with an `ErrorInfo` detail carrying `reason` (UPPER_SNAKE, stable, for programs).
pub fn status_with_reason(code: Code, message: impl Into<String>, reason: &str) -> Status {
    let mut details = ErrorDetails::new();
    details.set_error_info(reason, ERROR_DOMAIN, std::collections::HashMap::new());
    Status::with_error_details(code, message, details)
}

/// `INVALID_ARGUMENT` listing every violation as `google.rpc.BadRequest`. The message names
/// the fields too, for clients that do not decode details.
pub fn invalid_argument(violations: &[FieldViolation]) -> Status {
    let mut message = String::from("invalid request");
    for (index, violation) in violations.iter().enumerate() {
        let separator = if index == 0 { ": " } else { "; " };
        let _ = write!(
            message,
            "{separator}{}: {}",
            violation.field, violation.description
        );
    }
    let mut details = ErrorDetails::new();
    for violation in violations {
        details.add_bad_request_violation(violation.field.clone(), violation.description.clone());
    }
    details.set_error_info(
        "INVALID_ARGUMENT",
        ERROR_DOMAIN,
        std::collections::HashMap::new(),
    );
    Status::with_error_details(Code::InvalidArgument, message, details)
}

/// The whole cause chain of an error, `outer: inner: root`, for logs.
pub fn cause_chain(error: &dyn Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let _ = write!(text, ": {cause}");
        source = cause.source();
    }
    text
}

/// Logs an internal error with its cause chain and returns a generic `INTERNAL` status: no
/// SQL, path or stack text reaches the caller.
pub fn internal(error: &dyn Error) -> Status {
    tracing::error!(error = %cause_chain(error), "internal error");
    status_with_reason(
        Code::Internal,
        "internal error; it has been logged",
        "INTERNAL",
    )
}

/// `UNAVAILABLE` for a dependency that cannot be reached; safe to retry.
pub fn unavailable(what: &str, error: &dyn Error) -> Status {
    tracing::warn!(dependency = what, error = %cause_chain(error), "dependency unavailable");
    status_with_reason(
        Code::Unavailable,
        format!("{what} is unavailable; retry later"),
        "DEPENDENCY_UNAVAILABLE",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("query failed")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn invalid_argument_carries_field_violations() {
        let status = invalid_argument(&[FieldViolation::new(
            "country",
            "must be an ISO 3166-1 alpha-2 code",
        )
        .nested("reports[3].seller")]);
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(status.message().contains("reports[3].seller.country"));
        let details = status.get_error_details();
        let bad_request = details.bad_request().expect("bad request details");
        assert_eq!(
            bad_request.field_violations[0].field,
            "reports[3].seller.country"
        );
        assert_eq!(
            details.error_info().expect("error info").reason,
            "INVALID_ARGUMENT"
        );
    }

    #[test]
    fn internal_errors_do_not_leak_their_cause() {
        let error = Outer(std::io::Error::other("SELECT secret FROM t"));
        assert_eq!(cause_chain(&error), "query failed: SELECT secret FROM t");
        let status = internal(&error);
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("SELECT"));
    }
}
