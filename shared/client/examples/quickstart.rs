//! ACX quickstart for customs integrators: submit one declaration to liaison, read its
//! assessment back (lane, risk, reasons), and check a marketplace seller.
//!
//! ```sh
//! cargo run --release --bin acx -- --demo    # in another terminal: the suite, demo data
//! # the customs token the suite made on its first run:
//! export ACX_TOKEN=$(awk '$1=="customs:demo-customs" {print $2}' data/credentials)
//! cargo run -p acx-client --example quickstart -- --endpoint http://127.0.0.1:50053
//! ```
//!
//! Every flag also reads an environment variable (`ACX_LIAISON_ENDPOINT`, `ACX_TOKEN`,
//! `ACX_CA_CERT`); flags win.

use std::{path::PathBuf, process::ExitCode};

use acx_client::{
    Client, ClientConfig, Error,
    proto::{
        common::{ConsignmentNumbers, Money, SellerAccountRef},
        liaison::{
            CheckSellerRequest, Declaration, DeclarationLine, DeclarationOutcome,
            GetShipmentRequest, Procedure, SubmitDeclarationsRequest, TransportMode,
            ValuationBasis,
        },
    },
};
use clap::Parser;

/// Submit a declaration to ACX liaison, print its assessment, check a seller.
#[derive(Parser)]
struct Args {
    /// Liaison's address: http://host:port, or https://host:port for TLS.
    #[arg(
        long,
        env = "ACX_LIAISON_ENDPOINT",
        default_value = "http://127.0.0.1:50053"
    )]
    endpoint: String,
    /// Bearer token of a customs principal.
    #[arg(long, env = "ACX_TOKEN", hide_env_values = true)]
    token: String,
    /// PEM CA certificate of the server, for https endpoints with a private CA.
    #[arg(long, env = "ACX_CA_CERT")]
    ca_cert: Option<PathBuf>,
    /// Id of the declaration to submit; resubmitting the same one is safe.
    #[arg(long, default_value = "QUICKSTART-0001")]
    declaration_id: String,
    /// Marketplace of the seller to check.
    #[arg(long, default_value = "demo-marketplace")]
    platform: String,
    /// Seller account to check.
    #[arg(long, default_value = "T-2")]
    seller_id: String,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error}");
            // For invalid input the server names each field and what is wrong with it.
            for violation in error.field_violations() {
                eprintln!("  {}: {}", violation.field, violation.description);
            }
            ExitCode::FAILURE
        }
    }
}

/// Runs the three steps; `FAILURE` when the declaration was refused.
async fn run(args: Args) -> Result<ExitCode, Error> {
    // One place for endpoint, token and TLS; deadlines and retries have sensible defaults.
    let mut config = ClientConfig::new(args.endpoint).with_token(args.token);
    config.ca_certificate = args.ca_cert;
    let liaison = Client::connect(config).await?.liaison();

    // 1. Submit a declaration. Each declaration gets its own result; a retry of the same
    //    declaration answers DUPLICATE, so the client retries this call safely.
    let declaration = sample_declaration(&args.declaration_id);
    let results = liaison
        .submit_declarations(SubmitDeclarationsRequest {
            declarations: vec![declaration],
        })
        .await?
        .results;
    let Some(result) = results.first() else {
        eprintln!("liaison answered with no result");
        return Ok(ExitCode::FAILURE);
    };
    println!(
        "declaration {}: {}",
        result.declaration_id,
        result.outcome().as_str_name()
    );
    match result.outcome() {
        DeclarationOutcome::Accepted | DeclarationOutcome::Duplicate => {}
        DeclarationOutcome::AlreadyExists => {
            // The stored declaration is shown below; it is not the one just sent.
            println!("  that id holds another declaration: pass a new --declaration-id");
        }
        _ => {
            for violation in &result.violations {
                println!("  {}: {}", violation.field, violation.description);
            }
            return Ok(ExitCode::FAILURE);
        }
    }

    // 2. Read the shipment back: its lane, risk and the reasons for them.
    let shipment = liaison
        .get_shipment(GetShipmentRequest {
            name: format!("shipments/{}", args.declaration_id),
        })
        .await?
        .shipment
        .unwrap_or_default();
    match shipment.assessment {
        Some(assessment) => {
            println!(
                "shipment {}: lane {}, risk {:.2}",
                shipment.name,
                assessment.lane().as_str_name(),
                assessment.risk
            );
            for reason in &assessment.reasons {
                println!("  reason {}: {}", reason.code, reason.description);
            }
        }
        // Stored but not assessed yet (scoring was unreachable): ask again later.
        None => println!(
            "shipment {}: {}",
            shipment.name,
            shipment.assessment_state().as_str_name()
        ),
    }

    // 3. Check a marketplace seller.
    let risk = liaison
        .check_seller(CheckSellerRequest {
            seller: Some(SellerAccountRef {
                platform: args.platform,
                seller_id: args.seller_id,
            }),
        })
        .await?
        .risk
        .unwrap_or_default();
    let seller = risk.seller.clone().unwrap_or_default();
    println!(
        "seller {}/{}: score {:.2}, tier {}, blacklisted {}",
        seller.platform,
        seller.seller_id,
        risk.score,
        risk.tier().as_str_name(),
        if risk.blacklisted { "yes" } else { "no" }
    );
    for reason in &risk.reasons {
        println!("  reason {}: {}", reason.code, reason.description);
    }
    Ok(ExitCode::SUCCESS)
}

/// 500 wireless earphones declared at 1000 USD: 2 USD a pair, well below what they sell
/// for on the marketplaces.
fn sample_declaration(id: &str) -> Declaration {
    Declaration {
        declaration_id: id.to_owned(),
        // A fixed time (2026-11-02 09:00 UTC), so that running it again, whenever, sends the
        // same declaration (DUPLICATE), not another one under the same id.
        declaration_time: Some(prost_types::Timestamp {
            seconds: 1_793_610_000,
            nanos: 0,
        }),
        customs_office: "USLAX".to_owned(),
        procedure: Procedure::HomeUse.into(),
        transport_mode: TransportMode::Courier.into(),
        importer_id: "US-IMP-4711".to_owned(),
        declarant_id: "BROKER-9".to_owned(),
        consignor_id: "CN-EXP-318".to_owned(),
        carrier_id: "UPS".to_owned(),
        consignment: Some(ConsignmentNumbers {
            tracking_numbers: vec!["1Z999AA10123456784".to_owned()],
            ..Default::default()
        }),
        departure_country: "CN".to_owned(),
        origin_country: "CN".to_owned(),
        lines: vec![DeclarationLine {
            line_number: 1,
            hs_code: "8518.30.2000".to_owned(),
            description: "wireless earphones with charging case".to_owned(),
            quantity: 500.0,
            quantity_unit: "PCE".to_owned(),
            net_mass_kg: 40.0,
            gross_mass_kg: 44.0,
            declared_value: Some(Money {
                currency_code: "USD".to_owned(),
                amount: "1000.00".to_owned(),
            }),
            valuation_basis: ValuationBasis::Fob.into(),
            duty_rate: 0.049,
            declared_duty: None,
            ..Default::default()
        }],
        ..Default::default()
    }
}
