//! `diskstats`: block device I/O statistics from `<procfs>/diskstats`, with node_exporter's
//! device description metrics from udev's database (`--path.udev.data`, default
//! `/run/udev/data`, file `b<major>:<minor>`)
//! and sysfs (`<sysfs>/block/<device>/queue/rotational`, `<sysfs>/block/<device>/slaves`).
//!
//! Names, units and labels follow node_exporter's `diskstats_linux.go`: sector counts become
//! bytes (the kernel counts 512-byte sectors whatever the device's sector size), millisecond
//! counters become seconds, and the discard and flush families appear only for devices whose
//! line carries those fields (kernels 4.18+ and 5.5+).

use std::collections::HashMap;
use std::path::PathBuf;

use super::filter::DeviceFilter;
use super::kept_open::KeptOpen;
use super::{
    read_string, sorted_dir_entries, BuildContext, CollectError, Collector, Registration, Roots,
};
use crate::anomaly::signals::Readings;
use crate::metrics::{MetricSet, MetricType};

pub const REGISTRATION: Registration = Registration {
    name: "diskstats",
    default_enabled: true,
    help: "block device I/O statistics from /proc/diskstats",
    flags: <Args as clap::Args>::augment_args,
    // The anomaly rules' disk throughput reading is taken every sample by `signals`.
    cadence: super::Cadence::Slow,
    isolation: super::Isolation::Inline,
    build,
};

pub const DEFAULT_DEVICE_EXCLUDE: &str = r"^(z?ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$";

/// Where udev keeps its device database unless `--path.udev.data` says otherwise.
pub const DEFAULT_UDEV_DATA: &str = "/run/udev/data";

/// Flags of the `diskstats` collector.
#[derive(Debug, Clone, clap::Args)]
#[group(id = "diskstats_flags")]
#[command(next_help_heading = "Collector diskstats")]
pub struct Args {
    /// Regexp of block devices to exclude [default: partitions, ram, zram, loop and floppy
    /// devices: ^(z?ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$]. Giving both a non-empty
    /// exclusion and a non-empty inclusion is an error.
    #[arg(
        long = "collector.diskstats.device-exclude",
        // `ignored-devices` is node_exporter's deprecated spelling, still parsed by 1.12.
        alias = "collector.diskstats.ignored-devices",
        value_name = "REGEX",
        id = "diskstats_device_exclude"
    )]
    pub device_exclude: Option<String>,
    /// Regexp of block devices to include (replaces the default exclusion).
    #[arg(
        long = "collector.diskstats.device-include",
        value_name = "REGEX",
        id = "diskstats_device_include"
    )]
    pub device_include: Option<String>,
    /// udev's device database, for node_disk_info's labels and the udev-derived disk metrics
    /// (read as given: not below --path.rootfs).
    #[arg(
        long = "path.udev.data",
        value_name = "DIR",
        id = "diskstats_udev_data",
        default_value = DEFAULT_UDEV_DATA
    )]
    pub udev_data: PathBuf,
}

/// The device filter from the two flags, as node_exporter 1.12 builds it: the exclusion defaults
/// to [`DEFAULT_DEVICE_EXCLUDE`] unless an inclusion is given, and only a non-empty exclusion
/// together with a non-empty inclusion is refused (an empty value means "not set").
pub fn device_filter(include: Option<&str>, exclude: Option<&str>) -> Result<DeviceFilter, String> {
    const INCLUDE: &str = "--collector.diskstats.device-include";
    const EXCLUDE: &str = "--collector.diskstats.device-exclude";
    let include = include.filter(|p| !p.is_empty());
    match (include, exclude) {
        (Some(_), Some(e)) if !e.is_empty() => {
            Err(format!("{EXCLUDE} and {INCLUDE} are mutually exclusive"))
        }
        (Some(_), _) => DeviceFilter::new((INCLUDE, include), (EXCLUDE, None)),
        (None, exclude) => DeviceFilter::new(
            (INCLUDE, None),
            (EXCLUDE, Some(exclude.unwrap_or(DEFAULT_DEVICE_EXCLUDE))),
        ),
    }
}

