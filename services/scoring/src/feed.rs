//! Following ingest's change feed: the replica holding the `feed` lease
//! ([`crate::lease`]) streams changes after the history's feed cursor and appends them as
//! feed-batch entries ([`crate::history::append_feed`]); every replica, this one too,
//! learns them by following the history. The other replicas do not connect to the feed.
//! A holder that cannot renew its lease stops at once; the append drops reports already
//! appended, so a brief overlap during a hand-over doubles nothing.

use std::{sync::Arc, time::Duration};

use acx_proto::ingest::{StreamChangesRequest, ingest_service_client::IngestServiceClient};
use acx_runtime::{Shutdown, client::PeerChannel, error::cause_chain};

use crate::{
    Error,
    history::{self, FeedBatch, FeedReport},
    lease,
    scorer::Scorer,
};

/// Most reports appended as one entry.
const MAX_BATCH: usize = 500;

impl Scorer {
    /// Takes the feed lease when it is free and follows ingest's feed while holding it,
    /// until `shutdown`.
    pub async fn follow_feed(
        self: Arc<Self>,
        ingest: IngestServiceClient<PeerChannel>,
        shutdown: Shutdown,
    ) {
        loop {
            match lease::acquire(&self.database, lease::FEED, &self.replica).await {
                Ok(true) => {
                    tracing::info!(replica = %self.replica, "holding the feed lease");
                    tokio::select! {
                        () = self.follow_while_held(ingest.clone()) => {}
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
    /// through the caller's select).
    async fn follow_while_held(&self, ingest: IngestServiceClient<PeerChannel>) {
        let mut backoff = Duration::from_millis(200);
        loop {
            match self.follow_once(ingest.clone()).await {
                Ok(()) => backoff = Duration::from_millis(200),
                Err(error) => {
                    tracing::warn!(error = %cause_chain(&error), retry_ms = backoff.as_millis() as u64,
                        "change feed interrupted, reconnecting");
                }
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(10));
        }
    }

    async fn follow_once(&self, mut ingest: IngestServiceClient<PeerChannel>) -> Result<(), Error> {
        let after_sequence = history::feed_cursor(&self.database).await?;
        let mut stream = ingest
            .stream_changes(StreamChangesRequest { after_sequence })
            .await
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
