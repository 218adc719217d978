//! The VictoriaMetrics backends of `deploy/stack.sh`, run from Debian's binaries:
//!
//! * `--backend victoriametrics`: the store and the scraper are stopped and started again while
//!   the exporter keeps running; every sample vmagent scraped while the store was down reaches
//!   the store from vmagent's on-disk queue (vmagent itself stopped gracefully in between). Checked
//!   per series over the raw samples (`/api/v1/export`): with a 1 s scrape interval, the only
//!   hole in every series is the one while vmagent was not running, and the samples of the
//!   store's outage are all there.
//! * `--backend remote-write`: Prometheus keeps its own history and forwards every sample to
//!   victoria-metrics; the same raw samples are in both, series by series.
//!
//! * The repository's `prometheus/*.yml` and `alert-rules/*.rules.yml` load in vmagent and vmalert
//!   as they are (their own dry runs), and `--backend` refuses what it does not know.
//!
//! The alerting end to end on this backend is in `alerting_e2e.rs`, the dashboards' queries in
//! `dashboards.rs`, sysmon-top's in `tui-promql/tests/prometheus.rs`.

mod native_stack;

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use native_stack::{alive, eventually, get, get_json, Backend, Stack};
use serde_json::Value as Json;
use sysmon_stack_tests::repo_root;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// The exporter flags that read a fixture machine as it is (the stack's own exporter).
fn fixture_args(machine: &str) -> String {
    let r = repo_root().join("exporter/tests/fixtures").join(machine);
    let r = r.display();
    format!(
        "--path.procfs={r}/proc --path.sysfs={r}/sys --path.rootfs={r}/rootfs --path.kmsg={r}/kmsg --log.level=warn"
    )
}

/// One series' raw samples: labels (as JSON text, without `__name__`), name, timestamps in ms.
#[derive(Debug)]
struct Series {
    name: String,
    labels: String,
    timestamps: Vec<i64>,
}

/// The raw samples of every series matching `selector` between `start` and `end` (ms), from
/// VictoriaMetrics' export API (JSON lines). Staleness markers (NaN) are left out.
fn export(vm: &str, selector: &str, start: i64, end: i64) -> Vec<Series> {
    let url = format!("{vm}/api/v1/export");
    let body = ureq::get(&url)
        .query("match[]", selector)
        .query("start", &format!("{:.3}", start as f64 / 1000.0))
        .query("end", &format!("{:.3}", end as f64 / 1000.0))
        .timeout(Duration::from_secs(20))
        .call()
        .unwrap_or_else(|e| panic!("GET {url} {selector}: {e}"))
        .into_string()
        .unwrap();
    body.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Json = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            let mut metric = v["metric"].as_object().unwrap().clone();
            let name = metric
                .remove("__name__")
                .and_then(|n| n.as_str().map(String::from))
                .unwrap_or_default();
            let values = v["values"].as_array().unwrap();
            let mut timestamps: Vec<i64> = v["timestamps"]
                .as_array()
                .unwrap()
                .iter()
                .zip(values)
                .filter(|(_, value)| {
                    // NaN is exported as a string or null, a number otherwise.
                    value.as_f64().is_some_and(|f| !f.is_nan())
                })
                .map(|(t, _)| t.as_i64().unwrap())
                .collect();
            timestamps.sort_unstable();
            Series {
                name,
                labels: Json::Object(metric).to_string(),
                timestamps,
            }
        })
        .collect()
}

