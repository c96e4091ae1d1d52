//! The subcommands: their flags, the calls they make and what they print.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use acx_proto::{
    common::{Money, Reason, SellerAccountRef},
    ingest::GetReportRequest,
    liaison::{
        AssessmentState, CheckSellerRequest, DeclarationOutcome, DeclarationResult,
        GetShipmentRequest, InspectionResult, RecordInspectionResultRequest,
        SearchShipmentsRequest, Shipment, ShipmentOrder, SubmitDeclarationsRequest,
        WatchAlertsRequest,
    },
    scoring::{
        GetSellerRiskRequest, Lane, ListBlacklistChangesRequest, ListBlacklistRequest, OutcomeKind,
    },
};
use clap::{Args, Subcommand, ValueEnum};

use crate::{
    Context, checkpoint,
    declarations::{self, CSV_COLUMNS},
    error::{CliError, exit},
    json,
    load::{self, LoadOptions},
    output::{print, print_json, print_json_line, short, table, time, within_item},
    progress::group,
    rejected_or_ok,
};

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Platform reports (ingest): bulk loads from JSON Lines, single reports.
    #[command(subcommand)]
    Reports(ReportsCommand),
    /// A seller account's risk with its reasons.
    #[command(subcommand)]
    Seller(SellerCommand),
    /// The shared blacklist: a full copy, or what changed since a cursor.
    #[command(subcommand)]
    Blacklist(BlacklistCommand),
    /// Customs declarations (liaison) from JSON Lines or CSV.
    #[command(subcommand)]
    Declarations(DeclarationsCommand),
    /// Customs shipments (liaison): search, details, inspection results.
    #[command(subcommand)]
    Shipments(ShipmentsCommand),
    /// New RED and YELLOW shipments as they are assessed (liaison).
    #[command(subcommand)]
    Alerts(AlertsCommand),
    /// The targeting model: its card, lane policies, a training on demand.
    #[command(subcommand)]
    Model(crate::model::ModelCommand),
    /// Measures a running suite's targeting through the customs API: replays declarations
    /// with known outcomes in time order (learning window with its inspection results, then
    /// the evaluation window's declarations alone), reads each evaluated shipment's risk
    /// back and prints precision@1/2/5/10%, revenue@n% and AUC next to random selection
    /// and the HS6 fraud-rate baseline learned in the same run, with the lane mix and the
    /// model versions seen.
    #[command(after_help = crate::evaluate::AFTER_HELP)]
    Evaluate(crate::evaluate::EvaluateArgs),
}

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

/// `acxctl seller ...`
#[derive(Debug, Subcommand)]
pub enum SellerCommand {
    /// The risk of a seller account from scoring (platform principals).
    Risk {
        /// The marketplace, e.g. demo-marketplace.
        platform: String,
        /// The platform's seller id, e.g. T-2.
        seller_id: String,
    },
    /// The risk and blacklist status of a seller account through liaison (customs
    /// principals).
    Check {
        /// The marketplace, e.g. demo-marketplace.
        platform: String,
        /// The platform's seller id, e.g. T-2.
        seller_id: String,
    },
}

/// `acxctl blacklist ...`
#[derive(Debug, Subcommand)]
pub enum BlacklistCommand {
    /// Writes every listed account to a file (JSON Lines of acx.scoring.v1.BlacklistEntry)
    /// and the change cursor to follow from (to --state, if given).
    Pull {
        /// The file to write (replaced atomically).
        #[arg(long)]
        out: PathBuf,
        /// A file to keep the change cursor in, for `blacklist delta --state`.
        #[arg(long)]
        state: Option<PathBuf>,
        /// Entries per call.
        #[arg(long, default_value_t = 1000)]
        page_size: i32,
    },
    /// Writes what changed since a cursor to a file (JSON Lines of
    /// acx.scoring.v1.BlacklistChange, oldest first) and moves the cursor on.
    Delta {
        /// The file to write (replaced atomically).
        #[arg(long)]
        out: PathBuf,
        /// Changes after this cursor (0: all).
        #[arg(long, required_unless_present = "state")]
        since: Option<i64>,
        /// The cursor file `blacklist pull --state` wrote: read, and updated afterwards.
        #[arg(long)]
        state: Option<PathBuf>,
        /// Changes per call.
        #[arg(long, default_value_t = 1000)]
        page_size: i32,
    },
}

