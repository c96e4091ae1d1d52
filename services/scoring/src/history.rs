//! Scoring's history: every input scoring learns from, as one durable, ordered log in its
//! database (table `history`), which every replica applies in order ([`crate::follower`]).
//!
//! ## Entries
//! Each entry is one [`Entry`]: a kind number (column `kind`) and a protobuf payload.
//! - [`FeedBatch`] (1): reports taken from ingest's feed, appended by the one replica that
//!   holds the `feed` lease. The append drops reports at or below the highest ingest
//!   sequence already in the history (`feed_cursor`, moved in the same transaction), so a
//!   report is never appended twice, even while a lease changes hands.
//! - [`DeclarationEntry`] (2): a recorded assessment, unique per (authority, declaration
//!   id) through the `declarations` table written in the same transaction.
//! - [`OutcomeEntry`] (3): an inspection outcome, unique per declaration through the
//!   `inspection_outcomes` table; it carries its declaration, so applying it reads nothing.
//! - [`ModelTrainedEntry`] (4): a targeting model version trained by the replica holding
//!   the `trainer` lease; a promoted one becomes the champion on every replica (its trees
//!   are read from `targeting_models`, immutable once written, before it is applied).
//! - [`LanePolicyEntry`] (5): an authority's lane policy.
//!
//! An entry carries every input its application needs (the seller a declaration was
//! attributed to, its anomaly strength), and applying it never reads the wall clock: the
//! "as of" time is the entry's `append_time_us`. So every replica computes the same state.
//!
//! Adding a kind: a payload message below, a
//! variant of [`Entry`] with a new kind number, an `append_*` function, and an arm in
//! `State::apply` ([`crate::state`]). Kind numbers are never reused.
//!
//! ## Order
//! Appends are serialised, so that position order is commit order: a follower reading
//! `position > applied` never later sees a smaller position commit. On PostgreSQL each
//! append transaction first takes a transaction-scoped advisory lock and then uses
//! `max(position) + 1`; it also notifies [`CHANNEL`] so followers wake at once. On SQLite
//! the transaction begins IMMEDIATE (one writer at a time).

use std::collections::HashMap;

use acx_proto::{
    common::SellerAccountRef,
    ingest::Report,
    scoring::{DeclaredShipment, RecordOutcomeRequest, ShipmentAssessment},
};
use acx_runtime::{
    Database, WriteLock, WriteTx, db::rows_statement, on_backend, on_tx, time::now_micros,
};
use prost::Message;
use sha2::{Digest, Sha256};

use crate::{Error, targeting::lanes::Selections};

/// PostgreSQL NOTIFY channel of appends.
pub const CHANNEL: &str = "acx_scoring_history";

/// Advisory lock key that serialises appends on PostgreSQL ("ACXHIST").
pub(crate) const APPEND_LOCK: WriteLock = WriteLock(0x0041_4358_4849_5354);

/// One report taken from ingest's feed.
#[derive(Clone, PartialEq, Message)]
pub struct FeedReport {
    /// Its ingest sequence.
    #[prost(int64, tag = "1")]
    pub sequence: i64,
    /// The reporting platform.
    #[prost(string, tag = "2")]
    pub platform: String,
    /// The report (hashed identifiers only).
    #[prost(message, optional, tag = "3")]
    pub report: Option<Report>,
    /// The W3C `traceparent` of the report's submission (empty if none), so the span
    /// applying it links to that trace.
    #[prost(string, tag = "4")]
    pub traceparent: String,
}

/// Reports taken from ingest's feed, in feed order.
#[derive(Clone, PartialEq, Message)]
pub struct FeedBatch {
    /// The reports.
    #[prost(message, repeated, tag = "1")]
    pub reports: Vec<FeedReport>,
}

