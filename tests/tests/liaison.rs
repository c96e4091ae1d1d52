//! Liaison through its public gRPC API: declarations validated, stored, assessed by scoring
//! (or pending while scoring is down, then assessed), shipments read back, and inspection
//! results forwarded to scoring through the outbox across restarts.

#![allow(clippy::unwrap_used)]

use std::{net::SocketAddr, time::Duration};

use acx_proto::{
    common::{ConsignmentNumbers, Money},
    liaison::{
        AssessmentState, Declaration, DeclarationOutcome, GetShipmentRequest, InspectionResult,
        RecordInspectionResultRequest, Shipment, SubmitDeclarationsRequest,
        liaison_service_client::LiaisonServiceClient,
    },
    scoring::{
        Lane, OutcomeKind, RecordOutcomeRequest, scoring_service_client::ScoringServiceClient,
    },
};
use acx_runtime::{Shutdown, credentials::hash_token};
use acx_tests::{
    TestSuite, authorized, channel,
    fixtures::{self, get_shipment, server_config},
};
use tonic::{Code, transport::Channel};

/// The shared declaration with its own `tracking` number, `quantity` and `value` (USD),
/// departing from a lower-case `cn` (as some customs systems send it).
fn declaration(id: &str, tracking: &str, quantity: f64, value: &str) -> Declaration {
    let mut declaration = fixtures::declaration(id);
    declaration.consignment = Some(ConsignmentNumbers {
        tracking_numbers: vec![tracking.to_owned()],
        ..Default::default()
    });
    declaration.departure_country = "cn".to_owned();
    let line = &mut declaration.lines[0];
    line.quantity = quantity;
    line.declared_value = Some(Money {
        currency_code: "USD".to_owned(),
        amount: value.to_owned(),
    });
    declaration
}

async fn submit(
    client: &mut LiaisonServiceClient<Channel>,
    token: &str,
    declarations: Vec<Declaration>,
) -> Vec<acx_proto::liaison::DeclarationResult> {
    client
        .submit_declarations(authorized(
            SubmitDeclarationsRequest { declarations },
            token,
        ))
        .await
        .unwrap()
        .into_inner()
        .results
}

