//! One batch of reports in: each report checked and prepared, classified against what the
//! platform already stored (accepted, duplicate, already exists, rejected), and the
//! accepted ones written in one transaction that also gives them their feed sequences.

use std::{
    collections::HashMap,
    time::{SystemTime, UNIX_EPOCH},
};

use acx_domain::identifiers::IdentifierKeys;
use acx_proto::ingest::{
    FieldViolation as PbViolation, Report, ReportKind, ReportOutcome, ReportResult, report::Kind,
};
use acx_runtime::{Database, FieldViolation};
use tokio::sync::watch;

use crate::{
    Error,
    prepare::{Prepared, prepare},
    store,
};

/// Takes batches in and announces the new feed head after each commit.
#[derive(Debug)]
pub struct Intake {
    database: Database,
    keys: IdentifierKeys,
    head: watch::Sender<i64>,
}

/// What happened to one report, before sequences are known.
enum Decision {
    Rejected(Vec<FieldViolation>),
    /// Accepted: position among the reports to insert.
    Accepted(usize),
    /// Same content as a stored report (its sequence) or as an earlier one of this batch.
    Duplicate(Earlier),
    /// The id holds different content.
    AlreadyExists(Earlier),
}

#[derive(Clone, Copy)]
enum Earlier {
    Stored(i64),
    InBatch(usize),
}

