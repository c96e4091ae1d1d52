use super::*;
use std::sync::Arc;

use acx_domain::rates::ReferenceRates;
use acx_proto::{
    common::Money,
    scoring::{ComparisonBasis, DeclaredShipment, Lane, ShipmentAssessment},
};

use super::anomaly::strength;
use crate::market::MarketIndex;

use acx_proto::ingest::ShipmentNotice;
use acx_proto::scoring::DeclaredLine;

fn line(hs: &str, quantity: f64, kg: f64, usd_total: &str) -> DeclaredLine {
    DeclaredLine {
        line_number: 1,
        hs_code: hs.to_owned(),
        quantity,
        net_mass_kg: kg,
        declared_value: Some(Money {
            currency_code: "USD".to_owned(),
            amount: usd_total.to_owned(),
        }),
        ..Default::default()
    }
}

fn shipment(id: &str, importer: &str, line: DeclaredLine) -> DeclaredShipment {
    DeclaredShipment {
        declaration_id: id.to_owned(),
        authority: "cbp".to_owned(),
        importer_id: importer.to_owned(),
        origin_country: "CN".to_owned(),
        seller: None,
        consignment: None,
        lines: vec![line],
        declarant_id: String::new(),
        customs_office: String::new(),
        declaration_time: None,
        ..Default::default()
    }
}

static NO_PROFILES: std::sync::LazyLock<Profiles> = std::sync::LazyLock::new(Profiles::default);
static RATES: std::sync::LazyLock<Arc<ReferenceRates>> =
    std::sync::LazyLock::new(ReferenceRates::builtin);

fn inputs<'a>(market: &'a MarketIndex, peers: &'a Peers) -> AssessmentInputs<'a> {
    AssessmentInputs {
        market,
        peers,
        rates: &RATES,
        profiles: &NO_PROFILES,
        seller_risk: None,
        notice: None,
        random_selection: false,
        model_version: "test".to_owned(),
    }
}

fn peers_around(per_kg: f64) -> Peers {
    let mut peers = Peers::default();
    for i in 0..100 {
        // ±10% around per_kg, 1 kg lines.
        let value = per_kg * (0.9 + 0.2 * (i as f64 / 99.0));
        peers.record(
            &shipment(
                &format!("D{i}"),
                &format!("I{}", i % 7),
                line("851830", 10.0, 1.0, &format!("{value:.2}")),
            ),
            &RATES,
        );
    }
    peers
}

#[test]
fn a_value_far_below_peers_is_flagged_with_its_range_and_gap() {
    let peers = peers_around(100.0);
    let market = MarketIndex::default();
    let low = assess(
        &shipment("X", "new", line("851830", 10.0, 2.0, "40.00")),
        inputs(&market, &peers),
    );
    let anomaly = &low.lines[0].anomalies[0];
    assert_eq!(anomaly.code, "DECLARED_VALUE_BELOW_PEERS");
    assert_eq!(anomaly.comparison_group, "HS 851830 from CN");
    assert!(
        anomaly.expected_low > 80.0 && anomaly.expected_high < 125.0,
        "{anomaly:?}"
    );
    assert!((anomaly.ratio - 0.2).abs() < 0.02, "{anomaly:?}");
    assert!(anomaly.robust_z < -2.5);
    assert!(
        (anomaly.estimated_gap_usd - 160.0).abs() < 5.0,
        "(100 - 20) per kg × 2 kg: {anomaly:?}"
    );
    assert!(low.risk > 0.5);

    let normal = assess(
        &shipment("Y", "new", line("851830", 10.0, 2.0, "205.00")),
        inputs(&market, &peers),
    );
    assert!(normal.lines[0].anomalies.is_empty());
    assert_eq!(normal.lane, Lane::Green as i32);
    assert_eq!(normal.risk, 0.0);
}

#[test]
fn peer_groups_fall_back_to_shorter_hs_codes() {
    let peers = peers_around(100.0);
    let market = MarketIndex::default();
    let other = assess(
        &shipment("X", "new", line("851890", 1.0, 1.0, "10.00")),
        inputs(&market, &peers),
    );
    assert_eq!(
        other.lines[0].anomalies[0].comparison_group,
        "HS 8518 from CN"
    );
}

