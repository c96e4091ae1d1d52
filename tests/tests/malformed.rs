//! Every RPC of every service (its own API, diagnostics, health, both reflection versions)
//! against malformed request bodies sent with a valid token: truncated messages and frames,
//! invalid UTF-8 in each string field, field number 0, a wrong wire type for each field,
//! bad compressed flags, no message at all, and seeded random bytes. A malformed body is
//! the caller's fault: `INVALID_ARGUMENT`, never `INTERNAL` (which docs/services.md keeps for
//! bugs); no call breaks the connection it shares with the others, and every server is
//! still healthy and answering afterwards. The run is bounded: a fixed set of bodies per
//! RPC, random ones from a fixed seed, a few seconds for a stream that stays open. Then every
//! Timestamp and Money field of every request, set alone to a value the contract rules out,
//! must be named in the answer.

#![allow(clippy::unwrap_used)]

use std::{sync::atomic::Ordering, time::Duration};

use acx_proto::diagnostics::{EchoRequest, diagnostics_service_client::DiagnosticsServiceClient};
use acx_tests::{
    TestSuite, authorized,
    raw::{self, RawAnswer},
};
use futures_util::{StreamExt, stream};
use prost::Message;
use prost_reflect::{
    DescriptorPool, DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, MethodDescriptor,
    Value,
};
use rand::{Rng, SeedableRng, rngs::StdRng};
use tonic::Code;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
use tonic_types::StatusExt;

/// How long a call whose body happened to be valid may keep a stream open before the
/// fuzzer moves on (a valid `WatchAlerts` never ends by itself).
const STREAM_WAIT: Duration = Duration::from_secs(2);
/// Random bodies per RPC.
const RANDOM_BODIES: usize = 12;
/// Calls in flight at once on the one connection to a server.
const IN_FLIGHT: usize = 16;

fn pool() -> DescriptorPool {
    let mut pool = DescriptorPool::new();
    for set in [
        acx_proto::FILE_DESCRIPTOR_SET,
        tonic_health::pb::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
    ] {
        pool.decode_file_descriptor_set(set).unwrap();
    }
    pool
}

/// A principal allowed to call `method` (the fuzz is about bodies, not about access).
fn principal_for(method: &MethodDescriptor) -> &'static str {
    match (method.parent_service().full_name(), method.name()) {
        ("acx.ingest.v1.IngestService", "StreamChanges") => "service:scoring",
        ("acx.ingest.v1.IngestService", _) => "platform:demo-platform",
        (
            "acx.scoring.v1.ScoringService",
            "AssessShipment" | "AssessShipments" | "RecordOutcome" | "GetPartyHistory",
        ) => "service:liaison",
        ("acx.scoring.v1.ScoringService", "GetModelCard" | "SetLanePolicy") => "service:liaison",
        ("acx.scoring.v1.ScoringService", "TrainModel") => "service:operator",
        ("acx.scoring.v1.ScoringService", _) => "platform:demo-platform",
        ("acx.liaison.v1.LiaisonService" | "acx.liaison.v2.LiaisonService", "ListAuditRecords") => {
            "auditor:demo-auditor"
        }
        _ => "customs:demo-customs",
    }
}

fn varint(mut value: u64, out: &mut Vec<u8>) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn tag(field: u32, wire_type: u8, out: &mut Vec<u8>) {
    varint((u64::from(field) << 3) | u64::from(wire_type), out);
}

fn length_delimited(field: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    tag(field, 2, &mut out);
    varint(payload.len() as u64, &mut out);
    out.extend_from_slice(payload);
    out
}

