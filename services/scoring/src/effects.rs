//! Stored effects, written exactly once. Applying a history entry changes every replica's
//! memory and may produce effects to store: risks (`seller_risk`), their history
//! (`risk_history`), the blacklist and its change feed (`blacklist`,
//! `blacklist_changes`), cluster merges. They are a deterministic function of the state
//! before the entry and the entry, so any replica may write them; one does.
//!
//! The `effects_cursor` row holds the last position whose effects are stored. A replica
//! that has applied positions `p..=q` locks that row (`SELECT ... FOR UPDATE` on
//! PostgreSQL; the IMMEDIATE transaction on SQLite), reads the cursor `c`, writes the
//! effects of the positions after `c` only, and moves the cursor to `q`, all in one
//! transaction. A second replica blocks on the row until the first commits and then finds
//! those positions written. Because every writer goes through the one row, effects commit
//! in history order, so the blacklist change feed's cursors follow the history and a
//! reader never sees a later change before an earlier one.
//!
//! Why one cursor row rather than a claim per position (the design's first proposal): it
//! gives the order for free (a claim table lets a replica that starts from a snapshot
//! write position 7 before another commits position 6, so `blacklist_changes` cursors
//! could commit out of order and a platform following the feed could skip one), it does
//! not grow, and a gap (effects before `p` missing) is detected instead of silently kept.

use acx_proto::scoring::{BlacklistChange, SellerRiskChange};
use acx_runtime::{Database, WriteTx, on_tx, time::to_timestamp};
use prost::Message;

use crate::model::{Effects, ListingChange};

/// The effects of one applied entry.
#[derive(Debug)]
pub struct Applied {
    /// Its history position.
    pub position: i64,
    /// Its append time: the "as of" time of what it computed.
    pub time_us: i64,
    /// What it changed.
    pub effects: Effects,
}

/// Why effects could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The database failed.
    #[error("database error")]
    Database(#[from] sqlx::Error),
    /// The deployment's shared settings were replaced ([`crate::settings`]): this replica
    /// must not store what it computed with its own.
    #[error("the deployment's shared settings were replaced")]
    SettingsReplaced,
    /// The stored cursor is before the first position given: effects in between are
    /// missing (a replica applied entries whose predecessors' effects nobody wrote).
    #[error("effects cursor at {cursor}, before position {first}")]
    Gap {
        /// The stored cursor.
        cursor: i64,
        /// The first position given.
        first: i64,
    },
}

/// Writes the effects of `applied` (consecutive positions, in order) that are not stored
/// yet, and moves the cursor past them; returns how many entries' effects this call wrote.
/// Writes nothing when the recorded shared settings' fingerprint is not `settings`.
pub async fn write(
    database: &Database,
    applied: &[Applied],
    settings: &[u8],
) -> Result<usize, WriteError> {
    let (Some(first), Some(last)) = (applied.first(), applied.last()) else {
        return Ok(0);
    };
    let mut tx = database.begin_write(None).await?;
    let (cursor, recorded) = lock_cursor(&mut tx).await?;
    if recorded.as_deref() != Some(settings) {
        tx.rollback().await?;
        return Err(WriteError::SettingsReplaced);
    }
    if cursor < first.position - 1 {
        tx.rollback().await?;
        return Err(WriteError::Gap {
            cursor,
            first: first.position,
        });
    }
    if cursor >= last.position {
        tx.rollback().await?;
        return Ok(0);
    }
    let mut written = 0;
    for entry in applied.iter().filter(|a| a.position > cursor) {
        write_one(&mut tx, &entry.effects, entry.time_us).await?;
        written += 1;
    }
    on_tx!(&mut tx, conn => sqlx::query("UPDATE effects_cursor SET position = $1 WHERE id = 1")
        .bind(last.position).execute(conn).await?);
    tx.commit().await?;
    Ok(written)
}