#[test]
fn a_value_far_below_the_marketplace_price_is_flagged() {
    let mut market = MarketIndex::default();
    let notice = notice_for("1Z-999", "24.99");
    market.observe_notice("amazon", "N1", &notice);
    let mut declared = shipment("X", "imp", line("85183000", 500.0, 40.0, "1000.00"));
    declared.consignment = Some(acx_proto::common::ConsignmentNumbers {
        tracking_numbers: vec!["1z 999".to_owned()],
        ..Default::default()
    });
    let peers = Peers::default();
    let matched = market.matching_notice(&declared);
    assert_eq!(matched.map(|n| n.name.as_str()), Some("reports/amazon/N1"));
    let assessment = assess(
        &declared,
        AssessmentInputs {
            notice: matched,
            ..inputs(&market, &peers)
        },
    );
    let anomaly = &assessment.lines[0].anomalies[0];
    assert_eq!(anomaly.code, "DECLARED_VALUE_BELOW_MARKET");
    assert!((anomaly.ratio - 2.0 / 24.99).abs() < 1e-3);
    assert!((anomaly.estimated_gap_usd - (24.99 - 2.0) * 500.0).abs() < 1.0);
    assert_eq!(assessment.lane, Lane::Red as i32);
}

/// A quantity in a measure is no count of items (found by a tester: "10 KGM" of earbuds was
/// 10 earbuds beside a price per item); a dozen is twelve items.
#[test]
fn only_a_quantity_that_counts_items_is_set_beside_the_marketplace_price() {
    let mut market = MarketIndex::default();
    market.observe_notice("amazon", "N1", &notice_for("1Z-999", "24.99"));
    let peers = Peers::default();
    let assessed = |quantity: f64, unit: &str, total: &str| {
        let mut declared = shipment("X", "imp", line("85183000", quantity, 40.0, total));
        declared.lines[0].quantity_unit = unit.to_owned();
        declared.consignment = Some(acx_proto::common::ConsignmentNumbers {
            tracking_numbers: vec!["1Z999".to_owned()],
            ..Default::default()
        });
        assess(
            &declared,
            AssessmentInputs {
                notice: market.matching_notice(&declared),
                ..inputs(&market, &peers)
            },
        )
    };
    // 40 kg of earbuds at 1,000 USD: 25 USD a "unit" would pass, 1,000 would not; neither
    // is a price per item.
    for unit in ["KGM", "BANANA"] {
        let by_mass = assessed(40.0, unit, "1000.00");
        let line = &by_mass.lines[0];
        assert!(line.anomalies.is_empty(), "{by_mass:#?}");
        assert_eq!(line.skipped_comparisons.len(), 1, "{by_mass:#?}");
        assert_eq!(line.skipped_comparisons[0].code, "NO_QUANTITY");
        assert!(
            line.skipped_comparisons[0]
                .description
                .contains("not a count of items"),
            "{by_mass:#?}"
        );
        assert_eq!(line.declared_unit_value_usd, 25.0, "per declared unit");
    }
    // 40 dozen (480 earbuds) at 1,000 USD: 2.08 USD an item, far below 24.99.
    let dozens = assessed(40.0, "DZN", "1000.00");
    let anomaly = &dozens.lines[0].anomalies[0];
    assert_eq!(anomaly.code, "DECLARED_VALUE_BELOW_MARKET", "{dozens:#?}");
    assert!((anomaly.ratio - (1000.0 / 480.0) / 24.99).abs() < 1e-3);
    assert!((anomaly.estimated_gap_usd - (24.99 * 480.0 - 1000.0)).abs() < 1.0);
    // The same as 480 pieces, and as 480 with no unit.
    for unit in ["PCE", ""] {
        let pieces = assessed(480.0, unit, "1000.00");
        assert!((pieces.lines[0].anomalies[0].ratio - anomaly.ratio).abs() < 1e-9);
    }
}

#[test]
fn outcomes_raise_a_partys_risk_smoothly() {
    let market = MarketIndex::default();
    let peers = Peers::default();
    let mut profiles = Profiles::default();
    for i in 0..50 {
        profiles.record(
            &shipment(
                &format!("C{i}"),
                &format!("clean-{}", i % 10),
                line("950300", 1.0, 1.0, "5"),
            ),
            false,
        );
    }
    let newcomer_once = {
        let mut p = Profiles {
            overall: profiles.overall,
            ..Default::default()
        };
        p.record(
            &shipment("N1", "newcomer", line("640399", 1.0, 1.0, "5")),
            true,
        );
        p
    };
    for i in 0..6 {
        profiles.record(
            &shipment(&format!("F{i}"), "fraudster", line("640399", 1.0, 1.0, "5")),
            true,
        );
    }
    let assess_with = |profiles: &Profiles, importer: &str| {
        assess(
            &shipment("NEXT", importer, line("640399", 1.0, 1.0, "5")),
            AssessmentInputs {
                profiles,
                ..inputs(&market, &peers)
            },
        )
    };
    let repeat = assess_with(&profiles, "fraudster");
    let once = assess_with(&newcomer_once, "newcomer");
    let clean = assess_with(&profiles, "clean-3");
    assert!(
        repeat.reasons.iter().any(|r| r.code == "PROFILE_IMPORTER"),
        "{repeat:#?}"
    );
    assert!(
        repeat.risk > once.risk,
        "six frauds weigh more than one: {} vs {}",
        repeat.risk,
        once.risk
    );
    assert!(
        once.risk < 0.6,
        "one case does not condemn a newcomer: {}",
        once.risk
    );
    assert!(
        !clean.reasons.iter().any(|r| r.code == "PROFILE_IMPORTER"),
        "a clean record adds nothing"
    );
}

