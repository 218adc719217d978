//! `sysmon-exporter backtest` on the recorded series shipped in `tests/fixtures/backtest/`.

use std::process::Command;

fn backtest(args: &[&str]) -> (Option<i32>, Vec<serde_json::Value>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sysmon-exporter"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("backtest")
        .args(args)
        .output()
        .unwrap();
    let lines = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    (
        out.status.code(),
        lines,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn cpu_spike_in_csv_raises_and_resolves_cpu_high() {
    let (code, lines, err) = backtest(&[
        "--signal",
        "cpu_busy_percent",
        "tests/fixtures/backtest/cpu_busy.csv",
    ]);
    assert_eq!(code, Some(0), "{err}");
    let high: Vec<_> = lines
        .iter()
        .filter(|l| l["event"]["rule"] == "cpu_high")
        .collect();
    assert_eq!(high.len(), 2, "one start and one end: {high:?}");
    assert_eq!(high[0]["type"], "started");
    // The spike starts at 16:50:00; the default hold is 30 s.
    assert_eq!(high[0]["event"]["started_at"], "2025-11-24T16:50:30Z");
    assert_eq!(high[0]["event"]["severity"], "critical");
    assert_eq!(high[1]["type"], "resolved");
    assert_eq!(high[1]["event"]["id"], high[0]["event"]["id"]);
    assert_eq!(high[1]["event"]["resolved_at"], "2025-11-24T16:55:10Z");
    assert!(lines
        .iter()
        .all(|l| l["source"] == "tests/fixtures/backtest/cpu_busy.csv"));
}

#[test]
fn filling_mount_in_query_range_raises_filesystem_full_for_that_mount_only() {
    let (code, lines, err) = backtest(&[
        "--signal",
        "filesystem_used_percent",
        "--subject-label",
        "mountpoint",
        "tests/fixtures/backtest/filesystem_used.json",
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(lines.len(), 1, "{lines:?}");
    let e = &lines[0]["event"];
    assert_eq!(
        (e["rule"].as_str(), e["subject"].as_str()),
        (Some("filesystem_full"), Some("/data"))
    );
    assert!(e["resolved_at"].is_null());
}

#[test]
fn thresholds_come_from_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sysmon.toml");
    std::fs::write(
        &config,
        "[rules.filesystem_full]\nthreshold = 95.0\nfor = \"0s\"\n",
    )
    .unwrap();
    let (code, lines, err) = backtest(&[
        &format!("--config.file={}", config.display()),
        "--signal",
        "filesystem_used_percent",
        "--subject-label=mountpoint",
        "tests/fixtures/backtest/filesystem_used.json",
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["event"]["threshold"], 95.0);
}

#[test]
fn bad_input_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("bad.csv");
    std::fs::write(&csv, "timestamp,value\n1764000000,5\n1764000010,five\n").unwrap();
    let (code, _, err) = backtest(&["--signal", "cpu_busy_percent", csv.to_str().unwrap()]);
    assert_eq!(code, Some(2));
    assert!(err.contains(&format!("{}:3:", csv.display())), "{err}");
    let (code, _, err) = backtest(&["--signal", "cpu_busy_percent", "/nonexistent.csv"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("/nonexistent.csv"), "{err}");
}

#[test]
fn rule_flag_runs_only_the_named_rules() {
    let (code, lines, err) = backtest(&[
        "--signal",
        "cpu_busy_percent",
        "--rule",
        "cpu_jump",
        "tests/fixtures/backtest/cpu_busy.csv",
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(!lines.is_empty());
    assert!(
        lines.iter().all(|l| l["event"]["rule"] == "cpu_jump"),
        "{lines:?}"
    );
    let (code, _, err) = backtest(&[
        "--signal",
        "cpu_busy_percent",
        "--rule",
        "cpu_hihg",
        "tests/fixtures/backtest/cpu_busy.csv",
    ]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("cpu_hihg") && err.contains("cpu_high"),
        "{err}"
    );
}

/// Three days of CPU busy % every 5 minutes with a daily pattern; on the third day a step of +40
/// points from 14:00 to 15:00.
fn labelled_cpu_history(dir: &std::path::Path) -> std::path::PathBuf {
    let file = dir.join("cpu_history.csv");
    let start = 1_764_000_000 - 1_764_000_000 % 86_400;
    let mut csv = String::from("timestamp,value\n");
    for i in 0..3 * 288 {
        let t = start + i * 300;
        let tod = (i % 288) as f64 / 288.0;
        // Deterministic wobble instead of noise: the test needs no random numbers.
        let wobble = ((i * 7919) % 13) as f64 * 0.3;
        let step = if (2 * 288 + 168..2 * 288 + 180).contains(&i) {
            40.0
        } else {
            0.0
        };
        let v = 20.0 + 15.0 * (std::f64::consts::TAU * tod).sin().max(-0.5) + wobble + step;
        csv.push_str(&format!("{t},{v:.2}\n"));
    }
    std::fs::write(&file, csv).unwrap();
    file
}

#[test]
fn labels_flag_prints_an_event_wise_evaluation() {
    let dir = tempfile::tempdir().unwrap();
    let file = labelled_cpu_history(dir.path());
    let start = 1_764_000_000 - 1_764_000_000 % 86_400;
    let step = start + 2 * 86_400 + 14 * 3600;
    let labels = dir.path().join("windows.json");
    std::fs::write(
        &labels,
        // The window covers the step and its end, as NAB's windows cover a whole anomaly.
        format!(
            "{{\"cpu_history.csv\": [[{}, {}]]}}",
            step - 1800,
            step + 5400
        ),
    )
    .unwrap();
    let (code, lines, err) = backtest(&[
        "--signal",
        "cpu_busy_percent",
        "--rule",
        "adaptive_cpu",
        "--labels",
        labels.to_str().unwrap(),
        file.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(0), "{err}");
    let eval = &lines.last().unwrap()["evaluation"];
    let total = &eval["total"];
    assert_eq!(total["windows"], 1, "{eval}");
    assert_eq!(total["detected"], 1, "{eval}");
    assert_eq!(total["false_alarms"], 0, "{eval}");
    assert_eq!(total["f1"], 1.0, "{eval}");
    assert_eq!(eval["files"][0]["labels"], "cpu_history.csv");
    let started: Vec<_> = lines
        .iter()
        .filter(|l| l["type"] == "started")
        .map(|l| l["event"]["rule"].as_str().unwrap())
        .collect();
    // The step and its end: two anomalies of the CPU, no other rule.
    assert_eq!(started, vec!["adaptive_cpu", "adaptive_cpu"], "{lines:?}");
    // The human summary goes to stderr, stdout stays JSON lines.
    assert!(err.contains("TOTAL"), "{err}");
}

#[test]
fn bad_labels_file_names_the_file_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let file = labelled_cpu_history(dir.path());
    let labels = dir.path().join("windows.json");
    std::fs::write(&labels, "{\"cpu_history.csv\":\n [[\"yesterday\", 5]]}").unwrap();
    for bad in [labels.to_str().unwrap(), "/nonexistent/windows.json"] {
        let (code, _, err) = backtest(&[
            "--signal",
            "cpu_busy_percent",
            "--labels",
            bad,
            file.to_str().unwrap(),
        ]);
        assert_eq!(code, Some(2), "{err}");
        assert!(err.contains(bad), "{err}");
    }
    std::fs::write(&labels, "{\"cpu_history.csv\": [[1, 2]\n").unwrap();
    let (code, _, err) = backtest(&[
        "--signal",
        "cpu_busy_percent",
        "--labels",
        labels.to_str().unwrap(),
        file.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(2));
    assert!(err.contains(&format!("{}:2:", labels.display())), "{err}");
}
