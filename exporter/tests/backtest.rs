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
