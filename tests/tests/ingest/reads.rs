//! What a platform reads back: only its own reports, batches within limits, listings paged
//! with filters.

use super::*;

#[tokio::test]
async fn a_platform_never_sees_another_platforms_reports() {
    let dir = tempfile::tempdir().unwrap();
    let ingest = harness(Backend::Sqlite, &dir).await.unwrap();
    let accepted = submit(&ingest, &ingest.platform_a, vec![finding("F-1", "S1")]).await;
    assert_eq!(outcomes(&accepted), [ReportOutcome::Accepted]);

    let mut other = client(&ingest).await;
    let read = other
        .get_report(authorized(
            GetReportRequest {
                name: "reports/F-1".to_owned(),
            },
            &ingest.platform_b,
        ))
        .await
        .unwrap_err();
    assert_eq!(read.code(), Code::NotFound);
    let listed = other
        .list_reports(authorized(
            ListReportsRequest::default(),
            &ingest.platform_b,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(listed.reports.is_empty());

    // B may use the same report id for its own report: ids are per platform.
    let own = submit(&ingest, &ingest.platform_b, vec![finding("F-1", "S7")]).await;
    assert_eq!(outcomes(&own), [ReportOutcome::Accepted]);

    // B cannot report on A's sellers by naming A in the seller reference.
    let mut forged = finding("F-2", "S1");
    if let Some(Kind::CounterfeitFinding(f)) = forged.kind.as_mut() {
        f.seller.as_mut().unwrap().platform = "acme-market".to_owned();
    }
    let refused = submit(&ingest, &ingest.platform_b, vec![forged]).await;
    assert_eq!(outcomes(&refused), [ReportOutcome::Rejected]);
    assert_eq!(
        violation_fields(&refused[0]),
        ["reports[0].counterfeit_finding.seller.platform"]
    );

    // The feed is for internal services only.
    let feed = other
        .stream_changes(authorized(
            StreamChangesRequest::default(),
            &ingest.platform_a,
        ))
        .await
        .unwrap_err();
    assert_eq!(feed.code(), Code::PermissionDenied);
}

#[tokio::test]
async fn batches_must_have_between_one_report_and_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let ingest = harness(Backend::Sqlite, &dir).await.unwrap();
    let mut ingest_client = client(&ingest).await;
    for reports in [
        vec![],
        (0..501).map(|i| price(&format!("PR-{i}"), "1")).collect(),
    ] {
        let error = ingest_client
            .submit_reports(authorized(
                SubmitReportsRequest { reports },
                &ingest.platform_a,
            ))
            .await
            .unwrap_err();
        assert_eq!(error.code(), Code::InvalidArgument);
        assert_eq!(
            error.get_details_bad_request().unwrap().field_violations[0].field,
            "reports"
        );
    }
}

#[tokio::test]
async fn listing_pages_through_own_reports_with_filters() {
    let dir = tempfile::tempdir().unwrap();
    let ingest = harness(Backend::Sqlite, &dir).await.unwrap();
    let reports = (0..5)
        .map(|i| price(&format!("PR-{i}"), "2"))
        .chain([finding("F-1", "S1"), shipment("SH-1")])
        .collect();
    submit(&ingest, &ingest.platform_a, reports).await;
    let mut reader = client(&ingest).await;

    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = reader
            .list_reports(authorized(
                ListReportsRequest {
                    page_size: 2,
                    page_token: token.clone(),
                    kind: ReportKind::PriceObservation as i32,
                    ..Default::default()
                },
                &ingest.platform_a,
            ))
            .await
            .unwrap()
            .into_inner();
        assert!(page.reports.len() <= 2);
        seen.extend(page.reports.into_iter().map(|r| r.name));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
        // New reports arriving between pages do not disturb the pages already served.
        submit(
            &ingest,
            &ingest.platform_a,
            vec![finding(&format!("F-late-{}", seen.len()), "S2")],
        )
        .await;
    }
    assert_eq!(
        seen,
        (0..5)
            .map(|i| format!("reports/PR-{i}"))
            .collect::<Vec<_>>()
    );

    let first = reader
        .list_reports(authorized(
            ListReportsRequest {
                page_size: 1,
                ..Default::default()
            },
            &ingest.platform_a,
        ))
        .await
        .unwrap()
        .into_inner();
    let foreign = reader
        .list_reports(authorized(
            ListReportsRequest {
                page_size: 1,
                page_token: first.next_page_token,
                kind: ReportKind::ShipmentNotice as i32,
                ..Default::default()
            },
            &ingest.platform_a,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        foreign.code(),
        Code::InvalidArgument,
        "a token is bound to its filters"
    );

    let future_only = reader
        .list_reports(authorized(
            ListReportsRequest {
                start_time: Some(prost_types::Timestamp {
                    seconds: now().seconds + 3600,
                    nanos: 0,
                }),
                ..Default::default()
            },
            &ingest.platform_a,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(future_only.reports.is_empty(), "time filters apply");
}

#[tokio::test]
async fn get_report_takes_the_platform_qualified_name_of_evidence_too() {
    let dir = tempfile::tempdir().unwrap();
    let ingest = harness(Backend::Sqlite, &dir).await.unwrap();
    // Ids may contain '/', but not begin with the platform's own id and '/': its name would
    // be the evidence name of another report (found by a tester: the evidence of `F-2`
    // opened the report `acme-market/F-2`).
    let accepted = submit(
        &ingest,
        &ingest.platform_a,
        vec![
            finding("F-1", "S1"),
            finding("F-2", "S1"),
            finding("2026/F-3", "S2"),
            finding("acme-market/F-2", "S2"),
        ],
    )
    .await;
    assert_eq!(
        outcomes(&accepted),
        [
            ReportOutcome::Accepted,
            ReportOutcome::Accepted,
            ReportOutcome::Accepted,
            ReportOutcome::Rejected
        ]
    );
    assert_eq!(accepted[3].violations[0].field, "reports[3].report_id");
    assert!(
        accepted[3].violations[0]
            .description
            .contains("reports/acme-market/F-2 names the report F-2"),
        "{:?}",
        accepted[3].violations
    );
    // An id of letters outside ASCII is told so, not that it is too long (a tester's 128
    // `ü`s, 256 bytes, were).
    let umlauts = submit(
        &ingest,
        &ingest.platform_a,
        vec![finding(&"\u{fc}".repeat(128), "S3")],
    )
    .await;
    assert_eq!(
        umlauts[0].violations[0].description,
        "must be printable ASCII without spaces"
    );
    let sequence_of = |id: &str| {
        let at = ["F-1", "F-2", "2026/F-3"]
            .iter()
            .position(|known| *known == id)
            .unwrap();
        accepted[at].sequence
    };

    let mut reader = client(&ingest).await;
    let get = |name: &str, token: &str| {
        let request = authorized(
            GetReportRequest {
                name: name.to_owned(),
            },
            token,
        );
        let mut reader = reader.clone();
        async move { reader.get_report(request).await }
    };
    // (name asked, token, the report it must resolve to, or None for NOT_FOUND)
    let cases = [
        ("reports/F-1", &ingest.platform_a, Some("F-1")),
        ("reports/acme-market/F-1", &ingest.platform_a, Some("F-1")),
        // The evidence's reading of a name comes first.
        ("reports/acme-market/F-2", &ingest.platform_a, Some("F-2")),
        ("reports/2026/F-3", &ingest.platform_a, Some("2026/F-3")),
        (
            "reports/acme-market/2026/F-3",
            &ingest.platform_a,
            Some("2026/F-3"),
        ),
        (
            "reports/acme-market/acme-market/F-2",
            &ingest.platform_a,
            None,
        ),
        ("reports/acme-market/F-9", &ingest.platform_a, None),
        ("reports/bazaar/F-1", &ingest.platform_a, None),
        ("reports/acme-market/F-1", &ingest.platform_b, None),
        ("reports/bazaar/F-1", &ingest.platform_b, None),
    ];
    for (name, token, expected) in cases {
        match (get(name, token).await, expected) {
            (Ok(response), Some(id)) => {
                let report = response.into_inner().report.unwrap();
                assert_eq!(report.sequence, sequence_of(id), "{name}");
                assert_eq!(report.name, format!("reports/{id}"), "{name}");
            }
            (Err(status), None) => assert_eq!(status.code(), Code::NotFound, "{name}"),
            (other, expected) => panic!("{name}: expected {expected:?}, got {other:?}"),
        }
    }
    let malformed = reader
        .get_report(authorized(
            GetReportRequest {
                name: "reports/".to_owned(),
            },
            &ingest.platform_a,
        ))
        .await
        .unwrap_err();
    assert_eq!(malformed.code(), Code::InvalidArgument);
}
