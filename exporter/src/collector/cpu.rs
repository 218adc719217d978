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
//!
//! Flags, as node_exporter's: `--[no-]collector.cpu.guest` (default on) exports
//! `node_cpu_guest_seconds_total`; `--collector.cpu.info` (default off) reads `<procfs>/cpuinfo`
//! into `node_cpu_info`, and `--collector.cpu.info.flags-include` / `.bugs-include` (regular
//! expressions, which turn `--collector.cpu.info` on) export the matching `flags` / `bugs` of the
//! first CPU as `node_cpu_flag_info` / `node_cpu_bug_info`. With `--collector.cpu.info` and the
//! `cpufreq` collector disabled, the `cpu MHz` of cpuinfo is exported as
//! `node_cpu_frequency_hertz{package,core,cpu}`; with `cpufreq` enabled that name is its own
//! (node_exporter 1.12 exports both at once, which its registry then rejects when both have
//! samples, node_exporter issue 3689; later releases do as sysmon does).
//!
//! /proc/cpuinfo is parsed in the x86 layout (`processor`, `vendor_id`, `cpu family`, ...), which is
//! what node_exporter's library does on x86; on other architectures the labels it does not find
//! stay empty.

use std::collections::btree_map::Entry;
use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::path::PathBuf;
use std::sync::Mutex;

use regex_lite::Regex;

use super::kept_open::KeptOpen;
use super::{
    read_string, read_trimmed, read_u64, sorted_dir_entries_if_present, BuildContext, CollectError,
    Collector, Registration, Roots,
};
use crate::anomaly::signals::{CpuTimes, Readings};
use crate::metrics::MetricSet;

pub const REGISTRATION: Registration = Registration {
    name: "cpu",
    default_enabled: true,
    help: "per-CPU time in each mode from /proc/stat",
    flags: <Args as clap::Args>::augment_args,
    // The anomaly rules' CPU reading is taken every sample by `signals`.
    cadence: super::Cadence::Slow,
    isolation: super::Isolation::Inline,
    build,
};

/// Flags of the `cpu` collector (node_exporter's names; a boolean has a `--no-` form, and the last
/// of the two given wins).
#[derive(Debug, Clone, clap::Args)]
#[group(id = "cpu_flags")]
#[command(next_help_heading = "Collector cpu")]
pub struct Args {
    /// Export node_cpu_guest_seconds_total (the default).
    #[arg(
        long = "collector.cpu.guest",
        id = "cpu_guest",
        overrides_with = "cpu_no_guest"
    )]
    pub guest: bool,
    /// Do not export node_cpu_guest_seconds_total.
    #[arg(
        long = "no-collector.cpu.guest",
        id = "cpu_no_guest",
        overrides_with = "cpu_guest"
    )]
    pub no_guest: bool,
    /// Export node_cpu_info from <procfs>/cpuinfo (off by default).
    #[arg(
        long = "collector.cpu.info",
        id = "cpu_info",
        overrides_with = "cpu_no_info"
    )]
    pub info: bool,
    /// Do not export node_cpu_info (the default).
    #[arg(
        long = "no-collector.cpu.info",
        id = "cpu_no_info",
        overrides_with = "cpu_info"
    )]
    pub no_info: bool,
    /// Regexp of the first CPU's `flags` in cpuinfo to export as node_cpu_flag_info (turns on
    /// --collector.cpu.info).
    #[arg(
        long = "collector.cpu.info.flags-include",
        id = "cpu_info_flags_include",
        value_name = "REGEX"
    )]
    pub flags_include: Option<String>,
    /// Regexp of the first CPU's `bugs` in cpuinfo to export as node_cpu_bug_info (turns on
    /// --collector.cpu.info).
    #[arg(
        long = "collector.cpu.info.bugs-include",
        id = "cpu_info_bugs_include",
        value_name = "REGEX"
    )]
    pub bugs_include: Option<String>,
}