/// vmagent's samples still waiting to be sent (in memory or in its on-disk queue).
fn vmagent_pending_bytes(vmagent: &str) -> Option<f64> {
    let (status, body) = get(&format!("{vmagent}/metrics")).ok()?;
    (status == 200).then(|| {
        body.lines()
            .filter(|l| l.starts_with("vmagent_remotewrite_pending_data_bytes"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    })
}

/// Sends SIGTERM to a component of the stack and waits until it has exited.
fn stop_component(stack: &Stack, name: &str) {
    let pid = stack
        .pid(name)
        .unwrap_or_else(|| panic!("no pid recorded for {name}"));
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(pid).unwrap(),
        rustix::process::Signal::TERM,
    )
    .unwrap_or_else(|e| panic!("kill {name} ({pid}): {e}"));
    eventually(
        &format!("{name} (pid {pid}) to exit"),
        Duration::from_secs(30),
        || {},
        || (!alive(pid)).then_some(()),
        || stack.logs(),
    );
}

#[test]
fn vmagent_queue_keeps_every_sample_over_a_store_and_agent_restart() {
    let started = Instant::now();
    let interval_ms = 1000;
    let stack = Stack::with_backend(
        Backend::VictoriaMetrics,
        &[
            ("SYSMON_STACK_SCRAPE_INTERVAL", "1s".into()),
            ("SYSMON_STACK_EXPORTER_ARGS", fixture_args("server")),
            ("SYSMON_STACK_GRAFANA", "no".into()),
        ],
    );
    let up = stack.up();
    for component in ["victoriametrics", "vmagent", "vmalert", "alertmanager"] {
        assert!(up.contains(component), "up names {component}:\n{up}");
    }
    assert!(
        up.contains(&format!(
            "query (Grafana, sysmon-top --prometheus): {}",
            stack.victoriametrics_url()
        )),
        "{up}"
    );
    let status = stack.run("status");
    let status_text = String::from_utf8_lossy(&status.stdout).to_string();
    assert!(status.status.success(), "status:\n{status_text}");
    for component in ["victoriametrics", "vmagent", "vmalert"] {
        assert!(
            status_text
                .lines()
                .any(|l| l.starts_with(component) && l.contains(" up (pid ")),
            "status: {component} up:\n{status_text}"
        );
    }
    assert!(
        !status_text.lines().any(|l| l.starts_with("prometheus")),
        "no Prometheus on this backend:\n{status_text}"
    );

    let vm = stack.victoriametrics_url();
    let vmagent = stack.scraper_url();
    let instance = format!("127.0.0.1:{}", stack.ports.exporter);
    let selector = format!("{{job=\"sysmon\",instance=\"{instance}\"}}");
    let t0 = now_ms();
    eventually(
        "the exporter's samples in victoria-metrics",
        Duration::from_secs(30),
        || {},
        || {
            let v = get_json(&format!(
                "{vm}/api/v1/query?query=count_over_time(up%7Binstance%3D%22{instance}%22%7D%5B1m%5D)"
            ));
            let n: f64 = v["data"]["result"][0]["value"][1]
                .as_str()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0.0);
            (n >= 3.0).then_some(())
        },
        || stack.logs(),
    );

    // The store goes away; vmagent keeps scraping and queues what it cannot send.
    let store_down = now_ms();
    stop_component(&stack, "victoriametrics");
    eventually(
        "vmagent holding unsent samples while the store is down",
        Duration::from_secs(20),
        || {},
        || vmagent_pending_bytes(&vmagent).filter(|b| *b > 0.0),
        || stack.logs(),
    );
    std::thread::sleep(Duration::from_secs(6));
    // vmagent stops too (gracefully: what it holds in memory goes to its on-disk queue); nothing
    // is scraped until it is back.
    let agent_down = now_ms();
    stop_component(&stack, "vmagent");
    std::thread::sleep(Duration::from_secs(2));
    // `up` starts again what is not running: the store, then vmagent on its old queue.
    stack.up();
    let agent_back = now_ms();
    let store_back = agent_back;
    eventually(
        "vmagent's queue drained into the store",
        Duration::from_secs(60),
        || {},
        || vmagent_pending_bytes(&vmagent).filter(|b| *b == 0.0),
        || stack.logs(),
    );
    std::thread::sleep(Duration::from_secs(4));
    let t1 = now_ms();

    // Every series of the exporter, raw. The window starts after the first samples and ends
    // before the newest ones (the store's latency offset).
    // Scraped series only: the recording rules' results come from vmalert, which cannot
    // evaluate while the store is down.
    let series: Vec<Series> = export(&vm, &selector, t0, t1 - 3000)
        .into_iter()
        .filter(|s| !s.name.contains(':') && !s.name.starts_with("ALERTS"))
        .collect();
    let up_series: Vec<&Series> = series.iter().filter(|s| s.name == "up").collect();
    assert_eq!(up_series.len(), 1, "one up series: {up_series:?}");
    let reference = up_series[0];
    assert!(
        series.len() > 100,
        "only {} series of {instance} in victoria-metrics",
        series.len()
    );
    let mut report = BTreeMap::new();
    for s in &series {
        let ts = &s.timestamps;
        // The holes in this series: every gap wider than a scrape interval and a half.
        let holes: Vec<(i64, i64)> = ts
            .windows(2)
            .filter(|w| w[1] - w[0] > interval_ms * 3 / 2)
            .map(|w| (w[0], w[1]))
            .collect();
        // Only vmagent's own absence may leave one, and it must not be wider than that absence.
        for &(a, b) in &holes {
            let inside_agent_outage = a <= agent_down + interval_ms && b >= agent_down;
            assert!(
                inside_agent_outage && b <= agent_back + 3 * interval_ms,
                "{}{}: samples lost between {a} and {b} ({} ms; store down {store_down}..{store_back}, \
                 vmagent down {agent_down}..{agent_back})\n{:?}",
                s.name,
                s.labels,
                b - a,
                ts
            );
        }
        // Counted over the store's outage while vmagent ran: one sample per scrape interval.
        let during = ts
            .iter()
            .filter(|&&t| t >= store_down && t < agent_down)
            .count() as i64;
        let expected = (agent_down - store_down) / interval_ms;
        assert!(
            (expected - 1..=expected + 1).contains(&during),
            "{}{}: {during} samples while the store was down, expected {expected} (one per second \
             over {} ms)",
            s.name,
            s.labels,
            agent_down - store_down
        );
        // Scraped together, stored together: every series that was there from the start has
        // exactly up's samples.
        if ts.first() == reference.timestamps.first() {
            assert_eq!(
                ts.len(),
                reference.timestamps.len(),
                "{}{}: not the samples of up",
                s.name,
                s.labels
            );
        }
        report.insert(during, report.get(&during).copied().unwrap_or(0) + 1);
    }
    drop(stack);
    eprintln!(
        "{} series, {} samples each over {:.1} s; samples during the store's {:.1} s outage \
         (count: series): {report:?}; {:.0?}",
        series.len(),
        reference.timestamps.len(),
        (t1 - 3000 - t0) as f64 / 1000.0,
        (agent_down - store_down) as f64 / 1000.0,
        started.elapsed()
    );
}

