//! The calls: the replay of both windows through liaison, and the read-back of the
//! evaluated shipments, with a progress bar on standard error.

use std::collections::{HashMap, HashSet};

use acx_client::LiaisonClient;
use acx_proto::liaison::{
    DeclarationOutcome, GetShipmentRequest, RecordInspectionResultRequest, SearchShipmentsRequest,
    Shipment, ShipmentOrder, SubmitDeclarationsRequest,
};
use futures_util::{StreamExt, TryStreamExt, stream};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tonic::Code;

use super::{Case, Windows};
use crate::error::CliError;

/// How the replay calls.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Declarations per SubmitDeclarations call.
    pub batch: usize,
    /// Unary calls in flight at once.
    pub concurrency: usize,
    /// Whether to draw the progress bar (only on a terminal).
    pub progress: bool,
}

/// What the declarations' submission answered, over both windows.
#[derive(Debug, Clone, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Submitted {
    /// Newly stored.
    pub accepted: u64,
    /// Already stored with the same content (a rerun).
    pub duplicates: u64,
    /// Rejected as invalid.
    pub rejected: u64,
    /// The id is taken by a declaration with other content.
    pub already_exists: u64,
    /// Stored but not assessed yet (scoring unreachable).
    pub pending: u64,
    /// The first few rejections: "id: field: why".
    pub examples: Vec<String>,
}

/// What recording the learning window's results answered.
#[derive(Debug, Clone, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Recorded {
    /// Recorded (or the same result was there already).
    pub recorded: u64,
    /// The shipment already holds another result (ALREADY_EXISTS or FAILED_PRECONDITION).
    pub conflicting: u64,
}

/// Everything the replay learned from the API.
#[derive(Debug, Default)]
pub struct Replayed {
    /// The submissions' answers.
    pub submitted: Submitted,
    /// Ids of the declarations stored (accepted or duplicate).
    pub stored: HashSet<String>,
    /// The results' answers.
    pub results: Recorded,
    /// The evaluation window's shipments as read back, by declaration id.
    pub shipments: HashMap<String, Shipment>,
    /// How many were found by SearchShipments, and how many needed GetShipment.
    pub via_search: u64,
    /// See `via_search`.
    pub via_get: u64,
}

