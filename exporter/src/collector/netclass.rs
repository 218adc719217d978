//! `netclass`: network interface properties from `<sysfs>/class/net/<iface>/*`.
//!
//! This is node_exporter's default sysfs path (`--collector.netclass.netlink` is off by default
//! upstream and is not offered here: netlink only sees the live kernel, never the configured roots).
//! As in prometheus/procfs, an attribute the kernel refuses to show (EINVAL for `speed`, `duplex` or
//! `carrier` on an interface that is down, EOPNOTSUPP, a missing file, no permission) is simply
//! absent, so its metric is skipped for that interface.
//!
//! The attribute files of the first [`MAX_KEPT_IFACES`] interfaces stay open between runs and are
//! read again from offset 0 (sysfs shows an attribute's current value on every such read):
//! opening and closing some 22 files an interface was most of this collector's cost. An
//! interface is known by its directory's inode, so one renamed or created anew under the same name
//! has its files opened again.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::Path;
use std::sync::Mutex;

use super::filter::DeviceFilter;
use super::{
    sorted_dir_entries, AttrDir, BuildContext, CollectError, Collector, Registration, Roots,
};
use crate::metrics::{MetricSet, MetricType};

pub const REGISTRATION: Registration = Registration {
    name: "netclass",
    default_enabled: true,
    help: "network interface state from /sys/class/net",
    flags: <Args as clap::Args>::augment_args,
    cadence: super::Cadence::Slow,
    isolation: super::Isolation::Thread,
    build,
};

/// Flags of the `netclass` collector.
#[derive(Debug, Clone, clap::Args)]
#[group(id = "netclass_flags")]
#[command(next_help_heading = "Collector netclass")]
pub struct Args {
    /// Regexp of network interfaces to ignore in the netclass collector.
    #[arg(
        long = "collector.netclass.ignored-devices",
        value_name = "REGEX",
        default_value = "^$"
    )]
    pub ignored_devices: String,
    /// Skip node_network_speed_bytes for interfaces whose speed is invalid (the kernel reports -1
    /// when the speed is unknown, exported as -125000 otherwise, as node_exporter does).
    #[arg(long = "collector.netclass.ignore-invalid-speed")]
    pub ignore_invalid_speed: bool,
}

fn build(ctx: &BuildContext) -> Result<Box<dyn Collector>, String> {
    let args: Args = ctx.args()?;
    let ignored = DeviceFilter::new(
        ("--collector.netclass.device-include", None),
        (
            "--collector.netclass.ignored-devices",
            Some(&args.ignored_devices),
        ),
    )?;
    Ok(Box::new(NetclassCollector {
        roots: ctx.roots.clone(),
        ignored,
        ignore_invalid_speed: args.ignore_invalid_speed,
        kept: Mutex::default(),
    }))
}

pub struct NetclassCollector {
    roots: Roots,
    ignored: DeviceFilter,
    ignore_invalid_speed: bool,
    /// Per interface name, its attribute files kept open since an earlier run.
    kept: Mutex<HashMap<String, KeptIface>>,
}

/// Interfaces whose attribute files are kept open: some 22 descriptors each, so a host with
/// hundreds of veth interfaces does not hold thousands of them. The interfaces past it (in name
/// order) are read by opening each file, as before.
const MAX_KEPT_IFACES: usize = 8;

