//! `thermal_zone`: thermal zone temperatures and cooling devices from /sys/class/thermal
//! (Documentation/driver-api/thermal/sysfs-api.rst).
//!
//! Hand-parsed: procfs-core only covers /proc. Which zones and devices are skipped follows
//! node_exporter's thermal_zone collector on top of the Go procfs library it uses:
//!
//! * a zone whose `mode` is "disabled" is skipped (its temperature is stale or zero);
//! * a zone (`type`, `policy`, `temp`) or cooling device (`type`, `max_state`, `cur_state`) whose
//!   attribute file is missing or may not be opened is skipped;
//! * a zone whose attribute read fails with ENODATA, EAGAIN or EINVAL (a sensor that is powered down,
//!   such as iwlwifi's while the radio is off) is skipped, and so is a cooling device whose
//!   attribute read fails with EINVAL or EOPNOTSUPP;
//! * any other read error, or a value that is not an integer, fails the collector, naming the file.
//!
//! Unlike node_exporter, which then drops every zone and device of the sample, the healthy zones
//! and devices are still published next to the failure. The optional `passive` attribute, which
//! node_exporter's library parses but never exports, is not read, so it cannot fail the collector.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::kept_open::TemperatureFiles;
use super::{
    sorted_dir_entries_if_present, BuildContext, CollectError, Collector, Registration, Roots,
};
use crate::anomaly::signals::Readings;
use crate::metrics::MetricSet;

pub const REGISTRATION: Registration = Registration {
    name: "thermal_zone",
    default_enabled: true,
    help: "thermal zone temperatures and cooling devices from /sys/class/thermal",
    flags: super::no_flags,
    // The anomaly rules' temperatures are read every sample by `signals`.
    cadence: super::Cadence::Slow,
    isolation: super::Isolation::Thread,
    build,
};

fn build(ctx: &BuildContext) -> Result<Box<dyn Collector>, String> {
    Ok(Box::new(ThermalZoneCollector {
        roots: ctx.roots.clone(),
        temps: TemperatureFiles::default(),
    }))
}

pub struct ThermalZoneCollector {
    roots: Roots,
    /// The `temp` files of the zones the last full run published.
    temps: TemperatureFiles,
}

/// One thermal zone: `zone` is the number in `thermal_zone<N>`, `kind` its `type` ("acpitz").
#[derive(Debug, Clone, PartialEq)]
pub struct Zone {
    pub zone: String,
    pub kind: String,
    pub temp_millicelsius: i64,
}

/// One cooling device: `name` is the number in `cooling_device<N>`, `kind` its `type`.
#[derive(Debug, Clone, PartialEq)]
pub struct CoolingDevice {
    pub name: String,
    pub kind: String,
    pub cur_state: i64,
    pub max_state: i64,
}

/// How reading one attribute went. Opening and reading are told apart because node_exporter
/// skips the object on any failure to open, but on only some failures to read.
#[derive(Debug)]
enum Attr {
    Value(String),
    OpenFailed,
    ReadFailed(std::io::Error),
}

/// Reads an attribute once (sysfs serves it in one read), trimmed of surrounding whitespace.
fn read_attr(path: &Path) -> Attr {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(_) => return Attr::OpenFailed,
    };
    let mut buf = Vec::with_capacity(64);
    match file.take(4096).read_to_end(&mut buf) {
        Ok(_) => Attr::Value(String::from_utf8_lossy(&buf).trim().to_string()),
        Err(e) => Attr::ReadFailed(e),
    }
}

/// Parses an integer attribute (`temp` in millidegrees Celsius, `cur_state`, `max_state`); the
/// caller has trimmed it. Negative values are valid: intel_powerclamp's cur_state is -1 when idle.
pub fn parse_int(text: &str) -> Option<i64> {
    text.parse::<i64>().ok()
}

fn errno_in(e: &std::io::Error, skip: &[i32]) -> bool {
    e.raw_os_error().is_some_and(|code| skip.contains(&code))
}

// Linux errno values (asm-generic/errno-base.h, errno.h), identical on every architecture Linux
// runs this exporter on.
const EAGAIN: i32 = 11;
const EINVAL: i32 = 22;
const ENODATA: i32 = 61;
const EOPNOTSUPP: i32 = 95;

/// What to do with one attribute of a zone or device.
enum Outcome<T> {
    Value(T),
    Skip,
    Fail(CollectError),
}

/// Reads an attribute: a failure to open, or a read failure listed in `skip_errnos`, skips the
/// whole zone or device; other read failures fail the collector.
fn attribute(path: &Path, skip_errnos: &[i32]) -> Outcome<String> {
    match read_attr(path) {
        Attr::Value(v) => Outcome::Value(v),
        Attr::OpenFailed => Outcome::Skip,
        Attr::ReadFailed(e) if errno_in(&e, skip_errnos) => Outcome::Skip,
        Attr::ReadFailed(e) => Outcome::Fail(CollectError::io(path, e)),
    }
}