fn build(ctx: &BuildContext) -> Result<Box<dyn Collector>, String> {
    let args: Args = ctx.args()?;
    let filter = device_filter(
        args.device_include.as_deref(),
        args.device_exclude.as_deref(),
    )?;
    Ok(Box::new(DiskstatsCollector {
        roots: ctx.roots.clone(),
        filter,
        udev_data: args.udev_data,
        kept: KeptOpen::new(ctx.roots.proc("diskstats")),
    }))
}

pub struct DiskstatsCollector {
    roots: Roots,
    filter: DeviceFilter,
    udev_data: PathBuf,
    /// /proc/diskstats for the signal readings.
    kept: KeptOpen,
}

/// One line of /proc/diskstats.
#[derive(Debug, Clone, PartialEq)]
pub struct DiskStat {
    pub major: u32,
    pub minor: u32,
    pub name: String,
    /// The statistics after the name: 11 (before 4.18), 15 (4.18+, discards) or 17 (5.5+,
    /// flushes). Lines from newer kernels with even more fields are cut to 17.
    pub stats: Vec<u64>,
}

/// Parses one line of /proc/diskstats ("   8       0 sda 4120 1337 ...").
///
/// Hand-parsed rather than with procfs-core's `DiskStat::from_line`: that parser treats a
/// malformed discard or flush field as absent and keeps reading the following fields into the
/// wrong slots, and it does not tell how many fields the line had, which decides (as in
/// node_exporter) which metric families a device gets.
pub fn parse_line(line: &str) -> Result<DiskStat, String> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let stat_count = match fields.len() {
        14 | 18 => fields.len() - 3,
        n if n >= 20 => 17,
        n => return Err(format!("expected 14, 18 or 20 fields, found {n}")),
    };
    let number = |i: usize| -> Result<u64, String> {
        let field = fields.get(i).copied().unwrap_or("");
        field.parse::<u64>().map_err(|_| {
            format!(
                "field {}: expected an unsigned integer, found {field:?}",
                i + 1
            )
        })
    };
    let major = u32::try_from(number(0)?).map_err(|_| "major number out of range".to_string())?;
    let minor = u32::try_from(number(1)?).map_err(|_| "minor number out of range".to_string())?;
    let stats = (3..3 + stat_count)
        .map(number)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(DiskStat {
        major,
        minor,
        name: fields.get(2).copied().unwrap_or("").to_string(),
        stats,
    })
}

/// The per-device statistics in /proc/diskstats order (Documentation/admin-guide/iostats.rst):
/// metric name, help, type, and the factor from the kernel's unit to node_exporter's.
///
/// Milliseconds are multiplied by 0.001 rather than divided by 1000 because that is what
/// node_exporter computes, and the two can differ in the last bit of the float.
const STATS: [(&str, &str, MetricType, f64); 17] = [
    (
        "node_disk_reads_completed_total",
        "Reads completed successfully.",
        MetricType::Counter,
        1.0,
    ),
    (
        "node_disk_reads_merged_total",
        "Adjacent reads merged into one.",
        MetricType::Counter,
        1.0,
    ),
    (
        "node_disk_read_bytes_total",
        "Bytes read successfully.",
        MetricType::Counter,
        SECTOR_BYTES,
    ),
    (
        "node_disk_read_time_seconds_total",
        "Seconds spent by all reads.",
        MetricType::Counter,
        MS,
    ),
    (
        "node_disk_writes_completed_total",
        "Writes completed successfully.",
        MetricType::Counter,
        1.0,
    ),
    (
        "node_disk_writes_merged_total",
        "Adjacent writes merged into one.",
        MetricType::Counter,
        1.0,
    ),
    (
        "node_disk_written_bytes_total",
        "Bytes written successfully.",
        MetricType::Counter,
        SECTOR_BYTES,
    ),
    (
        "node_disk_write_time_seconds_total",
        "Seconds spent by all writes.",
        MetricType::Counter,
        MS,
    ),
    (
        "node_disk_io_now",
        "I/Os currently in progress.",
        MetricType::Gauge,
        1.0,
    ),
    (
        "node_disk_io_time_seconds_total",
        "Seconds the device spent doing I/Os.",
        MetricType::Counter,
        MS,
    ),
    (
        "node_disk_io_time_weighted_seconds_total",
        "Seconds spent doing I/Os, weighted by the number of I/Os in progress.",
        MetricType::Counter,
        MS,
    ),
    (
        "node_disk_discards_completed_total",
        "Discards completed successfully.",
        MetricType::Counter,
        1.0,
    ),
    (
        "node_disk_discards_merged_total",
        "Adjacent discards merged into one.",
        MetricType::Counter,
        1.0,
    ),
    (
        "node_disk_discarded_sectors_total",
        "Sectors discarded successfully.",
        MetricType::Counter,
        1.0,
    ),
    (
        "node_disk_discard_time_seconds_total",
        "Seconds spent by all discards.",
        MetricType::Counter,
        MS,
    ),
    (
        "node_disk_flush_requests_total",
        "Flush requests completed successfully.",
        MetricType::Counter,
        1.0,
    ),
    (
        "node_disk_flush_requests_time_seconds_total",
        "Seconds spent by all flush requests.",
        MetricType::Counter,
        MS,
    ),
];