/// What `--collector.cpu.*` asked for, resolved.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub guest: bool,
    pub info: bool,
    pub flags_include: Option<Regex>,
    pub bugs_include: Option<Regex>,
    /// Export cpuinfo's `cpu MHz` as node_cpu_frequency_hertz (info on, cpufreq collector off).
    pub info_frequency: bool,
}

impl Options {
    /// Resolves the flags; `cpufreq_enabled` says whether the cpufreq collector owns
    /// node_cpu_frequency_hertz. An empty regexp is no filter, as in node_exporter.
    pub fn from_args(args: &Args, cpufreq_enabled: bool) -> Result<Options, String> {
        let compile = |flag: &str, value: &Option<String>| -> Result<Option<Regex>, String> {
            match value.as_deref() {
                None | Some("") => Ok(None),
                Some(re) => Regex::new(re).map(Some).map_err(|e| {
                    format!("--collector.cpu.info.{flag}: expected a regular expression: {e}")
                }),
            }
        };
        let flags_include = compile("flags-include", &args.flags_include)?;
        let bugs_include = compile("bugs-include", &args.bugs_include)?;
        let info =
            (args.info && !args.no_info) || flags_include.is_some() || bugs_include.is_some();
        Ok(Options {
            guest: !args.no_guest,
            info,
            flags_include,
            bugs_include,
            info_frequency: info && !cpufreq_enabled,
        })
    }
}

fn build(ctx: &BuildContext) -> Result<Box<dyn Collector>, String> {
    let args: Args = ctx.args()?;
    let options = Options::from_args(&args, ctx.cli.enabled_collectors.contains(&"cpufreq"))?;
    let asked_for_info = args.info && !args.no_info;
    if options.info && !asked_for_info {
        tracing::info!(
            "--collector.cpu.info is on because --collector.cpu.info.flags-include or \
             --collector.cpu.info.bugs-include is set"
        );
    }
    Ok(Box::new(CpuCollector {
        roots: ctx.roots.clone(),
        counters: Mutex::new(CpuCounters::default()),
        options,
        stat: KeptOpen::new(ctx.roots.proc("stat")),
    }))
}

pub struct CpuCollector {
    roots: Roots,
    counters: Mutex<CpuCounters>,
    options: Options,
    /// /proc/stat for the signal readings.
    stat: KeptOpen,
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

/// One processor of /proc/cpuinfo: the fields node_cpu_info and node_cpu_frequency_hertz use,
/// as the kernel printed them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CpuInfo {
    pub processor: u32,
    pub vendor_id: String,
    pub cpu_family: String,
    pub model: String,
    pub model_name: String,
    pub stepping: String,
    pub microcode: String,
    pub cpu_mhz: f64,
    pub cache_size: String,
    pub physical_id: String,
    pub core_id: String,
}

/// /proc/cpuinfo: every processor, and the `flags` and `bugs` of the first one (the only ones
/// exported; reading them for every CPU would be wasted work).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CpuInfoFile {
    pub cpus: Vec<CpuInfo>,
    pub flags: Vec<String>,
    pub bugs: Vec<String>,
}

/// An unsigned integer the way Go's `strconv.ParseUint(s, 0, 32)` reads it (node_exporter's
/// library parses cpuinfo's counts so): decimal, `0x` hex, `0o`/leading-`0` octal or `0b` binary.
pub fn parse_uint_any_base(s: &str) -> Option<u32> {
    let (digits, radix) = if let Some(d) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        (d, 16)
    } else if let Some(d) = s.strip_prefix("0b").or_else(|| s.strip_prefix("0B")) {
        (d, 2)
    } else if let Some(d) = s.strip_prefix("0o").or_else(|| s.strip_prefix("0O")) {
        (d, 8)
    } else if s.len() > 1 && s.starts_with('0') {
        (&s[1..], 8)
    } else {
        (s, 10)
    };
    // from_str_radix would also take a sign.
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    u32::from_str_radix(digits, radix).ok()
}

