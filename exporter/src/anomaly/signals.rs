//! Derives [`Signals`] from the collectors' readings: the handful of host-level numbers the rules
//! judge. Rates (CPU busy, disk and network throughput, USB timeouts) come from counter deltas
//! between two consecutive samples, so the extractor keeps the previous sample's counters.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};

use super::event::{Reading, Signals};
use crate::metrics::{LabelName, MetricFamily, MetricSet};

/// Counters of the previous sample.
#[derive(Debug, Default, Clone)]
struct Previous {
    at: Option<DateTime<Utc>>,
    cpu: Option<CpuTimes>,
    disk_bytes: Option<f64>,
    network_bytes: Option<f64>,
    usb_timeouts: HashMap<String, f64>,
}

/// Turns each sample's metric sets into [`Signals`].
#[derive(Debug, Default)]
pub struct SignalExtractor {
    previous: Previous,
}

/// Every metric family the signals are derived from. The collectors that produce them must run
/// every sample (`Cadence::EverySample`), except those of [`SLOW_INPUT_FAMILIES`];
/// `tests/cadence.rs` checks that against the registry.
pub const INPUT_FAMILIES: &[&str] = &[
    "node_cpu_seconds_total",
    "node_memory_MemTotal_bytes",
    "node_memory_MemAvailable_bytes",
    "node_load1",
    "node_disk_read_bytes_total",
    "node_disk_written_bytes_total",
    "node_network_receive_bytes_total",
    "node_network_transmit_bytes_total",
    "sysmon_usb_errors_total",
    "node_hwmon_temp_crit_celsius",
    "node_hwmon_temp_celsius",
    "node_thermal_zone_temp",
    "node_filesystem_size_bytes",
    "node_filesystem_free_bytes",
    "node_filesystem_avail_bytes",
    "sysmon_process_memory_growth_bytes_per_second",
];

/// Inputs that may come from a collector on the slow interval: filesystem use, whose rule
/// (`filesystem_full`) holds for a minute before it fires, so a reading every 15 s serves it as
/// well as one every 2 s, and filesystem sizes are what the idle cost names as slow data.
pub const SLOW_INPUT_FAMILIES: &[&str] = &[
    "node_filesystem_size_bytes",
    "node_filesystem_free_bytes",
    "node_filesystem_avail_bytes",
    // The process groups' steady memory growth, a trend over an hour by default: the process
    // collector's scan on the slow interval serves it.
    "sysmon_process_memory_growth_bytes_per_second",
];

/// Finds a family by name across every collector's output.
fn family<'a>(sets: &[&'a MetricSet], name: &str) -> Option<&'a MetricFamily> {
    debug_assert!(
        INPUT_FAMILIES.contains(&name),
        "{name} is read by the signals but missing from INPUT_FAMILIES"
    );
    sets.iter().find_map(|s| s.get(name))
}

fn label<'a>(labels: &'a [(LabelName, String)], name: &str) -> Option<&'a str> {
    labels
        .iter()
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.as_str())
}

fn sum(f: Option<&MetricFamily>, keep: impl Fn(&[(LabelName, String)]) -> bool) -> Option<f64> {
    let f = f?;
    let mut total = 0.0;
    let mut any = false;
    for s in &f.samples {
        if keep(&s.labels) && s.value.is_finite() {
            total += s.value;
            any = true;
        }
    }
    any.then_some(total)
}

/// A per-second rate from two readings of a counter sum; `None` across a reset (a disk or an
/// interface that went away makes the sum drop) or without a previous reading.
fn rate(previous: Option<f64>, now: Option<f64>, seconds: Option<f64>) -> Option<f64> {
    let (p, n, dt) = (previous?, now?, seconds?);
    (n >= p && dt > 0.0).then(|| (n - p) / dt)
}

