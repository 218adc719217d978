//! `netdev`: per-interface traffic counters, as node_exporter 1.12's netdev collector.
//!
//! node_exporter reads the counters over rtnetlink by default (`--collector.netdev.netlink`,
//! default true): the kernel's `rtnl_link_stats64` of every interface, 24 counters including the
//! detailed receive and transmit errors and `rx_nohandler`. Netlink answers only for the live
//! kernel's network namespace and cannot be pointed at `--path.procfs`/`--path.sysfs`, so sysmon
//! reads the same structure from `<sysfs>/class/net/<iface>/statistics/*`, which the kernel fills
//! from the same `dev_get_stats()` call (Documentation/ABI/testing/sysfs-class-net-statistics).
//! `--no-collector.netdev.netlink` reads `<procfs>/net/dev` instead, which the kernel prints from
//! the same structure with the detailed errors folded into the classic columns and no
//! `rx_nohandler`.
//!
//! Unless `--collector.netdev.enable-detailed-metrics` is given, the detailed counters are folded
//! into the classic names exactly as the kernel folds them for /proc/net/dev (and as
//! node_exporter's `legacy()` does): `receive_drop` = dropped + missed, `receive_frame` = frame +
//! length + over + CRC errors, `transmit_carrier` = carrier + aborted + heartbeat + window errors.
//! So both sources give the same values under the same names, and the netlink/sysfs source adds
//! `node_network_receive_nohandler_total`.
//!
//! `--collector.netdev.address-info` exports `node_network_address_info{device,address,netmask,
//! scope}`, which node_exporter takes from Go's `net.Interfaces()` (netlink, live kernel only).
//! sysmon reads IPv6 addresses from `<procfs>/net/if_inet6`, and IPv4 addresses, which no /proc
//! file lists per interface, with getifaddrs(3) when `--path.procfs` is the live `/proc` (so a
//! fixture tree or another host's /proc gives IPv6 addresses only).

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::sync::atomic::Ordering::Relaxed;

use super::filter::DeviceFilter;
use super::kept_open::KeptOpen;
use super::{
    read_string, sorted_dir_entries, AttrDir, BuildContext, CollectError, Collector, Registration,
    Roots,
};
use crate::anomaly::signals::Readings;
use crate::metrics::{MetricFamily, MetricSet};

pub mod netlink;

pub const REGISTRATION: Registration = Registration {
    name: "netdev",
    default_enabled: true,
    help: "network interface statistics from /sys/class/net/*/statistics or /proc/net/dev",
    flags: <Args as clap::Args>::augment_args,
    // The anomaly rules' network throughput reading is taken every sample by `signals`.
    cadence: super::Cadence::Slow,
    isolation: super::Isolation::Inline,
    build,
};

/// Flags of the `netdev` collector.
#[derive(Debug, Clone, clap::Args)]
#[group(id = "netdev_flags")]
#[command(next_help_heading = "Collector netdev")]
pub struct Args {
    /// Regexp of network interfaces to include (mutually exclusive with device-exclude).
    // `device-whitelist` is node_exporter's deprecated spelling, still parsed by 1.12.
    #[arg(
        long = "collector.netdev.device-include",
        id = "netdev_device_include",
        alias = "collector.netdev.device-whitelist",
        value_name = "REGEX",
        conflicts_with = "netdev_device_exclude"
    )]
    pub device_include: Option<String>,
    /// Regexp of network interfaces to exclude (mutually exclusive with device-include).
    // `device-blacklist` is node_exporter's deprecated spelling, still parsed by 1.12.
    #[arg(
        long = "collector.netdev.device-exclude",
        alias = "collector.netdev.device-blacklist",
        value_name = "REGEX",
        id = "netdev_device_exclude"
    )]
    pub device_exclude: Option<String>,
    /// Export node_network_address_info for every address of every interface (IPv6 from
    /// <procfs>/net/if_inet6; IPv4 with getifaddrs(3), only when --path.procfs is the live /proc).
    #[arg(long = "collector.netdev.address-info", id = "netdev_address_info")]
    pub address_info: bool,
    /// Export the kernel's counters under their own (incompatible) names instead of folding the
    /// detailed errors into the classic /proc/net/dev names.
    #[arg(
        long = "collector.netdev.enable-detailed-metrics",
        id = "netdev_enable_detailed_metrics"
    )]
    pub enable_detailed_metrics: bool,
    /// Read every counter of the kernel's link statistics, as node_exporter's netlink mode
    /// (default on): sysmon reads them from <sysfs>/class/net/*/statistics, which honours
    /// --path.sysfs where netlink would read only the live kernel.
    #[arg(
        long = "collector.netdev.netlink",
        id = "netdev_netlink",
        overrides_with = "netdev_no_netlink"
    )]
    pub netlink: bool,
    /// Read <procfs>/net/dev instead (no node_network_receive_nohandler_total, and no detailed
    /// errors with --collector.netdev.enable-detailed-metrics).
    #[arg(
        long = "no-collector.netdev.netlink",
        id = "netdev_no_netlink",
        overrides_with = "netdev_netlink"
    )]
    pub no_netlink: bool,
    /// Add the interface's alias (<sysfs>/class/net/<iface>/ifalias) as an `ifalias` label.
    #[arg(long = "collector.netdev.label-ifalias", id = "netdev_label_ifalias")]
    pub label_ifalias: bool,
}

fn build(ctx: &BuildContext) -> Result<Box<dyn Collector>, String> {
    let args: Args = ctx.args()?;
    let filter = DeviceFilter::exclusive(
        (
            "--collector.netdev.device-include",
            args.device_include.as_deref(),
        ),
        (
            "--collector.netdev.device-exclude",
            args.device_exclude.as_deref(),
        ),
    )?;
    let source = if args.no_netlink {
        Source::ProcNetDev
    } else {
        Source::Sysfs
    };
    Ok(Box::new(NetdevCollector::new(
        ctx.roots.clone(),
        filter,
        Options {
            source,
            detailed: args.enable_detailed_metrics,
            address_info: args.address_info,
            label_ifalias: args.label_ifalias,
        },
    )))
}

