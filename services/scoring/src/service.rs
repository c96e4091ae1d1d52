//! The gRPC handlers of `acx.scoring.v1.ScoringService`. Risks and the blacklist are
//! served from the model in memory; history and the blacklist's change feed from the
//! database.

use std::sync::Arc;

use acx_domain::{
    hashing,
    identifiers::{IdentifierKeys, Normalization},
};
use acx_proto::scoring::{
    AssessShipmentRequest, AssessShipmentResponse, BatchGetSellerRisksRequest,
    BatchGetSellerRisksResponse, CheckEntityRequest, CheckEntityResponse, DeclaredShipment,
    GetPartyHistoryRequest, GetPartyHistoryResponse, GetSellerRiskRequest, GetSellerRiskResponse,
    ListBlacklistChangesRequest, ListBlacklistChangesResponse, ListBlacklistRequest,
    ListBlacklistResponse, ListSellerRiskHistoryRequest, ListSellerRiskHistoryResponse,
    OutcomeKind, PartyKind, RecordOutcomeRequest, RecordOutcomeResponse,
    scoring_service_server::ScoringService,
};
use acx_runtime::{FieldViolation, validate};
use tonic::{Request, Response, Status};

use crate::{Error, scorer::Scorer, store};

/// Most items per page or batch.
const MAX_PAGE: i64 = 1000;
/// Items per page when the caller does not say.
const DEFAULT_PAGE: i64 = 100;

/// The scoring service.
#[derive(Debug, Clone)]
pub struct Scoring {
    scorer: Arc<Scorer>,
    keys: Option<Arc<IdentifierKeys>>,
}

impl Scoring {
    /// The service over `scorer`; `keys` hash the identifiers of entity checks.
    pub fn new(scorer: Arc<Scorer>, keys: Option<IdentifierKeys>) -> Self {
        Self {
            scorer,
            keys: keys.map(Arc::new),
        }
    }
}

fn page_size(requested: i32, violations: &mut Vec<FieldViolation>) -> i64 {
    match i64::from(requested) {
        0 => DEFAULT_PAGE,
        size if size < 0 => {
            violations.push(FieldViolation::new("page_size", "must not be negative"));
            DEFAULT_PAGE
        }
        size => size.min(MAX_PAGE),
    }
}

fn invalid(violations: Vec<FieldViolation>) -> Result<(), Error> {
    if violations.is_empty() {
        Ok(())
    } else {
        Err(Error::Invalid(violations))
    }
}

/// Checks a declaration and puts its codes in canonical form; violations under `shipment`.
fn validate_shipment(shipment: &mut DeclaredShipment) -> Vec<FieldViolation> {
    let mut violations = Vec::new();
    let mut fail = |field: String, why: &str| {
        violations.push(FieldViolation::new(format!("shipment.{field}"), why))
    };
    for (field, value) in [
        ("declaration_id", &shipment.declaration_id),
        ("authority", &shipment.authority),
    ] {
        if value.trim().is_empty() || value.len() > 128 {
            fail(field.to_owned(), "is required, at most 128 characters");
        }
    }
    shipment.origin_country = shipment.origin_country.trim().to_ascii_uppercase();
    if !shipment.origin_country.is_empty()
        && !acx_domain::codes::is_country(&shipment.origin_country)
    {
        fail(
            "origin_country".to_owned(),
            "must be an ISO 3166-1 alpha-2 code such as CN or DE",
        );
    }
    if let Some(seller) = &shipment.seller
        && (seller.platform.trim().is_empty() || seller.seller_id.trim().is_empty())
    {
        fail(
            "seller".to_owned(),
            "needs both platform and seller_id, or leave it out",
        );
    }
    if shipment.lines.is_empty() || shipment.lines.len() > 1000 {
        fail("lines".to_owned(), "needs 1 to 1000 lines");
    }
    for (i, line) in shipment.lines.iter_mut().enumerate() {
        match acx_domain::codes::normalize_hs_code(&line.hs_code) {
            Ok(code) => line.hs_code = code,
            Err(why) => fail(format!("lines[{i}].hs_code"), &why),
        }
        if !(line.quantity > 0.0 && line.quantity.is_finite()) {
            fail(format!("lines[{i}].quantity"), "must be greater than zero");
        }
        if !(line.net_mass_kg > 0.0 && line.net_mass_kg.is_finite()) {
            fail(
                format!("lines[{i}].net_mass_kg"),
                "must be greater than zero",
            );
        }
        match &line.declared_value {
            None => fail(format!("lines[{i}].declared_value"), "is required"),
            Some(value)
                if acx_domain::money::usd_per_unit(&value.currency_code.to_ascii_uppercase())
                    .is_none() =>
            {
                fail(
                    format!("lines[{i}].declared_value.currency_code"),
                    "has no reference rate: use a major ISO 4217 currency",
                )
            }
            Some(value) if acx_domain::money::parse_amount_micros(&value.amount).is_err() => fail(
                format!("lines[{i}].declared_value.amount"),
                "must be a non-negative decimal such as 1250.00",
            ),
            Some(_) => {}
        }
    }
    violations
}

