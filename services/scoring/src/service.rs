//! The gRPC handlers of `acx.scoring.v1.ScoringService`. Risks and the blacklist are
//! served from the model in memory; history and the blacklist's change feed from the
//! database. Every answer carries the history position it reflects (`positions.rs`).

use std::sync::Arc;

use acx_domain::{hashing, identifiers::IdentifierKeys};
use acx_proto::scoring::{
    AssessShipmentRequest, AssessShipmentResponse, AssessShipmentsRequest, AssessShipmentsResponse,
    AssessShipmentsResult, BatchGetSellerRisksRequest, BatchGetSellerRisksResponse,
    CheckEntityRequest, CheckEntityResponse, GetModelCardRequest, GetModelCardResponse,
    GetPartyHistoryRequest, GetPartyHistoryResponse, GetSellerRiskRequest, GetSellerRiskResponse,
    ListBlacklistChangesRequest, ListBlacklistChangesResponse, ListBlacklistRequest,
    ListBlacklistResponse, ListSellerRiskHistoryRequest, ListSellerRiskHistoryResponse,
    OutcomeKind, PartyKind, RecordOutcomeRequest, RecordOutcomeResponse, SetLanePolicyRequest,
    SetLanePolicyResponse, TrainModelRequest, TrainModelResponse,
    scoring_service_server::ScoringService,
};
use acx_runtime::{
    FieldViolation, Principal,
    paging::{self, Page, PageTokens, Scope},
    quota::{self, Quota},
    validate,
};
use tonic::{Request, Response, Status};

use crate::{
    Error,
    disclosure::Disclosure,
    positions::{at, not_found_at},
    requests::{entity_query, outcome_problems, validate_shipment},
    scorer::Scorer,
    store,
};

/// Most sellers in one BatchGetSellerRisks call.
const MAX_BATCH: i64 = 1000;
/// Rows read by a listing page's first query (history entries and changes are small; later
/// queries are sized by the bytes left).
const LIST_CHUNK: usize = 256;
/// The RPCs page tokens are bound to.
const HISTORY_RPC: &str = "acx.scoring.v1.ScoringService/ListSellerRiskHistory";
const BLACKLIST_RPC: &str = "acx.scoring.v1.ScoringService/ListBlacklist";
/// Most declarations per AssessShipments call (liaison's SubmitDeclarations batch).
const MAX_BATCH_ASSESSMENTS: usize = 500;
/// Most bytes of a batch answer: under the 4 MiB gRPC clients accept by default. A risk
/// is at most a few tens of kilobytes (its evidence is bounded), so 1,000 usually fit.
const MAX_ANSWER_BYTES: usize = 3 << 20;

/// The scoring service.
#[derive(Debug, Clone)]
pub struct Scoring {
    pub(crate) scorer: Arc<Scorer>,
    keys: Option<Arc<IdentifierKeys>>,
    disclosure: Arc<Disclosure>,
    tokens: PageTokens,
    /// Identifier values a platform may check (services are not limited: liaison keeps
    /// the same quota per authority for CheckParty).
    entity_checks: Arc<Quota>,
}

impl Scoring {
    /// The service over `scorer`; `keys` hash the identifiers of entity checks (and key the
    /// opaque references to evidence other platforms see); `tokens` seal page tokens.
    pub fn new(scorer: Arc<Scorer>, keys: Option<IdentifierKeys>, tokens: PageTokens) -> Self {
        Self {
            scorer,
            disclosure: Arc::new(Disclosure::new(
                keys.as_ref(),
                tokens.derive("acx.scoring.evidence-references"),
            )),
            keys: keys.map(Arc::new),
            tokens,
            entity_checks: Arc::new(Quota::identifier_checks()),
        }
    }
}

/// The page size of a request; a violation joins `violations`.
fn page_size(requested: i32, violations: &mut Vec<FieldViolation>) -> usize {
    paging::page_size(requested).unwrap_or_else(|violation| {
        violations.push(violation);
        1
    })
}

/// A refused page token as an error.
fn bad_token(violation: FieldViolation) -> Error {
    Error::Invalid(vec![violation])
}

fn invalid(violations: Vec<FieldViolation>) -> Result<(), Error> {
    if violations.is_empty() {
        Ok(())
    } else {
        Err(Error::Invalid(violations))
    }
}

