//! The targeting model's life in the service: trained in the background when enough new
//! outcomes arrive (never holding a lock assessments need while the trees learn), by one
//! replica at a time (the `trainer` lease), promoted by the champion/challenger rule and
//! put in force on every replica through the history (a [`ModelTrainedEntry`]), described
//! by the model card. Statistics, lanes and the champion's version are part of each
//! replica's state ([`crate::state`]), rebuilt from snapshots and the history.

use std::{sync::Arc, time::Duration};

use acx_proto::scoring::{
    Backtest, LanePolicy, LaneThresholds, ModelCard, ModelVersionSummary, PrecisionAt,
};
use acx_runtime::{
    Shutdown,
    time::{now_micros, to_timestamp},
};

use super::{
    backtest::Quality,
    store::{self, VersionRow},
    train::{self, NotTrained},
};
use crate::{
    Error,
    history::{self, Entry, LanePolicyEntry, ModelTrainedEntry},
    lease,
    scorer::{APPLY_WAIT, Scorer},
};

/// The trainer waits for outcomes to stop arriving this long before it trains (so a batch
/// of outcomes makes one training, not many), but never longer than [`MAX_WAIT`].
const QUIET: Duration = Duration::from_secs(2);
const MAX_WAIT: Duration = Duration::from_secs(30);

/// A training's result.
#[derive(Debug)]
pub struct Trained {
    /// Promoted to champion.
    pub promoted: bool,
    /// The challenger's summary.
    pub summary: ModelVersionSummary,
}

fn backtest(q: &Quality) -> Backtest {
    let time = |day: f64| Some(to_timestamp((day * 86_400e6) as i64));
    Backtest {
        window_start: time(q.window.0),
        window_end: time(q.window.1),
        shipments: q.shipments as i64,
        frauds: q.frauds as i64,
        top: q
            .top
            .iter()
            .map(|&(percent, precision, revenue)| PrecisionAt {
                percent,
                precision,
                revenue,
            })
            .collect(),
        auc: q.auc,
    }
}

/// The trained versions a replica has read, for the model card (polled every few seconds
/// by liaison). Stored versions never change and are numbered in the order they are
/// stored, so a card reads only the versions above the newest one known, and only when
/// the replica applied history since the last read: a version is stored before its
/// history entry, so it is there once the entry is applied, on every replica alike.
#[derive(Debug, Default)]
pub struct KnownVersions {
    /// Newest first.
    rows: Vec<VersionRow>,
    /// The position applied when they were last read; `None` before the first read.
    read_at: Option<i64>,
}

impl KnownVersions {
    /// The newest version known, or `i64::MIN` when none is.
    fn newest(&self) -> i64 {
        self.rows.first().map_or(i64::MIN, |row| row.version)
    }

    /// Adds `newer` (newest first, as [`store::versions_after`] reads them), read when
    /// `applied` was the position applied.
    fn add(&mut self, mut newer: Vec<VersionRow>, applied: i64) {
        let newest = self.newest();
        newer.retain(|row| row.version > newest);
        newer.append(&mut self.rows);
        self.rows = newer;
        self.read_at = Some(applied);
    }
}

fn summary(row: &VersionRow) -> ModelVersionSummary {
    ModelVersionSummary {
        version: format!("targeting-{}", row.version),
        trained_time: Some(to_timestamp(row.trained_us)),
        training_outcomes: row.facts.training_outcomes as i64,
        backtest: Some(backtest(&row.facts.backtest)),
        promoted: row.promoted,
        decision: row.decision.clone(),
    }
}

impl Scorer {
    /// Trains a challenger on every recorded outcome and promotes it by the rule of
    /// [`train::decide`], unless another replica is training (FAILED_PRECONDITION).
    /// Trainings run one at a time; assessments go on meanwhile.
    pub async fn train_now(&self) -> Result<Trained, Error> {
        let _one = self.training.lock().await;
        if !lease::acquire(&self.database, lease::TRAINER, &self.replica).await? {
            return Err(Error::FailedPrecondition(
                "another scoring replica is training the targeting model now; the model card \
                 shows its result when it is done"
                    .to_owned(),
            ));
        }
        let result = tokio::select! {
            result = self.train_leased() => result,
            () = lease::keep(&self.database, lease::TRAINER, &self.replica) => Err(Error::Internal(
                "the trainer lease was lost during the training".to_owned())),
        };
        self.state.write().await.targeting.training = false;
        if let Err(error) = lease::release(&self.database, lease::TRAINER, &self.replica).await {
            tracing::warn!(%error, "trainer lease not released (it expires)");
        }
        result
    }

