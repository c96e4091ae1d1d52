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

/// Most violations listed in one `google.rpc.BadRequest`; the others are counted, not listed.
pub const MAX_LISTED_VIOLATIONS: usize = 16;
/// Bytes of field paths and descriptions one `BadRequest` may carry in all. With the caps
/// below, a status stays far under the 16 KiB header list that HTTP/2 clients accept by
/// default: status details travel in a header, and a client refusing them drops the whole
/// connection, failing every other call on it.
const VIOLATIONS_BUDGET_BYTES: usize = 4096;
/// Longest field path kept, in bytes.
const MAX_FIELD_BYTES: usize = 128;
/// Longest violation description kept, in bytes (a description that quotes a value never
/// echoes it at length).
const MAX_DESCRIPTION_BYTES: usize = 192;
/// Longest status message kept, in bytes.
pub const MAX_MESSAGE_BYTES: usize = 512;

/// `text` cut to at most `max` bytes on a character boundary, with `…` when cut.
pub fn clip(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    if text.len() <= max {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    std::borrow::Cow::Owned(format!("{}…", &text[..end]))
}

/// Violations as a result inside an answer lists them (a declaration's, a report's): at
/// most [`MAX_LISTED_VIOLATIONS`], each path and description cut short as
/// [`invalid_argument`] cuts them; returns them and how many were left out.
pub fn listed_violations(violations: Vec<FieldViolation>) -> (Vec<FieldViolation>, usize) {
    let left_out = violations.len().saturating_sub(MAX_LISTED_VIOLATIONS);
    let listed = violations
        .into_iter()
        .take(MAX_LISTED_VIOLATIONS)
        .map(|v| {
            FieldViolation::new(
                clip(&v.field, MAX_FIELD_BYTES),
                clip(&v.description, MAX_DESCRIPTION_BYTES),
            )
        })
        .collect();
    (listed, left_out)
}

fn error_info(
    details: &mut ErrorDetails,
    reason: &str,
    metadata: std::collections::HashMap<String, String>,
) {
    details.set_error_info(reason, ERROR_DOMAIN, metadata);
}

/// A status with an `ErrorInfo` detail carrying `reason` (UPPER_SNAKE, stable, for programs).
/// The message is cut to [`MAX_MESSAGE_BYTES`].
pub fn status_with_reason(code: Code, message: impl Into<String>, reason: &str) -> Status {
    let mut details = ErrorDetails::new();
    error_info(&mut details, reason, std::collections::HashMap::new());
    let message = message.into();
    Status::with_error_details(code, clip(&message, MAX_MESSAGE_BYTES), details)
}

/// `INVALID_ARGUMENT` with the violations as `google.rpc.BadRequest`, bounded whatever the
/// input: at most [`MAX_LISTED_VIOLATIONS`] are listed (fewer if their text is long), each
/// path and description cut short, and the `ErrorInfo` (reason `INVALID_ARGUMENT`) counts
/// them: metadata `violations` (all of them) and `listed`. The message names the first
/// violation and how many more there are, for clients that do not decode details.
pub fn invalid_argument(violations: &[FieldViolation]) -> Status {
    let mut details = ErrorDetails::new();
    let mut listed = 0;
    let mut spent = 0;
    for violation in violations.iter().take(MAX_LISTED_VIOLATIONS) {
        let field = clip(&violation.field, MAX_FIELD_BYTES);
        let description = clip(&violation.description, MAX_DESCRIPTION_BYTES);
        spent += field.len() + description.len();
        if listed > 0 && spent > VIOLATIONS_BUDGET_BYTES {
            break;
        }
        details.add_bad_request_violation(field, description);
        listed += 1;
    }
    let mut message = String::from("invalid request");
    if let Some(first) = violations.first() {
        let _ = write!(
            message,
            ": {}: {}",
            clip(&first.field, MAX_FIELD_BYTES),
            clip(&first.description, MAX_DESCRIPTION_BYTES)
        );
    }
    match violations.len() {
        0 | 1 => {}
        total if listed == total => {
            let _ = write!(
                message,
                " (and {} more: see the google.rpc.BadRequest details)",
                total - 1
            );
        }
        total => {
            let _ = write!(
                message,
                " (and {} more; the first {listed} are in the google.rpc.BadRequest details)",
                total - 1
            );
        }
    }
    let metadata = [
        ("violations".to_owned(), violations.len().to_string()),
        ("listed".to_owned(), listed.to_string()),
    ]
    .into_iter()
    .collect();
    error_info(&mut details, "INVALID_ARGUMENT", metadata);
    Status::with_error_details(Code::InvalidArgument, message, details)
}

/// `INVALID_ARGUMENT` for a request body that is not a valid message of the RPC's request
/// type (truncated, a string that is not UTF-8, field number 0, a wrong wire type, a bad
/// gRPC frame): `ErrorInfo` reason `MALFORMED_MESSAGE`, and a `BadRequest` violation when
/// the field is known (`reports[].seller.seller_id` style paths, without indexes).
pub fn malformed_message(description: &str, field: Option<&str>) -> Status {
    let description = clip(description, MAX_DESCRIPTION_BYTES);
    let mut details = ErrorDetails::new();
    let message = match field {
        Some(field) => {
            let field = clip(field, MAX_FIELD_BYTES);
            details.add_bad_request_violation(field.clone(), description.clone());
            format!("the request is not a valid protobuf message: {field}: {description}")
        }
        None => format!("the request is not a valid protobuf message: {description}"),
    };
    error_info(
        &mut details,
        "MALFORMED_MESSAGE",
        std::collections::HashMap::new(),
    );
    Status::with_error_details(Code::InvalidArgument, message, details)
}

/// The whole cause chain of an error, `outer: inner: root`, for logs. A cause whose text
/// the chain ends with already is not repeated (found by a tester: a missing database was
/// reported as `database "x" does not exist: database "x" does not exist`, sqlx's error
/// showing its source's text and then the source itself).
pub fn cause_chain(error: &dyn Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            let _ = write!(text, ": {cause_text}");
        }
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

/// Whether a database error is a write conflict the database resolved by failing one
/// side: PostgreSQL's deadlock (`40P01`) or serialization failure (`40001`), SQLite's busy
/// or locked database. Nothing of the failed transaction was written; the call may be sent
/// again.
pub fn is_write_conflict(error: &sqlx::Error) -> bool {
    let sqlx::Error::Database(db) = error else {
        return false;
    };
    matches!(
        db.code().as_deref(),
        Some("40P01" | "40001" | "5" | "6" | "517" | "262")
    )
}

/// `ABORTED` for a write that conflicted with a concurrent one ([`is_write_conflict`]):
/// nothing was written, and the same call may be sent again (acx-client retries it for
/// idempotent calls).
pub fn write_conflict(error: &dyn Error) -> Status {
    tracing::warn!(error = %cause_chain(error), "write conflict: the call was aborted");
    status_with_reason(
        Code::Aborted,
        "the call conflicted with a concurrent write and nothing was written; send it again",
        "WRITE_CONFLICT",
    )
}

/// Whether a database error says the database could not be reached or dropped the
/// connection: PostgreSQL shutting down, restarting or failing over (SQLSTATE class `08`
/// connection exception, `57P01` to `57P03` shutdown and start-up, `53300` too many
/// connections), the connection's socket failing or torn down mid-protocol, no pooled
/// connection freed within the pool's timeout ([`crate::db::PG_ACQUIRE_TIMEOUT`]), or the
/// pool closed (the server stopping). Transient: the same call may succeed on a later try,
/// and ACX's writes are idempotent by id (report, declaration, result), so a retry is safe
/// even when a commit's answer was lost.
pub fn is_database_unreachable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        // What a connection torn down at start answers, e.g. through a proxy with no server
        // behind it (found by a tester: "unexpected response from SSLRequest" was INTERNAL).
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            code.starts_with("08") || matches!(code.as_ref(), "57P01" | "57P02" | "57P03" | "53300")
        }),
        _ => false,
    }
}

