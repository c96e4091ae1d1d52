//! A scoring service for tests that stand in for scoring (a fake that liaison assesses
//! through, a server answering acxctl with what a test needs): implement
//! [`PartialScoring`] with the RPCs the test needs, every other RPC answers UNIMPLEMENTED,
//! and [`serve`] it on a free loopback port. Each RPC of the contract is one line of the
//! list below, so a new RPC is added here once, not to every fake.

use std::net::SocketAddr;

use acx_proto::scoring::{
    self,
    scoring_service_server::{ScoringService, ScoringServiceServer},
};
use tonic::{Request, Response, Status, transport::server::TcpIncoming};

/// Declares [`PartialScoring`], with a default for every RPC, and the [`ScoringService`]
/// of [`Partial`] that forwards every RPC to it.
macro_rules! partial_scoring {
    ($($rpc:ident($request:ident) -> $response:ident;)*) => {
        /// The scoring service's RPCs, each answering UNIMPLEMENTED unless a fake implements
        /// it. Serve a fake as [`Partial`] (see [`serve`]).
        #[tonic::async_trait]
        pub trait PartialScoring: Send + Sync + 'static {
            $(
                #[allow(missing_docs)]
                async fn $rpc(
                    &self,
                    _request: Request<scoring::$request>,
                ) -> Result<Response<scoring::$response>, Status> {
                    Err(Status::unimplemented(concat!(
                        stringify!($rpc),
                        " is not in this test's scoring"
                    )))
                }
            )*
        }

        #[tonic::async_trait]
        impl<T: PartialScoring> ScoringService for Partial<T> {
            $(
                async fn $rpc(
                    &self,
                    request: Request<scoring::$request>,
                ) -> Result<Response<scoring::$response>, Status> {
                    self.0.$rpc(request).await
                }
            )*
        }
    };
}

partial_scoring! {
    get_seller_risk(GetSellerRiskRequest) -> GetSellerRiskResponse;
    batch_get_seller_risks(BatchGetSellerRisksRequest) -> BatchGetSellerRisksResponse;
    list_seller_risk_history(ListSellerRiskHistoryRequest) -> ListSellerRiskHistoryResponse;
    list_blacklist(ListBlacklistRequest) -> ListBlacklistResponse;
    list_blacklist_changes(ListBlacklistChangesRequest) -> ListBlacklistChangesResponse;
    check_entity(CheckEntityRequest) -> CheckEntityResponse;
    assess_shipment(AssessShipmentRequest) -> AssessShipmentResponse;
    assess_shipments(AssessShipmentsRequest) -> AssessShipmentsResponse;
    record_outcome(RecordOutcomeRequest) -> RecordOutcomeResponse;
    get_party_history(GetPartyHistoryRequest) -> GetPartyHistoryResponse;
    get_model_card(GetModelCardRequest) -> GetModelCardResponse;
    train_model(TrainModelRequest) -> TrainModelResponse;
    set_lane_policy(SetLanePolicyRequest) -> SetLanePolicyResponse;
}

/// A [`PartialScoring`] as the whole scoring service.
#[derive(Debug, Clone)]
pub struct Partial<T>(pub T);

/// Serves `fake` as scoring on a free loopback port, in the background for the rest of the
/// test; returns its address.
pub async fn serve<T: PartialScoring>(fake: T) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free loopback port");
    let addr = listener.local_addr().expect("its address");
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(ScoringServiceServer::new(Partial(fake)))
            .serve_with_incoming(TcpIncoming::from(listener)),
    );
    addr
}
