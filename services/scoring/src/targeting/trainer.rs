//! The targeting model's life in the service: rebuilt at start-up, trained in the background
//! when enough new outcomes arrive (never holding a lock assessments need while the trees
//! learn), promoted by the champion/challenger rule, described by the model card.

use std::{sync::Arc, time::Duration};

use acx_domain::rates::ReferenceRates;
use acx_proto::scoring::{
    Backtest, LanePolicy, LaneThresholds, ModelCard, ModelVersionSummary, PrecisionAt,
};
use acx_runtime::{
    Database, Shutdown,
    time::{now_micros, to_timestamp},
};

use super::{
    Champion, Targeting,
    backtest::Quality,
    store::{self, VersionRow},
    train::{self, NotTrained},
};
use crate::{Error, scorer::Scorer};

/// Recent shipments re-scored at start-up to seed the lane thresholds.
const SEED_SCORES: usize = 5000;
/// The trainer waits for outcomes to stop arriving this long before it trains (so a batch
/// of outcomes makes one training, not many), but never longer than [`MAX_WAIT`].
const QUIET: Duration = Duration::from_secs(2);
const MAX_WAIT: Duration = Duration::from_secs(30);

/// Rebuilds the targeting state from `database`: statistics of every recorded declaration
/// and outcome, the champion, lane policies, and recent scores for the thresholds.
pub async fn load(database: &Database, rates: &ReferenceRates) -> Result<Targeting, Error> {
    let mut examples = store::examples(database, rates).await?;
    examples.sort_by(|a, b| a.declared.day.total_cmp(&b.declared.day));
    let mut targeting = Targeting::default();
    for example in &examples {
        targeting.stats.see(&example.declared);
        if let Some((fraud, _, day)) = example.outcome {
            targeting
                .stats
                .record(&example.declared, fraud, day.max(example.declared.day));
        }
    }
    for policy in store::policies(database).await? {
        targeting.lanes.set(policy);
    }
    if !store::versions(database).await?.is_empty() {
        targeting.trained_at_outcomes = targeting.stats.totals().0;
    }
    if let Some(champion) = store::champion(database).await? {
        tracing::info!(model = %champion.version_name(), "targeting model loaded");
        targeting.champion = Some(Arc::new(champion));
        seed_lanes(&mut targeting, &examples);
    }
    Ok(targeting)
}

/// Scores the most recent uninspected declarations with the champion, so lane thresholds
/// hold from the first assessment after a start or a promotion (inspected ones would score
/// with their own outcome known). `examples` in time order.
fn seed_lanes(targeting: &mut Targeting, examples: &[train::Example]) {
    let Some(champion) = targeting.champion.clone() else {
        return;
    };
    let open: Vec<&train::Example> = examples.iter().filter(|e| e.outcome.is_none()).collect();
    let start = open.len().saturating_sub(SEED_SCORES);
    for example in &open[start..] {
        let x = champion
            .space
            .vector_seen(&example.declared, &example.context, &targeting.stats);
        let raw = train::predict(&champion.booster, &[x.as_slice()]);
        let office = example
            .declared
            .keys
            .get("office")
            .filter(|o| o.as_str() != super::features::MISSING)
            .map_or("", String::as_str);
        targeting
            .lanes
            .observe(&example.declared.authority, office, train::sigmoid(raw[0]));
    }
}

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
    /// [`train::decide`]. Trainings run one at a time; assessments go on meanwhile.
    pub async fn train_now(&self) -> Result<Trained, Error> {
        let _one = self.training.lock().await;
        let recorded = {
            let mut targeting = self.targeting.write().await;
            targeting.training = true;
            targeting.stats.totals().0
        };
        let result = self.train_locked().await;
        let mut targeting = self.targeting.write().await;
        targeting.training = false;
        if !matches!(result, Err(Error::FailedPrecondition(_))) {
            targeting.trained_at_outcomes = recorded;
        }
        let (trained, champion, examples) = result?;
        if let Some((champion, backtest_scores)) = champion {
            targeting.champion = Some(Arc::new(champion));
            targeting.lanes.clear_scores();
            // How the new model scores declarations it has not seen, then the open ones.
            for score in backtest_scores {
                targeting.lanes.observe_everyone(score);
            }
            seed_lanes(&mut targeting, &examples);
        }
        Ok(trained)
    }

    async fn train_locked(
        &self,
    ) -> Result<(Trained, Option<(Champion, Vec<f64>)>, Vec<train::Example>), Error> {
        let mut examples = store::examples(self.database(), self.rates()).await?;
        examples.sort_by(|a, b| a.declared.day.total_cmp(&b.declared.day));
        let incumbent = self.targeting.read().await.champion.clone();
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let started = std::time::Instant::now();
        let (result, examples) = tokio::task::spawn_blocking(move || {
            let champion = incumbent
                .as_ref()
                .map(|c| (&c.space, &c.booster, c.facts.window.1));
            (train::train(&examples, champion, threads), examples)
        })
        .await
        .map_err(|e| Error::Internal(format!("training task failed: {e}")))?;
        let (fitted, compared) = result.map_err(|e| match e {
            NotTrained::TooFew { .. } => Error::FailedPrecondition(e.to_string()),
            NotTrained::Trees(_) => Error::Internal(e.to_string()),
        })?;
        let has_champion = self.targeting.read().await.champion.is_some();
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
        tracing::info!(model = row.version, promoted, decision = %row.decision,
            outcomes = row.facts.training_outcomes, auc = row.facts.backtest.auc,
            seconds = started.elapsed().as_secs_f64(), "targeting model trained");
        let trained = Trained {
            promoted,
            summary: summary(&row),
        };
        let champion = promoted.then(|| {
            let champion = Champion {
                version: row.version,
                trained_us: row.trained_us,
                names: fitted.space.names(),
                booster: fitted.booster,
                space: fitted.space,
                facts: row.facts,
            };
            (champion, fitted.backtest_scores)
        });
        Ok((trained, champion, examples))
    }

    /// Trains whenever enough new outcomes have arrived and stopped arriving, until
    /// `shutdown`.
    pub async fn run_trainer(self: Arc<Self>, shutdown: Shutdown) {
        loop {
            if !self.targeting.read().await.training_due() {
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
            if self.targeting.read().await.training_due()
                && let Err(error) = self.train_now().await
            {
                tracing::warn!(error = %error, "targeting model training failed");
                tokio::select! {
                    () = tokio::time::sleep(MAX_WAIT) => {}
                    () = shutdown.triggered() => return,
                }
            }
        }
    }

    /// The model card; lane thresholds of `authority` only, unless empty.
    pub async fn model_card(&self, authority: &str) -> Result<ModelCard, Error> {
        let versions = store::versions(self.database()).await?;
        let targeting = self.targeting.read().await;
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
            previous: versions.iter().map(summary).collect(),
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
                card.cold_start = match versions.first() {
                    Some(v) => format!(
                        "no trained version was promoted yet (last: targeting-{}: {})",
                        v.version, v.decision
                    ),
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

    /// Sets a lane policy (durably first) and returns its thresholds now.
    pub async fn set_lane_policy(&self, policy: LanePolicy) -> Result<LaneThresholds, Error> {
        store::set_policy(self.database(), &policy).await?;
        let mut targeting = self.targeting.write().await;
        targeting.lanes.set(policy.clone());
        Ok(targeting.lanes.thresholds(&policy))
    }
}