/// `acxctl declarations ...`
#[derive(Debug, Subcommand)]
pub enum DeclarationsCommand {
    /// Submits declarations from JSON Lines (one acx.liaison.v1.Declaration per line) or
    /// CSV, in batches; prints each declaration's outcome, lane and risk, or its
    /// violations. Resubmitting is safe: a declaration already stored answers DUPLICATE.
    #[command(after_help = CSV_COLUMNS)]
    Submit {
        /// The file: .csv is read as CSV, anything else as JSON Lines (see --format).
        file: PathBuf,
        /// The file's format, when its name does not say.
        #[arg(long, value_enum)]
        format: Option<InputFormat>,
        /// Declarations per call (liaison takes up to 500).
        #[arg(long, default_value_t = 100)]
        batch_size: usize,
        /// How the CSV file is written.
        #[command(flatten)]
        csv: crate::dialect::CsvArgs,
    },
}

/// The format of a declarations file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InputFormat {
    /// One JSON object per line.
    Jsonl,
    /// A header row and one row per declaration line.
    Csv,
}

/// `acxctl shipments ...`
#[derive(Debug, Subcommand)]
pub enum ShipmentsCommand {
    /// Searches your shipments and prints a table (every filter optional).
    Search(SearchArgs),
    /// Shows one shipment: the declaration, its assessment and reasons, its inspection
    /// result.
    Get {
        /// The declaration id (or shipments/{id}).
        id: String,
    },
    /// Records what the inspection of a shipment found (one result per shipment:
    /// repeating the same one is harmless, a different one is a conflict).
    RecordResult(RecordResultArgs),
}

/// Filters of `shipments search`.
#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Only this customs office, e.g. USLAX.
    #[arg(long)]
    pub office: Option<String>,
    /// Only this lane.
    #[arg(long, value_enum)]
    pub lane: Option<LaneArg>,
    /// Only shipments with at least this risk (0 to 1).
    #[arg(long)]
    pub min_risk: Option<f64>,
    /// Only this importer.
    #[arg(long)]
    pub importer: Option<String>,
    /// Only this seller (with --seller-id).
    #[arg(long, requires = "seller_id")]
    pub seller_platform: Option<String>,
    /// Only this seller (with --seller-platform).
    #[arg(long, requires = "seller_platform")]
    pub seller_id: Option<String>,
    /// Only shipments with a line whose HS code starts with these digits.
    #[arg(long)]
    pub hs_prefix: Option<String>,
    /// Only pending or assessed shipments.
    #[arg(long, value_enum)]
    pub state: Option<StateArg>,
    /// Declared at or after this time (RFC 3339).
    #[arg(long)]
    pub since: Option<prost_types::Timestamp>,
    /// Declared before this time (RFC 3339).
    #[arg(long)]
    pub until: Option<prost_types::Timestamp>,
    /// Highest risk first, or newest first.
    #[arg(long, value_enum, default_value_t = OrderArg::Risk)]
    pub order: OrderArg,
    /// At most this many shipments (fetched a page at a time).
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
}

/// Flags of `shipments record-result`.
#[derive(Debug, Args)]
pub struct RecordResultArgs {
    /// The declaration id (or shipments/{id}).
    pub id: String,
    /// What the inspection found.
    #[arg(long, value_enum)]
    pub kind: OutcomeArg,
    /// For counterfeit-seized: units seized.
    #[arg(long)]
    pub seized_quantity: Option<f64>,
    /// For counterfeit-seized: the rights owner, if known.
    #[arg(long)]
    pub rights_owner: Option<String>,
    /// Currency of --assessed-value and --extra-duty (ISO 4217).
    #[arg(long, default_value = "USD")]
    pub currency: String,
    /// For undervaluation-confirmed: the value customs assessed, e.g. 12495.00.
    #[arg(long)]
    pub assessed_value: Option<String>,
    /// For undervaluation-confirmed: the extra duty assessed.
    #[arg(long)]
    pub extra_duty: Option<String>,
    /// A note for the file.
    #[arg(long)]
    pub note: Option<String>,
    /// When the inspection ended (RFC 3339) [default: now, as the server sees it].
    #[arg(long)]
    pub inspect_time: Option<prost_types::Timestamp>,
}

