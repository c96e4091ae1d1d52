//! Times as the services keep them (microseconds since the Unix epoch, in `i64` columns)
//! and as the contracts carry them (`google.protobuf.Timestamp`).

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, in microseconds since the epoch.
pub fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_micros() as i64)
}

/// A time in microseconds as a protobuf timestamp.
pub fn to_timestamp(micros: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: micros.div_euclid(1_000_000),
        nanos: (micros.rem_euclid(1_000_000) * 1000) as i32,
    }
}

/// A protobuf timestamp in microseconds (saturating; sub-microsecond digits dropped).
pub fn from_timestamp(time: &prost_types::Timestamp) -> i64 {
    time.seconds
        .saturating_mul(1_000_000)
        .saturating_add(i64::from(time.nanos / 1000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_both_ways() {
        let time = to_timestamp(1_700_000_000_123_456);
        assert_eq!((time.seconds, time.nanos), (1_700_000_000, 123_456_000));
        assert_eq!(from_timestamp(&time), 1_700_000_000_123_456);
        let before_epoch = to_timestamp(-1);
        assert_eq!(
            (before_epoch.seconds, before_epoch.nanos),
            (-1, 999_999_000)
        );
        assert!(now_micros() > 1_700_000_000_000_000);
    }
}