/// Where an interface's attributes are read from.
trait AttrSource {
    fn path(&self) -> &Path;
    fn read(&mut self, name: &'static str) -> std::io::Result<Vec<u8>>;
}

impl AttrSource for AttrDir {
    fn path(&self) -> &Path {
        AttrDir::path(self)
    }
    fn read(&mut self, name: &'static str) -> std::io::Result<Vec<u8>> {
        AttrDir::read(self, name)
    }
}

/// One interface's attribute files, opened at first use and kept.
struct KeptIface {
    /// Device and inode of the interface's directory when its files were opened.
    identity: (u64, u64),
    dir: AttrDir,
    /// Per attribute: its open file, or `None` when the interface has no such attribute.
    files: HashMap<&'static str, Option<File>>,
    /// Set when a read found the interface gone (ENODEV): the entry is dropped after the run.
    gone: bool,
}

impl KeptIface {
    fn open(dir: &Path, identity: (u64, u64)) -> KeptIface {
        KeptIface {
            identity,
            dir: AttrDir::open(dir),
            files: HashMap::new(),
            gone: false,
        }
    }
}

impl AttrSource for KeptIface {
    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn read(&mut self, name: &'static str) -> std::io::Result<Vec<u8>> {
        use std::io::{Error, ErrorKind};
        let file = match self.files.get(name) {
            Some(Some(file)) => file,
            Some(None) => return Err(Error::from(ErrorKind::NotFound)),
            None => match self.dir.open_attribute(name) {
                Ok(file) => self
                    .files
                    .entry(name)
                    .or_insert(Some(file))
                    .as_ref()
                    .expect("inserted"),
                Err(e) => {
                    // An attribute the interface does not have stays absent; other errors (no
                    // permission) are tried again next run.
                    if e.kind() == ErrorKind::NotFound {
                        self.files.insert(name, None);
                    }
                    return Err(e);
                }
            },
        };
        let mut page = [0u8; 4096];
        let n = loop {
            match file.read_at(&mut page, 0) {
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                // The interface was removed: its attributes are absent, as when a directory
                // vanishes between listing and reading; its files are closed after the run.
                Err(e)
                    if rustix::io::Errno::from_io_error(&e) == Some(rustix::io::Errno::NODEV) =>
                {
                    self.gone = true;
                    return Err(Error::from(ErrorKind::NotFound));
                }
                other => break other?,
            }
        };
        Ok(page[..n].to_vec())
    }
}

/// Integer attributes exported one metric each: (sysfs file, metric suffix, type, help), sorted by
/// metric name. `speed` is handled separately because of its unit conversion and invalid-speed rule.
const INT_ATTRS: [(&str, &str, MetricType, &str); 16] = [
    ("addr_assign_type", "address_assign_type", MetricType::Gauge, "How the hardware address was assigned (0 permanent, 1 random, 2 stolen, 3 set)."),
    ("carrier", "carrier", MetricType::Gauge, "1 if the interface has a physical link, 0 otherwise."),
    ("carrier_changes", "carrier_changes_total", MetricType::Counter, "Number of times the link state changed."),
    ("carrier_down_count", "carrier_down_changes_total", MetricType::Counter, "Number of times the link went down."),
    ("carrier_up_count", "carrier_up_changes_total", MetricType::Counter, "Number of times the link came up."),
    ("dev_id", "device_id", MetricType::Gauge, "Device identifier distinguishing interfaces that share a hardware address."),
    ("dormant", "dormant", MetricType::Gauge, "1 if the interface is dormant (waiting for an external event such as 802.1X), 0 otherwise."),
    ("flags", "flags", MetricType::Gauge, "Interface flags (IFF_* bit field)."),
    ("ifindex", "iface_id", MetricType::Gauge, "Interface index."),
    ("iflink", "iface_link", MetricType::Gauge, "Index of the interface this one is linked to (its own index for physical interfaces)."),
    ("link_mode", "iface_link_mode", MetricType::Gauge, "Link mode (0 default, 1 dormant)."),
    ("mtu", "mtu_bytes", MetricType::Gauge, "Maximum transmission unit in bytes."),
    ("name_assign_type", "name_assign_type", MetricType::Gauge, "How the interface name was assigned (1 enumerated, 2 predictable, 3 userspace, 4 renamed)."),
    ("netdev_group", "net_dev_group", MetricType::Gauge, "Network device group."),
    ("type", "protocol_type", MetricType::Gauge, "Hardware protocol type (ARPHRD_*: 1 Ethernet, 772 loopback)."),
    ("tx_queue_len", "transmit_queue_length", MetricType::Gauge, "Transmit queue length in packets."),
];

/// What one interface directory holds, each attribute `None` when the kernel did not show it.
#[derive(Debug, Default, PartialEq)]
pub struct Iface {
    pub address: Option<String>,
    pub broadcast: Option<String>,
    pub duplex: Option<String>,
    pub ifalias: Option<String>,
    pub operstate: Option<String>,
    pub speed: Option<i64>,
    /// Values of [`INT_ATTRS`], index for index.
    pub ints: [Option<i64>; INT_ATTRS.len()],
}

impl Iface {
    /// The value of the integer attribute `file` (one of [`INT_ATTRS`]).
    pub fn int(&self, file: &str) -> Option<i64> {
        let index = INT_ATTRS.iter().position(|(f, ..)| *f == file)?;
        self.ints.get(index).copied().flatten()
    }
}

/// Parses an integer the way Go's `strconv.ParseInt(s, 0, 64)` does for what sysfs prints:
/// an optional sign, then decimal, `0x` hexadecimal (`flags` and `dev_id` are printed as "0x1003"),
/// `0o`/leading-`0` octal or `0b` binary.
pub fn parse_int(text: &str) -> Option<i64> {
    let (negative, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let lower = body.to_ascii_lowercase();
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..])
    } else {
        (10, lower.as_str())
    };
    // from_str_radix would accept a second sign; Go does not.
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    let magnitude = i128::from(u64::from_str_radix(digits, radix).ok()?);
    i64::try_from(if negative { -magnitude } else { magnitude }).ok()
}

