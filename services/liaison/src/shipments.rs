//! Declarations in, assessments attached, inspection results out: the work behind
//! SubmitDeclarations, GetShipment and RecordInspectionResult, and the background worker
//! that assesses pending declarations and forwards inspection results (the outbox) until
//! scoring acknowledges them.

use std::{sync::Arc, time::Duration};

use acx_proto::{
    liaison::{
        AssessmentState, Declaration, DeclarationOutcome, DeclarationResult, DeclarationViolation,
        InspectionResult, Shipment,
    },
    scoring::{AssessShipmentsRequest, Lane, RecordOutcomeRequest, ShipmentAssessment},
};
use acx_runtime::{
    Database, FieldViolation, Shutdown, db,
    error::cause_chain,
    time::{now_micros, to_timestamp},
};
use prost::Message;
use tokio::sync::Notify;
use tonic::Code;

use crate::{
    Error, declarations,
    reads::ShipmentReader,
    results::contradictions,
    scoring::Scoring,
    store::{self, AssessmentRecord, AssessmentWrite},
};

#[path = "reassess.rs"]
mod reassess;

/// How often the worker looks for pending work when nothing woke it.
const WORKER_INTERVAL: Duration = Duration::from_secs(1);
/// Most items the worker handles per round.
const WORKER_BATCH: i64 = 200;

/// Declarations and results of all authorities, with the scoring client.
#[derive(Debug, Clone)]
pub struct Shipments {
    database: Database,
    /// GetShipment's reads, coalesced into one query per batch of concurrent calls.
    reader: ShipmentReader,
    scoring: Scoring,
    wake: Arc<Notify>,
    /// Notified after every stored assessment, for alert watchers.
    alerts: Arc<Notify>,
}

/// The declaration id of a `shipments/{declaration_id}` name, as stored (trimmed, NFC:
/// [`acx_domain::customs::trim_id`]).
pub fn parse_name(name: &str) -> Result<String, FieldViolation> {
    let invalid = |why: &str| FieldViolation::new("name", why);
    let id = name
        .strip_prefix("shipments/")
        .filter(|id| !id.is_empty())
        .ok_or_else(|| invalid("must be shipments/{declaration_id}"))?;
    let mut trimmed = id.to_owned();
    acx_domain::customs::trim_id(&mut trimmed).map_err(|why| {
        invalid(&format!(
            "must be shipments/{{declaration_id}}, the id {why}"
        ))
    })?;
    // Declaration ids are stored trimmed: a padded name is the same shipment (found by a
    // tester: `shipments/PAD-1  ` was NOT_FOUND though `PAD-1  ` was accepted as PAD-1).
    Ok(trimmed)
}

/// A declaration's violations as the answer lists them
/// ([`acx_runtime::error::listed_violations`]: at most 16, each cut short), then one entry
/// under `path` counting the others, so an answer stays small whatever a declaration holds
/// (found by a tester: a 300 kB request with 100,000 bad tracking numbers was answered with
/// 7 MB, more than a client reads).
fn bounded(violations: Vec<FieldViolation>, path: &str) -> Vec<DeclarationViolation> {
    let (listed, more) = acx_runtime::error::listed_violations(violations);
    let mut listed: Vec<DeclarationViolation> = listed
        .into_iter()
        .map(|v| DeclarationViolation {
            field: v.field,
            description: v.description,
        })
        .collect();
    if more > 0 {
        listed.push(DeclarationViolation {
            field: path.to_owned(),
            description: format!("and {more} more violations not listed"),
        });
    }
    listed
}

/// Most bytes of declarations in one call to scoring: half of a 4 MiB message, so the
/// call (with the authority added to each declaration) stays well inside scoring's limit.
const ASSESS_CALL_BYTES: usize = 2 << 20;
/// Most declarations in one call to scoring (its batch limit is 500).
const ASSESS_CALL_DECLARATIONS: usize = 500;

/// `declarations` cut into calls of at most [`ASSESS_CALL_BYTES`] and
/// [`ASSESS_CALL_DECLARATIONS`] (a declaration is at most 1 MiB, so each fits in one).
pub(crate) fn calls<'a, 'b>(
    declarations: &'a [(&'b str, &'b Declaration)],
) -> Vec<&'a [(&'b str, &'b Declaration)]> {
    // Scoring's request adds the authority and a tag and length to each declaration.
    acx_domain::customs::calls(
        declarations,
        ASSESS_CALL_DECLARATIONS,
        ASSESS_CALL_BYTES,
        |(authority, declaration)| declaration.encoded_len() + authority.len() + 16,
    )
}

