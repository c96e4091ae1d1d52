//! From a submitted report to what the exchange stores: every field checked (each problem a
//! field violation with its path), identifiers normalised and replaced by keyed hashes,
//! amounts and codes put in canonical form, and a keyed content hash that tells an
//! idempotent retry from a conflicting reuse of the report id.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use acx_domain::{
    codes, gtin, hashing,
    identifiers::{IdentifierKey, Normalization},
    money,
};
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

/// Which normalisation rules a report is prepared under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    /// The version whose rules make the stored form and the content hash: the current one
    /// for new reports; an older one only to recognise a retry of a report stored under it.
    pub version: Normalization,
    /// Older versions whose hashes are added to a profile's identifiers, so that it still
    /// links to profiles stored under them (see `acx_domain::hashing`).
    pub legacy: Vec<Normalization>,
}

impl Default for Rules {
    /// The current version, with every older one as legacy.
    fn default() -> Self {
        Rules {
            version: Normalization::CURRENT,
            legacy: Normalization::CURRENT.older().collect(),
        }
    }
}

/// Why a report cannot be stored, and what else was wrong with it.
#[derive(Debug, Clone)]
pub struct Rejection {
    /// The problems that refuse the report.
    pub violations: Vec<FieldViolation>,
    /// Identifiers that would have been left out (see [`Prepared::warnings`]).
    pub warnings: Vec<FieldViolation>,
}

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
    /// Values left out of the stored report, with why: identifiers that are not valid for
    /// their kind. The rest of the report is stored.
    pub warnings: Vec<FieldViolation>,
}

/// Accumulates violations, each under its field path.
struct Check {
    violations: Vec<FieldViolation>,
    warnings: Vec<FieldViolation>,
    /// The rules' version, for canonical forms that changed with it.
    version: Normalization,
}

impl Check {
    fn fail(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.violations
            .push(FieldViolation::new(field, description));
    }

    fn warn(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.warnings.push(FieldViolation::new(field, description));
    }

    fn text(&mut self, field: &str, value: &str, required: bool, max_chars: usize) {
        self.text_at(|| field.to_owned(), value, required, max_chars);
    }

    /// [`Check::text`] for a field whose path is built only if the value is at fault: most
    /// values are not, and formatting every product's paths was a twentieth of preparing a
    /// report.
    fn text_at(
        &mut self,
        field: impl FnOnce() -> String,
        value: &str,
        required: bool,
        max_chars: usize,
    ) {
        if value.trim().is_empty() {
            if required {
                self.fail(field(), "is required");
            }
        } else if let Some(why) = acx_domain::text::free_text_problem(value, max_chars) {
            self.fail(field(), why);
        }
    }

    fn id(&mut self, field: &str, value: &str) {
        self.id_at(|| field.to_owned(), value);
    }

