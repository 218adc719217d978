//! `powersupplyclass`: batteries, AC adapters and USB supplies from
//! `<sysfs>/class/power_supply/<name>/` (Documentation/ABI/testing/sysfs-class-power), as
//! node_exporter's `powersupplyclass_linux.go` exports them, labelled `power_supply`:
//!
//! * plain gauges: `node_power_supply_{authentic,calibrate,capacity,capacity_alert_max,
//!   capacity_alert_min,cyclecount,online,present,time_to_empty_seconds,time_to_full_seconds}`;
//! * µA, µV, µAh, µWh and µW attributes divided by 10⁶: `current_{boot,max}`, `current_ampere`
//!   (`current_now`), `energy_{empty,empty_design,full,full_design}`, `energy_watthour`
//!   (`energy_now`), `voltage_{boot,max,max_design,min,min_design,ocv}`, `voltage_volt`
//!   (`voltage_now`), `charge_{control_limit,control_limit_max,counter,empty,empty_design,full,
//!   full_design,term_current}`, `charge_ampere` (`charge_now`), `constant_charge_{current,
//!   current_max,voltage,voltage_max}`, `precharge_current`, `input_current_limit`, `power_watt`
//!   (`power_now`);
//! * tenths of a degree divided by 10: `temp_celsius`, `temp_{alert_max,alert_min,ambient,
//!   ambient_max,ambient_min,max,min}_celsius`;
//! * `node_power_supply_info{power_supply,...}` 1 with each non-empty one of `capacity_level`,
//!   `charge_type`, `health`, `manufacturer`, `model_name`, `serial_number`, `status`,
//!   `technology`, `type`, `usb_type`, `scope`.
//!
//! Each regular file of the supply's directory is read trimmed; numbers as Go's
//! `ParseInt(s, 0, 64)`. A number that does not parse, or a file that cannot be read, fails the
//! collector (node_exporter then publishes nothing; sysmon publishes the other supplies). A driver
//! that refuses an attribute it cannot tell right now (ENODATA, EINVAL: a battery that is being
//! removed) is skipped. `--collector.powersupply.ignored-supplies` (default `^$`) drops supplies by
//! name, unanchored. No `<sysfs>/class/power_supply` is no data.

use std::io::ErrorKind;
use std::path::Path;

use super::filter::DeviceFilter;
use super::watchdog::parse_int;
use super::{
    sorted_dir_entries, sorted_dir_entries_if_present, AttrDir, BuildContext, CollectError,
    Collector, Registration, Roots,
};
use crate::metrics::MetricSet;

pub const REGISTRATION: Registration = Registration {
    name: "powersupplyclass",
    default_enabled: true,
    help: "batteries and power adapters from /sys/class/power_supply",
    flags: <Args as clap::Args>::augment_args,
    cadence: super::Cadence::Slow,
    // A battery's attributes are read from the embedded controller through ACPI: slow, and a
    // firmware bug can hold a read.
    isolation: super::Isolation::Thread,
    build,
};

/// Flags of the `powersupplyclass` collector.
#[derive(Debug, Clone, clap::Args)]
#[group(id = "powersupplyclass_flags")]
#[command(next_help_heading = "Collector powersupplyclass")]
pub struct Args {
    /// Regexp of power supplies to ignore for powersupplyclass collector.
    #[arg(
        id = "powersupplyclass_ignored_supplies",
        long = "collector.powersupply.ignored-supplies",
        value_name = "REGEX",
        default_value = "^$"
    )]
    pub ignored_supplies: String,
}

fn build(ctx: &BuildContext) -> Result<Box<dyn Collector>, String> {
    let args: Args = ctx.args()?;
    let ignored = DeviceFilter::new(
        ("--collector.powersupply.include", None),
        (
            "--collector.powersupply.ignored-supplies",
            Some(&args.ignored_supplies),
        ),
    )?;
    Ok(Box::new(PowerSupplyCollector {
        roots: ctx.roots.clone(),
        ignored,
    }))
}

pub struct PowerSupplyCollector {
    roots: Roots,
    ignored: DeviceFilter,
}

