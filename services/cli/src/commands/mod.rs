//! The subcommands of `acxctl`, one module per command group (its flags, the calls it
//! makes and what it prints): [`reports`], [`seller`], [`blacklist`], [`declarations`],
//! [`shipments`], [`alerts`], with `model` and `evaluate` beside this module. This module
//! holds the top-level [`Command`], its dispatch, and what several groups share.

mod alerts;
mod blacklist;
mod declarations;
mod reports;
mod seller;
mod shipments;

use acx_proto::{
    common::{Reason, SellerAccountRef},
    scoring::Lane,
};
use clap::{Subcommand, ValueEnum};

use crate::{Context, error::CliError, json};

use alerts::AlertsCommand;
use blacklist::BlacklistCommand;
use declarations::DeclarationsCommand;
use reports::ReportsCommand;
use seller::SellerCommand;
use shipments::ShipmentsCommand;

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

/// Runs `command`; returns the exit code of a command that ran.
pub async fn run(context: &Context, command: Command) -> Result<u8, CliError> {
    match command {
        Command::Reports(command) => reports::run(context, command).await,
        Command::Seller(command) => seller::run(context, command).await,
        Command::Blacklist(command) => blacklist::run(context, command).await,
        Command::Declarations(command) => declarations::run(context, command).await,
        Command::Shipments(command) => shipments::run(context, command).await,
        Command::Alerts(command) => alerts::run(context, command).await,
        Command::Model(command) => crate::model::run(context, command).await,
        Command::Evaluate(args) => crate::evaluate::run(context, args).await,
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

/// Marks a blacklisting reason in place of its share of the score.
const LISTED: &str = "BLACKLISTED";

/// The reasons, one a line with its share of the score, and the evidence under each.
/// A blacklisting reason (`BLACKLISTED_*`) has no share by design (the listing sets the
/// tier by itself): it is marked [`LISTED`] rather than shown as `0.00`, which would read
/// as "counts for nothing".
fn reasons_text(reasons: &[Reason]) -> String {
    let listing = |reason: &Reason| reason.code.starts_with("BLACKLISTED_");
    let width = if reasons.iter().any(listing) {
        LISTED.len()
    } else {
        4
    };
    let mut text = String::new();
    for reason in reasons {
        let weight = if listing(reason) {
            LISTED.to_owned()
        } else {
            format!("{:.2}", reason.contribution)
        };
        text.push_str(&format!(
            "  {weight:>width$}  {}  {}\n",
            reason.code, reason.description
        ));
        if !reason.evidence.is_empty() {
            text.push_str(&format!(
                "{:indent$}evidence: {}\n",
                "",
                reason.evidence.join(", "),
                indent = width + 4
            ));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_names_take_an_id_or_a_name() {
        assert_eq!(resource("shipments", "D-1"), "shipments/D-1");
        assert_eq!(resource("shipments", "shipments/D-1"), "shipments/D-1");
    }

    fn reason(code: &str, contribution: f64, evidence: &[&str]) -> Reason {
        Reason {
            code: code.to_owned(),
            description: format!("about {code}"),
            contribution,
            evidence: evidence.iter().map(|e| (*e).to_owned()).collect(),
        }
    }

    #[test]
    fn a_blacklisting_reason_is_marked_not_weighted() {
        let text = reasons_text(&[
            reason("BLACKLISTED_STRONG_LINK", 0.0, &["reports/p/F-1"]),
            reason("COUNTERFEIT_CONFIRMED", 0.62, &["reports/p/F-1"]),
        ]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                "  BLACKLISTED  BLACKLISTED_STRONG_LINK  about BLACKLISTED_STRONG_LINK",
                "               evidence: reports/p/F-1",
                "         0.62  COUNTERFEIT_CONFIRMED  about COUNTERFEIT_CONFIRMED",
                "               evidence: reports/p/F-1",
            ]
        );
        assert!(!text.contains("0.00"), "{text}");
    }

    #[test]
    fn weighted_reasons_alone_keep_their_narrow_column() {
        let text = reasons_text(&[reason("COUNTERFEIT_SUSPECTED", 0.2, &[])]);
        assert_eq!(
            text,
            "  0.20  COUNTERFEIT_SUSPECTED  about COUNTERFEIT_SUSPECTED\n"
        );
    }
}