/// Where the counters come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `<sysfs>/class/net/<iface>/statistics/*` (node_exporter's netlink mode).
    Sysfs,
    /// `<procfs>/net/dev` (node_exporter's `--no-collector.netdev.netlink`).
    ProcNetDev,
}

#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub source: Source,
    pub detailed: bool,
    pub address_info: bool,
    pub label_ifalias: bool,
}

/// The files of `<sysfs>/class/net/<iface>/statistics/`, in the order of the kernel's
/// `rtnl_link_stats64`, with the name node_exporter's netlink path gives each.
pub const STATISTICS: [(&str, &str); 24] = [
    ("rx_packets", "receive_packets"),
    ("tx_packets", "transmit_packets"),
    ("rx_bytes", "receive_bytes"),
    ("tx_bytes", "transmit_bytes"),
    ("rx_errors", "receive_errors"),
    ("tx_errors", "transmit_errors"),
    ("rx_dropped", "receive_dropped"),
    ("tx_dropped", "transmit_dropped"),
    ("multicast", "multicast"),
    ("collisions", "collisions"),
    ("rx_length_errors", "receive_length_errors"),
    ("rx_over_errors", "receive_over_errors"),
    ("rx_crc_errors", "receive_crc_errors"),
    ("rx_frame_errors", "receive_frame_errors"),
    ("rx_fifo_errors", "receive_fifo_errors"),
    ("rx_missed_errors", "receive_missed_errors"),
    ("tx_aborted_errors", "transmit_aborted_errors"),
    ("tx_carrier_errors", "transmit_carrier_errors"),
    ("tx_fifo_errors", "transmit_fifo_errors"),
    ("tx_heartbeat_errors", "transmit_heartbeat_errors"),
    ("tx_window_errors", "transmit_window_errors"),
    ("rx_compressed", "receive_compressed"),
    ("tx_compressed", "transmit_compressed"),
    ("rx_nohandler", "receive_nohandler"),
];

/// Index of `rx_nohandler` in [`STATISTICS`]: the one file a kernel before 4.6 lacks (it then reads
/// as 0, as netlink's shorter structure does).
const RX_NOHANDLER: usize = 23;

/// The counter columns of /proc/net/dev, in file order, with the metric name node_exporter gives
/// each by default (`node_network_<name>_total`).
pub const COLUMNS: [&str; 16] = [
    "receive_bytes",
    "receive_packets",
    "receive_errs",
    "receive_drop",
    "receive_fifo",
    "receive_frame",
    "receive_compressed",
    "receive_multicast",
    "transmit_bytes",
    "transmit_packets",
    "transmit_errs",
    "transmit_drop",
    "transmit_fifo",
    "transmit_colls",
    "transmit_carrier",
    "transmit_compressed",
];

/// The /proc/net/dev columns under `--collector.netdev.enable-detailed-metrics`: node_exporter
/// then skips its renaming, so the errors and drops keep the names its parser gives them.
const COLUMNS_DETAILED: [&str; 16] = [
    "receive_bytes",
    "receive_packets",
    "receive_errors",
    "receive_dropped",
    "receive_fifo",
    "receive_frame",
    "receive_compressed",
    "receive_multicast",
    "transmit_bytes",
    "transmit_packets",
    "transmit_errors",
    "transmit_dropped",
    "transmit_fifo",
    "transmit_colls",
    "transmit_carrier",
    "transmit_compressed",
];

/// The default metrics from the sysfs statistics: each is the sum of some [`STATISTICS`]
/// (indices), folded as the kernel folds them into /proc/net/dev's columns. Same order as
/// [`COLUMNS`], then `receive_nohandler`.
const FOLDED: [(&str, &[usize]); 17] = [
    ("receive_bytes", &[2]),
    ("receive_packets", &[0]),
    ("receive_errs", &[4]),
    ("receive_drop", &[6, 15]),
    ("receive_fifo", &[14]),
    ("receive_frame", &[13, 10, 11, 12]),
    ("receive_compressed", &[21]),
    ("receive_multicast", &[8]),
    ("transmit_bytes", &[3]),
    ("transmit_packets", &[1]),
    ("transmit_errs", &[5]),
    ("transmit_drop", &[7]),
    ("transmit_fifo", &[18]),
    ("transmit_colls", &[9]),
    ("transmit_carrier", &[17, 16, 19, 20]),
    ("transmit_compressed", &[22]),
    ("receive_nohandler", &[RX_NOHANDLER]),
];

/// One parsed /proc/net/dev: counters per interface (sorted by name, which is also the order
/// node_exporter's registry prints them in) and a description of each line that could not be parsed.
#[derive(Debug, Default, PartialEq)]
pub struct NetDev {
    pub devices: BTreeMap<String, [u64; 16]>,
    pub bad_lines: Vec<String>,
}

/// Parses /proc/net/dev: two header lines, then one `<iface>: <16 counters>` line per interface.
///
/// Hand-parsed rather than with procfs-core's `InterfaceDeviceStatus`, which fails the whole file
/// on one bad line (this keeps every good interface and names the bad line) and splits on
/// whitespace only, so an old-style line without a space after the colon ("eth0:123 ...") would
/// lose its first counter. Like node_exporter (prometheus/procfs), the name ends at the colon and
/// columns a future kernel may append after the sixteenth are ignored.
pub fn parse(text: &str) -> NetDev {
    let mut out = NetDev::default();
    for (index, line) in text.lines().enumerate().skip(2) {
        if line.trim().is_empty() {
            continue;
        }
        let line_no = index + 1;
        match parse_line(line) {
            Ok((name, counters)) => {
                out.devices.insert(name.to_string(), counters);
            }
            Err(why) => out
                .bad_lines
                .push(format!("line {line_no}: {why}: {:?}", line.trim())),
        }
    }
    out
}

