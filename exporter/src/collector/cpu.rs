//! `cpu`: per-CPU time in each mode from `<procfs>/stat`, plus what node_exporter's cpu collector
//! reads from `<sysfs>/devices/system/cpu`: thermal throttle counts, isolated CPUs and the online
//! state of hot-pluggable CPUs.
//!
//! The CPU lines are hand-parsed rather than through procfs-core's `KernelStats`, which drops the
//! CPU number of each line: with a CPU offline the lines after it would get the wrong label.
//!
//! The kernel's counters are not perfectly monotonic (idle and iowait can step back a little, and
//! a CPU that goes offline and comes back may restart from zero), so, like node_exporter, the
//! collector keeps the last published values per CPU and only moves a counter forward.

use std::collections::btree_map::Entry;
use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::path::PathBuf;
use std::sync::Mutex;

use super::{
    read_string, read_trimmed, read_u64, sorted_dir_entries, BuildContext, CollectError, Collector,
    Registration, Roots,
};
use crate::metrics::MetricSet;

pub const REGISTRATION: Registration = Registration {
    name: "cpu",
    default_enabled: true,
    help: "per-CPU time in each mode from /proc/stat",
    flags: super::no_flags,
    build,
};

fn build(ctx: &BuildContext) -> Result<Box<dyn Collector>, String> {
    Ok(Box::new(CpuCollector {
        roots: ctx.roots.clone(),
        counters: Mutex::new(CpuCounters::default()),
    }))
}

pub struct CpuCollector {
    roots: Roots,
    counters: Mutex<CpuCounters>,
}

/// Columns of a `cpuN` line of /proc/stat, in the kernel's order (proc.rst), counted in USER_HZ
/// ticks. `guest` and `guest_nice` are also included in `user` and `nice`.
pub const COLUMNS: [&str; 10] = [
    "user",
    "nice",
    "system",
    "idle",
    "iowait",
    "irq",
    "softirq",
    "steal",
    "guest",
    "guest_nice",
];
const IDLE: usize = 3;
const GUEST: usize = 8;
const GUEST_NICE: usize = 9;

/// Every kernel prints at least user, nice, system and idle; the later columns appeared over the
/// 2.5/2.6 series and count as zero when absent. A line shorter than this is damaged.
const MIN_COLUMNS: usize = 4;

/// The kernel exposes tick counts in USER_HZ, which is 100 on every Linux architecture
/// node_exporter supports; it hard-codes the same value.
const USER_HZ: f64 = 100.0;

/// If idle goes back by this much (3 s, node_exporter's `jumpBackSeconds`), the CPU was most
/// likely unplugged and plugged back, so its counters restart instead of being held.
const JUMP_BACK_TICKS: u64 = 3 * USER_HZ as u64;

/// One CPU's ticks per column of [`COLUMNS`].
pub type CpuTicks = [u64; 10];

/// Parses the per-CPU lines (`cpu0`, `cpu1`, …) of /proc/stat, keyed by CPU number. Offline CPUs
/// have no line. The aggregate `cpu` line and the other lines are skipped.
pub fn parse_cpu_lines(text: &str) -> Result<BTreeMap<u32, CpuTicks>, String> {
    let mut cpus = BTreeMap::new();
    for (index, line) in text.lines().enumerate() {
        let mut fields = line.split_whitespace();
        let Some(id) = fields.next().and_then(|name| name.strip_prefix("cpu")) else {
            continue;
        };
        if id.is_empty() {
            continue;
        }
        let lineno = index + 1;
        let id: u32 = id.parse().map_err(|_| {
            format!("line {lineno}: expected a CPU number after \"cpu\", found {id:?}")
        })?;
        let mut ticks = [0u64; 10];
        let mut count = 0;
        // Columns beyond the ten known ones would be a newer kernel's additions: ignored.
        for (slot, field) in ticks.iter_mut().zip(fields) {
            *slot = field.parse().map_err(|_| {
                format!(
                    "line {lineno}: cpu{id}: expected a tick count for {}, found {field:?}",
                    COLUMNS[count]
                )
            })?;
            count += 1;
        }
        if count < MIN_COLUMNS {
            return Err(format!(
                "line {lineno}: cpu{id}: expected at least {MIN_COLUMNS} tick counts, found {count}"
            ));
        }
        cpus.insert(id, ticks);
    }
    Ok(cpus)
}

