//! `acxctl seller ...`: a seller account's risk with its reasons, from scoring (platforms)
//! or through liaison (customs).

use acx_proto::{
    common::SellerAccountRef, liaison::CheckSellerRequest, scoring::GetSellerRiskRequest,
};
use clap::Subcommand;

use super::{reasons_text, seller, value};
use crate::{
    Context,
    error::{CliError, exit},
    output::{print, print_json, short, time},
};

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

/// Runs a `seller` subcommand.
pub async fn run(context: &Context, command: SellerCommand) -> Result<u8, CliError> {
    match command {
        SellerCommand::Risk {
            platform,
            seller_id,
        } => seller_risk(context, seller(platform, seller_id)).await,
        SellerCommand::Check {
            platform,
            seller_id,
        } => seller_check(context, seller(platform, seller_id)).await,
    }
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
