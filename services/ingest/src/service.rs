//! The gRPC handlers of `acx.ingest.v1.IngestService`.
//!
//! The foundation serves the contract, authentication and limits; report intake itself
//! (validation, hashing of identifiers, idempotent storage, the change feed) is the ingest
//! issue's work and answers `UNIMPLEMENTED` with a reason until then.

use acx_proto::ingest::{
    GetReportRequest, GetReportResponse, SubmitReportsRequest, SubmitReportsResponse,
    ingest_service_server::IngestService,
};
use tonic::{Request, Response, Status};

use crate::Error;

/// The ingest service.
#[derive(Debug, Clone, Copy)]
pub struct Ingest;

#[tonic::async_trait]
impl IngestService for Ingest {
    async fn submit_reports(
        &self,
        _request: Request<SubmitReportsRequest>,
    ) -> Result<Response<SubmitReportsResponse>, Status> {
        Err(Error::NotYetServed("SubmitReports").into())
    }

    async fn get_report(
        &self,
        _request: Request<GetReportRequest>,
    ) -> Result<Response<GetReportResponse>, Status> {
        Err(Error::NotYetServed("GetReport").into())
    }
}
