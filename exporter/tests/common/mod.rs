//! Shared harness of the end-to-end tests: start the real binaries on fixture trees, scrape them
//! over HTTP, and parse the text exposition format.

#![allow(dead_code)] // each test file uses a different part of the harness

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const MACHINES: &[&str] = &["laptop", "server", "vm", "broken"];

pub fn fixture(machine: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(machine)
}

/// A free loopback port (bound, read, released: another process could take it in between, but
/// nothing else on a test machine is picking ports from the ephemeral range at that moment).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running exporter process, killed when dropped.
pub struct Running {
    pub child: Child,
    pub port: u16,
    pub name: String,
    /// The exporter's own storage directory (anomaly journal), removed when dropped.
    pub state: Option<tempfile::TempDir>,
}

impl Running {
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }

    pub fn get(&self, path: &str) -> String {
        get_text(&self.url(path), &[])
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// GET a URL and return its body; panics with the status and body on anything but 200.
pub fn get_text(url: &str, headers: &[(&str, &str)]) -> String {
    let mut req = ureq::get(url).timeout(Duration::from_secs(10));
    for (k, v) in headers {
        req = req.set(k, v);
    }
    match req.call() {
        Ok(resp) => resp.into_string().unwrap(),
        Err(ureq::Error::Status(code, resp)) => {
            panic!(
                "GET {url}: status {code}: {}",
                resp.into_string().unwrap_or_default()
            )
        }
        Err(e) => panic!("GET {url}: {e}"),
    }
}

/// The arguments that point an exporter (sysmon or node_exporter) at a fixture machine: its
/// procfs, sysfs and rootfs, and udev's database, which both read as given, not below the rootfs.
/// The textfile collector reads the machine's `textfile/` directory, or nothing when it has none (never the test host's own
/// `/var/lib/prometheus/node-exporter`, which both exporters would otherwise default to).
pub fn root_args(root: &Path) -> Vec<String> {
    let textfile = root.join("textfile");
    vec![
        format!("--path.procfs={}", root.join("proc").display()),
        format!("--path.sysfs={}", root.join("sys").display()),
        format!("--path.rootfs={}", root.join("rootfs").display()),
        format!(
            "--path.udev.data={}",
            root.join("rootfs/run/udev/data").display()
        ),
        if textfile.is_dir() {
            format!("--collector.textfile.directory={}", textfile.display())
        } else {
            "--collector.textfile.directory=".to_string()
        },
    ]
}

/// Starts sysmon-exporter on `root` with extra flags and waits until it has published a sample.
pub fn start_sysmon(root: &Path, extra: &[&str]) -> Running {
    start_sysmon_as(&[], root, extra)
}

/// As [`start_sysmon`], run through `wrapper` (for example `setpriv` to drop privileges).
pub fn start_sysmon_as(wrapper: &[&str], root: &Path, extra: &[&str]) -> Running {
    let bin = env!("CARGO_BIN_EXE_sysmon-exporter");
    // Each exporter gets its own state directory unless the test chose one, and reads the
    // fixture's kernel log instead of the test host's.
    let state = tempfile::tempdir().unwrap();
    let mut defaults = vec![format!("--path.kmsg={}", root.join("kmsg").display())];
    if !extra.iter().any(|a| a.starts_with("--storage.path")) {
        defaults.push(format!("--storage.path={}", state.path().display()));
        let _ = std::fs::set_permissions(
            state.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o777),
        );
    }
    let mut running = spawn_ready(
        "sysmon-exporter",
        |port| {
            let mut cmd = match wrapper.split_first() {
                Some((first, rest)) => {
                    let mut c = Command::new(first);
                    c.args(rest).arg(bin);
                    c
                }
                None => Command::new(bin),
            };
            cmd.arg(format!("--web.listen-address=127.0.0.1:{port}"))
                .args(root_args(root))
                .args([
                    "--log.level=error",
                    "--sampler.interval=200ms",
                    // Every collector every sample, so tests see changes at once; the cadence
                    // tests give their own slow interval.
                    "--sampler.slow-interval=200ms",
                    "--sampler.collector-timeout=200ms",
                ])
                .args(&defaults)
                .args(extra)
                .stdout(Stdio::null())
                .stderr(Stdio::inherit());
            cmd
        },
        "/health",
        |body| body.contains("\"collectors\":") && !body.contains("\"collectors\":0"),
    );
    running.state = Some(state);
    running
}

