//! `--web.config.file` and the web limits, end to end with real TLS: the test makes a CA, a server
//! certificate and client certificates with rcgen, starts the real exporter, and talks to it with a
//! rustls client (and, once, with a real Prometheus).

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use common::{fixture, free_port, root_args};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair, SanType};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

const PASSWORD: &str = "correct horse";

/// A CA, a server certificate for 127.0.0.1 and localhost, and a client certificate, as PEM files.
struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let ca = make_ca("sysmon test CA");
        let mut server = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        server
            .subject_alt_names
            .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
        let server_key = KeyPair::generate().unwrap();
        let server_cert = server.signed_by(&server_key, &ca).unwrap();
        let client_key = KeyPair::generate().unwrap();
        let client_cert = CertificateParams::new(vec!["prometheus".to_string()])
            .unwrap()
            .signed_by(&client_key, &ca)
            .unwrap();
        // A client certificate from a CA the exporter does not trust.
        let other_ca = make_ca("another CA");
        let other_key = KeyPair::generate().unwrap();
        let other_cert = CertificateParams::new(vec!["intruder".to_string()])
            .unwrap()
            .signed_by(&other_key, &other_ca)
            .unwrap();
        let w = |name: &str, text: String| std::fs::write(dir.path().join(name), text).unwrap();
        w("ca.pem", ca.pem());
        w("server.pem", server_cert.pem());
        w("server.key", server_key.serialize_pem());
        w("client.pem", client_cert.pem());
        w("client.key", client_key.serialize_pem());
        w("other.pem", other_cert.pem());
        w("other.key", other_key.serialize_pem());
        Pki { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes a web configuration file next to the certificates (so relative names work).
    fn web_config(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    /// A rustls client trusting the test CA, limited to `versions`, with an optional client
    /// certificate ("client" or "other").
    fn client(
        &self,
        versions: &[&'static rustls::SupportedProtocolVersion],
        cert: Option<&str>,
    ) -> ureq::Agent {
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_file_iter(self.path("ca.pem")).unwrap() {
            roots.add(c.unwrap()).unwrap();
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(versions)
            .unwrap()
            .with_root_certificates(roots);
        let config = match cert {
            None => builder.with_no_client_auth(),
            Some(name) => {
                let chain = CertificateDer::pem_file_iter(self.path(&format!("{name}.pem")))
                    .unwrap()
                    .map(Result::unwrap)
                    .collect();
                let key = PrivateKeyDer::from_pem_file(self.path(&format!("{name}.key"))).unwrap();
                builder.with_client_auth_cert(chain, key).unwrap()
            }
        };
        ureq::AgentBuilder::new()
            .tls_config(Arc::new(config))
            .timeout(Duration::from_secs(20))
            .build()
    }

    fn default_client(&self) -> ureq::Agent {
        self.client(rustls::DEFAULT_VERSIONS, None)
    }
}

fn make_ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

fn basic(user: &str, password: &str) -> String {
    let b = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {b}")
}

/// A bcrypt hash at the cost the documentation recommends.
fn hash(password: &str) -> String {
    bcrypt::hash(password, 10).unwrap()
}

/// A running exporter, killed when dropped.
struct Exporter {
    child: Child,
    port: u16,
    _state: tempfile::TempDir,
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Exporter {
    fn url(&self, scheme: &str, path: &str) -> String {
        format!("{scheme}://127.0.0.1:{}{path}", self.port)
    }
}

fn command(extra: &[String]) -> (Command, tempfile::TempDir) {
    let state = tempfile::tempdir().unwrap();
    let root = fixture("laptop");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sysmon-exporter"));
    cmd.args(root_args(&root))
        .arg(format!("--path.kmsg={}", root.join("kmsg").display()))
        .arg(format!("--storage.path={}", state.path().display()))
        .args([
            "--log.level=error",
            "--sampler.interval=200ms",
            "--sampler.collector-timeout=200ms",
        ])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    (cmd, state)
}

/// Starts the exporter and waits until `ready(port)` is true (the process exiting is a failure).
fn start(extra: &[String], ready: impl Fn(u16) -> bool) -> Exporter {
    let port = free_port();
    let mut args = vec![format!("--web.listen-address=127.0.0.1:{port}")];
    args.extend_from_slice(extra);
    let (mut cmd, state) = command(&args);
    let child = cmd.stderr(Stdio::inherit()).spawn().unwrap();
    let mut e = Exporter {
        child,
        port,
        _state: state,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(Some(status)) = e.child.try_wait() {
            panic!("the exporter exited before it was ready: {status}");
        }
        if ready(port) {
            return e;
        }
        assert!(
            Instant::now() < deadline,
            "the exporter was not ready within 30 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Starts an exporter with `--web.config.file=config` and waits until an authenticated HTTPS
/// `/health` answers.
fn start_tls(pki: &Pki, config: &Path, user: &str, extra: &[&str]) -> Exporter {
    let agent = pki.default_client();
    let mut args = vec![format!("--web.config.file={}", config.display())];
    args.extend(extra.iter().map(|s| s.to_string()));
    start(&args, |port| {
        agent
            .get(&format!("https://127.0.0.1:{port}/health"))
            .set("Authorization", &basic(user, PASSWORD))
            .call()
            .is_ok()
    })
}

fn start_plain(extra: &[&str]) -> Exporter {
    let args: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    start(&args, |port| {
        ureq::get(&format!("http://127.0.0.1:{port}/health"))
            .timeout(Duration::from_secs(2))
            .call()
            .is_ok()
    })
}

/// Status, headers of interest and body of a GET, whatever the status.
fn get(
    agent: &ureq::Agent,
    url: &str,
    auth: Option<&str>,
) -> Result<(u16, ureq::Response), String> {
    let mut req = agent.get(url);
    if let Some(a) = auth {
        req = req.set("Authorization", a);
    }
    match req.call() {
        Ok(r) => Ok((r.status(), r)),
        Err(ureq::Error::Status(code, r)) => Ok((code, r)),
        Err(e) => Err(e.to_string()),
    }
}

#[test]
fn https_with_basic_auth_on_every_route() {
    let pki = Pki::new();
    let config = pki.web_config(
        "web.yml",
        &format!(
            "# the same file works for node_exporter\n\
             tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n\
             basic_auth_users:\n  prometheus: {}\n  grafana: {}\n\
             http_server_config:\n  headers:\n    X-Content-Type-Options: nosniff\n",
            hash(PASSWORD),
            hash("another")
        ),
    );
    let e = start_tls(&pki, &config, "prometheus", &[]);
    let agent = pki.default_client();
    let routes = [
        "/metrics",
        "/",
        "/health",
        "/api/v1/anomalies",
        "/api/v1/anomalies/1",
        "/api/v1/anomalies/stream",
        "/api/v1/anomalies/rank",
        "/no/such/path",
    ];
    for path in routes {
        let url = e.url("https", path);
        for auth in [
            None,
            Some(basic("prometheus", "wrong")),
            Some(basic("nobody", PASSWORD)),
            Some(basic("grafana", PASSWORD)),
            Some("Bearer token".to_string()),
        ] {
            let (status, resp) = get(&agent, &url, auth.as_deref()).unwrap();
            assert_eq!(status, 401, "{path} with {auth:?}");
            assert_eq!(
                resp.header("WWW-Authenticate"),
                Some("Basic realm=\"sysmon\""),
                "{path}"
            );
            assert_eq!(resp.header("Content-Type"), Some("application/json"));
            assert_eq!(resp.header("X-Content-Type-Options"), Some("nosniff"));
            let body: serde_json::Value =
                serde_json::from_str(&resp.into_string().unwrap()).unwrap();
            assert_eq!(body["status"], "error");
        }
        let (status, resp) = get(&agent, &url, Some(&basic("prometheus", PASSWORD))).unwrap();
        let expected = match path {
            "/api/v1/anomalies/1" | "/no/such/path" => 404,
            _ => 200,
        };
        assert_eq!(status, expected, "{path} with the right password");
        if path == "/metrics" {
            assert!(resp.into_string().unwrap().contains("node_load1"));
        } else if path == "/api/v1/anomalies/stream" {
            assert_eq!(resp.header("Content-Type"), Some("text/event-stream"));
        }
    }
    // The TLS port does not speak plain HTTP.
    let plain = ureq::get(&e.url("http", "/health"))
        .timeout(Duration::from_secs(10))
        .call();
    assert!(
        matches!(plain, Err(ureq::Error::Transport(_))),
        "plain HTTP to the TLS port: {:?}",
        plain.map(|r| r.status())
    );
}

#[test]
fn min_version_tls13_refuses_a_tls12_client() {
    let pki = Pki::new();
    let config = pki.web_config(
        "web.yml",
        "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n  min_version: TLS13\n",
    );
    let e = start_tls(&pki, &config, "", &[]);
    let tls12 = pki.client(&[&rustls::version::TLS12], None);
    let r = get(&tls12, &e.url("https", "/health"), None);
    assert!(r.is_err(), "a TLS 1.2 client was served");
    let tls13 = pki.client(&[&rustls::version::TLS13], None);
    assert_eq!(
        get(&tls13, &e.url("https", "/health"), None).unwrap().0,
        200
    );
}

#[test]
fn max_version_tls12_and_chosen_cipher_suites_serve_tls12() {
    let pki = Pki::new();
    let config = pki.web_config(
        "web.yml",
        "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n  max_version: TLS12\n  \
         cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384]\n  curve_preferences: [CurveP256]\n",
    );
    let e = start_tls(&pki, &config, "", &[]);
    let tls13 = pki.client(&[&rustls::version::TLS13], None);
    assert!(get(&tls13, &e.url("https", "/health"), None).is_err());
    let tls12 = pki.client(&[&rustls::version::TLS12], None);
    assert_eq!(
        get(&tls12, &e.url("https", "/health"), None).unwrap().0,
        200
    );
}

#[test]
fn require_and_verify_client_cert() {
    let pki = Pki::new();
    let config = pki.web_config(
        "web.yml",
        "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n  \
         client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.pem\n",
    );
    let with_cert = pki.client(rustls::DEFAULT_VERSIONS, Some("client"));
    let args = vec![format!("--web.config.file={}", config.display())];
    let e = start(&args, |port| {
        with_cert
            .get(&format!("https://127.0.0.1:{port}/health"))
            .call()
            .is_ok()
    });
    let url = e.url("https", "/metrics");
    assert!(
        get(&pki.default_client(), &url, None).is_err(),
        "served without a client certificate"
    );
    let intruder = pki.client(rustls::DEFAULT_VERSIONS, Some("other"));
    assert!(
        get(&intruder, &url, None).is_err(),
        "served a certificate of another CA"
    );
    let (status, resp) = get(&with_cert, &url, None).unwrap();
    assert_eq!(status, 200);
    assert!(resp.into_string().unwrap().contains("node_load1"));
}

#[test]
fn require_any_client_cert_wants_a_certificate_but_no_ca() {
    let pki = Pki::new();
    let config = pki.web_config(
        "web.yml",
        "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n  \
         client_auth_type: RequireAnyClientCert\n",
    );
    let any = pki.client(rustls::DEFAULT_VERSIONS, Some("other"));
    let args = vec![format!("--web.config.file={}", config.display())];
    let e = start(&args, |port| {
        any.get(&format!("https://127.0.0.1:{port}/health"))
            .call()
            .is_ok()
    });
    let url = e.url("https", "/health");
    assert!(
        get(&pki.default_client(), &url, None).is_err(),
        "served without a client certificate"
    );
    assert_eq!(get(&any, &url, None).unwrap().0, 200);
}

#[test]
fn invalid_web_configs_stop_the_start_with_status_2() {
    let pki = Pki::new();
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "missing-cert.yml",
            "tls_server_config:\n  cert_file: nosuch.pem\n  key_file: server.key\n".into(),
            "nosuch.pem",
        ),
        (
            "no-key.yml",
            "tls_server_config:\n  cert_file: server.pem\n".into(),
            "missing one of key or key_file",
        ),
        (
            "bad-hash.yml",
            "basic_auth_users:\n  prometheus: notahash\n".into(),
            "not a bcrypt hash",
        ),
        ("bad-yaml.yml", "tls_server_config:\n  cert_file: [a\n".into(), "bad-yaml.yml:"),
        (
            "tls11.yml",
            "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n  max_version: TLS11\n".into(),
            "TLS 1.0 and 1.1 are not supported",
        ),
        (
            "unknown-key.yml",
            "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n  certfile: x\n".into(),
            ":4: ",
        ),
        (
            "bad-client-auth.yml",
            "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n  client_auth_type: Sometimes\n".into(),
            "client_auth_type",
        ),
        (
            "cbc-cipher.yml",
            "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n  cipher_suites: [TLS_RSA_WITH_AES_128_CBC_SHA]\n".into(),
            "not supported by rustls",
        ),
        (
            "bad-header.yml",
            "http_server_config:\n  headers:\n    Server: sysmon\n".into(),
            "can not be configured",
        ),
    ];
    for (name, text, expected) in cases {
        let file = pki.web_config(name, &text);
        check_exit_2(&file, expected);
    }
    check_exit_2(&pki.path("does-not-exist.yml"), "cannot read");
}

fn check_exit_2(file: &Path, expected: &str) {
    let (mut cmd, _state) = command(&[
        format!("--web.listen-address=127.0.0.1:{}", free_port()),
        format!("--web.config.file={}", file.display()),
    ]);
    let mut child = cmd.stderr(Stdio::piped()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{} was accepted: the exporter is running", file.display());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(status.code(), Some(2), "{}: {stderr}", file.display());
    assert!(
        stderr.contains(&file.display().to_string()),
        "the message does not name {}: {stderr}",
        file.display()
    );
    assert!(
        stderr.contains(expected),
        "expected {expected:?} in: {stderr}"
    );
}

#[test]
fn max_streams_refuses_the_stream_beyond_the_cap() {
    let e = start_plain(&["--web.max-streams=1"]);
    let url = e.url("http", "/api/v1/anomalies/stream");
    let first = ureq::get(&url)
        .timeout(Duration::from_secs(60))
        .call()
        .unwrap();
    assert_eq!(first.status(), 200);
    match ureq::get(&url).timeout(Duration::from_secs(10)).call() {
        Err(ureq::Error::Status(503, resp)) => {
            assert_eq!(resp.header("Content-Type"), Some("application/json"));
            assert!(resp.into_string().unwrap().contains("--web.max-streams=1"));
        }
        other => panic!("second stream: {:?}", other.map(|r| r.status())),
    }
    // Other routes are not streams.
    assert!(ureq::get(&e.url("http", "/metrics")).call().is_ok());
    // A closed stream frees its place.
    drop(first);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match ureq::get(&url).timeout(Duration::from_secs(10)).call() {
            Ok(r) => {
                assert_eq!(r.status(), 200);
                break;
            }
            Err(ureq::Error::Status(503, _)) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(100))
            }
            Err(e) => panic!("stream after the first closed: {e}"),
        }
    }
}

#[test]
fn max_requests_answers_503_beyond_the_cap() {
    // A request whose password must be checked holds its place while bcrypt runs (a wrong
    // password is never cached), so while one runs, every other request is beyond the cap of 1.
    let pki = Pki::new();
    let config = pki.web_config(
        "web.yml",
        &format!(
            "basic_auth_users:\n  prometheus: {}\n",
            bcrypt::hash(PASSWORD, 12).unwrap()
        ),
    );
    let args = vec![
        format!("--web.config.file={}", config.display()),
        "--web.max-requests=1".to_string(),
    ];
    let e = start(&args, |port| {
        matches!(
            ureq::get(&format!("http://127.0.0.1:{port}/health")).call(),
            Err(ureq::Error::Status(401, _))
        )
    });
    let slow_url = e.url("http", "/metrics");
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let done_in_thread = Arc::clone(&done);
    let slow = std::thread::spawn(move || {
        let r = ureq::get(&slow_url)
            .set("Authorization", &basic("prometheus", "wrong"))
            .timeout(Duration::from_secs(120))
            .call();
        done_in_thread.store(true, std::sync::atomic::Ordering::SeqCst);
        matches!(r, Err(ureq::Error::Status(401, _)))
    });
    let mut refused = 0;
    let mut answered = 0;
    while !done.load(std::sync::atomic::Ordering::SeqCst) {
        match ureq::get(&e.url("http", "/health"))
            .timeout(Duration::from_secs(10))
            .call()
        {
            Err(ureq::Error::Status(503, resp)) => {
                assert_eq!(resp.header("Content-Type"), Some("application/json"));
                assert!(resp.into_string().unwrap().contains("--web.max-requests=1"));
                refused += 1;
            }
            Err(ureq::Error::Status(401, _)) => answered += 1,
            other => panic!("unexpected: {:?}", other.map(|r| r.status())),
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(
        slow.join().unwrap(),
        "the slow request was not answered 401"
    );
    assert!(
        refused > 0,
        "no request was refused while one ran ({answered} answered)"
    );
    // With the slow one done, requests are answered again.
    assert!(matches!(
        ureq::get(&e.url("http", "/health")).call(),
        Err(ureq::Error::Status(401, _))
    ));
}

#[test]
fn a_thousand_idle_and_slow_connections_do_not_lock_out_a_scrape() {
    const CAP: usize = 64;
    let e = start_plain(&[
        &format!("--web.max-connections={CAP}"),
        // Long enough that none of them times out during the test: the cap alone must do it.
        "--web.header-read-timeout=5m",
        "--web.idle-timeout=5m",
    ]);
    let addr = format!("127.0.0.1:{}", e.port);
    let mut attackers = Vec::new();
    for i in 0..1000 {
        let mut s = TcpStream::connect(&addr).unwrap();
        if i % 2 == 1 {
            // Slow loris: the start of a request head, never finished.
            s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                .unwrap();
        }
        attackers.push(s);
    }
    // A real scrape is answered (how fast is printed, not asserted).
    let started = Instant::now();
    let body = ureq::get(&e.url("http", "/metrics"))
        .timeout(Duration::from_secs(60))
        .call()
        .expect("the scrape was not answered")
        .into_string()
        .unwrap();
    assert!(body.contains("node_load1"));
    eprintln!(
        "scrape answered in {:.1} ms with 1000 idle or slow-loris connections open",
        started.elapsed().as_secs_f64() * 1000.0
    );
    // The server holds at most CAP of them open; the rest were closed, not left waiting.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let open = attackers.iter_mut().map(still_open).filter(|o| *o).count();
        if open <= CAP {
            assert!(open > 0, "every connection was closed");
            eprintln!("{open} of the 1000 connections held open (cap {CAP})");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{open} connections still open with --web.max-connections={CAP}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // And the exporter still answers.
    assert!(ureq::get(&e.url("http", "/health")).call().is_ok());
}

/// Whether the server still holds this connection open (no EOF or reset pending).
fn still_open(s: &mut TcpStream) -> bool {
    s.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 512];
    let open = loop {
        match s.read(&mut buf) {
            Ok(0) => break false,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break true,
            Err(_) => break false,
        }
    };
    s.set_nonblocking(false).unwrap();
    open
}

#[test]
fn idle_connections_are_closed_after_the_header_read_timeout() {
    let e = start_plain(&["--web.header-read-timeout=1s", "--web.idle-timeout=1s"]);
    let addr = format!("127.0.0.1:{}", e.port);
    let mut idle = TcpStream::connect(&addr).unwrap();
    let mut slow = TcpStream::connect(&addr).unwrap();
    slow.write_all(b"GET /metrics HTTP/1.1\r\n").unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut buf = Vec::new();
    // EOF (the server closed the connection) rather than the 30 s read timeout.
    assert!(idle.read_to_end(&mut buf).is_ok());
    assert!(slow.read_to_end(&mut buf).is_ok());
}

#[test]
fn request_bodies_and_huge_headers_are_refused() {
    let e = start_plain(&[]);
    let r = ureq::post(&e.url("http", "/metrics")).send_string("x");
    assert!(
        matches!(r, Err(ureq::Error::Status(413, _))),
        "{:?}",
        r.map(|r| r.status())
    );
    let big = "a".repeat(64 * 1024);
    let r = ureq::get(&e.url("http", "/metrics"))
        .set("X-Big", &big)
        .call();
    assert!(r.is_err(), "a 64 KiB header was accepted");
}

#[test]
fn prometheus_scrapes_the_tls_and_auth_exporter() {
    let prometheus = Path::new("/usr/bin/prometheus");
    let promtool = Path::new("/usr/bin/promtool");
    assert!(
        prometheus.exists() && promtool.exists(),
        "prometheus and promtool are not installed: run scripts/install-test-deps.sh"
    );
    let pki = Pki::new();
    let config = pki.web_config(
        "web.yml",
        &format!(
            "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n\
             basic_auth_users:\n  prometheus: {}\n",
            hash(PASSWORD)
        ),
    );
    let e = start_tls(&pki, &config, "prometheus", &[]);

    // The example of the repository, with the CA and password files it names, and this exporter
    // as its target.
    let example =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../prometheus/tls-basic-auth.example.yml");
    let text = std::fs::read_to_string(&example).unwrap();
    let prom_dir = tempfile::tempdir().unwrap();
    std::fs::copy(pki.path("ca.pem"), prom_dir.path().join("sysmon-ca.pem")).unwrap();
    std::fs::write(prom_dir.path().join("sysmon-password"), PASSWORD).unwrap();
    std::fs::write(prom_dir.path().join("example.yml"), &text).unwrap();
    let out = Command::new(promtool)
        .args(["check", "config"])
        .arg(prom_dir.path().join("example.yml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "promtool check config on the example: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("localhost:10101"));
    let scrape = text
        .replace("localhost:10101", &format!("127.0.0.1:{}", e.port))
        .replace("scrape_interval: 15s", "scrape_interval: 1s")
        .replace("scrape_timeout: 10s", "scrape_timeout: 1s");
    let config_file = prom_dir.path().join("prometheus.yml");
    std::fs::write(&config_file, scrape).unwrap();

    let port = free_port();
    let data = tempfile::tempdir().unwrap();
    let child = Command::new(prometheus)
        .arg(format!("--config.file={}", config_file.display()))
        .arg(format!("--storage.tsdb.path={}", data.path().display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    struct Kill(Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _prom = Kill(child);
    let query = format!("http://127.0.0.1:{port}/api/v1/query?query=up%7Bjob%3D%22sysmon%22%7D");
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut last = String::new();
    loop {
        if let Ok(r) = ureq::get(&query).timeout(Duration::from_secs(5)).call() {
            last = r.into_string().unwrap_or_default();
            let v: serde_json::Value = serde_json::from_str(&last).unwrap_or_default();
            if v["data"]["result"][0]["value"][1] == "1" {
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "up{{job=\"sysmon\"}} never became 1: {last}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    // The exporter's own metrics arrived, not only the up series.
    let q = format!("http://127.0.0.1:{port}/api/v1/query?query=node_load1");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let body = ureq::get(&q).call().unwrap().into_string().unwrap();
        if body.contains("\"node_load1\"") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "node_load1 never arrived: {body}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}
