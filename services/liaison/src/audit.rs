//! The audit trail: one append-only row per call (principal, RPC, what was asked, time,
//! outcome). Never the bearer token.

use std::time::{SystemTime, UNIX_EPOCH};

use acx_runtime::{Database, Principal, on_backend};
use tonic::Code;

/// One call to record.
#[derive(Debug)]
pub struct AuditEntry<'a> {
    /// Who called.
    pub principal: &'a Principal,
    /// The RPC's method name, e.g. `CheckSeller`.
    pub rpc: &'a str,
    /// What identifies the question, e.g. `seller=amazon/A1`.
    pub parameters: String,
    /// The status code of the answer.
    pub outcome: Code,
}

fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_micros() as i64)
}

/// The canonical upper-snake name of a status code (`NOT_FOUND`).
fn code_name(code: Code) -> String {
    let mut name = String::new();
    for (index, c) in format!("{code:?}").chars().enumerate() {
        if c.is_ascii_uppercase() && index > 0 {
            name.push('_');
        }
        name.push(c.to_ascii_uppercase());
    }
    name
}

/// Appends `entry` to the trail.
pub async fn record(database: &Database, entry: AuditEntry<'_>) -> Result<(), sqlx::Error> {
    const INSERT: &str = "INSERT INTO audit_log (call_time_us, principal, rpc, parameters, outcome) \
                          VALUES ($1, $2, $3, $4, $5)";
    let principal = entry.principal.to_string();
    let outcome = code_name(entry.outcome);
    on_backend!(database, pool => sqlx::query(INSERT)
        .bind(now_micros())
        .bind(&principal)
        .bind(entry.rpc)
        .bind(&entry.parameters)
        .bind(&outcome)
        .execute(pool)
        .await
        .map(drop))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_codes_as_grpc_does() {
        assert_eq!(code_name(Code::Ok), "OK");
        assert_eq!(code_name(Code::NotFound), "NOT_FOUND");
        assert_eq!(code_name(Code::InvalidArgument), "INVALID_ARGUMENT");
    }
}