/// The raw inputs of one sample's signals: counters and gauges as the collectors read them,
/// before rates are taken. The collectors the rules read every sample fill their part directly
/// and cheaply ([`crate::collector::Collector::signals`]), between their full runs on the slow
/// interval; the rest is taken from collectors' metric sets ([`Readings::from_sets`]).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Readings {
    pub cpu: Option<CpuTimes>,
    pub memory_total_bytes: Option<f64>,
    pub memory_available_bytes: Option<f64>,
    pub load1: Option<f64>,
    /// Bytes read and written, summed over the reported disks.
    pub disk_read_bytes: Option<f64>,
    pub disk_written_bytes: Option<f64>,
    /// Bytes received and transmitted, summed over the reported interfaces but loopback.
    pub network_receive_bytes: Option<f64>,
    pub network_transmit_bytes: Option<f64>,
    /// Temperatures in celsius, subject `chip/sensor` (hwmon) or `thermal_zone<N>`.
    pub temperatures: Vec<Reading>,
    /// Used percent per mount point.
    pub filesystems: Vec<Reading>,
    /// USB timeouts counted so far, per port.
    pub usb_timeouts: HashMap<String, f64>,
    /// Steady growth of resident memory in bytes per second, per process group.
    pub process_memory_growth: Vec<Reading>,
}

/// CPU time summed over every CPU, in seconds.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct CpuTimes {
    /// Every mode but idle and iowait (guest time is part of user and nice, not added again).
    pub busy: f64,
    /// Every mode.
    pub total: f64,
    /// How many CPUs the times cover.
    pub cpus: usize,
}

impl Readings {
    /// The readings found in collectors' metric sets, by node_exporter's family names.
    pub fn from_sets(sets: &[&MetricSet]) -> Readings {
        let mut r = Readings::default();
        if let Some(f) = family(sets, "node_cpu_seconds_total").filter(|f| !f.samples.is_empty()) {
            let mut cpu = CpuTimes::default();
            for s in f.samples.iter().filter(|s| s.value.is_finite()) {
                cpu.total += s.value;
                match label(&s.labels, "mode") {
                    // Counted on the idle mode, which every CPU line has: one entry per CPU.
                    Some("idle") => cpu.cpus += 1,
                    Some("iowait") => {}
                    _ => cpu.busy += s.value,
                }
            }
            r.cpu = Some(cpu);
        }
        r.memory_total_bytes = sum(family(sets, "node_memory_MemTotal_bytes"), |_| true);
        r.memory_available_bytes = sum(family(sets, "node_memory_MemAvailable_bytes"), |_| true);
        r.load1 = sum(family(sets, "node_load1"), |_| true);
        r.disk_read_bytes = sum(family(sets, "node_disk_read_bytes_total"), |_| true);
        r.disk_written_bytes = sum(family(sets, "node_disk_written_bytes_total"), |_| true);
        let not_loopback = |l: &[(LabelName, String)]| label(l, "device") != Some("lo");
        r.network_receive_bytes = sum(
            family(sets, "node_network_receive_bytes_total"),
            not_loopback,
        );
        r.network_transmit_bytes = sum(
            family(sets, "node_network_transmit_bytes_total"),
            not_loopback,
        );
        r.temperatures = temperatures(sets);
        r.filesystems = filesystems(sets);
        if let Some(f) = family(sets, "sysmon_process_memory_growth_bytes_per_second") {
            r.process_memory_growth = f
                .samples
                .iter()
                .filter(|s| s.value.is_finite())
                .map(|s| Reading {
                    subject: label(&s.labels, "groupname")
                        .unwrap_or("unknown")
                        .to_string(),
                    value: s.value,
                    limit: None,
                })
                .collect();
        }
        if let Some(f) = family(sets, "sysmon_usb_errors_total") {
            for s in &f.samples {
                if label(&s.labels, "kind") == Some("timeout") && s.value.is_finite() {
                    let port = label(&s.labels, "port").unwrap_or("unknown").to_string();
                    *r.usb_timeouts.entry(port).or_insert(0.0) += s.value;
                }
            }
        }
        r
    }

