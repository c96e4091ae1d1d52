//! The scorer: the model in memory (reads are served from it), rebuilt at start-up from the
//! stored inputs, and kept up to date by following ingest's change feed. Each batch of
//! changes is applied, recomputed and written with its cursor in one transaction; if the
//! write fails the model is reloaded from the database, so memory never runs ahead of what
//! is durable for long.

use std::{collections::BTreeSet, sync::Arc, time::Duration};

use acx_domain::rates::ReferenceRates;
use acx_proto::ingest::{StreamChangesRequest, ingest_service_client::IngestServiceClient};
use acx_runtime::{
    Database, Shutdown,
    client::PeerChannel,
    error::cause_chain,
    time::{now_micros, to_timestamp},
};
use tokio::sync::{RwLock, watch};
use tracing::Instrument as _;

use acx_proto::scoring::{DeclaredShipment, OutcomeKind, RecordOutcomeRequest, ShipmentAssessment};

use crate::{
    Error,
    model::{AccountKey, Model, ModelParams},
    store::{self, BatchWrite, Input},
    targeting::{
        Targeting,
        features::{Context, Declared},
    },
    valuation::{self, AssessmentInputs, Peers, Profiles},
};

/// Most changes applied in one transaction.
const MAX_BATCH: usize = 500;
/// Most trace links on the span of one applied batch (the SDK's default limit).
const MAX_LINKS: usize = 128;

/// The model and its durable copy.
#[derive(Debug)]
pub struct Scorer {
    model: RwLock<Model>,
    peers: RwLock<Peers>,
    profiles: RwLock<Profiles>,
    /// Serialises the writers (the feed consumer and recorded outcomes), so each change of
    /// the model is written before the next begins.
    writer: tokio::sync::Mutex<()>,
    random_share: f64,
    /// Reference rates that put declared values in US dollars.
    rates: Arc<ReferenceRates>,
    database: Database,
    params: ModelParams,
    /// The last feed sequence whose effects are stored (and served).
    applied: watch::Sender<i64>,
    /// The targeting model, its statistics and lanes (see [`crate::targeting`]).
    pub(crate) targeting: RwLock<Targeting>,
    /// Serialises trainings.
    pub(crate) training: tokio::sync::Mutex<()>,
    /// Wakes the trainer when an outcome is recorded.
    pub(crate) outcome_recorded: tokio::sync::Notify,
}

use crate::targeting::store::is_fraud;

/// Applies a recorded declaration's value anomaly to the seller it was attributed to.
fn apply_anomaly(model: &mut Model, record: &store::ShipmentRecord) -> BTreeSet<AccountKey> {
    match &record.seller {
        Some(seller) if record.anomaly > 0.0 => model.apply_value_anomaly(
            &record.shipment.authority,
            &record.shipment.declaration_id,
            seller,
            record.anomaly,
            record
                .shipment
                .declaration_time
                .as_ref()
                .map_or(0, |t| t.seconds.saturating_mul(1_000_000)),
        ),
        _ => std::collections::BTreeSet::new(),
    }
}

/// Applies a fraud outcome to the seller it was attributed to.
fn apply_outcome(model: &mut Model, record: &store::OutcomeRecord) -> BTreeSet<AccountKey> {
    let (Some(seller), true) = (&record.seller, is_fraud(&record.outcome)) else {
        return std::collections::BTreeSet::new();
    };
    let observe_us = record
        .outcome
        .inspect_time
        .as_ref()
        .map_or(now_micros(), |t| {
            t.seconds.saturating_mul(1_000_000) + i64::from(t.nanos / 1000)
        });
    model.apply_outcome(
        &record.outcome.authority,
        &record.outcome.declaration_id,
        seller,
        record.outcome.kind() == OutcomeKind::CounterfeitSeized,
        observe_us,
    )
}

async fn load_model(
    database: &Database,
    params: ModelParams,
    rates: &Arc<ReferenceRates>,
) -> Result<Model, Error> {
    let mut model = Model::new(params);
    model.use_reference_rates(Arc::clone(rates));
    for input in store::inputs(database).await? {
        model.apply(input.sequence, &input.platform, &input.report);
    }
    model.settle_clusters_quietly();
    for record in store::shipments(database).await? {
        apply_anomaly(&mut model, &record);
    }
    for record in store::outcomes(database).await? {
        apply_outcome(&mut model, &record);
    }
    let (risks, listings) = store::served(database).await?;
    model.restore(risks, listings);
    for (version, profiles) in model.profiles_by_normalization() {
        tracing::info!(
            acx.identifiers.normalization = version,
            profiles,
            "current seller profiles whose identifiers were hashed under this normalisation version"
        );
    }
    Ok(model)
}

