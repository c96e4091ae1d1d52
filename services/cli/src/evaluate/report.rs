//! The report of one evaluation: what was replayed, what was read back, and the metrics
//! of ACX's ranking next to random selection and the HS6 baseline; as text for people and
//! as JSON (camelCase keys, fractions 0 to 1) for scripts.

use std::{collections::BTreeMap, time::Duration};

use acx_proto::scoring::Lane;

use super::{
    Case,
    metrics::{self, HsBaseline, LEVELS, Metrics, Scored},
    replay::{Recorded, Replayed, Submitted},
};
use crate::{output::table, progress::group};

/// One window of the replay.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Window {
    /// First day (UTC) of the window's declarations; absent when it has none.
    pub first_day: Option<String>,
    /// Last day (UTC) of the window, as asked.
    pub until: String,
    /// Declarations replayed.
    pub declarations: u64,
    /// Of these, with an outcome known (learned from in the learning window; held back in
    /// the evaluation window).
    pub with_outcome: u64,
    /// Of these, fraudulent.
    pub frauds: u64,
}

/// What came back for the evaluation window's shipments.
#[derive(Debug, Clone, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadBack {
    /// Stored shipments of the window, each to be read back.
    pub expected: u64,
    /// Read back (by SearchShipments, or GetShipment for the rest).
    pub read: u64,
    /// Of `read`, found by SearchShipments.
    pub via_search: u64,
    /// Of `read`, read by GetShipment.
    pub via_get: u64,
    /// Read back, but not assessed (no risk): left out of the ranking.
    pub not_assessed: u64,
    /// Ranked (assessed).
    pub ranked: u64,
    /// Already carrying an inspection result (a suite that saw these outcomes before: the
    /// figures then measure nothing).
    pub already_inspected: u64,
    /// Assessed with no reason at all.
    pub without_reason: u64,
}

/// The shipments in one lane.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LaneShare {
    /// RED, YELLOW, GREEN (or UNSPECIFIED).
    pub lane: String,
    /// Ranked shipments in the lane.
    pub shipments: u64,
    /// Their share of the ranked shipments.
    pub share: f64,
    /// Their fraud rate; absent for an empty lane.
    pub fraud_rate: Option<f64>,
}

/// A model version seen on the assessments.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelVersion {
    /// As the assessment names it (empty when it names none).
    pub version: String,
    /// Ranked shipments it assessed.
    pub shipments: u64,
}

/// The whole report.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// Where the declarations came from.
    pub source: String,
    /// The learning window.
    pub learning: Window,
    /// The evaluation window.
    pub evaluation: Window,
    /// The submissions' answers, both windows.
    pub submitted: Submitted,
    /// The learning window's results.
    pub results: Recorded,
    /// The read-back.
    pub read_back: ReadBack,
    /// The n of P@n% and R@n%, in percent.
    pub levels: Vec<f64>,
    /// Share of fraud among the ranked shipments.
    pub base_rate: f64,
    /// ACX's ranking by the risk read back.
    pub acx: Metrics,
    /// The HS6 code's smoothed fraud rate over the learning window's outcomes.
    pub hs6_baseline: Metrics,
    /// Random selection, expected values.
    pub random: Metrics,
    /// Lanes of the ranked shipments.
    pub lanes: Vec<LaneShare>,
    /// Model versions on the ranked shipments' assessments.
    pub model_versions: Vec<ModelVersion>,
    /// Seconds from the first call to the last.
    pub elapsed_seconds: f64,
}

fn window(cases: &[Case], until: jiff::civil::Date, learning: bool) -> Window {
    let day = |case: &Case| {
        jiff::Timestamp::from_second(case.seconds())
            .map(|t| jiff::tz::TimeZone::UTC.to_datetime(t).date().to_string())
            .unwrap_or_default()
    };
    Window {
        first_day: cases.first().map(day),
        until: until.to_string(),
        declarations: cases.len() as u64,
        with_outcome: cases.iter().filter(|c| c.inspected || !learning).count() as u64,
        frauds: cases
            .iter()
            .filter(|c| c.fraud && (c.inspected || !learning))
            .count() as u64,
    }
}