/// A recorded declaration: it joins the comparable statistics, and its value anomaly
/// weighs on the seller it was attributed to.
#[derive(Clone, PartialEq, Message)]
pub struct DeclarationEntry {
    /// The declaration as recorded (its declaration time set).
    #[prost(message, optional, tag = "1")]
    pub shipment: Option<DeclaredShipment>,
    /// The seller behind it when it was assessed (matched notice, else as declared).
    #[prost(message, optional, tag = "2")]
    pub seller: Option<SellerAccountRef>,
    /// Strength of its strongest value anomaly, 0 to 1.
    #[prost(double, tag = "3")]
    pub anomaly: f64,
    /// The seller's risk when it was assessed (a feature of the targeting model, as known
    /// then).
    #[prost(double, optional, tag = "4")]
    pub seller_risk: Option<f64>,
    /// Whether that seller was on the blacklist then.
    #[prost(bool, tag = "5")]
    pub seller_listed: bool,
    /// The targeting model's score of it (none in cold start): the lanes' thresholds
    /// follow recent scores ([`crate::targeting::lanes`]).
    #[prost(double, optional, tag = "6")]
    pub score: Option<f64>,
    /// Whether it went RED other than at random: the lanes count the inspections of the
    /// RED share their window spent (entries written before say false).
    #[prost(bool, tag = "7")]
    pub red: bool,
}

/// A trained targeting model version (stored in `targeting_models` before this entry is
/// appended, by the one replica holding the `trainer` lease).
#[derive(Clone, PartialEq, Message)]
pub struct ModelTrainedEntry {
    /// Its version number (`targeting-N`).
    #[prost(int64, tag = "1")]
    pub version: i64,
    /// Whether it was promoted to champion: every replica then loads its trees.
    #[prost(bool, tag = "2")]
    pub promoted: bool,
    /// Outcomes recorded when it was trained (the next training is due after more).
    #[prost(uint64, tag = "3")]
    pub recorded_outcomes: u64,
    /// Its scores of the backtest declarations, which seed the lane thresholds when it is
    /// promoted.
    #[prost(double, repeated, tag = "4")]
    pub backtest_scores: Vec<f64>,
}

/// A lane policy set by an authority.
#[derive(Clone, PartialEq, Message)]
pub struct LanePolicyEntry {
    /// The policy.
    #[prost(message, optional, tag = "1")]
    pub policy: Option<acx_proto::scoring::LanePolicy>,
}

/// An inspection outcome of a recorded declaration.
#[derive(Clone, PartialEq, Message)]
pub struct OutcomeEntry {
    /// The outcome as reported.
    #[prost(message, optional, tag = "1")]
    pub outcome: Option<RecordOutcomeRequest>,
    /// The declaration it is about, as recorded.
    #[prost(message, optional, tag = "2")]
    pub shipment: Option<DeclaredShipment>,
    /// The seller behind the declaration when the outcome was recorded.
    #[prost(message, optional, tag = "3")]
    pub seller: Option<SellerAccountRef>,
}

/// One entry of the history.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    /// Reports from ingest's feed.
    Feed(FeedBatch),
    /// A recorded declaration.
    Declaration(DeclarationEntry),
    /// An inspection outcome.
    Outcome(OutcomeEntry),
    /// A trained targeting model version.
    ModelTrained(ModelTrainedEntry),
    /// A lane policy.
    LanePolicy(LanePolicyEntry),
}

impl Entry {
    /// Its kind number (column `kind`).
    pub fn kind(&self) -> i16 {
        match self {
            Self::Feed(_) => 1,
            Self::Declaration(_) => 2,
            Self::Outcome(_) => 3,
            Self::ModelTrained(_) => 4,
            Self::LanePolicy(_) => 5,
        }
    }

    /// How many inputs it holds (column `records`).
    fn records(&self) -> i32 {
        match self {
            Self::Feed(batch) => batch.reports.len() as i32,
            _ => 1,
        }
    }

    fn encode(&self) -> Vec<u8> {
        match self {
            Self::Feed(batch) => batch.encode_to_vec(),
            Self::Declaration(entry) => entry.encode_to_vec(),
            Self::Outcome(entry) => entry.encode_to_vec(),
            Self::ModelTrained(entry) => entry.encode_to_vec(),
            Self::LanePolicy(entry) => entry.encode_to_vec(),
        }
    }