fn parse_line(line: &str) -> Result<(&str, [u64; 16]), String> {
    let (name, rest) = line
        .split_once(':')
        .ok_or("missing ':' after the interface name")?;
    let name = name.trim();
    if name.is_empty() {
        return Err("empty interface name".to_string());
    }
    let mut counters = [0u64; 16];
    let mut fields = rest.split_whitespace();
    for (slot, column) in counters.iter_mut().zip(COLUMNS) {
        let field = fields
            .next()
            .ok_or_else(|| format!("expected 16 counters, {column} is missing"))?;
        *slot = field
            .parse()
            .map_err(|_| format!("{column} is not an unsigned integer ({field:?})"))?;
    }
    Ok((name, counters))
}

/// Bytes received and transmitted, summed over the interfaces of /proc/net/dev the filter keeps
/// but loopback, for the anomaly rules. Lines that do not parse are skipped (the full run names
/// them).
pub fn bytes_received_and_transmitted(text: &str, filter: &DeviceFilter) -> (f64, f64) {
    let (mut received, mut transmitted) = (0u64, 0u64);
    for line in text.lines().skip(2) {
        let Ok((name, counters)) = parse_line(line) else {
            continue;
        };
        if name != "lo" && !filter.ignored(name) {
            // receive_bytes and transmit_bytes: the first and the ninth column.
            received = received.wrapping_add(counters[0]);
            transmitted = transmitted.wrapping_add(counters[8]);
        }
    }
    (received as f64, transmitted as f64)
}

/// Parses one sysfs statistics file: a decimal unsigned integer and a newline.
pub fn parse_counter(bytes: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(bytes)
        .ok()?
        .trim_end_matches(['\n', ' ']);
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Reads `<iface>/statistics/`. `Ok(None)` when the interface has no statistics directory (not an
/// interface, such as `bonding_masters`, or one that vanished while being read).
fn read_statistics(dir: &Path) -> Result<Option<[u64; 24]>, CollectError> {
    let stats = AttrDir::open(dir);
    let mut values = [0u64; 24];
    for (index, (file, _)) in STATISTICS.iter().enumerate() {
        match stats.read(file) {
            Ok(bytes) => {
                values[index] = parse_counter(&bytes).ok_or_else(|| {
                    CollectError::parse(
                        dir.join(file),
                        format!(
                            "expected an unsigned integer, found {:?}",
                            String::from_utf8_lossy(&bytes).trim_end()
                        ),
                    )
                })?;
            }
            Err(e) if index == RX_NOHANDLER && e.kind() == ErrorKind::NotFound => {}
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => {
                return Ok(None)
            }
            Err(e) => return Err(CollectError::io(dir.join(file), e)),
        }
    }
    Ok(Some(values))
}

/// One address for `node_network_address_info`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct AddrInfo {
    pub device: String,
    pub address: String,
    pub netmask: String,
    pub scope: &'static str,
}

impl AddrInfo {
    fn new(device: &str, ip: IpAddr, prefix_len: u32) -> AddrInfo {
        // An IPv4-mapped IPv6 address is an IPv4 address to Go's net.IP (printed dotted).
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        AddrInfo {
            device: device.to_string(),
            address: ip.to_string(),
            netmask: prefix_len.to_string(),
            scope: scope(ip),
        }
    }
}

/// node_exporter's `scope` label: Go's `net.IP` classification of the address.
pub fn scope(ip: IpAddr) -> &'static str {
    let (
        loopback,
        link_local_unicast,
        link_local_multicast,
        interface_local_multicast,
        multicast,
        unspecified,
        broadcast,
    ) = match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            (
                o[0] == 127,
                o[0] == 169 && o[1] == 254,
                o[0] == 224 && o[1] == 0 && o[2] == 0,
                false,
                v4.is_multicast(),
                v4.is_unspecified(),
                v4 == Ipv4Addr::BROADCAST,
            )
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            (
                v6.is_loopback(),
                s[0] & 0xffc0 == 0xfe80,
                s[0] & 0xff0f == 0xff02,
                s[0] & 0xff0f == 0xff01,
                v6.is_multicast(),
                v6.is_unspecified(),
                false,
            )
        }
    };
    if loopback || link_local_unicast || link_local_multicast {
        "link-local"
    } else if interface_local_multicast {
        "interface-local"
    } else if !unspecified && !multicast && !broadcast {
        "global"
    } else {
        ""
    }
}

/// Parses `<procfs>/net/if_inet6`: one line per IPv6 address, `<32 hex digits> <ifindex> <prefix
/// length> <scope> <flags> <name>`, the numbers in hexadecimal. Returns the addresses and a
/// description of each line that could not be parsed.
pub fn parse_if_inet6(text: &str) -> (Vec<AddrInfo>, Vec<String>) {
    let mut addresses = Vec::new();
    let mut bad_lines = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match parse_if_inet6_line(line) {
            Ok(info) => addresses.push(info),
            Err(why) => bad_lines.push(format!("line {}: {why}: {:?}", index + 1, line.trim())),
        }
    }
    (addresses, bad_lines)
}

fn parse_if_inet6_line(line: &str) -> Result<AddrInfo, String> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let [address, ifindex, prefix_len, scope, flags, name] = fields[..] else {
        return Err(format!("expected 6 columns, found {}", fields.len()));
    };
    if address.len() != 32 || !address.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("the address is not 32 hexadecimal digits".to_string());
    }
    let address = u128::from_str_radix(address, 16)
        .map_err(|_| "the address is not 32 hexadecimal digits".to_string())?;
    let hex = |field: &str, what: &str| {
        if field.is_empty() || !field.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("{what} is not a hexadecimal number ({field:?})"));
        }
        u32::from_str_radix(field, 16)
            .map_err(|_| format!("{what} is not a hexadecimal number ({field:?})"))
    };
    hex(ifindex, "the interface index")?;
    let prefix_len = hex(prefix_len, "the prefix length")?;
    if prefix_len > 128 {
        return Err(format!("prefix length {prefix_len} is over 128"));
    }
    hex(scope, "the scope")?;
    hex(flags, "the flags")?;
    Ok(AddrInfo::new(
        name,
        IpAddr::V6(Ipv6Addr::from(address)),
        prefix_len,
    ))
}

