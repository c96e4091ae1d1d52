//! `acxctl evaluate`: how well a running suite targets, measured through its public
//! customs API as an authority would try it. Declarations with known outcomes are replayed
//! in time order (the learning window's declarations and, after each day, that day's
//! inspection results; then the evaluation window's declarations alone), each evaluated
//! shipment's risk is read back, and the ranking is scored against the held-back outcomes
//! ([`metrics`]) next to random selection and the HS6 fraud-rate baseline learned in the
//! same run ([`report`]).

pub mod generator;
pub mod metrics;
mod replay;
pub mod report;

use std::path::PathBuf;

use acx_proto::liaison::{Declaration, InspectionResult};
use clap::{Args, ValueEnum};

use crate::{Context, GlobalArgs, error::CliError, kcs};

/// One declaration with what its inspection found.
#[derive(Debug, Clone)]
pub struct Case {
    /// The declaration, as submitted.
    pub declaration: Declaration,
    /// Its inspection result, recorded when it falls in the learning window.
    pub result: InspectionResult,
    /// Whether the inspection found fraud.
    pub fraud: bool,
    /// The revenue the inspection recovered, when the source says (the generator does;
    /// the development data does not).
    pub revenue: Option<f64>,
    /// Whether the outcome is known: only inspected declarations of the learning window
    /// have results to record (every one of the development data is inspected).
    pub inspected: bool,
}

impl Case {
    /// Seconds of the declaration time (0 when missing).
    pub fn seconds(&self) -> i64 {
        self.declaration.declaration_time.map_or(0, |t| t.seconds)
    }
}

/// Where the declarations come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Source {
    /// A file in the columns of the development data (kcs-2020/declarations-2020.csv).
    Kcs,
    /// The planted-truth generator of acx-scoring-eval, with --seed, --train, --test.
    Generator,
}

/// Flags of `acxctl evaluate`.
#[derive(Debug, Args)]
#[command(next_help_heading = "Evaluation")]
pub struct EvaluateArgs {
    /// Where the declarations and outcomes come from.
    #[arg(long, value_enum, default_value_t = Source::Kcs)]
    pub source: Source,
    /// The declarations file for --source kcs [default:
    /// shared/data/kcs-2020/declarations-2020.csv in the current directory or one above].
    #[arg(long, env = "ACX_KCS_2020_CSV")]
    pub file: Option<PathBuf>,
    /// Last day (UTC) of the learning window: its declarations are submitted and their
    /// outcomes recorded. Everything up to it is learned from.
    #[arg(long, default_value = "2020-09-30", value_parser = parse_date)]
    pub learn_until: jiff::civil::Date,
    /// Last day (UTC) of the evaluation window, which starts the day after --learn-until:
    /// its declarations are submitted, their outcomes held back and used only to score the
    /// ranking. Later declarations are ignored.
    #[arg(long, default_value = "2020-12-31", value_parser = parse_date)]
    pub evaluate_until: jiff::civil::Date,
    /// Replay as this customs authority: the token of principal customs:NAME from the
    /// credentials file (same as --principal customs:NAME). Without it, and without
    /// --token, --token-file or --principal: customs:demo-customs.
    #[arg(long, value_name = "NAME")]
    pub authority: Option<String>,
    /// Keep a deterministic share (0 to 1] of each window, chosen by a hash of the
    /// declaration id, so a small run still spans the whole period.
    #[arg(long, value_name = "SHARE")]
    pub sample: Option<f64>,
    /// At most N declarations of each window (the earliest, after --sample).
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// At most N declarations of the evaluation window (instead of --limit's).
    #[arg(long, value_name = "N")]
    pub evaluate_limit: Option<usize>,
    /// Declarations per SubmitDeclarations call (liaison takes up to 500).
    #[arg(long, default_value_t = 500)]
    pub batch: usize,
    /// RecordInspectionResult and GetShipment calls in flight at once.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Seed of --source generator.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Declarations of the generator's learning period (30% of them inspected).
    #[arg(long, default_value_t = 8000)]
    pub train: usize,
    /// Declarations of the generator's evaluation period.
    #[arg(long, default_value_t = 4000)]
    pub test: usize,
    /// Print the report as JSON (same as --output json).
    #[arg(long)]
    pub json: bool,
    /// Draw no progress bar on standard error (none is drawn when it is not a terminal).
    #[arg(long)]
    pub no_progress: bool,
}

