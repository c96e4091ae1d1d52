//! Where and how to connect, and how hard to try.

use std::{fmt, path::PathBuf, time::Duration};

/// Where and how to connect to one ACX service.
///
/// `Debug` never prints the token, so a config can be logged.
#[derive(Clone)]
pub struct ClientConfig {
    /// `http://host:port` or `https://host:port`.
    pub endpoint: String,
    /// Bearer token, sent as `authorization: Bearer <token>` on every call.
    pub token: Option<String>,
    /// PEM CA bundle that signs the server's certificate. Without it, `https` endpoints are
    /// checked against the Mozilla root set compiled into the library.
    pub ca_certificate: Option<PathBuf>,
    /// PEM certificate and key of this client, for servers that require mutual TLS.
    pub client_identity: Option<(PathBuf, PathBuf)>,
    /// The name the server's certificate must carry, when it differs from the endpoint's
    /// host (an IP address, or a name behind a tunnel).
    pub tls_domain_name: Option<String>,
    /// Time allowed for each attempt of a unary call; sent to the server as `grpc-timeout`.
    pub deadline: Duration,
    /// Time allowed to open the connection (TCP and TLS).
    pub connect_timeout: Duration,
    /// When failed calls are tried again.
    pub retry: RetryPolicy,
}

impl ClientConfig {
    /// A config for `endpoint` with no token, a 10 s deadline, a 5 s connect timeout and
    /// the default [`RetryPolicy`].
    pub fn new(endpoint: impl Into<String>) -> Self {
        Self {
            endpoint: endpoint.into(),
            token: None,
            ca_certificate: None,
            client_identity: None,
            tls_domain_name: None,
            deadline: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            retry: RetryPolicy::default(),
        }
    }

    /// The same config authenticating with `token`.
    #[must_use]
    pub fn with_token(self, token: impl Into<String>) -> Self {
        Self {
            token: Some(token.into()),
            ..self
        }
    }

    /// The same config with another per-attempt deadline.
    #[must_use]
    pub fn with_deadline(self, deadline: Duration) -> Self {
        Self { deadline, ..self }
    }

    /// The same config with another time allowed to open the connection.
    #[must_use]
    pub fn with_connect_timeout(self, connect_timeout: Duration) -> Self {
        Self {
            connect_timeout,
            ..self
        }
    }

    /// The same config with another retry policy.
    #[must_use]
    pub fn with_retry(self, retry: RetryPolicy) -> Self {
        Self { retry, ..self }
    }

    /// The same config trusting the PEM CA bundle at `path`.
    #[must_use]
    pub fn with_ca_certificate(self, path: impl Into<PathBuf>) -> Self {
        Self {
            ca_certificate: Some(path.into()),
            ..self
        }
    }

    /// The same config presenting a client certificate (PEM chain and key) for mutual TLS.
    #[must_use]
    pub fn with_client_identity(
        self,
        certificate: impl Into<PathBuf>,
        key: impl Into<PathBuf>,
    ) -> Self {
        Self {
            client_identity: Some((certificate.into(), key.into())),
            ..self
        }
    }
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("endpoint", &self.endpoint)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("ca_certificate", &self.ca_certificate)
            .field("client_identity", &self.client_identity)
            .field("tls_domain_name", &self.tls_domain_name)
            .field("deadline", &self.deadline)
            .field("connect_timeout", &self.connect_timeout)
            .field("retry", &self.retry)
            .finish()
    }
}

/// Exponential backoff with full jitter: before retry `n` (0 for the first) the client waits
/// a uniformly random time in `0 ..= min(max_backoff, initial_backoff * multiplier^n)`.
///
/// Full jitter spreads the retries of many clients that failed together (a restart, an
/// overload) instead of sending them back in waves.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; 1 means no retry.
    pub max_attempts: u32,
    /// Ceiling of the first wait.
    pub initial_backoff: Duration,
    /// Ceiling of every wait.
    pub max_backoff: Duration,
    /// Growth of the ceiling from one retry to the next.
    pub multiplier: f64,
}

