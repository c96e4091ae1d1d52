//! Ingest's storage on either backend. A batch is written in one transaction with
//! multi-row statements (SQLite: multi-row INSERT; PostgreSQL: binary COPY for batches of
//! [`COPY_MIN_ROWS`] or more, INSERT ... SELECT FROM UNNEST below), never one round trip
//! per row. Writers are serialised (SQLite's write lock,
//! taken at BEGIN IMMEDIATE; a PostgreSQL advisory lock), so sequence numbers become
//! visible in order and a feed reader never skips one.

use std::collections::HashMap;

use acx_runtime::{Database, WriteLock, WriteTx, on_backend, on_tx};
use sqlx::{PgConnection, Postgres, QueryBuilder, Sqlite};

use crate::prepare::Prepared;

/// Rows per multi-row INSERT on SQLite (7 parameters each, well under its 32766 limit).
const SQLITE_ROWS_PER_INSERT: usize = 1000;
/// Smallest PostgreSQL batch written with COPY: below it the statements around COPY (a
/// savepoint, since it has no ON CONFLICT, and a run of sequences reserved, since it has no
/// RETURNING) cost more than the single UNNEST statement.
pub const COPY_MIN_ROWS: usize = 64;
/// Ids per lookup statement.
const IDS_PER_LOOKUP: usize = 1000;
/// Advisory lock key serialising feed writers on PostgreSQL.
const FEED_WRITE_LOCK: WriteLock = WriteLock(0x0AC5_0001);

/// A report already stored under an id.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Existing {
    /// Its id.
    pub report_id: String,
    /// Its feed position.
    pub sequence: i64,
    /// Its keyed content hash.
    pub content_hash: Vec<u8>,
    /// The key of that hash.
    pub key_id: String,
    /// Its kind (`ReportKind`).
    pub kind: i32,
    /// The retraction that withdrew it, if any.
    pub retracted_by: Option<String>,
}

/// A stored report as read back.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredRow {
    /// Feed position.
    pub sequence: i64,
    /// Submitting platform.
    pub platform: String,
    /// Receive time, microseconds since the epoch.
    pub receive_time_us: i64,
    /// Encoded stored form (`acx.ingest.v1.Report`).
    pub payload: Vec<u8>,
    /// The `traceparent` of the call that stored it, if it was traced.
    pub trace_context: Option<String>,
}

/// Filters of a listing.
#[derive(Debug, Clone, Copy)]
pub struct ListFilter {
    /// `ReportKind` value, 0 for all.
    pub kind: i32,
    /// Inclusive lower bound of the receive time (µs).
    pub start_us: i64,
    /// Exclusive upper bound of the receive time (µs).
    pub end_us: i64,
}

/// A batch's write transaction: the shared [`WriteTx`] holding the feed's writer lock
/// (SQLite's write lock; on PostgreSQL the feed advisory lock), with ingest's statements.
#[derive(Debug)]
pub struct BatchTx(WriteTx);

/// Starts a batch: takes the writer lock first, so that the existence checks and the
/// inserts see one consistent state.
pub async fn begin_write(database: &Database) -> Result<BatchTx, sqlx::Error> {
    Ok(BatchTx(database.begin_write(Some(FEED_WRITE_LOCK)).await?))
}

impl BatchTx {
    /// The reports `platform` already stored under any of `ids`.
    pub async fn existing(
        &mut self,
        platform: &str,
        ids: &[&str],
    ) -> Result<HashMap<String, Existing>, sqlx::Error> {
        let rows: Vec<Existing> = self
            .by_ids(
                "report_id, sequence, content_hash, key_id, kind, retracted_by",
                platform,
                ids,
            )
            .await?;
        Ok(rows
            .into_iter()
            .map(|row| (row.report_id.clone(), row))
            .collect())
    }

    /// The stored forms (encoded `Report`s) of the reports `platform` stored under `ids`, by
    /// id. Read only for retries whose content hash differs from the stored one, to read the
    /// stored report again by today's rules; a plain retry reads no payload.
    pub async fn payloads(
        &mut self,
        platform: &str,
        ids: &[&str],
    ) -> Result<HashMap<String, Vec<u8>>, sqlx::Error> {
        let rows: Vec<(String, Vec<u8>)> = self.by_ids("report_id, payload", platform, ids).await?;
        Ok(rows.into_iter().collect())
    }

