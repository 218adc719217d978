//! `arp`: the number of IPv4 neighbour (ARP) entries per interface, from `<procfs>/net/arp`.
//!
//! node_exporter 1.12 reads the neighbour table over rtnetlink by default
//! (`--collector.arp.netlink`, default true) and then also exports `node_arp_states{device,state}`
//! (entries per NUD state). Netlink answers only for the live kernel's network namespace and cannot
//! be pointed at `--path.procfs` (a host's /proc mounted in a container, a fixture tree), so sysmon
//! always reads `<procfs>/net/arp`, node_exporter's `--no-collector.arp.netlink` path; the flag is
//! accepted and has no effect. /proc/net/arp shows ATF flags, not NUD states (a reachable, stale,
//! delay or probe entry all read "complete"), so `node_arp_states` is not exported. The kernel
//! prints /proc/net/arp from the same table and skips NOARP entries as node_exporter's netlink path
//! does, so `node_arp_entries` is the same either way.

use std::collections::BTreeMap;

use super::filter::DeviceFilter;
use super::{read_string, BuildContext, CollectError, Collector, Registration, Roots};
use crate::metrics::MetricSet;

pub const REGISTRATION: Registration = Registration {
    name: "arp",
    default_enabled: true,
    help: "ARP entries per interface from /proc/net/arp",
    flags: <Args as clap::Args>::augment_args,
    cadence: super::Cadence::Slow,
    isolation: super::Isolation::Inline,
    build,
};

/// Flags of the `arp` collector.
#[derive(Debug, Clone, clap::Args)]
#[group(id = "arp_flags")]
#[command(next_help_heading = "Collector arp")]
pub struct Args {
    /// Regexp of ARP devices to include (mutually exclusive to device-exclude).
    #[arg(
        long = "collector.arp.device-include",
        id = "arp_device_include",
        value_name = "REGEX"
    )]
    pub device_include: Option<String>,
    /// Regexp of ARP devices to exclude (mutually exclusive to device-include).
    #[arg(
        long = "collector.arp.device-exclude",
        id = "arp_device_exclude",
        value_name = "REGEX"
    )]
    pub device_exclude: Option<String>,
    /// Accepted for node_exporter compatibility and ignored: sysmon always reads <procfs>/net/arp,
    /// because netlink would read the live kernel and not --path.procfs (so node_arp_states, which
    /// node_exporter exports with netlink, is not exported).
    #[arg(
        long = "collector.arp.netlink",
        id = "arp_netlink",
        overrides_with = "arp_no_netlink"
    )]
    pub netlink: bool,
    /// Accepted for node_exporter compatibility; /proc/net/arp is read either way.
    #[arg(
        long = "no-collector.arp.netlink",
        id = "arp_no_netlink",
        overrides_with = "arp_netlink"
    )]
    pub no_netlink: bool,
}

fn build(ctx: &BuildContext) -> Result<Box<dyn Collector>, String> {
    let args: Args = ctx.args()?;
    // node_exporter's help calls the two flags mutually exclusive but applies both when both are
    // given; so does this.
    let filter = DeviceFilter::new(
        (
            "--collector.arp.device-include",
            args.device_include.as_deref(),
        ),
        (
            "--collector.arp.device-exclude",
            args.device_exclude.as_deref(),
        ),
    )?;
    Ok(Box::new(ArpCollector {
        roots: ctx.roots.clone(),
        filter,
    }))
}

/// Parses /proc/net/arp into the number of entries per device (sorted by device).
///
/// The kernel prints a header line (nine words: `IP address HW type Flags HW address Mask Device`)
/// and one line of six columns per entry: IP address, hardware type (`0x1`), flags (`0x2`),
/// hardware address, mask (`*`) and device. As prometheus/procfs, any line of another width, a
/// hardware address that is not one, or flags that are not a hexadecimal byte make the whole file
/// an error (a partial count per device would be a wrong value); blank lines are skipped.
pub fn parse(text: &str) -> Result<BTreeMap<String, u32>, String> {
    let mut entries: BTreeMap<String, u32> = BTreeMap::new();
    for (index, line) in text.lines().enumerate() {
        let mut columns = [""; 6];
        let mut width = 0;
        for field in line.split_whitespace() {
            if width < columns.len() {
                columns[width] = field;
            }
            width += 1;
        }
        match width {
            0 | 9 => continue,
            6 => {}
            _ => {
                return Err(format!(
                    "line {}: expected 6 columns, found {width}",
                    index + 1
                ))
            }
        }
        let [_ip, _hw_type, flags, hw_address, _mask, device] = columns;
        if !valid_hardware_address(hw_address) {
            return Err(format!(
                "line {}: {hw_address:?} is not a hardware address",
                index + 1
            ));
        }
        if parse_flags(flags).is_none() {
            return Err(format!(
                "line {}: flags {flags:?} are not a hexadecimal byte",
                index + 1
            ));
        }
        match entries.get_mut(device) {
            Some(count) => *count = count.saturating_add(1),
            None => {
                entries.insert(device.to_string(), 1);
            }
        }
    }
    Ok(entries)
}

