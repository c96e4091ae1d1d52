//! `acxctl model ...`: the targeting model for analysts and auditors (its card), lane
//! policies for authorities, and a training on demand for operators.

use acx_proto::{
    liaison::{GetModelCardRequest, SetLanePolicyRequest},
    scoring::{Backtest, LaneThresholds, ModelCard, TrainModelRequest},
};
use clap::Subcommand;

use crate::{
    Context,
    error::{CliError, exit},
    json,
    output::{print, print_json, time},
};

/// `acxctl model ...`
#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// The model card (liaison, customs or auditor): version, training window and outcomes,
    /// backtest precision at 1/2/5/10 % and AUC next to the HS6 fraud-rate baseline, lane
    /// thresholds in force, previous versions.
    Show,
    /// Sets the caller's lane policy (liaison, customs): the shares of shipments it can send
    /// RED and YELLOW; thresholds follow from recent scores so the shares hold.
    Lanes {
        /// Share of shipments to send RED, 0 to 1.
        #[arg(long, value_name = "SHARE")]
        red: f64,
        /// Share of shipments to send YELLOW, 0 to 1.
        #[arg(long, value_name = "SHARE")]
        yellow: f64,
        /// Share picked at random for inspection, 0 to 1.
        #[arg(long, value_name = "SHARE", default_value_t = 0.02)]
        random: f64,
        /// Share of shipments of parties with few or no inspections picked to explore them.
        #[arg(long, value_name = "SHARE", default_value_t = 0.01)]
        exploration: f64,
        /// The customs office the policy is for; without it, the authority's default.
        #[arg(long, value_name = "OFFICE")]
        office: Option<String>,
    },
    /// Trains a challenger now on every recorded outcome and promotes it if its backtest
    /// is not worse (scoring, a `service:operator` token). Waits for the training.
    Train,
}

fn value<M: json::Named>(message: &M) -> Result<serde_json::Value, CliError> {
    json::to_value(message).map_err(|e| CliError::Failed(format!("JSON output: {e}")))
}

/// Runs a `model` subcommand.
pub async fn run(context: &Context, command: ModelCommand) -> Result<u8, CliError> {
    match command {
        ModelCommand::Show => {
            let answer = context
                .liaison()
                .await?
                .get_model_card(GetModelCardRequest {})
                .await?;
            let card = answer.card.unwrap_or_default();
            if context.json() {
                print_json(&value(&card)?)?;
            } else {
                print(&card_text(&card))?;
            }
        }
        ModelCommand::Lanes {
            red,
            yellow,
            random,
            exploration,
            office,
        } => {
            let answer = context
                .liaison()
                .await?
                .set_lane_policy(SetLanePolicyRequest {
                    customs_office: office.unwrap_or_default(),
                    red_share: red,
                    yellow_share: yellow,
                    random_share: random,
                    exploration_share: exploration,
                })
                .await?;
            let thresholds = answer.thresholds.unwrap_or_default();
            if context.json() {
                print_json(&value(&thresholds)?)?;
            } else {
                print(&format!("{}\n", lanes_text(&thresholds)))?;
            }
        }
        ModelCommand::Train => {
            let answer = context
                .scoring()
                .await?
                .train_model(TrainModelRequest {})
                .await?;
            if context.json() {
                print_json(&value(&answer)?)?;
            } else {
                let challenger = answer.challenger.unwrap_or_default();
                print(&format!(
                    "{} {}: {}\n",
                    challenger.version,
                    if answer.promoted {
                        "promoted"
                    } else {
                        "not promoted"
                    },
                    challenger.decision
                ))?;
            }
        }
    }
    Ok(exit::OK)
}

fn backtest_line(label: &str, b: &Backtest) -> String {
    let top: Vec<String> = b
        .top
        .iter()
        .map(|t| format!("{:.1}", t.precision * 100.0))
        .collect();
    format!(
        "  {label:<10} precision@1/2/5/10% {}  AUC {:.3}\n",
        top.join("/"),
        b.auc
    )
}

fn lanes_text(t: &LaneThresholds) -> String {
    let p = t.policy.clone().unwrap_or_default();
    let office = if p.customs_office.is_empty() {
        "(default)".to_owned()
    } else {
        p.customs_office
    };
    format!(
        "  {} {office}: RED {:.0}% at score >= {:.4}, YELLOW {:.0}% at >= {:.4}, random {:.1}%, exploration {:.1}% ({} recent scores)",
        p.authority,
        p.red_share * 100.0,
        t.red_threshold,
        p.yellow_share * 100.0,
        t.yellow_threshold,
        p.random_share * 100.0,
        p.exploration_share * 100.0,
        t.scores_seen
    )
}

/// The card in words.
pub fn card_text(card: &ModelCard) -> String {
    let mut text = format!("model {}\n", card.version);
    if !card.trained {
        text.push_str(&format!("  cold start: {}\n", card.cold_start));
    } else {
        text.push_str(&format!(
            "  trained {} on {} outcomes ({} frauds), declared {} to {}\n  {} features\n",
            time(card.trained_time.as_ref()),
            card.training_outcomes,
            card.training_frauds,
            time(card.window_start.as_ref()),
            time(card.window_end.as_ref()),
            card.features.len()
        ));
        if let (Some(b), Some(h)) = (&card.backtest, &card.baseline) {
            text.push_str(&format!(
                "backtest on {} later outcomes ({} frauds), {} to {}:\n",
                b.shipments,
                b.frauds,
                time(b.window_start.as_ref()),
                time(b.window_end.as_ref())
            ));
            text.push_str(&backtest_line("model", b));
            text.push_str(&backtest_line("HS6 rate", h));
        }
    }
    text.push_str(&format!(
        "outcomes recorded: {}{}\n",
        card.outcomes_recorded,
        if card.training_pending {
            " (a training is due or running)"
        } else {
            ""
        }
    ));
    if !card.lanes.is_empty() {
        text.push_str("lanes:\n");
        for lane in &card.lanes {
            text.push_str(&lanes_text(lane));
            text.push('\n');
        }
    }
    if !card.previous.is_empty() {
        text.push_str("previous versions:\n");
        for v in &card.previous {
            text.push_str(&format!(
                "  {} {} {}: {}\n",
                v.version,
                time(v.trained_time.as_ref()),
                if v.promoted {
                    "promoted"
                } else {
                    "not promoted"
                },
                v.decision
            ));
        }
    }
    text
}
