//! The audit trail: one append-only row per call (principal, RPC, what was asked, time,
//! outcome). Never the bearer token.

use acx_runtime::{Database, Principal, on_backend, time::now_micros};
use tokio::sync::{mpsc, oneshot};
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

/// A record waiting for the writer, with the caller waiting for its outcome.
struct Pending {
    row: (i64, String, String, String, String),
    done: oneshot::Sender<Result<(), String>>,
}

/// Most records written in one transaction.
const MAX_GROUP: usize = 500;

/// The audit writer: calls hand their record over and wait until it is committed, and the
/// writer commits whatever has queued up in one multi-row statement (group commit). A
/// call still never answers before its record is durable, but concurrent calls share one
/// write instead of queueing behind one write each.
#[derive(Debug, Clone)]
pub struct AuditLog {
    queue: mpsc::Sender<Pending>,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pending(..)")
    }
}

impl AuditLog {
    /// Starts the writer over `database`.
    pub fn start(database: Database) -> Self {
        let (queue, mut receiver) = mpsc::channel::<Pending>(4 * MAX_GROUP);
        tokio::spawn(async move {
            while let Some(first) = receiver.recv().await {
                let mut group = vec![first];
                while group.len() < MAX_GROUP {
                    match receiver.try_recv() {
                        Ok(next) => group.push(next),
                        Err(_) => break,
                    }
                }
                let rows: Vec<_> = group.iter().map(|p| p.row.clone()).collect();
                let outcome = write(&database, &rows).await.map_err(|e| e.to_string());
                for pending in group {
                    let _ = pending.done.send(outcome.clone());
                }
            }
        });
        Self { queue }
    }

    /// Records a call refused before it reached liaison (no or unknown token, wrong role).
    /// The caller has its answer already, so nothing waits for the write; a failure is
    /// logged.
    pub fn record_refusal(&self, refusal: acx_runtime::auth::Refusal) {
        let (done, committed) = oneshot::channel();
        let rpc = refusal
            .path
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        let principal = refusal
            .principal
            .map_or_else(|| "-".to_owned(), |p| p.to_string());
        let row = (
            now_micros(),
            principal,
            rpc,
            String::new(),
            code_name(refusal.code),
        );
        if self.queue.try_send(Pending { row, done }).is_err() {
            tracing::error!("audit queue full: a refused call was not recorded");
            return;
        }
        tokio::spawn(async move {
            if !matches!(committed.await, Ok(Ok(()))) {
                tracing::error!("a refused call could not be recorded in the audit trail");
            }
        });
    }

    /// Appends `entry` to the trail; returns once it is committed.
    pub async fn record(&self, entry: AuditEntry<'_>) -> Result<(), AuditError> {
        let (done, committed) = oneshot::channel();
        let row = (
            now_micros(),
            entry.principal.to_string(),
            entry.rpc.to_owned(),
            entry.parameters,
            code_name(entry.outcome),
        );
        self.queue
            .send(Pending { row, done })
            .await
            .map_err(|_| AuditError("the audit writer stopped".to_owned()))?;
        match committed.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(AuditError(error)),
            Err(_) => Err(AuditError("the audit writer stopped".to_owned())),
        }
    }
}

/// Why a record could not be written.
#[derive(Debug, thiserror::Error)]
#[error("audit record not written: {0}")]
pub struct AuditError(String);

/// Writes rows (time, principal, rpc, parameters, outcome) in one statement.
async fn write(
    database: &Database,
    rows: &[(i64, String, String, String, String)],
) -> Result<(), sqlx::Error> {
    const HEAD: &str = "INSERT INTO audit_log (call_time_us, principal, rpc, parameters, outcome) ";
    on_backend!(database, pool => {
        let mut query = sqlx::QueryBuilder::new(HEAD);
        query.push_values(rows, |mut b, row| {
            b.push_bind(row.0)
                .push_bind(row.1.clone())
                .push_bind(row.2.clone())
                .push_bind(row.3.clone())
                .push_bind(row.4.clone());
        });
        query.build().execute(pool).await.map(drop)
    })
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
