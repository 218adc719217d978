//! The Prometheus configuration, the alert and recording rules and the Alertmanager
//! configurations, checked with the real `promtool`, `amtool` and `alertmanager` binaries:
//!
//! * `promtool check config` on prometheus.yml and remote-write.example.yml, in the repository
//!   layout and in the layout the compose file mounts, with the example fleet file uncommented;
//! * `promtool check rules` and `promtool test rules`, and that every alert has a test that makes
//!   it fire and one that keeps it quiet, summary/description/runbook annotations and a runbook
//!   section in alert-rules/README.md; every recording rule has a value test;
//! * `amtool check-config` on the three Alertmanager files, `amtool config routes test` for the
//!   receiver each severity reaches, the example receivers' templates rendered by
//!   `amtool template render`, and inhibition in a running Alertmanager.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_yaml_ng::Value;
use sysmon_stack_tests::{repo_root, tool};

/// The alerts every part of the stack agreed on (names fixed in the design), in file order.
const ALERTS: [&str; 28] = [
    "SysmonAnomaly",
    "SysmonExporterDown",
    "SysmonCollectorFailing",
    "SysmonFilesystemFillingIn24h",
    "SysmonFilesystemFillingIn4h",
    "SysmonTemperatureNearCritical",
    "SysmonUsbErrorsRising",
    "SysmonConntrackTableNearlyFull",
    "SysmonFileDescriptorsNearLimit",
    "SysmonClockNotSynchronising",
    "SysmonClockSkew",
    "SysmonMajorPageFaultsHigh",
    "SysmonTextfileScrapeError",
    "SysmonNetworkReceiveErrors",
    "SysmonNetworkTransmitErrors",
    "SysmonRaidArrayDegraded",
    "SysmonRaidDiskFailed",
    "SysmonRaidArrayInactive",
    "SysmonBondDegraded",
    "SysmonEdacUncorrectableErrors",
    "SysmonEdacCorrectableErrorsRising",
    "SysmonNvmeControllerNotLive",
    "SysmonZfsPoolNotOnline",
    "SysmonPowerSupplyBatteryLow",
    "SysmonPowerSupplyUnhealthy",
    "SysmonProcessFileDescriptorsNearLimit",
    "SysmonProcessFileDescriptorsExhausted",
    "SysmonProcessMemoryGrowth",
];

/// The recording rules the dashboards and sysmon-top use.
const RECORDS: [&str; 12] = [
    "instance:node_cpu_utilisation:rate5m",
    "instance:node_load1_per_cpu:ratio",
    "instance:node_memory_utilisation:ratio",
    "instance:node_swap_utilisation:ratio",
    "instance_device:node_disk_io_time_seconds:rate5m",
    "instance:node_disk_read_write_bytes:rate5m",
    "instance:node_network_receive_bytes_excluding_lo:rate5m",
    "instance:node_network_transmit_bytes_excluding_lo:rate5m",
    "instance:node_filesystem_utilisation:max_ratio",
    "instance:node_hwmon_temp_celsius:max",
    "instance:sysmon_usb_errors:rate5m",
    "instance:sysmon_anomaly_active:sum",
];

/// The placeholder webhook of alert-rules/alertmanager.yml (the line other tests substitute).
const WEBHOOK_URL: &str = "http://127.0.0.1:5001/";

// ---------------------------------------------------------------------------------------------
// Running tools

struct Output {
    success: bool,
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Output {
    fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// Runs a command to completion within `limit`, collecting its output; kills it and fails the
/// test when it takes longer.
fn run(cmd: &mut Command, limit: Duration) -> Output {
    let what = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_reader = thread::spawn(move || {
        let mut s = String::new();
        out.read_to_string(&mut s).ok();
        s
    });
    let err_reader = thread::spawn(move || {
        let mut s = String::new();
        err.read_to_string(&mut s).ok();
        s
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for a child") {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().ok();
            child.wait().ok();
            panic!("{what} did not finish within {limit:?}");
        }
        thread::sleep(Duration::from_millis(20));
    };
    Output {
        success: status.success(),
        code: status.code(),
        stdout: out_reader.join().unwrap(),
        stderr: err_reader.join().unwrap(),
    }
}

fn promtool() -> PathBuf {
    tool("promtool", "prometheus")
}

fn amtool() -> PathBuf {
    tool("amtool", "prometheus-alertmanager")
}

const TOOL_LIMIT: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------------
// Files

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn yaml(path: &Path) -> Value {
    serde_yaml_ng::from_str(&read(path))
        .unwrap_or_else(|e| panic!("{} is not valid YAML: {e}", path.display()))
}

fn get<'a>(v: &'a Value, key: &str) -> &'a Value {
    v.get(key).unwrap_or(&Value::Null)
}

