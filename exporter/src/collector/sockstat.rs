//! `sockstat`: socket counts and memory from `<procfs>/net/sockstat` and `<procfs>/net/sockstat6`,
//! as node_exporter 1.12 exports them: `node_sockstat_sockets_used` from the `sockets: used` line,
//! and one gauge `node_sockstat_<PROTOCOL>_<key>` for each of the keys `inuse`, `orphan`, `tw`,
//! `alloc`, `mem` and `memory` a protocol line has (`TCP: inuse 12 orphan 0 tw 3 alloc 20 mem 4`;
//! `inuse` is exported even when the line lacks it, as 0, as node_exporter does). Other keys are
//! ignored.
//!
//! `mem` is in pages (net/ipv4/proc.c prints `proto_memory_allocated()`, counted in pages), so a
//! protocol with `mem` also gets `node_sockstat_<PROTOCOL>_mem_bytes`, `mem` times the page size.
//! Like node_exporter (`os.Getpagesize()`), the page size is the one of the kernel the exporter runs
//! on, not read from `--path.procfs`: the files describe the same kernel in every real deployment
//! (a container reading the host's /proc shares its kernel), and /proc has no page size to read.
//! For a fixture tree it means `mem_bytes` depends on the test host (4 KiB on x86-64, 16 or 64 KiB
//! on some arm64 kernels); the golden files mask it and the oracle compares it on the same host.
//!
//! Either file may be missing (IPv4 or IPv6 disabled): that is no data, not an error. A malformed
//! line is skipped and named in the error, the other lines published (node_exporter fails the
//! whole collector).

use std::io::ErrorKind;

use super::{BuildContext, CollectError, Collector, Registration, Roots};
use crate::metrics::MetricSet;

pub const REGISTRATION: Registration = Registration {
    name: "sockstat",
    default_enabled: true,
    help: "socket counts and memory from /proc/net/sockstat and /proc/net/sockstat6",
    flags: super::no_flags,
    cadence: super::Cadence::Slow,
    isolation: super::Isolation::Inline,
    build,
};

fn build(ctx: &BuildContext) -> Result<Box<dyn Collector>, String> {
    Ok(Box::new(SockstatCollector {
        roots: ctx.roots.clone(),
        page_size: procfs::page_size(),
    }))
}

/// The keys of a protocol line node_exporter exports, in its order.
pub const KEYS: [&str; 6] = ["inuse", "orphan", "tw", "alloc", "mem", "memory"];

/// One protocol line: its name and the value of each of [`KEYS`] it has.
#[derive(Debug, Clone, PartialEq)]
pub struct Protocol<'a> {
    pub name: &'a str,
    pub values: [Option<i64>; 6],
}

impl Protocol<'_> {
    pub fn get(&self, key: &str) -> Option<i64> {
        KEYS.iter()
            .position(|k| *k == key)
            .and_then(|i| self.values[i])
    }
}

/// One parsed sockstat file.
#[derive(Debug, Default, PartialEq)]
pub struct Sockstat<'a> {
    /// `sockets: used N` (IPv4 file only).
    pub used: Option<i64>,
    pub protocols: Vec<Protocol<'a>>,
    pub bad_lines: Vec<String>,
}

/// Parses a sockstat file: `<PROTOCOL>: key value [key value ...]` lines.
pub fn parse(text: &str) -> Sockstat<'_> {
    let mut out = Sockstat::default();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let line_no = index + 1;
        match parse_line(line) {
            Ok((name, values, used)) => {
                if name == "sockets" {
                    out.used = Some(used.unwrap_or(0));
                } else if out.protocols.iter().any(|p| p.name == name) {
                    out.bad_lines
                        .push(format!("line {line_no}: {name} appears a second time"));
                } else {
                    out.protocols.push(Protocol { name, values });
                }
            }
            Err(why) => out
                .bad_lines
                .push(format!("line {line_no}: {why}: {:?}", line.trim())),
        }
    }
    out
}

type Line<'a> = (&'a str, [Option<i64>; 6], Option<i64>);

fn parse_line(line: &str) -> Result<Line<'_>, String> {
    let mut words = line.split_ascii_whitespace();
    let tag = words.next().unwrap_or_default();
    let name = tag.strip_suffix(':').unwrap_or(tag);
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(format!("{tag:?} is not a protocol name"));
    }
    let mut values = [None; 6];
    let mut used = None;
    let mut pairs = 0;
    while let Some(key) = words.next() {
        let value = words.next().ok_or_else(|| format!("{key} has no value"))?;
        let value: i64 = value
            .parse()
            .map_err(|_| format!("{key} is not an integer ({value:?})"))?;
        if let Some(i) = KEYS.iter().position(|k| *k == key) {
            values[i] = Some(value);
        } else if key == "used" {
            used = Some(value);
        }
        pairs += 1;
    }
    if pairs == 0 {
        return Err("no key/value pairs".to_string());
    }
    Ok((name, values, used))
}

