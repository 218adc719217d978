//! `netstat`: the kernel's protocol counters from `<procfs>/net/netstat` (TcpExt, IpExt, MPTcpExt),
//! `<procfs>/net/snmp` (Ip, Icmp, IcmpMsg, Tcp, Udp, UdpLite) and `<procfs>/net/snmp6` (Ip6, Icmp6,
//! Udp6, UdpLite6), exported as node_exporter 1.12 does: one untyped metric per counter,
//! `node_netstat_<Protocol>_<Field>` (kernel spelling kept, so `node_netstat_TcpExt_ListenDrops`),
//! for the fields whose `<Protocol>_<Field>` matches `--collector.netstat.fields`.
//!
//! The first two files come as pairs of lines, a header naming the fields and a line of values,
//! both starting with the same `Protocol:` (net/ipv4/proc.c prints them so). snmp6 has one
//! `<Protocol6><Field> <value>` per line; as node_exporter, the protocol runs to the first `6`.
//! A kernel booted with IPv6 disabled has no snmp6: that is no data, not an error.
//!
//! Where a file is malformed this collector keeps every section it can read, names the others in
//! its error and publishes the rest, where node_exporter publishes nothing for the whole collector:
//!
//! * a section whose header and value line differ in length, or whose value line belongs to
//!   another protocol, is dropped whole (no value can be matched to its name);
//! * a value that is not an integer drops only that field. The kernel prints integers only
//!   (`%lu`, `%ld` for Tcp MaxConn, which is -1); node_exporter's `ParseFloat` would also take
//!   forms like `1e3` or `Inf` that no kernel writes.
//!
//! One more difference, invisible with the default field pattern: when a protocol has more than
//! one header/value pair (the kernel splits `IcmpMsg` into lines of 16 message types),
//! node_exporter keeps only the last pair, this collector all of them.

use std::collections::BTreeMap;
use std::io::ErrorKind;

use super::filter::NameMatcher;

use super::{BuildContext, CollectError, Collector, Registration, Roots};
use crate::metrics::{MetricSet, MetricType};

pub const REGISTRATION: Registration = Registration {
    name: "netstat",
    default_enabled: true,
    help: "network protocol counters from /proc/net/netstat, /proc/net/snmp and /proc/net/snmp6",
    flags: <Args as clap::Args>::augment_args,
    cadence: super::Cadence::Slow,
    isolation: super::Isolation::Inline,
    build,
};

/// node_exporter 1.12's default `--collector.netstat.fields`.
pub const DEFAULT_FIELDS: &str = "^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|Icmp6?_(InMsgs|OutMsgs)|TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|TCPTimeouts|TCPOFOQueue|TCPRcvQDrop)|Tcp_(ActiveOpens|InSegs|OutSegs|OutRsts|PassiveOpens|RetransSegs|CurrEstab)|Udp6?_(InDatagrams|OutDatagrams|NoPorts|RcvbufErrors|SndbufErrors))$";

/// Flags of the `netstat` collector.
#[derive(Debug, Clone, clap::Args)]
#[group(id = "netstat_flags")]
#[command(next_help_heading = "Collector netstat")]
pub struct Args {
    /// Regexp of the fields (`<Protocol>_<Field>`) to export, unanchored.
    #[arg(
        long = "collector.netstat.fields",
        id = "netstat_fields",
        value_name = "REGEX",
        default_value = DEFAULT_FIELDS
    )]
    pub fields: String,
}

fn build(ctx: &BuildContext) -> Result<Box<dyn Collector>, String> {
    let args: Args = ctx.args()?;
    let fields = NameMatcher::new(&args.fields).map_err(|e| {
        format!(
            "--collector.netstat.fields: invalid regular expression {:?}: {e}",
            args.fields
        )
    })?;
    Ok(Box::new(NetstatCollector {
        roots: ctx.roots.clone(),
        fields,
    }))
}

/// One counter: `Tcp` `CurrEstab` 12.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stat<'a> {
    pub protocol: &'a str,
    pub field: &'a str,
    pub value: f64,
}

