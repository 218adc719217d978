//! Integration tests against a real Prometheus scraping three real sysmon-exporters on fixture
//! trees (a laptop whose CPU runs at 25 %, the server, the VM); the fleet, host and anomaly
//! tests run again against victoria-metrics fed by vmagent, with vmalert evaluating the rules.
//! The expected values are read from the fixture files themselves. Which queries sysmon-top
//! asked is read from Prometheus' query log, so those checks run on the Prometheus backend only
//! (victoria-metrics keeps no such log).

mod common;

use std::time::{Duration, Instant};

use common::*;
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use sysmon_top::app::{App, AppEvent, Settings, View};
use sysmon_top::collect::{fetch_anomalies, fetch_fleet, fetch_host, Collector, Status, Update};
use sysmon_top::model::AlertState;
use sysmon_top::queries::Queries;
use sysmon_top::ui;

const CONFIG: &str = r#"
[rules.cpu_high]
threshold = 20.0
for = "0s"
clear_for = "0s"
"#;

const RULES: &str = r#"
groups:
  - name: sysmon-top-test
    rules:
      - alert: TopTestAnomaly
        expr: sysmon_anomaly_active{rule="cpu_high"} == 1
        labels:
          severity: critical
"#;

struct Stack {
    prom: Prometheus,
    laptop: Exporter,
    server: Exporter,
    vm: Exporter,
    _machine: Machine,
    _config: tempfile::TempDir,
}

impl Stack {
    fn start() -> Stack {
        Self::start_with(&[])
    }

    fn start_with(rule_files: &[std::path::PathBuf]) -> Stack {
        Self::start_on(Backend::Prometheus, rule_files)
    }

    fn start_on(backend: Backend, rule_files: &[std::path::PathBuf]) -> Stack {
        let machine = Machine::busy("laptop", 8, 25);
        let config = tempfile::tempdir().unwrap();
        let cfg = config.path().join("sysmon.toml");
        std::fs::write(&cfg, CONFIG).unwrap();
        let laptop = start_exporter(&machine.root, Some(&cfg));
        let server = start_exporter(&fixture("server"), None);
        let vm = start_exporter(&fixture("vm"), None);
        let prom = Prometheus::start_on(
            backend,
            &[laptop.port, server.port, vm.port],
            Some(RULES),
            rule_files,
        );
        prom.wait_scraped(3, 3);
        wait_for(
            "cpu_high active on the laptop",
            Duration::from_secs(30),
            || {
                !prom
                    .query("sysmon_anomaly_active{rule=\"cpu_high\"} == 1")
                    .is_empty()
            },
        );
        // The CPU columns are rates of node_cpu_seconds_total, which the exporter publishes from
        // its full runs (every slow interval, 15 s): they have a value once Prometheus holds two
        // of them. (cpu_high, read from the 2 s signal readings, can fire before that.)
        wait_for(
            "two full runs of the laptop's cpu collector",
            Duration::from_secs(40),
            || {
                !prom
                    .query(&format!(
                        "rate(node_cpu_seconds_total{{instance=\"127.0.0.1:{}\"}}[5m]) > 0",
                        laptop.port
                    ))
                    .is_empty()
            },
        );
        Stack {
            prom,
            laptop,
            server,
            vm,
            _machine: machine,
            _config: config,
        }
    }

    fn inst(e: &Exporter) -> String {
        format!("127.0.0.1:{}", e.port)
    }

    /// How many API queries Prometheus' query log holds so far (the mark to read sysmon-top's
    /// from); `None` on victoria-metrics, which keeps no query log.
    fn query_log_len(&self) -> Option<usize> {
        (self.prom.backend == Backend::Prometheus).then(|| self.prom.api_queries().len())
    }
}

/// `1 - MemAvailable/MemTotal` from a fixture's meminfo, as sysmon-top prints it.
fn fixture_mem_pct(machine: &str) -> String {
    let text = std::fs::read_to_string(fixture(machine).join("proc/meminfo")).unwrap();
    let field = |name: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(&format!("{name}:")))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} missing in {machine} meminfo"))
    };
    format!(
        "{:.1}%",
        (1.0 - field("MemAvailable") / field("MemTotal")) * 100.0
    )
}

