//! `nfs`: NFS client RPC statistics from `<procfs>/net/rpc/nfs`, the file net/sunrpc/stats.c
//! (`rpc_proc_show`) writes for the NFS client program, as nfsstat(8) `-c` reads it:
//!
//! ```text
//! net <packets> <udp packets> <tcp packets> <tcp connections>
//! rpc <calls> <retransmissions> <authentication refreshes>
//! proc2 18 <one count per NFSv2 procedure>
//! proc3 22 <one count per NFSv3 procedure>
//! proc4 <n> <one count per NFSv4 client operation>
//! ```
//!
//! A `procN` line appears only for the NFS versions whose module is loaded (fs/nfs/client.c
//! registers each version when it loads). Exported as node_exporter 1.12's `nfs_linux.go` (through
//! prometheus/procfs `nfs`): the whole file is parsed first and a malformed line fails the
//! collector with no series; a version without its line is exported as zeros; a kernel without the
//! NFS client (no file) is no data.
//!
//! The helpers that split and check a line are shared with the `nfsd` collector.

use super::{BuildContext, CollectError, Collector, Registration, Roots};
use crate::metrics::MetricSet;

pub const REGISTRATION: Registration = Registration {
    name: "nfs",
    default_enabled: true,
    help: "NFS client RPC statistics from /proc/net/rpc/nfs",
    flags: super::no_flags,
    cadence: super::Cadence::Slow,
    isolation: super::Isolation::Inline,
    build,
};

fn build(ctx: &BuildContext) -> Result<Box<dyn Collector>, String> {
    Ok(Box::new(NfsCollector {
        roots: ctx.roots.clone(),
    }))
}

pub struct NfsCollector {
    roots: Roots,
}

/// NFSv2 procedures in the order of the `proc2` line (RFC 1094), as node_exporter names them.
pub const V2_PROCEDURES: [&str; 18] = [
    "Null", "GetAttr", "SetAttr", "Root", "Lookup", "ReadLink", "Read", "WrCache", "Write",
    "Create", "Remove", "Rename", "Link", "SymLink", "MkDir", "RmDir", "ReadDir", "FsStat",
];

/// NFSv3 procedures in the order of the `proc3` line (RFC 1813), as node_exporter names them.
pub const V3_PROCEDURES: [&str; 22] = [
    "Null",
    "GetAttr",
    "SetAttr",
    "Lookup",
    "Access",
    "ReadLink",
    "Read",
    "Write",
    "Create",
    "MkDir",
    "SymLink",
    "MkNod",
    "Remove",
    "RmDir",
    "Rename",
    "Link",
    "ReadDir",
    "ReadDirPlus",
    "FsStat",
    "FsInfo",
    "PathConf",
    "Commit",
];

/// The first 59 NFSv4 client operations in the order of the `proc4` line (the kernel's
/// `NFSPROC4_CLNT_*` numbering in include/linux/nfs4.h), as node_exporter 1.12 names them. Later
/// kernels append more (COPY, ..., READ_PLUS); node_exporter exports these 59 only, and a shorter
/// line (an older kernel) leaves the missing ones at zero. GETDEVICEINFO comes before LAYOUTGET,
/// as in the kernel's table (fs/nfs/nfs4xdr.c) and procfs since its fix of the two being read
/// swapped (prometheus/procfs#725); node_exporter 1.5 still reads them swapped.
pub const CLIENT_V4_PROCEDURES: [&str; 59] = [
    "Null",
    "Read",
    "Write",
    "Commit",
    "Open",
    "OpenConfirm",
    "OpenNoattr",
    "OpenDowngrade",
    "Close",
    "Setattr",
    "FsInfo",
    "Renew",
    "SetClientID",
    "SetClientIDConfirm",
    "Lock",
    "Lockt",
    "Locku",
    "Access",
    "Getattr",
    "Lookup",
    "LookupRoot",
    "Remove",
    "Rename",
    "Link",
    "Symlink",
    "Create",
    "Pathconf",
    "StatFs",
    "ReadLink",
    "ReadDir",
    "ServerCaps",
    "DelegReturn",
    "GetACL",
    "SetACL",
    "FsLocations",
    "ReleaseLockowner",
    "Secinfo",
    "FsidPresent",
    "ExchangeID",
    "CreateSession",
    "DestroySession",
    "Sequence",
    "GetLeaseTime",
    "ReclaimComplete",
    "GetDeviceInfo",
    "LayoutGet",
    "LayoutCommit",
    "LayoutReturn",
    "SecinfoNoName",
    "TestStateID",
    "FreeStateID",
    "GetDeviceList",
    "BindConnToSession",
    "DestroyClientID",
    "Seek",
    "Allocate",
    "DeAllocate",
    "LayoutStats",
    "Clone",
];

/// Everything node_exporter exports from /proc/net/rpc/nfs. A line the file lacks stays zero.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientStats {
    /// `net`: packets, UDP packets, TCP packets, TCP connections.
    pub network: [u64; 4],
    /// `rpc`: calls, retransmissions, authentication refreshes.
    pub rpc: [u64; 3],
    pub v2: [u64; 18],
    pub v3: [u64; 22],
    pub v4: [u64; 59],
}

