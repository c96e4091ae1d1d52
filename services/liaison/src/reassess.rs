//! Re-assessment: shipments not yet inspected are assessed again when scoring's model
//! changes (a new version promoted) or new inspection outcomes arrive (which change the
//! record of their parties). A changed assessment replaces the shown one, joins the
//! shipment's assessment history, and a rise into RED or YELLOW is an alert.

use std::time::Duration;

use acx_proto::{
    liaison::{AssessmentRecord, Declaration},
    scoring::{GetModelCardRequest, Lane, ShipmentAssessment},
};
use acx_runtime::{
    Database, Shutdown, db::bounded, error::cause_chain, on_backend, time::now_micros,
};
use prost::Message as _;

use super::Shipments;
use crate::{Error, store};

/// Shipments received within this long are re-assessed while open.
const HORIZON_US: i64 = 30 * 86_400 * 1_000_000;
/// Most open shipments re-assessed per round (the newest first).
const MAX_PER_ROUND: i64 = 10_000;

/// How a lane ranks: RED above YELLOW above GREEN.
fn rank(lane: i32) -> i32 {
    match Lane::try_from(lane) {
        Ok(Lane::Red) => 3,
        Ok(Lane::Yellow) => 2,
        Ok(Lane::Green) => 1,
        _ => 0,
    }
}

/// An open shipment: authority, id, declaration, current assessment.
type OpenRow = (String, String, Vec<u8>, Option<Vec<u8>>);

async fn open_shipments(database: &Database, since_us: i64) -> Result<Vec<OpenRow>, sqlx::Error> {
    const SQL: &str = "SELECT d.authority, d.declaration_id, d.payload, d.assessment \
        FROM declarations d LEFT JOIN inspection_results r \
        ON r.authority = d.authority AND r.declaration_id = d.declaration_id \
        WHERE d.state = $1 AND r.declaration_id IS NULL AND d.receive_time_us >= $2 \
        ORDER BY d.seq DESC LIMIT $3";
    on_backend!(database, pool => sqlx::query_as(SQL).bind(store::ASSESSED).bind(since_us)
        .bind(MAX_PER_ROUND).fetch_all(pool).await)
}

/// The assessment history of a shipment, oldest first.
pub async fn history(
    database: &Database,
    authority: &str,
    declaration_id: &str,
) -> Result<Vec<AssessmentRecord>, sqlx::Error> {
    const SQL: &str = "SELECT assess_time_us, model_version, risk, lane, cause FROM assessment_history \
        WHERE authority = $1 AND declaration_id = $2 ORDER BY seq";
    let rows: Vec<(i64, String, f64, i32, String)> = on_backend!(database, pool =>
        sqlx::query_as(SQL).bind(authority).bind(declaration_id).fetch_all(pool).await?);
    Ok(rows
        .into_iter()
        .map(
            |(time, model_version, risk, lane, cause)| AssessmentRecord {
                assess_time: Some(acx_runtime::time::to_timestamp(time)),
                model_version,
                risk,
                lane,
                cause,
            },
        )
        .collect())
}

/// A change of risk smaller than this is no change to an officer: each new outcome moves
/// the party records behind many shipments' risks by a few thousandths (found by a tester:
/// each re-assessment rewrote about 9,000 of 10,000 open shipments).
const RISK_STEP: f64 = 0.01;

/// Most re-assessments stored in one transaction: short, so that a write such as an
/// inspection result waits at most for one of them (found by a tester: over a second).
const WRITE_CHUNK: usize = 100;

/// Whether two assessments differ in what an officer sees: the lane, the model, or the risk
/// by [`RISK_STEP`] or more.
fn changed(old: &ShipmentAssessment, new: &ShipmentAssessment) -> bool {
    old.lane != new.lane
        || old.model_version != new.model_version
        || (old.risk - new.risk).abs() >= RISK_STEP
}

