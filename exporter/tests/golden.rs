//! Golden-file end-to-end test: start the real binary on each fixture machine, scrape `/metrics`
//! over HTTP, and compare with the checked-in expected output in `tests/golden/<machine>.prom`.
//!
//! Values that depend on the moment or on the machine running the test (durations, the exporter's
//! own process, the clock, the live kernel's adjtimex(2) state, statfs of the fixture's mount-point
//! directories) are replaced by `<masked>`,
//! so everything else is compared exactly, byte for byte.
//!
//! To regenerate after an intended change, run
//! `UPDATE_GOLDEN=1 cargo test -p sysmon-exporter --test golden` and review the diff in git.

mod common;

use std::collections::BTreeSet;

use common::{fixture, parse_exposition, start_sysmon, MACHINES};

/// Series whose values change from run to run or from host to host.
const MASKED_VALUES: &[&str] = &[
    "node_scrape_collector_duration_seconds",
    "sysmon_exporter_sample_duration_seconds",
    // CPU time the exporter spent: present for every collector, values vary.
    "sysmon_collector_cpu_seconds_total",
    "sysmon_exporter_cpu_seconds_total",
    "node_time_seconds",
    "node_time_zone_offset_seconds",
    // statfs of the fixture's mount points reports the filesystem the test runs on.
    "node_filesystem_size_bytes",
    "node_filesystem_free_bytes",
    "node_filesystem_avail_bytes",
    "node_filesystem_files",
    "node_filesystem_files_free",
    "sysmon_config_last_reload_success_timestamp_seconds",
    // sockstat's mem (pages) times the page size of the kernel running the test, as node_exporter
    // does (os.Getpagesize()): 4 KiB on x86-64, 16 or 64 KiB on some arm64 kernels. The oracle
    // test compares them with node_exporter on the same host.
    "node_sockstat_TCP_mem_bytes",
    "node_sockstat_UDP_mem_bytes",
    // When git checked the fixture's text files out.
    "node_textfile_mtime_seconds",
];

/// Prefixes of families read from the live kernel whatever `--path.*` says, so their values are the
/// test host's (timex: adjtimex(2)).
const MASKED_VALUE_PREFIXES: &[&str] = &["node_timex_"];

/// Families whose label values describe the build or the test host rather than the fixture.
/// (node_uname_info: a fixture kernel without `<procfs>/sys/kernel/arch`, before Linux 6.1, takes
/// the machine from the test host's uname(2).)
const MASKED_LABELS: &[&str] = &[
    "sysmon_exporter_build_info",
    "node_time_zone_offset_seconds",
    "node_uname_info",
];

fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    // The textfile collector names its files by path (the `file` label, generated HELP texts):
    // the same wherever the repository is checked out.
    let text = text.replace(env!("CARGO_MANIFEST_DIR"), "<exporter>");
    for line in text.lines() {
        if line.starts_with('#') {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        let name = &line[..line.find(['{', ' ']).unwrap_or(line.len())];
        if name.starts_with("process_") {
            // The exporter's own process: present, values vary.
            let series = &line[..line.rfind(' ').unwrap_or(line.len())];
            out.push_str(series);
            out.push_str(" <masked>\n");
        } else if MASKED_LABELS.contains(&name) {
            out.push_str(name);
            out.push_str("{<masked>} <masked>\n");
        } else if MASKED_VALUES.contains(&name)
            || MASKED_VALUE_PREFIXES.iter().any(|p| name.starts_with(p))
            // How full the fixture's mount points are is how full the test host's disk is.
            || (name.starts_with("sysmon_anomaly_value") && line.contains("category=\"filesystem\""))
        {
            let series = &line[..line.rfind(' ').unwrap_or(line.len())];
            out.push_str(series);
            out.push_str(" <masked>\n");
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

fn check_machine(machine: &str) -> String {
    // One sample only (the next is an hour away): the rules whose signals need two samples
    // (rates, jumps) are then absent on every run, not present when the scrape happens to follow
    // a second sample.
    let exporter = start_sysmon(
        &fixture(machine),
        &[
            "--sampler.interval=1h",
            "--sampler.slow-interval=1h",
            // A debug build on a busy test machine may take longer than the harness's 200 ms over
            // a collector's first run; a timeout here would be a false difference.
            "--sampler.collector-timeout=5s",
        ],
    );
    let raw = exporter.get("/metrics");
    let actual = normalise(&raw);
    let golden = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("tests/golden/{machine}.prom"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&golden, &actual).unwrap();
    } else {
        let expected = std::fs::read_to_string(&golden).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (regenerate with UPDATE_GOLDEN=1)",
                golden.display()
            )
        });
        if expected != actual {
            let diff = line_diff(&expected, &actual);
            panic!(
                "{machine}: /metrics differs from {} (UPDATE_GOLDEN=1 regenerates it)\n{diff}",
                golden.display()
            );
        }
    }
    raw
}

