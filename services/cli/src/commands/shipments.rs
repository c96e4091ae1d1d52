//! `acxctl shipments ...`: search, details and inspection results of customs shipments
//! (liaison).

use acx_proto::{
    common::Money,
    liaison::{
        AssessmentState, GetShipmentRequest, InspectionResult, RecordInspectionResultRequest,
        SearchShipmentsRequest, Shipment, ShipmentOrder,
    },
    scoring::OutcomeKind,
};
use clap::{Args, Subcommand, ValueEnum};

use super::{LaneArg, reasons_text, resource, seller, value};
use crate::{
    Context,
    error::{CliError, exit},
    json,
    output::{print, print_json, short, table, time},
};

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
    /// Currency of --assessed-value and --extra-duty (ISO 4217) [default: the currency the
    /// declaration's lines are in].
    #[arg(long)]
    pub currency: Option<String>,
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

/// Runs a `shipments` subcommand.
pub async fn run(context: &Context, command: ShipmentsCommand) -> Result<u8, CliError> {
    match command {
        ShipmentsCommand::Search(args) => shipments_search(context, args).await,
        ShipmentsCommand::Get { id } => shipments_get(context, &id).await,
        ShipmentsCommand::RecordResult(args) => record_result(context, args).await,
    }
}

fn top_reason(shipment: &Shipment) -> String {
    shipment
        .assessment
        .as_ref()
        .and_then(|a| a.reasons.first())
        .map_or_else(String::new, |r| r.code.clone())
}

pub(super) fn shipment_row(shipment: &Shipment) -> Vec<String> {
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

/// The currency of a result's amounts when `--currency` is not given: the one the
/// declaration's lines are in (found by a tester: amounts went in as USD, the old default,
/// on declarations in KRW and EUR, so wrong money was stored and forwarded).
async fn declared_currency(context: &Context, id: &str) -> Result<String, CliError> {
    let shipment = context
        .liaison()
        .await?
        .get_shipment(GetShipmentRequest {
            name: resource("shipments", id),
        })
        .await?
        .shipment
        .ok_or_else(|| CliError::Failed("the answer holds no shipment".to_owned()))?;
    let mut currencies: Vec<String> = shipment
        .declaration
        .iter()
        .flat_map(|d| &d.lines)
        .filter_map(|line| line.declared_value.as_ref())
        .map(|value| value.currency_code.clone())
        .collect();
    currencies.sort();
    currencies.dedup();
    match currencies.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(CliError::Usage(
            "give --currency: the declaration states no value".to_owned(),
        )),
        several => Err(CliError::Usage(format!(
            "give --currency: the declaration's lines are in {}",
            several.join(", ")
        ))),
    }
}

async fn record_result(context: &Context, args: RecordResultArgs) -> Result<u8, CliError> {
    let currency = match (&args.currency, &args.assessed_value, &args.extra_duty) {
        (Some(currency), _, _) => currency.clone(),
        (None, None, None) => String::new(),
        (None, _, _) => declared_currency(context, &args.id).await?,
    };
    let amount = |amount: Option<String>| {
        amount.map(|amount| Money {
            currency_code: currency.clone(),
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