/// An instant query's raw samples of a range selector: series (labels without the external
/// labels Prometheus adds on remote write) to their timestamps in ms.
fn raw_samples(base: &str, selector: &str, at: i64, window_s: i64) -> BTreeMap<String, Vec<i64>> {
    let body = ureq::post(&format!("{base}/api/v1/query"))
        .timeout(Duration::from_secs(20))
        .send_form(&[
            ("query", &format!("{selector}[{window_s}s]")),
            ("time", &format!("{:.3}", at as f64 / 1000.0)),
        ])
        .unwrap_or_else(|e| panic!("{base}: {selector}: {e}"))
        .into_string()
        .unwrap();
    let v: Json = serde_json::from_str(&body).unwrap();
    assert_eq!(v["status"], "success", "{base}: {body}");
    v["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let mut m = r["metric"].as_object().unwrap().clone();
            m.remove("cluster");
            m.remove("prometheus");
            let ts: Vec<i64> = r["values"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| (p[0].as_f64().unwrap() * 1000.0).round() as i64)
                .collect();
            (Json::Object(m).to_string(), ts)
        })
        .collect()
}

#[test]
fn remote_write_backend_forwards_what_prometheus_keeps() {
    let started = Instant::now();
    let stack = Stack::with_backend(
        Backend::RemoteWrite,
        &[
            ("SYSMON_STACK_SCRAPE_INTERVAL", "1s".into()),
            ("SYSMON_STACK_EXPORTER_ARGS", fixture_args("vm")),
            ("SYSMON_STACK_GRAFANA", "no".into()),
            ("SYSMON_STACK_RETENTION", "90d".into()),
            ("SYSMON_STACK_LOCAL_RETENTION", "1d".into()),
        ],
    );
    let up = stack.up();
    assert!(
        up.contains("victoriametrics") && up.contains("prometheus"),
        "{up}"
    );
    let prom = stack.prometheus_url();
    let vm = stack.victoriametrics_url();

    // Prometheus runs on the generated copy of remote-write.example.yml: short local history,
    // its external labels, remote_write to this stack's victoria-metrics.
    let flags = get_json(&format!("{prom}/api/v1/status/flags"));
    assert_eq!(flags["data"]["storage.tsdb.retention.time"], "1d");
    let config = get_json(&format!("{prom}/api/v1/status/config"));
    let yaml = config["data"]["yaml"].as_str().unwrap();
    assert!(
        yaml.contains(&format!("url: {vm}/api/v1/write")),
        "remote_write to the stack's store:\n{yaml}"
    );
    assert!(yaml.contains("external_labels:"), "{yaml}");
    let vm_flags = std::fs::read_to_string(stack.dir().join("logs/victoriametrics.log")).unwrap();
    assert!(
        vm_flags.contains("-retentionPeriod=90d"),
        "the store keeps SYSMON_STACK_RETENTION:\n{vm_flags}"
    );

    // Rules are evaluated by Prometheus (locally) and their results forwarded too.
    let instance = format!("127.0.0.1:{}", stack.ports.exporter);
    let selector = format!(
        "{{instance=\"{instance}\",__name__=~\"up|node_load1|node_memory_MemAvailable_bytes|\
         node_cpu_seconds_total|instance:node_memory_utilisation:ratio\"}}"
    );
    std::thread::sleep(Duration::from_secs(12));
    // The same raw samples in both, series by series, once the queue has caught up (Prometheus
    // sends within its 5 s batch deadline).
    let at = now_ms() - 3000;
    let window = 8;
    let local = raw_samples(&prom, &selector, at, window);
    assert!(
        local.len() >= 4,
        "Prometheus' local series: {:?}",
        local.keys()
    );
    assert!(
        local
            .keys()
            .any(|k| k.contains("instance:node_memory_utilisation:ratio")),
        "a recording rule's result: {:?}",
        local.keys()
    );
    let remote = eventually(
        "victoria-metrics to hold Prometheus' samples",
        Duration::from_secs(30),
        || {},
        || {
            let remote = raw_samples(&vm, &selector, at, window);
            (remote == local).then_some(remote)
        },
        || {
            format!(
                "Prometheus: {local:?}\nvictoria-metrics: {:?}\n{}",
                raw_samples(&vm, &selector, at, window),
                stack.logs()
            )
        },
    );
    let samples: usize = remote.values().map(Vec::len).sum();
    assert!(
        samples >= local.len() * 2,
        "{samples} samples: {:?}",
        remote.iter().map(|(k, v)| (k, v.len())).collect::<Vec<_>>()
    );
    drop(stack);
    eprintln!(
        "remote write: {} series, {samples} samples over {window} s identical in Prometheus and \
         victoria-metrics; {:.0?}",
        local.len(),
        started.elapsed()
    );
}

