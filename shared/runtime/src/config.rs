//! Server configuration, from flags or `ACX_*` environment variables (flags win). Every
//! service binary flattens [`ServerConfig`] into its own command line; a bad value stops
//! the program with one message naming the flag, the variable and what is expected.
//!
//! OpenTelemetry is configured by the standard `OTEL_*` variables alone (see
//! `acx-telemetry`); nothing here repeats them.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use acx_telemetry::LogFormat;

use crate::limits::Limits;

/// Parses the command line and `ACX_*` environment of a binary, or exits with one message.
/// A bad value names the flag and, since it usually comes from the environment in a
/// container, the variable too.
pub fn parse_or_exit<T: clap::Parser>() -> T {
    let error = match T::try_parse() {
        Ok(parsed) => return parsed,
        Err(error) => error,
    };
    let invalid_arg = error
        .get(clap::error::ContextKind::InvalidArg)
        .map(ToString::to_string);
    let env = invalid_arg.and_then(|shown| {
        let command = T::command();
        let arg = command.get_arguments().find(|arg| {
            arg.get_long()
                .is_some_and(|long| shown.starts_with(&format!("--{long}")))
        })?;
        arg.get_env().map(|env| env.to_string_lossy().into_owned())
    });
    match env {
        Some(env) => {
            let _ = error.print();
            eprintln!("note: this setting is the flag above or the environment variable {env}");
            std::process::exit(2);
        }
        None => error.exit(),
    }
}

/// Parses `250ms`, `30s`, `5m`, `1h` (a bare number is seconds).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let amount: u64 = digits
        .parse()
        .map_err(|_| format!("{text:?} is not a duration such as 500ms, 30s, 5m or 1h"))?;
    let seconds = |factor: u64| {
        amount
            .checked_mul(factor)
            .map(Duration::from_secs)
            .ok_or_else(|| format!("{text:?} is too long"))
    };
    match unit {
        "ms" => Ok(Duration::from_millis(amount)),
        "" | "s" => seconds(1),
        "m" => seconds(60),
        "h" => seconds(3600),
        _ => Err(format!(
            "{text:?} has unknown unit {unit:?}: use ms, s, m or h"
        )),
    }
}

fn parse_positive_duration(text: &str) -> Result<Duration, String> {
    let duration = parse_duration(text)?;
    if duration.is_zero() {
        return Err("must be longer than zero".to_owned());
    }
    Ok(duration)
}

/// What every ACX server needs, whichever service it runs.
#[derive(Debug, Clone, clap::Args)]
pub struct ServerConfig {
    /// Address the gRPC server listens on (default 127.0.0.1 and the service's port).
    #[arg(long, env = "ACX_LISTEN_ADDR", value_name = "ADDR")]
    pub listen_addr: Option<SocketAddr>,

    /// Database URL: `sqlite://PATH` or `postgres://...` (default: a SQLite file named after
    /// the service in the data directory).
    #[arg(
        long,
        env = "ACX_DATABASE_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,

    /// Directory for SQLite files and first-run credentials.
    #[arg(long, env = "ACX_DATA_DIR", value_name = "DIR", default_value = "data")]
    pub data_dir: PathBuf,

    /// File of accepted bearer tokens, one `<sha256-hex-of-token> <role>:<id>` per line
    /// (roles: platform, customs, service, auditor). Only hashes, never tokens.
    #[arg(long, env = "ACX_TOKENS_FILE", value_name = "FILE")]
    pub tokens_file: Option<PathBuf>,