/// Numeric attributes: file, metric name (after `node_power_supply_`), divisor.
pub const NUMBERS: [(&str, &str, f64); 49] = [
    ("authentic", "authentic", 1.0),
    ("calibrate", "calibrate", 1.0),
    ("capacity", "capacity", 1.0),
    ("capacity_alert_max", "capacity_alert_max", 1.0),
    ("capacity_alert_min", "capacity_alert_min", 1.0),
    ("cycle_count", "cyclecount", 1.0),
    ("online", "online", 1.0),
    ("present", "present", 1.0),
    ("time_to_empty_now", "time_to_empty_seconds", 1.0),
    ("time_to_full_now", "time_to_full_seconds", 1.0),
    ("current_boot", "current_boot", 1e6),
    ("current_max", "current_max", 1e6),
    ("current_now", "current_ampere", 1e6),
    ("energy_empty", "energy_empty", 1e6),
    ("energy_empty_design", "energy_empty_design", 1e6),
    ("energy_full", "energy_full", 1e6),
    ("energy_full_design", "energy_full_design", 1e6),
    ("energy_now", "energy_watthour", 1e6),
    ("voltage_boot", "voltage_boot", 1e6),
    ("voltage_max", "voltage_max", 1e6),
    ("voltage_max_design", "voltage_max_design", 1e6),
    ("voltage_min", "voltage_min", 1e6),
    ("voltage_min_design", "voltage_min_design", 1e6),
    ("voltage_now", "voltage_volt", 1e6),
    ("voltage_ocv", "voltage_ocv", 1e6),
    ("charge_control_limit", "charge_control_limit", 1e6),
    ("charge_control_limit_max", "charge_control_limit_max", 1e6),
    ("charge_counter", "charge_counter", 1e6),
    ("charge_empty", "charge_empty", 1e6),
    ("charge_empty_design", "charge_empty_design", 1e6),
    ("charge_full", "charge_full", 1e6),
    ("charge_full_design", "charge_full_design", 1e6),
    ("charge_now", "charge_ampere", 1e6),
    ("charge_term_current", "charge_term_current", 1e6),
    ("constant_charge_current", "constant_charge_current", 1e6),
    (
        "constant_charge_current_max",
        "constant_charge_current_max",
        1e6,
    ),
    ("constant_charge_voltage", "constant_charge_voltage", 1e6),
    (
        "constant_charge_voltage_max",
        "constant_charge_voltage_max",
        1e6,
    ),
    ("precharge_current", "precharge_current", 1e6),
    ("input_current_limit", "input_current_limit", 1e6),
    ("power_now", "power_watt", 1e6),
    ("temp", "temp_celsius", 10.0),
    ("temp_alert_max", "temp_alert_max_celsius", 10.0),
    ("temp_alert_min", "temp_alert_min_celsius", 10.0),
    ("temp_ambient", "temp_ambient_celsius", 10.0),
    ("temp_ambient_max", "temp_ambient_max_celsius", 10.0),
    ("temp_ambient_min", "temp_ambient_min_celsius", 10.0),
    ("temp_max", "temp_max_celsius", 10.0),
    ("temp_min", "temp_min_celsius", 10.0),
];

/// Text attributes that label `node_power_supply_info`, sorted (they are also the label names).
pub const TEXTS: [&str; 11] = [
    "capacity_level",
    "charge_type",
    "health",
    "manufacturer",
    "model_name",
    "scope",
    "serial_number",
    "status",
    "technology",
    "type",
    "usb_type",
];

/// One supply's attributes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PowerSupply {
    /// Values of [`NUMBERS`], `None` where the attribute is absent.
    pub numbers: Vec<Option<i64>>,
    /// Values of [`TEXTS`], empty where absent.
    pub texts: [String; 11],
}

/// Builds a supply from its attributes (file name, trimmed value); attributes this collector does
/// not know are ignored. The error names the attribute whose number does not parse.
pub fn parse_supply<'a>(
    attributes: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<PowerSupply, String> {
    let mut ps = PowerSupply {
        numbers: vec![None; NUMBERS.len()],
        ..PowerSupply::default()
    };
    for (file, value) in attributes {
        if let Some(i) = NUMBERS.iter().position(|(f, _, _)| *f == file) {
            ps.numbers[i] = Some(
                parse_int(value)
                    .ok_or_else(|| format!("{file}: expected an integer, found {value:?}"))?,
            );
        } else if let Some(i) = TEXTS.iter().position(|f| *f == file) {
            ps.texts[i] = value.to_string();
        }
    }
    Ok(ps)
}

/// Whether a read error means "the driver cannot tell this attribute now" (skipped) rather than a
/// failure.
fn unavailable(e: &std::io::Error) -> bool {
    e.kind() == ErrorKind::NotFound
        || [rustix::io::Errno::NODATA, rustix::io::Errno::INVAL]
            .iter()
            .any(|errno| e.raw_os_error() == Some(errno.raw_os_error()))
}

