//! `acxctl`, the ACX command-line tool: the everyday jobs of platform engineers (bulk
//! loads of reports, seller risk, the blacklist) and customs integrators (declarations,
//! shipments, alerts, inspection results) from a shell or a script.
//!
//! Every call goes through `acx-client` (endpoint, TLS, token, deadline, retries). Input
//! and `--output json` use the proto3 JSON mapping of the contracts ([`json`]), so what
//! `grpcurl` prints, `acxctl` reads. Exit codes are listed in [`error::exit`].

pub mod checkpoint;
mod commands;
pub mod declarations;
pub mod dialect;
pub mod error;
pub mod evaluate;
pub mod json;
pub mod kcs;
pub mod load;
pub mod model;
pub mod output;
pub mod progress;

use std::{path::PathBuf, time::Duration};

use acx_client::{Client, ClientConfig};
use clap::{Args, Parser};

pub use commands::Command;
use error::{CliError, exit};
use output::OutputFormat;

/// The exit codes, for `--help`.
const EXIT_CODES: &str = "\
Exit codes:
  0    success
  1    failure (I/O, an internal server error, an unexpected answer, or one larger
       than acxctl accepts)
  2    usage: bad flags or arguments, an unusable input file, INVALID_ARGUMENT, a
       request over the server's message limit (RESOURCE_EXHAUSTED, MESSAGE_TOO_LARGE)
  3    some items (reports, declarations) were rejected; the rest went through
  4    not found (NOT_FOUND)
  5    not allowed: UNAUTHENTICATED or PERMISSION_DENIED
  6    unavailable now, retry later: UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED
       (over a rate or concurrency limit)
  7    conflict: ALREADY_EXISTS, FAILED_PRECONDITION
  130  interrupted (a bulk load checkpointed first: rerun the command to resume)";

/// The ACX command-line tool.
#[derive(Debug, Parser)]
#[command(name = "acxctl", version, after_help = EXIT_CODES)]
pub struct Cli {
    /// Where and as whom to connect, and how to print.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command takes (before or after the subcommand).
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Ingest's endpoint (reports).
    #[arg(
        long,
        env = "ACX_INGEST_ENDPOINT",
        default_value = "http://127.0.0.1:50051",
        global = true
    )]
    pub ingest_endpoint: String,
    /// Scoring's endpoint (seller risk, blacklist).
    #[arg(
        long,
        env = "ACX_SCORING_ENDPOINT",
        default_value = "http://127.0.0.1:50052",
        global = true
    )]
    pub scoring_endpoint: String,
    /// Liaison's endpoint (declarations, shipments, alerts).
    #[arg(
        long,
        env = "ACX_LIAISON_ENDPOINT",
        default_value = "http://127.0.0.1:50053",
        global = true
    )]
    pub liaison_endpoint: String,
    /// Bearer token. Wins over --token-file and --principal.
    #[arg(long, env = "ACX_TOKEN", hide_env_values = true, global = true)]
    pub token: Option<String>,
    /// File holding the bearer token (surrounding whitespace ignored).
    #[arg(long, env = "ACX_TOKEN_FILE", global = true)]
    pub token_file: Option<PathBuf>,
    /// Take the token of this principal (e.g. customs:demo-customs) from the suite's
    /// credentials file.
    #[arg(long, env = "ACX_PRINCIPAL", global = true)]
    pub principal: Option<String>,
    /// The suite's credentials file (`<principal> <token>` lines), for --principal.
    #[arg(
        long,
        env = "ACX_CREDENTIALS",
        default_value = "data/credentials",
        global = true
    )]
    pub credentials: PathBuf,
    /// PEM CA bundle for https endpoints (default: the Mozilla roots built in).
    #[arg(long, env = "ACX_CA_CERT", global = true)]
    pub ca_cert: Option<PathBuf>,
    /// PEM client certificate, for servers that require mutual TLS (with --client-key).
    #[arg(long, env = "ACX_CLIENT_CERT", requires = "client_key", global = true)]
    pub client_cert: Option<PathBuf>,
    /// PEM key of --client-cert.
    #[arg(long, env = "ACX_CLIENT_KEY", requires = "client_cert", global = true)]
    pub client_key: Option<PathBuf>,
    /// Deadline of each attempt of a call: 500ms, 10s, 1m, ...
    #[arg(long, env = "ACX_DEADLINE", default_value = "10s", value_parser = parse_duration, global = true)]
    pub deadline: Duration,
    /// human: text and tables; json: JSON on standard output (errors as JSON on standard
    /// error).
    #[arg(
        long,
        short = 'o',
        env = "ACX_OUTPUT",
        value_enum,
        default_value_t = OutputFormat::Human,
        global = true
    )]
    pub output: OutputFormat,
}

/// What every command gets: the flags, the token, and clients made on demand.
#[derive(Debug)]
pub struct Context {
    global: GlobalArgs,
}

impl Context {
    /// Whether standard output is JSON.
    pub fn json(&self) -> bool {
        self.global.output == OutputFormat::Json
    }

