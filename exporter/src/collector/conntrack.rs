//! `conntrack`: the netfilter connection-tracking table, from
//! `<procfs>/sys/net/netfilter/nf_conntrack_{count,max}` and the per-CPU statistics of
//! `<procfs>/net/stat/nf_conntrack`, summed over CPUs.
//!
//! On a host without the `nf_conntrack` module none of these files exist: as node_exporter, that is
//! "no data" (nothing exported), not a failure. A kernel built without `CONFIG_NF_CONNTRACK_PROCFS`
//! has the two sysctls but no statistics file; node_exporter then fails the collector on every
//! scrape (after publishing the entries and the limit), sysmon treats the missing file as the same
//! "no data" and exports the entries and the limit alone.
//!
//! The statistics are exported as gauges, as node_exporter does, although they only grow.

use std::io::ErrorKind;

use super::{read_string, BuildContext, CollectError, Collector, Registration, Roots};
use crate::metrics::MetricSet;

pub const REGISTRATION: Registration = Registration {
    name: "conntrack",
    default_enabled: true,
    help:
        "netfilter connection tracking from /proc/sys/net/netfilter and /proc/net/stat/nf_conntrack",
    flags: super::no_flags,
    cadence: super::Cadence::Slow,
    isolation: super::Isolation::Inline,
    build,
};

fn build(ctx: &BuildContext) -> Result<Box<dyn Collector>, String> {
    Ok(Box::new(ConntrackCollector {
        roots: ctx.roots.clone(),
    }))
}

/// The statistics node_exporter exports, summed over CPUs. Each is one column of
/// `/proc/net/stat/nf_conntrack` (positions fixed since Linux 2.6.35; the header's names of some
/// unused columns changed over time, the positions did not).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    pub found: u64,
    pub invalid: u64,
    pub ignore: u64,
    pub insert: u64,
    pub insert_failed: u64,
    pub drop: u64,
    pub early_drop: u64,
    /// Absent before Linux 2.6.35 (16 columns): 0 then, as node_exporter.
    pub search_restart: u64,
}

/// Column positions in a line of the statistics file.
const FOUND: usize = 2;
const INVALID: usize = 4;
const IGNORE: usize = 5;
const INSERT: usize = 8;
const INSERT_FAILED: usize = 9;
const DROP: usize = 10;
const EARLY_DROP: usize = 11;
const SEARCH_RESTART: usize = 16;

/// Parses `/proc/net/stat/nf_conntrack`: a header line of column names, then one line per possible
/// CPU of 16 or 17 hexadecimal columns (`%08x`). Returns the sum over CPUs, or what is wrong with
/// the first bad line: a sum over some CPUs only would be a wrong value, so a bad line spoils the
/// whole file, as in node_exporter (prometheus/procfs). Blank lines are skipped.
pub fn parse_stats(text: &str) -> Result<Stats, String> {
    let mut sum = Stats::default();
    let mut columns = [0u64; 17];
    for (index, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let mut count = 0;
        for field in line.split_whitespace() {
            let value = parse_hex(field).ok_or_else(|| {
                format!(
                    "line {}: column {} is not a hexadecimal number ({field:?})",
                    index + 1,
                    count + 1
                )
            })?;
            if count < columns.len() {
                columns[count] = value;
            }
            count += 1;
        }
        if !(16..=17).contains(&count) {
            return Err(format!(
                "line {}: expected 16 or 17 columns, found {count}",
                index + 1
            ));
        }
        // Go's uint64 sums wrap; so do these (the kernel's counters are 32-bit, so they never do).
        sum.found = sum.found.wrapping_add(columns[FOUND]);
        sum.invalid = sum.invalid.wrapping_add(columns[INVALID]);
        sum.ignore = sum.ignore.wrapping_add(columns[IGNORE]);
        sum.insert = sum.insert.wrapping_add(columns[INSERT]);
        sum.insert_failed = sum.insert_failed.wrapping_add(columns[INSERT_FAILED]);
        sum.drop = sum.drop.wrapping_add(columns[DROP]);
        sum.early_drop = sum.early_drop.wrapping_add(columns[EARLY_DROP]);
        if count == 17 {
            sum.search_restart = sum.search_restart.wrapping_add(columns[SEARCH_RESTART]);
        }
    }
    Ok(sum)
}

/// A hexadecimal number without prefix or sign, as Go's `strconv.ParseUint(s, 16, 64)`.
fn parse_hex(field: &str) -> Option<u64> {
    if field.is_empty() || !field.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(field, 16).ok()
}

/// Parses a sysctl holding one unsigned integer (`nf_conntrack_count`, `nf_conntrack_max`), as
/// node_exporter's `readUintFromFile`: surrounding white space is ignored.
pub fn parse_sysctl(text: &str) -> Option<u64> {
    let text = text.trim();
    if text.starts_with('+') {
        return None;
    }
    text.parse().ok()
}

pub struct ConntrackCollector {
    roots: Roots,
}