/// The last published ticks per CPU, kept so counters never go backwards (node_exporter's
/// `updateCPUStats`).
#[derive(Debug, Default)]
pub struct CpuCounters {
    last: BTreeMap<u32, CpuTicks>,
}

impl CpuCounters {
    /// Folds in one sample and returns what to publish:
    /// * a column only moves forward: a smaller value than last time is ignored;
    /// * if idle went back by [`JUMP_BACK_TICKS`] or more, the CPU was re-plugged: its counters
    ///   restart from this sample;
    /// * CPUs absent from the sample (offline) are forgotten, so they start afresh when they return.
    pub fn update(&mut self, sample: &BTreeMap<u32, CpuTicks>) -> &BTreeMap<u32, CpuTicks> {
        for (&cpu, new) in sample {
            let last = self.last.entry(cpu).or_default();
            if last[IDLE].saturating_sub(new[IDLE]) >= JUMP_BACK_TICKS {
                tracing::debug!(
                    cpu,
                    old = last[IDLE],
                    new = new[IDLE],
                    "CPU idle counter jumped back, resetting its counters"
                );
                *last = [0; 10];
            }
            for (kept, &value) in last.iter_mut().zip(new) {
                if value >= *kept {
                    *kept = value;
                }
            }
        }
        self.last.retain(|cpu, _| sample.contains_key(cpu));
        &self.last
    }
}

/// Parses a kernel CPU list such as `0-3,8,10-11` (an empty list is valid: nothing isolated).
pub fn parse_cpu_list(text: &str) -> Result<Vec<u32>, String> {
    // More CPUs than any kernel supports (NR_CPUS is at most 8192): refuse rather than allocate.
    const LIMIT: u32 = 1 << 16;
    let mut cpus = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        let number = |s: &str| s.parse::<u32>().ok().filter(|&n| n < LIMIT);
        let (first, last) = match part.split_once('-') {
            Some((a, b)) => (number(a), number(b)),
            None => (number(part), number(part)),
        };
        match (first, last) {
            (Some(a), Some(b)) if a <= b => cpus.extend(a..=b),
            _ => {
                return Err(format!(
                    "expected a CPU list such as \"0-3,8\", found {:?}",
                    text.trim()
                ))
            }
        }
    }
    Ok(cpus)
}

/// Thermal throttle counts, read the way node_exporter does: per package from the first CPU of
/// the package that has a readable count, per (package, core) from the first CPU of the core.
/// CPUs without topology (offline ones) or without counters are skipped silently.
#[derive(Debug, Default, PartialEq)]
pub struct Throttles {
    pub packages: BTreeMap<u64, u64>,
    pub cores: BTreeMap<(u64, u64), u64>,
}

/// The `cpuN` directories of `<sysfs>/devices/system/cpu`, in name order, with their numbers.
fn cpu_dirs(roots: &Roots) -> Result<Vec<(String, PathBuf)>, CollectError> {
    let dir = roots.sys("devices/system/cpu");
    let entries = match sorted_dir_entries(&dir) {
        Ok(entries) => entries,
        // No CPU directory in this sysfs (a container's, say): nothing to read, as node_exporter.
        Err(CollectError::Io { source, .. }) if source.kind() == ErrorKind::NotFound => {
            return Ok(Vec::new())
        }
        Err(e) => return Err(e),
    };
    Ok(entries
        .into_iter()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let number = name.strip_prefix("cpu")?;
            (!number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()))
                .then(|| (number.to_string(), e.path()))
        })
        .collect())
}