impl Scorer {
    /// Rebuilds the model and the declaration statistics from `database`; `random_share`
    /// of assessed declarations are picked for a random inspection; values are compared in
    /// US dollars at `rates`.
    pub async fn load(
        database: Database,
        params: ModelParams,
        random_share: f64,
        rates: Arc<ReferenceRates>,
    ) -> Result<Self, Error> {
        let model = load_model(&database, params, &rates).await?;
        let cursor = store::cursor(&database).await?;
        let mut peers = Peers::default();
        for record in store::shipments(&database).await? {
            peers.record(&record.shipment, &rates);
        }
        let mut profiles = Profiles::default();
        for record in store::outcomes(&database).await? {
            if let Some(shipment) =
                peers.recorded(&record.outcome.authority, &record.outcome.declaration_id)
            {
                profiles.record(shipment, is_fraud(&record.outcome));
            }
        }
        let targeting = crate::targeting::load(&database, &rates).await?;
        Ok(Self {
            targeting: RwLock::new(targeting),
            training: tokio::sync::Mutex::new(()),
            outcome_recorded: tokio::sync::Notify::new(),
            model: RwLock::new(model),
            peers: RwLock::new(peers),
            profiles: RwLock::new(profiles),
            writer: tokio::sync::Mutex::new(()),
            random_share,
            rates,
            database,
            params,
            applied: watch::channel(cursor).0,
        })
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
    pub async fn read(&self) -> tokio::sync::RwLockReadGuard<'_, Model> {
        self.model.read().await
    }

    /// The seller behind a declaration: the account of the matching shipment notice, else
    /// the one declared.
    fn seller_of(model: &Model, shipment: &DeclaredShipment) -> Option<AccountKey> {
        model
            .market()
            .matching_notice(shipment)
            .map(|n| n.account.clone())
            .or_else(|| {
                shipment
                    .seller
                    .as_ref()
                    .map(|s| (s.platform.clone(), s.seller_id.clone()))
            })
    }

    /// Assesses a (validated) declaration. With `record`, the declaration joins the
    /// statistics, and an anomalous value weighs on the seller behind it, both durably.
    pub async fn assess(
        &self,
        shipment: &DeclaredShipment,
        record: bool,
    ) -> Result<ShipmentAssessment, Error> {
        let _writer = if record {
            Some(self.writer.lock().await)
        } else {
            None
        };
        let declared = Declared::read(shipment, &self.rates);
        let (mut assessment, seller) = {
            let model = self.model.read().await;
            let peers = self.peers.read().await;
            let profiles = self.profiles.read().await;
            let notice = model.market().matching_notice(shipment);
            let seller = Self::seller_of(&model, shipment);
            let assessment = valuation::assess(
                shipment,
                AssessmentInputs {
                    market: model.market(),
                    peers: &peers,
                    rates: &self.rates,
                    profiles: &profiles,
                    seller_risk: seller
                        .as_ref()
                        .and_then(|account| model.risk(account).cloned()),
                    notice,
                    random_share: self.random_share,
                    model_version: self.rules_version(),
                },
            );
            (assessment, seller)
        };
        let context = Context {
            value_anomaly: valuation::anomaly_strength(&assessment),
            seller_risk: assessment.seller_risk.as_ref().map(|r| r.score),
            seller_listed: assessment
                .seller_risk
                .as_ref()
                .is_some_and(|r| r.tier == acx_proto::common::RiskTier::Blacklisted as i32),
        };
        let already = self
            .peers
            .read()
            .await
            .recorded(&shipment.authority, &shipment.declaration_id)
            .is_some();
        let score = self.targeting.read().await.apply(
            &declared,
            &context,
            &mut assessment,
            shipment,
            self.random_share,
            already,
        );
        if !record || already {
            return Ok(assessment);
        }
        let mut stamped = shipment.clone();
        let now_us = now_micros();
        // Whole seconds: the replay reads the anomaly's time from the stored seconds.
        stamped
            .declaration_time
            .get_or_insert(to_timestamp(now_us.div_euclid(1_000_000) * 1_000_000));
        let record = store::ShipmentRecord {
            shipment: stamped,
            seller,
            anomaly: context.value_anomaly,
            seller_risk: context.seller_risk,
            seller_listed: context.seller_listed,
        };
        self.commit(
            |model| apply_anomaly(model, &record),
            &[],
            None,
            Some(&record),
        )
        .await?;
        // Durable first: the statistics in memory never hold what a restart would lose. The
        // stamped copy, as the replay at start-up reads it.
        self.peers
            .write()
            .await
            .record(&record.shipment, &self.rates);
        let mut targeting = self.targeting.write().await;
        targeting
            .stats
            .see(&Declared::read(&record.shipment, &self.rates));
        if let Some(score) = score {
            targeting
                .lanes
                .observe(&shipment.authority, &shipment.customs_office, score);
        }
        Ok(assessment)
    }

    /// A party's inspection history: (inspections, frauds, smoothed rate, base rate).
    pub async fn party_history(
        &self,
        label: &'static str,
        id: &str,
    ) -> Option<(f64, f64, f64, f64)> {
        self.profiles.read().await.history(label, id)
    }

    /// The database.
    pub fn database(&self) -> &Database {
        &self.database
    }