impl ConntrackCollector {
    /// A sysctl's value, `None` when the file does not exist (conntrack not loaded).
    fn sysctl(&self, name: &str) -> Result<Option<u64>, CollectError> {
        let path = self.roots.proc("sys/net/netfilter").join(name);
        let text = match crate::collector::read_text(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(CollectError::io(path, e)),
        };
        parse_sysctl(&text).map(Some).ok_or_else(|| {
            CollectError::parse(
                &path,
                format!("expected an unsigned integer, found {:?}", text.trim()),
            )
        })
    }
}

impl Collector for ConntrackCollector {
    fn collect(&self, out: &mut MetricSet) -> Result<(), CollectError> {
        let Some(count) = self.sysctl("nf_conntrack_count")? else {
            return Ok(());
        };
        out.gauge(
            "node_nf_conntrack_entries",
            "Number of flow entries currently allocated for connection tracking.",
        )
        .sample(&[], count as f64);
        let Some(max) = self.sysctl("nf_conntrack_max")? else {
            return Ok(());
        };
        out.gauge(
            "node_nf_conntrack_entries_limit",
            "Maximum size of the connection tracking table.",
        )
        .sample(&[], max as f64);

        let path = self.roots.proc("net/stat/nf_conntrack");
        let text = match read_string(&path) {
            Ok(text) => text,
            Err(CollectError::Io { source, .. }) if source.kind() == ErrorKind::NotFound => {
                return Ok(())
            }
            Err(e) => return Err(e),
        };
        let stats = parse_stats(&text).map_err(|why| CollectError::parse(&path, why))?;
        for (name, help, value) in [
            ("found", "Number of searched entries which were found.", stats.found),
            ("invalid", "Number of packets seen which could not be tracked.", stats.invalid),
            ("ignore", "Number of packets seen which were already attached to a conntrack entry.", stats.ignore),
            ("insert", "Number of entries inserted into the table.", stats.insert),
            ("insert_failed", "Number of entries whose insertion was attempted but failed (the same entry was already present).", stats.insert_failed),
            ("drop", "Number of packets dropped because conntrack failed (no new entry could be allocated, or a protocol helper dropped the packet).", stats.drop),
            ("early_drop", "Number of conntrack entries dropped to make room for new ones once the table was full.", stats.early_drop),
            ("search_restart", "Number of conntrack table lookups restarted because the hash table was resized.", stats.search_restart),
        ] {
            out.gauge(&format!("node_nf_conntrack_stat_{name}"), help)
                .sample(&[], value as f64);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::fixture_roots;
    use proptest::prelude::*;

    const HEADER: &str = "entries  clashres found new invalid ignore delete chainlength insert insert_failed drop early_drop icmp_error  expect_new expect_create expect_delete search_restart";

    #[test]
    fn sums_every_cpu() {
        let text = format!(
            "{HEADER}\n\
             000001a4  00000002 00000010 00000000 0000002a 00000000 00000000 00000003 00000000 00000001 00000004 00000005 00000000  00000000 00000000 00000000 00000007\n\
             000001a4  00000000 00000020 00000000 00000001 00000000 00000000 00000001 00000000 00000002 00000000 00000001 00000003  00000000 00000000 00000000 000000ff\n"
        );
        let stats = parse_stats(&text).unwrap();
        assert_eq!(
            stats,
            Stats {
                found: 0x30,
                invalid: 0x2b,
                ignore: 0,
                insert: 0,
                insert_failed: 3,
                drop: 4,
                early_drop: 6,
                search_restart: 0x106,
            }
        );
        // A kernel before 2.6.35 has no search_restart column.
        let old = "entries searched found new invalid ignore delete delete_list insert insert_failed drop early_drop icmp_error expect_new expect_create expect_delete\n\
                   00000001 00000002 00000003 00000004 00000005 00000006 00000007 00000008 00000009 0000000a 0000000b 0000000c 0000000d 0000000e 0000000f 00000010\n";
        let stats = parse_stats(old).unwrap();
        assert_eq!((stats.found, stats.ignore, stats.insert), (3, 6, 9));
        assert_eq!((stats.early_drop, stats.search_restart), (12, 0));
        assert_eq!(parse_stats(HEADER).unwrap(), Stats::default());
        assert_eq!(parse_stats("").unwrap(), Stats::default());
    }

    #[test]
    fn names_the_bad_line() {
        let short = format!("{HEADER}\n00000001 00000002\n");
        assert_eq!(
            parse_stats(&short).unwrap_err(),
            "line 2: expected 16 or 17 columns, found 2"
        );
        let long = format!("{HEADER}\n{}\n", ["0"; 19].join(" "));
        assert!(parse_stats(&long).unwrap_err().contains("found 19"));
        let bad = format!("{HEADER}\n{} zz\n", ["0"; 15].join(" "));
        assert_eq!(
            parse_stats(&bad).unwrap_err(),
            "line 2: column 16 is not a hexadecimal number (\"zz\")"
        );
        for field in ["+1", "0x1", "-1", "10000000000000000"] {
            let text = format!("{HEADER}\n{} {field}\n", ["0"; 15].join(" "));
            assert!(parse_stats(&text).is_err(), "{field}");
        }
    }

    #[test]
    fn sysctls() {
        assert_eq!(parse_sysctl("262144\n"), Some(262144));
        assert_eq!(parse_sysctl(" 0 "), Some(0));
        assert_eq!(parse_sysctl("-1\n"), None);
        assert_eq!(parse_sysctl("+1\n"), None);
        assert_eq!(parse_sysctl("12 13\n"), None);
        assert_eq!(parse_sysctl(""), None);
    }

    fn collect(machine: &str) -> (MetricSet, Result<(), CollectError>) {
        let collector = ConntrackCollector {
            roots: fixture_roots(machine),
        };
        let mut out = MetricSet::new();
        let result = collector.collect(&mut out);
        (out, result)
    }

    fn value(set: &MetricSet, name: &str) -> Option<f64> {
        Some(set.get(name)?.samples[0].value)
    }

    #[test]
    fn server_fixture() {
        let (set, result) = collect("server");
        result.unwrap();
        assert_eq!(set.families.len(), 10);
        assert_eq!(value(&set, "node_nf_conntrack_entries"), Some(48_213.0));
        assert_eq!(
            value(&set, "node_nf_conntrack_entries_limit"),
            Some(262_144.0)
        );
        // Sums over the 64 possible CPUs (the offline one included).
        for (name, sum) in [
            ("found", 26_968.0),
            ("invalid", 267_365.0),
            ("ignore", 0.0),
            ("insert", 0.0),
            ("insert_failed", 905.0),
            ("drop", 335.0),
            ("early_drop", 135_456.0),
            ("search_restart", 3_062_355.0),
        ] {
            assert_eq!(
                value(&set, &format!("node_nf_conntrack_stat_{name}")),
                Some(sum),
                "{name}"
            );
        }
    }

    #[test]
    fn without_conntrack_there_is_nothing_and_no_error() {
        // The vm has no conntrack module.
        let (set, result) = collect("vm");
        result.unwrap();
        assert_eq!(set.families.len(), 0);
        // A kernel with conntrack but without CONFIG_NF_CONNTRACK_PROCFS: the sysctls only.
        let dir = tempfile::tempdir().unwrap();
        let netfilter = dir.path().join("sys/net/netfilter");
        std::fs::create_dir_all(&netfilter).unwrap();
        std::fs::write(netfilter.join("nf_conntrack_count"), "17\n").unwrap();
        std::fs::write(netfilter.join("nf_conntrack_max"), "65536\n").unwrap();
        let collector = ConntrackCollector {
            roots: Roots {
                procfs: dir.path().to_path_buf(),
                ..Roots::default()
            },
        };
        let mut set = MetricSet::new();
        collector.collect(&mut set).unwrap();
        assert_eq!(
            set.families
                .iter()
                .map(|f| f.name.as_str())
                .collect::<Vec<_>>(),
            [
                "node_nf_conntrack_entries",
                "node_nf_conntrack_entries_limit"
            ]
        );
        assert_eq!(value(&set, "node_nf_conntrack_entries"), Some(17.0));
        // A malformed sysctl is an error.
        std::fs::write(netfilter.join("nf_conntrack_max"), "lots\n").unwrap();
        let mut set = MetricSet::new();
        let message = collector.collect(&mut set).unwrap_err().to_string();
        assert!(message.contains("nf_conntrack_max"), "{message}");
    }

    #[test]
    fn broken_fixture_fails_after_the_sysctls() {
        let (set, result) = collect("broken");
        let message = result.unwrap_err().to_string();
        assert!(
            message.contains("net/stat/nf_conntrack") && message.contains("line 3"),
            "{message}"
        );
        assert_eq!(set.families.len(), 2);
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in "\\PC*") {
            let _ = parse_stats(&text);
            let _ = parse_sysctl(&text);
        }

        #[test]
        fn generated_files_sum_back(
            cpus in proptest::collection::vec(proptest::collection::vec(any::<u32>(), 17), 0..8),
            old_kernel in any::<bool>(),
        ) {
            let width = if old_kernel { 16 } else { 17 };
            let mut text = String::from(HEADER);
            text.push('\n');
            let mut want = Stats::default();
            for cpu in &cpus {
                let cols: Vec<String> = cpu[..width].iter().map(|v| format!("{v:08x}")).collect();
                text.push_str(&cols.join(" "));
                text.push('\n');
                want.found += u64::from(cpu[FOUND]);
                want.invalid += u64::from(cpu[INVALID]);
                want.ignore += u64::from(cpu[IGNORE]);
                want.insert += u64::from(cpu[INSERT]);
                want.insert_failed += u64::from(cpu[INSERT_FAILED]);
                want.drop += u64::from(cpu[DROP]);
                want.early_drop += u64::from(cpu[EARLY_DROP]);
                if !old_kernel {
                    want.search_restart += u64::from(cpu[SEARCH_RESTART]);
                }
            }
            prop_assert_eq!(parse_stats(&text), Ok(want));
        }

        #[test]
        fn sysctl_round_trips(v in any::<u64>()) {
            prop_assert_eq!(parse_sysctl(&format!("{v}\n")), Some(v));
        }
    }
}
