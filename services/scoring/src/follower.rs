//! The follower: every replica applies the history in order. It starts from the latest
//! valid snapshot ([`crate::snapshot`]), then reads `position > applied` in rounds,
//! applies each entry to the state, stores the effects once ([`crate::effects`]) and only
//! then moves `applied` on, so an answer given at `applied` has its stored effects too.
//!
//! It wakes after a local append (read-your-writes), on PostgreSQL on a NOTIFY from any
//! replica's append, and otherwise polls every [`POLL`]. The replica is ready (health
//! SERVING) once it has applied the history's head as it was at start-up.

use std::{
    sync::{Arc, atomic::Ordering},
    time::{Duration, Instant},
};

use acx_runtime::{
    Database, Shutdown,
    db::{bounded, bounded_by},
    error::cause_chain,
};

use crate::{
    Error,
    effects::{self, Applied, WriteError},
    history, lease,
    scorer::Scorer,
    settings, snapshot,
};

/// How often a follower looks for new entries when nothing woke it.
pub const POLL: Duration = Duration::from_millis(200);
/// Most entries applied in one round (one effects transaction).
const ROUND: i64 = 64;
/// The longest a snapshot write may take (the follower waits for it): at 10,000,000
/// reports a snapshot is 369 MiB, written in 2 MiB chunks (docs/performance.md).
const SNAPSHOT_LIMIT: Duration = Duration::from_secs(300);
/// Most trace links on the span of one applied feed entry (the SDK's default limit).
const MAX_LINKS: usize = 128;

/// The span of applying `entry`: for reports from ingest's feed, one linked to the trace of
/// each report's submission; none for other entries.
fn apply_span(entry: &history::Entry) -> tracing::Span {
    let history::Entry::Feed(batch) = entry else {
        return tracing::Span::none();
    };
    let span = tracing::info_span!(
        "acx.scoring.apply_feed",
        otel.name = "scoring/apply feed reports",
        acx.feed.reports = batch.reports.len(),
        acx.feed.last_sequence = batch.reports.last().map_or(0, |r| r.sequence),
    );
    let mut linked = std::collections::HashSet::new();
    for report in &batch.reports {
        if !report.traceparent.is_empty()
            && linked.len() < MAX_LINKS
            && linked.insert(report.traceparent.as_str())
        {
            acx_telemetry::link_to_traceparent(&span, &report.traceparent);
        }
    }
    span
}

/// When snapshots are written.
#[derive(Debug, Clone, Copy)]
pub struct SnapshotPolicy {
    /// After this many entries since the last snapshot.
    pub every_entries: i64,
    /// Or after this long, when any entry was applied since.
    pub every: Duration,
}

impl Default for SnapshotPolicy {
    fn default() -> Self {
        Self {
            every_entries: 2_000,
            every: Duration::from_secs(600),
        }
    }
}

/// Wakes on PostgreSQL notifications of appends.
struct Listener(Option<sqlx::postgres::PgListener>);

impl Listener {
    async fn connect(database: &Database) -> Self {
        let Database::Postgres(pool) = database else {
            return Self(None);
        };
        let listener = async {
            let mut listener = sqlx::postgres::PgListener::connect_with(pool).await?;
            listener.listen(history::CHANNEL).await?;
            Ok::<_, sqlx::Error>(listener)
        };
        match listener.await {
            Ok(listener) => Self(Some(listener)),
            Err(error) => {
                tracing::warn!(%error, "cannot listen for history appends, polling only");
                Self(None)
            }
        }
    }

    /// Resolves on a notification (or never, without a listener).
    async fn notified(&mut self) {
        match &mut self.0 {
            Some(listener) => {
                if let Err(error) = listener.recv().await {
                    tracing::warn!(%error, "history notifications interrupted");
                    self.0 = None;
                }
            }
            None => std::future::pending().await,
        }
    }
}