/// Whether scoring refused a call for what it carries (not for being away or busy).
fn refused(status: &tonic::Status) -> bool {
    matches!(
        status.code(),
        Code::InvalidArgument
            | Code::ResourceExhausted
            | Code::OutOfRange
            | Code::FailedPrecondition
    )
}

/// A stored declaration as the API shows it.
pub(crate) fn to_shipment(row: store::DeclarationRow) -> Result<Shipment, Error> {
    let assessment = row
        .assessment
        .as_deref()
        .map(ShipmentAssessment::decode)
        .transpose()?;
    let state = if row.state == store::ASSESSED {
        AssessmentState::Assessed
    } else {
        AssessmentState::Pending
    };
    let inspection_result = match &row.result_payload {
        Some(payload) => {
            let mut result = InspectionResult::decode(payload.as_slice())?;
            result.forwarded = row.result_forwarded == Some(1);
            Some(result)
        }
        None => None,
    };
    Ok(Shipment {
        name: format!("shipments/{}", row.declaration_id),
        declaration: Some(Declaration::decode(row.payload.as_slice())?),
        assessment_state: state as i32,
        assessment,
        receive_time: Some(to_timestamp(row.receive_time_us)),
        inspection_result,
        assessment_history: Vec::new(),
    })
}

impl Shipments {
    /// Over `database`, assessing with `scoring`; GetShipment reads through `reader`.
    pub fn new(database: Database, reader: ShipmentReader, scoring: Scoring) -> Self {
        Self {
            reader,
            database,
            scoring,
            wake: Arc::new(Notify::new()),
            alerts: Arc::new(Notify::new()),
        }
    }

    /// The declarations' database (for searches).
    pub(crate) fn database(&self) -> &Database {
        &self.database
    }

    /// Asks scoring to assess (and record) declarations, all in one call: one result
    /// each, None when scoring recorded that id before with other content.
    async fn assess(
        &self,
        declarations: &[(&str, &Declaration)],
    ) -> Result<Vec<Option<ShipmentAssessment>>, Error> {
        self.assess_as(declarations, true).await
    }

    /// As [`Self::assess`]; with `record` false, scoring assesses without recording (a
    /// re-assessment of declarations it recorded before).
    pub(crate) async fn assess_as(
        &self,
        declarations: &[(&str, &Declaration)],
        record: bool,
    ) -> Result<Vec<Option<ShipmentAssessment>>, Error> {
        let request = AssessShipmentsRequest {
            shipments: declarations
                .iter()
                .map(|(authority, declaration)| declarations::to_scoring(authority, declaration))
                .collect(),
            record,
        };
        let results = self
            .scoring
            .assess_shipments(request)
            .await
            .map_err(Error::Scoring)?
            .results;
        if results.len() != declarations.len() {
            return Err(Error::Scoring(tonic::Status::internal(
                "scoring answered a batch with another number of results",
            )));
        }
        Ok(results
            .into_iter()
            .zip(declarations)
            .map(|(result, (_, declaration))| {
                if result.conflict {
                    tracing::error!(declaration.id = %declaration.declaration_id,
                        "scoring holds other content under this declaration id: left pending");
                }
                result.assessment.filter(|_| !result.conflict)
            })
            .collect())
    }