#[tonic::async_trait]
impl ScoringService for Scoring {
    async fn get_seller_risk(
        &self,
        request: Request<GetSellerRiskRequest>,
    ) -> Result<Response<GetSellerRiskResponse>, Status> {
        let position = self.at_position(&request).await?;
        let caller = Principal::of(&request)?.clone();
        let viewer = self.disclosure.viewer(&caller);
        let mut request = request.into_inner();
        let model = self.scorer.read().await;
        let risk = match (&request.seller, request.cluster_id.trim()) {
            (Some(_), "") => {
                invalid(validate::seller_ref(request.seller.as_mut(), "seller"))?;
                let seller = request.seller.unwrap_or_default();
                model
                    .risk(&(seller.platform.clone(), seller.seller_id.clone()))
                    .ok_or_else(|| {
                        not_found_at(
                            Error::NotFound(format!(
                                "the exchange knows nothing of seller {}/{}",
                                seller.platform, seller.seller_id
                            )),
                            position,
                        )
                    })?
            }
            (None, cluster_id) if !cluster_id.is_empty() => {
                model.cluster_risk(cluster_id).ok_or_else(|| {
                    not_found_at(
                        Error::NotFound(format!("no cluster {cluster_id}")),
                        position,
                    )
                })?
            }
            _ => {
                return Err(Error::Invalid(vec![FieldViolation::new(
                    "seller",
                    "set exactly one of seller or cluster_id",
                )])
                .into());
            }
        };
        Ok(at(
            GetSellerRiskResponse {
                risk: Some(viewer.risk(risk)),
            },
            position,
        ))
    }

    async fn batch_get_seller_risks(
        &self,
        request: Request<BatchGetSellerRisksRequest>,
    ) -> Result<Response<BatchGetSellerRisksResponse>, Status> {
        let position = self.at_position(&request).await?;
        let caller = Principal::of(&request)?.clone();
        let viewer = self.disclosure.viewer(&caller);
        let mut sellers = request.into_inner().sellers;
        let mut violations = Vec::new();
        if sellers.is_empty() || sellers.len() as i64 > MAX_BATCH {
            violations.push(FieldViolation::new(
                "sellers",
                format!("needs 1 to {MAX_BATCH} sellers"),
            ));
        }
        for (i, seller) in sellers.iter_mut().enumerate() {
            violations.extend(validate::seller_ref(Some(seller), &format!("sellers[{i}]")));
        }
        invalid(violations)?;
        let model = self.scorer.read().await;
        let mut response = BatchGetSellerRisksResponse::default();
        let asked = sellers.len();
        for seller in sellers {
            match model.risk(&(seller.platform.clone(), seller.seller_id.clone())) {
                Some(risk) => response.risks.push(viewer.risk(risk)),
                None => response.not_found.push(seller),
            }
        }
        let bytes = prost::Message::encoded_len(&response);
        if bytes > MAX_ANSWER_BYTES {
            let fit = (asked * MAX_ANSWER_BYTES / bytes).max(1);
            return Err(Error::AnswerTooLarge(format!(
                "the risks of these {asked} sellers are {bytes} bytes encoded, over the \
                 {MAX_ANSWER_BYTES} an answer may hold (clients accept 4 MiB): ask for about \
                 {fit} at a time"
            ))
            .into());
        }
        Ok(at(response, position))
    }

    async fn list_seller_risk_history(
        &self,
        request: Request<ListSellerRiskHistoryRequest>,
    ) -> Result<Response<ListSellerRiskHistoryResponse>, Status> {
        let position = self.at_position(&request).await?;
        let principal = Principal::of(&request)?.clone();
        let mut request = request.into_inner();
        let mut violations = validate::seller_ref(request.seller.as_mut(), "seller");
        let size = page_size(request.page_size, &mut violations);
        invalid(violations)?;
        let filters = ListSellerRiskHistoryRequest {
            page_size: 0,
            page_token: String::new(),
            ..request.clone()
        };
        let scope = Scope::new(HISTORY_RPC, &principal, &filters);
        // The id of the last entry shown. Newest first: later entries have higher ids and
        // stay out of a listing begun before them.
        let before: Option<i64> = self
            .tokens
            .open(&scope, &request.page_token)
            .map_err(bad_token)?;
        let seller = request.seller.unwrap_or_default();
        let mut page = Page::new(size, before);
        while let Some(count) = page.wanted(LIST_CHUNK) {
            let before = page.after().unwrap_or(i64::MAX);
            let rows = store::history(self.scorer.database(), &seller, before, count).await?;
            page.take(rows.into_iter().map(|(id, change)| (change, id)), count);
        }
        let (changes, next) = page.finish();
        let next_page_token = next.map_or_else(String::new, |id| self.tokens.issue(&scope, &id));
        Ok(at(
            ListSellerRiskHistoryResponse {
                changes,
                next_page_token,
            },
            position,
        ))
    }

