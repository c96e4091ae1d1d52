//! Following ingest's change feed: the replica holding the `feed` lease
//! ([`crate::lease`]) streams changes after the history's feed cursor and appends them as
//! feed-batch entries ([`crate::history::append_feed`]); every replica, this one too,
//! learns them by following the history. The other replicas do not connect to the feed.
//! A holder that cannot renew its lease stops at once; the append drops reports already
//! appended, so a brief overlap during a hand-over doubles nothing. A holder that cannot
//! follow the feed (ingest refuses its token, or has not let it open the feed for
//! [`HAND_ON_AFTER`]) hands the lease on and stands aside for [`STAND_ASIDE`], so one
//! misconfigured or cut-off replica does not stop every replica learning (found by a
//! tester).

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use acx_proto::ingest::StreamChangesRequest;
use acx_runtime::{
    Shutdown,
    client::{PeerClient, PeerConfig, PeerSettings, RetryPolicy, settings_refused},
    db::bounded,
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

/// A holder that has not had the feed open for this long hands the lease on: another
/// replica may reach ingest where this one cannot (a network policy, a node cut off). If
/// none can, the lease passes round, each holder trying for this long.
pub(crate) const HAND_ON_AFTER: Duration = Duration::from_secs(15);

/// How long a replica that handed the lease on leaves it to the others.
pub(crate) const STAND_ASIDE: Duration = Duration::from_secs(30);

/// Scoring's settings for ingest, to name the wrong one when ingest refuses them.
const INGEST_SETTINGS: PeerSettings = PeerSettings {
    peer: "ingest",
    url_var: "ACX_INGEST_URL",
    token_var: "ACX_INGEST_TOKEN",
    principal: "service:scoring",
};

/// Checks at start-up that ingest lets this replica read its change feed, by opening it
/// past its end: a token or address that ingest refuses is [`Error::FeedRefused`], naming
/// the setting, so a misconfigured replica stops at once instead of serving without
/// learning. An ingest that cannot be reached now is only logged: it may start later.
pub(crate) async fn check_access(ingest: &PeerConfig) -> Result<(), Error> {
    let opened = match ingest.connect().await {
        Ok(client) => {
            let mut raw = client.raw_ingest();
            let open = raw.stream_changes(StreamChangesRequest {
                after_sequence: i64::MAX,
            });
            match tokio::time::timeout(client.deadline(), open).await {
                Ok(result) => result.map(drop),
                Err(_) => Err(tonic::Status::deadline_exceeded("no answer")),
            }
        }
        Err(error) => Err(tonic::Status::unavailable(cause_chain(&error))),
    };
    match opened {
        Ok(()) => Ok(()),
        Err(status) => match settings_refused(&status, &INGEST_SETTINGS) {
            Some(why) => Err(Error::FeedRefused(format!("{why} ({})", status.message()))),
            None => {
                tracing::warn!(code = ?status.code(), error = status.message(),
                    "ingest's change feed cannot be opened now; following it once it can");
                Ok(())
            }
        },
    }
}

impl Scorer {
    /// Takes the feed lease when it is free and follows ingest's feed while holding it,
    /// until `shutdown`.
    pub async fn follow_feed(self: Arc<Self>, ingest: PeerConfig, shutdown: Shutdown) {
        loop {
            match lease::acquire(&self.database, lease::FEED, &self.replica).await {
                Ok(true) => {
                    tracing::info!(replica = %self.replica, "holding the feed lease");
                    tokio::select! {
                        () = self.follow_while_held(&ingest) => {
                            if let Err(error) = lease::release(&self.database, lease::FEED, &self.replica).await {
                                tracing::warn!(%error, "feed lease not released");
                            }
                            tokio::select! {
                                () = tokio::time::sleep(STAND_ASIDE) => continue,
                                () = shutdown.triggered() => return,
                            }
                        }
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

    /// Follows the feed, reconnecting with backoff. Returns when this replica should hand
    /// the lease on: ingest refused its settings, or the feed has not been open for
    /// [`HAND_ON_AFTER`] (the caller's select also ends it when the lease is lost). Each
    /// opening is on a new connection: one that failed or never answered is not tried again.
    async fn follow_while_held(&self, ingest: &PeerConfig) {
        let mut failures = 0;
        let mut last_open = Instant::now();
        loop {
            let result = match ingest.connect().await {
                Ok(client) => self.follow_once(&client, &mut last_open).await,
                Err(error) => Err(Error::Internal(cause_chain(&error))),
            };
            let wait = REOPEN.jittered_backoff(failures);
            match result {
                Ok(()) => failures = 0,
                Err(Error::Feed(status))
                    if let Some(problem) = settings_refused(&status, &INGEST_SETTINGS) =>
                {
                    tracing::error!(
                        %problem,
                        error = status.message(),
                        stand_aside_s = STAND_ASIDE.as_secs(),
                        "ingest refuses this replica's change feed: handing the feed lease on"
                    );
                    return;
                }
                Err(error) => {
                    if last_open.elapsed() >= HAND_ON_AFTER {
                        tracing::warn!(error = %cause_chain(&error),
                            closed_s = last_open.elapsed().as_secs(),
                            "change feed closed too long: handing the feed lease on");
                        return;
                    }
                    tracing::warn!(error = %cause_chain(&error), retry_ms = wait.as_millis() as u64,
                        "change feed interrupted, reconnecting");
                    failures = failures.saturating_add(1);
                }
            }
            tokio::time::sleep(wait).await;
        }
    }

    /// Follows one opening of the feed; `last_open` is set when it opens and as changes
    /// arrive.
    async fn follow_once(&self, ingest: &PeerClient, last_open: &mut Instant) -> Result<(), Error> {
        let after_sequence = bounded(history::feed_cursor(&self.database)).await?;
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
        *last_open = Instant::now();
        tracing::info!(after_sequence, "following ingest's change feed");
        loop {
            let message = stream.message().await;
            *last_open = Instant::now();
            let Some(first) = message.map_err(Error::Feed)? else {
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
            let appended = bounded(history::append_feed(
                &self.database,
                FeedBatch { reports },
                &self.settings_fingerprint,
            ))
            .await;
            if self.appended(appended).await?.is_some() {
                self.wake.notify_one();
            }
        }
    }
}