/// The hottest `temp*_input` of a fixture's hwmon chips, in °C as sysmon-top prints it.
fn fixture_hottest(machine: &str) -> String {
    let mut max = f64::NEG_INFINITY;
    let hwmon = fixture(machine).join("sys/class/hwmon");
    for chip in std::fs::read_dir(&hwmon).unwrap() {
        let dir = chip.unwrap().path();
        for f in std::fs::read_dir(&dir).unwrap() {
            let f = f.unwrap();
            let name = f.file_name().to_string_lossy().to_string();
            if name.starts_with("temp") && name.ends_with("_input") {
                if let Some(v) = std::fs::read_to_string(f.path())
                    .ok()
                    .and_then(|s| s.trim().parse::<f64>().ok())
                {
                    max = max.max(v / 1000.0);
                }
            }
        }
    }
    assert!(
        max.is_finite(),
        "no hwmon temperature in the {machine} fixture"
    );
    format!("{max:.0}°C")
}

fn nodename(machine: &str) -> String {
    std::fs::read_to_string(fixture(machine).join("proc/sys/kernel/hostname"))
        .unwrap()
        .trim()
        .to_string()
}

#[test]
fn once_prints_every_host_with_the_values_the_fixtures_imply() {
    once_prints_every_host(Backend::Prometheus);
}

/// sysmon-top unchanged, `--prometheus` pointed at victoria-metrics (vmagent scraping the same
/// exporters, vmalert evaluating the test's alert rule): the same table.
#[test]
fn once_on_victoriametrics_prints_the_same_figures() {
    once_prints_every_host(Backend::VictoriaMetrics);
}