/// What one file held: its counters in file order, and a description of each part that could not
/// be read.
#[derive(Debug, Default, PartialEq)]
pub struct Parsed<'a> {
    pub stats: Vec<Stat<'a>>,
    pub bad: Vec<String>,
}

/// A protocol or field name that can be part of a metric name.
fn valid_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A counter as the kernel prints it: an unsigned or (Tcp MaxConn) signed decimal integer.
pub fn parse_value(s: &str) -> Option<f64> {
    if let Ok(v) = s.parse::<u64>() {
        return Some(v as f64);
    }
    s.parse::<i64>().ok().map(|v| v as f64)
}

/// Parses /proc/net/netstat or /proc/net/snmp: pairs of `Protocol: Name Name ...` and
/// `Protocol: value value ...` lines.
pub fn parse_pairs(text: &str) -> Parsed<'_> {
    let mut out = Parsed::default();
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    while let Some((header_index, header)) = lines.next() {
        let header_no = header_index + 1;
        let mut names = header.split_ascii_whitespace();
        let tag = names.next().unwrap_or_default();
        let Some(protocol) = tag.strip_suffix(':').filter(|p| valid_name(p)) else {
            out.bad.push(format!(
                "line {header_no}: expected a header starting with \"<Protocol>:\", found {:?}",
                truncated(header)
            ));
            // The next line is its value line, if the file is in pairs at all.
            lines.next();
            continue;
        };
        let Some((_, values_line)) = lines.next() else {
            out.bad.push(format!(
                "line {header_no}: header of {protocol} has no value line"
            ));
            break;
        };
        let values_no = header_no + 1;
        let mut values = values_line.split_ascii_whitespace();
        let value_tag = values.next().unwrap_or_default();
        if value_tag != tag {
            out.bad.push(format!(
                "line {values_no}: expected the values of {protocol}, found {:?}",
                truncated(values_line)
            ));
            continue;
        }
        let (name_count, value_count) = (names.clone().count(), values.clone().count());
        if name_count != value_count {
            out.bad.push(format!(
                "lines {header_no}-{values_no}: {protocol} names {name_count} fields but has {value_count} values"
            ));
            continue;
        }
        for (field, value) in names.zip(values) {
            if !valid_name(field) {
                out.bad.push(format!(
                    "line {header_no}: {protocol} field name {field:?} is not usable in a metric name"
                ));
                continue;
            }
            match parse_value(value) {
                Some(value) => out.stats.push(Stat {
                    protocol,
                    field,
                    value,
                }),
                None => out.bad.push(format!(
                    "line {values_no}: {protocol} {field} is not an integer ({value:?})"
                )),
            }
        }
    }
    out
}

/// Parses /proc/net/snmp6: `Ip6InReceives    1234` lines. As node_exporter: lines of fewer than two
/// words, and names without a `6`, are skipped; the protocol is the name up to its first `6`.
pub fn parse_snmp6(text: &str) -> Parsed<'_> {
    let mut out = Parsed::default();
    for (index, line) in text.lines().enumerate() {
        let mut words = line.split_ascii_whitespace();
        let (Some(name), Some(value)) = (words.next(), words.next()) else {
            continue;
        };
        let Some(six) = name.find('6') else {
            continue;
        };
        let (protocol, field) = name.split_at(six + 1);
        if !valid_name(protocol) || !valid_name(field) {
            out.bad.push(format!(
                "line {}: {name:?} is not a <Protocol6><Field> name",
                index + 1
            ));
            continue;
        }
        match parse_value(value) {
            Some(value) => out.stats.push(Stat {
                protocol,
                field,
                value,
            }),
            None => out.bad.push(format!(
                "line {}: {name} is not an integer ({value:?})",
                index + 1
            )),
        }
    }
    out
}

fn truncated(line: &str) -> String {
    match line.char_indices().nth(60) {
        Some((end, _)) => format!("{}...", &line[..end]),
        None => line.to_string(),
    }
}

pub struct NetstatCollector {
    roots: Roots,
    /// Which `<Protocol>_<Field>` names to export (each name's verdict is remembered: the same few
    /// hundred names come back every run).
    fields: NameMatcher,
}