    /// Asks scoring to assess declarations in calls of at most [`ASSESS_CALL_BYTES`]: one
    /// result each, None while pending (scoring did not answer, refused that one, or holds
    /// other content under its id). A call
    /// that scoring refuses for its content is retried one declaration at a time, so one
    /// declaration scoring will not take does not hold back the others (found by a tester:
    /// one refused declaration kept every later pending one unassessed).
    async fn assess_in_calls(
        &self,
        declarations: &[(&str, &Declaration)],
    ) -> Vec<Option<ShipmentAssessment>> {
        let mut assessments = Vec::with_capacity(declarations.len());
        for call in calls(declarations) {
            let answered: Vec<Result<Option<ShipmentAssessment>, String>> =
                match self.assess(call).await {
                    Ok(results) => results.into_iter().map(Ok).collect(),
                    Err(Error::Scoring(status)) if refused(&status) && call.len() > 1 => {
                        let mut one_by_one = Vec::with_capacity(call.len());
                        for single in call.chunks(1) {
                            one_by_one.push(match self.assess(single).await {
                                Ok(mut results) => Ok(results.pop().flatten()),
                                Err(error) => Err(cause_chain(&error)),
                            });
                        }
                        one_by_one
                    }
                    Err(error) => vec![Err(cause_chain(&error)); call.len()],
                };
            // One line per call, not per declaration: while scoring is away every retry
            // round would log each pending declaration again.
            let mut pending: Vec<(&str, String)> = Vec::new();
            for (result, (_, declaration)) in answered.into_iter().zip(call) {
                assessments.push(result.unwrap_or_else(|error| {
                    pending.push((&declaration.declaration_id, error));
                    None
                }));
            }
            if let Some((first, error)) = pending.first() {
                tracing::warn!(declarations = pending.len(), first.declaration.id = %first,
                    %error, "assessments pending: scoring did not assess (the first's error shown)");
                // The worker tries again soon.
                self.wake.notify_one();
            }
        }
        assessments
    }

    /// Assesses stored declarations now if scoring answers and stores their assessments;
    /// otherwise (scoring or the database failing) they stay pending. One result each: None
    /// while pending.
    async fn try_assess(
        &self,
        declarations: &[(&str, &Declaration)],
    ) -> Vec<Option<ShipmentAssessment>> {
        if declarations.is_empty() {
            return Vec::new();
        }
        let assessments = self.assess_in_calls(declarations).await;
        // One transaction for the batch; a failure leaves it pending for the worker, which
        // scoring answers from what it recorded.
        let mut records = Vec::with_capacity(declarations.len());
        for ((authority, declaration), assessment) in declarations.iter().zip(&assessments) {
            if let Some(assessment) = assessment {
                records.push(AssessmentRecord {
                    authority,
                    declaration_id: &declaration.declaration_id,
                    assessment,
                    // RED and YELLOW raise an alert.
                    alert: assessment.lane == Lane::Red as i32
                        || assessment.lane == Lane::Yellow as i32,
                });
            }
        }
        let write = store::write_assessments(&self.database, &records, AssessmentWrite::Arrival);
        if let Err(error) = db::bounded(write).await {
            // The worker's next round assesses them again; scoring answers from its record.
            tracing::warn!(%error, "assessments not stored: left pending for the worker");
            return vec![None; declarations.len()];
        }
        self.alerts.notify_waiters();
        assessments
    }

