//! Liaison's declarations and inspection results, on either backend.

use acx_proto::{liaison::InspectionResult, scoring::ShipmentAssessment};
use acx_runtime::{Database, on_backend};
use prost::Message;

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
}

const COLUMNS: &str = "SELECT authority, declaration_id, content_hash, payload, state, assessment, receive_time_us FROM declarations ";

/// Stores a new declaration as pending; false when the id is taken (nothing written).
pub async fn insert(
    database: &Database,
    authority: &str,
    declaration_id: &str,
    content_hash: &[u8],
    payload: &[u8],
    receive_time_us: i64,
) -> Result<bool, sqlx::Error> {
    const SQL: &str = "INSERT INTO declarations (authority, declaration_id, content_hash, payload, state, receive_time_us) \
                       VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (authority, declaration_id) DO NOTHING";
    let result = on_backend!(database, pool => sqlx::query(SQL)
        .bind(authority)
        .bind(declaration_id)
        .bind(content_hash)
        .bind(payload)
        .bind(PENDING)
        .bind(receive_time_us)
        .execute(pool)
        .await?
        .rows_affected());
    Ok(result == 1)
}

/// One declaration of `authority`.
pub async fn get(
    database: &Database,
    authority: &str,
    declaration_id: &str,
) -> Result<Option<DeclarationRow>, sqlx::Error> {
    let sql = sqlx::AssertSqlSafe(format!(
        "{COLUMNS}WHERE authority = $1 AND declaration_id = $2"
    ));
    on_backend!(database, pool => sqlx::query_as(sql).bind(authority).bind(declaration_id).fetch_optional(pool).await)
}

/// Up to `limit` declarations still waiting for their assessment, oldest first.
pub async fn pending(database: &Database, limit: i64) -> Result<Vec<DeclarationRow>, sqlx::Error> {
    let sql = sqlx::AssertSqlSafe(format!("{COLUMNS}WHERE state = $1 ORDER BY seq LIMIT $2"));
    on_backend!(database, pool => sqlx::query_as(sql).bind(PENDING).bind(limit).fetch_all(pool).await)
}

/// Stores the assessment of a declaration.
pub async fn set_assessment(
    database: &Database,
    authority: &str,
    declaration_id: &str,
    assessment: &ShipmentAssessment,
) -> Result<(), sqlx::Error> {
    const SQL: &str = "UPDATE declarations SET state = $1, assessment = $2, risk = $3, lane = $4 \
                       WHERE authority = $5 AND declaration_id = $6";
    on_backend!(database, pool => sqlx::query(SQL)
        .bind(ASSESSED)
        .bind(assessment.encode_to_vec())
        .bind(assessment.risk)
        .bind(assessment.lane)
        .bind(authority)
        .bind(declaration_id)
        .execute(pool)
        .await
        .map(drop))
}

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
