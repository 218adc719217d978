//! End to end, on each backend of `deploy/stack.sh` (Prometheus; vmagent, victoria-metrics and
//! vmalert): a small fleet on loopback, run by `deploy/stack.sh` (the repository's rules,
//! Alertmanager with a copy of the repository's alertmanager.yml whose webhook points at a
//! receiver this test runs), three exporters on copies of the laptop, server and vm
//! fixture trees. One host's CPU is driven to 100 % through its fixture tree; the receiver must get
//! Alertmanager's notification of SysmonAnomaly for that host (severity critical, subject host,
//! rule cpu_high), and, once the CPU is idle again, the resolution.
//!
//! Kept from the repository: prometheus.yml (read by Prometheus or vmagent, adapted by stack.sh: addresses, 1 s scrape and
//! evaluation interval), every rule file as it is (SysmonAnomaly's `for: 30s` included), and
//! Alertmanager's routing, grouping, inhibition and receivers. Changed in the copies: the webhook
//! URL, and group_wait/group_interval shortened to 1 s so that the resolution does not wait for the
//! critical route's one-minute group interval.

mod native_stack;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use native_stack::{free_port, get, get_json, sysmon_targets, Backend, Proc, Stack};
use serde_json::Value as Json;
use serde_yaml_ng::Value as Yaml;
use sysmon_stack_tests::{exporter_binary, repo_root, tool};

/// A writable copy of a fixture machine whose CPU counters the test advances.
struct Machine {
    _dir: tempfile::TempDir,
    root: PathBuf,
    /// Lines of the original proc/stat that are not cpu lines.
    rest: Vec<String>,
    cpus: usize,
    /// Cumulative ticks written so far per CPU: (busy, idle).
    ticks: (u64, u64),
}

impl Machine {
    fn copy(name: &str) -> Machine {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join(name);
        let ok = Command::new("cp")
            .arg("-a")
            .arg(repo_root().join("exporter/tests/fixtures").join(name))
            .arg(&root)
            .status()
            .unwrap();
        assert!(ok.success(), "copy the {name} fixture");
        let stat = std::fs::read_to_string(root.join("proc/stat")).unwrap();
        let cpus = stat
            .lines()
            .filter(|l| l.starts_with("cpu") && !l.starts_with("cpu "))
            .count();
        let rest = stat
            .lines()
            .filter(|l| !l.starts_with("cpu"))
            .map(String::from)
            .collect();
        Machine {
            _dir: dir,
            root,
            rest,
            cpus,
            ticks: (1_000_000, 1_000_000),
        }
    }

    /// The exporter flags that read this machine.
    fn flags(&self) -> Vec<String> {
        let r = self.root.display();
        vec![
            format!("--path.procfs={r}/proc"),
            format!("--path.sysfs={r}/sys"),
            format!("--path.rootfs={r}/rootfs"),
            format!("--path.kmsg={r}/kmsg"),
        ]
    }

    /// Advances every CPU by `busy` user ticks and `idle` idle ticks; the file is replaced
    /// atomically, as the kernel's files never show a half-written state.
    fn cpu_step(&mut self, busy: u64, idle: u64) {
        self.ticks.0 += busy;
        self.ticks.1 += idle;
        let (b, i) = self.ticks;
        let n = self.cpus as u64;
        let mut out = format!("cpu  {} 0 0 {} 0 0 0 0 0 0\n", b * n, i * n);
        for cpu in 0..self.cpus {
            out.push_str(&format!("cpu{cpu} {b} 0 0 {i} 0 0 0 0 0 0\n"));
        }
        for line in &self.rest {
            out.push_str(line);
            out.push('\n');
        }
        let path = self.root.join("proc/stat");
        let tmp = self.root.join("proc/.stat.tmp");
        std::fs::write(&tmp, out).unwrap();
        std::fs::rename(&tmp, &path).unwrap();
    }
}

/// The exporters' rules: cpu_high starts and ends with the first sample past its threshold.
const EXPORTER_CONFIG: &str = r#"
[sampler]
interval = "500ms"
collector_timeout = "500ms"

[rules.cpu_high]
for = "0s"
clear_for = "0s"
"#;

