//! `hwmon`: temperatures, fans, voltages, currents and power from /sys/class/hwmon.
//!
//! Follows node_exporter's `hwmon_linux.go` rule for rule, so that the same sysfs tree gives the
//! same series: every attribute file named `<type><n>_<property>` (Documentation/hwmon/sysfs-interface.rst)
//! of a known sensor type is read, from the chip's directory and from its `device` directory
//! (older drivers put their attributes on the parent device), and turned into
//! `node_hwmon_<type>[_<property>]<unit suffix>{chip,sensor}` with the value scaled to base units.
//!
//! The `chip` label is node_exporter 1.12's: the parent device as `<its parent dir>_<its dir>`
//! (`platform_coretemp_0`, `nvme_nvme0`, `ieee80211_phy0` for a Wi-Fi card, `thermal_thermal_zone0`),
//! else the driver's `name`, else `hwmonN`; chips that share a parent device get a suffix
//! (`sysfs::disambiguate`). `node_hwmon_chip_names` maps each label to the driver's name.
//!
//! Hand-parsed: procfs-core only covers /proc, and the naming rules are node_exporter's own.
//!
//! Reading a sensor fails routinely on real hardware (EIO or ENODATA from a sleeping disk or an
//! unplugged probe, EAGAIN from a busy bus) and some attributes hold text (the ACPI power meter's
//! `power1_model_number`, its `power1_accuracy` of "95.0%"). node_exporter skips such values
//! silently, and so does this collector: only an unreadable chip directory is a failure.

pub mod sysfs;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use self::sysfs::{clean_metric_name, collect_sensor_files, disambiguate, ChipNaming};
use super::filter::DeviceFilter;
use super::kept_open::TemperatureFiles;
use super::{
    sorted_dir_entries_if_present, BuildContext, CollectError, Collector, Registration, Roots,
};
use crate::anomaly::signals::Readings;
use crate::metrics::{MetricSet, MetricType};

pub const REGISTRATION: Registration = Registration {
    name: "hwmon",
    default_enabled: true,
    help: "temperatures, fans, voltages, currents and power from /sys/class/hwmon",
    flags: <Args as clap::Args>::augment_args,
    // The anomaly rules' temperatures are read every sample by `signals`.
    cadence: super::Cadence::Slow,
    isolation: super::Isolation::Thread,
    build,
};

/// Flags of the `hwmon` collector.
#[derive(Debug, Clone, clap::Args)]
#[group(id = "hwmon_flags")]
#[command(next_help_heading = "Collector hwmon")]
pub struct Args {
    /// Regexp of hwmon chips to include, matched against the `chip` label as exported (e.g.
    /// platform_coretemp_0, ieee80211_phy0).
    #[arg(long = "collector.hwmon.chip-include", value_name = "REGEX")]
    pub chip_include: Option<String>,
    /// Regexp of hwmon chips to exclude, matched against the `chip` label as exported.
    #[arg(long = "collector.hwmon.chip-exclude", value_name = "REGEX")]
    pub chip_exclude: Option<String>,
    /// Regexp of hwmon sensors to include, matched against "<chip>;<sensor>" (e.g. platform_coretemp_0;temp1).
    #[arg(long = "collector.hwmon.sensor-include", value_name = "REGEX")]
    pub sensor_include: Option<String>,
    /// Regexp of hwmon sensors to exclude, matched against "<chip>;<sensor>".
    #[arg(long = "collector.hwmon.sensor-exclude", value_name = "REGEX")]
    pub sensor_exclude: Option<String>,
}

fn build(ctx: &BuildContext) -> Result<Box<dyn Collector>, String> {
    let args: Args = ctx.args()?;
    Ok(Box::new(HwmonCollector {
        roots: ctx.roots.clone(),
        chips: DeviceFilter::new(
            (
                "--collector.hwmon.chip-include",
                args.chip_include.as_deref(),
            ),
            (
                "--collector.hwmon.chip-exclude",
                args.chip_exclude.as_deref(),
            ),
        )?,
        sensors: DeviceFilter::new(
            (
                "--collector.hwmon.sensor-include",
                args.sensor_include.as_deref(),
            ),
            (
                "--collector.hwmon.sensor-exclude",
                args.sensor_exclude.as_deref(),
            ),
        )?,
        temps: TemperatureFiles::default(),
    }))
}

