//! Moving a database from before the history (tables `inputs`, `shipments`, `outcomes`,
//! replayed at every start) into the history, once, at start-up: the feed's reports in
//! feed order (batches of 500), then the recorded declarations, then the outcomes, as
//! entries appended at the time of the upgrade, all in one transaction that also empties
//! the old tables. Their effects were stored when they happened, so the effects cursor is
//! set past them; the first replay computes risks as of the upgrade (stored risks are
//! rewritten when an account next changes). A declaration recorded before keeps no
//! assessment: asked again, it is assessed anew. Lane policies (table `lane_policies`)
//! become entries too, and the newest promoted targeting model stays in force (an entry
//! naming its version; `targeting_models` keeps every version).

use std::collections::HashMap;

use acx_proto::{
    common::SellerAccountRef,
    ingest::Report,
    scoring::{DeclaredShipment, RecordOutcomeRequest},
};
use acx_runtime::{Database, on_backend, on_tx, time::now_micros};
use prost::Message;
use sha2::{Digest, Sha256};

use crate::{
    Error,
    history::{
        DeclarationEntry, Entry, FeedBatch, FeedReport, LanePolicyEntry, ModelTrainedEntry,
        OutcomeEntry,
    },
};

fn seller(platform: Option<String>, seller_id: Option<String>) -> Option<SellerAccountRef> {
    platform
        .zip(seller_id)
        .map(|(platform, seller_id)| SellerAccountRef {
            platform,
            seller_id,
        })
}

/// A `shipments` row: seller platform and id, anomaly strength, encoded declaration, the
/// seller's risk and listing when it was assessed.
type ShipmentRow = (
    Option<String>,
    Option<String>,
    f64,
    Vec<u8>,
    Option<f64>,
    bool,
);

