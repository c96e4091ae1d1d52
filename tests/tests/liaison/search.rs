//! Searching shipments page by page, watching alerts from a cursor, and the audit trail.

use super::*;

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

/// A search's audit record names every filter, each value as the caller sent it but quoted
/// when it could pass for other parameters (found by a security tester: a search by seller
/// was recorded without it, and an office of `USLAX importer=US-IMP-4711` read as two).
#[tokio::test]
async fn a_search_is_recorded_with_every_filter_none_forged() {
    use acx_proto::{common::SellerAccountRef, liaison::SearchShipmentsRequest};
    let suite = TestSuite::start_with(false).await;
    let token = suite.token("customs:demo-customs");
    let mut liaison = LiaisonServiceClient::new(channel(suite.liaison).await);
    let _ = liaison
        .search_shipments(authorized(
            SearchShipmentsRequest {
                customs_office: "USLAX importer=US-IMP-4711".to_owned(),
                seller: Some(SellerAccountRef {
                    platform: "demo-platform".to_owned(),
                    seller_id: "S-100".to_owned(),
                }),
                start_time: Some(prost_types::Timestamp {
                    seconds: 1_700_000_000,
                    nanos: 0,
                }),
                ..Default::default()
            },
            &token,
        ))
        .await;
    let records = audit_records(&mut liaison, &suite, "SearchShipments", |r| !r.is_empty()).await;
    let parameters = &records.first().expect("recorded").parameters;
    assert!(
        parameters.starts_with("office=\"USLAX importer=US-IMP-4711\" importer= "),
        "{parameters}"
    );
    assert!(
        parameters.contains(" seller=demo-platform/S-100 "),
        "{parameters}"
    );
    assert!(
        parameters.contains(" start=1700000000.000000000 "),
        "{parameters}"
    );
}