impl Shipments {
    /// Re-assesses the open shipments; returns how many changed. Scoring is asked in calls
    /// of many declarations and the changes of each call are stored in one transaction
    /// (found by a tester: one call and one write transaction per shipment, 10,000 a round,
    /// kept a core busy and held SQLite's write lock so that inspection results waited
    /// seconds each).
    async fn reassess_open(&self, cause: &str) -> Result<usize, Error> {
        let since = now_micros() - HORIZON_US;
        let open = bounded(open_shipments(&self.database, since)).await?;
        let mut decoded = Vec::with_capacity(open.len());
        for (authority, id, payload, current) in open {
            let declaration = Declaration::decode(payload.as_slice())?;
            let old = current
                .as_deref()
                .map(ShipmentAssessment::decode)
                .transpose()?
                .unwrap_or_default();
            decoded.push((authority, id, declaration, old));
        }
        let batch: Vec<(&str, &Declaration)> = decoded
            .iter()
            .map(|(authority, _, declaration, _)| (authority.as_str(), declaration))
            .collect();
        let mut changed_count = 0;
        let mut done = 0;
        for call in super::calls(&batch) {
            let assessed = self.assess_as(call, false).await?;
            let rows = &decoded[done..done + call.len()];
            done += call.len();
            let mut records = Vec::new();
            for ((authority, id, _, old), new) in rows.iter().zip(&assessed) {
                let Some(new) = new else { continue };
                if !changed(old, new) {
                    continue;
                }
                records.push(store::AssessmentRecord {
                    authority,
                    declaration_id: id,
                    assessment: new,
                    alert: rank(new.lane) > rank(old.lane) && rank(new.lane) >= 2,
                });
            }
            for chunk in records.chunks(WRITE_CHUNK) {
                let write = store::AssessmentWrite::Reassessment(cause);
                bounded(store::write_assessments(&self.database, chunk, write)).await?;
            }
            changed_count += records.len();
            if records.iter().any(|r| r.alert) {
                self.alerts.notify_waiters();
            }
        }
        Ok(changed_count)
    }

    /// Watches scoring's model card every `interval` and re-assesses the open shipments
    /// when the model version or the outcomes recorded change, until `shutdown`.
    pub async fn run_reassessor(self, interval: Duration, shutdown: Shutdown) {
        let mut seen: Option<(String, i64)> = None;
        loop {
            tokio::select! {
                () = tokio::time::sleep(interval) => {}
                () = shutdown.triggered() => return,
            }
            let card = match self
                .scoring
                .get_model_card(GetModelCardRequest {
                    authority: String::new(),
                })
                .await
            {
                Ok(response) => response.card.unwrap_or_default(),
                Err(status) => {
                    tracing::debug!(error = %status.message(), "model card unavailable; re-assessment waits");
                    continue;
                }
            };
            let now = (card.version.clone(), card.outcomes_recorded);
            let Some(before) = seen.replace(now.clone()) else {
                continue; // the first look after a start: nothing to compare with
            };
            if before == now {
                continue;
            }
            let cause = if before.0 != now.0 {
                format!("model {} in force", now.0)
            } else {
                format!(
                    "{} new inspection outcomes recorded",
                    now.1.saturating_sub(before.1)
                )
            };
            match self.reassess_open(&cause).await {
                Ok(n) => tracing::info!(changed = n, cause = %cause, "open shipments re-assessed"),
                Err(error) => {
                    tracing::warn!(error = %cause_chain(&error), "re-assessment failed; retried next round");
                    seen = Some(before);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_is_a_new_lane_a_new_model_or_a_step_of_risk() {
        let at = |risk: f64, lane: Lane, model: &str| ShipmentAssessment {
            risk,
            lane: lane as i32,
            model_version: model.to_owned(),
            ..Default::default()
        };
        let old = at(0.42, Lane::Yellow, "m1");
        assert!(!changed(&old, &at(0.425, Lane::Yellow, "m1")));
        assert!(changed(&old, &at(0.43, Lane::Yellow, "m1")));
        assert!(changed(&old, &at(0.42, Lane::Red, "m1")));
        assert!(changed(&old, &at(0.42, Lane::Yellow, "m2")));
    }
}
