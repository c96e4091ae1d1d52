//! Liaison's declarations and inspection results, on either backend.

use acx_proto::{
    liaison::{Declaration, InspectionResult},
    scoring::ShipmentAssessment,
};
use acx_runtime::{Database, WriteLock, on_backend, on_tx, time::now_micros};
use prost::Message;
use std::sync::LazyLock;

mod listings;
pub use listings::*;

/// Assessment states as stored.
pub const PENDING: i32 = 1;
/// Assessed by scoring.
pub const ASSESSED: i32 = 2;

/// A stored declaration.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeclarationRow {
    /// The declaring authority.
    pub authority: String,
    /// Its id.
    pub declaration_id: String,
    /// SHA-256 of the declaration.
    pub content_hash: Vec<u8>,
    /// The encoded declaration.
    pub payload: Vec<u8>,
    /// PENDING or ASSESSED.
    pub state: i32,
    /// The encoded assessment, once assessed.
    pub assessment: Option<Vec<u8>>,
    /// When it was received, µs.
    pub receive_time_us: i64,
    /// Its encoded inspection result, if any (one query serves the whole shipment).
    pub result_payload: Option<Vec<u8>>,
    /// Whether scoring acknowledged that result (1) or not yet (0).
    pub result_forwarded: Option<i32>,
}

/// A declaration with its inspection result; `d` is the declaration, `r` the result.
const SELECTED: &str = "d.authority, d.declaration_id, d.content_hash, d.payload, d.state, d.assessment, \
                        d.receive_time_us, r.payload AS result_payload, r.forwarded AS result_forwarded";
const JOINED: &str = "declarations d LEFT JOIN inspection_results r \
                      ON r.authority = d.authority AND r.declaration_id = d.declaration_id";

/// A declaration to store, with the fields searches filter on.
#[derive(Debug)]
pub struct NewDeclaration<'a> {
    /// The declaring authority.
    pub authority: &'a str,
    /// The declaration as submitted (canonical form).
    pub declaration: &'a Declaration,
    /// SHA-256 of `payload`.
    pub content_hash: &'a [u8],
    /// The encoded declaration.
    pub payload: &'a [u8],
    /// When it arrived, µs.
    pub receive_time_us: i64,
}

/// Stores new declarations as pending, all in one transaction (a batch is stored whole or
/// not at all): one flag each, false when its id was taken (by a stored declaration or by
/// an earlier one of the same batch; nothing written for it).
pub async fn insert(
    database: &Database,
    declarations: &[NewDeclaration<'_>],
) -> Result<Vec<bool>, sqlx::Error> {
    const HEAD: &str = "INSERT INTO declarations (authority, declaration_id, content_hash, payload, state, \
                        customs_office, importer_id, seller_platform, seller_id, hs_codes, declaration_time_us, \
                        receive_time_us) VALUES ";
    const TAIL: &str =
        " ON CONFLICT (authority, declaration_id) DO NOTHING RETURNING authority, declaration_id";
    // Only the first of a batch's declarations with one id is offered: which copy a
    // multi-row insert keeps is not defined.
    let mut offered: Vec<usize> = Vec::with_capacity(declarations.len());
    let mut seen = std::collections::HashSet::with_capacity(declarations.len());
    for (i, new) in declarations.iter().enumerate() {
        if seen.insert((new.authority, new.declaration.declaration_id.as_str())) {
            offered.push(i);
        }
    }
    // Inserted in key order, so two batches sharing ids take their row locks in one order
    // and never wait for each other in a cycle (found by a tester: on PostgreSQL, the same
    // 500 declarations sent at once in two orders deadlocked).
    offered.sort_by(|&a, &b| {
        let key = |i: usize| {
            (
                declarations[i].authority,
                &declarations[i].declaration.declaration_id,
            )
        };
        key(a).cmp(&key(b))
    });
    let mut inserted = std::collections::HashSet::with_capacity(offered.len());
    let mut tx = database.begin_write(None).await?;
    for chunk in offered.chunks(ROWS_PER_STATEMENT) {
        let sql = tx.rows_statement(HEAD, 0, chunk.len(), 12, TAIL);
        let stored: Vec<(String, String)>;
        on_tx!(&mut tx, conn => {
            let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()));
            for &i in chunk {
                let new = &declarations[i];
                let declaration = new.declaration;
                let (seller_platform, seller_id) = declaration
                    .seller
                    .as_ref()
                    .map(|s| (s.platform.as_str(), s.seller_id.as_str()))
                    .unzip();
                query = query
                    .bind(new.authority)
                    .bind(&declaration.declaration_id)
                    .bind(new.content_hash)
                    .bind(new.payload)
                    .bind(PENDING)
                    .bind(&declaration.customs_office)
                    .bind(&declaration.importer_id)
                    .bind(seller_platform)
                    .bind(seller_id)
                    .bind(hs_codes(declaration))
                    .bind(declared_us(declaration))
                    .bind(new.receive_time_us);
            }
            stored = query.fetch_all(conn).await?;
        });
        inserted.extend(stored);
    }
    tx.commit().await?;
    let mut flags = vec![false; declarations.len()];
    for i in offered {
        let new = &declarations[i];
        flags[i] = inserted.contains(&(
            new.authority.to_owned(),
            new.declaration.declaration_id.clone(),
        ));
    }
    Ok(flags)
}

