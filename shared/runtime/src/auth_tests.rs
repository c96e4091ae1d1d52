use super::*;

fn registry_with(token: &str, principal: &str) -> TokenRegistry {
    let text = format!(
        "# comment\n\n{} {principal}  # trailing\n",
        crate::credentials::hash_token(token)
    );
    TokenRegistry::parse(&text, "test").expect("valid token file")
}

fn headers(value: &str) -> http::HeaderMap {
    let mut headers = http::HeaderMap::new();
    headers.insert(http::header::AUTHORIZATION, value.parse().expect("header"));
    headers
}

#[test]
fn parses_principals() {
    let p: Principal = "customs:us-cbp".parse().expect("valid");
    assert_eq!(p.role, Role::Customs);
    assert_eq!(p.to_string(), "customs:us-cbp");
    assert!("customs".parse::<Principal>().is_err());
    assert!("admin:x".parse::<Principal>().is_err());
    assert!("platform:Amazon".parse::<Principal>().is_err());
    assert!("platform:".parse::<Principal>().is_err());
}

#[test]
fn token_files_refuse_raw_tokens_and_name_the_line() {
    let error = TokenRegistry::parse("acx_secret platform:a\n", "tokens")
        .expect_err("a raw token is not a hash");
    assert!(error.to_string().starts_with("tokens:1:"), "{error}");
}

#[test]
fn decides_public_allowed_denied_and_unknown() {
    let tokens = registry_with("good-token", "platform:amazon");
    let policy = AccessPolicy::new()
        .service("acx.liaison.v1.LiaisonService", &[Role::Customs])
        .service("acx.ingest.v1.IngestService", &[Role::Platform]);

    let public = authorize(
        &tokens,
        &policy,
        "/grpc.health.v1.Health/Check",
        &http::HeaderMap::new(),
    );
    assert_eq!(public.expect("public"), None);

    let missing = authorize(
        &tokens,
        &policy,
        "/acx.ingest.v1.IngestService/SubmitReports",
        &http::HeaderMap::new(),
    );
    assert_eq!(missing.expect_err("no token").code(), Code::Unauthenticated);
    for header in ["good-token", "Basic good-token", "Bearer "] {
        let slip = authorize(
            &tokens,
            &policy,
            "/acx.ingest.v1.IngestService/SubmitReports",
            &headers(header),
        )
        .expect_err(header);
        assert_eq!(slip.code(), Code::Unauthenticated, "{header}");
        assert!(
            slip.message().contains("not a bearer token"),
            "{header}: {slip:?}"
        );
    }

    let unknown = authorize(
        &tokens,
        &policy,
        "/acx.ingest.v1.IngestService/SubmitReports",
        &headers("Bearer other"),
    );
    assert_eq!(unknown.expect_err("unknown").code(), Code::Unauthenticated);

    let allowed = authorize(
        &tokens,
        &policy,
        "/acx.ingest.v1.IngestService/SubmitReports",
        &headers("bearer good-token"),
    );
    assert_eq!(allowed.expect("allowed").expect("principal").id, "amazon");

    let denied = authorize(
        &tokens,
        &policy,
        "/acx.liaison.v1.LiaisonService/CheckSeller",
        &headers("Bearer good-token"),
    );
    assert_eq!(denied.expect_err("denied").code(), Code::PermissionDenied);

    // Not served here, whoever asks: an ACX method no contract has, a method of a known
    // service that is not this server's, a service no rule names.
    for path in [
        "/acx.ingest.v1.IngestService/NoSuchMethod",
        "/acx.scoring.v1.ScoringService/GetSellerRisk",
        "/acx.other.v1.Other/Call",
        "/other.Service/Call",
    ] {
        for token in ["Bearer good-token", "Bearer other", ""] {
            let unserved = authorize(&tokens, &policy, path, &headers(token));
            let status = unserved.expect_err("unserved");
            assert_eq!(status.code(), Code::Unimplemented, "{path} {token}");
            assert!(status.message().contains(path), "{}", status.message());
        }
    }
}

#[test]
fn method_rules_override_service_rules() {
    let policy = AccessPolicy::new()
        .service("s.S", &[Role::Platform])
        .method("s.S", "Feed", &[Role::Service]);
    assert_eq!(policy.allowed("/s.S/Feed"), &[Grant::Role(Role::Service)]);
    assert_eq!(policy.allowed("/s.S/Get"), &[Grant::Role(Role::Platform)]);
}

#[test]
fn a_grant_to_one_service_admits_no_other() {
    let tokens = {
        let mut tokens = registry_with("scoring-token", "service:scoring");
        tokens.extend(registry_with("other-token", "service:other"));
        tokens
    };
    let policy = AccessPolicy::new().grant_method("s.S", "Feed", &[Grant::service("scoring")]);
    let decide = |token: &str| {
        authorize(
            &tokens,
            &policy,
            "/s.S/Feed",
            &headers(&format!("Bearer {token}")),
        )
    };
    assert_eq!(
        decide("scoring-token")
            .expect("allowed")
            .expect("principal")
            .id,
        "scoring"
    );
    let denied = decide("other-token").expect_err("another service");
    assert_eq!(denied.code(), Code::PermissionDenied);
    assert!(
        denied.message().contains("service:scoring"),
        "{}",
        denied.message()
    );
    let unnamed = authorize(
        &tokens,
        &policy,
        "/s.S/Get",
        &headers("Bearer scoring-token"),
    );
    assert_eq!(
        unnamed.expect_err("default deny").code(),
        Code::PermissionDenied
    );
}

#[test]
fn a_tokens_file_that_cannot_be_read_is_named_with_its_setting() {
    let error = TokenRegistry::load(std::path::Path::new("/nonexistent/acx-tokens"))
        .expect_err("no such file");
    let message = error.to_string();
    assert!(
        message.starts_with(
            "the tokens file /nonexistent/acx-tokens (ACX_TOKENS_FILE) cannot be read: "
        ),
        "{message}"
    );
    // A bad line still names the file and the line.
    let error = TokenRegistry::parse("not-a-hash customs:x\n", "tokens").expect_err("a bad line");
    assert!(error.to_string().starts_with("tokens:1: "), "{error}");
}
