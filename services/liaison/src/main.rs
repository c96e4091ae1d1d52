use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let config = acx_liaison::Config::parse();
    let log_format = config.server.log_format;
    acx_runtime::process::run("acx-liaison", log_format, |shutdown| async move {
        acx_liaison::start(&config, shutdown)
            .await
            .map(|server| vec![server])
    })
    .await
}
