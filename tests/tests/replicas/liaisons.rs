//! Two liaisons over two scoring replicas, as the prod overlay deploys them: their answers
//! agree.

use super::*;

/// A liaison replica over `database_url`, asking the scoring replica at `scoring_addr`
/// with `scoring_token`; its callers' tokens in `tokens` ([`customs_tokens`]).
pub(crate) async fn liaison(
    database_url: &str,
    dir: &std::path::Path,
    tokens: &std::path::Path,
    scoring_addr: std::net::SocketAddr,
    scoring_token: &str,
) -> (acx_runtime::Shutdown, acx_runtime::RunningServer) {
    std::fs::create_dir_all(dir).unwrap();
    let config = acx_liaison::Config {
        server: server_config(dir, database_url, "127.0.0.1:0".parse().unwrap(), tokens),
        scoring_url: format!("http://{scoring_addr}"),
        audit_database_url: None,
        scoring_token: scoring_token.to_owned().into(),
        reassess_interval_secs: 1,
    };
    let shutdown = acx_runtime::Shutdown::new();
    let running = acx_liaison::start(&config, shutdown.clone()).await.unwrap();
    (shutdown, running)
}

/// A liaison tokens file at `path` accepting `customs` as `customs:ct`.
pub(crate) fn customs_tokens(path: &std::path::Path, customs: &str) {
    let hash = acx_runtime::credentials::hash_token(customs);
    std::fs::write(path, format!("{hash} customs:ct\n")).unwrap();
}

/// The shared declaration, by importer `IMP-{id}`, of goods sold by `seller_id` (of
/// [`PLATFORM`]) when given.
fn customs_declaration(id: &str, seller_id: Option<&str>) -> Declaration {
    Declaration {
        importer_id: format!("IMP-{id}"),
        seller: seller_id.map(|s| SellerAccountRef {
            platform: PLATFORM.to_owned(),
            seller_id: s.to_owned(),
        }),
        ..fixtures::declaration(id)
    }
}

/// Two scoring replicas and two liaisons, each liaison asking its own scoring replica,
/// all over one PostgreSQL server: what customs sends through one is answered alike
/// through the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_liaisons_over_two_scoring_replicas_answer_alike() {
    let Some(server) = acx_tests::postgres_server_url() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let scoring_url = acx_tests::fresh_postgres_database(&server).await;
    let liaison_url = acx_tests::fresh_postgres_database(&server).await;
    let service = acx_runtime::credentials::generate_token();
    let customs = acx_runtime::credentials::generate_token();
    let sa = Replica::start(None, &service, &scoring_url, &dir.path().join("sa"), 2000).await;
    let sb = Replica::start(None, &service, &scoring_url, &dir.path().join("sb"), 2000).await;
    let tokens = dir.path().join("liaison-tokens");
    customs_tokens(&tokens, &customs);
    let (stop_a, _la) = liaison(
        &liaison_url,
        &dir.path().join("la"),
        &tokens,
        sa.addr,
        &service,
    )
    .await;
    let (stop_b, lb) = liaison(
        &liaison_url,
        &dir.path().join("lb"),
        &tokens,
        sb.addr,
        &service,
    )
    .await;
    let la_addr = _la.local_addr;
    let mut la = LiaisonServiceClient::new(channel(la_addr).await);
    let mut lb = LiaisonServiceClient::new(channel(lb.local_addr).await);

    // The same 40 declarations through both at once: each assessed once, the same answer.
    let batch: Vec<Declaration> = (0..40)
        .map(|i| customs_declaration(&format!("D-{i}"), Some(&format!("S-{i}"))))
        .collect();
    let submit = |client: &LiaisonServiceClient<Channel>| {
        let mut client = client.clone();
        let request = authorized(
            SubmitDeclarationsRequest {
                declarations: batch.clone(),
            },
            &customs,
        );
        async move { client.submit_declarations(request).await }
    };
    let (one, two) = tokio::join!(submit(&la), submit(&lb));
    for results in [
        one.unwrap().into_inner().results,
        two.unwrap().into_inner().results,
    ] {
        assert!(
            results
                .iter()
                .all(|r| r.outcome == DeclarationOutcome::Accepted as i32
                    || r.outcome == DeclarationOutcome::Duplicate as i32)
        );
    }
    let shipment = |client: &mut LiaisonServiceClient<Channel>, id: String| {
        let mut client = client.clone();
        let customs = customs.clone();
        async move {
            for _ in 0..100 {
                let shipment = get_shipment(&mut client, &customs, &id).await;
                if shipment.assessment.is_some() {
                    return shipment;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            panic!("{id} never assessed");
        }
    };
    for i in 0..40 {
        let (a, b) = (
            shipment(&mut la, format!("D-{i}")).await,
            shipment(&mut lb, format!("D-{i}")).await,
        );
        assert_eq!(a.assessment, b.assessment);
    }
    assert_eq!(
        scalar(&scoring_url, "SELECT COUNT(*) FROM declarations").await,
        40
    );
    assert_eq!(
        scalar(&scoring_url, "SELECT COUNT(*) FROM history WHERE kind = 2").await,
        40,
        "each declaration recorded once in scoring's history"
    );

    // A seizure through B is seen through A: the seller is blacklisted there too.
    lb.record_inspection_result(authorized(
        RecordInspectionResultRequest {
            name: "shipments/D-7".to_owned(),
            result: Some(InspectionResult {
                kind: OutcomeKind::CounterfeitSeized as i32,
                seized_quantity: 100.0,
                ..Default::default()
            }),
        },
        &customs,
    ))
    .await
    .unwrap();
    let mut blacklisted = false;
    for _ in 0..100 {
        let risk = la
            .check_seller(authorized(
                CheckSellerRequest {
                    seller: Some(SellerAccountRef {
                        platform: PLATFORM.to_owned(),
                        seller_id: "S-7".to_owned(),
                    }),
                },
                &customs,
            ))
            .await;
        if let Ok(risk) = risk
            && risk.into_inner().risk.unwrap().blacklisted
        {
            blacklisted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        blacklisted,
        "the seizure through liaison B lists the seller through A"
    );

    // A watch on A sees the alert of a declaration sent through B (the listed seller's).
    let mut watch = la
        .watch_alerts(authorized(
            WatchAlertsRequest {
                after_cursor: 0,
                lane: Lane::Red as i32,
                ..Default::default()
            },
            &customs,
        ))
        .await
        .unwrap()
        .into_inner();
    let sent = lb
        .submit_declarations(authorized(
            SubmitDeclarationsRequest {
                declarations: vec![customs_declaration("D-RED", Some("S-7"))],
            },
            &customs,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(sent.results[0].lane, Lane::Red as i32);
    let seen = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let alert = watch.message().await.unwrap().unwrap();
            let shipment = alert.shipment.unwrap();
            if shipment.name == "shipments/D-RED" {
                return shipment;
            }
        }
    })
    .await
    .expect("the alert reaches a watch on the other liaison");
    assert_eq!(seen.assessment.unwrap().lane, Lane::Red as i32);
    stop_a.trigger();
    stop_b.trigger();
}
