//! Typed calls, one method per RPC: the request message by value in, the response message
//! out, with the client's deadline and retry policy.
//!
//! Every ACX unary RPC is safe to repeat, so every wrapper is [`Idempotency::Idempotent`]:
//!
//! | RPC | why a repeat is harmless |
//! |---|---|
//! | reads: `GetReport`, `ListReports`, `GetSellerRisk`, `BatchGetSellerRisks`, `ListSellerRiskHistory`, `ListBlacklist`, `ListBlacklistChanges`, `CheckEntity`, `GetPartyHistory`, `CheckSeller`, `GetShipment`, `SearchShipments`, `ListAuditRecords`, `CheckParty`, `Echo` | they change nothing (liaison writes one more audit record, which is the truth: the question was asked twice) |
//! | `SubmitReports` | keyed by the platform's `report_id`: a repeat answers `DUPLICATE` |
//! | `SubmitDeclarations` | keyed by `declaration_id`: the same content answers `DUPLICATE` |
//! | `RecordInspectionResult` | one result per shipment: the same result again is harmless |
//! | `AssessShipment` | `record` joins the statistics once per declaration id |
//! | `RecordOutcome` | once per declaration: a repeated outcome changes nothing |
//!
//! Streams are opened once and never retried; see the crate docs for resuming them.

use acx_proto::{
    diagnostics::{
        EchoRequest, EchoResponse, diagnostics_service_client::DiagnosticsServiceClient,
    },
    ingest::{
        BulkLoadReportsRequest, BulkLoadReportsResponse, GetReportRequest, GetReportResponse,
        ListReportsRequest, ListReportsResponse, StreamChangesRequest, StreamChangesResponse,
        SubmitReportsRequest, SubmitReportsResponse, ingest_service_client::IngestServiceClient,
    },
    liaison::{
        CheckPartyRequest, CheckPartyResponse, CheckSellerRequest, CheckSellerResponse,
        GetShipmentRequest, GetShipmentResponse, ListAuditRecordsRequest, ListAuditRecordsResponse,
        RecordInspectionResultRequest, RecordInspectionResultResponse, SearchShipmentsRequest,
        SearchShipmentsResponse, SubmitDeclarationsRequest, SubmitDeclarationsResponse,
        WatchAlertsRequest, WatchAlertsResponse, liaison_service_client::LiaisonServiceClient,
    },
    scoring::{
        AssessShipmentRequest, AssessShipmentResponse, BatchGetSellerRisksRequest,
        BatchGetSellerRisksResponse, CheckEntityRequest, CheckEntityResponse,
        GetPartyHistoryRequest, GetPartyHistoryResponse, GetSellerRiskRequest,
        GetSellerRiskResponse, ListBlacklistChangesRequest, ListBlacklistChangesResponse,
        ListBlacklistRequest, ListBlacklistResponse, ListSellerRiskHistoryRequest,
        ListSellerRiskHistoryResponse, RecordOutcomeRequest, RecordOutcomeResponse,
        scoring_service_client::ScoringServiceClient,
    },
};
use tokio_stream::Stream;
use tonic::Streaming;

use crate::{Client, Error, Idempotency};

