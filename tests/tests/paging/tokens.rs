//! Page tokens of every list RPC that has them: a token works for its caller and filters
//! (with any page size), and is INVALID_ARGUMENT on field `page_token`, saying to start
//! again from the first page, when replayed by another caller, sent with other filters,
//! altered, made up, or in the format of an earlier release.

use acx_proto::{
    ingest::{ListReportsRequest, ReportKind, ingest_service_client::IngestServiceClient},
    liaison::{ListAuditRecordsRequest, SearchShipmentsRequest},
    scoring::{Lane, ListBlacklistRequest, ListSellerRiskHistoryRequest},
};
use acx_tests::{Backend, IngestHarness, authorized, channel};
use tonic::{Code, Status};
use tonic_types::StatusExt;

use crate::{
    LiaisonHarness,
    blacklist::{Exchange, PLATFORM},
    declaration, now_seconds, seller,
};

/// Asserts a refusal of the page token, saying `why`.
fn refused<T: std::fmt::Debug>(answer: Result<T, Status>, why: &str, what: &str) {
    let status = answer.expect_err(what);
    assert_eq!(status.code(), Code::InvalidArgument, "{what}: {status:?}");
    let violations = status
        .get_details_bad_request()
        .expect("field violations")
        .field_violations;
    assert_eq!(violations[0].field, "page_token", "{what}");
    let description = &violations[0].description;
    assert!(description.contains(why), "{what}: {description}");
    assert!(
        description.contains("start again from the first page"),
        "{what}: {description}"
    );
}

/// The token with one character changed (still URL-safe base64).
fn tampered(token: &str, at: usize) -> String {
    let mut chars: Vec<char> = token.chars().collect();
    let index = at % chars.len();
    chars[index] = if chars[index] == 'A' { 'B' } else { 'A' };
    chars.into_iter().collect()
}

/// Tokens that were never issued: garbage, and the formats of earlier releases.
fn made_up(earlier: &str) -> Vec<String> {
    vec![
        "not a token".to_owned(),
        "%%%".to_owned(),
        "AAAA".to_owned(),
        hex_of(earlier),
    ]
}

fn hex_of(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn list_reports_tokens_belong_to_their_platform_and_filters() {
    let dir = tempfile::tempdir().unwrap();
    let ingest = IngestHarness::start(Backend::Sqlite, dir.path())
        .await
        .unwrap();
    let mut client = IngestServiceClient::new(channel(ingest.addr).await);
    for token in [&ingest.platform_a, &ingest.platform_b] {
        let reports = (0..3)
            .map(|i| crate::reports::price_report(&format!("PR-{i}")))
            .collect();
        crate::reports::submit_reports(&mut client, token, reports).await;
    }
    let first = ListReportsRequest {
        page_size: 1,
        kind: ReportKind::PriceObservation as i32,
        ..Default::default()
    };
    let page = client
        .list_reports(authorized(first.clone(), &ingest.platform_a))
        .await
        .unwrap()
        .into_inner();
    let token = page.next_page_token;
    let next = ListReportsRequest {
        page_token: token.clone(),
        page_size: 5,
        ..first.clone()
    };
    let rest = client
        .list_reports(authorized(next.clone(), &ingest.platform_a))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        rest.reports.len(),
        2,
        "its own caller, another page size: fine"
    );

    // Issue 12: B replaying A's token got B's reports with OK.
    let replayed = client
        .list_reports(authorized(next.clone(), &ingest.platform_b))
        .await;
    refused(replayed, "another caller", "another platform");
    let other_filters = ListReportsRequest {
        kind: ReportKind::CounterfeitFinding as i32,
        ..next.clone()
    };
    let answer = client
        .list_reports(authorized(other_filters, &ingest.platform_a))
        .await;
    refused(answer, "other filters", "other filters");
    for at in [0, 5, token.len() / 2, token.len() - 1] {
        let altered = ListReportsRequest {
            page_token: tampered(&token, at),
            ..next.clone()
        };
        let answer = client
            .list_reports(authorized(altered, &ingest.platform_a))
            .await;
        refused(answer, "", "altered");
    }
    for fake in made_up("v1:3:-9223372036854775808:9223372036854775807:1") {
        let request = ListReportsRequest {
            page_token: fake.clone(),
            ..next.clone()
        };
        let answer = client
            .list_reports(authorized(request, &ingest.platform_a))
            .await;
        refused(answer, "", &fake);
    }
}