fn once_prints_every_host(backend: Backend) {
    let st = Stack::start_on(backend, &[]);
    let before = st.query_log_len();
    let (code, out, err) = run_top(&["--prometheus", &st.prom.url(), "--once"]);
    assert_eq!(code, 0, "stderr: {err}\nstdout: {out}");
    if let Some(before) = before {
        // No recording rules: each rule answers nothing and its raw expression runs for the
        // whole job, as a bare Prometheus always had it.
        let asked = st.prom.api_queries().split_off(before);
        assert!(
            asked.contains(
                &"1 - node_memory_MemAvailable_bytes{job=\"sysmon\"} / node_memory_MemTotal_bytes{job=\"sysmon\"}"
                    .to_string()
            ),
            "{asked:#?}"
        );
    }
    assert!(
        out.starts_with("HOST  ") && out.lines().next().unwrap().contains("ANOMALIES"),
        "{out}"
    );
    assert_eq!(out.lines().count(), 4, "header and three hosts:\n{out}");
    let laptop = Stack::inst(&st.laptop);
    let server = Stack::inst(&st.server);
    let vm = Stack::inst(&st.vm);
    // Worst first: the laptop has an active critical anomaly.
    assert!(out.lines().nth(1).unwrap().contains(&laptop), "{out}");
    assert_eq!(cell(&out, &laptop, "NAME"), nodename("laptop"));
    assert_eq!(cell(&out, &laptop, "NAME"), "thinkpad-x1");
    assert_eq!(cell(&out, &laptop, "UP"), "up");
    assert_eq!(cell(&out, &laptop, "CPU"), "25.0%", "{out}");
    assert_eq!(cell(&out, &laptop, "MEM"), fixture_mem_pct("laptop"));
    assert_eq!(cell(&out, &laptop, "MEM"), "38.5%");
    assert_eq!(cell(&out, &laptop, "SWAP"), "2.4%");
    assert_eq!(cell(&out, &laptop, "TEMP"), fixture_hottest("laptop"));
    assert_eq!(cell(&out, &laptop, "TEMP"), "52°C");
    // node_load1 0.52 over 8 CPUs.
    assert_eq!(cell(&out, &laptop, "LOAD/C"), "0.07");
    assert!(
        cell(&out, &laptop, "ANOMALIES").ends_with("(critical)"),
        "{out}"
    );

    assert_eq!(cell(&out, &server, "NAME"), nodename("server"));
    assert_eq!(cell(&out, &server, "MEM"), fixture_mem_pct("server"));
    assert_eq!(cell(&out, &server, "SWAP"), "15.1%");
    assert_eq!(cell(&out, &server, "TEMP"), fixture_hottest("server"));
    assert_eq!(cell(&out, &server, "UP"), "up");

    assert_eq!(cell(&out, &vm, "NAME"), nodename("vm"));
    assert_eq!(cell(&out, &vm, "MEM"), fixture_mem_pct("vm"));
    assert_eq!(
        cell(&out, &vm, "SWAP"),
        "0.0%",
        "no swap is 0, as the recording rule has it"
    );
    assert_eq!(cell(&out, &vm, "TEMP"), "-", "the VM has no sensors");
    // Static fixture counters: disk and network rates are zero, not missing.
    assert_eq!(cell(&out, &vm, "DISK"), "0B/s");
    assert_eq!(cell(&out, &vm, "NET_RX"), "0B/s");

    // --job picks another job: nothing there, said on stderr.
    let (code, out, err) = run_top(&["--prometheus", &st.prom.url(), "--once", "--job", "node"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(err.contains("no targets for job \"node\""), "{err}");
}

/// With the stack's recording rules loaded (alert-rules/sysmon.rules.yml), the fleet figures come
/// from the rules and are the same.
#[test]
fn once_with_the_stacks_recording_rules_gives_the_same_figures() {
    once_with_the_stacks_recording_rules(Backend::Prometheus);
}

/// The recording rules evaluated by vmalert into victoria-metrics: the fleet view reads them.
#[test]
fn once_with_the_recording_rules_on_victoriametrics() {
    once_with_the_stacks_recording_rules(Backend::VictoriaMetrics);
}

fn once_with_the_stacks_recording_rules(backend: Backend) {
    let rules = repo_root().join("alert-rules/sysmon.rules.yml");
    let st = Stack::start_on(backend, std::slice::from_ref(&rules));
    wait_for(
        "the recording rules evaluated",
        Duration::from_secs(30),
        || {
            st.prom
                .query("instance:node_memory_utilisation:ratio{job=\"sysmon\"}")
                .len()
                == 3
                && st
                    .prom
                    .query("instance:node_cpu_utilisation:rate5m{job=\"sysmon\"}")
                    .len()
                    == 1
                && st
                    .prom
                    .query("instance:node_swap_utilisation:ratio{job=\"sysmon\"}")
                    .len()
                    == 3
        },
    );
    let before = st.query_log_len();
    let (code, out, err) = run_top(&["--prometheus", &st.prom.url(), "--once"]);
    assert_eq!(code, 0, "{err}");
    let laptop = Stack::inst(&st.laptop);
    let vm = Stack::inst(&st.vm);
    if let Some(before) = before {
        // The rules are asked alone; the raw expressions only for the hosts a rule did not
        // answer for: none for memory (its rule has every host), the server and the VM for CPU
        // (static fixture counters: no CPU rate, so no rule sample).
        let asked = st.prom.api_queries().split_off(before);
        assert!(
            asked.contains(&"instance:node_memory_utilisation:ratio{job=\"sysmon\"}".to_string()),
            "{asked:#?}"
        );
        assert!(
            !asked
                .iter()
                .any(|q| q.contains("node_memory_MemAvailable_bytes")),
            "memory's raw expression ran although its rule covers every host: {asked:#?}"
        );
        let cpu_raw: Vec<&String> = asked
            .iter()
            .filter(|q| q.contains("rate(node_cpu_seconds_total{"))
            .collect();
        assert_eq!(cpu_raw.len(), 1, "{asked:#?}");
        assert_eq!(
            fallback_ports(cpu_raw[0]),
            vec![st.server.port, st.vm.port]
                .into_iter()
                .collect::<std::collections::BTreeSet<u16>>(),
            "{}",
            cpu_raw[0]
        );
    }
    assert_eq!(cell(&out, &laptop, "CPU"), "25.0%", "{out}");
    assert_eq!(cell(&out, &laptop, "MEM"), fixture_mem_pct("laptop"));
    assert_eq!(cell(&out, &laptop, "SWAP"), "2.4%");
    assert_eq!(cell(&out, &laptop, "TEMP"), fixture_hottest("laptop"));
    assert_eq!(cell(&out, &laptop, "LOAD/C"), "0.07");
    assert!(
        cell(&out, &laptop, "ANOMALIES").ends_with("(critical)"),
        "{out}"
    );
    assert_eq!(cell(&out, &vm, "MEM"), fixture_mem_pct("vm"));
    assert_eq!(cell(&out, &vm, "SWAP"), "0.0%");
    assert_eq!(cell(&out, &vm, "TEMP"), "-");
}

/// The ports of the hosts a fallback query is restricted to (`instance=~"a|b"`, each selector
/// the same); panics when it is not restricted.
fn fallback_ports(query: &str) -> std::collections::BTreeSet<u16> {
    let (_, rest) = query
        .split_once("instance=~\"")
        .unwrap_or_else(|| panic!("not restricted to some hosts: {query}"));
    let (alt, _) = rest.split_once('"').unwrap();
    alt.split('|')
        .map(|h| h.rsplit(':').next().unwrap().parse().unwrap())
        .collect()
}

#[test]
fn query_prints_tables_charts_and_prometheus_errors() {
    let st = Stack::start();
    let url = st.prom.url();
    let laptop = Stack::inst(&st.laptop);

    let (code, out, err) = run_top(&[
        "query",
        "node_memory_MemTotal_bytes{job=\"sysmon\"}",
        "--prometheus",
        &url,
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("SERIES"), "{out}");
    let row = out
        .lines()
        .find(|l| l.contains(&laptop))
        .expect("laptop row");
    assert!(
        row.starts_with(&format!(
            "node_memory_MemTotal_bytes{{instance=\"{laptop}\", job=\"sysmon\"}}"
        )),
        "{row}"
    );
    // 16065520 kB in the fixture.
    assert!(row.ends_with(&(16065520u64 * 1024).to_string()), "{row}");
    assert_eq!(out.lines().count(), 4, "{out}");

    let (code, out, _) = run_top(&[
        "query",
        "scalar(count(up{job=\"sysmon\"}))",
        "--prometheus",
        &url,
    ]);
    assert_eq!(code, 0);
    assert_eq!(out, "scalar 3\n");

    let (code, out, err) = run_top(&[
        "query",
        &format!("up{{instance=\"{laptop}\"}}"),
        "--range",
        "1m",
        "--step",
        "1s",
        "--width",
        "40",
        "--prometheus",
        &url,
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("from "), "{out}");
    assert!(
        out.contains(&format!("up{{instance=\"{laptop}\", job=\"sysmon\"}}")),
        "{out}"
    );
    assert!(out.contains("min 1  max 1  last 1"), "{out}");

    // A PromQL syntax error: Prometheus' own message on stderr, exit 1.
    let expr = "rate(up[5m]";
    let (status, body) = http_get(st.prom.port, "/api/v1/query?query=rate%28up%5B5m%5D").unwrap();
    assert_eq!(status, 400);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let message = v["error"].as_str().unwrap();
    assert!(message.contains("parse error"), "{message}");
    let (code, out, err) = run_top(&["query", expr, "--prometheus", &url]);
    assert_eq!(code, 1, "{err}");
    assert!(out.is_empty(), "{out}");
    assert_eq!(
        err.trim_end(),
        format!("sysmon-top: error: Prometheus error (bad_data): {message}")
    );
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn screen(app: &App, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| ui::draw(f, app)).unwrap();
    let buf = t.backend().buffer().clone();
    let mut s = String::new();
    for y in 0..h {
        for x in 0..w {
            s.push_str(buf[(x, y)].symbol());
        }
        s.push('\n');
    }
    s
}

#[test]
fn host_and_anomaly_views_from_real_answers() {
    host_and_anomaly_views(Backend::Prometheus);
}

/// Every host, history and anomaly query of sysmon-top against victoria-metrics.
#[test]
fn host_and_anomaly_views_on_victoriametrics() {
    host_and_anomaly_views(Backend::VictoriaMetrics);
}

fn host_and_anomaly_views(backend: Backend) {
    let st = Stack::start_on(backend, &[]);
    let laptop = Stack::inst(&st.laptop);
    wait_for(
        "the TopTestAnomaly alert firing",
        Duration::from_secs(30),
        || {
            !st.prom
                .query("ALERTS{alertname=\"TopTestAnomaly\",alertstate=\"firing\"}")
                .is_empty()
        },
    );
    let rt = runtime();
    let client = st.prom.client();
    let q = Queries::new("sysmon");
    let fleet = rt.block_on(fetch_fleet(&client, &q)).unwrap();
    assert!(fleet.failed.is_empty(), "{:?}", fleet.failed);
    assert_eq!(fleet.data.len(), 3);
    // The CPU history is a rate of the series the exporter publishes every slow interval (15 s):
    // a range query has it once two full runs fall inside its steps, which on victoria-metrics
    // (its range queries end a little behind the newest sample) can be a few seconds after the
    // instant query the stack waited for. Asked again until then, at most 30 s.
    let started = std::time::Instant::now();
    let (host, hist) = loop {
        let (host, hist) = rt.block_on(fetch_host(
            &client,
            &q,
            &laptop,
            Duration::from_secs(300),
            true,
        ));
        let has_cpu = hist.as_ref().is_some_and(|h| !h.data.cpu.is_empty());
        if has_cpu || started.elapsed() > Duration::from_secs(30) {
            break (host, hist);
        }
        std::thread::sleep(Duration::from_secs(1));
    };
    assert!(host.failed.is_empty(), "{:?}", host.failed);
    let d = &host.data;
    assert_eq!(d.up, Some(true));
    assert_eq!(d.nodename.as_deref(), Some("thinkpad-x1"));
    assert_eq!(d.os.as_deref(), Some("Ubuntu 24.04.1 LTS"));
    assert_eq!(d.cores.len(), 8);
    for (cpu, v) in &d.cores {
        assert!((v - 0.25).abs() < 1e-6, "cpu{cpu} at {v}");
    }
    let pkg = d
        .sensors
        .iter()
        .find(|s| s.display_name() == "coretemp Package id 0")
        .expect("coretemp package sensor");
    assert_eq!(pkg.temp, 52.0);
    assert_eq!(pkg.crit, Some(100.0));
    let nvme = d
        .sensors
        .iter()
        .find(|s| s.display_name() == "nvme Composite")
        .expect("nvme sensor");
    // 84.85 °C (the exporter's millidegrees times 0.001: 84.85000000000001 from Prometheus;
    // victoria-metrics stores 12 significant digits, 84.85).
    assert!(
        nvme.max.is_some_and(|m| (m - 84.85).abs() < 1e-9),
        "{:?}",
        nvme.max
    );
    let mounts: Vec<&str> = d
        .filesystems
        .iter()
        .map(|f| f.mountpoint.as_str())
        .collect();
    for m in ["/", "/boot", "/boot/efi", "/home"] {
        assert!(mounts.contains(&m), "{m} missing from {mounts:?}");
    }
    assert!(!mounts.contains(&"/run"), "tmpfs is filtered: {mounts:?}");
    let names: Vec<String> = d.usb.iter().map(|u| u.display_name()).collect();
    assert!(
        names.contains(&"Logitech USB Keyboard".to_string()),
        "{names:?}"
    );
    assert!(
        d.anomalies_active.iter().any(|a| a.rule == "cpu_high"),
        "{:?}",
        d.anomalies_active
    );
    let hist = hist.expect("history fetched");
    assert!(hist.failed.is_empty(), "{:?}", hist.failed);
    assert!(!hist.data.cpu.is_empty());
    assert!((hist.data.cpu.last().unwrap().1 - 0.25).abs() < 1e-6);
    assert!((hist.data.mem.last().unwrap().1 - 0.3852).abs() < 1e-3);

    // The same answers drawn.
    let mut app = App::new(Settings {
        url: st.prom.url(),
        job: "sysmon".into(),
        refresh: Duration::from_secs(2),
        no_color: true,
    });
    app.apply(Update::Fleet(fleet));
    app.open_host(laptop.clone());
    app.apply(Update::Host {
        instance: laptop.clone(),
        detail: Box::new(host),
        history: Some(Box::new(hist)),
        range: app.range(),
    });
    let s = screen(&app, 160, 50);
    for want in [
        format!(" thinkpad-x1 ({laptop}) · up · Ubuntu 24.04.1 LTS · kernel 6.8.0-45-generic"),
        "┌CPU 25.0%".to_string(),
        "┌8 cores".to_string(),
        "coretemp Package id 0".to_string(),
        "nvme Composite".to_string(),
        "/boot/efi".to_string(),
        "Logitech USB Keyboard".to_string(),
        "cpu_high on host".to_string(),
    ] {
        assert!(s.contains(&want), "{want:?} not on the host view:\n{s}");
    }

    let board = rt.block_on(fetch_anomalies(&client, &q, Duration::from_secs(3600)));
    assert!(board.failed.is_empty(), "{:?}", board.failed);
    let a = board
        .data
        .active
        .iter()
        .find(|a| a.rule == "cpu_high")
        .expect("cpu_high active");
    assert_eq!(a.instance, laptop);
    assert_eq!(a.threshold, Some(20.0));
    assert!(
        a.value.is_some_and(|v| (v - 25.0).abs() < 1.0),
        "{:?}",
        a.value
    );
    // The exporters publish their adaptive scores: the ranking lists only adaptive signals.
    assert!(
        !board.data.ranked.is_empty(),
        "no sysmon_anomaly_score ranked"
    );
    assert!(
        board
            .data
            .ranked
            .iter()
            .all(|r| r.rule.starts_with("adaptive_") && r.mean.is_finite()),
        "{:?}",
        board.data.ranked
    );
    let alert = board
        .data
        .alerts
        .iter()
        .find(|x| x.name == "TopTestAnomaly")
        .expect("alert listed");
    assert_eq!(alert.state, AlertState::Firing);
    assert_eq!(alert.instance, laptop);
    app.apply(Update::Anomalies(board));
    app.view = View::Anomalies;
    let s = screen(&app, 150, 30);
    assert!(
        s.contains("TopTestAnomaly") && s.contains("cpu_high"),
        "{s}"
    );
}

/// Waits for the next update from the collection task matching `pred`, applying every update to
/// the app on the way (as the drawing loop does).
fn next_matching(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<AppEvent>,
    app: &mut App,
    timeout: Duration,
    what: &str,
    pred: impl Fn(&Update) -> bool,
) {
    let t0 = Instant::now();
    loop {
        assert!(t0.elapsed() < timeout, "timed out waiting for {what}");
        match rx.try_recv() {
            Ok(AppEvent::Update(u)) => {
                let hit = pred(&u);
                app.apply(u);
                if hit {
                    return;
                }
            }
            Ok(_) => {}
            Err(tokio::sync::mpsc::error::TryRecvError::Empty) => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Err(e) => panic!("collector stopped: {e}"),
        }
    }
}

#[test]
fn stopped_prometheus_gives_the_banner_keeps_data_and_recovers() {
    let vm = start_exporter(&fixture("vm"), None);
    let mut prom = Prometheus::start(&[vm.port], None);
    prom.wait_scraped(1, 2);
    let rt = runtime();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let collector = Collector::new(
        prom.client(),
        Queries::new("sysmon"),
        Duration::from_millis(200),
        Duration::from_secs(300),
    );
    let cmds = {
        let _g = rt.enter();
        collector.spawn(tx)
    };
    let mut app = App::new(Settings {
        url: prom.url(),
        job: "sysmon".into(),
        refresh: Duration::from_millis(200),
        no_color: true,
    });
    next_matching(
        &mut rx,
        &mut app,
        Duration::from_secs(20),
        "the first fleet",
        |u| matches!(u, Update::Fleet(b) if b.data.len() == 1),
    );
    assert_eq!(app.fleet.rows[0].name.as_deref(), Some("ci-runner-07"));

    prom.stop();
    next_matching(
        &mut rx,
        &mut app,
        Duration::from_secs(20),
        "the unreachable status",
        |u| matches!(u, Update::Status(Status::Unreachable { .. })),
    );
    // A second failure backs off further.
    next_matching(
        &mut rx,
        &mut app,
        Duration::from_secs(20),
        "a second failure",
        |u| matches!(u, Update::Status(Status::Unreachable { attempt: 2, .. })),
    );
    let err = app.conn.error.clone().expect("error kept");
    assert!(
        err.to_string().starts_with(&format!(
            "cannot connect to Prometheus at http://127.0.0.1:{}/api/v1/query",
            prom.port
        )),
        "{err}"
    );
    assert!(err.to_string().contains("refused"), "{err}");
    assert_eq!(app.fleet.rows.len(), 1, "the last data is kept");
    let banner = ui::banner::banner_lines(&app, 200);
    assert!(
        banner[0]
            .1
            .starts_with(" ⚠ Prometheus unreachable: cannot connect"),
        "{banner:?}"
    );
    assert!(
        banner[1].1.contains("retry 3 in") && banner[1].1.contains("showing data from"),
        "{banner:?}"
    );
    let s = screen(&app, 120, 20);
    assert!(
        s.contains("⚠ Prometheus unreachable") && s.contains("ci-runner-07"),
        "{s}"
    );

    prom.restart();
    next_matching(
        &mut rx,
        &mut app,
        Duration::from_secs(45),
        "recovery",
        |u| matches!(u, Update::Status(Status::Ok { .. })),
    );
    assert!(app.conn.error.is_none());
    assert!(ui::banner::banner_lines(&app, 200).is_empty());
    let s = screen(&app, 120, 20);
    assert!(
        !s.contains("unreachable") && s.contains("ci-runner-07"),
        "{s}"
    );
    let _ = cmds.send(sysmon_top::collect::Command::Shutdown);
    drop(rt);
}