/// The ATF flags column (`0x2`, `0x6`): a byte in hexadecimal with the `0x` prefix.
pub fn parse_flags(field: &str) -> Option<u8> {
    let digits = field
        .strip_prefix("0x")
        .or_else(|| field.strip_prefix("0X"))?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u8::from_str_radix(digits, 16).ok()
}

/// Whether `field` is a hardware address as Go's `net.ParseMAC` accepts one: 6, 8 or 20 bytes,
/// written as pairs of hexadecimal digits separated by `:` or `-`, or as groups of four separated by
/// `.`.
pub fn valid_hardware_address(field: &str) -> bool {
    let hex = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit());
    let bytes = if field.contains('.') {
        let groups = field.split('.');
        if !groups.clone().all(|g| hex(g, 4)) {
            return false;
        }
        groups.count() * 2
    } else {
        let separator = if field.contains('-') { '-' } else { ':' };
        let pairs = field.split(separator);
        if !pairs.clone().all(|p| hex(p, 2)) {
            return false;
        }
        pairs.count()
    };
    matches!(bytes, 6 | 8 | 20)
}

pub struct ArpCollector {
    roots: Roots,
    filter: DeviceFilter,
}

impl Collector for ArpCollector {
    fn collect(&self, out: &mut MetricSet) -> Result<(), CollectError> {
        let path = self.roots.proc("net/arp");
        let entries = parse(&read_string(&path)?).map_err(|why| CollectError::parse(&path, why))?;
        let family = out.gauge("node_arp_entries", "ARP entries by device.");
        for (device, count) in entries.iter().filter(|(d, _)| !self.filter.ignored(d)) {
            family.sample(&[("device", device)], f64::from(*count));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::fixture_roots;
    use proptest::prelude::*;

    const HEADER: &str =
        "IP address       HW type     Flags       HW address            Mask     Device";

    #[test]
    fn counts_entries_per_device() {
        let text = format!(
            "{HEADER}\n\
             192.168.1.1      0x1         0x2         a4:91:b1:22:33:44     *        wlp0s20f3\n\
             192.168.1.23     0x1         0x0         00:00:00:00:00:00     *        wlp0s20f3\n\
             172.17.0.2       0x1         0x2         02:42:ac:11:00:02     *        docker0\n\
             10.0.0.9         0x1         0xc         00:00:00:00:00:00     *        *\n"
        );
        let entries = parse(&text).unwrap();
        assert_eq!(
            entries.into_iter().collect::<Vec<_>>(),
            [
                ("*".to_string(), 1),
                ("docker0".to_string(), 1),
                ("wlp0s20f3".to_string(), 2)
            ]
        );
        assert!(parse(HEADER).unwrap().is_empty());
        assert!(parse("").unwrap().is_empty());
    }

    #[test]
    fn a_bad_line_spoils_the_file() {
        let short = format!("{HEADER}\n192.168.1.1 0x1 0x2 a4:91:b1:22:33:44 *\n");
        assert_eq!(
            parse(&short).unwrap_err(),
            "line 2: expected 6 columns, found 5"
        );
        let mac = format!("{HEADER}\n192.168.1.1 0x1 0x2 a4:91:b1:22:33 * eth0\n");
        assert!(parse(&mac).unwrap_err().contains("not a hardware address"));
        let flags = format!("{HEADER}\n192.168.1.1 0x1 0x100 a4:91:b1:22:33:44 * eth0\n");
        assert!(parse(&flags).unwrap_err().contains("flags \"0x100\""));
    }

    #[test]
    fn hardware_addresses_and_flags() {
        for good in [
            "a4:91:b1:22:33:44",
            "A4-91-B1-22-33-44",
            "a491.b122.3344",
            "00:00:00:00:00:00:00:01",
            "80:00:02:08:fe:80:00:00:00:00:00:00:00:02:c9:03:00:a1:b2:c3",
        ] {
            assert!(valid_hardware_address(good), "{good}");
        }
        for bad in [
            "",
            "a4:91:b1:22:33",
            "a4:91:b1:22:33:4",
            "a4:91:b1:22:33:zz",
            "a4:91-b1:22:33:44",
            "a491.b122.334",
            "a4:91:b1:22:33:44:55",
        ] {
            assert!(!valid_hardware_address(bad), "{bad}");
        }
        assert_eq!(parse_flags("0x2"), Some(2));
        assert_eq!(parse_flags("0xff"), Some(255));
        assert_eq!(parse_flags("2"), None);
        assert_eq!(parse_flags("0x"), None);
        assert_eq!(parse_flags("0x+2"), None);
    }

    fn collect(machine: &str, filter: DeviceFilter) -> (MetricSet, Result<(), CollectError>) {
        let collector = ArpCollector {
            roots: fixture_roots(machine),
            filter,
        };
        let mut out = MetricSet::new();
        let result = collector.collect(&mut out);
        (out, result)
    }

    fn counts(set: &MetricSet) -> Vec<(String, f64)> {
        set.get("node_arp_entries")
            .unwrap()
            .samples
            .iter()
            .map(|s| (s.labels[0].1.clone(), s.value))
            .collect()
    }

    #[test]
    fn server_fixture() {
        let (set, result) = collect("server", DeviceFilter::keep_all());
        result.unwrap();
        assert_eq!(
            counts(&set),
            [
                ("bond0".to_string(), 3.0),
                ("bond0.100".to_string(), 14.0),
                ("br0".to_string(), 2.0),
                ("eno3".to_string(), 1.0)
            ]
        );
        let filter = DeviceFilter::new(("i", Some("^bond")), ("e", Some(r"\."))).unwrap();
        let (set, _) = collect("server", filter);
        assert_eq!(counts(&set), [("bond0".to_string(), 3.0)]);
    }

    #[test]
    fn broken_fixture_is_an_error() {
        let (set, result) = collect("broken", DeviceFilter::keep_all());
        let message = result.unwrap_err().to_string();
        assert!(
            message.contains("net/arp") && message.contains("line 3"),
            "{message}"
        );
        assert!(set.families.is_empty());
    }

    #[test]
    fn flags_are_accepted() {
        use clap::FromArgMatches;
        let cli = crate::cli::try_parse(&[
            "x",
            "--no-collector.arp.netlink",
            "--collector.arp.device-include=^bond",
            "--collector.arp.device-exclude=100",
        ])
        .unwrap();
        let args = Args::from_arg_matches(&cli.matches).unwrap();
        assert!(args.no_netlink && !args.netlink);
        assert_eq!(args.device_include.as_deref(), Some("^bond"));
        assert!(crate::cli::try_parse(&["x", "--collector.arp.netlink"]).is_ok());
    }

    fn mac() -> impl Strategy<Value = String> {
        proptest::collection::vec(any::<u8>(), 6).prop_map(|b| {
            b.iter()
                .map(|x| format!("{x:02x}"))
                .collect::<Vec<_>>()
                .join(":")
        })
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in "\\PC*") {
            let _ = parse(&text);
            let _ = valid_hardware_address(&text);
            let _ = parse_flags(&text);
        }

        #[test]
        fn generated_tables_count_back(
            rows in proptest::collection::vec(
                ("[a-z][a-z0-9.]{0,14}", any::<[u8; 4]>(), mac(), prop_oneof![Just(0u8), Just(2), Just(6), Just(0xc)]),
                0..40,
            ),
        ) {
            let mut text = format!("{HEADER}\n");
            let mut want: BTreeMap<String, u32> = BTreeMap::new();
            for (device, ip, hw, flags) in &rows {
                let ip = std::net::Ipv4Addr::from(*ip).to_string();
                text.push_str(&format!("{ip:<16} 0x{:<10x}0x{flags:<10x}{hw:<17}     {:<8} {device}\n", 1, "*"));
                *want.entry(device.clone()).or_default() += 1;
            }
            prop_assert_eq!(parse(&text), Ok(want));
        }
    }
}