fn micros_since_epoch(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

fn retraction_target(report: &Report) -> Option<&str> {
    match &report.kind {
        Some(Kind::Retraction(retraction)) => Some(retraction.retracted_report_id.as_str()),
        _ => None,
    }
}

impl Intake {
    /// Intake over `database`, hashing with `keys`; `head` is the highest stored sequence.
    pub fn new(database: Database, keys: IdentifierKeys, head: i64) -> Self {
        Self {
            database,
            keys,
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

    /// Stores the valid reports of a batch from `platform`; one result per report, in order.
    /// `first_index` is the index of the first report in the caller's numbering (bulk loads
    /// count across their whole stream); violation paths name `reports[i]` of this batch.
    pub async fn submit(
        &self,
        platform: &str,
        reports: Vec<Report>,
        first_index: usize,
    ) -> Result<Vec<ReportResult>, Error> {
        let now = SystemTime::now();
        let mut lookup: Vec<&str> = reports.iter().map(|r| r.report_id.as_str()).collect();
        lookup.extend(reports.iter().filter_map(retraction_target));
        lookup.retain(|id| !id.is_empty());
        lookup.sort_unstable();
        lookup.dedup();

        let mut tx = store::begin_write(&self.database).await?;
        let mut existing = tx.existing(platform, &lookup).await?;

        let mut accepted: Vec<Prepared> = Vec::new();
        let mut in_batch: HashMap<String, usize> = HashMap::new();
        let mut decisions = Vec::with_capacity(reports.len());
        let mut report_ids = Vec::with_capacity(reports.len());
        for (position, report) in reports.into_iter().enumerate() {
            report_ids.push(report.report_id.clone());
            // A stored report is compared under the key that hashed it, so a key rotation
            // does not turn a retry into a conflict.
            let key = existing
                .get(&report.report_id)
                .and_then(|stored| self.keys.get(&stored.key_id))
                .unwrap_or_else(|| self.keys.current());
            let prepared = match prepare(report, platform, key, now) {
                Ok(prepared) => prepared,
                Err(violations) => {
                    let path = format!("reports[{position}]");
                    decisions.push(Decision::Rejected(
                        violations.into_iter().map(|v| v.nested(&path)).collect(),
                    ));
                    continue;
                }
            };
            if let Some(stored) = existing.get(&prepared.report_id) {
                let earlier = Earlier::Stored(stored.sequence);
                decisions.push(if stored.content_hash == prepared.content_hash {
                    Decision::Duplicate(earlier)
                } else {
                    Decision::AlreadyExists(earlier)
                });
                continue;
            }
            if let Some(&slot) = in_batch.get(&prepared.report_id) {
                let earlier = Earlier::InBatch(slot);
                decisions.push(if accepted[slot].content_hash == prepared.content_hash {
                    Decision::Duplicate(earlier)
                } else {
                    Decision::AlreadyExists(earlier)
                });
                continue;
            }
            if let Some(target) = &prepared.retracts
                && let Some(problem) =
                    self.retraction_problem(target, &existing, &in_batch, &accepted)
            {
                let field = format!("reports[{position}].retraction.retracted_report_id");
                decisions.push(Decision::Rejected(vec![FieldViolation::new(
                    field, problem,
                )]));
                continue;
            }
            if let Some(target) = &prepared.retracts {
                // Later retractions in this batch see the target as withdrawn.
                if let Some(stored) = existing.get_mut(target.as_str()) {
                    stored.retracted_by = Some(prepared.report_id.clone());
                }
            }
            in_batch.insert(prepared.report_id.clone(), accepted.len());
            decisions.push(Decision::Accepted(accepted.len()));
            accepted.push(prepared);
        }

        let sequences = if accepted.is_empty() {
            Vec::new()
        } else {
            let rows: Vec<&Prepared> = accepted.iter().collect();
            let sequences = tx.insert(platform, &rows, micros_since_epoch(now)).await?;
            for report in &accepted {
                if let Some(target) = &report.retracts {
                    tx.mark_retracted(platform, target, &report.report_id)
                        .await?;
                }
            }
            sequences
        };
        tx.commit().await?;
        if let Some(&last) = sequences.iter().max() {
            self.head.send_if_modified(|head| {
                let advanced = last > *head;
                if advanced {
                    *head = last;
                }
                advanced
            });
        }

        let sequence_of = |earlier: Earlier| match earlier {
            Earlier::Stored(sequence) => sequence,
            Earlier::InBatch(slot) => sequences.get(slot).copied().unwrap_or_default(),
        };
        Ok(decisions
            .into_iter()
            .zip(report_ids)
            .enumerate()
            .map(|(position, (decision, report_id))| {
                let (outcome, sequence, violations) = match decision {
                    Decision::Rejected(violations) => (ReportOutcome::Rejected, 0, violations),
                    Decision::Accepted(slot) => (
                        ReportOutcome::Accepted,
                        sequences.get(slot).copied().unwrap_or_default(),
                        Vec::new(),
                    ),
                    Decision::Duplicate(earlier) => {
                        (ReportOutcome::Duplicate, sequence_of(earlier), Vec::new())
                    }
                    Decision::AlreadyExists(earlier) => (
                        ReportOutcome::AlreadyExists,
                        sequence_of(earlier),
                        Vec::new(),
                    ),
                };
                ReportResult {
                    index: (first_index + position) as i32,
                    report_id,
                    outcome: outcome as i32,
                    sequence,
                    violations: violations
                        .into_iter()
                        .map(|v| PbViolation {
                            field: v.field,
                            description: v.description,
                        })
                        .collect(),
                }
            })
            .collect())
    }

    /// Why a retraction of `target` cannot be accepted, if it cannot.
    fn retraction_problem(
        &self,
        target: &str,
        existing: &HashMap<String, store::Existing>,
        in_batch: &HashMap<String, usize>,
        accepted: &[Prepared],
    ) -> Option<String> {
        let (kind, retracted_by) = if let Some(stored) = existing.get(target) {
            (stored.kind, stored.retracted_by.clone())
        } else if let Some(&slot) = in_batch.get(target) {
            let withdrawn = accepted
                .iter()
                .find(|r| r.retracts.as_deref() == Some(target))
                .map(|r| r.report_id.clone());
            (accepted[slot].kind as i32, withdrawn)
        } else {
            return Some("no accepted report of this platform has this id".to_owned());
        };
        if kind == ReportKind::Retraction as i32 {
            return Some("a retraction cannot be retracted".to_owned());
        }
        retracted_by.map(|by| format!("is already retracted by report {by}"))
    }
}
