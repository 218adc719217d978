//! `pressure`: pressure stall information (PSI) totals from `<procfs>/pressure/{cpu,io,memory,irq}`.
//!
//! Hand-parsed rather than through procfs-core's pressure types: those require a `full` line for
//! CPU (absent before Linux 5.13), know nothing of `irq`, and slice a bare `some` line out of
//! bounds (a panic).
//!
//! Exported as node_exporter does: `some` is "waiting", `full` is "stalled"; CPU only `some`
//! (node_exporter declined a CPU `full` metric, issue #2379: psi.rst calls CPU full undefined at
//! the system level, printed since 5.13 and now always zero); IRQ only `full` (the kernel has no
//! `some` for it).
//!
//! A kernel without PSI (before 4.20, or booted with `psi=0`) has no /proc/pressure, and one
//! without IRQ time accounting has no `irq` file: that is not an error, the resource is skipped.

use std::io::ErrorKind;

use super::{read_string, BuildContext, CollectError, Collector, Registration, Roots};
use crate::metrics::MetricSet;

pub const REGISTRATION: Registration = Registration {
    name: "pressure",
    default_enabled: true,
    help: "pressure stall information from /proc/pressure",
    flags: super::no_flags,
    cadence: super::Cadence::Slow,
    isolation: super::Isolation::Inline,
    build,
};

fn build(ctx: &BuildContext) -> Result<Box<dyn Collector>, String> {
    Ok(Box::new(PressureCollector {
        roots: ctx.roots.clone(),
    }))
}

pub struct PressureCollector {
    roots: Roots,
}

/// What one resource file exports: the metric and help for its `some` and `full` lines.
struct Resource {
    file: &'static str,
    some: Option<(&'static str, &'static str)>,
    full: Option<(&'static str, &'static str)>,
}

const RESOURCES: [Resource; 4] = [
    Resource {
        file: "cpu",
        some: Some((
            "node_pressure_cpu_waiting_seconds_total",
            "Seconds in which at least one task waited for a CPU (PSI cpu some).",
        )),
        full: None,
    },
    Resource {
        file: "io",
        some: Some((
            "node_pressure_io_waiting_seconds_total",
            "Seconds in which at least one task was stalled on IO (PSI io some).",
        )),
        full: Some((
            "node_pressure_io_stalled_seconds_total",
            "Seconds in which all non-idle tasks were stalled on IO at once (PSI io full).",
        )),
    },
    Resource {
        file: "memory",
        some: Some((
            "node_pressure_memory_waiting_seconds_total",
            "Seconds in which at least one task was stalled on memory (PSI memory some).",
        )),
        full: Some((
            "node_pressure_memory_stalled_seconds_total",
            "Seconds in which all non-idle tasks were stalled on memory at once (PSI memory full).",
        )),
    },
    Resource {
        file: "irq",
        some: None,
        full: Some((
            "node_pressure_irq_stalled_seconds_total",
            "Seconds in which all non-idle tasks were stalled by interrupt handling (PSI irq full).",
        )),
    },
];

/// The `total=` stall times (microseconds since boot) of a pressure file's lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Totals {
    pub some: Option<u64>,
    pub full: Option<u64>,
}

/// Parses a pressure file (psi.rst):
///
/// ```text
/// some avg10=0.12 avg60=0.35 avg300=0.41 total=1084936120
/// full avg10=0.08 avg60=0.22 avg300=0.30 total=812345678
/// ```
///
/// Lines with another first word are skipped (a future kernel's additions, as in procfs); a
/// `some` or `full` line must carry the three averages and the total, in that order.
pub fn parse(text: &str) -> Result<Totals, String> {
    const KEYS: [&str; 4] = ["avg10", "avg60", "avg300", "total"];
    let mut totals = Totals::default();
    for (index, line) in text.lines().enumerate() {
        let mut words = line.split_whitespace();
        let slot = match words.next() {
            Some("some") => &mut totals.some,
            Some("full") => &mut totals.full,
            _ => continue,
        };
        let pairs: Vec<Option<(&str, &str)>> = words.map(|w| w.split_once('=')).collect();
        let well_formed = pairs.len() == KEYS.len()
            && pairs.iter().zip(KEYS).all(|(pair, key)| match pair {
                Some((k, v)) if *k == key && key == "total" => v.parse::<u64>().is_ok(),
                Some((k, v)) if *k == key => v.parse::<f64>().is_ok_and(f64::is_finite),
                _ => false,
            });
        let total = pairs
            .last()
            .copied()
            .flatten()
            .and_then(|(_, v)| v.parse::<u64>().ok());
        match total {
            Some(total) if well_formed => *slot = Some(total),
            _ => {
                return Err(format!(
                    "line {}: expected \"avg10=<%> avg60=<%> avg300=<%> total=<µs>\", found {:?}",
                    index + 1,
                    line
                ))
            }
        }
    }
    Ok(totals)
}

/// PSI compiled in but switched off can make reads fail with EOPNOTSUPP instead of the files
/// being absent; node_exporter treats both as "no pressure information".
fn psi_unavailable(error: &std::io::Error) -> bool {
    error.kind() == ErrorKind::NotFound
        || error.raw_os_error() == Some(rustix::io::Errno::OPNOTSUPP.raw_os_error())
}

