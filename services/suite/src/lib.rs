//! The whole suite in one process: ingest, scoring and liaison on 127.0.0.1, each on its
//! own port and SQLite file under the data directory, talking to each other over real gRPC.
//! On first run it creates credentials for a demo platform, a demo customs authority, an
//! auditor and the internal services, and keeps them in the data directory.

mod credentials;
pub mod demo;

pub use credentials::{Credentials, CredentialsError, PRINCIPALS};

use std::{net::SocketAddr, path::PathBuf};

use acx_runtime::{RunningServer, ServerConfig, Shutdown};
use acx_telemetry::LogFormat;

/// Command line of `acx`.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "acx",
    version,
    about = "Run the whole ACX suite (ingest, scoring, liaison) in one process"
)]
pub struct SuiteArgs {
    /// Directory for the SQLite files and the credentials.
    #[arg(long, env = "ACX_DATA_DIR", value_name = "DIR", default_value = "data")]
    pub data_dir: PathBuf,

    /// Address of the ingest service.
    #[arg(
        long,
        env = "ACX_INGEST_ADDR",
        value_name = "ADDR",
        default_value = "127.0.0.1:50051"
    )]
    pub ingest_addr: SocketAddr,

    /// Address of the scoring service.
    #[arg(
        long,
        env = "ACX_SCORING_ADDR",
        value_name = "ADDR",
        default_value = "127.0.0.1:50052"
    )]
    pub scoring_addr: SocketAddr,

    /// Address of the liaison service.
    #[arg(
        long,
        env = "ACX_LIAISON_ADDR",
        value_name = "ADDR",
        default_value = "127.0.0.1:50053"
    )]
    pub liaison_addr: SocketAddr,

    /// Load a small demo data set (two platforms, linked sellers, findings) so that risk
    /// scores and the blacklist show at once. Safe to repeat.
    #[arg(long)]
    pub demo: bool,

    /// Reference exchange rates in the European Central Bank's CSV format, replacing the
    /// built-in ECB table (see scoring's --reference-rates-file).
    #[arg(long, env = "ACX_REFERENCE_RATES_FILE", value_name = "FILE")]
    pub reference_rates_file: Option<PathBuf>,

    /// Share of assessed declarations scoring picks at random for inspection (0 to 1; see
    /// scoring's --random-inspection-share).
    #[arg(long, env = "ACX_SCORING_RANDOM_INSPECTION_SHARE", value_name = "SHARE",
          default_value_t = 0.02, value_parser = acx_scoring::parse_share)]
    pub random_inspection_share: f64,

    /// Log line format on standard error: human or json.
    #[arg(
        long,
        env = "ACX_LOG_FORMAT",
        value_name = "FORMAT",
        default_value = "human"
    )]
    pub log_format: LogFormat,
}

impl SuiteArgs {
    /// The suite on free loopback ports over `data_dir`, without demo data: what tests and
    /// benchmarks start.
    pub fn on_free_ports(data_dir: impl Into<PathBuf>) -> Self {
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        Self {
            data_dir: data_dir.into(),
            ingest_addr: any,
            scoring_addr: any,
            liaison_addr: any,
            demo: false,
            reference_rates_file: None,
            random_inspection_share: 0.02,
            log_format: LogFormat::default(),
        }
    }
}

