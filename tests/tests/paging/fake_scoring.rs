//! A scoring service under the test's control, for liaison: it assesses each declaration
//! with the risk the test chose, is down for some, and holds others until released, so that
//! a test decides when a shipment goes from pending to assessed (for example between two
//! pages of a search).

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use acx_proto::scoring::{
    AssessShipmentRequest, AssessShipmentResponse, AssessShipmentsRequest, AssessShipmentsResponse,
    AssessShipmentsResult, Lane, ShipmentAssessment,
};
use acx_tests::partial_scoring::{self, PartialScoring};
use tokio::sync::{oneshot, watch};
use tonic::{Request, Response, Status};

/// What the fake does with one declaration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Behaviour {
    /// Assesses it with this risk (and the lane of [`lane_of`]).
    Assess(f64),
    /// Answers UNAVAILABLE: the declaration stays pending.
    Down,
    /// Waits until released, then assesses it with this risk.
    Hold(f64),
}

/// The lane the fake gives a risk.
pub fn lane_of(risk: f64) -> Lane {
    if risk >= 0.7 {
        Lane::Red
    } else if risk >= 0.4 {
        Lane::Yellow
    } else {
        Lane::Green
    }
}

type Key = (String, String);

#[derive(Default)]
struct State {
    behaviours: HashMap<Key, Behaviour>,
    /// Told when a held declaration's assessment is first asked for (it is stored by then).
    arrivals: HashMap<Key, oneshot::Sender<()>>,
    /// Per RPC of [`FakeScoring::fail_next`]: calls received, failures still to answer.
    rpcs: HashMap<&'static str, (u32, u32)>,
    /// The code failures of an RPC answer with (UNAVAILABLE when not set).
    failure_codes: HashMap<&'static str, tonic::Code>,
    /// `GetModelCard` never answers (until liaison gives the call up).
    card_hangs: bool,
    /// The `grpc-timeout` of each `GetModelCard` call, as sent.
    card_timeouts: Vec<Option<String>>,
    /// The model version the card shows ([`FakeScoring::new_model`]).
    model: u32,
}

/// The fake; cheap to clone, shared by the server and the test.
#[derive(Clone)]
pub struct FakeScoring {
    state: Arc<Mutex<State>>,
    /// Bumped whenever behaviours change, for held calls to look again.
    changed: Arc<watch::Sender<u64>>,
    /// `GetModelCard` calls given up by their caller while hanging.
    cards_abandoned: Arc<watch::Sender<u32>>,
}

impl FakeScoring {
    /// Serves a new fake on a free loopback port.
    pub async fn start() -> (Self, SocketAddr) {
        let fake = Self {
            state: Arc::default(),
            changed: Arc::new(watch::channel(0).0),
            cards_abandoned: Arc::new(watch::channel(0).0),
        };
        let addr = partial_scoring::serve(fake.clone()).await;
        (fake, addr)
    }

    /// Sets what happens to `authority`'s declaration `id`.
    pub fn set(&self, authority: &str, id: &str, behaviour: Behaviour) {
        let key = (authority.to_owned(), id.to_owned());
        self.state.lock().unwrap().behaviours.insert(key, behaviour);
        self.changed.send_modify(|n| *n += 1);
    }

    /// Holds `authority`'s declaration `id` at `risk`; the receiver hears when liaison has
    /// stored it and asked for its assessment.
    pub fn hold(&self, authority: &str, id: &str, risk: f64) -> oneshot::Receiver<()> {
        let (told, arrived) = oneshot::channel();
        let key = (authority.to_owned(), id.to_owned());
        self.state
            .lock()
            .unwrap()
            .arrivals
            .insert(key.clone(), told);
        self.set(authority, id, Behaviour::Hold(risk));
        arrived
    }

    /// Releases every held declaration of `authority`: they are assessed now.
    pub fn release(&self, authority: &str) {
        let mut state = self.state.lock().unwrap();
        for ((owner, _), behaviour) in state.behaviours.iter_mut() {
            if let (true, Behaviour::Hold(risk)) = (owner == authority, *behaviour) {
                *behaviour = Behaviour::Assess(risk);
            }
        }
        drop(state);
        self.changed.send_modify(|n| *n += 1);
    }

    /// Answers the next `failures` calls of `rpc` (`GetModelCard`, `SetLanePolicy`)
    /// UNAVAILABLE, and counts its calls from now on.
    pub fn fail_next(&self, rpc: &'static str, failures: u32) {
        self.fail_next_with(rpc, failures, tonic::Code::Unavailable);
    }

    /// Answers the next `failures` calls of `rpc` with `code`, and counts its calls from now
    /// on.
    pub fn fail_next_with(&self, rpc: &'static str, failures: u32, code: tonic::Code) {
        let mut state = self.state.lock().unwrap();
        state.rpcs.insert(rpc, (0, failures));
        state.failure_codes.insert(rpc, code);
    }

    /// Shows a new model version on the card: liaison re-assesses its open shipments,
    /// with the risks set now.
    pub fn new_model(&self) {
        self.state.lock().unwrap().model += 1;
    }

    /// Makes `GetModelCard` never answer (`true`) or answer again.
    pub fn hang_model_card(&self, hang: bool) {
        self.state.lock().unwrap().card_hangs = hang;
    }

    /// The `grpc-timeout` each `GetModelCard` call carried so far, in order.
    pub fn model_card_timeouts(&self) -> Vec<Option<String>> {
        self.state.lock().unwrap().card_timeouts.clone()
    }

