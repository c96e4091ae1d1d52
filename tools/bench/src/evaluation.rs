//! Evaluation of shipment targeting on generated data with planted truth, as customs judge
//! a targeting model: learn from the inspected outcomes of an earlier period, rank the
//! declarations of a later one, and report precision@n% (share of truly fraudulent
//! shipments among the top n%), revenue@n% (share of the recoverable duty they hold) and
//! AUC, next to random selection and to a simple baseline (the historical fraud rate of the
//! HS code alone).
//!
//! The generated world: HS codes with their own value per kilogram (some riskier than
//! others), origins, importers of whom a few undervalue systematically, and marketplace
//! sellers of whom a few sell counterfeits, reported by platforms and hopping between
//! platforms under accounts linked by a shared bank account. Half the declarations match a
//! platform shipment notice by tracking number, which carries the marketplace price.

use std::collections::{BTreeSet, HashMap};

use acx_proto::{
    common::{ConsignmentNumbers, Money, ProductRef, SellerAccountRef},
    ingest::{
        ActionTaken, CounterfeitFinding, EvidenceType, Report, SellerProfile, ShipmentLine,
        ShipmentNotice, Verdict, report::Kind,
    },
    scoring::{DeclaredLine, DeclaredShipment},
};

use acx_cli::evaluate::generator::Rng;
use acx_scoring::{
    market::MarketIndex,
    model::{Model, ModelParams},
    valuation::{AssessmentInputs, Peers, Profiles, assess},
};

/// Size of the generated world.
#[derive(Debug, Clone, Copy)]
pub struct EvalOptions {
    /// Declarations of the earlier (training) period.
    pub train: usize,
    /// Declarations of the later (ranked) period.
    pub test: usize,
    /// Share of the earlier period's declarations inspected (their outcomes are learned).
    pub inspected_share: f64,
    /// Seed of the generator.
    pub seed: u64,
}

impl Default for EvalOptions {
    fn default() -> Self {
        Self {
            train: 8000,
            test: 4000,
            inspected_share: 0.3,
            seed: 7,
        }
    }
}

/// Metrics of one ranking.
#[derive(Debug, Clone)]
pub struct Metrics {
    /// (n%, precision@n%).
    pub precision: Vec<(f64, f64)>,
    /// (n%, revenue@n%).
    pub revenue: Vec<(f64, f64)>,
    /// Area under the ROC curve.
    pub auc: f64,
}

/// The three rankings of one run.
#[derive(Debug, Clone)]
pub struct EvalReport {
    /// The ACX model.
    pub model: Metrics,
    /// Random selection (averaged over 20 shuffles).
    pub random: Metrics,
    /// The HS code's historical fraud rate alone.
    pub hs_baseline: Metrics,
    /// Share of the later period's declarations that are fraudulent.
    pub fraud_rate: f64,
}

const LEVELS: [f64; 4] = [1.0, 2.0, 5.0, 10.0];

/// Precision@n%, revenue@n% and AUC of `scores` against `truth` (fraud, recoverable duty).
pub fn metrics(scores: &[f64], truth: &[(bool, f64)]) -> Metrics {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    let total_revenue: f64 = truth.iter().map(|t| t.1).sum();
    let mut precision = Vec::new();
    let mut revenue = Vec::new();
    for level in LEVELS {
        let top = ((scores.len() as f64 * level / 100.0).round() as usize).max(1);
        let picked = &order[..top.min(order.len())];
        precision.push((
            level,
            picked.iter().filter(|&&i| truth[i].0).count() as f64 / picked.len() as f64,
        ));
        revenue.push((
            level,
            picked.iter().map(|&i| truth[i].1).sum::<f64>() / total_revenue.max(1e-9),
        ));
    }
    // AUC: the chance that a random fraud outranks a random honest declaration (ties half).
    let mut ascending: Vec<usize> = (0..scores.len()).collect();
    ascending.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let (mut rank_sum, mut positives, mut i) = (0.0, 0.0, 0);
    while i < ascending.len() {
        let mut j = i;
        while j + 1 < ascending.len() && scores[ascending[j + 1]] == scores[ascending[i]] {
            j += 1;
        }
        let average_rank = (i + j) as f64 / 2.0 + 1.0;
        for &k in &ascending[i..=j] {
            if truth[k].0 {
                rank_sum += average_rank;
                positives += 1.0;
            }
        }
        i = j + 1;
    }
    let negatives = scores.len() as f64 - positives;
    let auc = if positives == 0.0 || negatives == 0.0 {
        0.5
    } else {
        (rank_sum - positives * (positives + 1.0) / 2.0) / (positives * negatives)
    };
    Metrics {
        precision,
        revenue,
        auc,
    }
}

