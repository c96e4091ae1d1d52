//! The gRPC handlers of `acx.liaison.v1.LiaisonService`.

use acx_proto::{
    common::{RiskTier, SellerAccountRef},
    liaison::{
        CheckSellerRequest, CheckSellerResponse, GetShipmentRequest, GetShipmentResponse,
        PartyRisk, RecordInspectionResultRequest, RecordInspectionResultResponse,
        SubmitDeclarationsRequest, SubmitDeclarationsResponse,
        liaison_service_server::LiaisonService,
    },
    scoring::{GetSellerRiskRequest, scoring_service_client::ScoringServiceClient},
};
use acx_runtime::{Database, Principal, client::PeerChannel};
use tonic::{Code, Request, Response, Status};

use crate::{
    Error,
    audit::{self, AuditEntry},
    shipments::{Shipments, parse_name},
};

/// Most declarations in one SubmitDeclarations call.
const MAX_DECLARATIONS: usize = 500;

/// The liaison service: its database (audit trail, shipments) and its client of scoring.
#[derive(Debug, Clone)]
pub struct Liaison {
    database: Database,
    scoring: ScoringServiceClient<PeerChannel>,
    shipments: Shipments,
}

/// The customs authority a request comes from.
fn authority_of<T>(request: &Request<T>) -> Result<Principal, Status> {
    Ok(Principal::of(request)?.clone())
}

impl Liaison {
    /// Liaison over `database` (already migrated), asking `scoring`.
    pub fn new(
        database: Database,
        scoring: ScoringServiceClient<PeerChannel>,
        shipments: Shipments,
    ) -> Self {
        Self {
            database,
            scoring,
            shipments,
        }
    }

    /// Records the call, then returns its result. A call whose audit record cannot be
    /// written fails: no question goes unrecorded.
    async fn audited<T>(
        &self,
        principal: &Principal,
        rpc: &str,
        parameters: String,
        result: Result<T, Error>,
    ) -> Result<Response<T>, Status> {
        let result = result.map_err(Status::from);
        let outcome = result.as_ref().map_or_else(Status::code, |_| Code::Ok);
        let entry = AuditEntry {
            principal,
            rpc,
            parameters,
            outcome,
        };
        audit::record(&self.database, entry)
            .await
            .map_err(|e| Status::from(Error::Database(e)))?;
        result.map(Response::new)
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
        let risk = match self.scoring.clone().get_seller_risk(request).await {
            Ok(response) => response.into_inner().risk.unwrap_or_default(),
            Err(status) if status.code() == Code::NotFound => {
                return Err(Error::NotFound(format!(
                    "the exchange knows nothing of seller {}/{}",
                    seller.platform, seller.seller_id
                )));
            }
            Err(status) => return Err(Error::Scoring(status)),
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

fn validate_seller(seller: Option<SellerAccountRef>) -> Result<SellerAccountRef, Error> {
    let violations = acx_runtime::validate::seller_ref(seller.as_ref(), "seller");
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
            |s| format!("seller={}/{}", s.platform, s.seller_id),
        );
        let result = self.check_seller_risk(seller).await;
        self.audited(&principal, "CheckSeller", parameters, result)
            .await
    }

    async fn submit_declarations(
        &self,
        request: Request<SubmitDeclarationsRequest>,
    ) -> Result<Response<SubmitDeclarationsResponse>, Status> {
        let principal = authority_of(&request)?;
        let declarations = request.into_inner().declarations;
        let ids: Vec<&str> = declarations
            .iter()
            .take(10)
            .map(|d| d.declaration_id.as_str())
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
        self.audited(&principal, "SubmitDeclarations", parameters, result)
            .await
    }

    async fn get_shipment(
        &self,
        request: Request<GetShipmentRequest>,
    ) -> Result<Response<GetShipmentResponse>, Status> {
        let principal = authority_of(&request)?;
        let name = request.into_inner().name;
        let result =
            match parse_name(&name) {
                Ok(id) => self.shipments.get(&principal.id, id).await.map(|shipment| {
                    GetShipmentResponse {
                        shipment: Some(shipment),
                    }
                }),
                Err(error) => Err(error),
            };
        self.audited(&principal, "GetShipment", format!("name={name}"), result)
            .await
    }

    async fn record_inspection_result(
        &self,
        request: Request<RecordInspectionResultRequest>,
    ) -> Result<Response<RecordInspectionResultResponse>, Status> {
        let principal = authority_of(&request)?;
        let request = request.into_inner();
        let kind = request.result.as_ref().map_or(0, |r| r.kind);
        let parameters = format!("name={} kind={kind}", request.name);
        let result = match (parse_name(&request.name), request.result) {
            (Err(error), _) => Err(error),
            (Ok(_), None) => Err(Error::Invalid(vec![acx_runtime::FieldViolation::new(
                "result",
                "is required",
            )])),
            (Ok(id), Some(inspection)) => self
                .shipments
                .record_result(&principal.id, id, inspection)
                .await
                .map(|shipment| RecordInspectionResultResponse {
                    shipment: Some(shipment),
                }),
        };
        self.audited(&principal, "RecordInspectionResult", parameters, result)
            .await
    }
}