/// `acxctl alerts ...`
#[derive(Debug, Subcommand)]
pub enum AlertsCommand {
    /// Prints alerts after a cursor, then new ones live (Ctrl-C to stop). Each carries its
    /// cursor: pass the last one to --after to resume without gaps or repeats. With
    /// --output json, one JSON object per line (acx.liaison.v1.WatchAlertsResponse).
    Watch {
        /// Alerts after this cursor (0: from the first).
        #[arg(long, default_value_t = 0)]
        after: i64,
        /// Only this lane.
        #[arg(long, value_enum)]
        lane: Option<LaneArg>,
        /// Only alerts with at least this risk.
        #[arg(long)]
        min_risk: Option<f64>,
        /// Only this customs office.
        #[arg(long)]
        office: Option<String>,
        /// Stop after this many alerts.
        #[arg(long)]
        max: Option<u64>,
    },
}

/// A lane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LaneArg {
    /// Physical inspection.
    Red,
    /// Documentary check.
    Yellow,
    /// Release.
    Green,
}

impl LaneArg {
    fn lane(self) -> Lane {
        match self {
            Self::Red => Lane::Red,
            Self::Yellow => Lane::Yellow,
            Self::Green => Lane::Green,
        }
    }
}

/// An assessment state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StateArg {
    /// Waiting for scoring.
    Pending,
    /// Assessed.
    Assessed,
}

/// A search order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OrderArg {
    /// Highest risk first.
    Risk,
    /// Newest declaration first.
    Time,
}

/// What an inspection found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutcomeArg {
    /// Nothing wrong.
    Cleared,
    /// Counterfeit goods seized.
    CounterfeitSeized,
    /// The declared value was too low.
    UndervaluationConfirmed,
    /// Something else (not counted as fraud).
    Other,
}

/// Runs `command`; returns the exit code of a command that ran.
pub async fn run(context: &Context, command: Command) -> Result<u8, CliError> {
    match command {
        Command::Model(command) => crate::model::run(context, command).await,
        Command::Reports(ReportsCommand::Load(args)) => reports_load(context, args).await,
        Command::Reports(ReportsCommand::Get { report_id }) => {
            reports_get(context, &report_id).await
        }
        Command::Seller(SellerCommand::Risk {
            platform,
            seller_id,
        }) => seller_risk(context, seller(platform, seller_id)).await,
        Command::Seller(SellerCommand::Check {
            platform,
            seller_id,
        }) => seller_check(context, seller(platform, seller_id)).await,
        Command::Blacklist(BlacklistCommand::Pull {
            out,
            state,
            page_size,
        }) => blacklist_pull(context, &out, state.as_deref(), page_size).await,
        Command::Blacklist(BlacklistCommand::Delta {
            out,
            since,
            state,
            page_size,
        }) => blacklist_delta(context, &out, since, state.as_deref(), page_size).await,
        Command::Declarations(DeclarationsCommand::Submit {
            file,
            format,
            batch_size,
            csv,
        }) => declarations_submit(context, &file, format, batch_size, &csv).await,
        Command::Shipments(ShipmentsCommand::Search(args)) => shipments_search(context, args).await,
        Command::Shipments(ShipmentsCommand::Get { id }) => shipments_get(context, &id).await,
        Command::Shipments(ShipmentsCommand::RecordResult(args)) => {
            record_result(context, args).await
        }
        Command::Evaluate(args) => crate::evaluate::run(context, args).await,
        Command::Alerts(AlertsCommand::Watch {
            after,
            lane,
            min_risk,
            office,
            max,
        }) => {
            let request = WatchAlertsRequest {
                after_cursor: after,
                lane: lane.map_or(0, |lane| lane.lane() as i32),
                min_risk: min_risk.unwrap_or(0.0),
                customs_office: office.unwrap_or_default(),
            };
            alerts_watch(context, request, max).await
        }
    }
}

fn seller(platform: String, seller_id: String) -> SellerAccountRef {
    SellerAccountRef {
        platform,
        seller_id,
    }
}

/// A message as JSON, or an error saying the tool could not print it.
fn value<M: json::Named>(message: &M) -> Result<serde_json::Value, CliError> {
    json::to_value(message).map_err(|e| CliError::Failed(format!("JSON output: {e}")))
}