impl Collector for NetstatCollector {
    fn collect(&self, out: &mut MetricSet) -> Result<(), CollectError> {
        let mut errors = Vec::new();
        let read = |rel: &str, optional: bool, errors: &mut Vec<CollectError>| {
            let path = self.roots.proc(rel);
            match crate::collector::read_text(&path) {
                Ok(text) => Some((path, text)),
                Err(e) if optional && e.kind() == ErrorKind::NotFound => None,
                Err(e) => {
                    errors.push(CollectError::io(path, e));
                    None
                }
            }
        };
        let netstat = read("net/netstat", false, &mut errors);
        let snmp = read("net/snmp", false, &mut errors);
        // Absent when IPv6 is disabled (ipv6.disable=1).
        let snmp6 = read("net/snmp6", true, &mut errors);

        let parsed = [
            netstat.as_ref().map(|(p, t)| (p, parse_pairs(t))),
            snmp.as_ref().map(|(p, t)| (p, parse_pairs(t))),
            snmp6.as_ref().map(|(p, t)| (p, parse_snmp6(t))),
        ];
        // Sorted by metric name, as node_exporter's registry prints them; a later duplicate wins.
        let mut selected: BTreeMap<String, &Stat> = BTreeMap::new();
        let mut key = String::new();
        for (path, file) in parsed.iter().flatten() {
            for stat in &file.stats {
                key.clear();
                key.push_str(stat.protocol);
                key.push('_');
                key.push_str(stat.field);
                if self.fields.is_match(&key) {
                    selected.insert(key.clone(), stat);
                }
            }
            if !file.bad.is_empty() {
                errors.push(CollectError::parse(
                    path.as_path(),
                    super::malformed_summary(&file.bad),
                ));
            }
        }
        for (key, stat) in selected {
            out.family(
                &format!("node_netstat_{key}"),
                &format!("Statistic {}{}.", stat.protocol, stat.field),
                MetricType::Untyped,
            )
            .sample(&[], stat.value);
        }
        super::first_error(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::fixture_roots;
    use proptest::prelude::*;

    const NETSTAT: &str = "\
TcpExt: SyncookiesSent SyncookiesRecv ListenOverflows ListenDrops TCPTimeouts
TcpExt: 0 0 17 17 2345
IpExt: InNoRoutes InOctets OutOctets
IpExt: 2 18446744073709551615 77
";

    const SNMP: &str = "\
Ip: Forwarding DefaultTTL InReceives
Ip: 2 64 12345
Tcp: RtoAlgorithm MaxConn CurrEstab InErrs
Tcp: 1 -1 42 3
IcmpMsg: InType3 OutType3
IcmpMsg: 5 5
";

    #[test]
    fn parses_header_value_pairs() {
        let p = parse_pairs(NETSTAT);
        assert!(p.bad.is_empty(), "{:?}", p.bad);
        assert_eq!(p.stats.len(), 8);
        assert_eq!(
            p.stats[2],
            Stat {
                protocol: "TcpExt",
                field: "ListenOverflows",
                value: 17.0
            }
        );
        assert_eq!(p.stats[6].value, u64::MAX as f64);
        let s = parse_pairs(SNMP);
        assert!(s.bad.is_empty(), "{:?}", s.bad);
        let max_conn = s.stats.iter().find(|s| s.field == "MaxConn").unwrap();
        assert_eq!(max_conn.value, -1.0);
        assert_eq!(s.stats.len(), 9);
    }

    #[test]
    fn bad_sections_are_dropped_and_named() {
        let text = "\
TcpExt: A B C
TcpExt: 1 2
IpExt: InOctets OutOctets
IpExt: 10 x
Ip: Forwarding
Tcp: 5
Udp: InDatagrams
Udp: 7
Lonely: A
";
        let p = parse_pairs(text);
        assert_eq!(
            p.stats,
            vec![
                Stat {
                    protocol: "IpExt",
                    field: "InOctets",
                    value: 10.0
                },
                Stat {
                    protocol: "Udp",
                    field: "InDatagrams",
                    value: 7.0
                }
            ]
        );
        assert_eq!(p.bad.len(), 4, "{:?}", p.bad);
        assert!(p.bad[0].starts_with("lines 1-2: TcpExt names 3 fields but has 2 values"));
        assert!(p.bad[1].starts_with("line 4: IpExt OutOctets is not an integer"));
        assert!(p.bad[2].starts_with("line 6: expected the values of Ip"));
        assert!(p.bad[3].starts_with("line 9: header of Lonely has no value line"));
        assert_eq!(parse_pairs(""), Parsed::default());
        assert_eq!(parse_pairs("garbage\n1 2\n").bad.len(), 1);
    }

    #[test]
    fn parses_snmp6() {
        let text = "Ip6InReceives                   \t1234\nIcmp6OutMsgs 9\nUdpLite6InDatagrams 0\nNoSixHere 5\nshort\n\nUdp6InErrors x\n6Lead 1\n";
        let p = parse_snmp6(text);
        assert_eq!(
            p.stats,
            vec![
                Stat {
                    protocol: "Ip6",
                    field: "InReceives",
                    value: 1234.0
                },
                Stat {
                    protocol: "Icmp6",
                    field: "OutMsgs",
                    value: 9.0
                },
                Stat {
                    protocol: "UdpLite6",
                    field: "InDatagrams",
                    value: 0.0
                },
                Stat {
                    protocol: "6",
                    field: "Lead",
                    value: 1.0
                },
            ]
        );
        assert_eq!(p.bad.len(), 1, "{:?}", p.bad);
        assert!(p.bad[0].starts_with("line 7: Udp6InErrors is not an integer"));
    }

    #[test]
    fn default_pattern_selects_node_exporters_fields() {
        let re = NameMatcher::new(DEFAULT_FIELDS).unwrap();
        for yes in [
            "Tcp_CurrEstab",
            "TcpExt_ListenOverflows",
            "TcpExt_ListenDrops",
            "TcpExt_SyncookiesFailed",
            "TcpExt_TCPOFOQueue",
            "TcpExt_TCPRcvQDrop",
            "Ip6_InOctets",
            "IpExt_OutOctets",
            "Ip_Forwarding",
            "Icmp6_InMsgs",
            "Udp6_RcvbufErrors",
            "UdpLite_InErrors",
            "Tcp_InErrs",
        ] {
            assert!(re.is_match(yes), "{yes}");
        }
        for no in [
            "Tcp_MaxConn",
            "TcpExt_TCPOFODrop",
            "Ip_InReceives",
            "Ip6_InReceives",
            "MPTcpExt_MPCapableSYNRX",
            "UdpLite_InDatagrams",
            "IcmpMsg_InType3",
        ] {
            assert!(!re.is_match(no), "{no}");
        }
    }

    fn collect(machine: &str, fields: &str) -> (MetricSet, Result<(), CollectError>) {
        let collector = NetstatCollector {
            roots: fixture_roots(machine),
            fields: NameMatcher::new(fields).unwrap(),
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
        let (set, result) = collect("laptop", DEFAULT_FIELDS);
        result.unwrap();
        let names: Vec<&str> = set.families.iter().map(|f| f.name.as_str()).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(names, sorted, "sorted by name");
        assert!(set
            .families
            .iter()
            .all(|f| f.kind == MetricType::Untyped && f.samples.len() == 1));
        assert!(names.contains(&"node_netstat_Tcp_CurrEstab"));
        assert!(names.contains(&"node_netstat_TcpExt_ListenOverflows"));
        assert!(names.contains(&"node_netstat_Ip6_InOctets"));
        assert!(names.contains(&"node_netstat_Udp6_InDatagrams"));
        assert!(!names.iter().any(|n| n.starts_with("node_netstat_MPTcpExt")));
        assert_eq!(
            set.get("node_netstat_Tcp_CurrEstab").unwrap().help,
            "Statistic TcpCurrEstab."
        );

        // Every field with a pattern that takes everything.
        let (all, result) = collect("laptop", ".*");
        result.unwrap();
        assert!(all.families.len() > 300, "{}", all.families.len());
        assert_eq!(value(&all, "node_netstat_Tcp_MaxConn"), Some(-1.0));
        assert!(value(&all, "node_netstat_MPTcpExt_MPCapableSYNRX").is_some());
    }

    #[test]
    fn vm_without_ipv6_is_fine() {
        let (set, result) = collect("vm", DEFAULT_FIELDS);
        result.unwrap();
        assert!(set.get("node_netstat_Tcp_CurrEstab").is_some());
        assert!(!set
            .families
            .iter()
            .any(|f| f.name.contains("6_") || f.name.starts_with("node_netstat_Icmp6")));
    }

    #[test]
    fn broken_fixture_keeps_good_sections() {
        let (set, result) = collect("broken", ".*");
        let message = result.unwrap_err().to_string();
        for file in ["net/netstat:", "net/snmp:", "net/snmp6:"] {
            assert!(message.contains(file), "{file} in {message}");
        }
        // IpExt is intact in the broken netstat, TcpExt is not.
        assert!(value(&set, "node_netstat_IpExt_InOctets").is_some());
        assert!(!set
            .families
            .iter()
            .any(|f| f.name.starts_with("node_netstat_TcpExt_")));
        // snmp: Ip is good, so is most of Udp.
        assert!(value(&set, "node_netstat_Ip_Forwarding").is_some());
    }

    #[test]
    fn missing_netstat_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("net")).unwrap();
        std::fs::write(dir.path().join("net/snmp"), SNMP).unwrap();
        let collector = NetstatCollector {
            roots: Roots {
                procfs: dir.path().to_path_buf(),
                ..Roots::default()
            },
            fields: NameMatcher::new(DEFAULT_FIELDS).unwrap(),
        };
        let mut out = MetricSet::new();
        let err = collector.collect(&mut out).unwrap_err().to_string();
        assert!(err.contains("net/netstat"), "{err}");
        assert_eq!(value(&out, "node_netstat_Tcp_CurrEstab"), Some(42.0));
    }

    fn name() -> impl Strategy<Value = String> {
        "[A-Z][A-Za-z0-9]{0,12}"
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in "\\PC*(\n\\PC*){0,6}") {
            let p = parse_pairs(&text);
            for s in &p.stats {
                prop_assert!(valid_name(s.protocol) && valid_name(s.field));
            }
            let _ = parse_snmp6(&text);
        }

        #[test]
        fn generated_pairs_parse_back(
            sections in prop::collection::vec(
                (name(), prop::collection::vec((name(), any::<u64>()), 1..20)),
                1..5,
            )
        ) {
            let mut text = String::new();
            for (protocol, fields) in &sections {
                text.push_str(protocol);
                text.push(':');
                for (f, _) in fields {
                    text.push(' ');
                    text.push_str(f);
                }
                text.push('\n');
                text.push_str(protocol);
                text.push(':');
                for (_, v) in fields {
                    text.push_str(&format!(" {v}"));
                }
                text.push('\n');
            }
            let p = parse_pairs(&text);
            prop_assert!(p.bad.is_empty(), "{:?}", p.bad);
            let expected: Vec<(String, String, f64)> = sections
                .iter()
                .flat_map(|(p, fs)| fs.iter().map(move |(f, v)| (p.clone(), f.clone(), *v as f64)))
                .collect();
            let got: Vec<(String, String, f64)> = p
                .stats
                .iter()
                .map(|s| (s.protocol.to_string(), s.field.to_string(), s.value))
                .collect();
            prop_assert_eq!(got, expected);
        }

        #[test]
        fn generated_snmp6_parses_back(
            lines in prop::collection::vec(
                ("(Ip|Icmp|Udp|UdpLite)", "[A-Z][A-Za-z]{0,12}", any::<u64>()),
                0..30,
            )
        ) {
            let text: String = lines
                .iter()
                .map(|(p, f, v)| format!("{p}6{f:<30}\t{v}\n"))
                .collect();
            let p = parse_snmp6(&text);
            prop_assert!(p.bad.is_empty(), "{:?}", p.bad);
            prop_assert_eq!(p.stats.len(), lines.len());
            for (stat, (protocol, field, value)) in p.stats.iter().zip(&lines) {
                prop_assert_eq!(stat.protocol, format!("{protocol}6"));
                prop_assert_eq!(stat.field, field.as_str());
                prop_assert_eq!(stat.value, *value as f64);
            }
        }
    }
}
