//! The planted-truth generator of `acx-scoring-eval` (tools/bench/src/evaluation.rs),
//! as customs declarations with outcomes for the public API. The same seed draws the same
//! world and the same declarations: 30 HS codes with their value per kilogram (every
//! seventh riskier), ten origins, 400 importers of whom every twelfth undervalues 80% of
//! the time, 300 marketplace sellers of whom every nineteenth ships counterfeits 70% of
//! the time. A shipment is fraudulent when its value is below 70% of the true value or its
//! goods are counterfeit; its revenue is the duty (10%) on the undervaluation plus, for
//! counterfeits, the duty on the whole value.
//!
//! What differs from `acx-scoring-eval`: that program also feeds scoring the platforms'
//! side of the world (seller profiles linked by bank account, counterfeit findings,
//! shipment notices with marketplace prices) in-process. Through the customs API there is
//! no such door, so here the declarations carry the seller account and tracking number
//! and nothing is reported by platforms: the figures are not comparable with
//! `acx-scoring-eval`'s, only with other runs of this command.
//!
//! Declarations of the learning period are dated evenly over 2020-01-01..2020-09-30, those
//! of the ranked period over 2020-10-01..2020-12-31, so the default windows of
//! `acxctl evaluate` split them as the generator does. Only the inspected share (30%) of
//! the learning period carries an outcome to record.

use acx_proto::{
    common::{ConsignmentNumbers, Money, SellerAccountRef},
    liaison::{Declaration, DeclarationLine, InspectionResult, TransportMode},
    scoring::OutcomeKind,
};

use super::Case;

/// SplitMix64, so a seed repeats exactly (`acx-scoring-eval` draws with it too).
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in 0..n (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let (u, v) = (self.unit().max(1e-12), self.unit());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

/// Size and seed of the generated world (the defaults of `acx-scoring-eval`).
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Declarations of the learning period.
    pub train: usize,
    /// Declarations of the ranked period.
    pub test: usize,
    /// Seed.
    pub seed: u64,
}

/// Share of the learning period inspected.
const INSPECTED_SHARE: f64 = 0.3;
/// 2020-01-01T00:00:00Z.
const YEAR_START: i64 = 1_577_836_800;
/// 2020-10-01T00:00:00Z.
const TEST_START: i64 = 1_601_510_400;
/// 2021-01-01T00:00:00Z.
const YEAR_END: i64 = 1_609_459_200;

fn usd(amount: f64) -> Option<Money> {
    Some(Money {
        currency_code: "USD".to_owned(),
        amount: format!("{:.2}", amount.max(0.0)),
    })
}

