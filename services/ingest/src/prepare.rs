//! From a submitted report to what the exchange stores: every field checked (each problem a
//! field violation with its path), identifiers normalised and replaced by keyed hashes,
//! amounts and codes put in canonical form, and a keyed content hash that tells an
//! idempotent retry from a conflicting reuse of the report id.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use acx_domain::{codes, hashing, identifiers::IdentifierKey, money};
use acx_proto::{
    common::{HashedIdentifier, Money, ProductRef},
    ingest::{
        ActionTaken, CounterfeitFinding, EvidenceType, PriceObservation, Report, ReportKind,
        Retraction, RetractionReason, SellerProfile, ShipmentNotice, Verdict, report::Kind,
    },
};
use acx_runtime::FieldViolation;
use prost::Message;

/// How far in the future a timestamp may be (clock skew between platform and exchange).
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(5 * 60);
/// Earliest accepted observation time (2000-01-01): older ones are typing errors.
const EARLIEST_TIME_SECONDS: i64 = 946_684_800;
/// Most products in a finding, lines in a shipment notice, numbers in a consignment.
const MAX_ITEMS: usize = 1000;

/// A valid report, ready to store.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The platform's report id.
    pub report_id: String,
    /// Which kind of report it is.
    pub kind: ReportKind,
    /// The canonical stored form, encoded.
    pub payload: Vec<u8>,
    /// HMAC-SHA256 of `payload` under `key_id`.
    pub content_hash: Vec<u8>,
    /// The key that hashed the identifiers and the content.
    pub key_id: String,
    /// For a retraction: the report it withdraws.
    pub retracts: Option<String>,
}

/// Accumulates violations, each under its field path.
#[derive(Default)]
struct Check {
    violations: Vec<FieldViolation>,
}

fn has_control_chars(text: &str) -> bool {
    text.chars().any(|c| c.is_control() && c != '\t')
}

impl Check {
    fn fail(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.violations
            .push(FieldViolation::new(field, description));
    }

    fn text(&mut self, field: &str, value: &str, required: bool, max_chars: usize) {
        if value.trim().is_empty() {
            if required {
                self.fail(field, "is required");
            }
        } else if value.chars().count() > max_chars {
            self.fail(field, format!("must be at most {max_chars} characters"));
        } else if has_control_chars(value) {
            self.fail(field, "must not contain control characters");
        }
    }

    fn id(&mut self, field: &str, value: &str) {
        if value.is_empty() {
            self.fail(field, "is required");
        } else if value.len() > 128 {
            self.fail(field, "must be at most 128 characters");
        } else if !value.bytes().all(|b| b.is_ascii_graphic()) {
            self.fail(field, "must be printable ASCII without spaces");
        }
    }

    fn time(&mut self, field: &str, time: Option<&prost_types::Timestamp>, now: SystemTime) {
        let Some(time) = time else {
            self.fail(field, "is required");
            return;
        };
        let latest = now
            .checked_add(MAX_CLOCK_SKEW)
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(i64::MAX, |d| d.as_secs() as i64);
        if !(0..1_000_000_000).contains(&time.nanos) {
            self.fail(field, "has nanos outside 0..999999999");
        } else if time.seconds < EARLIEST_TIME_SECONDS {
            self.fail(field, "must not be before 2000-01-01");
        } else if time.seconds > latest {
            self.fail(field, "must not be in the future");
        }
    }

    /// Checks a required enum: set, and a known value.
    fn choice(&mut self, field: &str, known: bool, unspecified: bool) {
        if !known {
            self.fail(field, "is not a known value");
        } else if unspecified {
            self.fail(field, "is required");
        }
    }

    fn seller_id(&mut self, field: &str, value: &str) {
        self.id(field, value);
    }

    /// Checks a product and puts its codes in canonical form.
    fn product(&mut self, path: &str, product: Option<&mut ProductRef>) {
        let Some(product) = product else {
            self.fail(path, "is required");
            return;
        };
        if product.gtin.is_empty() && product.platform_product_id.is_empty() {
            self.fail(path, "needs a gtin or a platform_product_id");
        }
        if !product.gtin.is_empty()
            && let Some(reason) = codes::gtin_error(&product.gtin)
        {
            self.fail(format!("{path}.gtin"), reason);
        }
        if !product.platform_product_id.is_empty() {
            self.id(
                &format!("{path}.platform_product_id"),
                &product.platform_product_id,
            );
        }
        self.text(&format!("{path}.brand"), &product.brand, false, 200);
        self.text(&format!("{path}.title"), &product.title, false, 500);
        if !product.hs_code.is_empty() {
            match codes::normalize_hs_code(&product.hs_code) {
                Ok(code) => product.hs_code = code,
                Err(reason) => self.fail(format!("{path}.hs_code"), reason),
            }
        }
    }