    /// Stores and assesses a batch of declarations from `authority`, one result each.
    pub async fn submit(
        &self,
        authority: &str,
        declarations: Vec<Declaration>,
    ) -> Result<Vec<DeclarationResult>, Error> {
        let mut results = Vec::with_capacity(declarations.len());
        // Valid declarations with their encoding and content hash, stored together.
        let mut valid: Vec<(usize, Declaration, Vec<u8>, Vec<u8>)> = Vec::new();
        for (index, mut declaration) in declarations.into_iter().enumerate() {
            let violations =
                declarations::validate(&mut declaration, &format!("declarations[{index}]"));
            // The id as stored (trimmed), as every later call names it; one too long to be
            // an id is echoed cut to that length (found by a tester: 200,000 characters
            // came back).
            let mut result = DeclarationResult {
                index: index as i32,
                declaration_id: declaration
                    .declaration_id
                    .chars()
                    .take(acx_domain::customs::MAX_ID_CHARS)
                    .collect(),
                ..Default::default()
            };
            if violations.is_empty() {
                let payload = declaration.encode_to_vec();
                let hash = declarations::content_hash(&payload);
                valid.push((index, declaration, payload, hash));
            } else {
                result.outcome = DeclarationOutcome::Rejected as i32;
                result.violations = bounded(violations, &format!("declarations[{index}]"));
            }
            results.push(result);
        }
        let receive_time_us = now_micros();
        let new: Vec<store::NewDeclaration> = valid
            .iter()
            .map(|(_, declaration, payload, hash)| store::NewDeclaration {
                authority,
                declaration,
                content_hash: hash,
                payload,
                receive_time_us,
            })
            .collect();
        let inserted = store::insert(&self.database, &new).await?;
        drop(new);
        // Accepted declarations (with their content hash), assessed together now that all
        // are stored; repeats of them in the batch answer as they do.
        let mut accepted: Vec<(usize, Declaration, Vec<u8>)> = Vec::new();
        let mut repeats: Vec<(usize, usize)> = Vec::new();
        for ((index, declaration, _, hash), inserted) in valid.into_iter().zip(inserted) {
            let result = &mut results[index];
            if inserted {
                result.outcome = DeclarationOutcome::Accepted as i32;
                result.assessment_state = AssessmentState::Pending as i32;
                accepted.push((index, declaration, hash));
                continue;
            }
            let id = &declaration.declaration_id;
            if let Some(first) = accepted
                .iter()
                .position(|(_, d, _)| &d.declaration_id == id)
            {
                result.outcome = if accepted[first].2 == hash {
                    DeclarationOutcome::Duplicate
                } else {
                    DeclarationOutcome::AlreadyExists
                } as i32;
                result.assessment_state = AssessmentState::Pending as i32;
                repeats.push((index, first));
                continue;
            }
            let Some(stored) = store::get(&self.database, authority, id).await? else {
                return Err(Error::NotFound(format!(
                    "declaration {id} vanished while being stored"
                )));
            };
            let same = declarations::same_content(
                &stored.content_hash,
                &stored.payload,
                &hash,
                &declaration,
            );
            result.outcome = if same {
                DeclarationOutcome::Duplicate
            } else {
                DeclarationOutcome::AlreadyExists
            } as i32;
            let shipment = to_shipment(stored)?;
            result.assessment_state = shipment.assessment_state;
            if let Some(assessment) = shipment.assessment {
                result.lane = assessment.lane;
                result.risk = assessment.risk;
            }
        }
        let batch: Vec<(&str, &Declaration)> =
            accepted.iter().map(|(_, d, _)| (authority, d)).collect();
        let assessments = self.try_assess(&batch).await;
        for ((index, _, _), assessment) in accepted.iter().zip(assessments) {
            if let Some(assessment) = assessment {
                let result = &mut results[*index];
                result.assessment_state = AssessmentState::Assessed as i32;
                result.lane = assessment.lane;
                result.risk = assessment.risk;
            }
        }
        for (index, first) in repeats {
            let first = &results[accepted[first].0];
            let (state, lane, risk) = (first.assessment_state, first.lane, first.risk);
            let result = &mut results[index];
            result.assessment_state = state;
            result.lane = lane;
            result.risk = risk;
        }
        Ok(results)
    }

    /// One of `authority`'s shipments.
    pub async fn get(&self, authority: &str, declaration_id: &str) -> Result<Shipment, Error> {
        let row = self
            .reader
            .get(authority, declaration_id)
            .await?
            .ok_or_else(|| {
                Error::NotFound(format!(
                    "no shipment shipments/{declaration_id} of this authority"
                ))
            })?;
        let mut shipment = to_shipment(row)?;
        shipment.assessment_history =
            reassess::history(&self.database, authority, declaration_id).await?;
        Ok(shipment)
    }

    /// Alerts of `authority` after `cursor`, oldest first: (cursor, the lane and risk that
    /// raised it, the shipment now).
    pub async fn alerts_after(
        &self,
        authority: &str,
        cursor: i64,
        limit: i64,
    ) -> Result<Vec<(i64, (i32, f64), Shipment)>, Error> {
        let mut alerts = Vec::new();
        for alert in store::alerts_after(&self.database, authority, cursor, limit).await? {
            let shipment = to_shipment(alert.row)?;
            // Alerts stored before their lane was kept: the shipment's assessment now.
            let now = shipment
                .assessment
                .as_ref()
                .map_or((0, 0.0), |a| (a.lane, a.risk));
            let raised = match (alert.raised_lane, alert.raised_risk) {
                (Some(lane), Some(risk)) => (lane, risk),
                _ => now,
            };
            alerts.push((alert.seq, raised, shipment));
        }
        Ok(alerts)
    }

    /// Wakes when a new assessment may have produced an alert.
    pub fn alert_signal(&self) -> Arc<Notify> {
        Arc::clone(&self.alerts)
    }

