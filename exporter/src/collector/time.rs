//! `time`: the system clock, the local time zone and the kernel's clock sources.
//!
//! The clock and the time zone are the exporter's own, as in node_exporter (Go's `time.Now()` and
//! its `Local` zone, which come from the `TZ` variable or `/etc/localtime` of the exporter's own
//! filesystem, not `--path.rootfs`). The clock sources come from
//! `<sysfs>/devices/system/clocksource/clocksource*/`.

use std::ffi::CStr;
use std::time::{SystemTime, UNIX_EPOCH};

use super::{
    read_string, read_trimmed, sorted_dir_entries_if_present, BuildContext, CollectError,
    Collector, Registration, Roots,
};
use crate::metrics::MetricSet;

pub const REGISTRATION: Registration = Registration {
    name: "time",
    default_enabled: true,
    help: "the current system time and clock source",
    flags: super::no_flags,
    cadence: super::Cadence::Slow,
    isolation: super::Isolation::Inline,
    build,
};

fn build(ctx: &BuildContext) -> Result<Box<dyn Collector>, String> {
    Ok(Box::new(TimeCollector {
        roots: ctx.roots.clone(),
    }))
}

pub struct TimeCollector {
    roots: Roots,
}

/// The local time zone's abbreviation ("UTC", "CEST") and offset east of UTC in seconds at `when`,
/// from the C library, which reads `TZ` and `/etc/localtime` the same way Go's `time.Local` does.
// time_t and c_long are i64 here but 32 bits wide on some targets, so the conversions stay.
#[allow(clippy::useless_conversion)]
pub fn local_zone(when: SystemTime) -> Option<(String, i64)> {
    let seconds = match when.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).ok()?,
        Err(e) => -i64::try_from(e.duration().as_secs()).ok()?,
    };
    let t: libc::time_t = seconds.try_into().ok()?;
    // SAFETY: `tm` is plain data for which all-zero bytes (null `tm_zone`) are a valid value.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: localtime_r reads `t` and writes only `tm`, both live for the call; null means failure.
    if unsafe { libc::localtime_r(&t, &mut tm) }.is_null() {
        return None;
    }
    let zone = if tm.tm_zone.is_null() {
        String::new()
    } else {
        // SAFETY: a non-null tm_zone points to a NUL-terminated name the C library keeps for the
        // life of the process (glibc and musl never free time zone names).
        unsafe { CStr::from_ptr(tm.tm_zone) }
            .to_string_lossy()
            .into_owned()
    };
    Some((zone, i64::from(tm.tm_gmtoff)))
}

/// One `clocksource<N>` directory: the sources the kernel offers and the one in use.
#[derive(Debug, PartialEq)]
pub struct ClockSource {
    pub available: Vec<String>,
    pub current: String,
}

/// Reads one clocksource directory. `available_clocksource` is a space-separated list
/// (with a trailing space), `current_clocksource` one name.
pub fn read_clocksource(dir: &std::path::Path) -> Result<ClockSource, CollectError> {
    let available = read_string(dir.join("available_clocksource"))?
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let current = read_trimmed(dir.join("current_clocksource"))?
        .trim()
        .to_string();
    Ok(ClockSource { available, current })
}

