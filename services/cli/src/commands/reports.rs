//! `acxctl reports ...`: bulk loads of platform reports from JSON Lines, single reports.

use std::{path::PathBuf, time::Duration};

use acx_proto::ingest::GetReportRequest;
use clap::{Args, Subcommand};

use super::{resource, value};
use crate::{
    Context, checkpoint,
    error::{CliError, exit},
    load::{self, LoadOptions},
    output::{print, print_json},
    progress::group,
    rejected_or_ok,
};

/// `acxctl reports ...`
#[derive(Debug, Subcommand)]
pub enum ReportsCommand {
    /// Streams a JSON Lines file of reports (one acx.ingest.v1.Report per line, proto3 JSON
    /// mapping) to ingest's BulkLoadReports. Progress goes to standard error, the summary
    /// to standard output, every line not stored to the rejects file (JSON lines: line,
    /// reportId, outcome, violations or error). An interrupted load (Ctrl-C, a lost
    /// connection, a kill) resumes from its checkpoint when the same command is run again;
    /// reports sent after the checkpoint come back DUPLICATE, never stored twice.
    Load(LoadArgs),
    /// Shows one of the calling platform's reports as stored (identifiers hashed).
    Get {
        /// The platform's report id (or reports/{id}).
        report_id: String,
    },
}

/// Flags of `reports load`.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// The JSON Lines file.
    pub file: PathBuf,
    /// Where rejected lines go [default: FILE.rejects.jsonl].
    #[arg(long)]
    pub rejects: Option<PathBuf>,
    /// Where the checkpoint is kept [default: FILE.checkpoint]; removed once the whole
    /// file is loaded.
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// Reports per batch (ingest takes up to 1000 by default).
    #[arg(long, default_value_t = 500)]
    pub batch_size: usize,
    /// Ignore an existing checkpoint and start from the first line.
    #[arg(long)]
    pub restart: bool,
    /// Read at most N lines in this run, then checkpoint and stop (rerun to go on).
    #[arg(long, value_name = "N")]
    pub max_lines: Option<u64>,
    /// How often the checkpoint is written; 0s writes it after every batch.
    #[arg(long, default_value = "1s", value_parser = crate::parse_duration)]
    pub checkpoint_interval: Duration,
    /// Draw no progress on standard error.
    #[arg(long)]
    pub no_progress: bool,
}

/// Runs a `reports` subcommand.
pub async fn run(context: &Context, command: ReportsCommand) -> Result<u8, CliError> {
    match command {
        ReportsCommand::Load(args) => reports_load(context, args).await,
        ReportsCommand::Get { report_id } => reports_get(context, &report_id).await,
    }
}

async fn reports_load(context: &Context, args: LoadArgs) -> Result<u8, CliError> {
    let options = LoadOptions {
        rejects: args
            .rejects
            .unwrap_or_else(|| checkpoint::sibling(&args.file, "rejects.jsonl")),
        checkpoint: args
            .checkpoint
            .unwrap_or_else(|| checkpoint::default_path(&args.file)),
        input: args.file,
        batch_size: args.batch_size,
        restart: args.restart,
        max_lines: args.max_lines,
        checkpoint_interval: args.checkpoint_interval,
        progress: !args.no_progress,
    };
    let ingest = context.ingest().await?;
    let summary = load::run(ingest, &options).await?;
    if context.json() {
        let summary = serde_json::to_value(&summary)
            .map_err(|e| CliError::Failed(format!("JSON output: {e}")))?;
        print_json(&summary)?;
    } else {
        let t = &summary.totals;
        let state = if summary.complete {
            "complete".to_owned()
        } else if summary.interrupted {
            "interrupted: run the same command again to resume".to_owned()
        } else {
            "stopped: run the same command again to go on".to_owned()
        };
        let mut text = format!(
            "{}: {} lines, {state}\n",
            summary.input.display(),
            group(summary.lines)
        );
        if summary.resumed_from_line > 0 {
            text.push_str(&format!(
                "  resumed after line {}\n",
                group(summary.resumed_from_line)
            ));
        }
        text.push_str(&format!(
            "  accepted     {}\n  duplicate    {}\n  rejected     {} ({} not readable as a report)\n  conflicting  {}\n  left out     values of {} stored reports (not valid for their kind)\n",
            group(t.accepted),
            group(t.duplicates),
            group(t.rejected),
            group(t.unparseable),
            group(t.already_exists),
            group(t.warned)
        ));
        if let Some(rejects) = &summary.rejects_file
            && t.rejected + t.already_exists + t.warned > 0
        {
            text.push_str(&format!(
                "rejected lines and values left out are in {}\n",
                rejects.display()
            ));
        }
        print(&text)?;
    }
    if summary.interrupted {
        return Ok(exit::INTERRUPTED);
    }
    let t = summary.totals;
    Ok(rejected_or_ok(t.rejected + t.already_exists))
}

async fn reports_get(context: &Context, report_id: &str) -> Result<u8, CliError> {
    let answer = context
        .ingest()
        .await?
        .get_report(GetReportRequest {
            name: resource("reports", report_id),
        })
        .await?;
    let report = answer
        .report
        .ok_or_else(|| CliError::Failed("the answer holds no report".to_owned()))?;
    // The report itself reads best in its JSON form in both modes.
    print_json(&value(&report)?)?;
    Ok(exit::OK)
}