fn int_attribute(path: &Path, skip_errnos: &[i32]) -> Outcome<i64> {
    match attribute(path, skip_errnos) {
        Outcome::Value(text) => match parse_int(&text) {
            Some(v) => Outcome::Value(v),
            None => Outcome::Fail(CollectError::parse(
                path,
                format!("expected an integer, found {text:?}"),
            )),
        },
        Outcome::Skip => Outcome::Skip,
        Outcome::Fail(e) => Outcome::Fail(e),
    }
}

/// Unwraps an attribute inside a function returning `Outcome`.
macro_rules! take {
    ($outcome:expr) => {
        match $outcome {
            Outcome::Value(v) => v,
            Outcome::Skip => return Outcome::Skip,
            Outcome::Fail(e) => return Outcome::Fail(e),
        }
    };
}

const ZONE_SKIP: &[i32] = &[ENODATA, EAGAIN, EINVAL];
const DEVICE_SKIP: &[i32] = &[EINVAL, EOPNOTSUPP];

fn read_zone(dir: &Path, zone: &str) -> Outcome<Zone> {
    // `mode` is optional (older kernels, zones without a mode callback): absent means enabled.
    match attribute(&dir.join("mode"), ZONE_SKIP) {
        Outcome::Value(mode) if mode == "disabled" => return Outcome::Skip,
        Outcome::Value(_) | Outcome::Skip => {}
        Outcome::Fail(e) => return Outcome::Fail(e),
    }
    let kind = take!(attribute(&dir.join("type"), ZONE_SKIP));
    // Not exported, but required by node_exporter's procfs: a zone without a policy is skipped.
    take!(attribute(&dir.join("policy"), ZONE_SKIP));
    let temp_millicelsius = take!(int_attribute(&dir.join("temp"), ZONE_SKIP));
    Outcome::Value(Zone {
        zone: zone.to_string(),
        kind,
        temp_millicelsius,
    })
}

fn read_cooling_device(dir: &Path, name: &str) -> Outcome<CoolingDevice> {
    let kind = take!(attribute(&dir.join("type"), DEVICE_SKIP));
    let max_state = take!(int_attribute(&dir.join("max_state"), DEVICE_SKIP));
    let cur_state = take!(int_attribute(&dir.join("cur_state"), DEVICE_SKIP));
    Outcome::Value(CoolingDevice {
        name: name.to_string(),
        kind,
        cur_state,
        max_state,
    })
}

/// Entries of /sys/class/thermal named `<prefix><digit>...` (the Go glob `<prefix>[0-9]*`), with
/// the part after the prefix. No class directory (a kernel without thermal support, most VMs)
/// means no entries.
fn entries(class: &Path, prefix: &str) -> Result<Vec<(PathBuf, String)>, CollectError> {
    let Some(listing) = sorted_dir_entries_if_present(class)? else {
        return Ok(Vec::new());
    };
    Ok(listing
        .into_iter()
        .filter_map(|e| {
            let name = e.file_name().to_str()?.to_string();
            let suffix = name.strip_prefix(prefix)?;
            suffix
                .starts_with(|c: char| c.is_ascii_digit())
                .then(|| (e.path(), suffix.to_string()))
        })
        .collect())
}

