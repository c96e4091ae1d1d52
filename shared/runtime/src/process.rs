//! The life of a service process, shared by every binary: telemetry up, servers started,
//! wait for SIGTERM or Ctrl-C, drain, flush spans, exit code.

use std::{future::Future, process::ExitCode};

use acx_telemetry::LogFormat;

use crate::{RunningServer, Shutdown, error::cause_chain};

/// Runs a process whose `start` returns its running servers, until a shutdown signal and
/// the drain that follows. Exit code 0 after a clean stop, 1 if start-up or a server failed.
pub async fn run<F, Fut, E>(process_name: &str, log_format: LogFormat, start: F) -> ExitCode
where
    F: FnOnce(Shutdown) -> Fut,
    Fut: Future<Output = Result<Vec<RunningServer>, E>>,
    E: std::error::Error,
{
    let telemetry = match acx_telemetry::init(process_name, log_format) {
        Ok(guard) => guard,
        Err(error) => {
            eprintln!("{process_name}: {}", cause_chain(&error));
            return ExitCode::FAILURE;
        }
    };
    let shutdown = Shutdown::new();
    shutdown.on_process_signals();

    let code = match start(shutdown.clone()).await {
        Ok(servers) => {
            let mut waiting = tokio::task::JoinSet::new();
            for server in servers {
                waiting.spawn(server.wait());
            }
            let mut code = ExitCode::SUCCESS;
            while let Some(outcome) = waiting.join_next().await {
                let failure = match outcome {
                    Ok(Ok(())) => continue,
                    Ok(Err(error)) => cause_chain(&error),
                    Err(error) => cause_chain(&error),
                };
                // One server down takes the others down too: a half-running suite or pod
                // would look alive to its probes.
                tracing::error!(error = %failure, "server failed, stopping");
                shutdown.trigger();
                code = ExitCode::FAILURE;
            }
            code
        }
        Err(error) => {
            tracing::error!(error = %cause_chain(&error), "cannot start");
            eprintln!("{process_name}: {}", cause_chain(&error));
            ExitCode::FAILURE
        }
    };
    telemetry.shutdown().await;
    code
}

/// Peak resident memory of this process so far, in MiB (Linux `VmHWM`), for benchmarks.
pub fn peak_memory_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}