    /// [`Check::id`] with the path built only if the value is at fault.
    fn id_at(&mut self, field: impl FnOnce() -> String, value: &str) {
        // The character check first: a long id of letters outside ASCII was told it was too
        // long, when no length would do (found by a tester).
        if value.is_empty() {
            self.fail(field(), "is required");
        } else if !value.bytes().all(|b| b.is_ascii_graphic()) {
            self.fail(field(), "must be printable ASCII without spaces");
        } else if value.len() > 128 {
            self.fail(field(), "must be at most 128 characters");
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
            self.fail(format!("{field}.nanos"), "must be 0 to 999999999");
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

    /// Checks a product and puts its codes in canonical form. `keyed`: it needs a code
    /// (a GTIN or the platform's product id), as prices are compared per product; otherwise
    /// (a finding) a brand and a title describe it too, as the contract says.
    fn product(&mut self, path: &str, product: Option<&mut ProductRef>, keyed: bool) {
        let Some(product) = product else {
            self.fail(path, "is required");
            return;
        };
        let coded = !product.gtin.is_empty() || !product.platform_product_id.is_empty();
        let described = !product.brand.trim().is_empty() && !product.title.trim().is_empty();
        if !coded && keyed {
            self.fail(
                path,
                "needs a gtin or a platform_product_id (prices are compared per product)",
            );
        } else if !coded && !described {
            self.fail(
                path,
                "needs a gtin, a platform_product_id, or a brand and a title",
            );
        }
        if !product.gtin.is_empty() {
            match gtin::canonical(&product.gtin) {
                // Before version 2 GTINs were stored as given.
                Ok(canonical) if self.version >= Normalization::V2 => product.gtin = canonical,
                Ok(_) => {}
                Err(reason) => self.fail(format!("{path}.gtin"), reason),
            }
        }
        if !product.platform_product_id.is_empty() {
            self.id_at(
                || format!("{path}.platform_product_id"),
                &product.platform_product_id,
            );
        }
        self.text_at(|| format!("{path}.brand"), &product.brand, false, 200);
        self.text_at(|| format!("{path}.title"), &product.title, false, 500);
        if !product.hs_code.is_empty() {
            match codes::normalize_hs_code(&product.hs_code) {
                Ok(code) => product.hs_code = code,
                Err(reason) => self.fail(format!("{path}.hs_code"), reason),
            }
        }
    }

    /// Checks an amount of money of the time `at` and puts it in canonical form.
    fn money(
        &mut self,
        path: &str,
        value: Option<&mut Money>,
        at: Option<&prost_types::Timestamp>,
    ) {
        let Some(value) = value else {
            self.fail(path, "is required");
            return;
        };
        for (field, why) in money::canonicalize(value, at.map(|t| t.seconds)) {
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
            let named = seller.platform.trim();
            if !named.is_empty() && !named.eq_ignore_ascii_case(platform) {
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
        check.product(
            &format!("counterfeit_finding.products[{i}]"),
            Some(product),
            false,
        );
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
    rules: &Rules,
    now: SystemTime,
) -> Vec<HashedIdentifier> {
    check.seller_id("seller_profile.seller_id", &profile.seller_id);
    // A name is needed, either one (found by a tester: a profile with its legal name only,
    // as a company register gives it, was refused).
    if acx_domain::text::is_blank(&profile.display_name)
        && acx_domain::text::is_blank(&profile.legal_name)
    {
        check.fail(
            "seller_profile.display_name",
            "is required when legal_name is empty: give either name, with a letter or digit",
        );
    }
    check.text(
        "seller_profile.display_name",
        &profile.display_name,
        false,
        200,
    );
    check.text("seller_profile.legal_name", &profile.legal_name, false, 300);
    // `UK` is GB, as forms write it (found by a tester: the whole profile was refused).
    let country = profile.country.trim().to_ascii_uppercase();
    profile.country = codes::country_alias(&country).to_owned();
    if !profile.country.is_empty() && !codes::is_party_country(&profile.country) {
        check.fail(
            "seller_profile.country",
            "must be an ISO 3166-1 alpha-2 code such as CN or DE (or XK, XI)",
        );
    }
    check.time(
        "seller_profile.observe_time",
        profile.observe_time.as_ref(),
        now,
    );

    // Raw identifiers leave the report here: only their keyed hashes are kept. Hashes a
    // caller sends are not taken (ACX hashes under its own key): said, not dropped unseen
    // (found by a tester).
    if !profile.hashed_identifiers.is_empty() {
        check.warn(
            "seller_profile.hashed_identifiers",
            "is set by ACX and ignored on submission: send the raw values in identifiers",
        );
    }
    let raw = profile.identifiers.take().unwrap_or_default();
    let country = (!profile.country.is_empty()).then(|| profile.country.clone());
    let country = country.as_deref();
    if rules.version == Normalization::V1 {
        check_profile_v1(check, profile, &raw, country, key);
        return Vec::new();
    }
    if rules.version != Normalization::CURRENT {
        // A retry of a report stored under an older version: its content as then.
        profile.hashed_identifiers = hashing::hash_as_current_in(rules.version, &raw, country, key);
        return Vec::new();
    }
    let set = hashing::normalize_all(&raw, country, &rules.legacy);
    for (field, reason) in set.too_many {
        check.fail(format!("seller_profile.identifiers.{field}"), reason);
    }
    for (field, reason) in set.invalid {
        check.warn(
            format!("seller_profile.identifiers.{field}"),
            format!("{reason}: left out"),
        );
    }
    let all = hashing::hash_all(&set.normalized, key);
    let (primary, legacy): (Vec<_>, Vec<_>) = all
        .into_iter()
        .partition(|h| h.normalization_version == rules.version.number());
    profile.hashed_identifiers = primary;
    legacy
}

/// A profile's identifiers as version 1 stored them, to recognise a retry of a report
/// stored under it: hashes without a version, and an invalid identifier refusing the report.
fn check_profile_v1(
    check: &mut Check,
    profile: &mut SellerProfile,
    raw: &acx_proto::common::Identifiers,
    country: Option<&str>,
    key: &IdentifierKey,
) {
    let mut hashed = Vec::new();
    for (kind, name, values) in hashing::by_kind(raw) {
        for (i, value) in values.iter().enumerate() {
            match acx_domain::identifiers::normalize_as(Normalization::V1, kind, value, country) {
                Ok(value) => {
                    let mut h = hashing::hashed_one(kind, &value, Normalization::V1, key);
                    h.normalization_version = 0;
                    hashed.push(h);
                }
                Err(reason) => {
                    check.fail(format!("seller_profile.identifiers.{name}[{i}]"), reason)
                }
            }
        }
    }
    hashed.sort_by(|a, b| (a.kind, &a.hash).cmp(&(b.kind, &b.hash)));
    hashed.dedup();
    profile.hashed_identifiers = hashed;
}

fn check_price(check: &mut Check, price: &mut PriceObservation, now: SystemTime) {
    check.seller_id("price_observation.seller_id", &price.seller_id);
    check.product("price_observation.product", price.product.as_mut(), true);
    check.money(
        "price_observation.price",
        price.price.as_mut(),
        price.observe_time.as_ref(),
    );
    check.time(
        "price_observation.observe_time",
        price.observe_time.as_ref(),
        now,
    );
}

fn check_shipment(check: &mut Check, notice: &mut ShipmentNotice, now: SystemTime) {
    check.seller_id("shipment_notice.seller_id", &notice.seller_id);
    match notice.consignment.as_mut() {
        None => check.fail("shipment_notice.consignment", "is required"),
        Some(consignment) => {
            let lists = [
                ("tracking_numbers", consignment.tracking_numbers.len()),
                ("bills_of_lading", consignment.bills_of_lading.len()),
                ("air_waybills", consignment.air_waybills.len()),
            ];
            let mut total = 0;
            for (name, count) in lists {
                total += count;
                check.count(&format!("shipment_notice.consignment.{name}"), count, 0);
            }
            for (path, why) in acx_domain::customs::consignment_problems(consignment) {
                check.fail(format!("shipment_notice.consignment.{path}"), why);
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
        check.product(&format!("{path}.product"), line.product.as_mut(), true);
        if line.quantity <= 0 {
            check.fail(format!("{path}.quantity"), "must be greater than zero");
        }
        check.money(
            &format!("{path}.unit_price"),
            line.unit_price.as_mut(),
            notice.ship_time.as_ref(),
        );
    }
    check.time("shipment_notice.ship_time", notice.ship_time.as_ref(), now);
    // The lines are a set, as the consignment numbers are: stored in one order, so that a
    // retry listing them in another is the same notice (found by a tester: it was
    // ALREADY_EXISTS). Sorted once checked, so the paths name the lines as sent.
    if check.violations.is_empty() {
        notice
            .lines
            .sort_by_cached_key(prost::Message::encode_to_vec);
    }
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

/// Domain separation of content hashes by rules version: a report prepared under version 2
/// never has the content hash of one prepared under version 1 (whose hash, made before
/// versions existed, covers the encoded report alone).
const CONTENT_TAG_V2: &[u8] = b"acx-report-content/normalization-2\0";

/// The content hash of a report's canonical encoding `content` under normalisation
/// `version` and `key` (32 bytes), as stored beside it: a retry with the same hash is the
/// same report.
pub fn content_hash(version: Normalization, key: &IdentifierKey, content: &[u8]) -> Vec<u8> {
    match version {
        Normalization::V1 => key.mac(content).to_vec(),
        _ => key.mac_parts(&[CONTENT_TAG_V2, content]).to_vec(),
    }
}

/// Checks `report` from `platform` and builds its stored form under the current rules with
/// every older version as legacy ([`Rules::default`]), hashing identifiers and content with
/// `key`. Violation paths are relative to the report (`seller_profile.country`).
pub fn prepare(
    report: Report,
    platform: &str,
    key: &IdentifierKey,
    now: SystemTime,
) -> Result<Prepared, Rejection> {
    prepare_with(report, platform, key, &Rules::default(), now)
}

/// [`prepare`] under the given rules.
///
/// The content hash covers the report with its primary identifier hashes only (those of
/// `rules.version`), so that it does not change with the legacy versions configured; the
/// stored report carries the legacy hashes as well.
pub fn prepare_with(
    mut report: Report,
    platform: &str,
    key: &IdentifierKey,
    rules: &Rules,
    now: SystemTime,
) -> Result<Prepared, Rejection> {
    let mut check = Check {
        violations: Vec::new(),
        warnings: Vec::new(),
        version: rules.version,
    };
    check.id("report_id", &report.report_id);
    if let Some(rest) = report
        .report_id
        .strip_prefix(platform)
        .and_then(|rest| rest.strip_prefix('/'))
    {
        // Scoring's evidence names a report `reports/{platform}/{report_id}`, so this id's
        // name would be that of the report `rest` (found by a tester: the evidence of one
        // report opened another).
        check.fail(
            "report_id",
            format!(
                "must not begin with the platform's own id and '/' ({platform}/): \
                 reports/{platform}/{rest} names the report {rest}"
            ),
        );
    }
    let mut retracts = None;
    let mut legacy_hashes = Vec::new();
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
            legacy_hashes = check_profile(&mut check, profile, key, rules, now);
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
        return Err(Rejection {
            violations: check.violations,
            warnings: check.warnings,
        });
    }
    let content = report.encode_to_vec();
    let content_hash = content_hash(rules.version, key, &content);
    let payload = if legacy_hashes.is_empty() {
        content
    } else {
        if let Some(Kind::SellerProfile(profile)) = report.kind.as_mut() {
            profile.hashed_identifiers.extend(legacy_hashes);
            profile
                .hashed_identifiers
                .sort_by(|a, b| (a.kind, &a.hash).cmp(&(b.kind, &b.hash)));
        }
        report.encode_to_vec()
    };
    Ok(Prepared {
        content_hash,
        key_id: key.id().to_owned(),
        report_id: report.report_id,
        kind,
        payload,
        retracts,
        warnings: check.warnings,
    })
}
