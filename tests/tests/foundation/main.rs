//! The foundation, proven through the public gRPC API: health, reflection, authentication
//! and authorisation, rich errors, limits, cross-service calls, and migrations on both
//! backends; TLS in `tls`.

#![allow(clippy::unwrap_used)]

mod startup;
mod tls;

use std::time::Duration;

use acx_proto::{
    common::SellerAccountRef,
    diagnostics::{EchoRequest, diagnostics_service_client::DiagnosticsServiceClient},
    liaison::{CheckSellerRequest, liaison_service_client::LiaisonServiceClient},
    scoring::{GetSellerRiskRequest, scoring_service_client::ScoringServiceClient},
};
use acx_runtime::{Database, ServerConfig, Shutdown};
use acx_tests::{TestSuite, authorized, channel, tokens_file};
use tokio_stream::StreamExt;
use tonic::Code;
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};
use tonic_types::StatusExt;

fn echo(message: &str) -> EchoRequest {
    EchoRequest {
        message: message.to_owned(),
        delay: None,
    }
}

fn slow_echo(delay: Duration) -> EchoRequest {
    EchoRequest {
        message: "slow".to_owned(),
        delay: Some(prost_types::Duration {
            seconds: delay.as_secs() as i64,
            nanos: delay.subsec_nanos() as i32,
        }),
    }
}

fn seller(platform: &str, seller_id: &str) -> Option<SellerAccountRef> {
    Some(SellerAccountRef {
        platform: platform.to_owned(),
        seller_id: seller_id.to_owned(),
    })
}

async fn health_status(addr: std::net::SocketAddr, service: &str) -> ServingStatus {
    let response = HealthClient::new(channel(addr).await)
        .check(HealthCheckRequest {
            service: service.to_owned(),
        })
        .await
        .expect("health answers without credentials");
    response.into_inner().status()
}

async fn reflected_services_v1(addr: std::net::SocketAddr) -> Vec<String> {
    use tonic_reflection::pb::v1::{
        ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
    };
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = ServerReflectionClient::new(channel(addr).await)
        .server_reflection_info(tokio_stream::once(request))
        .await
        .expect("reflection v1 answers without credentials")
        .into_inner();
    match responses.next().await.unwrap().unwrap().message_response {
        Some(MessageResponse::ListServicesResponse(list)) => {
            list.service.into_iter().map(|s| s.name).collect()
        }
        other => panic!("unexpected reflection answer {other:?}"),
    }
}

async fn reflected_services_v1alpha(addr: std::net::SocketAddr) -> Vec<String> {
    use tonic_reflection::pb::v1alpha::{
        ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
    };
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = ServerReflectionClient::new(channel(addr).await)
        .server_reflection_info(tokio_stream::once(request))
        .await
        .expect("reflection v1alpha answers without credentials")
        .into_inner();
    match responses.next().await.unwrap().unwrap().message_response {
        Some(MessageResponse::ListServicesResponse(list)) => {
            list.service.into_iter().map(|s| s.name).collect()
        }
        other => panic!("unexpected reflection answer {other:?}"),
    }
}

#[tokio::test]
async fn every_service_is_serving_and_lists_its_api_over_both_reflection_versions() {
    let suite = TestSuite::start().await;
    let services = [
        (suite.ingest, acx_ingest::SERVICE_NAME),
        (suite.scoring, acx_scoring::SERVICE_NAME),
        (suite.liaison, acx_liaison::SERVICE_NAME),
        (suite.liaison, acx_liaison::SERVICE_NAME_V1),
    ];
    for (addr, name) in services {
        assert_eq!(
            health_status(addr, "").await,
            ServingStatus::Serving,
            "{name} overall"
        );
        assert_eq!(
            health_status(addr, name).await,
            ServingStatus::Serving,
            "{name}"
        );
        for listed in [
            reflected_services_v1(addr).await,
            reflected_services_v1alpha(addr).await,
        ] {
            assert!(listed.iter().any(|s| s == name), "{name} not in {listed:?}");
            assert!(
                listed.iter().any(|s| s == "grpc.health.v1.Health"),
                "{listed:?}"
            );
            // A service's versions are one service (liaison serves v1 beside v2).
            let same_service = |s: &str| {
                s == name
                    || s.strip_prefix("acx.liaison.v")
                        .is_some_and(|_| name.starts_with("acx.liaison.v"))
            };
            assert!(
                !listed.iter().any(|s| s.starts_with("acx.")
                    && !same_service(s)
                    && !s.starts_with("acx.diagnostics")),
                "{name} lists another service's API: {listed:?}"
            );
        }
    }
}

