//! `tapestats`: SCSI tape drive statistics from `<sysfs>/class/scsi_tape/st<N>/stats/`
//! (Documentation/scsi/st.rst, "Sysfs and statistics for tape devices"), as node_exporter's
//! `tapestats_linux.go` exports them, labelled `device` (`st0`; the mode and no-rewind nodes
//! `st0l`, `nst0`, ... are the same drive and are not read):
//!
//! * `node_tape_io_now` (gauge, `in_flight`);
//! * counters `node_tape_io_time_seconds_total` (`io_ns`), `_read_time_seconds_total`
//!   (`read_ns`), `_write_time_seconds_total` (`write_ns`), all × 10⁻⁹;
//!   `node_tape_io_others_total` (`other_cnt`), `_reads_completed_total` (`read_cnt`),
//!   `_writes_completed_total` (`write_cnt`), `_read_bytes_total` (`read_byte_cnt`),
//!   `_written_bytes_total` (`write_byte_cnt`), `_residual_total` (`resid_cnt`).
//!
//! Every file of `stats/` is read; the known ones parse as Go's `ParseUint(s, 0, 64)` (decimal,
//! `0x`, `0o`, `0b` or leading-`0` octal) and a missing one counts 0, as in node_exporter. A drive
//! whose statistics cannot be read or parsed fails the collector (node_exporter publishes nothing,
//! or, 1.5, crashes; sysmon publishes the other drives). `--collector.tapestats.ignored-devices`
//! (default `^$`) drops drives by name, unanchored. No `<sysfs>/class/scsi_tape` (no `st` driver)
//! is no data.

use std::path::Path;

use super::filter::DeviceFilter;
use super::{
    sorted_dir_entries, sorted_dir_entries_if_present, BuildContext, CollectError, Collector,
    Registration, Roots,
};
use crate::metrics::MetricSet;

pub const REGISTRATION: Registration = Registration {
    name: "tapestats",
    default_enabled: true,
    help: "SCSI tape drive statistics from /sys/class/scsi_tape",
    flags: <Args as clap::Args>::augment_args,
    cadence: super::Cadence::Slow,
    isolation: super::Isolation::Inline,
    build,
};

/// Flags of the `tapestats` collector.
#[derive(Debug, Clone, clap::Args)]
#[group(id = "tapestats_flags")]
#[command(next_help_heading = "Collector tapestats")]
pub struct Args {
    /// Regexp of devices to ignore for tapestats.
    #[arg(
        id = "tapestats_ignored_devices",
        long = "collector.tapestats.ignored-devices",
        value_name = "REGEX",
        default_value = "^$"
    )]
    pub ignored_devices: String,
}

fn build(ctx: &BuildContext) -> Result<Box<dyn Collector>, String> {
    let args: Args = ctx.args()?;
    let ignored = DeviceFilter::new(
        ("--collector.tapestats.device-include", None),
        (
            "--collector.tapestats.ignored-devices",
            Some(&args.ignored_devices),
        ),
    )?;
    Ok(Box::new(TapestatsCollector {
        roots: ctx.roots.clone(),
        ignored,
    }))
}

pub struct TapestatsCollector {
    roots: Roots,
    ignored: DeviceFilter,
}

/// The statistics files, in [`TapeStats::values`] order.
pub const FILES: [&str; 10] = [
    "in_flight",
    "io_ns",
    "other_cnt",
    "read_byte_cnt",
    "read_cnt",
    "read_ns",
    "resid_cnt",
    "write_byte_cnt",
    "write_cnt",
    "write_ns",
];

/// One drive's statistics, by [`FILES`].
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct TapeStats {
    pub values: [u64; 10],
}