/// A declaration's HS codes as searches match them: space-separated, with a space at both
/// ends (` 6403 8517 `).
fn hs_codes(declaration: &Declaration) -> String {
    let mut codes = String::from(" ");
    for line in &declaration.lines {
        codes.push_str(&line.hs_code);
        codes.push(' ');
    }
    codes
}

/// A declaration's time in µs since the epoch (0 when unset).
fn declared_us(declaration: &Declaration) -> i64 {
    declaration.declaration_time.as_ref().map_or(0, |t| {
        t.seconds
            .saturating_mul(1_000_000)
            .saturating_add(i64::from(t.nanos / 1_000))
    })
}

/// One declaration, by authority ($1) and declaration id ($2); built once, because the
/// shipment reader looks its cached statement up by this text on every batch.
static GET_ONE: LazyLock<String> = LazyLock::new(|| {
    format!("SELECT {SELECTED} FROM {JOINED} WHERE d.authority = $1 AND d.declaration_id = $2")
});

/// One declaration of `authority`.
pub async fn get(
    database: &Database,
    authority: &str,
    declaration_id: &str,
) -> Result<Option<DeclarationRow>, sqlx::Error> {
    let sql = sqlx::AssertSqlSafe(GET_ONE.as_str());
    on_backend!(database, pool => sqlx::query_as(sql).bind(authority).bind(declaration_id).fetch_optional(pool).await)
}

/// The declarations named by `keys` (authority, declaration id) that exist, read on a
/// SQLite connection of the caller's own: one cached statement, run for each key within one
/// read transaction (one snapshot; no round trips to save here, so no statement per batch
/// size either).
pub fn get_each(
    connection: &rusqlite::Connection,
    keys: &[(String, String)],
) -> Result<Vec<DeclarationRow>, rusqlite::Error> {
    let snapshot = connection.unchecked_transaction()?;
    let mut statement = snapshot.prepare_cached(&GET_ONE)?;
    let mut rows = Vec::with_capacity(keys.len());
    for (authority, declaration_id) in keys {
        let mut found = statement.query([authority, declaration_id])?;
        if let Some(row) = found.next()? {
            rows.push(DeclarationRow {
                authority: row.get("authority")?,
                declaration_id: row.get("declaration_id")?,
                content_hash: row.get("content_hash")?,
                payload: row.get("payload")?,
                state: row.get("state")?,
                assessment: row.get("assessment")?,
                receive_time_us: row.get("receive_time_us")?,
                result_payload: row.get("result_payload")?,
                result_forwarded: row.get("result_forwarded")?,
            });
        }
    }
    drop(statement);
    snapshot.commit()?;
    Ok(rows)
}