impl PressureCollector {
    fn collect_resource(&self, r: &Resource, out: &mut MetricSet) -> Result<(), CollectError> {
        let path = self.roots.proc("pressure").join(r.file);
        let text = match read_string(&path) {
            Ok(text) => text,
            Err(CollectError::Io { source, .. }) if psi_unavailable(&source) => return Ok(()),
            Err(e) => return Err(e),
        };
        let totals = parse(&text).map_err(|message| CollectError::parse(&path, message))?;
        for (metric, total, line) in [(r.some, totals.some, "some"), (r.full, totals.full, "full")]
        {
            let Some((name, help)) = metric else { continue };
            let total =
                total.ok_or_else(|| CollectError::parse(&path, format!("no {line:?} line")))?;
            // Microseconds to seconds, divided in two steps exactly as node_exporter does, so the
            // two exporters print the same float.
            out.counter(name, help)
                .sample(&[], total as f64 / 1000.0 / 1000.0);
        }
        Ok(())
    }
}

impl Collector for PressureCollector {
    /// Each resource is its own file: a damaged one does not hide the others; the first error
    /// is reported.
    fn collect(&self, out: &mut MetricSet) -> Result<(), CollectError> {
        let mut first_error = None;
        for r in &RESOURCES {
            if let Err(e) = self.collect_resource(r, out) {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_some_and_full() {
        let text = "some avg10=0.12 avg60=0.35 avg300=0.41 total=1084936120\n\
                    full avg10=0.08 avg60=0.22 avg300=0.30 total=812345678\n";
        assert_eq!(
            parse(text),
            Ok(Totals {
                some: Some(1084936120),
                full: Some(812345678)
            })
        );
        // CPU before 5.13 and IRQ: one line only.
        assert_eq!(
            parse("some avg10=1.21 avg60=1.43 avg300=1.38 total=98123456789\n"),
            Ok(Totals {
                some: Some(98123456789),
                full: None
            })
        );
        assert_eq!(
            parse("full avg10=0.00 avg60=0.00 avg300=0.01 total=21455321"),
            Ok(Totals {
                some: None,
                full: Some(21455321)
            })
        );
        // Unknown lines are a future kernel's, not damage.
        assert_eq!(
            parse("new avg10=x\n\nsome avg10=0 avg60=0 avg300=0 total=0\n")
                .unwrap()
                .some,
            Some(0)
        );
    }

    #[test]
    fn rejects_malformed_lines() {
        for bad in [
            "some avg10=0.00 avg60=0.00 avg300=0.00 total=12x45",
            "some avg10=1.00 avg60",
            "some",
            "some avg10=0.00 avg60=0.00 avg300=0.00",
            "some total=5",
            "some avg10=0.00 avg60=0.00 avg300=0.00 total=-5",
            "some avg10=NaN avg60=0.00 avg300=0.00 total=5",
            "full avg60=0.00 avg10=0.00 avg300=0.00 total=5",
            "some avg10=0.00 avg60=0.00 avg300=0.00 total=5 extra=1",
        ] {
            let err = parse(&format!("{bad}\n")).unwrap_err();
            assert!(err.starts_with("line 1: expected"), "{bad}: {err}");
        }
    }

    fn write(dir: &std::path::Path, rel: &str, text: &str) {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn collector(dir: &std::path::Path) -> PressureCollector {
        PressureCollector {
            roots: Roots {
                procfs: dir.join("proc"),
                sysfs: dir.join("sys"),
                rootfs: dir.join("rootfs"),
            },
        }
    }

    #[test]
    fn no_psi_is_not_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        let mut out = MetricSet::new();
        collector(tmp.path()).collect(&mut out).unwrap();
        assert_eq!(out.sample_count(), 0);
    }

    #[test]
    fn exports_seconds_and_reports_damage_per_file() {
        let tmp = tempfile::tempdir().unwrap();
        write(tmp.path(), "proc/pressure/cpu", "some avg10=0.00 avg60=0.00 avg300=0.00 total=2500000\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=7\n");
        write(
            tmp.path(),
            "proc/pressure/io",
            "some avg10=0.00 avg60=0.00 avg300=0.00 total=1500000\n",
        );
        write(tmp.path(), "proc/pressure/memory", "some avg10=0.00 avg60=0.00 avg300=0.00 total=1\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n");
        let mut out = MetricSet::new();
        let err = collector(tmp.path())
            .collect(&mut out)
            .unwrap_err()
            .to_string();
        // io lacks its full line: named in the error, and the other files are still exported.
        assert!(
            err.contains("pressure/io") && err.contains("no \"full\" line"),
            "{err}"
        );
        assert_eq!(
            out.get("node_pressure_cpu_waiting_seconds_total")
                .unwrap()
                .samples[0]
                .value,
            2.5
        );
        assert!(out.get("node_pressure_cpu_stalled_seconds_total").is_none());
        assert_eq!(
            out.get("node_pressure_io_waiting_seconds_total")
                .unwrap()
                .samples[0]
                .value,
            1.5
        );
        assert_eq!(
            out.get("node_pressure_memory_waiting_seconds_total")
                .unwrap()
                .samples[0]
                .value,
            1e-6
        );
        assert_eq!(
            out.get("node_pressure_memory_stalled_seconds_total")
                .unwrap()
                .samples[0]
                .value,
            0.0
        );
        assert!(
            out.get("node_pressure_irq_stalled_seconds_total").is_none(),
            "no irq file: skipped"
        );
    }
}
