//! Liaison's listings: declaration searches, alerts and audit records, read on either
//! backend.

use super::{DeclarationRow, JOINED, ROWS_PER_STATEMENT, SELECTED};
use acx_runtime::{Database, on_backend};
use std::collections::HashMap;

/// `query` with `args` bound in order (on either backend's query type).
macro_rules! with_args {
    ($query:expr, $args:expr) => {{
        let mut query = $query;
        for arg in $args {
            query = match arg {
                Arg::Int(v) => query.bind(*v),
                Arg::Real(v) => query.bind(*v),
                Arg::Text(v) => query.bind(v.clone()),
            };
        }
        query
    }};
}

/// A search filter value, bound in order.
#[derive(Debug, Clone)]
pub enum Arg {
    /// An integer.
    Int(i64),
    /// A real number.
    Real(f64),
    /// A text.
    Text(String),
}

/// Where a search's first page stands: the newest declaration stored (of any authority)
/// and the number of `authority`'s newest assessment (0 when none).
pub async fn search_snapshot(
    database: &Database,
    authority: &str,
) -> Result<(i64, i64), sqlx::Error> {
    const SQL: &str = "SELECT (SELECT COALESCE(MAX(seq), 0) FROM declarations), \
                       (SELECT COALESCE(MAX(assessed_seq), 0) FROM declarations WHERE authority = $1)";
    on_backend!(database, pool => sqlx::query_as(SQL).bind(authority).fetch_one(pool).await)
}

/// The risk and lane each of `declaration_ids` (of `authority`) had when the authority's
/// newest assessment was number `up_to`: from its newest assessment numbered at most
/// `up_to`; absent when it was still pending then.
pub async fn assessed_as_of(
    database: &Database,
    authority: &str,
    declaration_ids: &[&str],
    up_to: i64,
) -> Result<HashMap<String, (f64, i32)>, sqlx::Error> {
    let mut found: HashMap<String, (i64, i64, f64, i32)> = HashMap::new();
    for chunk in declaration_ids.chunks(ROWS_PER_STATEMENT) {
        let placeholders: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 3)).collect();
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT declaration_id, COALESCE(assessed_seq, 0), seq, risk, lane FROM assessment_history \
             WHERE authority = $1 AND COALESCE(assessed_seq, 0) <= $2 AND declaration_id IN ({})",
            placeholders.join(", ")
        ));
        let rows: Vec<(String, i64, i64, f64, i32)> = on_backend!(database, pool => {
            let mut query = sqlx::query_as(sql).bind(authority).bind(up_to);
            for id in chunk {
                query = query.bind(*id);
            }
            query.fetch_all(pool).await?
        });
        for (id, assessed_seq, seq, risk, lane) in rows {
            let newer = found
                .get(&id)
                .is_none_or(|(a, s, _, _)| (assessed_seq, seq) > (*a, *s));
            if newer {
                found.insert(id, (assessed_seq, seq, risk, lane));
            }
        }
    }
    Ok(found
        .into_iter()
        .map(|(id, (_, _, risk, lane))| (id, (risk, lane)))
        .collect())
}

/// A declaration found by a search, with its place in the orders.
#[derive(Debug, sqlx::FromRow)]
pub struct SearchRow {
    /// Its position in arrival order.
    pub seq: i64,
    /// Its risk, once assessed.
    pub risk: Option<f64>,
    /// Its declaration time, µs.
    pub declaration_time_us: i64,
    /// The declaration.
    #[sqlx(flatten)]
    pub row: DeclarationRow,
}

/// Declarations matching a search: `conditions` use `$n` placeholders numbered from 1 in
/// the order of `args`; `order` is the ORDER BY clause.
pub async fn search(
    database: &Database,
    conditions: &[String],
    args: &[Arg],
    order: &str,
    limit: usize,
) -> Result<Vec<SearchRow>, sqlx::Error> {
    let sql = format!(
        "SELECT d.seq, d.risk, d.declaration_time_us, {SELECTED} FROM {JOINED} WHERE {} ORDER BY {order} LIMIT {limit}",
        conditions.join(" AND ")
    );
    let sql = sqlx::AssertSqlSafe(sql);
    on_backend!(database, pool => {
        with_args!(sqlx::query_as(sql), args).fetch_all(pool).await
    })
}

