//! The scorer: one replica's state in memory (reads are served from it), kept at a
//! position of the history ([`crate::history`]) by the follower ([`crate::follower`]).
//! Writes (a recorded assessment, an outcome) append to the history and answer once this
//! replica has applied their entry, so a caller reads its own writes here, and on another
//! replica by asking for the position they returned (see [`crate::service`]).

use std::sync::{
    Arc,
    atomic::{AtomicI64, Ordering},
};
use std::time::Duration;

use acx_domain::rates::ReferenceRates;
use acx_proto::scoring::{DeclaredShipment, Lane, RecordOutcomeRequest, ShipmentAssessment};
use acx_runtime::{
    Database,
    time::{now_micros, to_timestamp},
};
use tokio::sync::{Notify, RwLock, RwLockReadGuard, watch};

use crate::{
    Error,
    history::{self, DeclarationEntry, NewDeclaration, OutcomeEntry, Recorded},
    model::{AccountKey, Model, ModelParams},
    settings::SharedSettings,
    state::State,
    targeting::{
        features::{Context, Declared},
        lanes::{Draws, Selections},
        trainer::KnownVersions,
    },
    valuation::{self, AssessmentInputs, PartyHistory},
};

/// How long a write waits for its own replica to apply it before answering UNAVAILABLE.
pub(crate) const APPLY_WAIT: Duration = Duration::from_secs(30);

/// One replica's state and its place in the history.
#[derive(Debug)]
pub struct Scorer {
    pub(crate) state: Arc<RwLock<State>>,
    pub(crate) database: Database,
    pub(crate) params: ModelParams,
    random_share: f64,
    /// Keyed draws for random selection, exploration and lane ties.
    draws: Draws,
    /// Reference rates that put declared values in US dollars (put back on a state
    /// restored from a snapshot).
    pub(crate) rates: Arc<ReferenceRates>,
    /// The last position applied, whose effects are stored.
    pub(crate) applied: watch::Sender<i64>,
    /// The history's head when this replica started: it is ready once it has applied it.
    pub(crate) start_head: AtomicI64,
    /// Whether it is ready (applied ≥ `start_head`).
    pub(crate) ready: watch::Sender<bool>,
    /// Woken after a local append, so the follower reads it at once.
    pub(crate) wake: Notify,
    /// This replica's name in leases.
    pub(crate) replica: String,
    /// Serialises this replica's trainings (across replicas: the `trainer` lease).
    pub(crate) training: tokio::sync::Mutex<()>,
    /// Wakes the trainer when outcomes were applied.
    pub(crate) outcome_recorded: Notify,
    /// The trained versions read for the model card so far.
    pub(crate) versions: tokio::sync::Mutex<KnownVersions>,
    /// This replica's shared settings, as the deployment recorded them at its start.
    pub(crate) settings: SharedSettings,
    /// Their fingerprint, checked by every effects write.
    pub(crate) settings_fingerprint: Vec<u8>,
    /// Why this replica must stop serving, once it must (see [`Scorer::failed`]).
    fatal: watch::Sender<Option<String>>,
}

/// A declaration assessed now: the answer, the seller behind it, and what the targeting
/// model knew of it (recorded with it, so the training replay reads it as it was).
struct Assessed {
    assessment: ShipmentAssessment,
    seller: Option<AccountKey>,
    context: Context,
    score: Option<f64>,
}

fn seller_ref(account: AccountKey) -> acx_proto::common::SellerAccountRef {
    acx_proto::common::SellerAccountRef {
        platform: account.0,
        seller_id: account.1,
    }
}

/// Whether an assessment spends the lane policy's RED share: RED, not picked at random (the
/// random share is the policy's own, on top of it).
fn spends_red(assessment: &ShipmentAssessment) -> bool {
    assessment.lane == Lane::Red as i32 && !assessment.random_selection
}