/// Moves the old tables into an empty history; returns how many entries it appended.
pub async fn from_legacy(database: &Database) -> Result<i64, Error> {
    // EXISTS, not COUNT(*): every start asks this, and counting a history of millions of
    // entries kept a restarting replica from listening for seconds.
    const ANY: &str = "SELECT EXISTS (SELECT 1 FROM history), \
                       EXISTS (SELECT 1 FROM inputs) OR EXISTS (SELECT 1 FROM shipments) \
                       OR EXISTS (SELECT 1 FROM outcomes) OR EXISTS (SELECT 1 FROM lane_policies) \
                       OR EXISTS (SELECT 1 FROM targeting_models)";
    let (history, legacy): (bool, bool) =
        on_backend!(database, pool => sqlx::query_as(ANY).fetch_one(pool).await?);
    if history || !legacy {
        return Ok(0);
    }
    let inputs: Vec<(i64, String, Vec<u8>)> = on_backend!(database, pool => sqlx::query_as(
        "SELECT sequence, platform, payload FROM inputs ORDER BY sequence").fetch_all(pool).await?);
    let shipments: Vec<ShipmentRow> = on_backend!(database, pool =>
        sqlx::query_as("SELECT seller_platform, seller_id, anomaly, payload, seller_risk, seller_listed FROM shipments ORDER BY authority, declaration_id")
            .fetch_all(pool).await?);
    let outcomes: Vec<(Option<String>, Option<String>, Vec<u8>)> = on_backend!(database, pool =>
        sqlx::query_as("SELECT seller_platform, seller_id, payload FROM outcomes ORDER BY authority, declaration_id")
            .fetch_all(pool).await?);

    let mut entries = Vec::new();
    let mut batch = Vec::new();
    for (sequence, platform, payload) in inputs {
        batch.push(FeedReport {
            sequence,
            platform,
            report: Some(Report::decode(payload.as_slice())?),
            traceparent: String::new(),
        });
        if batch.len() == 500 {
            entries.push(Entry::Feed(FeedBatch {
                reports: std::mem::take(&mut batch),
            }));
        }
    }
    if !batch.is_empty() {
        entries.push(Entry::Feed(FeedBatch { reports: batch }));
    }
    let mut recorded: HashMap<(String, String), DeclaredShipment> = HashMap::new();
    for (platform, seller_id, anomaly, payload, seller_risk, seller_listed) in shipments {
        let shipment = DeclaredShipment::decode(payload.as_slice())?;
        recorded.insert(
            (shipment.authority.clone(), shipment.declaration_id.clone()),
            shipment.clone(),
        );
        entries.push(Entry::Declaration(DeclarationEntry {
            shipment: Some(shipment),
            seller: seller(platform, seller_id),
            anomaly,
            seller_risk,
            seller_listed,
            score: None,
            red: false,
        }));
    }
    let recorded_outcomes = outcomes.len();
    for (platform, seller_id, payload) in outcomes {
        let outcome = RecordOutcomeRequest::decode(payload.as_slice())?;
        let shipment = recorded
            .get(&(outcome.authority.clone(), outcome.declaration_id.clone()))
            .cloned();
        entries.push(Entry::Outcome(OutcomeEntry {
            outcome: Some(outcome),
            shipment,
            seller: seller(platform, seller_id),
        }));
    }
    for policy in crate::targeting::store::policies(database).await? {
        entries.push(Entry::LanePolicy(LanePolicyEntry {
            policy: Some(policy),
        }));
    }
    // The champion stays in force (its lane thresholds fill again as declarations arrive).
    if let Some(champion) = crate::targeting::store::newest_promoted(database).await? {
        entries.push(Entry::ModelTrained(ModelTrainedEntry {
            version: champion.version,
            promoted: true,
            recorded_outcomes: recorded_outcomes as u64,
            backtest_scores: Vec::new(),
        }));
    }

    let now = now_micros();
    // Replicas starting together: one moves the tables, the others find the history full.
    let mut tx = database
        .begin_write(Some(crate::history::APPEND_LOCK))
        .await?;
    let history: bool;
    on_tx!(&mut tx, conn => {
        (history,) = sqlx::query_as("SELECT EXISTS (SELECT 1 FROM history)").fetch_one(conn).await?;
    });
    if history {
        tx.rollback().await?;
        return Ok(0);
    }
    let count = entries.len() as i64;
    for (i, entry) in entries.iter().enumerate() {
        let position = i as i64 + 1;
        crate::history::insert_at(&mut tx, position, entry, now).await?;
        match entry {
            Entry::Declaration(declaration) => {
                let shipment = declaration.shipment.clone().unwrap_or_default();
                let bytes = shipment.encode_to_vec();
                on_tx!(&mut tx, conn => sqlx::query(
                    "INSERT INTO declarations (authority, declaration_id, position, content_hash, shipment, assessment) \
                     VALUES ($1, $2, $3, $4, $5, $6)")
                    .bind(&shipment.authority).bind(&shipment.declaration_id).bind(position)
                    .bind(Sha256::digest(&bytes).to_vec()).bind(&bytes).bind(Vec::<u8>::new())
                    .execute(conn).await?);
            }
            Entry::Outcome(outcome) => {
                let outcome = outcome.outcome.clone().unwrap_or_default();
                on_tx!(&mut tx, conn => sqlx::query(
                    "INSERT INTO inspection_outcomes (authority, declaration_id, position) VALUES ($1, $2, $3)")
                    .bind(&outcome.authority).bind(&outcome.declaration_id).bind(position)
                    .execute(conn).await?);
            }
            Entry::Feed(_) | Entry::ModelTrained(_) | Entry::LanePolicy(_) => {}
        }
    }
    on_tx!(&mut tx, conn => sqlx::query("UPDATE effects_cursor SET position = $1 WHERE id = 1")
        .bind(count).execute(conn).await?);
    for table in ["inputs", "shipments", "outcomes", "lane_policies"] {
        let sql = sqlx::AssertSqlSafe(format!("DELETE FROM {table}"));
        on_tx!(&mut tx, conn => sqlx::query(sql).execute(conn).await?);
    }
    tx.commit().await?;
    tracing::info!(entries = count, "moved the stored inputs into the history");
    Ok(count)
}