    /// Waits until `calls` hanging `GetModelCard` calls were given up by their caller
    /// (the caller reset the stream, so the handler was dropped).
    pub async fn model_cards_abandoned(&self, calls: u32) {
        let mut abandoned = self.cards_abandoned.subscribe();
        abandoned.wait_for(|n| *n >= calls).await.unwrap();
    }

    /// Calls of `rpc` received since [`FakeScoring::fail_next`].
    pub fn calls(&self, rpc: &'static str) -> u32 {
        self.state.lock().unwrap().rpcs.get(rpc).map_or(0, |c| c.0)
    }

    /// Counts a call of `rpc`; fails while failures are due.
    fn count(&self, rpc: &'static str) -> Result<(), Status> {
        let mut state = self.state.lock().unwrap();
        let code = state
            .failure_codes
            .get(rpc)
            .copied()
            .unwrap_or(tonic::Code::Unavailable);
        let (calls, failures) = state.rpcs.entry(rpc).or_default();
        *calls += 1;
        if *failures > 0 {
            *failures -= 1;
            return Err(Status::new(code, "failing for this call in this test"));
        }
        Ok(())
    }

    fn behaviour(&self, key: &Key) -> Behaviour {
        let mut state = self.state.lock().unwrap();
        let behaviour = state
            .behaviours
            .get(key)
            .copied()
            .unwrap_or(Behaviour::Assess(0.1));
        if let Behaviour::Hold(_) = behaviour
            && let Some(told) = state.arrivals.remove(key)
        {
            let _ = told.send(());
        }
        behaviour
    }
}

fn assessment(risk: f64) -> ShipmentAssessment {
    ShipmentAssessment {
        risk,
        lane: lane_of(risk) as i32,
        model_version: "fake".to_owned(),
        ..Default::default()
    }
}

impl FakeScoring {
    /// The risks of `keys`, once none is held; UNAVAILABLE when any is down (as scoring
    /// answers a batch as a whole).
    async fn risks(&self, keys: &[Key]) -> Result<Vec<f64>, Status> {
        let mut changed = self.changed.subscribe();
        loop {
            let behaviours: Vec<Behaviour> = keys.iter().map(|key| self.behaviour(key)).collect();
            if behaviours.contains(&Behaviour::Down) {
                return Err(Status::unavailable("down in this test"));
            }
            let risks: Option<Vec<f64>> = behaviours
                .iter()
                .map(|b| match b {
                    Behaviour::Assess(risk) => Some(*risk),
                    _ => None,
                })
                .collect();
            if let Some(risks) = risks {
                return Ok(risks);
            }
            if changed.changed().await.is_err() {
                return Err(Status::unavailable("the fake stopped"));
            }
        }
    }
}

#[tonic::async_trait]
impl PartialScoring for FakeScoring {
    async fn assess_shipment(
        &self,
        request: Request<AssessShipmentRequest>,
    ) -> Result<Response<AssessShipmentResponse>, Status> {
        let shipment = request.into_inner().shipment.unwrap_or_default();
        let risks = self
            .risks(&[(shipment.authority, shipment.declaration_id)])
            .await?;
        Ok(Response::new(AssessShipmentResponse {
            assessment: Some(assessment(risks[0])),
        }))
    }

    /// Liaison assesses each batch in one call.
    async fn assess_shipments(
        &self,
        request: Request<AssessShipmentsRequest>,
    ) -> Result<Response<AssessShipmentsResponse>, Status> {
        let keys: Vec<Key> = request
            .into_inner()
            .shipments
            .into_iter()
            .map(|s| (s.authority, s.declaration_id))
            .collect();
        let risks = self.risks(&keys).await?;
        Ok(Response::new(AssessShipmentsResponse {
            results: risks
                .into_iter()
                .map(|risk| AssessShipmentsResult {
                    assessment: Some(assessment(risk)),
                    conflict: false,
                })
                .collect(),
        }))
    }

    async fn get_model_card(
        &self,
        request: Request<acx_proto::scoring::GetModelCardRequest>,
    ) -> Result<Response<acx_proto::scoring::GetModelCardResponse>, Status> {
        let timeout = request
            .metadata()
            .get("grpc-timeout")
            .map(|v| v.to_str().unwrap().to_owned());
        let (hangs, model) = {
            let mut state = self.state.lock().unwrap();
            state.card_timeouts.push(timeout);
            (state.card_hangs, state.model)
        };
        if hangs {
            /// Counts the call as abandoned when its handler is dropped unanswered.
            struct Abandoned(Arc<watch::Sender<u32>>);
            impl Drop for Abandoned {
                fn drop(&mut self) {
                    self.0.send_modify(|n| *n += 1);
                }
            }
            let _abandoned = Abandoned(Arc::clone(&self.cards_abandoned));
            std::future::pending::<()>().await;
        }
        self.count("GetModelCard")?;
        Ok(Response::new(acx_proto::scoring::GetModelCardResponse {
            card: Some(acx_proto::scoring::ModelCard {
                version: format!("fake-{model}"),
                ..Default::default()
            }),
        }))
    }

    async fn set_lane_policy(
        &self,
        _: Request<acx_proto::scoring::SetLanePolicyRequest>,
    ) -> Result<Response<acx_proto::scoring::SetLanePolicyResponse>, Status> {
        self.count("SetLanePolicy")?;
        Ok(Response::new(Default::default()))
    }
}