    /// Decodes a stored entry; an unknown kind is an error (a newer replica wrote it).
    pub fn decode(kind: i16, payload: &[u8]) -> Result<Self, Error> {
        Ok(match kind {
            1 => Self::Feed(FeedBatch::decode(payload)?),
            2 => Self::Declaration(DeclarationEntry::decode(payload)?),
            3 => Self::Outcome(OutcomeEntry::decode(payload)?),
            4 => Self::ModelTrained(ModelTrainedEntry::decode(payload)?),
            5 => Self::LanePolicy(LanePolicyEntry::decode(payload)?),
            other => return Err(Error::UnknownEntry(other)),
        })
    }
}

/// A stored entry with its place and time.
#[derive(Debug, Clone)]
pub struct Stored {
    /// Its position (1, 2, ...).
    pub position: i64,
    /// When it was appended, µs since the epoch: the "as of" time of its application.
    pub append_time_us: i64,
    /// The entry.
    pub entry: Entry,
}

/// Begins an append by a replica whose shared settings' fingerprint is `settings`: takes
/// the append lock and returns the next position. Fails with [`Error::SettingsReplaced`]
/// (its differences unknown here) when the recorded settings are others: an adoption takes
/// the append lock too, so nothing computed with replaced settings is appended after it.
async fn begin_append(database: &Database, settings: &[u8]) -> Result<(WriteTx, i64), Error> {
    const HEAD: &str = "SELECT (SELECT COALESCE(MAX(position), 0) FROM history), \
                        (SELECT settings_fingerprint FROM effects_cursor WHERE id = 1)";
    let mut tx = database.begin_write(Some(APPEND_LOCK)).await?;
    let (head, recorded): (i64, Option<Vec<u8>>);
    on_tx!(&mut tx, conn => {
        (head, recorded) = sqlx::query_as(HEAD).fetch_one(conn).await?;
    });
    if recorded.as_deref() != Some(settings) {
        tx.rollback().await?;
        return Err(Error::SettingsReplaced(crate::settings::Differences(
            Vec::new(),
        )));
    }
    Ok((tx, head + 1))
}

/// The insert of history entries, before its rows: (position, kind, records, payload,
/// append time) each.
const HISTORY_INSERT: &str =
    "INSERT INTO history (position, kind, records, payload, append_time_us) VALUES ";

/// Writes `entry` at `position` appended at `time_us` (in an append transaction).
pub(crate) async fn insert_at(
    tx: &mut WriteTx,
    position: i64,
    entry: &Entry,
    time_us: i64,
) -> Result<(), sqlx::Error> {
    let sql = tx.rows_statement(HISTORY_INSERT, 0, 1, 5, "");
    on_tx!(&mut *tx, conn => sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(position).bind(entry.kind()).bind(entry.records()).bind(entry.encode())
        .bind(time_us).execute(conn).await?);
    Ok(())
}

/// Writes `entry` at `position` (in the append transaction) and notifies followers.
async fn insert(tx: &mut WriteTx, position: i64, entry: &Entry) -> Result<(), sqlx::Error> {
    insert_at(tx, position, entry, now_micros()).await?;
    if let WriteTx::Postgres(tx) = tx {
        notify(tx, position).await?;
    }
    Ok(())
}