fn read_throttles(cpus: &[(String, PathBuf)]) -> Throttles {
    let mut t = Throttles::default();
    for (_, dir) in cpus {
        let (Ok(package), Ok(core)) = (
            read_u64(dir.join("topology/physical_package_id")),
            read_u64(dir.join("topology/core_id")),
        ) else {
            continue;
        };
        // A sibling of an already-read core (or package) is not read again; one whose count was
        // unreadable leaves the slot free for the next sibling.
        if let Entry::Vacant(slot) = t.cores.entry((package, core)) {
            if let Ok(count) = read_u64(dir.join("thermal_throttle/core_throttle_count")) {
                slot.insert(count);
            }
        }
        if let Entry::Vacant(slot) = t.packages.entry(package) {
            if let Ok(count) = read_u64(dir.join("thermal_throttle/package_throttle_count")) {
                slot.insert(count);
            }
        }
    }
    t
}

/// Online state per CPU from `cpuN/online`, as node_exporter: only when the first CPU has an
/// `online` file. On x86 the boot CPU cannot be unplugged and has none, so there, as in
/// node_exporter, nothing is reported. An unreadable file counts as offline.
fn read_online(cpus: &[(String, PathBuf)]) -> Vec<(&str, bool)> {
    let Some((_, first)) = cpus.first() else {
        return Vec::new();
    };
    if let Err(CollectError::Io { source, .. }) = read_trimmed(first.join("online")) {
        if source.kind() == ErrorKind::NotFound {
            return Vec::new();
        }
    }
    cpus.iter()
        .map(|(number, dir)| {
            (
                number.as_str(),
                read_trimmed(dir.join("online")).is_ok_and(|s| s == "1"),
            )
        })
        .collect()
}

impl CpuCollector {
    fn collect_times(&self, out: &mut MetricSet) -> Result<(), CollectError> {
        let path = self.roots.proc("stat");
        let text = read_string(&path)?;
        let sample =
            parse_cpu_lines(&text).map_err(|message| CollectError::parse(&path, message))?;
        let mut counters = self
            .counters
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let published = counters.update(&sample);

        let seconds = out.counter(
            "node_cpu_seconds_total",
            "Seconds each CPU spent in each mode.",
        );
        for (cpu, ticks) in published {
            let cpu = cpu.to_string();
            for (mode, value) in COLUMNS.iter().zip(ticks).take(GUEST) {
                seconds.sample(&[("cpu", &cpu), ("mode", mode)], *value as f64 / USER_HZ);
            }
        }
        // Guest time is already part of user and nice; exported on its own as node_exporter does.
        let guest = out.counter(
            "node_cpu_guest_seconds_total",
            "Seconds each CPU spent running guests (VMs), per mode (also counted in user and nice).",
        );
        for (cpu, ticks) in published {
            let cpu = cpu.to_string();
            guest.sample(
                &[("cpu", &cpu), ("mode", "user")],
                ticks[GUEST] as f64 / USER_HZ,
            );
            guest.sample(
                &[("cpu", &cpu), ("mode", "nice")],
                ticks[GUEST_NICE] as f64 / USER_HZ,
            );
        }
        Ok(())
    }

    fn collect_isolated(&self, out: &mut MetricSet) -> Result<(), CollectError> {
        let path = self.roots.sys("devices/system/cpu/isolated");
        let text = match read_string(&path) {
            Ok(text) => text,
            // Kernels before 4.2 have no such file.
            Err(CollectError::Io { source, .. }) if source.kind() == ErrorKind::NotFound => {
                return Ok(())
            }
            Err(e) => return Err(e),
        };
        let isolated =
            parse_cpu_list(&text).map_err(|message| CollectError::parse(&path, message))?;
        let family = out.gauge(
            "node_cpu_isolated",
            "Whether each CPU is isolated from the scheduler (isolcpus).",
        );
        for cpu in isolated {
            family.sample(&[("cpu", &cpu.to_string())], 1.0);
        }
        Ok(())
    }
}

