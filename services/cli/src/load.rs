//! `acxctl reports load`: a JSON Lines file streamed to ingest's `BulkLoadReports`.
//!
//! Three stages, each bounded, so memory stays flat however large the file is:
//! - a reader thread reads and parses lines into batches (two batches ahead at most);
//! - the gRPC request stream hands them to the server, which reads the next batch only
//!   once the previous one is stored (HTTP/2 flow control slows the reader down);
//! - this task takes the server's answer to each batch, in order, writes the rejects of
//!   those lines, counts, draws progress and now and then writes the checkpoint.
//!
//! A batch is only counted, and the checkpoint only moves past its lines, once the server
//! has answered for it, so everything before the checkpoint is stored. A rerun skips those
//! lines; reports after it that were stored before the interruption come back
//! `DUPLICATE` (ingest deduplicates by report id), so nothing is ever stored twice.

use std::{
    collections::VecDeque,
    fs::File,
    io::{BufRead, BufReader, BufWriter, Seek, Write},
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use acx_client::{IngestClient, ServerError};
use acx_proto::ingest::{
    BulkLoadReportsRequest, BulkLoadReportsResponse, Report, ReportOutcome, ReportResult,
};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio_stream::{StreamExt, wrappers::ReceiverStream};

use crate::{
    checkpoint::{Checkpoint, Totals},
    error::CliError,
    json,
    progress::Progress,
};

/// What a load is asked to do.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// The JSON Lines input: one `acx.ingest.v1.Report` per line.
    pub input: PathBuf,
    /// Where the rejected lines go.
    pub rejects: PathBuf,
    /// Where the checkpoint is kept.
    pub checkpoint: PathBuf,
    /// Reports per batch (the server's limit is 1000 by default).
    pub batch_size: usize,
    /// Ignore an existing checkpoint and start from the first line.
    pub restart: bool,
    /// Read at most this many lines in this run, then checkpoint and stop.
    pub max_lines: Option<u64>,
    /// How often the checkpoint is written (zero: after every batch).
    pub checkpoint_interval: Duration,
    /// Draw progress on standard error.
    pub progress: bool,
}

/// How a load ended.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadSummary {
    /// The input.
    pub input: PathBuf,
    /// Lines dealt with, over every run of this load.
    pub lines: u64,
    /// Lines an earlier run had dealt with (skipped by this one).
    pub resumed_from_line: u64,
    /// The whole file is loaded (the checkpoint is gone).
    pub complete: bool,
    /// Stopped by a signal (Ctrl-C or SIGTERM).
    pub interrupted: bool,
    /// The counts, over every run of this load.
    #[serde(flatten)]
    pub totals: Totals,
    /// The rejects file; none when no line was rejected (an empty one is removed).
    pub rejects_file: Option<PathBuf>,
    /// Rejected lines written to it.
    pub rejects_written: u64,
    /// The checkpoint to resume from, while the load is incomplete.
    pub checkpoint_file: Option<PathBuf>,
}

/// One line that was not stored, as written to the rejects file.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct Reject {
    line: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    report_id: Option<String>,
    /// `REJECTED` (invalid fields), `ALREADY_EXISTS` (the id holds another report) or
    /// `UNPARSEABLE` (not a report in the JSON mapping).
    outcome: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    violations: Vec<Violation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
struct Violation {
    field: String,
    description: String,
}

/// A batch of lines as the reader made it.
struct Batch {
    reports: Vec<Report>,
    meta: BatchMeta,
}

/// What is needed to account for a batch once the server answers.
#[derive(Default)]
struct BatchMeta {
    /// The input line of each report of the batch.
    report_lines: Vec<u64>,
    /// Lines that are not reports.
    unparseable: Vec<Reject>,
    /// The batch's last line.
    last_line: u64,
    /// SHA-256 of the input up to and including `last_line`.
    prefix_sha256: String,
    /// Stream index of the batch's first report; `None` when nothing was sent (the batch
    /// held no report), so no answer will come for it.
    first_index: Option<u64>,
}

/// How the reader ended.
struct ReadEnd {
    eof: bool,
}

