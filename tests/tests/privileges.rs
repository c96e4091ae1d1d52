//! Least privilege, as a matrix: every kind of principal (each platform, customs, an
//! auditor, each internal service and a service the exchange does not know for anything)
//! against every RPC of every service. A principal no rule names is refused
//! (`PERMISSION_DENIED`), and internal services are granted per service name: only
//! `service:scoring` follows ingest's change feed; only `service:liaison` assesses
//! shipments, records outcomes and reads party histories, and it reads nothing else of
//! scoring's but what customs ask through it.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use acx_tests::{
    TestSuite,
    raw::{self, RawAnswer},
};
use futures_util::{StreamExt, stream};
use prost_reflect::DescriptorPool;
use tonic::Code;

const PRINCIPALS: &[&str] = &[
    "platform:demo-platform",
    "platform:demo-marketplace",
    "customs:demo-customs",
    "customs:second-customs",
    "auditor:demo-auditor",
    "service:scoring",
    "service:liaison",
    "service:other",
    "service:operator",
];

/// Whether `principal` may call `method` of `service`: the policy, written out.
fn allowed(service: &str, method: &str, principal: &str) -> bool {
    let role = principal.split(':').next().unwrap();
    match (service, method) {
        ("acx.diagnostics.v1.DiagnosticsService", _) => true,
        ("acx.ingest.v1.IngestService", "StreamChanges") => principal == "service:scoring",
        ("acx.ingest.v1.IngestService", _) => role == "platform",
        (
            "acx.scoring.v1.ScoringService",
            "AssessShipment" | "AssessShipments" | "RecordOutcome" | "GetPartyHistory",
        ) => principal == "service:liaison",
        ("acx.scoring.v1.ScoringService", "GetModelCard") => {
            matches!(principal, "service:liaison" | "service:operator") || role == "auditor"
        }
        ("acx.scoring.v1.ScoringService", "TrainModel") => principal == "service:operator",
        ("acx.scoring.v1.ScoringService", "SetLanePolicy") => principal == "service:liaison",
        ("acx.scoring.v1.ScoringService", "GetSellerRisk" | "CheckEntity") => {
            role == "platform" || principal == "service:liaison"
        }
        ("acx.scoring.v1.ScoringService", _) => role == "platform",
        ("acx.liaison.v1.LiaisonService" | "acx.liaison.v2.LiaisonService", "ListAuditRecords") => {
            role == "auditor"
        }
        ("acx.liaison.v1.LiaisonService" | "acx.liaison.v2.LiaisonService", "GetModelCard") => {
            role == "customs" || role == "auditor"
        }
        ("acx.liaison.v1.LiaisonService" | "acx.liaison.v2.LiaisonService", _) => role == "customs",
        _ => false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_principal_against_every_rpc_gets_exactly_what_it_is_granted() {
    let suite = TestSuite::start_with_principals(&[
        "customs:second-customs",
        "service:other",
        "service:operator",
    ])
    .await;
    let mut pool = DescriptorPool::new();
    pool.decode_file_descriptor_set(acx_proto::FILE_DESCRIPTOR_SET)
        .unwrap();
    let mut cases = Vec::new();
    for (addr, own) in [
        (suite.ingest, &[acx_ingest::SERVICE_NAME][..]),
        (suite.scoring, &[acx_scoring::SERVICE_NAME]),
        (
            suite.liaison,
            &[acx_liaison::SERVICE_NAME, acx_liaison::SERVICE_NAME_V1],
        ),
    ] {
        let channel = acx_tests::channel(addr).await;
        for name in own
            .iter()
            .copied()
            .chain(["acx.diagnostics.v1.DiagnosticsService"])
        {
            for method in pool.get_service_by_name(name).unwrap().methods() {
                for principal in PRINCIPALS {
                    cases.push((
                        channel.clone(),
                        name,
                        method.name().to_owned(),
                        *principal,
                        suite.token(principal),
                    ));
                }
            }
        }
    }
    let total = cases.len();
    let wrong: Vec<String> = stream::iter(cases)
        .map(|(channel, service, method, principal, token)| async move {
            // The default message: enough to pass or fail authorisation, which comes first.
            let answer = raw::call(
                &channel,
                &format!("/{service}/{method}"),
                Some(&token),
                raw::frame(&[]),
                Duration::from_secs(1),
            )
            .await
            .unwrap();
            let refused = matches!(
                answer.code(),
                Some(Code::PermissionDenied | Code::Unauthenticated)
            );
            let expected = allowed(service, &method, principal);
            match (expected, &answer) {
                (true, _) if !refused => None,
                (false, RawAnswer::Status(status)) if status.code() == Code::PermissionDenied => {
                    None
                }
                _ => Some(format!(
                    "{principal} → {service}/{method}: expected {}, got {answer:?}",
                    if expected {
                        "allowed"
                    } else {
                        "PERMISSION_DENIED"
                    }
                )),
            }
        })
        .buffer_unordered(16)
        .filter_map(|wrong| async move { wrong })
        .collect()
        .await;
    assert!(
        wrong.is_empty(),
        "{} of {total} principal × RPC pairs are wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

/// What a server does not serve is UNIMPLEMENTED for every principal, before credentials: a
/// method no contract has (a client built from a newer contract; found by a tester, who got
/// PERMISSION_DENIED "it is for platform principals" calling a method an older build
/// lacked), and another service's method on this server's port. A caller then knows the
/// method is not here, not that its credentials are wrong.
#[tokio::test]
async fn a_method_a_server_does_not_serve_is_unimplemented_for_everyone() {
    let suite = TestSuite::start().await;
    let principals = [
        "platform:demo-platform",
        "customs:demo-customs",
        "service:liaison",
    ];
    for (addr, path) in [
        (suite.scoring, "/acx.scoring.v1.ScoringService/NoSuchMethod"),
        (suite.liaison, "/acx.liaison.v1.LiaisonService/NoSuchMethod"),
        (suite.liaison, "/acx.liaison.v2.LiaisonService/NoSuchMethod"),
        (suite.ingest, "/acx.scoring.v1.ScoringService/GetSellerRisk"),
        (suite.scoring, "/acx.liaison.v1.LiaisonService/CheckSeller"),
        (suite.liaison, "/some.other.v1.Service/Call"),
    ] {
        let channel = acx_tests::channel(addr).await;
        let tokens: Vec<Option<String>> = principals
            .iter()
            .map(|p| Some(suite.token(p)))
            .chain([None])
            .collect();
        for token in tokens {
            let answer = raw::call(
                &channel,
                path,
                token.as_deref(),
                raw::frame(&[]),
                Duration::from_secs(1),
            )
            .await
            .unwrap();
            assert_eq!(
                answer.code(),
                Some(Code::Unimplemented),
                "{path}: {answer:?}"
            );
        }
    }
}
