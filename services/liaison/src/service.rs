//! The gRPC handlers of `acx.liaison.v1.LiaisonService`.

use acx_proto::{
    common::{RiskTier, SellerAccountRef},
    liaison::{
        CheckPartyRequest, CheckPartyResponse, CheckSellerRequest, CheckSellerResponse,
        GetModelCardRequest, GetModelCardResponse, GetShipmentRequest, GetShipmentResponse,
        ImporterRisk, ListAuditRecordsRequest, ListAuditRecordsResponse, PartyRisk,
        RecordInspectionResultRequest, RecordInspectionResultResponse, SearchShipmentsRequest,
        SearchShipmentsResponse, SetLanePolicyRequest, SetLanePolicyResponse,
        SubmitDeclarationsRequest, SubmitDeclarationsResponse, WatchAlertsRequest,
        WatchAlertsResponse, check_party_request, liaison_service_server::LiaisonService,
    },
    scoring::{
        self as scoring_api, CheckEntityRequest, GetPartyHistoryRequest, GetSellerRiskRequest,
        PartyKind,
    },
};
use acx_runtime::{Database, Principal, db::bounded, paging::PageTokens};

/// Most characters of a call's parameters kept in its audit record (longer ones are cut,
/// marked as cut, as error messages are).
const MAX_AUDIT_PARAMETERS: usize = 1000;
use tonic::{Code, Request, Response, Status};

use crate::{
    Error,
    audit::{AuditEntry, AuditLog, Durability, value},
    parties,
    results::validate_result,
    scoring::Scoring,
    shipments::{Shipments, parse_name},
    watch,
};

/// Most declarations in one SubmitDeclarations call.
const MAX_DECLARATIONS: usize = 500;

/// The liaison service: its shipments, its audit trail and its client of scoring.
#[derive(Debug, Clone)]
pub struct Liaison {
    /// Where the audit trail is (read by ListAuditRecords; written through `audit`).
    audit_database: Database,
    audit: AuditLog,
    scoring: Scoring,
    shipments: Shipments,
    /// Seals and opens the page tokens of SearchShipments and ListAuditRecords.
    tokens: PageTokens,
    shutdown: acx_runtime::Shutdown,
    /// WatchAlerts streams open, per authority.
    streams: watch::OpenStreams,
    /// Identifier values an authority may check with CheckParty (the limits of scoring's
    /// CheckEntity for platforms, which liaison asks as a service).
    party_checks: std::sync::Arc<acx_runtime::quota::Quota>,
}

/// The customs authority a request comes from.
fn authority_of<T>(request: &Request<T>) -> Result<Principal, Status> {
    Ok(Principal::of(request)?.clone())
}

impl Liaison {
    /// Liaison with its audit trail in `audit_database` (already migrated), asking
    /// `scoring`, sealing page tokens with `tokens`; alert streams end at `shutdown`.
    pub fn new(
        audit_database: Database,
        scoring: Scoring,
        shipments: Shipments,
        audit: AuditLog,
        tokens: PageTokens,
        shutdown: acx_runtime::Shutdown,
    ) -> Self {
        Self {
            audit,
            audit_database,
            scoring,
            shipments,
            tokens,
            shutdown,
            streams: watch::OpenStreams::default(),
            party_checks: std::sync::Arc::new(acx_runtime::quota::Quota::identifier_checks()),
        }
    }

    /// Records the call, then returns its result. A call whose audit record cannot be
    /// written fails: no question goes unrecorded. Calls that change something answer
    /// once their record is committed, questions once it is queued (see `Durability`).
    async fn audited<T>(
        &self,
        principal: &Principal,
        rpc: &str,
        parameters: String,
        result: Result<T, Error>,
        durability: Durability,
    ) -> Result<Response<T>, Status> {
        let result = result.map_err(Status::from);
        let outcome = result.as_ref().map_or_else(Status::code, |_| Code::Ok);
        // Bounded: a caller's megabyte-long name would otherwise make an audit page too
        // large to read (found by a tester).
        let entry = AuditEntry {
            principal,
            rpc,
            parameters: acx_runtime::error::clip(&parameters, MAX_AUDIT_PARAMETERS).into_owned(),
            outcome,
        };
        self.audit
            .record(entry, durability)
            .await
            .map_err(|e| Status::from(Error::Audit(e)))?;
        result.map(Response::new)
    }