fn notice_for(tracking: &str, unit_price: &str) -> ShipmentNotice {
    ShipmentNotice {
        seller_id: "S1".to_owned(),
        consignment: Some(acx_proto::common::ConsignmentNumbers {
            tracking_numbers: vec![tracking.to_owned()],
            ..Default::default()
        }),
        lines: vec![acx_proto::ingest::ShipmentLine {
            product: Some(acx_proto::common::ProductRef {
                gtin: "0194252721407".to_owned(),
                hs_code: "851830".to_owned(),
                ..Default::default()
            }),
            quantity: 500,
            unit_price: Some(Money {
                currency_code: "USD".to_owned(),
                amount: unit_price.to_owned(),
            }),
        }],
        ship_time: None,
    }
}

fn codes_of(assessment: &ShipmentAssessment) -> Vec<&str> {
    assessment.reasons.iter().map(|r| r.code.as_str()).collect()
}

#[test]
fn a_value_of_zero_is_the_strongest_anomaly_on_every_basis() {
    let mut market = MarketIndex::default();
    market.observe_notice("amazon", "N1", &notice_for("1Z-1", "24.99"));
    let peers = peers_around(100.0);
    let mut declared = shipment("Z", "new", line("851830", 500.0, 40.0, "0.00"));
    declared.consignment = Some(acx_proto::common::ConsignmentNumbers {
        tracking_numbers: vec!["1Z1".to_owned()],
        ..Default::default()
    });
    let assess_with = |declared: &DeclaredShipment| {
        assess(
            declared,
            AssessmentInputs {
                notice: market.matching_notice(declared),
                ..inputs(&market, &peers)
            },
        )
    };
    let zero = assess_with(&declared);
    let anomalies = &zero.lines[0].anomalies;
    let bases: Vec<i32> = anomalies.iter().map(|a| a.basis).collect();
    assert_eq!(
        bases,
        [
            ComparisonBasis::MarketplacePrice as i32,
            ComparisonBasis::PeerDeclarations as i32
        ],
        "{zero:#?}"
    );
    for anomaly in anomalies {
        assert_eq!(anomaly.ratio, 0.0);
        assert_eq!(anomaly.robust_z, MIN_Z);
        assert_eq!(strength(anomaly), 1.0);
    }
    assert!((anomalies[0].estimated_gap_usd - 24.99 * 500.0).abs() < 0.01);
    assert_eq!(
        zero.lane,
        Lane::Red as i32,
        "the value alone puts it in RED"
    );
    // A cent is less strong than nothing, and nothing is never weaker than a cent.
    declared.lines[0].declared_value = Some(Money {
        currency_code: "USD".to_owned(),
        amount: "0.01".to_owned(),
    });
    let cent = assess_with(&declared);
    assert!(cent.risk <= zero.risk, "{} > {}", cent.risk, zero.risk);
    // Zero without quantity or mass is still zero per unit and per kilogram.
    declared.lines[0] = line("851830", 0.0, 0.0, "0");
    let bare = assess_with(&declared);
    assert_eq!(bare.lines[0].anomalies.len(), 2, "{bare:#?}");
    assert!(bare.lines[0].skipped_comparisons.is_empty());
}

#[test]
fn zero_values_national_chapters_and_unknown_origins_stay_out_of_the_statistics() {
    let mut peers = Peers::default();
    let mut zero = shipment("A", "i", line("851830", 1.0, 1.0, "0"));
    zero.lines.push(DeclaredLine {
        line_number: 2,
        ..line("99038815", 1.0, 1.0, "50")
    });
    zero.lines.push(DeclaredLine {
        line_number: 3,
        ..line("640399", 1.0, 0.0, "50")
    });
    peers.record(&zero, &RATES);
    assert!(peers.groups.is_empty(), "{:?}", peers.groups.keys());
    let mut unknown = shipment("B", "i", line("851830", 1.0, 1.0, "10"));
    unknown.origin_country = "ZZ".to_owned();
    peers.record(&unknown, &RATES);
    let mut keys: Vec<&str> = peers.groups.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["85", "8518", "851830"]);
}

