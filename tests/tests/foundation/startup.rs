//! Start-up errors an operator can act on: a tokens file that cannot be read is reported
//! before anything else is tried (no database, no peer), and a database that cannot be
//! reached is named (user, host, port, database), never with its password, with the cause.

use acx_runtime::{ServerConfig, Shutdown, error::cause_chain};

/// A server configuration whose database (a closed port) and tokens file are both wrong.
fn broken(dir: &std::path::Path) -> ServerConfig {
    let mut server = ServerConfig::local(dir);
    server.listen_addr = Some("127.0.0.1:0".parse().unwrap());
    server.database_url = Some("postgres://acx:secretpw@127.0.0.1:1/acx_nowhere".to_owned());
    server.tokens_file = Some(dir.join("no-such-tokens"));
    server
}

#[tokio::test]
async fn a_tokens_file_that_cannot_be_read_is_reported_before_the_database_or_a_peer_is_tried() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("identifier-keys");
    std::fs::write(
        &keys,
        acx_domain::identifiers::IdentifierKeys::generate_file("k1"),
    )
    .unwrap();
    let ingest = acx_ingest::start(
        &acx_ingest::Config {
            server: broken(dir.path()),
            identifier_keys_file: keys,
            max_batch_reports: 1000,
            legacy_normalizations: Default::default(),
        },
        Shutdown::new(),
    )
    .await
    .err()
    .map(|e| cause_chain(&e));
    let scoring = acx_scoring::start(
        &acx_scoring::Config::standalone(broken(dir.path())),
        Shutdown::new(),
    )
    .await
    .err()
    .map(|e| cause_chain(&e));
    let liaison = acx_liaison::start(
        &acx_liaison::Config {
            server: broken(dir.path()),
            scoring_url: "http://127.0.0.1:1".to_owned(),
            audit_database_url: None,
            scoring_token: acx_runtime::credentials::generate_token().into(),
            reassess_interval_secs: 0,
        },
        Shutdown::new(),
    )
    .await
    .err()
    .map(|e| cause_chain(&e));
    for (service, error) in [
        ("ingest", ingest),
        ("scoring", scoring),
        ("liaison", liaison),
    ] {
        let error = error.unwrap_or_else(|| panic!("{service} started"));
        assert!(
            error.contains("no-such-tokens (ACX_TOKENS_FILE) cannot be read")
                && !error.contains("database"),
            "{service}: {error}"
        );
    }
}

#[tokio::test]
async fn a_database_that_cannot_be_reached_is_named_without_its_password() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = broken(dir.path());
    server.tokens_file = None;
    let error = acx_scoring::start(&acx_scoring::Config::standalone(server), Shutdown::new())
        .await
        .err()
        .map(|e| cause_chain(&e))
        .expect("refused");
    assert!(
        error.contains("cannot connect to the database acx@127.0.0.1:1/acx_nowhere")
            && error.contains("refused")
            && !error.contains("secretpw"),
        "{error}"
    );
}