/// `id` as `{collection}/{id}`, whether or not the caller wrote the prefix.
fn resource(collection: &str, id: &str) -> String {
    let prefix = format!("{collection}/");
    if id.starts_with(&prefix) {
        id.to_owned()
    } else {
        format!("{prefix}{id}")
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
            "  accepted     {}\n  duplicate    {}\n  rejected     {} ({} not readable as a report)\n  conflicting  {}\n",
            group(t.accepted),
            group(t.duplicates),
            group(t.rejected),
            group(t.unparseable),
            group(t.already_exists)
        ));
        if let Some(rejects) = &summary.rejects_file
            && t.rejected + t.already_exists > 0
        {
            text.push_str(&format!("rejected lines are in {}\n", rejects.display()));
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

fn reasons_text(reasons: &[Reason]) -> String {
    let mut text = String::new();
    for reason in reasons {
        text.push_str(&format!(
            "  {:.2}  {}  {}\n",
            reason.contribution, reason.code, reason.description
        ));
        if !reason.evidence.is_empty() {
            text.push_str(&format!(
                "        evidence: {}\n",
                reason.evidence.join(", ")
            ));
        }
    }
    text
}

async fn seller_risk(context: &Context, account: SellerAccountRef) -> Result<u8, CliError> {
    let answer = context
        .scoring()
        .await?
        .get_seller_risk(GetSellerRiskRequest {
            seller: Some(account.clone()),
            cluster_id: String::new(),
        })
        .await?;
    let risk = answer
        .risk
        .ok_or_else(|| CliError::Failed("the answer holds no risk".to_owned()))?;
    if context.json() {
        print_json(&value(&risk)?)?;
    } else {
        let mut text = format!(
            "{}/{}: {}, score {:.2}\n  cluster {}, model {}, computed {}\nreasons:\n",
            account.platform,
            account.seller_id,
            short(risk.tier().as_str_name(), "RISK_TIER_"),
            risk.score,
            risk.cluster_id,
            risk.model_version,
            time(risk.compute_time.as_ref())
        );
        text.push_str(&reasons_text(&risk.reasons));
        print(&text)?;
    }
    Ok(exit::OK)
}

async fn seller_check(context: &Context, account: SellerAccountRef) -> Result<u8, CliError> {
    let answer = context
        .liaison()
        .await?
        .check_seller(CheckSellerRequest {
            seller: Some(account.clone()),
        })
        .await?;
    let risk = answer
        .risk
        .ok_or_else(|| CliError::Failed("the answer holds no risk".to_owned()))?;
    if context.json() {
        print_json(&value(&risk)?)?;
    } else {
        let mut text = format!(
            "{}/{}: {}{}, score {:.2}\n  cluster {}, model {}\nreasons:\n",
            account.platform,
            account.seller_id,
            short(risk.tier().as_str_name(), "RISK_TIER_"),
            if risk.blacklisted {
                " (on the blacklist)"
            } else {
                ""
            },
            risk.score,
            risk.cluster_id,
            risk.model_version
        );
        text.push_str(&reasons_text(&risk.reasons));
        print(&text)?;
    }
    Ok(exit::OK)
}

/// Writes `lines` to `path` through a temporary file and a rename, so a reader never sees
/// half a file and a failed run leaves the old one.
fn write_atomically(path: &Path, lines: &[serde_json::Value]) -> Result<(), CliError> {
    let temporary = checkpoint::sibling(path, "tmp");
    let mut text = String::new();
    for line in lines {
        text.push_str(&line.to_string());
        text.push('\n');
    }
    std::fs::write(&temporary, text).map_err(CliError::io(&temporary))?;
    std::fs::rename(&temporary, path).map_err(CliError::io(path))
}

fn read_cursor(path: &Path) -> Result<i64, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::Usage(format!("--state {}: {e}", path.display())))?;
    text.trim().parse().map_err(|_| {
        CliError::Usage(format!(
            "--state {}: expected a cursor (a whole number), found {:?}",
            path.display(),
            text.trim()
        ))
    })
}

fn write_cursor(path: &Path, cursor: i64) -> Result<(), CliError> {
    std::fs::write(path, format!("{cursor}\n")).map_err(CliError::io(path))
}

