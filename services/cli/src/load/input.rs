//! The reader side of a load: the input file, checked against the checkpoint, read and
//! parsed into batches on a blocking thread.

use std::{
    fs::File,
    io::{BufRead, BufReader},
    path::Path,
};

use acx_proto::ingest::Report;
use prost::Message;
use sha2::{Digest, Sha256};

use super::{LoadOptions, answers::Reject};
use crate::{checkpoint::Checkpoint, error::CliError, json};

/// A batch of lines as the reader made it.
pub(super) struct Batch {
    pub(super) reports: Vec<Report>,
    pub(super) meta: BatchMeta,
}

/// What is needed to account for a batch once the server answers.
#[derive(Default)]
pub(super) struct BatchMeta {
    /// The input line of each report of the batch.
    pub(super) report_lines: Vec<u64>,
    /// Lines that are not reports.
    pub(super) unparseable: Vec<Reject>,
    /// The batch's last line.
    pub(super) last_line: u64,
    /// SHA-256 of the input up to and including `last_line`.
    pub(super) prefix_sha256: String,
    /// Stream index of the batch's first report; `None` when nothing was sent (the batch
    /// held no report), so no answer will come for it.
    pub(super) first_index: Option<u64>,
}

/// How the reader ended.
pub(super) struct ReadEnd {
    pub(super) eof: bool,
}

/// Opens the input and skips what the checkpoint covers, checking that those lines are
/// still the same; returns the reader, the hash so far and the lines skipped.
pub(super) fn open_input(
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

/// Where the reader thread hands its batches, and how it learns that the load stopped.
pub(super) struct BatchSink {
    pub(super) batches: tokio::sync::mpsc::Sender<Batch>,
    pub(super) stopped: tokio::sync::watch::Receiver<bool>,
    pub(super) runtime: tokio::runtime::Handle,
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

/// Most bytes of reports in one batch (one BulkLoadReports message): under the services'
/// 4 MiB message limit with room for the message's own framing.
const MAX_BATCH_BYTES: usize = 3 << 20;
/// Largest report sent: one larger cannot travel in a message and is listed as
/// `TOO_LARGE` instead.
const MAX_REPORT_BYTES: usize = MAX_BATCH_BYTES;

/// The reject of a report too large to send.
fn too_large(line: u64, report: Report, size: usize) -> Reject {
    Reject {
        line,
        report_id: Some(report.report_id),
        outcome: "TOO_LARGE",
        violations: Vec::new(),
        error: Some(format!(
            "the report is {size} bytes encoded; at most {MAX_REPORT_BYTES} travel in one message"
        )),
    }
}

/// The reader thread: lines into batches of at most `batch_size` reports and
/// [`MAX_BATCH_BYTES`].
pub(super) fn read_batches(
    mut reader: BufReader<File>,
    mut hasher: Sha256,
    mut line_number: u64,
    options: &LoadOptions,
    sink: &BatchSink,
) -> Result<ReadEnd, CliError> {
    let mut batch = new_batch(options.batch_size);
    let mut batch_bytes = 0usize;
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
        let before = hasher.clone();
        hasher.update(&line);
        match parse_line(&line) {
            Ok(None) => {}
            Ok(Some(report)) => {
                let size = report.encoded_len();
                if size > MAX_REPORT_BYTES {
                    batch
                        .meta
                        .unparseable
                        .push(too_large(line_number, report, size));
                } else {
                    // A batch goes as one message: one that would pass the bound goes
                    // before this line (found by a tester: 500 large profiles made a 5 MB
                    // message that failed on every rerun).
                    if !batch.reports.is_empty() && batch_bytes + size > MAX_BATCH_BYTES {
                        batch.meta.prefix_sha256 = hex::encode(before.finalize());
                        let full = std::mem::replace(&mut batch, new_batch(options.batch_size));
                        batch_bytes = 0;
                        if !sink.send(full) {
                            return Ok(ReadEnd { eof: false }); // the load stopped
                        }
                    }
                    batch_bytes += size;
                    batch.reports.push(report);
                    batch.meta.report_lines.push(line_number);
                }
            }
            Err((report_id, error)) => batch.meta.unparseable.push(Reject {
                line: line_number,
                report_id,
                outcome: "UNPARSEABLE",
                violations: Vec::new(),
                error: Some(error),
            }),
        }
        pending = true;
        batch.meta.last_line = line_number;
        if batch.reports.len() >= options.batch_size
            || batch.meta.unparseable.len() >= options.batch_size
        {
            batch.meta.prefix_sha256 = hex::encode(hasher.clone().finalize());
            let full = std::mem::replace(&mut batch, new_batch(options.batch_size));
            batch_bytes = 0;
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
    // A byte order mark opens files that Windows tools write, and lines of files joined
    // with `cat` (found by a tester: the line was lost as unparseable).
    let text = text.trim().trim_start_matches('\u{feff}').trim();
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
