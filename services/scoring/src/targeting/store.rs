//! The targeting model's durable parts: the examples it learns from (recorded declarations
//! with their outcomes), every trained version, and lane policies.

use acx_domain::rates::{ReferenceRates, day_of};
use acx_proto::scoring::{DeclaredShipment, LanePolicy, OutcomeKind, RecordOutcomeRequest};
use acx_runtime::{Database, on_backend};
use forust_ml::GradientBooster;
use prost::Message as _;

use super::Champion;
use super::features::{Context, Declared, FeatureSpace};
use super::train::{Example, Facts};
use crate::valuation::usd;

/// Whether an outcome found fraud (counterfeits or undervaluation).
pub fn is_fraud(outcome: &RecordOutcomeRequest) -> bool {
    matches!(
        outcome.kind(),
        OutcomeKind::CounterfeitSeized | OutcomeKind::UndervaluationConfirmed
    )
}

type ExampleRow = (Vec<u8>, f64, Option<f64>, bool, Option<Vec<u8>>);

/// Every recorded declaration with its outcome, as the training reads them.
pub async fn examples(
    database: &Database,
    rates: &ReferenceRates,
) -> Result<Vec<Example>, crate::Error> {
    const SQL: &str = "SELECT s.payload, s.anomaly, s.seller_risk, s.seller_listed, o.payload \
        FROM shipments s LEFT JOIN outcomes o \
        ON o.authority = s.authority AND o.declaration_id = s.declaration_id";
    let rows: Vec<ExampleRow> =
        on_backend!(database, pool => sqlx::query_as(SQL).fetch_all(pool).await?);
    let mut examples = Vec::with_capacity(rows.len());
    for (shipment, anomaly, seller_risk, seller_listed, outcome) in rows {
        let shipment = DeclaredShipment::decode(shipment.as_slice())?;
        let declared = Declared::read(&shipment, rates);
        let outcome = match outcome {
            Some(bytes) => {
                let outcome = RecordOutcomeRequest::decode(bytes.as_slice())?;
                let seconds = outcome.inspect_time.as_ref().map(|t| t.seconds);
                let day = seconds.map_or(declared.day, |s| s as f64 / 86_400.0);
                let revenue = outcome
                    .extra_duty
                    .as_ref()
                    .and_then(|m| usd(m, rates, day_of(seconds.unwrap_or(0))))
                    .unwrap_or(0.0)
                    .max(0.0);
                Some((is_fraud(&outcome), revenue, day))
            }
            None => None,
        };
        examples.push(Example {
            declared,
            context: Context {
                value_anomaly: anomaly,
                seller_risk,
                seller_listed,
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
    const SQL: &str = "SELECT version, trained_us, promoted, decision, facts FROM targeting_models ORDER BY version DESC";
    let rows: Vec<(i64, i64, bool, String, String)> =
        on_backend!(database, pool => sqlx::query_as(SQL).fetch_all(pool).await?);
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

/// The newest promoted version, the champion.
pub async fn champion(database: &Database) -> Result<Option<Champion>, crate::Error> {
    const SQL: &str = "SELECT version, trained_us, facts, space, trees FROM targeting_models \
        WHERE promoted AND trees IS NOT NULL ORDER BY version DESC LIMIT 1";
    let row: Option<(i64, i64, String, String, String)> =
        on_backend!(database, pool => sqlx::query_as(SQL).fetch_optional(pool).await?);
    let Some((version, trained_us, facts, space, trees)) = row else {
        return Ok(None);
    };
    let bad = |e: String| crate::Error::Internal(format!("model {version}: {e}"));
    let space: FeatureSpace = serde_json::from_str(&space).map_err(|e| bad(e.to_string()))?;
    Ok(Some(Champion {
        version,
        trained_us,
        booster: GradientBooster::from_json(&trees).map_err(|e| bad(e.to_string()))?,
        names: space.names(),
        space,
        facts: serde_json::from_str(&facts).map_err(|e| bad(e.to_string()))?,
    }))
}

/// Stores (replaces) a lane policy.
pub async fn set_policy(database: &Database, policy: &LanePolicy) -> Result<(), sqlx::Error> {
    on_backend!(database, pool => sqlx::query(
        "INSERT INTO lane_policies (authority, customs_office, policy) VALUES ($1, $2, $3) \
         ON CONFLICT (authority, customs_office) DO UPDATE SET policy = excluded.policy")
        .bind(&policy.authority).bind(&policy.customs_office).bind(policy.encode_to_vec())
        .execute(pool).await.map(|_| ())?);
    Ok(())
}

/// Every stored lane policy.
pub async fn policies(database: &Database) -> Result<Vec<LanePolicy>, crate::Error> {
    const SQL: &str = "SELECT policy FROM lane_policies";
    let rows: Vec<(Vec<u8>,)> =
        on_backend!(database, pool => sqlx::query_as(SQL).fetch_all(pool).await?);
    rows.into_iter()
        .map(|(bytes,)| Ok(LanePolicy::decode(bytes.as_slice())?))
        .collect()
}
