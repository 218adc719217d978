//! Test harness: real sysmon-exporters on fixture trees, a real Prometheus scraping them (job
//! `sysmon`, every second) or the VictoriaMetrics trio (vmagent, victoria-metrics, vmalert) on
//! the same scrape configuration and rules, free loopback ports, and every process killed on drop.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sysmon_top::prom::{ClientConfig, PromClient};

/// Where the repository and the exporter binary are: shared with the stack tests.
pub use sysmon_stack_tests::{exporter_binary, repo_root};

pub fn fixture(machine: &str) -> PathBuf {
    repo_root().join("exporter/tests/fixtures").join(machine)
}

pub fn prometheus_binary() -> PathBuf {
    sysmon_stack_tests::tool("prometheus", "prometheus")
}

pub fn sysmon_top() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_sysmon-top"))
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process killed (and reaped) on drop.
pub struct Proc {
    pub name: String,
    child: Option<Child>,
    pub log: PathBuf,
}

impl Proc {
    pub fn spawn(name: &str, mut cmd: Command, log: PathBuf) -> Proc {
        let out = std::fs::File::create(&log).unwrap();
        let err = out.try_clone().unwrap();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Proc {
            name: name.to_string(),
            child: Some(child),
            log,
        }
    }

    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Polls until `f` is true or `timeout` passes (then panics with `what`).
pub fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !f() {
        assert!(
            t0.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A raw HTTP GET on loopback, for readiness checks (status, body).
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    let status = buf.split_whitespace().nth(1)?.parse().ok()?;
    let body = buf
        .split_once("\r\n\r\n")
        .map(|x| x.1.to_string())
        .unwrap_or_default();
    Some((status, body))
}

/// A writable copy of a fixture machine whose CPU counters advance at a fixed busy share, so
/// the CPU columns have a value the test knows.
pub struct Machine {
    pub root: PathBuf,
    stop: Arc<AtomicBool>,
    writer: Option<std::thread::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl Machine {
    /// Copies `machine` and keeps its `proc/stat` moving at `busy_percent` % busy on every CPU.
    pub fn busy(machine: &str, cpus: usize, busy_percent: u64) -> Machine {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join(machine);
        let ok = Command::new("cp")
            .arg("-a")
            .arg(fixture(machine))
            .arg(&root)
            .status()
            .unwrap();
        assert!(ok.success(), "cp -a of the {machine} fixture failed");
        let original = std::fs::read_to_string(fixture(machine).join("proc/stat")).unwrap();
        let stat = root.join("proc/stat");
        let write = move |busy: u64, idle: u64| {
            let mut out = format!(
                "cpu  {} 0 0 {} 0 0 0 0 0 0\n",
                busy * cpus as u64,
                idle * cpus as u64
            );
            for c in 0..cpus {
                out.push_str(&format!("cpu{c} {busy} 0 0 {idle} 0 0 0 0 0 0\n"));
            }
            for line in original.lines().filter(|l| !l.starts_with("cpu")) {
                out.push_str(line);
                out.push('\n');
            }
            let tmp = stat.with_extension("tmp-write");
            std::fs::write(&tmp, out).unwrap();
            std::fs::rename(&tmp, &stat).unwrap();
        };
        let (mut busy, mut idle) = (1_000_000u64, 3_000_000u64);
        write(busy, idle);
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let writer = std::thread::spawn(move || {
            while !stop2.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(50));
                busy += busy_percent;
                idle += 100 - busy_percent;
                write(busy, idle);
            }
        });
        Machine {
            root,
            stop,
            writer: Some(writer),
            _dir: dir,
        }
    }
}

impl Drop for Machine {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
    }
}

/// A running sysmon-exporter.
pub struct Exporter {
    pub port: u16,
    pub proc: Proc,
    _state: tempfile::TempDir,
}

pub fn start_exporter(root: &Path, config: Option<&Path>) -> Exporter {
    let port = free_port();
    let state = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(exporter_binary());
    cmd.arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg(format!("--path.procfs={}", root.join("proc").display()))
        .arg(format!("--path.sysfs={}", root.join("sys").display()))
        .arg(format!("--path.rootfs={}", root.join("rootfs").display()))
        .arg(format!("--path.kmsg={}", root.join("kmsg").display()))
        .arg(format!("--storage.path={}", state.path().display()))
        .arg("--sampler.interval=500ms")
        .arg("--sampler.collector-timeout=400ms");
    if let Some(c) = config {
        cmd.arg(format!("--config.file={}", c.display()));
    }
    let log = state.path().join("exporter.log");
    let proc = Proc::spawn("sysmon-exporter", cmd, log);
    let p = port;
    wait_for(
        "the exporter's /metrics",
        Duration::from_secs(20),
        || matches!(http_get(p, "/metrics"), Some((200, b)) if b.contains("node_memory_MemTotal_bytes")),
    );
    Exporter {
        port,
        proc,
        _state: state,
    }
}

/// What scrapes, stores and evaluates the rules behind the URL sysmon-top is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Prometheus,
    /// vmagent (on the same scrape configuration) writing to victoria-metrics, vmalert
    /// evaluating the same rule files; sysmon-top queries victoria-metrics.
    VictoriaMetrics,
}