#[tokio::test]
async fn calls_without_a_valid_token_are_unauthenticated() {
    let suite = TestSuite::start().await;
    for addr in [suite.ingest, suite.scoring, suite.liaison] {
        let mut client = DiagnosticsServiceClient::new(channel(addr).await);
        let missing = client.echo(echo("hi")).await.expect_err("no token");
        assert_eq!(missing.code(), Code::Unauthenticated, "{missing:?}");
        assert_eq!(
            missing.get_details_error_info().unwrap().reason,
            "MISSING_CREDENTIALS"
        );

        let unknown = client
            .echo(authorized(echo("hi"), "acx_not-a-token"))
            .await
            .expect_err("bad token");
        assert_eq!(unknown.code(), Code::Unauthenticated, "{unknown:?}");

        let known = client
            .echo(authorized(echo("hi"), &suite.token("auditor:demo-auditor")))
            .await
            .expect("any principal may echo");
        assert_eq!(known.into_inner().message, "hi");
    }
}

#[tokio::test]
async fn principals_of_the_wrong_kind_are_permission_denied() {
    let suite = TestSuite::start().await;
    let mut liaison = LiaisonServiceClient::new(channel(suite.liaison).await);
    let platform = suite.token("platform:demo-platform");
    let denied = liaison
        .check_seller(authorized(
            CheckSellerRequest {
                seller: seller("amazon", "A1"),
            },
            &platform,
        ))
        .await
        .expect_err("platforms may not call liaison");
    assert_eq!(denied.code(), Code::PermissionDenied);
    assert!(denied.message().contains("customs"), "{}", denied.message());
    assert_eq!(
        denied.get_details_error_info().unwrap().reason,
        "ROLE_NOT_ALLOWED"
    );

    let mut scoring = ScoringServiceClient::new(channel(suite.scoring).await);
    let customs = suite.token("customs:demo-customs");
    let denied = scoring
        .get_seller_risk(authorized(
            GetSellerRiskRequest {
                seller: seller("amazon", "A1"),
                cluster_id: String::new(),
            },
            &customs,
        ))
        .await
        .expect_err("customs ask through liaison, not scoring directly");
    assert_eq!(denied.code(), Code::PermissionDenied);
}

#[tokio::test]
async fn check_seller_crosses_to_scoring_and_is_audited() {
    let suite = TestSuite::start().await;
    let mut liaison = LiaisonServiceClient::new(channel(suite.liaison).await);
    let customs = suite.token("customs:demo-customs");
    let unknown = liaison
        .check_seller(authorized(
            CheckSellerRequest {
                seller: seller("amazon", "NOBODY"),
            },
            &customs,
        ))
        .await
        .expect_err("scoring knows nothing of this seller yet");
    assert_eq!(
        unknown.code(),
        Code::NotFound,
        "scoring's answer passes through: {unknown:?}"
    );
    assert!(unknown.message().contains("amazon/NOBODY"));

    // The trail has its own SQLite file; a question's record is committed just after
    // the answer (group commit), so it may take a moment to appear.
    let database = Database::connect(&format!(
        "sqlite://{}",
        suite.data_dir.path().join("liaison-audit.db").display()
    ))
    .await
    .unwrap();
    let Database::Sqlite(pool) = &database else {
        unreachable!()
    };
    let mut rows: Vec<(String, String, String, String)> = Vec::new();
    for _ in 0..100 {
        rows = sqlx::query_as("SELECT principal, rpc, parameters, outcome FROM audit_log")
            .fetch_all(pool)
            .await
            .unwrap();
        if !rows.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        rows,
        [(
            "customs:demo-customs".to_owned(),
            "CheckSeller".to_owned(),
            "seller=amazon/NOBODY".to_owned(),
            "NOT_FOUND".to_owned()
        )]
    );
    let tampering = sqlx::query("DELETE FROM audit_log").execute(pool).await;
    assert!(tampering.is_err(), "the audit trail is append-only");
}