pub struct HwmonCollector {
    roots: Roots,
    chips: DeviceFilter,
    sensors: DeviceFilter,
    /// The files behind the node_hwmon_temp_celsius series of the last full run.
    temps: TemperatureFiles,
}

impl Collector for HwmonCollector {
    fn collect(&self, out: &mut MetricSet) -> Result<(), CollectError> {
        let class = self.roots.sys("class/hwmon");
        // A kernel built without hwmon has no class directory: nothing to report. (node_exporter
        // returns its "no data" error here, which only logs at debug level.)
        let Some(entries) = sorted_dir_entries_if_present(&class)? else {
            return Ok(());
        };
        let mut out = Deduplicated::new(out);
        let mut last_error = None;
        // First every chip's naming, then the labels: whether a label needs a suffix depends on
        // the other chips (see `disambiguate`).
        let mut dirs = Vec::with_capacity(entries.len());
        let mut namings = Vec::with_capacity(entries.len());
        for entry in entries {
            let dir = entry.path();
            // Entries are symlinks to the device tree; follow them, skip dangling links and files.
            if !std::fs::metadata(&dir).is_ok_and(|m| m.is_dir()) {
                continue;
            }
            match ChipNaming::read(&dir) {
                Ok(naming) => {
                    dirs.push(dir);
                    namings.push(naming);
                }
                Err(e) => last_error = Some(e),
            }
        }
        let labels = disambiguate(&namings);
        let mut temps = Vec::new();
        for ((dir, naming), chip) in dirs.iter().zip(&namings).zip(&labels) {
            // The chip filter sees the label as exported, suffix included.
            if self.chips.ignored(chip) {
                continue;
            }
            let human = naming.human.as_deref();
            if let Err(e) = self.collect_chip(dir, chip, human, &mut out, &mut temps) {
                last_error = Some(e);
            }
        }
        self.temps.replace(temps);
        last_error.map_or(Ok(()), Err)
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

impl HwmonCollector {
    fn collect_chip(
        &self,
        dir: &Path,
        chip: &str,
        chip_name: Option<&str>,
        out: &mut Deduplicated,
        temps: &mut Vec<(String, PathBuf, Option<f64>)>,
    ) -> Result<(), CollectError> {
        let mut sensors = BTreeMap::new();
        collect_sensor_files(dir, &mut sensors)?;
        let device = dir.join("device");
        if device.exists() {
            collect_sensor_files(&device, &mut sensors)?;
        }

        if let Some(chip_name) = chip_name {
            out.add(
                "node_hwmon_chip_names",
                "Annotation metric for human-readable chip names",
                MetricType::Gauge,
                &[("chip", chip), ("chip_name", chip_name)],
                1.0,
            );
        }

        for (sensor, data) in &sensors {
            // The sensor filter sees "<chip>;<sensor>", so one sensor of one chip can be singled out.
            if self.sensors.ignored(&format!("{chip};{sensor}")) {
                continue;
            }
            if let Some(label) = data.props.get("label") {
                out.add(
                    "node_hwmon_sensor_label",
                    "Label for given chip and sensor",
                    MetricType::Gauge,
                    &[("chip", chip), ("label", label), ("sensor", sensor)],
                    1.0,
                );
            }
            if data.kind == "temp" {
                // node_hwmon_temp_celsius comes from the bare `temp<N>` file if the sensor has
                // one, else from `temp<N>_input` (see `sensor_metrics`).
                let file = data.files.get("").or_else(|| data.files.get("input"));
                if let Some(file) = file.cloned() {
                    let crit = data.props.get("crit").and_then(|v| parse_float(v));
                    temps.push((format!("{chip}/{sensor}"), file, crit.map(|c| c * 0.001)));
                }
            }
            for m in sensor_metrics(data.kind, &data.props) {
                let sensor = m.sensor.as_deref().unwrap_or(sensor.as_str());
                out.add(
                    &m.name,
                    &m.help,
                    m.kind,
                    &[("chip", chip), ("sensor", sensor)],
                    m.value,
                );
            }
        }
        Ok(())
    }
}

/// Go's strconv.ParseFloat(s, 64) for the values sysfs holds: no surrounding whitespace, and an
/// out-of-range number is an error rather than infinity.
fn parse_float(s: &str) -> Option<f64> {
    let v = s.parse::<f64>().ok()?;
    if v.is_infinite() && !s.to_ascii_lowercase().contains("inf") {
        return None;
    }
    Some(v)
}

/// One series derived from one sensor attribute.
#[derive(Debug, Clone, PartialEq)]
pub struct SensorMetric {
    pub name: String,
    pub help: String,
    pub kind: MetricType,
    /// Replaces the sensor label (only the `freq` rule does this, with the cleaned sensor label).
    pub sensor: Option<String>,
    pub value: f64,
}

/// node_exporter's naming and scaling rules for one sensor's attributes (`kind` is the sensor
/// type, `props` property -> content). Values that are not numbers are skipped.
pub fn sensor_metrics(kind: &str, props: &BTreeMap<String, String>) -> Vec<SensorMetric> {
    let metric = |name: String, help: String, kind: MetricType, value: f64| SensorMetric {
        name,
        help,
        kind,
        sensor: None,
        value,
    };
    let bare = props.get("").map(String::as_str);
    match kind {
        "beep_enable" => {
            let value = if bare == Some("1") { 1.0 } else { 0.0 };
            return vec![metric(
                "node_hwmon_beep_enabled".into(),
                "Hardware beep enabled".into(),
                MetricType::Gauge,
                value,
            )];
        }
        "vrm" => {
            return bare
                .and_then(parse_float)
                .map(|v| {
                    metric(
                        "node_hwmon_voltage_regulator_version".into(),
                        "Hardware voltage regulator".into(),
                        MetricType::Gauge,
                        v,
                    )
                })
                .into_iter()
                .collect();
        }
        "update_interval" => {
            return bare
                .and_then(parse_float)
                .map(|v| {
                    metric(
                        "node_hwmon_update_interval_seconds".into(),
                        "Hardware monitor update interval".into(),
                        MetricType::Gauge,
                        v * 0.001,
                    )
                })
                .into_iter()
                .collect();
        }
        _ => {}
    }

    let prefix = format!("node_hwmon_{kind}");
    let mut metrics = Vec::new();
    for (element, value) in props {
        let element = element.as_str();
        if element == "label" {
            continue;
        }
        // `<type><n>_input` is the reading itself and has no suffix, unless the sensor also has a
        // bare `<type><n>` file, which then takes the unsuffixed name.
        let name = match element {
            "input" if bare.is_some() => format!("{prefix}_input"),
            "input" | "" => prefix.clone(),
            _ => format!("{prefix}_{}", clean_metric_name(element.as_bytes())),
        };
        let Some(v) = parse_float(value) else {
            continue;
        };
        let gauge = |name: String, help: String, v: f64| metric(name, help, MetricType::Gauge, v);
        // Status flags carry no unit. (`crit_alarm` and friends are not "alarm" and fall through to
        // the unit rules below, exactly as in node_exporter: node_hwmon_temp_crit_alarm_celsius.)
        let m = if element == "fault" || element == "alarm" {
            gauge(
                name,
                format!("Hardware sensor {element} status ({kind})"),
                v,
            )
        } else if element == "beep" {
            gauge(
                format!("{name}_enabled"),
                "Hardware monitor sensor has beeping enabled".into(),
                v,
            )
        } else if kind == "in" || kind == "cpu" {
            gauge(
                format!("{name}_volts"),
                format!("Hardware monitor for voltage ({element})"),
                v * 0.001,
            )
        } else if kind == "temp" && element != "type" {
            let element = if element.is_empty() { "input" } else { element };
            gauge(
                format!("{name}_celsius"),
                format!("Hardware monitor for temperature ({element})"),
                v * 0.001,
            )
        } else if kind == "curr" {
            gauge(
                format!("{name}_amps"),
                format!("Hardware monitor for current ({element})"),
                v * 0.001,
            )
        } else if kind == "energy" {
            metric(
                format!("{name}_joule_total"),
                format!("Hardware monitor for joules used so far ({element})"),
                MetricType::Counter,
                v / 1_000_000.0,
            )
        } else if kind == "power" && element == "accuracy" {
            gauge(
                name,
                "Hardware monitor power meter accuracy, as a ratio".into(),
                v / 1_000_000.0,
            )
        } else if kind == "power"
            && matches!(
                element,
                "average_interval" | "average_interval_min" | "average_interval_max"
            )
        {
            gauge(
                format!("{name}_seconds"),
                format!("Hardware monitor power usage update interval ({element})"),
                v * 0.001,
            )
        } else if kind == "power" {
            gauge(
                format!("{name}_watt"),
                format!("Hardware monitor for power usage in watts ({element})"),
                v / 1_000_000.0,
            )
        } else if kind == "humidity" {
            // node_exporter divides the milli-percent by 1e6; kept for identical values.
            gauge(
                name,
                format!(
                    "Hardware monitor for humidity, as a ratio (multiply with 100.0 to get the humidity as a percentage) ({element})"
                ),
                v / 1_000_000.0,
            )
        } else if kind == "fan" && matches!(element, "input" | "min" | "max" | "target") {
            gauge(
                format!("{name}_rpm"),
                format!("Hardware monitor for fan revolutions per minute ({element})"),
                v,
            )
        } else if kind == "freq" && element == "input" {
            // GPU clocks (amdgpu's freq1_input "sclk"): in MHz, and named by their cleaned label
            // instead of the sensor; without a label, node_exporter exports nothing.
            match props.get("label") {
                Some(label) => SensorMetric {
                    sensor: Some(clean_metric_name(label.as_bytes())),
                    ..gauge(
                        format!("{name}_freq_mhz"),
                        "Hardware monitor for GPU frequency in MHz".into(),
                        v / 1_000_000.0,
                    )
                },
                None => continue,
            }
        } else {
            gauge(
                name,
                format!("Hardware monitor {kind} element {element}"),
                v,
            )
        };
        metrics.push(m);
    }
    metrics
}

/// Adds samples, dropping any repeat of a series already added. Chips sharing a parent device get
/// distinct labels (`sysfs::disambiguate`), but a suffixed label can still equal another chip's
/// label (a chip named `platform_x_y` next to two `platform_x` chips, one named `y`); node_exporter's
/// registry then keeps the first series and drops the rest, and a repeated series would make the
/// exposition invalid.
struct Deduplicated<'a> {
    out: &'a mut MetricSet,
    seen: HashSet<(String, Vec<String>)>,
}

impl<'a> Deduplicated<'a> {
    fn new(out: &'a mut MetricSet) -> Self {
        Deduplicated {
            out,
            seen: HashSet::new(),
        }
    }