/// A running Prometheus (or victoria-metrics with vmagent and vmalert) scraping `targets` under
/// job `sysmon` every second.
pub struct Prometheus {
    /// vmagent and vmalert, on the VictoriaMetrics backend (first: dropped before the store).
    helpers: Vec<Proc>,
    pub port: u16,
    pub proc: Proc,
    pub dir: tempfile::TempDir,
    pub backend: Backend,
}

impl Prometheus {
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn client(&self) -> PromClient {
        PromClient::new(&ClientConfig::new(self.url())).unwrap()
    }

    fn spawn(port: u16, dir: &Path) -> Proc {
        let mut cmd = Command::new(prometheus_binary());
        cmd.arg(format!(
            "--config.file={}",
            dir.join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--log.level=warn");
        static STARTS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = STARTS.fetch_add(1, Ordering::Relaxed);
        Proc::spawn("prometheus", cmd, dir.join(format!("prometheus-{n}.log")))
    }

    pub fn start(targets: &[u16], rules: Option<&str>) -> Prometheus {
        Self::start_with(targets, rules, &[])
    }

    /// Also loads `rule_files` (absolute paths), e.g. the stack's recording rules.
    pub fn start_with(targets: &[u16], rules: Option<&str>, rule_files: &[PathBuf]) -> Prometheus {
        Self::start_on(Backend::Prometheus, targets, rules, rule_files)
    }

    /// [`Prometheus::start_with`] on `backend`: the same scrape configuration and rule files.
    pub fn start_on(
        backend: Backend,
        targets: &[u16],
        rules: Option<&str>,
        rule_files: &[PathBuf],
    ) -> Prometheus {
        let dir = tempfile::tempdir().unwrap();
        let list: Vec<String> = targets.iter().map(|p| format!("'127.0.0.1:{p}'")).collect();
        // The query log says which queries the client made (see `api_queries`).
        let mut cfg = format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n  query_log_file: '{}'\nscrape_configs:\n  - job_name: sysmon\n    static_configs:\n      - targets: [{}]\n",
            dir.path().join("query.log").display(),
            list.join(", ")
        );
        let mut files: Vec<String> = rule_files
            .iter()
            .map(|p| {
                assert!(p.exists(), "rule file {} is missing", p.display());
                format!("'{}'", p.display())
            })
            .collect();
        if let Some(r) = rules {
            std::fs::write(dir.path().join("rules.yml"), r).unwrap();
            files.push("'rules.yml'".into());
        }
        if !files.is_empty() {
            cfg.push_str(&format!("rule_files: [{}]\n", files.join(", ")));
        }
        std::fs::write(dir.path().join("prometheus.yml"), cfg).unwrap();
        let port = free_port();
        if backend == Backend::VictoriaMetrics {
            let mut rule_paths: Vec<PathBuf> = rule_files.to_vec();
            if rules.is_some() {
                rule_paths.push(dir.path().join("rules.yml"));
            }
            let (proc, helpers) = Self::spawn_victoriametrics(port, dir.path(), &rule_paths);
            let p = Prometheus {
                port,
                proc,
                dir,
                backend,
                helpers,
            };
            p.wait_ready();
            return p;
        }
        let proc = Self::spawn(port, dir.path());
        let p = Prometheus {
            port,
            proc,
            dir,
            backend,
            helpers: Vec::new(),
        };
        p.wait_ready();
        p
    }

    /// victoria-metrics on `port`, vmagent on `dir`/prometheus.yml writing to it, vmalert on
    /// `rule_files` (recording results and ALERTS written back to it; notifications to a port
    /// nothing listens on: this harness has no Alertmanager).
    fn spawn_victoriametrics(port: u16, dir: &Path, rule_files: &[PathBuf]) -> (Proc, Vec<Proc>) {
        let tool = |name: &str| sysmon_stack_tests::tool(name, "victoria-metrics");
        let url = format!("http://127.0.0.1:{port}");
        let mut vm = Command::new(tool("victoria-metrics"));
        vm.arg(format!("-storageDataPath={}", dir.join("vm").display()))
            .arg(format!("-httpListenAddr=127.0.0.1:{port}"))
            // deploy/stack.sh's setting for a 1 s scrape interval: two intervals.
            .arg("-search.latencyOffset=2s");
        let vm = Proc::spawn("victoria-metrics", vm, dir.join("victoria-metrics.log"));
        wait_for("victoria-metrics /health", Duration::from_secs(30), || {
            matches!(http_get(port, "/health"), Some((200, _)))
        });
        let mut agent = Command::new(tool("vmagent"));
        agent
            .arg(format!(
                "-promscrape.config={}",
                dir.join("prometheus.yml").display()
            ))
            .arg("-promscrape.config.strictParse=false")
            .arg(format!("-remoteWrite.url={url}/api/v1/write"))
            .arg(format!(
                "-remoteWrite.tmpDataPath={}",
                dir.join("vmagent").display()
            ))
            .arg(format!("-httpListenAddr=127.0.0.1:{}", free_port()));
        let mut helpers = vec![Proc::spawn("vmagent", agent, dir.join("vmagent.log"))];
        if !rule_files.is_empty() {
            let mut alert = Command::new(tool("vmalert"));
            for f in rule_files {
                alert.arg(format!("-rule={}", f.display()));
            }
            alert
                .arg(format!("-datasource.url={url}"))
                .arg(format!("-remoteWrite.url={url}"))
                .arg(format!("-remoteRead.url={url}"))
                .arg(format!("-notifier.url=http://127.0.0.1:{}", free_port()))
                .arg("-evaluationInterval=1s")
                .arg(format!("-httpListenAddr=127.0.0.1:{}", free_port()));
            helpers.push(Proc::spawn("vmalert", alert, dir.join("vmalert.log")));
        }
        (vm, helpers)
    }

    pub fn wait_ready(&self) {
        let port = self.port;
        let path = match self.backend {
            Backend::Prometheus => "/-/ready",
            Backend::VictoriaMetrics => "/health",
        };
        wait_for(
            &format!("{:?} {path}", self.backend),
            Duration::from_secs(30),
            || matches!(http_get(port, path), Some((200, _))),
        );
    }

    /// Kills Prometheus (its data stays). Prometheus only.
    pub fn stop(&mut self) {
        assert_eq!(self.backend, Backend::Prometheus);
        self.proc.kill();
    }

    /// Starts it again on the same port and data.
    pub fn restart(&mut self) {
        self.proc = Self::spawn(self.port, self.dir.path());
        self.wait_ready();
    }

    /// The queries clients asked of the HTTP API so far, oldest first, from Prometheus' query log
    /// (the rules' own evaluations, logged with a `ruleGroup` instead of an `httpRequest`, left
    /// out). Prometheus only: victoria-metrics keeps no query log, and an empty list would pass
    /// for "nothing asked".
    pub fn api_queries(&self) -> Vec<String> {
        assert_eq!(
            self.backend,
            Backend::Prometheus,
            "victoria-metrics has no query log"
        );
        let text = std::fs::read_to_string(self.dir.path().join("query.log")).unwrap_or_default();
        text.lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v.get("httpRequest").is_some())
            .filter_map(|v| v["params"]["query"].as_str().map(str::to_string))
            .collect()
    }

