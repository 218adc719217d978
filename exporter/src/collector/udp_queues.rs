//! `udp_queues`: memory queued on UDP sockets, from `<procfs>/net/udp` and `<procfs>/net/udp6`,
//! exported as node_exporter 1.12 does: `node_udp_queues{ip="v4"|"v6",queue="tx"|"rx"}`, the sums
//! of the `tx_queue` and `rx_queue` columns over every socket of the file, in bytes
//! (`sk_wmem_alloc_get()` and `udp_rqueue_get()` in net/ipv4/udp.c and net/ipv6/datagram.c).
//!
//! Each file has a header line, then one line per socket:
//! `sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ...`,
//! addresses as hexadecimal `ADDR:PORT` (8 hex digits for IPv4, 32 for IPv6). As prometheus/procfs
//! does for node_exporter, every socket line must have at least 10 columns and well-formed `sl`,
//! addresses, state, queues, uid and inode, or the file is not summed: a sum that skipped a socket
//! would be wrong without saying so. The other file is still published, and the error names the
//! bad lines.
//!
//! A missing file (IPv6 disabled, or IPv4 in an IPv6-only namespace) is no data, not an error.
//! node_exporter reports a collector with neither file as failed ("no data"); here that is a
//! success with no samples, as the other collectors of this exporter treat a missing feature.

use std::io::ErrorKind;

use super::{BuildContext, CollectError, Collector, Registration, Roots};
use crate::metrics::MetricSet;

pub const REGISTRATION: Registration = Registration {
    name: "udp_queues",
    default_enabled: true,
    help: "memory queued on UDP sockets from /proc/net/udp and /proc/net/udp6",
    flags: super::no_flags,
    cadence: super::Cadence::Slow,
    isolation: super::Isolation::Inline,
    build,
};

fn build(ctx: &BuildContext) -> Result<Box<dyn Collector>, String> {
    Ok(Box::new(UdpQueuesCollector {
        roots: ctx.roots.clone(),
    }))
}

/// The sums of one file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueSums {
    pub tx: u64,
    pub rx: u64,
    pub sockets: u64,
}

/// Sums the queues of /proc/net/udp or /proc/net/udp6 (the first line is the header). The error
/// names the first malformed line and how many more there were.
pub fn parse(text: &str) -> Result<QueueSums, String> {
    let mut sums = QueueSums::default();
    let mut bad = Vec::new();
    for (index, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        match parse_line(line) {
            Ok((tx, rx)) => {
                // u64 as in procfs; bytes queued on sockets cannot come near it.
                sums.tx = sums.tx.wrapping_add(tx);
                sums.rx = sums.rx.wrapping_add(rx);
                sums.sockets += 1;
            }
            Err(why) => bad.push(format!("line {}: {why}", index + 1)),
        }
    }
    if bad.is_empty() {
        Ok(sums)
    } else {
        Err(super::malformed_summary(&bad))
    }
}

fn hex(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(s, 16).ok()
}

