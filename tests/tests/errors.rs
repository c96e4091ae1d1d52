//! Errors that never spill over: bounded in size whatever the input, the caller's own code
//! when a peer refuses what liaison forwarded, no connection shared with other callers torn
//! down by one caller's request, and details (`BadRequest`, `ErrorInfo`) that a client
//! knowing the API only by reflection decodes as structure.

#![allow(clippy::unwrap_used)]

use acx_proto::{
    common::Identifiers,
    liaison::{
        CheckPartyRequest, PartyDescription, check_party_request::Party,
        liaison_service_client::LiaisonServiceClient,
    },
    scoring::{CheckEntityRequest, scoring_service_client::ScoringServiceClient},
};
use acx_tests::{TestSuite, authorized, channel};
use futures_util::{StreamExt, stream};
use tonic::{Code, Status};
use tonic_types::StatusExt;

/// Headers of an answer, as HTTP/2 counts them against a client's 16 KiB default limit.
fn header_bytes(status: &Status) -> usize {
    let mut headers = http::HeaderMap::new();
    status.add_header(&mut headers).unwrap();
    headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 32)
        .sum()
}

/// Identifiers every one of which is invalid, and long: 50 of each kind (the most one
/// request may carry), 2,000 characters each.
fn hostile_identifiers() -> Identifiers {
    let junk = |kind: &str| -> Vec<String> {
        (0..50)
            .map(|i| format!("{kind}-{i}-{}", "\u{7f}x".repeat(1_000)))
            .collect()
    };
    Identifiers {
        business_registration_numbers: junk("reg"),
        tax_numbers: junk("tax"),
        bank_accounts: junk("iban"),
        addresses: junk("addr"),
        emails: junk("mail"),
        phones: junk("phone"),
        web_domains: junk("web"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scoring_errors_fit_a_default_client_whatever_the_input() {
    let suite = TestSuite::start().await;
    // A default tonic client: it refuses header lists over 16 KiB by dropping the connection.
    let mut scoring = ScoringServiceClient::new(channel(suite.scoring).await);
    let token = suite.token("platform:demo-platform");
    let status = scoring
        .check_entity(authorized(
            CheckEntityRequest {
                name: "n".repeat(100_000),
                country: "not a country".repeat(1_000),
                identifiers: Some(hostile_identifiers()),
                max_matches: 7_000,
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(
        header_bytes(&status) < 8 * 1024,
        "{} bytes",
        header_bytes(&status)
    );
    let details = status.get_error_details();
    let info = details.error_info().unwrap();
    let total: usize = info.metadata["violations"].parse().unwrap();
    let listed = details.bad_request().unwrap().field_violations.len();
    assert!(total > listed, "{total} violations, {listed} listed");
    assert_eq!(info.metadata["listed"], listed.to_string());
    assert!(
        status
            .message()
            .contains(&format!("and {} more", total - 1)),
        "{}",
        status.message()
    );
    // The connection survived: the next call on it answers.
    let fine = scoring
        .check_entity(authorized(
            CheckEntityRequest {
                name: "Sunrise Gadgets".into(),
                ..Default::default()
            },
            &token,
        ))
        .await;
    assert!(fine.is_ok(), "{fine:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_invalid_party_checks_fails_no_call_of_another_authority() {
    const CALLS: usize = 150;
    let suite = TestSuite::start_with_principals(&["customs:second-customs"]).await;
    let flooder_token = suite.token("customs:demo-customs");
    let other_token = suite.token("customs:second-customs");
    let flooder = LiaisonServiceClient::new(channel(suite.liaison).await);
    let other = LiaisonServiceClient::new(channel(suite.liaison).await);

    let bad = |i: usize| {
        let party = if i.is_multiple_of(3) {
            // An importer id far too long: once echoed back in full by scoring's NOT_FOUND.
            Party::ImporterId(format!("IMP-{i}-{}", "9".repeat(200_000)))
        } else {
            Party::Entity(PartyDescription {
                name: format!("Flood {i}"),
                country: "CN".into(),
                identifiers: Some(hostile_identifiers()),
            })
        };
        CheckPartyRequest { party: Some(party) }
    };
    let floods = stream::iter(0..CALLS)
        .map(|i| {
            let mut client = flooder.clone();
            let request = authorized(bad(i), &flooder_token);
            async move { client.check_party(request).await }
        })
        .buffer_unordered(8)
        .collect::<Vec<_>>();
    let valid = stream::iter(0..CALLS)
        .map(|i| {
            let mut client = other.clone();
            let request = authorized(
                CheckPartyRequest {
                    party: Some(Party::Entity(PartyDescription {
                        name: format!("Honest Trader {i}"),
                        country: "DE".into(),
                        identifiers: Some(Identifiers {
                            emails: vec![format!("sales{i}@honest.example")],
                            ..Default::default()
                        }),
                    })),
                },
                &other_token,
            );
            async move { client.check_party(request).await }
        })
        .buffer_unordered(8)
        .collect::<Vec<_>>();
    let (floods, valid) = tokio::join!(floods, valid);

    let failed: Vec<String> = valid
        .iter()
        .filter_map(|answer| answer.as_ref().err())
        .map(|status| format!("{:?} {}", status.code(), status.message()))
        .collect();
    assert!(
        failed.is_empty(),
        "{} of {CALLS} valid calls of another authority failed: {:?}",
        failed.len(),
        &failed[..failed.len().min(5)]
    );
    for answer in floods {
        let status = answer.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        assert!(header_bytes(&status) < 8 * 1024);
        let details = status.get_error_details();
        let field = &details.bad_request().unwrap().field_violations[0].field;
        assert!(
            field == "importer_id" || field.starts_with("entity.identifiers."),
            "named under the caller's own request: {field}"
        );
    }
}

// -- details through reflection ------------------------------------------------------------

/// Adds to `pool` the file that defines `symbol`, and its dependencies, as the server's
/// v1alpha reflection serves them.
async fn load_symbol(
    addr: std::net::SocketAddr,
    pool: &mut prost_reflect::DescriptorPool,
    symbol: &str,
) {
    use prost::Message;
    use tonic_reflection::pb::v1alpha::{
        ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
    };
    let mut client = ServerReflectionClient::new(channel(addr).await);
    let mut wanted = vec![MessageRequest::FileContainingSymbol(symbol.to_owned())];
    let mut files = Vec::new();
    while let Some(request) = wanted.pop() {
        let mut answers = client
            .server_reflection_info(tokio_stream::once(ServerReflectionRequest {
                host: String::new(),
                message_request: Some(request),
            }))
            .await
            .unwrap()
            .into_inner();
        let answer = answers.next().await.unwrap().unwrap();
        let Some(MessageResponse::FileDescriptorResponse(found)) = answer.message_response else {
            panic!("reflection does not serve {symbol}: {answer:?}");
        };
        for raw in found.file_descriptor_proto {
            let file = prost_types::FileDescriptorProto::decode(raw.as_slice()).unwrap();
            let known = pool.get_file_by_name(file.name()).is_some()
                || files
                    .iter()
                    .any(|f: &prost_types::FileDescriptorProto| f.name() == file.name());
            if !known {
                wanted.extend(
                    file.dependency
                        .iter()
                        .map(|name| MessageRequest::FileByFilename(name.clone())),
                );
                files.push(file);
            }
        }
    }
    // Dependencies first.
    files.reverse();
    pool.add_file_descriptor_protos(files).unwrap();
}

/// Decodes `status`'s details with nothing but what the server's reflection serves (the
/// only types the client knows are the reflection service's own), as grpcurl does: the
/// status type, then each detail's type by its name.
async fn decode_details_by_reflection(addr: std::net::SocketAddr, status: &Status) -> String {
    use prost_reflect::{DescriptorPool, DynamicMessage};
    let mut pool = DescriptorPool::new();
    load_symbol(addr, &mut pool, "google.rpc.Status").await;
    let status_type = pool.get_message_by_name("google.rpc.Status").unwrap();
    let decoded = DynamicMessage::decode(status_type, status.details()).unwrap();
    let mut text = String::new();
    for detail in decoded
        .get_field_by_name("details")
        .unwrap()
        .as_list()
        .unwrap()
    {
        let any = detail.as_message().unwrap();
        let type_url = any.get_field_by_name("type_url").unwrap();
        let name = type_url
            .as_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .to_owned();
        if pool.get_message_by_name(&name).is_none() {
            load_symbol(addr, &mut pool, &name).await;
        }
        let descriptor = pool.get_message_by_name(&name).unwrap();
        let value = any.get_field_by_name("value").unwrap();
        let message =
            DynamicMessage::decode(descriptor, value.as_bytes().unwrap().clone()).unwrap();
        text.push_str(&format!("{name} {message:?}\n"));
    }
    text
}

/// Whether the server's reflection v1 finds the file defining `symbol`.
async fn v1_knows(addr: std::net::SocketAddr, symbol: &str) -> bool {
    use tonic_reflection::pb::v1::{
        ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
    };
    let mut answers = ServerReflectionClient::new(channel(addr).await)
        .server_reflection_info(tokio_stream::once(ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::FileContainingSymbol(symbol.to_owned())),
        }))
        .await
        .unwrap()
        .into_inner();
    matches!(
        answers.next().await.unwrap().unwrap().message_response,
        Some(MessageResponse::FileDescriptorResponse(_))
    )
}

#[tokio::test]
async fn error_details_decode_through_reflection_alone() {
    let suite = TestSuite::start().await;
    let token = suite.token("customs:demo-customs");
    let mut liaison = LiaisonServiceClient::new(channel(suite.liaison).await);
    let status = liaison
        .check_party(authorized(
            CheckPartyRequest {
                party: Some(Party::Entity(PartyDescription {
                    identifiers: Some(Identifiers {
                        emails: vec!["nobody".into()],
                        ..Default::default()
                    }),
                    ..Default::default()
                })),
            },
            &token,
        ))
        .await
        .unwrap_err();
    let decoded = decode_details_by_reflection(suite.liaison, &status).await;
    assert!(decoded.contains("google.rpc.BadRequest"), "{decoded}");
    assert!(
        decoded.contains("entity.identifiers.emails[0]"),
        "{decoded}"
    );
    assert!(decoded.contains("google.rpc.ErrorInfo"), "{decoded}");
    assert!(decoded.contains("INVALID_ARGUMENT"), "{decoded}");

    // Reflection v1 (what buf curl and newer grpcurl ask first) serves every detail type
    // ACX sends, and the status itself. (buf curl prints details with the types compiled
    // into it, not through reflection, so it cannot witness this.)
    for symbol in [
        "google.rpc.Status",
        "google.rpc.BadRequest",
        "google.rpc.ErrorInfo",
        "google.rpc.RetryInfo",
    ] {
        assert!(
            v1_knows(suite.liaison, symbol).await,
            "reflection v1 does not serve {symbol}"
        );
    }
}