    /// Adds `other`'s readings: its values where it has them, its temperatures, filesystems and
    /// USB ports after these.
    pub fn merge(&mut self, other: &Readings) {
        fn take<T: Copy>(mine: &mut Option<T>, theirs: Option<T>) {
            if theirs.is_some() {
                *mine = theirs;
            }
        }
        take(&mut self.cpu, other.cpu);
        take(&mut self.memory_total_bytes, other.memory_total_bytes);
        take(
            &mut self.memory_available_bytes,
            other.memory_available_bytes,
        );
        take(&mut self.load1, other.load1);
        take(&mut self.disk_read_bytes, other.disk_read_bytes);
        take(&mut self.disk_written_bytes, other.disk_written_bytes);
        take(&mut self.network_receive_bytes, other.network_receive_bytes);
        take(
            &mut self.network_transmit_bytes,
            other.network_transmit_bytes,
        );
        self.temperatures.extend_from_slice(&other.temperatures);
        self.filesystems.extend_from_slice(&other.filesystems);
        self.process_memory_growth
            .extend_from_slice(&other.process_memory_growth);
        self.usb_timeouts.extend(
            other
                .usb_timeouts
                .iter()
                .map(|(port, count)| (port.clone(), *count)),
        );
    }
}

impl SignalExtractor {
    pub fn new() -> SignalExtractor {
        SignalExtractor::default()
    }

    /// The signals of collectors' metric sets (tests and tools; the sampler hands over
    /// [`Readings`] it assembled, see [`SignalExtractor::extract_readings`]).
    pub fn extract(&mut self, sets: &[&MetricSet], at: DateTime<Utc>) -> Signals {
        self.extract_readings(&Readings::from_sets(sets), at)
    }

    pub fn extract_readings(&mut self, readings: &Readings, at: DateTime<Utc>) -> Signals {
        let mut signals = Signals::empty(at);
        let elapsed = self
            .previous
            .at
            .map(|p| (at - p).num_microseconds().unwrap_or(0) as f64 / 1e6)
            .filter(|dt| *dt > 0.0);

        // CPU: busy share of all CPU time since the previous sample.
        let cpu = readings.cpu;
        if let (Some(now), Some(before)) = (cpu, self.previous.cpu) {
            let (d_busy, d_total) = (now.busy - before.busy, now.total - before.total);
            if d_total > 0.0 && d_busy >= 0.0 {
                signals.cpu_busy_percent = Some((d_busy / d_total * 100.0).clamp(0.0, 100.0));
            }
        }
        let cpus = cpu.map_or(0, |c| c.cpus);

        // Memory: what is not available, as `free` and node_exporter dashboards compute it.
        if let (Some(t), Some(a)) = (readings.memory_total_bytes, readings.memory_available_bytes) {
            if t > 0.0 && a >= 0.0 {
                signals.memory_used_percent = Some(((t - a) / t * 100.0).clamp(0.0, 100.0));
            }
        }

        if let (Some(load), true) = (readings.load1, cpus > 0) {
            signals.load1_per_cpu = Some(load / cpus as f64);
        }

        let both = |a: Option<f64>, b: Option<f64>| Some(a? + b?);
        let disk_bytes = both(readings.disk_read_bytes, readings.disk_written_bytes);
        signals.disk_io_bytes_per_second = rate(self.previous.disk_bytes, disk_bytes, elapsed);
        let network_bytes = both(
            readings.network_receive_bytes,
            readings.network_transmit_bytes,
        );
        signals.network_bytes_per_second =
            rate(self.previous.network_bytes, network_bytes, elapsed);

        signals.temperatures_celsius = readings.temperatures.clone();
        signals.filesystems_used_percent = readings.filesystems.clone();
        signals.process_memory_growth_mib_per_hour = readings
            .process_memory_growth
            .iter()
            .map(|r| Reading {
                value: r.value * 3600.0 / (1024.0 * 1024.0),
                ..r.clone()
            })
            .collect();

        // USB timeouts per port since the previous sample. A port seen for the first time counts
        // from zero only if there was a previous sample (otherwise its history predates us).
        let mut usb: Vec<Reading> = readings
            .usb_timeouts
            .iter()
            .map(|(port, now)| {
                let before = match self.previous.usb_timeouts.get(port) {
                    Some(b) => *b,
                    None if self.previous.at.is_some() => 0.0,
                    None => *now,
                };
                Reading {
                    subject: port.clone(),
                    value: (now - before).max(0.0),
                    limit: None,
                }
            })
            .collect();
        usb.sort_by(|a, b| a.subject.cmp(&b.subject));
        signals.usb_timeouts = usb;

        self.previous = Previous {
            at: Some(at),
            cpu,
            disk_bytes,
            network_bytes,
            usb_timeouts: readings.usb_timeouts.clone(),
        };
        signals
    }
}

