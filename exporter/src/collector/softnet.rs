//! `softnet`: per-CPU packet processing counters from `<procfs>/net/softnet_stat`, exported as
//! node_exporter 1.12 does (`node_softnet_*_total` counters and the `node_softnet_backlog_len`
//! gauge, each with a `cpu` label).
//!
//! One line per online CPU of hexadecimal (`%08x`) columns, printed by `softnet_seq_show()` in
//! net/core/net-procfs.c. The number of columns grew with the kernel:
//!
//! | columns | kernels | what they are |
//! |---|---|---|
//! | 9  | 2.6.23 and later | processed, dropped, time_squeeze, five zeros (was fastroute), cpu_collision (now always 0) |
//! | 10 | 2.6.35 (RPS) | + received_rps |
//! | 11 | 3.11 | + flow_limit_count |
//! | 13 | 5.10 | + backlog length (input + process queue), and the CPU number |
//! | 15 | 6.1 | + input_qlen and process_qlen separately (not exported) |
//!
//! As node_exporter (through prometheus/procfs), every line must have at least 9 columns; the
//! columns a line has are read by position and the others are 0; columns after the thirteenth are
//! ignored. The `cpu` label is the kernel's CPU number (column 13) where the line has it, and the
//! line's position otherwise. The two differ when a CPU is offline: the kernel skips offline CPUs,
//! so on a machine with CPU 37 offline, the 38th line is CPU 38. node_exporter 1.5 labelled every
//! line with its position; 1.12 with the CPU number, which this collector follows.
//!
//! A line with fewer than 9 columns, a value that is not a 32-bit hexadecimal number, or a CPU
//! that appears twice is skipped and named in the error; the other lines are published (where
//! node_exporter publishes none).

use super::{read_string, BuildContext, CollectError, Collector, Registration, Roots};
use crate::metrics::MetricSet;

pub const REGISTRATION: Registration = Registration {
    name: "softnet",
    default_enabled: true,
    help: "per-CPU network packet processing statistics from /proc/net/softnet_stat",
    flags: super::no_flags,
    cadence: super::Cadence::Slow,
    isolation: super::Isolation::Inline,
    build,
};

fn build(ctx: &BuildContext) -> Result<Box<dyn Collector>, String> {
    Ok(Box::new(SoftnetCollector {
        roots: ctx.roots.clone(),
    }))
}

/// One line of softnet_stat.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SoftnetRow {
    /// The CPU number (column 13), or the line's position before Linux 5.10.
    pub cpu: u32,
    pub processed: u32,
    pub dropped: u32,
    pub time_squeezed: u32,
    pub cpu_collision: u32,
    pub received_rps: u32,
    pub flow_limit_count: u32,
    pub backlog_len: u32,
    /// How many columns the line had.
    pub width: usize,
}

#[derive(Debug, Default, PartialEq)]
pub struct Softnet {
    pub rows: Vec<SoftnetRow>,
    pub bad_lines: Vec<String>,
}

/// A `%08x` column: hexadecimal digits only (no sign, no `0x`), at most 32 bits.
pub fn parse_hex_u32(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(s, 16).ok()
}

/// Parses /proc/net/softnet_stat.
pub fn parse(text: &str) -> Softnet {
    let mut out = Softnet::default();
    let mut seen = std::collections::HashSet::new();
    let mut position = 0u32;
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let line_no = index + 1;
        match parse_line(line, position) {
            Ok(row) if !seen.insert(row.cpu) => out.bad_lines.push(format!(
                "line {line_no}: CPU {} appears a second time",
                row.cpu
            )),
            Ok(row) => out.rows.push(row),
            Err(why) => out.bad_lines.push(format!("line {line_no}: {why}")),
        }
        position = position.saturating_add(1);
    }
    out
}

fn parse_line(line: &str, position: u32) -> Result<SoftnetRow, String> {
    // The columns node_exporter reads: the first 13.
    let mut columns = [0u32; 13];
    let mut width = 0;
    for (i, word) in line.split_ascii_whitespace().enumerate() {
        width = i + 1;
        if i < columns.len() {
            columns[i] = parse_hex_u32(word).ok_or_else(|| {
                format!(
                    "column {} is not a 32-bit hexadecimal number ({word:?})",
                    i + 1
                )
            })?;
        }
    }
    if width < 9 {
        return Err(format!("expected at least 9 columns, found {width}"));
    }
    Ok(SoftnetRow {
        cpu: if width >= 13 { columns[12] } else { position },
        processed: columns[0],
        dropped: columns[1],
        time_squeezed: columns[2],
        cpu_collision: columns[8],
        received_rps: columns[9],
        flow_limit_count: columns[10],
        backlog_len: columns[11],
        width,
    })
}