/// Parses an unsigned integer as Go's `strconv.ParseUint(s, 0, 64)` after trimming: decimal,
/// `0x`/`0X` hexadecimal, `0o`/`0O` or leading-`0` octal, `0b`/`0B` binary; no sign. (Go also
/// accepts `_` between digits after a base prefix; sysfs never writes one, and it is refused.)
pub fn parse_uint(text: &str) -> Option<u64> {
    let s = text.trim();
    let lower = s.get(..2).map(str::to_ascii_lowercase);
    let (radix, body) = match lower.as_deref() {
        Some("0x") => (16, &s[2..]),
        Some("0o") => (8, &s[2..]),
        Some("0b") => (2, &s[2..]),
        _ if s.len() > 1 && s.starts_with('0') => (8, &s[1..]),
        _ => (10, s),
    };
    if body.is_empty() || !body.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u64::from_str_radix(body, radix).ok()
}

/// Builds a drive's statistics from (file name, contents) pairs; unknown files are ignored.
pub fn parse_stats<'a>(
    files: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<TapeStats, String> {
    let mut stats = TapeStats::default();
    for (file, text) in files {
        if let Some(i) = FILES.iter().position(|f| *f == file) {
            stats.values[i] = parse_uint(text).ok_or_else(|| {
                format!(
                    "{file}: expected an unsigned integer, found {:?}",
                    text.trim()
                )
            })?;
        }
    }
    Ok(stats)
}

