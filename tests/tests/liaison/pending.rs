//! Liaison and scoring as separate processes: authorities kept apart in shared lookups,
//! declarations accepted while scoring is down and assessed, with their results, once it is
//! back, across restarts.

use super::*;

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
        let mut config = self.liaison_config(
            self.liaison_addr,
            format!("http://{}", self.scoring_addr),
            &self.liaison_token,
        );
        config.reassess_interval_secs = 5;
        let running = acx_liaison::start(&config, shutdown.clone()).await.unwrap();
        (shutdown, running)
    }

    /// Liaison's settings: listening on `addr`, calling scoring at `scoring_url` with
    /// `token`, re-assessing nothing.
    fn liaison_config(
        &self,
        addr: SocketAddr,
        scoring_url: String,
        token: &str,
    ) -> acx_liaison::Config {
        acx_liaison::Config {
            reassess_interval_secs: 0,
            server: server_config(
                self.dir.path(),
                &self.liaison_url,
                addr,
                &self.dir.path().join("tokens"),
            ),
            scoring_url,
            audit_database_url: None,
            scoring_token: token.to_owned().into(),
        }
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
    // None without a PostgreSQL server to test against.
    let Some(pair) = Pair::new(backend).await else {
        return;
    };
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
                assert_eq!(tracking.tracking_numbers, ["TRKA"]);
            }
            (1, answer) => {
                let shipment = answer.unwrap().into_inner().shipment.unwrap();
                let tracking = &shipment.declaration.unwrap().consignment.unwrap();
                assert_eq!(tracking.tracking_numbers, ["TRKB"]);
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
                result: Some(result.clone()),
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
    // So is the same kind with other details (found by a tester: a corrected rights owner
    // or note answered OK and was not stored); the time it was stored with is the same.
    let stored = done.inspection_result.clone().unwrap();
    let corrections = [
        InspectionResult {
            note: "correction: two invoices".to_owned(),
            ..result.clone()
        },
        InspectionResult {
            rights_owner: "Adidas AG".to_owned(),
            ..result.clone()
        },
        InspectionResult {
            inspect_time: stored.inspect_time.map(|t| prost_types::Timestamp {
                seconds: t.seconds - 3600,
                ..t
            }),
            ..result.clone()
        },
    ];
    for correction in corrections {
        let refused = client
            .record_inspection_result(authorized(
                RecordInspectionResultRequest {
                    name: "shipments/D-1".to_owned(),
                    result: Some(correction.clone()),
                },
                &pair.customs,
            ))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::AlreadyExists, "{correction:?}");
    }
    // Padding is no correction: the note is stored trimmed (found by a tester).
    let with_its_time = client
        .record_inspection_result(authorized(
            RecordInspectionResultRequest {
                name: "shipments/D-1".to_owned(),
                result: Some(InspectionResult {
                    inspect_time: stored.inspect_time,
                    note: format!(" {} \n", result.note),
                    ..result.clone()
                }),
            },
            &pair.customs,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        with_its_time
            .shipment
            .unwrap()
            .inspection_result
            .unwrap()
            .note,
        "invoice found in the parcel"
    );

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

/// Liaison does not start with settings scoring refuses, and says which (found by a tester:
/// with a wrong token it served, every declaration stayed pending, and customs were told
/// scoring was unavailable); a scoring that is only down does not stop it.
#[tokio::test]
async fn liaison_stops_at_start_on_settings_scoring_refuses() {
    let pair = Pair::new(acx_tests::Backend::Sqlite).await.unwrap();
    let _scoring = pair.start_scoring().await;
    for (token, url, setting) in [
        (
            acx_runtime::credentials::generate_token(),
            format!("http://{}", pair.scoring_addr),
            "ACX_SCORING_TOKEN",
        ),
        // Known to scoring, but a customs authority's, not liaison's.
        (
            pair.customs.clone(),
            format!("http://{}", pair.scoring_addr),
            "ACX_SCORING_TOKEN",
        ),
    ] {
        let config = pair.liaison_config(free_port(), url, &token);
        let Err(error) = acx_liaison::start(&config, Shutdown::new()).await else {
            panic!("liaison started with settings scoring refuses");
        };
        let message = acx_runtime::error::cause_chain(&error);
        assert!(message.contains(setting), "{message}");
    }
    // Scoring down: liaison starts (declarations wait as pending).
    let config = pair.liaison_config(
        free_port(),
        format!("http://{}", free_port()),
        &pair.liaison_token,
    );
    let shutdown = Shutdown::new();
    acx_liaison::start(&config, shutdown.clone()).await.unwrap();
    shutdown.trigger();
}
