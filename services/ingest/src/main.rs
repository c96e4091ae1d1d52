use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let config: acx_ingest::Config = acx_runtime::config::parse_or_exit();
    let log_format = config.server.log_format;
    acx_runtime::process::run("acx-ingest", log_format, |shutdown| async move {
        acx_ingest::start(&config, shutdown)
            .await
            .map(|server| vec![server])
    })
    .await
}
