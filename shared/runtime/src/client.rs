//! Calling another ACX service: one channel per peer, with the bearer token of this
//! service and the current trace context on every call.

use std::{str::FromStr, time::Duration};

use acx_telemetry::TraceContextInterceptor;
use tonic::{
    Request, Status,
    metadata::{AsciiMetadataValue, MetadataValue},
    service::{Interceptor, interceptor::InterceptedService},
    transport::{Channel, Endpoint},
};

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

/// Adds `authorization: Bearer <token>` and the W3C trace context to every call.
#[derive(Clone)]
pub struct PeerAuth {
    authorization: AsciiMetadataValue,
}

impl std::fmt::Debug for PeerAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PeerAuth(..)")
    }
}

impl Interceptor for PeerAuth {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        request
            .metadata_mut()
            .insert("authorization", self.authorization.clone());
        TraceContextInterceptor.call(request)
    }
}

/// A channel to a peer service with its credentials attached.
pub type PeerChannel = InterceptedService<Channel, PeerAuth>;

/// Why a peer channel could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    /// The URL is not a valid endpoint.
    #[error("invalid peer url {0:?}")]
    Url(String),
    /// The token has characters that cannot go in a header.
    #[error("the peer token is not a valid header value")]
    Token,
}

/// Largest header list accepted from a peer. ACX errors stay far below it (see
/// `error::invalid_argument`), but the h2 default of 16 KiB is where a client drops the
/// whole connection, failing every call that shares it: a peer's answer to one caller must
/// never cost the others theirs.
const PEER_MAX_HEADER_LIST_BYTES: u32 = 256 * 1024;

/// A lazily connected channel to `url` (`http://host:port`) authenticating with `token`.
/// It reconnects by itself, so a peer that is down at start-up is not an error.
pub fn peer_channel(url: &str, token: &str) -> Result<PeerChannel, PeerError> {
    let endpoint = Endpoint::from_str(url)
        .map_err(|_| PeerError::Url(url.to_owned()))?
        .http2_max_header_list_size(PEER_MAX_HEADER_LIST_BYTES)
        .connect_timeout(Duration::from_secs(3))
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_while_idle(true);
    let authorization =
        MetadataValue::try_from(format!("Bearer {token}")).map_err(|_| PeerError::Token)?;
    Ok(InterceptedService::new(
        endpoint.connect_lazy(),
        PeerAuth { authorization },
    ))
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