/// Tells followers the history reaches `position` (on commit).
async fn notify(
    tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
    position: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(position.to_string())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The highest ingest sequence appended to the history, 0 when none.
pub async fn feed_cursor(database: &Database) -> Result<i64, sqlx::Error> {
    const SQL: &str = "SELECT sequence FROM feed_cursor WHERE id = 1";
    let (sequence,): (i64,) =
        on_backend!(database, pool => sqlx::query_as(SQL).fetch_one(pool).await?);
    Ok(sequence)
}

/// Appends the reports of `batch` above the feed cursor as one entry; returns its
/// position, or None when every report was appended before.
pub async fn append_feed(
    database: &Database,
    batch: FeedBatch,
    settings: &[u8],
) -> Result<Option<i64>, Error> {
    let (mut tx, position) = begin_append(database, settings).await?;
    let cursor: i64;
    on_tx!(&mut tx, conn => {
        let (sequence,): (i64,) = sqlx::query_as("SELECT sequence FROM feed_cursor WHERE id = 1")
            .fetch_one(conn).await?;
        cursor = sequence;
    });
    let mut reports = batch.reports;
    reports.retain(|r| r.sequence > cursor);
    reports.sort_by_key(|r| r.sequence);
    reports.dedup_by_key(|r| r.sequence);
    let Some(last) = reports.last().map(|r| r.sequence) else {
        tx.rollback().await?;
        return Ok(None);
    };
    insert(&mut tx, position, &Entry::Feed(FeedBatch { reports })).await?;
    on_tx!(&mut tx, conn => sqlx::query("UPDATE feed_cursor SET sequence = $1 WHERE id = 1")
        .bind(last).execute(conn).await?);
    tx.commit().await?;
    Ok(Some(position))
}

/// What became of a declaration sent for recording.
#[derive(Debug)]
pub enum Recorded {
    /// Appended at this position.
    Appended(i64),
    /// Recorded before, with the same content: its position and stored assessment.
    Before(i64, Box<ShipmentAssessment>),
    /// Recorded before with other content.
    Conflict,
}

/// A declaration to record: its entry, the hash of its content as sent, and the
/// assessment its caller is answered.
#[derive(Debug)]
pub struct NewDeclaration {
    /// The entry to append.
    pub entry: DeclarationEntry,
    /// SHA-256 of the declaration as sent (canonical form).
    pub content_hash: Vec<u8>,
    /// The assessment answered.
    pub assessment: ShipmentAssessment,
}

/// Rows per multi-row statement of a declaration batch (at most 6 parameters a row).
const ROWS_PER_STATEMENT: usize = 100;

/// Appends one entry per declaration not recorded before, all in one transaction; says
/// for each what became of it. A batch costs a handful of statements whatever its size (a
/// look-up of the ids recorded before, then multi-row inserts of the claims and of the
/// entries, one notification), not two per declaration: the append lock is held, so what
/// the look-up finds cannot change before the inserts.
pub async fn append_declarations(
    database: &Database,
    declarations: &[NewDeclaration],
    settings: &[u8],
) -> Result<Vec<Recorded>, Error> {
    let (mut tx, first) = begin_append(database, settings).await?;
    let shipments: Vec<DeclaredShipment> = declarations
        .iter()
        .map(|new| new.entry.shipment.clone().unwrap_or_default())
        .collect();
    let mut before = recorded_among(&mut tx, &shipments).await?;
    // One recorded under an older canonical form is the same declaration if it is now.
    for (new, shipment) in declarations.iter().zip(&shipments) {
        let key = (
            shipment.authority.as_str(),
            shipment.declaration_id.as_str(),
        );
        if let Some((_, hash, _)) = before.get_mut(&key)
            && *hash != new.content_hash
            && recanonical_hash(&mut tx, key).await?.as_ref() == Some(&new.content_hash)
        {
            new.content_hash.clone_into(hash);
        }
    }
    // Claimed in this batch: a declaration sent twice in one batch is the first one's.
    let mut claimed: HashMap<(&str, &str), (i64, &NewDeclaration)> = HashMap::new();
    let mut appended: Vec<(i64, &NewDeclaration, &DeclaredShipment)> = Vec::new();
    let mut results = Vec::with_capacity(declarations.len());
    let mut position = first;
    for (new, shipment) in declarations.iter().zip(&shipments) {
        let key = (
            shipment.authority.as_str(),
            shipment.declaration_id.as_str(),
        );
        let earlier = match (before.get(&key), claimed.get(&key)) {
            (Some((at, hash, stored)), _) => Some((
                *at,
                hash == &new.content_hash,
                ShipmentAssessment::decode(stored.as_slice())?,
            )),
            (None, Some((at, first))) => Some((
                *at,
                first.content_hash == new.content_hash,
                first.assessment.clone(),
            )),
            (None, None) => None,
        };
        results.push(match earlier {
            Some((at, true, stored)) => Recorded::Before(at, Box::new(stored)),
            Some((_, false, _)) => Recorded::Conflict,
            None => {
                claimed.insert(key, (position, new));
                appended.push((position, new, shipment));
                position += 1;
                Recorded::Appended(position - 1)
            }
        });
    }
    let time_us = now_micros();
    for rows in appended.chunks(ROWS_PER_STATEMENT) {
        let claims = tx.rows_statement(
            "INSERT INTO declarations (authority, declaration_id, position, content_hash, shipment, assessment) VALUES ",
            0,
            rows.len(),
            6,
            "",
        );
        on_tx!(&mut tx, conn => {
            let mut query = sqlx::query(sqlx::AssertSqlSafe(claims.as_str()));
            for (at, new, shipment) in rows {
                query = query
                    .bind(&shipment.authority).bind(&shipment.declaration_id).bind(*at)
                    .bind(&new.content_hash).bind(shipment.encode_to_vec())
                    .bind(new.assessment.encode_to_vec());
            }
            query.execute(conn).await?;
        });
        let entries = tx.rows_statement(HISTORY_INSERT, 0, rows.len(), 5, "");
        on_tx!(&mut tx, conn => {
            let mut query = sqlx::query(sqlx::AssertSqlSafe(entries.as_str()));
            for (at, new, _) in rows {
                let entry = Entry::Declaration(new.entry.clone());
                query = query
                    .bind(*at).bind(entry.kind()).bind(entry.records()).bind(entry.encode())
                    .bind(time_us);
            }
            query.execute(conn).await?;
        });
    }
    if let (Some((last, _, _)), WriteTx::Postgres(conn)) = (appended.last(), &mut tx) {
        notify(conn, *last).await?;
    }
    tx.commit().await?;
    Ok(results)
}

/// A declaration recorded before, as stored.
#[derive(sqlx::FromRow)]
struct RecordedRow {
    authority: String,
    declaration_id: String,
    position: i64,
    content_hash: Vec<u8>,
    assessment: Vec<u8>,
}

/// The end of a look-up of declarations by a `VALUES` list of (authority, declaration id):
/// each key found through the primary key. SQLite plans `(authority, declaration_id) IN
/// (VALUES ...)` as a scan of every recorded declaration (47 ms a batch of 100 among
/// 200,000, growing with the history); a join looks each up (0.2 ms). A key listed twice
/// gives its row twice.
const KEYS_JOIN: &str = ") AS v JOIN declarations d \
                         ON d.authority = v.column1 AND d.declaration_id = v.column2";

/// Of `shipments`, those recorded before: (authority, declaration id) → (position, content
/// hash, stored assessment).
async fn recorded_among<'a>(
    tx: &mut WriteTx,
    shipments: &'a [DeclaredShipment],
) -> Result<HashMap<(&'a str, &'a str), (i64, Vec<u8>, Vec<u8>)>, sqlx::Error> {
    let mut found = HashMap::new();
    for chunk in shipments.chunks(ROWS_PER_STATEMENT) {
        // A join, not `(authority, declaration_id) IN (VALUES ...)`: SQLite reads every
        // recorded declaration for that (see [`KEYS_JOIN`]).
        let sql = tx.rows_statement(
            "SELECT d.authority, d.declaration_id, d.position, d.content_hash, d.assessment \
             FROM (VALUES ",
            0,
            chunk.len(),
            2,
            KEYS_JOIN,
        );
        let rows: Vec<RecordedRow>;
        on_tx!(&mut *tx, conn => {
            let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()));
            for shipment in chunk {
                query = query.bind(&shipment.authority).bind(&shipment.declaration_id);
            }
            rows = query.fetch_all(conn).await?;
        });
        for row in rows {
            if let Some(shipment) = chunk
                .iter()
                .find(|s| s.authority == row.authority && s.declaration_id == row.declaration_id)
            {
                found.insert(
                    (
                        shipment.authority.as_str(),
                        shipment.declaration_id.as_str(),
                    ),
                    (row.position, row.content_hash, row.assessment),
                );
            }
        }
    }
    Ok(found)
}

