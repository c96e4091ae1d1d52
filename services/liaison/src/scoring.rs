//! Liaison's client of scoring: every call through the shared peer client
//! ([`acx_runtime::client`]: token, trace context, a deadline per attempt, retries of
//! idempotent calls on `UNAVAILABLE` and `RESOURCE_EXHAUSTED` with full jitter), with each
//! caller's deadline stated here rather than as a timeout of its own, and read-your-writes
//! across scoring replicas ([`Positions`]): writes note the position they were answered
//! at, reads about sellers and parties ask for at least it.

use std::time::Duration;

use acx_proto::scoring::{
    AssessShipmentsRequest, AssessShipmentsResponse, CheckEntityRequest, CheckEntityResponse,
    GetModelCardRequest, GetModelCardResponse, GetPartyHistoryRequest, GetPartyHistoryResponse,
    GetSellerRiskRequest, GetSellerRiskResponse, RecordOutcomeRequest, RecordOutcomeResponse,
    SetLanePolicyRequest, SetLanePolicyResponse, scoring_service_client::ScoringServiceClient,
};
use acx_runtime::client::{
    AuthChannel, Idempotency, PeerClient, PeerSettings, RetryPolicy, settings_refused,
};
use tonic::{Request, Status};

use crate::{Error, positions::Positions};

/// Each attempt of a call made for a customs caller (checks, model card, lane policy), and
/// of a re-assessment: scoring answers a read that must wait for a position within most
/// of it, else `UNAVAILABLE`, which is tried again.
pub const READ_DEADLINE: Duration = Duration::from_secs(10);
/// Forwarding an outcome: one attempt; past it, or on any failure, the result stays in
/// the outbox and the worker tries again (the outbox is the retry, so a customs caller
/// is not kept waiting for scoring).
const OUTCOME_DEADLINE: Duration = Duration::from_secs(3);
/// One batch assessment (up to 500 declarations): one attempt; past it, or on any
/// failure, the declarations stay pending and the worker tries again.
const BATCH_DEADLINE: Duration = Duration::from_secs(10);

/// Scoring as liaison calls it; cheap to clone, clones share the positions.
#[derive(Debug, Clone)]
pub struct Scoring {
    /// [`READ_DEADLINE`] per attempt, the default retry policy.
    client: PeerClient,
    /// One attempt within [`BATCH_DEADLINE`].
    batch: PeerClient,
    /// One attempt within [`OUTCOME_DEADLINE`].
    outcome: PeerClient,
    positions: Positions,
}

/// One method per RPC: `$method` of `acx.scoring.v1.ScoringService/$rpc` on the client
/// `$client`, each attempt's request made by `$make` ([`Scoring::plain`] or
/// [`Scoring::bound`]); with `observe`, the answer's position is noted (writes).
macro_rules! rpc {
    ($(#[$doc:meta])* $method:ident($request:ty) -> $response:ty,
     $rpc:literal, $client:ident, $idempotency:ident, $make:ident, observe: $observe:literal) => {
        $(#[$doc])*
        pub async fn $method(&self, request: $request) -> Result<$response, Status> {
            let response = self
                .$client
                .call_peer(
                    concat!("acx.scoring.v1.ScoringService/", $rpc),
                    Idempotency::$idempotency,
                    |channel: AuthChannel| {
                        let request = self.$make(&request);
                        async move { ScoringServiceClient::new(channel).$method(request).await }
                    },
                )
                .await?;
            if $observe {
                self.positions.observe(&response);
            }
            Ok(response.into_inner())
        }
    };
}

impl Scoring {
    /// Calls through `client` (whose deadline is [`READ_DEADLINE`]).
    pub fn new(client: PeerClient) -> Self {
        let once = |deadline| {
            client
                .with_deadline(deadline)
                .with_retry(RetryPolicy::none())
        };
        Self {
            batch: once(BATCH_DEADLINE),
            outcome: once(OUTCOME_DEADLINE),
            client,
            positions: Positions::default(),
        }
    }

    /// A request for a read that must reflect this liaison's writes.
    fn bound<T: Clone>(&self, message: &T) -> Request<T> {
        self.positions.request(message.clone())
    }

    /// A request bound to no position.
    fn plain<T: Clone>(&self, message: &T) -> Request<T> {
        Request::new(message.clone())
    }

    rpc!(
        /// Assesses and records a batch of declarations (one attempt).
        assess_shipments(AssessShipmentsRequest) -> AssessShipmentsResponse,
        "AssessShipments", batch, Idempotent, plain, observe: true
    );
    rpc!(
        /// Records an inspection outcome (one attempt).
        record_outcome(RecordOutcomeRequest) -> RecordOutcomeResponse,
        "RecordOutcome", outcome, Idempotent, plain, observe: true
    );
    rpc!(
        /// A seller's risk, reflecting this liaison's writes.
        get_seller_risk(GetSellerRiskRequest) -> GetSellerRiskResponse,
        "GetSellerRisk", client, Idempotent, bound, observe: false
    );
    rpc!(
        /// A party's inspection record, reflecting this liaison's writes.
        get_party_history(GetPartyHistoryRequest) -> GetPartyHistoryResponse,
        "GetPartyHistory", client, Idempotent, bound, observe: false
    );
    rpc!(
        /// The entities that match one, reflecting this liaison's writes.
        check_entity(CheckEntityRequest) -> CheckEntityResponse,
        "CheckEntity", client, Idempotent, bound, observe: false
    );
    rpc!(
        /// The serving model's card.
        get_model_card(GetModelCardRequest) -> GetModelCardResponse,
        "GetModelCard", client, Idempotent, plain, observe: false
    );

    /// Checks at start-up that scoring takes liaison's token: a token or address scoring
    /// refuses is [`Error::ScoringRefused`], naming the setting, so a misconfigured liaison
    /// stops at once instead of accepting declarations it can never have assessed (found by
    /// a tester: with a wrong token every declaration stayed pending and customs were told
    /// scoring was unavailable). A scoring that cannot be reached now is only logged.
    pub async fn check_access(&self) -> Result<(), Error> {
        // One short attempt.
        let answer = self
            .outcome
            .call_peer(
                "acx.scoring.v1.ScoringService/GetModelCard",
                Idempotency::Idempotent,
                |channel: AuthChannel| async move {
                    ScoringServiceClient::new(channel)
                        .get_model_card(GetModelCardRequest::default())
                        .await
                },
            )
            .await;
        let Err(status) = answer else {
            return Ok(());
        };
        let settings = PeerSettings {
            peer: "scoring",
            url_var: "ACX_SCORING_URL",
            token_var: "ACX_SCORING_TOKEN",
            principal: "service:liaison",
        };
        let Some(problem) = settings_refused(&status, &settings) else {
            tracing::warn!(code = ?status.code(), error = status.message(),
                "scoring cannot be reached now; declarations stay pending until it can");
            return Ok(());
        };
        Err(Error::ScoringRefused(format!(
            "{problem} ({})",
            status.message()
        )))
    }
    rpc!(
        /// Sets an authority's lane policy. Never repeated: a repeat would append the
        /// policy to scoring's history again.
        set_lane_policy(SetLanePolicyRequest) -> SetLanePolicyResponse,
        "SetLanePolicy", client, NonIdempotent, plain, observe: false
    );
}
