//! A database connection lost in the middle of a write (a PostgreSQL backend ended, as a
//! restart or a failover ends them): every service answers UNAVAILABLE, which clients
//! retry, and nothing of the call was written, so the retry is answered as a first try;
//! so does liaison when its audit trail's connection is lost. A database out of reach for a
//! while (refusing, or behind a proxy that closes every connection) is UNAVAILABLE within
//! the caller's deadline, and served again once back.

use sqlx::{Connection, PgConnection};

use super::*;

/// Holds `table` of `database_url` locked against writes (reads go on) until dropped.
pub(crate) struct WriteBlock(PgConnection, String);

impl WriteBlock {
    pub(crate) async fn on(database_url: &str, table: &str) -> Self {
        Self::locking(database_url, table, "EXCLUSIVE").await
    }

    /// `table` locked against reads too.
    pub(crate) async fn against_reads(database_url: &str, table: &str) -> Self {
        Self::locking(database_url, table, "ACCESS EXCLUSIVE").await
    }

    async fn locking(database_url: &str, table: &str, mode: &str) -> Self {
        let mut connection = PgConnection::connect(database_url).await.unwrap();
        sqlx::query("BEGIN").execute(&mut connection).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "LOCK TABLE {table} IN {mode} MODE"
        )))
        .execute(&mut connection)
        .await
        .unwrap();
        Self(connection, table.to_owned())
    }

    /// How many statements wait for the lock.
    pub(crate) async fn waiting(&mut self) -> i64 {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() \
             AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'",
        )
        .fetch_one(&mut self.0)
        .await
        .unwrap()
    }

    pub(crate) async fn activity(
        &mut self,
    ) -> Vec<(Option<String>, Option<String>, Option<String>)> {
        sqlx::query_as("SELECT state, wait_event_type, left(query, 60) FROM pg_stat_activity WHERE datname = current_database()")
            .fetch_all(&mut self.0).await.unwrap()
    }

    /// Lets them through.
    pub(crate) async fn release(mut self) {
        sqlx::query("ROLLBACK").execute(&mut self.0).await.unwrap();
    }

    /// Ends the backend of the first write that waits for the lock (as a server restart
    /// would), then lets writes through again.
    async fn end_the_waiting_write(mut self) {
        let mut ended = false;
        // Up to 20 s: the call may first wait for scoring, which is away.
        for _ in 0..800 {
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
        if !ended {
            let activity: Vec<(Option<String>, Option<String>, Option<String>)> = sqlx::query_as(
                "SELECT state, wait_event_type, query FROM pg_stat_activity WHERE datname = current_database()",
            )
            .fetch_all(&mut self.0)
            .await
            .unwrap();
            panic!("no write waited for the lock on {}: {activity:?}", self.1);
        }
        sqlx::query("ROLLBACK").execute(&mut self.0).await.unwrap();
    }
}

/// What a [`Proxy`] does with connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Forwards them.
    Open,
    /// Closes the connections it carries and each new one at once, as a proxy in front of
    /// a database with no primary up does.
    Close,
    /// Closes the connections it carries and refuses new ones, as a server that is down.
    Refuse,
}

/// A TCP forwarder to the PostgreSQL test server whose [`Mode`] a test sets.
pub(crate) struct Proxy {
    addr: std::net::SocketAddr,
    mode: tokio::sync::watch::Sender<Mode>,
    /// Bumped by [`Proxy::strand`].
    stranded: tokio::sync::watch::Sender<u64>,
}