/// Parses /proc/cpuinfo in the x86 layout (arch/x86/kernel/cpu/proc.c): blocks of `key\t: value`
/// lines, each starting with `processor`. Like node_exporter's library, the first non-empty line
/// must be a `processor` line, a value is everything after the first ": " (untrimmed), lines
/// without a colon and unknown keys are skipped, and a count or frequency that is not a number is
/// an error naming the line.
pub fn parse_cpuinfo(text: &str) -> Result<CpuInfoFile, String> {
    let mut out = CpuInfoFile::default();
    let mut lines = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .enumerate()
        .skip_while(|(_, l)| l.trim().is_empty());
    let Some((first_index, first)) = lines.next() else {
        return Err("empty file: expected a \"processor\" line".to_string());
    };
    let first_value = first
        .split_once(": ")
        .filter(|_| first.starts_with("processor"))
        .map(|(_, v)| v);
    let Some(first_value) = first_value else {
        return Err(format!(
            "line {}: expected the first line to be \"processor\\t: N\", found {first:?}",
            first_index + 1
        ));
    };
    let processor = parse_uint_any_base(first_value).ok_or_else(|| {
        format!(
            "line {}: expected a processor number, found {first_value:?}",
            first_index + 1
        )
    })?;
    out.cpus.push(CpuInfo {
        processor,
        ..CpuInfo::default()
    });
    for (index, line) in lines {
        // A line without ": " has no value ("power management:" on a VM, "bugs\t\t:" on a CPU
        // without any): nothing to read.
        let Some((key, value)) = line.split_once(": ") else {
            continue;
        };
        let key = key.trim();
        let lineno = index + 1;
        let uint = || {
            parse_uint_any_base(value).ok_or_else(|| {
                format!(
                    "line {lineno}: expected an unsigned integer after {key:?}, found {value:?}"
                )
            })
        };
        let float = || {
            value.parse::<f64>().map_err(|_| {
                format!("line {lineno}: expected a number after {key:?}, found {value:?}")
            })
        };
        if key == "processor" {
            out.cpus.push(CpuInfo {
                processor: uint()?,
                ..CpuInfo::default()
            });
            continue;
        }
        let first_cpu = out.cpus.len() == 1;
        let Some(cpu) = out.cpus.last_mut() else {
            continue; // cannot happen: the first processor is pushed above
        };
        match key {
            "vendor" | "vendor_id" => cpu.vendor_id = value.to_string(),
            "cpu family" => cpu.cpu_family = value.to_string(),
            "model" => cpu.model = value.to_string(),
            "model name" => cpu.model_name = value.to_string(),
            "stepping" => cpu.stepping = value.to_string(),
            "microcode" => cpu.microcode = value.to_string(),
            "cpu MHz" => cpu.cpu_mhz = float()?,
            "cache size" => cpu.cache_size = value.to_string(),
            "physical id" => cpu.physical_id = value.to_string(),
            "core id" => cpu.core_id = value.to_string(),
            // Not exported, but checked as node_exporter's library does.
            "siblings" | "cpu cores" | "cpuid level" | "clflush size" | "cache_alignment" => {
                uint()?;
            }
            "bogomips" => {
                float()?;
            }
            "flags" if first_cpu => {
                out.flags = value.split_whitespace().map(str::to_string).collect()
            }
            "bugs" if first_cpu => {
                out.bugs = value.split_whitespace().map(str::to_string).collect()
            }
            _ => {}
        }
    }
    Ok(out)
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
pub fn cpu_dirs(roots: &Roots) -> Result<Vec<(String, PathBuf)>, CollectError> {
    let dir = roots.sys("devices/system/cpu");
    // No CPU directory in this sysfs (a container's, say): nothing to read, as node_exporter.
    let Some(entries) = sorted_dir_entries_if_present(&dir)? else {
        return Ok(Vec::new());
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
    fn collect_info(&self, out: &mut MetricSet) -> Result<(), CollectError> {
        let path = self.roots.proc("cpuinfo");
        let text = read_string(&path)?;
        let info = parse_cpuinfo(&text).map_err(|message| CollectError::parse(&path, message))?;
        let family = out.gauge("node_cpu_info", "CPU information from /proc/cpuinfo.");
        for cpu in &info.cpus {
            family.sample(
                &[
                    ("package", &cpu.physical_id),
                    ("core", &cpu.core_id),
                    ("cpu", &cpu.processor.to_string()),
                    ("vendor", &cpu.vendor_id),
                    ("family", &cpu.cpu_family),
                    ("model", &cpu.model),
                    ("model_name", &cpu.model_name),
                    ("microcode", &cpu.microcode),
                    ("stepping", &cpu.stepping),
                    ("cachesize", &cpu.cache_size),
                ],
                1.0,
            );
        }
        if self.options.info_frequency {
            let family = out.gauge(
                "node_cpu_frequency_hertz",
                "CPU frequency in hertz from /proc/cpuinfo.",
            );
            for cpu in &info.cpus {
                family.sample(
                    &[
                        ("package", &cpu.physical_id),
                        ("core", &cpu.core_id),
                        ("cpu", &cpu.processor.to_string()),
                    ],
                    cpu.cpu_mhz * 1e6,
                );
            }
        }
        if let Some(re) = &self.options.flags_include {
            let family = out.gauge(
                "node_cpu_flag_info",
                "The `flags` field of CPU information from /proc/cpuinfo taken from the first core.",
            );
            for flag in info.flags.iter().filter(|f| re.is_match(f)) {
                family.sample(&[("flag", flag)], 1.0);
            }
        }
        if let Some(re) = &self.options.bugs_include {
            let family = out.gauge(
                "node_cpu_bug_info",
                "The `bugs` field of CPU information from /proc/cpuinfo taken from the first core.",
            );
            for bug in info.bugs.iter().filter(|b| re.is_match(b)) {
                family.sample(&[("bug", bug)], 1.0);
            }
        }
        Ok(())
    }

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
        if !self.options.guest {
            return Ok(());
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
        self.stat.reopen();
        // A damaged cpuinfo fails the collector, but the CPU times are still published.
        let info = if self.options.info {
            self.collect_info(out)
        } else {
            Ok(())
        };
        self.collect_times(out)?;
        info?;
        self.collect_topology(out)
    }

    fn reads_signals(&self) -> bool {
        true
    }

    fn full_run_has_signals(&self) -> bool {
        true
    }

    fn signals(&self, readings: &mut Readings) -> Result<(), CollectError> {
        readings.cpu = self
            .stat
            .read(cpu_times)?
            .map_err(|message| CollectError::parse(self.stat.path(), message))?;
        Ok(())
    }
}

/// The CPU time summed over the `cpuN` lines of /proc/stat (the CPUs online now, as the full
/// run publishes them; the `cpu` total line also counts CPUs gone offline), for the anomaly
/// rules. None when the file has no CPU lines.
pub fn cpu_times(text: &str) -> Result<Option<CpuTimes>, String> {
    let (mut busy, mut total, mut cpus) = (0u64, 0u64, 0usize);
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("cpu") else {
            continue;
        };
        let Some((n, columns)) = rest
            .split_once(' ')
            .filter(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        cpus += 1;
        // Guest time is already counted in user and nice: only the first eight columns add up.
        for (i, field) in columns.split_whitespace().take(GUEST).enumerate() {
            let ticks: u64 = field
                .parse()
                .map_err(|_| format!("cpu{n}: expected a tick count, found {field:?}"))?;
            total = total.saturating_add(ticks);
            if COLUMNS[i] != "idle" && COLUMNS[i] != "iowait" {
                busy = busy.saturating_add(ticks);
            }
        }
    }
    Ok((cpus > 0).then(|| CpuTimes {
        busy: busy as f64 / USER_HZ,
        total: total as f64 / USER_HZ,
        cpus,
    }))
}

impl CpuCollector {
    fn collect_topology(&self, out: &mut MetricSet) -> Result<(), CollectError> {
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
    use crate::collector::fixture_roots;

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

    const CPUINFO: &str = "\
processor\t: 0
vendor_id\t: GenuineIntel
cpu family\t: 6
model\t\t: 140
model name\t: 11th Gen Intel(R) Core(TM) i7-1165G7 @ 2.80GHz
stepping\t: 1
microcode\t: 0xb6
cpu MHz\t\t: 1187.512
cache size\t: 12288 KB
physical id\t: 0
siblings\t: 2
core id\t\t: 0
cpu cores\t: 1
flags\t\t: fpu vme sse4_2 avx2 aes
bugs\t\t: spectre_v1 spectre_v2 gds
bogomips\t: 5606.40
power management:

processor\t: 1
vendor_id\t: GenuineIntel
model name\t: 11th Gen Intel(R) Core(TM) i7-1165G7 @ 2.80GHz
cpu MHz\t\t: 400.000
physical id\t: 0
core id\t\t: 0
flags\t\t: fpu other
bugs\t\t:
";

    #[test]
    fn parses_cpuinfo() {
        let info = parse_cpuinfo(CPUINFO).unwrap();
        assert_eq!(info.cpus.len(), 2);
        let c = &info.cpus[0];
        assert_eq!(c.processor, 0);
        assert_eq!(c.vendor_id, "GenuineIntel");
        assert_eq!(c.cpu_family, "6");
        assert_eq!(c.model, "140");
        assert_eq!(
            c.model_name,
            "11th Gen Intel(R) Core(TM) i7-1165G7 @ 2.80GHz"
        );
        assert_eq!((c.stepping.as_str(), c.microcode.as_str()), ("1", "0xb6"));
        assert_eq!(c.cpu_mhz, 1187.512);
        assert_eq!(c.cache_size, "12288 KB");
        assert_eq!((c.physical_id.as_str(), c.core_id.as_str()), ("0", "0"));
        assert_eq!(info.cpus[1].processor, 1);
        assert_eq!(info.cpus[1].cpu_mhz, 400.0);
        assert_eq!(info.cpus[1].model, "", "fields a block lacks stay empty");
        // Flags and bugs of the first processor only.
        assert_eq!(info.flags, ["fpu", "vme", "sse4_2", "avx2", "aes"]);
        assert_eq!(info.bugs, ["spectre_v1", "spectre_v2", "gds"]);
    }

    #[test]
    fn cpuinfo_quirks_as_node_exporters_library() {
        // Leading blank lines, CRLF, hexadecimal and octal processor numbers, values kept
        // untrimmed after ": ".
        let info =
            parse_cpuinfo("\n\nprocessor\t: 0x10\r\nmodel name\t: Odd CPU  \r\nprocessor : 010\n")
                .unwrap();
        assert_eq!(info.cpus[0].processor, 16);
        assert_eq!(info.cpus[0].model_name, "Odd CPU  ");
        assert_eq!(info.cpus[1].processor, 8);
        assert_eq!(parse_uint_any_base("0b101"), Some(5));
        assert_eq!(parse_uint_any_base("0o17"), Some(15));
        assert_eq!(parse_uint_any_base("0"), Some(0));
        assert_eq!(parse_uint_any_base("+1"), None);
        assert_eq!(parse_uint_any_base("08"), None);
        assert_eq!(parse_uint_any_base("4294967296"), None);
    }

    #[test]
    fn rejects_damaged_cpuinfo() {
        assert!(parse_cpuinfo("").unwrap_err().contains("processor"));
        assert!(parse_cpuinfo("vendor_id\t: GenuineIntel\nprocessor\t: 0\n")
            .unwrap_err()
            .contains("line 1"));
        assert!(parse_cpuinfo("processor:0\n").is_err());
        assert_eq!(
            parse_cpuinfo("processor\t: 0\ncpu MHz\t\t: fast\n").unwrap_err(),
            "line 2: expected a number after \"cpu MHz\", found \"fast\""
        );
        assert!(parse_cpuinfo("processor\t: 0\nsiblings\t: two\n").is_err());
        assert!(parse_cpuinfo("processor\t: 0\nprocessor\t: -1\n").is_err());
        let broken = read_string(fixture_roots("broken").proc("cpuinfo")).unwrap();
        assert!(parse_cpuinfo(&broken).is_err());
    }

    fn options(args: &[&str], cpufreq: bool) -> Result<Options, String> {
        let cli = crate::cli::try_parse(&[&["x"], args].concat()).map_err(|e| e.to_string())?;
        let args: Args = clap::FromArgMatches::from_arg_matches(&cli.matches).unwrap();
        Options::from_args(&args, cpufreq)
    }

    #[test]
    fn flags_resolve_as_node_exporters() {
        let o = options(&[], true).unwrap();
        assert!(o.guest && !o.info && !o.info_frequency);
        assert!(o.flags_include.is_none() && o.bugs_include.is_none());
        let o = options(&["--no-collector.cpu.guest"], true).unwrap();
        assert!(!o.guest);
        // The last of a flag and its --no- form wins.
        let o = options(&["--no-collector.cpu.guest", "--collector.cpu.guest"], true).unwrap();
        assert!(o.guest);
        let o = options(&["--collector.cpu.info"], true).unwrap();
        assert!(o.info && !o.info_frequency);
        let o = options(&["--collector.cpu.info", "--no-collector.cpu.info"], false).unwrap();
        assert!(!o.info && !o.info_frequency);
        let o = options(&["--collector.cpu.info"], false).unwrap();
        assert!(o.info_frequency, "cpufreq off: cpuinfo's MHz is exported");
        // An include regexp turns info on; an empty one is no filter.
        let o = options(&["--collector.cpu.info.bugs-include=spectre"], true).unwrap();
        assert!(o.info && o.bugs_include.is_some() && o.flags_include.is_none());
        let o = options(&["--collector.cpu.info.flags-include="], true).unwrap();
        assert!(!o.info && o.flags_include.is_none());
        let err = options(&["--collector.cpu.info.flags-include=("], true).unwrap_err();
        assert!(err.contains("flags-include"), "{err}");
    }

    fn labels(out: &MetricSet, name: &str) -> Vec<Vec<(&'static str, String)>> {
        out.get(name)
            .map(|f| {
                f.samples
                    .iter()
                    .map(|s| {
                        s.labels
                            .iter()
                            .map(|(k, v)| match k {
                                std::borrow::Cow::Borrowed(k) => (*k, v.clone()),
                                std::borrow::Cow::Owned(_) => {
                                    unreachable!("collector label names are static")
                                }
                            })
                            .collect()
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn info_metrics_from_the_laptop() {
        let collector = CpuCollector {
            roots: fixture_roots("laptop"),
            counters: Mutex::default(),
            options: options(
                &[
                    "--collector.cpu.info.flags-include=^(aes|avx2|sse4_2)$",
                    "--collector.cpu.info.bugs-include=spectre",
                ],
                false,
            )
            .unwrap(),
            stat: KeptOpen::new("/nonexistent"),
        };
        let mut out = MetricSet::new();
        collector.collect(&mut out).unwrap();
        let info = labels(&out, "node_cpu_info");
        assert_eq!(info.len(), 8);
        let values = |i: usize| -> Vec<&str> { info[i].iter().map(|(_, v)| v.as_str()).collect() };
        assert_eq!(
            values(5),
            [
                "0",
                "1",
                "5",
                "GenuineIntel",
                "6",
                "140",
                "11th Gen Intel(R) Core(TM) i7-1165G7 @ 2.80GHz",
                "0xb6",
                "1",
                "12288 KB"
            ]
        );
        let names: Vec<&str> = info[0].iter().map(|(k, _)| *k).collect();
        assert_eq!(
            names,
            [
                "package",
                "core",
                "cpu",
                "vendor",
                "family",
                "model",
                "model_name",
                "microcode",
                "stepping",
                "cachesize"
            ]
        );
        let flags: Vec<String> = labels(&out, "node_cpu_flag_info")
            .into_iter()
            .map(|l| l[0].1.clone())
            .collect();
        assert_eq!(flags, ["sse4_2", "aes", "avx2"], "in cpuinfo's order");
        assert_eq!(labels(&out, "node_cpu_bug_info").len(), 2);
        let freq = out.get("node_cpu_frequency_hertz").unwrap();
        assert_eq!(freq.samples.len(), 8);
        assert!(freq
            .samples
            .iter()
            .all(|s| s.value >= 4e8 && s.value <= 4.7e9));
        // CPU times are still there.
        assert_eq!(out.get("node_cpu_seconds_total").unwrap().samples.len(), 64);
    }

    #[test]
    fn guest_off_and_damaged_cpuinfo() {
        let collector = CpuCollector {
            roots: fixture_roots("server"),
            counters: Mutex::default(),
            options: options(&["--no-collector.cpu.guest"], true).unwrap(),
            stat: KeptOpen::new("/nonexistent"),
        };
        let mut out = MetricSet::new();
        collector.collect(&mut out).unwrap();
        assert!(out.get("node_cpu_guest_seconds_total").is_none());
        assert!(out.get("node_cpu_info").is_none(), "info is off by default");

        let tmp = tempfile::tempdir().unwrap();
        write(tmp.path(), "proc/stat", "cpu0 1 2 3 4 5 6 7 8 9 10\n");
        write(
            tmp.path(),
            "proc/cpuinfo",
            "processor\t: 0\ncpu MHz\t\t: ?\n",
        );
        let collector = CpuCollector {
            roots: roots_at(tmp.path()),
            counters: Mutex::default(),
            options: options(&["--collector.cpu.info"], true).unwrap(),
            stat: KeptOpen::new("/nonexistent"),
        };
        let mut out = MetricSet::new();
        let err = collector.collect(&mut out).unwrap_err().to_string();
        assert!(err.contains("cpuinfo") && err.contains("line 2"), "{err}");
        assert_eq!(
            out.get("node_cpu_seconds_total").unwrap().samples.len(),
            8,
            "CPU times are published even so"
        );
    }

    fn cpuinfo_block(p: u32, mhz: f64, name: &str, core: u32) -> String {
        format!(
            "processor\t: {p}\nvendor_id\t: GenuineIntel\nmodel name\t: {name}\n\
             cpu MHz\t\t: {mhz:.3}\nphysical id\t: 0\ncore id\t\t: {core}\n\
             flags\t\t: fpu sse{p}\npower management:\n\n"
        )
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 256, failure_persistence: None, ..Default::default() })]

        #[test]
        fn cpuinfo_never_panics(text in "[ -~\t\n:]{0,400}") {
            let _ = parse_cpuinfo(&text);
        }

        #[test]
        fn cpuinfo_round_trips(
            cpus in proptest::collection::vec((0u32..4096, 0u32..100_000_000, 0u32..64), 1..6),
            name in "[A-Za-z0-9()@. -]{1,40}",
        ) {
            let text: String = cpus
                .iter()
                .map(|&(p, khz, core)| cpuinfo_block(p, f64::from(khz) / 1000.0, &name, core))
                .collect();
            let info = parse_cpuinfo(&text).unwrap();
            proptest::prop_assert_eq!(info.cpus.len(), cpus.len());
            for (c, &(p, khz, core)) in info.cpus.iter().zip(&cpus) {
                proptest::prop_assert_eq!(c.processor, p);
                proptest::prop_assert_eq!(c.cpu_mhz, format!("{:.3}", f64::from(khz) / 1000.0).parse::<f64>().unwrap());
                proptest::prop_assert_eq!(&c.model_name, &name);
                proptest::prop_assert_eq!(c.core_id.clone(), core.to_string());
            }
            proptest::prop_assert_eq!(info.flags, vec!["fpu".to_string(), format!("sse{}", cpus[0].0)]);
        }
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
            options: Options {
                guest: true,
                ..Options::default()
            },
            stat: KeptOpen::new("/nonexistent"),
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