impl Scorer {
    /// An empty replica over `database` (the follower fills it); `random_share` of assessed
    /// declarations are picked for a random inspection; values are compared in US dollars
    /// at `rates`; `settings` are the shared ones these make up (agreed at start-up);
    /// `draws` make the selections (keyed with the deployment's secret).
    pub fn new(
        database: Database,
        params: ModelParams,
        random_share: f64,
        rates: Arc<ReferenceRates>,
        settings: SharedSettings,
        draws: Draws,
    ) -> Self {
        static COUNTER: AtomicI64 = AtomicI64::new(0);
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "scoring".to_owned());
        let replica = format!(
            "{host}/{}/{}/{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            now_micros()
        );
        Self {
            state: Arc::new(RwLock::new(State::new(params, Arc::clone(&rates)))),
            database,
            params,
            random_share,
            draws,
            rates,
            applied: watch::channel(0).0,
            start_head: AtomicI64::new(i64::MAX),
            ready: watch::channel(false).0,
            wake: Notify::new(),
            replica,
            training: tokio::sync::Mutex::new(()),
            outcome_recorded: Notify::new(),
            versions: tokio::sync::Mutex::default(),
            settings_fingerprint: settings.fingerprint(),
            settings,
            fatal: watch::channel(None).0,
        }
    }

    /// Stops this replica for good: NOT_SERVING at once, and [`failed`](Self::failed)
    /// resolves with `error`'s text (the process then drains and exits).
    pub(crate) fn stop_serving(&self, error: &Error) {
        tracing::error!(error = %error, "this replica stops");
        self.ready.send_replace(false);
        self.fatal.send_replace(Some(error.to_string()));
    }

    /// Resolves with the reason once this replica must stop serving.
    pub async fn failed(&self) -> String {
        let mut fatal = self.fatal.subscribe();
        // The sender lives in `self`, so the channel cannot close while we wait.
        let reason = fatal
            .wait_for(Option::is_some)
            .await
            .map(|reason| reason.clone());
        reason.ok().flatten().unwrap_or_default()
    }

    /// The reference rates declared values are compared at.
    pub fn rates(&self) -> &ReferenceRates {
        &self.rates
    }

    /// The share of declarations picked at random when no lane policy says otherwise.
    pub fn random_share(&self) -> f64 {
        self.random_share
    }

    /// The rules' version (what assesses during cold start).
    pub fn rules_version(&self) -> String {
        format!("{};values-1", self.params.version())
    }

    /// The model, for reading.
    pub async fn read(&self) -> RwLockReadGuard<'_, Model> {
        RwLockReadGuard::map(self.state.read().await, |state| &state.model)
    }

    /// The database.
    pub fn database(&self) -> &Database {
        &self.database
    }

    /// The last position this replica has applied.
    pub fn applied(&self) -> i64 {
        *self.applied.borrow()
    }

    /// Whether this replica has caught up with the history as it was at start-up.
    pub fn ready(&self) -> watch::Receiver<bool> {
        self.ready.subscribe()
    }

    /// Waits until this replica has applied `position`, for at most `wait`; fails at once
    /// with [`Error::Stopping`] when this replica stops meanwhile (it will not apply it).
    pub async fn wait_applied(&self, position: i64, wait: Duration) -> Result<i64, Error> {
        let mut applied = self.applied.subscribe();
        let reached = async {
            match tokio::time::timeout(wait, applied.wait_for(|a| *a >= position)).await {
                Ok(Ok(at)) => Ok(*at),
                _ => Err(Error::Behind {
                    wanted: position,
                    applied: self.applied(),
                }),
            }
        };
        tokio::select! {
            reached = reached => reached,
            _ = self.failed() => Err(Error::Stopping),
        }
    }

    /// `result` of an append by this replica; when it failed because another replica
    /// replaced the deployment's shared settings, this replica stops.
    pub(crate) async fn appended<T>(&self, result: Result<T, Error>) -> Result<T, Error> {
        match result {
            Err(Error::SettingsReplaced(_)) => {
                let error = self.settings_replaced().await;
                self.stop_serving(&error);
                Err(error)
            }
            other => other,
        }
    }

    /// The seller behind a declaration: the account of the matching shipment notice, else
    /// the one declared.
    fn seller_of(state: &State, shipment: &DeclaredShipment) -> Option<AccountKey> {
        state
            .market
            .matching_notice(shipment)
            .map(|n| n.account.clone())
            .or_else(|| {
                shipment
                    .seller
                    .as_ref()
                    .map(|s| (s.platform.clone(), s.seller_id.clone()))
            })
    }

    /// Assesses a (validated) declaration against this replica's state: the rules, then the
    /// targeting model when one is in force. `arrival`: the declaration is recorded already
    /// (a re-assessment) with these selections, which it keeps, and its own counts are left
    /// out of its features; otherwise its selections are drawn now.
    fn assess_now(
        &self,
        state: &State,
        shipment: &DeclaredShipment,
        arrival: Option<Selections>,
    ) -> Assessed {
        let model = &state.model;
        let random_selection = arrival.map_or_else(
            || {
                state
                    .targeting
                    .random_selection(shipment, self.random_share, &self.draws)
            },
            |selected| selected.random,
        );
        let notice = state.market.matching_notice(shipment);
        let seller = Self::seller_of(state, shipment);
        let mut assessment = valuation::assess(
            shipment,
            AssessmentInputs {
                market: &state.market,
                peers: &state.peers,
                rates: &state.rates,
                profiles: &state.profiles,
                seller_risk: seller.as_ref().and_then(|account| model.risk(account)),
                notice,
                random_selection,
                model_version: self.rules_version(),
            },
        );
        let context = Context {
            value_anomaly: valuation::anomaly_strength(&assessment),
            market_anomaly: valuation::market_anomaly_strength(&assessment),
            seller_risk: assessment.seller_risk.as_ref().map(|r| r.score),
            seller_listed: assessment
                .seller_risk
                .as_ref()
                .is_some_and(|r| r.tier == acx_proto::common::RiskTier::Blacklisted as i32),
        };
        let score = state.targeting.apply(
            &Declared::read(shipment, &state.rates),
            &context,
            &mut assessment,
            shipment,
            self.random_share,
            arrival,
        );
        Assessed {
            assessment,
            seller,
            context,
            score,
        }
    }

    /// Assesses a (validated) declaration. With `record`, the declaration is appended to
    /// the history (once per declaration id: a repeat with the same content returns the
    /// stored assessment, with other content is ALREADY_EXISTS), so it joins the
    /// statistics and an anomalous value weighs on the seller behind it, on every replica.
    /// Returns the assessment and the position to read at to see it.
    pub async fn assess(
        &self,
        shipment: &DeclaredShipment,
        record: bool,
    ) -> Result<(ShipmentAssessment, i64), Error> {
        let (mut results, position) = self
            .assess_batch(std::slice::from_ref(shipment), record)
            .await?;
        match results.pop().flatten() {
            Some(assessment) => Ok((assessment, position)),
            None => Err(Error::AlreadyExists(format!(
                "declaration {} of {} was recorded before with other content",
                shipment.declaration_id, shipment.authority
            ))),
        }
    }

    /// Assesses (validated) declarations against the same state; with `record`, records
    /// the new ones in one append. One result each, in order: None when the id was
    /// recorded before with other content. Returns the position to read at.
    pub async fn assess_batch(
        &self,
        shipments: &[DeclaredShipment],
        record: bool,
    ) -> Result<(Vec<Option<ShipmentAssessment>>, i64), Error> {
        if !record {
            // A declaration recorded before (a re-assessment) leaves its own counts out of
            // its features and keeps the selections made on its arrival. One look-up and
            // one read of the state for the batch.
            let recorded = history::recorded_selections(&self.database, shipments).await?;
            let state = self.state.read().await;
            let assessed = shipments
                .iter()
                .map(|shipment| {
                    let key = (shipment.authority.clone(), shipment.declaration_id.clone());
                    let arrival = recorded.get(&key).copied();
                    Some(self.assess_now(&state, shipment, arrival).assessment)
                })
                .collect();
            return Ok((assessed, self.applied()));
        }
        // Whole seconds: the anomaly's time is read from the recorded seconds.
        let now = to_timestamp(now_micros().div_euclid(1_000_000) * 1_000_000);
        let stamped: Vec<DeclaredShipment> = shipments
            .iter()
            .map(|shipment| {
                let mut stamped = shipment.clone();
                stamped.declaration_time.get_or_insert(now);
                stamped
            })
            .collect();
        // Each declaration of a batch is assessed as if the ones before it had arrived (as
        // the training replay reads them): their counts and scores (for the lanes) are
        // added for the batch and taken back after it, for their history entries to add on
        // every replica.
        let assessed: Vec<Assessed> = {
            let mut state = self.state.write().await;
            let mut undo = Vec::with_capacity(shipments.len());
            let mut assessed = Vec::with_capacity(shipments.len());
            for (shipment, stamped) in shipments.iter().zip(&stamped) {
                let now = self.assess_now(&state, shipment, None);
                let declared = Declared::read(stamped, &state.rates);
                let seen = state.targeting.stats.see_undoable(&declared);
                let red = spends_red(&now.assessment);
                let observed = now.score.map(|score| {
                    state.targeting.lanes.observe_undoable(
                        &shipment.authority,
                        &shipment.customs_office,
                        score,
                        red,
                    )
                });
                undo.push((seen, observed));
                assessed.push(now);
            }
            for (seen, observed) in undo.into_iter().rev() {
                if let Some(observed) = observed {
                    state.targeting.lanes.undo(observed);
                }
                state.targeting.stats.undo(seen);
            }
            assessed
        };
        let new: Vec<NewDeclaration> = shipments
            .iter()
            .zip(stamped)
            .zip(assessed)
            .map(|((shipment, stamped), assessed)| NewDeclaration {
                entry: DeclarationEntry {
                    shipment: Some(stamped),
                    seller: assessed.seller.map(seller_ref),
                    anomaly: assessed.context.value_anomaly,
                    seller_risk: assessed.context.seller_risk,
                    seller_listed: assessed.context.seller_listed,
                    score: assessed.score,
                    red: spends_red(&assessed.assessment),
                },
                content_hash: history::content_hash(shipment),
                assessment: assessed.assessment,
            })
            .collect();
        let recorded = self
            .appended(
                history::append_declarations(&self.database, &new, &self.settings_fingerprint)
                    .await,
            )
            .await?;
        let mut position = 0;
        let results = recorded
            .into_iter()
            .zip(new)
            .map(|(recorded, new)| match recorded {
                Recorded::Appended(at) => {
                    position = position.max(at);
                    Some(new.assessment)
                }
                Recorded::Before(at, stored) => {
                    position = position.max(at);
                    Some(*stored)
                }
                Recorded::Conflict => None,
            })
            .collect();
        self.wake.notify_one();
        self.wait_applied(position, APPLY_WAIT).await?;
        Ok((results, position.max(self.applied())))
    }

    /// A party's inspection history.
    pub async fn party_history(&self, label: &'static str, id: &str) -> Option<PartyHistory> {
        self.state.read().await.profiles.history(label, id)
    }

    /// Records an inspection outcome of a recorded declaration: whether it was new (false
    /// when recorded before) and the position to read at to see it. The seller behind the
    /// declaration is attributed now and kept in the entry, so every replica applies the
    /// same.
    pub async fn record_outcome(
        &self,
        outcome: RecordOutcomeRequest,
    ) -> Result<(bool, i64), Error> {
        let shipment =
            history::declaration(&self.database, &outcome.authority, &outcome.declaration_id)
                .await?
                .ok_or_else(|| {
                    Error::NotFound(format!(
                        "no recorded declaration {} of {}",
                        outcome.declaration_id, outcome.authority
                    ))
                })?;
        let seller = Self::seller_of(&*self.state.read().await, &shipment);
        let entry = OutcomeEntry {
            outcome: Some(outcome),
            shipment: Some(shipment),
            seller: seller.map(seller_ref),
        };
        let appended =
            history::append_outcome(&self.database, entry, &self.settings_fingerprint).await;
        match self.appended(appended).await? {
            Some(position) => {
                self.wake.notify_one();
                self.wait_applied(position, APPLY_WAIT).await?;
                Ok((true, position))
            }
            None => Ok((false, self.applied())),
        }
    }
}