    /// The bearer token: --token, else --token-file, else --principal's from the
    /// credentials file, else none.
    fn token(&self) -> Result<Option<String>, CliError> {
        let global = &self.global;
        if let Some(token) = &global.token {
            return Ok(Some(token.trim().to_owned()));
        }
        if let Some(path) = &global.token_file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| CliError::Usage(format!("--token-file {}: {e}", path.display())))?;
            let token = text.trim();
            if token.is_empty() {
                return Err(CliError::Usage(format!(
                    "--token-file {} is empty",
                    path.display()
                )));
            }
            return Ok(Some(token.to_owned()));
        }
        let Some(principal) = &global.principal else {
            return Ok(None);
        };
        let path = &global.credentials;
        let text = std::fs::read_to_string(path).map_err(|e| {
            CliError::Usage(format!(
                "--credentials {}: {e} (run from the suite's directory, or pass --credentials)",
                path.display()
            ))
        })?;
        text.lines()
            .filter(|line| !line.starts_with('#'))
            .filter_map(|line| line.split_once(char::is_whitespace))
            .find(|(name, _)| *name == principal)
            .map(|(_, token)| Some(token.trim().to_owned()))
            .ok_or_else(|| {
                CliError::Usage(format!("no token for {principal} in {}", path.display()))
            })
    }

    async fn client(&self, endpoint: &str) -> Result<Client, CliError> {
        let global = &self.global;
        let mut config = ClientConfig::new(endpoint).with_deadline(global.deadline);
        if let Some(token) = self.token()? {
            config = config.with_token(token);
        }
        if let Some(ca) = &global.ca_cert {
            config = config.with_ca_certificate(ca);
        }
        if let (Some(certificate), Some(key)) = (&global.client_cert, &global.client_key) {
            config = config.with_client_identity(certificate, key);
        }
        Ok(Client::connect(config).await?)
    }

    /// A client of ingest.
    pub async fn ingest(&self) -> Result<acx_client::IngestClient, CliError> {
        Ok(self.client(&self.global.ingest_endpoint).await?.ingest())
    }

    /// A client of scoring.
    pub async fn scoring(&self) -> Result<acx_client::ScoringClient, CliError> {
        Ok(self.client(&self.global.scoring_endpoint).await?.scoring())
    }

    /// A client of liaison.
    pub async fn liaison(&self) -> Result<acx_client::LiaisonClient, CliError> {
        Ok(self.client(&self.global.liaison_endpoint).await?.liaison())
    }
}

/// Runs a parsed command line; returns the exit code, having printed any error.
pub async fn run(cli: Cli) -> u8 {
    let context = Context { global: cli.global };
    match commands::run(&context, cli.command).await {
        Ok(code) => code,
        Err(error) => {
            if context.json() {
                eprintln!("{}", error.to_json());
            } else {
                eprintln!("acxctl: {}", error.to_human());
            }
            error.exit_code()
        }
    }
}

/// Durations as the services write them: `500ms`, `30s`, `5m`, `1h`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration such as 500ms, 30s, 5m or 1h"))?;
    let unit = match unit {
        "ms" => Duration::from_millis(1),
        "s" => Duration::from_secs(1),
        "m" => Duration::from_secs(60),
        "h" => Duration::from_secs(3600),
        _ => return Err(format!("{text:?}: the unit must be ms, s, m or h")),
    };
    unit.checked_mul(u32::try_from(number).map_err(|_| format!("{text:?} is too long"))?)
        .ok_or_else(|| format!("{text:?} is too long"))
}

/// Resolves on Ctrl-C (or SIGTERM on Unix); never, if signals cannot be watched.
pub(crate) async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate = match signal(SignalKind::terminate()) {
            Ok(terminate) => terminate,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            result = tokio::signal::ctrl_c() => {
                if result.is_err() {
                    std::future::pending::<()>().await;
                }
            }
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// The code for a command that ran but had items rejected.
pub(crate) fn rejected_or_ok(rejected: u64) -> u8 {
    if rejected > 0 {
        exit::REJECTED
    } else {
        exit::OK
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("-1s").is_err());
    }

    #[test]
    fn a_principals_token_is_read_from_the_credentials_file() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let credentials = dir.path().join("credentials");
        std::fs::write(
            &credentials,
            // As the suite writes it: a comment line first.
            "# ACX suite credentials: '<principal> <bearer token>'. Keep this file private.\n\
             platform:demo-platform acx_aaa\ncustoms:demo-customs acx_bbb\n",
        )
        .expect("written");
        let cli = Cli::parse_from([
            "acxctl",
            "--credentials",
            credentials.to_str().expect("utf-8 path"),
            "--principal",
            "customs:demo-customs",
            "alerts",
            "watch",
        ]);
        let context = Context { global: cli.global };
        assert_eq!(context.token().ok(), Some(Some("acx_bbb".to_owned())));
        let unknown = Context {
            global: GlobalArgs {
                principal: Some("customs:nobody".to_owned()),
                ..context.global.clone()
            },
        };
        assert!(matches!(unknown.token(), Err(CliError::Usage(_))));
    }
}
