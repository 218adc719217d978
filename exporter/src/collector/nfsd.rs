//! `nfsd`: NFS server statistics from `<procfs>/net/rpc/nfsd`, the file fs/nfsd/stats.c
//! (`nfsd_show`, then net/sunrpc/stats.c `svc_seq_show`) writes, as nfsstat(8) `-s` reads it:
//!
//! ```text
//! rc <reply cache hits> <misses> <not cached>
//! fh <stale file handles> 0 0 0 0
//! io <bytes read> <bytes written>
//! th <threads> 0 0.000 ... (ten deprecated histogram buckets)
//! ra 0 0 0 0 0 0 0 0 0 0 0 0      (the read-ahead cache, gone since 5.x: zeros)
//! net <packets> <udp> <tcp> <tcp connections>
//! rpc <calls> <bad calls> <bad format> <bad auth> <bad client>
//! proc2 18 ... / proc3 22 ... / proc4 2 <null> <compound>
//! proc4ops <n> <one count per NFSv4 operation, by operation number>
//! wdeleg_getattr <n>              (Linux 6.6+)
//! ```
//!
//! Exported as node_exporter 1.12's `nfsd_linux.go` (through prometheus/procfs `nfs`): the whole
//! file is parsed first and a malformed line fails the collector with no series; a line the kernel
//! does not print is exported as zeros; a kernel without the NFS server (no file) is no data.

use super::nfs::{counted, exact, read_optional, split_line, V2_PROCEDURES, V3_PROCEDURES};
use super::{BuildContext, CollectError, Collector, Registration, Roots};
use crate::metrics::MetricSet;

pub const REGISTRATION: Registration = Registration {
    name: "nfsd",
    default_enabled: true,
    help: "NFS server statistics from /proc/net/rpc/nfsd",
    flags: super::no_flags,
    cadence: super::Cadence::Slow,
    isolation: super::Isolation::Inline,
    build,
};

fn build(ctx: &BuildContext) -> Result<Box<dyn Collector>, String> {
    Ok(Box::new(NfsdCollector {
        roots: ctx.roots.clone(),
    }))
}

pub struct NfsdCollector {
    roots: Roots,
}

/// The NFSv4 operations node_exporter 1.12 exports from `proc4ops`, with their operation numbers
/// (RFC 7530 section 16; `proc4ops` counts operation `n` in its `n`th count). Operations 0-2 do not
/// exist, PUTPUBFH and PUTROOTFH (23, 24) and everything after RELEASE_LOCKOWNER (39: the NFSv4.1
/// and 4.2 operations) are not exported by node_exporter.
pub const SERVER_V4_OPERATIONS: [(usize, &str); 35] = [
    (3, "Access"),
    (4, "Close"),
    (5, "Commit"),
    (6, "Create"),
    (7, "DelegPurge"),
    (8, "DelegReturn"),
    (9, "GetAttr"),
    (10, "GetFH"),
    (11, "Link"),
    (12, "Lock"),
    (13, "Lockt"),
    (14, "Locku"),
    (15, "Lookup"),
    (16, "LookupRoot"),
    (17, "Nverify"),
    (18, "Open"),
    (19, "OpenAttr"),
    (20, "OpenConfirm"),
    (21, "OpenDgrd"),
    (22, "PutFH"),
    (25, "Read"),
    (26, "ReadDir"),
    (27, "ReadLink"),
    (28, "Remove"),
    (29, "Rename"),
    (30, "Renew"),
    (31, "RestoreFH"),
    (32, "SaveFH"),
    (33, "SecInfo"),
    (34, "SetAttr"),
    (35, "SetClientID"),
    (36, "SetClientIDConfirm"),
    (37, "Verify"),
    (38, "Write"),
    (39, "RelLockOwner"),
];

