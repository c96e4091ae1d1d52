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

/// Runs `call` while `table` of `database_url` is locked against writes, ends the backend
/// of the write waiting for the lock, and checks the caller is told that `what` is
/// unavailable and to retry.
async fn assert_unavailable_when_lost<T: Send + 'static>(
    database_url: &str,
    table: &str,
    call: impl Future<Output = Result<T, Status>> + Send + 'static,
    what: &str,
) {
    let block = WriteBlock::on(database_url, table).await;
    let call = tokio::spawn(call);
    block.end_the_waiting_write().await;
    let Err(status) = call.await.unwrap() else {
        panic!("a write whose connection was lost (in {table}) succeeded");
    };
    assert_eq!(status.code(), Code::Unavailable, "{table}: {status:?}");
    assert_eq!(
        status.message(),
        format!("{what} is unavailable; retry later"),
        "{table}"
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
        let reports = reports(0..3);
        authorized(SubmitReportsRequest { reports }, &ingest.platform_a)
    };
    let (mut lost, request_lost) = (client.clone(), request());
    let call = async move { lost.submit_reports(request_lost).await };
    assert_unavailable_when_lost(&ingest.database_url, "reports", call, "the database").await;
    let retried = client.submit_reports(request()).await.unwrap().into_inner();
    let accepted = ReportOutcome::Accepted as i32;
    assert!(
        retried.results.iter().all(|r| r.outcome == accepted),
        "{retried:?}"
    );

    // Scoring: AssessShipment, recording the declaration.
    let service = acx_runtime::credentials::generate_token();
    let scoring_url = acx_tests::fresh_postgres_database(&server).await;
    let replica = Replica::start(None, &service, &scoring_url, &dir.path().join("s"), 2000).await;
    let mut scoring = replica.client().await;
    let request = || {
        let shipment = Some(declaration("LOST-1", 1));
        let message = AssessShipmentRequest {
            shipment,
            record: true,
        };
        authorized(message, &service)
    };
    let (mut lost, request_lost) = (scoring.clone(), request());
    let call = async move { lost.assess_shipment(request_lost).await };
    assert_unavailable_when_lost(&scoring_url, "declarations", call, "the database").await;
    scoring.assess_shipment(request()).await.unwrap();
    let recorded = scalar(&scoring_url, "SELECT COUNT(*) FROM declarations").await;
    assert_eq!(recorded, 1, "recorded once");

    // Liaison: SubmitDeclarations (scoring unreachable: declarations are stored pending).
    let liaison_url = acx_tests::fresh_postgres_database(&server).await;
    let customs = acx_runtime::credentials::generate_token();
    let tokens = dir.path().join("liaison-tokens");
    liaisons::customs_tokens(&tokens, &customs);
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let (shutdown, running) = liaisons::liaison(
        &liaison_url,
        &dir.path().join("l"),
        &tokens,
        closed,
        &service,
    )
    .await;
    let mut liaison = LiaisonServiceClient::new(channel(running.local_addr).await);
    let request = |id: &str| {
        let declarations = vec![fixtures::declaration(id)];
        authorized(SubmitDeclarationsRequest { declarations }, &customs)
    };
    let (mut lost, request_lost) = (liaison.clone(), request("LOST-2"));
    let call = async move { lost.submit_declarations(request_lost).await };
    assert_unavailable_when_lost(&liaison_url, "declarations", call, "the database").await;
    let retried = liaison
        .submit_declarations(request("LOST-2"))
        .await
        .unwrap()
        .into_inner();
    let accepted = DeclarationOutcome::Accepted as i32;
    assert_eq!(retried.results[0].outcome, accepted, "{retried:?}");

    // Liaison's audit trail: a declaration is answered only once its record is written.
    let (mut lost, request_lost) = (liaison.clone(), request("LOST-3"));
    let call = async move { lost.submit_declarations(request_lost).await };
    assert_unavailable_when_lost(&liaison_url, "audit_log", call, "the audit trail").await;
    shutdown.trigger();
}
