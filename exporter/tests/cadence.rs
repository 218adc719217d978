//! The sampler's cadence: the series the anomaly rules read are collected every sample, the other
//! collectors run on the slow interval and keep their last values in between, and `/metrics`
//! never shows a partial sample.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{fixture, parse_exposition, start_sysmon, SeriesKey};
use sysmon_exporter::anomaly::signals::{INPUT_FAMILIES, SLOW_INPUT_FAMILIES};
use sysmon_exporter::collector::{BuildContext, Cadence, Roots, REGISTRY};
use sysmon_exporter::metrics::MetricSet;

/// Every family the signals read is produced only by collectors that run every sample, on every
/// fixture machine that has the data.
#[test]
fn rule_inputs_come_from_every_sample_collectors() {
    let state = tempfile::tempdir().unwrap();
    let mut produced_somewhere = BTreeSet::new();
    for machine in ["laptop", "server", "vm"] {
        let root = fixture(machine);
        let roots = Roots {
            procfs: root.join("proc"),
            sysfs: root.join("sys"),
            rootfs: root.join("rootfs"),
        };
        let kmsg = format!("--path.kmsg={}", root.join("kmsg").display());
        let cli = sysmon_exporter::cli::try_parse(&["x", &kmsg]).unwrap();
        let settings = sysmon_exporter::config::Settings {
            storage_path: state.path().to_path_buf(),
            ..Default::default()
        };
        let ctx = BuildContext {
            roots: &roots,
            cli: &cli,
            settings: &settings,
        };
        for reg in REGISTRY {
            let collector = (reg.build)(&ctx).unwrap();
            let mut set = MetricSet::new();
            let _ = collector.collect(&mut set);
            for family in &set.families {
                if INPUT_FAMILIES.contains(&family.name.as_str()) {
                    produced_somewhere.insert(family.name.clone());
                    if SLOW_INPUT_FAMILIES.contains(&family.name.as_str()) {
                        continue;
                    }
                    assert_eq!(
                        reg.cadence,
                        Cadence::EverySample,
                        "{machine}: {} produces {}, which the anomaly rules read, so it must run every sample",
                        reg.name,
                        family.name
                    );
                }
            }
        }
    }
    // USB errors appear only once the kernel log has some after the collector started (it skips
    // the backlog), which a single run cannot show: its collector is checked by name.
    let usb = sysmon_exporter::collector::registration("usb").unwrap();
    assert_eq!(usb.cadence, Cadence::EverySample);
    let missing: Vec<_> = INPUT_FAMILIES
        .iter()
        .filter(|f| **f != "sysmon_usb_errors_total" && !produced_somewhere.contains(**f))
        .collect();
    assert!(
        missing.is_empty(),
        "no collector produced {missing:?} on any fixture"
    );
}

fn copy_of(machine: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join(machine);
    assert!(Command::new("cp")
        .arg("-a")
        .arg(fixture(machine))
        .arg(&root)
        .status()
        .unwrap()
        .success());
    (dir, root)
}

/// Replaces a file atomically, as the kernel's files never show a half-written state.
fn replace(path: &Path, contents: &str) {
    let tmp = path.with_extension("tmp-write");
    std::fs::write(&tmp, contents).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn value(series: &std::collections::BTreeMap<SeriesKey, f64>, name: &str) -> Option<f64> {
    series
        .iter()
        .find(|(k, _)| k.name == name && k.labels.is_empty())
        .map(|(_, v)| *v)
}

#[test]
fn rule_inputs_change_every_sample_and_slow_series_hold() {
    let (_dir, root) = copy_of("laptop");
    let e = start_sysmon(&root, &["--sampler.slow-interval=1h"]);
    let enabled = parse_exposition(&e.get("/metrics"))
        .keys()
        .filter(|k| k.name == "node_scrape_collector_success")
        .count();
    assert!(enabled >= 10, "{enabled} collectors");
    let psi = root.join("proc/pressure/cpu");
    let psi_before = value(
        &parse_exposition(&e.get("/metrics")),
        "node_pressure_cpu_waiting_seconds_total",
    )
    .expect("the laptop has PSI");

    // The slow collector's file changes; the rule input changes at every step.
    replace(
        &psi,
        "some avg10=1.00 avg60=1.00 avg300=1.00 total=999000000\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
    );
    let loadavg = root.join("proc/loadavg");
    for step in 1..=5 {
        let load = format!("{step}.50 0.50 0.25 2/300 4242\n");
        replace(&loadavg, &load);
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let body = e.get("/metrics");
            // Never a partial sample: every enabled collector reports in every scrape.
            let series = parse_exposition(&body);
            let reporting = series
                .keys()
                .filter(|k| k.name == "node_scrape_collector_success")
                .count();
            assert_eq!(
                reporting, enabled,
                "a scrape with a partial sample:\n{body}"
            );
            assert_eq!(
                value(&series, "node_pressure_cpu_waiting_seconds_total"),
                Some(psi_before),
                "a slow collector ran again before its interval"
            );
            if value(&series, "node_load1") == Some(step as f64 + 0.5) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "node_load1 did not follow /proc/loadavg within 5 s (sampling every 200 ms)"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[test]
fn slow_collectors_run_again_after_their_interval() {
    let (_dir, root) = copy_of("laptop");
    let e = start_sysmon(&root, &["--sampler.slow-interval=1s"]);
    replace(
        &root.join("proc/pressure/cpu"),
        "some avg10=1.00 avg60=1.00 avg300=1.00 total=999000000\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while value(
        &parse_exposition(&e.get("/metrics")),
        "node_pressure_cpu_waiting_seconds_total",
    ) != Some(999.0)
    {
        assert!(
            Instant::now() < deadline,
            "the pressure collector did not run again within 10 s at a 1 s slow interval"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