#[test]
fn comparisons_that_cannot_be_made_are_named_and_the_rest_still_made() {
    let mut market = MarketIndex::default();
    market.observe_notice("amazon", "N1", &notice_for("1Z-1", "24.99"));
    let peers = peers_around(100.0);
    let mut declared = shipment("N", "new", line("851830", 0.0, 2.0, "40.00"));
    declared.consignment = Some(acx_proto::common::ConsignmentNumbers {
        tracking_numbers: vec!["1Z1".to_owned()],
        ..Default::default()
    });
    declared.lines.push(DeclaredLine {
        line_number: 2,
        ..line("851830", 10.0, 0.0, "1.00")
    });
    declared.lines.push(DeclaredLine {
        line_number: 3,
        ..line("9903.88.15", 10.0, 2.0, "1.00")
    });
    declared.lines[2].hs_code = "99038815".to_owned();
    declared.lines.push(DeclaredLine {
        line_number: 4,
        declared_value: Some(Money {
            currency_code: "AED".to_owned(),
            amount: "100".to_owned(),
        }),
        ..line("851830", 10.0, 2.0, "0")
    });
    declared.declaration_time = Some(prost_types::Timestamp {
        seconds: 1_600_000_000, // 2020-09-13
        nanos: 0,
    });
    let assessment = assess(
        &declared,
        AssessmentInputs {
            notice: market.matching_notice(&declared),
            ..inputs(&market, &peers)
        },
    );
    let skipped = |i: usize| -> Vec<(String, i32)> {
        assessment.lines[i]
            .skipped_comparisons
            .iter()
            .map(|s| (s.code.clone(), s.basis))
            .collect()
    };
    let (peer, history, market_basis, all) = (
        ComparisonBasis::PeerDeclarations as i32,
        ComparisonBasis::ImporterHistory as i32,
        ComparisonBasis::MarketplacePrice as i32,
        ComparisonBasis::Unspecified as i32,
    );
    // No quantity: no per-unit comparison, but the per-kg one with peers is made.
    assert_eq!(skipped(0), [("NO_QUANTITY".to_owned(), market_basis)]);
    assert_eq!(
        assessment.lines[0].anomalies[0].code,
        "DECLARED_VALUE_BELOW_PEERS"
    );
    // Net mass 0: compared per unit with the notice only.
    assert_eq!(
        skipped(1),
        [
            ("NO_NET_MASS".to_owned(), peer),
            ("NO_NET_MASS".to_owned(), history)
        ]
    );
    assert_eq!(
        assessment.lines[1].anomalies[0].code,
        "DECLARED_VALUE_BELOW_MARKET"
    );
    assert_eq!(assessment.lines[1].declared_value_per_kg_usd, 0.0);
    assert_eq!(
        skipped(2),
        [
            ("NATIONAL_TARIFF_CODE".to_owned(), peer),
            ("NATIONAL_TARIFF_CODE".to_owned(), history)
        ]
    );
    assert_eq!(skipped(3), [("NO_REFERENCE_RATE".to_owned(), all)]);
    assert!(assessment.lines[3].anomalies.is_empty());
    assert!(
        assessment.lines[3].skipped_comparisons[0]
            .description
            .contains("AED on 2020-09-13"),
        "{assessment:#?}"
    );
    // Each code once among the reasons, as notes after those that count.
    let codes = codes_of(&assessment);
    let notes = &codes[codes.len() - 4..];
    assert_eq!(
        notes,
        [
            "NATIONAL_TARIFF_CODE",
            "NO_NET_MASS",
            "NO_QUANTITY",
            "NO_REFERENCE_RATE"
        ]
    );
    assert!(
        assessment
            .reasons
            .iter()
            .filter(|r| r.code.starts_with("NO_") || r.code == "NATIONAL_TARIFF_CODE")
            .all(|r| r.contribution == 0.0 && r.description.starts_with("line "))
    );
}

#[test]
fn values_are_compared_at_the_rates_of_their_date() {
    let market = MarketIndex::default();
    let peers = Peers::default();
    let mut declared = shipment("K", "i", line("851830", 1.0, 1.0, "1000000"));
    declared.lines[0].declared_value = Some(Money {
        currency_code: "KRW".to_owned(),
        amount: "1000000".to_owned(),
    });
    let at = |seconds: i64| {
        let mut declared = declared.clone();
        declared.declaration_time = Some(prost_types::Timestamp { seconds, nanos: 0 });
        assess(&declared, inputs(&market, &peers)).lines[0].declared_unit_value_usd
    };
    // 2020-01-08 (row 2020-01-06: 1.1194 USD, 1308.83 KRW per euro) and 2024-01-10.
    let early = at(1_578_441_600);
    assert!((early - 1e6 * 1.1194 / 1308.83).abs() < 0.01, "{early}");
    assert_ne!(early, at(1_704_844_800));
}