/// Everything node_exporter reads from /proc/net/rpc/nfsd. A line the file lacks stays zero.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerStats {
    /// `rc`: hits, misses, not cached.
    pub reply_cache: [u64; 3],
    /// `fh`: stale, then four counters the kernel no longer keeps.
    pub file_handles: [u64; 5],
    /// `io`: bytes read, bytes written.
    pub io: [u64; 2],
    /// `th`: threads, and the deprecated "all threads busy" count.
    pub threads: [u64; 2],
    /// `ra`: cache size, ten histogram buckets, not found.
    pub read_ahead: [u64; 12],
    /// `net`: packets, UDP, TCP, TCP connections.
    pub network: [u64; 4],
    /// `rpc`: calls, bad calls, bad format, bad auth, bad client.
    pub rpc: [u64; 5],
    pub v2: [u64; 18],
    pub v3: [u64; 22],
    /// `proc4`: NULL and COMPOUND.
    pub v4: [u64; 2],
    /// `proc4ops`: counts by operation number, 0 to 39 (RELEASE_LOCKOWNER).
    pub v4_ops: [u64; 40],
    pub wdeleg_getattr: u64,
}

impl Default for ServerStats {
    fn default() -> Self {
        ServerStats {
            reply_cache: [0; 3],
            file_handles: [0; 5],
            io: [0; 2],
            threads: [0; 2],
            read_ahead: [0; 12],
            network: [0; 4],
            rpc: [0; 5],
            v2: [0; 18],
            v3: [0; 22],
            v4: [0; 2],
            v4_ops: [0; 40],
            wdeleg_getattr: 0,
        }
    }
}

/// Parses /proc/net/rpc/nfsd. As procfs: every line needs a key and a value, and every value must
/// be an unsigned integer (of `th`, only the first two are read); an unknown key is an error; `rc`,
/// `fh`, `io`, `th`, `ra`, `net`, `rpc` and `wdeleg_getattr` have 3, 5, 2, 2, 12, 4, 5 and 1
/// values; `proc2` and `proc3` at least 18 and 22 counts, `proc4` exactly 2 and `proc4ops` at least
/// 39 (NFSv4.0 without RELEASE_LOCKOWNER). A line given twice: the last one counts.
pub fn parse_server(text: &str) -> Result<ServerStats, String> {
    let mut stats = ServerStats::default();
    for (index, line) in text.lines().enumerate() {
        let at = |message: String| format!("line {}: {message}", index + 1);
        let threads_line = line.split_whitespace().next() == Some("th");
        let (key, values) = split_line(line, !threads_line).map_err(at)?;
        match key {
            "rc" => stats.reply_cache = exact(key, &values).map_err(at)?,
            "fh" => stats.file_handles = exact(key, &values).map_err(at)?,
            "io" => stats.io = exact(key, &values).map_err(at)?,
            "th" => stats.threads = exact(key, &values).map_err(at)?,
            "ra" => stats.read_ahead = exact(key, &values).map_err(at)?,
            "net" => stats.network = exact(key, &values).map_err(at)?,
            "rpc" => stats.rpc = exact(key, &values).map_err(at)?,
            "proc2" => stats.v2 = counted(key, &values, 18).map_err(at)?,
            "proc3" => stats.v3 = counted(key, &values, 22).map_err(at)?,
            "proc4" => {
                stats.v4 = counted(key, &values, 2).map_err(at)?;
                if values.len() != 3 {
                    return Err(at(format!(
                        "proc4: expected 2 counts, found {}",
                        values.len() - 1
                    )));
                }
            }
            "proc4ops" => stats.v4_ops = counted(key, &values, 39).map_err(at)?,
            "wdeleg_getattr" => [stats.wdeleg_getattr] = exact(key, &values).map_err(at)?,
            _ => return Err(at(format!("unknown line {key:?}"))),
        }
    }
    Ok(stats)
}