/// Opaque page tokens: hex of a tagged text, checked on the way back in.
fn encode_token(text: &str) -> String {
    hex::encode(text)
}

fn decode_token(token: &str, prefix: &str) -> Result<String, Error> {
    hex::decode(token)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.strip_prefix(prefix).map(str::to_owned))
        .ok_or_else(|| {
            Error::Invalid(vec![FieldViolation::new(
                "page_token",
                "is not a token this service issued for this request",
            )])
        })
}

#[tonic::async_trait]
impl ScoringService for Scoring {
    async fn get_seller_risk(
        &self,
        request: Request<GetSellerRiskRequest>,
    ) -> Result<Response<GetSellerRiskResponse>, Status> {
        let request = request.into_inner();
        let model = self.scorer.read().await;
        let risk = match (&request.seller, request.cluster_id.trim()) {
            (Some(_), "") => {
                invalid(validate::seller_ref(request.seller.as_ref(), "seller"))?;
                let seller = request.seller.unwrap_or_default();
                model
                    .risk(&(seller.platform.clone(), seller.seller_id.clone()))
                    .cloned()
                    .ok_or_else(|| {
                        Error::NotFound(format!(
                            "the exchange knows nothing of seller {}/{}",
                            seller.platform, seller.seller_id
                        ))
                    })?
            }
            (None, cluster_id) if !cluster_id.is_empty() => model
                .cluster_risk(cluster_id)
                .cloned()
                .ok_or_else(|| Error::NotFound(format!("no cluster {cluster_id}")))?,
            _ => {
                return Err(Error::Invalid(vec![FieldViolation::new(
                    "seller",
                    "set exactly one of seller or cluster_id",
                )])
                .into());
            }
        };
        Ok(Response::new(GetSellerRiskResponse { risk: Some(risk) }))
    }

    async fn batch_get_seller_risks(
        &self,
        request: Request<BatchGetSellerRisksRequest>,
    ) -> Result<Response<BatchGetSellerRisksResponse>, Status> {
        let sellers = request.into_inner().sellers;
        let mut violations = Vec::new();
        if sellers.is_empty() || sellers.len() as i64 > MAX_PAGE {
            violations.push(FieldViolation::new(
                "sellers",
                format!("needs 1 to {MAX_PAGE} sellers"),
            ));
        }
        for (i, seller) in sellers.iter().enumerate() {
            violations.extend(validate::seller_ref(Some(seller), &format!("sellers[{i}]")));
        }
        invalid(violations)?;
        let model = self.scorer.read().await;
        let mut response = BatchGetSellerRisksResponse::default();
        for seller in sellers {
            match model.risk(&(seller.platform.clone(), seller.seller_id.clone())) {
                Some(risk) => response.risks.push(risk.clone()),
                None => response.not_found.push(seller),
            }
        }
        Ok(Response::new(response))
    }