    /// Records an inspection outcome of a recorded declaration; false when it had been
    /// recorded before. The seller behind the declaration is attributed now and kept with
    /// the outcome, so a replay gives the same result.
    pub async fn record_outcome(&self, outcome: RecordOutcomeRequest) -> Result<bool, Error> {
        let _writer = self.writer.lock().await;
        let key = (outcome.authority.clone(), outcome.declaration_id.clone());
        let shipment = self
            .peers
            .read()
            .await
            .recorded(&key.0, &key.1)
            .cloned()
            .ok_or_else(|| {
                Error::NotFound(format!("no recorded declaration {} of {}", key.1, key.0))
            })?;
        if store::outcome_exists(&self.database, &key.0, &key.1).await? {
            return Ok(false);
        }
        let seller = Self::seller_of(&*self.model.read().await, &shipment);
        let record = store::OutcomeRecord { outcome, seller };
        self.commit(
            |model| apply_outcome(model, &record),
            &[],
            Some(&record),
            None,
        )
        .await?;
        self.profiles
            .write()
            .await
            .record(&shipment, is_fraud(&record.outcome));
        let declared = Declared::read(&shipment, &self.rates);
        let day = record
            .outcome
            .inspect_time
            .as_ref()
            .map_or(now_micros() as f64 / 86_400e6, |t| {
                t.seconds as f64 / 86_400.0
            });
        self.targeting.write().await.stats.record(
            &declared,
            is_fraud(&record.outcome),
            day.max(declared.day),
        );
        self.outcome_recorded.notify_one();
        Ok(true)
    }

    /// Applies a batch of feed changes, writes it, and advances the cursor.
    pub async fn apply_batch(&self, inputs: Vec<Input>) -> Result<(), Error> {
        let _writer = self.writer.lock().await;
        let cursor = *self.applied.borrow();
        let inputs: Vec<Input> = inputs.into_iter().filter(|i| i.sequence > cursor).collect();
        let Some(last) = inputs.last().map(|i| i.sequence) else {
            return Ok(());
        };
        self.commit(
            |model| {
                let mut touched = BTreeSet::new();
                for input in &inputs {
                    touched.extend(model.apply(input.sequence, &input.platform, &input.report));
                }
                touched
            },
            &inputs,
            None,
            None,
        )
        .await?;
        self.applied.send_replace(last);
        Ok(())
    }

    /// Changes the model with `apply`, recomputes what it touched, and writes the change with
    /// its effects in one transaction. Readers wait for the write, so a score they see is
    /// durable and so is its trail on the blacklist's change feed; if the write fails the
    /// model is reloaded from the database.
    async fn commit<F>(
        &self,
        apply: F,
        inputs: &[Input],
        outcome: Option<&store::OutcomeRecord>,
        shipment: Option<&store::ShipmentRecord>,
    ) -> Result<(), Error>
    where
        F: FnOnce(&mut Model) -> BTreeSet<AccountKey>,
    {
        let now_us = now_micros();
        let mut model = self.model.write().await;
        let touched = apply(&mut model);
        let effects = model.recompute(&touched, now_us);
        let batch = BatchWrite {
            outcome,
            shipment,
            inputs,
            effects: &effects,
            now_us,
        };
        if let Err(error) = store::write_batch(&self.database, batch).await {
            *model = load_model(&self.database, self.params, &self.rates).await?;
            return Err(error.into());
        }
        Ok(())
    }

    /// Follows ingest's feed until `shutdown`, reconnecting with backoff.
    pub async fn follow(
        self: Arc<Self>,
        ingest: IngestServiceClient<PeerChannel>,
        shutdown: Shutdown,
    ) {
        let mut backoff = Duration::from_millis(200);
        loop {
            let outcome = tokio::select! {
                outcome = self.follow_once(ingest.clone()) => outcome,
                () = shutdown.triggered() => return,
            };
            match outcome {
                Ok(()) => backoff = Duration::from_millis(200),
                Err(error) => {
                    tracing::warn!(error = %cause_chain(&error), retry_ms = backoff.as_millis() as u64,
                        "change feed interrupted, reconnecting");
                }
            }
            tokio::select! {
                () = tokio::time::sleep(backoff) => {}
                () = shutdown.triggered() => return,
            }
            backoff = (backoff * 2).min(Duration::from_secs(10));
        }
    }

    async fn follow_once(&self, mut ingest: IngestServiceClient<PeerChannel>) -> Result<(), Error> {
        let after_sequence = *self.applied.borrow();
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
            // One span per applied batch, linked to the trace of each report's submission.
            let span = tracing::info_span!(
                "acx.scoring.apply_feed",
                otel.name = "scoring/apply feed reports",
                acx.feed.reports = changes.len(),
                acx.feed.last_sequence = changes.last().map_or(0, |c| c.sequence),
            );
            let mut linked = std::collections::HashSet::new();
            for change in &changes {
                if linked.len() < MAX_LINKS && linked.insert(change.traceparent.clone()) {
                    acx_telemetry::link_to_traceparent(&span, &change.traceparent);
                }
            }
            let inputs = changes
                .into_iter()
                .filter_map(|change| {
                    Some(Input {
                        sequence: change.sequence,
                        platform: change.platform,
                        report: change.report?,
                    })
                })
                .collect();
            self.apply_batch(inputs).instrument(span).await?;
        }
    }
}