impl TimeCollector {
    /// The `clocksource[0-9]*` directories in name order, as node_exporter's glob finds them.
    /// Like node_exporter, the `device` label is a directory's position in that list.
    fn clocksources(&self, out: &mut MetricSet) -> Result<(), CollectError> {
        let base = self.roots.sys("devices/system/clocksource");
        // No clocksource directory: nothing to report, as a glob that matches nothing.
        let Some(entries) = sorted_dir_entries_if_present(&base)? else {
            return Ok(());
        };
        let dirs = entries.into_iter().filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.strip_prefix("clocksource")
                .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
        });
        let mut first_error = None;
        for (index, entry) in dirs.enumerate() {
            let device = index.to_string();
            match read_clocksource(&entry.path()) {
                Ok(source) => {
                    let available = out.gauge(
                        "node_time_clocksource_available_info",
                        "Available clocksources read from '/sys/devices/system/clocksource'.",
                    );
                    for name in &source.available {
                        available.sample(&[("clocksource", name), ("device", &device)], 1.0);
                    }
                    out.gauge(
                        "node_time_clocksource_current_info",
                        "Current clocksource read from '/sys/devices/system/clocksource'.",
                    )
                    .sample(
                        &[("clocksource", &source.current), ("device", &device)],
                        1.0,
                    );
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

impl Collector for TimeCollector {
    fn collect(&self, out: &mut MetricSet) -> Result<(), CollectError> {
        let now = SystemTime::now();
        let seconds = match now.duration_since(UNIX_EPOCH) {
            Ok(d) => d.as_secs_f64(),
            Err(e) => -e.duration().as_secs_f64(),
        };
        out.gauge(
            "node_time_seconds",
            "System time in seconds since epoch (1970).",
        )
        .sample(&[], seconds);
        if let Some((zone, offset)) = local_zone(now) {
            out.gauge(
                "node_time_zone_offset_seconds",
                "System time zone offset in seconds.",
            )
            .sample(&[("time_zone", &zone)], offset as f64);
        }
        self.clocksources(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collector(sysfs: &std::path::Path) -> TimeCollector {
        TimeCollector {
            roots: Roots {
                sysfs: sysfs.to_path_buf(),
                ..Roots::default()
            },
        }
    }

    #[test]
    fn reads_clocksources_in_glob_order() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("devices/system/clocksource");
        for (name, available, current) in [
            ("clocksource0", "kvm-clock tsc acpi_pm \n", "kvm-clock\n"),
            ("clocksource1", "tsc \n", "tsc\n"),
        ] {
            std::fs::create_dir_all(base.join(name)).unwrap();
            std::fs::write(base.join(name).join("available_clocksource"), available).unwrap();
            std::fs::write(base.join(name).join("current_clocksource"), current).unwrap();
        }
        // Neither matches clocksource[0-9]*.
        std::fs::create_dir_all(base.join("clocksourcex")).unwrap();
        std::fs::write(base.join("uevent"), "").unwrap();

        let mut out = MetricSet::new();
        collector(dir.path()).collect(&mut out).unwrap();
        let available = &out
            .get("node_time_clocksource_available_info")
            .unwrap()
            .samples;
        let names: Vec<_> = available
            .iter()
            .map(|s| (s.labels[1].1.as_str(), s.labels[0].1.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("0", "kvm-clock"),
                ("0", "tsc"),
                ("0", "acpi_pm"),
                ("1", "tsc")
            ]
        );
        let current = &out
            .get("node_time_clocksource_current_info")
            .unwrap()
            .samples;
        assert_eq!(
            current[0].labels,
            [
                ("clocksource".into(), "kvm-clock".to_string()),
                ("device".into(), "0".to_string())
            ]
        );
        assert!(out.get("node_time_seconds").unwrap().samples[0].value > 1.6e9);
        assert!(out.get("node_time_zone_offset_seconds").is_some());
    }

    #[test]
    fn missing_files() {
        let dir = tempfile::tempdir().unwrap();
        let mut out = MetricSet::new();
        // No clocksource directory at all: time only, and success.
        collector(dir.path()).collect(&mut out).unwrap();
        assert!(out.get("node_time_seconds").is_some());
        assert!(out.get("node_time_clocksource_current_info").is_none());

        let cs = dir.path().join("devices/system/clocksource/clocksource0");
        std::fs::create_dir_all(&cs).unwrap();
        std::fs::write(cs.join("available_clocksource"), "tsc hpet \n").unwrap();
        let mut out = MetricSet::new();
        let err = collector(dir.path()).collect(&mut out).unwrap_err();
        assert!(err.to_string().contains("current_clocksource"), "{err}");
        assert!(out.get("node_time_seconds").is_some());
    }

    #[test]
    fn zone_offset_is_sane() {
        let (zone, offset) = local_zone(SystemTime::now()).unwrap();
        assert!(!zone.is_empty());
        assert!(offset.abs() <= 14 * 3600 && offset % 60 == 0, "{offset}");
        let (_, epoch_offset) = local_zone(UNIX_EPOCH).unwrap();
        assert!(epoch_offset.abs() <= 14 * 3600);
    }

    #[test]
    fn fixtures() {
        let base = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let mut out = MetricSet::new();
        collector(&base.join("vm/sys")).collect(&mut out).unwrap();
        let current = &out
            .get("node_time_clocksource_current_info")
            .unwrap()
            .samples;
        assert_eq!(current[0].labels[0].1, "kvm-clock");
        assert_eq!(
            out.get("node_time_clocksource_available_info")
                .unwrap()
                .samples
                .len(),
            3
        );

        let mut out = MetricSet::new();
        let err = collector(&base.join("broken/sys"))
            .collect(&mut out)
            .unwrap_err();
        assert!(
            err.to_string().contains("clocksource0/current_clocksource"),
            "{err}"
        );
        assert!(out.get("node_time_seconds").is_some());
        assert!(out.get("node_time_clocksource_available_info").is_none());
    }
}
