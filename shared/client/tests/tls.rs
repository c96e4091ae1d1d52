//! The client over TLS: a private CA, the server's certificate for a name and an address,
//! and a client certificate the server requires.

#![allow(clippy::unwrap_used)]

mod common;

use acx_client::{Client, ClientConfig, Error};
use acx_proto::diagnostics::diagnostics_service_server::DiagnosticsServiceServer;
use common::{Scripted, echo, quick_retries};
use tonic::Code;

/// Makes, with the system's openssl, a CA and two certificates it signs: `server`
/// (for localhost and 127.0.0.1) and `client` (for client authentication).
fn make_certificates(dir: &std::path::Path) {
    let openssl = |args: &[&str]| {
        let output = std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl is installed");
        assert!(
            output.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    let subject_ca = "/CN=acx-client-test-ca";
    openssl(&[
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", subject_ca,
        "-keyout", "ca.key", "-out", "ca.pem",
    ]);
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
    )
    .unwrap();
    std::fs::write(dir.join("client.ext"), "extendedKeyUsage=clientAuth\n").unwrap();
    for name in ["server", "client"] {
        let (key, csr, pem, ext) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.pem"),
            format!("{name}.ext"),
        );
        let subject = format!("/CN=acx-test-{name}");
        openssl(&[
            "req", "-newkey", "rsa:2048", "-nodes", "-subj", &subject, "-keyout", &key, "-out",
            &csr,
        ]);
        openssl(&[
            "x509",
            "-req",
            "-days",
            "1",
            "-in",
            &csr,
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-extfile",
            &ext,
            "-out",
            &pem,
        ]);
    }
}

#[tokio::test]
async fn tls_with_a_private_ca_and_a_client_certificate() {
    use tonic::transport::{Certificate, Identity, ServerTlsConfig};
    let dir = tempfile::tempdir().unwrap();
    make_certificates(dir.path());
    let file = |name: &str| dir.path().join(name);
    let read = |name: &str| std::fs::read(file(name)).unwrap();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let tls = ServerTlsConfig::new()
        .identity(Identity::from_pem(read("server.pem"), read("server.key")))
        .client_ca_root(Certificate::from_pem(read("ca.pem")));
    let scripted = Scripted::default();
    let service = DiagnosticsServiceServer::new(scripted.clone());
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .tls_config(tls)
            .unwrap()
            .add_service(service)
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
            .await
    });

    let mutual = ClientConfig::new(format!("https://localhost:{}", addr.port()))
        .with_ca_certificate(file("ca.pem"))
        .with_client_identity(file("client.pem"), file("client.key"))
        .with_retry(quick_retries(2));
    let client = Client::connect(mutual.clone()).await.unwrap();
    let answer = client.diagnostics().echo(echo("over tls")).await.unwrap();
    assert_eq!(answer.message, "over tls");

    // By IP address: the server's certificate names 127.0.0.1 too.
    let by_ip = ClientConfig {
        endpoint: format!("https://{addr}"),
        ..mutual.clone()
    };
    let client = Client::connect(by_ip).await.unwrap();
    client.diagnostics().echo(echo("by ip")).await.unwrap();

    // No client certificate: the server refuses the handshake.
    let anonymous = ClientConfig {
        client_identity: None,
        ..mutual.clone()
    };
    let client = Client::connect(anonymous).await.unwrap();
    let error = client.diagnostics().echo(echo("x")).await.unwrap_err();
    assert!(error.code().is_some(), "{error}");

    // Without the private CA (only the public roots) the server is not trusted.
    let public_roots = ClientConfig {
        ca_certificate: None,
        ..mutual.clone()
    };
    let client = Client::connect(public_roots).await.unwrap();
    let error = client.diagnostics().echo(echo("x")).await.unwrap_err();
    assert_eq!(error.code(), Some(Code::Unavailable), "{error}");
    assert_eq!(
        scripted.attempts(),
        2,
        "only the trusted, identified calls got through"
    );

    // A key file that is not a key is a configuration error, not a failed call.
    let wrong_key = ClientConfig {
        client_identity: Some((file("client.pem"), file("ca.pem"))),
        ..mutual
    };
    assert!(matches!(
        Client::connect(wrong_key).await,
        Err(Error::Config(message)) if message.contains("PRIVATE KEY")
    ));
}