/// Builds the report from the replayed windows and what the API answered.
pub fn build(
    source: String,
    (learn_until, evaluate_until): (jiff::civil::Date, jiff::civil::Date),
    learning: &[Case],
    evaluation: &[Case],
    replayed: &Replayed,
    elapsed: Duration,
) -> Report {
    let mut baseline = HsBaseline::default();
    for case in learning
        .iter()
        .filter(|c| c.inspected && replayed.stored.contains(&c.declaration.declaration_id))
    {
        if let Some(line) = case.declaration.lines.first() {
            baseline.learn(&line.hs_code, case.fraud);
        }
    }
    let with_revenue = evaluation.iter().any(|c| c.revenue.is_some());
    let mut read_back = ReadBack::default();
    let (mut acx, mut hs6) = (Vec::new(), Vec::new());
    let mut lanes: BTreeMap<i32, (u64, u64)> = BTreeMap::new();
    let mut versions: BTreeMap<String, u64> = BTreeMap::new();
    for case in evaluation {
        let id = &case.declaration.declaration_id;
        if !replayed.stored.contains(id) {
            continue;
        }
        read_back.expected += 1;
        let Some(shipment) = replayed.shipments.get(id) else {
            continue;
        };
        read_back.read += 1;
        if shipment.inspection_result.is_some() {
            read_back.already_inspected += 1;
        }
        let Some(assessment) = &shipment.assessment else {
            read_back.not_assessed += 1;
            continue;
        };
        read_back.ranked += 1;
        if assessment.reasons.is_empty() {
            read_back.without_reason += 1;
        }
        // The decision made when the declaration arrived (liaison may re-assess it later,
        // as outcomes about others arrive): what targeting is judged by.
        let (risk, lane, version) = match shipment.assessment_history.first() {
            Some(arrival) => (arrival.risk, arrival.lane, &arrival.model_version),
            None => (assessment.risk, assessment.lane, &assessment.model_version),
        };
        let lane = lanes.entry(lane).or_default();
        lane.0 += 1;
        lane.1 += u64::from(case.fraud);
        *versions.entry(version.clone()).or_default() += 1;
        let tie = metrics::tie_key(id);
        let revenue = case.revenue.unwrap_or(0.0);
        acx.push(Scored {
            score: risk,
            tie,
            fraud: case.fraud,
            revenue,
        });
        let hs_code = case
            .declaration
            .lines
            .first()
            .map_or("", |l| l.hs_code.as_str());
        hs6.push(Scored {
            score: baseline.score(hs_code),
            tie,
            fraud: case.fraud,
            revenue,
        });
    }
    read_back.via_search = replayed.via_search;
    read_back.via_get = replayed.via_get;
    let ranked = acx.len() as f64;
    let frauds = acx.iter().filter(|s| s.fraud).count() as f64;
    Report {
        source,
        learning: window(learning, learn_until, true),
        evaluation: window(evaluation, evaluate_until, false),
        submitted: replayed.submitted.clone(),
        results: replayed.results.clone(),
        read_back,
        levels: LEVELS.to_vec(),
        base_rate: if ranked > 0.0 { frauds / ranked } else { 0.0 },
        acx: metrics::evaluate(&acx, with_revenue),
        hs6_baseline: metrics::evaluate(&hs6, with_revenue),
        random: metrics::random_expectation(&acx, with_revenue),
        lanes: lanes
            .into_iter()
            .map(|(lane, (shipments, frauds))| LaneShare {
                lane: Lane::try_from(lane).map_or_else(
                    |_| lane.to_string(),
                    |l| l.as_str_name().trim_start_matches("LANE_").to_owned(),
                ),
                shipments,
                share: shipments as f64 / ranked.max(1.0),
                fraud_rate: (shipments > 0).then(|| frauds as f64 / shipments as f64),
            })
            .collect(),
        model_versions: versions
            .into_iter()
            .map(|(version, shipments)| ModelVersion { version, shipments })
            .collect(),
        elapsed_seconds: elapsed.as_secs_f64(),
    }
}

fn percent(value: f64) -> String {
    format!("{:.1}", value * 100.0)
}