/// Runs a load to its end, an interruption or a failure (after checkpointing).
pub async fn run(ingest: IngestClient, options: &LoadOptions) -> Result<LoadSummary, CliError> {
    if options.batch_size == 0 {
        return Err(CliError::Usage(
            "--batch-size must be at least 1".to_owned(),
        ));
    }
    let checkpoint = if options.restart {
        None
    } else {
        Checkpoint::read(&options.checkpoint)?
    };
    let (reader, hasher, resumed) = open_input(&options.input, checkpoint.as_ref())?;
    let (rejects, rejects_bytes) = open_rejects(&options.rejects, checkpoint.as_ref())?;
    let base = checkpoint.as_ref().map(|c| c.totals).unwrap_or_default();
    let mut state = LoadState {
        options: options.clone(),
        base,
        run: BulkLoadReportsResponse::default(),
        run_unparseable: 0,
        lines_done: resumed,
        prefix_sha256: checkpoint
            .as_ref()
            .map(|c| c.prefix_sha256.clone())
            .unwrap_or_else(|| hex::encode(Sha256::new().finalize())),
        rejects,
        rejects_bytes,
        rejects_written: 0,
        last_checkpoint: Instant::now(),
        progress: Progress::new(options.progress, base),
    };

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let (batches, received) = tokio::sync::mpsc::channel::<Batch>(2);
    let reader = {
        let options = options.clone();
        let runtime = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || {
            let sink = BatchSink {
                batches,
                stopped,
                runtime,
            };
            read_batches(reader, hasher, resumed, &options, &sink)
        })
    };

    // Every batch's accounting data goes into `queue` when the request stream hands the
    // batch to tonic, so it is there before the server can answer for it.
    let queue: Arc<Mutex<VecDeque<BatchMeta>>> = Arc::default();
    let requests = {
        let queue = Arc::clone(&queue);
        let mut next_index = 0u64;
        ReceiverStream::new(received).filter_map(move |batch: Batch| {
            let mut meta = batch.meta;
            let send = !batch.reports.is_empty();
            if send {
                meta.first_index = Some(next_index);
                next_index += batch.reports.len() as u64;
            }
            if let Ok(mut queue) = queue.lock() {
                queue.push_back(meta);
            }
            send.then_some(BulkLoadReportsRequest {
                reports: batch.reports,
            })
        })
    };

    let mut answers = ingest.bulk_load_reports(requests).await?;
    let mut interrupted = false;
    let mut signal = Box::pin(crate::stop_signal());
    let failure: Option<CliError> = loop {
        tokio::select! {
            () = &mut signal => {
                if interrupted {
                    // A second signal: stop now; the checkpoint below covers what was answered.
                    break None;
                }
                interrupted = true;
                stop.send_replace(true);
                signal = Box::pin(crate::stop_signal());
            }
            answer = answers.message() => match answer {
                Ok(Some(answer)) => {
                    if let Err(error) = state.answered(&queue, answer) {
                        break Some(error);
                    }
                }
                Ok(None) => break None,
                Err(status) => {
                    break Some(acx_client::Error::Status(ServerError::from_status(&status, 1)).into());
                }
            }
        }
    };
    stop.send_replace(true);
    drop(answers);

    // Batches that held no report (blank or unparseable lines only) need no answer.
    let mut unanswered = false;
    if failure.is_none() {
        while let Some(meta) = pop(&queue) {
            if meta.first_index.is_some() {
                unanswered = true;
                break;
            }
            state.account(meta, &[])?;
        }
    }
    let read_end = match reader.await {
        Ok(result) => result,
        Err(error) => Err(CliError::Failed(format!("the reader stopped: {error}"))),
    };
    let complete = failure.is_none()
        && !unanswered
        && !interrupted
        && matches!(read_end, Ok(ReadEnd { eof: true }));
    let totals = state.totals();
    state.progress.finish(state.lines_done, &totals);
    state.flush_rejects()?;
    let no_rejects = state.rejects_bytes == 0;
    if complete {
        Checkpoint::remove(&options.checkpoint)?;
    } else {
        state.write_checkpoint()?;
    }
    if let Some(error) = failure {
        eprintln!(
            "acxctl: the load stopped after line {}; rerun the same command to resume",
            state.lines_done
        );
        return Err(error);
    }
    if unanswered && !interrupted {
        return Err(CliError::Failed(
            "the server ended the load without answering every batch; rerun to resume".to_owned(),
        ));
    }
    read_end?;
    let summary = LoadSummary {
        input: options.input.clone(),
        lines: state.lines_done,
        resumed_from_line: resumed,
        complete,
        interrupted,
        totals: state.totals(),
        rejects_file: (!no_rejects || !complete).then(|| options.rejects.clone()),
        rejects_written: state.rejects_written,
        checkpoint_file: (!complete).then(|| options.checkpoint.clone()),
    };
    if summary.rejects_file.is_none() {
        drop(state); // closes the rejects file before it is removed
        std::fs::remove_file(&options.rejects).map_err(CliError::io(&options.rejects))?;
    }
    Ok(summary)
}

