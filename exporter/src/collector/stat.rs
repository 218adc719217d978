//! `stat`: boot time, context switches, forks, interrupts and process counts from `<procfs>/stat`.
//!
//! Hand-parsed rather than through procfs-core's `KernelStats`: that type has no interrupt total
//! (the first number of the `intr` line), which node_exporter exports as `node_intr_total`.
//! The per-CPU lines of the same file belong to the `cpu` collector, which parses them itself,
//! so a damaged CPU line fails only that collector.
//! `--collector.stat.softirq` (off by default, as in node_exporter) adds
//! `node_softirqs_total{vector}` from the `softirq` line: the calls of each softirq vector since
//! boot, summed over CPUs (the line's first number, the total, is not exported). Only then is that
//! line parsed, so a damaged one fails the collector only when it is asked for (node_exporter's
//! library parses it always).

use super::{read_string, BuildContext, CollectError, Collector, Registration, Roots};
use crate::metrics::MetricSet;

pub const REGISTRATION: Registration = Registration {
    name: "stat",
    default_enabled: true,
    help: "boot time, context switches, forks, interrupts and process counts from /proc/stat",
    flags: <Args as clap::Args>::augment_args,
    cadence: super::Cadence::Slow,
    isolation: super::Isolation::Inline,
    build,
};

/// Flags of the `stat` collector.
#[derive(Debug, Clone, clap::Args)]
#[group(id = "stat_flags")]
#[command(next_help_heading = "Collector stat")]
pub struct Args {
    /// Export softirq calls per vector (node_softirqs_total).
    #[arg(
        long = "collector.stat.softirq",
        id = "stat_softirq",
        overrides_with = "stat_no_softirq"
    )]
    pub softirq: bool,
    /// Do not export softirq calls per vector (the default).
    #[arg(
        long = "no-collector.stat.softirq",
        id = "stat_no_softirq",
        overrides_with = "stat_softirq"
    )]
    pub no_softirq: bool,
}

fn build(ctx: &BuildContext) -> Result<Box<dyn Collector>, String> {
    let args: Args = ctx.args()?;
    Ok(Box::new(StatCollector {
        roots: ctx.roots.clone(),
        softirq: args.softirq && !args.no_softirq,
    }))
}

pub struct StatCollector {
    roots: Roots,
    softirq: bool,
}

/// The softirq vectors in the kernel's order (`softirq_to_name` in kernel/softirq.c), named as
/// node_exporter names them (`IRQ_POLL`, once `BLOCK_IOPOLL`, is `block_iopoll`).
pub const SOFTIRQ_VECTORS: [&str; 10] = [
    "hi",
    "timer",
    "net_tx",
    "net_rx",
    "block",
    "block_iopoll",
    "tasklet",
    "sched",
    "hrtimer",
    "rcu",
];

