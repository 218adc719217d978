//! Shared by `deploy.rs`, `alerting_e2e.rs` and `victoriametrics.rs`: `deploy/stack.sh` driven from a test (its own
//! state directory and free loopback ports, stopped on drop), processes killed on drop, and a
//! small HTTP GET.

#![allow(dead_code)] // each test file uses its own part of this module

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use sysmon_stack_tests::{exporter_binary, repo_root};

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind 127.0.0.1:0")
        .local_addr()
        .unwrap()
        .port()
}

/// What stores the samples and evaluates the rules: `deploy/stack.sh up --backend <name>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Prometheus scrapes, stores and evaluates (the default).
    Prometheus,
    /// vmagent scrapes into victoria-metrics, vmalert evaluates.
    VictoriaMetrics,
    /// Prometheus as by default, remote-writing every sample to victoria-metrics too.
    RemoteWrite,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Prometheus => "prometheus",
            Backend::VictoriaMetrics => "victoriametrics",
            Backend::RemoteWrite => "remote-write",
        }
    }
}

/// The ports of one stack.
#[derive(Debug, Clone, Copy)]
pub struct Ports {
    pub exporter: u16,
    pub prometheus: u16,
    pub alertmanager: u16,
    pub grafana: u16,
    pub victoriametrics: u16,
    pub vmagent: u16,
    pub vmalert: u16,
}

impl Ports {
    /// Seven distinct free ports.
    pub fn free() -> Ports {
        // Hold every listener until all are chosen, so that no port is handed out twice.
        let listeners: Vec<TcpListener> = (0..7)
            .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0"))
            .collect();
        let p: Vec<u16> = listeners
            .iter()
            .map(|l| l.local_addr().unwrap().port())
            .collect();
        Ports {
            exporter: p[0],
            prometheus: p[1],
            alertmanager: p[2],
            grafana: p[3],
            victoriametrics: p[4],
            vmagent: p[5],
            vmalert: p[6],
        }
    }
}

/// One run of `deploy/stack.sh` in a temporary state directory; `down` on drop.
pub struct Stack {
    pub state: tempfile::TempDir,
    pub ports: Ports,
    pub backend: Backend,
    env: Vec<(String, String)>,
}

impl Stack {
    /// A stack on free ports with `env` added to the script's environment (the ports, the state
    /// directory and the exporter binary are set here; every other SYSMON_STACK_* variable of the
    /// test's own environment is removed).
    pub fn new(env: &[(&str, String)]) -> Stack {
        Stack::with_backend(Backend::Prometheus, env)
    }

    /// [`Stack::new`] on `backend` (given to `up` as `--backend`).
    pub fn with_backend(backend: Backend, env: &[(&str, String)]) -> Stack {
        let state = tempfile::Builder::new()
            .prefix("sysmon-stack-test-")
            .tempdir()
            .unwrap();
        let ports = Ports::free();
        let mut all: Vec<(String, String)> = vec![
            (
                "SYSMON_STACK_DIR".into(),
                state.path().display().to_string(),
            ),
            (
                "SYSMON_EXPORTER_BIN".into(),
                exporter_binary().display().to_string(),
            ),
            (
                "SYSMON_STACK_EXPORTER_PORT".into(),
                ports.exporter.to_string(),
            ),
            (
                "SYSMON_STACK_PROMETHEUS_PORT".into(),
                ports.prometheus.to_string(),
            ),
            (
                "SYSMON_STACK_ALERTMANAGER_PORT".into(),
                ports.alertmanager.to_string(),
            ),
            (
                "SYSMON_STACK_GRAFANA_PORT".into(),
                ports.grafana.to_string(),
            ),
            (
                "SYSMON_STACK_VICTORIAMETRICS_PORT".into(),
                ports.victoriametrics.to_string(),
            ),
            (
                "SYSMON_STACK_VMAGENT_PORT".into(),
                ports.vmagent.to_string(),
            ),
            (
                "SYSMON_STACK_VMALERT_PORT".into(),
                ports.vmalert.to_string(),
            ),
        ];
        for (k, v) in env {
            all.retain(|(name, _)| name != k);
            all.push((k.to_string(), v.clone()));
        }
        Stack {
            state,
            ports,
            backend,
            env: all,
        }
    }

    pub fn dir(&self) -> &Path {
        self.state.path()
    }

    /// Runs `deploy/stack.sh <command>` and returns what it did.
    pub fn run(&self, command: &str) -> Output {
        let mut cmd = Command::new("bash");
        cmd.arg(script()).arg(command);
        if command == "up" {
            cmd.arg("--backend").arg(self.backend.name());
        }
        for (k, _) in std::env::vars() {
            if k.starts_with("SYSMON_STACK_") {
                cmd.env_remove(k);
            }
        }
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd.output().expect("run bash deploy/stack.sh")
    }

