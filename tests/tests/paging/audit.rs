//! ListAuditRecords: each record matching the filters once, oldest first, up to the newest
//! at the first page (every call makes a record, so a listing that took later ones would
//! chase its own tail), against the calls the test made.

use std::time::Duration;

use acx_proto::liaison::{GetShipmentRequest, ListAuditRecordsRequest, SearchShipmentsRequest};
use acx_tests::{Backend, authorized};
use rand::{Rng, rngs::StdRng, seq::IndexedRandom};

use crate::{LiaisonHarness, seeded};

/// One call the test made, as the trail must show it.
#[derive(Debug, Clone)]
struct Call {
    principal: String,
    rpc: &'static str,
    outcome: &'static str,
    /// Text only this call's parameters hold (empty for refusals, which record none).
    tag: String,
    /// Time markers taken before the call.
    markers_before: usize,
}

struct Trail<'a> {
    liaison: &'a LiaisonHarness,
    calls: Vec<Call>,
    /// Times (µs) taken between calls, strictly between the calls' record times.
    markers: Vec<i64>,
}

impl Trail<'_> {
    async fn call(&mut self, rng: &mut StdRng) {
        let mut client = self.liaison.client().await;
        let n = self.calls.len();
        let who = rng.random_range(0..3);
        let principal = format!("customs:c{who}");
        let token = &self.liaison.customs[who];
        let call = match rng.random_range(0..5) {
            0 | 1 => {
                let tag = format!("shipments/Q-{n}");
                let request = GetShipmentRequest { name: tag.clone() };
                let answer = client.get_shipment(authorized(request, token)).await;
                assert_eq!(answer.unwrap_err().code(), tonic::Code::NotFound);
                (principal, "GetShipment", "NOT_FOUND", tag)
            }
            2 | 3 => {
                let tag = format!("I-{n}");
                let request = SearchShipmentsRequest {
                    importer_id: tag.clone(),
                    page_size: 1,
                    ..Default::default()
                };
                client
                    .search_shipments(authorized(request, token))
                    .await
                    .unwrap();
                (
                    principal,
                    "SearchShipments",
                    "OK",
                    format!("importer={tag} "),
                )
            }
            _ => {
                let request = GetShipmentRequest {
                    name: format!("shipments/Q-{n}"),
                };
                let answer = client
                    .get_shipment(authorized(request, &self.liaison.platform))
                    .await;
                assert_eq!(answer.unwrap_err().code(), tonic::Code::PermissionDenied);
                (
                    "platform:p0".to_owned(),
                    "GetShipment",
                    "PERMISSION_DENIED",
                    String::new(),
                )
            }
        };
        self.calls.push(Call {
            principal: call.0,
            rpc: call.1,
            outcome: call.2,
            tag: call.3,
            markers_before: self.markers.len(),
        });
    }

    /// The auditor's own listing call, which the trail records too.
    fn listed(&mut self, outcome: &'static str) {
        self.calls.push(Call {
            principal: "auditor:a0".to_owned(),
            rpc: "ListAuditRecords",
            outcome,
            tag: String::new(),
            markers_before: self.markers.len(),
        });
    }

    async fn marker(&mut self) {
        tokio::time::sleep(Duration::from_millis(2)).await;
        self.markers.push(acx_runtime::time::now_micros());
        tokio::time::sleep(Duration::from_millis(2)).await;
    }

    /// Up to ten calls, with markers between some.
    async fn calls(&mut self, rng: &mut StdRng) {
        for _ in 0..rng.random_range(0..10) {
            if rng.random_bool(0.3) {
                self.marker().await;
            }
            self.call(rng).await;
        }
    }
}

fn filters(
    rng: &mut StdRng,
    markers: &[i64],
) -> (ListAuditRecordsRequest, Option<usize>, Option<usize>) {
    let mut request = ListAuditRecordsRequest::default();
    if rng.random_bool(0.3) {
        request.principal = [
            "customs:c0",
            "customs:c1",
            "customs:c2",
            "platform:p0",
            "auditor:a0",
        ]
        .choose(rng)
        .unwrap()
        .to_string();
    }
    if rng.random_bool(0.3) {
        request.rpc = ["GetShipment", "SearchShipments", "ListAuditRecords"]
            .choose(rng)
            .unwrap()
            .to_string();
    }
    let mut bound = || {
        (!markers.is_empty() && rng.random_bool(0.3)).then(|| rng.random_range(0..markers.len()))
    };
    let (start, end) = (bound(), bound());
    let at = |micros: i64| acx_runtime::time::to_timestamp(micros);
    request.start_time = start.map(|s| at(markers[s]));
    request.end_time = end.map(|e| at(markers[e]));
    (request, start, end)
}