/// The IPv4 addresses of the live kernel's interfaces, with getifaddrs(3).
fn live_ipv4_addresses() -> std::io::Result<Vec<AddrInfo>> {
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list that freeifaddrs releases below; nothing from it
    // is kept past that (names and addresses are copied).
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let mut out = Vec::new();
    let mut cursor = head;
    while !cursor.is_null() {
        // SAFETY: `cursor` is a node of the list getifaddrs returned, not yet freed.
        let entry = unsafe { &*cursor };
        cursor = entry.ifa_next;
        if entry.ifa_addr.is_null() || entry.ifa_name.is_null() {
            continue;
        }
        // SAFETY: ifa_addr is non-null and points to a sockaddr whose family says its real type.
        if i32::from(unsafe { (*entry.ifa_addr).sa_family }) != libc::AF_INET {
            continue;
        }
        // SAFETY: an AF_INET address is a sockaddr_in.
        let addr = unsafe { &*(entry.ifa_addr as *const libc::sockaddr_in) };
        let ip = Ipv4Addr::from(u32::from_be(addr.sin_addr.s_addr));
        let prefix_len = if entry.ifa_netmask.is_null() {
            0
        } else {
            // SAFETY: the netmask of an AF_INET address is a sockaddr_in too.
            let mask = unsafe { &*(entry.ifa_netmask as *const libc::sockaddr_in) };
            mask_prefix_len(u32::from_be(mask.sin_addr.s_addr))
        };
        // SAFETY: ifa_name is a NUL-terminated interface name.
        let name = unsafe { std::ffi::CStr::from_ptr(entry.ifa_name) }.to_string_lossy();
        out.push(AddrInfo::new(&name, IpAddr::V4(ip), prefix_len));
    }
    // SAFETY: `head` came from getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(head) };
    Ok(out)
}

/// The prefix length of a netmask, 0 when the mask is not a prefix (as Go's `IPMask.Size`).
fn mask_prefix_len(mask: u32) -> u32 {
    let ones = mask.leading_ones();
    if mask.checked_shl(ones).unwrap_or(0) == 0 {
        ones
    } else {
        0
    }
}

pub struct NetdevCollector {
    roots: Roots,
    filter: DeviceFilter,
    options: Options,
    /// Whether `--path.procfs` is the live /proc, so getifaddrs(3) sees the same machine.
    live: bool,
    /// Whether `--path.sysfs` is the live /sys, so the statistics can come over rtnetlink in one
    /// request instead of 24 file reads per interface.
    live_sysfs: bool,
    /// Set once rtnetlink failed (a sandbox without AF_NETLINK): sysfs is read from then on.
    netlink_failed: std::sync::atomic::AtomicBool,
    /// (metric name, help) of each exported counter, in output order.
    names: Vec<(String, String)>,
    /// /proc/net/dev for the signal readings.
    proc_net_dev: KeptOpen,
}

impl NetdevCollector {
    pub fn new(roots: Roots, filter: DeviceFilter, options: Options) -> NetdevCollector {
        let keys: Vec<&str> = match (options.source, options.detailed) {
            (Source::Sysfs, false) => FOLDED.iter().map(|(key, _)| *key).collect(),
            (Source::Sysfs, true) => STATISTICS.iter().map(|(_, key)| *key).collect(),
            (Source::ProcNetDev, false) => COLUMNS.to_vec(),
            (Source::ProcNetDev, true) => COLUMNS_DETAILED.to_vec(),
        };
        let names = keys
            .iter()
            .map(|key| {
                (
                    format!("node_network_{key}_total"),
                    format!("Network device statistic {key}."),
                )
            })
            .collect();
        let live = std::fs::canonicalize(&roots.procfs).is_ok_and(|p| p == Path::new("/proc"));
        let live_sysfs = std::fs::canonicalize(&roots.sysfs).is_ok_and(|p| p == Path::new("/sys"));
        NetdevCollector {
            filter,
            options,
            live,
            live_sysfs,
            netlink_failed: std::sync::atomic::AtomicBool::new(false),
            names,
            proc_net_dev: KeptOpen::new(roots.proc("net/dev")),
            roots,
        }
    }

    /// Counters per kept interface, each in the order of `self.names`. Interfaces that could not
    /// be read are left out and the reason added to `errors`.
    fn counters(
        &self,
        errors: &mut Vec<CollectError>,
    ) -> Result<Vec<(String, Vec<u64>)>, CollectError> {
        let mut out = Vec::new();
        match self.options.source {
            Source::ProcNetDev => {
                let path = self.roots.proc("net/dev");
                let netdev = parse(&read_string(&path)?);
                if !netdev.bad_lines.is_empty() {
                    errors.push(CollectError::parse(path, netdev.bad_lines.join("; ")));
                }
                for (device, counters) in netdev.devices {
                    if !self.filter.ignored(&device) {
                        out.push((device, counters.to_vec()));
                    }
                }
            }
            Source::Sysfs if self.live_sysfs && !self.netlink_failed.load(Relaxed) => {
                match netlink::link_stats() {
                    Ok(mut links) => {
                        links.sort_by(|a, b| a.0.cmp(&b.0));
                        for (device, stats) in links {
                            if !self.filter.ignored(&device) {
                                out.push((device, self.values_of(&stats)));
                            }
                        }
                        return Ok(out);
                    }
                    Err(e) => {
                        tracing::warn!(
                            error = %e,
                            "netdev: rtnetlink is not available; reading /sys/class/net/*/statistics instead"
                        );
                        self.netlink_failed.store(true, Relaxed);
                        return self.counters(errors);
                    }
                }
            }
            Source::Sysfs => {
                let class = self.roots.sys("class/net");
                for entry in sorted_dir_entries(&class)? {
                    let Ok(device) = entry.file_name().into_string() else {
                        continue;
                    };
                    if self.filter.ignored(&device) {
                        continue;
                    }
                    let stats = match read_statistics(&entry.path().join("statistics")) {
                        Ok(Some(stats)) => stats,
                        Ok(None) => continue,
                        Err(e) => {
                            errors.push(e);
                            continue;
                        }
                    };
                    out.push((device, self.values_of(&stats)));
                }
            }
        }
        Ok(out)
    }