/// The declarations named by `keys` (authority, declaration id) in one query; the ones
/// that exist, in no particular order.
pub async fn get_many(
    database: &Database,
    keys: &[(String, String)],
) -> Result<Vec<DeclarationRow>, sqlx::Error> {
    let mut authorities: Vec<&str> = keys.iter().map(|(a, _)| a.as_str()).collect();
    authorities.sort_unstable();
    authorities.dedup();
    let ids: Vec<&str> = keys.iter().map(|(_, id)| id.as_str()).collect();
    // Both lists as IN constraints: the unique (authority, declaration_id) index serves
    // every pair; a row of another authority with a requested id is dropped by the caller.
    let placeholders = |from: usize, count: usize| {
        (from..from + count)
            .map(|n| format!("${n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let sql = sqlx::AssertSqlSafe(database.fit(format!(
        "SELECT {SELECTED} FROM {JOINED} WHERE d.authority IN ({}) AND d.declaration_id IN ({})",
        placeholders(1, authorities.len()),
        placeholders(1 + authorities.len(), ids.len())
    )));
    on_backend!(database, pool => {
        let mut query = sqlx::query_as(sql);
        for value in authorities.iter().chain(&ids) {
            query = query.bind(*value);
        }
        query.fetch_all(pool).await
    })
}

/// Up to `limit` declarations still waiting for their assessment, oldest first.
pub async fn pending(database: &Database, limit: i64) -> Result<Vec<DeclarationRow>, sqlx::Error> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {SELECTED} FROM {JOINED} WHERE d.state = $1 ORDER BY d.seq LIMIT $2"
    ));
    on_backend!(database, pool => sqlx::query_as(sql).bind(PENDING).bind(limit).fetch_all(pool).await)
}

/// What an assessment write does to its declaration.
#[derive(Debug, Clone, Copy)]
pub enum AssessmentWrite<'a> {
    /// A pending declaration's first assessment: it becomes assessed and takes the
    /// authority's next `assessed_seq` (writers are serialised, so the numbers are unique
    /// and become visible in order). Only the first counts: a concurrent one finds it
    /// assessed and writes nothing.
    Arrival,
    /// An assessed declaration's new assessment, for this cause; it takes the authority's
    /// next `assessed_seq` as an arrival does.
    Reassessment(&'a str),
}

/// An assessment to store: of which declaration, and whether it raises an alert.
#[derive(Debug, Clone, Copy)]
pub struct AssessmentRecord<'a> {
    pub authority: &'a str,
    pub declaration_id: &'a str,
    pub assessment: &'a ShipmentAssessment,
    pub alert: bool,
}

