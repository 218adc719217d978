//! Measures what the anomaly engine costs per sample on a large host: deriving the signals from the
//! collectors' output, evaluating every rule (threshold and adaptive), and building its metrics.
//! A measurement, not a test: it prints figures.
//!
//! `cargo run --release -p sysmon-exporter --example engine_cost [samples]`

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sysmon_exporter::anomaly::config::RulesConfig;
use sysmon_exporter::anomaly::engine::Engine;
use sysmon_exporter::anomaly::rank::{ScoreHistory, MINUTE_BYTES};
use sysmon_exporter::anomaly::signals::SignalExtractor;
use sysmon_exporter::metrics::MetricSet;

/// One sample of a host with 64 CPUs, 48 temperature sensors, 40 mounts, 24 disks, 16 NICs and
/// 8 USB ports with errors; `step` moves the counters on.
fn host_sample(step: u64) -> MetricSet {
    let mut set = MetricSet::new();
    let s = step as f64;
    let cpu = set.counter("node_cpu_seconds_total", "");
    for c in 0..64 {
        let c = c.to_string();
        for (mode, rate) in [
            ("idle", 1.5),
            ("iowait", 0.01),
            ("irq", 0.0),
            ("nice", 0.0),
            ("softirq", 0.01),
            ("steal", 0.0),
            ("system", 0.1),
            ("user", 0.38 + (step % 7) as f64 * 0.01),
        ] {
            cpu.sample(&[("cpu", &c), ("mode", mode)], 1e6 + s * rate);
        }
    }
    set.gauge("node_load1", "").sample(&[], 12.0);
    set.gauge("node_memory_MemTotal_bytes", "")
        .sample(&[], 256e9);
    set.gauge("node_memory_MemAvailable_bytes", "")
        .sample(&[], 100e9 + (step % 11) as f64 * 1e8);
    for t in 0..48 {
        let sensor = format!("temp{t}");
        set.gauge("node_hwmon_temp_celsius", "").sample(
            &[("chip", "platform_coretemp_0"), ("sensor", &sensor)],
            50.0 + (t % 5) as f64 + (step % 3) as f64,
        );
        set.gauge("node_hwmon_temp_crit_celsius", "").sample(
            &[("chip", "platform_coretemp_0"), ("sensor", &sensor)],
            100.0,
        );
    }
    for m in 0..40 {
        let mount = format!("/data/{m}");
        let l = [
            ("device", "/dev/sdx"),
            ("fstype", "xfs"),
            ("mountpoint", mount.as_str()),
        ];
        set.gauge("node_filesystem_size_bytes", "").sample(&l, 1e12);
        set.gauge("node_filesystem_free_bytes", "").sample(&l, 4e11);
        set.gauge("node_filesystem_avail_bytes", "")
            .sample(&l, 3.5e11);
    }
    for d in 0..24 {
        let dev = format!("sd{d}");
        set.counter("node_disk_read_bytes_total", "")
            .sample(&[("device", &dev)], 1e12 + s * 1e6);
        set.counter("node_disk_written_bytes_total", "")
            .sample(&[("device", &dev)], 1e12 + s * 2e6);
    }
    for n in 0..16 {
        let dev = format!("eno{n}");
        set.counter("node_network_receive_bytes_total", "")
            .sample(&[("device", &dev)], 1e12 + s * 1e7);
        set.counter("node_network_transmit_bytes_total", "")
            .sample(&[("device", &dev)], 1e12 + s * 5e6);
    }
    for p in 0..8 {
        let port = format!("1-{p}");
        set.counter("sysmon_usb_errors_total", "")
            .sample(&[("port", &port), ("kind", "timeout")], 3.0);
    }
    set
}

/// CPU time of the calling thread: other processes on a shared machine do not inflate it.
fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the timespec we pass.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn main() {
    let samples: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000);
    let inputs: Vec<MetricSet> = (0..64).map(host_sample).collect();
    let mut extractor = SignalExtractor::new();
    // As the exporter runs it: the adaptive scores recorded for the feed's ranking.
    let scores = Arc::new(ScoreHistory::new());
    let mut engine = Engine::new(RulesConfig::default(), 1).with_scores(Arc::clone(&scores));
    let start: DateTime<Utc> = DateTime::from_timestamp(1_764_000_000, 0).unwrap_or_default();

    let mut per_sample = Vec::with_capacity(samples as usize);
    let mut transitions = 0usize;
    let mut series = 0usize;
    for i in 0..samples {
        let set = &inputs[(i % 64) as usize];
        let at = start + chrono::Duration::seconds(2 * i as i64);
        let began = thread_cpu_time();
        let signals = extractor.extract(&[set], at);
        transitions += engine.evaluate(&signals).len();
        let mut out = MetricSet::new();
        engine.metrics(&mut out);
        per_sample.push(thread_cpu_time().saturating_sub(began));
        series = out.sample_count();
    }
    let mean = per_sample.iter().sum::<Duration>() / per_sample.len().max(1) as u32;
    // Samples that close a 5-minute period (the adaptive detectors judge then) against the rest.
    let closing: Vec<Duration> = per_sample
        .iter()
        .enumerate()
        .filter(|(i, _)| (i + 1) % 150 == 0)
        .map(|(_, d)| *d)
        .collect();
    let closing_mean = closing.iter().sum::<Duration>() / closing.len().max(1) as u32;
    let slowest = per_sample
        .iter()
        .enumerate()
        .max_by_key(|(_, d)| **d)
        .map_or(0, |(i, _)| i);
    per_sample.sort();
    let pct = |p: f64| per_sample[((per_sample.len() - 1) as f64 * p) as usize];
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "anomaly engine cost per sample (extract signals + evaluate rules + build metrics), thread CPU time"
    );
    println!("  host: 64 CPUs, 48 sensors, 40 mounts, 24 disks, 16 NICs, 8 USB ports");
    println!(
        "  samples: {samples}, anomaly series published: {series}, transitions: {transitions}"
    );
    println!(
        "  samples closing a 5-minute period: mean {:.1} us; slowest sample: #{slowest}",
        us(closing_mean)
    );
    println!(
        "  mean {:.1} us, median {:.1} us, p99 {:.1} us, max {:.1} us",
        us(mean),
        us(pct(0.5)),
        us(pct(0.99)),
        us(pct(1.0))
    );
    let minutes = scores.minutes_held();
    println!(
        "  score history for the ranking: {minutes} signal-minutes, {:.1} KiB ({} s simulated)",
        (minutes * MINUTE_BYTES) as f64 / 1024.0,
        2 * samples
    );
}
