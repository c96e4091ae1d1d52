use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let config = acx_scoring::Config::parse();
    let log_format = config.server.log_format;
    acx_runtime::process::run("acx-scoring", log_format, |shutdown| async move {
        acx_scoring::start(&config, shutdown)
            .await
            .map(|server| vec![server])
    })
    .await
}
