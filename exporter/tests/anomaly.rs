//! End-to-end tests of the anomaly engine in the running exporter: a copy of the laptop fixture is
//! changed between samples (CPU driven to 100%, a sensor heated, USB timeouts appended to the
//! kernel log), and the rules' metrics, the JSON feed, SIGHUP reloads and the journal across a
//! SIGKILL are checked.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{eventually, feed, fixture, parse_exposition, start_sysmon, Running};

/// A writable copy of the laptop machine.
struct Machine {
    _dir: tempfile::TempDir,
    root: PathBuf,
    /// Cumulative CPU ticks written so far: (busy, idle) per CPU.
    ticks: (u64, u64),
}

impl Machine {
    fn laptop() -> Machine {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("laptop");
        let ok = Command::new("cp")
            .arg("-a")
            .arg(fixture("laptop"))
            .arg(&root)
            .status()
            .unwrap();
        assert!(ok.success());
        let mut m = Machine {
            _dir: dir,
            root,
            ticks: (1_000_000, 1_000_000),
        };
        m.cpu_step(0, 0);
        m
    }

    /// Atomically replaces a file, as the kernel's files never show a half-written state.
    fn write(&self, rel: &str, contents: &str) {
        let path = self.root.join(rel);
        let path = std::fs::canonicalize(&path).unwrap_or(path);
        let tmp = path.with_extension("tmp-write");
        std::fs::write(&tmp, contents).unwrap();
        std::fs::rename(&tmp, &path).unwrap();
    }

    /// Advances every CPU by `busy` user ticks and `idle` idle ticks.
    fn cpu_step(&mut self, busy: u64, idle: u64) {
        self.ticks.0 += busy;
        self.ticks.1 += idle;
        let (b, i) = self.ticks;
        let original = std::fs::read_to_string(fixture("laptop").join("proc/stat")).unwrap();
        let mut out = format!("cpu  {} 0 0 {} 0 0 0 0 0 0\n", b * 8, i * 8);
        for cpu in 0..8 {
            out.push_str(&format!("cpu{cpu} {b} 0 0 {i} 0 0 0 0 0 0\n"));
        }
        for line in original.lines().filter(|l| !l.starts_with("cpu")) {
            out.push_str(line);
            out.push('\n');
        }
        self.write("proc/stat", &out);
    }

    fn append_kmsg(&self, message: &str) {
        let path = self.root.join("kmsg");
        let text = std::fs::read_to_string(&path).unwrap();
        let last_seq: u64 = text
            .lines()
            .filter_map(|l| l.split(',').nth(1)?.parse().ok())
            .max()
            .unwrap_or(0);
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        std::io::Write::write_all(
            &mut f,
            format!(
                "3,{},{},-;{message}\n",
                last_seq + 1,
                9_200_000_000u64 + last_seq
            )
            .as_bytes(),
        )
        .unwrap();
    }
}

const RULES: &str = r#"
[rules.cpu_high]
for = "0s"
clear_for = "0s"

[rules.temperature_high]
for = "0s"
clear_for = "0s"

[rules.usb_timeout]
clear_for = "1s"
"#;

fn start(machine: &Machine, config: &Path, state: &Path) -> Running {
    start_sysmon(
        &machine.root,
        &[
            &format!("--config.file={}", config.display()),
            &format!("--storage.path={}", state.display()),
            "--sampler.interval=100ms",
            "--sampler.collector-timeout=100ms",
        ],
    )
}

fn anomaly_active(e: &Running, rule: &str, subject: &str) -> Option<f64> {
    parse_exposition(&e.get("/metrics"))
        .into_iter()
        .find(|(k, _)| {
            k.name == "sysmon_anomaly_active"
                && k.labels.iter().any(|(n, v)| n == "rule" && v == rule)
                && k.labels.iter().any(|(n, v)| n == "subject" && v == subject)
        })
        .map(|(_, v)| v)
}