/// Starts Debian's node_exporter on `root` with exactly `collectors` enabled.
pub fn start_node_exporter(root: &Path, collectors: &[&str], extra: &[&str]) -> Running {
    let bin = node_exporter_binary();
    spawn_ready(
        "node_exporter",
        |port| {
            let mut cmd = Command::new(bin);
            cmd.arg(format!("--web.listen-address=127.0.0.1:{port}"))
                .args(root_args(root))
                .arg("--collector.disable-defaults")
                .args(collectors.iter().map(|c| format!("--collector.{c}")))
                .args(extra)
                .arg("--log.level=error")
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            cmd
        },
        "/metrics",
        |body| body.contains("node_scrape_collector_success"),
    )
}

pub fn node_exporter_binary() -> &'static str {
    for candidate in [
        "/usr/bin/prometheus-node-exporter",
        "/usr/bin/node_exporter",
    ] {
        if Path::new(candidate).exists() {
            return candidate;
        }
    }
    panic!("node_exporter is not installed: run scripts/install-test-deps.sh (Debian package prometheus-node-exporter)")
}

/// Starts the command on a free port and waits until `path` answers with a body `ready` accepts.
/// A process that exits early (another test took the port in between) is started again on another
/// port, up to three times.
fn spawn_ready(
    name: &str,
    command: impl Fn(u16) -> Command,
    path: &str,
    ready: impl Fn(&str) -> bool,
) -> Running {
    let mut last_exit = None;
    for _attempt in 0..3 {
        let port = free_port();
        let child = command(port)
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        let mut running = Running {
            child,
            port,
            name: name.to_string(),
            state: None,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = running.child.try_wait() {
                last_exit = Some(status);
                break;
            }
            if let Ok(resp) = ureq::get(&running.url(path))
                .timeout(Duration::from_secs(2))
                .call()
            {
                if ready(&resp.into_string().unwrap_or_default()) {
                    return running;
                }
            }
            assert!(
                Instant::now() < deadline,
                "{name} did not become ready on port {port} within 30 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    panic!("{name} exited before it was ready, three times; last status {last_exit:?}")
}

/// One parsed sample: metric name and its labels sorted by name, so two exporters' series compare.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SeriesKey {
    pub name: String,
    pub labels: Vec<(String, String)>,
}

impl std::fmt::Display for SeriesKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{{", self.name)?;
        for (i, (k, v)) in self.labels.iter().enumerate() {
            if i > 0 {
                write!(f, ",")?;
            }
            write!(f, "{k}={v:?}")?;
        }
        write!(f, "}}")
    }
}

/// Parses the text exposition format into series and values; panics on a malformed line, which is
/// itself a test failure for our own output.
pub fn parse_exposition(text: &str) -> BTreeMap<SeriesKey, f64> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, rest) =
            parse_series(line).unwrap_or_else(|| panic!("malformed sample line: {line}"));
        let value_text = rest
            .split_whitespace()
            .next()
            .unwrap_or_else(|| panic!("no value: {line}"));
        let value = match value_text {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v
                .parse::<f64>()
                .unwrap_or_else(|_| panic!("bad value in: {line}")),
        };
        out.insert(key, value);
    }
    out
}