#[test]
fn an_unknown_backend_is_refused_with_status_2() {
    let state = tempfile::tempdir().unwrap();
    for (args, expected) in [
        (
            vec!["up", "--backend", "influx"],
            "expected prometheus, victoriametrics or remote-write, found 'influx'",
        ),
        (vec!["up", "--backend"], "--backend needs a value"),
        (
            vec!["status", "--backend", "victoriametrics"],
            "status and down use the recorded backend",
        ),
        (vec!["up", "--bogus"], "unknown argument '--bogus'"),
    ] {
        let out = std::process::Command::new("bash")
            .arg(native_stack::script())
            .args(&args)
            .env("SYSMON_STACK_DIR", state.path())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(expected), "{args:?}: {err}");
    }
    // Nothing was started.
    assert!(!state.path().join("run").exists());
}

/// The repository's files as vmagent and vmalert read them, checked by the binaries themselves
/// (`-promscrape.config.dryRun`, `-dryRun`): both Prometheus configurations scrape as they are
/// (with strictParse off, since their rule and alerting sections are Prometheus' own), and every
/// rule file parses as MetricsQL with templates vmalert accepts. A broken file fails each check.
#[test]
fn repository_files_load_in_vmagent_and_vmalert() {
    let root = repo_root();
    let vmagent = sysmon_stack_tests::tool("vmagent", "victoria-metrics");
    let vmalert = sysmon_stack_tests::tool("vmalert", "victoria-metrics");
    let check_scrape = |config: &std::path::Path, strict: bool| {
        std::process::Command::new(&vmagent)
            .arg(format!("-promscrape.config={}", config.display()))
            .arg(format!("-promscrape.config.strictParse={strict}"))
            .arg("-promscrape.config.dryRun")
            .output()
            .unwrap()
    };
    for f in [
        "prometheus/prometheus.yml",
        "prometheus/remote-write.example.yml",
    ] {
        let out = check_scrape(&root.join(f), false);
        assert!(
            out.status.success(),
            "vmagent rejects {f}:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Why deploy/stack.sh and docker-compose.yml pass strictParse=false.
        let strict = check_scrape(&root.join(f), true);
        assert!(!strict.status.success(), "{f} parses strictly in vmagent");
        assert!(
            String::from_utf8_lossy(&strict.stderr).contains("rule_files"),
            "{}",
            String::from_utf8_lossy(&strict.stderr)
        );
    }
    let out = std::process::Command::new(&vmalert)
        .arg("-dryRun")
        .arg(format!(
            "-rule={}",
            root.join("alert-rules/*.rules.yml").display()
        ))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "vmalert rejects alert-rules/:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let dir = tempfile::tempdir().unwrap();
    let bad_scrape = dir.path().join("prometheus.yml");
    std::fs::write(
        &bad_scrape,
        "scrape_configs:\n  - job_name: sysmon\n    scrape_interval: soon\n",
    )
    .unwrap();
    assert!(!check_scrape(&bad_scrape, false).status.success());
    let bad_rules = dir.path().join("bad.rules.yml");
    std::fs::write(
        &bad_rules,
        "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: rate(up[5m]\n",
    )
    .unwrap();
    let out = std::process::Command::new(&vmalert)
        .arg("-dryRun")
        .arg(format!("-rule={}", bad_rules.display()))
        .output()
        .unwrap();
    assert!(!out.status.success(), "vmalert accepted a broken rule");
}