#[test]
fn rules_fire_clear_and_reach_the_feed() {
    let mut m = Machine::laptop();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sysmon.toml");
    std::fs::write(&config, RULES).unwrap();
    let state = dir.path().join("state");
    let e = start(&m, &config, &state);

    // CPU: idle at first, so the rule is evaluated and quiet.
    eventually(
        "cpu_high evaluated",
        || m.cpu_step(1, 100),
        || anomaly_active(&e, "cpu_high", "host") == Some(0.0),
    );
    // Drive every CPU to 100% busy.
    eventually(
        "cpu_high fires",
        || m.cpu_step(100, 0),
        || anomaly_active(&e, "cpu_high", "host") == Some(1.0),
    );
    let active = feed(&e, "?state=active&rule=cpu_high");
    assert_eq!(active.len(), 1, "{active:?}");
    let event = &active[0];
    assert_eq!(event["severity"], "critical");
    assert_eq!(event["category"], "cpu");
    assert_eq!(event["subject"], "host");
    assert!(event["value"].as_f64().unwrap() > 90.0);
    assert_eq!(event["threshold"], 90.0);
    assert!(event["resolved_at"].is_null());
    let id = event["id"].as_u64().unwrap();

    // Back to idle: the anomaly clears and the event is resolved.
    eventually(
        "cpu_high clears",
        || m.cpu_step(1, 100),
        || anomaly_active(&e, "cpu_high", "host") == Some(0.0),
    );
    let one: serde_json::Value =
        serde_json::from_str(&e.get(&format!("/api/v1/anomalies/{id}"))).unwrap();
    assert!(one["data"]["resolved_at"].is_string(), "{one}");

    // Heat the coretemp package sensor past 85 °C: one anomaly for that sensor only.
    let sensor = "platform_coretemp_0/temp1";
    m.write("sys/class/hwmon/hwmon3/temp1_input", "97000\n");
    eventually(
        "temperature fires",
        || {},
        || anomaly_active(&e, "temperature_high", sensor) == Some(1.0),
    );
    assert_eq!(
        anomaly_active(&e, "temperature_high", "platform_coretemp_0/temp2"),
        Some(0.0)
    );
    let hot = feed(&e, "?state=active&category=temperature");
    assert_eq!(hot.len(), 1, "{hot:?}");
    assert_eq!(hot[0]["subject"], sensor);
    assert_eq!(hot[0]["metrics"]["temperature_celsius"], 97.0);

    // A USB device times out: the port's anomaly fires at once.
    m.append_kmsg("usb 1-6: device descriptor read/64, error -110");
    eventually(
        "usb_timeout fires",
        || {},
        || anomaly_active(&e, "usb_timeout", "1-6") == Some(1.0),
    );
    let usb = feed(&e, "?rule=usb_timeout");
    assert_eq!(usb[0]["subject"], "1-6");
    assert_eq!(usb[0]["severity"], "critical");
    // No new timeouts for a second: it clears.
    eventually(
        "usb_timeout clears",
        || {},
        || anomaly_active(&e, "usb_timeout", "1-6") == Some(0.0),
    );

    // Newest first, and severity is a minimum.
    let all = feed(&e, "?state=all&severity=critical");
    let starts: Vec<&str> = all
        .iter()
        .map(|ev| ev["started_at"].as_str().unwrap())
        .collect();
    let mut sorted = starts.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(starts, sorted);
    assert!(all.iter().all(|ev| ev["severity"] == "critical"));
}

#[test]
fn sighup_reloads_rules_and_keeps_them_on_a_bad_file() {
    let mut m = Machine::laptop();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sysmon.toml");
    std::fs::write(&config, RULES).unwrap();
    let e = start(&m, &config, &dir.path().join("state"));
    let reloaded = |e: &Running| {
        parse_exposition(&e.get("/metrics"))
            .into_iter()
            .find(|(k, _)| k.name == "sysmon_config_last_reload_successful")
            .map(|(_, v)| v)
    };
    let hup = |e: &Running| {
        let pid = rustix::process::Pid::from_raw(e.child.id() as i32).unwrap();
        rustix::process::kill_process(pid, rustix::process::Signal::HUP).unwrap();
    };
    assert_eq!(reloaded(&e), Some(1.0));

    // A bad file: the old rules keep running and the metric says the reload failed.
    std::fs::write(&config, "[rules.cpu_high]\nthreshold = 500.0\n").unwrap();
    hup(&e);
    eventually("reload fails", || {}, || reloaded(&e) == Some(0.0));
    let threshold = |e: &Running| {
        parse_exposition(&e.get("/metrics"))
            .into_iter()
            .find(|(k, _)| {
                k.name == "sysmon_anomaly_threshold"
                    && k.labels.iter().any(|(_, v)| v == "cpu_high")
            })
            .map(|(_, v)| v)
    };
    eventually(
        "cpu_high evaluated",
        || m.cpu_step(1, 100),
        || threshold(&e).is_some(),
    );
    assert_eq!(threshold(&e), Some(90.0));

    // A good file: the new threshold applies.
    std::fs::write(&config, "[rules.cpu_high]\nthreshold = 50.0\n").unwrap();
    hup(&e);
    eventually(
        "reload succeeds",
        || m.cpu_step(1, 100),
        || reloaded(&e) == Some(1.0) && threshold(&e) == Some(50.0),
    );
}

