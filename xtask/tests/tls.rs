//! The AWS clients' TLS (`store::aws`: rustls on ring, the platform's root certificates)
//! against moto serving HTTPS with a certificate from a throwaway authority: the aggregator
//! reads the stream when it trusts that authority (`SSL_CERT_FILE`) and refuses the server
//! when it does not.
//!
//! Run with `cargo xtask test`.

use pagehit::{time, PageHit};
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use xtask::kinesis;
use xtask::moto::Moto;
use xtask::process::Service;

/// A certificate authority and a server certificate for 127.0.0.1 signed by it, made with
/// the openssl command line: `(ca.pem, server.pem, server.key)`.
fn certificates(dir: &Path) -> (String, String, String) {
    let path = |name: &str| dir.join(name).to_string_lossy().into_owned();
    let (ca, ca_key) = (path("ca.pem"), path("ca.key"));
    let (cert, key, csr, ext) = (
        path("server.pem"),
        path("server.key"),
        path("server.csr"),
        path("server.ext"),
    );
    std::fs::write(
        &ext,
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl").args(args).output().unwrap();
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let rsa = ["-newkey", "rsa:2048", "-nodes", "-days", "2"];
    openssl(
        &[
            &["req", "-x509"][..],
            &rsa,
            &[
                "-keyout",
                &ca_key,
                "-out",
                &ca,
                "-subj",
                "/CN=pagehit test authority",
            ],
        ]
        .concat(),
    );
    openssl(
        &[
            &["req"][..],
            &rsa[..3],
            &["-keyout", &key, "-out", &csr, "-subj", "/CN=127.0.0.1"],
        ]
        .concat(),
    );
    openssl(&[
        "x509",
        "-req",
        "-in",
        &csr,
        "-CA",
        &ca,
        "-CAkey",
        &ca_key,
        "-CAcreateserial",
        "-days",
        "2",
        "-out",
        &cert,
        "-extfile",
        &ext,
    ]);
    (ca, cert, key)
}

fn hit(n: u32) -> PageHit {
    PageHit {
        event_id: format!("01936b2e-0000-7abc-8def-{n:012}"),
        ts: time::format_ts(1_795_737_540_000 + i64::from(n)),
        host: "shop.example".into(),
        path: format!("/p{n}"),
        method: "GET".into(),
        status: 200,
        visitor: format!("{:016x}", u64::from(n)),
        action: "x".into(),
        country: "DE".into(),
        user_agent: "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0".into(),
        origin_ms: n,
        ..PageHit::default()
    }
}

/// The rows landed under `dir/hits`.
fn landed(dir: &Path) -> usize {
    xtask::aggregator::landed_hits(dir).unwrap().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs moto: run `cargo xtask test`"]
async fn the_aws_clients_speak_tls_and_check_the_servers_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = certificates(dir.path());
    let moto = Moto::start_tls(Path::new(&cert), Path::new(&key))
        .await
        .unwrap();
    assert!(moto.endpoint.starts_with("https://"), "{}", moto.endpoint);

    // This process's clients (xtask's, built with store::aws::http_client) trust the test
    // authority only; this test binary holds no other test that could see the variable.
    std::env::set_var("SSL_CERT_FILE", &ca);
    let client = kinesis::client(&moto.endpoint);
    kinesis::create_stream(&client, "tls", 1).await.unwrap();
    let hits: Vec<PageHit> = (0..25).map(hit).collect();
    kinesis::put_hits(&client, "tls", &hits, &[]).await.unwrap();

    let consume = |sink: &Path| {
        let mut cmd = xtask::aggregator::command(&moto.endpoint);
        cmd.args(["consume", "--stream", "tls", "--once", "--sink"])
            .arg(sink);
        cmd
    };

    // The platform's authorities never signed the test certificate: the consumer refuses the
    // server, says why, and keeps retrying (an outage to it) without landing anything.
    let untrusted = dir.path().join("untrusted");
    let mut cmd = consume(&untrusted);
    cmd.env_remove("SSL_CERT_FILE");
    let mut refused =
        Service::spawn("aggregator", &mut cmd, &dir.path().join("untrusted.log")).unwrap();
    refused
        .wait_for_log(
            "invalid peer certificate: UnknownIssuer",
            Duration::from_secs(60),
        )
        .await
        .unwrap();
    refused.stop();
    assert_eq!(landed(&untrusted), 0);

    let trusted = dir.path().join("trusted");
    let out = consume(&trusted)
        .env("SSL_CERT_FILE", &ca)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        landed(&trusted),
        hits.len(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
