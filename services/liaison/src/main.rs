use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let config: acx_liaison::Config = acx_runtime::config::parse_or_exit();
    let log_format = config.server.log_format;
    acx_runtime::process::run("acx-liaison", log_format, |shutdown| async move {
        acx_liaison::start(&config, shutdown)
            .await
            .map(|server| vec![server])
    })
    .await
}