#[test]
fn events_survive_sigkill_and_active_anomalies_resume() {
    let mut m = Machine::laptop();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sysmon.toml");
    std::fs::write(&config, RULES).unwrap();
    let state = dir.path().join("state");
    let mut e = start(&m, &config, &state);
    eventually(
        "cpu_high fires",
        || m.cpu_step(100, 0),
        || anomaly_active(&e, "cpu_high", "host") == Some(1.0),
    );
    let before = feed(&e, "?state=all");
    assert!(!before.is_empty());
    e.child.kill().unwrap(); // SIGKILL
    e.child.wait().unwrap();
    drop(e);

    let e = start(&m, &config, &state);
    let after = feed(&e, "?state=all");
    for ev in &before {
        assert!(
            after.iter().any(|a| a["id"] == ev["id"]),
            "event {} lost across SIGKILL",
            ev["id"]
        );
    }
    // The CPU anomaly was active at the kill: it is adopted, not duplicated, and resolves once idle.
    let open: Vec<_> = after
        .iter()
        .filter(|a| a["rule"] == "cpu_high" && a["resolved_at"].is_null())
        .collect();
    assert_eq!(open.len(), 1, "{after:?}");
    let id = open[0]["id"].clone();
    eventually(
        "adopted anomaly resolves",
        || m.cpu_step(1, 100),
        || {
            feed(&e, "?rule=cpu_high")
                .iter()
                .any(|a| a["id"] == id && a["resolved_at"].is_string())
        },
    );
    let max_before = before
        .iter()
        .map(|ev| ev["id"].as_u64().unwrap())
        .max()
        .unwrap();
    m.cpu_step(0, 0);
    // New events are numbered after the journal's.
    eventually(
        "a new event",
        || m.cpu_step(100, 0),
        || {
            feed(&e, "?state=active&rule=cpu_high")
                .iter()
                .any(|a| a["id"].as_u64().unwrap() > max_before)
        },
    );
}

/// A GET that may fail: (status, body as JSON).
fn get_json(e: &Running, path: &str) -> (u16, serde_json::Value) {
    let (status, body) = match ureq::get(&e.url(path)).call() {
        Ok(r) => (r.status(), r.into_string().unwrap()),
        Err(ureq::Error::Status(code, r)) => (code, r.into_string().unwrap()),
        Err(err) => panic!("GET {path}: {err}"),
    };
    let json = serde_json::from_str(&body).unwrap_or_else(|_| panic!("{path}: not JSON: {body}"));
    (status, json)
}

fn score(e: &Running, rule: &str) -> Option<f64> {
    parse_exposition(&e.get("/metrics"))
        .into_iter()
        .find(|(k, _)| {
            k.name == "sysmon_anomaly_score"
                && k.labels.iter().any(|(n, v)| n == "rule" && v == rule)
        })
        .map(|(_, v)| v)
}

