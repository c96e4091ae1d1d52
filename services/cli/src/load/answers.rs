//! The accounting side of a load: each answer of the server, in order, turned into
//! rejects (in line order), counts, progress and checkpoints.

use std::{
    collections::VecDeque,
    fs::File,
    io::{BufWriter, Seek, Write},
    path::Path,
    sync::Mutex,
    time::Instant,
};

use acx_proto::ingest::{BulkLoadReportsResponse, ReportOutcome, ReportResult};
use serde::Serialize;

use super::{LoadOptions, input::BatchMeta, pop};
use crate::{
    checkpoint::{Checkpoint, Totals},
    error::CliError,
    progress::Progress,
};

/// One line that was not stored, as written to the rejects file.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Reject {
    pub(super) line: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) report_id: Option<String>,
    /// `REJECTED` (invalid fields), `ALREADY_EXISTS` (the id holds another report),
    /// `UNPARSEABLE` (not a report in the JSON mapping), `TOO_LARGE` (over 3 MiB encoded:
    /// no message carries it) or `STORED_WITH_WARNINGS` (stored, with the values its
    /// violations name left out).
    pub(super) outcome: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) violations: Vec<Violation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub(super) struct Violation {
    field: String,
    description: String,
}

/// Opens the rejects file: new for a fresh load, cut back to the checkpoint's length for
/// a resumed one (so rejects written after the checkpoint are not written twice).
pub(super) fn open_rejects(
    path: &Path,
    checkpoint: Option<&Checkpoint>,
) -> Result<(BufWriter<File>, u64), CliError> {
    let Some(checkpoint) = checkpoint else {
        let file = File::create(path).map_err(CliError::io(path))?;
        return Ok((BufWriter::new(file), 0));
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(CliError::io(path))?;
    let length = file.metadata().map_err(CliError::io(path))?.len();
    if length < checkpoint.rejects_bytes {
        return Err(CliError::Usage(format!(
            "{} is shorter than its checkpoint says ({length} < {} bytes); \
             pass --restart to load from the start",
            path.display(),
            checkpoint.rejects_bytes
        )));
    }
    file.set_len(checkpoint.rejects_bytes)
        .map_err(CliError::io(path))?;
    file.seek(std::io::SeekFrom::End(0))
        .map_err(CliError::io(path))?;
    Ok((BufWriter::new(file), checkpoint.rejects_bytes))
}

/// What this task keeps while answers arrive.
pub(super) struct LoadState {
    pub(super) options: LoadOptions,
    pub(super) base: Totals,
    /// The server's cumulative counts for this run's stream.
    pub(super) run: BulkLoadReportsResponse,
    pub(super) run_unparseable: u64,
    /// Reports of this run stored with values left out.
    pub(super) run_warned: u64,
    pub(super) lines_done: u64,
    pub(super) prefix_sha256: String,
    pub(super) rejects: BufWriter<File>,
    pub(super) rejects_bytes: u64,
    pub(super) rejects_written: u64,
    pub(super) last_checkpoint: Instant,
    pub(super) progress: Progress,
}

impl LoadState {
    pub(super) fn totals(&self) -> Totals {
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        Totals {
            reports: self.base.reports + count(self.run.received),
            accepted: self.base.accepted + count(self.run.accepted),
            duplicates: self.base.duplicates + count(self.run.duplicates),
            rejected: self.base.rejected + count(self.run.rejected) + self.run_unparseable,
            unparseable: self.base.unparseable + self.run_unparseable,
            already_exists: self.base.already_exists + count(self.run.already_exists),
            warned: self.base.warned + self.run_warned,
        }
    }

    /// The server answered for the next batch it was sent.
    pub(super) fn answered(
        &mut self,
        queue: &Mutex<VecDeque<BatchMeta>>,
        answer: BulkLoadReportsResponse,
    ) -> Result<(), CliError> {
        let unexpected = || CliError::Failed("the server answered for a batch never sent".into());
        let meta = loop {
            let meta = pop(queue).ok_or_else(unexpected)?;
            if meta.first_index.is_some() {
                break meta;
            }
            self.account(meta, &[], &[])?; // unsent batches before it
        };
        let expected = meta.first_index.unwrap_or(0) + meta.report_lines.len() as u64;
        if u64::try_from(answer.received).ok() != Some(expected) {
            return Err(CliError::Failed(format!(
                "the server counted {} reports where {expected} were sent",
                answer.received
            )));
        }
        let problems = answer.problems.clone();
        let warnings = answer.warnings.clone();
        self.run = answer;
        self.account(meta, &problems, &warnings)
    }

    /// Writes a batch's rejects (and its reports stored with values left out) in line order,
    /// moves the checkpoint past its lines.
    pub(super) fn account(
        &mut self,
        meta: BatchMeta,
        problems: &[ReportResult],
        warnings: &[ReportResult],
    ) -> Result<(), CliError> {
        let first = meta.first_index.unwrap_or(0);
        self.run_unparseable += meta.unparseable.len() as u64;
        self.run_warned += warnings.len() as u64;
        let mut rejects = meta.unparseable;
        for problem in problems.iter().chain(warnings) {
            let line = u64::try_from(problem.index)
                .ok()
                .and_then(|index| index.checked_sub(first))
                .and_then(|offset| meta.report_lines.get(usize::try_from(offset).ok()?))
                .copied()
                .ok_or_else(|| {
                    CliError::Failed(format!(
                        "the server named report {} outside its batch",
                        problem.index
                    ))
                })?;
            let already_exists = problem.outcome() == ReportOutcome::AlreadyExists;
            let stored = matches!(
                problem.outcome(),
                ReportOutcome::Accepted | ReportOutcome::Duplicate
            );
            rejects.push(Reject {
                line,
                report_id: Some(problem.report_id.clone()),
                outcome: if stored {
                    "STORED_WITH_WARNINGS"
                } else if already_exists {
                    "ALREADY_EXISTS"
                } else {
                    "REJECTED"
                },
                violations: if stored {
                    &problem.warnings
                } else {
                    &problem.violations
                }
                .iter()
                .map(|v| Violation {
                    field: crate::output::within_item(&v.field, "reports").to_owned(),
                    description: v.description.clone(),
                })
                .collect(),
                error: already_exists.then(|| {
                    "the id holds a different report; reports are immutable: \
                     retract it and submit under a new id"
                        .to_owned()
                }),
            });
        }
        rejects.sort_by_key(|reject| reject.line);
        for reject in &rejects {
            let mut text = serde_json::to_vec(reject)
                .map_err(|e| CliError::Failed(format!("rejects: {e}")))?;
            text.push(b'\n');
            self.rejects
                .write_all(&text)
                .map_err(CliError::io(&self.options.rejects))?;
            self.rejects_bytes += text.len() as u64;
            self.rejects_written += 1;
        }
        self.lines_done = meta.last_line;
        self.prefix_sha256 = meta.prefix_sha256;
        if self.last_checkpoint.elapsed() >= self.options.checkpoint_interval {
            self.write_checkpoint()?;
        }
        let totals = self.totals();
        self.progress.update(self.lines_done, &totals);
        Ok(())
    }

    pub(super) fn flush_rejects(&mut self) -> Result<(), CliError> {
        self.rejects
            .flush()
            .map_err(CliError::io(&self.options.rejects))
    }

    /// The rejects file is made durable first, so it holds at least what the checkpoint
    /// says it does.
    pub(super) fn write_checkpoint(&mut self) -> Result<(), CliError> {
        self.flush_rejects()?;
        self.rejects
            .get_ref()
            .sync_data()
            .map_err(CliError::io(&self.options.rejects))?;
        Checkpoint {
            version: Checkpoint::VERSION,
            lines_done: self.lines_done,
            prefix_sha256: self.prefix_sha256.clone(),
            rejects_bytes: self.rejects_bytes,
            totals: self.totals(),
        }
        .write(&self.options.checkpoint)?;
        self.last_checkpoint = Instant::now();
        Ok(())
    }
}