impl Default for ClientStats {
    fn default() -> Self {
        ClientStats {
            network: [0; 4],
            rpc: [0; 3],
            v2: [0; 18],
            v3: [0; 22],
            v4: [0; 59],
        }
    }
}

/// Splits one line into its key and its values, all of which must be unsigned integers; a line
/// needs at least one value. Without `parse_all`, only the first two values are read (and
/// checked), as procfs reads nfsd's `th` line.
pub(crate) fn split_line(line: &str, parse_all: bool) -> Result<(&str, Vec<u64>), String> {
    let mut fields = line.split_whitespace();
    let key = fields.next().unwrap_or("");
    let mut values = Vec::with_capacity(24);
    let mut count = 0usize;
    for field in fields {
        count += 1;
        // `th` keeps its two integers only: the rest is a deprecated histogram of decimals.
        if !parse_all && count > 2 {
            continue;
        }
        values.push(
            field
                .parse::<u64>()
                .map_err(|_| format!("{key}: expected an unsigned integer, found {field:?}"))?,
        );
    }
    if count == 0 {
        return Err(format!("{key:?}: expected a key and at least one value"));
    }
    Ok((key, values))
}

/// The values of a line that has exactly `N` of them.
pub(crate) fn exact<const N: usize>(key: &str, values: &[u64]) -> Result<[u64; N], String> {
    <[u64; N]>::try_from(values)
        .map_err(|_| format!("{key}: expected {N} values, found {}", values.len()))
}

/// The counts of a `procN`/`proc4ops` line: its first value is the number of counts that follow,
/// which must be right and at least `minimum`. The first `N` counts are kept; fewer leave the rest
/// at zero.
pub(crate) fn counted<const N: usize>(
    key: &str,
    values: &[u64],
    minimum: usize,
) -> Result<[u64; N], String> {
    let (&declared, counts) = values
        .split_first()
        .ok_or_else(|| format!("{key}: expected the number of counts"))?;
    if usize::try_from(declared).ok() != Some(counts.len()) {
        return Err(format!(
            "{key}: declares {declared} counts but has {}",
            counts.len()
        ));
    }
    if counts.len() < minimum {
        return Err(format!(
            "{key}: expected at least {minimum} counts, found {}",
            counts.len()
        ));
    }
    let mut out = [0u64; N];
    for (slot, value) in out.iter_mut().zip(counts) {
        *slot = *value;
    }
    Ok(out)
}

/// Parses /proc/net/rpc/nfs. As procfs: every line needs a key and a value, every value must be an
/// unsigned integer, an unknown key is an error; `net` has 4 values and `rpc` 3; `proc2` and
/// `proc3` at least 18 and 22 counts; `proc4` any number (missing ones are zero). A line given
/// twice: the last one counts.
pub fn parse_client(text: &str) -> Result<ClientStats, String> {
    let mut stats = ClientStats::default();
    for (index, line) in text.lines().enumerate() {
        let at = |message: String| format!("line {}: {message}", index + 1);
        let (key, values) = split_line(line, true).map_err(at)?;
        match key {
            "net" => stats.network = exact(key, &values).map_err(at)?,
            "rpc" => stats.rpc = exact(key, &values).map_err(at)?,
            "proc2" => stats.v2 = counted(key, &values, 18).map_err(at)?,
            "proc3" => stats.v3 = counted(key, &values, 22).map_err(at)?,
            "proc4" => stats.v4 = counted(key, &values, 0).map_err(at)?,
            _ => return Err(at(format!("unknown line {key:?}"))),
        }
    }
    Ok(stats)
}

/// Reads a /proc/net/rpc file: `None` when it does not exist (the module is not loaded).
pub(crate) fn read_optional(path: &std::path::Path) -> Result<Option<String>, CollectError> {
    match crate::collector::read_text(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(CollectError::io(path, e)),
    }
}

