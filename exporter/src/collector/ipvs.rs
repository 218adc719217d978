//! `ipvs`: the IP Virtual Server load balancer from `<procfs>/net/ip_vs_stats` and
//! `<procfs>/net/ip_vs` (the layouts of `ip_vs_stats_show` and `ip_vs_info_seq_show` in the
//! kernel's net/netfilter/ipvs/ip_vs_ctl.c), as node_exporter 1.12's `ipvs_linux.go` (enabled by
//! default) exports them:
//!
//! * `node_ipvs_connections_total`, `_incoming_packets_total`, `_outgoing_packets_total`,
//!   `_incoming_bytes_total`, `_outgoing_bytes_total`: the totals (hexadecimal) of the third line
//!   of `ip_vs_stats`;
//! * `node_ipvs_backend_connections_active`, `_backend_connections_inactive`, `_backend_weight`:
//!   gauges per real server of each virtual service, labelled with the labels chosen by
//!   `--collector.ipvs.backend-labels` (default and full set, in this order: `local_address`,
//!   `local_port`, `remote_address`, `remote_port`, `proto`, `local_mark`). Backends whose chosen
//!   labels are equal are summed. A firewall-mark service (`FWM`) has an empty `local_address`,
//!   `local_port` 0 and its mark as the kernel prints it (`%08X`) in `local_mark`; the others have
//!   an empty `local_mark`. Addresses are written as Go writes them (IPv6 compressed, IPv4-mapped
//!   IPv6 as dotted IPv4).
//!
//! The flag is validated as node_exporter does: empty items are ignored, duplicates collapse,
//! the order is always the one above, and unknown labels stop the start naming them.
//!
//! No `ip_vs_stats` (the ip_vs module is not loaded) is no data. Malformed files fail the
//! collector: a malformed `ip_vs_stats` leaves the backends unread (as node_exporter), a
//! malformed service or real-server line in `ip_vs` is named in the error while the other lines
//! are published (node_exporter publishes no backend then). Differences: SCTP services (`SCTP`
//! lines) are read as services; node_exporter's library knows only TCP, UDP and FWM, and counts the
//! real servers of an SCTP service under the service listed before it.

use std::io::ErrorKind;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{read_string, BuildContext, CollectError, Collector, Registration, Roots};
use crate::metrics::MetricSet;

pub const REGISTRATION: Registration = Registration {
    name: "ipvs",
    default_enabled: true,
    help: "IPVS load balancer statistics from /proc/net/ip_vs and ip_vs_stats",
    flags: <Args as clap::Args>::augment_args,
    cadence: super::Cadence::Slow,
    isolation: super::Isolation::Inline,
    build,
};

/// Every backend label, in the order node_exporter always uses.
pub const FULL_LABELS: [&str; 6] = [
    "local_address",
    "local_port",
    "remote_address",
    "remote_port",
    "proto",
    "local_mark",
];

#[derive(clap::Args, Debug, Clone)]
#[group(id = "ipvs_flags")]
#[command(next_help_heading = "Collector ipvs")]
pub struct Args {
    /// Comma separated list for IPVS backend stats labels.
    #[arg(
        long = "collector.ipvs.backend-labels",
        id = "ipvs_backend_labels",
        value_name = "LABELS",
        default_value = "local_address,local_port,remote_address,remote_port,proto,local_mark"
    )]
    pub backend_labels: String,
}

fn build(ctx: &BuildContext) -> Result<Box<dyn Collector>, String> {
    let args: Args = ctx.args()?;
    Ok(Box::new(IpvsCollector {
        roots: ctx.roots.clone(),
        labels: parse_labels(&args.backend_labels)?,
    }))
}

/// Validates `--collector.ipvs.backend-labels`: the chosen labels in [`FULL_LABELS`] order, or the
/// unknown ones (sorted) in node_exporter's message.
pub fn parse_labels(text: &str) -> Result<Vec<&'static str>, String> {
    let given: Vec<&str> = text.split(',').filter(|l| !l.is_empty()).collect();
    let mut unknown: Vec<&str> = given
        .iter()
        .copied()
        .filter(|l| !FULL_LABELS.contains(l))
        .collect();
    if !unknown.is_empty() {
        unknown.sort_unstable();
        unknown.dedup();
        return Err(format!(
            "unknown IPVS backend labels: {:?}",
            unknown.join(", ")
        ));
    }
    Ok(FULL_LABELS
        .iter()
        .copied()
        .filter(|l| given.contains(l))
        .collect())
}