    async fn list_blacklist(
        &self,
        request: Request<ListBlacklistRequest>,
    ) -> Result<Response<ListBlacklistResponse>, Status> {
        let position = self.at_position(&request).await?;
        let principal = Principal::of(&request)?.clone();
        let viewer = self.disclosure.viewer(&principal);
        let request = request.into_inner();
        let mut violations = Vec::new();
        let size = page_size(request.page_size, &mut violations);
        invalid(violations)?;
        let scope = Scope::new(BLACKLIST_RPC, &principal, &ListBlacklistRequest::default());
        // (the change cursor at the first page, the last account shown).
        let cursor: Option<(i64, String, String)> = self
            .tokens
            .open(&scope, &request.page_token)
            .map_err(bad_token)?;
        // The cursor is taken before the page is read: changes after it may already show in
        // the page, and replaying them is harmless for a copy kept by account.
        let (changes_cursor, after) = match cursor {
            Some((changes_cursor, platform, seller_id)) => {
                (changes_cursor, Some((platform, seller_id)))
            }
            None => (
                store::blacklist_head(self.scorer.database())
                    .await
                    .map_err(Error::from)?,
                None,
            ),
        };
        let model = self.scorer.read().await;
        let mut page = Page::new(size, after);
        while let Some(count) = page.wanted(usize::MAX) {
            let entries = model.blacklist_page(page.after().as_ref(), count);
            let entries = entries.into_iter().map(|entry| {
                let seller = entry.seller.clone().unwrap_or_default();
                (entry, (seller.platform, seller.seller_id))
            });
            page.take(entries, count);
        }
        drop(model);
        let (entries, next) = page.finish();
        let next_page_token = next.map_or_else(String::new, |(platform, seller_id)| {
            self.tokens
                .issue(&scope, &(changes_cursor, platform, seller_id))
        });
        Ok(at(
            ListBlacklistResponse {
                entries: entries.into_iter().map(|e| viewer.entry(e)).collect(),
                next_page_token,
                changes_cursor,
            },
            position,
        ))
    }

    async fn check_entity(
        &self,
        request: Request<CheckEntityRequest>,
    ) -> Result<Response<CheckEntityResponse>, Status> {
        let position = self.at_position(&request).await?;
        let caller = Principal::of(&request)?.clone();
        let viewer = self.disclosure.viewer(&caller);
        let query = entity_query(request.into_inner()).map_err(Error::Invalid)?;
        let set = &query.identifiers;
        if caller.role == acx_runtime::Role::Platform {
            // One unit for the question and one per value asked, as liaison's CheckParty
            // counts: a digit-only number asked in every register is one guess (found by a
            // tester: such a question cost about 250 units, one per register).
            let units = 1 + query.asked;
            self.entity_checks
                .take(&caller.to_string(), units)
                .map_err(|retry| quota::exceeded("identifier checks", retry))?;
        }
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
        let matches =
            self.scorer
                .read()
                .await
                .check_entity(&query.name, &hashed, query.max_matches);
        Ok(at(
            CheckEntityResponse {
                matches: matches
                    .into_iter()
                    .map(|m| viewer.entity_match(m))
                    .collect(),
            },
            position,
        ))
    }

    async fn assess_shipment(
        &self,
        request: Request<AssessShipmentRequest>,
    ) -> Result<Response<AssessShipmentResponse>, Status> {
        self.at_position(&request).await?;
        let request = request.into_inner();
        let mut shipment = request.shipment.unwrap_or_default();
        invalid(validate_shipment(&mut shipment))?;
        let (assessment, position) = self.scorer.assess(&shipment, request.record).await?;
        Ok(at(
            AssessShipmentResponse {
                assessment: Some(assessment),
            },
            position,
        ))
    }

    async fn assess_shipments(
        &self,
        request: Request<AssessShipmentsRequest>,
    ) -> Result<Response<AssessShipmentsResponse>, Status> {
        self.at_position(&request).await?;
        let request = request.into_inner();
        let mut shipments = request.shipments;
        let mut violations = Vec::new();
        if shipments.is_empty() || shipments.len() > MAX_BATCH_ASSESSMENTS {
            violations.push(FieldViolation::new(
                "shipments",
                format!("needs 1 to {MAX_BATCH_ASSESSMENTS} declarations"),
            ));
        }
        for (i, shipment) in shipments.iter_mut().enumerate() {
            violations.extend(validate_shipment(shipment).into_iter().map(|mut v| {
                v.field = format!("shipments[{i}].{}", v.field.trim_start_matches("shipment."));
                v
            }));
            if violations.len() > 100 {
                break; // bounded: errors travel in headers
            }
        }
        invalid(violations)?;
        let (results, position) = self.scorer.assess_batch(&shipments, request.record).await?;
        let results = results
            .into_iter()
            .map(|assessment| AssessShipmentsResult {
                conflict: assessment.is_none(),
                assessment,
            })
            .collect();
        Ok(at(AssessShipmentsResponse { results }, position))
    }