fn pop(queue: &Mutex<VecDeque<BatchMeta>>) -> Option<BatchMeta> {
    queue.lock().ok()?.pop_front()
}

/// Opens the input and skips what the checkpoint covers, checking that those lines are
/// still the same; returns the reader, the hash so far and the lines skipped.
fn open_input(
    path: &Path,
    checkpoint: Option<&Checkpoint>,
) -> Result<(BufReader<File>, Sha256, u64), CliError> {
    let file = File::open(path).map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))?;
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let mut hasher = Sha256::new();
    let Some(checkpoint) = checkpoint else {
        return Ok((reader, hasher, 0));
    };
    let changed = || {
        CliError::Usage(format!(
            "{} changed since its checkpoint was written (its first {} lines differ); \
             pass --restart to load it from the start (stored reports answer DUPLICATE)",
            path.display(),
            checkpoint.lines_done
        ))
    };
    let mut line = Vec::new();
    for _ in 0..checkpoint.lines_done {
        line.clear();
        if reader
            .read_until(b'\n', &mut line)
            .map_err(CliError::io(path))?
            == 0
        {
            return Err(changed());
        }
        hasher.update(&line);
    }
    if hex::encode(hasher.clone().finalize()) != checkpoint.prefix_sha256 {
        return Err(changed());
    }
    Ok((reader, hasher, checkpoint.lines_done))
}