/// The declarations of both periods, in time order, each with its truth.
pub fn generate(options: Options) -> Vec<Case> {
    let mut rng = Rng(options.seed);
    let hs_codes: Vec<(String, f64, f64)> = (0..30)
        .map(|i| {
            let code = format!("{:02}{:04}", 39 + i % 55, 1000 + i * 37);
            let per_kg = (1.5 + 3.5 * rng.unit()).exp();
            let risky = if i % 7 == 0 { 0.25 } else { 0.02 };
            (code, per_kg, risky)
        })
        .collect();
    let origins = ["CN", "VN", "IN", "TR", "MX", "DE", "US", "TH", "BD", "PK"];
    let (importers, sellers) = (400, 300);
    let total = options.train + options.test;
    let mut cases = Vec::with_capacity(total);
    for index in 0..total {
        // The draws in the scoring generator's order, so a seed gives the same world.
        let importer = rng.below(importers);
        let (hs, per_kg, risky) = hs_codes[(importer * 3 + rng.below(3)) % hs_codes.len()].clone();
        let origin = origins[rng.below(origins.len())];
        let seller = rng.below(sellers);
        let mass = (2.0 + 3.0 * rng.unit()).exp();
        let quantity = (mass * (2.0 + 8.0 * rng.unit())).round().max(1.0);
        let true_value = per_kg * mass * (0.3 * rng.normal()).exp();
        let mut factor = 1.0;
        if importer.is_multiple_of(12) && rng.unit() < 0.8 {
            factor = 0.2 + 0.3 * rng.unit();
        } else if rng.unit() < risky {
            factor = 0.3 + 0.3 * rng.unit();
        }
        let declared_value = true_value * factor;
        let counterfeit = seller.is_multiple_of(19) && rng.unit() < 0.7;
        let platform = if rng.unit() < 0.5 { "mkt-a" } else { "mkt-b" };
        let _shipment_notice = rng.unit() < 0.5; // not replayable through the customs API
        let duty_rate = 0.1;
        let undervalued = factor < 0.7;
        let extra_duty = duty_rate * (true_value - declared_value).max(0.0);
        let revenue = extra_duty
            + if counterfeit {
                duty_rate * true_value
            } else {
                0.0
            };
        let fraud = undervalued || counterfeit;
        let inspected = index < options.train && rng.unit() < INSPECTED_SHARE;

        let seconds = if index < options.train {
            YEAR_START + (TEST_START - YEAR_START) * index as i64 / options.train.max(1) as i64
        } else {
            let i = (index - options.train) as i64;
            TEST_START + (YEAR_END - TEST_START) * i / options.test.max(1) as i64
        };
        let time = Some(prost_types::Timestamp { seconds, nanos: 0 });
        let declaration = Declaration {
            declaration_id: format!("D{index:06}"),
            declaration_time: time,
            customs_office: ["USLAX", "USNYC", "USMIA"][importer % 3].to_owned(),
            transport_mode: TransportMode::Sea as i32,
            importer_id: format!("I{importer}"),
            declarant_id: format!("B{}", importer % 40),
            consignment: Some(ConsignmentNumbers {
                tracking_numbers: vec![format!("TRK{index:08}")],
                ..Default::default()
            }),
            origin_country: origin.to_owned(),
            marketplace: platform.to_owned(),
            seller: Some(SellerAccountRef {
                platform: platform.to_owned(),
                seller_id: format!("S{seller}{}", if platform == "mkt-a" { "A" } else { "B" }),
            }),
            lines: vec![DeclarationLine {
                line_number: 1,
                hs_code: hs,
                quantity,
                quantity_unit: "PCE".to_owned(),
                net_mass_kg: mass,
                declared_value: usd(declared_value),
                duty_rate,
                ..Default::default()
            }],
            ..Default::default()
        };
        let result = if counterfeit {
            InspectionResult {
                kind: OutcomeKind::CounterfeitSeized as i32,
                seized_quantity: quantity,
                note: "generated: counterfeit goods".to_owned(),
                inspect_time: time,
                ..Default::default()
            }
        } else if undervalued {
            InspectionResult {
                kind: OutcomeKind::UndervaluationConfirmed as i32,
                assessed_value: usd(true_value),
                extra_duty: usd(extra_duty),
                note: "generated: undervaluation".to_owned(),
                inspect_time: time,
                ..Default::default()
            }
        } else {
            InspectionResult {
                kind: OutcomeKind::Cleared as i32,
                note: "generated: nothing found".to_owned(),
                inspect_time: time,
                ..Default::default()
            }
        };
        cases.push(Case {
            declaration,
            result,
            fraud,
            revenue: Some(revenue),
            inspected: index >= options.train || inspected,
        });
    }
    cases
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_draws_the_same_world_in_time_order() {
        let options = Options {
            train: 300,
            test: 100,
            seed: 7,
        };
        let cases = generate(options);
        assert_eq!(cases.len(), 400);
        assert_eq!(
            cases.iter().map(|c| &c.declaration).collect::<Vec<_>>(),
            generate(options)
                .iter()
                .map(|c| &c.declaration)
                .collect::<Vec<_>>()
        );
        let times: Vec<i64> = cases
            .iter()
            .map(|c| c.declaration.declaration_time.map_or(0, |t| t.seconds))
            .collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]));
        assert!(times[299] < TEST_START && times[300] >= TEST_START);
        assert!(times[399] < YEAR_END);
        let frauds = cases.iter().filter(|c| c.fraud).count();
        assert!(frauds > 10 && frauds < 200, "{frauds}");
        let inspected = cases[..300].iter().filter(|c| c.inspected).count();
        assert!(inspected > 50 && inspected < 150, "{inspected}");
        assert!(cases[300..].iter().all(|c| c.inspected));
        assert!(
            cases
                .iter()
                .filter(|c| c.fraud)
                .all(|c| c.revenue.is_some_and(|r| r > 0.0))
        );
    }
}