    /// The exported values of one interface's statistics: as they are with
    /// `--collector.netdev.enable-detailed-metrics`, else folded into the classic names.
    fn values_of(&self, stats: &[u64; 24]) -> Vec<u64> {
        if self.options.detailed {
            stats.to_vec()
        } else {
            FOLDED
                .iter()
                .map(|(_, parts)| {
                    parts
                        .iter()
                        .fold(0u64, |sum, &i| sum.wrapping_add(stats[i]))
                })
                .collect()
        }
    }

    fn addresses(&self, errors: &mut Vec<CollectError>) -> Vec<AddrInfo> {
        let mut addresses = Vec::new();
        if self.live {
            match live_ipv4_addresses() {
                Ok(v4) => addresses.extend(v4),
                Err(e) => errors.push(CollectError::Other(format!("getifaddrs: {e}"))),
            }
        }
        let path = self.roots.proc("net/if_inet6");
        match crate::collector::read_text(&path) {
            Ok(text) => {
                let (v6, bad_lines) = parse_if_inet6(&text);
                addresses.extend(v6);
                if !bad_lines.is_empty() {
                    errors.push(CollectError::parse(path, bad_lines.join("; ")));
                }
            }
            // No IPv6 (ipv6.disable=1, or a kernel without it): no IPv6 addresses.
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => errors.push(CollectError::io(path, e)),
        }
        addresses.sort();
        addresses.dedup();
        addresses
    }
}

fn ifalias(roots: &Roots, device: &str) -> String {
    crate::collector::read_bytes(roots.sys("class/net").join(device).join("ifalias"))
        .map(|bytes| String::from_utf8_lossy(&bytes).trim().to_string())
        .unwrap_or_default()
}

impl Collector for NetdevCollector {
    fn collect(&self, out: &mut MetricSet) -> Result<(), CollectError> {
        self.proc_net_dev.reopen();
        let mut errors = Vec::new();
        let devices = self.counters(&mut errors)?;
        let aliases: Vec<String> = if self.options.label_ifalias {
            devices
                .iter()
                .map(|(d, _)| ifalias(&self.roots, d))
                .collect()
        } else {
            Vec::new()
        };
        for (column, (name, help)) in self.names.iter().enumerate() {
            let family: &mut MetricFamily = out.counter(name, help);
            for (index, (device, values)) in devices.iter().enumerate() {
                let value = values[column] as f64;
                match aliases.get(index) {
                    Some(alias) => family.sample(&[("device", device), ("ifalias", alias)], value),
                    None => family.sample(&[("device", device)], value),
                };
            }
        }
        if self.options.address_info {
            let family = out.gauge("node_network_address_info", "Network address by device.");
            for a in self.addresses(&mut errors) {
                family.sample(
                    &[
                        ("device", &a.device),
                        ("address", &a.address),
                        ("netmask", &a.netmask),
                        ("scope", a.scope),
                    ],
                    1.0,
                );
            }
        }
        match errors.len() {
            0 => Ok(()),
            1 => Err(errors.remove(0)),
            n => Err(CollectError::Other(format!(
                "{} (and {} more errors)",
                errors.remove(0),
                n - 1
            ))),
        }
    }

    fn reads_signals(&self) -> bool {
        true
    }

    /// Bytes received and transmitted over the kept interfaces but loopback, from /proc/net/dev
    /// kept open: the kernel's same per-device counters as rtnetlink's and sysfs's (all three
    /// come from dev_get_stats), for about a tenth of an rtnetlink dump's cost.
    fn full_run_has_signals(&self) -> bool {
        true
    }