async fn every_audit_listing_lists_each_matching_record_once(backend: Backend, cases: usize) {
    let Some(liaison) = LiaisonHarness::start(backend).await else {
        return;
    };
    let (seed, mut rng) = seeded();
    let mut trail = Trail {
        liaison: &liaison,
        calls: Vec::new(),
        markers: Vec::new(),
    };
    let mut auditor = liaison.client().await;
    for case in 0..cases {
        trail.calls(&mut rng).await;
        let (mut request, start, end) = filters(&mut rng, &trail.markers);
        if let (Some(s), Some(e)) = (start, end)
            && trail.markers[s] > trail.markers[e]
        {
            // A start after the end is refused, not listed as nothing.
            let refused = auditor
                .list_audit_records(authorized(request.clone(), &liaison.auditor))
                .await
                .unwrap_err();
            assert_eq!(refused.code(), tonic::Code::InvalidArgument, "{refused:?}");
            trail.listed("INVALID_ARGUMENT");
            continue;
        }
        let want: Vec<&Call> = trail
            .calls
            .iter()
            .filter(|call| {
                (request.principal.is_empty() || call.principal == request.principal)
                    && (request.rpc.is_empty() || call.rpc == request.rpc)
                    && start.is_none_or(|s| call.markers_before > s)
                    && end.is_none_or(|e| call.markers_before <= e)
            })
            .collect();
        let want: Vec<Call> = want.into_iter().cloned().collect();
        let mut got = Vec::new();
        let mut sizes = Vec::new();
        loop {
            request.page_size = rng.random_range(1..=5);
            sizes.push(request.page_size);
            let page = auditor
                .list_audit_records(authorized(request.clone(), &liaison.auditor))
                .await
                .unwrap()
                .into_inner();
            assert!(page.records.len() <= request.page_size as usize);
            // Reading the trail is a call it records, after this listing's first page.
            trail.listed("OK");
            got.extend(page.records);
            if page.next_page_token.is_empty() || crate::endless(sizes.len(), want.len()) {
                break;
            }
            request.page_token = page.next_page_token;
            // Calls between pages make records after the first page: never listed.
            if rng.random_bool(0.4) {
                trail.call(&mut rng).await;
            }
        }
        request.page_token.clear();
        let context = || {
            format!(
                "seed {seed} (ACX_PAGING_SEED), case {case}: filters {request:?}, page sizes \
                 {sizes:?}\nwanted {want:#?}\ngot {got:#?}"
            )
        };
        assert_eq!(got.len(), want.len(), "{}", context());
        for (record, call) in got.iter().zip(&want) {
            let same = record.principal == call.principal
                && record.rpc == call.rpc
                && record.outcome == call.outcome
                && record.parameters.contains(&call.tag);
            assert!(same, "{}", context());
        }
        assert!(got.windows(2).all(|w| w[0].id < w[1].id), "{}", context());
    }
}

#[tokio::test]
async fn every_audit_listing_lists_each_matching_record_once_on_sqlite() {
    every_audit_listing_lists_each_matching_record_once(Backend::Sqlite, 30).await;
}

#[tokio::test]
async fn every_audit_listing_lists_each_matching_record_once_on_postgres() {
    every_audit_listing_lists_each_matching_record_once(Backend::Postgres, 10).await;
}