impl Scorer {
    /// Restores the latest snapshot, then applies the history until `shutdown`, writing
    /// snapshots by `policy` while this replica holds the snapshot lease.
    pub async fn follow_history(self: Arc<Self>, policy: SnapshotPolicy, shutdown: Shutdown) {
        let started = Instant::now();
        match snapshot::restore_latest(&self.database, self.params, &self.settings_fingerprint)
            .await
        {
            Ok(Some((position, mut state))) => {
                state.use_rates(Arc::clone(&self.rates));
                if let Some(version) = state.targeting.champion_version {
                    match crate::targeting::store::champion(&self.database, version).await {
                        Ok(champion) => state.targeting.champion = Some(Arc::new(champion)),
                        // Without its trees the snapshot cannot serve: replay instead.
                        Err(error) => {
                            tracing::error!(error = %cause_chain(&error), version,
                                "the snapshot's targeting model cannot be read");
                        }
                    }
                }
                *self.state.write().await = state;
                self.applied.send_replace(position);
                tracing::info!(
                    position,
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "state restored from snapshot"
                );
            }
            Ok(None) => tracing::info!("no snapshot: applying the history from the start"),
            Err(error) => tracing::warn!(error = %cause_chain(&error),
                "snapshots unreadable: applying the history from the start"),
        }
        let mut listener = Listener::connect(&self.database).await;
        let mut last_snapshot = (self.applied(), Instant::now());
        let mut last_check = Instant::now();
        let mut logged_ready = false;
        loop {
            let round = tokio::select! {
                round = self.apply_round() => round,
                () = shutdown.triggered() => return,
            };
            match round {
                Ok(0) => {
                    self.mark_ready(started, &mut logged_ready);
                    self.maybe_snapshot(policy, &mut last_snapshot).await;
                    // Idle, no effects write checks the settings: check them here.
                    if last_check.elapsed() >= settings::CHECK_EVERY {
                        last_check = Instant::now();
                        if let Err(error @ Error::SettingsReplaced(_)) = self.check_settings().await
                        {
                            self.stop_serving(&error);
                            return;
                        }
                    }
                    tokio::select! {
                        () = self.wake.notified() => {}
                        () = listener.notified() => {}
                        () = tokio::time::sleep(POLL) => {}
                        () = shutdown.triggered() => return,
                    }
                }
                Ok(_) => {
                    self.mark_ready(started, &mut logged_ready);
                    self.maybe_snapshot(policy, &mut last_snapshot).await;
                }
                Err(error @ Error::SettingsReplaced(_)) => {
                    self.stop_serving(&error);
                    return;
                }
                Err(error) => {
                    tracing::warn!(error = %cause_chain(&error), "history round failed, retrying");
                    tokio::select! {
                        () = tokio::time::sleep(POLL) => {}
                        () = shutdown.triggered() => return,
                    }
                }
            }
        }
    }

    fn mark_ready(&self, started: Instant, logged: &mut bool) {
        let applied = self.applied();
        if applied >= self.start_head.load(Ordering::Relaxed) && !*logged {
            *logged = true;
            self.ready.send_replace(true);
            tracing::info!(
                position = applied,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "caught up with the history: serving"
            );
            if let Ok(state) = self.state.try_read() {
                for (version, profiles) in state.model.profiles_by_normalization() {
                    tracing::info!(
                        acx.identifiers.normalization = version,
                        profiles,
                        "current seller profiles whose identifiers were hashed under this normalisation version"
                    );
                }
            }
        }
    }