/// Memory of the laptop made anomalous while its other signals stay as they are: the ranking puts
/// memory first, with its peak inside the range, and `sysmon_anomaly_score` carries the scores.
#[test]
fn rank_puts_the_anomalous_signal_first() {
    let mut m = Machine::laptop();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sysmon.toml");
    // One-second periods and a ten-second warm-up, so the detectors judge within seconds of
    // 100 ms samples (no time-of-day band: the test lasts seconds, not days).
    std::fs::write(
        &config,
        "[rules.adaptive.detector]\nperiod = \"1s\"\nwarmup = \"5s\"\nrecent_window = \"10s\"\n\
         baseline_window = \"1h\"\nnoise_window = \"1h\"\nseason_slot = \"1s\"\nseason_days = 0\n",
    )
    .unwrap();
    let state = dir.path().join("state");
    let e = start(&m, &config, &state);
    let meminfo = std::fs::read_to_string(m.root.join("proc/meminfo")).unwrap();
    let set_used = |m: &Machine, percent: f64| {
        let total = 16_065_520.0;
        let available = (total * (1.0 - percent / 100.0)) as u64;
        let text: String = meminfo
            .lines()
            .map(|l| {
                if l.starts_with("MemAvailable:") {
                    format!("MemAvailable:   {available} kB\n")
                } else {
                    format!("{l}\n")
                }
            })
            .collect();
        // In place, as the kernel's files are: the exporter keeps /proc/meminfo open.
        std::fs::write(m.root.join("proc/meminfo"), text).unwrap();
    };
    let started = chrono::Utc::now();
    // Quiet memory with a little noise until the detectors are well past their warm-up (the
    // ranking counts the samples scored).
    let mut i = 0u32;
    eventually(
        "adaptive_memory warmed up",
        || {
            i += 1;
            set_used(&m, 40.0 + f64::from(i % 5) * 0.1);
            m.cpu_step(10, 90);
        },
        || {
            let (_, body) = get_json(&e, "/api/v1/anomalies/rank");
            body["data"]["signals"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s["rule"] == "adaptive_memory" && s["samples"].as_u64() > Some(30))
        },
    );
    assert!(score(&e, "adaptive_memory").is_some_and(|s| s < 1.0));
    // Memory jumps to 80% and stays: the detector's score passes its threshold.
    set_used(&m, 80.0);
    eventually(
        "adaptive_memory over its threshold",
        || m.cpu_step(10, 90),
        || score(&e, "adaptive_memory").is_some_and(|s| s > 1.0),
    );
    std::thread::sleep(std::time::Duration::from_millis(500));
    let until = chrono::Utc::now();
    let enc = |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339().replace('+', "%2B");
    let (status, body) = get_json(
        &e,
        &format!(
            "/api/v1/anomalies/rank?since={}&until={}",
            enc(started),
            enc(until)
        ),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "success");
    assert_eq!(body["data"]["resolution_seconds"], 60);
    let signals = body["data"]["signals"].as_array().unwrap();
    assert!(signals.len() >= 2, "{body}");
    let first = &signals[0];
    assert_eq!(
        (
            first["rule"].as_str(),
            first["category"].as_str(),
            first["subject"].as_str()
        ),
        (Some("adaptive_memory"), Some("memory"), Some("host")),
        "{body}"
    );
    assert!(first["anomalous_ratio"].as_f64().unwrap() > 0.0, "{first}");
    assert!(first["max_score"].as_f64().unwrap() > 1.0, "{first}");
    assert!(first["samples"].as_u64().unwrap() >= 10, "{first}");
    let peak: chrono::DateTime<chrono::Utc> = first["peak_at"].as_str().unwrap().parse().unwrap();
    assert!(
        peak >= started - chrono::TimeDelta::seconds(1) && peak <= until,
        "peak {peak} outside {started}..{until}"
    );
    // The CPU ran steadily: never over the threshold, so ranked after memory.
    let cpu = signals
        .iter()
        .find(|s| s["rule"] == "adaptive_cpu")
        .unwrap_or_else(|| panic!("adaptive_cpu not ranked: {body}"));
    assert_eq!(cpu["anomalous_ratio"], 0.0, "{cpu}");
    // The limit, and the defaults (the last hour up to now) cover the same samples.
    let (_, one) = get_json(&e, "/api/v1/anomalies/rank?limit=1");
    assert_eq!(one["data"]["signals"].as_array().unwrap().len(), 1, "{one}");
    assert_eq!(one["data"]["signals"][0]["rule"], "adaptive_memory");

    // Bad parameters: a 400 with a JSON error naming the parameter.
    for (query, want) in [
        ("since=yesterday", "since: expected an RFC 3339 time"),
        (
            "until=2026-13-01T00:00:00Z",
            "until: expected an RFC 3339 time",
        ),
        ("limit=0", "limit: expected an integer from 1 to 1000"),
        ("limit=5000", "limit: expected an integer from 1 to 1000"),
        (
            "state=active",
            "unknown parameter \"state\"; expected since, until or limit",
        ),
        (
            "limit=1&limit=2",
            "parameter \"limit\" is given more than once",
        ),
        (
            "since=2026-11-25T11:00:00Z&until=2026-11-25T10:00:00Z",
            "since: expected a time at or before until",
        ),
    ] {
        let (status, body) = get_json(&e, &format!("/api/v1/anomalies/rank?{query}"));
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["status"], "error", "{query}");
        assert!(
            body["error"].as_str().unwrap().contains(want),
            "{query}: {body}"
        );
    }
}