pub struct IpvsCollector {
    roots: Roots,
    labels: Vec<&'static str>,
}

/// The totals of `ip_vs_stats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Totals {
    pub connections: u64,
    pub incoming_packets: u64,
    pub outgoing_packets: u64,
    pub incoming_bytes: u64,
    pub outgoing_bytes: u64,
}

/// Parses `ip_vs_stats`: the third line holds the five totals in hexadecimal. As node_exporter's
/// library, the file must have at least three line breaks.
pub fn parse_stats(text: &str) -> Result<Totals, String> {
    let mut lines = text.splitn(4, '\n');
    let (Some(_), Some(_), Some(third), Some(_)) =
        (lines.next(), lines.next(), lines.next(), lines.next())
    else {
        return Err("too short: expected the totals on line 3".to_string());
    };
    let fields: Vec<&str> = third.split_whitespace().collect();
    let [conns, inpkts, outpkts, inbytes, outbytes] = fields[..] else {
        return Err(format!(
            "line 3: expected 5 hexadecimal totals, found {third:?}"
        ));
    };
    let hex = |f: &str| -> Result<u64, String> {
        if f.is_empty() || !f.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!(
                "line 3: expected a hexadecimal number, found {f:?}"
            ));
        }
        u64::from_str_radix(f, 16).map_err(|_| format!("line 3: {f:?} is out of range"))
    };
    Ok(Totals {
        connections: hex(conns)?,
        incoming_packets: hex(inpkts)?,
        outgoing_packets: hex(outpkts)?,
        incoming_bytes: hex(inbytes)?,
        outgoing_bytes: hex(outbytes)?,
    })
}

/// One real server of a virtual service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backend {
    /// The service's address, `None` for a firewall-mark service.
    pub local_address: Option<IpAddr>,
    pub local_port: u16,
    /// The firewall mark as printed (`%08X`), empty for an address service.
    pub local_mark: String,
    /// `TCP`, `UDP`, `SCTP` or `FWM`.
    pub proto: String,
    pub remote_address: IpAddr,
    pub remote_port: u16,
    pub weight: u64,
    pub active: u64,
    pub inactive: u64,
}

/// Parses an `ADDRESS:PORT` of `ip_vs`: `%08X:%04X` for IPv4 (13 characters) or `[%pI6]:%04X`
/// (46 characters, the address in full) for IPv6.
pub fn parse_address_port(s: &str) -> Option<(IpAddr, u16)> {
    let (address, port) = match s.len() {
        13 => {
            let hex = s.get(..8)?;
            let port = s.get(8..)?.strip_prefix(':')?;
            if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            let v = u32::from_str_radix(hex, 16).ok()?;
            (IpAddr::V4(Ipv4Addr::from(v)), port)
        }
        46 => {
            let inner = s.strip_prefix('[')?.get(..39)?;
            let port = s.get(40..)?.strip_prefix("]:")?;
            (IpAddr::V6(inner.parse::<Ipv6Addr>().ok()?), port)
        }
        _ => return None,
    };
    if port.len() != 4 || !port.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Some((address, u16::from_str_radix(port, 16).ok()?))
}

/// An address as Go's `net.IP.String()` writes it: IPv4-mapped IPv6 addresses as dotted IPv4.
pub fn go_ip_string(ip: &IpAddr) -> String {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => v6.to_string(),
        },
        IpAddr::V4(v4) => v4.to_string(),
    }
}

/// The parsed `ip_vs`: every real server, and the malformed lines (1-based number and why).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Services {
    pub backends: Vec<Backend>,
    pub bad_lines: Vec<String>,
}