fn bar(options: Options, total: u64) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(
        Some(total),
        if options.progress {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        },
    );
    if let Ok(style) =
        ProgressStyle::with_template("{msg:<28} [{bar:30}] {pos}/{len} steps, {per_sec}, eta {eta}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// Submits `cases` in order, `batch` at a time, one call after the other (so scoring
/// assesses them in time order).
async fn submit(
    liaison: &LiaisonClient,
    cases: &[Case],
    batch: usize,
    replayed: &mut Replayed,
    bar: &ProgressBar,
) -> Result<(), CliError> {
    for chunk in cases.chunks(batch) {
        let answer = liaison
            .submit_declarations(SubmitDeclarationsRequest {
                declarations: chunk.iter().map(|c| c.declaration.clone()).collect(),
            })
            .await?;
        if answer.results.len() != chunk.len() {
            return Err(CliError::Failed(format!(
                "SubmitDeclarations answered {} results for {} declarations",
                answer.results.len(),
                chunk.len()
            )));
        }
        let counts = &mut replayed.submitted;
        for result in answer.results {
            match result.outcome() {
                DeclarationOutcome::Accepted | DeclarationOutcome::Duplicate => {
                    if result.outcome() == DeclarationOutcome::Accepted {
                        counts.accepted += 1;
                    } else {
                        counts.duplicates += 1;
                    }
                    if result.assessment_state() != acx_proto::liaison::AssessmentState::Assessed {
                        counts.pending += 1;
                    }
                    replayed.stored.insert(result.declaration_id);
                }
                DeclarationOutcome::AlreadyExists => counts.already_exists += 1,
                _ => {
                    counts.rejected += 1;
                    if counts.examples.len() < 5 {
                        let why: Vec<String> = result
                            .violations
                            .iter()
                            .map(|v| format!("{}: {}", v.field, v.description))
                            .collect();
                        counts.examples.push(format!(
                            "{}: {}",
                            result.declaration_id,
                            why.join("; ")
                        ));
                    }
                }
            }
        }
        bar.inc(chunk.len() as u64);
    }
    Ok(())
}

/// Records the results of the stored, inspected `cases`, `concurrency` at a time.
async fn record(
    liaison: &LiaisonClient,
    cases: &[Case],
    concurrency: usize,
    replayed: &mut Replayed,
    bar: &ProgressBar,
) -> Result<(), CliError> {
    let calls = cases
        .iter()
        .filter(|c| c.inspected && replayed.stored.contains(&c.declaration.declaration_id))
        .map(|case| {
            let liaison = liaison.clone();
            let request = RecordInspectionResultRequest {
                name: format!("shipments/{}", case.declaration.declaration_id),
                result: Some(case.result.clone()),
            };
            async move {
                let answer = liaison.record_inspection_result(request).await;
                bar.inc(1);
                match answer {
                    Ok(_) => Ok(true),
                    Err(error)
                        if matches!(
                            error.code(),
                            Some(Code::AlreadyExists | Code::FailedPrecondition)
                        ) =>
                    {
                        Ok(false)
                    }
                    Err(error) => Err(CliError::from(error)),
                }
            }
        });
    let answers: Vec<bool> = stream::iter(calls)
        .buffer_unordered(concurrency)
        .try_collect()
        .await?;
    for recorded in answers {
        if recorded {
            replayed.results.recorded += 1;
        } else {
            replayed.results.conflicting += 1;
        }
    }
    Ok(())
}

/// Reads back the evaluation window's stored shipments: SearchShipments over the window's
/// time span, page by page, keeping those of this run; GetShipment for any it missed, and for
/// each it found, for its assessment history.
async fn read_back(
    liaison: &LiaisonClient,
    windows: &Windows,
    options: Options,
    replayed: &mut Replayed,
    bar: &ProgressBar,
) -> Result<(), CliError> {
    let wanted: HashSet<&str> = windows
        .evaluation
        .iter()
        .map(|c| c.declaration.declaration_id.as_str())
        .filter(|id| replayed.stored.contains(*id))
        .collect();
    let timestamp = |seconds| Some(prost_types::Timestamp { seconds, nanos: 0 });
    let mut request = SearchShipmentsRequest {
        start_time: timestamp(windows.evaluation_span.0),
        end_time: timestamp(windows.evaluation_span.1),
        order_by: ShipmentOrder::DeclarationTime as i32,
        page_size: 1000,
        ..Default::default()
    };
    loop {
        let page = liaison.search_shipments(request.clone()).await?;
        for shipment in page.shipments {
            let id = shipment
                .name
                .strip_prefix("shipments/")
                .unwrap_or(&shipment.name)
                .to_owned();
            if wanted.contains(id.as_str()) && !replayed.shipments.contains_key(&id) {
                replayed.via_search += 1;
                bar.inc(1);
                replayed.shipments.insert(id, shipment);
            }
        }
        if page.next_page_token.is_empty() {
            break;
        }
        request.page_token = page.next_page_token;
    }
    let missing: Vec<String> = wanted
        .iter()
        .filter(|id| !replayed.shipments.contains_key(**id))
        .map(|id| (*id).to_owned())
        .collect();
    // Targeting is judged by the assessment made on arrival, and only GetShipment carries the
    // assessment history: a shipment re-assessed since (outcomes about its importer arrived
    // through liaison's outbox) would otherwise be judged by its later risk.
    let found: Vec<String> = replayed.shipments.keys().cloned().collect();
    for (id, shipment) in get_shipments(liaison, found, options.concurrency, None).await? {
        if let Some(shipment) = shipment {
            replayed.shipments.insert(id, shipment);
        }
    }
    for (id, shipment) in get_shipments(liaison, missing, options.concurrency, Some(bar)).await? {
        if let Some(shipment) = shipment {
            replayed.via_get += 1;
            replayed.shipments.insert(id, shipment);
        }
    }
    Ok(())
}

/// GetShipment for each of `ids`, `concurrency` at a time, each answer counted on `bar`.
async fn get_shipments(
    liaison: &LiaisonClient,
    ids: Vec<String>,
    concurrency: usize,
    bar: Option<&ProgressBar>,
) -> Result<Vec<(String, Option<Shipment>)>, CliError> {
    let calls = ids.into_iter().map(|id| {
        let liaison = liaison.clone();
        async move {
            let answer = liaison
                .get_shipment(GetShipmentRequest {
                    name: format!("shipments/{id}"),
                })
                .await?;
            if let Some(bar) = bar {
                bar.inc(1);
            }
            Ok::<_, CliError>((id, answer.shipment))
        }
    });
    stream::iter(calls)
        .buffer_unordered(concurrency)
        .try_collect()
        .await
}

/// Longest wait for scoring to train on the learning window's outcomes.
const MODEL_WAIT: std::time::Duration = std::time::Duration::from_secs(600);

/// Waits until scoring holds the learning window's outcomes (liaison forwards them through
/// its outbox) and no training is due or running, so the evaluation window is assessed by
/// the model those outcomes train (or by the rules, in cold start). Gives up after
/// [`MODEL_WAIT`] with a warning: the figures then show whatever assessed.
async fn wait_for_model(liaison: &LiaisonClient, outcomes: i64) {
    let started = std::time::Instant::now();
    loop {
        let card = match liaison
            .get_model_card(acx_proto::liaison::GetModelCardRequest {})
            .await
        {
            Ok(answer) => answer.card.unwrap_or_default(),
            Err(error) => {
                eprintln!("warning: no model card ({error}); evaluating with what assesses now");
                return;
            }
        };
        if card.outcomes_recorded >= outcomes && !card.training_pending {
            return;
        }
        if started.elapsed() > MODEL_WAIT {
            eprintln!(
                "warning: scoring had not finished training after {} s; evaluating with what assesses now",
                MODEL_WAIT.as_secs()
            );
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

/// Replays both windows and reads the evaluated shipments back.
pub async fn run(
    liaison: LiaisonClient,
    windows: &Windows,
    options: Options,
) -> Result<Replayed, CliError> {
    let results = windows.learning.iter().filter(|c| c.inspected).count();
    let total = windows.learning.len() + results + 2 * windows.evaluation.len();
    let bar = bar(options, total as u64);
    let mut replayed = Replayed::default();

    bar.set_message("learning window");
    // Day by day (UTC): the day's declarations, then the day's results.
    let mut rest = windows.learning.as_slice();
    while let Some(first) = rest.first() {
        let day = first.seconds().div_euclid(86_400);
        let end = rest
            .iter()
            .position(|c| c.seconds().div_euclid(86_400) != day)
            .unwrap_or(rest.len());
        let (today, later) = rest.split_at(end);
        submit(&liaison, today, options.batch, &mut replayed, &bar).await?;
        record(&liaison, today, options.concurrency, &mut replayed, &bar).await?;
        rest = later;
    }

    bar.set_message("waiting for the model");
    wait_for_model(&liaison, results as i64).await;

    bar.set_message("evaluation window");
    submit(
        &liaison,
        &windows.evaluation,
        options.batch,
        &mut replayed,
        &bar,
    )
    .await?;

    bar.set_message("reading risks back");
    read_back(&liaison, windows, options, &mut replayed, &bar).await?;
    bar.finish_and_clear();
    Ok(replayed)
}