    /// `columns` of the reports `platform` stored under any of `ids`, [`IDS_PER_LOOKUP`] ids
    /// a statement.
    async fn by_ids<T>(
        &mut self,
        columns: &str,
        platform: &str,
        ids: &[&str],
    ) -> Result<Vec<T>, sqlx::Error>
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
            + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
            + Send
            + Unpin,
    {
        let select = format!("SELECT {columns} FROM reports WHERE platform = ");
        let mut found = Vec::new();
        for chunk in ids.chunks(IDS_PER_LOOKUP) {
            let rows: Vec<T> = match &mut self.0 {
                WriteTx::Sqlite(tx) => {
                    let mut query = QueryBuilder::<Sqlite>::new(&select);
                    query.push_bind(platform).push(" AND report_id IN (");
                    let mut list = query.separated(", ");
                    for id in chunk {
                        list.push_bind(*id);
                    }
                    query.push(")");
                    query.build_query_as().fetch_all(&mut **tx).await?
                }
                WriteTx::Postgres(tx) => {
                    let ids: Vec<&str> = chunk.to_vec();
                    let mut query = QueryBuilder::<Postgres>::new(&select);
                    query
                        .push_bind(platform)
                        .push(" AND report_id = ANY(")
                        .push_bind(ids)
                        .push(")");
                    query.build_query_as().fetch_all(&mut **tx).await?
                }
            };
            found.extend(rows);
        }
        Ok(found)
    }

    /// Which of `ids` `platform` already used: one index-only probe per id on PostgreSQL
    /// (the unique index on platform and report id), reading nothing else.
    async fn taken_ids(
        &mut self,
        platform: &str,
        ids: &[&str],
    ) -> Result<std::collections::HashSet<String>, sqlx::Error> {
        let WriteTx::Postgres(tx) = &mut self.0 else {
            let found = self.existing(platform, ids).await?;
            return Ok(found.into_keys().collect());
        };
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT report_id FROM reports WHERE platform = $1 AND report_id = ANY($2)",
        )
        .bind(platform)
        .bind(ids)
        .fetch_all(&mut **tx)
        .await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    /// Inserts `reports` in order, skipping any whose id the platform already used (they
    /// are classified afterwards, so a fresh load pays for no lookup); returns the sequence
    /// of each report inserted, by id.
    pub async fn insert_new(
        &mut self,
        platform: &str,
        reports: &[&Prepared],
        receive_time_us: i64,
        trace_context: Option<&str>,
    ) -> Result<HashMap<String, i64>, sqlx::Error> {
        let mut by_id: HashMap<String, i64> = HashMap::with_capacity(reports.len());
        match &mut self.0 {
            WriteTx::Sqlite(tx) => {
                for chunk in reports.chunks(SQLITE_ROWS_PER_INSERT) {
                    let mut query = QueryBuilder::<Sqlite>::new(
                        "INSERT INTO reports (platform, report_id, kind, content_hash, key_id, payload, receive_time_us, trace_context) ",
                    );
                    query.push_values(chunk, |mut row, report| {
                        row.push_bind(platform)
                            .push_bind(report.report_id.as_str())
                            .push_bind(report.kind as i32)
                            .push_bind(report.content_hash.as_slice())
                            .push_bind(report.key_id.as_str())
                            .push_bind(report.payload.as_slice())
                            .push_bind(receive_time_us)
                            .push_bind(trace_context);
                    });
                    query.push(" ON CONFLICT (platform, report_id) DO NOTHING RETURNING report_id, sequence");
                    let rows: Vec<(String, i64)> =
                        query.build_query_as().fetch_all(&mut **tx).await?;
                    by_id.extend(rows);
                }
            }
            WriteTx::Postgres(tx) if reports.len() >= COPY_MIN_ROWS => {
                // COPY has no ON CONFLICT or RETURNING. A load of new ids (the usual case)
                // is copied at once under a savepoint; if an id is taken (a retry) the COPY
                // fails on the unique index, the savepoint is rolled back, and the rest is
                // copied after looking the taken ids up. The run of sequences reserved for
                // the failed attempt is skipped: the feed's sequences increase, with gaps.
                let mut attempt = sqlx::Acquire::begin(&mut **tx).await?;
                match copy_numbered(
                    &mut attempt,
                    platform,
                    reports,
                    receive_time_us,
                    trace_context,
                )
                .await
                {
                    Ok(first) => {
                        attempt.commit().await?;
                        return Ok(numbered(reports, first));
                    }
                    Err(sqlx::Error::Database(error)) if error.is_unique_violation() => {
                        attempt.rollback().await?;
                    }
                    Err(error) => return Err(error),
                }
                let ids: Vec<&str> = reports.iter().map(|r| r.report_id.as_str()).collect();
                let taken = self.taken_ids(platform, &ids).await?;
                let fresh: Vec<&Prepared> = reports
                    .iter()
                    .copied()
                    .filter(|r| !taken.contains(r.report_id.as_str()))
                    .collect();
                if fresh.is_empty() {
                    return Ok(by_id);
                }
                let WriteTx::Postgres(tx) = &mut self.0 else {
                    unreachable!("matched above")
                };
                let first =
                    copy_numbered(tx, platform, &fresh, receive_time_us, trace_context).await?;
                by_id.extend(numbered(&fresh, first));
            }
            WriteTx::Postgres(tx) => {
                let ids: Vec<&str> = reports.iter().map(|r| r.report_id.as_str()).collect();
                let kinds: Vec<i32> = reports.iter().map(|r| r.kind as i32).collect();
                let hashes: Vec<&[u8]> =
                    reports.iter().map(|r| r.content_hash.as_slice()).collect();
                let keys: Vec<&str> = reports.iter().map(|r| r.key_id.as_str()).collect();
                let payloads: Vec<&[u8]> = reports.iter().map(|r| r.payload.as_slice()).collect();
                let rows: Vec<(String, i64)> = sqlx::query_as(
                    "INSERT INTO reports (platform, report_id, kind, content_hash, key_id, payload, receive_time_us, trace_context) \
                     SELECT $1, r.report_id, r.kind, r.content_hash, r.key_id, r.payload, $2, $8 \
                     FROM UNNEST($3::text[], $4::int4[], $5::bytea[], $6::text[], $7::bytea[]) \
                          WITH ORDINALITY AS r(report_id, kind, content_hash, key_id, payload, position) \
                     ORDER BY r.position \
                     ON CONFLICT (platform, report_id) DO NOTHING \
                     RETURNING report_id, sequence",
                )
                .bind(platform)
                .bind(receive_time_us)
                .bind(ids)
                .bind(kinds)
                .bind(hashes)
                .bind(keys)
                .bind(payloads)
                .bind(trace_context)
                .fetch_all(&mut **tx)
                .await?;
                by_id.extend(rows);
            }
        }
        Ok(by_id)
    }

