//! Everything a replica serves from, and how one history entry changes it. Applying is
//! deterministic: the same state and entry give the same state and effects on every
//! replica (the entry's append time is the only clock).
//!
//! Growing it: a field here (serde, so snapshots carry it; bump
//! [`crate::snapshot::FORMAT_VERSION`], and replicas replay from the history once), an
//! [`Entry`] kind that changes it, and its arm in [`State::apply`]. Work that must not run
//! on every replica (training the targeting model) runs on the holder of a lease
//! ([`crate::lease`]) and appends its result as an entry (a trained model version), which
//! every replica then applies identically.

use std::sync::Arc;

use acx_domain::rates::ReferenceRates;
use acx_proto::scoring::{DeclaredShipment, OutcomeKind, RecordOutcomeRequest};

use crate::{
    history::{DeclarationEntry, Entry, LanePolicyEntry, ModelTrainedEntry, OutcomeEntry},
    market::MarketIndex,
    model::{AccountKey, Effects, Model, ModelParams},
    targeting::{Targeting, features::Declared},
    valuation::{Peers, Profiles},
};

/// A replica's whole in-memory state.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct State {
    /// Accounts, clusters, findings, risks, the blacklist.
    pub model: Model,
    /// Marketplace prices and shipment notices, for declared-value comparisons.
    pub market: MarketIndex,
    /// Comparable declarations and importers' histories.
    pub peers: Peers,
    /// Inspection outcomes per party.
    pub profiles: Profiles,
    /// The targeting model's statistics, lanes and champion version.
    pub targeting: Targeting,
    /// Reference rates that put declared values and prices in US dollars: configuration,
    /// not state (every replica must load the same table; see docs/deploy.md §7), so not
    /// in snapshots; [`State::use_rates`] puts them back on a restored state.
    #[serde(skip, default = "ReferenceRates::builtin")]
    pub rates: Arc<ReferenceRates>,
}

/// Whether an outcome found fraud (counterfeits or undervaluation).
pub fn is_fraud(outcome: &RecordOutcomeRequest) -> bool {
    matches!(
        outcome.kind(),
        OutcomeKind::CounterfeitSeized | OutcomeKind::UndervaluationConfirmed
    )
}

fn account(seller: Option<&acx_proto::common::SellerAccountRef>) -> Option<AccountKey> {
    seller.map(|s| (s.platform.clone(), s.seller_id.clone()))
}

/// A declaration's time in µs (whole seconds, as recorded), else `fallback_us`.
fn declared_us(shipment: &DeclaredShipment, fallback_us: i64) -> i64 {
    shipment
        .declaration_time
        .as_ref()
        .map_or(fallback_us, |t| t.seconds.saturating_mul(1_000_000))
}

impl State {
    /// An empty state whose values are compared in US dollars at `rates`.
    pub fn new(params: ModelParams, rates: Arc<ReferenceRates>) -> Self {
        let mut state = Self {
            model: Model::new(params),
            market: MarketIndex::default(),
            peers: Peers::default(),
            profiles: Profiles::default(),
            targeting: Targeting::default(),
            rates: ReferenceRates::builtin(),
        };
        state.use_rates(rates);
        state
    }

    /// Compares values at `rates` from now on (for a state restored from a snapshot).
    pub fn use_rates(&mut self, rates: Arc<ReferenceRates>) {
        self.market.set_rates(Arc::clone(&rates));
        self.rates = rates;
    }

    /// Applies one entry appended at `time_us`; returns the effects to store.
    pub fn apply(&mut self, entry: &Entry, time_us: i64) -> Effects {
        let touched = match entry {
            Entry::Feed(batch) => {
                let mut touched = std::collections::BTreeSet::new();
                for item in &batch.reports {
                    if let Some(report) = &item.report {
                        self.market.observe(&item.platform, report);
                        touched.extend(self.model.apply(item.sequence, &item.platform, report));
                    }
                }
                touched
            }
            Entry::Declaration(DeclarationEntry {
                shipment,
                seller,
                anomaly,
                score,
                red,
                ..
            }) => {
                let shipment = shipment.clone().unwrap_or_default();
                self.peers.record(&shipment, &self.rates);
                self.targeting
                    .stats
                    .see(&Declared::read(&shipment, &self.rates));
                if let Some(score) = score {
                    self.targeting.lanes.observe(
                        &shipment.authority,
                        &shipment.customs_office,
                        *score,
                        *red,
                    );
                }
                match account(seller.as_ref()) {
                    Some(seller) if *anomaly > 0.0 => self.model.apply_value_anomaly(
                        &shipment.authority,
                        &shipment.declaration_id,
                        &seller,
                        *anomaly,
                        declared_us(&shipment, time_us),
                    ),
                    _ => Default::default(),
                }
            }
            Entry::Outcome(OutcomeEntry {
                outcome,
                shipment,
                seller,
            }) => {
                let outcome = outcome.clone().unwrap_or_default();
                let fraud = is_fraud(&outcome);
                if let Some(shipment) = shipment {
                    self.profiles.record(shipment, fraud);
                    let declared = Declared::read(shipment, &self.rates);
                    let day = outcome
                        .inspect_time
                        .as_ref()
                        .map_or(time_us as f64 / 86_400e6, |t| t.seconds as f64 / 86_400.0);
                    self.targeting
                        .stats
                        .record(&declared, fraud, day.max(declared.day));
                }
                match account(seller.as_ref()) {
                    Some(seller) if fraud => {
                        let observe_us = outcome
                            .inspect_time
                            .as_ref()
                            .map_or(time_us, acx_runtime::time::from_timestamp);
                        self.model.apply_outcome(
                            &outcome.authority,
                            &outcome.declaration_id,
                            &seller,
                            outcome.kind() == OutcomeKind::CounterfeitSeized,
                            observe_us,
                        )
                    }
                    _ => Default::default(),
                }
            }
            Entry::ModelTrained(ModelTrainedEntry {
                version,
                promoted,
                recorded_outcomes,
                backtest_scores,
            }) => {
                let targeting = &mut self.targeting;
                targeting.trained_at_outcomes = *recorded_outcomes;
                if *promoted {
                    targeting.champion_version = Some(*version);
                    // A new model scores on its own scale: its thresholds start from how it
                    // scored declarations it had not learned from.
                    targeting.lanes.clear_scores();
                    for score in backtest_scores {
                        targeting.lanes.observe_everyone(*score);
                    }
                }
                Default::default()
            }
            Entry::LanePolicy(LanePolicyEntry { policy }) => {
                if let Some(policy) = policy {
                    self.targeting.lanes.set(policy.clone());
                }
                Default::default()
            }
        };
        self.model.recompute(&touched, time_us)
    }
}