    /// A valid check spends `units` of `caller`'s quota of identifier checks; an invalid
    /// one, refused before it asks scoring anything, none.
    async fn check_party_risk(
        &self,
        caller: &Principal,
        units: u32,
        mut party: Option<check_party_request::Party>,
    ) -> Result<CheckPartyResponse, Error> {
        let violations = parties::validate(party.as_mut());
        if !violations.is_empty() {
            return Err(Error::Invalid(violations));
        }
        self.party_checks
            .take(&caller.to_string(), units)
            .map_err(Error::Quota)?;
        match party {
            Some(check_party_request::Party::ImporterId(id)) => {
                let request = GetPartyHistoryRequest {
                    kind: PartyKind::Importer as i32,
                    id: id.clone(),
                };
                let history = match self.scoring.get_party_history(request).await {
                    Ok(history) => history,
                    Err(status) if status.code() == Code::NotFound => {
                        return Err(Error::NotFound(format!(
                            "no recorded inspection of importer {id}"
                        )));
                    }
                    Err(status) => return Err(parties::scoring_failure(status, "importer_id")),
                };
                Ok(CheckPartyResponse {
                    importer: Some(ImporterRisk {
                        importer_id: id,
                        inspections: history.inspections,
                        frauds: history.frauds,
                        smoothed_rate: history.smoothed_rate,
                        base_rate: history.base_rate,
                    }),
                    matches: Vec::new(),
                })
            }
            Some(check_party_request::Party::Entity(entity)) => {
                let request = CheckEntityRequest {
                    name: entity.name,
                    country: entity.country,
                    identifiers: entity.identifiers,
                    max_matches: 0,
                };
                match self.scoring.check_entity(request).await {
                    Ok(response) => Ok(CheckPartyResponse {
                        importer: None,
                        matches: response.matches,
                    }),
                    Err(status) => Err(parties::scoring_failure(status, "entity")),
                }
            }
            None => Err(Error::Invalid(vec![acx_runtime::FieldViolation::new(
                "party",
                "give importer_id or entity",
            )])),
        }
    }

    async fn check_seller_risk(
        &self,
        seller: Option<SellerAccountRef>,
    ) -> Result<CheckSellerResponse, Error> {
        let seller = validate_seller(seller)?;
        let request = GetSellerRiskRequest {
            seller: Some(seller.clone()),
            cluster_id: String::new(),
        };
        let risk = match self.scoring.get_seller_risk(request).await {
            Ok(response) => response.risk.unwrap_or_default(),
            Err(status) if status.code() == Code::NotFound => {
                return Err(Error::NotFound(format!(
                    "the exchange knows nothing of seller {}/{}",
                    seller.platform, seller.seller_id
                )));
            }
            Err(status) => return Err(parties::scoring_failure(status, "seller")),
        };
        let blacklisted = risk.tier == RiskTier::Blacklisted as i32;
        Ok(CheckSellerResponse {
            risk: Some(PartyRisk {
                seller: Some(seller),
                cluster_id: risk.cluster_id,
                score: risk.score,
                tier: risk.tier,
                blacklisted,
                reasons: risk.reasons,
                model_version: risk.model_version,
            }),
        })
    }
}

fn validate_seller(mut seller: Option<SellerAccountRef>) -> Result<SellerAccountRef, Error> {
    let violations = acx_runtime::validate::seller_ref(seller.as_mut(), "seller");
    match seller {
        Some(seller) if violations.is_empty() => Ok(seller),
        _ => Err(Error::Invalid(violations)),
    }
}

