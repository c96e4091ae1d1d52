//! TLS and mutual TLS on a service's port: a client with a certificate from the configured
//! CA is served; one without, and plaintext, are refused.

use acx_proto::diagnostics::diagnostics_service_client::DiagnosticsServiceClient;
use acx_tests::authorized;

use super::{echo, scoring_with};

/// Makes a CA, a server certificate for localhost/127.0.0.1 and a client certificate with
/// the system's openssl; returns the directory holding `ca.pem`, `server.{pem,key}` and
/// `client.{pem,key}`.
fn make_certificates(dir: &std::path::Path) {
    let run = |args: &[&str]| {
        let status = std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .expect("openssl runs");
        assert!(status.success(), "openssl {args:?}");
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=acx-test-ca",
    ]);
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
    )
    .unwrap();
    std::fs::write(dir.join("client.ext"), "extendedKeyUsage=clientAuth\n").unwrap();
    for (name, subject) in [
        ("server", "/CN=localhost"),
        ("client", "/CN=customs-client"),
    ] {
        run(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.csr"),
            "-subj",
            subject,
        ]);
        run(&[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            &format!("{name}.pem"),
            "-days",
            "2",
            "-extfile",
            &format!("{name}.ext"),
        ]);
    }
}

#[tokio::test]
async fn tls_and_mutual_tls_protect_the_port() {
    use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};
    let dir = tempfile::tempdir().unwrap();
    make_certificates(dir.path());
    let file = |name: &str| dir.path().join(name);
    let token = acx_runtime::credentials::generate_token();
    let (addr, shutdown) = scoring_with(dir.path(), &token, |c| {
        c.tls_cert = Some(file("server.pem"));
        c.tls_key = Some(file("server.key"));
        c.tls_client_ca = Some(file("ca.pem"));
    })
    .await;
    let ca = Certificate::from_pem(std::fs::read(file("ca.pem")).unwrap());
    let endpoint = || Endpoint::from_shared(format!("https://{addr}")).unwrap();

    let with_identity = ClientTlsConfig::new()
        .ca_certificate(ca.clone())
        .domain_name("localhost")
        .identity(Identity::from_pem(
            std::fs::read(file("client.pem")).unwrap(),
            std::fs::read(file("client.key")).unwrap(),
        ));
    let channel = endpoint()
        .tls_config(with_identity)
        .unwrap()
        .connect()
        .await
        .expect("mutual TLS handshake");
    let answer = DiagnosticsServiceClient::new(channel)
        .echo(authorized(echo("over tls"), &token))
        .await
        .expect("served over mutual TLS");
    assert_eq!(answer.into_inner().message, "over tls");

    // Without a client certificate the handshake (or the first call) fails.
    let anonymous = ClientTlsConfig::new()
        .ca_certificate(ca)
        .domain_name("localhost");
    let refused = match endpoint().tls_config(anonymous).unwrap().connect().await {
        Err(_) => true,
        Ok(channel) => DiagnosticsServiceClient::new(channel)
            .echo(authorized(echo("x"), &token))
            .await
            .is_err(),
    };
    assert!(refused, "a client without a certificate is refused");

    // Plaintext is refused too.
    let plaintext = match Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
    {
        Err(_) => true,
        Ok(channel) => DiagnosticsServiceClient::new(channel)
            .echo(authorized(echo("x"), &token))
            .await
            .is_err(),
    };
    assert!(plaintext, "plaintext is refused on a TLS port");
    shutdown.trigger();
}