fn usd(amount: f64) -> Option<Money> {
    Some(Money {
        currency_code: "USD".to_owned(),
        amount: format!("{:.2}", amount.max(0.0)),
    })
}

/// One generated declaration with its truth.
struct Generated {
    shipment: DeclaredShipment,
    fraud: bool,
    recoverable: f64,
}

/// Runs the evaluation.
pub fn run(options: EvalOptions) -> EvalReport {
    let mut rng = Rng(options.seed);
    let hs_codes: Vec<(String, f64, f64)> = (0..30)
        .map(|i| {
            let code = format!("{:02}{:04}", 39 + i % 55, 1000 + i * 37);
            let per_kg = (1.5 + 3.5 * rng.unit()).exp(); // about 4 to 150 USD/kg
            let risky = if i % 7 == 0 { 0.25 } else { 0.02 }; // extra undervaluation in risky codes
            (code, per_kg, risky)
        })
        .collect();
    let origins = ["CN", "VN", "IN", "TR", "MX", "DE", "US", "TH", "BD", "PK"];
    let importers = 400;
    let undervaluer = |importer: usize| importer.is_multiple_of(12);
    let sellers = 300;
    let counterfeiter = |seller: usize| seller.is_multiple_of(19);

    // Platforms' view of sellers: counterfeiters reported on one platform, and their accounts
    // on another linked by a shared bank account.
    let mut model = Model::new(ModelParams {
        half_life_days: 180.0,
    });
    let now_s = 1_760_000_000;
    let mut touched = BTreeSet::new();
    let mut sequence = 0;
    let mut feed = |model: &mut Model, platform: &str, report: Report| {
        sequence += 1;
        model.apply(sequence, platform, &report)
    };
    for seller in 0..sellers {
        for (platform, suffix) in [("mkt-a", "A"), ("mkt-b", "B")] {
            let identifier = acx_proto::common::HashedIdentifier {
                kind: acx_proto::common::IdentifierKind::BankAccount as i32,
                key_id: "k1".to_owned(),
                hash: format!("bank-{seller}"),
                normalization_version: 2,
            };
            let profile = Report {
                report_id: format!("P-{seller}-{suffix}"),
                kind: Some(Kind::SellerProfile(SellerProfile {
                    seller_id: format!("S{seller}{suffix}"),
                    display_name: format!("Store {seller} {suffix}"),
                    hashed_identifiers: vec![identifier],
                    observe_time: Some(prost_types::Timestamp {
                        seconds: now_s - 86_400 * 60,
                        nanos: 0,
                    }),
                    ..Default::default()
                })),
            };
            touched.extend(feed(&mut model, platform, profile));
        }
        if counterfeiter(seller) && seller % 2 == 0 {
            let finding = Report {
                report_id: format!("F-{seller}"),
                kind: Some(Kind::CounterfeitFinding(CounterfeitFinding {
                    seller: Some(SellerAccountRef {
                        platform: String::new(),
                        seller_id: format!("S{seller}A"),
                    }),
                    products: vec![],
                    evidence_type: EvidenceType::TestBuy as i32,
                    verdict: Verdict::Confirmed as i32,
                    action_taken: ActionTaken::AccountSuspended as i32,
                    observe_time: Some(prost_types::Timestamp {
                        seconds: now_s - 86_400 * 30,
                        nanos: 0,
                    }),
                    notes: String::new(),
                })),
            };
            touched.extend(feed(&mut model, "mkt-a", finding));
        }
    }
    model.recompute(&touched, now_s * 1_000_000);

    let mut market = MarketIndex::default();
    let generate = |rng: &mut Rng, market: &mut MarketIndex, index: usize| -> Generated {
        let importer = rng.below(importers);
        let (hs, per_kg, risky) = hs_codes[(importer * 3 + rng.below(3)) % hs_codes.len()].clone();
        let origin = origins[rng.below(origins.len())];
        let seller = rng.below(sellers);
        let mass = (2.0 + 3.0 * rng.unit()).exp(); // 7 to 150 kg
        let quantity = (mass * (2.0 + 8.0 * rng.unit())).round().max(1.0);
        let true_value = per_kg * mass * (0.3 * rng.normal()).exp();
        let mut factor = 1.0;
        if undervaluer(importer) && rng.unit() < 0.8 {
            factor = 0.2 + 0.3 * rng.unit();
        } else if rng.unit() < risky {
            factor = 0.3 + 0.3 * rng.unit();
        }
        let declared_value = true_value * factor;
        let counterfeit = counterfeiter(seller) && rng.unit() < 0.7;
        let tracking = format!("TRK{index:08}");
        let account = (
            if rng.unit() < 0.5 { "mkt-a" } else { "mkt-b" },
            format!("S{seller}"),
        );
        let account = (
            account.0.to_owned(),
            format!(
                "{}{}",
                account.1,
                if account.0 == "mkt-a" { "A" } else { "B" }
            ),
        );
        if rng.unit() < 0.5 {
            // The platform's shipment notice, with the retail price (about twice the value).
            let notice = ShipmentNotice {
                seller_id: account.1.clone(),
                consignment: Some(ConsignmentNumbers {
                    tracking_numbers: vec![tracking.clone()],
                    ..Default::default()
                }),
                lines: vec![ShipmentLine {
                    product: Some(ProductRef {
                        gtin: String::new(),
                        hs_code: hs.clone(),
                        ..Default::default()
                    }),
                    quantity: quantity as i64,
                    unit_price: usd(2.0 * true_value / quantity),
                }],
                ship_time: None,
            };
            market.observe_notice(&account.0, &format!("N{index}"), &notice);
        }
        let duty_rate = 0.1;
        let undervalued = factor < 0.7;
        let recoverable = duty_rate * (true_value - declared_value).max(0.0)
            + if counterfeit {
                duty_rate * true_value
            } else {
                0.0
            };
        Generated {
            shipment: DeclaredShipment {
                declaration_id: format!("D{index:06}"),
                authority: "eval".to_owned(),
                importer_id: format!("I{importer}"),
                origin_country: origin.to_owned(),
                seller: Some(SellerAccountRef {
                    platform: account.0,
                    seller_id: account.1,
                }),
                consignment: Some(ConsignmentNumbers {
                    tracking_numbers: vec![tracking],
                    ..Default::default()
                }),
                lines: vec![DeclaredLine {
                    line_number: 1,
                    hs_code: hs,
                    quantity,
                    net_mass_kg: mass,
                    declared_value: usd(declared_value),
                    ..Default::default()
                }],
                declarant_id: format!("B{}", importer % 40),
                customs_office: ["USLAX", "USNYC", "USMIA"][importer % 3].to_owned(),
                declaration_time: None,
                ..Default::default()
            },
            fraud: undervalued || counterfeit,
            recoverable,
        }
    };

    // Earlier period: assess and record every declaration; learn the inspected outcomes.
    let rates = acx_domain::rates::ReferenceRates::builtin();
    let mut peers = Peers::default();
    let mut profiles = Profiles::default();
    let mut hs_history: HashMap<String, (f64, f64)> = HashMap::new();
    for index in 0..options.train {
        let generated = generate(&mut rng, &mut market, index);
        peers.record(&generated.shipment, &rates);
        if rng.unit() < options.inspected_share {
            profiles.record(&generated.shipment, generated.fraud);
            let entry = hs_history
                .entry(generated.shipment.lines[0].hs_code.clone())
                .or_default();
            entry.0 += 1.0;
            entry.1 += if generated.fraud { 1.0 } else { 0.0 };
        }
    }

    // Later period: rank.
    let mut model_scores = Vec::new();
    let mut hs_scores = Vec::new();
    let mut truth = Vec::new();
    for index in options.train..options.train + options.test {
        let generated = generate(&mut rng, &mut market, index);
        let notice = market.matching_notice(&generated.shipment);
        let seller = notice.map(|n| n.account.clone()).or_else(|| {
            generated
                .shipment
                .seller
                .as_ref()
                .map(|s| (s.platform.clone(), s.seller_id.clone()))
        });
        let assessment = assess(
            &generated.shipment,
            AssessmentInputs {
                market: &market,
                peers: &peers,
                rates: &rates,
                profiles: &profiles,
                seller_risk: seller.and_then(|account| model.risk(&account)),
                notice,
                random_selection: false,
                model_version: "eval".to_owned(),
            },
        );
        model_scores.push(assessment.risk);
        let (inspected, frauds) = hs_history
            .get(&generated.shipment.lines[0].hs_code)
            .copied()
            .unwrap_or_default();
        hs_scores.push((frauds + 1.0) / (inspected + 10.0));
        truth.push((generated.fraud, generated.recoverable));
        peers.record(&generated.shipment, &rates);
    }

    // Random selection: the average of 20 shuffles.
    let mut random = Vec::new();
    for round in 0..20 {
        let mut shuffle = Rng(options.seed ^ ((round as u64 + 1) * 0x1234_5678));
        let scores: Vec<f64> = truth.iter().map(|_| shuffle.unit()).collect();
        random.push(metrics(&scores, &truth));
    }
    let average = |pick: fn(&Metrics) -> &Vec<(f64, f64)>| -> Vec<(f64, f64)> {
        LEVELS
            .iter()
            .enumerate()
            .map(|(i, level)| {
                (
                    *level,
                    random.iter().map(|m| pick(m)[i].1).sum::<f64>() / random.len() as f64,
                )
            })
            .collect()
    };
    let random = Metrics {
        precision: average(|m| &m.precision),
        revenue: average(|m| &m.revenue),
        auc: random.iter().map(|m| m.auc).sum::<f64>() / random.len() as f64,
    };
    EvalReport {
        model: metrics(&model_scores, &truth),
        random,
        hs_baseline: metrics(&hs_scores, &truth),
        fraud_rate: truth.iter().filter(|t| t.0).count() as f64 / truth.len() as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_of_a_perfect_and_a_reversed_ranking() {
        let truth = [(true, 10.0), (false, 0.0), (false, 0.0), (true, 30.0)];
        let perfect = metrics(&[0.9, 0.1, 0.2, 0.8], &truth);
        assert_eq!(perfect.auc, 1.0);
        assert_eq!(perfect.precision[0].1, 1.0);
        let reversed = metrics(&[0.1, 0.9, 0.8, 0.2], &truth);
        assert_eq!(reversed.auc, 0.0);
    }

    #[test]
    fn the_model_beats_random_and_the_hs_baseline_on_generated_data() {
        let report = run(EvalOptions {
            train: 3000,
            test: 2000,
            ..EvalOptions::default()
        });
        assert!(report.model.auc > report.random.auc + 0.15, "{report:#?}");
        assert!(report.model.auc > report.hs_baseline.auc, "{report:#?}");
        for ((level, model), (_, random)) in
            report.model.precision.iter().zip(&report.random.precision)
        {
            assert!(
                model > random,
                "precision@{level}%: {model} vs random {random}"
            );
        }
        for ((level, model), (_, baseline)) in
            report.model.revenue.iter().zip(&report.hs_baseline.revenue)
        {
            assert!(
                model > baseline,
                "revenue@{level}%: {model} vs HS baseline {baseline}"
            );
        }
    }
}