/// `adminstate` label of node_network_info: from IFF_UP in `flags`, as node_exporter does.
pub fn admin_state(flags: Option<i64>) -> &'static str {
    match flags {
        None => "unknown",
        Some(f) if f & 1 == 1 => "up",
        Some(_) => "down",
    }
}

/// Errors that mean "the kernel does not show this attribute here", as prometheus/procfs'
/// `canIgnoreError`: a missing file, no permission, EINVAL (speed, duplex, carrier and dormant on
/// an interface that is down; name_assign_type of lo) and EOPNOTSUPP (phys_port_id and friends).
fn attribute_absent(e: &std::io::Error) -> bool {
    use rustix::io::Errno;
    matches!(
        e.kind(),
        std::io::ErrorKind::NotFound
            | std::io::ErrorKind::PermissionDenied
            | std::io::ErrorKind::InvalidInput
    ) || matches!(
        Errno::from_io_error(e),
        Some(Errno::INVAL | Errno::OPNOTSUPP | Errno::ACCESS | Errno::PERM)
    )
}

/// Reads one attribute, trimmed of surrounding space as procfs' SysReadFile does. `None` when the
/// kernel does not show it; a read error that is not one of those is added to `errors`.
fn read_attr(
    dir: &mut impl AttrSource,
    name: &'static str,
    errors: &mut Vec<CollectError>,
) -> Option<String> {
    match dir.read(name) {
        Ok(bytes) => Some(String::from_utf8_lossy(&bytes).trim().to_string()),
        Err(e) if attribute_absent(&e) => None,
        Err(e) => {
            errors.push(CollectError::io(dir.path().join(name), e));
            None
        }
    }
}

fn read_int_attr(
    dir: &mut impl AttrSource,
    name: &'static str,
    errors: &mut Vec<CollectError>,
) -> Option<i64> {
    let text = read_attr(dir, name, errors)?;
    let value = parse_int(&text);
    if value.is_none() {
        errors.push(CollectError::parse(
            dir.path().join(name),
            format!("expected an integer, found {text:?}"),
        ));
    }
    value
}

/// Reads one interface directory. Attributes that are absent stay `None`; attributes that could
/// not be read or parsed are also `None`, and the reason is added to `errors`.
pub fn read_iface(dir: &Path, errors: &mut Vec<CollectError>) -> Iface {
    read_iface_from(&mut AttrDir::open(dir), errors)
}

fn read_iface_from(dir: &mut impl AttrSource, errors: &mut Vec<CollectError>) -> Iface {
    let mut iface = Iface {
        address: read_attr(dir, "address", errors),
        broadcast: read_attr(dir, "broadcast", errors),
        duplex: read_attr(dir, "duplex", errors),
        ifalias: read_attr(dir, "ifalias", errors),
        operstate: read_attr(dir, "operstate", errors),
        speed: read_int_attr(dir, "speed", errors),
        ..Iface::default()
    };
    for (slot, (file, ..)) in iface.ints.iter_mut().zip(INT_ATTRS) {
        *slot = read_int_attr(dir, file, errors);
    }
    iface
}