fn strings(v: &Value) -> Vec<String> {
    v.as_sequence()
        .map(|s| {
            s.iter()
                .map(|x| x.as_str().expect("a string").to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[derive(Deserialize)]
struct RuleFile {
    groups: Vec<RuleGroup>,
}

#[derive(Deserialize)]
struct RuleGroup {
    name: String,
    rules: Vec<Rule>,
}

#[derive(Deserialize)]
struct Rule {
    record: Option<String>,
    alert: Option<String>,
    expr: String,
    #[serde(rename = "for")]
    for_: Option<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct TestFile {
    rule_files: Vec<String>,
    tests: Vec<TestGroup>,
}

#[derive(Deserialize)]
struct TestGroup {
    name: String,
    #[serde(default)]
    alert_rule_test: Vec<AlertTest>,
    #[serde(default)]
    promql_expr_test: Vec<ExprTest>,
}

#[derive(Deserialize)]
struct AlertTest {
    alertname: String,
    #[serde(default)]
    exp_alerts: Vec<ExpAlert>,
}

#[derive(Deserialize)]
struct ExpAlert {
    #[serde(default)]
    exp_labels: BTreeMap<String, String>,
    #[serde(default)]
    exp_annotations: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct ExprTest {
    expr: String,
    #[serde(default)]
    exp_samples: Vec<Value>,
}

fn rules_path() -> PathBuf {
    repo_root().join("alert-rules/sysmon.rules.yml")
}

fn rule_file() -> RuleFile {
    let path = rules_path();
    serde_yaml_ng::from_str(&read(&path))
        .unwrap_or_else(|e| panic!("{}: not a rule file: {e}", path.display()))
}

fn alerts() -> Vec<Rule> {
    rule_file()
        .groups
        .into_iter()
        .flat_map(|g| g.rules)
        .filter(|r| r.alert.is_some())
        .collect()
}

/// alert-rules/tests/*.yml, sorted.
fn test_files() -> Vec<PathBuf> {
    let dir = repo_root().join("alert-rules/tests");
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no tests in {}", dir.display());
    files
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            fs::copy(e.path(), &target).unwrap();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Prometheus configuration

fn check_config(config: &Path) -> Output {
    run(
        Command::new(promtool())
            .arg("check")
            .arg("config")
            .arg(config),
        TOOL_LIMIT,
    )
}

/// How many rules sysmon.rules.yml holds: what `promtool check config` must report loading.
fn rule_count() -> usize {
    rule_file().groups.iter().map(|g| g.rules.len()).sum()
}

fn assert_config_loads_rules(config: &Path, rules: &Path) {
    let out = check_config(config);
    let text = out.all();
    assert!(
        out.success,
        "promtool check config {} failed:\n{text}",
        config.display()
    );
    assert!(
        text.contains("SUCCESS: 1 rule files found"),
        "{}: the rule_files glob must find exactly alert-rules/sysmon.rules.yml:\n{text}",
        config.display()
    );
    let checking = format!("Checking {}", rules.display());
    assert!(
        text.contains(&checking),
        "{}: expected `{checking}` (rule_files resolved next to the config folder):\n{text}",
        config.display()
    );
    let found = format!("SUCCESS: {} rules found", rule_count());
    assert!(text.contains(&found), "expected `{found}`:\n{text}");
}

#[test]
fn prometheus_config_is_valid_and_loads_the_rules_from_the_repository() {
    let root = repo_root();
    assert_config_loads_rules(
        &root.join("prometheus/prometheus.yml"),
        &root.join("alert-rules/sysmon.rules.yml"),
    );
}

#[test]
fn prometheus_config_has_the_agreed_scrape_rules_and_alerting_settings() {
    let cfg = yaml(&repo_root().join("prometheus/prometheus.yml"));
    let global = get(&cfg, "global");
    // Grafana's datasource timeInterval is 15s: the two must agree.
    assert_eq!(get(global, "scrape_interval").as_str(), Some("15s"));
    assert_eq!(get(global, "evaluation_interval").as_str(), Some("15s"));
    assert_eq!(
        strings(get(&cfg, "rule_files")),
        ["../alert-rules/*.rules.yml"]
    );
    let ams = get(get(&cfg, "alerting"), "alertmanagers")
        .as_sequence()
        .expect("alerting.alertmanagers");
    assert_eq!(ams.len(), 1);
    let am_targets = strings(get(&get(&ams[0], "static_configs")[0], "targets"));
    assert_eq!(am_targets, ["localhost:9093"]);

    let jobs = get(&cfg, "scrape_configs").as_sequence().unwrap();
    let names: Vec<&str> = jobs
        .iter()
        .map(|j| get(j, "job_name").as_str().unwrap())
        .collect();
    assert_eq!(names, ["sysmon"], "one job, named sysmon");
    let job = &jobs[0];
    let statics = get(job, "static_configs").as_sequence().unwrap();
    assert_eq!(statics.len(), 1);
    assert_eq!(strings(get(&statics[0], "targets")), ["localhost:10101"]);
    let sd = get(job, "file_sd_configs").as_sequence().unwrap();
    assert_eq!(sd.len(), 1);
    assert_eq!(strings(get(&sd[0], "files")), ["targets/*.yml"]);
    // Retention is a flag of the compose file and the stack script, not a config setting.
    assert!(get(&cfg, "storage").get("tsdb").is_none());
}

#[test]
fn prometheus_config_works_in_the_compose_layout_with_the_example_fleet() {
    // docker-compose.yml mounts ./prometheus at /etc/prometheus and ./alert-rules at
    // /etc/alert-rules: rebuild that layout and check it, with the example fleet uncommented.
    let root = repo_root();
    let tmp = tempfile::tempdir().unwrap();
    let etc = tmp.path().join("etc");
    copy_dir(&root.join("prometheus"), &etc.join("prometheus"));
    copy_dir(&root.join("alert-rules"), &etc.join("alert-rules"));
    let config = etc.join("prometheus/prometheus.yml");
    assert_config_loads_rules(&config, &etc.join("alert-rules/sysmon.rules.yml"));

    // The shipped example file adds no target.
    let example_path = root.join("prometheus/targets/example-fleet.yml");
    let example = read(&example_path);
    let shipped: Vec<Value> = serde_yaml_ng::from_str(&example).unwrap();
    assert!(
        shipped.is_empty(),
        "{} must ship as an empty list, or Prometheus scrapes hosts that do not exist",
        example_path.display()
    );

    // Its commented example, uncommented, is a valid file_sd file.
    let begin = example
        .find("# --- example begins ---\n")
        .expect("example begin marker");
    let end = example
        .find("# --- example ends ---")
        .expect("example end marker");
    let body = &example[begin + "# --- example begins ---\n".len()..end];
    let uncommented: String = body
        .lines()
        .map(|l| {
            let l = l
                .strip_prefix('#')
                .unwrap_or_else(|| panic!("not commented: {l}"));
            format!("{}\n", l.strip_prefix(' ').unwrap_or(l))
        })
        .collect();
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct TargetGroup {
        targets: Vec<String>,
        #[serde(default)]
        labels: BTreeMap<String, String>,
    }
    let groups: Vec<TargetGroup> = serde_yaml_ng::from_str(&uncommented)
        .unwrap_or_else(|e| panic!("uncommented example:\n{uncommented}\n{e}"));
    assert_eq!(groups.len(), 2);
    for g in &groups {
        for t in &g.targets {
            assert!(t.ends_with(":10101"), "{t}: the exporter's port is 10101");
        }
        for name in g.labels.keys() {
            assert!(
                !["severity", "category", "subject", "rule", "instance", "job"]
                    .contains(&name.as_str()),
                "{name}: a label the alerts and routing rely on"
            );
        }
    }
    let fleet = etc.join("prometheus/targets/fleet.yml");
    fs::write(&fleet, &uncommented).unwrap();
    let out = check_config(&config);
    assert!(
        out.success,
        "promtool check config with the uncommented example fleet:\n{}",
        out.all()
    );

    // promtool does read file_sd files: a broken one fails the same check.
    fs::write(&fleet, uncommented.replace("labels:", "lables:")).unwrap();
    let out = check_config(&config);
    assert!(!out.success, "a broken targets file must fail the check");
    assert!(
        out.all().contains("field lables not found"),
        "unexpected error for a broken targets file:\n{}",
        out.all()
    );
}

#[test]
fn remote_write_example_is_valid_and_in_step_with_prometheus_yml() {
    let root = repo_root();
    assert_config_loads_rules(
        &root.join("prometheus/remote-write.example.yml"),
        &root.join("alert-rules/sysmon.rules.yml"),
    );
    let main = yaml(&root.join("prometheus/prometheus.yml"));
    let example = yaml(&root.join("prometheus/remote-write.example.yml"));
    for key in ["rule_files", "alerting", "scrape_configs"] {
        assert_eq!(
            get(&main, key),
            get(&example, key),
            "remote-write.example.yml: `{key}` differs from prometheus.yml"
        );
    }
    for key in ["scrape_interval", "evaluation_interval", "scrape_timeout"] {
        assert_eq!(
            get(get(&main, "global"), key),
            get(get(&example, "global"), key),
            "remote-write.example.yml: global.{key} differs from prometheus.yml"
        );
    }
    assert!(
        get(get(&example, "global"), "external_labels").is_mapping(),
        "a store fed by several Prometheus servers needs external_labels"
    );
    let rw = get(&example, "remote_write").as_sequence().unwrap();
    assert_eq!(rw.len(), 1);
    let url = get(&rw[0], "url").as_str().unwrap();
    assert!(
        url.starts_with("http") && url.ends_with("/api/v1/write"),
        "{url}"
    );
}

// ---------------------------------------------------------------------------------------------
// Rules

#[test]
fn rules_are_valid() {
    let out = run(
        Command::new(promtool())
            .args(["check", "rules"])
            .arg(rules_path()),
        TOOL_LIMIT,
    );
    assert!(out.success, "promtool check rules:\n{}", out.all());
    let found = format!("SUCCESS: {} rules found", rule_count());
    assert!(out.all().contains(&found), "{}", out.all());
}

#[test]
fn rule_unit_tests_pass() {
    let files = test_files();
    let out = run(
        Command::new(promtool())
            .args(["test", "rules"])
            .args(&files)
            .current_dir(repo_root()),
        Duration::from_secs(90),
    );
    let text = out.all();
    assert!(out.success, "promtool test rules:\n{text}");
    assert!(!text.contains("FAILED"), "{text}");
    assert_eq!(
        text.matches("  SUCCESS").count(),
        files.len(),
        "one SUCCESS per test file:\n{text}"
    );
}

#[test]
fn rule_groups_and_recording_rules_are_the_agreed_ones() {
    let file = rule_file();
    let groups: Vec<&str> = file.groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(groups, ["sysmon-recording", "sysmon-alerts"]);
    let records: BTreeSet<&str> = file.groups[0]
        .rules
        .iter()
        .map(|r| {
            r.record
                .as_deref()
                .expect("only recording rules in sysmon-recording")
        })
        .collect();
    let expected: BTreeSet<&str> = RECORDS.into_iter().collect();
    assert_eq!(records, expected);
    let alerts: Vec<&str> = file.groups[1]
        .rules
        .iter()
        .map(|r| r.alert.as_deref().expect("only alerts in sysmon-alerts"))
        .collect();
    assert_eq!(alerts, ALERTS);
    // Recording rules keep job and any target labels: they aggregate with `without`, never
    // `by`, and name no job.
    for r in &file.groups[0].rules {
        assert!(
            !r.expr.contains(" by ") && !r.expr.contains(" by("),
            "{:?}: aggregate with without(...)",
            r.record
        );
        assert!(!r.expr.contains("job="), "{:?}: names a job", r.record);
    }
}

#[test]
fn every_recording_rule_has_a_value_test() {
    let mut tested: BTreeSet<String> = BTreeSet::new();
    for path in test_files() {
        let file: TestFile = serde_yaml_ng::from_str(&read(&path))
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for group in &file.tests {
            for t in &group.promql_expr_test {
                assert!(
                    !t.exp_samples.is_empty(),
                    "{}: `{}` in `{}` expects no samples",
                    path.display(),
                    t.expr,
                    group.name
                );
                tested.insert(t.expr.trim().to_string());
            }
        }
    }
    for record in RECORDS {
        assert!(
            tested.contains(record),
            "recording rule {record} has no promql_expr_test"
        );
    }
}

#[test]
fn every_alert_has_a_firing_test_and_a_quiet_test() {
    let mut firing: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut quiet: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut loaded: BTreeSet<PathBuf> = BTreeSet::new();
    for path in test_files() {
        let file: TestFile = serde_yaml_ng::from_str(&read(&path))
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for rf in &file.rule_files {
            let p = path.parent().unwrap().join(rf);
            loaded.insert(p.canonicalize().unwrap_or(p));
        }
        for group in &file.tests {
            // A quiet test is a scenario in which the alert never fires: every check of it in
            // the group expects nothing (a check during a firing scenario's pending phase does
            // not count).
            let checked: BTreeSet<&str> = group
                .alert_rule_test
                .iter()
                .map(|t| t.alertname.as_str())
                .collect();
            for alert in checked {
                let silent = group
                    .alert_rule_test
                    .iter()
                    .filter(|t| t.alertname == alert)
                    .all(|t| t.exp_alerts.is_empty());
                if silent {
                    quiet
                        .entry(alert.to_string())
                        .or_default()
                        .push(group.name.clone());
                }
            }
            for t in &group.alert_rule_test {
                assert!(
                    ALERTS.contains(&t.alertname.as_str()),
                    "{}: test `{}` names an unknown alert {}",
                    path.display(),
                    group.name,
                    t.alertname
                );
                if !t.exp_alerts.is_empty() {
                    firing
                        .entry(t.alertname.clone())
                        .or_default()
                        .push(group.name.clone());
                }
                for exp in &t.exp_alerts {
                    // Firing tests pin the whole notification: labels and every annotation.
                    assert!(
                        exp.exp_labels.contains_key("severity"),
                        "{}: `{}` expects {} without its severity",
                        path.display(),
                        group.name,
                        t.alertname
                    );
                    for a in ["summary", "description", "runbook_url"] {
                        assert!(
                            exp.exp_annotations.contains_key(a),
                            "{}: `{}` expects {} without its {a}",
                            path.display(),
                            group.name,
                            t.alertname
                        );
                    }
                }
            }
        }
    }
    assert!(
        loaded.contains(&rules_path().canonicalize().unwrap()),
        "no test file loads alert-rules/sysmon.rules.yml"
    );
    for alert in ALERTS {
        assert!(
            firing.contains_key(alert),
            "{alert} has no test that makes it fire (an alert_rule_test with exp_alerts)"
        );
        assert!(
            quiet.contains_key(alert),
            "{alert} has no test that keeps it quiet (a test group whose every check of it \
             expects exp_alerts: [])"
        );
    }
}

#[test]
fn every_alert_has_severity_annotations_and_a_runbook_section() {
    let readme_path = repo_root().join("alert-rules/README.md");
    let readme = read(&readme_path);
    for rule in alerts() {
        let name = rule.alert.as_deref().unwrap();
        assert!(
            rule.for_.is_some(),
            "{name}: no `for`: one scrape would page"
        );
        // The alerts on the exporter's anomaly rules (SysmonAnomaly, and SysmonProcessMemoryGrowth
        // for the one rule SysmonAnomaly leaves out) keep the severity the exporter's rule gives;
        // the others set theirs.
        if name == "SysmonAnomaly" || name == "SysmonProcessMemoryGrowth" {
            assert!(
                !rule.labels.contains_key("severity")
                    && !rule.labels.contains_key("category")
                    && !rule.labels.contains_key("subject"),
                "{name} must keep the series' own severity, category and subject"
            );
        }
        if name == "SysmonAnomaly" {
            assert!(rule
                .expr
                .contains(r#"sysmon_anomaly_active{rule!="process_memory_growth"} == 1"#));
        } else if name == "SysmonProcessMemoryGrowth" {
            assert!(rule
                .expr
                .contains(r#"sysmon_anomaly_active{rule="process_memory_growth"} == 1"#));
        } else {
            let severity = rule.labels.get("severity").map(String::as_str);
            assert!(
                matches!(severity, Some("critical" | "warning" | "info")),
                "{name}: severity {severity:?}"
            );
            assert!(
                rule.labels.contains_key("category"),
                "{name}: no category label (inhibition matches on it)"
            );
        }
        for a in ["summary", "description"] {
            let text = rule
                .annotations
                .get(a)
                .unwrap_or_else(|| panic!("{name}: no {a} annotation"));
            assert!(text.len() > 20, "{name}: {a} too short: {text}");
        }
        assert!(
            rule.annotations["description"].contains("$value"),
            "{name}: the description must give the value"
        );
        let anchor = name.to_lowercase();
        assert_eq!(
            rule.annotations.get("runbook_url").map(String::as_str),
            Some(format!("alert-rules/README.md#{anchor}").as_str()),
            "{name}: runbook_url"
        );
        // The runbook section: a level-2 heading with the alert's name (GitHub makes the anchor
        // from it), with what it means, its labels, how to investigate and how to fix.
        let heading = format!("\n## {name}\n");
        let start = readme
            .find(&heading)
            .unwrap_or_else(|| panic!("{}: no `## {name}` section", readme_path.display()));
        let rest = &readme[start + heading.len()..];
        let section = &rest[..rest.find("\n## ").unwrap_or(rest.len())];
        for part in ["**Means:**", "**Labels:**", "**Investigate:**", "**Fix:**"] {
            assert!(
                section.contains(part),
                "{}: section {name} has no {part}",
                readme_path.display()
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Alertmanager

fn am_config(name: &str) -> PathBuf {
    repo_root().join("alert-rules").join(name)
}

const AM_CONFIGS: [&str; 3] = [
    "alertmanager.yml",
    "alertmanager-examples/email.yml",
    "alertmanager-examples/chat.yml",
];

#[test]
fn alertmanager_configs_are_valid() {
    for name in AM_CONFIGS {
        let out = run(
            Command::new(amtool())
                .arg("check-config")
                .arg(am_config(name)),
            TOOL_LIMIT,
        );
        let text = out.all();
        assert!(out.success, "amtool check-config {name}:\n{text}");
        assert!(text.contains("SUCCESS"), "{text}");
        assert!(text.contains(" - 1 inhibit rules"), "{name}:\n{text}");
    }
}

/// The receiver `amtool config routes test` resolves for the labels, asserted both with
/// `--verify.receivers` (exit status) and by the printed name.
fn assert_route(config: &str, labels: &[&str], receiver: &str) {
    let out = run(
        Command::new(amtool())
            .args(["config", "routes", "test"])
            .arg(format!("--config.file={}", am_config(config).display()))
            .arg(format!("--verify.receivers={receiver}"))
            .args(labels),
        TOOL_LIMIT,
    );
    assert!(
        out.success,
        "{config}: {labels:?} should reach {receiver}:\n{}",
        out.all()
    );
    assert_eq!(
        out.stdout.trim(),
        receiver,
        "{config}: {labels:?}:\n{}",
        out.all()
    );
}

#[test]
fn alertmanager_routes_each_severity_to_its_receiver() {
    let cases: [(&str, &[&str], &str); 16] = [
        (
            "alertmanager.yml",
            &[
                "alertname=SysmonAnomaly",
                "severity=critical",
                "instance=host-a:10101",
                "subject=host",
            ],
            "webhook-critical",
        ),
        (
            "alertmanager.yml",
            &["alertname=SysmonExporterDown", "severity=critical"],
            "webhook-critical",
        ),
        (
            "alertmanager.yml",
            &["alertname=SysmonFilesystemFillingIn24h", "severity=warning"],
            "webhook-warning",
        ),
        (
            "alertmanager.yml",
            &[
                "alertname=SysmonAnomaly",
                "severity=info",
                "rule=adaptive_cpu",
            ],
            "webhook-info",
        ),
        // The host-resource alerts are warnings, whatever their category.
        (
            "alertmanager.yml",
            &[
                "alertname=SysmonConntrackTableNearlyFull",
                "severity=warning",
                "category=network",
                "subject=conntrack",
            ],
            "webhook-warning",
        ),
        (
            "alertmanager.yml",
            &[
                "alertname=SysmonClockNotSynchronising",
                "severity=warning",
                "category=time",
                "subject=clock",
            ],
            "webhook-warning",
        ),
        // No severity, or one nobody routes: the default receiver still gets it.
        ("alertmanager.yml", &["alertname=SomethingElse"], "webhook"),
        (
            "alertmanager.yml",
            &["alertname=SomethingElse", "severity=page"],
            "webhook",
        ),
        (
            "alertmanager-examples/email.yml",
            &[
                "alertname=SysmonTemperatureNearCritical",
                "severity=critical",
            ],
            "email-oncall",
        ),
        (
            "alertmanager-examples/email.yml",
            &["alertname=SysmonUsbErrorsRising", "severity=warning"],
            "email-team",
        ),
        (
            "alertmanager-examples/email.yml",
            &["alertname=SysmonAnomaly", "severity=info"],
            "discard",
        ),
        (
            "alertmanager-examples/email.yml",
            &["alertname=SomethingElse"],
            "email-team",
        ),
        (
            "alertmanager-examples/chat.yml",
            &["alertname=SysmonFilesystemFillingIn4h", "severity=critical"],
            "chat-oncall",
        ),
        (
            "alertmanager-examples/chat.yml",
            &["alertname=SysmonCollectorFailing", "severity=warning"],
            "chat-team",
        ),
        (
            "alertmanager-examples/chat.yml",
            &["alertname=SysmonAnomaly", "severity=info"],
            "chat-info",
        ),
        (
            "alertmanager-examples/chat.yml",
            &["alertname=SomethingElse"],
            "chat-team",
        ),
    ];
    for (config, labels, receiver) in cases {
        assert_route(config, labels, receiver);
    }
    // --verify.receivers does catch a wrong expectation.
    let out = run(
        Command::new(amtool())
            .args(["config", "routes", "test"])
            .arg(format!(
                "--config.file={}",
                am_config("alertmanager.yml").display()
            ))
            .arg("--verify.receivers=webhook-warning")
            .args(["alertname=SysmonAnomaly", "severity=critical"]),
        TOOL_LIMIT,
    );
    assert!(!out.success, "a wrong receiver must fail:\n{}", out.all());
    assert_eq!(out.code, Some(1));
}

#[test]
fn alertmanager_configs_share_grouping_and_inhibition() {
    let main = yaml(&am_config("alertmanager.yml"));
    let route = get(&main, "route");
    assert_eq!(strings(get(route, "group_by")), ["alertname", "instance"]);
    let inhibit = get(&main, "inhibit_rules");
    let rules = inhibit.as_sequence().unwrap();
    assert_eq!(rules.len(), 1);
    assert_eq!(
        strings(get(&rules[0], "source_matchers")),
        ["severity=\"critical\""]
    );
    assert_eq!(
        strings(get(&rules[0], "target_matchers")),
        [
            "severity=\"warning\"",
            "alertname!=\"SysmonProcessMemoryGrowth\""
        ]
    );
    assert_eq!(
        strings(get(&rules[0], "equal")),
        ["instance", "category", "subject"]
    );
    for name in &AM_CONFIGS[1..] {
        let other = yaml(&am_config(name));
        assert_eq!(
            get(&other, "inhibit_rules"),
            inhibit,
            "{name}: inhibit_rules"
        );
        assert_eq!(
            get(get(&other, "route"), "group_by"),
            get(route, "group_by"),
            "{name}: group_by"
        );
    }
}

#[test]
fn alertmanager_webhook_url_is_one_line_every_receiver_uses() {
    let path = am_config("alertmanager.yml");
    let text = read(&path);
    let lines: Vec<&str> = text.lines().filter(|l| l.contains(WEBHOOK_URL)).collect();
    assert_eq!(
        lines,
        ["      - url: &webhook http://127.0.0.1:5001/"],
        "the webhook URL must be on exactly one line"
    );
    let cfg = yaml(&path);
    let receivers = get(&cfg, "receivers").as_sequence().unwrap();
    let names: Vec<&str> = receivers
        .iter()
        .map(|r| get(r, "name").as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "webhook",
            "webhook-critical",
            "webhook-warning",
            "webhook-info"
        ]
    );
    for r in receivers {
        let hooks = get(r, "webhook_configs").as_sequence().unwrap();
        assert_eq!(hooks.len(), 1);
        assert_eq!(get(&hooks[0], "url").as_str(), Some(WEBHOOK_URL));
    }
}

/// Notification data as Alertmanager hands it to templates: two firing alerts of one group.
const TEMPLATE_DATA: &str = r#"{
  "receiver": "test",
  "status": "firing",
  "alerts": [
    {"status": "firing",
     "labels": {"alertname": "SysmonTemperatureNearCritical", "instance": "host-a:10101", "severity": "critical", "subject": "platform_coretemp_0/temp1"},
     "annotations": {"summary": "platform_coretemp_0/temp1 on host-a:10101 is close to its critical temperature", "description": "Sensor platform_coretemp_0/temp1 reads 97.0 °C.", "runbook_url": "alert-rules/README.md#sysmontemperaturenearcritical"}},
    {"status": "firing",
     "labels": {"alertname": "SysmonTemperatureNearCritical", "instance": "host-a:10101", "severity": "critical", "subject": "nvme_nvme0/temp1"},
     "annotations": {"summary": "nvme_nvme0/temp1 on host-a:10101 is close to its critical temperature", "description": "Sensor nvme_nvme0/temp1 reads 86.8 °C.", "runbook_url": "alert-rules/README.md#sysmontemperaturenearcritical"}}
  ],
  "groupLabels": {"alertname": "SysmonTemperatureNearCritical", "instance": "host-a:10101"},
  "commonLabels": {"alertname": "SysmonTemperatureNearCritical", "instance": "host-a:10101", "severity": "critical"},
  "commonAnnotations": {"runbook_url": "alert-rules/README.md#sysmontemperaturenearcritical"},
  "externalURL": "http://localhost:9093"
}"#;

fn render(dir: &Path, template: &str) -> String {
    let out = run(
        Command::new(amtool())
            .args(["template", "render"])
            .arg(format!("--template.glob={}/*.tmpl", dir.display()))
            .arg(format!("--template.data={}/data.json", dir.display()))
            .arg(format!("--template.text={template}")),
        TOOL_LIMIT,
    );
    assert!(out.success, "rendering {template:?}:\n{}", out.all());
    assert!(
        !out.stdout.contains("<no value>"),
        "{template:?} uses a field the data lacks:\n{}",
        out.stdout
    );
    out.stdout.trim().to_string()
}

#[test]
fn example_receivers_templates_render() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("none.tmpl"), "").unwrap();
    fs::write(dir.path().join("data.json"), TEMPLATE_DATA).unwrap();
    let title = "[FIRING] SysmonTemperatureNearCritical on host-a:10101";

    let chat = yaml(&am_config("alertmanager-examples/chat.yml"));
    let mut slack_configs = 0;
    for r in get(&chat, "receivers").as_sequence().unwrap() {
        let receiver = get(r, "name").as_str().unwrap();
        for s in get(r, "slack_configs").as_sequence().unwrap() {
            slack_configs += 1;
            let t = render(dir.path(), get(s, "title").as_str().unwrap());
            if receiver == "chat-info" {
                assert_eq!(t, "SysmonTemperatureNearCritical on host-a:10101");
            } else {
                assert_eq!(t, title, "{receiver}: title");
            }
            let text = render(dir.path(), get(s, "text").as_str().unwrap());
            for line in [
                "• *platform_coretemp_0/temp1 on host-a:10101 is close to its critical temperature*",
                "• *nvme_nvme0/temp1 on host-a:10101 is close to its critical temperature*",
                "Sensor nvme_nvme0/temp1 reads 86.8 °C. (runbook: alert-rules/README.md#sysmontemperaturenearcritical)",
            ] {
                if receiver == "chat-info" {
                    let short = line.trim_start_matches("• *").trim_end_matches('*');
                    if line.starts_with("• *") {
                        assert!(text.contains(&format!("• {short}")), "{receiver}:\n{text}");
                    }
                } else {
                    assert!(
                        text.lines().any(|l| l == line),
                        "{receiver}: no line {line:?} in\n{text}"
                    );
                }
            }
            if receiver == "chat-oncall" {
                assert!(text.starts_with("<!here>\n"), "{text}");
            }
            if let Some(color) = get(s, "color").as_str() {
                let c = render(dir.path(), color);
                let want = if receiver == "chat-oncall" {
                    "danger"
                } else {
                    "warning"
                };
                assert_eq!(c, want, "{receiver}: color");
            }
        }
    }
    assert_eq!(slack_configs, 3);

    let email = yaml(&am_config("alertmanager-examples/email.yml"));
    let mut email_configs = 0;
    for r in get(&email, "receivers").as_sequence().unwrap() {
        for e in get(r, "email_configs").as_sequence().unwrap_or(&Vec::new()) {
            email_configs += 1;
            let subject = get(get(e, "headers"), "Subject").as_str().unwrap();
            assert_eq!(render(dir.path(), subject), title);
            assert!(get(e, "to").as_str().unwrap().contains('@'));
        }
    }
    assert_eq!(email_configs, 2);
    assert_eq!(
        get(get(&email, "global"), "smtp_require_tls").as_bool(),
        Some(true)
    );
}

// ---------------------------------------------------------------------------------------------
// Inhibition, in a running Alertmanager

/// A child process killed when the test ends, however it ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn critical_alerts_inhibit_warnings_for_the_same_instance_category_and_subject() {
    let dir = tempfile::tempdir().unwrap();
    // The shipped file, with its one webhook line pointed at a port nobody listens on (the test
    // ends long before the first group_wait anyway).
    let hook = format!("http://127.0.0.1:{}/", free_port());
    let config = read(&am_config("alertmanager.yml")).replace(WEBHOOK_URL, &hook);
    let config_path = dir.path().join("alertmanager.yml");
    fs::write(&config_path, config).unwrap();
    let port = free_port();
    let log = fs::File::create(dir.path().join("alertmanager.log")).unwrap();
    let child = Command::new(tool("prometheus-alertmanager", "prometheus-alertmanager"))
        .arg(format!("--config.file={}", config_path.display()))
        .arg(format!(
            "--storage.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--cluster.listen-address=")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("start alertmanager");
    let _am = Killed(child);
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if ureq::get(&format!("{base}/-/ready"))
            .call()
            .is_ok_and(|r| r.status() == 200)
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "alertmanager not ready in 30 s:\n{}",
            read(&dir.path().join("alertmanager.log"))
        );
        thread::sleep(Duration::from_millis(100));
    }

    // (alertname, severity, category, subject, instance, rule): whether it must be held back.
    let alerts: [(&str, &str, &str, &str, &str, &str, bool); 21] = [
        (
            "SysmonFilesystemFillingIn4h",
            "critical",
            "filesystem",
            "/var",
            "host-a:10101",
            "",
            false,
        ),
        // Same host and mount point, lower severity: held back.
        (
            "SysmonFilesystemFillingIn24h",
            "warning",
            "filesystem",
            "/var",
            "host-a:10101",
            "",
            true,
        ),
        // Another mount point, another host: not.
        (
            "SysmonFilesystemFillingIn24h",
            "warning",
            "filesystem",
            "/home",
            "host-a:10101",
            "",
            false,
        ),
        (
            "SysmonFilesystemFillingIn24h",
            "warning",
            "filesystem",
            "/var",
            "host-b:10101",
            "",
            false,
        ),
        (
            "SysmonAnomaly",
            "critical",
            "cpu",
            "host",
            "host-a:10101",
            "cpu_high",
            false,
        ),
        // cpu_high holds back cpu_jump, but not a memory warning with the same subject "host".
        (
            "SysmonAnomaly",
            "warning",
            "cpu",
            "host",
            "host-a:10101",
            "cpu_jump",
            true,
        ),
        (
            "SysmonAnomaly",
            "warning",
            "memory",
            "host",
            "host-a:10101",
            "memory_jump",
            false,
        ),
        // memory_high (critical) holds back the thrashing it causes on that host, not on another.
        (
            "SysmonAnomaly",
            "critical",
            "memory",
            "host",
            "host-d:10101",
            "memory_high",
            false,
        ),
        (
            "SysmonMajorPageFaultsHigh",
            "warning",
            "memory",
            "host",
            "host-d:10101",
            "",
            true,
        ),
        (
            "SysmonMajorPageFaultsHigh",
            "warning",
            "memory",
            "host",
            "host-b:10101",
            "",
            false,
        ),
        // A degraded array holds back its failed-disk warning, not another array's; an
        // uncorrectable memory error holds back the correctable errors of its controller.
        (
            "SysmonRaidArrayDegraded",
            "critical",
            "storage",
            "md1",
            "host-e:10101",
            "",
            false,
        ),
        (
            "SysmonRaidDiskFailed",
            "warning",
            "storage",
            "md1",
            "host-e:10101",
            "",
            true,
        ),
        (
            "SysmonRaidDiskFailed",
            "warning",
            "storage",
            "md2",
            "host-e:10101",
            "",
            false,
        ),
        (
            "SysmonEdacUncorrectableErrors",
            "critical",
            "memory",
            "mc0",
            "host-e:10101",
            "",
            false,
        ),
        (
            "SysmonEdacCorrectableErrorsRising",
            "warning",
            "memory",
            "mc0",
            "host-e:10101",
            "",
            true,
        ),
        // A clock warning shares no category with the critical anomaly of its host.
        (
            "SysmonClockSkew",
            "warning",
            "time",
            "clock",
            "host-d:10101",
            "",
            false,
        ),
        // Info is never held back; an exporter that is down does not hide collector warnings.
        (
            "SysmonAnomaly",
            "info",
            "cpu",
            "host",
            "host-a:10101",
            "adaptive_cpu",
            false,
        ),
        (
            "SysmonCollectorFailing",
            "warning",
            "exporter",
            "hwmon",
            "host-c:10101",
            "",
            false,
        ),
        // A process group out of file descriptors holds back its own fd warning, not the
        // warning that the same group's memory keeps growing.
        (
            "SysmonProcessFileDescriptorsExhausted",
            "critical",
            "process",
            "java",
            "host-f:10101",
            "",
            false,
        ),
        (
            "SysmonProcessFileDescriptorsNearLimit",
            "warning",
            "process",
            "java",
            "host-f:10101",
            "",
            true,
        ),
        (
            "SysmonProcessMemoryGrowth",
            "warning",
            "process",
            "java",
            "host-f:10101",
            "process_memory_growth",
            false,
        ),
    ];
    let mut body = Vec::new();
    for (alertname, severity, category, subject, instance, rule, _) in alerts {
        let mut labels = serde_json::json!({
            "alertname": alertname, "severity": severity, "category": category,
            "subject": subject, "instance": instance, "job": "sysmon",
        });
        if !rule.is_empty() {
            labels["rule"] = rule.into();
        }
        body.push(serde_json::json!({ "labels": labels }));
    }
    body.push(serde_json::json!({"labels": {
        "alertname": "SysmonExporterDown", "severity": "critical", "category": "exporter",
        "instance": "host-c:10101", "job": "sysmon"}}));
    let resp = ureq::post(&format!("{base}/api/v2/alerts"))
        .set("Content-Type", "application/json")
        .send_string(&serde_json::Value::Array(body).to_string())
        .expect("post alerts");
    assert_eq!(resp.status(), 200);

    // Alertmanager's inhibitor learns of posted alerts asynchronously: read until the number of
    // held-back alerts is the expected one (or a deadline passes, and the checks below say what
    // differs).
    let want_suppressed = alerts.iter().filter(|a| a.6).count();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let got: serde_json::Value = loop {
        let got: serde_json::Value = serde_json::from_str(
            &ureq::get(&format!("{base}/api/v2/alerts"))
                .call()
                .expect("get alerts")
                .into_string()
                .unwrap(),
        )
        .unwrap();
        let suppressed = got
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|a| a["status"]["state"] == "suppressed")
                    .count()
            })
            .unwrap_or(0);
        if suppressed == want_suppressed || std::time::Instant::now() > deadline {
            break got;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let got = got.as_array().unwrap();
    assert_eq!(got.len(), alerts.len() + 1, "{got:#?}");
    for (alertname, severity, _, subject, instance, rule, inhibited) in alerts {
        let a = got
            .iter()
            .find(|a| {
                let l = &a["labels"];
                l["alertname"] == alertname
                    && l["severity"] == severity
                    && l["subject"] == subject
                    && l["instance"] == instance
                    && (rule.is_empty() || l["rule"] == rule)
            })
            .unwrap_or_else(|| panic!("{alertname} {subject} {instance} missing: {got:#?}"));
        let state = a["status"]["state"].as_str().unwrap();
        let by = a["status"]["inhibitedBy"].as_array().unwrap();
        let what = format!("{alertname} {severity} {rule} {subject} on {instance}");
        if inhibited {
            assert_eq!(state, "suppressed", "{what} should be held back: {a:#}");
            assert_eq!(by.len(), 1, "{what}: {a:#}");
        } else {
            assert_eq!(state, "active", "{what} should not be held back: {a:#}");
            assert!(by.is_empty(), "{what}: {a:#}");
        }
        // The running Alertmanager routes it as amtool said.
        let receiver = a["receivers"][0]["name"].as_str().unwrap();
        assert_eq!(receiver, format!("webhook-{severity}"), "{what}");
    }
}