    /// Reads and applies one round of entries; returns how many.
    async fn apply_round(&self) -> Result<usize, Error> {
        let after = self.applied();
        let entries = bounded(history::read_after(&self.database, after, ROUND)).await?;
        let Some(last) = entries.last().map(|e| e.position) else {
            return Ok(0);
        };
        // A promoted model's trees are read before the state is locked (they are stored,
        // immutable, before their entry is appended).
        let promoted = entries.iter().rev().find_map(|e| match &e.entry {
            history::Entry::ModelTrained(trained) if trained.promoted => Some(trained.version),
            _ => None,
        });
        let champion = match promoted {
            Some(version) => Some(Arc::new(
                bounded(crate::targeting::store::champion(&self.database, version)).await?,
            )),
            None => None,
        };
        let outcomes = entries
            .iter()
            .any(|e| matches!(e.entry, history::Entry::Outcome(_)));
        // Readers wait while the entries are applied and their effects first written, so
        // a score they see has its trail (history, blacklist changes) stored too.
        let mut state = self.state.write().await;
        let applied: Vec<Applied> = entries
            .iter()
            .map(|stored| Applied {
                position: stored.position,
                time_us: stored.append_time_us,
                effects: apply_span(&stored.entry)
                    .in_scope(|| state.apply(&stored.entry, stored.append_time_us)),
            })
            .collect();
        if champion.is_some() {
            state.targeting.champion = champion;
            tracing::info!(model = ?promoted, "targeting model in force");
        }
        let mut written = bounded(effects::write(
            &self.database,
            &applied,
            &self.settings_fingerprint,
        ))
        .await;
        drop(state);
        // The state has moved on: its effects must be stored before anything else (while
        // the database is down, reads go on from memory).
        let mut backoff = Duration::from_millis(50);
        loop {
            match written {
                Ok(_) => break,
                // Nothing of this round is stored, nor will be by this replica.
                Err(WriteError::SettingsReplaced) => return Err(self.settings_replaced().await),
                Err(WriteError::Gap { cursor, first }) => {
                    tracing::error!(
                        cursor,
                        first,
                        "stored effects are missing before this position"
                    );
                    break;
                }
                Err(WriteError::Database(error)) => {
                    tracing::warn!(%error, retry_ms = backoff.as_millis() as u64,
                        "effects could not be stored, retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    written = bounded(effects::write(
                        &self.database,
                        &applied,
                        &self.settings_fingerprint,
                    ))
                    .await;
                }
            }
        }
        self.applied.send_replace(last);
        if outcomes {
            self.outcome_recorded.notify_one();
        }
        Ok(entries.len())
    }

    /// Ok while the recorded shared settings are this replica's; otherwise
    /// [`Error::SettingsReplaced`].
    async fn check_settings(&self) -> Result<(), Error> {
        let recorded = bounded(settings::recorded_fingerprint(&self.database)).await?;
        if recorded.as_deref() == Some(self.settings_fingerprint.as_slice()) {
            return Ok(());
        }
        Err(self.settings_replaced().await)
    }

    /// [`Error::SettingsReplaced`], naming the settings that differ (when they can be read).
    pub(crate) async fn settings_replaced(&self) -> Error {
        let differences = match bounded(settings::recorded(&self.database)).await {
            Ok(recorded) => self.settings.differences(&recorded),
            Err(error) => {
                tracing::warn!(%error, "the recorded shared settings cannot be read");
                settings::Differences(Vec::new())
            }
        };
        Error::SettingsReplaced(differences)
    }

    /// Writes a snapshot when `policy` says so and this replica holds the snapshot lease.
    async fn maybe_snapshot(&self, policy: SnapshotPolicy, last: &mut (i64, Instant)) {
        let applied = self.applied();
        let due = applied - last.0 >= policy.every_entries
            || (applied > last.0 && last.1.elapsed() >= policy.every);
        if !due {
            return;
        }
        *last = (applied, Instant::now());
        match lease::acquire(&self.database, lease::SNAPSHOT, &self.replica).await {
            Ok(true) => {}
            Ok(false) => return,
            Err(error) => {
                tracing::warn!(%error, "snapshot lease unavailable");
                return;
            }
        }
        let state = Arc::clone(&self.state).read_owned().await;
        let position = self.applied();
        let started = Instant::now();
        let write = snapshot::write(
            &self.database,
            position,
            state,
            self.params,
            &self.settings_fingerprint,
        );
        match bounded_by(SNAPSHOT_LIMIT, write).await {
            Ok(size) => tracing::info!(
                position,
                size_bytes = size,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "snapshot written"
            ),
            Err(error) => {
                tracing::warn!(error = %cause_chain(&error), position, "snapshot not written")
            }
        }
    }
}