/// What `--help` says after the flags.
pub const AFTER_HELP: &str = "\
Windows: the learning window is every declaration up to --learn-until (default 2020-09-30);
  the evaluation window runs from the next day to --evaluate-until (default 2020-12-31).
  That is the development split of the data (learn from January-September outcomes, rank
  October-December). Days are UTC dates of the declaration time.

Replay: learning-window declarations go in day by day through SubmitDeclarations (in
  batches of --batch, in time order), each day's inspection results after that day's
  declarations through RecordInspectionResult (--concurrency at once); then the evaluation
  window's declarations, whose outcomes are never sent. Each evaluated shipment is read back
  (SearchShipments over the window, page by page; GetShipment for any not found) and ranked
  by the risk it was given on arrival (liaison may re-assess it later). A rerun against the same suite is safe: stored declarations answer DUPLICATE
  and the same result again is harmless; but risks are then those of the first run, so
  measure on a fresh suite.

Metrics (over the evaluation window, ties in risk broken by a hash of the declaration id):
  P@n%    precision: share of fraud among the top n% by risk (n = 1, 2, 5, 10)
  R@n%    revenue: share of the window's recovered revenue in the top n% (only sources
          that carry revenue: the generator does, the development data does not)
  AUC     chance that a fraudulent shipment outranks an honest one (ties count half)
  next to random selection (expected values: P@n% = the base rate) and the HS6 baseline:
  each HS6 code's fraud rate over the learning window's outcomes, smoothed towards the
  overall rate with a weight of 5 inspections. Also: the lane mix (share and fraud rate per
  lane), the model versions on the assessments and the shipments without a reason.

Sources: --source kcs reads the columns of the development data (shared/data/kcs-2020;
  its later periods are held out and never used). --source generator draws the planted-truth
  world of acx-scoring-eval with --seed, --train, --test, dated over 2020 so the default
  windows split it as that program does; the platforms' side of that world (seller
  profiles, findings, shipment notices) has no customs door and is not replayed.

Examples:
  # the full development split against the suite started with `cargo run --release --bin acx`
  acxctl --principal customs:demo-customs evaluate
  # a quick look: a 5% sample of each window, as JSON
  acxctl evaluate --sample 0.05 --json
  # the generator's data
  acxctl evaluate --source generator --seed 7";

fn parse_date(text: &str) -> Result<jiff::civil::Date, String> {
    text.parse()
        .map_err(|_| format!("{text:?} is not a date such as 2020-09-30"))
}

/// Midnight UTC after `date`, in Unix seconds: the end (exclusive) of a window to `date`.
fn end_of(date: jiff::civil::Date) -> Result<i64, CliError> {
    let next = date
        .tomorrow()
        .map_err(|e| CliError::Usage(format!("{date}: {e}")))?;
    next.to_datetime(jiff::civil::Time::midnight())
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .map(|z| z.timestamp().as_second())
        .map_err(|e| CliError::Usage(format!("{date}: {e}")))
}

/// The two windows of `cases`, each in time order (file order within a time), after
/// --sample and the limits.
struct Windows {
    learning: Vec<Case>,
    evaluation: Vec<Case>,
    /// Unix seconds where the evaluation window starts and ends (exclusive).
    evaluation_span: (i64, i64),
}