    /// Records that `retraction_id` withdrew `report_id`.
    pub async fn mark_retracted(
        &mut self,
        platform: &str,
        report_id: &str,
        retraction_id: &str,
    ) -> Result<(), sqlx::Error> {
        const UPDATE: &str =
            "UPDATE reports SET retracted_by = $1 WHERE platform = $2 AND report_id = $3";
        on_tx!(&mut self.0, conn => sqlx::query(UPDATE)
            .bind(retraction_id)
            .bind(platform)
            .bind(report_id)
            .execute(conn)
            .await?);
        Ok(())
    }

    /// Makes the batch durable and visible.
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.0.commit().await
    }
}

/// Copies `reports` numbered from a run of sequences reserved for them (writers hold the
/// lock, so the run is theirs and follows every sequence already visible); returns the
/// run's first sequence.
async fn copy_numbered(
    connection: &mut PgConnection,
    platform: &str,
    reports: &[&Prepared],
    receive_time_us: i64,
    trace_context: Option<&str>,
) -> Result<i64, sqlx::Error> {
    let (last,): (i64,) = sqlx::query_as(
        "SELECT setval(pg_get_serial_sequence('reports', 'sequence'), \
         nextval(pg_get_serial_sequence('reports', 'sequence')) + $1 - 1)",
    )
    .bind(reports.len() as i64)
    .fetch_one(&mut *connection)
    .await?;
    let first = last - reports.len() as i64 + 1;
    copy_rows(
        connection,
        platform,
        reports,
        Some(first),
        receive_time_us,
        trace_context,
    )
    .await?;
    Ok(first)
}

/// Each report's id with its sequence, numbered from `first` in order.
fn numbered(reports: &[&Prepared], first: i64) -> HashMap<String, i64> {
    reports
        .iter()
        .zip(first..)
        .map(|(report, sequence)| (report.report_id.clone(), sequence))
        .collect()
}

/// Appends one field of PostgreSQL's binary COPY format: its length, then its bytes.
fn copy_field(buffer: &mut Vec<u8>, bytes: &[u8]) {
    buffer.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
    buffer.extend_from_slice(bytes);
}