#[tokio::test]
async fn liaison_tokens_belong_to_their_authority_or_auditor_and_filters() {
    let liaison = LiaisonHarness::start(Backend::Sqlite).await.unwrap();
    let mut client = liaison.client().await;
    let time = now_seconds() - 3600;
    for authority in [0, 1] {
        let declarations = (0..3)
            .map(|i| declaration(&format!("D-{i}"), "USLAX", "IMP-1", "8518302000", time))
            .collect();
        client
            .submit_declarations(authorized(
                acx_proto::liaison::SubmitDeclarationsRequest { declarations },
                &liaison.customs[authority],
            ))
            .await
            .unwrap();
    }
    let first = SearchShipmentsRequest {
        page_size: 1,
        importer_id: "IMP-1".to_owned(),
        ..Default::default()
    };
    let own = &liaison.customs[0];
    let token = client
        .search_shipments(authorized(first.clone(), own))
        .await
        .unwrap()
        .into_inner()
        .next_page_token;
    let next = SearchShipmentsRequest {
        page_token: token.clone(),
        page_size: 10,
        ..first.clone()
    };
    let rest = client
        .search_shipments(authorized(next.clone(), own))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rest.shipments.len(), 2);
    let replayed = client
        .search_shipments(authorized(next.clone(), &liaison.customs[1]))
        .await;
    refused(replayed, "another caller", "another authority");
    let other_filters = SearchShipmentsRequest {
        lane: Lane::Green as i32,
        ..next.clone()
    };
    refused(
        client
            .search_shipments(authorized(other_filters, own))
            .await,
        "other filters",
        "other filters",
    );
    let altered = SearchShipmentsRequest {
        page_token: tampered(&token, 7),
        ..next.clone()
    };
    refused(
        client.search_shipments(authorized(altered, own)).await,
        "",
        "altered",
    );
    for fake in made_up("s1:0123456789abcdef:5:0:5") {
        let request = SearchShipmentsRequest {
            page_token: fake.clone(),
            ..next.clone()
        };
        refused(
            client.search_shipments(authorized(request, own)).await,
            "",
            &fake,
        );
    }

    // The audit trail: a token of one auditor is not another's.
    let first = ListAuditRecordsRequest {
        page_size: 1,
        rpc: "SubmitDeclarations".to_owned(),
        ..Default::default()
    };
    let token = client
        .list_audit_records(authorized(first.clone(), &liaison.auditor))
        .await
        .unwrap()
        .into_inner()
        .next_page_token;
    let next = ListAuditRecordsRequest {
        page_token: token.clone(),
        ..first.clone()
    };
    let rest = client
        .list_audit_records(authorized(next.clone(), &liaison.auditor))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rest.records.len(), 1);
    refused(
        client
            .list_audit_records(authorized(next.clone(), &liaison.other_auditor))
            .await,
        "another caller",
        "another auditor",
    );
    let other_filters = ListAuditRecordsRequest {
        principal: "customs:c0".to_owned(),
        ..next.clone()
    };
    refused(
        client
            .list_audit_records(authorized(other_filters, &liaison.auditor))
            .await,
        "other filters",
        "other filters",
    );
    for fake in made_up("a1:1").into_iter().chain([tampered(&token, 3)]) {
        let request = ListAuditRecordsRequest {
            page_token: fake.clone(),
            ..next.clone()
        };
        refused(
            client
                .list_audit_records(authorized(request, &liaison.auditor))
                .await,
            "",
            &fake,
        );
    }
}

#[tokio::test]
async fn scoring_tokens_belong_to_their_platform_and_seller() {
    let mut exchange = Exchange::start().await;
    for seller_id in ["S-1", "S-2", "S-3"] {
        exchange.list(seller_id).await;
    }
    exchange.delist("S-1").await;
    exchange.list("S-1").await;
    let mut scoring = exchange.scoring.clone();
    let a = exchange.suite.token("platform:demo-platform");
    let b = exchange.suite.token("platform:demo-marketplace");

    let page = scoring
        .list_blacklist(authorized(
            ListBlacklistRequest {
                page_size: 1,
                page_token: String::new(),
            },
            &a,
        ))
        .await
        .unwrap()
        .into_inner();
    let next = ListBlacklistRequest {
        page_size: 5,
        page_token: page.next_page_token.clone(),
    };
    let rest = scoring
        .list_blacklist(authorized(next.clone(), &a))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rest.entries.len(), 2);
    assert_eq!(rest.changes_cursor, page.changes_cursor);
    refused(
        scoring.list_blacklist(authorized(next.clone(), &b)).await,
        "another caller",
        "another platform",
    );
    for fake in made_up("b1:3\u{1f}demo-platform\u{1f}S-1")
        .into_iter()
        .chain([tampered(&next.page_token, 2)])
    {
        let request = ListBlacklistRequest {
            page_token: fake.clone(),
            ..next.clone()
        };
        refused(
            scoring.list_blacklist(authorized(request, &a)).await,
            "",
            &fake,
        );
    }

    let first = ListSellerRiskHistoryRequest {
        seller: Some(seller(PLATFORM, "S-1")),
        page_size: 1,
        page_token: String::new(),
    };
    let token = scoring
        .list_seller_risk_history(authorized(first.clone(), &a))
        .await
        .unwrap()
        .into_inner()
        .next_page_token;
    assert!(!token.is_empty());
    let next = ListSellerRiskHistoryRequest {
        page_token: token.clone(),
        ..first.clone()
    };
    scoring
        .list_seller_risk_history(authorized(next.clone(), &a))
        .await
        .unwrap();
    refused(
        scoring
            .list_seller_risk_history(authorized(next.clone(), &b))
            .await,
        "another caller",
        "another platform",
    );
    let other_seller = ListSellerRiskHistoryRequest {
        seller: Some(seller(PLATFORM, "S-2")),
        ..next.clone()
    };
    refused(
        scoring
            .list_seller_risk_history(authorized(other_seller, &a))
            .await,
        "other filters",
        "another seller",
    );
    for fake in made_up("h1:demo-platform/S-1:9")
        .into_iter()
        .chain([tampered(&token, 9)])
    {
        let request = ListSellerRiskHistoryRequest {
            page_token: fake.clone(),
            ..next.clone()
        };
        refused(
            scoring
                .list_seller_risk_history(authorized(request, &a))
                .await,
            "",
            &fake,
        );
    }
}