    async fn list_seller_risk_history(
        &self,
        request: Request<ListSellerRiskHistoryRequest>,
    ) -> Result<Response<ListSellerRiskHistoryResponse>, Status> {
        let request = request.into_inner();
        let mut violations = validate::seller_ref(request.seller.as_ref(), "seller");
        let limit = page_size(request.page_size, &mut violations);
        invalid(violations)?;
        let seller = request.seller.unwrap_or_default();
        let prefix = format!("h1:{}/{}:", seller.platform, seller.seller_id);
        let before = if request.page_token.is_empty() {
            i64::MAX
        } else {
            decode_token(&request.page_token, &prefix)?
                .parse()
                .map_err(|_| {
                    Error::Invalid(vec![FieldViolation::new("page_token", "is malformed")])
                })?
        };
        let rows = store::history(self.scorer.database(), &seller, before, limit + 1).await?;
        let more = rows.len() as i64 > limit;
        let rows: Vec<_> = rows.into_iter().take(limit as usize).collect();
        let next_page_token = match rows.last() {
            Some((id, _)) if more => encode_token(&format!("{prefix}{id}")),
            _ => String::new(),
        };
        Ok(Response::new(ListSellerRiskHistoryResponse {
            changes: rows.into_iter().map(|(_, change)| change).collect(),
            next_page_token,
        }))
    }

    async fn list_blacklist(
        &self,
        request: Request<ListBlacklistRequest>,
    ) -> Result<Response<ListBlacklistResponse>, Status> {
        let request = request.into_inner();
        let mut violations = Vec::new();
        let limit = page_size(request.page_size, &mut violations);
        invalid(violations)?;
        // The cursor is taken before the page is read: changes after it may already show in
        // the page, and replaying them is harmless for a copy kept by account.
        let (cursor, after) = if request.page_token.is_empty() {
            (
                store::blacklist_head(self.scorer.database())
                    .await
                    .map_err(Error::from)?,
                None,
            )
        } else {
            let text = decode_token(&request.page_token, "b1:")?;
            let mut parts = text.splitn(3, '\u{1f}');
            match (
                parts.next().and_then(|c| c.parse().ok()),
                parts.next(),
                parts.next(),
            ) {
                (Some(cursor), Some(platform), Some(seller)) => {
                    (cursor, Some((platform.to_owned(), seller.to_owned())))
                }
                _ => {
                    return Err(Error::Invalid(vec![FieldViolation::new(
                        "page_token",
                        "is malformed",
                    )])
                    .into());
                }
            }
        };
        let model = self.scorer.read().await;
        let mut entries = model.blacklist_page(after.as_ref(), limit as usize + 1);
        let more = entries.len() as i64 > limit;
        entries.truncate(limit as usize);
        let next_page_token = match entries.last().and_then(|e| e.seller.as_ref()) {
            Some(last) if more => encode_token(&format!(
                "b1:{cursor}\u{1f}{}\u{1f}{}",
                last.platform, last.seller_id
            )),
            _ => String::new(),
        };
        Ok(Response::new(ListBlacklistResponse {
            entries,
            next_page_token,
            changes_cursor: cursor,
        }))
    }

    async fn check_entity(
        &self,
        request: Request<CheckEntityRequest>,
    ) -> Result<Response<CheckEntityResponse>, Status> {
        let request = request.into_inner();
        let identifiers = request.identifiers.unwrap_or_default();
        let country = request.country.trim().to_ascii_uppercase();
        let mut violations = Vec::new();
        if !country.is_empty() && !acx_domain::codes::is_country(&country) {
            violations.push(FieldViolation::new(
                "country",
                "must be an ISO 3166-1 alpha-2 code such as CN or DE",
            ));
        }
        if !(0..=100).contains(&request.max_matches) {
            violations.push(FieldViolation::new(
                "max_matches",
                "must be between 1 and 100 (0 for 10)",
            ));
        }
        if request.name.chars().count() > 300 {
            violations.push(FieldViolation::new(
                "name",
                "must be at most 300 characters",
            ));
        }
        // Every older version too: matching profiles stored under it costs a few hashes.
        let legacy: Vec<Normalization> = Normalization::CURRENT.older().collect();
        let set = hashing::normalize_all(
            &identifiers,
            (!country.is_empty()).then_some(country.as_str()),
            &legacy,
        );
        violations.extend(
            set.too_many
                .into_iter()
                .chain(set.invalid)
                .map(|(field, why)| FieldViolation::new(format!("identifiers.{field}"), why)),
        );
        if request.name.trim().is_empty() && set.normalized.is_empty() && violations.is_empty() {
            violations.push(FieldViolation::new(
                "name",
                "give a name or at least one identifier",
            ));
        }
        invalid(violations)?;
        let hashed: Vec<(i32, String, u32)> = match (&self.keys, set.normalized.is_empty()) {
            (_, true) => Vec::new(),
            (None, false) => {
                return Err(acx_runtime::error::status_with_reason(
                    tonic::Code::FailedPrecondition,
                    "this scoring server has no identifier keys: it can match names only",
                    "NO_IDENTIFIER_KEYS",
                ));
            }
            // Under every key, so that accounts hashed before a rotation match too.
            (Some(keys), false) => keys
                .all()
                .iter()
                .flat_map(|key| hashing::hash_all(&set.normalized, key))
                .map(|h| (h.kind, h.hash, h.normalization_version))
                .collect(),
        };
        let limit = if request.max_matches == 0 {
            10
        } else {
            request.max_matches as usize
        };
        let matches = self
            .scorer
            .read()
            .await
            .check_entity(&request.name, &hashed, limit);
        Ok(Response::new(CheckEntityResponse { matches }))
    }

