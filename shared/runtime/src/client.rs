//! Calling another ACX service: through the same client stack as `acxctl` (`acx-client`:
//! one lazily connected channel per peer, the bearer token of this service and the trace
//! context on every call, a deadline per attempt, retries of idempotent calls with full
//! jitter on `UNAVAILABLE` and `RESOURCE_EXHAUSTED`, at least the peer's `RetryInfo`),
//! with the settings every service uses for its peers in one place ([`PeerConfig`]).

use std::time::Duration;

use acx_client::{Client, ClientConfig};

/// Whether a peer's status says the deadline of the call being served passed meanwhile
/// (peer calls made while serving get what is left of it; see `acx_client::deadline`).
pub use acx_client::deadline::is_callers as is_callers_deadline;
/// The shared client stack, as services use it for their peers: the client, the channel
/// each attempt gets, and whether a call may be repeated.
pub use acx_client::{AuthChannel, Client as PeerClient, Idempotency, RetryPolicy, code_name};

/// A bearer token one service presents to another (`--scoring-token`, `--ingest-token`).
/// Its `Debug` prints `[redacted]`, so a configuration logged or shown in an error never
/// carries the secret; [`BearerToken::expose`] gives the token where it is sent.
#[derive(Clone, PartialEq, Eq)]
pub struct BearerToken(String);

impl BearerToken {
    /// The token itself, for the `authorization` header.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// A bearer token from a setting: refused when empty or when it holds white space or a
/// control character, which no header carries (found by a tester: `ACX_INGEST_TOKEN=` was
/// taken, and scoring served without its feed, warning every few seconds, instead of
/// refusing the setting). For clap's `value_parser`, so the error names the setting.
pub fn parse_bearer_token(value: &str) -> Result<BearerToken, String> {
    if value.is_empty() {
        return Err("is empty: give the token, or leave the setting out".to_owned());
    }
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("holds white space or a control character: give the token alone".to_owned());
    }
    Ok(BearerToken(value.to_owned()))
}

impl From<String> for BearerToken {
    fn from(token: String) -> Self {
        BearerToken(token)
    }
}

impl From<&str> for BearerToken {
    fn from(token: &str) -> Self {
        BearerToken(token.to_owned())
    }
}

/// Why a peer client could not be set up: an invalid URL, or a token that cannot go in a
/// header.
#[derive(Debug, thiserror::Error)]
#[error("invalid peer settings")]
pub struct PeerError(#[source] acx_client::Error);

/// How a service calls one peer. Each caller states its own deadline here (what it waits
/// for one attempt), rather than wrapping calls in timeouts of its own.
#[derive(Debug, Clone)]
pub struct PeerConfig {
    /// `http://host:port` (or `https://host:port`, checked against the webpki roots).
    pub url: String,
    /// This service's token at the peer.
    pub token: BearerToken,
    /// Time allowed for each attempt of a unary call; sent as `grpc-timeout`.
    pub deadline: Duration,
    /// When failed idempotent calls are tried again.
    pub retry: RetryPolicy,
}

/// Time allowed to open a connection to a peer: peers are near (same cluster), so a
/// longer wait means the peer is down and the call had better fail `UNAVAILABLE`.
const PEER_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

impl PeerConfig {
    /// `url` with `token`, a `deadline` per attempt and the default [`RetryPolicy`] (four
    /// attempts, waits capped at 100, 200, 400 ms).
    pub fn new(url: impl Into<String>, token: BearerToken, deadline: Duration) -> Self {
        Self {
            url: url.into(),
            token,
            deadline,
            retry: RetryPolicy::default(),
        }
    }

    /// A client of the peer. It connects on the first call and reconnects by itself, so a
    /// peer that is down at start-up is not an error.
    pub async fn connect(&self) -> Result<Client, PeerError> {
        let config = ClientConfig::new(self.url.clone())
            .with_token(self.token.expose())
            .with_deadline(self.deadline)
            .with_connect_timeout(PEER_CONNECT_TIMEOUT)
            .with_retry(self.retry);
        Client::connect(config).await.map_err(PeerError)
    }
}

/// What a peer service is called by: its name, the variables holding its address and
/// this service's token for it, and the principal that token must be.
#[derive(Debug, Clone, Copy)]
pub struct PeerSettings {
    /// The peer, e.g. "ingest".
    pub peer: &'static str,
    /// The variable of its address, e.g. `ACX_INGEST_URL`.
    pub url_var: &'static str,
    /// The variable of the token, e.g. `ACX_INGEST_TOKEN`.
    pub token_var: &'static str,
    /// The principal the token must be, e.g. `service:scoring`.
    pub principal: &'static str,
}

/// Which setting is wrong when a peer answers `status`, if its answer means a setting is
/// wrong rather than the peer being away (retrying cannot help): UNAUTHENTICATED (the peer
/// does not know the token), PERMISSION_DENIED (the token is another principal's) or
/// UNIMPLEMENTED (the address is another service's). The text names the variable.
pub fn settings_refused(status: &tonic::Status, settings: &PeerSettings) -> Option<String> {
    let PeerSettings {
        peer,
        url_var,
        token_var,
        principal,
    } = settings;
    match status.code() {
        tonic::Code::Unauthenticated => {
            Some(format!("{peer} does not know the token in {token_var}"))
        }
        tonic::Code::PermissionDenied => Some(format!(
            "the token in {token_var} is not {principal}'s, which {peer} requires"
        )),
        tonic::Code::Unimplemented => Some(format!("{url_var} does not name a {peer} service")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bearer_token_never_shows_in_debug_output() {
        let token = BearerToken::from("s3cret-token-value");
        assert_eq!(format!("{token:?}"), "[redacted]");
        assert_eq!(format!("{:?}", Some(token.clone())), "Some([redacted])");
        assert_eq!(token.expose(), "s3cret-token-value");
    }
}