fn parse_series(line: &str) -> Option<(SeriesKey, &str)> {
    let name_end = line.find(['{', ' '])?;
    let name = line[..name_end].to_string();
    let mut labels = Vec::new();
    let mut rest = &line[name_end..];
    if let Some(mut inner) = rest.strip_prefix('{') {
        loop {
            inner = inner.trim_start_matches(',');
            if let Some(after) = inner.strip_prefix('}') {
                rest = after;
                break;
            }
            let eq = inner.find('=')?;
            let key = inner[..eq].to_string();
            let mut chars = inner[eq + 1..].strip_prefix('"')?.char_indices();
            let mut value = String::new();
            let end = loop {
                let (i, c) = chars.next()?;
                match c {
                    '\\' => match chars.next()?.1 {
                        'n' => value.push('\n'),
                        other => value.push(other),
                    },
                    '"' => break i,
                    c => value.push(c),
                }
            };
            labels.push((key, value));
            inner = &inner[eq + 1 + 1 + end + 1..];
        }
    }
    labels.sort();
    Some((SeriesKey { name, labels }, rest.trim_start()))
}

/// Polls until `check` holds (up to 20 s), doing `step` before each poll (to keep driving a
/// fixture machine that the exporter samples).
pub fn eventually(what: &str, mut step: impl FnMut(), mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        step();
        if check() {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The anomaly feed's events for `query` (e.g. `?state=active`).
pub fn feed(e: &Running, query: &str) -> Vec<serde_json::Value> {
    let body: serde_json::Value =
        serde_json::from_str(&e.get(&format!("/api/v1/anomalies{query}"))).unwrap();
    assert_eq!(body["status"], "success", "{body}");
    body["data"].as_array().unwrap().clone()
}

/// promtool's lint findings that node_exporter's own names raise, which sysmon keeps for
/// compatibility: node_memory_* and node_netstat_* keep the kernel's spelling of /proc/meminfo and
/// /proc/net/{netstat,snmp,snmp6}, node_entropy_*_bits count bits, not bytes, and the `process`
/// collector keeps process-exporter's names.
pub fn is_node_exporter_naming(promtool_line: &str) -> bool {
    let l = promtool_line;
    l.starts_with("node_memory_")
        || l.starts_with("node_netstat_")
        || (l.starts_with("node_entropy_") && l.contains("\"bits\""))
        // process-exporter's error counters, named without `_total` there, kept for its
        // dashboards and alerts.
        || l.starts_with("namedprocess_scrape_")
}

/// `promtool check metrics` on an exposition: its findings, one a line (or the exit status when it
/// failed without saying why).
pub fn promtool_problems(text: &str) -> Vec<String> {
    let promtool = ["/usr/bin/promtool", "/usr/local/bin/promtool"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("promtool is not installed: run scripts/install-test-deps.sh (Debian package prometheus)");
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut problems: Vec<String> = report
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect();
    if !out.status.success() && problems.is_empty() {
        problems.push(format!("promtool exited {}", out.status));
    }
    problems
}

/// Runs the exporter binary with `args` to its exit (for refusals): its status and stderr.
pub fn run_to_exit(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sysmon-exporter"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Debian's process-exporter, which the `process` collector is compared with.
pub fn process_exporter_binary() -> &'static str {
    let bin = "/usr/bin/prometheus-process-exporter";
    assert!(
        Path::new(bin).exists(),
        "process-exporter is not installed: run scripts/install-test-deps.sh (Debian package prometheus-process-exporter)"
    );
    bin
}

/// Starts process-exporter on `procfs` with the groups of `config` (its own flags' defaults
/// otherwise: children, threads and smaps on) and waits until it answers.
pub fn start_process_exporter(procfs: &Path, config: &Path) -> Running {
    let bin = process_exporter_binary();
    spawn_ready(
        "process-exporter",
        |port| {
            let mut cmd = Command::new(bin);
            cmd.arg(format!("-web.listen-address=127.0.0.1:{port}"))
                .arg(format!("-procfs={}", procfs.display()))
                .arg(format!("-config.path={}", config.display()))
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            cmd
        },
        "/metrics",
        |body| body.contains("namedprocess_scrape_errors"),
    )
}
