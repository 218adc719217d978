//! sysmon-top against a Prometheus that serves its API over TLS with basic auth (Prometheus'
//! `--web.config.file`, the same exporter-toolkit format the exporter takes), with a CA and
//! certificates the test makes.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{free_port, prometheus_binary, run_top, Proc};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair, SanType};

const USER: &str = "grafana";
const PASSWORD: &str = "open sesame";

/// Writes a CA, a server certificate for 127.0.0.1 signed by it, and Prometheus' web config.
fn pki(dir: &std::path::Path) {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "sysmon-top test CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let mut server = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    server
        .subject_alt_names
        .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
    let key = KeyPair::generate().unwrap();
    let cert = server.signed_by(&key, &ca).unwrap();
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    std::fs::write(dir.join("server.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("server.key"), key.serialize_pem()).unwrap();
    let hash = bcrypt::hash(PASSWORD, 4).unwrap();
    std::fs::write(
        dir.join("web.yml"),
        format!(
            "tls_server_config:\n  cert_file: {}\n  key_file: {}\nbasic_auth_users:\n  {USER}: '{hash}'\n",
            dir.join("server.pem").display(),
            dir.join("server.key").display()
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("prometheus.yml"),
        "global:\n  scrape_interval: 15s\n",
    )
    .unwrap();
}

#[test]
fn queries_over_tls_with_basic_auth_and_clear_errors_without_them() {
    let dir = tempfile::tempdir().unwrap();
    pki(dir.path());
    let port = free_port();
    let mut cmd = Command::new(prometheus_binary());
    cmd.arg(format!(
        "--config.file={}",
        dir.path().join("prometheus.yml").display()
    ))
    .arg(format!(
        "--web.config.file={}",
        dir.path().join("web.yml").display()
    ))
    .arg(format!(
        "--storage.tsdb.path={}",
        dir.path().join("data").display()
    ))
    .arg(format!("--web.listen-address=127.0.0.1:{port}"))
    .arg("--log.level=warn");
    let _prometheus = Proc::spawn("prometheus", cmd, dir.path().join("prometheus.log"));

    let url = format!("https://127.0.0.1:{port}");
    let ca = dir.path().join("ca.pem").display().to_string();
    let good = |expr: &str| {
        run_top(&[
            "query",
            expr,
            "--prometheus",
            &url,
            "--ca-file",
            &ca,
            "--user",
            USER,
            "--password",
            PASSWORD,
        ])
    };
    // Prometheus needs a moment to start; poll with the real client.
    let deadline = Instant::now() + Duration::from_secs(30);
    let (code, out, err) = loop {
        let r = good("vector(42)");
        if r.0 == 0 || Instant::now() > deadline {
            break r;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    assert!(out.contains("42"), "{out}");

    // Without the CA the server's certificate is not trusted: a clear error, status 1.
    let (code, _, err) = run_top(&[
        "query",
        "vector(1)",
        "--prometheus",
        &url,
        "--user",
        USER,
        "--password",
        PASSWORD,
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.to_lowercase().contains("certificate"), "{err}");

    // Wrong password or none: Prometheus answers 401, and sysmon-top says so.
    for extra in [vec!["--user", USER, "--password", "wrong"], vec![]] {
        let mut args = vec!["query", "vector(1)", "--prometheus", &url, "--ca-file", &ca];
        args.extend(extra);
        let (code, _, err) = run_top(&args);
        assert_eq!(code, 1, "{err}");
        assert!(
            err.contains("401") || err.to_lowercase().contains("unauthori"),
            "{err}"
        );
    }
}