async fn blacklist_pull(
    context: &Context,
    out: &Path,
    state: Option<&Path>,
    page_size: i32,
) -> Result<u8, CliError> {
    let scoring = context.scoring().await?;
    let mut entries = Vec::new();
    let mut page_token = String::new();
    let mut cursor = None;
    loop {
        let page = scoring
            .list_blacklist(ListBlacklistRequest {
                page_size,
                page_token,
            })
            .await?;
        // The cursor as of the first page: changes from there on are not in this copy.
        cursor.get_or_insert(page.changes_cursor);
        for entry in &page.entries {
            entries.push(value(entry)?);
        }
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    let cursor = cursor.unwrap_or(0);
    write_atomically(out, &entries)?;
    if let Some(state) = state {
        write_cursor(state, cursor)?;
    }
    file_summary(context, out, entries.len(), "entries", cursor, state)
}

async fn blacklist_delta(
    context: &Context,
    out: &Path,
    since: Option<i64>,
    state: Option<&Path>,
    page_size: i32,
) -> Result<u8, CliError> {
    let mut cursor = match (since, state) {
        (Some(since), _) => since,
        (None, Some(state)) => read_cursor(state)?,
        (None, None) => return Err(CliError::Usage("give --since or --state".to_owned())),
    };
    let scoring = context.scoring().await?;
    let mut changes = Vec::new();
    loop {
        let page = scoring
            .list_blacklist_changes(ListBlacklistChangesRequest {
                after_cursor: cursor,
                page_size,
            })
            .await?;
        for change in &page.changes {
            changes.push(value(change)?);
        }
        let advanced = page.next_cursor > cursor;
        cursor = page.next_cursor.max(cursor);
        if page.changes.is_empty() || !advanced {
            break;
        }
    }
    write_atomically(out, &changes)?;
    if let Some(state) = state {
        write_cursor(state, cursor)?;
    }
    file_summary(context, out, changes.len(), "changes", cursor, state)
}

fn file_summary(
    context: &Context,
    out: &Path,
    count: usize,
    what: &str,
    cursor: i64,
    state: Option<&Path>,
) -> Result<u8, CliError> {
    if context.json() {
        print_json(&serde_json::json!({
            "file": out,
            what: count,
            "cursor": cursor,
            "stateFile": state,
        }))?;
    } else {
        let saved = state.map_or(String::new(), |s| format!(" (saved to {})", s.display()));
        print(&format!(
            "wrote {count} {what} to {}; next cursor {cursor}{saved}",
            out.display()
        ))?;
    }
    Ok(exit::OK)
}

async fn declarations_submit(
    context: &Context,
    file: &Path,
    format: Option<InputFormat>,
    batch_size: usize,
    csv_args: &crate::dialect::CsvArgs,
) -> Result<u8, CliError> {
    if batch_size == 0 {
        return Err(CliError::Usage(
            "--batch-size must be at least 1".to_owned(),
        ));
    }
    let csv = match format {
        Some(format) => format == InputFormat::Csv,
        None => file
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("csv")),
    };
    let options = csv_args.options();
    let (items, dialect) = declarations::read(file, csv.then_some(&options))?;
    let liaison = context.liaison().await?;

    // (line, declaration id, outcome as read or answered)
    let mut rows: Vec<(u64, Result<DeclarationResult, String>)> = Vec::new();
    let mut valid = Vec::new();
    for item in items {
        match item.declaration {
            Ok(declaration) => valid.push((item.line, declaration)),
            Err(error) => rows.push((item.line, Err(error))),
        }
    }
    for chunk in valid.chunks(batch_size) {
        let answer = liaison
            .submit_declarations(SubmitDeclarationsRequest {
                declarations: chunk.iter().map(|(_, d)| d.clone()).collect(),
            })
            .await?;
        for mut result in answer.results {
            let Some((line, _)) = usize::try_from(result.index)
                .ok()
                .and_then(|i| chunk.get(i))
            else {
                return Err(CliError::Failed(format!(
                    "the server answered for declaration {} of a batch of {}",
                    result.index,
                    chunk.len()
                )));
            };
            for violation in &mut result.violations {
                violation.field = within_item(&violation.field, "declarations").to_owned();
            }
            rows.push((*line, Ok(result)));
        }
    }
    rows.sort_by_key(|(line, _)| *line);

    let mut counts = [0u64; 5]; // accepted, duplicate, rejected, conflicting, unreadable
    for (_, row) in &rows {
        let slot = match row {
            Ok(result) => match result.outcome() {
                DeclarationOutcome::Accepted => 0,
                DeclarationOutcome::Duplicate => 1,
                DeclarationOutcome::AlreadyExists => 3,
                _ => 2,
            },
            Err(_) => 4,
        };
        counts[slot] += 1;
    }
    let [accepted, duplicates, rejected, conflicting, unreadable] = counts;
    if context.json() {
        let mut results = Vec::new();
        for (line, row) in &rows {
            let mut entry = match row {
                Ok(result) => {
                    let mut entry = value(result)?;
                    if let Some(object) = entry.as_object_mut() {
                        object.remove("index");
                    }
                    entry
                }
                Err(error) => serde_json::json!({"outcome": "UNPARSEABLE", "error": error}),
            };
            entry["line"] = (*line).into();
            results.push(entry);
        }
        let csv = dialect.as_ref().map(|d| {
            serde_json::json!({
                "delimiter": char::from(d.delimiter).to_string(),
                "delimiterDetected": d.delimiter_detected,
                "decimal": d.decimal.map(|s| s.name()),
                "decimalDetected": d.decimal_detected,
                "timezone": d.timezone,
            })
        });
        print_json(&serde_json::json!({
            "file": file,
            "csv": csv,
            "accepted": accepted,
            "duplicates": duplicates,
            "rejected": rejected + unreadable,
            "unparseable": unreadable,
            "alreadyExists": conflicting,
            "results": results,
        }))?;
    } else {
        let mut table_rows = Vec::new();
        for (line, row) in &rows {
            table_rows.push(match row {
                Ok(result) => {
                    let assessed = result.assessment_state() == AssessmentState::Assessed;
                    let problems: Vec<String> = result
                        .violations
                        .iter()
                        .map(|v| format!("{}: {}", v.field, v.description))
                        .collect();
                    vec![
                        line.to_string(),
                        result.declaration_id.clone(),
                        short(result.outcome().as_str_name(), "DECLARATION_OUTCOME_"),
                        short(result.assessment_state().as_str_name(), "ASSESSMENT_STATE_"),
                        if assessed {
                            short(result.lane().as_str_name(), "LANE_")
                        } else {
                            "-".to_owned()
                        },
                        if assessed {
                            format!("{:.2}", result.risk)
                        } else {
                            "-".to_owned()
                        },
                        problems.join("; "),
                    ]
                }
                Err(error) => vec![
                    line.to_string(),
                    "-".to_owned(),
                    "unparseable".to_owned(),
                    "-".to_owned(),
                    "-".to_owned(),
                    "-".to_owned(),
                    error.clone(),
                ],
            });
        }
        let mut text = table(
            &[
                "LINE",
                "DECLARATION",
                "OUTCOME",
                "STATE",
                "LANE",
                "RISK",
                "PROBLEMS",
            ],
            &table_rows,
        );
        if let Some(dialect) = &dialect {
            text.push_str(&format!("read as CSV: {dialect}\n"));
        }
        text.push_str(&format!(
            "{accepted} accepted, {duplicates} duplicate, {} rejected, {conflicting} conflicting\n",
            rejected + unreadable
        ));
        print(&text)?;
    }
    Ok(rejected_or_ok(rejected + unreadable + conflicting))
}

