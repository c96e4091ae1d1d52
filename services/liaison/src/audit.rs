//! The audit trail: one append-only row per call (principal, RPC, what was asked, time,
//! outcome). Never the bearer token.

use acx_proto::liaison::{AuditRecord, ListAuditRecordsRequest, ListAuditRecordsResponse};
use acx_runtime::{
    Database, Principal,
    db::bounded,
    on_backend,
    paging::{self, Page, PageTokens, Scope},
    time::{from_timestamp, now_micros},
};
use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use tokio::sync::{Notify, mpsc, oneshot};
use tonic::Code;

use crate::store;

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

type Row = (i64, String, String, String, String);

/// Work for the writer: a record to append (with whoever waits for its commit), or a
/// flush that answers once everything queued before it is written.
struct Pending {
    row: Option<Row>,
    done: Option<oneshot::Sender<Result<(), AuditError>>>,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pending(..)")
    }
}

/// Most records written in one transaction.
const MAX_GROUP: usize = 500;
/// How long records that nobody waits for (questions') gather before they are written:
/// under load one write then carries a hundred calls or more instead of a few dozen
/// (measured: about 7% more GetShipment calls per second).
const LINGER: Duration = Duration::from_millis(5);
/// How often the writer steps aside for the calls in progress before writing a group.
const LINGER_YIELDS: usize = 4;

/// When a call may answer, relative to its audit record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Once the record is committed: for calls that change something (a call the server
    /// could not serve, e.g. UNAVAILABLE, is answered as with `Queued` on a working trail).
    Committed,
    /// Once the record is queued for the next group commit (milliseconds later, and
    /// always before the server stops): for questions, which then do not wait for the
    /// database. If the last write of the trail failed, this waits for the commit, so a
    /// broken trail refuses calls instead of losing their records.
    Queued,
}

/// The audit writer: calls hand their record over and the writer commits whatever has
/// queued up in one multi-row statement (group commit), so concurrent calls share one
/// write instead of queueing behind one write each.
#[derive(Debug, Clone)]
pub struct AuditLog {
    queue: mpsc::Sender<Pending>,
    /// Set while the last group could not be written.
    failing: Arc<AtomicBool>,
    /// Cuts the writer's linger short: someone waits for a commit.
    awaited: Arc<Notify>,
}

impl AuditLog {
    /// Starts the writer over `database`.
    pub fn start(database: Database) -> Self {
        let (queue, receiver) = mpsc::channel::<Pending>(4 * MAX_GROUP);
        let failing = Arc::new(AtomicBool::new(false));
        let awaited = Arc::new(Notify::new());
        tokio::spawn(write_groups(
            database,
            receiver,
            failing.clone(),
            awaited.clone(),
        ));
        Self {
            queue,
            failing,
            awaited,
        }
    }

    /// Records a call refused before it reached liaison (no or unknown token, wrong role, or
    /// an authenticated call answered before liaison took it: a body that does not decode,
    /// a message over the size limit).
    /// The caller has its answer already, so nothing waits for the write.
    pub fn record_refusal(&self, refusal: acx_runtime::auth::Refusal) {
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
            printable(&principal),
            printable(&rpc),
            String::new(),
            code_name(refusal.code),
        );
        let pending = Pending {
            row: Some(row),
            done: None,
        };
        if self.queue.try_send(pending).is_err() {
            tracing::error!("audit queue full: a refused call was not recorded");
        }
    }

    /// Appends `entry` to the trail; returns as `durability` says.
    pub async fn record(
        &self,
        entry: AuditEntry<'_>,
        durability: Durability,
    ) -> Result<(), AuditError> {
        let row = (
            now_micros(),
            printable(&entry.principal.to_string()),
            printable(entry.rpc),
            printable(&entry.parameters),
            code_name(entry.outcome),
        );
        // A call that was not served (the database or scoring away, out of time) disclosed
        // and changed nothing: it is not held for its record, which is kept like a
        // question's and written once the trail takes writes (found by a tester: in an
        // outage a failed write waited for its connection and then for its record, past
        // the caller's 10 s deadline). Any other answer, NOT_FOUND too, tells something.
        let wait = served(entry.outcome)
            && (durability == Durability::Committed || self.failing.load(Ordering::SeqCst));
        if !wait {
            return self
                .queue
                .send(Pending {
                    row: Some(row),
                    done: None,
                })
                .await
                .map_err(|_| AuditError::stopped());
        }
        self.enqueue_and_wait(Some(row)).await
    }

    /// Returns once every record queued so far is written: at shutdown, after the last
    /// call has answered.
    pub async fn flush(&self) -> Result<(), AuditError> {
        self.enqueue_and_wait(None).await
    }

    async fn enqueue_and_wait(&self, row: Option<Row>) -> Result<(), AuditError> {
        let (done, committed) = oneshot::channel();
        self.queue
            .send(Pending {
                row,
                done: Some(done),
            })
            .await
            .map_err(|_| AuditError::stopped())?;
        self.awaited.notify_one();
        match committed.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(error),
            Err(_) => Err(AuditError::stopped()),
        }
    }
}