impl Proxy {
    async fn to(server: std::net::SocketAddr) -> Self {
        let mut listener = Some(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap());
        let addr = listener.as_ref().unwrap().local_addr().unwrap();
        let (mode, mut watch) = tokio::sync::watch::channel(Mode::Open);
        let modes = mode.clone();
        let (stranded, _) = tokio::sync::watch::channel(0);
        let strands = stranded.clone();
        tokio::spawn(async move {
            loop {
                let Some(open) = &listener else {
                    // Refusing: listen again once the mode changes.
                    if watch.wait_for(|mode| *mode != Mode::Refuse).await.is_err() {
                        return;
                    }
                    listener = tokio::net::TcpListener::bind(addr).await.ok();
                    continue;
                };
                let accepted = tokio::select! {
                    accepted = open.accept() => accepted,
                    changed = watch.changed() => {
                        if changed.is_err() {
                            return;
                        }
                        if *watch.borrow() == Mode::Refuse {
                            listener = None;
                        }
                        continue;
                    }
                };
                let Ok((mut client, _)) = accepted else {
                    continue;
                };
                let mut mode = modes.subscribe();
                if *mode.borrow() != Mode::Open {
                    continue;
                }
                let mut strand = strands.subscribe();
                strand.borrow_and_update();
                tokio::spawn(async move {
                    let Ok(mut upstream) = tokio::net::TcpStream::connect(server).await else {
                        return;
                    };
                    let stranded = tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut upstream) => false,
                        _ = mode.wait_for(|mode| *mode != Mode::Open) => false,
                        changed = strand.changed() => changed.is_ok(),
                    };
                    if stranded {
                        // Neither forwarded nor closed, for as long as the test runs.
                        std::future::pending::<()>().await;
                    }
                });
            }
        });
        Self {
            addr,
            mode,
            stranded,
        }
    }

    /// Stops forwarding on the connections it carries now without closing them, as when
    /// the server vanishes (its node lost, or the Kubernetes pod behind a service gone:
    /// packets are dropped, nothing answers or resets); new connections are forwarded, as
    /// to the server that took its place.
    pub(crate) fn strand(&self) {
        self.stranded.send_modify(|n| *n += 1);
    }

    /// A proxy to the PostgreSQL test server, and the server's URL; None without one.
    pub(crate) async fn to_test_server() -> Option<(Self, String)> {
        let server = acx_tests::postgres_server_url()?;
        let options: sqlx::postgres::PgConnectOptions = server.parse().unwrap();
        let pg = tokio::net::lookup_host((options.get_host(), options.get_port()))
            .await
            .unwrap()
            .next()
            .unwrap();
        Some((Self::to(pg).await, server))
    }

    /// `database_url` (on the test server) through this proxy.
    pub(crate) fn url(&self, database_url: &str) -> String {
        let options: sqlx::postgres::PgConnectOptions = database_url.parse().unwrap();
        let server = format!("{}:{}", options.get_host(), options.get_port());
        assert!(database_url.contains(&server), "{database_url}");
        database_url.replacen(&server, &self.addr.to_string(), 1)
    }

    fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }
}

/// A liaison over `liaison_url` (data in `dir`) asking `scoring` with `service`'s token: a
/// customs token for it, its shutdown and a client. (Not a closed port for scoring:
/// another test's server may take its number meanwhile.)
async fn customs_liaison(
    liaison_url: &str,
    dir: &std::path::Path,
    scoring: &Replica,
    service: &str,
) -> (String, acx_runtime::Shutdown, LiaisonServiceClient<Channel>) {
    let customs = acx_runtime::credentials::generate_token();
    let tokens = dir.join("liaison-tokens");
    liaisons::customs_tokens(&tokens, &customs);
    let (shutdown, running) =
        liaisons::liaison(liaison_url, &dir.join("l"), &tokens, scoring.addr, service).await;
    let client = LiaisonServiceClient::new(channel(running.local_addr).await);
    (customs, shutdown, client)
}