/// The lines only in one side, marked `-` (expected) and `+` (actual); enough to see what changed.
fn line_diff(expected: &str, actual: &str) -> String {
    let e: BTreeSet<&str> = expected.lines().collect();
    let a: BTreeSet<&str> = actual.lines().collect();
    let mut out = String::new();
    for l in e.difference(&a).take(40) {
        out.push_str(&format!("- {l}\n"));
    }
    for l in a.difference(&e).take(40) {
        out.push_str(&format!("+ {l}\n"));
    }
    if out.is_empty() {
        out.push_str("(same lines, different order)\n");
    }
    out
}

/// How many collectors run with no flags (the golden files are taken with the defaults).
fn default_collectors() -> usize {
    sysmon_exporter::collector::REGISTRY
        .iter()
        .filter(|r| r.default_enabled)
        .count()
}

fn collector_success(text: &str) -> Vec<(String, f64)> {
    parse_exposition(text)
        .into_iter()
        .filter(|(k, _)| k.name == "node_scrape_collector_success")
        .map(|(k, v)| (k.labels[0].1.clone(), v))
        .collect()
}

#[test]
fn healthy_machines_match_golden_and_every_collector_succeeds() {
    for machine in MACHINES.iter().filter(|m| **m != "broken") {
        let text = check_machine(machine);
        let results = collector_success(&text);
        assert_eq!(
            results.len(),
            default_collectors(),
            "{machine}: every default collector reports: {results:?}"
        );
        let failed: Vec<_> = results.iter().filter(|(_, v)| *v != 1.0).collect();
        assert!(
            failed.is_empty(),
            "{machine}: collectors failed: {failed:?}"
        );
    }
}

#[test]
fn broken_machine_matches_golden_with_failures_isolated() {
    let text = check_machine("broken");
    let results = collector_success(&text);
    assert_eq!(
        results.len(),
        default_collectors(),
        "every collector still reports: {results:?}"
    );
    let failed: Vec<&str> = results
        .iter()
        .filter(|(_, v)| *v == 0.0)
        .map(|(n, _)| n.as_str())
        .collect();
    let succeeded: Vec<&str> = results
        .iter()
        .filter(|(_, v)| *v == 1.0)
        .map(|(n, _)| n.as_str())
        .collect();
    assert!(
        !failed.is_empty(),
        "the broken machine must make some collectors fail"
    );
    assert!(
        !succeeded.is_empty(),
        "a failing collector must not take the others down: {failed:?}"
    );
}

#[test]
fn masking_keeps_series_and_hides_values() {
    let text = "# HELP process_open_fds x\nprocess_open_fds 7\nnode_load1 0.5\nnode_time_seconds 1.7e9\n\
                sysmon_exporter_build_info{version=\"0.1.0\",revision=\"abc\",rustc=\"rustc 1\"} 1\n\
                node_timex_offset_seconds -3.2e-05\n";
    assert_eq!(
        normalise(text),
        "# HELP process_open_fds x\nprocess_open_fds <masked>\nnode_load1 0.5\nnode_time_seconds <masked>\n\
         sysmon_exporter_build_info{<masked>} <masked>\nnode_timex_offset_seconds <masked>\n"
    );
}