/// An HTTP server taking Alertmanager's webhook POSTs; every JSON body goes to the channel.
fn webhook_receiver() -> (String, mpsc::Receiver<Json>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/alerts", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let tx = tx.clone();
            std::thread::spawn(move || {
                let _ = serve_webhook(stream, &tx);
            });
        }
    });
    (url, rx)
}

/// Reads HTTP/1.1 requests from one connection (Alertmanager keeps connections alive), answers
/// each with 200, and sends each body on.
fn serve_webhook(stream: std::net::TcpStream, tx: &mpsc::Sender<Json>) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line)? == 0 {
            return Ok(());
        }
        let mut length = None;
        loop {
            let mut header = String::new();
            reader.read_line(&mut header)?;
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((k, v)) = header.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse::<usize>().ok();
                }
            }
        }
        let length = length
            .unwrap_or_else(|| panic!("webhook request without Content-Length: {request_line}"));
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        assert!(
            request_line.starts_with("POST /alerts "),
            "unexpected request: {request_line}"
        );
        writer.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")?;
        let json: Json = serde_json::from_slice(&body)
            .unwrap_or_else(|e| panic!("webhook body is not JSON ({e}): {body:?}"));
        let _ = tx.send(json);
    }
}

/// A copy of alert-rules/alertmanager.yml for this test: every webhook URL replaced by `url`,
/// every route's group_wait and group_interval set to 1 s. Returns the copy's path and the
/// receiver the repository routes critical alerts to.
fn alertmanager_config(dir: &Path, url: &str) -> (PathBuf, String) {
    let source = repo_root().join("alert-rules/alertmanager.yml");
    let mut config: Yaml = serde_yaml_ng::from_str(&std::fs::read_to_string(&source).unwrap())
        .expect("alert-rules/alertmanager.yml is YAML");

    fn shorten(route: &mut Yaml) {
        let m = route.as_mapping_mut().unwrap();
        m.insert("group_wait".into(), "1s".into());
        m.insert("group_interval".into(), "1s".into());
        if let Some(children) = m.get_mut("routes").and_then(Yaml::as_sequence_mut) {
            children.iter_mut().for_each(shorten);
        }
    }
    shorten(&mut config["route"]);

    let mut replaced = 0;
    for receiver in config["receivers"].as_sequence_mut().unwrap() {
        let name = receiver["name"].as_str().unwrap_or_default().to_string();
        for (key, _) in receiver.as_mapping().unwrap().iter() {
            let key = key.as_str().unwrap_or_default();
            assert!(
                key == "name" || key == "webhook_configs",
                "receiver {name} has {key}: the default alertmanager.yml sends only to webhooks"
            );
        }
        if let Some(hooks) = receiver["webhook_configs"].as_sequence_mut() {
            for hook in hooks {
                hook["url"] = url.into();
                replaced += 1;
            }
        }
    }
    assert!(
        replaced > 0,
        "no webhook_configs url in {}",
        source.display()
    );

    // The receiver of critical alerts, as the repository's routing decides it.
    let critical =
        config["route"]["routes"]
            .as_sequence()
            .into_iter()
            .flatten()
            .find(|r| {
                r["matchers"].as_sequence().into_iter().flatten().any(|m| {
                    m.as_str().unwrap_or_default().replace(' ', "") == "severity=\"critical\""
                })
            })
            .and_then(|r| r["receiver"].as_str())
            .or_else(|| config["route"]["receiver"].as_str())
            .unwrap()
            .to_string();

    let path = dir.join("alertmanager.yml");
    std::fs::write(&path, serde_yaml_ng::to_string(&config).unwrap()).unwrap();
    let check = Command::new(tool("amtool", "prometheus-alertmanager"))
        .arg("check-config")
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "amtool check-config on the test's copy:\n{}",
        String::from_utf8_lossy(&check.stdout)
    );
    (path, critical)
}

/// An exporter started by the test on `machine`.
fn start_exporter(machine: &Machine, config: &Path) -> (Proc, String) {
    let port = free_port();
    let state = machine.root.parent().unwrap().join("state");
    let child = Command::new(exporter_binary())
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .args(machine.flags())
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.path={}", state.display()))
        .arg("--log.level=warn")
        .spawn()
        .expect("start sysmon-exporter");
    (Proc(child), format!("127.0.0.1:{port}"))
}