    async fn train_leased(&self) -> Result<Trained, Error> {
        // A training another replica finished is in the history before it gave the lease
        // up: apply it first, so a training is never repeated on the same outcomes.
        let head = history::head(&self.database).await?;
        self.wait_applied(head, APPLY_WAIT).await?;
        let (recorded, incumbent) = {
            let mut state = self.state.write().await;
            state.targeting.training = true;
            (
                state.targeting.stats.totals().0,
                state.targeting.champion.clone(),
            )
        };
        let mut examples = store::examples(self.database(), self.rates()).await?;
        examples.sort_by(|a, b| a.declared.day.total_cmp(&b.declared.day));
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let started = std::time::Instant::now();
        let result = tokio::task::spawn_blocking(move || {
            let champion = incumbent
                .as_ref()
                .map(|c| (&c.space, &c.booster, c.facts.window.1));
            train::train(&examples, champion, threads)
        })
        .await
        .map_err(|e| Error::Internal(format!("training task failed: {e}")))?;
        let (fitted, compared) = result.map_err(|e| match e {
            NotTrained::TooFew { .. } => Error::FailedPrecondition(e.to_string()),
            NotTrained::Trees(_) => Error::Internal(e.to_string()),
        })?;
        let has_champion = self.state.read().await.targeting.champion.is_some();
        let (promoted, decision) = train::decide(&fitted.facts, has_champion, compared.as_ref());
        let row = VersionRow {
            version: store::next_version(self.database()).await?,
            trained_us: now_micros(),
            promoted,
            decision,
            facts: fitted.facts,
        };
        store::save(
            self.database(),
            &row,
            &fitted.space,
            promoted.then_some(&fitted.booster),
        )
        .await?;
        let entry = Entry::ModelTrained(ModelTrainedEntry {
            version: row.version,
            promoted,
            recorded_outcomes: recorded,
            backtest_scores: if promoted {
                fitted.backtest_scores
            } else {
                Vec::new()
            },
        });
        let position = self
            .appended(history::append(&self.database, &entry, &self.settings_fingerprint).await)
            .await?;
        self.wake.notify_one();
        self.wait_applied(position, APPLY_WAIT).await?;
        tracing::info!(model = row.version, promoted, decision = %row.decision,
            outcomes = row.facts.training_outcomes, auc = row.facts.backtest.auc,
            seconds = started.elapsed().as_secs_f64(), "targeting model trained");
        Ok(Trained {
            promoted,
            summary: summary(&row),
        })
    }

    /// Trains whenever enough new outcomes have arrived and stopped arriving, until
    /// `shutdown`.
    pub async fn run_trainer(self: Arc<Self>, shutdown: Shutdown) {
        loop {
            if !self.state.read().await.targeting.training_due() {
                tokio::select! {
                    () = self.outcome_recorded.notified() => {}
                    () = shutdown.triggered() => return,
                }
            }
            // Let a burst of outcomes finish first.
            let waited = std::time::Instant::now();
            loop {
                tokio::select! {
                    () = self.outcome_recorded.notified() => {}
                    () = tokio::time::sleep(QUIET) => break,
                    () = shutdown.triggered() => return,
                }
                if waited.elapsed() >= MAX_WAIT {
                    break;
                }
            }
            if self.state.read().await.targeting.training_due()
                && let Err(error) = self.train_now().await
            {
                // Another replica training (the lease is busy) is the normal case with
                // several replicas: its "model trained" entry reaches this one too.
                if matches!(error, Error::FailedPrecondition(_)) {
                    tracing::debug!(error = %error, "targeting model not trained now");
                } else {
                    tracing::warn!(error = %error, "targeting model not trained");
                }
                tokio::select! {
                    () = tokio::time::sleep(MAX_WAIT) => {}
                    () = shutdown.triggered() => return,
                }
            }
        }
    }