#[tonic::async_trait]
impl LiaisonService for Liaison {
    async fn check_seller(
        &self,
        request: Request<CheckSellerRequest>,
    ) -> Result<Response<CheckSellerResponse>, Status> {
        let principal = Principal::of(&request)?.clone();
        let seller = request.into_inner().seller;
        let parameters = seller.as_ref().map_or_else(
            || "seller=".to_owned(),
            |s| {
                format!(
                    "seller={}",
                    value(&format!("{}/{}", s.platform, s.seller_id))
                )
            },
        );
        let result = self.check_seller_risk(seller).await;
        self.audited(
            &principal,
            "CheckSeller",
            parameters,
            result,
            Durability::Queued,
        )
        .await
    }

    async fn submit_declarations(
        &self,
        request: Request<SubmitDeclarationsRequest>,
    ) -> Result<Response<SubmitDeclarationsResponse>, Status> {
        let principal = authority_of(&request)?;
        let declarations = request.into_inner().declarations;
        let ids: Vec<String> = declarations
            .iter()
            .take(10)
            .map(|d| value(&d.declaration_id))
            .collect();
        let parameters = format!("declarations={} ids={}", declarations.len(), ids.join(","));
        let result = if declarations.is_empty() || declarations.len() > MAX_DECLARATIONS {
            Err(Error::Invalid(vec![acx_runtime::FieldViolation::new(
                "declarations",
                format!("needs 1 to {MAX_DECLARATIONS} declarations"),
            )]))
        } else {
            self.shipments
                .submit(&principal.id, declarations)
                .await
                .map(|results| SubmitDeclarationsResponse { results })
        };
        self.audited(
            &principal,
            "SubmitDeclarations",
            parameters,
            result,
            Durability::Committed,
        )
        .await
    }

    async fn get_shipment(
        &self,
        request: Request<GetShipmentRequest>,
    ) -> Result<Response<GetShipmentResponse>, Status> {
        let principal = authority_of(&request)?;
        let name = request.into_inner().name;
        let result = match parse_name(&name) {
            Ok(id) => self
                .shipments
                .get(&principal.id, &id)
                .await
                .map(|shipment| GetShipmentResponse {
                    shipment: Some(shipment),
                }),
            Err(violation) => Err(Error::Invalid(vec![violation])),
        };
        self.audited(
            &principal,
            "GetShipment",
            format!("name={}", value(&name)),
            result,
            Durability::Queued,
        )
        .await
    }

    async fn record_inspection_result(
        &self,
        request: Request<RecordInspectionResultRequest>,
    ) -> Result<Response<RecordInspectionResultResponse>, Status> {
        let principal = authority_of(&request)?;
        let mut request = request.into_inner();
        let kind = request.result.as_ref().map_or(0, |r| r.kind);
        let parameters = format!("name={} kind={kind}", value(&request.name));
        // Every violation at once, the name's and the result's.
        let mut violations = Vec::new();
        let id = parse_name(&request.name)
            .map_err(|violation| violations.push(violation))
            .ok();
        match &mut request.result {
            None => violations.push(acx_runtime::FieldViolation::new("result", "is required")),
            Some(inspection) => violations.extend(validate_result(inspection)),
        }
        let result = match (id, request.result) {
            (Some(id), Some(inspection)) if violations.is_empty() => self
                .shipments
                .record_result(&principal.id, &id, inspection)
                .await
                .map(|shipment| RecordInspectionResultResponse {
                    shipment: Some(shipment),
                }),
            _ => Err(Error::Invalid(violations)),
        };
        self.audited(
            &principal,
            "RecordInspectionResult",
            parameters,
            result,
            Durability::Committed,
        )
        .await
    }