#[tokio::test]
async fn invalid_input_names_each_wrong_field_in_bad_request_details() {
    let suite = TestSuite::start().await;
    let mut liaison = LiaisonServiceClient::new(channel(suite.liaison).await);
    let customs = suite.token("customs:demo-customs");
    let invalid = liaison
        .check_seller(authorized(
            CheckSellerRequest {
                seller: seller("", " "),
            },
            &customs,
        ))
        .await
        .expect_err("empty fields");
    assert_eq!(invalid.code(), Code::InvalidArgument);
    let fields: Vec<String> = invalid
        .get_details_bad_request()
        .expect("google.rpc.BadRequest details")
        .field_violations
        .into_iter()
        .map(|v| v.field)
        .collect();
    assert_eq!(fields, ["seller.platform", "seller.seller_id"]);

    let mut diagnostics = DiagnosticsServiceClient::new(channel(suite.scoring).await);
    let too_slow = diagnostics
        .echo(authorized(slow_echo(Duration::from_secs(60)), &customs))
        .await
        .expect_err("delay over 10 s");
    assert_eq!(too_slow.code(), Code::InvalidArgument);
    assert_eq!(
        too_slow.get_details_bad_request().unwrap().field_violations[0].field,
        "delay"
    );
}

/// Starts scoring alone with `configure`d limits, accepting `token` as `service:test`.
async fn scoring_with(
    dir: &std::path::Path,
    token: &str,
    configure: impl FnOnce(&mut ServerConfig),
) -> (std::net::SocketAddr, Shutdown) {
    let mut server = ServerConfig::local(dir);
    server.listen_addr = Some("127.0.0.1:0".parse().unwrap());
    server.tokens_file = Some(tokens_file(dir, token, "service:test"));
    configure(&mut server);
    let shutdown = Shutdown::new();
    let running = acx_scoring::start(&acx_scoring::Config::standalone(server), shutdown.clone())
        .await
        .unwrap();
    (running.local_addr, shutdown)
}

#[tokio::test]
async fn an_oversized_message_is_resource_exhausted_and_the_next_call_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let token = acx_runtime::credentials::generate_token();
    let (addr, shutdown) =
        scoring_with(dir.path(), &token, |c| c.max_message_bytes = 16 * 1024).await;
    let mut client = DiagnosticsServiceClient::new(channel(addr).await);

    let big = client
        .echo(authorized(echo(&"x".repeat(64 * 1024)), &token))
        .await
        .expect_err("64 KiB is over the 16 KiB limit");
    assert_eq!(big.code(), Code::ResourceExhausted, "{big:?}");
    assert_eq!(
        big.get_details_error_info().unwrap().reason,
        "MESSAGE_TOO_LARGE"
    );

    let normal = client
        .echo(authorized(echo("still here"), &token))
        .await
        .expect("server keeps serving");
    assert_eq!(normal.into_inner().message, "still here");
    shutdown.trigger();
}