    /// Checks an amount of money and puts it in canonical form.
    fn money(&mut self, path: &str, value: Option<&mut Money>) {
        let Some(value) = value else {
            self.fail(path, "is required");
            return;
        };
        for (field, why) in money::canonicalize(value) {
            self.fail(format!("{path}.{field}"), why);
        }
    }

    fn count(&mut self, field: &str, len: usize, min: usize) {
        if len < min {
            self.fail(field, format!("needs at least {min}"));
        } else if len > MAX_ITEMS {
            self.fail(field, format!("must have at most {MAX_ITEMS} entries"));
        }
    }
}

fn check_finding(
    check: &mut Check,
    finding: &mut CounterfeitFinding,
    platform: &str,
    now: SystemTime,
) {
    match finding.seller.as_mut() {
        None => check.fail("counterfeit_finding.seller", "is required"),
        Some(seller) => {
            if !seller.platform.is_empty() && seller.platform != platform {
                check.fail(
                    "counterfeit_finding.seller.platform",
                    "must be empty or the calling platform: a platform reports only on its own sellers",
                );
            }
            seller.platform = platform.to_owned();
            check.seller_id("counterfeit_finding.seller.seller_id", &seller.seller_id);
        }
    }
    check.count("counterfeit_finding.products", finding.products.len(), 1);
    for (i, product) in finding.products.iter_mut().enumerate() {
        check.product(&format!("counterfeit_finding.products[{i}]"), Some(product));
    }
    let evidence = EvidenceType::try_from(finding.evidence_type);
    check.choice(
        "counterfeit_finding.evidence_type",
        evidence.is_ok(),
        evidence == Ok(EvidenceType::Unspecified),
    );
    let verdict = Verdict::try_from(finding.verdict);
    check.choice(
        "counterfeit_finding.verdict",
        verdict.is_ok(),
        verdict == Ok(Verdict::Unspecified),
    );
    let action = ActionTaken::try_from(finding.action_taken);
    check.choice(
        "counterfeit_finding.action_taken",
        action.is_ok(),
        action == Ok(ActionTaken::Unspecified),
    );
    check.time(
        "counterfeit_finding.observe_time",
        finding.observe_time.as_ref(),
        now,
    );
    check.text("counterfeit_finding.notes", &finding.notes, false, 2000);
}

fn check_profile(
    check: &mut Check,
    profile: &mut SellerProfile,
    key: &IdentifierKey,
    now: SystemTime,
) {
    check.seller_id("seller_profile.seller_id", &profile.seller_id);
    check.text(
        "seller_profile.display_name",
        &profile.display_name,
        true,
        200,
    );
    check.text("seller_profile.legal_name", &profile.legal_name, false, 300);
    profile.country = profile.country.trim().to_ascii_uppercase();
    if !profile.country.is_empty() && !codes::is_country(&profile.country) {
        check.fail(
            "seller_profile.country",
            "must be an ISO 3166-1 alpha-2 code such as CN or DE",
        );
    }
    check.time(
        "seller_profile.observe_time",
        profile.observe_time.as_ref(),
        now,
    );

    // Raw identifiers leave the report here: only their keyed hashes are kept.
    let raw = profile.identifiers.take().unwrap_or_default();
    let country = (!profile.country.is_empty()).then_some(profile.country.as_str());
    let (normalized, problems) = hashing::normalize_all(&raw, country);
    for (field, reason) in problems {
        check.fail(format!("seller_profile.identifiers.{field}"), reason);
    }
    let mut hashed: Vec<HashedIdentifier> = normalized
        .iter()
        .map(|(kind, value)| hashing::hashed(*kind, value, key))
        .collect();
    hashed.sort_by(|a, b| (a.kind, &a.hash).cmp(&(b.kind, &b.hash)));
    hashed.dedup();
    profile.hashed_identifiers = hashed;
}

fn check_price(check: &mut Check, price: &mut PriceObservation, now: SystemTime) {
    check.seller_id("price_observation.seller_id", &price.seller_id);
    check.product("price_observation.product", price.product.as_mut());
    check.money("price_observation.price", price.price.as_mut());
    check.time(
        "price_observation.observe_time",
        price.observe_time.as_ref(),
        now,
    );
}