    async fn search_shipments(
        &self,
        request: Request<SearchShipmentsRequest>,
    ) -> Result<Response<SearchShipmentsResponse>, Status> {
        let principal = authority_of(&request)?;
        let request = request.into_inner();
        // Every filter (found by a security tester: the seller, the times and the state
        // were left out, so a search by seller read as a search of everything).
        let time = |t: &Option<prost_types::Timestamp>| {
            t.as_ref()
                .map_or_else(String::new, |t| format!("{}.{:09}", t.seconds, t.nanos))
        };
        let parameters = format!(
            "office={} importer={} seller={} start={} end={} lane={} min_risk={} hs={} state={} order={}",
            value(&request.customs_office),
            value(&request.importer_id),
            value(&request.seller.as_ref().map_or_else(String::new, |s| {
                format!("{}/{}", s.platform, s.seller_id)
            })),
            time(&request.start_time),
            time(&request.end_time),
            request.lane,
            request.min_risk,
            value(&request.hs_code_prefix),
            request.assessment_state,
            request.order_by
        );
        let result = crate::search::search(
            self.shipments.database(),
            &self.tokens,
            &principal,
            &request,
        )
        .await;
        self.audited(
            &principal,
            "SearchShipments",
            parameters,
            result,
            Durability::Queued,
        )
        .await
    }

    type WatchAlertsStream = std::pin::Pin<
        Box<dyn tokio_stream::Stream<Item = Result<WatchAlertsResponse, Status>> + Send>,
    >;

    async fn watch_alerts(
        &self,
        request: Request<WatchAlertsRequest>,
    ) -> Result<Response<Self::WatchAlertsStream>, Status> {
        let principal = authority_of(&request)?;
        let mut filter = request.into_inner();
        let violations = watch::check_alert_filter(&mut filter);
        let parameters = format!(
            "after_cursor={} lane={} min_risk={} office={}",
            filter.after_cursor,
            filter.lane,
            filter.min_risk,
            value(&acx_runtime::error::clip(&filter.customs_office, 200))
        );
        let checked = if violations.is_empty() {
            self.streams.open(&principal.id).map_err(Error::TooMany)
        } else {
            Err(Error::Invalid(violations))
        };
        let opened = self
            .audited(
                &principal,
                "WatchAlerts",
                parameters,
                checked,
                Durability::Queued,
            )
            .await?
            .into_inner();
        let (sender, receiver) = tokio::sync::mpsc::channel(watch::ALERT_BATCH as usize);
        let shipments = self.shipments.clone();
        let signal = shipments.alert_signal();
        let shutdown = self.shutdown.clone();
        tokio::spawn(async move {
            // Counted while the stream is open.
            let _opened = opened;
            let mut cursor = filter.after_cursor;
            loop {
                // Register for the next signal before reading, so nothing slips in between.
                let notified = signal.notified();
                let read = shipments.alerts_after(&principal.id, cursor, watch::ALERT_BATCH);
                let alerts = match bounded(read).await {
                    Ok(alerts) => alerts,
                    Err(error) => {
                        let _ = sender.send(Err(Status::from(error))).await;
                        return;
                    }
                };
                let caught_up = (alerts.len() as i64) < watch::ALERT_BATCH;
                for (next, raised, shipment) in alerts {
                    cursor = next;
                    if watch::matches_alert(&filter, raised, &shipment) {
                        let alert = WatchAlertsResponse {
                            cursor: next,
                            shipment: Some(shipment),
                            lane: raised.0,
                            risk: raised.1,
                        };
                        if sender.send(Ok(alert)).await.is_err() {
                            return;
                        }
                    }
                }
                if caught_up {
                    tokio::select! {
                        () = notified => {}
                        () = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
                        () = sender.closed() => return,
                        () = shutdown.triggered() => {
                            let _ = sender.send(Err(Status::unavailable("liaison is shutting down; reconnect with your last cursor"))).await;
                            return;
                        }
                    }
                }
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(receiver),
        )))
    }

