//! `acxctl alerts ...`: new RED and YELLOW shipments as liaison assesses them, resumable
//! by cursor.

use std::time::Duration;

use acx_proto::liaison::{WatchAlertsRequest, WatchAlertsResponse};
use clap::Subcommand;

use super::{LaneArg, shipments::shipment_row, value};
use crate::{
    Context,
    error::{CliError, exit},
    output::{print, print_json_line, short},
};

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

/// Runs an `alerts` subcommand.
pub async fn run(context: &Context, command: AlertsCommand) -> Result<u8, CliError> {
    match command {
        AlertsCommand::Watch {
            after,
            lane,
            min_risk,
            office,
            max,
        } => {
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

/// One alert: cursor, id, the lane and risk that raised it, importer, office, top reason.
fn alert_line(alert: &WatchAlertsResponse) -> String {
    let shipment = alert.shipment.clone().unwrap_or_default();
    let mut row = shipment_row(&shipment);
    // What raised the alert (the shipment may have been re-assessed since); a liaison from
    // before the alert carried it sends none.
    if alert.lane != 0 {
        row[5] = short(alert.lane().as_str_name(), "LANE_");
        row[6] = format!("{:.2}", alert.risk);
    }
    format!(
        "{}  {}  {}  {}  {}  {}  {}",
        alert.cursor, row[0], row[5], row[6], row[3], row[2], row[7]
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
                        print(&alert_line(&alert))?;
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
