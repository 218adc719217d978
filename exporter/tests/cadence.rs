//! The sampler's cadence: the anomaly rules' inputs are read every sample (by the collectors'
//! cheap signal readings, or by collectors that run every sample), the full collectors run on
//! the slow interval and keep their last values in between, and `/metrics` never shows a partial
//! sample.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{fixture, parse_exposition, start_sysmon, SeriesKey};
use sysmon_exporter::anomaly::signals::{Readings, INPUT_FAMILIES, SLOW_INPUT_FAMILIES};
use sysmon_exporter::collector::{BuildContext, Cadence, Roots, REGISTRY};
use sysmon_exporter::metrics::MetricSet;

/// Whether two readings agree, floats to a relative 1e-9 (the signal readings sum counters as
/// integers, the metric sets as floats) and temperatures in any order.
fn same_readings(a: &Readings, b: &Readings) -> bool {
    let close = |x: Option<f64>, y: Option<f64>| match (x, y) {
        (Some(x), Some(y)) => (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0),
        (x, y) => x.is_none() && y.is_none(),
    };
    let sorted = |r: &Readings| {
        let mut t: Vec<(String, u64, Option<u64>)> = r
            .temperatures
            .iter()
            .map(|t| {
                (
                    t.subject.clone(),
                    t.value.to_bits(),
                    t.limit.map(f64::to_bits),
                )
            })
            .collect();
        t.sort();
        t
    };
    let cpu = |r: &Readings| r.cpu.map(|c| (c.cpus, c.busy, c.total));
    cpu(a).map(|c| c.0) == cpu(b).map(|c| c.0)
        && close(cpu(a).map(|c| c.1), cpu(b).map(|c| c.1))
        && close(cpu(a).map(|c| c.2), cpu(b).map(|c| c.2))
        && close(a.memory_total_bytes, b.memory_total_bytes)
        && close(a.memory_available_bytes, b.memory_available_bytes)
        && close(a.load1, b.load1)
        && close(a.disk_read_bytes, b.disk_read_bytes)
        && close(a.disk_written_bytes, b.disk_written_bytes)
        && close(a.network_receive_bytes, b.network_receive_bytes)
        && close(a.network_transmit_bytes, b.network_transmit_bytes)
        && sorted(a) == sorted(b)
        && a.filesystems == b.filesystems
        && a.usb_timeouts == b.usb_timeouts
}

/// Every family the signals read comes from a collector that runs every sample, or from one
/// whose signal readings (taken every sample) agree with what its full run publishes, on every
/// fixture machine that has the data.
#[test]
fn rule_inputs_are_read_every_sample_and_agree_with_the_full_runs() {
    let state = tempfile::tempdir().unwrap();
    let mut produced_somewhere = BTreeSet::new();
    let mut compared = BTreeSet::new();
    // Collectors whose full runs stand in for their signal readings: compared on every machine.
    let mut stand_ins = BTreeSet::new();
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
            if collector.full_run_has_signals() {
                stand_ins.insert((machine, reg.name));
            }
            let mut set = MetricSet::new();
            let _ = collector.collect(&mut set);
            let inputs: Vec<&str> = set
                .families
                .iter()
                .map(|f| f.name.as_str())
                .filter(|name| INPUT_FAMILIES.contains(name))
                .collect();
            produced_somewhere.extend(inputs.iter().map(|n| n.to_string()));
            if inputs.iter().all(|name| SLOW_INPUT_FAMILIES.contains(name)) {
                continue;
            }
            if reg.cadence == Cadence::EverySample {
                continue;
            }
            assert!(
                collector.reads_signals(),
                "{machine}: {} produces {inputs:?}, which the anomaly rules read, so it must run \
                 every sample or read them in `signals`",
                reg.name
            );
            let mut signals = Readings::default();
            collector.signals(&mut signals).unwrap();
            let published = Readings::from_sets(&[&set]);
            assert!(
                same_readings(&signals, &published),
                "{machine}: {}'s signal readings differ from its full run's:\n{signals:?}\n{published:?}",
                reg.name
            );
            compared.insert(reg.name);
            stand_ins.remove(&(machine, reg.name));
        }
    }
    assert!(
        stand_ins.is_empty(),
        "full runs said to hold the signal readings but not compared: {stand_ins:?}"
    );
    // USB errors appear only once the kernel log has some after the collector started (it skips
    // the backlog), which a single run cannot show: its collector is checked by name (the
    // anomaly tests drive its readings with kernel-log records).
    let usb = sysmon_exporter::collector::registration("usb").unwrap();
    let roots = Roots {
        procfs: fixture("laptop").join("proc"),
        sysfs: fixture("laptop").join("sys"),
        rootfs: fixture("laptop").join("rootfs"),
    };
    let cli = sysmon_exporter::cli::try_parse(&["x", "--path.kmsg=/nonexistent"]).unwrap();
    let settings = sysmon_exporter::config::Settings {
        storage_path: state.path().to_path_buf(),
        ..Default::default()
    };
    let ctx = BuildContext {
        roots: &roots,
        cli: &cli,
        settings: &settings,
    };
    assert!(
        usb.cadence == Cadence::EverySample || (usb.build)(&ctx).unwrap().reads_signals(),
        "usb's timeouts must be read every sample"
    );
    let missing: Vec<_> = INPUT_FAMILIES
        .iter()
        .filter(|f| **f != "sysmon_usb_errors_total" && !produced_somewhere.contains(**f))
        .collect();
    assert!(
        missing.is_empty(),
        "no collector produced {missing:?} on any fixture"
    );
    let expected: BTreeSet<&str> = [
        "cpu",
        "diskstats",
        "hwmon",
        "loadavg",
        "meminfo",
        "netdev",
        "thermal_zone",
    ]
    .into();
    assert_eq!(compared, expected);
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