    /// `up`, which must succeed; returns its standard output.
    pub fn up(&self) -> String {
        let out = self.run("up");
        assert!(
            out.status.success(),
            "deploy/stack.sh up failed ({}):\n{}\n{}\nlogs:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.logs()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The end of every log in the state directory, for failure messages.
    pub fn logs(&self) -> String {
        let mut all = String::new();
        if let Ok(entries) = std::fs::read_dir(self.dir().join("logs")) {
            for e in entries.flatten() {
                let text = std::fs::read_to_string(e.path()).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(15).collect();
                all.push_str(&format!("== {}\n", e.path().display()));
                for l in tail.into_iter().rev() {
                    all.push_str(l);
                    all.push('\n');
                }
            }
        }
        all
    }

    /// The pid recorded for a component, if any.
    pub fn pid(&self, component: &str) -> Option<i32> {
        std::fs::read_to_string(self.dir().join(format!("run/{component}.pid")))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    pub fn prometheus_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports.prometheus)
    }

    pub fn victoriametrics_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports.victoriametrics)
    }

    /// The scraper's URL: Prometheus, or vmagent (which serves the same /api/v1/targets).
    pub fn scraper_url(&self) -> String {
        match self.backend {
            Backend::VictoriaMetrics => format!("http://127.0.0.1:{}", self.ports.vmagent),
            _ => self.prometheus_url(),
        }
    }

    /// The rule evaluator's URL: Prometheus, or vmalert (both serve /api/v1/alerts and /rules).
    pub fn evaluator_url(&self) -> String {
        match self.backend {
            Backend::VictoriaMetrics => format!("http://127.0.0.1:{}", self.ports.vmalert),
            _ => self.prometheus_url(),
        }
    }

    /// Where Grafana and sysmon-top query: Prometheus, or victoria-metrics.
    pub fn query_url(&self) -> String {
        match self.backend {
            Backend::VictoriaMetrics => self.victoriametrics_url(),
            _ => self.prometheus_url(),
        }
    }

    pub fn alertmanager_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports.alertmanager)
    }

    pub fn exporter_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports.exporter)
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        let _ = self.run("down");
    }
}

pub fn script() -> PathBuf {
    repo_root().join("deploy/stack.sh")
}

/// Whether a process is alive (and not a zombie).
pub fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state is the field after the parenthesised command name.
        Ok(stat) => stat
            .rsplit_once(')')
            .map(|(_, rest)| !rest.trim_start().starts_with('Z'))
            .unwrap_or(false),
        Err(_) => false,
    }
}

/// A child process that is killed and reaped when dropped.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// GET `url`: the status and body, or the transport error.
pub fn get(url: &str) -> Result<(u16, String), String> {
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(5))
        .build();
    match agent.get(url).call() {
        Ok(r) => {
            let status = r.status();
            Ok((status, r.into_string().map_err(|e| e.to_string())?))
        }
        Err(ureq::Error::Status(code, r)) => Ok((code, r.into_string().unwrap_or_default())),
        Err(e) => Err(e.to_string()),
    }
}

/// GET a Prometheus or Alertmanager API URL and return its JSON.
pub fn get_json(url: &str) -> serde_json::Value {
    let (status, body) = get(url).unwrap_or_else(|e| panic!("GET {url}: {e}"));
    assert_eq!(status, 200, "GET {url}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {url}: {e}: {body}"))
}

/// Polls `check` every 200 ms until it returns Some, running `step` before each poll; panics
/// with `what` and the last state `describe` gives after `timeout`.
pub fn eventually<T>(
    what: &str,
    timeout: Duration,
    mut step: impl FnMut(),
    mut check: impl FnMut() -> Option<T>,
    describe: impl Fn() -> String,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        step();
        if let Some(v) = check() {
            return v;
        }
        if Instant::now() > deadline {
            panic!(
                "timed out after {}s waiting for {what}; last state:\n{}",
                timeout.as_secs(),
                describe()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The scraper's (Prometheus' or vmagent's) active targets of the sysmon job: (instance, health).
pub fn sysmon_targets(prometheus: &str) -> Vec<(String, String)> {
    let v = get_json(&format!("{prometheus}/api/v1/targets?state=active"));
    v["data"]["activeTargets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["labels"]["job"] == "sysmon")
        .map(|t| {
            (
                t["labels"]["instance"].as_str().unwrap_or("").to_string(),
                t["health"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}