/// Stores assessments as `write` says and, for each declaration that changed, appends it
/// to its history and (with `alert`) raises an alert: all in one transaction, so a batch
/// of arrivals costs one commit; alert writers are serialised so alert cursors become
/// visible in order.
pub async fn write_assessments(
    database: &Database,
    records: &[AssessmentRecord<'_>],
    write: AssessmentWrite<'_>,
) -> Result<(), sqlx::Error> {
    let (before, cause) = match write {
        AssessmentWrite::Arrival => (PENDING, "assessed on arrival"),
        AssessmentWrite::Reassessment(cause) => (ASSESSED, cause),
    };
    if records.is_empty() {
        return Ok(());
    }
    let mut tx = database.begin_write(Some(ALERT_WRITE_LOCK)).await?;
    // The write lock is held: the declarations found in state `before` are the ones the
    // update changes (each once, the first record of it).
    let mut changing: Vec<&AssessmentRecord<'_>> = Vec::with_capacity(records.len());
    for chunk in records.chunks(ROWS_PER_STATEMENT) {
        // A join, not `(authority, declaration_id) IN (VALUES ...)`, which SQLite plans as
        // a scan of every declaration in state `before` (110 ms a batch of 100 among 190,000
        // assessed ones, for every batch of a re-assessment; 0.1 ms as a join). The state
        // is the last parameter, so all are numbered in order.
        let sql = tx.rows_statement(
            "SELECT d.authority, d.declaration_id FROM (VALUES ",
            0,
            chunk.len(),
            2,
            &format!(
                ") AS v JOIN declarations d \
                 ON d.authority = v.column1 AND d.declaration_id = v.column2 \
                 WHERE d.state = ${}",
                chunk.len() * 2 + 1
            ),
        );
        let found: Vec<(String, String)>;
        on_tx!(&mut tx, conn => {
            let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()));
            for record in chunk {
                query = query.bind(record.authority).bind(record.declaration_id);
            }
            found = query.bind(before).fetch_all(conn).await?;
        });
        for record in chunk {
            let key = (record.authority, record.declaration_id);
            let first = !changing
                .iter()
                .any(|c| (c.authority, c.declaration_id) == key);
            if first && found.iter().any(|(a, d)| (a.as_str(), d.as_str()) == key) {
                changing.push(record);
            }
        }
    }
    if changing.is_empty() {
        return tx.commit().await;
    }
    // Assessments take their authority's next `assessed_seq`s, in order.
    let mut next_seq: Vec<(&str, i64)> = Vec::new();
    let mut seqs = Vec::with_capacity(changing.len());
    for record in &changing {
        let at = match next_seq.iter().position(|(a, _)| *a == record.authority) {
            Some(at) => at,
            None => {
                let (max,): (i64,);
                on_tx!(&mut tx, conn => {
                    (max,) = sqlx::query_as(
                        "SELECT COALESCE(MAX(assessed_seq), 0) FROM declarations WHERE authority = $1",
                    )
                    .bind(record.authority)
                    .fetch_one(conn)
                    .await?;
                });
                next_seq.push((record.authority, max));
                next_seq.len() - 1
            }
        };
        next_seq[at].1 += 1;
        seqs.push(next_seq[at].1);
    }
    let now = now_micros();
    for (rows, seqs) in changing
        .chunks(ROWS_PER_STATEMENT)
        .zip(seqs.chunks(ROWS_PER_STATEMENT))
    {
        // VALUES columns are column1.. on both backends: authority, declaration id,
        // assessment, risk, lane, assessed_seq.
        // A re-assessment takes a new number too: a search started before it reads the
        // shipment as it stood then, from the history (search.rs).
        let update = tx.rows_statement(
            "UPDATE declarations SET state = $1, assessment = v.column3, risk = v.column4, \
             lane = v.column5, assessed_seq = v.column6 FROM (VALUES ",
            1,
            rows.len(),
            6,
            ") AS v WHERE declarations.authority = v.column1 \
             AND declarations.declaration_id = v.column2",
        );
        on_tx!(&mut tx, conn => {
            let mut query = sqlx::query(sqlx::AssertSqlSafe(update.as_str())).bind(ASSESSED);
            for (record, seq) in rows.iter().zip(seqs) {
                let assessment = record.assessment;
                query = query
                    .bind(record.authority).bind(record.declaration_id)
                    .bind(assessment.encode_to_vec()).bind(assessment.risk)
                    .bind(assessment.lane).bind(*seq);
            }
            query.execute(conn).await?;
        });
        let history = tx.rows_statement(
            "INSERT INTO assessment_history \
             (authority, declaration_id, assess_time_us, model_version, risk, lane, cause, assessed_seq) VALUES ",
            0,
            rows.len(),
            8,
            "",
        );
        on_tx!(&mut tx, conn => {
            let mut query = sqlx::query(sqlx::AssertSqlSafe(history.as_str()));
            for (record, seq) in rows.iter().zip(seqs) {
                let assessment = record.assessment;
                query = query
                    .bind(record.authority).bind(record.declaration_id).bind(now)
                    .bind(&assessment.model_version).bind(assessment.risk)
                    .bind(assessment.lane).bind(cause).bind(*seq);
            }
            query.execute(conn).await?;
        });
        let alerts: Vec<_> = rows.iter().filter(|r| r.alert).collect();
        if !alerts.is_empty() {
            let sql = tx.rows_statement(
                "INSERT INTO alerts (authority, declaration_id, lane, risk) VALUES ",
                0,
                alerts.len(),
                4,
                "",
            );
            on_tx!(&mut tx, conn => {
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
                for record in &alerts {
                    query = query.bind(record.authority).bind(record.declaration_id)
                        .bind(record.assessment.lane).bind(record.assessment.risk);
                }
                query.execute(conn).await?;
            });
        }
    }
    tx.commit().await
}