/// Parses `ip_vs`. Header lines are skipped; a service line (`TCP`/`UDP`/`SCTP ADDR:PORT ...` or
/// `FWM MARK ...`) sets the service of the real-server lines (`-> ADDR:PORT Forward Weight
/// ActiveConn InActConn`) that follow. Real-server lines before any service, or after a malformed
/// one, are reported; lines of other shapes are ignored, as node_exporter's library does.
pub fn parse_services(text: &str) -> Services {
    let mut out = Services::default();
    // (proto, address, port, mark) of the current service; None before the first or after a bad one.
    let mut service: Option<(String, Option<IpAddr>, u16, String)> = None;
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let mut fields = line.split_whitespace();
        let Some(first) = fields.next() else { continue };
        let second = fields.next();
        if first == "IP" || first == "Prot" || second == Some("RemoteAddress:Port") {
            continue;
        }
        match first {
            "TCP" | "UDP" | "SCTP" => {
                let Some(second) = second else { continue };
                service = match parse_address_port(second) {
                    Some((address, port)) => {
                        Some((first.to_string(), Some(address), port, String::new()))
                    }
                    None => {
                        out.bad_lines.push(format!(
                            "line {number}: expected a service address, found {second:?}"
                        ));
                        None
                    }
                };
            }
            "FWM" => {
                let Some(second) = second else { continue };
                service = Some((first.to_string(), None, 0, second.to_string()));
            }
            "->" => {
                let rest: Vec<&str> = fields.collect();
                // `-> ADDR:PORT Forward Weight ActiveConn InActConn`
                let (Some(second), [_, weight, active, inactive, ..]) = (second, rest.as_slice())
                else {
                    continue;
                };
                let Some((proto, local_address, local_port, local_mark)) = &service else {
                    out.bad_lines.push(format!(
                        "line {number}: a real server without a valid service before it"
                    ));
                    continue;
                };
                let Some((remote_address, remote_port)) = parse_address_port(second) else {
                    out.bad_lines.push(format!(
                        "line {number}: expected a real server address, found {second:?}"
                    ));
                    continue;
                };
                let num = |f: &str| -> Option<u64> {
                    f.bytes()
                        .all(|b| b.is_ascii_digit())
                        .then(|| f.parse().ok())
                        .flatten()
                };
                let (Some(weight), Some(active), Some(inactive)) =
                    (num(weight), num(active), num(inactive))
                else {
                    out.bad_lines.push(format!(
                        "line {number}: expected weight, active and inactive connection counts, found {line:?}"
                    ));
                    continue;
                };
                out.backends.push(Backend {
                    local_address: *local_address,
                    local_port: *local_port,
                    local_mark: local_mark.clone(),
                    proto: proto.clone(),
                    remote_address,
                    remote_port,
                    weight,
                    active,
                    inactive,
                });
            }
            _ => {}
        }
    }
    out
}

impl IpvsCollector {
    /// The values of the chosen labels for one backend.
    fn label_values(&self, b: &Backend) -> Vec<String> {
        self.labels
            .iter()
            .map(|label| match *label {
                "local_address" => b
                    .local_address
                    .as_ref()
                    .map(go_ip_string)
                    .unwrap_or_default(),
                "local_port" => b.local_port.to_string(),
                "remote_address" => go_ip_string(&b.remote_address),
                "remote_port" => b.remote_port.to_string(),
                "proto" => b.proto.clone(),
                _ => b.local_mark.clone(),
            })
            .collect()
    }
}

