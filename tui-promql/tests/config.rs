//! The config file: contexts chosen by `--context` or the file's default, flags over the file,
//! `$XDG_CONFIG_HOME/sysmon-top/config.toml` found by itself, and a bad file an error naming
//! the file and the line (exit 2). `sysmon-top queries` prints the PromQL of the job a context
//! resolves to, so no server is needed to see which settings won; `--once` against a server that
//! records the request shows the URL and credentials of the context.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;

use common::{run_top, run_top_env};

fn write(dir: &Path, text: &str) -> String {
    let p = dir.join("sysmon-top").join("config.toml");
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

const CONFIG: &str = r#"
context = "prod"

[contexts.prod]
prometheus = "http://127.0.0.1:1"
job = "node"
refresh = "5s"

[contexts.lab]
prometheus = "http://127.0.0.1:2"
job = "lab-job"

[[queries]]
name = "up"
expr = "up"
"#;

/// The job of the first fleet query `sysmon-top queries` prints.
fn job_of(out: &str) -> String {
    let line = out.lines().nth(1).expect("up query line");
    line.split("job=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn contexts_flags_and_the_default_place() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), CONFIG);
    let xdg = dir.path().to_str().unwrap();
    // Found in $XDG_CONFIG_HOME by itself: the default context.
    let (code, out, err) = run_top_env(&["queries"], &[("XDG_CONFIG_HOME", xdg)]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(job_of(&out), "node");
    // --context picks another; --job overrides the file; so does the environment variable of
    // a flag (here none for --job, so the flag itself).
    let (_, out, _) = run_top_env(
        &["queries", "--context", "lab"],
        &[("XDG_CONFIG_HOME", xdg)],
    );
    assert_eq!(job_of(&out), "lab-job");
    let (_, out, _) = run_top_env(
        &["queries", "--context", "lab", "--job", "mine"],
        &[("XDG_CONFIG_HOME", xdg)],
    );
    assert_eq!(job_of(&out), "mine");
    // --config names the file; without any file, the defaults.
    let (_, out, _) = run_top(&["queries", "--config", &file]);
    assert_eq!(job_of(&out), "node");
    let (code, out, _) = run_top(&["queries"]);
    assert_eq!(code, 0);
    assert_eq!(job_of(&out), "sysmon");
}

#[test]
fn bad_files_and_contexts_are_usage_errors_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let one_line = |args: &[&str]| {
        let (code, out, err) = run_top(args);
        assert_eq!(code, 2, "{args:?}: {out}{err}");
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 1, "{err}");
        assert!(lines[0].starts_with("sysmon-top: error: "), "{err}");
        lines[0]
            .trim_start_matches("sysmon-top: error: ")
            .to_string()
    };
    let file = write(
        dir.path(),
        "[contexts.prod]\nprometheus = \"http://x:9090\"\njbo = \"node\"\n",
    );
    let e = one_line(&["queries", "--config", &file]);
    assert!(
        e.starts_with(&format!("{file}:3: unknown field `jbo`, expected one of")),
        "{e}"
    );
    let file = write(dir.path(), "[contexts.prod]\nrefresh = \"soon\"\n");
    let e = one_line(&["--once", "--config", &file]);
    assert!(
        e.starts_with(&format!(
            "{file}:2: context \"prod\": refresh \"soon\" is not a duration"
        )),
        "{e}"
    );
    let file = write(dir.path(), "[contexts.prod\n");
    let e = one_line(&["--once", "--config", &file]);
    assert!(e.starts_with(&format!("{file}:1: ")), "{e}");
    let file = write(dir.path(), CONFIG);
    let e = one_line(&["--once", "--config", &file, "--context", "staging"]);
    assert_eq!(
        e,
        format!("no context \"staging\" in {file} (contexts: lab, prod)")
    );
    let e = one_line(&["--once", "--config", "/nonexistent/sysmon-top.toml"]);
    assert!(
        e.starts_with("cannot read the config file /nonexistent/sysmon-top.toml"),
        "{e}"
    );
    let e = one_line(&["--once", "--context", "prod"]);
    assert!(
        e.starts_with("--context \"prod\" needs a config file"),
        "{e}"
    );
    // A context whose password comes from an unset variable: said when it is used.
    let file = write(
        dir.path(),
        "[contexts.p]\nprometheus = \"http://127.0.0.1:1\"\nuser = \"ops\"\npassword_env = \"SYSMON_TOP_TEST_UNSET\"\n",
    );
    let e = one_line(&["--once", "--config", &file, "--context", "p"]);
    assert!(
        e.contains("the environment variable SYSMON_TOP_TEST_UNSET"),
        "{e}"
    );
}

/// A server that answers one request with an empty vector and hands back the request it got.
fn recording_server() -> (u16, std::thread::JoinHandle<String>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let h = std::thread::spawn(move || {
        let mut first = String::new();
        // --once sends one query per fleet column; answer them all, for a few seconds.
        l.set_nonblocking(true).unwrap();
        let mut last = std::time::Instant::now();
        // Until a second passes without a request (five before the first).
        while last.elapsed() < std::time::Duration::from_secs(if first.is_empty() { 5 } else { 1 })
        {
            let Ok((mut s, _)) = l.accept() else {
                std::thread::sleep(std::time::Duration::from_millis(10));
                continue;
            };
            last = std::time::Instant::now();
            s.set_nonblocking(false).unwrap();
            let mut buf = [0u8; 8192];
            let n = s.read(&mut buf).unwrap_or(0);
            if first.is_empty() {
                first = String::from_utf8_lossy(&buf[..n]).to_string();
            }
            let body = r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
        first
    });
    (port, h)
}

#[test]
fn once_uses_the_contexts_url_job_and_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let (port, server) = recording_server();
    let secret = dir.path().join("pass");
    std::fs::write(&secret, "s3cret\n").unwrap();
    let file = write(
        dir.path(),
        &format!(
            "context = \"lab\"\n[contexts.lab]\nprometheus = \"http://127.0.0.1:{port}/prom\"\njob = \"lab-job\"\nuser = \"ops\"\npassword_file = \"{}\"\n",
            secret.display()
        ),
    );
    let (code, out, err) = run_top(&["--once", "--config", &file]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("HOST"), "{out}");
    assert!(err.contains("no targets for job \"lab-job\""), "{err}");
    let req = server.join().unwrap();
    assert!(req.starts_with("GET /prom/api/v1/query?"), "{req}");
    // ops:s3cret
    assert!(
        req.contains("authorization: Basic b3BzOnMzY3JldA=="),
        "{req}"
    );
}