    /// Runs an instant query with the library's client.
    pub fn query(&self, expr: &str) -> Vec<sysmon_top::prom::Sample> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(self.client().query(expr, None))
            .and_then(|r| r.into_vector())
            .unwrap_or_default()
    }

    /// Waits until every target is up with at least `samples` scrapes.
    pub fn wait_scraped(&self, targets: usize, samples: usize) {
        wait_for(
            &format!("{targets} targets up with {samples} samples each"),
            Duration::from_secs(45),
            || {
                let v = self.query(&format!(
                    "count_over_time(up{{job=\"sysmon\"}}[5m]) >= {samples}"
                ));
                let up = self.query("up{job=\"sysmon\"} == 1");
                v.len() == targets && up.len() == targets
            },
        );
    }
}

/// Runs sysmon-top with `args`; returns (exit code, stdout, stderr). The environment is that of
/// a user without a config file (nor the variables sysmon-top reads).
pub fn run_top(args: &[&str]) -> (i32, String, String) {
    run_top_env(args, &[])
}

/// [`run_top`] with environment variables set (e.g. `XDG_CONFIG_HOME`).
pub fn run_top_env(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = Command::new(sysmon_top());
    cmd.args(args)
        .env_remove("SYSMON_PROMETHEUS_URL")
        .env_remove("SYSMON_PROMETHEUS_USER")
        .env_remove("SYSMON_PROMETHEUS_PASSWORD")
        .env_remove("SYSMON_PROMETHEUS_TOKEN")
        .env_remove("SYSMON_TOP_CONFIG")
        .env("XDG_CONFIG_HOME", "/nonexistent/sysmon-top-tests")
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run sysmon-top");
    let code = out.status.code().unwrap_or(-1);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        !stderr.contains("panicked"),
        "sysmon-top panicked: {stderr}"
    );
    (code, stdout, stderr)
}

/// The value under `column` of the text table row that contains `key`.
pub fn cell(table: &str, key: &str, column: &str) -> String {
    let mut lines = table.lines();
    let header = lines.next().expect("header line");
    let start = header
        .find(column)
        .unwrap_or_else(|| panic!("no column {column} in {header}"));
    let start_chars = header[..start].chars().count();
    // The column ends where the next header starts.
    let rest = &header[start..];
    let len = rest
        .find(' ')
        .map(|i| {
            let after = &rest[i..];
            i + after.find(|c: char| c != ' ').unwrap_or(after.len())
        })
        .unwrap_or(rest.len());
    let len_chars = rest[..len].chars().count();
    let row = table
        .lines()
        .find(|l| l.contains(key))
        .unwrap_or_else(|| panic!("no row with {key:?} in\n{table}"));
    row.chars()
        .skip(start_chars)
        .take(if start + len >= header.len() {
            usize::MAX
        } else {
            len_chars
        })
        .collect::<String>()
        .trim()
        .to_string()
}