    async fn assess_shipment(
        &self,
        request: Request<AssessShipmentRequest>,
    ) -> Result<Response<AssessShipmentResponse>, Status> {
        let request = request.into_inner();
        let mut shipment = request.shipment.unwrap_or_default();
        invalid(validate_shipment(&mut shipment))?;
        let assessment = self.scorer.assess(&shipment, request.record).await?;
        Ok(Response::new(AssessShipmentResponse {
            assessment: Some(assessment),
        }))
    }

    async fn record_outcome(
        &self,
        request: Request<RecordOutcomeRequest>,
    ) -> Result<Response<RecordOutcomeResponse>, Status> {
        let request = request.into_inner();
        let mut violations = Vec::new();
        for (field, value) in [
            ("authority", &request.authority),
            ("declaration_id", &request.declaration_id),
        ] {
            if value.trim().is_empty() {
                violations.push(FieldViolation::new(field, "is required"));
            }
        }
        match OutcomeKind::try_from(request.kind) {
            Ok(OutcomeKind::Unspecified) => {
                violations.push(FieldViolation::new("kind", "is required"))
            }
            Err(_) => violations.push(FieldViolation::new("kind", "is not a known outcome")),
            Ok(_) => {}
        }
        invalid(violations)?;
        let recorded = self.scorer.record_outcome(request).await?;
        Ok(Response::new(RecordOutcomeResponse { recorded }))
    }

    async fn get_party_history(
        &self,
        request: Request<GetPartyHistoryRequest>,
    ) -> Result<Response<GetPartyHistoryResponse>, Status> {
        let request = request.into_inner();
        let label = match PartyKind::try_from(request.kind) {
            Ok(PartyKind::Importer) => "importer",
            Ok(PartyKind::Declarant) => "declarant",
            Ok(PartyKind::Origin) => "origin",
            Ok(PartyKind::Office) => "office",
            Ok(PartyKind::HsCode) => "hs",
            _ => {
                return Err(
                    Error::Invalid(vec![FieldViolation::new("kind", "is required")]).into(),
                );
            }
        };
        if request.id.trim().is_empty() {
            return Err(Error::Invalid(vec![FieldViolation::new("id", "is required")]).into());
        }
        let (inspections, frauds, smoothed_rate, base_rate) = self
            .scorer
            .party_history(label, &request.id)
            .await
            .ok_or_else(|| {
                Error::NotFound(format!("no recorded inspection of {label} {}", request.id))
            })?;
        Ok(Response::new(GetPartyHistoryResponse {
            inspections: inspections as i64,
            frauds: frauds as i64,
            smoothed_rate,
            base_rate,
        }))
    }

    async fn list_blacklist_changes(
        &self,
        request: Request<ListBlacklistChangesRequest>,
    ) -> Result<Response<ListBlacklistChangesResponse>, Status> {
        let request = request.into_inner();
        let mut violations = Vec::new();
        if request.after_cursor < 0 {
            violations.push(FieldViolation::new("after_cursor", "must not be negative"));
        }
        let limit = page_size(request.page_size, &mut violations);
        invalid(violations)?;
        let changes =
            store::blacklist_changes(self.scorer.database(), request.after_cursor, limit).await?;
        let next_cursor = changes.last().map_or(request.after_cursor, |c| c.cursor);
        Ok(Response::new(ListBlacklistChangesResponse {
            changes,
            next_cursor,
        }))
    }
}