/// `request` with a caller's deadline: acx-client's default, 10 s.
fn within<T>(mut request: Request<T>) -> Request<T> {
    request.set_timeout(Duration::from_secs(10));
    request
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

    // Liaison (over that scoring replica): SubmitDeclarations.
    let liaison_url = acx_tests::fresh_postgres_database(&server).await;
    let (customs, shutdown, mut liaison) =
        customs_liaison(&liaison_url, dir.path(), &replica, &service).await;
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

/// The database out of reach for a while (its proxy closing every connection, as during a
/// failover): calls answer UNAVAILABLE well within the caller's deadline, which clients
/// retry (a pool waiting 10 s for a connection made them DEADLINE_EXCEEDED, and a torn
/// connection's protocol error INTERNAL), and each service serves again, unrestarted, once
/// the database is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_out_of_reach_is_unavailable_within_the_deadline_and_then_served_again() {
    let Some((proxy, server)) = Proxy::to_test_server().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let ingest_dir = dir.path().join("ingest");
    std::fs::create_dir_all(&ingest_dir).unwrap();
    let mut ingest = IngestHarness::start(Backend::Postgres, &ingest_dir)
        .await
        .unwrap();
    ingest.database_url = proxy.url(&ingest.database_url);
    ingest.restart().await;
    let mut reports_client = IngestServiceClient::new(channel(ingest.addr).await);
    let platform = ingest.platform_a.clone();
    let reports_request = |range| {
        let reports = reports(range);
        within(authorized(SubmitReportsRequest { reports }, &platform))
    };

    let liaison_url = proxy.url(&acx_tests::fresh_postgres_database(&server).await);
    // Scoring on the server directly: only liaison's database is out of reach.
    let service = acx_runtime::credentials::generate_token();
    let scoring_url = acx_tests::fresh_postgres_database(&server).await;
    let replica = Replica::start(None, &service, &scoring_url, &dir.path().join("s"), 2000).await;
    let (customs, shutdown, mut liaison) =
        customs_liaison(&liaison_url, dir.path(), &replica, &service).await;
    let declarations_request = |id: &str| {
        let declarations = vec![fixtures::declaration(id)];
        within(authorized(
            SubmitDeclarationsRequest { declarations },
            &customs,
        ))
    };
    reports_client
        .submit_reports(reports_request(0..2))
        .await
        .unwrap();
    liaison
        .submit_declarations(declarations_request("OUT-0"))
        .await
        .unwrap();

    for mode in [Mode::Close, Mode::Refuse] {
        proxy.set(mode);
        let unavailable = |call: &str, answer: Result<(), Status>| {
            let status = answer.unwrap_err();
            assert_eq!(
                status.code(),
                Code::Unavailable,
                "{call}, {mode:?}: {status:?}"
            );
        };
        for _ in 0..2 {
            let answer = reports_client.submit_reports(reports_request(2..4)).await;
            unavailable("SubmitReports", answer.map(drop));
            // A failed call is not held for its audit record as well (the trail is in the
            // same database): one wait for a connection fits a 6 s deadline.
            let mut request = declarations_request("OUT-1");
            request.set_timeout(Duration::from_secs(6));
            let answer = liaison.submit_declarations(request).await;
            unavailable("SubmitDeclarations", answer.map(drop));
            let name = "shipments/OUT-0".to_owned();
            let mut request = authorized(GetShipmentRequest { name }, &customs);
            request.set_timeout(Duration::from_secs(6));
            let answer = liaison.get_shipment(request).await;
            unavailable("GetShipment", answer.map(drop));
        }
    }
    proxy.set(Mode::Open);
    let mut served = (false, false);
    for _ in 0..40 {
        served.0 = served.0
            || reports_client
                .submit_reports(reports_request(2..4))
                .await
                .is_ok();
        served.1 = served.1
            || liaison
                .submit_declarations(declarations_request("OUT-1"))
                .await
                .is_ok();
        if served == (true, true) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(
        served,
        (true, true),
        "served again once the database is back"
    );

    // A service starting while the database is out of reach waits for it a while.
    proxy.set(Mode::Close);
    let opener = tokio::spawn({
        let mode = proxy.mode.clone();
        async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            mode.send_replace(Mode::Open);
        }
    });
    ingest.restart().await;
    opener.await.unwrap();
    let mut reports_client = IngestServiceClient::new(channel(ingest.addr).await);
    reports_client
        .submit_reports(reports_request(4..6))
        .await
        .unwrap();
    shutdown.trigger();
}
