//! `netdev`: per-interface traffic counters from `<procfs>/net/dev`.
//!
//! node_exporter reads these counters over rtnetlink by default (`--collector.netdev.netlink`,
//! default true since 1.4). Netlink always answers for the live kernel's network namespace and
//! cannot be pointed at a fixture tree or a host's /proc mounted elsewhere, so this collector reads
//! `<procfs>/net/dev`, node_exporter's `--no-collector.netdev.netlink` path. The kernel prints that
//! file from the same `rtnl_link_stats64` that netlink returns, already folding the detailed error
//! counters into the classic columns (`drop` includes `rx_missed_errors`, `frame` includes the
//! length, over and CRC errors, `carrier` includes aborted, heartbeat and window errors), which is
//! exactly how node_exporter maps the netlink counters onto these metric names. The one metric the
//! netlink path has and this file lacks is `node_network_receive_nohandler_total`.

use std::collections::BTreeMap;

use super::filter::DeviceFilter;
use super::{read_string, BuildContext, CollectError, Collector, Registration, Roots};
use crate::metrics::MetricSet;

pub const REGISTRATION: Registration = Registration {
    name: "netdev",
    default_enabled: true,
    help: "network interface statistics from /proc/net/dev",
    flags: <Args as clap::Args>::augment_args,
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
    Ok(Box::new(NetdevCollector {
        roots: ctx.roots.clone(),
        filter,
    }))
}

/// The counter columns of /proc/net/dev, in file order, with the metric name node_exporter gives
/// each (`node_network_<name>_total`).
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

pub struct NetdevCollector {
    roots: Roots,
    filter: DeviceFilter,
}

impl Collector for NetdevCollector {
    fn collect(&self, out: &mut MetricSet) -> Result<(), CollectError> {
        let path = self.roots.proc("net/dev");
        let netdev = parse(&read_string(&path)?);
        for (column, name) in COLUMNS.iter().enumerate() {
            let family = out.counter(
                &format!("node_network_{name}_total"),
                &format!("Network device statistic {name}."),
            );
            for (device, counters) in netdev
                .devices
                .iter()
                .filter(|(d, _)| !self.filter.ignored(d))
            {
                family.sample(&[("device", device)], counters[column] as f64);
            }
        }
        if netdev.bad_lines.is_empty() {
            Ok(())
        } else {
            Err(CollectError::parse(path, netdev.bad_lines.join("; ")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::fixture_roots;

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

    fn collect(machine: &str, filter: DeviceFilter) -> (MetricSet, Result<(), CollectError>) {
        let collector = NetdevCollector {
            roots: fixture_roots(machine),
            filter,
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
            .find(|s| s.labels[0].1 == device)
            .map(|s| s.value)
    }

    #[test]
    fn server_fixture() {
        let (set, result) = collect("server", DeviceFilter::keep_all());
        result.unwrap();
        assert_eq!(set.families.len(), 16);
        let devices: Vec<_> = set
            .get("node_network_receive_bytes_total")
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
            ]
        );
        let rx = |d| value(&set, "node_network_receive_bytes_total", d).unwrap();
        assert_eq!(rx("bond0"), rx("eno1") + rx("eno2"));
        assert_eq!(rx("eno1"), 284_719_283_746_512.0);
        assert_eq!(
            value(&set, "node_network_receive_frame_total", "eno2"),
            Some(3.0)
        );

        let (set, _) = collect(
            "server",
            DeviceFilter::exclusive(("i", None), ("e", Some("^(lo|vnet.*)$"))).unwrap(),
        );
        assert_eq!(
            set.get("node_network_transmit_packets_total")
                .unwrap()
                .samples
                .len(),
            7
        );
        assert_eq!(value(&set, "node_network_receive_bytes_total", "lo"), None);
    }

    #[test]
    fn broken_fixture_keeps_good_interfaces() {
        let (set, result) = collect("broken", DeviceFilter::keep_all());
        let message = result.unwrap_err().to_string();
        assert!(
            message.contains("proc/net/dev")
                && message.contains("line 5")
                && message.contains("line 8"),
            "{message}"
        );
        assert_eq!(
            set.get("node_network_receive_bytes_total")
                .unwrap()
                .samples
                .len(),
            2
        );
        assert_eq!(
            value(&set, "node_network_receive_bytes_total", "eth0"),
            Some(123_456_789.0)
        );
    }
}