/// A message whose string field at the end of `path` (nested messages on the way) holds
/// bytes that are not UTF-8, for every string field up to three messages deep.
fn invalid_utf8_bodies(
    message: &MessageDescriptor,
    depth: usize,
    out: &mut Vec<(String, Vec<u8>)>,
) {
    for field in message.fields() {
        match field.kind() {
            Kind::String => out.push((
                format!("invalid UTF-8 in {}", field.name()),
                length_delimited(field.number(), &[0x61, 0xff, 0xfe, 0xc3]),
            )),
            Kind::Message(inner) if depth < 3 && !field.is_map() => {
                let mut nested = Vec::new();
                invalid_utf8_bodies(&inner, depth + 1, &mut nested);
                out.extend(nested.into_iter().map(|(label, payload)| {
                    (
                        format!("{}.{label}", field.name()),
                        length_delimited(field.number(), &payload),
                    )
                }));
            }
            _ => {}
        }
    }
}

/// The field with a wire type its kind never takes.
fn wrong_wire_type(field: &FieldDescriptor) -> Vec<u8> {
    let mut out = Vec::new();
    match field.kind() {
        Kind::String | Kind::Bytes | Kind::Message(_) => {
            tag(field.number(), 0, &mut out);
            out.push(1);
        }
        Kind::Fixed32 | Kind::Sfixed32 | Kind::Float => {
            tag(field.number(), 1, &mut out);
            out.extend_from_slice(&[0; 8]);
        }
        _ => {
            tag(field.number(), 5, &mut out);
            out.extend_from_slice(&[0; 4]);
        }
    }
    out
}

/// Bodies that are malformed whatever the RPC: `(label, framed body)`.
fn malformed_bodies(method: &MethodDescriptor) -> Vec<(String, Vec<u8>)> {
    let input = method.input();
    let mut payloads: Vec<(String, Vec<u8>)> = vec![
        ("field number 0".into(), vec![0x00, 0x01]),
        ("wire type 7".into(), vec![0x0f, 0x01]),
        ("truncated varint".into(), vec![0x08, 0xff]),
        (
            "truncated length-delimited".into(),
            vec![0x0a, 0x0a, b'a', b'b'],
        ),
        ("truncated tag".into(), vec![0x80]),
    ];
    invalid_utf8_bodies(&input, 0, &mut payloads);
    payloads.extend(input.fields().map(|field| {
        (
            format!("wrong wire type for {}", field.name()),
            wrong_wire_type(&field),
        )
    }));
    let mut bodies: Vec<(String, Vec<u8>)> = payloads
        .into_iter()
        .map(|(label, payload)| (label, raw::frame(&payload)))
        .collect();
    bodies.extend([
        ("frame header cut short".into(), vec![0, 0, 0]),
        ("frame body cut short".into(), vec![0, 0, 0, 0, 10, 1, 2]),
        (
            "compressed flag without grpc-encoding".into(),
            vec![1, 0, 0, 0, 2, 0x08, 0x01],
        ),
        ("compressed flag 2".into(), vec![2, 0, 0, 0, 0]),
    ]);
    bodies
}

/// Seeded random bodies (they may happen to be valid: then any answer but a server error).
fn random_bodies(method: &MethodDescriptor) -> Vec<(String, Vec<u8>)> {
    let seed = method
        .full_name()
        .bytes()
        .fold(SEED, |acc, b| acc.rotate_left(5) ^ u64::from(b));
    let mut rng = StdRng::seed_from_u64(seed);
    let mut bodies = vec![("no message at all".to_owned(), Vec::new())];
    for index in 0..RANDOM_BODIES {
        let len = rng.random_range(1..64);
        let payload: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        bodies.push((
            format!("random #{index} ({len} bytes)"),
            raw::frame(&payload),
        ));
    }
    bodies
}

/// Seed of the random bodies: the same bodies every run.
const SEED: u64 = 0x00ac_5eed;

struct Outcome {
    path: String,
    label: String,
    must_be_invalid: bool,
    answer: Result<RawAnswer, tonic::transport::Error>,
}