fn top_reason(shipment: &Shipment) -> String {
    shipment
        .assessment
        .as_ref()
        .and_then(|a| a.reasons.first())
        .map_or_else(String::new, |r| r.code.clone())
}

fn shipment_row(shipment: &Shipment) -> Vec<String> {
    let declaration = shipment.declaration.clone().unwrap_or_default();
    let assessment = shipment.assessment.as_ref();
    vec![
        declaration.declaration_id,
        time(declaration.declaration_time.as_ref()),
        declaration.customs_office,
        declaration.importer_id,
        short(
            shipment.assessment_state().as_str_name(),
            "ASSESSMENT_STATE_",
        ),
        assessment.map_or("-".to_owned(), |a| short(a.lane().as_str_name(), "LANE_")),
        assessment.map_or("-".to_owned(), |a| format!("{:.2}", a.risk)),
        top_reason(shipment),
    ]
}

async fn shipments_search(context: &Context, args: SearchArgs) -> Result<u8, CliError> {
    let mut request = SearchShipmentsRequest {
        customs_office: args.office.unwrap_or_default(),
        start_time: args.since,
        end_time: args.until,
        lane: args.lane.map_or(0, |l| l.lane() as i32),
        min_risk: args.min_risk.unwrap_or(0.0),
        importer_id: args.importer.unwrap_or_default(),
        seller: args
            .seller_platform
            .zip(args.seller_id)
            .map(|(platform, seller_id)| seller(platform, seller_id)),
        hs_code_prefix: args.hs_prefix.unwrap_or_default(),
        assessment_state: match args.state {
            None => 0,
            Some(StateArg::Pending) => AssessmentState::Pending as i32,
            Some(StateArg::Assessed) => AssessmentState::Assessed as i32,
        },
        order_by: match args.order {
            OrderArg::Risk => ShipmentOrder::Risk as i32,
            OrderArg::Time => ShipmentOrder::DeclarationTime as i32,
        },
        page_size: 0,
        page_token: String::new(),
    };
    let liaison = context.liaison().await?;
    let mut shipments = Vec::new();
    let mut next_page_token = String::new();
    while shipments.len() < args.limit {
        // Never more than asked for, so the token goes on right after the last one shown.
        // (Pages may come shorter: the server also bounds them by bytes.)
        let wanted = (args.limit - shipments.len()).min(1000);
        request.page_size = i32::try_from(wanted).unwrap_or(1000);
        let page = liaison.search_shipments(request.clone()).await?;
        shipments.extend(page.shipments);
        next_page_token = page.next_page_token;
        if next_page_token.is_empty() {
            break;
        }
        request.page_token = next_page_token.clone();
    }
    shipments.truncate(args.limit);
    if context.json() {
        // The response message with every page's shipments, and the token to go on from.
        let mut answer = serde_json::json!({ "shipments": json::to_array(&shipments)
            .map_err(|e| CliError::Failed(format!("JSON output: {e}")))? });
        if !next_page_token.is_empty() {
            answer["nextPageToken"] = next_page_token.into();
        }
        print_json(&answer)?;
    } else {
        let rows: Vec<Vec<String>> = shipments.iter().map(shipment_row).collect();
        let mut text = table(
            &[
                "SHIPMENT",
                "DECLARED",
                "OFFICE",
                "IMPORTER",
                "STATE",
                "LANE",
                "RISK",
                "TOP REASON",
            ],
            &rows,
        );
        text.push_str(&format!("{} shipments\n", rows.len()));
        print(&text)?;
    }
    Ok(exit::OK)
}

