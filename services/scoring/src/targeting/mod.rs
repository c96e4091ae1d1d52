//! Targeting that learns: gradient-boosted trees trained from recorded inspection outcomes
//! rank declarations; their per-feature contributions explain each score; lanes follow
//! the authority's inspection capacity. While too few outcomes are recorded the rules of
//! [`crate::valuation`] assess (cold start). See docs/targeting.md.

pub mod backtest;
pub mod explain;
pub mod features;
pub mod lanes;
pub mod store;
pub mod train;
pub mod trainer;

use std::sync::Arc;

use acx_proto::scoring::{
    DeclaredShipment, FeatureContribution, Lane, ModelExplanation, ShipmentAssessment,
};
use forust_ml::{GradientBooster, Matrix, gradientbooster::ContributionsMethod};

use crate::{model::ReasonCode, valuation};

use features::{Context, Declared, FeatureSpace, Stats};
use lanes::{Draws, EXPLORE_BELOW, LaneBook, Selections};
use train::Facts;

/// A promoted model.
pub struct Champion {
    /// Its version number (`targeting-N`).
    pub version: i64,
    /// When it was trained, µs since the epoch.
    pub trained_us: i64,
    /// The trees.
    pub booster: GradientBooster,
    /// Its features.
    pub space: FeatureSpace,
    /// Its feature names (cached).
    pub names: Vec<String>,
    /// What is known of it.
    pub facts: Facts,
}

impl Champion {
    /// Its version string.
    pub fn version_name(&self) -> String {
        format!("targeting-{}", self.version)
    }
}

/// The targeting state: statistics, the champion, lanes. Part of each replica's state
/// ([`crate::state::State`]), changed only by history entries, so every replica holds the
/// same; the champion's trees are not in snapshots (they are read from `targeting_models`
/// by [`Targeting::champion_version`]).
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Targeting {
    /// Outcome and declaration statistics, every recorded outcome so far.
    pub stats: Stats,
    /// The version of the model in force; `None` in cold start.
    pub champion_version: Option<i64>,
    /// The model in force (loaded by the follower when its entry is applied).
    #[serde(skip)]
    pub champion: Option<Arc<Champion>>,
    /// Lane policies and recent scores.
    pub lanes: LaneBook,
    /// Outcomes recorded when the last training ran.
    pub trained_at_outcomes: u64,
    /// A training is running on this replica.
    #[serde(skip)]
    pub training: bool,
}

/// Outcomes that make a new training due: this many, or a tenth more than the last one
/// learned from, whichever is larger.
const RETRAIN_AFTER: u64 = 100;

impl Targeting {
    /// Whether enough new outcomes arrived for a training.
    pub fn training_due(&self) -> bool {
        let (outcomes, frauds) = self.stats.totals();
        if outcomes < train::MIN_OUTCOMES as u64 || frauds < train::MIN_FRAUDS as u64 {
            return false;
        }
        if self.trained_at_outcomes == 0 {
            return true;
        }
        outcomes >= self.trained_at_outcomes + RETRAIN_AFTER.max(self.trained_at_outcomes / 10)
    }

    /// Whether `shipment` is selected at random: its draw against the random share of the
    /// lane policy in force for its authority and office (`random_share` when none is set).
    /// Made once, when the declaration is first assessed ([`Selections`]).
    pub fn random_selection(
        &self,
        shipment: &DeclaredShipment,
        random_share: f64,
        draws: &Draws,
    ) -> bool {
        let (authority, office) = (
            shipment.authority.as_str(),
            shipment.customs_office.as_str(),
        );
        let share = self
            .lanes
            .policy(authority, office, random_share)
            .random_share;
        draws.draw(authority, &shipment.declaration_id, "random") < share
    }

