//! `acx.liaison.v2.LiaisonService`, answered by v1's handlers.
//!
//! v2 is v1 with the types customs reads moved to `acx.common.v1`: every message keeps its
//! fields and numbers (checked in `tests/tests/contracts.rs`), so a v2 message's bytes are a
//! v1 message's bytes. Each call is carried across by re-encoding: the request as v1, the
//! answer (and each streamed alert) as v2. Metadata and extensions (the caller, the trace)
//! pass through untouched; the audit trail records the method by name, as for v1.

use acx_proto::{
    liaison::liaison_service_server::LiaisonService as V1,
    liaison_v2::{self as v2, liaison_service_server::LiaisonService as V2},
};
use prost::Message;
use tokio_stream::StreamExt as _;
use tonic::{Request, Response, Status};

use crate::service::Liaison;

/// The v2 service: a v1 [`Liaison`] behind a re-encoding of each message.
#[derive(Debug, Clone)]
pub struct LiaisonV2(pub Liaison);

/// `message` as the other version's type of the same message. Fails only if the two
/// contracts drifted apart, which the contract test rules out: logged, INTERNAL to callers.
fn transcode<A: Message, B: Message + Default>(message: &A) -> Result<B, Status> {
    B::decode(message.encode_to_vec().as_slice()).map_err(|error| {
        tracing::error!(
            %error,
            from = std::any::type_name::<A>(),
            to = std::any::type_name::<B>(),
            "a liaison v2 message does not decode as its v1 twin"
        );
        Status::internal("internal error")
    })
}

/// A v2 request as v1, keeping its metadata and extensions.
fn to_v1<A: Message, B: Message + Default>(request: Request<A>) -> Result<Request<B>, Status> {
    let (metadata, extensions, message) = request.into_parts();
    Ok(Request::from_parts(
        metadata,
        extensions,
        transcode(&message)?,
    ))
}

/// A v1 answer as v2, keeping its metadata and extensions.
fn to_v2<A: Message, B: Message + Default>(
    answer: Result<Response<A>, Status>,
) -> Result<Response<B>, Status> {
    let (metadata, message, extensions) = answer?.into_parts();
    Ok(Response::from_parts(
        metadata,
        transcode(&message)?,
        extensions,
    ))
}

#[tonic::async_trait]
impl V2 for LiaisonV2 {
    async fn check_seller(
        &self,
        request: Request<v2::CheckSellerRequest>,
    ) -> Result<Response<v2::CheckSellerResponse>, Status> {
        to_v2(self.0.check_seller(to_v1(request)?).await)
    }

    async fn submit_declarations(
        &self,
        request: Request<v2::SubmitDeclarationsRequest>,
    ) -> Result<Response<v2::SubmitDeclarationsResponse>, Status> {
        to_v2(self.0.submit_declarations(to_v1(request)?).await)
    }

    async fn get_shipment(
        &self,
        request: Request<v2::GetShipmentRequest>,
    ) -> Result<Response<v2::GetShipmentResponse>, Status> {
        to_v2(self.0.get_shipment(to_v1(request)?).await)
    }

    async fn record_inspection_result(
        &self,
        request: Request<v2::RecordInspectionResultRequest>,
    ) -> Result<Response<v2::RecordInspectionResultResponse>, Status> {
        to_v2(self.0.record_inspection_result(to_v1(request)?).await)
    }

    async fn search_shipments(
        &self,
        request: Request<v2::SearchShipmentsRequest>,
    ) -> Result<Response<v2::SearchShipmentsResponse>, Status> {
        to_v2(self.0.search_shipments(to_v1(request)?).await)
    }

    type WatchAlertsStream = std::pin::Pin<
        Box<dyn tokio_stream::Stream<Item = Result<v2::WatchAlertsResponse, Status>> + Send>,
    >;

    async fn watch_alerts(
        &self,
        request: Request<v2::WatchAlertsRequest>,
    ) -> Result<Response<Self::WatchAlertsStream>, Status> {
        let (metadata, alerts, extensions) =
            self.0.watch_alerts(to_v1(request)?).await?.into_parts();
        let alerts = alerts.map(|alert| alert.and_then(|alert| transcode(&alert)));
        Ok(Response::from_parts(
            metadata,
            Box::pin(alerts) as Self::WatchAlertsStream,
            extensions,
        ))
    }

    async fn list_audit_records(
        &self,
        request: Request<v2::ListAuditRecordsRequest>,
    ) -> Result<Response<v2::ListAuditRecordsResponse>, Status> {
        to_v2(self.0.list_audit_records(to_v1(request)?).await)
    }

    async fn check_party(
        &self,
        request: Request<v2::CheckPartyRequest>,
    ) -> Result<Response<v2::CheckPartyResponse>, Status> {
        to_v2(self.0.check_party(to_v1(request)?).await)
    }

    async fn get_model_card(
        &self,
        request: Request<v2::GetModelCardRequest>,
    ) -> Result<Response<v2::GetModelCardResponse>, Status> {
        to_v2(self.0.get_model_card(to_v1(request)?).await)
    }

    async fn set_lane_policy(
        &self,
        request: Request<v2::SetLanePolicyRequest>,
    ) -> Result<Response<v2::SetLanePolicyResponse>, Status> {
        to_v2(self.0.set_lane_policy(to_v1(request)?).await)
    }
}