    /// PEM certificate chain: serve TLS with it (needs --tls-key).
    #[arg(long, env = "ACX_TLS_CERT", value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key of --tls-cert.
    #[arg(long, env = "ACX_TLS_KEY", value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// PEM CA bundle: require client certificates signed by it (mutual TLS).
    #[arg(
        long,
        env = "ACX_TLS_CLIENT_CA",
        value_name = "FILE",
        requires = "tls_cert"
    )]
    pub tls_client_ca: Option<PathBuf>,

    /// Largest request message accepted, in bytes; larger ones get RESOURCE_EXHAUSTED.
    #[arg(long, env = "ACX_MAX_MESSAGE_BYTES", value_name = "BYTES", default_value_t = 4 * 1024 * 1024,
          value_parser = clap::value_parser!(u32).range(1024..))]
    pub max_message_bytes: u32,

    /// Deadline of a call whose caller set none (or a longer one): DEADLINE_EXCEEDED after it.
    #[arg(long, env = "ACX_DEFAULT_DEADLINE", value_name = "DURATION", default_value = "30s",
          value_parser = parse_positive_duration)]
    pub default_deadline: Duration,

    /// Calls served at once; more get RESOURCE_EXHAUSTED at once instead of queueing.
    #[arg(long, env = "ACX_MAX_CONCURRENT_CALLS", value_name = "N", default_value_t = 512,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_concurrent_calls: u32,

    /// On SIGTERM or Ctrl-C, how long calls in flight may take to finish.
    #[arg(long, env = "ACX_SHUTDOWN_GRACE", value_name = "DURATION", default_value = "20s",
          value_parser = parse_duration)]
    pub shutdown_grace: Duration,

    /// Connections held at once; more are closed as soon as they are accepted.
    #[arg(long, env = "ACX_MAX_CONNECTIONS", value_name = "N", default_value_t = 2048,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,

    /// Time a new connection has to send the HTTP/2 preface (and finish TLS); then it is closed.
    #[arg(long, env = "ACX_HANDSHAKE_TIMEOUT", value_name = "DURATION", default_value = "10s",
          value_parser = parse_positive_duration)]
    pub handshake_timeout: Duration,

    /// Interval of the HTTP/2 keepalive pings the server sends on every connection.
    #[arg(long, env = "ACX_KEEPALIVE_INTERVAL", value_name = "DURATION", default_value = "30s",
          value_parser = parse_positive_duration)]
    pub keepalive_interval: Duration,

    /// A peer that does not answer a keepalive ping within this is dead: its connection closes.
    #[arg(long, env = "ACX_KEEPALIVE_TIMEOUT", value_name = "DURATION", default_value = "20s",
          value_parser = parse_positive_duration)]
    pub keepalive_timeout: Duration,

    /// Age at which a connection is asked to go away (GOAWAY: its calls finish, clients
    /// reconnect, spreading over replicas behind an L4 balancer).
    #[arg(long, env = "ACX_MAX_CONNECTION_AGE", value_name = "DURATION", default_value = "30m",
          value_parser = parse_positive_duration)]
    pub max_connection_age: Duration,

    /// After its maximum age, how long a connection's calls (long streams) may run before it is closed.
    #[arg(long, env = "ACX_MAX_CONNECTION_AGE_GRACE", value_name = "DURATION", default_value = "10m",
          value_parser = parse_duration)]
    pub max_connection_age_grace: Duration,

    /// Log line format on standard error: human or json (levels come from RUST_LOG).
    #[arg(
        long,
        env = "ACX_LOG_FORMAT",
        value_name = "FORMAT",
        default_value = "human"
    )]
    pub log_format: LogFormat,
}

impl ServerConfig {
    /// The tokens of `tokens_file` (none without one). Services read them before anything
    /// else at start-up, so a wrong path is reported at once, not after migrations.
    pub fn load_tokens(&self) -> Result<crate::auth::TokenRegistry, crate::auth::TokenFileError> {
        match &self.tokens_file {
            Some(path) => crate::auth::TokenRegistry::load(path),
            None => Ok(crate::auth::TokenRegistry::default()),
        }
    }

    /// The configuration a test or the suite starts from: loopback, port 0 unless set,
    /// SQLite under `data_dir`, default limits.
    pub fn local(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            listen_addr: None,
            database_url: None,
            data_dir: data_dir.into(),
            tokens_file: None,
            tls_cert: None,
            tls_key: None,
            tls_client_ca: None,
            max_message_bytes: 4 * 1024 * 1024,
            default_deadline: Duration::from_secs(30),
            max_concurrent_calls: 512,
            shutdown_grace: Duration::from_secs(20),
            max_connections: 2048,
            handshake_timeout: Duration::from_secs(10),
            keepalive_interval: Duration::from_secs(30),
            keepalive_timeout: Duration::from_secs(20),
            max_connection_age: Duration::from_secs(30 * 60),
            max_connection_age_grace: Duration::from_secs(10 * 60),
            log_format: LogFormat::Human,
        }
    }

    /// The listen address, or `127.0.0.1:<default_port>`.
    pub fn listen_addr_or(&self, default_port: u16) -> SocketAddr {
        self.listen_addr
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], default_port)))
    }

    /// The database URL, or a SQLite file `<data_dir>/<service>.db`.
    pub fn database_url_or_default(&self, service: &str) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!(
                "sqlite://{}",
                self.data_dir.join(format!("{service}.db")).display()
            ),
        }
    }

    /// The connection limits.
    pub fn connection_limits(&self) -> crate::connections::ConnectionLimits {
        crate::connections::ConnectionLimits {
            max_connections: self.max_connections as usize,
            handshake_timeout: self.handshake_timeout,
            close_after: self
                .max_connection_age
                .saturating_add(self.max_connection_age_grace),
        }
    }

    /// The request limits.
    pub fn limits(&self) -> Limits {
        Limits {
            max_message_bytes: self.max_message_bytes as usize,
            default_deadline: self.default_deadline,
            max_concurrent_calls: self.max_concurrent_calls as usize,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_durations() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert!(parse_duration("5 minutes").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_positive_duration("0s").is_err());
    }

    #[test]
    fn defaults_to_a_sqlite_file_per_service() {
        let config = ServerConfig::local("/tmp/acx");
        assert_eq!(
            config.database_url_or_default("ingest"),
            "sqlite:///tmp/acx/ingest.db"
        );
        assert_eq!(config.listen_addr_or(50051).port(), 50051);
    }
}
