//! Read-your-writes across scoring replicas: scoring answers every call with the history
//! position it reflects (`acx-applied-position`). Liaison keeps the highest position its
//! writes (assessments, outcomes) were answered at and asks for at least that on every
//! read (`acx-min-position`), so a read after a write through this liaison never sees a
//! scoring replica from before that write.

use std::sync::{
    Arc,
    atomic::{AtomicI64, Ordering},
};

/// Response header: the history position a scoring answer reflects.
const APPLIED: &str = "acx-applied-position";
/// Request header: the least history position a scoring answer must reflect.
const MIN: &str = "acx-min-position";

/// The highest scoring position this liaison has seen its writes answered at.
#[derive(Debug, Clone, Default)]
pub struct Positions(Arc<AtomicI64>);

impl Positions {
    /// Notes the position of a scoring answer to a write.
    pub fn observe<T>(&self, response: &tonic::Response<T>) {
        if let Some(position) = response
            .metadata()
            .get(APPLIED)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<i64>().ok())
        {
            self.0.fetch_max(position, Ordering::Relaxed);
        }
    }

    /// A request to scoring that must reflect every write seen so far.
    pub fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        let position = self.0.load(Ordering::Relaxed);
        if position > 0
            && let Ok(value) = position.to_string().parse()
        {
            request.metadata_mut().insert(MIN, value);
        }
        request
    }
}