/// The status of a failed database call, for every service: `ABORTED` for a write
/// conflict ([`is_write_conflict`]), `UNAVAILABLE` for a database that cannot be reached
/// ([`is_database_unreachable`]; found by a tester: a PostgreSQL backend ended mid-load
/// answered INTERNAL, which clients do not retry), `INTERNAL` (logged) for anything else.
pub fn database(error: &sqlx::Error) -> Status {
    if is_write_conflict(error) {
        write_conflict(error)
    } else if matches!(error, sqlx::Error::PoolTimedOut) {
        // Down, or (found by a tester: 300 concurrent loads of 1,000 reports) too busy.
        tracing::warn!(error = %cause_chain(error), "no database connection free in time");
        status_with_reason(
            Code::Unavailable,
            "the database is unavailable or busy (no connection was free in time); retry later",
            "DEPENDENCY_UNAVAILABLE",
        )
    } else if is_database_unreachable(error) {
        unavailable("the database", error)
    } else {
        internal(error)
    }
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

    /// Shows its source's text, as sqlx's database errors do.
    #[derive(Debug, thiserror::Error)]
    #[error("{0}")]
    struct Echo(#[source] std::io::Error);

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
    fn errors_stay_small_whatever_the_input() {
        let huge = "x".repeat(100_000);
        let many: Vec<FieldViolation> = (0..5_000)
            .map(|i| FieldViolation::new(format!("identifiers.phones[{i}]{huge}"), &huge))
            .collect();
        let status = invalid_argument(&many);
        let mut headers = http::HeaderMap::new();
        status.add_header(&mut headers).expect("valid headers");
        let size: usize = headers
            .iter()
            .map(|(name, value)| name.as_str().len() + value.len() + 32)
            .sum();
        assert!(size < 8 * 1024, "{size} bytes of headers");
        let details = status.get_error_details();
        let listed = details
            .bad_request()
            .expect("bad request")
            .field_violations
            .len();
        assert!((1..=MAX_LISTED_VIOLATIONS).contains(&listed));
        let info = details.error_info().expect("error info");
        assert_eq!(info.metadata["violations"], "5000");
        assert_eq!(info.metadata["listed"], listed.to_string());
        assert!(status.message().contains("and 4999 more"));

        let long = status_with_reason(Code::NotFound, huge.clone(), "NOT_FOUND");
        assert!(long.message().len() <= MAX_MESSAGE_BYTES);
        assert_eq!(clip("ééé", 4), "…");
        assert_eq!(clip("abc", 3), "abc");
    }

    #[test]
    fn internal_errors_do_not_leak_their_cause() {
        let error = Outer(std::io::Error::other("SELECT secret FROM t"));
        assert_eq!(cause_chain(&error), "query failed: SELECT secret FROM t");
        // A wrapper that shows its source's text is not followed by it again.
        let echo = Echo(std::io::Error::other("database \"x\" does not exist"));
        assert_eq!(cause_chain(&echo), "database \"x\" does not exist");
        let status = internal(&error);
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("SELECT"));
    }

    #[test]
    fn a_database_out_of_reach_is_unavailable_and_a_failed_query_internal() {
        let io = sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        for unreachable in [io, sqlx::Error::PoolTimedOut, sqlx::Error::PoolClosed] {
            assert_eq!(
                database(&unreachable).code(),
                Code::Unavailable,
                "{unreachable}"
            );
        }
        let torn = sqlx::Error::Protocol("unexpected response from SSLRequest: 0x00".to_owned());
        assert_eq!(database(&torn).code(), Code::Unavailable);
        // The cause (which may hold SQL) stays in the log.
        let failed = sqlx::Error::ColumnNotFound("SELECT secret FROM t".to_owned());
        let status = database(&failed);
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("SELECT"));
        assert_eq!(database(&sqlx::Error::RowNotFound).code(), Code::Internal);
    }
}
