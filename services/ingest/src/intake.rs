//! One batch of reports in: each report checked and prepared, classified against what the
//! platform already stored (accepted, duplicate, already exists, rejected), and the
//! accepted ones written in one transaction that also gives them their feed sequences.

use std::{
    collections::{HashMap, HashSet},
    time::SystemTime,
};

use acx_domain::identifiers::{IdentifierKeys, Normalization};
use acx_proto::ingest::{
    FieldViolation as PbViolation, Report, ReportKind, ReportOutcome, ReportResult, report::Kind,
};
use acx_runtime::{Database, FieldViolation};
use prost::Message;
use rayon::iter::{IndexedParallelIterator, IntoParallelIterator, ParallelIterator};
use tokio::sync::watch;

use crate::{
    Error,
    prepare::{Prepared, Rejection, Rules, prepare_with},
    store,
};

/// Takes batches in and announces the new feed head after each commit.
#[derive(Debug)]
pub struct Intake {
    database: Database,
    keys: IdentifierKeys,
    /// Current rules, with the legacy versions configured.
    rules: Rules,
    head: watch::Sender<i64>,
}

/// What happened to one report, before sequences are known.
enum Decision {
    Rejected(Rejection),
    /// To be inserted: position among the candidates (accepted unless its id is taken).
    Candidate(usize),
    /// Same content as an earlier candidate of this batch (its position): answered as that
    /// candidate is, DUPLICATE if it was stored or is a retry, else ALREADY_EXISTS.
    Duplicate(usize),
    /// The same id as an earlier candidate of this batch (its position), with different
    /// content: ALREADY_EXISTS, unless that candidate was not stored and this copy has the
    /// stored report's content (then DUPLICATE); kept to compare with the stored one.
    AlreadyExists(usize, Box<Prepared>, Option<Vec<u8>>),
}

/// A batch checked and prepared, ready for [`Intake::store_batch`].
#[derive(Debug)]
pub struct PreparedBatch {
    now: SystemTime,
    items: Vec<PreparedItem>,
    /// Ids the batch's retractions withdraw.
    targets: Vec<String>,
    /// The `traceparent` of the call that sent the batch, stored with its reports.
    trace_context: Option<String>,
}

#[derive(Debug)]
struct PreparedItem {
    report_id: String,
    prepared: Result<Prepared, Rejection>,
    /// The report as submitted, encoded, kept only during a key rotation or while legacy
    /// normalisation versions are configured (always, by default). Encoded rather than
    /// cloned: one buffer instead of a copy of every string, and it is read back only for
    /// a retry of a report stored under other rules.
    original: Option<Vec<u8>>,
}

/// The fewest reports [`Intake::prepare_batch`] gives one thread: about a millisecond of
/// preparation, so that handing work to another thread costs little beside it.
const MIN_REPORTS_PER_THREAD: usize = 64;

fn retraction_target(report: &Report) -> Option<&str> {
    match &report.kind {
        Some(Kind::Retraction(retraction)) => Some(retraction.retracted_report_id.as_str()),
        _ => None,
    }
}

impl Intake {
    /// Intake over `database`, hashing with `keys` under the current normalisation and the
    /// `legacy` versions; `head` is the highest stored sequence.
    pub fn new(
        database: Database,
        keys: IdentifierKeys,
        legacy: Vec<Normalization>,
        head: i64,
    ) -> Self {
        Self {
            database,
            keys,
            rules: Rules {
                version: Normalization::CURRENT,
                legacy,
            },
            head: watch::channel(head).0,
        }
    }

    /// Follows the feed head: changes after every commit that added reports.
    pub fn watch_head(&self) -> watch::Receiver<i64> {
        self.head.subscribe()
    }

    /// The database the intake writes to.
    pub fn database(&self) -> &Database {
        &self.database
    }

    /// The CPU half of a batch: checks and prepares every report, touching no database,
    /// so that a bulk load can prepare one batch while the previous one is written.
    ///
    /// A large batch is spread over the machine's cores (rayon's pool; reports are prepared
    /// independently, results keep the batch's order): one bulk-load stream is otherwise
    /// bound by one core's preparation.
    pub fn prepare_batch(&self, platform: &str, reports: Vec<Report>) -> PreparedBatch {
        let now = SystemTime::now();
        let mut targets: Vec<String> = reports
            .iter()
            .filter_map(retraction_target)
            .filter(|id| !id.is_empty())
            .map(str::to_owned)
            .collect();
        targets.sort_unstable();
        targets.dedup();
        // After a key rotation or a change of normalisation a retry must be compared under
        // the key and rules that made the stored report, which needs the report as
        // submitted: keep it only then.
        let keep_originals = self.keys.len() > 1 || !self.rules.legacy.is_empty();
        let items = reports
            .into_par_iter()
            .enumerate()
            .with_min_len(MIN_REPORTS_PER_THREAD)
            .map(|(position, report)| {
                self.prepare_item(platform, position, report, keep_originals, now)
            })
            .collect();
        PreparedBatch {
            now,
            items,
            targets,
            trace_context: acx_telemetry::current_traceparent(),
        }
    }