    fn add(
        &mut self,
        name: &str,
        help: &str,
        kind: MetricType,
        labels: &[(&'static str, &str)],
        value: f64,
    ) {
        let key = (
            name.to_string(),
            labels.iter().map(|(_, v)| v.to_string()).collect(),
        );
        if self.seen.insert(key) {
            self.out.family(name, help, kind).sample(labels, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::fixture_roots;
    #[test]
    fn parses_floats_like_go() {
        assert_eq!(parse_float("48000"), Some(48000.0));
        assert_eq!(parse_float("-62000"), Some(-62000.0));
        assert_eq!(parse_float("1e400"), None);
        assert_eq!(parse_float(""), None);
        assert_eq!(parse_float(" 1"), None);
        assert_eq!(parse_float("95.0%"), None);
    }

    fn props(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn named(metrics: &[SensorMetric]) -> Vec<(&str, f64)> {
        metrics.iter().map(|m| (m.name.as_str(), m.value)).collect()
    }

    #[test]
    fn temperature_rules() {
        let m = sensor_metrics(
            "temp",
            &props(&[
                ("input", "52000"),
                ("max", "100000"),
                ("crit", "100000"),
                ("crit_alarm", "1"),
                ("alarm", "0"),
                ("type", "4"),
                ("label", "Package id 0"),
                ("min", "garbage"),
            ]),
        );
        assert_eq!(
            named(&m),
            vec![
                ("node_hwmon_temp_alarm", 0.0),
                ("node_hwmon_temp_crit_celsius", 100.0),
                ("node_hwmon_temp_crit_alarm_celsius", 0.001),
                ("node_hwmon_temp_celsius", 52.0),
                ("node_hwmon_temp_max_celsius", 100.0),
                ("node_hwmon_temp_type", 4.0),
            ]
        );
        assert!(m
            .iter()
            .all(|m| m.kind == MetricType::Gauge && m.sensor.is_none()));
        // A bare `temp1` file takes the plain name and pushes input to `_input`.
        let m = sensor_metrics("temp", &props(&[("", "27000"), ("input", "28000")]));
        assert_eq!(
            named(&m),
            vec![
                ("node_hwmon_temp_celsius", 27.0),
                ("node_hwmon_temp_input_celsius", 28.0)
            ]
        );
        assert_eq!(m[0].help, "Hardware monitor for temperature (input)");
    }

    #[test]
    fn fan_voltage_current_power_energy_rules() {
        let fan = sensor_metrics(
            "fan",
            &props(&[
                ("input", "1125"),
                ("min", "300"),
                ("pulses", "2"),
                ("beep", "0"),
                ("alarm", "1"),
            ]),
        );
        assert_eq!(
            named(&fan),
            vec![
                ("node_hwmon_fan_alarm", 1.0),
                ("node_hwmon_fan_beep_enabled", 0.0),
                ("node_hwmon_fan_rpm", 1125.0),
                ("node_hwmon_fan_min_rpm", 300.0),
                ("node_hwmon_fan_pulses", 2.0),
            ]
        );
        let volts = sensor_metrics("in", &props(&[("input", "12873"), ("min", "")]));
        // Same arithmetic as node_exporter (value * 0.001), so the same float.
        assert_eq!(
            named(&volts),
            vec![("node_hwmon_in_volts", 12873.0 * 0.001)]
        );
        let vid = sensor_metrics("cpu", &props(&[("vid", "1100")]));
        assert_eq!(named(&vid), vec![("node_hwmon_cpu_vid_volts", 1.1)]);
        let amps = sensor_metrics("curr", &props(&[("input", "1234")]));
        assert_eq!(named(&amps), vec![("node_hwmon_curr_amps", 1.234)]);
        let power = sensor_metrics(
            "power",
            &props(&[
                ("average", "187000000"),
                ("average_interval", "1000"),
                ("accuracy", "95.0%"),
                ("model_number", "PM-7"),
                ("is_battery", "0"),
            ]),
        );
        assert_eq!(
            named(&power),
            vec![
                ("node_hwmon_power_average_watt", 187.0),
                ("node_hwmon_power_average_interval_seconds", 1.0),
                ("node_hwmon_power_is_battery_watt", 0.0),
            ]
        );
        let accuracy = sensor_metrics("power", &props(&[("accuracy", "950000")]));
        assert_eq!(named(&accuracy), vec![("node_hwmon_power_accuracy", 0.95)]);
        let energy = sensor_metrics("energy", &props(&[("input", "2500000")]));
        assert_eq!(named(&energy), vec![("node_hwmon_energy_joule_total", 2.5)]);
        assert_eq!(energy[0].kind, MetricType::Counter);
        let pwm = sensor_metrics("pwm", &props(&[("", "153"), ("enable", "5")]));
        assert_eq!(
            named(&pwm),
            vec![("node_hwmon_pwm", 153.0), ("node_hwmon_pwm_enable", 5.0)]
        );
        let intrusion = sensor_metrics("intrusion", &props(&[("alarm", "1")]));
        assert_eq!(named(&intrusion), vec![("node_hwmon_intrusion_alarm", 1.0)]);
    }

    #[test]
    fn special_sensor_types() {
        assert_eq!(
            named(&sensor_metrics("beep_enable", &props(&[("", "1")]))),
            vec![("node_hwmon_beep_enabled", 1.0)]
        );
        assert_eq!(
            named(&sensor_metrics("beep_enable", &props(&[("", "yes")]))),
            vec![("node_hwmon_beep_enabled", 0.0)]
        );
        assert_eq!(
            named(&sensor_metrics("vrm", &props(&[("", "100")]))),
            vec![("node_hwmon_voltage_regulator_version", 100.0)]
        );
        assert!(sensor_metrics("vrm", &props(&[("", "x")])).is_empty());
        assert_eq!(
            named(&sensor_metrics("update_interval", &props(&[("", "2000")]))),
            vec![("node_hwmon_update_interval_seconds", 2.0)]
        );
        let freq = sensor_metrics(
            "freq",
            &props(&[("input", "1800000000"), ("label", "sclk")]),
        );
        assert_eq!(named(&freq), vec![("node_hwmon_freq_freq_mhz", 1800.0)]);
        assert_eq!(freq[0].sensor.as_deref(), Some("sclk"));
        assert!(sensor_metrics("freq", &props(&[("input", "1800000000")])).is_empty());
    }

    #[test]
    fn filter_include_exclude() {
        let f = DeviceFilter::new(("i", Some("coretemp")), ("e", Some("_1$"))).unwrap();
        assert!(!f.ignored("platform_coretemp_0"));
        assert!(f.ignored("platform_coretemp_1"));
        assert!(f.ignored("nvme_nvme0"));
        let none = DeviceFilter::new(("i", Some("")), ("e", None)).unwrap();
        assert!(!none.ignored("anything"));
        let err = DeviceFilter::new(("--collector.hwmon.chip-include", Some("(")), ("e", None))
            .unwrap_err();
        assert!(
            err.starts_with("--collector.hwmon.chip-include: invalid regular expression \"(\""),
            "{err}"
        );
    }

    fn collect(machine: &str, args: &[&str]) -> (MetricSet, Result<(), CollectError>) {
        let mut argv = vec!["sysmon-exporter"];
        argv.extend_from_slice(args);
        let cli = crate::cli::parse_from(argv);
        let roots = fixture_roots(machine);
        let collector = build(&BuildContext {
            roots: &roots,
            cli: &cli,
            settings: &Default::default(),
        })
        .unwrap();
        let mut out = MetricSet::new();
        let result = collector.collect(&mut out);
        (out, result)
    }

    /// The value of the sample of `name` with exactly these labels (in any order).
    fn value(set: &MetricSet, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        set.get(name)?
            .samples
            .iter()
            .find(|s| {
                s.labels.len() == labels.len()
                    && labels
                        .iter()
                        .all(|(lk, lv)| s.labels.iter().any(|(k, v)| k == lk && v == lv))
            })
            .map(|s| s.value)
    }

    #[test]
    fn bad_regex_is_a_build_error() {
        let cli = crate::cli::parse_from(["x", "--collector.hwmon.sensor-exclude", "temp[1"]);
        let roots = fixture_roots("laptop");
        let err = build(&BuildContext {
            roots: &roots,
            cli: &cli,
            settings: &Default::default(),
        })
        .err()
        .unwrap();
        assert!(err.contains("--collector.hwmon.sensor-exclude"), "{err}");
    }

    #[test]
    fn laptop_chips() {
        let (set, result) = collect("laptop", &[]);
        result.unwrap();
        let chip = |c: &str, s: &str| [("chip", c.to_string()), ("sensor", s.to_string())];
        let v = |name: &str, c: &str, s: &str| {
            let l = chip(c, s);
            value(&set, name, &[("chip", &l[0].1), ("sensor", &l[1].1)])
        };
        assert_eq!(
            v("node_hwmon_temp_celsius", "platform_coretemp_0", "temp1"),
            Some(52.0)
        );
        assert_eq!(
            v(
                "node_hwmon_temp_crit_alarm_celsius",
                "platform_coretemp_0",
                "temp1"
            ),
            Some(0.0)
        );
        assert_eq!(
            v("node_hwmon_temp_max_celsius", "nvme_nvme0", "temp1"),
            Some(84850.0 * 0.001)
        );
        assert_eq!(
            v("node_hwmon_temp_celsius", "thermal_thermal_zone0", "temp1"),
            Some(48.0)
        );
        // The thermal zone's own `temp` file, read through `device/`, is node_exporter's temp0.
        assert_eq!(
            v("node_hwmon_temp_celsius", "thermal_thermal_zone0", "temp0"),
            Some(48.0)
        );
        assert_eq!(
            v("node_hwmon_fan_rpm", "platform_thinkpad_hwmon", "fan1"),
            Some(2893.0)
        );
        assert_eq!(
            v("node_hwmon_in_volts", "power_supply_bat0", "in0"),
            Some(12873.0 * 0.001)
        );
        assert_eq!(
            value(
                &set,
                "node_hwmon_sensor_label",
                &[
                    ("chip", "platform_coretemp_0"),
                    ("sensor", "temp1"),
                    ("label", "Package id 0")
                ]
            ),
            Some(1.0)
        );
        assert_eq!(
            value(
                &set,
                "node_hwmon_chip_names",
                &[("chip", "nvme_nvme0"), ("chip_name", "nvme")]
            ),
            Some(1.0)
        );
    }

    #[test]
    fn wifi_chip_is_named_after_its_phy() {
        let (set, result) = collect("laptop", &[]);
        result.unwrap();
        assert_eq!(
            value(
                &set,
                "node_hwmon_temp_celsius",
                &[("chip", "ieee80211_phy0"), ("sensor", "temp1")]
            ),
            Some(41.0)
        );
        assert_eq!(
            value(
                &set,
                "node_hwmon_chip_names",
                &[("chip", "ieee80211_phy0"), ("chip_name", "iwlwifi_1")]
            ),
            Some(1.0)
        );
    }

    /// A sysfs tree where `asus-nb-wmi` has two hwmon devices and a Wi-Fi phy three (two of
    /// them with the same name), next to a chip of its own.
    fn colliding_tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let sys = dir.path().join("sys");
        let class = sys.join("class/hwmon");
        std::fs::create_dir_all(&class).unwrap();
        let chips: [(&str, &str, &str, &str); 6] = [
            (
                "hwmon0",
                "platform/coretemp.0/hwmon",
                "../../../coretemp.0",
                "coretemp",
            ),
            (
                "hwmon1",
                "platform/asus-nb-wmi/hwmon",
                "../../../asus-nb-wmi",
                "asus",
            ),
            (
                "hwmon2",
                "platform/asus-nb-wmi/hwmon",
                "../../../asus-nb-wmi",
                "asus_custom_fan_curve",
            ),
            (
                "hwmon3",
                "pci0000:00/0000:00:1c.0/0000:02:00.0/ieee80211/phy0",
                "../../phy0",
                "mt7921_phy0",
            ),
            (
                "hwmon4",
                "pci0000:00/0000:00:1c.0/0000:02:00.0/ieee80211/phy0",
                "../../phy0",
                "mt7921_phy0",
            ),
            (
                "hwmon5",
                "pci0000:00/0000:00:1c.0/0000:02:00.0/ieee80211/phy0",
                "../../phy0",
                "mt7921_band2",
            ),
        ];
        for (i, (hwmon, parent, device, name)) in chips.iter().enumerate() {
            let real = sys.join("devices").join(parent).join(hwmon);
            std::fs::create_dir_all(&real).unwrap();
            std::os::unix::fs::symlink(device, real.join("device")).unwrap();
            std::fs::write(real.join("name"), format!("{name}\n")).unwrap();
            std::fs::write(real.join("temp1_input"), format!("{}000\n", 40 + i)).unwrap();
            // Both asus hwmon devices have pwm1_enable: the series that collided in 1.11.
            std::fs::write(real.join("pwm1_enable"), "2\n").unwrap();
            std::os::unix::fs::symlink(&real, class.join(hwmon)).unwrap();
        }
        dir
    }

    fn collect_at(base: &Path, args: &[&str]) -> MetricSet {
        let mut argv = vec!["sysmon-exporter"];
        argv.extend_from_slice(args);
        let cli = crate::cli::parse_from(argv);
        let roots = Roots {
            procfs: base.join("proc"),
            sysfs: base.join("sys"),
            rootfs: base.to_path_buf(),
        };
        let collector = build(&BuildContext {
            roots: &roots,
            cli: &cli,
            settings: &Default::default(),
        })
        .unwrap();
        let mut out = MetricSet::new();
        collector.collect(&mut out).unwrap();
        out
    }

    #[test]
    fn chips_sharing_a_parent_device_get_distinct_labels() {
        let tree = colliding_tree();
        let set = collect_at(tree.path(), &[]);
        let chip_names: Vec<(String, String)> = set
            .get("node_hwmon_chip_names")
            .unwrap()
            .samples
            .iter()
            .map(|s| (s.labels[0].1.to_string(), s.labels[1].1.to_string()))
            .collect();
        let pair = |c: &str, n: &str| (c.to_string(), n.to_string());
        assert_eq!(
            chip_names,
            [
                pair("platform_coretemp_0", "coretemp"),
                pair("platform_asus_nb_wmi_asus", "asus"),
                pair(
                    "platform_asus_nb_wmi_asus_custom_fan_curve",
                    "asus_custom_fan_curve"
                ),
                pair("ieee80211_phy0_hwmon3", "mt7921_phy0"),
                pair("ieee80211_phy0_hwmon4", "mt7921_phy0"),
                pair("ieee80211_phy0_mt7921_band2", "mt7921_band2"),
            ]
        );
        // Every chip's readings are there, none dropped as a repeat.
        assert_eq!(set.get("node_hwmon_temp_celsius").unwrap().samples.len(), 6);
        assert_eq!(set.get("node_hwmon_pwm_enable").unwrap().samples.len(), 6);
        assert_eq!(
            value(
                &set,
                "node_hwmon_temp_celsius",
                &[("chip", "ieee80211_phy0_hwmon4"), ("sensor", "temp1")]
            ),
            Some(44.0)
        );

        // The filters match the label as exported, suffix included.
        let set = collect_at(
            tree.path(),
            &[
                "--collector.hwmon.chip-include",
                "^platform_asus_nb_wmi_asus$|^ieee80211_phy0_",
                "--collector.hwmon.sensor-exclude",
                "^ieee80211_phy0_hwmon3;",
            ],
        );
        let chips: Vec<&str> = set
            .get("node_hwmon_temp_celsius")
            .unwrap()
            .samples
            .iter()
            .map(|s| s.labels[0].1.as_ref())
            .collect();
        assert_eq!(
            chips,
            [
                "platform_asus_nb_wmi_asus",
                "ieee80211_phy0_hwmon4",
                "ieee80211_phy0_mt7921_band2"
            ]
        );
    }

    #[test]
    fn chip_and_sensor_filters() {
        let (set, result) = collect(
            "laptop",
            &[
                "--collector.hwmon.chip-exclude",
                "^nvme",
                "--collector.hwmon.sensor-include",
                "coretemp_0;temp[12]$|nvme",
            ],
        );
        result.unwrap();
        let temps = &set.get("node_hwmon_temp_celsius").unwrap().samples;
        let sensors: Vec<_> = temps
            .iter()
            .map(|s| (s.labels[0].1.as_str(), s.labels[1].1.as_str()))
            .collect();
        assert_eq!(
            sensors,
            vec![
                ("platform_coretemp_0", "temp1"),
                ("platform_coretemp_0", "temp2")
            ]
        );
        // The chip itself is still announced when only its sensors are filtered.
        assert!(value(
            &set,
            "node_hwmon_chip_names",
            &[("chip", "platform_coretemp_0"), ("chip_name", "coretemp")]
        )
        .is_some());
        assert!(value(
            &set,
            "node_hwmon_chip_names",
            &[("chip", "nvme_nvme0"), ("chip_name", "nvme")]
        )
        .is_none());
    }

    #[test]
    fn machines_without_sensors_succeed_empty() {
        let (set, result) = collect("vm", &[]);
        result.unwrap();
        assert_eq!(set.sample_count(), 0);
        let mut roots = fixture_roots("vm");
        roots.sysfs = roots.sysfs.join("no-such-dir");
        let cli = crate::cli::parse_from(["x"]);
        let collector = build(&BuildContext {
            roots: &roots,
            cli: &cli,
            settings: &Default::default(),
        })
        .unwrap();
        let mut out = MetricSet::new();
        collector.collect(&mut out).unwrap();
        assert_eq!(out.sample_count(), 0);
    }

    #[test]
    fn broken_machine_skips_bad_values() {
        let (set, result) = collect("broken", &[]);
        result.unwrap();
        let v = |name: &str, c: &str, s: &str| value(&set, name, &[("chip", c), ("sensor", s)]);
        // Garbage and empty readings are left out, the absurd one is exported as read.
        assert_eq!(
            v("node_hwmon_temp_celsius", "platform_coretemp_0", "temp1"),
            None
        );
        assert_eq!(
            v("node_hwmon_temp_celsius", "platform_coretemp_0", "temp2"),
            Some(2147483.647)
        );
        assert_eq!(
            v("node_hwmon_temp_celsius", "platform_coretemp_0", "temp3"),
            None
        );
        // Their labels are still there.
        assert!(value(
            &set,
            "node_hwmon_sensor_label",
            &[
                ("chip", "platform_coretemp_0"),
                ("sensor", "temp1"),
                ("label", "Package id 0")
            ]
        )
        .is_some());
        // Invalid UTF-8 in a label is replaced, quotes kept for the encoder to escape.
        assert!(value(
            &set,
            "node_hwmon_sensor_label",
            &[
                ("chip", "platform_coretemp_0"),
                ("sensor", "temp4"),
                ("label", "Core \u{FFFD}\"2\"")
            ]
        )
        .is_some());
        // A chip without a name file is named after its device and has no chip_names series.
        assert_eq!(
            v("node_hwmon_in_volts", "platform_it87_2608", "in0"),
            Some(1.104)
        );
        assert_eq!(v("node_hwmon_fan_rpm", "platform_it87_2608", "fan1"), None);
        assert!(set
            .get("node_hwmon_chip_names")
            .unwrap()
            .samples
            .iter()
            .all(|s| s.labels[0].1 != "platform_it87_2608"));
        // Neither name nor device: the hwmonN directory name.
        assert_eq!(v("node_hwmon_temp_celsius", "hwmon2", "temp1"), Some(35.0));
    }
}