fn metrics_row(name: &str, metrics: &Metrics, with_revenue: bool) -> Vec<String> {
    let mut row = vec![name.to_owned()];
    row.extend(metrics.precision.iter().map(|&p| percent(p)));
    if with_revenue {
        match &metrics.revenue {
            Some(revenue) => row.extend(revenue.iter().map(|&r| percent(r))),
            None => row.extend(LEVELS.iter().map(|_| "-".to_owned())),
        }
    }
    row.push(metrics.auc.map_or("-".to_owned(), |a| format!("{a:.3}")));
    row
}

impl Report {
    /// The report for people.
    pub fn text(&self) -> String {
        let (l, e, s, r, b) = (
            &self.learning,
            &self.evaluation,
            &self.submitted,
            &self.results,
            &self.read_back,
        );
        let mut text = format!("evaluation of {}\n", self.source);
        text.push_str(&format!(
            "  learning window   {} .. {}: {} declarations, {} outcomes ({} fraud), {} results recorded, {} conflicting\n",
            l.first_day.as_deref().unwrap_or("-"),
            l.until,
            group(l.declarations),
            group(l.with_outcome),
            group(l.frauds),
            group(r.recorded),
            group(r.conflicting)
        ));
        text.push_str(&format!(
            "  evaluation window {} .. {}: {} declarations ({} fraud), outcomes held back\n",
            e.first_day.as_deref().unwrap_or("-"),
            e.until,
            group(e.declarations),
            group(e.frauds)
        ));
        text.push_str(&format!(
            "  submitted: {} accepted, {} duplicate, {} rejected, {} conflicting, {} pending\n",
            group(s.accepted),
            group(s.duplicates),
            group(s.rejected),
            group(s.already_exists),
            group(s.pending)
        ));
        for example in &s.examples {
            text.push_str(&format!("    rejected {example}\n"));
        }
        text.push_str(&format!(
            "  read back: {} of {} ({} by search, {} by get); ranked {}, not assessed {}, already inspected {}, without a reason {}\n",
            group(b.read),
            group(b.expected),
            group(b.via_search),
            group(b.via_get),
            group(b.ranked),
            group(b.not_assessed),
            group(b.already_inspected),
            group(b.without_reason)
        ));
        let versions: Vec<String> = self
            .model_versions
            .iter()
            .map(|v| {
                format!(
                    "{} ({})",
                    if v.version.is_empty() {
                        "none"
                    } else {
                        &v.version
                    },
                    group(v.shipments)
                )
            })
            .collect();
        text.push_str(&format!("  model versions: {}\n", versions.join(", ")));
        text.push_str(&format!(
            "  base rate {}% fraud; {:.0} s\n\n",
            percent(self.base_rate),
            self.elapsed_seconds
        ));

        let with_revenue = self.acx.revenue.is_some() || self.hs6_baseline.revenue.is_some();
        let mut headers = vec!["RANKING".to_owned()];
        headers.extend(LEVELS.iter().map(|n| format!("P@{n}%")));
        if with_revenue {
            headers.extend(LEVELS.iter().map(|n| format!("R@{n}%")));
        }
        headers.push("AUC".to_owned());
        let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
        text.push_str(&table(
            &headers,
            &[
                metrics_row("ACX risk", &self.acx, with_revenue),
                metrics_row("HS6 fraud rate", &self.hs6_baseline, with_revenue),
                metrics_row("random (expected)", &self.random, with_revenue),
            ],
        ));
        if !with_revenue {
            text.push_str("(no revenue@n%: the source carries no recovered revenue)\n");
        }
        text.push('\n');
        let rows: Vec<Vec<String>> = self
            .lanes
            .iter()
            .map(|lane| {
                vec![
                    lane.lane.clone(),
                    group(lane.shipments),
                    format!("{}%", percent(lane.share)),
                    lane.fraud_rate
                        .map_or("-".to_owned(), |f| format!("{}%", percent(f))),
                ]
            })
            .collect();
        text.push_str(&table(&["LANE", "SHIPMENTS", "SHARE", "FRAUD RATE"], &rows));
        text
    }
}