/// SHA-256 of a declaration as checked and canonicalised ([`crate::requests`]), before its
/// time is stamped: what tells a retry from another declaration under the same id.
pub fn content_hash(shipment: &DeclaredShipment) -> Vec<u8> {
    Sha256::digest(shipment.encode_to_vec()).to_vec()
}

/// The content hash of a recorded declaration put in today's canonical form: for one
/// recorded before its canonical form last changed (consignment numbers, quantity units and
/// descriptions were once kept as sent), so that its retry is still the same declaration.
/// Read only when the stored hash differs, which a retry rarely does. The stored one carries
/// the time it was stamped with, so a retry without a time (which scoring stamps) of one
/// recorded before still differs.
async fn recanonical_hash(
    tx: &mut WriteTx,
    (authority, declaration_id): (&str, &str),
) -> Result<Option<Vec<u8>>, Error> {
    const SQL: &str =
        "SELECT shipment FROM declarations WHERE authority = $1 AND declaration_id = $2";
    let row: Option<(Vec<u8>,)>;
    on_tx!(&mut *tx, conn => {
        row = sqlx::query_as(SQL).bind(authority).bind(declaration_id).fetch_optional(conn).await?;
    });
    let Some((bytes,)) = row else {
        return Ok(None);
    };
    let mut stored = DeclaredShipment::decode(bytes.as_slice())?;
    // Only its form matters here, not whether today's rules accept it.
    let _ = crate::requests::validate_shipment(&mut stored);
    Ok(Some(content_hash(&stored)))
}