/// Parses the `softirq` line of /proc/stat (`softirq <total> <10 per-vector counts>`), returning
/// the per-vector counts in [`SOFTIRQ_VECTORS`] order. `Ok(None)` when the file has no such line;
/// columns a future kernel may append are ignored.
pub fn parse_softirq(text: &str) -> Result<Option<[u64; 10]>, String> {
    for (index, line) in text.lines().enumerate() {
        let mut fields = line.split_whitespace();
        if fields.next() != Some("softirq") {
            continue;
        }
        let lineno = index + 1;
        let total = fields.next().unwrap_or("");
        total.parse::<u64>().map_err(|_| {
            format!("line {lineno}: softirq: expected the total count, found {total:?}")
        })?;
        let mut counts = [0u64; 10];
        for (slot, vector) in counts.iter_mut().zip(SOFTIRQ_VECTORS) {
            let field = fields.next().ok_or_else(|| {
                format!("line {lineno}: softirq: expected 11 counts, the line ends before {vector}")
            })?;
            *slot = field.parse().map_err(|_| {
                format!("line {lineno}: softirq: expected a count for {vector}, found {field:?}")
            })?;
        }
        return Ok(Some(counts));
    }
    Ok(None)
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
        if self.softirq {
            let counts = parse_softirq(&text)
                .and_then(|c| c.ok_or_else(|| "no \"softirq\" line".to_string()))
                .map_err(|message| CollectError::parse(&path, message))?;
            let family = out.counter("node_softirqs_total", "Number of softirq calls.");
            for (vector, count) in SOFTIRQ_VECTORS.iter().zip(counts) {
                family.sample(&[("vector", vector)], count as f64);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::fixture_roots;

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

    #[test]
    fn parses_the_softirq_line() {
        assert_eq!(
            parse_softirq(STAT),
            Ok(Some([0, 200, 0, 100, 0, 0, 0, 150, 0, 50]))
        );
        // A future kernel's extra column is ignored; no line is no data.
        assert_eq!(
            parse_softirq("softirq 10 1 1 1 1 1 1 1 1 1 1 99\n"),
            Ok(Some([1; 10]))
        );
        assert_eq!(parse_softirq("ctxt 5\n"), Ok(None));
        assert_eq!(
            parse_softirq("intr 1\nsoftirq 1234 5 6 7\n").unwrap_err(),
            "line 2: softirq: expected 11 counts, the line ends before net_rx"
        );
        assert!(parse_softirq("softirq x 1 1 1 1 1 1 1 1 1 1\n").is_err());
        assert!(parse_softirq("softirq 1 1 1 1 1 1 1 1 1 1 -1\n").is_err());
    }

    fn collect(machine: &str, softirq: bool) -> (MetricSet, Result<(), CollectError>) {
        let c = StatCollector {
            roots: fixture_roots(machine),
            softirq,
        };
        let mut out = MetricSet::new();
        let r = c.collect(&mut out);
        (out, r)
    }

    #[test]
    fn softirqs_only_when_asked() {
        let (out, r) = collect("vm", false);
        r.unwrap();
        assert!(out.get("node_softirqs_total").is_none());
        let (out, r) = collect("vm", true);
        r.unwrap();
        let f = out.get("node_softirqs_total").unwrap();
        let got: Vec<(&str, f64)> = f
            .samples
            .iter()
            .map(|s| (s.labels[0].1.as_str(), s.value))
            .collect();
        assert_eq!(got[0], ("hi", 78812.0));
        assert_eq!(got[9], ("rcu", 78812304.0));
        assert_eq!(got.len(), 10);
        // The vectors add up to the line's total on the fixture.
        assert_eq!(f.samples.iter().map(|s| s.value).sum::<f64>(), 301743274.0);
    }

    #[test]
    fn missing_or_damaged_softirq_line_fails_only_when_asked() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("proc")).unwrap();
        let no_softirq: String = STAT
            .lines()
            .filter(|l| !l.starts_with("softirq"))
            .map(|l| format!("{l}\n"))
            .collect();
        std::fs::write(tmp.path().join("proc/stat"), no_softirq).unwrap();
        let roots = Roots {
            procfs: tmp.path().join("proc"),
            sysfs: tmp.path().join("sys"),
            rootfs: tmp.path().to_path_buf(),
        };
        let mut out = MetricSet::new();
        StatCollector {
            roots: roots.clone(),
            softirq: false,
        }
        .collect(&mut out)
        .unwrap();
        let err = StatCollector {
            roots,
            softirq: true,
        }
        .collect(&mut out)
        .unwrap_err()
        .to_string();
        assert!(err.contains("no \"softirq\" line"), "{err}");
        // broken's stat fails anyway (procs_running -1); its softirq line is damaged too.
        let text = read_string(fixture_roots("broken").proc("stat")).unwrap();
        assert!(parse_softirq(&text).is_err());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 256, failure_persistence: None, ..Default::default() })]

        #[test]
        fn softirq_never_panics(text in "(softirq)?[0-9a-z \n-]{0,200}") {
            let _ = parse_softirq(&text);
        }

        #[test]
        fn softirq_round_trips(counts in proptest::prelude::any::<[u64; 10]>(), total in proptest::prelude::any::<u64>()) {
            let line: Vec<String> = counts.iter().map(u64::to_string).collect();
            let text = format!("ctxt 1\nsoftirq {total} {}\n", line.join(" "));
            proptest::prop_assert_eq!(parse_softirq(&text), Ok(Some(counts)));
        }
    }
}