const INFO_HELP: &str = "Non-numeric data from /sys/class/net/<iface>, value is always 1.";
const UP_HELP: &str = "Value is 1 if operstate is 'up', 0 otherwise.";
const SPEED_HELP: &str = "Link speed in bytes per second.";

/// Announces every family up front in name order, as node_exporter prints them, so the output
/// order does not depend on which interface happens to show which attribute.
fn declare_families(out: &mut MetricSet) {
    let mut families: Vec<(String, &str, MetricType)> = INT_ATTRS
        .iter()
        .map(|(_, suffix, kind, help)| (format!("node_network_{suffix}"), *help, *kind))
        .collect();
    families.push((
        "node_network_info".to_string(),
        INFO_HELP,
        MetricType::Gauge,
    ));
    families.push((
        "node_network_speed_bytes".to_string(),
        SPEED_HELP,
        MetricType::Gauge,
    ));
    families.push(("node_network_up".to_string(), UP_HELP, MetricType::Gauge));
    families.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, help, kind) in families {
        out.family(&name, help, kind);
    }
}

impl NetclassCollector {
    fn publish(&self, out: &mut MetricSet, device: &str, iface: &Iface) {
        let operstate = iface.operstate.as_deref().unwrap_or("");
        out.gauge("node_network_info", INFO_HELP).sample(
            &[
                ("address", iface.address.as_deref().unwrap_or("")),
                ("adminstate", admin_state(iface.int("flags"))),
                ("broadcast", iface.broadcast.as_deref().unwrap_or("")),
                ("device", device),
                ("duplex", iface.duplex.as_deref().unwrap_or("")),
                ("ifalias", iface.ifalias.as_deref().unwrap_or("")),
                ("operstate", operstate),
            ],
            1.0,
        );
        out.gauge("node_network_up", UP_HELP).sample(
            &[("device", device)],
            if operstate == "up" { 1.0 } else { 0.0 },
        );
        for ((_, suffix, kind, help), value) in INT_ATTRS.iter().zip(iface.ints) {
            if let Some(v) = value {
                out.family(&format!("node_network_{suffix}"), help, *kind)
                    .sample(&[("device", device)], v as f64);
            }
        }
        // The kernel shows -1 (SPEED_UNKNOWN) when the driver cannot tell; node_exporter exports
        // that as -125000 unless asked to skip it.
        if let Some(speed) = iface
            .speed
            .filter(|s| *s >= 0 || !self.ignore_invalid_speed)
        {
            out.gauge("node_network_speed_bytes", SPEED_HELP)
                .sample(&[("device", device)], speed as f64 * 125_000.0);
        }
    }
}

impl Collector for NetclassCollector {
    fn collect(&self, out: &mut MetricSet) -> Result<(), CollectError> {
        let class_dir = self.roots.sys("class/net");
        let entries = sorted_dir_entries(&class_dir)?;
        declare_families(out);
        let mut errors = Vec::new();
        let mut kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        let mut seen = Vec::new();
        for entry in entries {
            // class/net holds one symlink per interface, plus regular files such as
            // `bonding_masters` that are not interfaces.
            if entry.file_type().map(|t| t.is_file()).unwrap_or(false) {
                continue;
            }
            let device = entry.file_name().to_string_lossy().into_owned();
            if self.ignored.ignored(&device) {
                continue;
            }
            let dir = entry.path();
            let identity = match std::fs::metadata(&dir) {
                Ok(meta) => (meta.dev(), meta.ino()),
                // The interface went away between listing and reading it.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => {
                    errors.push(CollectError::io(dir, e));
                    continue;
                }
            };
            let room = kept.len() < MAX_KEPT_IFACES;
            let iface = match kept.get_mut(&device) {
                Some(k) if k.identity == identity => read_iface_from(k, &mut errors),
                Some(k) => {
                    // Another interface under a kept name: its files are opened anew.
                    *k = KeptIface::open(&dir, identity);
                    read_iface_from(k, &mut errors)
                }
                None if room => {
                    let k = kept
                        .entry(device.clone())
                        .or_insert_with(|| KeptIface::open(&dir, identity));
                    read_iface_from(k, &mut errors)
                }
                None => read_iface(&dir, &mut errors),
            };
            seen.push(device.clone());
            self.publish(out, &device, &iface);
        }
        kept.retain(|name, k| !k.gone && seen.contains(name));
        combine(errors)
    }
}

