//! Limits on waiting for a PostgreSQL server that has vanished without closing its
//! connections: its node lost, or the pod behind a Kubernetes service gone, so packets to it
//! are dropped and nothing answers or resets. A statement in flight then waits for an answer
//! that never comes, for good: sqlx 0.9 sets no TCP keepalive on its connections
//! (transact-rs/sqlx#3540). Callers' deadlines end the calls they make; these end the rest.

use std::{
    future::Future,
    sync::{
        OnceLock,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use sqlx::{Connection, PgConnection};

/// The longest a task that no caller's deadline bounds (following the history or ingest's
/// feed, the outbox, the audit writer, a feed or bulk load that streams) waits for one
/// statement or short transaction before giving it up as lost and trying again on another
/// connection. Long enough for a busy server (a short statement that takes this long is a
/// fault anyway), short enough that a replica stranded this way catches up within seconds
/// of it.
pub const STATEMENT_LIMIT: Duration = Duration::from_secs(15);

/// How long a PostgreSQL connection given back to the pool may take to show it is ready
/// for the next statement, when it may have been cut off mid-statement (see [`CutOff`]).
/// sqlx checks each connection given back with a round trip of its own that has no limit,
/// in a task of its own: a call cut off while its statement was in flight on a vanished
/// server (its caller's deadline passed) kept its connection out of the pool for good, and
/// 16 such calls left a service with none.
pub(super) const RELEASE_CHECK: Duration = Duration::from_secs(5);

/// How long after a cut-off connections given back are checked within [`RELEASE_CHECK`]:
/// the connection of a cut-off statement is given back at once, so this only needs to
/// outlast a busy scheduler.
const CUT_OFF_WINDOW: Duration = Duration::from_secs(60);

/// When database work was last cut off, in milliseconds since [`epoch`] (0: never).
static LAST_CUT_OFF_MS: AtomicU64 = AtomicU64::new(0);

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// Notes that database work is being dropped, possibly in the middle of a statement.
/// Call it before the work is dropped, so that the check of its connection sees it.
pub fn note_cut_off() {
    let now = epoch().elapsed().as_millis().max(1) as u64;
    LAST_CUT_OFF_MS.store(now, Ordering::SeqCst);
}

fn recently_cut_off() -> bool {
    let last = LAST_CUT_OFF_MS.load(Ordering::SeqCst);
    last != 0 && epoch().elapsed().as_millis() as u64 <= last + CUT_OFF_WINDOW.as_millis() as u64
}

/// A guard for work that may be dropped before it finishes (a call served, which its
/// caller's deadline or disconnection ends): dropped before [`CutOff::finished`], it notes
/// a cut-off ([`note_cut_off`]). Declare it after the work it guards, so that it is dropped
/// first.
#[derive(Debug)]
pub struct CutOff(bool);

impl CutOff {
    /// Armed: dropping it notes a cut-off.
    pub fn armed() -> Self {
        Self(true)
    }

    /// The work finished: dropping it notes nothing.
    pub fn finished(&mut self) {
        self.0 = false;
    }
}

impl Drop for CutOff {
    fn drop(&mut self) {
        if self.0 {
            note_cut_off();
        }
    }
}

/// Runs `statement`, a database call of a task no caller's deadline bounds, for at most
/// [`STATEMENT_LIMIT`]. Past it the call is dropped (its connection is closed unless it
/// shows it is ready, [`ready_on_release`]) and the error is an I/O `TimedOut`, which
/// [`crate::error::is_database_unreachable`] counts as the database out of reach. Only for
/// calls that can be given up: a transaction not committed is rolled back, and a write
/// that may have committed is one its task tries again idempotently.
pub async fn bounded<T, E: From<sqlx::Error>>(
    statement: impl Future<Output = Result<T, E>>,
) -> Result<T, E> {
    bounded_by(STATEMENT_LIMIT, statement).await
}

/// [`bounded`] with a limit of its own, for a statement known to take longer (a snapshot).
pub async fn bounded_by<T, E: From<sqlx::Error>>(
    limit: Duration,
    statement: impl Future<Output = Result<T, E>>,
) -> Result<T, E> {
    let mut statement = std::pin::pin!(statement);
    match tokio::time::timeout(limit, statement.as_mut()).await {
        Ok(result) => result,
        Err(_) => {
            // Before the statement is dropped (at the end of this function).
            note_cut_off();
            Err(E::from(sqlx::Error::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("the database did not answer within {} s", limit.as_secs()),
            ))))
        }
    }
}

/// The pool's check of a connection given back (`after_release`). Shortly after a cut-off,
/// ready within [`RELEASE_CHECK`] or closed instead of kept (false); otherwise left to
/// sqlx's own check, so a pool with nothing cut off pays no extra round trip (one per
/// statement cost a fifth of the outcome writes in `acx-replica-bench`).
pub(super) async fn ready_on_release(connection: &mut PgConnection) -> Result<bool, sqlx::Error> {
    if !recently_cut_off() {
        return Ok(true);
    }
    match tokio::time::timeout(RELEASE_CHECK, connection.ping()).await {
        Ok(answer) => answer.map(|()| true),
        Err(_) => {
            tracing::warn!(
                wait_s = RELEASE_CHECK.as_secs(),
                "a database connection given back did not answer: closed"
            );
            Ok(false)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_statement_past_its_limit_is_the_database_out_of_reach_and_a_cut_off() {
        let unanswered = std::future::pending::<Result<(), sqlx::Error>>();
        let error = bounded_by(Duration::from_millis(10), unanswered)
            .await
            .expect_err("never answered");
        assert!(crate::error::is_database_unreachable(&error), "{error:?}");
        assert!(recently_cut_off());
    }

    #[test]
    fn a_guard_dropped_before_its_work_finished_notes_a_cut_off() {
        // Other tests of this process may note cut-offs: compare stamps, not the flag.
        let before = LAST_CUT_OFF_MS.load(Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(5));
        drop(CutOff::armed());
        assert!(LAST_CUT_OFF_MS.load(Ordering::SeqCst) > before);
    }
}