/// Writes `reports` (ids not taken) with one binary COPY, in order: numbered from
/// `first_sequence` on (a run the caller reserved), or without it by the column's own
/// identity sequence (the raw baseline of the ingest benchmark).
pub async fn copy_rows(
    connection: &mut PgConnection,
    platform: &str,
    reports: &[&Prepared],
    first_sequence: Option<i64>,
    receive_time_us: i64,
    trace_context: Option<&str>,
) -> Result<(), sqlx::Error> {
    if reports.is_empty() {
        return Ok(());
    }
    // Header: signature, flags, extension length; then per row the field count and each
    // field; then the trailer.
    let mut buffer = Vec::with_capacity(64 + reports.len() * 600);
    buffer.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
    buffer.extend_from_slice(&0_i32.to_be_bytes());
    buffer.extend_from_slice(&0_i32.to_be_bytes());
    for (position, report) in reports.iter().enumerate() {
        match first_sequence {
            Some(first) => {
                buffer.extend_from_slice(&9_i16.to_be_bytes());
                copy_field(&mut buffer, &(first + position as i64).to_be_bytes());
            }
            None => buffer.extend_from_slice(&8_i16.to_be_bytes()),
        }
        copy_field(&mut buffer, platform.as_bytes());
        copy_field(&mut buffer, report.report_id.as_bytes());
        copy_field(&mut buffer, &(report.kind as i32).to_be_bytes());
        copy_field(&mut buffer, &report.content_hash);
        copy_field(&mut buffer, report.key_id.as_bytes());
        copy_field(&mut buffer, &report.payload);
        copy_field(&mut buffer, &receive_time_us.to_be_bytes());
        match trace_context {
            Some(context) => copy_field(&mut buffer, context.as_bytes()),
            // A NULL field is length -1 with no bytes.
            None => buffer.extend_from_slice(&(-1_i32).to_be_bytes()),
        }
    }
    buffer.extend_from_slice(&(-1_i16).to_be_bytes());
    const COLUMNS: &str =
        "platform, report_id, kind, content_hash, key_id, payload, receive_time_us, trace_context";
    let sequence = if first_sequence.is_some() {
        "sequence, "
    } else {
        ""
    };
    let mut copy = connection
        .copy_in_raw(&format!(
            "COPY reports ({sequence}{COLUMNS}) FROM STDIN WITH (FORMAT binary)"
        ))
        .await?;
    copy.send(buffer).await?;
    copy.finish().await?;
    Ok(())
}

const STORED_COLUMNS: &str =
    "SELECT sequence, platform, receive_time_us, payload, trace_context FROM reports ";

/// One report of `platform`.
pub async fn get(
    database: &Database,
    platform: &str,
    report_id: &str,
) -> Result<Option<StoredRow>, sqlx::Error> {
    let sql = sqlx::AssertSqlSafe(format!(
        "{STORED_COLUMNS}WHERE platform = $1 AND report_id = $2"
    ));
    on_backend!(database, pool => sqlx::query_as(sql).bind(platform).bind(report_id).fetch_optional(pool).await)
}

/// Up to `limit` reports of `platform` matching `filter` after sequence `after` and up to
/// `up_to`, oldest first.
pub async fn list(
    database: &Database,
    platform: &str,
    filter: ListFilter,
    after: i64,
    up_to: i64,
    limit: usize,
) -> Result<Vec<StoredRow>, sqlx::Error> {
    let sql = sqlx::AssertSqlSafe(format!(
        "{STORED_COLUMNS}WHERE platform = $1 AND sequence > $2 AND sequence <= $3 \
         AND ($4 = 0 OR kind = $4) AND receive_time_us >= $5 AND receive_time_us < $6 \
         ORDER BY sequence LIMIT $7"
    ));
    on_backend!(database, pool => sqlx::query_as(sql)
        .bind(platform)
        .bind(after)
        .bind(up_to)
        .bind(filter.kind)
        .bind(filter.start_us)
        .bind(filter.end_us)
        .bind(limit as i64)
        .fetch_all(pool)
        .await)
}

/// Up to `limit` reports of every platform after sequence `after`, in feed order.
pub async fn changes(
    database: &Database,
    after: i64,
    limit: i64,
) -> Result<Vec<StoredRow>, sqlx::Error> {
    let sql = sqlx::AssertSqlSafe(format!(
        "{STORED_COLUMNS}WHERE sequence > $1 ORDER BY sequence LIMIT $2"
    ));
    on_backend!(database, pool => sqlx::query_as(sql).bind(after).bind(limit).fetch_all(pool).await)
}

/// The highest sequence stored, 0 when empty.
pub async fn head(database: &Database) -> Result<i64, sqlx::Error> {
    const SQL: &str = "SELECT COALESCE(MAX(sequence), 0) FROM reports";
    let (head,): (i64,) = on_backend!(database, pool => sqlx::query_as(SQL).fetch_one(pool).await?);
    Ok(head)
}