    fn signals(&self, readings: &mut Readings) -> Result<(), CollectError> {
        let (received, transmitted) = self
            .proc_net_dev
            .read(|text| bytes_received_and_transmitted(text, &self.filter))?;
        readings.network_receive_bytes = Some(received);
        readings.network_transmit_bytes = Some(transmitted);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::fixture_roots;
    use proptest::prelude::*;

    const SAMPLE: &str = "\
Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo: 4279817   41312    0    0    0     0          0         0  4279817   41312    0    0    0     0       0          0
wlp0s20f3: 2147598336 1873342    0  412    0     0          0     18734 190734112  731245    0    3    0     0       0          0
  eth0:18446744073709551615 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 99
";

    #[test]
    fn parses_kernel_format() {
        let nd = parse(SAMPLE);
        assert!(nd.bad_lines.is_empty(), "{:?}", nd.bad_lines);
        assert_eq!(
            nd.devices.keys().collect::<Vec<_>>(),
            ["eth0", "lo", "wlp0s20f3"]
        );
        assert_eq!(
            nd.devices["wlp0s20f3"],
            [2147598336, 1873342, 0, 412, 0, 0, 0, 18734, 190734112, 731245, 0, 3, 0, 0, 0, 0]
        );
        // No space after the colon, the largest counter, and an extra column that is ignored.
        assert_eq!(nd.devices["eth0"][0], u64::MAX);
        assert_eq!(nd.devices["eth0"][15], 15);
    }

    #[test]
    fn keeps_good_lines_and_names_bad_ones() {
        let text = "h1\nh2\n  lo: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n  eth0: 1 2 3\n  eth1: 1 2 x 4 5 6 7 8 9 10 11 12 13 14 15 16\nno colon here\n : 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n";
        let nd = parse(text);
        assert_eq!(nd.devices.keys().collect::<Vec<_>>(), ["lo"]);
        assert_eq!(nd.devices["lo"][15], 16);
        assert_eq!(nd.bad_lines.len(), 4, "{:?}", nd.bad_lines);
        assert!(
            nd.bad_lines[0].starts_with("line 4: expected 16 counters, receive_drop is missing")
        );
        assert!(nd.bad_lines[1].starts_with("line 5: receive_errs is not an unsigned integer"));
        assert!(nd.bad_lines[2].starts_with("line 6: missing ':'"));
        assert!(nd.bad_lines[3].starts_with("line 7: empty interface name"));
        assert_eq!(parse(""), NetDev::default());
    }

    #[test]
    fn counters_and_folding_tables() {
        assert_eq!(parse_counter(b"123\n"), Some(123));
        assert_eq!(parse_counter(b"18446744073709551615\n"), Some(u64::MAX));
        for bad in [
            &b""[..],
            b"\n",
            b"-1\n",
            b"+1\n",
            b"1 2\n",
            b"0x10\n",
            b"\xff\n",
        ] {
            assert_eq!(parse_counter(bad), None, "{bad:?}");
        }
        // Every statistic is folded into exactly one default metric.
        let mut used: Vec<usize> = FOLDED
            .iter()
            .flat_map(|(_, parts)| parts.iter().copied())
            .collect();
        used.sort();
        assert_eq!(used, (0..24).collect::<Vec<_>>());
        // The default names are /proc/net/dev's, in its order, then receive_nohandler.
        let names: Vec<&str> = FOLDED.iter().map(|(n, _)| *n).collect();
        assert_eq!(&names[..16], &COLUMNS[..]);
        assert_eq!(STATISTICS[RX_NOHANDLER].0, "rx_nohandler");
    }

    fn collect_with(
        machine: &str,
        filter: DeviceFilter,
        options: Options,
    ) -> (MetricSet, Result<(), CollectError>) {
        let collector = NetdevCollector::new(fixture_roots(machine), filter, options);
        let mut out = MetricSet::new();
        let result = collector.collect(&mut out);
        (out, result)
    }

    const SYSFS: Options = Options {
        source: Source::Sysfs,
        detailed: false,
        address_info: false,
        label_ifalias: false,
    };
    const PROC: Options = Options {
        source: Source::ProcNetDev,
        ..SYSFS
    };

    /// On the live /sys the counters come over rtnetlink, for the same interfaces sysfs lists.
    #[test]
    fn live_sysfs_reads_over_netlink_the_same_interfaces() {
        let collector = NetdevCollector::new(
            Roots::default(),
            DeviceFilter::keep_all(),
            Options {
                source: Source::Sysfs,
                detailed: false,
                address_info: false,
                label_ifalias: false,
            },
        );
        assert!(collector.live_sysfs);
        let mut set = MetricSet::new();
        collector.collect(&mut set).unwrap();
        assert!(
            !collector.netlink_failed.load(Relaxed),
            "rtnetlink failed here"
        );
        let mut devices: Vec<String> = set
            .get("node_network_receive_nohandler_total")
            .unwrap()
            .samples
            .iter()
            .map(|s| s.labels[0].1.clone())
            .collect();
        devices.sort();
        let mut listed: Vec<String> = std::fs::read_dir("/sys/class/net")
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.path().join("statistics").is_dir())
            .map(|e| e.file_name().into_string().unwrap())
            .collect();
        listed.sort();
        assert_eq!(devices, listed);
    }

    fn collect(machine: &str, filter: DeviceFilter) -> (MetricSet, Result<(), CollectError>) {
        collect_with(machine, filter, SYSFS)
    }

    fn value(set: &MetricSet, name: &str, device: &str) -> Option<f64> {
        let family = set.get(name)?;
        family
            .samples
            .iter()
            .find(|s| s.labels[0].1 == device)
            .map(|s| s.value)
    }