/// How many declarations match `conditions` (numbered as [`search`]'s; they name only the
/// declaration's own columns).
pub async fn search_count(
    database: &Database,
    conditions: &[String],
    args: &[Arg],
) -> Result<i64, sqlx::Error> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM declarations d WHERE {}",
        conditions.join(" AND ")
    ));
    let (count,): (i64,) = on_backend!(database, pool => {
        with_args!(sqlx::query_as(sql), args).fetch_one(pool).await?
    });
    Ok(count)
}

/// An alert as stored: its cursor, the lane and risk that raised it (None for alerts stored
/// before they were kept), and its shipment now.
#[derive(sqlx::FromRow)]
pub struct AlertRow {
    /// The alert's cursor.
    pub seq: i64,
    /// The lane of the assessment that raised it.
    pub raised_lane: Option<i32>,
    /// The risk of the assessment that raised it.
    pub raised_risk: Option<f64>,
    /// The shipment.
    #[sqlx(flatten)]
    pub row: DeclarationRow,
}

/// Alerts of `authority` after `cursor`, oldest first.
pub async fn alerts_after(
    database: &Database,
    authority: &str,
    cursor: i64,
    limit: i64,
) -> Result<Vec<AlertRow>, sqlx::Error> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT a.cursor AS seq, a.lane AS raised_lane, a.risk AS raised_risk, {SELECTED} FROM alerts a \
         JOIN declarations d ON d.authority = a.authority AND d.declaration_id = a.declaration_id \
         LEFT JOIN inspection_results r ON r.authority = d.authority AND r.declaration_id = d.declaration_id \
         WHERE a.authority = $1 AND a.cursor > $2 ORDER BY a.cursor LIMIT $3"
    ));
    Ok(on_backend!(database, pool =>
        sqlx::query_as(sql).bind(authority).bind(cursor).bind(limit).fetch_all(pool).await?))
}

/// The newest audit record's id, 0 when none.
pub async fn audit_head(database: &Database) -> Result<i64, sqlx::Error> {
    const SQL: &str = "SELECT COALESCE(MAX(id), 0) FROM audit_log";
    let (head,): (i64,) = on_backend!(database, pool => sqlx::query_as(SQL).fetch_one(pool).await?);
    Ok(head)
}

/// Filters of an audit listing.
#[derive(Debug, Clone)]
pub struct AuditFilter {
    /// Only this principal; all when empty.
    pub principal: String,
    /// Only this RPC; all when empty.
    pub rpc: String,
    /// Calls at or after this time, µs.
    pub start_us: i64,
    /// Calls before this time, µs.
    pub end_us: i64,
    /// Records up to this id (the newest at the listing's first page).
    pub up_to: i64,
}

/// An audit record: id, call time (µs), principal, RPC, parameters, outcome.
pub type AuditRow = (i64, i64, String, String, String, String);

/// Audit records matching `filter`, after id `after`, oldest first.
pub async fn audit_records(
    database: &Database,
    filter: &AuditFilter,
    after: i64,
    limit: usize,
) -> Result<Vec<AuditRow>, sqlx::Error> {
    const SQL: &str = "SELECT id, call_time_us, principal, rpc, parameters, outcome FROM audit_log \
                       WHERE id > $1 AND id <= $2 AND ($3 = '' OR principal = $3) AND ($4 = '' OR rpc = $4) \
                       AND call_time_us >= $5 AND call_time_us < $6 ORDER BY id LIMIT $7";
    on_backend!(database, pool => sqlx::query_as(SQL)
        .bind(after)
        .bind(filter.up_to)
        .bind(&filter.principal)
        .bind(&filter.rpc)
        .bind(filter.start_us)
        .bind(filter.end_us)
        .bind(limit as i64)
        .fetch_all(pool)
        .await)
}