fn money(m: Option<&Money>) -> String {
    m.map_or("-".to_owned(), |m| {
        format!("{} {}", m.amount, m.currency_code)
    })
}

fn shipment_text(shipment: &Shipment) -> String {
    let declaration = shipment.declaration.clone().unwrap_or_default();
    let mut text = format!(
        "{}  declared {} at {} by importer {}\n  state {}",
        shipment.name,
        time(declaration.declaration_time.as_ref()),
        declaration.customs_office,
        declaration.importer_id,
        short(
            shipment.assessment_state().as_str_name(),
            "ASSESSMENT_STATE_"
        ),
    );
    if let Some(assessment) = &shipment.assessment {
        text.push_str(&format!(
            ", lane {}, risk {:.2}{}\n",
            short(assessment.lane().as_str_name(), "LANE_"),
            assessment.risk,
            if assessment.random_selection {
                " (random selection)"
            } else {
                ""
            }
        ));
        if !assessment.matched_shipment_notice.is_empty() {
            text.push_str(&format!(
                "  matched platform notice {}\n",
                assessment.matched_shipment_notice
            ));
        }
        if let Some(seller) = &assessment.seller_risk {
            let account = seller.seller.clone().unwrap_or_default();
            text.push_str(&format!(
                "  seller {}/{}: {}, score {:.2}\n",
                account.platform,
                account.seller_id,
                short(seller.tier().as_str_name(), "RISK_TIER_"),
                seller.score
            ));
        }
        text.push_str("reasons:\n");
        text.push_str(&reasons_text(&assessment.reasons));
        for line in &assessment.lines {
            for anomaly in &line.anomalies {
                text.push_str(&format!(
                    "  line {}: {} against {}: expected {:.2}..{:.2} USD, ratio {:.2}, gap {:.2} USD\n",
                    line.line_number,
                    anomaly.code,
                    anomaly.comparison_group,
                    anomaly.expected_low,
                    anomaly.expected_high,
                    anomaly.ratio,
                    anomaly.estimated_gap_usd
                ));
            }
        }
    } else {
        text.push('\n');
    }
    text.push_str("lines:\n");
    for line in &declaration.lines {
        text.push_str(&format!(
            "  {}  HS {}  {} {}  {}  {}\n",
            line.line_number,
            line.hs_code,
            line.quantity,
            line.quantity_unit,
            money(line.declared_value.as_ref()),
            line.description
        ));
    }
    if let Some(result) = &shipment.inspection_result {
        text.push_str(&format!(
            "inspection: {}{}, {}\n",
            short(result.kind().as_str_name(), "OUTCOME_KIND_"),
            if result.forwarded {
                " (scoring has it)"
            } else {
                " (on its way to scoring)"
            },
            time(result.inspect_time.as_ref())
        ));
    }
    text
}