    /// The model card; lane thresholds of `authority` only, unless empty.
    pub async fn model_card(&self, authority: &str) -> Result<ModelCard, Error> {
        let (previous, last) = {
            let mut known = self.versions.lock().await;
            let applied = self.applied();
            if known.read_at != Some(applied) {
                let newer = store::versions_after(self.database(), known.newest()).await?;
                known.add(newer, applied);
            }
            let last = known.rows.first().map(|v| (v.version, v.decision.clone()));
            (known.rows.iter().map(summary).collect(), last)
        };
        let state = self.state.read().await;
        let targeting = &state.targeting;
        let (outcomes, frauds) = targeting.stats.totals();
        let mut policies: Vec<LanePolicy> = targeting.lanes.policies();
        if !authority.is_empty() {
            policies.retain(|p| p.authority == authority);
            if !policies.iter().any(|p| p.customs_office.is_empty()) {
                policies.insert(
                    0,
                    targeting.lanes.policy(authority, "", self.random_share()),
                );
            }
        }
        let lanes: Vec<LaneThresholds> = policies
            .iter()
            .map(|p| targeting.lanes.thresholds(p))
            .collect();
        let mut card = ModelCard {
            outcomes_recorded: outcomes as i64,
            training_pending: targeting.training || targeting.training_due(),
            lanes,
            previous,
            ..ModelCard::default()
        };
        match &targeting.champion {
            Some(champion) => {
                card.previous
                    .retain(|v| v.version != champion.version_name());
                let time = |day: f64| Some(to_timestamp((day * 86_400e6) as i64));
                card.version = champion.version_name();
                card.trained = true;
                card.trained_time = Some(to_timestamp(champion.trained_us));
                card.training_outcomes = champion.facts.training_outcomes as i64;
                card.training_frauds = champion.facts.training_frauds as i64;
                card.window_start = time(champion.facts.window.0);
                card.window_end = time(champion.facts.window.1);
                card.features = champion.facts.features.clone();
                card.backtest = Some(backtest(&champion.facts.backtest));
                card.baseline = Some(backtest(&champion.facts.baseline));
            }
            None => {
                card.version = self.rules_version();
                card.cold_start = match last {
                    Some((version, decision)) => format!(
                        "no trained version was promoted yet (last: targeting-{version}: {decision})"
                    ),
                    // Enough recorded: the first training is due or running (a tester read
                    // "4418 outcomes recorded; 500 are needed" as a contradiction).
                    None if outcomes >= super::train::MIN_OUTCOMES as u64
                        && frauds >= super::train::MIN_FRAUDS as u64 =>
                    {
                        format!(
                            "{outcomes} outcomes ({frauds} frauds) recorded, enough to train: the first training is due or running"
                        )
                    }
                    None => NotTrained::TooFew {
                        outcomes: outcomes as usize,
                        frauds: frauds as usize,
                    }
                    .to_string(),
                } + "; the rules assess";
            }
        }
        Ok(card)
    }

    /// Sets a lane policy (a history entry, so every replica holds it); returns its
    /// thresholds now and the position to read at to see it.
    pub async fn set_lane_policy(
        &self,
        policy: LanePolicy,
    ) -> Result<(LaneThresholds, i64), Error> {
        let entry = Entry::LanePolicy(LanePolicyEntry {
            policy: Some(policy.clone()),
        });
        let position = self
            .appended(history::append(&self.database, &entry, &self.settings_fingerprint).await)
            .await?;
        self.wake.notify_one();
        self.wait_applied(position, APPLY_WAIT).await?;
        let thresholds = self.state.read().await.targeting.lanes.thresholds(&policy);
        Ok((thresholds, position))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(version: i64) -> VersionRow {
        VersionRow {
            version,
            trained_us: version,
            promoted: false,
            decision: String::new(),
            facts: Default::default(),
        }
    }

    #[test]
    fn known_versions_stay_newest_first_without_repeats() {
        let mut known = KnownVersions::default();
        assert_eq!((known.newest(), known.read_at), (i64::MIN, None));
        known.add(vec![row(2), row(1)], 10);
        known.add(Vec::new(), 11);
        // A read racing another may return a version already known.
        known.add(vec![row(4), row(3), row(2)], 12);
        let order: Vec<i64> = known.rows.iter().map(|r| r.version).collect();
        assert_eq!(order, [4, 3, 2, 1]);
        assert_eq!((known.newest(), known.read_at), (4, Some(12)));
    }
}
