//! What the targeting model sees of a declaration: its categorical fields with their
//! inspection record so far (smoothed fraud rates, counts, recency), label-free statistics
//! (how often a party declared, how its value per kg compares), the declared numbers, and
//! what the exchange knows of the seller behind it.
//!
//! The same [`Stats`] serve live assessments (every outcome recorded so far) and the
//! training replay (outcomes inspected before each declaration), so what the model learns
//! from is computed exactly as what it is later asked about.

use std::collections::{BTreeMap, HashMap};

use acx_domain::rates::{ReferenceRates, day_of};
use acx_proto::scoring::DeclaredShipment;
use serde::{Deserialize, Serialize};

use crate::valuation::usd;

/// The key of an empty id (no carrier, no consignor): its own category.
pub const MISSING: &str = "∅";

/// Weight of the parent's rate in a smoothed rate: a key with `n` outcomes of which `f`
/// found fraud has rate `(f + M * parent) / (n + M)`. One imaginary inspection was best of
/// 0.5, 1, 2 and 5 on the development data's learning window (docs/targeting.md).
const SMOOTHING: f64 = 1.0;

/// "Never" for the days since an event: far beyond any useful horizon.
const NEVER_DAYS: f64 = 9999.0;

/// A categorical field whose outcome statistics are kept: its name (in feature names),
/// the field its rate is smoothed towards (none: the overall rate) and the words an officer
/// reads.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    /// Name, e.g. "hs6_origin".
    pub name: &'static str,
    /// Parent field, computed first.
    pub parent: Option<&'static str>,
    /// Label in reasons, e.g. "HS code and origin".
    pub label: &'static str,
}

const fn field(name: &'static str, parent: Option<&'static str>, label: &'static str) -> Field {
    Field {
        name,
        parent,
        label,
    }
}

/// The standard fields, parents before children. National codes (`code:<scheme>`) are
/// added per model, for the schemes its training data carries.
pub const FIELDS: &[Field] = &[
    field("importer", None, "importer"),
    field("declarant", None, "declarant"),
    field("consignor", None, "consignor"),
    field("carrier", None, "carrier"),
    field("office", None, "customs office"),
    field("hs2", None, "HS chapter"),
    field("hs4", Some("hs2"), "HS heading"),
    field("hs6", Some("hs4"), "HS subheading"),
    field("origin", None, "origin"),
    field("departure", None, "departure country"),
    field("transport", None, "transport mode"),
    field("procedure", None, "procedure"),
    field("hs6_origin", Some("hs6"), "HS subheading from origin"),
    field(
        "hs6_departure",
        Some("hs6"),
        "HS subheading from departure country",
    ),
    field("hs4_origin", Some("hs4"), "HS heading from origin"),
    field("importer_hs2", Some("importer"), "importer in HS chapter"),
    field(
        "consignor_hs6",
        Some("consignor"),
        "consignor in HS subheading",
    ),
];

/// Parties whose recency (days since their last outcome, last fraud) is a feature.
const RECENCY: &[&str] = &["importer", "declarant", "consignor"];
/// Keys whose declarations are counted whether inspected or not.
const SEEN: &[&str] = &["importer", "declarant", "consignor", "hs6", "hs6_origin"];
/// Keys against whose declared values per kg a declaration is compared.
const VALUE_PEERS: &[&str] = &["importer", "hs6", "hs6_origin"];

/// The field of a national code scheme, e.g. `code:kr.import_type`.
pub fn code_field(scheme: &str) -> String {
    format!("code:{scheme}")
}

/// What a declaration carries, reduced to what the model reads.
#[derive(Debug, Clone, Default)]
pub struct Declared {
    /// The declaring authority.
    pub authority: String,
    /// Declaration time, days since 1970-01-01 (fractional).
    pub day: f64,
    /// Categorical field → value (standard fields and national codes).
    pub keys: BTreeMap<String, String>,
    /// Total declared value, US dollars; `None` when a currency has no reference rate.
    pub value_usd: Option<f64>,
    /// Total net mass, kg.
    pub net_mass_kg: f64,
    /// Duty rate of the most valuable line, a fraction.
    pub duty_rate: f64,
    /// Lines declared.
    pub lines: usize,
}