/// A recorded declaration as recorded, if any.
pub async fn declaration(
    database: &Database,
    authority: &str,
    declaration_id: &str,
) -> Result<Option<DeclaredShipment>, Error> {
    const SQL: &str =
        "SELECT shipment FROM declarations WHERE authority = $1 AND declaration_id = $2";
    let row: Option<(Vec<u8>,)> = on_backend!(database, pool => sqlx::query_as(SQL)
        .bind(authority).bind(declaration_id).fetch_optional(pool).await?);
    row.map(|(bytes,)| DeclaredShipment::decode(bytes.as_slice()).map_err(Error::from))
        .transpose()
}

/// Which of `shipments` were recorded, as (authority, declaration id), with the selections
/// their first assessment made (a re-assessment keeps them): one query per
/// [`ROWS_PER_STATEMENT`] declarations.
pub async fn recorded_selections(
    database: &Database,
    shipments: &[DeclaredShipment],
) -> Result<HashMap<(String, String), Selections>, Error> {
    let mut found = HashMap::new();
    for chunk in shipments.chunks(ROWS_PER_STATEMENT) {
        let sql = database.fit(rows_statement(
            "SELECT d.authority, d.declaration_id, d.assessment FROM (VALUES ",
            0,
            chunk.len(),
            2,
            KEYS_JOIN,
        ));
        let rows: Vec<(String, String, Vec<u8>)> = on_backend!(database, pool => {
            let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()));
            for shipment in chunk {
                query = query.bind(&shipment.authority).bind(&shipment.declaration_id);
            }
            query.fetch_all(pool).await?
        });
        for (authority, declaration_id, assessment) in rows {
            let first = ShipmentAssessment::decode(assessment.as_slice())?;
            let selections = Selections {
                random: first.random_selection,
                exploration: first.exploration,
            };
            found.insert((authority, declaration_id), selections);
        }
    }
    Ok(found)
}