/// Opens the rejects file: new for a fresh load, cut back to the checkpoint's length for
/// a resumed one (so rejects written after the checkpoint are not written twice).
fn open_rejects(
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

/// Where the reader thread hands its batches, and how it learns that the load stopped.
struct BatchSink {
    batches: tokio::sync::mpsc::Sender<Batch>,
    stopped: tokio::sync::watch::Receiver<bool>,
    runtime: tokio::runtime::Handle,
}

impl BatchSink {
    fn stopped(&self) -> bool {
        *self.stopped.borrow()
    }

    /// Waits for room for `batch`; false when the load stopped meanwhile (a reader
    /// waiting on a full channel must not outlive the load).
    fn send(&self, batch: Batch) -> bool {
        let mut stopped = self.stopped.clone();
        self.runtime.block_on(async {
            tokio::select! {
                sent = self.batches.send(batch) => sent.is_ok(),
                _ = stopped.wait_for(|stopped| *stopped) => false,
            }
        })
    }
}

/// The reader thread: lines into batches of at most `batch_size` reports.
fn read_batches(
    mut reader: BufReader<File>,
    mut hasher: Sha256,
    mut line_number: u64,
    options: &LoadOptions,
    sink: &BatchSink,
) -> Result<ReadEnd, CliError> {
    let mut batch = new_batch(options.batch_size);
    let mut pending = false;
    let mut read = 0u64;
    let mut line = Vec::new();
    let eof = loop {
        if options.max_lines.is_some_and(|max| read >= max) || sink.stopped() {
            break false;
        }
        line.clear();
        if reader
            .read_until(b'\n', &mut line)
            .map_err(CliError::io(&options.input))?
            == 0
        {
            break true;
        }
        read += 1;
        line_number += 1;
        pending = true;
        hasher.update(&line);
        batch.meta.last_line = line_number;
        match parse_line(&line) {
            Ok(None) => {}
            Ok(Some(report)) => {
                batch.reports.push(report);
                batch.meta.report_lines.push(line_number);
            }
            Err((report_id, error)) => batch.meta.unparseable.push(Reject {
                line: line_number,
                report_id,
                outcome: "UNPARSEABLE",
                violations: Vec::new(),
                error: Some(error),
            }),
        }
        if batch.reports.len() >= options.batch_size
            || batch.meta.unparseable.len() >= options.batch_size
        {
            batch.meta.prefix_sha256 = hex::encode(hasher.clone().finalize());
            let full = std::mem::replace(&mut batch, new_batch(options.batch_size));
            pending = false;
            if !sink.send(full) {
                return Ok(ReadEnd { eof: false }); // the load stopped
            }
        }
    };
    if pending {
        batch.meta.prefix_sha256 = hex::encode(hasher.finalize());
        // False means the load stopped; nothing to add then.
        sink.send(batch);
    }
    Ok(ReadEnd { eof })
}

fn new_batch(size: usize) -> Batch {
    Batch {
        reports: Vec::with_capacity(size),
        meta: BatchMeta::default(),
    }
}

/// One input line: `None` for a blank one, else the report or why it is not one (with the
/// report id when the line is JSON that names one).
fn parse_line(line: &[u8]) -> Result<Option<Report>, (Option<String>, String)> {
    let text = std::str::from_utf8(line).map_err(|e| (None, format!("not UTF-8: {e}")))?;
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    json::parse::<Report>(text).map(Some).map_err(|error| {
        let report_id = serde_json::from_str::<serde_json::Value>(text)
            .ok()
            .and_then(|value| value.get("reportId")?.as_str().map(str::to_owned));
        (report_id, error.to_string())
    })
}

/// What this task keeps while answers arrive.
struct LoadState {
    options: LoadOptions,
    base: Totals,
    /// The server's cumulative counts for this run's stream.
    run: BulkLoadReportsResponse,
    run_unparseable: u64,
    lines_done: u64,
    prefix_sha256: String,
    rejects: BufWriter<File>,
    rejects_bytes: u64,
    rejects_written: u64,
    last_checkpoint: Instant,
    progress: Progress,
}

impl LoadState {
    fn totals(&self) -> Totals {
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        Totals {
            reports: self.base.reports + count(self.run.received),
            accepted: self.base.accepted + count(self.run.accepted),
            duplicates: self.base.duplicates + count(self.run.duplicates),
            rejected: self.base.rejected + count(self.run.rejected) + self.run_unparseable,
            unparseable: self.base.unparseable + self.run_unparseable,
            already_exists: self.base.already_exists + count(self.run.already_exists),
        }
    }

    /// The server answered for the next batch it was sent.
    fn answered(
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
            self.account(meta, &[])?; // unsent batches before it
        };
        let expected = meta.first_index.unwrap_or(0) + meta.report_lines.len() as u64;
        if u64::try_from(answer.received).ok() != Some(expected) {
            return Err(CliError::Failed(format!(
                "the server counted {} reports where {expected} were sent",
                answer.received
            )));
        }
        let problems = answer.problems.clone();
        self.run = answer;
        self.account(meta, &problems)
    }

    /// Writes a batch's rejects in line order, moves the checkpoint past its lines.
    fn account(&mut self, meta: BatchMeta, problems: &[ReportResult]) -> Result<(), CliError> {
        let first = meta.first_index.unwrap_or(0);
        self.run_unparseable += meta.unparseable.len() as u64;
        let mut rejects = meta.unparseable;
        for problem in problems {
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
            rejects.push(Reject {
                line,
                report_id: Some(problem.report_id.clone()),
                outcome: if already_exists {
                    "ALREADY_EXISTS"
                } else {
                    "REJECTED"
                },
                violations: problem
                    .violations
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

    fn flush_rejects(&mut self) -> Result<(), CliError> {
        self.rejects
            .flush()
            .map_err(CliError::io(&self.options.rejects))
    }

    /// The rejects file is made durable first, so it holds at least what the checkpoint
    /// says it does.
    fn write_checkpoint(&mut self) -> Result<(), CliError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_reports_blank_or_named_failures() {
        assert!(matches!(parse_line(b"  \n"), Ok(None)));
        assert!(matches!(
            parse_line(br#"{"reportId": "R-1", "retraction": {"retractedReportId": "R-0"}}"#),
            Ok(Some(_))
        ));
        let Err((id, error)) = parse_line(br#"{"reportId": "R-2", "bogus": 1}"#) else {
            panic!("an unknown field is an error");
        };
        assert_eq!(id.as_deref(), Some("R-2"));
        assert!(error.contains("bogus"), "{error}");
        assert!(matches!(parse_line(b"{not json"), Err((None, _))));
        assert!(matches!(parse_line(b"\xff\xfe"), Err((None, _))));
    }
}