fn split(mut cases: Vec<Case>, args: &EvaluateArgs) -> Result<Windows, CliError> {
    if args.evaluate_until <= args.learn_until {
        return Err(CliError::Usage(format!(
            "--evaluate-until {} must be after --learn-until {}",
            args.evaluate_until, args.learn_until
        )));
    }
    if let Some(share) = args.sample
        && !(share > 0.0 && share <= 1.0)
    {
        return Err(CliError::Usage(format!(
            "--sample {share}: give a share above 0 and at most 1"
        )));
    }
    let (learn_end, evaluate_end) = (end_of(args.learn_until)?, end_of(args.evaluate_until)?);
    cases.sort_by_key(Case::seconds); // stable: file order within a time
    let sampled = |case: &Case| {
        args.sample.is_none_or(|share| {
            let unit = (metrics::tie_key(&case.declaration.declaration_id) >> 11) as f64
                / (1u64 << 53) as f64;
            unit < share
        })
    };
    let (mut learning, mut evaluation) = (Vec::new(), Vec::new());
    for case in cases.into_iter().filter(sampled) {
        let seconds = case.seconds();
        if seconds < learn_end {
            learning.push(case);
        } else if seconds < evaluate_end {
            evaluation.push(case);
        }
    }
    if let Some(limit) = args.limit {
        learning.truncate(limit);
    }
    if let Some(limit) = args.evaluate_limit.or(args.limit) {
        evaluation.truncate(limit);
    }
    if evaluation.is_empty() {
        return Err(CliError::Usage(format!(
            "no declarations between {} and {}: nothing to evaluate",
            args.learn_until, args.evaluate_until
        )));
    }
    Ok(Windows {
        learning,
        evaluation,
        evaluation_span: (learn_end, evaluate_end),
    })
}

/// The cases of the source, and a name for it in the report.
fn load(args: &EvaluateArgs) -> Result<(Vec<Case>, String), CliError> {
    match args.source {
        Source::Kcs => {
            let path = match &args.file {
                Some(path) => path.clone(),
                None => std::env::current_dir()
                    .ok()
                    .and_then(|dir| kcs::find_data_file(&dir))
                    .ok_or_else(|| {
                        CliError::Usage(format!(
                            "{} not found here or above; give --file",
                            kcs::DATA_FILE
                        ))
                    })?,
            };
            let records = kcs::read(&path).map_err(CliError::Usage)?;
            let cases = records
                .into_iter()
                .map(|r| Case {
                    declaration: r.declaration,
                    result: r.result,
                    fraud: r.fraud,
                    revenue: None,
                    inspected: true,
                })
                .collect();
            Ok((cases, path.display().to_string()))
        }
        Source::Generator => {
            if args.train < 100 || args.test < 100 {
                return Err(CliError::Usage(
                    "--train and --test need at least 100 declarations".to_owned(),
                ));
            }
            let options = generator::Options {
                train: args.train,
                test: args.test,
                seed: args.seed,
            };
            Ok((
                generator::generate(options),
                format!(
                    "generator (seed {}, {} + {} declarations)",
                    args.seed, args.train, args.test
                ),
            ))
        }
    }
}

/// The connection flags with the authority's credentials.
fn as_authority(global: &GlobalArgs, authority: Option<&str>) -> GlobalArgs {
    let mut global = global.clone();
    let principal = match authority {
        Some(name) => Some(format!("customs:{name}")),
        None if global.token.is_none()
            && global.token_file.is_none()
            && global.principal.is_none() =>
        {
            Some("customs:demo-customs".to_owned())
        }
        None => return global,
    };
    global.token = None;
    global.token_file = None;
    global.principal = principal;
    global
}

/// Runs `acxctl evaluate`.
pub async fn run(context: &Context, args: EvaluateArgs) -> Result<u8, CliError> {
    if args.batch == 0 || args.batch > 500 {
        return Err(CliError::Usage("--batch must be 1 to 500".to_owned()));
    }
    if args.concurrency == 0 {
        return Err(CliError::Usage(
            "--concurrency must be at least 1".to_owned(),
        ));
    }
    let (cases, source) = load(&args)?;
    let windows = split(cases, &args)?;
    let context = Context {
        global: as_authority(&context.global, args.authority.as_deref()),
    };
    let liaison = context.liaison().await?;
    let started = std::time::Instant::now();
    let replayed = replay::run(
        liaison,
        &windows,
        replay::Options {
            batch: args.batch,
            concurrency: args.concurrency,
            progress: !args.no_progress,
        },
    )
    .await?;
    let report = report::build(
        source,
        (args.learn_until, args.evaluate_until),
        &windows.learning,
        &windows.evaluation,
        &replayed,
        started.elapsed(),
    );
    if args.json || context.json() {
        let value = serde_json::to_value(&report)
            .map_err(|e| CliError::Failed(format!("JSON output: {e}")))?;
        crate::output::print_json(&value)?;
    } else {
        crate::output::print(&report.text())?;
    }
    Ok(crate::rejected_or_ok(
        report.submitted.rejected + report.submitted.already_exists,
    ))
}