impl Collector for NfsCollector {
    fn collect(&self, out: &mut MetricSet) -> Result<(), CollectError> {
        let path = self.roots.proc("net/rpc/nfs");
        let Some(text) = read_optional(&path)? else {
            return Ok(());
        };
        let stats = parse_client(&text).map_err(|e| CollectError::parse(&path, e))?;
        let [_, udp, tcp, connections] = stats.network;
        out.counter(
            "node_nfs_packets_total",
            "NFS client network packets, sent and received, by transport protocol.",
        )
        .sample(&[("protocol", "udp")], udp as f64)
        .sample(&[("protocol", "tcp")], tcp as f64);
        out.counter(
            "node_nfs_connections_total",
            "NFS client TCP connections made.",
        )
        .sample(&[], connections as f64);
        let [calls, retransmissions, refreshes] = stats.rpc;
        out.counter("node_nfs_rpcs_total", "NFS client RPC calls made.")
            .sample(&[], calls as f64);
        out.counter(
            "node_nfs_rpc_retransmissions_total",
            "NFS client RPC calls retransmitted.",
        )
        .sample(&[], retransmissions as f64);
        out.counter(
            "node_nfs_rpc_authentication_refreshes_total",
            "NFS client RPC authentication credentials refreshed.",
        )
        .sample(&[], refreshes as f64);
        let requests = out.counter(
            "node_nfs_requests_total",
            "NFS client procedures called, by NFS version and procedure.",
        );
        let versions: [(&str, &[&str], &[u64]); 3] = [
            ("2", &V2_PROCEDURES, &stats.v2),
            ("3", &V3_PROCEDURES, &stats.v3),
            ("4", &CLIENT_V4_PROCEDURES, &stats.v4),
        ];
        for (proto, names, counts) in versions {
            for (name, count) in names.iter().zip(counts) {
                requests.sample(&[("method", name), ("proto", proto)], *count as f64);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::fixture_roots;
    use proptest::prelude::*;

    fn line(key: &str, counts: &[u64]) -> String {
        let counts: Vec<String> = counts.iter().map(u64::to_string).collect();
        format!("{key} {} {}", counts.len(), counts.join(" "))
    }

    #[test]
    fn parses_kernel_layout() {
        let v2: Vec<u64> = (0..18).collect();
        let v3: Vec<u64> = (100..122).collect();
        let v4: Vec<u64> = (1000..1069).collect();
        let text = format!(
            "net 0 0 0 0\nrpc 4213 17 4215\n{}\n{}\n{}\n",
            line("proc2", &v2),
            line("proc3", &v3),
            line("proc4", &v4)
        );
        let stats = parse_client(&text).unwrap();
        assert_eq!(stats.rpc, [4213, 17, 4215]);
        assert_eq!(stats.v2.to_vec(), v2);
        assert_eq!(stats.v3.to_vec(), v3);
        // Only the first 59 of a newer kernel's 69 operations are kept.
        assert_eq!(stats.v4.to_vec(), v4[..59].to_vec());
        assert_eq!(stats.v4[44], 1044, "GETDEVICEINFO");
    }

    #[test]
    fn missing_versions_and_short_proc4_are_zero() {
        let stats = parse_client("net 0 0 0 0\nrpc 5 0 5\nproc4 3 1 2 3\n").unwrap();
        assert_eq!(stats.v2, [0; 18]);
        assert_eq!(stats.v3, [0; 22]);
        assert_eq!(&stats.v4[..4], &[1, 2, 3, 0]);
    }

    #[test]
    fn rejects_malformed() {
        for text in [
            "net 0 0 0\n",
            "rpc 1 2 3 4\n",
            "rpc 1 x 3\n",
            "rpc 1 -2 3\n",
            "rpc\n",
            "\n",
            "proc3 22 1 2 3\n",
            "proc2 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n",
            "proc4 5 1 2\n",
            "proc4\n",
            "proc9 1 0\n",
        ] {
            assert!(parse_client(text).is_err(), "{text:?}");
        }
    }

    fn collect(roots: Roots) -> (MetricSet, Result<(), CollectError>) {
        let mut out = MetricSet::new();
        let result = NfsCollector { roots }.collect(&mut out);
        (out, result)
    }

    #[test]
    fn fixtures() {
        // The server and the laptop have NFS client mounts; the vm has no NFS client module.
        for machine in ["server", "laptop"] {
            let (out, result) = collect(fixture_roots(machine));
            result.unwrap();
            let requests = out.get("node_nfs_requests_total").unwrap();
            assert_eq!(requests.samples.len(), 18 + 22 + 59, "{machine}");
        }
        let (out, result) = collect(fixture_roots("vm"));
        result.unwrap();
        assert_eq!(out.sample_count(), 0);
        let (out, result) = collect(fixture_roots("broken"));
        assert!(result.is_err());
        assert_eq!(out.sample_count(), 0, "a malformed file exports nothing");
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_text_never_panics(text in "(net|rpc|proc[0-9]|[a-z]{0,3})?[0-9x \\n-]{0,80}") {
            let _ = parse_client(&text);
        }

        #[test]
        fn well_formed_parses_back(
            net in any::<[u64; 4]>(),
            rpc in any::<[u64; 3]>(),
            v2 in proptest::collection::vec(any::<u64>(), 18..20),
            v3 in proptest::collection::vec(any::<u64>(), 22..24),
            v4 in proptest::collection::vec(any::<u64>(), 0..75),
        ) {
            let text = format!(
                "net {} {} {} {}\nrpc {} {} {}\n{}\n{}\n{}\n",
                net[0], net[1], net[2], net[3], rpc[0], rpc[1], rpc[2],
                line("proc2", &v2), line("proc3", &v3), line("proc4", &v4)
            );
            let stats = parse_client(&text).unwrap();
            prop_assert_eq!(stats.network, net);
            prop_assert_eq!(stats.rpc, rpc);
            prop_assert_eq!(&stats.v2[..], &v2[..18]);
            prop_assert_eq!(&stats.v3[..], &v3[..22]);
            let kept = v4.len().min(59);
            prop_assert_eq!(&stats.v4[..kept], &v4[..kept]);
            prop_assert!(stats.v4[kept..].iter().all(|v| *v == 0));
        }
    }
}
