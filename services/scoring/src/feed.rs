//! Following ingest's change feed: the replica holding the `feed` lease
//! ([`crate::lease`]) streams changes after the history's feed cursor and appends them as
//! feed-batch entries ([`crate::history::append_feed`]); every replica, this one too,
//! learns them by following the history. The other replicas do not connect to the feed.
//! A holder that cannot renew its lease stops at once; the append drops reports already
//! appended, so a brief overlap during a hand-over doubles nothing.

use std::{sync::Arc, time::Duration};

use acx_proto::ingest::StreamChangesRequest;
use acx_runtime::{
    Shutdown,
    client::{PeerClient, PeerConfig, RetryPolicy},
    error::cause_chain,
};

use crate::{
    Error,
    history::{self, FeedBatch, FeedReport},
    lease,
    scorer::Scorer,
};

/// Most reports appended as one entry.
const MAX_BATCH: usize = 500;

/// Each attempt of a unary call to ingest, and the opening of the feed (until ingest's
/// response headers arrive): an ingest that accepts the connection but never answers must
/// not hold the follower, and with it the lease, forever. The open feed itself carries no
/// deadline: it lives as long as this replica holds the lease.
pub(crate) const INGEST_DEADLINE: Duration = Duration::from_secs(10);

/// Waits between reopenings of an interrupted feed: the shared client's full-jitter
/// backoff, its ceiling doubling from 200 ms to 10 s, back to the start after a stream
/// that ended cleanly. Never gives up while the lease is held.
const REOPEN: RetryPolicy = RetryPolicy {
    max_attempts: u32::MAX,
    initial_backoff: Duration::from_millis(200),
    max_backoff: Duration::from_secs(10),
    multiplier: 2.0,
};

impl Scorer {
    /// Takes the feed lease when it is free and follows ingest's feed while holding it,
    /// until `shutdown`.
    pub async fn follow_feed(self: Arc<Self>, ingest: PeerConfig, shutdown: Shutdown) {
        loop {
            match lease::acquire(&self.database, lease::FEED, &self.replica).await {
                Ok(true) => {
                    tracing::info!(replica = %self.replica, "holding the feed lease");
                    tokio::select! {
                        () = self.follow_while_held(&ingest) => {}
                        () = lease::keep(&self.database, lease::FEED, &self.replica) => {
                            tracing::warn!("feed lease lost: no longer following the feed");
                        }
                        () = shutdown.triggered() => {
                            if let Err(error) = lease::release(&self.database, lease::FEED, &self.replica).await {
                                tracing::warn!(%error, "feed lease not released");
                            }
                            return;
                        }
                    }
                }
                Ok(false) => {}
                Err(error) => tracing::warn!(%error, "feed lease unavailable"),
            }
            tokio::select! {
                () = tokio::time::sleep(lease::RENEW) => {}
                () = shutdown.triggered() => return,
            }
        }
    }

    /// Follows the feed, reconnecting with backoff (returns only if the lease is lost,
    /// through the caller's select). Each opening is on a new connection: one that
    /// failed or never answered is not tried again.
    async fn follow_while_held(&self, ingest: &PeerConfig) {
        let mut failures = 0;
        loop {
            let result = match ingest.connect().await {
                Ok(client) => self.follow_once(&client).await,
                Err(error) => Err(Error::Internal(cause_chain(&error))),
            };
            let wait = REOPEN.jittered_backoff(failures);
            match result {
                Ok(()) => failures = 0,
                Err(error) => {
                    tracing::warn!(error = %cause_chain(&error), retry_ms = wait.as_millis() as u64,
                        "change feed interrupted, reconnecting");
                    failures = failures.saturating_add(1);
                }
            }
            tokio::time::sleep(wait).await;
        }
    }

    async fn follow_once(&self, ingest: &PeerClient) -> Result<(), Error> {
        let after_sequence = history::feed_cursor(&self.database).await?;
        let mut raw = ingest.raw_ingest();
        let open = raw.stream_changes(StreamChangesRequest { after_sequence });
        let mut stream = tokio::time::timeout(ingest.deadline(), open)
            .await
            .map_err(|_| {
                Error::Feed(tonic::Status::deadline_exceeded(format!(
                    "ingest did not open the change feed within {:?}",
                    ingest.deadline()
                )))
            })?
            .map_err(Error::Feed)?
            .into_inner();
        tracing::info!(after_sequence, "following ingest's change feed");
        loop {
            let Some(first) = stream.message().await.map_err(Error::Feed)? else {
                return Ok(());
            };
            let mut changes = vec![first];
            // Take what has already arrived, up to a batch, without waiting.
            while changes.len() < MAX_BATCH {
                match tokio::time::timeout(Duration::ZERO, stream.message()).await {
                    Ok(Ok(Some(change))) => changes.push(change),
                    Ok(Ok(None)) | Err(_) => break,
                    Ok(Err(status)) => return Err(Error::Feed(status)),
                }
            }
            let reports = changes
                .into_iter()
                .filter(|change| change.report.is_some())
                .map(|change| FeedReport {
                    sequence: change.sequence,
                    platform: change.platform,
                    report: change.report,
                    traceparent: change.traceparent,
                })
                .collect();
            if history::append_feed(&self.database, FeedBatch { reports })
                .await?
                .is_some()
            {
                self.wake.notify_one();
            }
        }
    }
}