    /// Records an inspection result of one of `authority`'s shipments and forwards it;
    /// `result` was checked by [`validate_result`].
    pub async fn record_result(
        &self,
        authority: &str,
        declaration_id: &str,
        mut result: InspectionResult,
    ) -> Result<Shipment, Error> {
        result.forwarded = false;
        let timed = result.inspect_time.is_some();
        if !timed {
            result.inspect_time = Some(to_timestamp(now_micros()));
        }
        // The shipment must exist (and be the caller's) before anything is stored.
        let shipment = self.get(authority, declaration_id).await?;
        if let Some(declaration) = &shipment.declaration {
            let violations = contradictions(&result, declaration, timed);
            if !violations.is_empty() {
                return Err(Error::Invalid(violations));
            }
        }
        if !store::insert_result(&self.database, authority, declaration_id, &result).await? {
            let existing = store::result(&self.database, authority, declaration_id)
                .await?
                .unwrap_or_default();
            // Every field the caller gave (found by a tester: a corrected rights owner or
            // note answered OK and was not stored); a retry without a time takes the stored one.
            let same = existing.kind == result.kind
                && existing.seized_quantity == result.seized_quantity
                && existing.assessed_value == result.assessed_value
                && existing.extra_duty == result.extra_duty
                // Trimmed on both sides: a result stored before these were trimmed.
                && existing.rights_owner.trim() == result.rights_owner
                && existing.note.trim() == result.note
                && (!timed || existing.inspect_time == result.inspect_time);
            if !same {
                return Err(Error::AlreadyExists(format!(
                    "shipments/{declaration_id} already has a different inspection result"
                )));
            }
        }
        self.forward(authority, declaration_id).await?;
        self.get(authority, declaration_id).await
    }

    /// Sends one stored result to scoring; marks it forwarded once scoring acknowledges.
    async fn forward(&self, authority: &str, declaration_id: &str) -> Result<(), Error> {
        let Some(result) =
            db::bounded(store::result(&self.database, authority, declaration_id)).await?
        else {
            return Ok(());
        };
        if result.forwarded {
            return Ok(());
        }
        let request = RecordOutcomeRequest {
            authority: authority.to_owned(),
            declaration_id: declaration_id.to_owned(),
            kind: result.kind,
            inspect_time: result.inspect_time,
            extra_duty: result.extra_duty.clone(),
        };
        let acknowledged = match self.scoring.record_outcome(request).await {
            Ok(_) => true,
            Err(status) => {
                // NOT_FOUND: scoring has not recorded the declaration yet (still pending).
                // DEADLINE_EXCEEDED: it did not answer in time; the outbox keeps the result.
                if !matches!(status.code(), Code::NotFound | Code::DeadlineExceeded) {
                    tracing::warn!(declaration.id = %declaration_id, code = ?status.code(), "outcome not forwarded yet");
                }
                false
            }
        };
        db::bounded(store::mark_forwarded(
            &self.database,
            authority,
            declaration_id,
            acknowledged,
        ))
        .await?;
        if !acknowledged {
            self.wake.notify_one();
        }
        Ok(())
    }

    /// One round of the worker: assess pending declarations, forward unacknowledged results.
    async fn work(&self) -> Result<(), Error> {
        let pending = db::bounded(store::pending(&self.database, WORKER_BATCH)).await?;
        let declarations = pending
            .iter()
            .map(|row| {
                Ok((
                    row.authority.as_str(),
                    Declaration::decode(row.payload.as_slice())?,
                ))
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let batch: Vec<(&str, &Declaration)> = declarations.iter().map(|(a, d)| (*a, d)).collect();
        let assessed = self.try_assess(&batch).await;
        let done = assessed.iter().filter(|a| a.is_some()).count();
        if done > 0 {
            tracing::info!(declarations = done, "pending declarations assessed");
        } else if !assessed.is_empty() {
            return Ok(()); // scoring still down: try again next round
        }
        for (authority, declaration_id, _) in
            db::bounded(store::unforwarded(&self.database, WORKER_BATCH)).await?
        {
            self.forward(&authority, &declaration_id).await?;
        }
        Ok(())
    }

    /// Runs the worker until `shutdown`.
    pub async fn run_worker(self, shutdown: Shutdown) {
        loop {
            tokio::select! {
                () = tokio::time::sleep(WORKER_INTERVAL) => {}
                () = self.wake.notified() => tokio::time::sleep(Duration::from_millis(200)).await,
                () = shutdown.triggered() => return,
            }
            if let Err(error) = self.work().await {
                tracing::warn!(error = %cause_chain(&error), "liaison worker round failed");
            }
        }
    }
}
