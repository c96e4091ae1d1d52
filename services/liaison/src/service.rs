//! The gRPC handlers of `acx.liaison.v1.LiaisonService`.

use acx_proto::{
    common::{RiskTier, SellerAccountRef},
    liaison::{
        CheckSellerRequest, CheckSellerResponse, PartyRisk, liaison_service_server::LiaisonService,
    },
    scoring::{GetSellerRiskRequest, scoring_service_client::ScoringServiceClient},
};
use acx_runtime::{Database, Principal, client::PeerChannel};
use tonic::{Code, Request, Response, Status};

use crate::{
    Error,
    audit::{self, AuditEntry},
};

/// The liaison service: its database (audit trail) and its client of scoring.
#[derive(Debug, Clone)]
pub struct Liaison {
    database: Database,
    scoring: ScoringServiceClient<PeerChannel>,
}

impl Liaison {
    /// Liaison over `database` (already migrated), asking `scoring`.
    pub fn new(database: Database, scoring: ScoringServiceClient<PeerChannel>) -> Self {
        Self { database, scoring }
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
}