/// Every temperature: hwmon sensors as `chip/sensor` with the sensor's own critical limit, and
/// thermal zones as `thermal_zone<N>`.
fn temperatures(sets: &[&MetricSet]) -> Vec<Reading> {
    let mut crit: HashMap<(&str, &str), f64> = HashMap::new();
    if let Some(f) = family(sets, "node_hwmon_temp_crit_celsius") {
        for s in &f.samples {
            if let (Some(c), Some(n)) = (label(&s.labels, "chip"), label(&s.labels, "sensor")) {
                crit.insert((c, n), s.value);
            }
        }
    }
    let mut out = Vec::new();
    if let Some(f) = family(sets, "node_hwmon_temp_celsius") {
        for s in &f.samples {
            if let (Some(c), Some(n)) = (label(&s.labels, "chip"), label(&s.labels, "sensor")) {
                if s.value.is_finite() {
                    out.push(Reading {
                        subject: format!("{c}/{n}"),
                        value: s.value,
                        limit: crit.get(&(c, n)).copied(),
                    });
                }
            }
        }
    }
    if let Some(f) = family(sets, "node_thermal_zone_temp") {
        for s in &f.samples {
            if let Some(zone) = label(&s.labels, "zone") {
                if s.value.is_finite() {
                    out.push(Reading {
                        subject: format!("thermal_zone{zone}"),
                        value: s.value,
                        limit: None,
                    });
                }
            }
        }
    }
    out
}