/// Appends an outcome entry unless this declaration's outcome was recorded before;
/// returns its position, or None (nothing written) when it was.
pub async fn append_outcome(
    database: &Database,
    entry: OutcomeEntry,
    settings: &[u8],
) -> Result<Option<i64>, Error> {
    let outcome = entry.outcome.clone().unwrap_or_default();
    let (mut tx, position) = begin_append(database, settings).await?;
    const CLAIM: &str = "INSERT INTO inspection_outcomes (authority, declaration_id, position) \
                         VALUES ($1, $2, $3) ON CONFLICT (authority, declaration_id) DO NOTHING";
    let claimed: u64;
    on_tx!(&mut tx, conn => {
        claimed = sqlx::query(CLAIM)
            .bind(&outcome.authority).bind(&outcome.declaration_id).bind(position)
            .execute(conn).await?.rows_affected();
    });
    if claimed == 0 {
        tx.rollback().await?;
        return Ok(None);
    }
    insert(&mut tx, position, &Entry::Outcome(entry)).await?;
    tx.commit().await?;
    Ok(Some(position))
}

/// Appends one entry on its own (a trained model version, a lane policy); returns its
/// position.
pub async fn append(database: &Database, entry: &Entry, settings: &[u8]) -> Result<i64, Error> {
    let (mut tx, position) = begin_append(database, settings).await?;
    insert(&mut tx, position, entry).await?;
    tx.commit().await?;
    Ok(position)
}

/// The last position of the history, 0 when it is empty.
pub async fn head(database: &Database) -> Result<i64, sqlx::Error> {
    const SQL: &str = "SELECT COALESCE(MAX(position), 0) FROM history";
    let (head,): (i64,) = on_backend!(database, pool => sqlx::query_as(SQL).fetch_one(pool).await?);
    Ok(head)
}

/// Up to `limit` entries after `after`, in order.
pub async fn read_after(database: &Database, after: i64, limit: i64) -> Result<Vec<Stored>, Error> {
    const SQL: &str = "SELECT position, kind, payload, append_time_us FROM history \
                       WHERE position > $1 ORDER BY position LIMIT $2";
    let rows: Vec<(i64, i16, Vec<u8>, i64)> = on_backend!(database, pool => sqlx::query_as(SQL)
        .bind(after).bind(limit).fetch_all(pool).await?);
    rows.into_iter()
        .map(|(position, kind, payload, append_time_us)| {
            Ok(Stored {
                position,
                append_time_us,
                entry: Entry::decode(kind, &payload)?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// On SQLite each key of a batch is looked up through the primary key: the lookup's
    /// cost stays that of its keys, however many declarations are recorded (the `IN
    /// (VALUES ...)` form it replaced scanned them all).
    #[tokio::test]
    async fn a_batch_of_keys_is_looked_up_not_scanned() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let url = format!("sqlite://{}", dir.path().join("scoring.db").display());
        let database = Database::open(&url, &crate::migrations())
            .await
            .expect("scoring's database opens");
        let sql = database.fit(rows_statement(
            "EXPLAIN QUERY PLAN SELECT d.authority, d.declaration_id FROM (VALUES ",
            0,
            3,
            2,
            KEYS_JOIN,
        ));
        let Database::Sqlite(pool) = &database else {
            unreachable!("a sqlite URL");
        };
        let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()));
        for key in ["a", "1", "a", "2", "b", "1"] {
            query = query.bind(key);
        }
        let plan: Vec<(i64, i64, i64, String)> = query.fetch_all(pool).await.expect("the plan");
        let steps: Vec<&str> = plan.iter().map(|(_, _, _, step)| step.as_str()).collect();
        assert!(
            steps
                .iter()
                .any(|s| s.starts_with("SEARCH d USING") && s.contains("INDEX")),
            "{steps:?}"
        );
        assert!(!steps.iter().any(|s| s.starts_with("SCAN d")), "{steps:?}");
    }
}
