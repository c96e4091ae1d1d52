//! The targeting model's durable parts: the examples it learns from (recorded declarations
//! with their outcomes, read from the history), and every trained version. Lane policies
//! are history entries; the `lane_policies` table is read only to move a database from
//! before the history.

use acx_domain::rates::{ReferenceRates, day_of};
use acx_proto::scoring::LanePolicy;
use acx_runtime::{Database, on_backend};
use forust_ml::GradientBooster;
use prost::Message as _;

use super::Champion;
use super::features::{Context, Declared, FeatureSpace};
use super::train::{Example, Facts};
use crate::history::{Entry, OutcomeEntry};
use crate::state::is_fraud;
use crate::valuation::usd;

/// A declaration's history entry (kind, payload) and its outcome's, if any.
type ExampleRow = (i16, Vec<u8>, Option<i16>, Option<Vec<u8>>);

/// Every recorded declaration with its outcome, as the training reads them: the
/// declarations' and outcomes' history entries (which carry what was known of the seller
/// when the declaration was assessed).
pub async fn examples(
    database: &Database,
    rates: &ReferenceRates,
) -> Result<Vec<Example>, crate::Error> {
    const SQL: &str = "SELECT hd.kind, hd.payload, ho.kind, ho.payload \
        FROM declarations d JOIN history hd ON hd.position = d.position \
        LEFT JOIN inspection_outcomes o \
        ON o.authority = d.authority AND o.declaration_id = d.declaration_id \
        LEFT JOIN history ho ON ho.position = o.position";
    let rows: Vec<ExampleRow> =
        on_backend!(database, pool => sqlx::query_as(SQL).fetch_all(pool).await?);
    let mut examples = Vec::with_capacity(rows.len());
    for (kind, payload, outcome_kind, outcome_payload) in rows {
        let Entry::Declaration(entry) = Entry::decode(kind, &payload)? else {
            continue;
        };
        let shipment = entry.shipment.unwrap_or_default();
        let declared = Declared::read(&shipment, rates);
        let outcome = match outcome_kind.zip(outcome_payload) {
            Some((kind, payload)) => match Entry::decode(kind, &payload)? {
                Entry::Outcome(OutcomeEntry {
                    outcome: Some(outcome),
                    ..
                }) => Some(outcome),
                _ => None,
            },
            None => None,
        };
        let outcome = outcome.map(|outcome| {
            let seconds = outcome.inspect_time.as_ref().map(|t| t.seconds);
            let day = seconds.map_or(declared.day, |s| s as f64 / 86_400.0);
            let revenue = outcome
                .extra_duty
                .as_ref()
                .and_then(|m| usd(m, rates, day_of(seconds.unwrap_or(0))))
                .unwrap_or(0.0)
                .max(0.0);
            (is_fraud(&outcome), revenue, day)
        });
        examples.push(Example {
            declared,
            context: Context {
                value_anomaly: entry.anomaly,
                seller_risk: entry.seller_risk,
                seller_listed: entry.seller_listed,
                market_anomaly: 0.0,
            },
            outcome,
        });
    }
    Ok(examples)
}

/// One stored version, for the model card.
#[derive(Debug, Clone)]
pub struct VersionRow {
    /// Version number.
    pub version: i64,
    /// Training time, µs.
    pub trained_us: i64,
    /// Promoted to champion.
    pub promoted: bool,
    /// Why (not).
    pub decision: String,
    /// Its facts.
    pub facts: Facts,
}

/// The next version number.
pub async fn next_version(database: &Database) -> Result<i64, sqlx::Error> {
    const SQL: &str = "SELECT COALESCE(MAX(version), 0) + 1 FROM targeting_models";
    let (next,): (i64,) = on_backend!(database, pool => sqlx::query_as(SQL).fetch_one(pool).await?);
    Ok(next)
}

/// Stores a trained version; the trees only when it was promoted.
pub async fn save(
    database: &Database,
    row: &VersionRow,
    space: &FeatureSpace,
    trees: Option<&GradientBooster>,
) -> Result<(), crate::Error> {
    let facts =
        serde_json::to_string(&row.facts).map_err(|e| crate::Error::Internal(e.to_string()))?;
    let space = serde_json::to_string(space).map_err(|e| crate::Error::Internal(e.to_string()))?;
    let trees = trees
        .map(|t| {
            t.json_dump()
                .map_err(|e| crate::Error::Internal(e.to_string()))
        })
        .transpose()?;
    on_backend!(database, pool => sqlx::query(
        "INSERT INTO targeting_models (version, trained_us, promoted, decision, facts, space, trees) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(row.version).bind(row.trained_us).bind(row.promoted).bind(&row.decision)
        .bind(facts).bind(space).bind(trees).execute(pool).await.map(|_| ())?);
    Ok(())
}

/// Every stored version, newest first.
pub async fn versions(database: &Database) -> Result<Vec<VersionRow>, crate::Error> {
    versions_after(database, i64::MIN).await
}

/// The stored versions numbered above `after`, newest first (versions are numbered in
/// the order they are stored and never change, so a reader that kept the older ones
/// needs only these).
pub async fn versions_after(
    database: &Database,
    after: i64,
) -> Result<Vec<VersionRow>, crate::Error> {
    const SQL: &str = "SELECT version, trained_us, promoted, decision, facts FROM targeting_models \
        WHERE version > $1 ORDER BY version DESC";
    let rows: Vec<(i64, i64, bool, String, String)> =
        on_backend!(database, pool => sqlx::query_as(SQL).bind(after).fetch_all(pool).await?);
    rows.into_iter()
        .map(|(version, trained_us, promoted, decision, facts)| {
            Ok(VersionRow {
                version,
                trained_us,
                promoted,
                decision,
                facts: serde_json::from_str(&facts)
                    .map_err(|e| crate::Error::Internal(format!("model {version}: {e}")))?,
            })
        })
        .collect()
}

/// The newest promoted version, if any (for moving a database from before the history).
pub async fn newest_promoted(database: &Database) -> Result<Option<VersionRow>, crate::Error> {
    Ok(versions(database).await?.into_iter().find(|v| v.promoted))
}

/// A promoted version with its trees.
pub async fn champion(database: &Database, version: i64) -> Result<Champion, crate::Error> {
    const SQL: &str = "SELECT trained_us, facts, space, trees FROM targeting_models \
        WHERE version = $1 AND trees IS NOT NULL";
    let row: Option<(i64, String, String, String)> = on_backend!(database, pool =>
        sqlx::query_as(SQL).bind(version).fetch_optional(pool).await?);
    let bad = |e: String| crate::Error::Internal(format!("model {version}: {e}"));
    let Some((trained_us, facts, space, trees)) = row else {
        return Err(bad("no stored trees".to_owned()));
    };
    let space: FeatureSpace = serde_json::from_str(&space).map_err(|e| bad(e.to_string()))?;
    Ok(Champion {
        version,
        trained_us,
        booster: GradientBooster::from_json(&trees).map_err(|e| bad(e.to_string()))?,
        names: space.names(),
        space,
        facts: serde_json::from_str(&facts).map_err(|e| bad(e.to_string()))?,
    })
}

/// Every lane policy stored before the history held them (for moving such a database).
pub async fn policies(database: &Database) -> Result<Vec<LanePolicy>, crate::Error> {
    const SQL: &str = "SELECT policy FROM lane_policies";
    let rows: Vec<(Vec<u8>,)> =
        on_backend!(database, pool => sqlx::query_as(SQL).fetch_all(pool).await?);
    rows.into_iter()
        .map(|(bytes,)| Ok(LanePolicy::decode(bytes.as_slice())?))
        .collect()
}