    /// Prepares `reports[position]` of a batch; `keep_original` keeps it as submitted.
    fn prepare_item(
        &self,
        platform: &str,
        position: usize,
        report: Report,
        keep_original: bool,
        now: SystemTime,
    ) -> PreparedItem {
        let report_id = report.report_id.clone();
        let original = keep_original.then(|| report.encode_to_vec());
        let nest = |list: Vec<FieldViolation>| -> Vec<FieldViolation> {
            if list.is_empty() {
                return list;
            }
            let path = format!("reports[{position}]");
            list.into_iter().map(|v| v.nested(&path)).collect()
        };
        let prepared = match prepare_with(report, platform, self.keys.current(), &self.rules, now) {
            Ok(mut prepared) => {
                prepared.warnings = nest(std::mem::take(&mut prepared.warnings));
                Ok(prepared)
            }
            Err(rejection) => Err(Rejection {
                violations: nest(rejection.violations),
                warnings: nest(rejection.warnings),
            }),
        };
        PreparedItem {
            report_id,
            prepared,
            original,
        }
    }

    /// The database half of a batch: classifies the prepared reports against what the
    /// platform stored and writes the new ones in one transaction; one result per report, in
    /// order. `first_index` is the index of the batch's first report in the caller's
    /// numbering (bulk loads count across their whole stream).
    ///
    /// New reports are inserted without a prior lookup; only those whose id turns out to be
    /// taken are read back and classified as duplicates or conflicts. Retraction targets are
    /// looked up first, since they decide acceptance.
    pub async fn store_batch(
        &self,
        platform: &str,
        batch: PreparedBatch,
        first_index: usize,
    ) -> Result<Vec<ReportResult>, Error> {
        let PreparedBatch {
            now,
            items,
            targets,
            trace_context,
        } = batch;
        let mut tx = store::begin_write(&self.database).await?;
        // One look-up for the batch's retractions: their targets, which decide acceptance,
        // and their own ids, since a retraction whose id is taken (a retry or a conflict) is
        // never stored and so withdraws no target for later ones.
        let retraction_ids: Vec<&str> = if targets.is_empty() {
            Vec::new()
        } else {
            items
                .iter()
                .filter_map(|item| item.prepared.as_ref().ok())
                .filter(|prepared| prepared.retracts.is_some())
                .map(|prepared| prepared.report_id.as_str())
                .collect()
        };
        let mut stored_targets = if targets.is_empty() {
            HashMap::new()
        } else {
            let ids: Vec<&str> = targets
                .iter()
                .map(String::as_str)
                .chain(retraction_ids.iter().copied())
                .collect();
            tx.existing(platform, &ids).await?
        };
        let taken_retractions: HashSet<String> = retraction_ids
            .into_iter()
            .filter(|id| stored_targets.contains_key(*id))
            .map(str::to_owned)
            .collect();
        let mut candidates: Vec<Prepared> = Vec::new();
        let mut originals: Vec<Option<Vec<u8>>> = Vec::new();
        let mut in_batch: HashMap<String, usize> = HashMap::new();
        let mut decisions = Vec::with_capacity(items.len());
        let mut report_ids = Vec::with_capacity(items.len());
        let mut warnings = Vec::with_capacity(items.len());
        for (position, item) in items.into_iter().enumerate() {
            report_ids.push(item.report_id);
            let original = item.original;
            let prepared = match item.prepared {
                Ok(mut prepared) => {
                    warnings.push(std::mem::take(&mut prepared.warnings));
                    prepared
                }
                Err(mut rejection) => {
                    warnings.push(std::mem::take(&mut rejection.warnings));
                    decisions.push(Decision::Rejected(rejection));
                    continue;
                }
            };
            if let Some(&slot) = in_batch.get(&prepared.report_id) {
                decisions.push(if candidates[slot].content_hash == prepared.content_hash {
                    Decision::Duplicate(slot)
                } else {
                    Decision::AlreadyExists(slot, Box::new(prepared), original)
                });
                continue;
            }
            if let Some(target) = &prepared.retracts {
                if let Some(problem) = retraction_problem(
                    &prepared.report_id,
                    target,
                    &stored_targets,
                    &in_batch,
                    &candidates,
                    &taken_retractions,
                ) {
                    let field = format!("reports[{position}].retraction.retracted_report_id");
                    decisions.push(Decision::Rejected(Rejection {
                        violations: vec![FieldViolation::new(field, problem)],
                        warnings: Vec::new(),
                    }));
                    continue;
                }
                // Later retractions in this batch see the target as withdrawn, unless this
                // one's id is taken: then it is not stored and withdraws nothing.
                if !taken_retractions.contains(&prepared.report_id)
                    && let Some(stored) = stored_targets.get_mut(target.as_str())
                {
                    stored.retracted_by = Some(prepared.report_id.clone());
                }
            }
            in_batch.insert(prepared.report_id.clone(), candidates.len());
            decisions.push(Decision::Candidate(candidates.len()));
            candidates.push(prepared);
            originals.push(original);
        }

        let rows: Vec<&Prepared> = candidates.iter().collect();
        let inserted = if rows.is_empty() {
            HashMap::new()
        } else {
            tx.insert_new(
                platform,
                &rows,
                acx_runtime::time::from_timestamp(&now.into()),
                trace_context.as_deref(),
            )
            .await?
        };
        // Candidates whose id was taken: a retry (same content) or a conflicting reuse.
        let taken: Vec<&str> = candidates
            .iter()
            .map(|c| c.report_id.as_str())
            .filter(|id| !inserted.contains_key(*id))
            .collect();
        let stored = if taken.is_empty() {
            HashMap::new()
        } else {
            tx.existing(platform, &taken).await?
        };
        // The stored forms of the taken ids whose content hash differs: a retry under another
        // key or rules, or a conflicting reuse. A plain retry reads none.
        let differing: Vec<&str> = candidates
            .iter()
            .filter(|c| {
                stored.get(&c.report_id).is_some_and(|existing| {
                    existing.key_id != c.key_id || existing.content_hash != c.content_hash
                })
            })
            .map(|c| c.report_id.as_str())
            .collect();
        let payloads = if differing.is_empty() {
            HashMap::new()
        } else {
            tx.payloads(platform, &differing).await?
        };
        let payload_of = |id: &str| payloads.get(id).map(Vec::as_slice);
        let mut outcome_of_candidate = Vec::with_capacity(candidates.len());
        for (candidate, original) in candidates.iter().zip(originals) {
            let outcome = match (
                inserted.get(&candidate.report_id),
                stored.get(&candidate.report_id),
            ) {
                (Some(&sequence), _) => {
                    if let Some(target) = &candidate.retracts {
                        tx.mark_retracted(platform, target, &candidate.report_id)
                            .await?;
                    }
                    (ReportOutcome::Accepted, sequence)
                }
                (None, Some(existing)) => {
                    let same = self.same_content(
                        candidate,
                        original,
                        existing,
                        payload_of(&candidate.report_id),
                        platform,
                        now,
                    );
                    let outcome = if same {
                        ReportOutcome::Duplicate
                    } else {
                        ReportOutcome::AlreadyExists
                    };
                    (outcome, existing.sequence)
                }
                // Unreachable under the writer lock; reported rather than assumed.
                (None, None) => (ReportOutcome::AlreadyExists, 0),
            };
            outcome_of_candidate.push(outcome);
        }
        tx.commit().await?;
        if let Some(&last) = inserted.values().max() {
            self.head.send_if_modified(|head| {
                let advanced = last > *head;
                if advanced {
                    *head = last;
                }
                advanced
            });
        }

        let sequence_of = |slot: usize| {
            outcome_of_candidate
                .get(slot)
                .map_or(0, |(_, sequence)| *sequence)
        };
        let to_pb = |list: Vec<FieldViolation>| -> Vec<PbViolation> {
            list.into_iter()
                .map(|v| PbViolation {
                    field: v.field,
                    description: v.description,
                })
                .collect()
        };
        Ok(decisions
            .into_iter()
            .zip(report_ids)
            .zip(warnings)
            .enumerate()
            .map(|(position, ((decision, report_id), warnings))| {
                let (outcome, sequence, violations) = match decision {
                    Decision::Rejected(rejection) => {
                        (ReportOutcome::Rejected, 0, rejection.violations)
                    }
                    Decision::Candidate(slot) => {
                        let (outcome, sequence) = outcome_of_candidate[slot];
                        (outcome, sequence, Vec::new())
                    }
                    Decision::Duplicate(slot) => {
                        let outcome = match outcome_of_candidate[slot].0 {
                            ReportOutcome::AlreadyExists => ReportOutcome::AlreadyExists,
                            _ => ReportOutcome::Duplicate,
                        };
                        (outcome, sequence_of(slot), Vec::new())
                    }
                    Decision::AlreadyExists(slot, prepared, original) => {
                        // The first copy was refused: this one may be the stored content.
                        let retry = outcome_of_candidate[slot].0 == ReportOutcome::AlreadyExists
                            && stored.get(&prepared.report_id).is_some_and(|existing| {
                                self.same_content(
                                    &prepared,
                                    original,
                                    existing,
                                    payload_of(&prepared.report_id),
                                    platform,
                                    now,
                                )
                            });
                        let outcome = if retry {
                            ReportOutcome::Duplicate
                        } else {
                            ReportOutcome::AlreadyExists
                        };
                        (outcome, sequence_of(slot), Vec::new())
                    }
                };
                ReportResult {
                    index: (first_index + position) as i32,
                    report_id,
                    outcome: outcome as i32,
                    sequence,
                    violations: to_pb(violations),
                    warnings: to_pb(warnings),
                }
            })
            .collect())
    }