/// One error stays itself; several become one message naming every file.
fn combine(mut errors: Vec<CollectError>) -> Result<(), CollectError> {
    match errors.len() {
        0 => Ok(()),
        1 => Err(errors.remove(0)),
        _ => Err(CollectError::Other(
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::fixture_roots;

    #[test]
    fn parses_integers_like_go() {
        assert_eq!(parse_int("1500"), Some(1500));
        assert_eq!(parse_int("-1"), Some(-1));
        assert_eq!(parse_int("0x1003"), Some(0x1003));
        assert_eq!(parse_int("0X0"), Some(0));
        assert_eq!(parse_int("0"), Some(0));
        assert_eq!(parse_int("010"), Some(8));
        assert_eq!(parse_int("0b101"), Some(5));
        assert_eq!(parse_int("9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_int("-9223372036854775808"), Some(i64::MIN));
        for bad in [
            "",
            "-",
            "0x",
            "fifteen",
            "12a",
            "0x+5",
            "--1",
            "9223372036854775808",
            "1 2",
            "08",
        ] {
            assert_eq!(parse_int(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn admin_state_from_iff_up() {
        assert_eq!(admin_state(Some(0x1003)), "up");
        assert_eq!(admin_state(Some(0x1002)), "down");
        assert_eq!(admin_state(Some(0x9)), "up");
        assert_eq!(admin_state(None), "unknown");
    }

    #[test]
    fn reads_interface_directory() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
        write("address", "3c:ec:ef:12:34:56\n");
        write("operstate", "up\n");
        write("ifalias", "\n");
        write("flags", "0x1003\n");
        write("mtu", "9000\n");
        write("speed", "-1\n");
        write("tx_queue_len", "lots\n");
        let mut errors = Vec::new();
        let iface = read_iface(dir.path(), &mut errors);
        assert_eq!(iface.address.as_deref(), Some("3c:ec:ef:12:34:56"));
        assert_eq!(iface.ifalias.as_deref(), Some(""));
        assert_eq!(iface.duplex, None);
        assert_eq!(iface.speed, Some(-1));
        assert_eq!(iface.int("flags"), Some(0x1003));
        assert_eq!(iface.int("mtu"), Some(9000));
        assert_eq!(iface.int("tx_queue_len"), None, "garbage");
        assert_eq!(iface.int("no_such_attribute"), None);
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].to_string().contains("tx_queue_len"),
            "{}",
            errors[0]
        );
    }

    #[test]
    fn speed_rule() {
        let iface = Iface {
            speed: Some(-1),
            operstate: Some("down".into()),
            ..Iface::default()
        };
        let collector = |ignore_invalid_speed| NetclassCollector {
            roots: Roots::default(),
            ignored: DeviceFilter::new(("i", None), ("e", Some("^$"))).unwrap(),
            ignore_invalid_speed,
            kept: Mutex::default(),
        };
        let mut out = MetricSet::new();
        collector(false).publish(&mut out, "eth0", &iface);
        assert_eq!(
            out.get("node_network_speed_bytes").unwrap().samples[0].value,
            -125000.0
        );
        assert_eq!(out.get("node_network_up").unwrap().samples[0].value, 0.0);
        let mut out = MetricSet::new();
        collector(true).publish(&mut out, "eth0", &iface);
        assert!(out.get("node_network_speed_bytes").is_none());
        let mut out = MetricSet::new();
        let fast = Iface {
            speed: Some(25_000),
            ..Iface::default()
        };
        collector(true).publish(&mut out, "eth0", &fast);
        assert_eq!(
            out.get("node_network_speed_bytes").unwrap().samples[0].value,
            3_125_000_000.0
        );
    }

    fn collect(
        machine: &str,
        ignored: &str,
        ignore_invalid_speed: bool,
    ) -> (MetricSet, Result<(), CollectError>) {
        let collector = NetclassCollector {
            roots: fixture_roots(machine),
            ignored: DeviceFilter::new(("i", None), ("e", Some(ignored))).unwrap(),
            ignore_invalid_speed,
            kept: Mutex::default(),
        };
        let mut out = MetricSet::new();
        let result = collector.collect(&mut out);
        (out, result)
    }

    fn value(set: &MetricSet, name: &str, device: &str) -> Option<f64> {
        let family = set.get(name)?;
        family
            .samples
            .iter()
            .find(|s| s.labels.iter().any(|(k, v)| *k == "device" && v == device))
            .map(|s| s.value)
    }

    fn info_label(set: &MetricSet, device: &str, label: &str) -> String {
        let sample = set
            .get("node_network_info")
            .unwrap()
            .samples
            .iter()
            .find(|s| s.labels.iter().any(|(k, v)| *k == "device" && v == device))
            .unwrap();
        sample
            .labels
            .iter()
            .find(|(k, _)| *k == label)
            .unwrap()
            .1
            .clone()
    }

    /// A sysfs-like tree of `count` interfaces named `eth<N>`, each with an mtu of 1500 + N.
    fn interfaces(count: usize) -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        for n in 0..count {
            write_iface(root.path(), &format!("eth{n:02}"), 1500 + n as i64);
        }
        root
    }

    fn write_iface(root: &Path, name: &str, mtu: i64) {
        let dir = root.join("sys/class/net").join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("mtu"), format!("{mtu}\n")).unwrap();
        std::fs::write(dir.join("operstate"), "up\n").unwrap();
    }

    #[test]
    fn kept_files_follow_changes_new_interfaces_and_removals() {
        let root = interfaces(MAX_KEPT_IFACES + 3);
        let collector = NetclassCollector {
            roots: Roots {
                sysfs: root.path().join("sys"),
                ..Roots::default()
            },
            ignored: DeviceFilter::keep_all(),
            ignore_invalid_speed: false,
            kept: Mutex::default(),
        };
        let run = || {
            let mut out = MetricSet::new();
            collector.collect(&mut out).unwrap();
            out
        };
        let out = run();
        for n in 0..MAX_KEPT_IFACES + 3 {
            let mtu = value(&out, "node_network_mtu_bytes", &format!("eth{n:02}"));
            assert_eq!(mtu, Some(1500.0 + n as f64), "eth{n:02}");
        }
        assert_eq!(collector.kept.lock().unwrap().len(), MAX_KEPT_IFACES);

        // Rewritten in place, as sysfs values change: the kept file shows the new value.
        std::fs::write(root.path().join("sys/class/net/eth00/mtu"), "9000\n").unwrap();
        // Removed and created anew under the same name: a new directory, opened again.
        std::fs::remove_dir_all(root.path().join("sys/class/net/eth01")).unwrap();
        write_iface(root.path(), "eth01", 4000);
        // Gone: its kept files are closed and its place taken by the next interface.
        std::fs::remove_dir_all(root.path().join("sys/class/net/eth02")).unwrap();
        let out = run();
        assert_eq!(value(&out, "node_network_mtu_bytes", "eth00"), Some(9000.0));
        assert_eq!(value(&out, "node_network_mtu_bytes", "eth01"), Some(4000.0));
        assert_eq!(value(&out, "node_network_mtu_bytes", "eth02"), None);
        let last = format!("eth{:02}", MAX_KEPT_IFACES + 2);
        assert_eq!(
            value(&out, "node_network_mtu_bytes", &last),
            Some(1500.0 + (MAX_KEPT_IFACES + 2) as f64)
        );
        assert!(!collector.kept.lock().unwrap().contains_key("eth02"));
        // The place it left is taken at the next run.
        assert_eq!(collector.kept.lock().unwrap().len(), MAX_KEPT_IFACES - 1);
        run();
        let kept = collector.kept.lock().unwrap();
        assert_eq!(kept.len(), MAX_KEPT_IFACES);
        assert!(kept.contains_key(&format!("eth{MAX_KEPT_IFACES:02}")));
    }

    #[test]
    fn server_fixture() {
        let (set, result) = collect("server", "^$", false);
        result.unwrap();
        let devices: Vec<_> = set
            .get("node_network_up")
            .unwrap()
            .samples
            .iter()
            .map(|s| s.labels[0].1.as_str())
            .collect();
        assert_eq!(
            devices,
            [
                "bond0",
                "bond0.100",
                "br0",
                "eno1",
                "eno2",
                "eno3",
                "eno4",
                "lo",
                "vnet0"
            ],
            "bonding_masters is not an interface"
        );
        // bond0 runs on eno1 alone: eno2 lost its link (speed -1, exported as -125000).
        assert_eq!(
            value(&set, "node_network_speed_bytes", "bond0"),
            Some(3_125_000_000.0)
        );
        assert_eq!(
            value(&set, "node_network_speed_bytes", "eno2"),
            Some(-125_000.0)
        );
        assert_eq!(value(&set, "node_network_up", "eno2"), Some(0.0));
        assert_eq!(
            value(&set, "node_network_speed_bytes", "eno3"),
            Some(1_250_000_000.0)
        );
        assert_eq!(
            value(&set, "node_network_iface_link", "bond0.100"),
            Some(6.0)
        );
        assert_eq!(
            value(&set, "node_network_flags", "eno1"),
            Some(f64::from(0x1803))
        );
        assert_eq!(value(&set, "node_network_mtu_bytes", "eno2"), Some(9000.0));
        assert_eq!(
            value(&set, "node_network_carrier_changes_total", "br0"),
            Some(5.0)
        );
        assert_eq!(
            value(&set, "node_network_up", "vnet0"),
            Some(0.0),
            "operstate unknown"
        );
        // Administratively down: the attributes the kernel refuses to show are absent.
        assert_eq!(value(&set, "node_network_up", "eno4"), Some(0.0));
        assert_eq!(value(&set, "node_network_speed_bytes", "eno4"), None);
        assert_eq!(value(&set, "node_network_carrier", "eno4"), None);
        assert_eq!(info_label(&set, "eno4", "adminstate"), "down");
        assert_eq!(info_label(&set, "eno4", "duplex"), "");
        assert_eq!(
            info_label(&set, "eno3", "ifalias"),
            "mgmt uplink to sw-core-2 Te1/0/14"
        );
        assert_eq!(value(&set, "node_network_name_assign_type", "lo"), None);
        assert_eq!(value(&set, "node_network_protocol_type", "lo"), Some(772.0));

        let (set, _) = collect("server", "^(eno|vnet)", false);
        assert_eq!(set.get("node_network_up").unwrap().samples.len(), 4);
    }

    #[test]
    fn laptop_fixture_speed_rules() {
        let (set, result) = collect("laptop", "^$", false);
        result.unwrap();
        assert_eq!(
            value(&set, "node_network_speed_bytes", "enp0s31f6"),
            Some(-125_000.0)
        );
        assert_eq!(value(&set, "node_network_speed_bytes", "wlp0s20f3"), None);
        assert_eq!(
            value(&set, "node_network_iface_link_mode", "wlp0s20f3"),
            Some(1.0)
        );
        assert_eq!(value(&set, "node_network_up", "wlp0s20f3"), Some(1.0));
        let (set, _) = collect("laptop", "^$", true);
        assert!(set
            .get("node_network_speed_bytes")
            .unwrap()
            .samples
            .is_empty());
    }

    #[test]
    fn broken_fixture() {
        let (set, result) = collect("broken", "^$", false);
        let message = result.unwrap_err().to_string();
        for file in [
            "eth0/mtu",
            "eth0/speed",
            "eth0/flags",
            "eth0/carrier_changes",
        ] {
            assert!(message.contains(file), "{file} not in {message}");
        }
        assert!(
            !message.contains("gone0"),
            "a vanished interface is not an error: {message}"
        );
        let devices: Vec<_> = set
            .get("node_network_up")
            .unwrap()
            .samples
            .iter()
            .map(|s| s.labels[0].1.as_str())
            .collect();
        assert_eq!(devices, ["eth0", "lo"]);
        assert_eq!(value(&set, "node_network_up", "eth0"), Some(1.0));
        assert_eq!(value(&set, "node_network_mtu_bytes", "eth0"), None);
        assert_eq!(
            value(&set, "node_network_carrier_up_changes_total", "eth0"),
            Some(1.0)
        );
        assert_eq!(info_label(&set, "eth0", "adminstate"), "unknown");
        assert_eq!(info_label(&set, "eth0", "ifalias"), "rack \"B7\" \\ port 3");
    }
}