pub struct SockstatCollector {
    roots: Roots,
    page_size: u64,
}

impl SockstatCollector {
    /// Adds the file's metrics; a protocol the other file had already is named in `bad_lines`.
    fn export(&self, out: &mut MetricSet, stat: &mut Sockstat, ipv6: bool) {
        if let (false, Some(used)) = (ipv6, stat.used) {
            out.gauge(
                "node_sockstat_sockets_used",
                "Sockets in use, of every address family (the sockets line of /proc/net/sockstat).",
            )
            .sample(&[], used as f64);
        }
        for protocol in &stat.protocols {
            if out
                .get(&format!("node_sockstat_{}_inuse", protocol.name))
                .is_some()
            {
                stat.bad_lines.push(format!(
                    "{} is in both sockstat files; kept the first",
                    protocol.name
                ));
                continue;
            }
            for (i, key) in KEYS.iter().enumerate() {
                let value = match (i, protocol.values[i]) {
                    // node_exporter always exports inuse.
                    (0, None) => 0,
                    (_, Some(v)) => v,
                    (_, None) => continue,
                };
                let name = protocol.name;
                out.gauge(
                    &format!("node_sockstat_{name}_{key}"),
                    &format!("Number of {name} sockets in state {key}."),
                )
                .sample(&[], value as f64);
            }
            if let Some(pages) = protocol.get("mem") {
                let name = protocol.name;
                out.gauge(
                    &format!("node_sockstat_{name}_mem_bytes"),
                    &format!("Memory of {name} sockets in bytes (mem pages times the page size)."),
                )
                .sample(&[], pages as f64 * self.page_size as f64);
            }
        }
    }
}