fn decimal(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `0100007F:0035`: an IPv4 (8 hex digits) or IPv6 (32) address and a hexadecimal port.
fn address(s: &str) -> bool {
    s.split_once(':').is_some_and(|(addr, port)| {
        (addr.len() == 8 || addr.len() == 32)
            && addr.bytes().all(|b| b.is_ascii_hexdigit())
            && hex(port).is_some()
    })
}

/// One socket line: its tx and rx queue.
fn parse_line(line: &str) -> Result<(u64, u64), String> {
    let fields: Vec<&str> = line.split_ascii_whitespace().take(10).collect();
    if fields.len() < 10 {
        return Err(format!(
            "expected at least 10 columns, found {}",
            fields.len()
        ));
    }
    let column = |i: usize, what: &str| format!("{what} {:?} is malformed", fields[i]);
    if fields[0].strip_suffix(':').and_then(decimal).is_none() {
        return Err(column(0, "sl"));
    }
    if !address(fields[1]) {
        return Err(column(1, "local_address"));
    }
    if !address(fields[2]) {
        return Err(column(2, "rem_address"));
    }
    if hex(fields[3]).is_none() {
        return Err(column(3, "st"));
    }
    let (tx, rx) = fields[4]
        .split_once(':')
        .and_then(|(tx, rx)| Some((hex(tx)?, hex(rx)?)))
        .ok_or_else(|| column(4, "tx_queue:rx_queue"))?;
    if decimal(fields[7]).is_none() {
        return Err(column(7, "uid"));
    }
    if decimal(fields[9]).is_none() {
        return Err(column(9, "inode"));
    }
    Ok((tx, rx))
}

pub struct UdpQueuesCollector {
    roots: Roots,
}

impl Collector for UdpQueuesCollector {
    fn collect(&self, out: &mut MetricSet) -> Result<(), CollectError> {
        let mut errors = Vec::new();
        for (file, ip) in [("net/udp", "v4"), ("net/udp6", "v6")] {
            let path = self.roots.proc(file);
            let text = match crate::collector::read_text(&path) {
                Ok(text) => text,
                Err(e) if e.kind() == ErrorKind::NotFound => continue,
                Err(e) => {
                    errors.push(CollectError::io(path, e));
                    continue;
                }
            };
            match parse(&text) {
                Ok(sums) => {
                    let family = out.gauge(
                        "node_udp_queues",
                        "Memory the kernel holds for queued UDP datagrams, in bytes (sum over the sockets).",
                    );
                    family.sample(&[("ip", ip), ("queue", "rx")], sums.rx as f64);
                    family.sample(&[("ip", ip), ("queue", "tx")], sums.tx as f64);
                }
                Err(why) => errors.push(CollectError::parse(path, why)),
            }
        }
        super::first_error(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::fixture_roots;
    use proptest::prelude::*;

    const UDP: &str = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops             \n\
  123: 3500007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000   991        0 20614 2 0000000000000000 0           \n\
  301: 00000000:14E9 00000000:0000 07 00000000:00000A00 00:00000000 00000000   108        0 24127 2 0000000000000000 0           \n\
 1021: 0B02A8C0:9F3A 08080808:0035 01 00000340:00000000 00:00000000 00000000  1000        0 318201 2 0000000000000000 0          \n";

    #[test]
    fn sums_the_queues() {
        assert_eq!(
            parse(UDP),
            Ok(QueueSums {
                tx: 0x340,
                rx: 0xA00,
                sockets: 3
            })
        );
        // The header alone: no sockets.
        assert_eq!(parse(UDP.lines().next().unwrap()), Ok(QueueSums::default()));
        assert_eq!(parse(""), Ok(QueueSums::default()));
    }

    #[test]
    fn ipv6_lines() {
        let text = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n\
  330: 00000000000000000000000000000000:14E9 00000000000000000000000000000000:0000 07 00000000:00000100 00:00000000 00000000   108        0 24128 2 0000000000000000 0\n";
        assert_eq!(
            parse(text),
            Ok(QueueSums {
                tx: 0,
                rx: 0x100,
                sockets: 1
            })
        );
    }

    #[test]
    fn malformed_lines_fail_the_file() {
        let header = "sl local rem st q tr retr uid timeout inode\n";
        for (line, expected) in [
            (
                "1: 0100007F:0035 00000000:0000 07 00000000:00000000",
                "expected at least 10 columns, found 5",
            ),
            (
                "x: 0100007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000 0 0 1",
                "sl \"x:\"",
            ),
            (
                "1: 0100007F0035 00000000:0000 07 00000000:00000000 00:00000000 00000000 0 0 1",
                "local_address",
            ),
            (
                "1: 0100007F:0035 000000:0000 07 00000000:00000000 00:00000000 00000000 0 0 1",
                "rem_address",
            ),
            (
                "1: 0100007F:0035 00000000:0000 zz 00000000:00000000 00:00000000 00000000 0 0 1",
                "st",
            ),
            (
                "1: 0100007F:0035 00000000:0000 07 00000000-00000000 00:00000000 00000000 0 0 1",
                "tx_queue:rx_queue",
            ),
            (
                "1: 0100007F:0035 00000000:0000 07 00000000:0000000g 00:00000000 00000000 0 0 1",
                "tx_queue:rx_queue",
            ),
            (
                "1: 0100007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000 -1 0 1",
                "uid",
            ),
            (
                "1: 0100007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000 0 0 x",
                "inode",
            ),
        ] {
            let err = parse(&format!("{header}{line}\n")).unwrap_err();
            assert!(
                err.starts_with("line 2: ") && err.contains(expected),
                "{line}: {err}"
            );
        }
        let err = parse(&format!("{header}1\n2\n3\n")).unwrap_err();
        assert!(err.ends_with("(and 2 more malformed lines)"), "{err}");
    }

    fn collect(machine: &str) -> (MetricSet, Result<(), CollectError>) {
        let collector = UdpQueuesCollector {
            roots: fixture_roots(machine),
        };
        let mut out = MetricSet::new();
        let result = collector.collect(&mut out);
        (out, result)
    }

    fn samples(set: &MetricSet) -> Vec<(String, String, f64)> {
        set.get("node_udp_queues")
            .map(|f| {
                f.samples
                    .iter()
                    .map(|s| (s.labels[0].1.clone(), s.labels[1].1.clone(), s.value))
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn fixtures() {
        let (set, result) = collect("laptop");
        result.unwrap();
        let got = samples(&set);
        assert_eq!(got.len(), 4);
        assert_eq!(
            got.iter()
                .map(|(ip, q, _)| format!("{ip}/{q}"))
                .collect::<Vec<_>>(),
            ["v4/rx", "v4/tx", "v6/rx", "v6/tx"]
        );
        let (set, result) = collect("server");
        result.unwrap();
        assert!(samples(&set).iter().any(|(_, q, v)| q == "rx" && *v > 0.0));
        // No udp6 on the vm (IPv6 disabled): v4 only, no error.
        let (set, result) = collect("vm");
        result.unwrap();
        let got = samples(&set);
        assert!(got.len() == 2 && got.iter().all(|(ip, _, _)| ip == "v4"));
    }

    #[test]
    fn broken_fixture_publishes_no_partial_sum() {
        let (set, result) = collect("broken");
        let message = result.unwrap_err().to_string();
        assert!(message.contains("net/udp:"), "{message}");
        assert!(!samples(&set).iter().any(|(ip, _, _)| ip == "v4"));
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in "\\PC*(\n\\PC*){0,6}") {
            let _ = parse(&text);
        }

        #[test]
        fn generated_sockets_sum_back(
            sockets in prop::collection::vec(
                (any::<u32>(), any::<u16>(), any::<u32>(), any::<u32>(), any::<u32>(), any::<bool>()),
                0..40,
            )
        ) {
            let mut text = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n".to_string();
            for (i, (addr, port, tx, rx, inode, v6)) in sockets.iter().enumerate() {
                let local = if *v6 { format!("{addr:032X}") } else { format!("{addr:08X}") };
                text.push_str(&format!(
                    "{i:5}: {local}:{port:04X} 00000000:0000 07 {tx:08X}:{rx:08X} 00:00000000 00000000 {:5} {:8} {inode} 2 0000000000000000 0\n",
                    1000, 0
                ));
            }
            let sums = parse(&text).unwrap();
            prop_assert_eq!(sums.sockets, sockets.len() as u64);
            prop_assert_eq!(sums.tx, sockets.iter().map(|s| s.2 as u64).sum::<u64>());
            prop_assert_eq!(sums.rx, sockets.iter().map(|s| s.3 as u64).sum::<u64>());
        }
    }
}
