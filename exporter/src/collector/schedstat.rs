//! `schedstat`: per-CPU scheduler statistics from `<procfs>/schedstat`
//! (Documentation/scheduler/sched-stats.rst), as node_exporter's `schedstat_linux.go` exports them.
//!
//! The file starts with `version N` and `timestamp J`, then one `cpu<N>` line per online CPU, each
//! followed by its `domain<M>` lines. Versions 15, 16 and 17 (every kernel since 2.6.x) share the
//! `cpu<N>` line: nine numbers, of which the 7th is the time tasks spent running on that CPU and
//! the 8th the time tasks spent waiting to run on it (nanoseconds since 2.6.23, although the
//! document long said jiffies), and the 9th the number of timeslices run on it. They become
//! `node_schedstat_running_seconds_total`, `node_schedstat_waiting_seconds_total` (nanoseconds
//! divided by 1e9, as node_exporter) and `node_schedstat_timeslices_total`, labelled `cpu`. The
//! domain lines (whose layout changed in 16 and 17) are not read.
//!
//! node_exporter finds the CPU lines with the regexp `cpu(\d+) (\d+) ... (\d+)` (nine numbers
//! after the CPU number, single spaces, not anchored) and silently skips a line that does not
//! match or whose number overflows. sysmon matches the same lines the same way, but reports a
//! line starting with `cpu` that does not match as malformed (after publishing the others).
//! A kernel built without CONFIG_SCHEDSTATS has no file: no data, not an error.

use std::io::ErrorKind;

use super::{
    malformed_lines, read_string, BuildContext, CollectError, Collector, Registration, Roots,
};
use crate::metrics::MetricSet;

pub const REGISTRATION: Registration = Registration {
    name: "schedstat",
    default_enabled: true,
    help: "per-CPU scheduler statistics from /proc/schedstat",
    flags: super::no_flags,
    cadence: super::Cadence::Slow,
    isolation: super::Isolation::Inline,
    build,
};

fn build(ctx: &BuildContext) -> Result<Box<dyn Collector>, String> {
    Ok(Box::new(SchedstatCollector {
        roots: ctx.roots.clone(),
    }))
}

pub struct SchedstatCollector {
    roots: Roots,
}

/// What node_exporter exports of one `cpu<N>` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuSched {
    /// The CPU number as written (node_exporter's `cpu` label).
    pub cpu: String,
    pub running_ns: u64,
    pub waiting_ns: u64,
    pub timeslices: u64,
}

/// Matches `cpu(\d+)( \d+){9}` at the start of `s`: the CPU number and the nine numbers, as text.
fn match_at(s: &str) -> Option<(&str, [&str; 9])> {
    let rest = s.strip_prefix("cpu")?;
    let digits = |t: &str| t.bytes().take_while(u8::is_ascii_digit).count();
    let n = digits(rest);
    if n == 0 {
        return None;
    }
    let cpu = &rest[..n];
    let mut rest = &rest[n..];
    let mut numbers = [""; 9];
    for slot in &mut numbers {
        rest = rest.strip_prefix(' ')?;
        let n = digits(rest);
        if n == 0 {
            return None;
        }
        *slot = &rest[..n];
        rest = &rest[n..];
    }
    Some((cpu, numbers))
}

/// Finds the CPU line in `line` the way node_exporter's unanchored regexp does: the leftmost
/// `cpu` from which the pattern matches. `None` when there is none, or when one of the three
/// numbers node_exporter reads does not fit in 64 bits (it skips such a line).
pub fn parse_cpu_line(line: &str) -> Option<CpuSched> {
    let (cpu, n) = line
        .match_indices("cpu")
        .find_map(|(i, _)| match_at(&line[i..]))?;
    Some(CpuSched {
        cpu: cpu.to_string(),
        running_ns: n[6].parse().ok()?,
        waiting_ns: n[7].parse().ok()?,
        timeslices: n[8].parse().ok()?,
    })
}

/// Parses the whole file: every CPU line, and a description of each line that starts with `cpu`
/// but is not a well-formed CPU line.
pub fn parse(text: &str) -> (Vec<CpuSched>, Vec<String>) {
    let mut cpus = Vec::new();
    let mut bad = Vec::new();
    for (i, line) in text.lines().enumerate() {
        match parse_cpu_line(line) {
            Some(cpu) => cpus.push(cpu),
            None if line.starts_with("cpu") => bad.push(format!(
                "line {}: expected \"cpu<N>\" and nine unsigned integers, found {:?}",
                i + 1,
                line.chars().take(120).collect::<String>()
            )),
            None => {}
        }
    }
    (cpus, bad)
}