/// Whether a `class/scsi_tape` entry is a drive's main node (`st<digits>`).
pub fn is_drive(name: &str) -> bool {
    name.strip_prefix("st")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Reads `<drive>/stats`.
pub fn read_stats(drive: &Path) -> Result<TapeStats, CollectError> {
    let dir = drive.join("stats");
    let mut files = Vec::new();
    for entry in sorted_dir_entries(&dir)? {
        let path = entry.path();
        let text = crate::collector::read_bytes(&path).map_err(|e| CollectError::io(&path, e))?;
        files.push((
            entry.file_name().to_string_lossy().into_owned(),
            String::from_utf8_lossy(&text).into_owned(),
        ));
    }
    parse_stats(files.iter().map(|(f, t)| (f.as_str(), t.as_str())))
        .map_err(|message| CollectError::parse(&dir, message))
}

impl Collector for TapestatsCollector {
    fn collect(&self, out: &mut MetricSet) -> Result<(), CollectError> {
        let class = self.roots.sys("class/scsi_tape");
        let Some(entries) = sorted_dir_entries_if_present(&class)? else {
            return Ok(());
        };
        let mut first_error = None;
        for entry in entries {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !is_drive(&name) || self.ignored.ignored(&name) {
                continue;
            }
            let stats = match read_stats(&entry.path()) {
                Ok(s) => s,
                Err(e) => {
                    first_error.get_or_insert(e);
                    continue;
                }
            };
            let [in_flight, io_ns, other, read_bytes, reads, read_ns, resid, write_bytes, writes, write_ns] =
                stats.values;
            let labels = [("device", name.as_str())];
            out.gauge(
                "node_tape_io_now",
                "The number of I/Os currently outstanding to this device.",
            )
            .sample(&labels, in_flight as f64);
            for (metric, help, value) in [
                (
                    "node_tape_io_time_seconds_total",
                    "The amount of time spent waiting for all I/O to complete (including read and \
                     write). This includes tape movement commands such as seeking between file or \
                     set marks and implicit tape movement such as when rewind on close tape \
                     devices are used.",
                    io_ns as f64 * 0.000000001,
                ),
                (
                    "node_tape_io_others_total",
                    "The number of I/Os issued to the tape drive other than read or write \
                     commands. The time taken to complete these commands uses the following \
                     calculation io_time_seconds_total-read_time_seconds_total-\
                     write_time_seconds_total",
                    other as f64,
                ),
                (
                    "node_tape_read_bytes_total",
                    "The number of bytes read from the tape drive.",
                    read_bytes as f64,
                ),
                (
                    "node_tape_reads_completed_total",
                    "The number of read requests issued to the tape drive.",
                    reads as f64,
                ),
                (
                    "node_tape_read_time_seconds_total",
                    "The amount of time spent waiting for read requests to complete.",
                    read_ns as f64 * 0.000000001,
                ),
                (
                    "node_tape_residual_total",
                    "The number of times during a read or write we found the residual amount to \
                     be non-zero. This should mean that a program is issuing a read larger thean \
                     the block size on tape. For write not all data made it to tape.",
                    resid as f64,
                ),
                (
                    "node_tape_written_bytes_total",
                    "The number of bytes written to the tape drive.",
                    write_bytes as f64,
                ),
                (
                    "node_tape_writes_completed_total",
                    "The number of write requests issued to the tape drive.",
                    writes as f64,
                ),
                (
                    "node_tape_write_time_seconds_total",
                    "The amount of time spent waiting for write requests to complete.",
                    write_ns as f64 * 0.000000001,
                ),
            ] {
                out.counter(metric, help).sample(&labels, value);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::fixture_roots;
    use proptest::prelude::*;

    fn collect(machine: &str, ignored: &str) -> (MetricSet, Result<(), CollectError>) {
        let mut out = MetricSet::new();
        let r = TapestatsCollector {
            roots: fixture_roots(machine),
            ignored: DeviceFilter::new(("i", None), ("e", Some(ignored))).unwrap(),
        }
        .collect(&mut out);
        (out, r)
    }

    #[test]
    fn server_st0_only() {
        let (out, r) = collect("server", "^$");
        r.unwrap();
        let reads = out.get("node_tape_reads_completed_total").unwrap();
        assert_eq!(reads.samples.len(), 1);
        assert_eq!(reads.samples[0].labels[0].1, "st0");
        assert_eq!(reads.samples[0].value, 20844.0);
        assert_eq!(
            out.get("node_tape_io_time_seconds_total").unwrap().samples[0].value,
            11873.529012345001
        );
        let (out, r) = collect("server", "^st0$");
        r.unwrap();
        assert_eq!(out.sample_count(), 0);
    }

    #[test]
    fn laptop_and_vm_have_none() {
        for machine in ["laptop", "vm"] {
            let (out, r) = collect(machine, "^$");
            r.unwrap();
            assert_eq!(out.sample_count(), 0, "{machine}");
        }
    }

    #[test]
    fn broken_drive_fails_alone() {
        let (out, r) = collect("broken", "^$");
        let err = r.unwrap_err().to_string();
        assert!(err.contains("st0") && err.contains("read_cnt"), "{err}");
        let reads = out.get("node_tape_reads_completed_total").unwrap();
        assert_eq!(reads.samples.len(), 1);
        assert_eq!(reads.samples[0].labels[0].1, "st1");
    }

    #[test]
    fn parses_like_go_parse_uint_base_0() {
        for (text, want) in [
            ("0\n", Some(0)),
            ("17", Some(17)),
            ("0x1f", Some(31)),
            ("010", Some(8)),
            ("0b11", Some(3)),
            ("18446744073709551615", Some(u64::MAX)),
            ("18446744073709551616", None),
            ("-5", None),
            ("+5", None),
            ("09", None),
            ("", None),
            ("0x", None),
        ] {
            assert_eq!(parse_uint(text), want, "{text:?}");
        }
        assert!(is_drive("st0") && is_drive("st12"));
        assert!(!is_drive("nst0") && !is_drive("st0l") && !is_drive("st"));
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_text_never_panics(file in "[a-z_]{0,15}", text in "\\PC{0,30}") {
            let _ = parse_stats([(file.as_str(), text.as_str())]);
            let _ = is_drive(&text);
        }

        #[test]
        fn generated_stats_parse_back(values in proptest::array::uniform10(any::<u64>())) {
            let texts: Vec<String> = values.iter().map(|v| format!("{v}\n")).collect();
            let stats = parse_stats(FILES.iter().copied().zip(texts.iter().map(String::as_str))).unwrap();
            prop_assert_eq!(stats.values, values);
        }
    }
}