    /// Whether `candidate` has the content of the `existing` report of the same id,
    /// comparing under the key and the normalisation rules that made the stored one: the
    /// current rules and each legacy version, under the stored report's key. `payload` is
    /// the stored report's encoded form, read when the hashes differ.
    fn same_content(
        &self,
        candidate: &Prepared,
        original: Option<Vec<u8>>,
        existing: &store::Existing,
        payload: Option<&[u8]>,
        platform: &str,
        now: SystemTime,
    ) -> bool {
        if existing.key_id == candidate.key_id && existing.content_hash == candidate.content_hash {
            return true;
        }
        // The stored report read by today's rules, against the retry: an earlier version
        // stored it less canonical (a shipment notice's numbers in the order sent; found by
        // a tester: the same notice with its numbers reordered was ALREADY_EXISTS).
        if let (Some(current_key), Some(Ok(stored))) = (
            self.keys.get(&candidate.key_id),
            payload.map(Report::decode),
        ) {
            let today = Rules {
                version: self.rules.version,
                legacy: Vec::new(),
            };
            if prepare_with(stored, platform, current_key, &today, now)
                .is_ok_and(|again| again.content_hash == candidate.content_hash)
            {
                return true;
            }
        }
        let (Some(original), Some(key)) = (original, self.keys.get(&existing.key_id)) else {
            return false;
        };
        // Bytes this process encoded: they decode.
        let Ok(original) = Report::decode(original.as_slice()) else {
            return false;
        };
        let mut versions = self.rules.legacy.clone();
        if existing.key_id != candidate.key_id {
            versions.insert(0, self.rules.version);
        }
        versions.into_iter().any(|version| {
            let rules = Rules {
                version,
                legacy: Vec::new(),
            };
            prepare_with(original.clone(), platform, key, &rules, now)
                .is_ok_and(|again| again.content_hash == existing.content_hash)
        })
    }
}