#[tokio::test]
async fn declarations_are_validated_stored_assessed_and_idempotent() {
    let suite = TestSuite::start_with(true).await;
    let token = suite.token("customs:demo-customs");
    let mut liaison = LiaisonServiceClient::new(channel(suite.liaison).await);
    // The suite loads the demo's declarations only once scoring has its reports.

    let mut bad = declaration("D-BAD", "X", 0.0, "abc");
    bad.origin_country = "XX".to_owned();
    bad.lines[0].quantity = -1.0;
    bad.lines[0].hs_code = "12".to_owned();
    let low = declaration("D-LOW", "1Z 999 AA1 0123 4567 84", 500.0, "1000.00");
    let results = submit(&mut liaison, &token, vec![low.clone(), bad]).await;
    assert_eq!(results[0].outcome(), DeclarationOutcome::Accepted);
    assert_eq!(results[0].assessment_state(), AssessmentState::Assessed);
    assert_eq!(results[0].lane(), Lane::Red, "{results:#?}");
    assert_eq!(results[1].outcome(), DeclarationOutcome::Rejected);
    let fields: Vec<&str> = results[1]
        .violations
        .iter()
        .map(|v| v.field.as_str())
        .collect();
    for field in [
        "declarations[1].origin_country",
        "declarations[1].lines[0].hs_code",
        "declarations[1].lines[0].quantity",
        "declarations[1].lines[0].declared_value.amount",
    ] {
        assert!(fields.contains(&field), "{field} in {fields:?}");
    }

    let retry = submit(&mut liaison, &token, vec![low.clone()]).await;
    assert_eq!(retry[0].outcome(), DeclarationOutcome::Duplicate);
    assert_eq!(retry[0].lane(), Lane::Red);
    let mut changed = low.clone();
    changed.lines[0].declared_value.as_mut().unwrap().amount = "1500.00".to_owned();
    assert_eq!(
        submit(&mut liaison, &token, vec![changed]).await[0].outcome(),
        DeclarationOutcome::AlreadyExists
    );

    let stored = get_shipment(&mut liaison, &token, "D-LOW").await;
    let assessment = stored.assessment.unwrap();
    assert_eq!(
        assessment.matched_shipment_notice,
        "reports/demo-platform/demo-N-100"
    );
    assert_eq!(
        assessment.lines[0].anomalies[0].code,
        "DECLARED_VALUE_BELOW_MARKET"
    );
    assert!(assessment.lines[0].anomalies[0].expected_low > 2.0);
    assert_eq!(
        stored.declaration.unwrap().lines[0].hs_code,
        "8518302000",
        "codes in canonical form"
    );

    let missing = liaison
        .get_shipment(authorized(
            GetShipmentRequest {
                name: "shipments/NOPE".to_owned(),
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    let platform = liaison
        .submit_declarations(authorized(
            SubmitDeclarationsRequest {
                declarations: vec![low],
            },
            &suite.token("platform:demo-platform"),
        ))
        .await
        .unwrap_err();
    assert_eq!(platform.code(), Code::PermissionDenied);
}

/// Liaison and scoring started separately, so that either can be down or restarted.
struct Pair {
    dir: tempfile::TempDir,
    liaison_url: String,
    scoring_url: String,
    customs: String,
    liaison_token: String,
    scoring_addr: SocketAddr,
    liaison_addr: SocketAddr,
}

fn free_port() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

impl Pair {
    /// A pair on SQLite files, or on fresh PostgreSQL databases (`None` when PostgreSQL
    /// is not configured).
    async fn new(backend: acx_tests::Backend) -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let (liaison_url, scoring_url) = match backend {
            acx_tests::Backend::Sqlite => (
                format!("sqlite://{}", dir.path().join("liaison.db").display()),
                format!("sqlite://{}", dir.path().join("scoring.db").display()),
            ),
            acx_tests::Backend::Postgres => {
                let server = acx_tests::postgres_server_url()?;
                (
                    acx_tests::fresh_postgres_database(&server).await,
                    acx_tests::fresh_postgres_database(&server).await,
                )
            }
        };
        let customs = acx_runtime::credentials::generate_token();
        let liaison_token = acx_runtime::credentials::generate_token();
        let tokens = format!(
            "{} customs:ct\n{} service:liaison\n",
            hash_token(&customs),
            hash_token(&liaison_token)
        );
        std::fs::write(dir.path().join("tokens"), tokens).unwrap();
        Some(Self {
            dir,
            customs,
            liaison_token,
            liaison_url,
            scoring_url,
            scoring_addr: free_port(),
            liaison_addr: free_port(),
        })
    }

    async fn start_liaison(&self) -> (Shutdown, acx_runtime::RunningServer) {
        let shutdown = Shutdown::new();
        let config = acx_liaison::Config {
            reassess_interval_secs: 5,
            server: server_config(
                self.dir.path(),
                &self.liaison_url,
                self.liaison_addr,
                &self.dir.path().join("tokens"),
            ),
            scoring_url: format!("http://{}", self.scoring_addr),
            audit_database_url: None,
            scoring_token: self.liaison_token.clone().into(),
        };
        let running = acx_liaison::start(&config, shutdown.clone()).await.unwrap();
        (shutdown, running)
    }

    async fn start_scoring(&self) -> Shutdown {
        let shutdown = Shutdown::new();
        let server = server_config(
            self.dir.path(),
            &self.scoring_url,
            self.scoring_addr,
            &self.dir.path().join("tokens"),
        );
        acx_scoring::start(&acx_scoring::Config::standalone(server), shutdown.clone())
            .await
            .unwrap();
        shutdown
    }

    async fn shipment_when(&self, id: &str, check: impl Fn(&Shipment) -> bool) -> Shipment {
        let mut client = LiaisonServiceClient::new(channel(self.liaison_addr).await);
        let mut last = None;
        for _ in 0..100 {
            let current = get_shipment(&mut client, &self.customs, id).await;
            if check(&current) {
                return current;
            }
            last = Some(current);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("shipment {id} never matched: {last:#?}");
    }
}

/// Two authorities may use the same declaration id. Concurrent GetShipment calls are
/// answered in shared lookups; each authority still sees only its own declaration, and
/// another authority's id is NOT_FOUND, never its content. On SQLite the lookups run on the
/// reader's own connection, on PostgreSQL as one query per batch through the pool.
#[tokio::test]
async fn authorities_never_see_each_others_shipments_even_in_shared_lookups_on_sqlite() {
    authorities_never_see_each_others_shipments(acx_tests::Backend::Sqlite).await;
}

#[tokio::test]
async fn authorities_never_see_each_others_shipments_even_in_shared_lookups_on_postgres() {
    authorities_never_see_each_others_shipments(acx_tests::Backend::Postgres).await;
}

async fn authorities_never_see_each_others_shipments(backend: acx_tests::Backend) {
    let pair = Pair::new(backend).await.unwrap();
    let other = acx_runtime::credentials::generate_token();
    let tokens = pair.dir.path().join("tokens");
    let mut lines = std::fs::read_to_string(&tokens).unwrap();
    lines.push_str(&format!("{} customs:other\n", hash_token(&other)));
    std::fs::write(&tokens, lines).unwrap();
    let (_shutdown, _liaison) = pair.start_liaison().await;
    let mut client = LiaisonServiceClient::new(channel(pair.liaison_addr).await);

    let mine = declaration("SAME-1", "TRK-A", 100.0, "800.00");
    let theirs = declaration("SAME-1", "TRK-B", 7.0, "70.00");
    for (token, declarations) in [
        (
            &pair.customs,
            vec![mine, declaration("ONLY-A", "TRK-C", 1.0, "10.00")],
        ),
        (&other, vec![theirs]),
    ] {
        for result in submit(&mut client, token, declarations).await {
            assert_eq!(result.outcome(), DeclarationOutcome::Accepted);
        }
    }

    let mut calls = Vec::new();
    for n in 0..200 {
        let (mut client, token, id) = match n % 3 {
            0 => (client.clone(), pair.customs.clone(), "SAME-1"),
            1 => (client.clone(), other.clone(), "SAME-1"),
            _ => (client.clone(), other.clone(), "ONLY-A"),
        };
        calls.push(tokio::spawn(async move {
            let request = GetShipmentRequest {
                name: format!("shipments/{id}"),
            };
            (
                n % 3,
                client.get_shipment(authorized(request, &token)).await,
            )
        }));
    }
    for call in calls {
        match call.await.unwrap() {
            (0, answer) => {
                let shipment = answer.unwrap().into_inner().shipment.unwrap();
                let tracking = &shipment.declaration.unwrap().consignment.unwrap();
                assert_eq!(tracking.tracking_numbers, ["TRK-A"]);
            }
            (1, answer) => {
                let shipment = answer.unwrap().into_inner().shipment.unwrap();
                let tracking = &shipment.declaration.unwrap().consignment.unwrap();
                assert_eq!(tracking.tracking_numbers, ["TRK-B"]);
            }
            (_, answer) => assert_eq!(answer.unwrap_err().code(), Code::NotFound),
        }
    }
}

/// Questions answer before their audit record is committed (group commit): every one of
/// them is still in the trail, in its own SQLite file, once liaison has stopped, even if
/// the process ends right then (its runtime is dropped, as when `main` returns).
#[test]
fn questions_answered_just_before_shutdown_are_in_the_audit_trail() {
    let runtime = || tokio::runtime::Runtime::new().unwrap();
    let pair = runtime()
        .block_on(Pair::new(acx_tests::Backend::Sqlite))
        .unwrap();
    let server = runtime();
    let answered = server.block_on(async {
        let (shutdown, running) = pair.start_liaison().await;
        let client = LiaisonServiceClient::new(channel(pair.liaison_addr).await);
        let mut calls = Vec::new();
        for n in 0..300 {
            let mut client = client.clone();
            let token = pair.customs.clone();
            calls.push(tokio::spawn(async move {
                let request = GetShipmentRequest {
                    name: format!("shipments/NONE-{n}"),
                };
                client.get_shipment(authorized(request, &token)).await
            }));
        }
        // Stop once the first call is answered, while the others are still being answered
        // (a fixed delay answered none on a loaded machine).
        let mut calls = calls.into_iter();
        let first = calls.next().unwrap().await.unwrap();
        shutdown.trigger();
        let mut answered = 0;
        for answer in std::iter::once(first).chain(
            futures_util::future::join_all(calls)
                .await
                .into_iter()
                .map(Result::unwrap),
        ) {
            if let Err(status) = answer
                && status.code() == Code::NotFound
            {
                answered += 1;
            }
        }
        running.wait().await.unwrap();
        answered
    });
    drop(server);
    assert!(answered > 0);

    runtime().block_on(async {
        let audit_file = pair.dir.path().join("liaison-audit.db");
        let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", audit_file.display()))
            .await
            .unwrap();
        let (recorded,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM audit_log WHERE rpc = 'GetShipment' AND outcome = 'NOT_FOUND'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(recorded, answered);
        // The declarations' file holds no audit records: its readers' page caches are not
        // emptied by every call.
        let main = sqlx::SqlitePool::connect(&pair.liaison_url).await.unwrap();
        let (in_main,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM audit_log")
            .fetch_one(&main)
            .await
            .unwrap();
        assert_eq!(in_main, 0);
    });
}

#[tokio::test]
async fn declarations_are_accepted_while_scoring_is_down_and_results_reach_it_across_restarts_on_sqlite()
 {
    pending_then_assessed_with_results_through_the_outbox(acx_tests::Backend::Sqlite).await;
}

#[tokio::test]
async fn declarations_are_accepted_while_scoring_is_down_and_results_reach_it_across_restarts_on_postgres()
 {
    pending_then_assessed_with_results_through_the_outbox(acx_tests::Backend::Postgres).await;
}

async fn pending_then_assessed_with_results_through_the_outbox(backend: acx_tests::Backend) {
    let Some(pair) = Pair::new(backend).await else {
        return;
    };
    let (liaison_shutdown, liaison) = pair.start_liaison().await;
    let mut client = LiaisonServiceClient::new(channel(pair.liaison_addr).await);

    // Scoring is down: accepted and stored as pending, nothing lost.
    let results = submit(
        &mut client,
        &pair.customs,
        vec![declaration("D-1", "TRK-1", 100.0, "800.00")],
    )
    .await;
    assert_eq!(results[0].outcome(), DeclarationOutcome::Accepted);
    assert_eq!(results[0].assessment_state(), AssessmentState::Pending);
    let result = InspectionResult {
        kind: OutcomeKind::UndervaluationConfirmed as i32,
        assessed_value: Some(Money {
            currency_code: "usd".to_owned(),
            amount: "2400".to_owned(),
        }),
        extra_duty: Some(Money {
            currency_code: "USD".to_owned(),
            amount: "78.40".to_owned(),
        }),
        note: "invoice found in the parcel".to_owned(),
        ..Default::default()
    };
    let recorded = client
        .record_inspection_result(authorized(
            RecordInspectionResultRequest {
                name: "shipments/D-1".to_owned(),
                result: Some(result.clone()),
            },
            &pair.customs,
        ))
        .await
        .unwrap()
        .into_inner()
        .shipment
        .unwrap();
    let stored = recorded.inspection_result.unwrap();
    assert!(
        !stored.forwarded,
        "scoring is down: the result waits in the outbox"
    );
    assert_eq!(
        stored.assessed_value.unwrap().amount,
        "2400",
        "amounts in canonical form"
    );

    // Liaison restarts before scoring comes back: the outbox and the pending state survive.
    liaison_shutdown.trigger();
    liaison.wait().await.unwrap();
    let (liaison_shutdown, _liaison) = pair.start_liaison().await;
    let scoring_shutdown = pair.start_scoring().await;

    let done = pair
        .shipment_when("D-1", |s| {
            s.assessment_state() == AssessmentState::Assessed
                && s.inspection_result.as_ref().is_some_and(|r| r.forwarded)
        })
        .await;
    assert!(done.assessment.is_some());

    // Scoring has it: the same outcome again is not new there.
    let mut scoring = ScoringServiceClient::new(channel(pair.scoring_addr).await);
    let again = scoring
        .record_outcome(authorized(
            RecordOutcomeRequest {
                authority: "ct".to_owned(),
                declaration_id: "D-1".to_owned(),
                kind: OutcomeKind::UndervaluationConfirmed as i32,
                inspect_time: None,
                extra_duty: None,
            },
            &pair.liaison_token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(
        !again.recorded,
        "the outbox delivered the outcome exactly once"
    );

    // The same result again is harmless; a different one is refused.
    let mut client = LiaisonServiceClient::new(channel(pair.liaison_addr).await);
    client
        .record_inspection_result(authorized(
            RecordInspectionResultRequest {
                name: "shipments/D-1".to_owned(),
                result: Some(result),
            },
            &pair.customs,
        ))
        .await
        .unwrap();
    let different = client
        .record_inspection_result(authorized(
            RecordInspectionResultRequest {
                name: "shipments/D-1".to_owned(),
                result: Some(InspectionResult {
                    kind: OutcomeKind::Cleared as i32,
                    ..Default::default()
                }),
            },
            &pair.customs,
        ))
        .await
        .unwrap_err();
    assert_eq!(different.code(), Code::AlreadyExists);

    // Search and alerts run the same SQL on both backends.
    use acx_proto::liaison::{SearchShipmentsRequest, ShipmentOrder, WatchAlertsRequest};
    for order_by in [ShipmentOrder::Risk, ShipmentOrder::DeclarationTime] {
        let found = client
            .search_shipments(authorized(
                SearchShipmentsRequest {
                    importer_id: "US-IMP-77".to_owned(),
                    hs_code_prefix: "8518".to_owned(),
                    min_risk: 0.0,
                    order_by: order_by as i32,
                    page_size: 1,
                    ..Default::default()
                },
                &pair.customs,
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(found.shipments[0].name, "shipments/D-1");
    }
    let mut alerts = client
        .watch_alerts(authorized(WatchAlertsRequest::default(), &pair.customs))
        .await
        .unwrap()
        .into_inner();
    // D-1 may or may not be an alert; the stream must at least open and stay open.
    let first = tokio::time::timeout(
        Duration::from_millis(500),
        tokio_stream::StreamExt::next(&mut alerts),
    )
    .await;
    assert!(first.map_or(true, |item| item.is_some_and(|r| r.is_ok())));
    liaison_shutdown.trigger();
    scoring_shutdown.trigger();
}

#[tokio::test]
async fn search_pages_stably_watch_resumes_from_its_cursor_and_auditors_read_the_trail() {
    use acx_proto::liaison::{
        ListAuditRecordsRequest, SearchShipmentsRequest, ShipmentOrder, WatchAlertsRequest,
    };
    use tokio_stream::StreamExt;
    let suite = TestSuite::start_with(true).await;
    let token = suite.token("customs:demo-customs");
    let mut liaison = LiaisonServiceClient::new(channel(suite.liaison).await);
    // Five declarations matching the listed seller's shipment notice at a tenth of the price
    // (RED), and five ordinary ones (GREEN).
    // All at one office, which every search and watch below filters on (the demo's own
    // declarations are at another).
    let at_office = |mut d: Declaration| {
        d.customs_office = "USSEA".to_owned();
        d
    };
    let mut batch: Vec<Declaration> = (0..5)
        .map(|i| {
            at_office(declaration(
                &format!("R-{i}"),
                "1Z999AA10123456784",
                500.0,
                &format!("{}.00", 1000 + i * 10),
            ))
        })
        .collect();
    batch.extend((0..5).map(|i| {
        let mut ordinary = declaration(&format!("G-{i}"), &format!("TRK-G{i}"), 10.0, "2500.00");
        ordinary.importer_id = format!("US-IMP-G{i}");
        at_office(ordinary)
    }));
    let results = submit(&mut liaison, &token, batch).await;
    assert!(
        results
            .iter()
            .all(|r| r.outcome() == DeclarationOutcome::Accepted),
        "{results:#?}"
    );

    let reader = liaison.clone();
    let search = |request: SearchShipmentsRequest| {
        let mut client = reader.clone();
        let token = token.clone();
        let request = SearchShipmentsRequest {
            customs_office: "USSEA".to_owned(),
            ..request
        };
        async move {
            client
                .search_shipments(authorized(request, &token))
                .await
                .map(|r| r.into_inner())
        }
    };
    let red = search(SearchShipmentsRequest {
        lane: Lane::Red as i32,
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(red.shipments.len(), 5);
    let risks: Vec<f64> = red
        .shipments
        .iter()
        .map(|s| s.assessment.as_ref().unwrap().risk)
        .collect();
    assert!(
        risks.windows(2).all(|w| w[0] >= w[1]),
        "highest risk first: {risks:?}"
    );
    let by_hs = search(SearchShipmentsRequest {
        hs_code_prefix: "8518".to_owned(),
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(by_hs.shipments.len(), 10);
    let none = search(SearchShipmentsRequest {
        hs_code_prefix: "9503".to_owned(),
        ..Default::default()
    })
    .await
    .unwrap();
    assert!(none.shipments.is_empty());

    // Pages of three by declaration time; a declaration arriving meanwhile stays out.
    let mut names = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = search(SearchShipmentsRequest {
            order_by: ShipmentOrder::DeclarationTime as i32,
            page_size: 3,
            page_token: page_token.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
        names.extend(page.shipments.into_iter().map(|s| s.name));
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
        let mut late = declaration(&format!("LATE-{}", names.len()), "TRK-L", 10.0, "2500.00");
        late.importer_id = format!("US-IMP-L{}", names.len());
        submit(&mut liaison, &token, vec![at_office(late)]).await;
    }
    assert_eq!(names.len(), 10, "{names:?}");
    let mut unique = names.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 10, "no shipment twice");
    let foreign = search(SearchShipmentsRequest {
        lane: Lane::Green as i32,
        page_token,
        ..Default::default()
    })
    .await;
    assert_eq!(
        foreign.unwrap_err().code(),
        Code::InvalidArgument,
        "a token belongs to its filters"
    );

    // Watch: all RED/YELLOW alerts from the start, then resume after the third.
    let watcher = liaison.clone();
    let watch = |after_cursor: i64| {
        let mut client = watcher.clone();
        let token = token.clone();
        async move {
            client
                .watch_alerts(authorized(
                    WatchAlertsRequest {
                        after_cursor,
                        lane: Lane::Red as i32,
                        customs_office: "USSEA".to_owned(),
                        ..Default::default()
                    },
                    &token,
                ))
                .await
                .unwrap()
                .into_inner()
        }
    };
    let mut stream = watch(0).await;
    let mut first = Vec::new();
    for _ in 0..5 {
        let alert = tokio::time::timeout(Duration::from_secs(5), stream.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        first.push((alert.cursor, alert.shipment.unwrap().name));
    }
    drop(stream);
    assert!(
        first
            .iter()
            .all(|(_, name)| name.starts_with("shipments/R-")),
        "{first:?}"
    );
    let mut resumed = watch(first[2].0).await;
    let mut rest = Vec::new();
    for _ in 0..2 {
        let alert = tokio::time::timeout(Duration::from_secs(5), resumed.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        rest.push((alert.cursor, alert.shipment.unwrap().name));
    }
    assert_eq!(rest, first[3..], "no gap, no repeat after a reconnect");
    submit(
        &mut liaison,
        &token,
        vec![at_office(declaration(
            "R-LIVE",
            "1Z999AA10123456784",
            500.0,
            "900.00",
        ))],
    )
    .await;
    let live = tokio::time::timeout(Duration::from_secs(5), resumed.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(live.shipment.unwrap().name, "shipments/R-LIVE");

    // The audit trail: for auditors only, with every call above.
    let denied = liaison
        .list_audit_records(authorized(ListAuditRecordsRequest::default(), &token))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    let auditor = suite.token("auditor:demo-auditor");
    let searches = liaison
        .list_audit_records(authorized(
            ListAuditRecordsRequest {
                rpc: "SearchShipments".to_owned(),
                page_size: 1000,
                ..Default::default()
            },
            &auditor,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(searches.records.len() >= 8, "{}", searches.records.len());
    assert!(
        searches
            .records
            .iter()
            .all(|r| r.principal == "customs:demo-customs" && r.rpc == "SearchShipments")
    );
    assert!(
        searches
            .records
            .iter()
            .any(|r| r.outcome == "INVALID_ARGUMENT"),
        "refused searches are recorded too"
    );
    assert!(
        searches
            .records
            .iter()
            .all(|r| !r.parameters.contains(&token)),
        "never the token"
    );
}

#[tokio::test]
async fn the_demo_shows_red_alerts_at_once() {
    use acx_proto::liaison::WatchAlertsRequest;
    use tokio_stream::StreamExt;
    let suite = TestSuite::start_with(true).await;
    let token = suite.token("customs:demo-customs");
    let mut liaison = LiaisonServiceClient::new(channel(suite.liaison).await);
    let mut alerts = liaison
        .watch_alerts(authorized(WatchAlertsRequest::default(), &token))
        .await
        .unwrap()
        .into_inner();
    let mut names = Vec::new();
    for _ in 0..2 {
        let alert = tokio::time::timeout(Duration::from_secs(5), alerts.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        let shipment = alert.shipment.unwrap();
        assert_eq!(
            shipment.assessment.as_ref().unwrap().lane(),
            Lane::Red,
            "{shipment:#?}"
        );
        names.push(shipment.name);
    }
    names.sort();
    assert_eq!(names, ["shipments/DEMO-1001", "shipments/DEMO-1002"]);
    let ordinary = get_shipment(&mut liaison, &token, "DEMO-2000").await;
    assert_eq!(ordinary.assessment.unwrap().lane(), Lane::Green);
}

#[tokio::test]
async fn a_party_check_finds_an_importers_history_and_a_described_seller() {
    use acx_proto::{
        common::Identifiers,
        liaison::{CheckPartyRequest, PartyDescription, check_party_request::Party},
    };
    let suite = TestSuite::start_with(true).await;
    let token = suite.token("customs:demo-customs");
    let mut liaison = LiaisonServiceClient::new(channel(suite.liaison).await);
    let check = |party: Party| authorized(CheckPartyRequest { party: Some(party) }, &token);

    let unknown = liaison
        .check_party(check(Party::ImporterId("US-IMP-4711".to_owned())))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound, "no inspection recorded yet");
    liaison
        .record_inspection_result(authorized(
            RecordInspectionResultRequest {
                name: "shipments/DEMO-1001".to_owned(),
                result: Some(InspectionResult {
                    kind: OutcomeKind::CounterfeitSeized as i32,
                    seized_quantity: 500.0,
                    ..Default::default()
                }),
            },
            &token,
        ))
        .await
        .unwrap();
    let importer = liaison
        .check_party(check(Party::ImporterId("US-IMP-4711".to_owned())))
        .await
        .unwrap()
        .into_inner()
        .importer
        .unwrap();
    assert_eq!((importer.inspections, importer.frauds), (1, 1));
    assert!(importer.smoothed_rate > importer.base_rate);

    let described = liaison
        .check_party(check(Party::Entity(PartyDescription {
            name: "Sunrise Gadgets".to_owned(),
            country: "CN".to_owned(),
            identifiers: Some(Identifiers {
                bank_accounts: vec!["GB82 WEST 1234 5698 7654 32".to_owned()],
                ..Default::default()
            }),
        })))
        .await
        .unwrap()
        .into_inner();
    assert!(described.matches[0].blacklisted);
    assert_eq!(described.matches[0].matched_features, ["bank_account"]);

    let invalid = liaison
        .check_party(check(Party::Entity(PartyDescription {
            identifiers: Some(Identifiers {
                emails: vec!["nobody".to_owned()],
                ..Default::default()
            }),
            ..Default::default()
        })))
        .await
        .unwrap_err();
    assert_eq!(invalid.code(), Code::InvalidArgument);
    let nothing = liaison
        .check_party(authorized(CheckPartyRequest { party: None }, &token))
        .await
        .unwrap_err();
    assert_eq!(nothing.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn platforms_are_refused_every_liaison_rpc_and_every_refusal_is_audited() {
    use acx_proto::liaison::{
        CheckPartyRequest, CheckSellerRequest, ListAuditRecordsRequest, SearchShipmentsRequest,
        WatchAlertsRequest,
    };
    let suite = TestSuite::start().await;
    let platform = suite.token("platform:demo-platform");
    let mut liaison = LiaisonServiceClient::new(channel(suite.liaison).await);
    let codes = [
        liaison
            .submit_declarations(authorized(SubmitDeclarationsRequest::default(), &platform))
            .await
            .map(drop),
        liaison
            .get_shipment(authorized(GetShipmentRequest::default(), &platform))
            .await
            .map(drop),
        liaison
            .search_shipments(authorized(SearchShipmentsRequest::default(), &platform))
            .await
            .map(drop),
        liaison
            .watch_alerts(authorized(WatchAlertsRequest::default(), &platform))
            .await
            .map(drop),
        liaison
            .record_inspection_result(authorized(
                RecordInspectionResultRequest::default(),
                &platform,
            ))
            .await
            .map(drop),
        liaison
            .check_seller(authorized(CheckSellerRequest::default(), &platform))
            .await
            .map(drop),
        liaison
            .check_party(authorized(CheckPartyRequest::default(), &platform))
            .await
            .map(drop),
        liaison
            .list_audit_records(authorized(ListAuditRecordsRequest::default(), &platform))
            .await
            .map(drop),
    ];
    for code in codes {
        assert_eq!(code.unwrap_err().code(), Code::PermissionDenied);
    }
    let anonymous = liaison
        .get_shipment(GetShipmentRequest::default())
        .await
        .unwrap_err();
    assert_eq!(anonymous.code(), Code::Unauthenticated);

    let auditor = suite.token("auditor:demo-auditor");
    let mut records = Vec::new();
    for _ in 0..50 {
        records = liaison
            .list_audit_records(authorized(
                ListAuditRecordsRequest {
                    page_size: 1000,
                    ..Default::default()
                },
                &auditor,
            ))
            .await
            .unwrap()
            .into_inner()
            .records;
        if records.len() >= 9 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let refused: Vec<(&str, &str, &str)> = records
        .iter()
        .map(|r| (r.principal.as_str(), r.rpc.as_str(), r.outcome.as_str()))
        .collect();
    for rpc in [
        "SubmitDeclarations",
        "GetShipment",
        "SearchShipments",
        "WatchAlerts",
        "RecordInspectionResult",
        "CheckSeller",
        "CheckParty",
        "ListAuditRecords",
    ] {
        assert!(
            refused.contains(&("platform:demo-platform", rpc, "PERMISSION_DENIED")),
            "{rpc} in {refused:?}"
        );
    }
    assert!(
        refused.contains(&("-", "GetShipment", "UNAUTHENTICATED")),
        "{refused:?}"
    );
}