fn or_missing(value: &str) -> String {
    if value.trim().is_empty() {
        MISSING.to_owned()
    } else {
        value.trim().to_owned()
    }
}

impl Declared {
    /// Reads a (validated) declaration; values are put in US dollars at the reference rates
    /// of its declaration day.
    pub fn read(shipment: &DeclaredShipment, rates: &ReferenceRates) -> Self {
        let seconds = shipment.declaration_time.as_ref().map_or(0, |t| t.seconds);
        let day = day_of(seconds);
        let values: Vec<Option<f64>> = shipment
            .lines
            .iter()
            .map(|l| l.declared_value.as_ref().and_then(|v| usd(v, rates, day)))
            .collect();
        let primary = (0..shipment.lines.len())
            .max_by(|&a, &b| {
                values[a]
                    .unwrap_or(0.0)
                    .total_cmp(&values[b].unwrap_or(0.0))
                    .then(b.cmp(&a))
            })
            .map(|i| &shipment.lines[i]);
        let hs: String = primary
            .map(|l| {
                l.hs_code
                    .chars()
                    .filter(char::is_ascii_digit)
                    .take(6)
                    .collect()
            })
            .unwrap_or_default();
        let hs = if hs.len() == 6 {
            hs
        } else {
            MISSING.to_owned()
        };
        let cut = |n: usize| hs.get(..n).unwrap_or(MISSING).to_owned();
        let origin = or_missing(&shipment.origin_country);
        let departure = or_missing(&shipment.departure_country);
        let importer = or_missing(&shipment.importer_id);
        let consignor = or_missing(&shipment.consignor_id);
        let mut keys = BTreeMap::new();
        let mut put = |name: &str, value: String| {
            keys.insert(name.to_owned(), value);
        };
        put("importer", importer.clone());
        put("declarant", or_missing(&shipment.declarant_id));
        put("consignor", consignor.clone());
        put("carrier", or_missing(&shipment.carrier_id));
        put("office", or_missing(&shipment.customs_office));
        put("hs2", cut(2));
        put("hs4", cut(4));
        put("hs6", hs.clone());
        put("origin", origin.clone());
        put("departure", departure.clone());
        put("transport", shipment.transport_mode.to_string());
        put("procedure", shipment.procedure.to_string());
        put("hs6_origin", format!("{hs}|{origin}"));
        put("hs6_departure", format!("{hs}|{departure}"));
        put("hs4_origin", format!("{}|{origin}", cut(4)));
        put("importer_hs2", format!("{importer}|{}", cut(2)));
        put("consignor_hs6", format!("{consignor}|{hs}"));
        let codes = shipment
            .national_codes
            .iter()
            .chain(primary.into_iter().flat_map(|l| &l.national_codes));
        for code in codes {
            if !code.scheme.is_empty() {
                keys.entry(code_field(&code.scheme))
                    .or_insert_with(|| or_missing(&code.code));
            }
        }
        let value_usd = values.iter().copied().sum::<Option<f64>>();
        Self {
            authority: shipment.authority.clone(),
            day: seconds as f64 / 86_400.0,
            keys,
            value_usd,
            net_mass_kg: shipment.lines.iter().map(|l| l.net_mass_kg.max(0.0)).sum(),
            duty_rate: primary.map_or(0.0, |l| l.duty_rate),
            lines: shipment.lines.len(),
        }
    }

    /// ln(value per kg) in US dollars, when both are known and positive.
    fn log_value_per_kg(&self) -> Option<f64> {
        match self.value_usd {
            Some(v) if v > 0.0 && self.net_mass_kg > 0.0 => Some((v / self.net_mass_kg).ln()),
            _ => None,
        }
    }
}

