//! The gRPC handlers of `acx.scoring.v1.ScoringService`.

use acx_proto::scoring::{
    GetSellerRiskRequest, GetSellerRiskResponse, SellerRisk, scoring_service_server::ScoringService,
};
use acx_runtime::Database;
use prost::Message;
use tonic::{Request, Response, Status};

use crate::Error;

/// The scoring service over its database.
#[derive(Debug, Clone)]
pub struct Scoring {
    database: Database,
}

impl Scoring {
    /// Scoring over `database` (already migrated).
    pub fn new(database: Database) -> Self {
        Self { database }
    }

    async fn stored_risk(&self, platform: &str, seller_id: &str) -> Result<Option<Vec<u8>>, Error> {
        const QUERY: &str = "SELECT risk FROM seller_risk WHERE platform = $1 AND seller_id = $2";
        let row: Option<(Vec<u8>,)> = match &self.database {
            Database::Sqlite(pool) => {
                sqlx::query_as(QUERY)
                    .bind(platform)
                    .bind(seller_id)
                    .fetch_optional(pool)
                    .await?
            }
            Database::Postgres(pool) => {
                sqlx::query_as(QUERY)
                    .bind(platform)
                    .bind(seller_id)
                    .fetch_optional(pool)
                    .await?
            }
        };
        Ok(row.map(|(risk,)| risk))
    }
}

#[tonic::async_trait]
impl ScoringService for Scoring {
    async fn get_seller_risk(
        &self,
        request: Request<GetSellerRiskRequest>,
    ) -> Result<Response<GetSellerRiskResponse>, Status> {
        let request = request.into_inner();
        let violations = acx_runtime::validate::seller_ref(request.seller.as_ref(), "seller");
        if !violations.is_empty() {
            return Err(Error::Invalid(violations).into());
        }
        let seller = request.seller.unwrap_or_default();
        let stored = self
            .stored_risk(&seller.platform, &seller.seller_id)
            .await?;
        let Some(bytes) = stored else {
            return Err(Error::NotFound(format!(
                "the exchange knows nothing of seller {}/{}",
                seller.platform, seller.seller_id
            ))
            .into());
        };
        let risk = SellerRisk::decode(bytes.as_slice()).map_err(Error::from)?;
        Ok(Response::new(GetSellerRiskResponse { risk: Some(risk) }))
    }
}