    async fn list_audit_records(
        &self,
        request: Request<ListAuditRecordsRequest>,
    ) -> Result<Response<ListAuditRecordsResponse>, Status> {
        let principal = Principal::of(&request)?.clone();
        let request = request.into_inner();
        let records = crate::audit::list(
            &self.audit,
            &self.audit_database,
            &self.tokens,
            &principal,
            &request,
        )
        .await;
        // Reading the trail is recorded too (found by a tester: who read it was nowhere).
        let parameters = format!(
            "principal={} rpc={} page_size={} page_token={}",
            value(&acx_runtime::error::clip(&request.principal, 200)),
            value(&acx_runtime::error::clip(&request.rpc, 200)),
            request.page_size,
            if request.page_token.is_empty() {
                "none"
            } else {
                "given"
            },
        );
        self.audited(
            &principal,
            "ListAuditRecords",
            parameters,
            records,
            Durability::Queued,
        )
        .await
    }

    async fn check_party(
        &self,
        request: Request<CheckPartyRequest>,
    ) -> Result<Response<CheckPartyResponse>, Status> {
        let principal = authority_of(&request)?;
        let party = request.into_inner().party;
        let (parameters, units) = parties::audit_parameters(party.as_ref());
        let result = self.check_party_risk(&principal, units, party).await;
        self.audited(
            &principal,
            "CheckParty",
            parameters,
            result,
            Durability::Queued,
        )
        .await
    }

    async fn get_model_card(
        &self,
        request: Request<GetModelCardRequest>,
    ) -> Result<Response<GetModelCardResponse>, Status> {
        let principal = authority_of(&request)?;
        // Auditors see every authority's lanes; an authority its own.
        let authority = match principal.role {
            acx_runtime::Role::Customs => principal.id.clone(),
            _ => String::new(),
        };
        let result = self
            .scoring
            .get_model_card(scoring_api::GetModelCardRequest { authority })
            .await
            .map(|r| GetModelCardResponse { card: r.card })
            .map_err(Error::Scoring);
        self.audited(
            &principal,
            "GetModelCard",
            String::new(),
            result,
            Durability::Queued,
        )
        .await
    }

    async fn set_lane_policy(
        &self,
        request: Request<SetLanePolicyRequest>,
    ) -> Result<Response<SetLanePolicyResponse>, Status> {
        let principal = authority_of(&request)?;
        let request = request.into_inner();
        let parameters = format!(
            "customs_office={} red_share={} yellow_share={} random_share={} exploration_share={}",
            value(&request.customs_office),
            request.red_share,
            request.yellow_share,
            request.random_share,
            request.exploration_share
        );
        let policy = scoring_api::LanePolicy {
            authority: principal.id.clone(),
            customs_office: request.customs_office,
            red_share: request.red_share,
            yellow_share: request.yellow_share,
            random_share: request.random_share,
            exploration_share: request.exploration_share,
        };
        let result = match self
            .scoring
            .set_lane_policy(scoring_api::SetLanePolicyRequest {
                policy: Some(policy),
            })
            .await
        {
            Ok(response) => Ok(SetLanePolicyResponse {
                thresholds: response.thresholds,
            }),
            Err(status) => Err(policy_failure(status)),
        };
        self.audited(
            &principal,
            "SetLanePolicy",
            parameters,
            result,
            Durability::Committed,
        )
        .await
    }
}

/// Scoring's answer to a lane policy, for the caller: its fields are the caller's, without
/// scoring's `policy.` prefix.
fn policy_failure(status: Status) -> Error {
    match parties::scoring_failure(status, "") {
        Error::Invalid(violations) => Error::Invalid(
            violations
                .into_iter()
                .map(|v| {
                    let field = v
                        .field
                        .trim_start_matches('.')
                        .trim_start_matches("policy.");
                    acx_runtime::FieldViolation::new(field, v.description)
                })
                .collect(),
        ),
        other => other,
    }
}