async fn shipments_get(context: &Context, id: &str) -> Result<u8, CliError> {
    let answer = context
        .liaison()
        .await?
        .get_shipment(GetShipmentRequest {
            name: resource("shipments", id),
        })
        .await?;
    let shipment = answer
        .shipment
        .ok_or_else(|| CliError::Failed("the answer holds no shipment".to_owned()))?;
    if context.json() {
        print_json(&value(&shipment)?)?;
    } else {
        print(&shipment_text(&shipment))?;
    }
    Ok(exit::OK)
}

async fn record_result(context: &Context, args: RecordResultArgs) -> Result<u8, CliError> {
    let amount = |amount: Option<String>| {
        amount.map(|amount| Money {
            currency_code: args.currency.clone(),
            amount,
        })
    };
    let kind = match args.kind {
        OutcomeArg::Cleared => OutcomeKind::Cleared,
        OutcomeArg::CounterfeitSeized => OutcomeKind::CounterfeitSeized,
        OutcomeArg::UndervaluationConfirmed => OutcomeKind::UndervaluationConfirmed,
        OutcomeArg::Other => OutcomeKind::Other,
    };
    let request = RecordInspectionResultRequest {
        name: resource("shipments", &args.id),
        result: Some(InspectionResult {
            kind: kind as i32,
            seized_quantity: args.seized_quantity.unwrap_or(0.0),
            rights_owner: args.rights_owner.clone().unwrap_or_default(),
            assessed_value: amount(args.assessed_value.clone()),
            extra_duty: amount(args.extra_duty.clone()),
            note: args.note.clone().unwrap_or_default(),
            inspect_time: args.inspect_time,
            forwarded: false,
        }),
    };
    let answer = context
        .liaison()
        .await?
        .record_inspection_result(request)
        .await?;
    let shipment = answer
        .shipment
        .ok_or_else(|| CliError::Failed("the answer holds no shipment".to_owned()))?;
    if context.json() {
        print_json(&value(&shipment)?)?;
    } else {
        print(&format!(
            "recorded {} for {}",
            short(kind.as_str_name(), "OUTCOME_KIND_"),
            shipment.name
        ))?;
    }
    Ok(exit::OK)
}

fn alert_line(cursor: i64, shipment: &Shipment) -> String {
    let row = shipment_row(shipment);
    // cursor, id, lane, risk, importer, office, top reason
    format!(
        "{cursor}  {}  {}  {}  {}  {}  {}",
        row[0], row[5], row[6], row[3], row[2], row[7]
    )
}

async fn alerts_watch(
    context: &Context,
    mut request: WatchAlertsRequest,
    max: Option<u64>,
) -> Result<u8, CliError> {
    let liaison = context.liaison().await?;
    let mut seen = 0u64;
    let mut backoff = Duration::from_millis(500);
    let mut signal = Box::pin(crate::stop_signal());
    if max == Some(0) {
        return Ok(exit::OK);
    }
    loop {
        let mut alerts = liaison.watch_alerts(request.clone()).await?;
        let broken = loop {
            let next = tokio::select! {
                () = &mut signal => return Ok(exit::OK),
                next = alerts.message() => next,
            };
            match next {
                Ok(Some(alert)) => {
                    backoff = Duration::from_millis(500);
                    request.after_cursor = alert.cursor;
                    if context.json() {
                        print_json_line(&value(&alert)?)?;
                    } else {
                        let shipment = alert.shipment.clone().unwrap_or_default();
                        print(&alert_line(alert.cursor, &shipment))?;
                    }
                    seen += 1;
                    if max.is_some_and(|max| seen >= max) {
                        return Ok(exit::OK);
                    }
                }
                Ok(None) => break None,
                Err(status) => break Some(status),
            }
        };
        // A stream that breaks off (liaison restarting) is resumed from the last cursor;
        // anything but UNAVAILABLE is final.
        if let Some(status) = &broken
            && status.code() != tonic::Code::Unavailable
        {
            return Err(
                acx_client::Error::Status(acx_client::ServerError::from_status(status, 1)).into(),
            );
        }
        eprintln!(
            "acxctl: the alert stream broke off; reconnecting after cursor {} in {:?}",
            request.after_cursor, backoff
        );
        tokio::select! {
            () = &mut signal => return Ok(exit::OK),
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(Duration::from_secs(30));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_names_take_an_id_or_a_name() {
        assert_eq!(resource("shipments", "D-1"), "shipments/D-1");
        assert_eq!(resource("shipments", "shipments/D-1"), "shipments/D-1");
    }
}