/// Locks the `effects_cursor` row in `tx` (`FOR UPDATE` on PostgreSQL; SQLite's write
/// transaction holds the whole database) and reads it: the last position whose effects are
/// stored, and the recorded shared settings' fingerprint ([`crate::settings`]).
pub(crate) async fn lock_cursor(tx: &mut WriteTx) -> Result<(i64, Option<Vec<u8>>), sqlx::Error> {
    match tx {
        WriteTx::Sqlite(tx) => {
            sqlx::query_as("SELECT position, settings_fingerprint FROM effects_cursor WHERE id = 1")
                .fetch_one(&mut **tx)
                .await
        }
        WriteTx::Postgres(tx) => {
            sqlx::query_as(
                "SELECT position, settings_fingerprint FROM effects_cursor WHERE id = 1 FOR UPDATE",
            )
            .fetch_one(&mut **tx)
            .await
        }
    }
}

fn history_entry(risk: &acx_proto::scoring::SellerRisk) -> SellerRiskChange {
    SellerRiskChange {
        score: risk.score,
        tier: risk.tier,
        cluster_id: risk.cluster_id.clone(),
        model_version: risk.model_version.clone(),
        compute_time: risk.compute_time,
        reason_codes: risk.reasons.iter().map(|r| r.code.clone()).collect(),
    }
}

/// The change-feed record of a blacklist change (its cursor is the row's).
fn change_record(change: &ListingChange, time_us: i64) -> BlacklistChange {
    use acx_proto::scoring::BlacklistChangeType as Type;
    let kind = match (&change.before, &change.entry) {
        (None, Some(_)) => Type::Listed,
        (Some(_), None) => Type::Delisted,
        _ => Type::Changed,
    };
    BlacklistChange {
        cursor: 0,
        r#type: kind as i32,
        entry: change.entry.clone().or_else(|| change.before.clone()),
        reason: change.reason.clone(),
        change_time: Some(to_timestamp(time_us)),
    }
}

async fn write_one(tx: &mut WriteTx, effects: &Effects, time_us: i64) -> Result<(), sqlx::Error> {
    for update in &effects.risks {
        let (platform, seller_id) = &update.account;
        on_tx!(&mut *tx, conn => sqlx::query(
            "INSERT INTO seller_risk (platform, seller_id, cluster_id, risk, compute_time_us) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (platform, seller_id) DO UPDATE SET cluster_id = excluded.cluster_id, risk = excluded.risk, \
             compute_time_us = excluded.compute_time_us")
            .bind(platform).bind(seller_id).bind(&update.risk.cluster_id).bind(update.risk.encode_to_vec())
            .bind(time_us).execute(conn).await?);
        let history = history_entry(&update.risk).encode_to_vec();
        on_tx!(&mut *tx, conn => sqlx::query("INSERT INTO risk_history (platform, seller_id, change) VALUES ($1, $2, $3)")
            .bind(platform).bind(seller_id).bind(history).execute(conn).await?);
    }
    for change in &effects.listings {
        let (platform, seller_id) = &change.account;
        match &change.entry {
            Some(entry) => on_tx!(&mut *tx, conn => sqlx::query(
                "INSERT INTO blacklist (platform, seller_id, entry) VALUES ($1, $2, $3) \
                 ON CONFLICT (platform, seller_id) DO UPDATE SET entry = excluded.entry")
                .bind(platform).bind(seller_id).bind(entry.encode_to_vec()).execute(conn).await?),
            None => {
                on_tx!(&mut *tx, conn => sqlx::query("DELETE FROM blacklist WHERE platform = $1 AND seller_id = $2")
                .bind(platform).bind(seller_id).execute(conn).await?)
            }
        };
        let record = change_record(change, time_us).encode_to_vec();
        on_tx!(&mut *tx, conn => sqlx::query("INSERT INTO blacklist_changes (change) VALUES ($1)")
            .bind(record).execute(conn).await?);
    }
    for merge in &effects.merges {
        on_tx!(&mut *tx, conn => sqlx::query(
            "INSERT INTO cluster_merges (from_cluster, into_cluster, merge_time_us) VALUES ($1, $2, $3)")
            .bind(&merge.from).bind(&merge.into).bind(time_us).execute(conn).await?);
    }
    Ok(())
}