/// Why the suite could not start.
#[derive(Debug, thiserror::Error)]
pub enum SuiteError {
    /// The credentials could not be created or read.
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    /// The demo data could not be loaded.
    #[error("cannot load the demo data")]
    Demo(#[from] demo::DemoError),
    /// Ingest failed to start.
    #[error("ingest failed to start")]
    Ingest(#[from] acx_ingest::Error),
    /// Scoring failed to start.
    #[error("scoring failed to start")]
    Scoring(#[from] acx_scoring::Error),
    /// Liaison failed to start.
    #[error("liaison failed to start")]
    Liaison(#[from] acx_liaison::Error),
}

/// The running suite.
#[derive(Debug)]
pub struct Suite {
    /// The three servers: ingest, scoring, liaison.
    pub servers: Vec<RunningServer>,
    /// Where ingest listens.
    pub ingest_addr: SocketAddr,
    /// Where scoring listens.
    pub scoring_addr: SocketAddr,
    /// Where liaison listens.
    pub liaison_addr: SocketAddr,
    /// The credentials in use.
    pub credentials: Credentials,
    /// Whether the demo data was loaded.
    pub demo: bool,
}

fn server_config(args: &SuiteArgs, addr: SocketAddr, tokens_file: PathBuf) -> ServerConfig {
    let mut config = ServerConfig::local(&args.data_dir);
    config.listen_addr = Some(addr);
    config.tokens_file = Some(tokens_file);
    config.log_format = args.log_format;
    config
}

/// Starts the three services; returns once all listen.
pub async fn start(args: &SuiteArgs, shutdown: Shutdown) -> Result<Suite, SuiteError> {
    let credentials = Credentials::load_or_create(&args.data_dir)?;
    let tokens = credentials.tokens_file.clone();

    let ingest = acx_ingest::start(
        &acx_ingest::Config {
            server: server_config(args, args.ingest_addr, tokens.clone()),
            identifier_keys_file: credentials.identifier_keys_file.clone(),
            max_batch_reports: 1000,
            legacy_normalizations: Default::default(),
        },
        shutdown.clone(),
    )
    .await?;
    let scoring = acx_scoring::start(
        &acx_scoring::Config {
            ingest_url: format!("http://{}", ingest.local_addr),
            ingest_token: Some(credentials.token_of("service:scoring")?.into()),
            identifier_keys_file: Some(credentials.identifier_keys_file.clone()),
            reference_rates_file: args.reference_rates_file.clone(),
            random_inspection_share: args.random_inspection_share,
            // The suite is the only replica of its embedded database: a setting changed
            // between two runs is the deployment's new one.
            adopt_settings: true,
            ..acx_scoring::Config::standalone(server_config(
                args,
                args.scoring_addr,
                tokens.clone(),
            ))
        },
        shutdown.clone(),
    )
    .await?;
    let liaison = acx_liaison::start(
        &acx_liaison::Config {
            reassess_interval_secs: 5,
            server: server_config(args, args.liaison_addr, tokens),
            scoring_url: format!("http://{}", scoring.local_addr),
            audit_database_url: None,
            scoring_token: credentials.token_of("service:liaison")?.into(),
        },
        shutdown,
    )
    .await?;

    if args.demo {
        let loaded = demo::load(
            ingest.local_addr,
            credentials.token_of("platform:demo-platform")?,
            credentials.token_of("platform:demo-marketplace")?,
        )
        .await?;
        let declared = demo::load_declarations(
            liaison.local_addr,
            scoring.local_addr,
            credentials.token_of("customs:demo-customs")?,
            credentials.token_of("platform:demo-platform")?,
        )
        .await?;
        tracing::info!(
            new_reports = loaded,
            new_declarations = declared,
            "demo data loaded"
        );
    }

    Ok(Suite {
        demo: args.demo,
        ingest_addr: ingest.local_addr,
        scoring_addr: scoring.local_addr,
        liaison_addr: liaison.local_addr,
        servers: vec![ingest, scoring, liaison],
        credentials,
    })
}

impl Suite {
    /// What a new user needs to know: endpoints, where the credentials are, a first call.
    pub fn banner(&self) -> String {
        let file = self.credentials.path.display();
        format!(
            "ACX is running.\n\
             \n  ingest   {ingest}   acx.ingest.v1.IngestService   (platforms)\
             \n  scoring  {scoring}   acx.scoring.v1.ScoringService (platforms, services)\
             \n  liaison  {liaison}   acx.liaison.v2.LiaisonService (customs)\n\
             \nCredentials (bearer tokens, one per principal) are in {file}\n\
             \nTry it:\
             \n  grpcurl -plaintext {liaison} list\
             \n  grpcurl -plaintext -H \"authorization: Bearer $(awk '$1==\"customs:demo-customs\" {{print $2}}' {file})\" \\\
             \n    -d '{{\"message\": \"hello\"}}' {liaison} acx.diagnostics.v1.DiagnosticsService/Echo\n\
             {demo}\nStop with Ctrl-C.",
            ingest = self.ingest_addr,
            scoring = self.scoring_addr,
            liaison = self.liaison_addr,
            demo = if self.demo {
                self.demo_hint()
            } else {
                String::new()
            },
        )
    }

    fn demo_hint(&self) -> String {
        let file = self.credentials.path.display();
        let auth = format!(
            "-H \"authorization: Bearer $(awk '$1==\"customs:demo-customs\" {{print $2}}' {file})\""
        );
        format!(
            "\nDemo data is loaded. A seller linked to a confirmed counterfeiter by a shared bank account:\
             \n  grpcurl -plaintext {auth} \\\
             \n    -d '{{\"seller\": {{\"platform\": \"demo-marketplace\", \"sellerId\": \"T-2\"}}}}' \\\
             \n    {liaison} acx.liaison.v2.LiaisonService/CheckSeller\
             \nThe RED alerts among the demo declarations (undervalued, matched to a platform's shipment notice):\
             \n  grpcurl -plaintext {auth} -d '{{}}' {liaison} acx.liaison.v2.LiaisonService/WatchAlerts\n",
            liaison = self.liaison_addr,
        )
    }
}