/// Reads the supply directory `path`.
pub fn read_supply(path: &Path) -> Result<PowerSupply, CollectError> {
    let dir = AttrDir::open(path);
    let mut values: Vec<(String, String)> = Vec::new();
    for entry in sorted_dir_entries(path)? {
        if !entry.file_type().is_ok_and(|t| t.is_file()) {
            continue;
        }
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        if !NUMBERS.iter().any(|(f, _, _)| *f == name) && !TEXTS.contains(&name.as_str()) {
            continue;
        }
        match dir.read(&name) {
            Ok(bytes) => {
                let value = crate::collector::dmi::valid_utf8(&bytes).trim().to_string();
                values.push((name, value));
            }
            Err(e) if unavailable(&e) => continue,
            Err(e) => return Err(CollectError::io(path.join(&name), e)),
        }
    }
    parse_supply(values.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .map_err(|message| CollectError::parse(path, message))
}

impl Collector for PowerSupplyCollector {
    fn collect(&self, out: &mut MetricSet) -> Result<(), CollectError> {
        let class = self.roots.sys("class/power_supply");
        let Some(entries) = sorted_dir_entries_if_present(&class)? else {
            return Ok(());
        };
        let mut first_error = None;
        for entry in entries {
            let name = entry.file_name().to_string_lossy().into_owned();
            if self.ignored.ignored(&name) {
                continue;
            }
            let ps = match read_supply(&entry.path()) {
                Ok(ps) => ps,
                Err(e) => {
                    first_error.get_or_insert(e);
                    continue;
                }
            };
            for (value, (_, metric, divisor)) in ps.numbers.iter().zip(NUMBERS) {
                if let Some(v) = value {
                    out.gauge(
                        &format!("node_power_supply_{metric}"),
                        &format!("{metric} value of /sys/class/power_supply/<power_supply>."),
                    )
                    .sample(&[("power_supply", &name)], *v as f64 / divisor);
                }
            }
            let mut labels: Vec<(&'static str, &str)> = vec![("power_supply", &name)];
            for (label, value) in TEXTS.iter().zip(&ps.texts) {
                if !value.is_empty() {
                    labels.push((label, value));
                }
            }
            labels.sort_by_key(|(k, _)| *k);
            out.gauge(
                "node_power_supply_info",
                "info of /sys/class/power_supply/<power_supply>.",
            )
            .sample(&labels, 1.0);
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
        let r = PowerSupplyCollector {
            roots: fixture_roots(machine),
            ignored: DeviceFilter::new(("i", None), ("e", Some(ignored))).unwrap(),
        }
        .collect(&mut out);
        (out, r)
    }

    fn value(out: &MetricSet, name: &str, supply: &str) -> Option<f64> {
        out.get(name)?
            .samples
            .iter()
            .find(|s| {
                s.labels
                    .iter()
                    .any(|(k, v)| k == "power_supply" && v == supply)
            })
            .map(|s| s.value)
    }

    #[test]
    fn laptop_battery_and_ac() {
        let (out, r) = collect("laptop", "^$");
        r.unwrap();
        assert_eq!(
            value(&out, "node_power_supply_capacity", "BAT0"),
            Some(87.0)
        );
        assert_eq!(
            value(&out, "node_power_supply_voltage_volt", "BAT0"),
            Some(12.873)
        );
        assert_eq!(
            value(&out, "node_power_supply_charge_ampere", "BAT0"),
            Some(3.838)
        );
        assert_eq!(
            value(&out, "node_power_supply_cyclecount", "BAT0"),
            Some(214.0)
        );
        assert_eq!(value(&out, "node_power_supply_online", "AC"), Some(0.0));
        let info = out.get("node_power_supply_info").unwrap();
        assert_eq!(info.samples.len(), 2);
        let bat = info
            .samples
            .iter()
            .find(|s| s.labels.iter().any(|(_, v)| v == "BAT0"))
            .unwrap();
        assert!(bat
            .labels
            .iter()
            .any(|(k, v)| k == "serial_number" && v == "738"));
        assert!(bat
            .labels
            .iter()
            .any(|(k, v)| k == "status" && v == "Discharging"));
        assert!(!bat.labels.iter().any(|(k, _)| k == "health"));
    }

    #[test]
    fn ignored_supplies_are_dropped() {
        let (out, r) = collect("laptop", "^BAT");
        r.unwrap();
        assert_eq!(out.get("node_power_supply_info").unwrap().samples.len(), 1);
        assert!(out.get("node_power_supply_capacity").is_none());
    }

    #[test]
    fn server_and_vm_have_none() {
        for machine in ["server", "vm"] {
            let (out, r) = collect(machine, "^$");
            r.unwrap();
            assert_eq!(out.sample_count(), 0, "{machine}");
        }
    }

    #[test]
    fn broken_battery_fails_alone() {
        let (out, r) = collect("broken", "^$");
        let err = r.unwrap_err().to_string();
        assert!(err.contains("BAT1") && err.contains("capacity"), "{err}");
        assert_eq!(value(&out, "node_power_supply_online", "ADP1"), Some(1.0));
        assert!(value(&out, "node_power_supply_info", "BAT1").is_none());
    }

    #[test]
    fn parses_numbers_as_go() {
        let ps = parse_supply([("temp", "-45"), ("capacity", "0x10"), ("status", "Full")]).unwrap();
        let temp = NUMBERS.iter().position(|(f, _, _)| *f == "temp").unwrap();
        assert_eq!(ps.numbers[temp], Some(-45));
        assert_eq!(ps.texts[7], "Full");
        assert!(parse_supply([("capacity", "full")]).is_err());
        assert!(parse_supply([("uevent", "POWER_SUPPLY_NAME=AC")]).is_ok());
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_text_never_panics(file in "[a-z_]{0,30}", value in "\\PC{0,30}") {
            let _ = parse_supply([(file.as_str(), value.as_str())]);
        }

        #[test]
        fn generated_numbers_parse_back(i in 0usize..49, v in any::<i64>()) {
            let text = v.to_string();
            let ps = parse_supply([(NUMBERS[i].0, text.as_str())]).unwrap();
            prop_assert_eq!(ps.numbers[i], Some(v));
        }
    }
}