impl Collector for ThermalZoneCollector {
    fn collect(&self, out: &mut MetricSet) -> Result<(), CollectError> {
        let class = self.roots.sys("class/thermal");
        let mut first_error = None;
        let mut temps = Vec::new();

        for (dir, zone) in entries(&class, "thermal_zone")? {
            match read_zone(&dir, &zone) {
                Outcome::Value(z) => {
                    temps.push((format!("thermal_zone{}", z.zone), dir.join("temp"), None));
                    out.gauge("node_thermal_zone_temp", "Zone temperature in Celsius")
                        .sample(
                            &[("type", &z.kind), ("zone", &z.zone)],
                            z.temp_millicelsius as f64 / 1000.0,
                        );
                }
                Outcome::Skip => {}
                Outcome::Fail(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }

        for (dir, name) in entries(&class, "cooling_device")? {
            match read_cooling_device(&dir, &name) {
                Outcome::Value(d) => {
                    let labels = [("name", d.name.as_str()), ("type", d.kind.as_str())];
                    out.gauge(
                        "node_cooling_device_cur_state",
                        "Current throttle state of the cooling device",
                    )
                    .sample(&labels, d.cur_state as f64);
                    out.gauge(
                        "node_cooling_device_max_state",
                        "Maximum throttle state of the cooling device",
                    )
                    .sample(&labels, d.max_state as f64);
                }
                Outcome::Skip => {}
                Outcome::Fail(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }

        self.temps.replace(temps);
        first_error.map_or(Ok(()), Err)
    }

    /// Only while the last full run found temperatures: a machine without sensors (most VMs)
    /// then costs no hand-off to this collector's thread every sample.
    fn reads_signals(&self) -> bool {
        !self.temps.is_empty()
    }

    fn signals(&self, readings: &mut Readings) -> Result<(), CollectError> {
        self.temps.read(&mut readings.temperatures)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::fixture_roots;

    fn collect(machine: &str) -> (MetricSet, Result<(), CollectError>) {
        let collector = ThermalZoneCollector {
            temps: TemperatureFiles::default(),
            roots: fixture_roots(machine),
        };
        let mut out = MetricSet::new();
        let result = collector.collect(&mut out);
        (out, result)
    }

    /// (zone or name, type, value) of every sample of a family.
    fn series(set: &MetricSet, name: &str) -> Vec<(String, String, f64)> {
        let label = |s: &crate::metrics::Sample, key: &str| {
            s.labels
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        set.get(name)
            .map(|f| {
                f.samples
                    .iter()
                    .map(|s| {
                        let id = if name == "node_thermal_zone_temp" {
                            "zone"
                        } else {
                            "name"
                        };
                        (label(s, id), label(s, "type"), s.value)
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    fn s(a: &str, b: &str, v: f64) -> (String, String, f64) {
        (a.to_string(), b.to_string(), v)
    }

    #[test]
    fn parses_integers() {
        assert_eq!(parse_int("48000"), Some(48000));
        assert_eq!(parse_int("-1"), Some(-1));
        assert_eq!(parse_int(""), None);
        assert_eq!(parse_int("48.5"), None);
        assert_eq!(parse_int("99999999999999999999"), None);
    }

    #[test]
    fn laptop_zones_and_cooling_devices() {
        let (set, result) = collect("laptop");
        result.unwrap();
        assert_eq!(
            series(&set, "node_thermal_zone_temp"),
            vec![s("0", "acpitz", 48.0), s("1", "x86_pkg_temp", 52.0)]
        );
        let cur = series(&set, "node_cooling_device_cur_state");
        assert_eq!(cur.len(), 10);
        assert_eq!(cur[0], s("0", "Processor", 0.0));
        assert!(cur.contains(&s("8", "intel_powerclamp", -1.0)));
        let max = series(&set, "node_cooling_device_max_state");
        assert!(max.contains(&s("8", "intel_powerclamp", 50.0)));
        assert!(max.contains(&s("9", "TCC Offset", 63.0)));
    }

    #[test]
    fn machines_without_thermal_succeed_empty() {
        for machine in ["server", "vm"] {
            let (set, result) = collect(machine);
            result.unwrap();
            assert_eq!(set.sample_count(), 0, "{machine}");
        }
    }

    #[test]
    fn broken_machine_fails_but_keeps_healthy_zones() {
        let (set, result) = collect("broken");
        let err = result.unwrap_err().to_string();
        assert!(
            err.contains("thermal_zone0/temp") && err.contains("garbage"),
            "{err}"
        );
        // Zone 1 (absurd but an integer) stays; 2 is disabled, 3 has no temp file, 0 and 4 fail.
        assert_eq!(
            series(&set, "node_thermal_zone_temp"),
            vec![s("1", "x86_pkg_temp", 2147483.647)]
        );
        // Device 2 has a malformed max_state, device 3 no cur_state.
        assert_eq!(
            series(&set, "node_cooling_device_cur_state"),
            vec![s("0", "Processor", 0.0), s("1", "intel_powerclamp", -1.0)]
        );
    }

    #[test]
    fn read_errors_are_told_apart_from_open_errors() {
        let dir = tempfile::tempdir().unwrap();
        // Reading a directory fails at read time (EISDIR), which is not a skippable errno.
        std::fs::create_dir(dir.path().join("temp")).unwrap();
        std::fs::write(dir.path().join("type"), "acpitz\n").unwrap();
        std::fs::write(dir.path().join("policy"), "step_wise\n").unwrap();
        assert!(matches!(read_zone(dir.path(), "0"), Outcome::Fail(_)));
        // A missing file skips the zone.
        std::fs::remove_dir(dir.path().join("temp")).unwrap();
        assert!(matches!(read_zone(dir.path(), "0"), Outcome::Skip));
        std::fs::write(dir.path().join("temp"), "-5000\n").unwrap();
        match read_zone(dir.path(), "0") {
            Outcome::Value(z) => assert_eq!(z.temp_millicelsius, -5000),
            _ => panic!("zone not read"),
        }
        std::fs::write(dir.path().join("mode"), "disabled\n").unwrap();
        assert!(matches!(read_zone(dir.path(), "0"), Outcome::Skip));
        std::fs::write(dir.path().join("mode"), "enabled\n").unwrap();
        std::fs::remove_file(dir.path().join("policy")).unwrap();
        assert!(matches!(read_zone(dir.path(), "0"), Outcome::Skip));
    }
}
