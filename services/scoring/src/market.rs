//! The marketplace price index: listing prices per product (GTIN) and the platforms'
//! shipment notices, which declared values are compared with ([`crate::valuation`]). Fed
//! by the platforms' reports; no seller's risk reads it.

use std::collections::HashMap;
use std::sync::Arc;

use acx_domain::rates::ReferenceRates;
use acx_proto::{
    common::Money,
    ingest::{Report, ShipmentNotice, report::Kind},
    scoring::DeclaredShipment,
};

use crate::{
    model::AccountKey,
    valuation::{Reservoir, day_of, usd},
};

/// One line of a shipment notice, as declared lines are compared with it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct NoticeLine {
    /// The product's GTIN (GTIN-14 form when valid; empty when the line has none).
    pub gtin: String,
    /// Its HS code, first 6 digits (empty when the line has none).
    pub hs6: String,
    /// Its unit price in US dollars, when it has one with a reference rate.
    pub unit_usd: Option<f64>,
}

/// A platform shipment notice, as matched by consignment numbers.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct NoticeRef {
    /// The shipping account.
    pub account: AccountKey,
    /// `reports/{platform}/{report_id}`.
    pub name: String,
    /// Its lines.
    pub lines: Vec<NoticeLine>,
}

/// A GTIN as prices are grouped by: its GTIN-14 form, so UPC-A and EAN-13 of a product are
/// one product (ingest stores GTIN-14 since normalisation version 2; older reports on the
/// feed still carry what was submitted).
fn gtin_key(gtin: &str) -> String {
    acx_domain::gtin::canonical(gtin).unwrap_or_else(|_| gtin.to_owned())
}

/// Marketplace prices, fed by the platforms' reports.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct MarketIndex {
    by_gtin: HashMap<String, Reservoir>,
    notices: HashMap<String, NoticeRef>,
    /// Not in snapshots: the replica's configured rates are put back on restore
    /// ([`MarketIndex::set_rates`]).
    #[serde(skip, default = "ReferenceRates::builtin")]
    rates: Arc<ReferenceRates>,
}

impl Default for MarketIndex {
    fn default() -> Self {
        Self::new(ReferenceRates::builtin())
    }
}

impl MarketIndex {
    /// An empty index that puts prices in US dollars with `rates`.
    pub fn new(rates: Arc<ReferenceRates>) -> Self {
        Self {
            by_gtin: HashMap::new(),
            notices: HashMap::new(),
            rates,
        }
    }

    /// Takes a report from the feed of `platform`: price observations and shipment notices
    /// feed the index; other kinds are not its business.
    pub fn observe(&mut self, platform: &str, report: &Report) {
        match &report.kind {
            Some(Kind::PriceObservation(price)) => {
                if let (Some(product), Some(value)) = (&price.product, &price.price) {
                    self.observe_price(&product.gtin, value, price.observe_time.as_ref());
                }
            }
            Some(Kind::ShipmentNotice(notice)) => {
                self.observe_notice(platform, &report.report_id, notice);
            }
            _ => {}
        }
    }

    /// Puts later prices in US dollars with `rates` (those observed so far stay as they are).
    pub fn set_rates(&mut self, rates: Arc<ReferenceRates>) {
        self.rates = rates;
    }

    /// A listing price of a product, observed at `time` (its day's reference rates).
    pub fn observe_price(
        &mut self,
        gtin: &str,
        price: &Money,
        time: Option<&prost_types::Timestamp>,
    ) {
        if let (false, Some(value)) = (gtin.is_empty(), usd(price, &self.rates, day_of(time)))
            && value > 0.0
        {
            self.by_gtin
                .entry(gtin_key(gtin))
                .or_default()
                .push(value.ln());
        }
    }

    /// A shipment notice: its unit prices, and its consignment numbers for matching.
    pub fn observe_notice(&mut self, platform: &str, report_id: &str, notice: &ShipmentNotice) {
        let lines: Vec<NoticeLine> = notice
            .lines
            .iter()
            .map(|line| {
                let product = line.product.clone().unwrap_or_default();
                let day = day_of(notice.ship_time.as_ref());
                let unit = line
                    .unit_price
                    .as_ref()
                    .and_then(|price| usd(price, &self.rates, day));
                if let Some(price) = &line.unit_price {
                    self.observe_price(&product.gtin, price, notice.ship_time.as_ref());
                }
                NoticeLine {
                    gtin: gtin_key(&product.gtin),
                    hs6: product.hs_code.chars().take(6).collect(),
                    unit_usd: unit,
                }
            })
            .collect();
        let notice_ref = NoticeRef {
            account: (platform.to_owned(), notice.seller_id.clone()),
            name: format!("reports/{platform}/{report_id}"),
            lines,
        };
        for number in consignment_numbers(notice.consignment.as_ref()) {
            self.notices.insert(number, notice_ref.clone());
        }
    }

    /// The latest prices of a product (by its GTIN as [`NoticeLine::gtin`] holds it).
    pub fn prices(&self, gtin: &str) -> Option<&Reservoir> {
        self.by_gtin.get(gtin)
    }

    /// The notice sharing a consignment number with `shipment`, if any.
    pub fn matching_notice(&self, shipment: &DeclaredShipment) -> Option<&NoticeRef> {
        consignment_numbers(shipment.consignment.as_ref())
            .iter()
            .find_map(|n| self.notices.get(n))
    }
}

/// Consignment numbers in canonical form ([`acx_domain::codes::consignment_number`]).
pub fn consignment_numbers(
    consignment: Option<&acx_proto::common::ConsignmentNumbers>,
) -> Vec<String> {
    let Some(c) = consignment else {
        return Vec::new();
    };
    c.tracking_numbers
        .iter()
        .chain(&c.bills_of_lading)
        .chain(&c.air_waybills)
        .filter_map(|n| acx_domain::codes::consignment_number(n).ok())
        .collect()
}