impl Collector for NfsdCollector {
    fn collect(&self, out: &mut MetricSet) -> Result<(), CollectError> {
        let path = self.roots.proc("net/rpc/nfsd");
        let Some(text) = read_optional(&path)? else {
            return Ok(());
        };
        let s = parse_server(&text).map_err(|e| CollectError::parse(&path, e))?;
        let counter = |out: &mut MetricSet, name: &str, help: &str, value: u64| {
            out.counter(name, help).sample(&[], value as f64);
        };
        let [hits, misses, nocache] = s.reply_cache;
        counter(
            out,
            "node_nfsd_reply_cache_hits_total",
            "NFS server reply cache hits: a retransmitted request answered from the cache.",
            hits,
        );
        counter(
            out,
            "node_nfsd_reply_cache_misses_total",
            "NFS server reply cache misses: requests that had to be processed and cached.",
            misses,
        );
        counter(
            out,
            "node_nfsd_reply_cache_nocache_total",
            "NFS server requests not cached by the reply cache (idempotent ones).",
            nocache,
        );
        counter(
            out,
            "node_nfsd_file_handles_stale_total",
            "NFS server stale file handle errors.",
            s.file_handles[0],
        );
        counter(
            out,
            "node_nfsd_disk_bytes_read_total",
            "Bytes the NFS server read from disk for clients.",
            s.io[0],
        );
        counter(
            out,
            "node_nfsd_disk_bytes_written_total",
            "Bytes the NFS server wrote to disk for clients.",
            s.io[1],
        );
        out.gauge(
            "node_nfsd_server_threads",
            "NFS server kernel threads running.",
        )
        .sample(&[], s.threads[0] as f64);
        out.gauge(
            "node_nfsd_read_ahead_cache_size_blocks",
            "Size of the NFS server read-ahead cache in blocks.",
        )
        .sample(&[], s.read_ahead[0] as f64);
        counter(
            out,
            "node_nfsd_read_ahead_cache_not_found_total",
            "NFS server read-ahead cache lookups that found nothing.",
            s.read_ahead[11],
        );
        let [_, udp, tcp, connections] = s.network;
        out.counter(
            "node_nfsd_packets_total",
            "NFS server network packets, sent and received, by transport protocol.",
        )
        .sample(&[("proto", "udp")], udp as f64)
        .sample(&[("proto", "tcp")], tcp as f64);
        counter(
            out,
            "node_nfsd_connections_total",
            "NFS server TCP connections accepted.",
            connections,
        );
        let [calls, _, bad_format, bad_auth, bad_client] = s.rpc;
        out.counter(
            "node_nfsd_rpc_errors_total",
            "NFS server RPC calls rejected, by error.",
        )
        .sample(&[("error", "fmt")], bad_format as f64)
        .sample(&[("error", "auth")], bad_auth as f64)
        .sample(&[("error", "cInt")], bad_client as f64);
        counter(
            out,
            "node_nfsd_server_rpcs_total",
            "NFS server RPC calls received.",
            calls,
        );
        let requests = out.counter(
            "node_nfsd_requests_total",
            "NFS server requests, by NFS version and procedure or operation.",
        );
        // node_exporter leaves out the NULL procedure of NFSv2 and NFSv3.
        for (name, count) in V2_PROCEDURES.iter().zip(&s.v2).skip(1) {
            requests.sample(&[("method", name), ("proto", "2")], *count as f64);
        }
        for (name, count) in V3_PROCEDURES.iter().zip(&s.v3).skip(1) {
            requests.sample(&[("method", name), ("proto", "3")], *count as f64);
        }
        for (op, name) in SERVER_V4_OPERATIONS {
            requests.sample(&[("method", name), ("proto", "4")], s.v4_ops[op] as f64);
        }
        requests.sample(
            &[("method", "WdelegGetattr"), ("proto", "4")],
            s.wdeleg_getattr as f64,
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::fixture_roots;
    use proptest::prelude::*;

    fn counted_line(key: &str, counts: &[u64]) -> String {
        let counts: Vec<String> = counts.iter().map(u64::to_string).collect();
        format!("{key} {} {}", counts.len(), counts.join(" "))
    }

    const TH: &str = "th 16 0 0.000 0.000 0.000 0.000 0.000 0.000 0.000 0.000 0.000 0.000";

    #[test]
    fn parses_kernel_layout() {
        let ops: Vec<u64> = (0..76).map(|op| op * 10).collect();
        let text = format!(
            "rc 12 3456 789\nfh 4 0 0 0 0\nio 1000 2000\n{TH}\nra 0 0 0 0 0 0 0 0 0 0 0 0\n\
             net 500 0 500 9\nrpc 498 2 1 1 0\n{}\n{}\nproc4 2 3 400\n{}\nwdeleg_getattr 7\n",
            counted_line("proc2", &[0; 18]),
            counted_line("proc3", &(0..22).collect::<Vec<_>>()),
            counted_line("proc4ops", &ops),
        );
        let s = parse_server(&text).unwrap();
        assert_eq!(s.reply_cache, [12, 3456, 789]);
        assert_eq!(s.threads, [16, 0]);
        assert_eq!(s.rpc, [498, 2, 1, 1, 0]);
        assert_eq!(s.v3[21], 21);
        assert_eq!(s.v4, [3, 400]);
        assert_eq!(s.v4_ops[35], 350, "SETCLIENTID");
        assert_eq!(s.v4_ops[39], 390, "RELEASE_LOCKOWNER");
        assert_eq!(s.wdeleg_getattr, 7);
    }

    #[test]
    fn old_kernel_without_release_lockowner() {
        let s = parse_server(&counted_line("proc4ops", &[1; 39])).unwrap();
        assert_eq!(s.v4_ops[38], 1);
        assert_eq!(s.v4_ops[39], 0);
    }

    #[test]
    fn rejects_malformed() {
        for text in [
            "rc 1 2\n",
            "fh 1 0 0 0\n",
            "th 8\n",
            "th x 0 0.000\n",
            "ra 0 0 0\n",
            "net 1 2 3 4 5\n",
            "rpc 1 2 3 4\n",
            "proc4 3 1 2 3\n",
            "proc4 1 1\n",
            "proc4ops 38 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n",
            "proc4ops 76 1 2 3\n",
            "wdeleg_getattr 1 2\n",
            "wdeleg_getattr\n",
            "io 1 2.5\n",
            "xprt 1 2\n",
        ] {
            assert!(parse_server(text).is_err(), "{text:?}");
        }
        // The deprecated histogram of `th` is not read.
        assert!(parse_server("th 8 0 junk\n").is_ok());
    }

    fn collect(roots: Roots) -> (MetricSet, Result<(), CollectError>) {
        let mut out = MetricSet::new();
        let result = NfsdCollector { roots }.collect(&mut out);
        (out, result)
    }

    #[test]
    fn fixtures() {
        let (out, result) = collect(fixture_roots("server"));
        result.unwrap();
        let requests = out.get("node_nfsd_requests_total").unwrap();
        assert_eq!(requests.samples.len(), 17 + 21 + 35 + 1);
        assert!(out.get("node_nfsd_server_threads").unwrap().samples[0].value > 0.0);
        // Only the server serves NFS.
        for machine in ["laptop", "vm"] {
            let (out, result) = collect(fixture_roots(machine));
            result.unwrap();
            assert_eq!(out.sample_count(), 0, "{machine}");
        }
        let (out, result) = collect(fixture_roots("broken"));
        assert!(result.is_err());
        assert_eq!(out.sample_count(), 0, "a malformed file exports nothing");
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_text_never_panics(text in "(rc|fh|io|th|ra|net|rpc|proc[0-9]|proc4ops|wdeleg_getattr)?[0-9x. \\n-]{0,80}") {
            let _ = parse_server(&text);
        }

        #[test]
        fn well_formed_parses_back(
            rc in any::<[u64; 3]>(),
            io in any::<[u64; 2]>(),
            threads in any::<u64>(),
            rpc in any::<[u64; 5]>(),
            ops in proptest::collection::vec(any::<u64>(), 39..80),
            wdeleg in any::<u64>(),
        ) {
            let text = format!(
                "rc {} {} {}\nio {} {}\nth {threads} 0 0.000 0.000\nrpc {} {} {} {} {}\n{}\nwdeleg_getattr {wdeleg}\n",
                rc[0], rc[1], rc[2], io[0], io[1], rpc[0], rpc[1], rpc[2], rpc[3], rpc[4],
                counted_line("proc4ops", &ops)
            );
            let s = parse_server(&text).unwrap();
            prop_assert_eq!(s.reply_cache, rc);
            prop_assert_eq!(s.io, io);
            prop_assert_eq!(s.threads, [threads, 0]);
            prop_assert_eq!(s.rpc, rpc);
            let kept = ops.len().min(40);
            prop_assert_eq!(&s.v4_ops[..kept], &ops[..kept]);
            prop_assert_eq!(s.wdeleg_getattr, wdeleg);
        }
    }
}