/// Used space per mount point, as `df` reports it: the reserved blocks count as neither used nor
/// available to users.
fn filesystems(sets: &[&MetricSet]) -> Vec<Reading> {
    let by_mount = |name: &str| -> BTreeMap<&str, f64> {
        family(sets, name)
            .map(|f| {
                f.samples
                    .iter()
                    .filter_map(|s| Some((label(&s.labels, "mountpoint")?, s.value)))
                    .collect()
            })
            .unwrap_or_default()
    };
    let (size, free, avail) = (
        by_mount("node_filesystem_size_bytes"),
        by_mount("node_filesystem_free_bytes"),
        by_mount("node_filesystem_avail_bytes"),
    );
    size.iter()
        .filter_map(|(mount, size)| {
            let (free, avail) = (*free.get(mount)?, *avail.get(mount)?);
            let used = size - free;
            let usable = used + avail;
            (usable > 0.0 && used >= 0.0).then(|| Reading {
                subject: mount.to_string(),
                value: (used / usable * 100.0).clamp(0.0, 100.0),
                limit: None,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_764_000_000 + seconds, 0).unwrap()
    }

    fn cpu_set(idle: f64, user: f64) -> MetricSet {
        let mut set = MetricSet::new();
        let f = set.counter("node_cpu_seconds_total", "");
        for cpu in ["0", "1"] {
            f.sample(&[("cpu", cpu), ("mode", "idle")], idle / 2.0);
            f.sample(&[("cpu", cpu), ("mode", "iowait")], 0.0);
            f.sample(&[("cpu", cpu), ("mode", "user")], user / 2.0);
        }
        set.gauge("node_load1", "").sample(&[], 3.0);
        set
    }

    #[test]
    fn cpu_busy_from_deltas_and_load_per_cpu() {
        let mut x = SignalExtractor::new();
        let first = x.extract(&[&cpu_set(100.0, 100.0)], at(0));
        assert_eq!(first.cpu_busy_percent, None, "no rate on the first sample");
        assert_eq!(first.load1_per_cpu, Some(1.5));
        let second = x.extract(&[&cpu_set(101.0, 103.0)], at(2));
        assert_eq!(second.cpu_busy_percent, Some(75.0));
    }

    #[test]
    fn memory_filesystem_and_temperatures() {
        let mut set = MetricSet::new();
        set.gauge("node_memory_MemTotal_bytes", "")
            .sample(&[], 1000.0);
        set.gauge("node_memory_MemAvailable_bytes", "")
            .sample(&[], 250.0);
        let l = [
            ("device", "/dev/sda1"),
            ("fstype", "ext4"),
            ("mountpoint", "/"),
        ];
        set.gauge("node_filesystem_size_bytes", "")
            .sample(&l, 1000.0);
        set.gauge("node_filesystem_free_bytes", "")
            .sample(&l, 150.0);
        set.gauge("node_filesystem_avail_bytes", "")
            .sample(&l, 100.0);
        let t = [("chip", "platform_coretemp_0"), ("sensor", "temp1")];
        set.gauge("node_hwmon_temp_celsius", "").sample(&t, 71.0);
        set.gauge("node_hwmon_temp_crit_celsius", "")
            .sample(&t, 100.0);
        set.gauge("node_thermal_zone_temp", "")
            .sample(&[("type", "acpitz"), ("zone", "0")], 45.0);
        let s = SignalExtractor::new().extract(&[&set], at(0));
        assert_eq!(s.memory_used_percent, Some(75.0));
        // used 850 of (850 + 100) usable.
        let fs = &s.filesystems_used_percent[0];
        assert_eq!(fs.subject, "/");
        assert!((fs.value - 850.0 / 950.0 * 100.0).abs() < 1e-9);
        assert_eq!(s.temperatures_celsius.len(), 2);
        assert_eq!(
            s.temperatures_celsius[0].subject,
            "platform_coretemp_0/temp1"
        );
        assert_eq!(s.temperatures_celsius[0].limit, Some(100.0));
        assert_eq!(s.temperatures_celsius[1].subject, "thermal_zone0");
    }

    fn io_set(disk: f64, net_eth: f64, net_lo: f64, usb_timeouts: f64) -> MetricSet {
        let mut set = MetricSet::new();
        set.counter("node_disk_read_bytes_total", "")
            .sample(&[("device", "sda")], disk);
        set.counter("node_disk_written_bytes_total", "")
            .sample(&[("device", "sda")], disk);
        set.counter("node_network_receive_bytes_total", "")
            .sample(&[("device", "eth0")], net_eth)
            .sample(&[("device", "lo")], net_lo);
        set.counter("node_network_transmit_bytes_total", "")
            .sample(&[("device", "eth0")], 0.0);
        set.counter("sysmon_usb_errors_total", "")
            .sample(&[("port", "1-2"), ("kind", "timeout")], usb_timeouts)
            .sample(&[("port", "1-2"), ("kind", "reset")], 50.0);
        set
    }

    #[test]
    fn rates_skip_loopback_and_resets() {
        let mut x = SignalExtractor::new();
        let s = x.extract(&[&io_set(1000.0, 0.0, 0.0, 7.0)], at(0));
        assert_eq!(s.disk_io_bytes_per_second, None);
        assert_eq!(
            s.usb_timeouts[0].value, 0.0,
            "history before the first sample is not new"
        );
        let s = x.extract(&[&io_set(2000.0, 400.0, 1e9, 9.0)], at(2));
        assert_eq!(s.disk_io_bytes_per_second, Some(1000.0));
        assert_eq!(s.network_bytes_per_second, Some(200.0));
        assert_eq!(s.usb_timeouts[0].value, 2.0);
        let s = x.extract(&[&io_set(10.0, 400.0, 0.0, 9.0)], at(4));
        assert_eq!(
            s.disk_io_bytes_per_second, None,
            "a counter reset gives no rate"
        );
        assert_eq!(s.usb_timeouts[0].value, 0.0);
    }
}
