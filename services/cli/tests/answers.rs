//! `acxctl` facing an answer larger than it accepts (4 MiB, as grpcurl and grpcio): issue 12
//! found it exiting 2, its code for a usage error, because tonic reports the refusal as
//! OUT_OF_RANGE. It is a failure (1), said as such. The services' own pages stay well under
//! the limit; a scoring server that answers with 5 MB stands in for anything else.

use acx_proto::scoring::{GetSellerRiskRequest, GetSellerRiskResponse, SellerRisk};
use acx_tests::partial_scoring::{PartialScoring, serve};
use tonic::{Request, Response, Status};

/// Scoring that answers every risk with a 5 MB cluster id.
struct Oversized;

#[tonic::async_trait]
impl PartialScoring for Oversized {
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
}

#[tokio::test]
async fn an_answer_larger_than_acxctl_accepts_is_a_failure_not_a_usage_error() {
    let addr = serve(Oversized).await;
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
