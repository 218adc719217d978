//! Bad input: an invalid URL, a refused connection, servers that answer HTML, plain text, 401,
//! or nothing at all, bad flags. Each gives one clear line on stderr and the right exit status
//! (2 usage, 1 runtime), never a panic.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{free_port, run_top};

/// A one-trick HTTP server on loopback: answers every request with `response` (or never
/// answers when `None`). Stops on drop.
struct FakeServer {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeServer {
    fn start(response: Option<&'static str>) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut held = Vec::new();
            while !stop2.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut s, _)) => {
                        s.set_nonblocking(false).unwrap();
                        s.set_read_timeout(Some(Duration::from_millis(500)))
                            .unwrap();
                        let mut buf = [0u8; 4096];
                        let _ = s.read(&mut buf);
                        match response {
                            Some(r) => {
                                let _ = s.write_all(r.as_bytes());
                            }
                            // Keep the connection open and silent.
                            None => held.push(s),
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        FakeServer {
            port,
            stop,
            thread: Some(thread),
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn one_line_error(err: &str) -> &str {
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "one line on stderr: {err}");
    assert!(lines[0].starts_with("sysmon-top: error: "), "{err}");
    lines[0]
}

#[test]
fn invalid_urls_are_usage_errors() {
    let (code, out, err) = run_top(&["--prometheus", "localhost:9090", "--once"]);
    assert_eq!(code, 2, "{err}");
    assert!(out.is_empty());
    let line = one_line_error(&err);
    assert!(
        line.starts_with("sysmon-top: error: invalid Prometheus URL \"localhost:9090\": the scheme must be http or https"),
        "{line}"
    );
    assert!(line.contains("(e.g. http://localhost:9090)"), "{line}");

    let (code, _, err) = run_top(&["--prometheus", "http://exa mple:9090", "query", "up"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        one_line_error(&err).contains("invalid Prometheus URL \"http://exa mple:9090\""),
        "{err}"
    );

    let (code, _, err) = run_top(&["--prometheus", "ftp://h/", "--once"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("the scheme must be http or https, not \"ftp\""),
        "{err}"
    );
}

#[test]
fn refused_connection_is_a_runtime_error() {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let (code, out, err) = run_top(&["--prometheus", &url, "--once"]);
    assert_eq!(code, 1, "{err}");
    assert!(out.is_empty(), "{out}");
    let line = one_line_error(&err);
    assert!(
        line.starts_with(&format!(
            "sysmon-top: error: cannot connect to Prometheus at http://127.0.0.1:{port}/api/v1/query"
        )),
        "{line}"
    );
    assert!(line.contains("Connection refused"), "{line}");
    let (code, _, err) = run_top(&["--prometheus", &url, "query", "up"]);
    assert_eq!(code, 1);
    assert!(err.contains("Connection refused"), "{err}");
}

#[test]
fn html_answer_is_named_as_such() {
    let srv = FakeServer::start(Some(
        "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: 62\r\nConnection: close\r\n\r\n<!DOCTYPE html><html><head><title>Grafana</title></head></html>",
    ));
    let (code, out, err) = run_top(&["--prometheus", &srv.url(), "--once"]);
    assert_eq!(code, 1, "{err}");
    assert!(out.is_empty());
    let line = one_line_error(&err);
    assert!(
        line.starts_with(&format!(
            "sysmon-top: error: {}/api/v1/query answered with an HTML page (HTTP 200), not the Prometheus HTTP API: is --prometheus the URL of Prometheus itself?",
            srv.url()
        )),
        "{line}"
    );
    assert!(line.contains("<title>Grafana</title>"), "{line}");
    let (code, _, err) = run_top(&["--prometheus", &srv.url(), "query", "up", "--range", "5m"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("/api/v1/query_range answered with an HTML page"),
        "{err}"
    );
}

#[test]
fn other_non_api_answers() {
    let srv = FakeServer::start(Some(
        "HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\nContent-Length: 11\r\nConnection: close\r\n\r\nBad Gateway",
    ));
    let (code, _, err) = run_top(&["--prometheus", &srv.url(), "query", "up"]);
    assert_eq!(code, 1);
    assert!(
        one_line_error(&err).contains(
            "answered HTTP 502 with a body that is not Prometheus API JSON: \"Bad Gateway\""
        ),
        "{err}"
    );

    let srv = FakeServer::start(Some(
        "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"prom\"\r\nContent-Length: 12\r\nConnection: close\r\n\r\nUnauthorized",
    ));
    let (code, _, err) = run_top(&[
        "--prometheus",
        &srv.url(),
        "--user",
        "u",
        "--password",
        "wrong",
        "--once",
    ]);
    assert_eq!(code, 1);
    assert!(
        one_line_error(&err).contains(
            "refused the credentials (HTTP 401): check --user/--password or --bearer-token"
        ),
        "{err}"
    );

    // A server that accepts and never answers: bounded by --timeout.
    let srv = FakeServer::start(None);
    let t0 = std::time::Instant::now();
    let (code, _, err) = run_top(&["--prometheus", &srv.url(), "--timeout", "1s", "query", "up"]);
    assert_eq!(code, 1);
    assert!(
        one_line_error(&err).contains(&format!(
            "Prometheus at {}/api/v1/query did not answer within 1.0 s",
            srv.url()
        )),
        "{err}"
    );
    assert!(t0.elapsed() < Duration::from_secs(30));
}

#[test]
fn bad_flags_are_usage_errors() {
    let (code, _, err) = run_top(&["--refresh", "soon"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("invalid value 'soon' for '--refresh <REFRESH>'"),
        "{err}"
    );
    let (code, _, err) = run_top(&["query"]);
    assert_eq!(code, 2);
    assert!(err.contains("<EXPR>"), "{err}");
    let (code, _, err) = run_top(&["--password", "x", "--once"]);
    assert_eq!(code, 2);
    assert_eq!(
        one_line_error(&err),
        "sysmon-top: error: a password needs a user name: add --user"
    );
    let (code, _, err) = run_top(&["--ca-file", "/nonexistent/ca.pem", "--once"]);
    assert_eq!(code, 2);
    assert!(
        one_line_error(&err).contains("cannot read the CA file /nonexistent/ca.pem"),
        "{err}"
    );
    // A CA file that holds no certificate.
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, "not a certificate\n").unwrap();
    let (code, _, err) = run_top(&["--ca-file", ca.to_str().unwrap(), "--once"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("CA file"), "{err}");
    // The interactive view without a terminal says what to use instead.
    let (code, _, err) = run_top(&["--prometheus", "http://127.0.0.1:9"]);
    assert_eq!(code, 2);
    assert!(
        one_line_error(&err).contains("the interactive view needs a terminal; use --once"),
        "{err}"
    );
    // --help is not an error.
    let (code, out, _) = run_top(&["--help"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("--prometheus <URL>") && out.contains("SYSMON_PROMETHEUS_URL"),
        "{out}"
    );
}
