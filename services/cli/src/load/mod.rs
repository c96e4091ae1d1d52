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
//!
//! [`input`] is the reader side (lines into batches), [`answers`] the accounting of the
//! server's answers (rejects file, counts, checkpoint); this module joins them to the
//! gRPC stream.

mod answers;
mod input;

use std::{
    collections::VecDeque,
    path::PathBuf,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use acx_client::{IngestClient, ServerError};
use acx_proto::ingest::{BulkLoadReportsRequest, BulkLoadReportsResponse};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio_stream::{StreamExt, wrappers::ReceiverStream};

use crate::{
    checkpoint::{Checkpoint, Totals},
    error::CliError,
    progress::Progress,
};
use answers::{LoadState, open_rejects};
use input::{Batch, BatchMeta, BatchSink, ReadEnd, open_input, read_batches};

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
        run_warned: 0,
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
            state.account(meta, &[], &[])?;
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
