//! `acxctl`: parses the command line, runs the command, exits with its code.

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = acx_cli::Cli::parse();
    ExitCode::from(acx_cli::run(cli).await)
}