/// The kernel counts "standard UNIX 512-byte sectors", whatever the device's sector size.
const SECTOR_BYTES: f64 = 512.0;
const MS: f64 = 0.001;

/// Parses a udev database file: the device properties are the `E:KEY=VALUE` lines (udevadm(8)).
pub fn parse_udev(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter_map(|line| line.strip_prefix("E:"))
        .filter_map(|prop| prop.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Go's strconv.ParseFloat for a udev property value: the text as it is (no blanks around it),
/// and a number too large for an f64 is an error rather than infinity.
pub fn parse_float(text: &str) -> Option<f64> {
    let value = text.parse::<f64>().ok()?;
    if value.is_infinite() && !text.to_ascii_lowercase().contains("inf") {
        return None;
    }
    Some(value)
}

/// node_disk_info's `rotational` label from the content of `queue/rotational`: "0" or "1", and
/// "0" for anything else or a missing file, as node_exporter does.
pub fn rotational_label(content: Option<&str>) -> &'static str {
    match content.map(str::trim) {
        Some("1") => "1",
        _ => "0",
    }
}

/// udev's ATA properties exported as gauges, in a fixed order.
const ATA_GAUGES: [(&str, &str, &str); 3] = [
    (
        "ID_ATA_WRITE_CACHE",
        "node_disk_ata_write_cache",
        "Whether the ATA disk has a write cache.",
    ),
    (
        "ID_ATA_WRITE_CACHE_ENABLED",
        "node_disk_ata_write_cache_enabled",
        "Whether the ATA disk's write cache is enabled.",
    ),
    (
        "ID_ATA_ROTATION_RATE_RPM",
        "node_disk_ata_rotation_rate_rpm",
        "Rotation rate of the ATA disk in RPM (0 for SSDs).",
    ),
];

impl DiskstatsCollector {
    /// The device's udev properties; none when udev's database is absent (a container without
    /// /run/udev, a system without udev) or has no entry for the device.
    fn udev_properties(&self, stat: &DiskStat) -> HashMap<String, String> {
        let path = self
            .udev_data
            .join(format!("b{}:{}", stat.major, stat.minor));
        match crate::collector::read_bytes(&path) {
            Ok(bytes) => parse_udev(&String::from_utf8_lossy(&bytes)),
            Err(_) => HashMap::new(),
        }
    }

    /// The I/O counters of one device.
    fn emit_counters(&self, stat: &DiskStat, out: &mut MetricSet) {
        for ((name, help, kind, factor), value) in STATS.iter().zip(&stat.stats) {
            // u64 to f64 may round above 2^53, as node_exporter's float64 conversion does.
            out.family(name, help, *kind)
                .sample(&[("device", &stat.name)], *value as f64 * factor);
        }
    }

    /// What describes one device: node_disk_info and the udev-derived series.
    fn emit_description(&self, stat: &DiskStat, out: &mut MetricSet) {
        let dev = stat.name.as_str();
        let udev = self.udev_properties(stat);
        let prop = |key: &str| udev.get(key).map(String::as_str).unwrap_or("");
        // The serial printed on the disk's label when udev knows it, else the short ATA/NVMe
        // serial, else the one virtio disks carry.
        let serial = [
            prop("SCSI_IDENT_SERIAL"),
            prop("ID_SERIAL_SHORT"),
            prop("ID_SERIAL"),
        ]
        .into_iter()
        .find(|s| !s.is_empty())
        .unwrap_or("");
        let block = self.roots.sys("block").join(dev);
        let rotational = crate::collector::read_text(block.join("queue/rotational")).ok();
        let (major, minor) = (stat.major.to_string(), stat.minor.to_string());

        out.gauge(
            "node_disk_info",
            "Information about the block device from sysfs and udev.",
        )
        .sample(
            &[
                ("device", dev),
                ("major", &major),
                ("minor", &minor),
                ("model", prop("ID_MODEL")),
                ("path", prop("ID_PATH")),
                ("revision", prop("ID_REVISION")),
                ("rotational", rotational_label(rotational.as_deref())),
                ("serial", serial),
                ("wwn", prop("ID_WWN")),
            ],
            1.0,
        );

        if !prop("ID_FS_TYPE").is_empty() {
            out.gauge(
                "node_disk_filesystem_info",
                "Filesystem on the block device, from udev.",
            )
            .sample(
                &[
                    ("device", dev),
                    ("type", prop("ID_FS_TYPE")),
                    ("usage", prop("ID_FS_USAGE")),
                    ("uuid", prop("ID_FS_UUID")),
                    ("version", prop("ID_FS_VERSION")),
                ],
                1.0,
            );
        }

        if !prop("DM_NAME").is_empty() {
            out.gauge(
                "node_disk_device_mapper_info",
                "Device mapper details of the block device, from udev.",
            )
            .sample(
                &[
                    ("device", dev),
                    ("lv_layer", prop("DM_LV_LAYER")),
                    ("lv_name", prop("DM_LV_NAME")),
                    ("name", prop("DM_NAME")),
                    ("uuid", prop("DM_UUID")),
                    ("vg_name", prop("DM_VG_NAME")),
                ],
                1.0,
            );
            // The devices under this mapping (a LUKS container's partition, an LV's PVs).
            // A device without a slaves directory simply has none to report.
            if let Ok(entries) = sorted_dir_entries(block.join("slaves")) {
                let family = out.gauge(
                    "node_disk_device_mapper_backing_device_info",
                    "Block devices underlying the device mapper device.",
                );
                for entry in entries {
                    let backing = entry.file_name().to_string_lossy().into_owned();
                    family.sample(&[("backing_device", &backing), ("device", dev)], 1.0);
                }
            }
        }

        if !prop("ID_ATA").is_empty() {
            for (key, name, help) in ATA_GAUGES {
                // node_exporter skips a property that is missing or not a number.
                if let Some(value) = udev.get(key).and_then(|v| parse_float(v)) {
                    out.gauge(name, help).sample(&[("device", dev)], value);
                }
            }
        }
    }
}

impl Collector for DiskstatsCollector {
    fn collect(&self, out: &mut MetricSet) -> Result<(), CollectError> {
        self.kept.reopen();
        let path = self.roots.proc("diskstats");
        let text = read_string(&path)?;
        // A malformed line is skipped and reported once all the good lines are published.
        let mut bad_lines = Vec::new();
        let mut devices = Vec::new();
        for (index, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match parse_line(line) {
                Ok(stat) if self.filter.ignored(&stat.name) => {}
                Ok(stat) => devices.push(stat),
                Err(message) => bad_lines.push(format!("line {}: {message}", index + 1)),
            }
        }
        for stat in &devices {
            self.emit_description(stat, out);
        }
        for stat in &devices {
            self.emit_counters(stat, out);
        }
        super::malformed_lines(&path, &bad_lines)
    }

    fn reads_signals(&self) -> bool {
        true
    }

    fn full_run_has_signals(&self) -> bool {
        true
    }

    fn signals(&self, readings: &mut Readings) -> Result<(), CollectError> {
        let (read, written) = self
            .kept
            .read(|text| bytes_read_and_written(text, &self.filter))?;
        readings.disk_read_bytes = Some(read);
        readings.disk_written_bytes = Some(written);
        Ok(())
    }
}

/// Bytes read and written over the devices the filter keeps, for the anomaly rules: the third
/// and seventh statistics (sectors, always of 512 bytes) of each line. Lines too short to have
/// them are skipped, as the full run reports them.
pub fn bytes_read_and_written(text: &str, filter: &DeviceFilter) -> (f64, f64) {
    let (mut read, mut written) = (0u64, 0u64);
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let Some(name) = fields.nth(2) else {
            continue;
        };
        let mut stats = fields.map(|f| f.parse::<u64>().ok());
        let (Some(Some(sectors_read)), Some(Some(sectors_written))) = (stats.nth(2), stats.nth(3))
        else {
            continue;
        };
        if filter.ignored(name) {
            continue;
        }
        read = read.saturating_add(sectors_read);
        written = written.saturating_add(sectors_written);
    }
    (read as f64 * 512.0, written as f64 * 512.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE_20: &str =
        " 259       0 nvme0n1 120448 3301 9470302 31652 391828 187645 22718442 402131 2 201740 435989 40812 5 91502264 1874 27451 2332";

    #[test]
    fn parses_each_kernel_variant() {
        let s = parse_line(LINE_20).unwrap();
        assert_eq!((s.major, s.minor, s.name.as_str()), (259, 0, "nvme0n1"));
        assert_eq!(s.stats.len(), 17);
        assert_eq!(s.stats[0], 120448);
        assert_eq!(s.stats[16], 2332);

        let s = parse_line("   8 16 sdb 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15").unwrap();
        assert_eq!(s.stats, (1..=15).collect::<Vec<u64>>());

        let s = parse_line("   8 0 sda 1 2 3 4 5 6 7 8 9 10 11").unwrap();
        assert_eq!(s.stats.len(), 11);

        // A future kernel's extra fields are ignored.
        let s = parse_line(&format!("{LINE_20} 77 78")).unwrap();
        assert_eq!(s.stats.len(), 17);
        assert_eq!(s.stats[16], 2332);
    }

    #[test]
    fn rejects_malformed_lines() {
        assert!(parse_line("8 0 sda 1 2").unwrap_err().contains("found 5"));
        // 16 fields is no kernel's format.
        assert!(parse_line("8 0 sda 1 2 3 4 5 6 7 8 9 10 11 12 13").is_err());
        let err = parse_line("8 0 sda 1 2 x 4 5 6 7 8 9 10 11").unwrap_err();
        assert!(err.contains("field 6") && err.contains("\"x\""), "{err}");
        assert!(parse_line("8 -1 sda 1 2 3 4 5 6 7 8 9 10 11").is_err());
        assert!(parse_line("4294967296 0 sda 1 2 3 4 5 6 7 8 9 10 11").is_err());
        assert!(parse_line("").is_err());
    }

    #[test]
    fn parses_udev_properties() {
        let text = "S:disk/by-id/nvme-X\nW:12\nE:ID_MODEL=Samsung SSD 980 PRO 1TB\nE:ID_PATH=pci-0000:3d:00.0-nvme-1\nE:BROKEN\nE:DM_UUID=a=b\nG:systemd\n";
        let props = parse_udev(text);
        assert_eq!(props.len(), 3);
        assert_eq!(props["ID_MODEL"], "Samsung SSD 980 PRO 1TB");
        assert_eq!(props["DM_UUID"], "a=b");
        assert!(!props.contains_key("BROKEN"));
    }

    #[test]
    fn rotational_is_zero_unless_one() {
        assert_eq!(rotational_label(Some("1\n")), "1");
        assert_eq!(rotational_label(Some("0\n")), "0");
        assert_eq!(rotational_label(Some("yes\n")), "0");
        assert_eq!(rotational_label(None), "0");
    }

    #[test]
    fn default_filter_excludes_partitions_and_virtual_devices() {
        let f = device_filter(None, None).unwrap();
        for ignored in [
            "nvme0n1p1",
            "sda1",
            "vdb2",
            "xvda1",
            "loop0",
            "ram3",
            "zram0",
            "fd0",
        ] {
            assert!(f.ignored(ignored), "{ignored}");
        }
        for kept in ["nvme0n1", "sda", "vda", "dm-0", "md127", "sr0", "mmcblk0"] {
            assert!(!f.ignored(kept), "{kept}");
        }
    }

    #[test]
    fn include_replaces_the_default_exclusion_and_empty_means_unset() {
        let f = device_filter(Some("^sd"), None).unwrap();
        assert!(!f.ignored("sda1"));
        assert!(f.ignored("nvme0n1"));
        // An empty exclusion keeps every device.
        let f = device_filter(None, Some("")).unwrap();
        assert!(!f.ignored("loop0"));
        // An empty inclusion is no inclusion: the default exclusion stays.
        let f = device_filter(Some(""), None).unwrap();
        assert!(f.ignored("loop0"));
        // node_exporter 1.12: only two non-empty values conflict.
        let f = device_filter(Some("^sd"), Some("")).unwrap();
        assert!(f.ignored("nvme0n1") && !f.ignored("sdb"));
        let f = device_filter(Some(""), Some("^sd")).unwrap();
        assert!(f.ignored("sdb") && !f.ignored("loop0"));
        let err = device_filter(Some("^sd"), Some("^loop")).unwrap_err();
        assert!(err.contains("mutually exclusive"), "{err}");
    }

    #[test]
    fn bad_regex_names_the_flag() {
        let err = device_filter(None, Some("([")).unwrap_err();
        assert!(
            err.starts_with("--collector.diskstats.device-exclude"),
            "{err}"
        );
        let err = device_filter(Some("(["), None).unwrap_err();
        assert!(
            err.starts_with("--collector.diskstats.device-include"),
            "{err}"
        );
    }

    /// Collects the server fixture with these flags.
    fn collect_server(args: &[&str]) -> MetricSet {
        let mut argv = vec!["sysmon-exporter".to_string()];
        argv.extend(args.iter().map(|a| a.to_string()));
        let cli = crate::cli::parse_from(argv);
        let roots = crate::collector::fixture_roots("server");
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

    /// The samples of `name` as "k=v,..." strings (labels in the order they were given).
    fn samples(set: &MetricSet, name: &str) -> Vec<String> {
        set.get(name)
            .map(|f| {
                f.samples
                    .iter()
                    .map(|s| {
                        let labels: Vec<String> =
                            s.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
                        format!("{} {}", labels.join(","), s.value)
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn udev_data_path_is_its_own_flag() {
        let cli = crate::cli::parse_from(["sysmon-exporter"]);
        let args: Args = BuildContext {
            roots: &crate::collector::fixture_roots("server"),
            cli: &cli,
            settings: &Default::default(),
        }
        .args()
        .unwrap();
        assert_eq!(args.udev_data, PathBuf::from(DEFAULT_UDEV_DATA));

        let udev = crate::collector::fixture_roots("server")
            .rootfs
            .join("run/udev/data");
        let set = collect_server(&[&format!("--path.udev.data={}", udev.display())]);
        let info = samples(&set, "node_disk_info");
        let sda = concat!(
            "device=sda,major=8,minor=0,model=SAMSUNG_MZ7L3960HCJR-00A07,",
            "path=pci-0000:00:17.0-ata-1.0,revision=JXTC104Q,rotational=0,",
            "serial=S662NE0T503112,wwn=0x5002538f4250a1b2 1"
        );
        assert!(info.contains(&sda.to_string()), "{info:#?}");
        assert!(samples(&set, "node_disk_ata_write_cache_enabled")
            .contains(&"device=sda 1".to_string()));
        assert!(
            samples(&set, "node_disk_ata_rotation_rate_rpm").contains(&"device=sda 0".to_string())
        );

        // The thin pool: its layer, the LVs it is made of, and what it backs.
        let dm = samples(&set, "node_disk_device_mapper_info");
        let tpool = concat!(
            "device=dm-7,lv_layer=tpool,lv_name=pool0,name=vg0-pool0-tpool,",
            "uuid=LVM-c3Rk9Lm2Qp7Wn4Xt8Yz1Bv6Hj0Fd5GshM3nB6vC9xZ2lK5jH8gF1dS4aP7oI0uY-tpool,",
            "vg_name=vg0 1"
        );
        assert!(dm.contains(&tpool.to_string()), "{dm:#?}");
        // The ten LVM maps and the multipath map mpatha (dm-10).
        assert_eq!(dm.len(), 11);
        let backing = samples(&set, "node_disk_device_mapper_backing_device_info");
        for pair in [
            ("dm-5", "md1"),
            ("dm-7", "dm-5"),
            ("dm-7", "dm-6"),
            ("dm-9", "dm-7"),
        ] {
            let line = format!("backing_device={},device={} 1", pair.1, pair.0);
            assert!(backing.contains(&line), "{line} in {backing:#?}");
        }
        assert!(samples(&set, "node_disk_filesystem_info").contains(
            &"device=dm-9,type=btrfs,usage=filesystem,uuid=7c2e5a91-4b3d-4f6e-9a1c-2d8b0e6f4a37,version= 1"
                .to_string()
        ));

        // Pointed elsewhere (no udev database there): the devices are still reported, without
        // udev's labels and metrics.
        let set = collect_server(&["--path.udev.data=/nonexistent/udev/data"]);
        assert!(samples(&set, "node_disk_info").contains(
            &"device=sda,major=8,minor=0,model=,path=,revision=,rotational=0,serial=,wwn= 1"
                .to_string()
        ));
        assert!(set.get("node_disk_device_mapper_info").is_none());
        assert!(set.get("node_disk_ata_rotation_rate_rpm").is_none());
        assert_eq!(
            set.get("node_disk_reads_completed_total")
                .unwrap()
                .samples
                .len(),
            samples(&collect_server(&[]), "node_disk_reads_completed_total").len()
        );
    }

    #[test]
    fn ata_values_parse_as_go_does() {
        assert_eq!(parse_float("7200"), Some(7200.0));
        assert_eq!(parse_float("0"), Some(0.0));
        assert_eq!(parse_float(" 1"), None);
        assert_eq!(parse_float("1e999"), None);
        assert_eq!(parse_float("fast"), None);
        assert_eq!(parse_float(""), None);
    }

    #[test]
    fn collects_with_units_and_skips_bad_lines() {
        let dir = tempfile::tempdir().unwrap();
        let roots = Roots {
            procfs: dir.path().join("proc"),
            sysfs: dir.path().join("sys"),
            rootfs: dir.path().join("root"),
        };
        std::fs::create_dir_all(&roots.procfs).unwrap();
        std::fs::create_dir_all(roots.sys("block/sda/queue")).unwrap();
        std::fs::write(roots.sys("block/sda/queue/rotational"), "1\n").unwrap();
        let udev_data = dir.path().join("udev");
        std::fs::create_dir_all(&udev_data).unwrap();
        std::fs::write(
            udev_data.join("b8:0"),
            "E:ID_ATA=1\nE:ID_ATA_ROTATION_RATE_RPM=7200\nE:ID_ATA_WRITE_CACHE=oops\nE:ID_SERIAL_SHORT=ZL2ABC\nE:ID_SERIAL=long\n",
        )
        .unwrap();
        std::fs::write(
            roots.proc("diskstats"),
            "   8       0 sda 10 1 2048 1500 20 2 4096 2500 1 3000 4000\n   8 1 sda1 1 2\n   7 0 loop0 1 1 1 1 1 1 1 1 1 1 1\n",
        )
        .unwrap();
        let collector = DiskstatsCollector {
            roots,
            filter: device_filter(None, None).unwrap(),
            udev_data,
            kept: KeptOpen::new("/nonexistent"),
        };
        let mut out = MetricSet::new();
        let err = collector.collect(&mut out).unwrap_err().to_string();
        assert!(err.contains("diskstats") && err.contains("line 2"), "{err}");

        let value = |name: &str| out.get(name).map(|f| f.samples[0].value);
        assert_eq!(value("node_disk_read_bytes_total"), Some(2048.0 * 512.0));
        assert_eq!(value("node_disk_read_time_seconds_total"), Some(1.5));
        assert_eq!(value("node_disk_io_time_weighted_seconds_total"), Some(4.0));
        assert_eq!(value("node_disk_io_now"), Some(1.0));
        // An 11-statistic line has no discard or flush families.
        assert!(out.get("node_disk_discards_completed_total").is_none());
        assert!(out.get("node_disk_flush_requests_total").is_none());
        // loop0 is excluded by default.
        assert_eq!(
            out.get("node_disk_reads_completed_total")
                .unwrap()
                .samples
                .len(),
            1
        );

        let info = &out.get("node_disk_info").unwrap().samples[0];
        let label = |k: &str| {
            info.labels
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(label("serial"), Some("ZL2ABC"));
        assert_eq!(label("rotational"), Some("1"));
        assert_eq!(label("model"), Some(""));
        assert_eq!(value("node_disk_ata_rotation_rate_rpm"), Some(7200.0));
        assert!(out.get("node_disk_ata_write_cache").is_none());
    }
}