/// Rows per multi-row statement of an assessment batch (at most 8 parameters a row).
const ROWS_PER_STATEMENT: usize = 100;

const ALERT_WRITE_LOCK: WriteLock = WriteLock(0x0AC5_0003);

/// Stores an inspection result in the outbox; false when the declaration has one already.
pub async fn insert_result(
    database: &Database,
    authority: &str,
    declaration_id: &str,
    result: &InspectionResult,
) -> Result<bool, sqlx::Error> {
    const SQL: &str = "INSERT INTO inspection_results (authority, declaration_id, payload, forwarded, attempts) \
                       VALUES ($1, $2, $3, 0, 0) ON CONFLICT (authority, declaration_id) DO NOTHING";
    let inserted = on_backend!(database, pool => sqlx::query(SQL)
        .bind(authority)
        .bind(declaration_id)
        .bind(result.encode_to_vec())
        .execute(pool)
        .await?
        .rows_affected());
    Ok(inserted == 1)
}

/// The inspection result of a declaration, with whether scoring acknowledged it.
pub async fn result(
    database: &Database,
    authority: &str,
    declaration_id: &str,
) -> Result<Option<InspectionResult>, crate::Error> {
    const SQL: &str = "SELECT payload, forwarded FROM inspection_results WHERE authority = $1 AND declaration_id = $2";
    let row: Option<(Vec<u8>, i32)> = on_backend!(database, pool =>
        sqlx::query_as(SQL).bind(authority).bind(declaration_id).fetch_optional(pool).await?);
    row.map(|(payload, forwarded)| {
        let mut result = InspectionResult::decode(payload.as_slice())?;
        result.forwarded = forwarded == 1;
        Ok(result)
    })
    .transpose()
}

/// Up to `limit` results scoring has not acknowledged yet: (authority, id, result).
pub async fn unforwarded(
    database: &Database,
    limit: i64,
) -> Result<Vec<(String, String, InspectionResult)>, crate::Error> {
    const SQL: &str = "SELECT authority, declaration_id, payload FROM inspection_results WHERE forwarded = 0 \
                       ORDER BY attempts LIMIT $1";
    let rows: Vec<(String, String, Vec<u8>)> =
        on_backend!(database, pool => sqlx::query_as(SQL).bind(limit).fetch_all(pool).await?);
    rows.into_iter()
        .map(|(authority, id, payload)| {
            Ok((authority, id, InspectionResult::decode(payload.as_slice())?))
        })
        .collect()
}

/// Marks a result acknowledged by scoring, or counts a failed attempt.
pub async fn mark_forwarded(
    database: &Database,
    authority: &str,
    declaration_id: &str,
    forwarded: bool,
) -> Result<(), sqlx::Error> {
    const SQL: &str = "UPDATE inspection_results SET forwarded = $1, attempts = attempts + 1 \
                       WHERE authority = $2 AND declaration_id = $3";
    on_backend!(database, pool => sqlx::query(SQL)
        .bind(i32::from(forwarded))
        .bind(authority)
        .bind(declaration_id)
        .execute(pool)
        .await
        .map(drop))
}