    async fn record_outcome(
        &self,
        request: Request<RecordOutcomeRequest>,
    ) -> Result<Response<RecordOutcomeResponse>, Status> {
        self.at_position(&request).await?;
        let mut request = request.into_inner();
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
        violations.extend(outcome_problems(&mut request));
        invalid(violations)?;
        let (recorded, position) = self.scorer.record_outcome(request).await?;
        Ok(at(RecordOutcomeResponse { recorded }, position))
    }

    async fn get_model_card(
        &self,
        request: Request<GetModelCardRequest>,
    ) -> Result<Response<GetModelCardResponse>, Status> {
        let position = self.at_position(&request).await?;
        let request = request.into_inner();
        let card = self.scorer.model_card(request.authority.trim()).await?;
        Ok(at(GetModelCardResponse { card: Some(card) }, position))
    }

    async fn train_model(
        &self,
        request: Request<TrainModelRequest>,
    ) -> Result<Response<TrainModelResponse>, Status> {
        self.at_position(&request).await?;
        let trained = self.scorer.train_now().await?;
        let card = self.scorer.model_card("").await?;
        Ok(at(
            TrainModelResponse {
                promoted: trained.promoted,
                challenger: Some(trained.summary),
                card: Some(card),
            },
            self.scorer.applied(),
        ))
    }

    async fn set_lane_policy(
        &self,
        request: Request<SetLanePolicyRequest>,
    ) -> Result<Response<SetLanePolicyResponse>, Status> {
        self.at_position(&request).await?;
        let Some(mut policy) = request.into_inner().policy else {
            return Err(Error::Invalid(vec![FieldViolation::new("policy", "is required")]).into());
        };
        let problems = crate::targeting::lanes::check(&mut policy);
        invalid(
            problems
                .into_iter()
                .map(|(field, why)| FieldViolation::new(field, why))
                .collect(),
        )?;
        let (thresholds, position) = self.scorer.set_lane_policy(policy).await?;
        Ok(at(
            SetLanePolicyResponse {
                thresholds: Some(thresholds),
            },
            position,
        ))
    }

    async fn get_party_history(
        &self,
        request: Request<GetPartyHistoryRequest>,
    ) -> Result<Response<GetPartyHistoryResponse>, Status> {
        let position = self.at_position(&request).await?;
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
        let history = self
            .scorer
            .party_history(label, &request.id)
            .await
            .ok_or_else(|| {
                not_found_at(
                    Error::NotFound(format!("no recorded inspection of {label} {}", request.id)),
                    position,
                )
            })?;
        Ok(at(
            GetPartyHistoryResponse {
                inspections: history.inspections as i64,
                frauds: history.frauds as i64,
                smoothed_rate: history.rate,
                base_rate: history.base_rate,
            },
            position,
        ))
    }

    async fn list_blacklist_changes(
        &self,
        request: Request<ListBlacklistChangesRequest>,
    ) -> Result<Response<ListBlacklistChangesResponse>, Status> {
        let position = self.at_position(&request).await?;
        let caller = Principal::of(&request)?.clone();
        let viewer = self.disclosure.viewer(&caller);
        let request = request.into_inner();
        let mut violations = Vec::new();
        if request.after_cursor < 0 {
            violations.push(FieldViolation::new("after_cursor", "must not be negative"));
        }
        let size = page_size(request.page_size, &mut violations);
        invalid(violations)?;
        let mut page = Page::new(size, Some(request.after_cursor));
        while let Some(count) = page.wanted(LIST_CHUNK) {
            let after = page.after().unwrap_or(request.after_cursor);
            let changes = store::blacklist_changes(self.scorer.database(), after, count).await?;
            let changes = changes.into_iter().map(|change| {
                let cursor = change.cursor;
                (change, cursor)
            });
            page.take(changes, count);
        }
        let (changes, _) = page.finish();
        // A cursor past the newest change is from another deployment or an older copy of
        // this database: following it would skip every change until the feed reached it
        // (found by a tester: such a cursor was answered with no changes and saved).
        if changes.is_empty() && request.after_cursor > 0 {
            let head = store::blacklist_head(self.scorer.database())
                .await
                .map_err(Error::from)?;
            if request.after_cursor > head {
                invalid(vec![FieldViolation::new(
                    "after_cursor",
                    format!(
                        "is past the newest change ({head}): it is not from this exchange's \
                         blacklist (another deployment, or a database restored from before it); \
                         take ListBlacklist again and follow its cursor"
                    ),
                )])?;
            }
        }
        let next_cursor = changes.last().map_or(request.after_cursor, |c| c.cursor);
        Ok(at(
            ListBlacklistChangesResponse {
                changes: changes.into_iter().map(|c| viewer.change(c)).collect(),
                next_cursor,
            },
            position,
        ))
    }
}