#[tokio::test]
async fn calls_over_the_concurrency_limit_are_shed_but_health_still_answers() {
    let dir = tempfile::tempdir().unwrap();
    let token = acx_runtime::credentials::generate_token();
    let (addr, shutdown) = scoring_with(dir.path(), &token, |c| c.max_concurrent_calls = 1).await;
    let connection = channel(addr).await;

    let mut slow_client = DiagnosticsServiceClient::new(connection.clone());
    let slow_request = authorized(slow_echo(Duration::from_secs(5)), &token);
    let slow = tokio::spawn(async move { slow_client.echo(slow_request).await });

    // Until the slow call holds the only slot (at once on a quiet machine), calls are served.
    let mut client = DiagnosticsServiceClient::new(connection);
    let taken = tokio::time::Instant::now() + Duration::from_secs(4);
    let shed = loop {
        match client.echo(authorized(echo("now"), &token)).await {
            Err(shed) => break shed,
            Ok(_) => assert!(tokio::time::Instant::now() < taken, "over the limit"),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(shed.code(), Code::ResourceExhausted, "{shed:?}");
    assert_eq!(shed.get_details_error_info().unwrap().reason, "OVERLOADED");
    assert_eq!(
        health_status(addr, "").await,
        ServingStatus::Serving,
        "probes are never shed"
    );

    slow.await.unwrap().expect("the call in flight completes");
    client
        .echo(authorized(echo("later"), &token))
        .await
        .expect("served again once below the limit");
    shutdown.trigger();
}

#[tokio::test]
async fn a_call_past_the_deadline_is_deadline_exceeded() {
    let dir = tempfile::tempdir().unwrap();
    let token = acx_runtime::credentials::generate_token();
    let (addr, shutdown) = scoring_with(dir.path(), &token, |c| {
        c.default_deadline = Duration::from_millis(300)
    })
    .await;
    let mut client = DiagnosticsServiceClient::new(channel(addr).await);

    let late = client
        .echo(authorized(slow_echo(Duration::from_secs(2)), &token))
        .await
        .expect_err("past the default deadline");
    assert_eq!(late.code(), Code::DeadlineExceeded, "{late:?}");

    client
        .echo(authorized(echo("fast"), &token))
        .await
        .expect("server keeps serving");
    shutdown.trigger();
}

/// The tables each service's migrations must create.
fn expected_tables() -> [(&'static str, acx_runtime::db::Migrations, &'static str); 3] {
    [
        ("ingest", acx_ingest::migrations(), "reports"),
        ("scoring", acx_scoring::migrations(), "seller_risk"),
        ("liaison", acx_liaison::migrations(), "audit_log"),
    ]
}

#[tokio::test]
async fn migrations_apply_on_sqlite_and_are_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    for (service, migrations, table) in expected_tables() {
        let url = format!(
            "sqlite://{}",
            dir.path().join(format!("{service}.db")).display()
        );
        let database = Database::connect(&url).await.unwrap();
        database.migrate(&migrations).await.unwrap();
        database
            .migrate(&migrations)
            .await
            .expect("running again is a no-op");
        let Database::Sqlite(pool) = &database else {
            unreachable!()
        };
        let (count,): (i64,) =
            sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
                .fetch_one(pool)
                .await
                .unwrap();
        assert_eq!(count, 0, "{service}: {table} exists and is empty");
    }
}

#[tokio::test]
async fn migrations_apply_on_postgres_and_are_idempotent() {
    let Some(server) = acx_tests::postgres_server_url() else {
        return;
    };
    for (service, migrations, table) in expected_tables() {
        let url = acx_tests::fresh_postgres_database(&server).await;
        let database = Database::connect(&url).await.unwrap();
        assert_eq!(database.backend(), "postgres");
        database.migrate(&migrations).await.unwrap();
        database
            .migrate(&migrations)
            .await
            .expect("running again is a no-op");
        let Database::Postgres(pool) = &database else {
            unreachable!()
        };
        let (count,): (i64,) =
            sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
                .fetch_one(pool)
                .await
                .unwrap();
        assert_eq!(count, 0, "{service}: {table} exists and is empty");
        database.close().await;
        acx_tests::drop_postgres_database(&server, &url).await;
    }
}

#[tokio::test]
async fn health_follows_the_database() {
    let Some(server) = acx_tests::postgres_server_url() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let url = acx_tests::fresh_postgres_database(&server).await;
    let token = acx_runtime::credentials::generate_token();
    let (addr, shutdown) =
        scoring_with(dir.path(), &token, |c| c.database_url = Some(url.clone())).await;
    assert_eq!(health_status(addr, "").await, ServingStatus::Serving);

    acx_tests::drop_postgres_database(&server, &url).await;
    let mut status = ServingStatus::Serving;
    for _ in 0..40 {
        status = health_status(addr, acx_scoring::SERVICE_NAME).await;
        if status == ServingStatus::NotServing {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(
        status,
        ServingStatus::NotServing,
        "a service without its database is not serving"
    );
    shutdown.trigger();
}