impl Collector for SockstatCollector {
    fn collect(&self, out: &mut MetricSet) -> Result<(), CollectError> {
        let mut errors = Vec::new();
        for (file, ipv6) in [("net/sockstat", false), ("net/sockstat6", true)] {
            let path = self.roots.proc(file);
            let text = match crate::collector::read_text(&path) {
                Ok(text) => text,
                // IPv4 or IPv6 disabled on this kernel.
                Err(e) if e.kind() == ErrorKind::NotFound => continue,
                Err(e) => {
                    errors.push(CollectError::io(path, e));
                    continue;
                }
            };
            let mut stat = parse(&text);
            self.export(out, &mut stat, ipv6);
            if let Err(e) = super::malformed_lines(&path, &stat.bad_lines) {
                errors.push(e);
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

    const SOCKSTAT: &str = "\
sockets: used 1392
TCP: inuse 61 orphan 0 tw 14 alloc 83 mem 9
UDP: inuse 12 mem 6
UDPLITE: inuse 0
RAW: inuse 1
FRAG: inuse 0 memory 0
";

    #[test]
    fn parses_kernel_format() {
        let s = parse(SOCKSTAT);
        assert!(s.bad_lines.is_empty(), "{:?}", s.bad_lines);
        assert_eq!(s.used, Some(1392));
        let names: Vec<_> = s.protocols.iter().map(|p| p.name).collect();
        assert_eq!(names, ["TCP", "UDP", "UDPLITE", "RAW", "FRAG"]);
        assert_eq!(
            s.protocols[0].values,
            [Some(61), Some(0), Some(14), Some(83), Some(9), None]
        );
        assert_eq!(s.protocols[4].get("memory"), Some(0));
        assert_eq!(s.protocols[1].get("tw"), None);
    }

    #[test]
    fn keeps_good_lines_and_names_bad_ones() {
        let s = parse("TCP: inuse 5 orphan\nUDP: inuse x mem 3\nRAW:\nTCP6: inuse 2\n: inuse 1\nTCP6: inuse 3\nUDP6: inuse 4 weird 7\n");
        let names: Vec<_> = s.protocols.iter().map(|p| p.name).collect();
        assert_eq!(names, ["TCP6", "UDP6"]);
        assert_eq!(s.protocols[1].get("inuse"), Some(4));
        assert_eq!(s.bad_lines.len(), 5, "{:?}", s.bad_lines);
        assert!(s.bad_lines[0].starts_with("line 1: orphan has no value"));
        assert!(s.bad_lines[1].starts_with("line 2: inuse is not an integer"));
        assert!(s.bad_lines[2].starts_with("line 3: no key/value pairs"));
        assert!(s.bad_lines[3].starts_with("line 5: \":\" is not a protocol name"));
        assert!(s.bad_lines[4].starts_with("line 6: TCP6 appears a second time"));
    }

    fn collect(machine: &str) -> (MetricSet, Result<(), CollectError>) {
        let collector = SockstatCollector {
            roots: fixture_roots(machine),
            page_size: 4096,
        };
        let mut out = MetricSet::new();
        let result = collector.collect(&mut out);
        (out, result)
    }

    fn value(set: &MetricSet, name: &str) -> Option<f64> {
        Some(set.get(name)?.samples[0].value)
    }

    #[test]
    fn laptop_fixture() {
        let (set, result) = collect("laptop");
        result.unwrap();
        assert!(value(&set, "node_sockstat_sockets_used").unwrap() > 0.0);
        let mem = value(&set, "node_sockstat_TCP_mem").unwrap();
        assert_eq!(
            value(&set, "node_sockstat_TCP_mem_bytes"),
            Some(mem * 4096.0)
        );
        assert!(value(&set, "node_sockstat_UDP_mem_bytes").is_some());
        assert!(value(&set, "node_sockstat_TCP6_inuse").is_some());
        assert!(value(&set, "node_sockstat_FRAG6_memory").is_some());
        // No orphan/tw/alloc on UDP, no mem on IPv6 lines.
        assert!(set.get("node_sockstat_UDP_tw").is_none());
        assert!(set.get("node_sockstat_TCP6_mem").is_none());
        assert!(set.families.iter().all(|f| f.samples.len() == 1));
    }

    #[test]
    fn page_size_comes_from_the_collector() {
        let collector = SockstatCollector {
            roots: fixture_roots("laptop"),
            page_size: 65536,
        };
        let mut set = MetricSet::new();
        collector.collect(&mut set).unwrap();
        let mem = value(&set, "node_sockstat_TCP_mem").unwrap();
        assert_eq!(
            value(&set, "node_sockstat_TCP_mem_bytes"),
            Some(mem * 65536.0)
        );
    }

    #[test]
    fn vm_without_ipv6_is_fine() {
        let (set, result) = collect("vm");
        result.unwrap();
        assert!(value(&set, "node_sockstat_TCP_inuse").is_some());
        assert!(!set.families.iter().any(|f| f.name.contains("6_")));
    }

    #[test]
    fn broken_fixture_keeps_good_lines() {
        let (set, result) = collect("broken");
        let message = result.unwrap_err().to_string();
        assert!(message.contains("net/sockstat:"), "{message}");
        assert!(message.contains("net/sockstat6"), "{message}");
        assert!(value(&set, "node_sockstat_sockets_used").is_some());
        assert!(value(&set, "node_sockstat_RAW_inuse").is_some());
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in "\\PC*(\n\\PC*){0,6}") {
            let s = parse(&text);
            for p in &s.protocols {
                prop_assert!(p.name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
            }
        }

        #[test]
        fn generated_lines_parse_back(
            used in any::<u32>(),
            protocols in prop::collection::btree_map(
                "[A-Z]{1,8}6?",
                prop::collection::vec(prop::option::of(any::<i64>()), 6),
                1..6,
            )
        ) {
            let mut text = format!("sockets: used {used}\n");
            for (name, values) in &protocols {
                text.push_str(name);
                text.push(':');
                // inuse always present, as the kernel prints it.
                let inuse = values[0].unwrap_or(0);
                text.push_str(&format!(" inuse {inuse}"));
                for (key, v) in KEYS.iter().zip(values).skip(1) {
                    if let Some(v) = v {
                        text.push_str(&format!(" {key} {v}"));
                    }
                }
                text.push('\n');
            }
            let s = parse(&text);
            prop_assert!(s.bad_lines.is_empty(), "{:?}", s.bad_lines);
            prop_assert_eq!(s.used, Some(used as i64));
            prop_assert_eq!(s.protocols.len(), protocols.len());
            for (p, (name, values)) in s.protocols.iter().zip(&protocols) {
                prop_assert_eq!(p.name, name.as_str());
                prop_assert_eq!(p.values[0], Some(values[0].unwrap_or(0)));
                prop_assert_eq!(&p.values[1..], &values[1..]);
            }
        }
    }
}