fn check_consignment_number(check: &mut Check, field: &str, number: &mut String) {
    let canonical: String = number
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect::<String>()
        .to_ascii_uppercase();
    if canonical.is_empty() {
        check.fail(field, "must not be empty");
    } else if canonical.len() > 64 || !canonical.bytes().all(|b| b.is_ascii_alphanumeric()) {
        check.fail(
            field,
            "must be 1 to 64 letters and digits (spaces and dashes are ignored)",
        );
    }
    *number = canonical;
}

fn check_shipment(check: &mut Check, notice: &mut ShipmentNotice, now: SystemTime) {
    check.seller_id("shipment_notice.seller_id", &notice.seller_id);
    match notice.consignment.as_mut() {
        None => check.fail("shipment_notice.consignment", "is required"),
        Some(consignment) => {
            let lists = [
                ("tracking_numbers", &mut consignment.tracking_numbers),
                ("bills_of_lading", &mut consignment.bills_of_lading),
                ("air_waybills", &mut consignment.air_waybills),
            ];
            let mut total = 0;
            for (name, numbers) in lists {
                total += numbers.len();
                check.count(
                    &format!("shipment_notice.consignment.{name}"),
                    numbers.len(),
                    0,
                );
                for (i, number) in numbers.iter_mut().enumerate() {
                    check_consignment_number(
                        check,
                        &format!("shipment_notice.consignment.{name}[{i}]"),
                        number,
                    );
                }
            }
            if total == 0 {
                check.fail(
                    "shipment_notice.consignment",
                    "needs at least one tracking number, bill of lading or air waybill",
                );
            }
        }
    }
    check.count("shipment_notice.lines", notice.lines.len(), 1);
    for (i, line) in notice.lines.iter_mut().enumerate() {
        let path = format!("shipment_notice.lines[{i}]");
        check.product(&format!("{path}.product"), line.product.as_mut());
        if line.quantity <= 0 {
            check.fail(format!("{path}.quantity"), "must be greater than zero");
        }
        check.money(&format!("{path}.unit_price"), line.unit_price.as_mut());
    }
    check.time("shipment_notice.ship_time", notice.ship_time.as_ref(), now);
}

fn check_retraction(check: &mut Check, retraction: &Retraction, own_id: &str) {
    check.id(
        "retraction.retracted_report_id",
        &retraction.retracted_report_id,
    );
    if retraction.retracted_report_id == own_id {
        check.fail(
            "retraction.retracted_report_id",
            "must name an earlier report, not this one",
        );
    }
    let reason = RetractionReason::try_from(retraction.reason);
    check.choice(
        "retraction.reason",
        reason.is_ok(),
        reason == Ok(RetractionReason::Unspecified),
    );
    check.text("retraction.note", &retraction.note, false, 1000);
}

/// Checks `report` from `platform` and builds its stored form, hashing identifiers and
/// content with `key`. Violation paths are relative to the report (`seller_profile.country`).
pub fn prepare(
    mut report: Report,
    platform: &str,
    key: &IdentifierKey,
    now: SystemTime,
) -> Result<Prepared, Vec<FieldViolation>> {
    let mut check = Check::default();
    check.id("report_id", &report.report_id);
    let mut retracts = None;
    let kind = match report.kind.as_mut() {
        None => {
            check.fail(
                "kind",
                "exactly one of counterfeit_finding, seller_profile, price_observation, shipment_notice or retraction is required",
            );
            ReportKind::Unspecified
        }
        Some(Kind::CounterfeitFinding(finding)) => {
            check_finding(&mut check, finding, platform, now);
            ReportKind::CounterfeitFinding
        }
        Some(Kind::SellerProfile(profile)) => {
            check_profile(&mut check, profile, key, now);
            ReportKind::SellerProfile
        }
        Some(Kind::PriceObservation(price)) => {
            check_price(&mut check, price, now);
            ReportKind::PriceObservation
        }
        Some(Kind::ShipmentNotice(notice)) => {
            check_shipment(&mut check, notice, now);
            ReportKind::ShipmentNotice
        }
        Some(Kind::Retraction(retraction)) => {
            check_retraction(&mut check, retraction, &report.report_id);
            retracts = Some(retraction.retracted_report_id.clone());
            ReportKind::Retraction
        }
    };
    if !check.violations.is_empty() {
        return Err(check.violations);
    }
    let payload = report.encode_to_vec();
    Ok(Prepared {
        content_hash: key.mac(&payload).to_vec(),
        key_id: key.id().to_owned(),
        report_id: report.report_id,
        kind,
        payload,
        retracts,
    })
}
