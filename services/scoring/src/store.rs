//! Scoring's durable state on either backend. One transaction per batch of feed changes
//! holds the inputs, every effect (risks, history, blacklist, its change feed, merges) and
//! the new cursor, so a crash of scoring or ingest loses and doubles nothing.

use acx_proto::{
    common::SellerAccountRef,
    ingest::Report,
    scoring::{BlacklistChange, BlacklistEntry, SellerRisk, SellerRiskChange},
};
use acx_runtime::{Database, on_backend};
use prost::Message;
use sqlx::{Postgres, Sqlite, Transaction};

use crate::model::{AccountKey, Effects};

/// One report taken from the feed.
#[derive(Debug, Clone)]
pub struct Input {
    /// Its feed sequence.
    pub sequence: i64,
    /// The reporting platform.
    pub platform: String,
    /// The report (hashed identifiers only).
    pub report: Report,
}

/// A customs outcome with the seller it was attributed to.
#[derive(Debug, Clone)]
pub struct OutcomeRecord {
    /// The outcome as reported.
    pub outcome: acx_proto::scoring::RecordOutcomeRequest,
    /// The seller behind the declaration, when known.
    pub seller: Option<AccountKey>,
}

/// Everything one batch writes.
#[derive(Debug)]
pub struct BatchWrite<'a> {
    /// A customs outcome, when the batch is one.
    pub outcome: Option<&'a OutcomeRecord>,
    /// A recorded declaration, when the batch is one.
    pub shipment: Option<&'a ShipmentRecord>,
    /// The reports taken.
    pub inputs: &'a [Input],
    /// What they changed.
    pub effects: &'a Effects,
    /// Time of the recomputation, µs.
    pub now_us: i64,
}

/// The last feed sequence whose effects are stored.
pub async fn cursor(database: &Database) -> Result<i64, sqlx::Error> {
    const SQL: &str = "SELECT sequence FROM feed_cursor WHERE id = 1";
    let (sequence,): (i64,) =
        on_backend!(database, pool => sqlx::query_as(SQL).fetch_one(pool).await?);
    Ok(sequence)
}

/// Every input taken so far, in feed order, for the replay at start-up.
pub async fn inputs(database: &Database) -> Result<Vec<Input>, crate::Error> {
    const SQL: &str = "SELECT sequence, platform, payload FROM inputs ORDER BY sequence";
    let rows: Vec<(i64, String, Vec<u8>)> =
        on_backend!(database, pool => sqlx::query_as(SQL).fetch_all(pool).await?);
    rows.into_iter()
        .map(|(sequence, platform, payload)| {
            Ok(Input {
                sequence,
                platform,
                report: Report::decode(payload.as_slice())?,
            })
        })
        .collect()
}

/// The served risks and the blacklist as stored.
#[allow(clippy::type_complexity)]
pub async fn served(
    database: &Database,
) -> Result<
    (
        Vec<(AccountKey, SellerRisk)>,
        Vec<(AccountKey, BlacklistEntry)>,
    ),
    crate::Error,
> {
    let risks: Vec<(String, String, Vec<u8>)> = on_backend!(database, pool =>
        sqlx::query_as("SELECT platform, seller_id, risk FROM seller_risk").fetch_all(pool).await?);
    let listings: Vec<(String, String, Vec<u8>)> = on_backend!(database, pool =>
        sqlx::query_as("SELECT platform, seller_id, entry FROM blacklist").fetch_all(pool).await?);
    let risks = risks
        .into_iter()
        .map(|(p, s, bytes)| Ok(((p, s), SellerRisk::decode(bytes.as_slice())?)))
        .collect::<Result<Vec<_>, crate::Error>>()?;
    let listings = listings
        .into_iter()
        .map(|(p, s, bytes)| Ok(((p, s), BlacklistEntry::decode(bytes.as_slice())?)))
        .collect::<Result<Vec<_>, crate::Error>>()?;
    Ok((risks, listings))
}

fn history_entry(risk: &SellerRisk) -> SellerRiskChange {
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
fn change_record(change: &crate::model::ListingChange, now_us: i64) -> BlacklistChange {
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
        change_time: Some(acx_runtime::time::to_timestamp(now_us)),
    }
}

/// A write transaction on either backend.
enum Tx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

macro_rules! on_tx {
    ($tx:expr, $conn:ident => $body:expr) => {
        match $tx {
            Tx::Sqlite(tx) => {
                let $conn = &mut **tx;
                $body;
            }
            Tx::Postgres(tx) => {
                let $conn = &mut **tx;
                $body;
            }
        }
    };
}