    /// Scores `declared` with the champion and rewrites the rules' `assessment`: risk,
    /// lane, reasons and explanation from the model; the rules' facts (line comparisons,
    /// notes, a blacklisted seller, the random selection already made) stay. `arrival`:
    /// the selections made when the declaration was recorded, for a re-assessment (its
    /// own counts are then left out of its features, and the selections kept). Returns the
    /// score. In cold start (no champion) the rules' risk stands and their lane is held to
    /// the lane policy's shares ([`LaneBook::cap_rules_lane`]); the rules' risk is
    /// returned as the score, so the policy's thresholds follow the rules' recent risks
    /// until a model is in force.
    pub fn apply(
        &self,
        declared: &Declared,
        context: &Context,
        assessment: &mut ShipmentAssessment,
        shipment: &DeclaredShipment,
        random_share: f64,
        arrival: Option<Selections>,
    ) -> Option<f64> {
        let (authority, declaration_id, office) = (
            shipment.authority.as_str(),
            shipment.declaration_id.as_str(),
            shipment.customs_office.as_str(),
        );
        let Some(champion) = self.champion.as_ref() else {
            let policy = self.lanes.policy(authority, office, random_share);
            let forced = assessment.random_selection
                || context.seller_listed
                || context.market_anomaly >= 1.0;
            let tie = lanes::fixed_draw(authority, declaration_id, "lane tie");
            let lane = self
                .lanes
                .cap_rules_lane(&policy, assessment.risk, forced, tie);
            assessment.lane = lane as i32;
            return Some(assessment.risk);
        };
        let x = if arrival.is_some() {
            champion.space.vector_seen(declared, context, &self.stats)
        } else {
            champion.space.vector(declared, context, &self.stats)
        };
        let matrix = Matrix::new(&x, 1, x.len());
        let raw =
            champion
                .booster
                .predict_contributions(&matrix, ContributionsMethod::Average, false);
        let (contributions, base) = raw.split_at(x.len());
        let base = base.first().copied().unwrap_or(0.0);
        let log_odds = base + contributions.iter().sum::<f64>();
        let model_risk = train::sigmoid(log_odds);
        // A declared value far below the platforms' own prices for the same goods is what
        // the exchange exists to catch, but customs outcomes, which the model learns from,
        // rarely come with a platform's price, so the trees cannot have weighed it: the
        // rules' risk of that anomaly is a floor under the model's, and at full strength
        // (a value of 0, or z <= -4.75) the lane is RED, as under the rules.
        let market_floor = valuation::ANOMALY_WEIGHT * context.market_anomaly;
        let risk = model_risk.max(market_floor);

        let policy = self.lanes.policy(authority, office, random_share);
        let thresholds = self.lanes.thresholds(&policy);
        let random = assessment.random_selection;
        let explore = arrival.map_or_else(
            || {
                let blind = ["importer", "consignor"].iter().any(|party| {
                    declared
                        .keys
                        .get(*party)
                        .and_then(|v| self.stats.record_of(party, v))
                        .map_or(0, |r| r.inspections)
                        < EXPLORE_BELOW
                });
                blind
                    && lanes::fixed_draw(authority, declaration_id, "explore")
                        < policy.exploration_share
            },
            |selected| selected.exploration,
        );
        // RED within the share of recent scores and while the window has RED room left.
        let mut lane = if risk >= thresholds.red_threshold && self.lanes.room_left(&policy) {
            Lane::Red
        } else if risk >= thresholds.yellow_threshold {
            Lane::Yellow
        } else {
            Lane::Green
        };
        if explore && lane == Lane::Green {
            lane = Lane::Yellow;
        }
        if random || context.seller_listed || context.market_anomaly >= 1.0 {
            lane = Lane::Red;
        }

        let mut reasons = explain::reasons(
            &champion.names,
            contributions,
            &x,
            model_risk,
            declared,
            &self.stats,
        );
        // The rules' facts stay, after the model's reasons: a blacklisted seller, a value
        // below the platforms' prices (with what its floor added to the model's risk) and
        // the notes (random selection, comparisons left out); the party profiles and the
        // other value comparisons they scored are features of the model now.
        // A value below its peers' or the importer's own history stays said, with no share
        // of the risk: the model weighs it as inspection outcomes taught it, and an officer
        // must see it even when the model gives it little (found by a tester: a value of
        // 1/1000 of the peers' went GREEN with no word of it).
        let market = ReasonCode::DeclaredValueBelowMarket.as_str();
        let below_others = [
            ReasonCode::DeclaredValueBelowPeers.as_str(),
            ReasonCode::DeclaredValueBelowImporterHistory.as_str(),
        ];
        let kept = assessment.reasons.iter().filter(|r| {
            r.code == "SELLER_BLACKLISTED"
                || r.code == market
                || below_others.contains(&r.code.as_str())
                || (r.contribution == 0.0 && r.code != "RANDOM_SELECTION")
        });
        reasons.extend(kept.cloned().map(|mut r| {
            r.contribution = if r.code == market {
                risk - model_risk
            } else {
                0.0
            };
            if below_others.contains(&r.code.as_str()) {
                r.description.push_str(
                    " (weighed by the trained model as inspection outcomes taught it: see its reasons)",
                );
            }
            r
        }));
        if random {
            reasons.push(acx_proto::common::Reason {
                code: "RANDOM_SELECTION".to_owned(),
                description: "selected at random for inspection, so that outcomes arrive on shipments the model would not pick".to_owned(),
                contribution: 0.0,
                evidence: Vec::new(),
            });
        }
        if explore {
            reasons.push(acx_proto::common::Reason {
                code: "EXPLORATION".to_owned(),
                description: "selected to explore a party with few or no recorded inspections, so the model learns where it is blind".to_owned(),
                contribution: 0.0,
                evidence: Vec::new(),
            });
        }
        let mut explained: Vec<FeatureContribution> = champion
            .names
            .iter()
            .zip(contributions)
            .zip(&x)
            .filter(|((_, c), _)| **c != 0.0)
            .map(|((name, c), v)| FeatureContribution {
                feature: name.clone(),
                value: *v,
                contribution: *c,
            })
            .collect();
        explained.sort_by(|a, b| {
            b.contribution
                .abs()
                .total_cmp(&a.contribution.abs())
                .then_with(|| a.feature.cmp(&b.feature))
        });
        assessment.risk = risk;
        assessment.lane = lane as i32;
        assessment.exploration = explore;
        assessment.reasons = reasons;
        assessment.model_version = champion.version_name();
        assessment.explanation = Some(ModelExplanation {
            base_log_odds: base,
            log_odds,
            contributions: explained,
        });
        Some(risk)
    }
}

impl std::fmt::Debug for Champion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Champion")
            .field("trees", &self.booster.trees.len())
            .field("space", &self.space)
            .finish_non_exhaustive()
    }
}