pub struct SoftnetCollector {
    roots: Roots,
}

type Field = (&'static str, &'static str, fn(&SoftnetRow) -> u32);

const COUNTERS: [Field; 6] = [
    (
        "node_softnet_processed_total",
        "Packets processed by the CPU's network receive softirq.",
        |r| r.processed,
    ),
    (
        "node_softnet_dropped_total",
        "Packets dropped because the CPU's input backlog queue was full.",
        |r| r.dropped,
    ),
    (
        "node_softnet_times_squeezed_total",
        "Times the receive softirq stopped with work left, out of budget or time.",
        |r| r.time_squeezed,
    ),
    (
        "node_softnet_cpu_collision_total",
        "Collisions on the transmit lock of a device (always 0 on current kernels).",
        |r| r.cpu_collision,
    ),
    (
        "node_softnet_received_rps_total",
        "Times the CPU was woken by another CPU to process packets (receive packet steering).",
        |r| r.received_rps,
    ),
    (
        "node_softnet_flow_limit_count_total",
        "Times the receive flow limit dropped a packet of a heavy flow.",
        |r| r.flow_limit_count,
    ),
];

impl Collector for SoftnetCollector {
    fn collect(&self, out: &mut MetricSet) -> Result<(), CollectError> {
        let path = self.roots.proc("net/softnet_stat");
        let softnet = parse(&read_string(&path)?);
        let cpus: Vec<String> = softnet.rows.iter().map(|r| r.cpu.to_string()).collect();
        for (name, help, get) in COUNTERS {
            let family = out.counter(name, help);
            for (row, cpu) in softnet.rows.iter().zip(&cpus) {
                family.sample(&[("cpu", cpu)], get(row) as f64);
            }
        }
        let family = out.gauge(
            "node_softnet_backlog_len",
            "Packets waiting in the CPU's input and process backlog queues.",
        );
        for (row, cpu) in softnet.rows.iter().zip(&cpus) {
            family.sample(&[("cpu", cpu)], row.backlog_len as f64);
        }
        super::malformed_lines(&path, &softnet.bad_lines)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::fixture_roots;
    use proptest::prelude::*;

    fn line(columns: &[u32]) -> String {
        let words: Vec<String> = columns.iter().map(|c| format!("{c:08x}")).collect();
        words.join(" ") + "\n"
    }

    #[test]
    fn every_kernel_width() {
        let base = [10, 1, 2, 0, 0, 0, 0, 0, 3];
        let mut text = String::new();
        text += &line(&base); // 9 columns
        text += &line(&[&base[..], &[4]].concat()); // 10
        text += &line(&[&base[..], &[4, 5]].concat()); // 11
        text += &line(&[&base[..], &[4, 5, 6, 9]].concat()); // 13: CPU 9
        text += &line(&[&base[..], &[4, 5, 6, 12, 2, 4]].concat()); // 15: CPU 12
        let s = parse(&text);
        assert!(s.bad_lines.is_empty(), "{:?}", s.bad_lines);
        let got: Vec<_> = s
            .rows
            .iter()
            .map(|r| {
                (
                    r.width,
                    r.cpu,
                    r.received_rps,
                    r.flow_limit_count,
                    r.backlog_len,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (9, 0, 0, 0, 0),
                (10, 1, 4, 0, 0),
                (11, 2, 4, 5, 0),
                (13, 9, 4, 5, 6),
                (15, 12, 4, 5, 6)
            ]
        );
        assert!(s.rows.iter().all(|r| r.processed == 10
            && r.dropped == 1
            && r.time_squeezed == 2
            && r.cpu_collision == 3));
    }

    #[test]
    fn cpu_label_skips_offline_cpus() {
        // CPU 1 offline: the kernel prints CPUs 0 and 2.
        let text = "00000001 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000\n\
                    00000002 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000002 00000000 00000000\n";
        let cpus: Vec<u32> = parse(text).rows.iter().map(|r| r.cpu).collect();
        assert_eq!(cpus, [0, 2]);
    }

    #[test]
    fn bad_lines_are_skipped_and_named() {
        let text = "\
00000001 00000000 00000000 00000000 00000000 00000000 00000000 00000000
0000000g 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000
100000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000
+0000001 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000
00000005 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000004 zz
00000006 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000004
";
        let s = parse(text);
        // Only the line for CPU 4; extra columns after the 13th are not read.
        assert_eq!(s.rows.len(), 1);
        assert_eq!((s.rows[0].cpu, s.rows[0].processed), (4, 5));
        assert_eq!(s.bad_lines.len(), 5, "{:?}", s.bad_lines);
        assert!(s.bad_lines[0].starts_with("line 1: expected at least 9 columns, found 8"));
        assert!(s.bad_lines[1].starts_with("line 2: column 1 is not"));
        assert!(s.bad_lines[2].starts_with("line 3: column 1 is not"));
        assert!(s.bad_lines[3].starts_with("line 4: column 1 is not"));
        assert!(s.bad_lines[4].starts_with("line 6: CPU 4 appears a second time"));
    }

    fn collect(machine: &str) -> (MetricSet, Result<(), CollectError>) {
        let collector = SoftnetCollector {
            roots: fixture_roots(machine),
        };
        let mut out = MetricSet::new();
        let result = collector.collect(&mut out);
        (out, result)
    }

    fn cpus(set: &MetricSet, name: &str) -> Vec<String> {
        set.get(name)
            .unwrap()
            .samples
            .iter()
            .map(|s| s.labels[0].1.clone())
            .collect()
    }

    #[test]
    fn server_fixture_labels_cpus_by_number() {
        let (set, result) = collect("server");
        result.unwrap();
        assert_eq!(set.families.len(), 7);
        let labels = cpus(&set, "node_softnet_processed_total");
        assert_eq!(labels.len(), 63);
        assert!(!labels.contains(&"37".to_string()), "CPU 37 is offline");
        assert_eq!(labels.last().map(String::as_str), Some("63"));
        assert_eq!(cpus(&set, "node_softnet_backlog_len"), labels);
    }

    #[test]
    fn laptop_and_vm_fixtures() {
        let (set, result) = collect("laptop");
        result.unwrap();
        assert_eq!(cpus(&set, "node_softnet_dropped_total").len(), 8);
        let (set, result) = collect("vm");
        result.unwrap();
        assert_eq!(cpus(&set, "node_softnet_dropped_total"), ["0", "1"]);
    }

    #[test]
    fn broken_fixture_keeps_good_lines() {
        let (set, result) = collect("broken");
        let message = result.unwrap_err().to_string();
        assert!(message.contains("net/softnet_stat"), "{message}");
        assert!(!set
            .get("node_softnet_processed_total")
            .unwrap()
            .samples
            .is_empty());
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in "[0-9a-fA-Fx+ \n-]{0,400}|\\PC{0,200}") {
            let s = parse(&text);
            prop_assert!(s.rows.iter().all(|r| r.width >= 9));
        }

        #[test]
        fn generated_lines_parse_back(
            rows in prop::collection::vec(prop::collection::vec(any::<u32>(), 15), 1..20),
            width in prop::sample::select(vec![9usize, 10, 11, 13, 15]),
        ) {
            // Give each line a distinct CPU number in column 13.
            let text: String = rows
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    let mut r = r.clone();
                    r[12] = (i * 2) as u32;
                    line(&r[..width])
                })
                .collect();
            let s = parse(&text);
            prop_assert!(s.bad_lines.is_empty(), "{:?}", s.bad_lines);
            prop_assert_eq!(s.rows.len(), rows.len());
            for (i, (row, cols)) in s.rows.iter().zip(&rows).enumerate() {
                let col = |n: usize| if n < width { cols[n] } else { 0 };
                prop_assert_eq!(row.processed, cols[0]);
                prop_assert_eq!(row.dropped, cols[1]);
                prop_assert_eq!(row.time_squeezed, cols[2]);
                prop_assert_eq!(row.cpu_collision, cols[8]);
                prop_assert_eq!(row.received_rps, col(9));
                prop_assert_eq!(row.flow_limit_count, col(10));
                prop_assert_eq!(row.backlog_len, col(11));
                let cpu = if width >= 13 { (i * 2) as u32 } else { i as u32 };
                prop_assert_eq!(row.cpu, cpu);
                prop_assert_eq!(row.width, width);
            }
        }
    }
}