/// One idempotent unary wrapper: clones the request for each attempt.
macro_rules! unary {
    ($(#[$doc:meta])* $method:ident, $stub:ident, $request:ty, $response:ty, $rpc:literal) => {
        $(#[$doc])*
        pub async fn $method(&self, request: $request) -> Result<$response, Error> {
            self.client
                .call($rpc, Idempotency::Idempotent, move |channel| {
                    let request = request.clone();
                    async move { $stub::new(channel).$method(request).await }
                })
                .await
        }
    };
}

/// Calls to ingest (`acx.ingest.v1.IngestService`), the platforms' door.
#[derive(Debug, Clone)]
pub struct IngestClient {
    client: Client,
}

impl IngestClient {
    pub(crate) fn new(client: Client) -> Self {
        Self { client }
    }

    unary!(
        /// Submits a batch of reports; each gets its own result. Retried: `report_id` is an
        /// idempotency key.
        submit_reports, IngestServiceClient, SubmitReportsRequest, SubmitReportsResponse,
        "acx.ingest.v1.IngestService/SubmitReports"
    );
    unary!(
        /// One of the calling platform's own reports.
        get_report, IngestServiceClient, GetReportRequest, GetReportResponse,
        "acx.ingest.v1.IngestService/GetReport"
    );
    unary!(
        /// A page of the calling platform's own reports.
        list_reports, IngestServiceClient, ListReportsRequest, ListReportsResponse,
        "acx.ingest.v1.IngestService/ListReports"
    );

    /// Streams batches of reports and returns the server's per-batch answers. Not
    /// retried: when it breaks off, run the load again from the start (or from the first
    /// batch not acknowledged); reports already accepted come back `DUPLICATE`.
    ///
    /// Ingest stores one batch while it reads the next, and acknowledges a batch once it
    /// has read the next one or the end of the stream: send without waiting for each
    /// answer, or the load stalls.
    pub async fn bulk_load_reports(
        &self,
        batches: impl Stream<Item = BulkLoadReportsRequest> + Send + 'static,
    ) -> Result<Streaming<BulkLoadReportsResponse>, Error> {
        let mut stub = self.client.raw_ingest();
        self.client
            .open_stream(
                "acx.ingest.v1.IngestService/BulkLoadReports",
                stub.bulk_load_reports(batches),
            )
            .await
    }

    /// The ordered change feed from `after_sequence` on, then live. Not retried: to
    /// resume, open it again with the last sequence processed; nothing is missed or
    /// reordered.
    pub async fn stream_changes(
        &self,
        request: StreamChangesRequest,
    ) -> Result<Streaming<StreamChangesResponse>, Error> {
        let mut stub = self.client.raw_ingest();
        self.client
            .open_stream(
                "acx.ingest.v1.IngestService/StreamChanges",
                stub.stream_changes(request),
            )
            .await
    }
}

/// Calls to scoring (`acx.scoring.v1.ScoringService`).
#[derive(Debug, Clone)]
pub struct ScoringClient {
    client: Client,
}

impl ScoringClient {
    pub(crate) fn new(client: Client) -> Self {
        Self { client }
    }

    unary!(
        /// The risk of one seller account or cluster.
        get_seller_risk, ScoringServiceClient, GetSellerRiskRequest, GetSellerRiskResponse,
        "acx.scoring.v1.ScoringService/GetSellerRisk"
    );
    unary!(
        /// The risks of many seller accounts at once.
        batch_get_seller_risks, ScoringServiceClient, BatchGetSellerRisksRequest,
        BatchGetSellerRisksResponse, "acx.scoring.v1.ScoringService/BatchGetSellerRisks"
    );
    unary!(
        /// How a seller's risk changed over time.
        list_seller_risk_history, ScoringServiceClient, ListSellerRiskHistoryRequest,
        ListSellerRiskHistoryResponse, "acx.scoring.v1.ScoringService/ListSellerRiskHistory"
    );
    unary!(
        /// A page of the shared blacklist.
        list_blacklist, ScoringServiceClient, ListBlacklistRequest, ListBlacklistResponse,
        "acx.scoring.v1.ScoringService/ListBlacklist"
    );
    unary!(
        /// Blacklist additions and removals since a cursor.
        list_blacklist_changes, ScoringServiceClient, ListBlacklistChangesRequest,
        ListBlacklistChangesResponse, "acx.scoring.v1.ScoringService/ListBlacklistChanges"
    );
    unary!(
        /// Clusters matching an entity described by name and identifiers.
        check_entity, ScoringServiceClient, CheckEntityRequest, CheckEntityResponse,
        "acx.scoring.v1.ScoringService/CheckEntity"
    );
    unary!(
        /// The inspection history of a party of declarations.
        get_party_history, ScoringServiceClient, GetPartyHistoryRequest,
        GetPartyHistoryResponse, "acx.scoring.v1.ScoringService/GetPartyHistory"
    );
    unary!(
        /// Assesses a declaration (internal callers). Retried: `record` counts a
        /// declaration id once.
        assess_shipment, ScoringServiceClient, AssessShipmentRequest, AssessShipmentResponse,
        "acx.scoring.v1.ScoringService/AssessShipment"
    );
    unary!(
        /// Records an inspection outcome (internal callers). Retried: once per declaration.
        record_outcome, ScoringServiceClient, RecordOutcomeRequest, RecordOutcomeResponse,
        "acx.scoring.v1.ScoringService/RecordOutcome"
    );
    unary!(
        /// Trains a challenger now and promotes it if it backtests no worse (operators).
        /// Retried: a second training on the same outcomes changes nothing.
        train_model, ScoringServiceClient, acx_proto::scoring::TrainModelRequest,
        acx_proto::scoring::TrainModelResponse, "acx.scoring.v1.ScoringService/TrainModel"
    );
}

/// Calls to liaison (`acx.liaison.v1.LiaisonService`), the customs door.
#[derive(Debug, Clone)]
pub struct LiaisonClient {
    client: Client,
}

impl LiaisonClient {
    pub(crate) fn new(client: Client) -> Self {
        Self { client }
    }

    unary!(
        /// The risk of one marketplace seller account, for customs.
        check_seller, LiaisonServiceClient, CheckSellerRequest, CheckSellerResponse,
        "acx.liaison.v1.LiaisonService/CheckSeller"
    );
    unary!(
        /// Submits declarations; each gets its own result. Retried: the same declaration
        /// id with the same content answers `DUPLICATE`.
        submit_declarations, LiaisonServiceClient, SubmitDeclarationsRequest,
        SubmitDeclarationsResponse, "acx.liaison.v1.LiaisonService/SubmitDeclarations"
    );
    unary!(
        /// One of the caller's shipments with its assessment.
        get_shipment, LiaisonServiceClient, GetShipmentRequest, GetShipmentResponse,
        "acx.liaison.v1.LiaisonService/GetShipment"
    );
    unary!(
        /// Records an inspection result. Retried: one result per shipment, the same one
        /// again is harmless.
        record_inspection_result, LiaisonServiceClient, RecordInspectionResultRequest,
        RecordInspectionResultResponse, "acx.liaison.v1.LiaisonService/RecordInspectionResult"
    );
    unary!(
        /// Searches the caller's shipments, a page at a time.
        search_shipments, LiaisonServiceClient, SearchShipmentsRequest,
        SearchShipmentsResponse, "acx.liaison.v1.LiaisonService/SearchShipments"
    );
    unary!(
        /// A page of the audit trail (auditors).
        list_audit_records, LiaisonServiceClient, ListAuditRecordsRequest,
        ListAuditRecordsResponse, "acx.liaison.v1.LiaisonService/ListAuditRecords"
    );
    unary!(
        /// An importer's inspection history, or the clusters matching a described seller.
        check_party, LiaisonServiceClient, CheckPartyRequest, CheckPartyResponse,
        "acx.liaison.v1.LiaisonService/CheckParty"
    );
    unary!(
        /// The targeting model in force, with the caller's lane thresholds.
        get_model_card, LiaisonServiceClient, acx_proto::liaison::GetModelCardRequest,
        acx_proto::liaison::GetModelCardResponse, "acx.liaison.v1.LiaisonService/GetModelCard"
    );
    unary!(
        /// Sets the caller's lane policy (shares RED and YELLOW, random, exploration).
        /// Retried: setting the same policy again is harmless.
        set_lane_policy, LiaisonServiceClient, acx_proto::liaison::SetLanePolicyRequest,
        acx_proto::liaison::SetLanePolicyResponse, "acx.liaison.v1.LiaisonService/SetLanePolicy"
    );

    /// New RED and YELLOW alerts after `after_cursor`, then live. Not retried: to resume,
    /// open it again with the cursor of the last alert seen; nothing is missed or repeated.
    pub async fn watch_alerts(
        &self,
        request: WatchAlertsRequest,
    ) -> Result<Streaming<WatchAlertsResponse>, Error> {
        let mut stub = self.client.raw_liaison();
        self.client
            .open_stream(
                "acx.liaison.v1.LiaisonService/WatchAlerts",
                stub.watch_alerts(request),
            )
            .await
    }
}

/// Calls to the diagnostics service every ACX server exposes.
#[derive(Debug, Clone)]
pub struct DiagnosticsClient {
    client: Client,
}

impl DiagnosticsClient {
    pub(crate) fn new(client: Client) -> Self {
        Self { client }
    }

    unary!(
        /// Echoes a message: checks the connection, the token and the trace path.
        echo, DiagnosticsServiceClient, EchoRequest, EchoResponse,
        "acx.diagnostics.v1.DiagnosticsService/Echo"
    );
}