/// What the exchange knew of the seller behind a declaration when it was assessed.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Context {
    /// Strength of the strongest declared-value anomaly of the rules, 0 to 1.
    pub value_anomaly: f64,
    /// The linked seller's risk, 0 to 1, when the exchange knows the seller.
    pub seller_risk: Option<f64>,
    /// Whether that seller is on the blacklist.
    pub seller_listed: bool,
    /// Strength of the strongest anomaly against the platforms' own prices, 0 to 1: not a
    /// feature (customs outcomes rarely come with a platform's price, so the trees could
    /// not learn it) but a floor under the model's risk, see [`super::Targeting::apply`].
    pub market_anomaly: f64,
}

/// The inspection record of one key.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Record {
    /// Outcomes recorded.
    pub inspections: u32,
    /// Of which found fraud.
    pub frauds: u32,
    /// Day of the last outcome.
    pub last: f64,
    /// Day of the last fraud, NaN when none.
    pub last_fraud: f64,
}

/// Declarations seen of one key, inspected or not.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct Seen {
    count: u32,
    first: f64,
    /// Welford moments of ln(value per kg).
    values: u32,
    mean: f64,
    m2: f64,
}

fn stat_key(field: &str, value: &str) -> String {
    format!("{field}\u{1f}{value}")
}

/// What one [`Stats::see_undoable`] changed: each key's entry before it.
#[derive(Debug)]
pub struct Undo(Vec<(String, Option<Seen>)>);

/// Outcome and declaration statistics per key, updated as declarations and outcomes arrive
/// (part of each replica's state, so in snapshots).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Stats {
    records: HashMap<String, Record>,
    seen: HashMap<String, Seen>,
    inspections: u64,
    frauds: u64,
}

impl Stats {
    /// Counts a declaration (label-free statistics). Call after computing its features.
    pub fn see(&mut self, declared: &Declared) {
        self.see_undoable(declared);
    }

    /// [`Stats::see`], returning what [`Stats::undo`] needs to take it back exactly: a
    /// batch of declarations is assessed as if they arrived one after another (as the
    /// training replay reads them), then the counts are left to the history entries.
    pub fn see_undoable(&mut self, declared: &Declared) -> Undo {
        let mut undo = Undo(Vec::new());
        let lv = declared.log_value_per_kg();
        for name in SEEN {
            let Some(value) = declared.keys.get(*name) else {
                continue;
            };
            let key = stat_key(name, value);
            undo.0.push((key.clone(), self.seen.get(&key).copied()));
            let seen = self.seen.entry(key).or_insert(Seen {
                first: declared.day,
                ..Seen::default()
            });
            seen.count += 1;
            seen.first = seen.first.min(declared.day);
            if let Some(lv) = lv {
                seen.values += 1;
                let delta = lv - seen.mean;
                seen.mean += delta / f64::from(seen.values);
                seen.m2 += delta * (lv - seen.mean);
            }
        }
        undo
    }

    /// Takes back what [`Stats::see_undoable`] counted (undo the latest first).
    pub fn undo(&mut self, undo: Undo) {
        for (key, before) in undo.0.into_iter().rev() {
            match before {
                Some(before) => {
                    self.seen.insert(key, before);
                }
                None => {
                    self.seen.remove(&key);
                }
            }
        }
    }

    /// Counts an inspection outcome of `declared`, inspected on `day`.
    pub fn record(&mut self, declared: &Declared, fraud: bool, day: f64) {
        self.inspections += 1;
        self.frauds += u64::from(fraud);
        for (field, value) in &declared.keys {
            let record = self
                .records
                .entry(stat_key(field, value))
                .or_insert(Record {
                    inspections: 0,
                    frauds: 0,
                    last: day,
                    last_fraud: f64::NAN,
                });
            record.inspections += 1;
            record.last = record.last.max(day);
            if fraud {
                record.frauds += 1;
                record.last_fraud = if record.last_fraud.is_nan() {
                    day
                } else {
                    record.last_fraud.max(day)
                };
            }
        }
    }

    /// Outcomes recorded, and of which found fraud.
    pub fn totals(&self) -> (u64, u64) {
        (self.inspections, self.frauds)
    }

    /// The overall fraud rate, with one imaginary fraud in five so it is defined at start.
    pub fn overall_rate(&self) -> f64 {
        (self.frauds as f64 + 1.0) / (self.inspections as f64 + 5.0)
    }

