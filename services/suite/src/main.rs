use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let args: acx_suite::SuiteArgs = acx_runtime::config::parse_or_exit();
    let log_format = args.log_format;
    acx_runtime::process::run("acx", log_format, |shutdown| async move {
        let suite = acx_suite::start(&args, shutdown).await?;
        println!("{}", suite.banner());
        Ok::<_, acx_suite::SuiteError>(suite.servers)
    })
    .await
}