impl Collector for IpvsCollector {
    fn collect(&self, out: &mut MetricSet) -> Result<(), CollectError> {
        let stats_path = self.roots.proc("net/ip_vs_stats");
        let stats = match crate::collector::read_text(&stats_path) {
            Ok(text) => text,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(CollectError::io(&stats_path, e)),
        };
        let totals = parse_stats(&stats).map_err(|m| CollectError::parse(&stats_path, m))?;
        for (name, help, v) in [
            (
                "node_ipvs_connections_total",
                "The total number of connections made.",
                totals.connections,
            ),
            (
                "node_ipvs_incoming_packets_total",
                "The total number of incoming packets.",
                totals.incoming_packets,
            ),
            (
                "node_ipvs_outgoing_packets_total",
                "The total number of outgoing packets.",
                totals.outgoing_packets,
            ),
            (
                "node_ipvs_incoming_bytes_total",
                "The total amount of incoming data.",
                totals.incoming_bytes,
            ),
            (
                "node_ipvs_outgoing_bytes_total",
                "The total amount of outgoing data.",
                totals.outgoing_bytes,
            ),
        ] {
            out.counter(name, help).sample(&[], v as f64);
        }

        let services_path = self.roots.proc("net/ip_vs");
        let services = parse_services(&read_string(&services_path)?);
        // Sum the backends whose chosen labels are equal, keeping the order of first appearance.
        let mut sums: Vec<(Vec<String>, [u64; 3])> = Vec::new();
        for b in &services.backends {
            let key = self.label_values(b);
            let index = match sums.iter().position(|(k, _)| *k == key) {
                Some(i) => i,
                None => {
                    sums.push((key, [0; 3]));
                    sums.len() - 1
                }
            };
            let sum = &mut sums[index].1;
            sum[0] = sum[0].wrapping_add(b.active);
            sum[1] = sum[1].wrapping_add(b.inactive);
            sum[2] = sum[2].wrapping_add(b.weight);
        }
        for (key, [active, inactive, weight]) in &sums {
            let labels: Vec<(&'static str, &str)> = self
                .labels
                .iter()
                .copied()
                .zip(key.iter().map(String::as_str))
                .collect();
            out.gauge(
                "node_ipvs_backend_connections_active",
                "The current active connections by local and remote address.",
            )
            .sample(&labels, *active as f64);
            out.gauge(
                "node_ipvs_backend_connections_inactive",
                "The current inactive connections by local and remote address.",
            )
            .sample(&labels, *inactive as f64);
            out.gauge(
                "node_ipvs_backend_weight",
                "The current backend weight by local and remote address.",
            )
            .sample(&labels, *weight as f64);
        }
        super::malformed_lines(&services_path, &services.bad_lines)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::fixture_roots;
    use proptest::prelude::*;

    fn collector(machine: &str, labels: &str) -> IpvsCollector {
        IpvsCollector {
            roots: fixture_roots(machine),
            labels: parse_labels(labels).unwrap(),
        }
    }

    fn collect(machine: &str, labels: &str) -> (MetricSet, Result<(), CollectError>) {
        let mut out = MetricSet::new();
        let r = collector(machine, labels).collect(&mut out);
        (out, r)
    }

    const ALL: &str = "local_address,local_port,remote_address,remote_port,proto,local_mark";

    fn find(out: &MetricSet, name: &str, want: &[(&str, &str)]) -> Vec<f64> {
        out.get(name)
            .map(|f| {
                f.samples
                    .iter()
                    .filter(|s| {
                        want.iter()
                            .all(|(k, v)| s.labels.iter().any(|(l, x)| l == k && x == v))
                    })
                    .map(|s| s.value)
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn label_flag_as_node_exporter() {
        assert_eq!(parse_labels(ALL).unwrap(), FULL_LABELS.to_vec());
        assert_eq!(
            parse_labels("proto,,local_port,proto").unwrap(),
            ["local_port", "proto"]
        );
        assert_eq!(parse_labels("").unwrap(), Vec::<&str>::new());
        assert_eq!(
            parse_labels("zone,proto,host,zone").unwrap_err(),
            "unknown IPVS backend labels: \"host, zone\""
        );
    }

    #[test]
    fn addresses() {
        assert_eq!(
            parse_address_port("C0A80A0A:0050"),
            Some(("192.168.10.10".parse().unwrap(), 80))
        );
        let v6 = "[2001:0db8:0000:0000:0000:0000:0000:0080]:01BB";
        assert_eq!(v6.len(), 46);
        let (ip, port) = parse_address_port(v6).unwrap();
        assert_eq!((go_ip_string(&ip), port), ("2001:db8::80".to_string(), 443));
        let mapped = "[0000:0000:0000:0000:0000:ffff:0a00:0001]:0050";
        let (ip, _) = parse_address_port(mapped).unwrap();
        assert_eq!(go_ip_string(&ip), "10.0.0.1");
        assert_eq!(parse_address_port("C0A80A0A:50"), None);
        assert_eq!(parse_address_port("C0A80A0G:0050"), None);
        assert_eq!(parse_address_port("C0A80A0A:+050"), None);
    }

    #[test]
    fn parses_stats() {
        let text = "   Total Incoming Outgoing         Incoming         Outgoing\n   Conns  Packets  Packets            Bytes            Bytes\n  1A2B3C  9F00AA1        0      1D4C92E3F10                0\n\n Conns/s   Pkts/s   Pkts/s          Bytes/s          Bytes/s\n      2F      5E1        0            5B0E3                0\n";
        let t = parse_stats(text).unwrap();
        assert_eq!(t.connections, 0x1A2B3C);
        assert_eq!(t.incoming_bytes, 0x1D4C92E3F10);
        assert!(parse_stats("a\nb\nc").is_err());
        assert!(parse_stats("a\nb\n1 2 3 4\n").is_err());
        assert!(parse_stats("a\nb\n1 2 3 4 -5\n").is_err());
    }

    #[test]
    fn server_load_balancer() {
        let (out, r) = collect("server", ALL);
        r.unwrap();
        assert!(out.get("node_ipvs_connections_total").unwrap().samples[0].value > 0.0);
        // The firewall-mark service: no address, port 0, the mark as printed.
        let fwm = find(
            &out,
            "node_ipvs_backend_weight",
            &[
                ("proto", "FWM"),
                ("local_address", ""),
                ("local_port", "0"),
                ("local_mark", "00000064"),
            ],
        );
        assert_eq!(fwm.len(), 2);
        // The IPv6 service.
        let v6 = find(
            &out,
            "node_ipvs_backend_connections_active",
            &[
                ("local_address", "2001:db8:100::80"),
                ("local_port", "443"),
                ("local_mark", ""),
            ],
        );
        assert_eq!(v6.len(), 2);
        // A drained real server (weight 0) is still listed.
        assert!(!find(
            &out,
            "node_ipvs_backend_weight",
            &[("remote_address", "10.20.1.13")]
        )
        .is_empty());
    }

    #[test]
    fn fewer_labels_sum_backends() {
        let (all, _) = collect("server", ALL);
        let (by_proto, r) = collect("server", "proto");
        r.unwrap();
        let total = |out: &MetricSet| -> f64 {
            out.get("node_ipvs_backend_connections_active")
                .unwrap()
                .samples
                .iter()
                .map(|s| s.value)
                .sum()
        };
        assert_eq!(total(&all), total(&by_proto));
        let protos = by_proto
            .get("node_ipvs_backend_connections_active")
            .unwrap();
        assert_eq!(protos.samples.len(), 3, "{protos:?}");
        assert!(protos.samples.iter().all(|s| s.labels.len() == 1));
    }

    #[test]
    fn no_ipvs_is_no_data() {
        for machine in ["laptop", "vm"] {
            let (out, r) = collect(machine, ALL);
            r.unwrap();
            assert_eq!(out.sample_count(), 0, "{machine}");
        }
    }

    #[test]
    fn broken_publishes_good_lines() {
        let (out, r) = collect("broken", ALL);
        let err = r.unwrap_err().to_string();
        assert!(
            err.contains("proc/net/ip_vs:") && err.contains("line 5"),
            "{err}"
        );
        assert!(out.get("node_ipvs_connections_total").is_some());
        assert_eq!(
            out.get("node_ipvs_backend_weight").unwrap().samples.len(),
            1
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_text_never_panics(text in "(\\PC{0,30}\n){0,6}") {
            let _ = parse_stats(&text);
            let _ = parse_services(&text);
            let _ = parse_labels(&text);
            let _ = parse_address_port(&text);
        }

        #[test]
        fn generated_files_parse_back(
            totals in proptest::array::uniform5(any::<u64>()),
            servers in proptest::collection::vec((any::<u32>(), any::<u16>(), any::<[u16; 8]>(), any::<u16>(), 0u64..1000, 0u64..100000, 0u64..100000), 1..5),
        ) {
            let stats = format!(
                "   Total Incoming Outgoing         Incoming         Outgoing\n   Conns  Packets  Packets            Bytes            Bytes\n{:8X} {:8X} {:8X} {:16X} {:16X}\n\n",
                totals[0], totals[1], totals[2], totals[3], totals[4]
            );
            let t = parse_stats(&stats).unwrap();
            prop_assert_eq!([t.connections, t.incoming_packets, t.outgoing_packets, t.incoming_bytes, t.outgoing_bytes], totals);

            let mut text = String::from("IP Virtual Server version 1.2.1 (size=4096)\nProt LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port Forward Weight ActiveConn InActConn\n");
            for (vip, vport, real, rport, w, a, i) in &servers {
                text += &format!("TCP  {vip:08X}:{vport:04X} wlc \n");
                let g: Vec<String> = real.iter().map(|g| format!("{g:04x}")).collect();
                text += &format!("  -> [{}]:{rport:04X}      Masq    {w:<6} {a:<10} {i:<10}\n", g.join(":"));
            }
            let parsed = parse_services(&text);
            prop_assert!(parsed.bad_lines.is_empty(), "{:?}", parsed.bad_lines);
            prop_assert_eq!(parsed.backends.len(), servers.len());
            for (b, (vip, vport, real, rport, w, a, i)) in parsed.backends.iter().zip(&servers) {
                prop_assert_eq!(b.local_address, Some(IpAddr::V4(Ipv4Addr::from(*vip))));
                prop_assert_eq!(b.local_port, *vport);
                prop_assert_eq!(b.remote_address, IpAddr::V6(Ipv6Addr::from(*real)));
                prop_assert_eq!((b.remote_port, b.weight, b.active, b.inactive), (*rport, *w, *a, *i));
            }
        }
    }
}