/// Why the retraction `own_id` of `target` cannot be accepted, if it cannot. A target
/// withdrawn by `own_id` itself is no problem: that is the same retraction sent again, which
/// the id check answers as DUPLICATE (or ALREADY_EXISTS with other content), as any retry.
/// Retractions of this batch whose ids are in `taken` are not stored and withdraw nothing.
fn retraction_problem(
    own_id: &str,
    target: &str,
    existing: &HashMap<String, store::Existing>,
    in_batch: &HashMap<String, usize>,
    accepted: &[Prepared],
    taken: &HashSet<String>,
) -> Option<String> {
    let (kind, retracted_by) = if let Some(stored) = existing.get(target) {
        (stored.kind, stored.retracted_by.clone())
    } else if let Some(&slot) = in_batch.get(target) {
        let withdrawn = accepted
            .iter()
            .find(|r| r.retracts.as_deref() == Some(target) && !taken.contains(&r.report_id))
            .map(|r| r.report_id.clone());
        (accepted[slot].kind as i32, withdrawn)
    } else {
        return Some("no accepted report of this platform has this id".to_owned());
    };
    if kind == ReportKind::Retraction as i32 {
        return Some("a retraction cannot be retracted".to_owned());
    }
    retracted_by
        .filter(|by| by != own_id)
        .map(|by| format!("is already retracted by report {by}"))
}
