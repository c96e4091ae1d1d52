//! A database connection lost in the middle of a write (a PostgreSQL backend ended, as a
//! restart or a failover ends them): every service answers UNAVAILABLE, which clients
//! retry, and nothing of the call was written, so the retry is answered as a first try;
//! so does liaison when its audit trail's connection is lost.

use sqlx::{Connection, PgConnection};

use super::*;

/// Holds `table` of `database_url` locked against writes (reads go on) until dropped.
struct WriteBlock(PgConnection);

impl WriteBlock {
    async fn on(database_url: &str, table: &str) -> Self {
        let mut connection = PgConnection::connect(database_url).await.unwrap();
        sqlx::query("BEGIN").execute(&mut connection).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "LOCK TABLE {table} IN EXCLUSIVE MODE"
        )))
        .execute(&mut connection)
        .await
        .unwrap();
        Self(connection)
    }

    /// Ends the backend of the first write that waits for the lock (as a server restart
    /// would), then lets writes through again.
    async fn end_the_waiting_write(mut self) {
        let mut ended = false;
        for _ in 0..200 {
            ended = sqlx::query_scalar(
                "SELECT COALESCE(bool_or(pg_terminate_backend(pid)), false) FROM pg_stat_activity \
                 WHERE datname = current_database() AND pid <> pg_backend_pid() \
                 AND wait_event_type = 'Lock'",
            )
            .fetch_one(&mut self.0)
            .await
            .unwrap();
            if ended {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        assert!(ended, "no write waited for the lock");
        sqlx::query("ROLLBACK").execute(&mut self.0).await.unwrap();
    }
}

/// What a caller is told when the connection to `what` is lost under its call.
fn assert_unavailable(status: &Status, call: &str, what: &str) {
    assert_eq!(status.code(), Code::Unavailable, "{call}: {status:?}");
    assert_eq!(
        status.message(),
        format!("{what} is unavailable; retry later"),
        "{call}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_whose_database_connection_is_lost_is_unavailable_and_its_retry_a_first_try() {
    let Some(server) = acx_tests::postgres_server_url() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();

    // Ingest: SubmitReports.
    let ingest_dir = dir.path().join("ingest");
    std::fs::create_dir_all(&ingest_dir).unwrap();
    let ingest = IngestHarness::start(Backend::Postgres, &ingest_dir)
        .await
        .unwrap();
    let mut client = IngestServiceClient::new(channel(ingest.addr).await);
    let request = || {
        authorized(
            SubmitReportsRequest {
                reports: reports(0..3),
            },
            &ingest.platform_a,
        )
    };
    let block = WriteBlock::on(&ingest.database_url, "reports").await;
    let call = tokio::spawn({
        let (mut client, request) = (client.clone(), request());
        async move { client.submit_reports(request).await }
    });
    block.end_the_waiting_write().await;
    assert_unavailable(
        &call.await.unwrap().unwrap_err(),
        "SubmitReports",
        "the database",
    );
    let retried = client.submit_reports(request()).await.unwrap().into_inner();
    assert!(
        retried
            .results
            .iter()
            .all(|r| r.outcome == ReportOutcome::Accepted as i32),
        "{retried:?}"
    );

    // Scoring: AssessShipment, recording the declaration.
    let service = acx_runtime::credentials::generate_token();
    let scoring_url = acx_tests::fresh_postgres_database(&server).await;
    let replica = Replica::start(None, &service, &scoring_url, &dir.path().join("s"), 2000).await;
    let mut scoring = replica.client().await;
    let request = || {
        authorized(
            AssessShipmentRequest {
                shipment: Some(declaration("LOST-1", 1)),
                record: true,
            },
            &service,
        )
    };
    let block = WriteBlock::on(&scoring_url, "declarations").await;
    let call = tokio::spawn({
        let (mut client, request) = (scoring.clone(), request());
        async move { client.assess_shipment(request).await }
    });
    block.end_the_waiting_write().await;
    assert_unavailable(
        &call.await.unwrap().unwrap_err(),
        "AssessShipment",
        "the database",
    );
    scoring.assess_shipment(request()).await.unwrap();
    assert_eq!(
        scalar(&scoring_url, "SELECT COUNT(*) FROM declarations").await,
        1,
        "recorded once"
    );

    // Liaison: SubmitDeclarations (scoring unreachable: declarations are stored pending).
    let liaison_url = acx_tests::fresh_postgres_database(&server).await;
    let customs = acx_runtime::credentials::generate_token();
    let tokens = dir.path().join("liaison-tokens");
    std::fs::write(
        &tokens,
        format!(
            "{} customs:ct\n",
            acx_runtime::credentials::hash_token(&customs)
        ),
    )
    .unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let liaison_dir = dir.path().join("l");
    std::fs::create_dir_all(&liaison_dir).unwrap();
    let config = acx_liaison::Config {
        server: server_config(
            &liaison_dir,
            &liaison_url,
            "127.0.0.1:0".parse().unwrap(),
            &tokens,
        ),
        scoring_url: format!("http://{closed}"),
        audit_database_url: None,
        scoring_token: service.clone().into(),
        reassess_interval_secs: 0,
    };
    let shutdown = acx_runtime::Shutdown::new();
    let running = acx_liaison::start(&config, shutdown.clone()).await.unwrap();
    let mut liaison = LiaisonServiceClient::new(channel(running.local_addr).await);
    let request = || {
        authorized(
            SubmitDeclarationsRequest {
                declarations: vec![fixtures::declaration("LOST-2")],
            },
            &customs,
        )
    };
    let block = WriteBlock::on(&liaison_url, "declarations").await;
    let call = tokio::spawn({
        let (mut client, request) = (liaison.clone(), request());
        async move { client.submit_declarations(request).await }
    });
    block.end_the_waiting_write().await;
    assert_unavailable(
        &call.await.unwrap().unwrap_err(),
        "SubmitDeclarations",
        "the database",
    );
    let retried = liaison
        .submit_declarations(request())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        retried.results[0].outcome,
        DeclarationOutcome::Accepted as i32,
        "{retried:?}"
    );

    // Liaison's audit trail: a declaration is answered only once its record is written.
    let block = WriteBlock::on(&liaison_url, "audit_log").await;
    let call = tokio::spawn({
        let mut client = liaison.clone();
        let request = authorized(
            SubmitDeclarationsRequest {
                declarations: vec![fixtures::declaration("LOST-3")],
            },
            &customs,
        );
        async move { client.submit_declarations(request).await }
    });
    block.end_the_waiting_write().await;
    assert_unavailable(
        &call.await.unwrap().unwrap_err(),
        "SubmitDeclarations (audit)",
        "the audit trail",
    );
    shutdown.trigger();
}