    /// The inspection record of a field's value.
    pub fn record_of(&self, field: &str, value: &str) -> Option<Record> {
        self.records.get(&stat_key(field, value)).copied()
    }

    /// Declarations seen with a field's value.
    pub fn seen_count(&self, field: &str, value: &str) -> u32 {
        self.seen
            .get(&stat_key(field, value))
            .map_or(0, |s| s.count)
    }

    /// Smoothed fraud rates of every field of `declared`, parents first.
    pub fn rates(&self, declared: &Declared) -> HashMap<String, f64> {
        let overall = self.overall_rate();
        let mut rates: HashMap<String, f64> = HashMap::new();
        let parent_of = |name: &str| {
            FIELDS
                .iter()
                .find(|f| f.name == name)
                .and_then(|f| f.parent)
        };
        // Standard fields in their order (parents first), then national codes.
        let names = FIELDS.iter().map(|f| f.name.to_owned()).chain(
            declared
                .keys
                .keys()
                .filter(|k| k.starts_with("code:"))
                .cloned(),
        );
        for name in names {
            let Some(value) = declared.keys.get(&name) else {
                continue;
            };
            let prior = parent_of(&name)
                .and_then(|p| rates.get(p).copied())
                .unwrap_or(overall);
            let rate = match self.record_of(&name, value) {
                Some(r) => {
                    (f64::from(r.frauds) + SMOOTHING * prior)
                        / (f64::from(r.inspections) + SMOOTHING)
                }
                None => prior,
            };
            rates.insert(name, rate);
        }
        rates
    }
}

/// The features of one model, in order: built from the standard fields and the national code
/// schemes its training data carried.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeatureSpace {
    /// Categorical fields with a fraud rate and an outcome count each.
    pub fields: Vec<String>,
}

/// Names of the numeric features, after the fields'.
const NUMERIC: &[&str] = &[
    "value_usd_log",
    "net_mass_kg_log",
    "value_per_kg_log",
    "duty_rate",
    "duty_at_stake_usd_log",
    "zero_value",
    "zero_mass",
    "lines",
    "value_anomaly",
    "seller.risk",
    "seller.blacklisted",
];

impl FeatureSpace {
    /// The standard fields plus national code schemes (`kr.import_type`, ...).
    pub fn new(code_schemes: &[String]) -> Self {
        let mut fields: Vec<String> = FIELDS.iter().map(|f| f.name.to_owned()).collect();
        fields.extend(code_schemes.iter().map(|s| code_field(s)));
        Self { fields }
    }

    /// Feature names, in vector order.
    pub fn names(&self) -> Vec<String> {
        let mut names = Vec::new();
        for field in &self.fields {
            names.push(format!("{field}.fraud_rate"));
            names.push(format!("{field}.outcomes_log"));
        }
        for party in RECENCY {
            names.push(format!("{party}.days_since_outcome"));
            names.push(format!("{party}.days_since_fraud"));
        }
        for key in SEEN {
            names.push(format!("{key}.declarations_log"));
        }
        for key in VALUE_PEERS {
            names.push(format!("{key}.value_per_kg_z"));
        }
        names.push("importer.days_known".to_owned());
        names.extend(NUMERIC.iter().map(|s| (*s).to_owned()));
        names
    }

    /// The feature vector of `declared` from `stats` (missing values are NaN).
    pub fn vector(&self, declared: &Declared, context: &Context, stats: &Stats) -> Vec<f64> {
        self.vector_with(declared, context, stats, false)
    }

    /// The feature vector of a declaration `stats` has already seen (a re-assessment): its
    /// own declaration is taken out of the label-free statistics, so it reads as when it
    /// arrived.
    pub fn vector_seen(&self, declared: &Declared, context: &Context, stats: &Stats) -> Vec<f64> {
        self.vector_with(declared, context, stats, true)
    }