/// Whether a call with this outcome was served: not one the server could not answer
/// (UNAVAILABLE, DEADLINE_EXCEEDED, CANCELLED, ABORTED, RESOURCE_EXHAUSTED, INTERNAL,
/// UNKNOWN), which tells the caller nothing of the exchange's data.
fn served(outcome: Code) -> bool {
    !matches!(
        outcome,
        Code::Unavailable
            | Code::DeadlineExceeded
            | Code::Cancelled
            | Code::Aborted
            | Code::ResourceExhausted
            | Code::Internal
            | Code::Unknown
    )
}

/// Whether `c` is written as its escape in a record: a control character, or an invisible
/// one that changes how the rest reads (bidirectional overrides and isolates, zero-width
/// characters, line and paragraph separators; found by a security tester: a name with
/// U+202E read backwards in an auditor's view).
fn hidden(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// `text` with each [`hidden`] character written as its escape (`\u{0}`): a caller's text
/// is recorded as sent, but PostgreSQL refuses a NUL in text, and one refused record failed
/// the whole group written with it (found by a tester: requests with a NUL in a shipment's
/// name made other callers' calls fail and their records go missing).
fn printable(text: &str) -> String {
    if !text.chars().any(hidden) {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if hidden(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

/// A caller's value for a record's `key=value` parameters: as sent when it is a plain word,
/// else in double quotes with `"` and `\` escaped, so that no value can pass for other
/// parameters (found by a security tester: an office of `USLAX importer=US-IMP-4711` read as
/// two filters). [`hidden`] characters are escaped when the record is written.
pub(crate) fn value(text: &str) -> String {
    let plain = !text
        .chars()
        .any(|c| c.is_whitespace() || matches!(c, '=' | '"' | '\\') || hidden(c));
    if plain {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        if matches!(c, '"' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// How long a group's write may take before questions wait for their records: a database
/// that does not answer (stopped, unreachable) takes the pool's timeout, 10 s or more, to
/// fail, and questions answered meanwhile would each leave a record only memory holds.
const SLOW_WRITE: Duration = Duration::from_millis(500);
/// How often records of answered calls that could not be written are tried again.
const RETRY: Duration = Duration::from_secs(1);
/// Most records of answered calls kept for a retry; older ones beyond it are dropped, and
/// logged. Questions wait for their records while any are kept, so only the calls answered
/// before the trail was found failing (within [`SLOW_WRITE`]) add to them.
const MAX_CARRIED: usize = 100_000;

/// The writer: groups what calls queue and writes each group in one statement. Records of
/// calls answered already (questions, refusals) that cannot be written are kept and
/// written with a later group, so a database outage loses none of them (found by a
/// tester: five CheckSeller calls answered while PostgreSQL was stopped left no record).
/// `failing` is set while any are kept or a write is slow or failed, and makes questions
/// wait for their records.
async fn write_groups(
    database: Database,
    mut receiver: mpsc::Receiver<Pending>,
    failing: Arc<AtomicBool>,
    awaited: Arc<Notify>,
) {
    let mut carried: Vec<Row> = Vec::new();
    // Retries left once no call can queue any more (the server stopped).
    let mut last_retries = 10;
    loop {
        let first = if carried.is_empty() {
            receiver.recv().await
        } else {
            tokio::select! {
                next = receiver.recv() => next,
                () = tokio::time::sleep(RETRY) => None,
            }
        };
        if first.is_none() && receiver.is_closed() {
            if carried.is_empty() {
                return;
            }
            if last_retries == 0 {
                tracing::error!(
                    records = carried.len(),
                    "audit records of answered calls were not written before the server stopped"
                );
                return;
            }
            last_retries -= 1;
            tokio::time::sleep(RETRY).await;
        }
        let mut group: Vec<Pending> = first.into_iter().collect();
        if group.first().is_some_and(|p| p.done.is_none()) {
            tokio::select! {
                () = tokio::time::sleep(LINGER) => {}
                () = awaited.notified() => {}
            }
        }
        // Let the calls in progress add their records too: one write for many.
        for _ in 0..LINGER_YIELDS {
            tokio::task::yield_now().await;
            while group.len() < MAX_GROUP {
                match receiver.try_recv() {
                    Ok(next) => group.push(next),
                    Err(_) => break,
                }
            }
        }
        // Records whose callers have their answer already, first those kept from before.
        let mut answered = std::mem::take(&mut carried);
        let mut waiting_rows = Vec::new();
        let mut waiting = Vec::new();
        for pending in group {
            match pending.done {
                Some(done) => {
                    waiting_rows.extend(pending.row);
                    waiting.push(done);
                }
                None => answered.extend(pending.row),
            }
        }
        let answered_rows = answered.len();
        let mut rows = answered;
        rows.extend(waiting_rows);
        let outcome = if rows.is_empty() {
            Ok(())
        } else {
            let write = bounded(write(&database, &rows));
            tokio::pin!(write);
            tokio::select! {
                outcome = &mut write => outcome,
                () = tokio::time::sleep(SLOW_WRITE) => {
                    failing.store(true, Ordering::SeqCst);
                    write.await
                }
            }
            .map_err(|e| AuditError::database(&e))
        };
        if let Err(error) = &outcome
            && answered_rows > 0
        {
            rows.truncate(answered_rows);
            let dropped = rows.len().saturating_sub(MAX_CARRIED);
            if dropped > 0 {
                rows.drain(..dropped);
                tracing::error!(%error, records = dropped,
                    "audit records of answered calls were not written and could be kept no longer");
            }
            tracing::warn!(%error, records = rows.len(),
                "audit records of answered calls not written yet: kept, retrying");
            carried = rows;
        }
        failing.store(outcome.is_err() || !carried.is_empty(), Ordering::SeqCst);
        for done in waiting {
            let _ = done.send(outcome.clone());
        }
    }
}

/// Why a record could not be written.
#[derive(Debug, Clone, thiserror::Error)]
#[error("audit record not written: {message}")]
pub struct AuditError {
    message: String,
    /// The trail's database was out of reach or the writer stopped with the server: the
    /// call may succeed when sent again (UNAVAILABLE, not INTERNAL).
    pub transient: bool,
}

impl AuditError {
    fn stopped() -> Self {
        Self {
            message: "the audit writer stopped".to_owned(),
            transient: true,
        }
    }

    fn database(error: &sqlx::Error) -> Self {
        Self {
            message: acx_runtime::error::cause_chain(error),
            transient: acx_runtime::error::is_database_unreachable(error)
                || acx_runtime::error::is_write_conflict(error),
        }
    }
}

/// Writes rows (time, principal, rpc, parameters, outcome) in one statement.
async fn write(database: &Database, rows: &[Row]) -> Result<(), sqlx::Error> {
    const HEAD: &str = "INSERT INTO audit_log (call_time_us, principal, rpc, parameters, outcome) ";
    on_backend!(database, pool => {
        let mut query = sqlx::QueryBuilder::new(HEAD);
        query.push_values(rows, |mut b, (time, principal, rpc, parameters, outcome)| {
            b.push_bind(time)
                .push_bind(principal)
                .push_bind(rpc)
                .push_bind(parameters)
                .push_bind(outcome);
        });
        query.build().execute(pool).await.map(drop)
    })
}

/// The RPC audit page tokens are bound to.
const LIST_RPC: &str = "acx.liaison.v1.LiaisonService/ListAuditRecords";
/// Records read by a page's first query (later ones are sized by the bytes left).
const LIST_CHUNK: usize = 256;

/// Checks the filters as SearchShipments checks its own (found by a tester: a start after
/// the end, nanos of -3, a principal of 10,000 characters or with a NUL were answered as if
/// they filtered something).
fn check_filters(request: &ListAuditRecordsRequest) -> Vec<acx_runtime::FieldViolation> {
    use acx_runtime::FieldViolation;
    let mut violations = Vec::new();
    for (field, value) in [("principal", &request.principal), ("rpc", &request.rpc)] {
        if value.chars().count() > 200 || value.chars().any(acx_domain::text::is_invisible_in_id) {
            violations.push(FieldViolation::new(
                field,
                "must be at most 200 characters without control or invisible characters",
            ));
        }
    }
    violations.extend(acx_runtime::validate::time_range(
        request.start_time.as_ref(),
        request.end_time.as_ref(),
    ));
    violations
}

/// One page of the trail for `principal` (an auditor): the records matching `request` up to
/// the newest at its first page (the trail grows with every call; a listing ends), oldest
/// first. Every queued record is written first, so every call answered before the first
/// page is in the listing.
pub async fn list(
    log: &AuditLog,
    database: &Database,
    tokens: &PageTokens,
    principal: &Principal,
    request: &ListAuditRecordsRequest,
) -> Result<ListAuditRecordsResponse, crate::Error> {
    let size = paging::page_size(request.page_size)
        .map_err(|violation| crate::Error::Invalid(vec![violation]))?;
    let violations = check_filters(request);
    if !violations.is_empty() {
        return Err(crate::Error::Invalid(violations));
    }
    let filters = ListAuditRecordsRequest {
        page_size: 0,
        page_token: String::new(),
        ..request.clone()
    };
    let scope = Scope::new(LIST_RPC, principal, &filters);
    // (the newest record at the first page, the last record shown)
    let cursor: Option<(i64, i64)> = tokens
        .open(&scope, &request.page_token)
        .map_err(|violation| crate::Error::Invalid(vec![violation]))?;
    let (up_to, after) = match cursor {
        Some(cursor) => (cursor.0, Some(cursor.1)),
        None => {
            log.flush().await?;
            (store::audit_head(database).await?, None)
        }
    };
    let filter = store::AuditFilter {
        principal: request.principal.clone(),
        rpc: request.rpc.clone(),
        start_us: request.start_time.as_ref().map_or(i64::MIN, from_timestamp),
        end_us: request.end_time.as_ref().map_or(i64::MAX, from_timestamp),
        up_to,
    };
    let mut page = Page::new(size, after);
    while let Some(count) = page.wanted(LIST_CHUNK) {
        let rows =
            store::audit_records(database, &filter, page.after().unwrap_or(0), count).await?;
        let records = rows
            .into_iter()
            .map(|(id, time, principal, rpc, parameters, outcome)| {
                let record = AuditRecord {
                    id,
                    principal,
                    rpc,
                    parameters,
                    call_time: Some(acx_runtime::time::to_timestamp(time)),
                    outcome,
                };
                (record, id)
            });
        page.take(records, count);
    }
    let (records, next) = page.finish();
    let next_page_token =
        next.map_or_else(String::new, |last| tokens.issue(&scope, &(up_to, last)));
    Ok(ListAuditRecordsResponse {
        records,
        next_page_token,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_cannot_pass_for_other_parameters_nor_hide_characters() {
        assert_eq!(value("USLAX"), "USLAX");
        assert_eq!(value(""), "");
        assert_eq!(
            value("USLAX importer=US-IMP-4711"),
            "\"USLAX importer=US-IMP-4711\""
        );
        assert_eq!(value("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(value("Zürich 中"), "\"Zürich 中\"");
        assert_eq!(
            printable(&value("shipments/\u{202e}txt.exe")),
            "\"shipments/\\u{202e}txt.exe\""
        );
        assert_eq!(printable("a\u{2028}b\u{0}"), "a\\u{2028}b\\u{0}");
        assert_eq!(
            printable("Cafe\u{301}"),
            "Cafe\u{301}",
            "accents stay as sent"
        );
    }

    #[test]
    fn names_codes_as_grpc_does() {
        assert_eq!(code_name(Code::Ok), "OK");
        assert_eq!(code_name(Code::NotFound), "NOT_FOUND");
        assert_eq!(code_name(Code::InvalidArgument), "INVALID_ARGUMENT");
    }
}