/// Each server of the suite with the names of its own services (liaison serves v1 beside
/// v2).
fn own_services(suite: &TestSuite) -> [(std::net::SocketAddr, &'static [&'static str]); 3] {
    [
        (suite.ingest, &[acx_ingest::SERVICE_NAME][..]),
        (suite.scoring, &[acx_scoring::SERVICE_NAME]),
        (
            suite.liaison,
            &[acx_liaison::SERVICE_NAME, acx_liaison::SERVICE_NAME_V1],
        ),
    ]
}

fn is_server_error(code: Code) -> bool {
    matches!(code, Code::Internal | Code::Unknown | Code::DataLoss)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rpc_answers_malformed_bodies_with_invalid_argument_and_stays_up() {
    let suite = TestSuite::start_with_principals(&["service:operator"]).await;
    let pool = pool();
    let servers = own_services(&suite);
    let mut failures = Vec::new();
    let mut calls = 0;
    let mut rpcs = 0;
    for (addr, own) in servers {
        let (channel, connections) = raw::counted_channel(addr).await;
        let services = own.iter().copied().chain([
            "acx.diagnostics.v1.DiagnosticsService",
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection",
        ]);
        let mut cases = Vec::new();
        for name in services {
            let service = pool.get_service_by_name(name).unwrap();
            for method in service.methods() {
                rpcs += 1;
                let path = format!("/{name}/{}", method.name());
                let token = suite.token(principal_for(&method));
                // tonic's reflection service ends its stream with OK at a request it cannot
                // decode (it answers nothing): no server error, which is all asked of it.
                let strict = !name.starts_with("grpc.reflection.");
                for (label, body) in malformed_bodies(&method) {
                    cases.push((path.clone(), token.clone(), label, body, strict));
                }
                for (label, body) in random_bodies(&method) {
                    cases.push((path.clone(), token.clone(), label, body, false));
                }
            }
        }
        calls += cases.len();
        let outcomes: Vec<Outcome> = stream::iter(cases)
            .map(|(path, token, label, body, must_be_invalid)| {
                let channel = channel.clone();
                async move {
                    let answer = raw::call(&channel, &path, Some(&token), body, STREAM_WAIT).await;
                    Outcome {
                        path,
                        label,
                        must_be_invalid,
                        answer,
                    }
                }
            })
            .buffer_unordered(IN_FLIGHT)
            .collect()
            .await;
        for outcome in outcomes {
            let what = format!("{} with {}", outcome.path, outcome.label);
            match &outcome.answer {
                Err(error) => failures.push(format!("{what}: transport error {error}")),
                Ok(RawAnswer::NoStatus) => failures.push(format!("{what}: no grpc-status")),
                Ok(RawAnswer::StillStreaming) if outcome.must_be_invalid => {
                    failures.push(format!("{what}: accepted (stream open)"));
                }
                Ok(RawAnswer::StillStreaming) => {}
                Ok(RawAnswer::Status(status)) => {
                    if is_server_error(status.code())
                        || (outcome.must_be_invalid && status.code() != Code::InvalidArgument)
                    {
                        failures.push(format!("{what}: {:?} {}", status.code(), status.message()));
                    }
                }
            }
        }
        assert_eq!(
            connections.load(Ordering::SeqCst),
            1,
            "{own:?}: the connection shared by every fuzz call was dropped and reopened"
        );
        // Still healthy and still answering real calls, on the same connection.
        let health = HealthClient::new(channel.clone())
            .check(HealthCheckRequest {
                service: own[0].to_owned(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(health.status, 1, "{own:?} still SERVING");
        let echo = DiagnosticsServiceClient::new(channel.clone())
            .echo(authorized(
                EchoRequest {
                    message: "still here".into(),
                    ..Default::default()
                },
                &suite.token("customs:demo-customs"),
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(echo.message, "still here");
        assert_eq!(connections.load(Ordering::SeqCst), 1, "{own:?}");
    }
    assert!(
        failures.is_empty(),
        "{} of {calls} malformed calls to {rpcs} RPCs were mishandled:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn echo_with_the_body_00_01_is_invalid_argument_naming_the_problem() {
    let suite = TestSuite::start().await;
    let channel = acx_tests::channel(suite.liaison).await;
    let answer = raw::call(
        &channel,
        "/acx.diagnostics.v1.DiagnosticsService/Echo",
        Some(&suite.token("customs:demo-customs")),
        raw::frame(&[0x00, 0x01]),
        STREAM_WAIT,
    )
    .await
    .unwrap();
    let RawAnswer::Status(status) = answer else {
        panic!("no status: {answer:?}")
    };
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(
        status.message().contains("invalid tag value: 0"),
        "{status:?}"
    );
    let details = status.get_error_details();
    assert_eq!(details.error_info().unwrap().reason, "MALFORMED_MESSAGE");

    // A string that is not UTF-8 names its field.
    let answer = raw::call(
        &channel,
        "/acx.diagnostics.v1.DiagnosticsService/Echo",
        Some(&suite.token("customs:demo-customs")),
        raw::frame(&length_delimited(1, &[0xff, 0xfe])),
        STREAM_WAIT,
    )
    .await
    .unwrap();
    let RawAnswer::Status(status) = answer else {
        panic!("no status: {answer:?}")
    };
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let details = status.get_error_details();
    let violation = &details.bad_request().unwrap().field_violations[0];
    assert_eq!(violation.field, "message", "{status:?}");
}

/// Paths from a request down to each of its `google.protobuf.Timestamp` and
/// `acx.common.v1.Money` fields, through singular and repeated messages up to three deep.
fn checked_fields(
    message: &MessageDescriptor,
    depth: usize,
    path: &mut Vec<FieldDescriptor>,
    out: &mut Vec<Vec<FieldDescriptor>>,
) {
    for field in message.fields() {
        let Kind::Message(inner) = field.kind() else {
            continue;
        };
        if field.is_map() {
            continue;
        }
        path.push(field.clone());
        match inner.full_name() {
            "google.protobuf.Timestamp" | "acx.common.v1.Money" => out.push(path.clone()),
            _ if depth < 3 => checked_fields(&inner, depth + 1, path, out),
            _ => {}
        }
        path.pop();
    }
}

/// A request of type `message` with nothing set but `leaf` at the end of `path` (a repeated
/// field on the way holds one element).
fn request_with(
    message: &MessageDescriptor,
    path: &[FieldDescriptor],
    leaf: DynamicMessage,
) -> DynamicMessage {
    let mut request = DynamicMessage::new(message.clone());
    let (field, rest) = path.split_first().unwrap();
    let value = match field.kind() {
        Kind::Message(inner) if !rest.is_empty() => request_with(&inner, rest, leaf),
        _ => leaf,
    };
    let value = Value::Message(value);
    request.set_field(
        field,
        if field.is_list() {
            Value::List(vec![value])
        } else {
            value
        },
    );
    request
}

/// Values of a Timestamp or Money that the contract rules out, each with the sub-field an
/// answer must name: a timestamp's nanos outside 0..999,999,999 (as
/// `google.protobuf.Timestamp` defines it), an amount with a sign or a comma, a currency
/// that is no ISO 4217 code.
fn malformed_values(kind: &MessageDescriptor) -> Vec<(&'static str, String, DynamicMessage)> {
    let with = |fields: &[(&str, Value)]| {
        let mut message = DynamicMessage::new(kind.clone());
        for (name, value) in fields {
            message.set_field_by_name(name, value.clone());
        }
        message
    };
    if kind.full_name() == "google.protobuf.Timestamp" {
        [-5, 1_000_000_000]
            .into_iter()
            .map(|nanos| {
                let time = with(&[
                    ("seconds", Value::I64(1_700_000_000)),
                    ("nanos", Value::I32(nanos)),
                ]);
                ("nanos", format!("nanos {nanos}"), time)
            })
            .collect()
    } else {
        let money = |sub, currency: &str, amount: &str| {
            let label = format!("{currency} {amount}");
            let money = with(&[
                ("currency_code", Value::String(currency.into())),
                ("amount", Value::String(amount.into())),
            ]);
            (sub, label, money)
        };
        vec![
            money("amount", "USD", "-12.50"),
            money("amount", "EUR", "12,50"),
            money("currency_code", "US$", "12.50"),
        ]
    }
}

/// Every Timestamp and Money field of every request of every service, set alone to a value
/// the contract rules out: the answer names that field (`INVALID_ARGUMENT` naming it, or,
/// where a batch answers per item, an item's violation naming it). Found by a security
/// tester: ListReports took a start_time with nanos of -5 and listed as if it were valid.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_timestamp_and_amount_in_every_request_is_checked() {
    let suite = TestSuite::start_with_principals(&["service:operator"]).await;
    let pool = pool();
    let servers = own_services(&suite);
    let mut failures = Vec::new();
    let mut checked = Vec::new();
    for (addr, names) in servers {
        let channel = acx_tests::channel(addr).await;
        for name in names {
            let service = pool.get_service_by_name(name).unwrap();
            for method in service.methods() {
                let mut paths = Vec::new();
                checked_fields(&method.input(), 0, &mut Vec::new(), &mut paths);
                let token = suite.token(principal_for(&method));
                let rpc = format!("/{name}/{}", method.name());
                for path in paths {
                    let leaf = path.last().unwrap();
                    let Kind::Message(kind) = leaf.kind() else {
                        unreachable!()
                    };
                    let dotted: Vec<&str> = path.iter().map(|f| f.name()).collect();
                    let dotted = dotted.join(".");
                    checked.push(format!("{rpc} {dotted}"));
                    for (sub, label, value) in malformed_values(&kind) {
                        let request = request_with(&method.input(), &path, value);
                        let named = format!("{}.{sub}", leaf.name());
                        let (answer, messages) = raw::call_keeping_messages(
                            &channel,
                            &rpc,
                            Some(&token),
                            raw::frame(&request.encode_to_vec()),
                            STREAM_WAIT,
                        )
                        .await
                        .unwrap();
                        let names_it = match &answer {
                            RawAnswer::Status(status) if status.code() == Code::InvalidArgument => {
                                status.get_details_bad_request().is_some_and(|details| {
                                    details
                                        .field_violations
                                        .iter()
                                        .any(|v| v.field.ends_with(&named))
                                })
                            }
                            // A batch answering each item: a rejected item's violation.
                            RawAnswer::Status(status) if status.code() == Code::Ok => messages
                                .windows(named.len())
                                .any(|window| window == named.as_bytes()),
                            _ => false,
                        };
                        if !names_it {
                            let answer = match &answer {
                                RawAnswer::Status(status) => {
                                    format!("{:?} {}", status.code(), status.message())
                                }
                                other => format!("{other:?}"),
                            };
                            failures.push(format!(
                                "{rpc} with {dotted} = {label}: {answer}, naming no {named}"
                            ));
                        }
                    }
                }
            }
        }
    }
    // The walk found the fields it is meant to (a change to the descriptors' names would
    // otherwise leave nothing checked).
    for expected in [
        "/acx.ingest.v1.IngestService/ListReports start_time",
        "/acx.scoring.v1.ScoringService/RecordOutcome inspect_time",
        "/acx.scoring.v1.ScoringService/RecordOutcome extra_duty",
        "/acx.liaison.v2.LiaisonService/RecordInspectionResult result.inspect_time",
    ] {
        assert!(
            checked.contains(&expected.to_owned()),
            "{expected} not among {checked:#?}"
        );
    }
    assert!(
        failures.is_empty(),
        "{} of the malformed values in {} fields were not named:\n{}",
        failures.len(),
        checked.len(),
        failures.join("\n")
    );
}