impl Collector for SchedstatCollector {
    fn collect(&self, out: &mut MetricSet) -> Result<(), CollectError> {
        let path = self.roots.proc("schedstat");
        let text = match read_string(&path) {
            Err(CollectError::Io { source, .. }) if source.kind() == ErrorKind::NotFound => {
                return Ok(());
            }
            other => other?,
        };
        let (cpus, bad) = parse(&text);
        for c in &cpus {
            let labels = [("cpu", c.cpu.as_str())];
            out.counter(
                "node_schedstat_running_seconds_total",
                "Seconds tasks spent running on this CPU.",
            )
            .sample(&labels, c.running_ns as f64 / 1e9);
            out.counter(
                "node_schedstat_waiting_seconds_total",
                "Seconds tasks spent waiting to run on this CPU.",
            )
            .sample(&labels, c.waiting_ns as f64 / 1e9);
            out.counter(
                "node_schedstat_timeslices_total",
                "Number of timeslices run on this CPU.",
            )
            .sample(&labels, c.timeslices as f64);
        }
        malformed_lines(&path, &bad)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::fixture_roots;
    use proptest::prelude::*;

    #[test]
    fn parses_cpu_lines() {
        let c = parse_cpu_line(
            "cpu3 0 0 7265018 2811490 4020612 1660325 2480137201452 512342110948 4385316",
        )
        .unwrap();
        assert_eq!(
            c,
            CpuSched {
                cpu: "3".into(),
                running_ns: 2480137201452,
                waiting_ns: 512342110948,
                timeslices: 4385316,
            }
        );
        // Extra fields are ignored, as by the unanchored regexp.
        assert!(parse_cpu_line("cpu0 1 2 3 4 5 6 7 8 9 10").is_some());
        // Not CPU lines.
        for line in [
            "version 15",
            "timestamp 4295123456",
            "domain0 03 1 2 3",
            "cpu 1 2 3 4 5 6 7 8 9",
            "cpu0 1 2 3 4 5 6 7 8",
            "cpu0  1 2 3 4 5 6 7 8 9",
            "cpu0 1 2 3 4 5 6 x 8 9",
            "cpu0 1 2 3 4 5 6 99999999999999999999 8 9",
        ] {
            assert_eq!(parse_cpu_line(line), None, "{line}");
        }
        // The leftmost match wins, wherever it starts.
        assert_eq!(
            parse_cpu_line("x cpu 1 cpu12 1 2 3 4 5 6 7 8 9")
                .unwrap()
                .cpu,
            "12"
        );
    }

    #[test]
    fn laptop_has_every_cpu_in_seconds() {
        let mut out = MetricSet::new();
        SchedstatCollector {
            roots: fixture_roots("laptop"),
        }
        .collect(&mut out)
        .unwrap();
        let running = out.get("node_schedstat_running_seconds_total").unwrap();
        assert_eq!(running.samples.len(), 8);
        assert!(running.samples.iter().all(|s| s.value > 1000.0));
        assert_eq!(
            out.get("node_schedstat_timeslices_total")
                .unwrap()
                .samples
                .len(),
            8
        );
    }

    #[test]
    fn missing_file_is_no_data_and_broken_fails() {
        let mut out = MetricSet::new();
        let c = SchedstatCollector {
            roots: fixture_roots("does-not-exist"),
        };
        assert!(c.collect(&mut out).is_ok());
        assert_eq!(out.sample_count(), 0);
        let err = SchedstatCollector {
            roots: fixture_roots("broken"),
        }
        .collect(&mut out)
        .unwrap_err();
        assert!(err.to_string().contains("schedstat"), "{err}");
        assert!(out.sample_count() > 0, "the good CPU lines are published");
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_text_never_panics(text in "[cpudomain0-9 \\n]{0,300}") {
            let (cpus, _) = parse(&text);
            for c in cpus {
                prop_assert!(!c.cpu.is_empty() && c.cpu.bytes().all(|b| b.is_ascii_digit()));
            }
        }

        #[test]
        fn well_formed_parses_back(lines in proptest::collection::vec((0u32..4096, proptest::array::uniform9(any::<u64>())), 0..16)) {
            let mut text = String::from("version 15\ntimestamp 4295123456\n");
            for (cpu, n) in &lines {
                text.push_str(&format!("cpu{cpu}"));
                for v in n {
                    text.push_str(&format!(" {v}"));
                }
                text.push_str("\ndomain0 ff 1 2 3 4\n");
            }
            let (cpus, bad) = parse(&text);
            prop_assert!(bad.is_empty());
            prop_assert_eq!(cpus.len(), lines.len());
            for (c, (cpu, n)) in cpus.iter().zip(&lines) {
                prop_assert_eq!(&c.cpu, &cpu.to_string());
                prop_assert_eq!(c.running_ns, n[6]);
                prop_assert_eq!(c.waiting_ns, n[7]);
                prop_assert_eq!(c.timeslices, n[8]);
            }
        }
    }
}