fn anomaly_active(series: &std::collections::BTreeMap<SeriesKey, f64>, rule: &str) -> Option<f64> {
    series
        .iter()
        .find(|(k, _)| {
            k.name == "sysmon_anomaly_active"
                && k.labels.iter().any(|(n, v)| n == "rule" && v == rule)
        })
        .map(|(_, v)| *v)
}

/// /proc/meminfo with `available` kB available of 16 GB: rewritten in place, as the kernel's
/// files are (the exporter keeps them open).
fn write_meminfo(root: &Path, available_kb: u64) {
    let path = root.join("proc/meminfo");
    let text = std::fs::read_to_string(&path).unwrap();
    let rewritten: String = text
        .lines()
        .map(|l| {
            if l.starts_with("MemAvailable:") {
                format!("MemAvailable:   {available_kb} kB\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    std::fs::write(&path, rewritten).unwrap();
}

#[test]
fn rule_inputs_change_every_sample_and_slow_series_hold() {
    let (dir, root) = copy_of("laptop");
    let config = dir.path().join("sysmon.toml");
    std::fs::write(
        &config,
        "[rules.memory_high]\nfor = \"0s\"\nclear_for = \"0s\"\n",
    )
    .unwrap();
    let e = start_sysmon(
        &root,
        &[
            "--sampler.slow-interval=1h",
            &format!("--config.file={}", config.display()),
        ],
    );
    let first = parse_exposition(&e.get("/metrics"));
    let enabled = first
        .keys()
        .filter(|k| k.name == "node_scrape_collector_success")
        .count();
    assert!(enabled >= 10, "{enabled} collectors");
    let available = value(&first, "node_memory_MemAvailable_bytes").expect("meminfo runs");

    // Memory nearly full, then free again, then full: the rule follows every change within a
    // few samples, while meminfo's series (on the 1 h interval) keep their first values.
    for (step, (available_kb, active)) in [(100, 1.0), (9_876_540, 0.0), (200, 1.0)]
        .into_iter()
        .enumerate()
    {
        write_meminfo(&root, available_kb);
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
                value(&series, "node_memory_MemAvailable_bytes"),
                Some(available),
                "meminfo's full run happened again before its interval"
            );
            if anomaly_active(&series, "memory_high") == Some(active) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "step {step}: memory_high did not become {active} within 5 s of /proc/meminfo \
                 changing (sampling every 200 ms)"
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
