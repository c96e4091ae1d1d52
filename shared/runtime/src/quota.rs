//! Per-caller quotas for questions that, asked in bulk, work as an oracle: an identifier
//! check says whether a guessed phone number or e-mail address belongs to a known seller,
//! so unlimited checks recover the raw values the exchange keeps only as keyed hashes
//! (found by a security tester: 10,000 phone numbers in 0.2 s, 48,000 a second from one
//! caller). A token bucket per principal, in this process (each replica keeps its own).
//!
//! A small bucket of our own rather than a rate-limiting crate: the whole need is a map and
//! two numbers, and the crates that do more bring a dozen dependencies.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use tonic::{Code, Status};

/// Identifier values (and names) one caller may check, per second: enough to screen a new
/// seller's identifiers as it signs up, or a few thousand sellers an hour, far too few to
/// try every phone number of a block (a block of 10,000,000 takes more than a day).
/// Scoring's CheckEntity keeps it per platform, liaison's CheckParty per authority.
pub const IDENTIFIER_CHECKS_PER_SECOND: u32 = 100;
/// How many identifier checks a caller may save up and make at once.
pub const IDENTIFIER_CHECKS_BURST: u32 = 1_000;

/// A quota of units per caller: `per_second` refill, up to `burst` saved.
#[derive(Debug)]
pub struct Quota {
    per_second: f64,
    burst: f64,
    /// Per principal: units left, and when that was counted.
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl Quota {
    /// A quota refilled at `per_second` units a second, holding at most `burst`.
    pub fn new(per_second: u32, burst: u32) -> Self {
        Self {
            per_second: f64::from(per_second.max(1)),
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// The quota of identifier checks ([`IDENTIFIER_CHECKS_PER_SECOND`]).
    pub fn identifier_checks() -> Self {
        Self::new(IDENTIFIER_CHECKS_PER_SECOND, IDENTIFIER_CHECKS_BURST)
    }

    /// Takes `units` from `caller`'s quota, or says how long until it holds them (a request
    /// larger than the burst waits for a full bucket).
    pub fn take(&self, caller: &str, units: u32) -> Result<(), Duration> {
        let units = f64::from(units).min(self.burst);
        let now = Instant::now();
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (left, counted) = buckets
            .entry(caller.to_owned())
            .or_insert((self.burst, now));
        *left =
            (*left + now.duration_since(*counted).as_secs_f64() * self.per_second).min(self.burst);
        *counted = now;
        if *left >= units {
            *left -= units;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((units - *left) / self.per_second))
        }
    }
}

/// `RESOURCE_EXHAUSTED` (reason `QUOTA_EXCEEDED`) for a caller over the quota of `what`,
/// with a `RetryInfo` of `retry` (acx-client waits at least that long before trying again).
pub fn exceeded(what: &str, retry: Duration) -> Status {
    use tonic_types::{ErrorDetails, StatusExt};
    let mut details = ErrorDetails::new();
    details.set_error_info(
        "QUOTA_EXCEEDED",
        crate::error::ERROR_DOMAIN,
        HashMap::<String, String>::new(),
    );
    details.set_retry_info(Some(retry.max(Duration::from_millis(1))));
    Status::with_error_details(
        Code::ResourceExhausted,
        format!(
            "over this caller's quota of {what}; retry in {} ms",
            retry.as_millis().max(1)
        ),
        details,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_caller_spends_its_burst_then_waits_and_others_are_not_held() {
        let quota = Quota::new(10, 50);
        assert!(quota.take("platform:a", 50).is_ok());
        let wait = quota.take("platform:a", 5).expect_err("the burst is spent");
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_millis(500),
            "{wait:?}"
        );
        assert!(quota.take("platform:b", 50).is_ok(), "per caller");
        // More than the burst at once is not refused for good: it waits for a full bucket.
        assert!(quota.take("platform:c", 500).is_ok());
    }
}