impl Collector for CpuCollector {
    fn collect(&self, out: &mut MetricSet) -> Result<(), CollectError> {
        self.collect_times(out)?;

        let cpus = cpu_dirs(&self.roots)?;
        let throttles = read_throttles(&cpus);
        let family = out.counter(
            "node_cpu_package_throttles_total",
            "Times this CPU package has been throttled.",
        );
        for (package, count) in &throttles.packages {
            family.sample(&[("package", &package.to_string())], *count as f64);
        }
        let family = out.counter(
            "node_cpu_core_throttles_total",
            "Times this CPU core has been throttled.",
        );
        for ((package, core), count) in &throttles.cores {
            family.sample(
                &[
                    ("package", &package.to_string()),
                    ("core", &core.to_string()),
                ],
                *count as f64,
            );
        }

        let family = out.gauge(
            "node_cpu_online",
            "Whether each CPU is online and being scheduled.",
        );
        for (cpu, online) in read_online(&cpus) {
            family.sample(&[("cpu", cpu)], if online { 1.0 } else { 0.0 });
        }

        self.collect_isolated(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(lines: &[(u32, CpuTicks)]) -> BTreeMap<u32, CpuTicks> {
        lines.iter().copied().collect()
    }

    #[test]
    fn parses_cpu_lines_by_number() {
        let text = "\
cpu  300 2 150 9000 30 5 7 0 20 0
cpu0 100 1 50 3000 10 2 3 0 20 0
cpu2 200 1 100 6000 20 3 4 0 0 0
intr 5 1 2
ctxt 99
";
        let cpus = parse_cpu_lines(text).unwrap();
        assert_eq!(
            cpus.keys().copied().collect::<Vec<_>>(),
            vec![0, 2],
            "offline cpu1 has no line"
        );
        assert_eq!(cpus[&0], [100, 1, 50, 3000, 10, 2, 3, 0, 20, 0]);
        assert_eq!(cpus[&2], [200, 1, 100, 6000, 20, 3, 4, 0, 0, 0]);
    }

    #[test]
    fn old_kernels_short_lines_and_future_columns() {
        // 2.6.24 had no guest_nice; a future kernel may add columns.
        let cpus =
            parse_cpu_lines("cpu0 1 2 3 4 5 6 7 8 9\ncpu1 1 2 3 4 5 6 7 8 9 10 11 12\n").unwrap();
        assert_eq!(cpus[&0], [1, 2, 3, 4, 5, 6, 7, 8, 9, 0]);
        assert_eq!(cpus[&1], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    }

    #[test]
    fn rejects_damaged_lines() {
        assert_eq!(
            parse_cpu_lines("cpu  1 2 3 4\ncpu1 4711 12\n").unwrap_err(),
            "line 2: cpu1: expected at least 4 tick counts, found 2"
        );
        assert_eq!(
            parse_cpu_lines("cpu0 1 2 x 4\n").unwrap_err(),
            "line 1: cpu0: expected a tick count for system, found \"x\""
        );
        assert!(parse_cpu_lines("cpu0 1 2 3 -4\n").is_err());
        assert!(parse_cpu_lines("cpu0 1 2 3 99999999999999999999\n").is_err());
        assert!(parse_cpu_lines("cpuX 1 2 3 4\n")
            .unwrap_err()
            .contains("CPU number"));
        // The largest tick count the kernel can print is fine.
        assert_eq!(
            parse_cpu_lines("cpu0 18446744073709551615 0 0 0\n").unwrap()[&0][0],
            u64::MAX
        );
    }

    #[test]
    fn counters_never_go_backwards() {
        let mut c = CpuCounters::default();
        c.update(&sample(&[(0, [100, 0, 50, 1000, 20, 0, 5, 0, 0, 0])]));
        // iowait and idle jitter back by less than 3 s, user moves on: jitter is held.
        let out = c.update(&sample(&[(0, [110, 0, 55, 950, 18, 0, 6, 0, 0, 0])]));
        assert_eq!(out[&0], [110, 0, 55, 1000, 20, 0, 6, 0, 0, 0]);
        // Once the kernel's values pass the held ones, they are published again.
        let out = c.update(&sample(&[(0, [120, 0, 60, 1010, 21, 0, 7, 0, 0, 0])]));
        assert_eq!(out[&0], [120, 0, 60, 1010, 21, 0, 7, 0, 0, 0]);
    }

    #[test]
    fn large_idle_jump_back_resets_the_cpu() {
        let mut c = CpuCounters::default();
        c.update(&sample(&[(0, [100, 0, 50, 1000, 20, 0, 5, 0, 0, 0])]));
        // Idle back by exactly 3 s (300 ticks): a hotplug, everything restarts from this sample,
        // including columns that went backwards.
        let out = c.update(&sample(&[(0, [40, 0, 10, 700, 2, 0, 1, 0, 0, 0])]));
        assert_eq!(out[&0], [40, 0, 10, 700, 2, 0, 1, 0, 0, 0]);
        // 299 ticks back is still jitter.
        let out = c.update(&sample(&[(0, [41, 0, 11, 401, 2, 0, 1, 0, 0, 0])]));
        assert_eq!(out[&0], [41, 0, 11, 700, 2, 0, 1, 0, 0, 0]);
    }

    #[test]
    fn offline_cpu_is_forgotten_and_restarts_when_back() {
        let mut c = CpuCounters::default();
        c.update(&sample(&[
            (0, [100; 10]),
            (1, [500, 0, 0, 1000, 0, 0, 0, 0, 0, 0]),
        ]));
        // cpu1 goes offline: it is no longer published.
        let out = c.update(&sample(&[(0, [110; 10])]));
        assert_eq!(out.keys().copied().collect::<Vec<_>>(), vec![0]);
        // cpu1 comes back with smaller counters (less than 3 s of idle lost would otherwise have
        // been held): it starts from the kernel's values, as a fresh series.
        let out = c.update(&sample(&[
            (0, [120; 10]),
            (1, [7, 0, 0, 900, 0, 0, 0, 0, 0, 0]),
        ]));
        assert_eq!(out[&1], [7, 0, 0, 900, 0, 0, 0, 0, 0, 0]);
        assert_eq!(out[&0], [120; 10]);
    }

    #[test]
    fn parses_cpu_lists() {
        assert_eq!(parse_cpu_list("\n"), Ok(vec![]));
        assert_eq!(parse_cpu_list("60-63\n"), Ok(vec![60, 61, 62, 63]));
        assert_eq!(parse_cpu_list("0,2-3,8"), Ok(vec![0, 2, 3, 8]));
        assert!(parse_cpu_list("3-1").is_err());
        assert!(parse_cpu_list("a-b").is_err());
        assert!(
            parse_cpu_list("0-4294967295").is_err(),
            "absurd ranges are refused, not allocated"
        );
    }

    fn write(dir: &std::path::Path, rel: &str, text: &str) {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn roots_at(dir: &std::path::Path) -> Roots {
        Roots {
            procfs: dir.join("proc"),
            sysfs: dir.join("sys"),
            rootfs: dir.join("rootfs"),
        }
    }

    #[test]
    fn throttles_are_read_once_per_core_and_package() {
        let tmp = tempfile::tempdir().unwrap();
        let d = "sys/devices/system/cpu";
        // cpu0 and cpu2 are hyperthreads of core 0; cpu1 is core 1; cpu3 is offline (no topology);
        // cpu4 has unreadable topology; cpu5 is in package 1 with a garbage package count.
        for (cpu, package, core, core_count, package_count) in [
            (0, "0", "0", "11", "100"),
            (1, "0", "1", "12", "100"),
            (2, "0", "0", "99", "100"),
            (4, "0", "x", "1", "1"),
            (5, "1", "0", "13", "lots"),
        ] {
            write(
                tmp.path(),
                &format!("{d}/cpu{cpu}/topology/physical_package_id"),
                package,
            );
            write(tmp.path(), &format!("{d}/cpu{cpu}/topology/core_id"), core);
            write(
                tmp.path(),
                &format!("{d}/cpu{cpu}/thermal_throttle/core_throttle_count"),
                core_count,
            );
            write(
                tmp.path(),
                &format!("{d}/cpu{cpu}/thermal_throttle/package_throttle_count"),
                package_count,
            );
        }
        write(tmp.path(), &format!("{d}/cpu3/online"), "0\n");
        let cpus = cpu_dirs(&roots_at(tmp.path())).unwrap();
        let t = read_throttles(&cpus);
        assert_eq!(t.packages, BTreeMap::from([(0, 100)]));
        assert_eq!(
            t.cores,
            BTreeMap::from([((0, 0), 11), ((0, 1), 12), ((1, 0), 13)])
        );
    }

    #[test]
    fn online_state_follows_the_first_cpu() {
        let tmp = tempfile::tempdir().unwrap();
        let d = "sys/devices/system/cpu";
        write(tmp.path(), &format!("{d}/cpu0/topology/core_id"), "0\n");
        write(tmp.path(), &format!("{d}/cpu1/online"), "1\n");
        write(tmp.path(), &format!("{d}/cpu2/online"), "0\n");
        let roots = roots_at(tmp.path());
        // x86: cpu0 has no online file, so nothing is reported.
        assert!(read_online(&cpu_dirs(&roots).unwrap()).is_empty());
        write(tmp.path(), &format!("{d}/cpu0/online"), "1\n");
        write(tmp.path(), &format!("{d}/cpu10/online"), "garbage\n");
        let cpus = cpu_dirs(&roots).unwrap();
        assert_eq!(
            read_online(&cpus),
            vec![("0", true), ("1", true), ("10", false), ("2", false)]
        );
    }

    #[test]
    fn collects_from_a_tree_and_fails_on_damage() {
        let tmp = tempfile::tempdir().unwrap();
        write(
            tmp.path(),
            "proc/stat",
            "cpu  250 0 0 1000 0 0 0 0 0 0\ncpu1 250 0 0 1000 0 0 0 0 50 0\n",
        );
        write(tmp.path(), "sys/devices/system/cpu/isolated", "1\n");
        let collector = CpuCollector {
            roots: roots_at(tmp.path()),
            counters: Mutex::default(),
        };
        let mut out = MetricSet::new();
        collector.collect(&mut out).unwrap();
        let seconds = out.get("node_cpu_seconds_total").unwrap();
        assert_eq!(seconds.samples.len(), 8);
        assert_eq!(
            seconds.samples[0].labels,
            vec![
                ("cpu".into(), "1".to_string()),
                ("mode".into(), "user".to_string())
            ]
        );
        assert_eq!(seconds.samples[0].value, 2.5);
        assert_eq!(seconds.samples[3].value, 10.0);
        let guest = out.get("node_cpu_guest_seconds_total").unwrap();
        assert_eq!((guest.samples[0].value, guest.samples[1].value), (0.5, 0.0));
        assert_eq!(out.get("node_cpu_isolated").unwrap().samples.len(), 1);

        write(tmp.path(), "sys/devices/system/cpu/isolated", "one\n");
        let mut out = MetricSet::new();
        let err = collector.collect(&mut out).unwrap_err().to_string();
        assert!(err.contains("isolated"), "{err}");
        assert_eq!(
            out.get("node_cpu_seconds_total").unwrap().samples.len(),
            8,
            "earlier samples are kept"
        );

        write(tmp.path(), "proc/stat", "cpu1 4711 12\n");
        let err = collector
            .collect(&mut MetricSet::new())
            .unwrap_err()
            .to_string();
        assert!(err.contains("proc/stat") && err.contains("cpu1"), "{err}");
    }
}
