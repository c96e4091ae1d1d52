//! Scoring and ingest restarted mid-load, on SQLite and PostgreSQL: nothing lost, nothing doubled.

use super::*;

/// Scoring alone, following `ingest`, on `backend`, with its own database in `dir`.
struct ScoringHarness {
    addr: std::net::SocketAddr,
    database_url: String,
    shutdown: acx_runtime::Shutdown,
    server: Option<acx_runtime::RunningServer>,
}

impl ScoringHarness {
    async fn start(
        ingest: &acx_tests::IngestHarness,
        database_url: String,
        dir: &std::path::Path,
    ) -> Self {
        let mut harness = Self {
            addr: "127.0.0.1:0".parse().unwrap(),
            database_url,
            shutdown: acx_runtime::Shutdown::new(),
            server: None,
        };
        harness.restart(ingest, dir).await;
        harness
    }

    async fn restart(&mut self, ingest: &acx_tests::IngestHarness, dir: &std::path::Path) {
        // Its own directory: ingest's token file must stay as it is.
        let dir = &dir.join("scoring");
        std::fs::create_dir_all(dir).unwrap();
        if let Some(server) = self.server.take() {
            self.shutdown.trigger();
            server.wait().await.unwrap();
            self.shutdown = acx_runtime::Shutdown::new();
        }
        let mut server = acx_runtime::ServerConfig::local(dir);
        server.listen_addr = Some(self.addr);
        server.database_url = Some(self.database_url.clone());
        let tokens = dir.join("tokens");
        let lines = format!(
            "{} platform:acme-market\n{} service:liaison\n",
            acx_runtime::credentials::hash_token(&ingest.platform_a),
            acx_runtime::credentials::hash_token(&ingest.service)
        );
        std::fs::write(&tokens, lines).unwrap();
        server.tokens_file = Some(tokens);
        let config = acx_scoring::Config {
            ingest_url: format!("http://{}", ingest.addr),
            ingest_token: Some(ingest.service.clone().into()),
            ..acx_scoring::Config::standalone(server)
        };
        let running = acx_scoring::start(&config, self.shutdown.clone())
            .await
            .unwrap();
        self.addr = running.local_addr;
        self.server = Some(running);
    }

    async fn risk_when(
        &self,
        token: &str,
        seller_id: &str,
        check: impl Fn(&SellerRisk) -> bool,
    ) -> SellerRisk {
        let mut client = ScoringServiceClient::new(channel(self.addr).await);
        for _ in 0..100 {
            let request = GetSellerRiskRequest {
                seller: Some(seller("acme-market", seller_id)),
                cluster_id: String::new(),
            };
            if let Ok(response) = client.get_seller_risk(authorized(request, token)).await {
                let risk = response.into_inner().risk.unwrap();
                if check(&risk) {
                    return risk;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{seller_id} never matched");
    }
}

impl Drop for ScoringHarness {
    fn drop(&mut self) {
        self.shutdown.trigger();
    }
}

async fn restarts_lose_and_double_nothing(backend: acx_tests::Backend) {
    let dir = tempfile::tempdir().unwrap();
    let Some(mut ingest) = acx_tests::IngestHarness::start(backend, dir.path()).await else {
        return;
    };
    let scoring_url = match backend {
        acx_tests::Backend::Sqlite => {
            format!("sqlite://{}", dir.path().join("scoring.db").display())
        }
        acx_tests::Backend::Postgres => {
            acx_tests::fresh_postgres_database(&acx_tests::postgres_server_url().unwrap()).await
        }
    };
    let mut scoring = ScoringHarness::start(&ingest, scoring_url.clone(), dir.path()).await;
    let token = ingest.platform_a.clone();
    let ingest_addr = ingest.addr; // kept across ingest's restart
    let send = |reports: Vec<Report>| {
        let addr = ingest_addr;
        let token = token.clone();
        async move {
            IngestServiceClient::new(channel(addr).await)
                .submit_reports(authorized(SubmitReportsRequest { reports }, &token))
                .await
                .unwrap()
        }
    };

    send(
        (0..10)
            .map(|i| confirmed_finding(&format!("F-{i}"), &format!("S-{i}")))
            .collect(),
    )
    .await;
    scoring.risk_when(&token, "S-9", |_| true).await;

    // A recorded declaration and its outcome, before the restart.
    let service = ingest.service.clone();
    let mut client = ScoringServiceClient::new(channel(scoring.addr).await);
    let mut shipment = declared("D-1", "TRK-1", "640399", 10.0, 5.0, "100.00");
    shipment.seller = Some(seller("acme-market", "S-0"));
    client
        .assess_shipment(authorized(
            acx_proto::scoring::AssessShipmentRequest {
                shipment: Some(shipment),
                record: true,
            },
            &service,
        ))
        .await
        .unwrap();
    let outcome = || acx_proto::scoring::RecordOutcomeRequest {
        authority: "demo-customs".to_owned(),
        declaration_id: "D-1".to_owned(),
        kind: acx_proto::scoring::OutcomeKind::UndervaluationConfirmed as i32,
        inspect_time: None,
        extra_duty: None,
    };
    assert!(
        client
            .record_outcome(authorized(outcome(), &service))
            .await
            .unwrap()
            .into_inner()
            .recorded
    );

    // Scoring restarts, then ingest restarts, with reports arriving in between.
    scoring.restart(&ingest, dir.path()).await;
    let mut client = ScoringServiceClient::new(channel(scoring.addr).await);
    let again = client
        .record_outcome(authorized(outcome(), &service))
        .await
        .unwrap()
        .into_inner();
    assert!(
        !again.recorded,
        "the outcome and its declaration survived the restart"
    );
    send(
        (10..20)
            .map(|i| confirmed_finding(&format!("F-{i}"), &format!("S-{i}")))
            .collect(),
    )
    .await;
    ingest.restart().await;
    scoring.risk_when(&token, "S-19", |_| true).await;
    send(
        (20..25)
            .map(|i| confirmed_finding(&format!("F-{i}"), &format!("S-{i}")))
            .collect(),
    )
    .await;
    scoring.risk_when(&token, "S-24", |_| true).await;

    assert_eq!(
        scalar(
            &scoring_url,
            "SELECT CAST(COALESCE(SUM(records), 0) AS BIGINT) FROM history WHERE kind = 1"
        )
        .await,
        25,
        "every report appended to the history once"
    );
    assert_eq!(
        scalar(&scoring_url, "SELECT COUNT(*) FROM risk_history").await,
        26,
        "one history entry per account, one more for S-0's outcome: nothing counted twice"
    );
    assert_eq!(
        scalar(&scoring_url, "SELECT COUNT(*) FROM blacklist").await,
        25
    );
    assert_eq!(
        scalar(&scoring_url, "SELECT COUNT(*) FROM blacklist_changes").await,
        25
    );
    let cursor = scalar(&scoring_url, "SELECT sequence FROM feed_cursor").await;
    assert!(cursor >= 25, "the cursor is at the feed's head: {cursor}");
}

#[tokio::test]
async fn restarts_of_scoring_and_ingest_lose_and_double_nothing_on_sqlite() {
    restarts_lose_and_double_nothing(acx_tests::Backend::Sqlite).await;
}

#[tokio::test]
async fn restarts_of_scoring_and_ingest_lose_and_double_nothing_on_postgres() {
    restarts_lose_and_double_nothing(acx_tests::Backend::Postgres).await;
}
