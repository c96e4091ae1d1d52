//! `acxctl` facing an answer larger than it accepts (4 MiB, as grpcurl and grpcio): issue 12
//! found it exiting 2, its code for a usage error, because tonic reports the refusal as
//! OUT_OF_RANGE. It is a failure (1), said as such. The services' own pages stay well under
//! the limit; a scoring server that answers with 5 MB stands in for anything else.

use acx_proto::scoring::{
    AssessShipmentRequest, AssessShipmentResponse, AssessShipmentsRequest, AssessShipmentsResponse,
    BatchGetSellerRisksRequest, BatchGetSellerRisksResponse, CheckEntityRequest,
    CheckEntityResponse, GetPartyHistoryRequest, GetPartyHistoryResponse, GetSellerRiskRequest,
    GetSellerRiskResponse, ListBlacklistChangesRequest, ListBlacklistChangesResponse,
    ListBlacklistRequest, ListBlacklistResponse, ListSellerRiskHistoryRequest,
    ListSellerRiskHistoryResponse, RecordOutcomeRequest, RecordOutcomeResponse, SellerRisk,
    scoring_service_server::{ScoringService, ScoringServiceServer},
};
use tonic::{Request, Response, Status};

/// Scoring that answers every risk with a 5 MB cluster id.
struct Oversized;

fn unimplemented<T>() -> Result<Response<T>, Status> {
    Err(Status::unimplemented("not in this test"))
}

#[tonic::async_trait]
impl ScoringService for Oversized {
    async fn get_seller_risk(
        &self,
        _: Request<GetSellerRiskRequest>,
    ) -> Result<Response<GetSellerRiskResponse>, Status> {
        Ok(Response::new(GetSellerRiskResponse {
            risk: Some(SellerRisk {
                cluster_id: "x".repeat(5_000_000),
                ..Default::default()
            }),
        }))
    }

    async fn batch_get_seller_risks(
        &self,
        _: Request<BatchGetSellerRisksRequest>,
    ) -> Result<Response<BatchGetSellerRisksResponse>, Status> {
        unimplemented()
    }

    async fn list_seller_risk_history(
        &self,
        _: Request<ListSellerRiskHistoryRequest>,
    ) -> Result<Response<ListSellerRiskHistoryResponse>, Status> {
        unimplemented()
    }

    async fn list_blacklist(
        &self,
        _: Request<ListBlacklistRequest>,
    ) -> Result<Response<ListBlacklistResponse>, Status> {
        unimplemented()
    }

    async fn list_blacklist_changes(
        &self,
        _: Request<ListBlacklistChangesRequest>,
    ) -> Result<Response<ListBlacklistChangesResponse>, Status> {
        unimplemented()
    }

    async fn check_entity(
        &self,
        _: Request<CheckEntityRequest>,
    ) -> Result<Response<CheckEntityResponse>, Status> {
        unimplemented()
    }

    async fn assess_shipment(
        &self,
        _: Request<AssessShipmentRequest>,
    ) -> Result<Response<AssessShipmentResponse>, Status> {
        unimplemented()
    }

    async fn assess_shipments(
        &self,
        _: Request<AssessShipmentsRequest>,
    ) -> Result<Response<AssessShipmentsResponse>, Status> {
        unimplemented()
    }

    async fn record_outcome(
        &self,
        _: Request<RecordOutcomeRequest>,
    ) -> Result<Response<RecordOutcomeResponse>, Status> {
        unimplemented()
    }

    async fn get_party_history(
        &self,
        _: Request<GetPartyHistoryRequest>,
    ) -> Result<Response<GetPartyHistoryResponse>, Status> {
        unimplemented()
    }

    async fn get_model_card(
        &self,
        _: Request<acx_proto::scoring::GetModelCardRequest>,
    ) -> Result<Response<acx_proto::scoring::GetModelCardResponse>, Status> {
        unimplemented()
    }

    async fn train_model(
        &self,
        _: Request<acx_proto::scoring::TrainModelRequest>,
    ) -> Result<Response<acx_proto::scoring::TrainModelResponse>, Status> {
        unimplemented()
    }

    async fn set_lane_policy(
        &self,
        _: Request<acx_proto::scoring::SetLanePolicyRequest>,
    ) -> Result<Response<acx_proto::scoring::SetLanePolicyResponse>, Status> {
        unimplemented()
    }
}

#[tokio::test]
async fn an_answer_larger_than_acxctl_accepts_is_a_failure_not_a_usage_error() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    let addr = listener.local_addr().expect("its address");
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(ScoringServiceServer::new(Oversized))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    for json in [false, true] {
        let mut args = vec!["seller", "risk", "demo-platform", "S-1"];
        if json {
            args.splice(0..0, ["-o", "json"]);
        }
        let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_acxctl"))
            .args(&args)
            .env("ACX_SCORING_ENDPOINT", format!("http://{addr}"))
            .env("ACX_TOKEN", "acx_any")
            .env_remove("ACX_OUTPUT")
            .output()
            .await
            .expect("acxctl runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains("larger than this client accepts"),
            "{stderr}"
        );
        if json {
            let error: serde_json::Value =
                serde_json::from_str(stderr.trim()).expect("a JSON error");
            assert_eq!(error["error"]["code"], "OUT_OF_RANGE");
        }
    }
}
