//! `stat`: boot time, context switches, forks, interrupts and process counts from `<procfs>/stat`.
//!
//! Hand-parsed rather than through procfs-core's `KernelStats`: that type has no interrupt total
//! (the first number of the `intr` line), which node_exporter exports as `node_intr_total`.
//! The per-CPU lines of the same file belong to the `cpu` collector, which parses them itself,
//! so a damaged CPU line fails only that collector.
//! node_exporter's optional per-vector softirq metric (`--collector.stat.softirq`) is off by
//! default there and not exported here.

use super::{read_string, BuildContext, CollectError, Collector, Registration, Roots};
use crate::metrics::MetricSet;

pub const REGISTRATION: Registration = Registration {
    name: "stat",
    default_enabled: true,
    help: "boot time, context switches, forks, interrupts and process counts from /proc/stat",
    flags: super::no_flags,
    cadence: super::Cadence::Slow,
    isolation: super::Isolation::Inline,
    build,
};

fn build(ctx: &BuildContext) -> Result<Box<dyn Collector>, String> {
    Ok(Box::new(StatCollector {
        roots: ctx.roots.clone(),
    }))
}

pub struct StatCollector {
    roots: Roots,
}

/// The system-wide counters of /proc/stat this collector exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KernelCounters {
    /// `btime`: boot time, seconds since the Unix epoch.
    pub boot_time: u64,
    /// `intr`: first number, every interrupt serviced since boot.
    pub interrupts: u64,
    /// `ctxt`: context switches since boot.
    pub context_switches: u64,
    /// `processes`: forks since boot.
    pub forks: u64,
    /// `procs_running`: tasks currently runnable.
    pub procs_running: u64,
    /// `procs_blocked`: tasks currently blocked on I/O.
    pub procs_blocked: u64,
}

/// Parses the system-wide lines of /proc/stat (`cpu*` and unknown lines are skipped). Every
/// line this collector exports must be present: all kernels since 2.6 print them, so a missing
/// one means a damaged file. The error names the line and what was expected.
pub fn parse(text: &str) -> Result<KernelCounters, String> {
    let mut found: [Option<u64>; 6] = [None; 6];
    const KEYS: [&str; 6] = [
        "btime",
        "intr",
        "ctxt",
        "processes",
        "procs_running",
        "procs_blocked",
    ];
    for (index, line) in text.lines().enumerate() {
        let mut fields = line.split_whitespace();
        let Some(key) = fields.next() else { continue };
        let Some(slot) = KEYS.iter().position(|k| *k == key) else {
            continue;
        };
        let value = fields.next().unwrap_or("");
        let parsed = value.parse::<u64>().map_err(|_| {
            format!(
                "line {}: expected an unsigned integer after {key:?}, found {value:?}",
                index + 1
            )
        })?;
        found[slot] = Some(parsed);
    }
    let get = |slot: usize| found[slot].ok_or_else(|| format!("no {:?} line", KEYS[slot]));
    Ok(KernelCounters {
        boot_time: get(0)?,
        interrupts: get(1)?,
        context_switches: get(2)?,
        forks: get(3)?,
        procs_running: get(4)?,
        procs_blocked: get(5)?,
    })
}

impl Collector for StatCollector {
    fn collect(&self, out: &mut MetricSet) -> Result<(), CollectError> {
        let path = self.roots.proc("stat");
        let text = read_string(&path)?;
        let c = parse(&text).map_err(|message| CollectError::parse(&path, message))?;
        out.gauge(
            "node_boot_time_seconds",
            "Node boot time, in seconds since the Unix epoch.",
        )
        .sample(&[], c.boot_time as f64);
        out.counter(
            "node_context_switches_total",
            "Context switches since boot.",
        )
        .sample(&[], c.context_switches as f64);
        out.counter(
            "node_forks_total",
            "Processes and threads created (forks) since boot.",
        )
        .sample(&[], c.forks as f64);
        out.counter("node_intr_total", "Interrupts serviced since boot.")
            .sample(&[], c.interrupts as f64);
        out.gauge(
            "node_procs_running",
            "Number of processes in runnable state.",
        )
        .sample(&[], c.procs_running as f64);
        out.gauge(
            "node_procs_blocked",
            "Number of processes blocked waiting for I/O to complete.",
        )
        .sample(&[], c.procs_blocked as f64);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{parse, KernelCounters};

    const STAT: &str = "\
cpu  100 0 50 1000 3 0 1 0 0 0
cpu0 100 0 50 1000 3 0 1 0 0 0
intr 123456 45 9 0 0 0
ctxt 987654
btime 1736937296
processes 4321
procs_running 3
procs_blocked 1
softirq 500 0 200 0 100 0 0 0 150 0 50
";

    #[test]
    fn parses_kernel_format() {
        assert_eq!(
            parse(STAT),
            Ok(KernelCounters {
                boot_time: 1736937296,
                interrupts: 123456,
                context_switches: 987654,
                forks: 4321,
                procs_running: 3,
                procs_blocked: 1,
            })
        );
    }

    #[test]
    fn cpu_lines_do_not_matter() {
        // A damaged CPU line is the cpu collector's business, not this one's.
        let text = STAT.replace("cpu0 100 0 50 1000 3 0 1 0 0 0", "cpu0 4711 x");
        assert!(parse(&text).is_ok());
    }

    #[test]
    fn rejects_malformed_values() {
        let err = parse(&STAT.replace("procs_running 3", "procs_running -1")).unwrap_err();
        assert_eq!(
            err,
            "line 7: expected an unsigned integer after \"procs_running\", found \"-1\""
        );
        let err = parse(&STAT.replace("ctxt 987654", "ctxt")).unwrap_err();
        assert!(err.contains("\"ctxt\", found \"\""), "{err}");
        assert!(parse(&STAT.replace("btime 1736937296", "btime 99999999999999999999")).is_err());
    }

    #[test]
    fn rejects_truncated_file() {
        let truncated: String = STAT.lines().take(5).map(|l| format!("{l}\n")).collect();
        assert_eq!(parse(&truncated), Err("no \"processes\" line".to_string()));
        assert!(parse("").is_err());
    }
}