/// Writes one batch and its new cursor atomically.
pub async fn write_batch(database: &Database, batch: BatchWrite<'_>) -> Result<(), sqlx::Error> {
    let mut tx = match database {
        Database::Sqlite(pool) => Tx::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?),
        Database::Postgres(pool) => Tx::Postgres(pool.begin().await?),
    };
    for input in batch.inputs {
        let payload = input.report.encode_to_vec();
        on_tx!(&mut tx, conn => sqlx::query(
            "INSERT INTO inputs (sequence, platform, payload) VALUES ($1, $2, $3) ON CONFLICT (sequence) DO NOTHING")
            .bind(input.sequence).bind(&input.platform).bind(payload).execute(conn).await?);
    }
    for update in &batch.effects.risks {
        let (platform, seller_id) = &update.account;
        let compute_us = batch.now_us;
        on_tx!(&mut tx, conn => sqlx::query(
            "INSERT INTO seller_risk (platform, seller_id, cluster_id, risk, compute_time_us) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (platform, seller_id) DO UPDATE SET cluster_id = excluded.cluster_id, risk = excluded.risk, \
             compute_time_us = excluded.compute_time_us")
            .bind(platform).bind(seller_id).bind(&update.risk.cluster_id).bind(update.risk.encode_to_vec())
            .bind(compute_us).execute(conn).await?);
        let history = history_entry(&update.risk).encode_to_vec();
        on_tx!(&mut tx, conn => sqlx::query("INSERT INTO risk_history (platform, seller_id, change) VALUES ($1, $2, $3)")
            .bind(platform).bind(seller_id).bind(history).execute(conn).await?);
    }
    for change in &batch.effects.listings {
        let (platform, seller_id) = &change.account;
        match &change.entry {
            Some(entry) => on_tx!(&mut tx, conn => sqlx::query(
                "INSERT INTO blacklist (platform, seller_id, entry) VALUES ($1, $2, $3) \
                 ON CONFLICT (platform, seller_id) DO UPDATE SET entry = excluded.entry")
                .bind(platform).bind(seller_id).bind(entry.encode_to_vec()).execute(conn).await?),
            None => {
                on_tx!(&mut tx, conn => sqlx::query("DELETE FROM blacklist WHERE platform = $1 AND seller_id = $2")
                .bind(platform).bind(seller_id).execute(conn).await?)
            }
        };
        let record = change_record(change, batch.now_us).encode_to_vec();
        on_tx!(&mut tx, conn => sqlx::query("INSERT INTO blacklist_changes (change) VALUES ($1)")
            .bind(record).execute(conn).await?);
    }
    for merge in &batch.effects.merges {
        on_tx!(&mut tx, conn => sqlx::query(
            "INSERT INTO cluster_merges (from_cluster, into_cluster, merge_time_us) VALUES ($1, $2, $3)")
            .bind(&merge.from).bind(&merge.into).bind(batch.now_us).execute(conn).await?);
    }
    if let Some(record) = batch.shipment {
        let (platform, seller_id) = record.seller.clone().unzip();
        on_tx!(&mut tx, conn => sqlx::query(
            "INSERT INTO shipments (authority, declaration_id, seller_platform, seller_id, anomaly, payload, seller_risk, seller_listed) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
            .bind(&record.shipment.authority).bind(&record.shipment.declaration_id).bind(platform).bind(seller_id)
            .bind(record.anomaly).bind(record.shipment.encode_to_vec()).bind(record.seller_risk)
            .bind(record.seller_listed).execute(conn).await?);
    }
    if let Some(record) = batch.outcome {
        let (platform, seller_id) = record.seller.clone().unzip();
        on_tx!(&mut tx, conn => sqlx::query(
            "INSERT INTO outcomes (authority, declaration_id, seller_platform, seller_id, payload) VALUES ($1, $2, $3, $4, $5)")
            .bind(&record.outcome.authority).bind(&record.outcome.declaration_id).bind(platform).bind(seller_id)
            .bind(record.outcome.encode_to_vec()).execute(conn).await?);
    }
    if let Some(last) = batch.inputs.last() {
        on_tx!(&mut tx, conn => sqlx::query("UPDATE feed_cursor SET sequence = $1 WHERE id = 1")
            .bind(last.sequence).execute(conn).await?);
    }
    match tx {
        Tx::Sqlite(tx) => tx.commit().await,
        Tx::Postgres(tx) => tx.commit().await,
    }
}