impl Default for RetryPolicy {
    /// Four attempts, waits capped at 100 ms, 200 ms, 400 ms (then up to 5 s).
    fn default() -> Self {
        Self {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            multiplier: 2.0,
        }
    }
}

impl RetryPolicy {
    /// One attempt only.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// The longest wait before retry `retry` (0 for the first):
    /// `min(max_backoff, initial_backoff * multiplier^retry)`.
    pub fn backoff_ceiling(&self, retry: u32) -> Duration {
        let max = self.max_backoff.as_secs_f64();
        let exponent = i32::try_from(retry).unwrap_or(i32::MAX);
        let ceiling = self.initial_backoff.as_secs_f64() * self.multiplier.max(1.0).powi(exponent);
        // NaN or infinity (a huge exponent) ends up at the cap.
        let seconds = if ceiling.is_finite() {
            ceiling.min(max)
        } else {
            max
        };
        Duration::try_from_secs_f64(seconds.max(0.0)).unwrap_or(self.max_backoff)
    }

    /// The wait before retry `retry` (0 for the first), drawn at random: what the client
    /// waits, and what a caller reopening a stream should wait.
    pub fn jittered_backoff(&self, retry: u32) -> Duration {
        use rand::Rng as _;
        self.backoff(retry, rand::rng().random::<f64>())
    }

    /// The wait before retry `retry` given `random`, a uniform draw from `0.0 ..= 1.0`
    /// (clamped into that range): full jitter over [`Self::backoff_ceiling`].
    pub fn backoff(&self, retry: u32, random: f64) -> Duration {
        let random = if random.is_nan() {
            0.0
        } else {
            random.clamp(0.0, 1.0)
        };
        self.backoff_ceiling(retry).mul_f64(random)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_prints_the_token() {
        let config = ClientConfig::new("http://127.0.0.1:1").with_token("s3cr3t-token");
        let printed = format!("{config:?}");
        assert!(!printed.contains("s3cr3t"), "{printed}");
        assert!(printed.contains("<redacted>"), "{printed}");
        assert!(printed.contains("127.0.0.1:1"), "{printed}");
    }

    #[test]
    fn the_ceiling_grows_by_the_multiplier_up_to_the_cap() {
        let policy = RetryPolicy::default();
        let ceilings: Vec<u128> = (0..8)
            .map(|n| policy.backoff_ceiling(n).as_millis())
            .collect();
        assert_eq!(ceilings, [100, 200, 400, 800, 1600, 3200, 5000, 5000]);
        assert_eq!(policy.backoff_ceiling(u32::MAX), Duration::from_secs(5));
    }

    #[test]
    fn a_multiplier_below_one_does_not_shrink_the_wait() {
        let policy = RetryPolicy {
            multiplier: 0.1,
            ..RetryPolicy::default()
        };
        assert_eq!(policy.backoff_ceiling(5), Duration::from_millis(100));
    }

    #[test]
    fn jitter_stays_between_zero_and_the_ceiling() {
        use rand::{Rng, SeedableRng};
        let policy = RetryPolicy::default();
        let mut random = rand::rngs::StdRng::seed_from_u64(7);
        for retry in 0..10 {
            let ceiling = policy.backoff_ceiling(retry);
            let waits: Vec<Duration> = (0..200)
                .map(|_| policy.backoff(retry, random.random::<f64>()))
                .collect();
            assert!(waits.iter().all(|wait| *wait <= ceiling));
            // Full jitter uses the whole range, not just the top of it.
            assert!(waits.iter().any(|wait| *wait < ceiling / 4), "{retry}");
            assert!(waits.iter().any(|wait| *wait > ceiling * 3 / 4), "{retry}");
        }
        assert_eq!(policy.backoff(2, 0.0), Duration::ZERO);
        assert_eq!(policy.backoff(2, 1.0), Duration::from_millis(400));
        assert_eq!(policy.backoff(2, 0.5), Duration::from_millis(200));
        assert_eq!(
            policy.backoff(2, 7.0),
            Duration::from_millis(400),
            "clamped"
        );
        assert_eq!(policy.backoff(2, f64::NAN), Duration::ZERO);
    }
}