    fn vector_with(
        &self,
        declared: &Declared,
        context: &Context,
        stats: &Stats,
        own: bool,
    ) -> Vec<f64> {
        let own_count = u32::from(own);
        let rates = stats.rates(declared);
        let overall = stats.overall_rate();
        let mut x = Vec::with_capacity(self.fields.len() * 2 + 40);
        for field in &self.fields {
            let value = declared.keys.get(field);
            x.push(
                value
                    .and_then(|_| rates.get(field).copied())
                    .unwrap_or(overall),
            );
            let n = value
                .and_then(|v| stats.record_of(field, v))
                .map_or(0, |r| r.inspections);
            x.push(f64::from(n).ln_1p());
        }
        for party in RECENCY {
            let record = declared
                .keys
                .get(*party)
                .and_then(|v| stats.record_of(party, v));
            let since = |day: f64| {
                if day.is_nan() {
                    NEVER_DAYS
                } else {
                    (declared.day - day).max(0.0)
                }
            };
            x.push(record.map_or(NEVER_DAYS, |r| since(r.last)));
            x.push(record.map_or(NEVER_DAYS, |r| since(r.last_fraud)));
        }
        for key in SEEN {
            let count = declared
                .keys
                .get(*key)
                .map_or(0, |v| stats.seen_count(key, v).saturating_sub(own_count));
            x.push(f64::from(count).ln_1p());
        }
        let lv = declared.log_value_per_kg();
        for key in VALUE_PEERS {
            let seen = declared
                .keys
                .get(*key)
                .and_then(|v| stats.seen.get(&stat_key(key, v)));
            let moments = match (lv, seen) {
                (Some(lv), Some(s)) if own && s.values > 0 => without(s, lv),
                (_, Some(s)) => Some((s.values, s.mean, s.m2)),
                _ => None,
            };
            x.push(match (lv, moments) {
                (Some(lv), Some((n, mean, m2))) if n >= 2 => {
                    let sd = (m2.max(0.0) / f64::from(n - 1)).sqrt();
                    (lv - mean) / sd.max(0.1)
                }
                _ => f64::NAN,
            });
        }
        let first = declared
            .keys
            .get("importer")
            .and_then(|v| stats.seen.get(&stat_key("importer", v)))
            .filter(|s| s.count > own_count)
            .map(|s| s.first);
        x.push(first.map_or(-1.0, |f| (declared.day - f).max(0.0)));
        let value = declared.value_usd;
        x.push(value.map_or(f64::NAN, |v| v.max(0.0).ln_1p()));
        x.push(declared.net_mass_kg.ln_1p());
        x.push(lv.unwrap_or(f64::NAN));
        x.push(declared.duty_rate);
        x.push(value.map_or(f64::NAN, |v| (v.max(0.0) * declared.duty_rate).ln_1p()));
        x.push(value.map_or(f64::NAN, |v| f64::from(u8::from(v <= 0.0))));
        x.push(f64::from(u8::from(declared.net_mass_kg <= 0.0)));
        x.push(declared.lines as f64);
        x.push(context.value_anomaly);
        x.push(context.seller_risk.unwrap_or(f64::NAN));
        x.push(f64::from(u8::from(context.seller_listed)));
        x
    }
}

/// Welford moments (n, mean, M2) with one value `x` taken out again.
fn without(seen: &Seen, x: f64) -> Option<(u32, f64, f64)> {
    let n = seen.values;
    if n <= 1 {
        return Some((0, 0.0, 0.0));
    }
    let mean = (f64::from(n) * seen.mean - x) / f64::from(n - 1);
    let m2 = seen.m2 - (x - mean) * (x - seen.mean);
    Some((n - 1, mean, m2))
}

/// The field a feature name belongs to (`importer.fraud_rate` → `importer`), or the
/// feature itself for numeric ones.
pub fn feature_group(name: &str) -> &str {
    name.rsplit_once('.').map_or(name, |(group, _)| group)
}

/// The words for a field, e.g. "HS subheading from origin".
pub fn field_label(field: &str) -> String {
    FIELDS
        .iter()
        .find(|f| f.name == field)
        .map(|f| f.label.to_owned())
        .unwrap_or_else(|| match field.strip_prefix("code:") {
            Some(scheme) => format!("national code {scheme}"),
            None => field.to_owned(),
        })
}