/// A page of an account's risk history, newest first, before history id `before`.
pub async fn history(
    database: &Database,
    seller: &SellerAccountRef,
    before: i64,
    limit: usize,
) -> Result<Vec<(i64, SellerRiskChange)>, crate::Error> {
    const SQL: &str = "SELECT id, change FROM risk_history WHERE platform = $1 AND seller_id = $2 AND id < $3 \
                       ORDER BY id DESC LIMIT $4";
    let rows: Vec<(i64, Vec<u8>)> = on_backend!(database, pool => sqlx::query_as(SQL)
        .bind(&seller.platform).bind(&seller.seller_id).bind(before).bind(limit as i64).fetch_all(pool).await?);
    rows.into_iter()
        .map(|(id, bytes)| Ok((id, SellerRiskChange::decode(bytes.as_slice())?)))
        .collect()
}

/// Blacklist changes after `after`, oldest first.
pub async fn blacklist_changes(
    database: &Database,
    after: i64,
    limit: usize,
) -> Result<Vec<BlacklistChange>, crate::Error> {
    const SQL: &str =
        "SELECT cursor, change FROM blacklist_changes WHERE cursor > $1 ORDER BY cursor LIMIT $2";
    let rows: Vec<(i64, Vec<u8>)> = on_backend!(database, pool => sqlx::query_as(SQL).bind(after).bind(limit as i64).fetch_all(pool).await?);
    rows.into_iter()
        .map(|(cursor, bytes)| {
            let mut change = BlacklistChange::decode(bytes.as_slice())?;
            change.cursor = cursor;
            Ok(change)
        })
        .collect()
}

/// The newest blacklist change cursor, 0 when none.
pub async fn blacklist_head(database: &Database) -> Result<i64, sqlx::Error> {
    const SQL: &str = "SELECT COALESCE(MAX(cursor), 0) FROM blacklist_changes";
    let (head,): (i64,) = on_backend!(database, pool => sqlx::query_as(SQL).fetch_one(pool).await?);
    Ok(head)
}

/// Every recorded outcome, for the replay at start-up.
pub async fn outcomes(database: &Database) -> Result<Vec<OutcomeRecord>, crate::Error> {
    const SQL: &str = "SELECT seller_platform, seller_id, payload FROM outcomes";
    let rows: Vec<(Option<String>, Option<String>, Vec<u8>)> =
        on_backend!(database, pool => sqlx::query_as(SQL).fetch_all(pool).await?);
    rows.into_iter()
        .map(|(platform, seller_id, bytes)| {
            Ok(OutcomeRecord {
                outcome: acx_proto::scoring::RecordOutcomeRequest::decode(bytes.as_slice())?,
                seller: platform.zip(seller_id),
            })
        })
        .collect()
}

/// Whether an outcome of this declaration was recorded.
pub async fn outcome_exists(
    database: &Database,
    authority: &str,
    declaration_id: &str,
) -> Result<bool, sqlx::Error> {
    const SQL: &str = "SELECT COUNT(*) FROM outcomes WHERE authority = $1 AND declaration_id = $2";
    let (count,): (i64,) = on_backend!(database, pool =>
        sqlx::query_as(SQL).bind(authority).bind(declaration_id).fetch_one(pool).await?);
    Ok(count > 0)
}

/// A recorded declaration with the seller it was attributed to and its anomaly strength.
#[derive(Debug, Clone)]
pub struct ShipmentRecord {
    /// The declaration.
    pub shipment: acx_proto::scoring::DeclaredShipment,
    /// The seller behind it, when known.
    pub seller: Option<AccountKey>,
    /// Strength of its strongest value anomaly, 0 to 1.
    pub anomaly: f64,
    /// The seller's risk when it was assessed.
    pub seller_risk: Option<f64>,
    /// Whether that seller was on the blacklist then.
    pub seller_listed: bool,
}

/// A `shipments` row: seller platform and id, anomaly strength, encoded declaration.
type ShipmentRow = (Option<String>, Option<String>, f64, Vec<u8>);

/// Every recorded declaration, for the replay at start-up.
pub async fn shipments(database: &Database) -> Result<Vec<ShipmentRecord>, crate::Error> {
    const SQL: &str = "SELECT seller_platform, seller_id, anomaly, payload FROM shipments";
    let rows: Vec<ShipmentRow> =
        on_backend!(database, pool => sqlx::query_as(SQL).fetch_all(pool).await?);
    rows.into_iter()
        .map(|(platform, seller_id, anomaly, bytes)| {
            Ok(ShipmentRecord {
                shipment: acx_proto::scoring::DeclaredShipment::decode(bytes.as_slice())?,
                seller: platform.zip(seller_id),
                anomaly,
                seller_risk: None,
                seller_listed: false,
            })
        })
        .collect()
}