/// A caller's text with a NUL in it is recorded (escaped) like any other, and other callers'
/// calls written with it in one group are answered and recorded (found by a tester: on
/// PostgreSQL the NUL failed the whole group, so valid calls failed with INTERNAL and their
/// records went missing).
async fn a_nul_in_a_callers_text_is_recorded_and_spoils_no_one_elses_call(backend: Backend) {
    let Some(liaison) = LiaisonHarness::start(backend).await else {
        return;
    };
    let mut calls = Vec::new();
    for i in 0..40 {
        let mut client = liaison.client().await;
        let token = liaison.customs[i % 3].clone();
        let name = if i % 4 == 0 {
            format!("shipments/NUL-{i}\u{0}")
        } else {
            format!("shipments/PLAIN-{i}")
        };
        calls.push(tokio::spawn(async move {
            client
                .get_shipment(authorized(GetShipmentRequest { name }, &token))
                .await
                .map(drop)
                .unwrap_err()
                .code()
        }));
    }
    for (i, call) in calls.into_iter().enumerate() {
        let code = call.await.unwrap();
        assert!(
            matches!(code, tonic::Code::NotFound | tonic::Code::InvalidArgument),
            "call {i} ({backend:?}): {code:?}"
        );
    }
    let records = get_shipment_records(&liaison).await.unwrap();
    assert_eq!(records.len(), 40, "{backend:?}: {records:#?}");
    assert!(
        records.iter().any(|r| r.parameters.contains("NUL-0\\u{0}")),
        "{records:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nul_in_a_callers_text_is_recorded_on_sqlite() {
    a_nul_in_a_callers_text_is_recorded_and_spoils_no_one_elses_call(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nul_in_a_callers_text_is_recorded_on_postgres() {
    a_nul_in_a_callers_text_is_recorded_and_spoils_no_one_elses_call(Backend::Postgres).await;
}

/// A question answered while the trail could not be written keeps its record: it is
/// written once the database takes writes again, and while the trail fails, questions
/// wait for their records and fail rather than answer unrecorded (found by a tester: five
/// CheckSeller calls answered while PostgreSQL was stopped left no record at all). The
/// outage is a trigger that refuses every insert into the trail's SQLite file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn questions_answered_during_an_outage_of_the_trail_are_recorded_after_it() {
    use sqlx::{Connection, SqliteConnection};

    let liaison = LiaisonHarness::start(Backend::Sqlite).await.unwrap();
    let token = liaison.customs[0].clone();
    let ask = |name: &str| {
        let request = authorized(
            GetShipmentRequest {
                name: name.to_owned(),
            },
            &token,
        );
        let client = liaison.client();
        async move { client.await.get_shipment(request).await.map(drop) }
    };
    assert_eq!(
        ask("shipments/BEFORE").await.unwrap_err().code(),
        tonic::Code::NotFound
    );
    // A call that changes something answers once its record is committed, and with it
    // every record queued before (the listing's own too): nothing is left queued when the
    // outage starts.
    let listed = get_shipment_records(&liaison).await.unwrap();
    assert!(
        listed.iter().any(|r| r.parameters.contains("BEFORE")),
        "{listed:#?}"
    );
    let declarations = vec![crate::declaration(
        "FLUSH-1",
        "DEHAM",
        "IMP-FLUSH",
        "851830",
        acx_tests::fixtures::now_seconds(),
    )];
    liaison
        .client()
        .await
        .submit_declarations(authorized(
            acx_proto::liaison::SubmitDeclarationsRequest { declarations },
            &token,
        ))
        .await
        .unwrap();
    let trail = liaison._dir.path().join("liaison-audit.db");
    let mut admin = SqliteConnection::connect(&format!("sqlite://{}", trail.display()))
        .await
        .unwrap();
    sqlx::query(
        "CREATE TRIGGER outage BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'outage'); END",
    )
    .execute(&mut admin)
    .await
    .unwrap();
    // Answered before the failure shows: its record is queued.
    assert_eq!(
        ask("shipments/DURING-1").await.unwrap_err().code(),
        tonic::Code::NotFound
    );
    // Once a write failed, a question waits for its record, and fails without one.
    let mut refused = None;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let code = ask("shipments/DURING-2").await.unwrap_err().code();
        if code != tonic::Code::NotFound {
            refused = Some(code);
            break;
        }
    }
    assert_eq!(refused, Some(tonic::Code::Internal));
    sqlx::query("DROP TRIGGER outage")
        .execute(&mut admin)
        .await
        .unwrap();
    let mut recorded = Vec::new();
    for _ in 0..100 {
        if let Ok(page) = get_shipment_records(&liaison).await {
            recorded = page;
            if recorded.iter().any(|r| r.parameters.contains("DURING-1")) {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let named = |tag: &str| recorded.iter().any(|r| r.parameters.contains(tag));
    assert!(named("BEFORE") && named("DURING-1"), "{recorded:#?}");
}

/// The first 100 GetShipment records of the trail, as its auditor lists them.
async fn get_shipment_records(
    liaison: &LiaisonHarness,
) -> Result<Vec<acx_proto::liaison::AuditRecord>, tonic::Status> {
    let request = ListAuditRecordsRequest {
        rpc: "GetShipment".to_owned(),
        page_size: 100,
        ..Default::default()
    };
    let mut client = liaison.client().await;
    let page = client
        .list_audit_records(authorized(request, &liaison.auditor))
        .await?;
    Ok(page.into_inner().records)
}