    fn devices<'a>(set: &'a MetricSet, name: &str) -> Vec<&'a str> {
        set.get(name)
            .unwrap()
            .samples
            .iter()
            .map(|s| s.labels[0].1.as_str())
            .collect()
    }

    #[test]
    fn server_fixture() {
        let (set, result) = collect("server", DeviceFilter::keep_all());
        result.unwrap();
        assert_eq!(set.families.len(), 17);
        assert_eq!(
            devices(&set, "node_network_receive_bytes_total"),
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
            ]
        );
        let rx = |d| value(&set, "node_network_receive_bytes_total", d).unwrap();
        assert_eq!(rx("bond0"), rx("eno1") + rx("eno2"));
        assert_eq!(rx("eno1"), 284_719_283_746_512.0);
        // Folded: 3 CRC errors into receive_frame, 488 missed into receive_drop.
        assert_eq!(
            value(&set, "node_network_receive_frame_total", "eno2"),
            Some(3.0)
        );
        assert_eq!(
            value(&set, "node_network_receive_drop_total", "eno2"),
            Some(9876.0)
        );
        assert_eq!(
            value(&set, "node_network_receive_nohandler_total", "bond0"),
            Some(2573.0)
        );

        let (set, _) = collect(
            "server",
            DeviceFilter::exclusive(("i", None), ("e", Some("^(lo|vnet.*)$"))).unwrap(),
        );
        assert_eq!(
            devices(&set, "node_network_transmit_packets_total").len(),
            7
        );
        assert_eq!(value(&set, "node_network_receive_bytes_total", "lo"), None);
    }

    /// The fixtures' sysfs statistics and /proc/net/dev describe the same counters, so both sources
    /// give the same default metrics (the sysfs one adds receive_nohandler).
    #[test]
    fn sysfs_and_proc_net_dev_agree() {
        for machine in ["laptop", "server", "vm"] {
            let (sysfs, r1) = collect_with(machine, DeviceFilter::keep_all(), SYSFS);
            let (proc, r2) = collect_with(machine, DeviceFilter::keep_all(), PROC);
            r1.unwrap();
            r2.unwrap();
            let mut without_nohandler = sysfs.families.clone();
            without_nohandler.retain(|f| f.name != "node_network_receive_nohandler_total");
            assert_eq!(without_nohandler, proc.families, "{machine}");
        }
    }

    #[test]
    fn detailed_metrics() {
        let detailed = Options {
            detailed: true,
            ..SYSFS
        };
        let (set, result) = collect_with("server", DeviceFilter::keep_all(), detailed);
        result.unwrap();
        assert_eq!(set.families.len(), 24);
        assert_eq!(
            value(&set, "node_network_receive_crc_errors_total", "eno2"),
            Some(3.0)
        );
        assert_eq!(
            value(&set, "node_network_receive_missed_errors_total", "eno2"),
            Some(488.0)
        );
        assert_eq!(
            value(&set, "node_network_receive_dropped_total", "eno2"),
            Some(9388.0)
        );
        assert_eq!(
            value(&set, "node_network_receive_errors_total", "eno2"),
            Some(3.0)
        );
        assert_eq!(
            value(&set, "node_network_multicast_total", "eno2"),
            Some(4_917_263.0)
        );
        assert_eq!(
            value(&set, "node_network_collisions_total", "eno2"),
            Some(0.0)
        );
        assert!(set.get("node_network_receive_drop_total").is_none());

        let detailed = Options {
            detailed: true,
            ..PROC
        };
        let (set, result) = collect_with("server", DeviceFilter::keep_all(), detailed);
        result.unwrap();
        let names: Vec<&str> = set.families.iter().map(|f| f.name.as_str()).collect();
        assert!(names.contains(&"node_network_receive_errors_total"));
        assert!(names.contains(&"node_network_transmit_dropped_total"));
        assert!(names.contains(&"node_network_transmit_colls_total"));
        assert_eq!(
            value(&set, "node_network_receive_dropped_total", "eno2"),
            Some(9876.0)
        );
    }

    #[test]
    fn ifalias_label() {
        let options = Options {
            label_ifalias: true,
            ..SYSFS
        };
        let (set, result) = collect_with("server", DeviceFilter::keep_all(), options);
        result.unwrap();
        let sample = set
            .get("node_network_receive_bytes_total")
            .unwrap()
            .samples
            .iter()
            .find(|s| s.labels[0].1 == "eno3")
            .unwrap();
        assert_eq!(
            sample.labels[1],
            (
                "ifalias".into(),
                "mgmt uplink to sw-core-2 Te1/0/14".to_string()
            )
        );
        let lo = &set.get("node_network_receive_bytes_total").unwrap().samples[7];
        assert_eq!(
            lo.labels,
            [
                ("device".into(), "lo".to_string()),
                ("ifalias".into(), String::new())
            ]
        );
    }

    #[test]
    fn broken_fixture_keeps_good_interfaces() {
        // sysfs: eth0 has a malformed counter, lo lacks rx_nohandler (a kernel before 4.6),
        // gone0 is a dangling link and bonding_masters is not an interface.
        let (set, result) = collect("broken", DeviceFilter::keep_all());
        let message = result.unwrap_err().to_string();
        assert!(message.contains("eth0/statistics/rx_errors"), "{message}");
        assert_eq!(devices(&set, "node_network_receive_bytes_total"), ["lo"]);
        assert_eq!(
            value(&set, "node_network_receive_nohandler_total", "lo"),
            Some(0.0)
        );

        let (set, result) = collect_with("broken", DeviceFilter::keep_all(), PROC);
        let message = result.unwrap_err().to_string();
        assert!(
            message.contains("proc/net/dev")
                && message.contains("line 5")
                && message.contains("line 8"),
            "{message}"
        );
        assert_eq!(devices(&set, "node_network_receive_bytes_total").len(), 2);
        assert_eq!(
            value(&set, "node_network_receive_bytes_total", "eth0"),
            Some(123_456_789.0)
        );
    }

    #[test]
    fn address_scopes_as_go() {
        let s = |a: &str| scope(a.parse().unwrap());
        assert_eq!(s("127.0.0.1"), "link-local");
        assert_eq!(s("169.254.3.4"), "link-local");
        assert_eq!(s("224.0.0.251"), "link-local");
        assert_eq!(s("10.1.2.3"), "global");
        assert_eq!(s("192.168.178.20"), "global");
        assert_eq!(s("239.1.1.1"), "");
        assert_eq!(s("0.0.0.0"), "");
        assert_eq!(s("255.255.255.255"), "");
        assert_eq!(s("::1"), "link-local");
        assert_eq!(s("fe80::1"), "link-local");
        assert_eq!(s("febf::1"), "link-local");
        assert_eq!(s("ff02::1"), "link-local");
        assert_eq!(s("ff01::1"), "interface-local");
        assert_eq!(s("fd12:3456::1"), "global");
        assert_eq!(s("2001:db8::1"), "global");
        assert_eq!(s("ff05::2"), "");
        assert_eq!(s("::"), "");
        assert_eq!(mask_prefix_len(0xffff_ff00), 24);
        assert_eq!(mask_prefix_len(0xffff_ffff), 32);
        assert_eq!(mask_prefix_len(0), 0);
        assert_eq!(mask_prefix_len(0xff00_ff00), 0);
    }

    #[test]
    fn parses_if_inet6() {
        let text = "\
20010db8000000000000000000000042 02 40 00 00     eth0
fe80000000000000021122fffe334455 02 40 20 80     eth0
00000000000000000000000000000001 01 80 10 80       lo
00000000000000000000ffffc0a80001 02 60 00 80     eth0
zz 02 40 00 00 eth1
fe80000000000000021122fffe334455 02 81 20 80     eth1
fe80000000000000021122fffe334455 02 40 20 80
";
        let (addresses, bad) = parse_if_inet6(text);
        assert_eq!(
            addresses,
            [
                AddrInfo::new("eth0", "2001:db8::42".parse().unwrap(), 64),
                AddrInfo::new("eth0", "fe80::211:22ff:fe33:4455".parse().unwrap(), 64),
                AddrInfo::new("lo", "::1".parse().unwrap(), 128),
                AddrInfo::new("eth0", "192.168.0.1".parse().unwrap(), 96),
            ]
        );
        assert_eq!(addresses[1].address, "fe80::211:22ff:fe33:4455");
        assert_eq!(addresses[1].scope, "link-local");
        assert_eq!(addresses[3].address, "192.168.0.1");
        assert_eq!(bad.len(), 3, "{bad:?}");
        assert!(bad[0].starts_with("line 5: the address"), "{bad:?}");
        assert!(bad[1].starts_with("line 6: prefix length 129"), "{bad:?}");
        assert!(
            bad[2].starts_with("line 7: expected 6 columns, found 5"),
            "{bad:?}"
        );
    }

    #[test]
    fn address_info_from_a_fixture_is_ipv6_only() {
        let options = Options {
            address_info: true,
            ..SYSFS
        };
        let (set, result) = collect_with("laptop", DeviceFilter::keep_all(), options);
        result.unwrap();
        let family = set.get("node_network_address_info").unwrap();
        let rows: Vec<Vec<&str>> = family
            .samples
            .iter()
            .map(|s| s.labels.iter().map(|(_, v)| v.as_str()).collect())
            .collect();
        assert!(
            rows.contains(&vec!["lo", "::1", "128", "link-local"]),
            "{rows:?}"
        );
        assert!(rows.iter().all(|r| r[1].contains(':')), "{rows:?}");
        assert!(family.samples.iter().all(|s| s.value == 1.0));
    }

    /// On the live kernel (this test's own /proc) IPv4 addresses come from getifaddrs(3): the
    /// loopback interface has 127.0.0.1/8 wherever it is up.
    #[test]
    fn live_kernel_has_ipv4_addresses() {
        let collector = NetdevCollector::new(
            Roots::default(),
            DeviceFilter::keep_all(),
            Options {
                address_info: true,
                ..SYSFS
            },
        );
        assert!(collector.live);
        let addresses = live_ipv4_addresses().unwrap();
        if let Some(lo) = addresses.iter().find(|a| a.device == "lo") {
            assert_eq!(
                (lo.address.as_str(), lo.netmask.as_str(), lo.scope),
                ("127.0.0.1", "8", "link-local")
            );
        }
        let fixture = NetdevCollector::new(fixture_roots("vm"), DeviceFilter::keep_all(), SYSFS);
        assert!(!fixture.live);
    }

    fn args(argv: &[&str]) -> Args {
        use clap::FromArgMatches;
        let cli = crate::cli::try_parse(argv).unwrap();
        Args::from_arg_matches(&cli.matches).unwrap()
    }

    #[test]
    fn flags_as_node_exporter() {
        let a = args(&["x"]);
        assert!(!a.no_netlink && !a.enable_detailed_metrics && !a.address_info && !a.label_ifalias);
        assert!(args(&["x", "--no-collector.netdev.netlink"]).no_netlink);
        // The last of the two forms wins, as with kingpin.
        assert!(
            args(&[
                "x",
                "--collector.netdev.netlink",
                "--no-collector.netdev.netlink"
            ])
            .no_netlink
        );
        assert!(
            !args(&[
                "x",
                "--no-collector.netdev.netlink",
                "--collector.netdev.netlink"
            ])
            .no_netlink
        );
        let a = args(&[
            "x",
            "--collector.netdev.enable-detailed-metrics",
            "--collector.netdev.address-info",
            "--collector.netdev.label-ifalias",
            "--collector.netdev.device-include=^e",
        ]);
        assert!(a.enable_detailed_metrics && a.address_info && a.label_ifalias);
        assert_eq!(a.device_include.as_deref(), Some("^e"));
        assert!(crate::cli::try_parse(&[
            "x",
            "--collector.netdev.device-include=a",
            "--collector.netdev.device-exclude=b"
        ])
        .is_err());
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in "\\PC*", bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = parse(&text);
            let _ = parse_if_inet6(&text);
            let _ = parse_counter(&bytes);
            let _ = parse_counter(text.as_bytes());
        }

        #[test]
        fn proc_net_dev_round_trips(
            devices in proptest::collection::btree_map("[a-z][a-z0-9.@-]{0,14}", any::<[u64; 16]>(), 0..8),
        ) {
            let mut text = String::from("Inter-|   Receive\n face |bytes\n");
            for (name, counters) in &devices {
                let cols: Vec<String> = counters.iter().map(u64::to_string).collect();
                text.push_str(&format!("{name:>6}: {}\n", cols.join(" ")));
            }
            let parsed = parse(&text);
            prop_assert!(parsed.bad_lines.is_empty());
            prop_assert_eq!(parsed.devices, devices);
        }

        #[test]
        fn counters_round_trip(v in any::<u64>()) {
            prop_assert_eq!(parse_counter(format!("{v}\n").as_bytes()), Some(v));
        }

        #[test]
        fn if_inet6_round_trips(
            rows in proptest::collection::vec(("[a-z][a-z0-9]{0,14}", any::<u128>(), 0u32..=128, any::<u8>()), 0..8),
        ) {
            let mut text = String::new();
            for (name, address, prefix, flags) in &rows {
                text.push_str(&format!("{address:032x} {:02x} {prefix:02x} {:02x} {flags:02x} {name:>8}\n", 2, 0x20));
            }
            let (parsed, bad) = parse_if_inet6(&text);
            prop_assert!(bad.is_empty(), "{:?}", bad);
            let want: Vec<AddrInfo> = rows
                .iter()
                .map(|(name, address, prefix, _)| AddrInfo::new(name, IpAddr::V6(Ipv6Addr::from(*address)), *prefix))
                .collect();
            prop_assert_eq!(parsed, want);
        }
    }
}