/// The SysmonAnomaly cpu_high alerts in a notification: (notification, alert).
fn cpu_high_alerts(notes: &[Json]) -> Vec<(&Json, &Json)> {
    notes
        .iter()
        .flat_map(|n| {
            n["alerts"]
                .as_array()
                .into_iter()
                .flatten()
                .map(move |a| (n, a))
        })
        .filter(|(_, a)| {
            a["labels"]["alertname"] == "SysmonAnomaly" && a["labels"]["rule"] == "cpu_high"
        })
        .collect()
}

fn summary(notes: &[Json]) -> String {
    notes
        .iter()
        .map(|n| {
            let alerts: Vec<String> = n["alerts"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|a| format!("{} {}", a["status"], a["labels"]))
                .collect();
            format!(
                "{} receiver={} groupKey={}\n    {}",
                n["status"],
                n["receiver"],
                n["groupKey"],
                alerts.join("\n    ")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn cpu_at_100_percent_reaches_the_webhook_and_resolves() {
    cpu_at_100_percent_end_to_end(Backend::Prometheus);
}

/// The same through vmagent -> victoria-metrics -> vmalert -> Alertmanager, on the same
/// prometheus.yml, rule files and alertmanager.yml.
#[test]
fn cpu_at_100_percent_reaches_the_webhook_and_resolves_on_victoriametrics() {
    cpu_at_100_percent_end_to_end(Backend::VictoriaMetrics);
}

fn cpu_at_100_percent_end_to_end(backend: Backend) {
    let started = Instant::now();
    let work = tempfile::tempdir().unwrap();
    let exporter_config = work.path().join("sysmon.toml");
    std::fs::write(&exporter_config, EXPORTER_CONFIG).unwrap();

    // The fleet: the laptop is the stack script's own exporter (and the one that gets hot); the
    // server and the vm are started here and given to the script as more targets.
    let mut laptop = Machine::copy("laptop");
    laptop.cpu_step(0, 0);
    let server = Machine::copy("server");
    let vm = Machine::copy("vm");
    let (_server_exporter, server_instance) = start_exporter(&server, &exporter_config);
    let (_vm_exporter, vm_instance) = start_exporter(&vm, &exporter_config);

    let (url, notifications) = webhook_receiver();
    let (am_config, critical_receiver) = alertmanager_config(work.path(), &url);

    let mut laptop_args = laptop.flags();
    laptop_args.push(format!("--config.file={}", exporter_config.display()));
    let stack = Stack::with_backend(
        backend,
        &[
            ("SYSMON_STACK_SCRAPE_INTERVAL", "1s".into()),
            ("SYSMON_STACK_EVALUATION_INTERVAL", "1s".into()),
            ("SYSMON_STACK_EXPORTER_ARGS", laptop_args.join(" ")),
            (
                "SYSMON_STACK_TARGETS",
                format!("{server_instance} {vm_instance}"),
            ),
            (
                "SYSMON_STACK_ALERTMANAGER_CONFIG",
                am_config.display().to_string(),
            ),
            ("SYSMON_STACK_GRAFANA", "no".into()),
        ],
    );
    stack.up();
    let laptop_instance = format!("127.0.0.1:{}", stack.ports.exporter);
    let prom = stack.query_url();
    let scraper = stack.scraper_url();
    let evaluator = stack.evaluator_url();

    // Everything notified, in order of arrival.
    let mut received: Vec<Json> = Vec::new();
    let wait_for = |what: &str,
                    timeout: Duration,
                    step: &mut dyn FnMut(),
                    done: &dyn Fn(&[Json]) -> bool,
                    received: &mut Vec<Json>| {
        let deadline = Instant::now() + timeout;
        loop {
            step();
            while let Ok(n) = notifications.try_recv() {
                received.push(n);
            }
            if done(received) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "timed out after {}s waiting for {what} ({} backend)\nnotifications so far:\n{}\nalerts in the evaluator: {}\nlogs:\n{}",
                timeout.as_secs(),
                backend.name(),
                summary(received),
                get(&format!("{evaluator}/api/v1/alerts")).map(|r| r.1).unwrap_or_default(),
                stack.logs()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    };

    // The three hosts are scraped, and the laptop's cpu_high is evaluated and quiet.
    let expected_instances = [&laptop_instance, &server_instance, &vm_instance];
    wait_for(
        "the three exporters up in the scraper and cpu_high quiet on the laptop",
        Duration::from_secs(40),
        &mut || laptop.cpu_step(1, 100),
        &|_| {
            let targets = sysmon_targets(&scraper);
            let all_up = expected_instances
                .iter()
                .all(|i| targets.contains(&((*i).clone(), "up".into())));
            let q = get_json(&format!(
                "{prom}/api/v1/query?query=sysmon_anomaly_active%7Brule%3D%22cpu_high%22%7D"
            ));
            let quiet = q["data"]["result"].as_array().unwrap().iter().any(|r| {
                r["metric"]["instance"] == laptop_instance.as_str() && r["value"][1] == "0"
            });
            all_up && quiet
        },
        &mut received,
    );

    // 100 % CPU on the laptop until Alertmanager notifies.
    let firing = |notes: &[Json]| -> bool {
        cpu_high_alerts(notes).iter().any(|(n, a)| {
            n["status"] == "firing"
                && a["status"] == "firing"
                && a["labels"]["instance"] == laptop_instance.as_str()
        })
    };
    wait_for(
        "SysmonAnomaly (cpu_high) firing for the laptop at the webhook",
        Duration::from_secs(90),
        &mut || laptop.cpu_step(100, 0),
        &firing,
        &mut received,
    );
    let (note, alert) = cpu_high_alerts(&received)
        .into_iter()
        .find(|(n, a)| {
            n["status"] == "firing" && a["labels"]["instance"] == laptop_instance.as_str()
        })
        .map(|(n, a)| (n.clone(), a.clone()))
        .unwrap();
    let labels = &alert["labels"];
    assert_eq!(labels["alertname"], "SysmonAnomaly");
    assert_eq!(labels["instance"], laptop_instance.as_str());
    assert_eq!(labels["job"], "sysmon");
    assert_eq!(labels["severity"], "critical");
    assert_eq!(labels["subject"], "host");
    assert_eq!(labels["category"], "cpu");
    assert_eq!(labels["rule"], "cpu_high");
    assert_eq!(
        note["receiver"],
        critical_receiver.as_str(),
        "routed by severity"
    );
    assert_eq!(note["version"], "4", "Alertmanager's webhook format");
    let description = alert["annotations"]["description"].as_str().unwrap_or("");
    assert!(
        description.contains("cpu_high") && description.contains(&laptop_instance),
        "description: {description:?}"
    );
    assert!(
        !alert["annotations"]["summary"]
            .as_str()
            .unwrap_or("")
            .is_empty(),
        "summary"
    );
    let fingerprint = alert["fingerprint"].as_str().unwrap().to_string();

    // Idle again: the exporter clears cpu_high, Prometheus (vmalert) resolves the alert, Alertmanager
    // notifies the resolution.
    wait_for(
        "the resolution of SysmonAnomaly (cpu_high) for the laptop at the webhook",
        Duration::from_secs(60),
        &mut || laptop.cpu_step(1, 100),
        &|notes| {
            cpu_high_alerts(notes)
                .iter()
                .any(|(_, a)| a["fingerprint"] == fingerprint.as_str() && a["status"] == "resolved")
        },
        &mut received,
    );
    let (note, resolved) = cpu_high_alerts(&received)
        .into_iter()
        .find(|(_, a)| a["fingerprint"] == fingerprint.as_str() && a["status"] == "resolved")
        .unwrap();
    assert_eq!(resolved["labels"], *labels, "the same alert resolved");
    assert_eq!(note["receiver"], critical_receiver.as_str());
    assert_ne!(
        resolved["endsAt"]
            .as_str()
            .unwrap_or("0001-01-01T00:00:00Z"),
        "0001-01-01T00:00:00Z",
        "a resolved alert has an end time"
    );

    // Only the laptop was hot: no cpu_high alert for the server or the vm.
    let others: Vec<String> = cpu_high_alerts(&received)
        .iter()
        .filter(|(_, a)| a["labels"]["instance"] != laptop_instance.as_str())
        .map(|(_, a)| a["labels"].to_string())
        .collect();
    assert!(others.is_empty(), "cpu_high for idle hosts: {others:?}");

    drop(stack);
    eprintln!(
        "end to end on {}: {} notifications in {:.0?}",
        backend.name(),
        received.len(),
        started.elapsed()
    );
}
