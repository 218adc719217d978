//! `xfs`: per-filesystem XFS statistics from `<sysfs>/fs/xfs/<device>/stats/stats` (Linux 4.4+),
//! exported as node_exporter 1.12 does: 39 counters `node_xfs_*_total{device}`.
//!
//! The file has one line per statistics group (`extent_alloc 4 12 2 9`, `rw 100 200`, ...;
//! the groups of `fs/xfs/xfs_stats.c`), all 32-bit counters except `xpc`, which holds 64-bit byte
//! counts. Like node_exporter (procfs' parser) every group's values must be numbers of their
//! width, the groups that are exported must have their exact count of values (`vnodes` 7 or 8),
//! and lines of fewer than two fields are skipped. The machine-wide `<procfs>/fs/xfs/stat` and
//! `<sysfs>/fs/xfs/stats/stats` (sums over every filesystem, unmounted ones included) are not
//! exported: node_exporter 1.12 does not read them either.

use super::{read_string, BuildContext, CollectError, Collector, Registration, Roots};
use crate::metrics::MetricSet;

pub const REGISTRATION: Registration = Registration {
    name: "xfs",
    default_enabled: true,
    help: "XFS per-filesystem statistics from /sys/fs/xfs/*/stats/stats",
    flags: super::no_flags,
    cadence: super::Cadence::Slow,
    isolation: super::Isolation::Inline,
    build,
};

fn build(ctx: &BuildContext) -> Result<Box<dyn Collector>, String> {
    Ok(Box::new(XfsCollector {
        roots: ctx.roots.clone(),
    }))
}

pub struct XfsCollector {
    roots: Roots,
}

/// An exported counter: its group in the stats file, the value's index in the group, the metric
/// name (after `node_xfs_`) and help.
struct Counter {
    group: &'static str,
    index: usize,
    name: &'static str,
    help: &'static str,
}

const fn c(group: &'static str, index: usize, name: &'static str, help: &'static str) -> Counter {
    Counter {
        group,
        index,
        name,
        help,
    }
}

const COUNTERS: [Counter; 39] = [
    c(
        "extent_alloc",
        0,
        "extent_allocation_extents_allocated_total",
        "Extents allocated in the filesystem.",
    ),
    c(
        "extent_alloc",
        1,
        "extent_allocation_blocks_allocated_total",
        "Blocks allocated in the filesystem.",
    ),
    c(
        "extent_alloc",
        2,
        "extent_allocation_extents_freed_total",
        "Extents freed in the filesystem.",
    ),
    c(
        "extent_alloc",
        3,
        "extent_allocation_blocks_freed_total",
        "Blocks freed in the filesystem.",
    ),
    c(
        "abt",
        0,
        "allocation_btree_lookups_total",
        "Lookups in the free-space allocation B-tree.",
    ),
    c(
        "abt",
        1,
        "allocation_btree_compares_total",
        "Compares in the free-space allocation B-tree.",
    ),
    c(
        "abt",
        2,
        "allocation_btree_records_inserted_total",
        "Records inserted into the allocation B-tree.",
    ),
    c(
        "abt",
        3,
        "allocation_btree_records_deleted_total",
        "Records deleted from the allocation B-tree.",
    ),
    c(
        "blk_map",
        0,
        "block_mapping_reads_total",
        "Block map calls for reads.",
    ),
    c(
        "blk_map",
        1,
        "block_mapping_writes_total",
        "Block map calls for writes.",
    ),
    c(
        "blk_map",
        2,
        "block_mapping_unmaps_total",
        "Block unmaps (deletes).",
    ),
    c(
        "blk_map",
        3,
        "block_mapping_extent_list_insertions_total",
        "Extent list insertions.",
    ),
    c(
        "blk_map",
        4,
        "block_mapping_extent_list_deletions_total",
        "Extent list deletions.",
    ),
    c(
        "blk_map",
        5,
        "block_mapping_extent_list_lookups_total",
        "Extent list lookups.",
    ),
    c(
        "blk_map",
        6,
        "block_mapping_extent_list_compares_total",
        "Extent list compares.",
    ),
    c(
        "bmbt",
        0,
        "block_map_btree_lookups_total",
        "Lookups in the block map B-tree.",
    ),
    c(
        "bmbt",
        1,
        "block_map_btree_compares_total",
        "Compares in the block map B-tree.",
    ),
    c(
        "bmbt",
        2,
        "block_map_btree_records_inserted_total",
        "Records inserted into the block map B-tree.",
    ),
    c(
        "bmbt",
        3,
        "block_map_btree_records_deleted_total",
        "Records deleted from the block map B-tree.",
    ),
    c(
        "dir",
        0,
        "directory_operation_lookup_total",
        "Directory name lookups that missed the kernel's name lookup cache.",
    ),
    c(
        "dir",
        1,
        "directory_operation_create_total",
        "Directory entries created.",
    ),
    c(
        "dir",
        2,
        "directory_operation_remove_total",
        "Directory entries removed.",
    ),
    c(
        "dir",
        3,
        "directory_operation_getdents_total",
        "Directory getdents operations.",
    ),
    c(
        "ig",
        0,
        "inode_operation_attempts_total",
        "Inode cache lookups.",
    ),
    c(
        "ig",
        1,
        "inode_operation_found_total",
        "Inode cache lookups that found the inode.",
    ),
    c(
        "ig",
        2,
        "inode_operation_recycled_total",
        "Inodes found in the cache but unusable while being recycled.",
    ),
    c(
        "ig",
        3,
        "inode_operation_missed_total",
        "Inode cache lookups that did not find the inode.",
    ),
    c(
        "ig",
        4,
        "inode_operation_duplicates_total",
        "Inodes another task had added to the cache first.",
    ),
    c(
        "ig",
        5,
        "inode_operation_reclaims_total",
        "Inodes reclaimed from the cache to free memory.",
    ),
    c(
        "ig",
        6,
        "inode_operation_attribute_changes_total",
        "Explicit inode attribute changes.",
    ),
    // The kernel prints `rw` as write calls, then read calls (`xs_write_calls`, `xs_read_calls`).
    c(
        "rw",
        1,
        "read_calls_total",
        "read(2) calls on files of the filesystem.",
    ),
    c(
        "rw",
        0,
        "write_calls_total",
        "write(2) calls on files of the filesystem.",
    ),
    c(
        "vnodes",
        0,
        "vnode_active_total",
        "Vnodes not on free lists.",
    ),
    c(
        "vnodes",
        1,
        "vnode_allocate_total",
        "Vnode allocations (vn_alloc).",
    ),
    c("vnodes", 2, "vnode_get_total", "Vnode gets (vn_get)."),
    c("vnodes", 3, "vnode_hold_total", "Vnode holds (vn_hold)."),
    c(
        "vnodes",
        4,
        "vnode_release_total",
        "Vnode releases (vn_rele).",
    ),
    c(
        "vnodes",
        5,
        "vnode_reclaim_total",
        "Vnode reclaims (vn_reclaim).",
    ),
    c(
        "vnodes",
        6,
        "vnode_remove_total",
        "Vnode removals (vn_remove).",
    ),
];

/// How many values a group must have (as procfs checks), for the groups that are exported.
fn expected_len(group: &str) -> Option<&'static [usize]> {
    Some(match group {
        "extent_alloc" | "abt" | "bmbt" | "dir" | "attr" => &[4],
        "blk_map" | "ig" => &[7],
        "trans" | "icluster" | "xpc" => &[3],
        "log" => &[5],
        "rw" => &[2],
        "vnodes" => &[7, 8],
        "buf" => &[9],
        _ => return None,
    })
}

/// The counters of one stats file, in [`COUNTERS`] order; a group the file lacks reads 0, as in
/// node_exporter.
pub type Stats = [u64; 39];

/// Parses a stats file. Errors name the line.
pub fn parse(text: &str) -> Result<Stats, String> {
    let mut stats = [0u64; 39];
    let mut values = Vec::with_capacity(16);
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let Some(group) = fields.next() else { continue };
        values.clear();
        let wide = group == "xpc";
        for f in fields {
            let v = if wide {
                f.parse::<u64>().ok()
            } else {
                f.parse::<u32>().ok().map(u64::from)
            };
            values.push(v.ok_or_else(|| {
                format!(
                    "{group}: expected an unsigned {} bit integer, found {f:?}",
                    if wide { 64 } else { 32 }
                )
            })?);
        }
        if values.is_empty() {
            continue;
        }
        if let Some(lens) = expected_len(group) {
            if !lens.contains(&values.len()) {
                return Err(format!(
                    "{group}: expected {lens:?} values, found {}",
                    values.len()
                ));
            }
        }
        for (i, counter) in COUNTERS.iter().enumerate() {
            if counter.group == group {
                stats[i] = values[counter.index];
            }
        }
    }
    Ok(stats)
}

impl Collector for XfsCollector {
    fn collect(&self, out: &mut MetricSet) -> Result<(), CollectError> {
        let base = self.roots.sys("fs/xfs");
        let Ok(entries) = super::sorted_dir_entries(&base) else {
            return Ok(());
        };
        let mut errors = Vec::new();
        for entry in entries {
            let path = entry.path().join("stats/stats");
            // `<sysfs>/fs/xfs/stats` is the machine-wide directory (its file is `stats/stats`).
            if !path.exists() {
                continue;
            }
            let device = entry.file_name().to_string_lossy().into_owned();
            let stats = match read_string(&path)
                .and_then(|t| parse(&t).map_err(|m| CollectError::parse(&path, m)))
            {
                Ok(stats) => stats,
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            };
            for (counter, value) in COUNTERS.iter().zip(stats) {
                out.counter(&format!("node_xfs_{}", counter.name), counter.help)
                    .sample(&[("device", &device)], value as f64);
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

    const FILE: &str = "extent_alloc 10 20 30 40\nabt 0 0 0 0\nblk_map 1 2 3 4 5 6 7\n\
bmbt 8 9 10 11\ndir 12 13 14 15\ntrans 0 1 2\nig 1 2 3 4 5 6 7\nlog 1 2 3 4 5\n\
push_ail 1 2 3 4 5 6 7 8 9 10\nxstrat 1 2\nrw 100 200\nattr 1 2 3 4\nicluster 1 2 3\n\
vnodes 5 6 7 8 9 10 11 12\nbuf 1 2 3 4 5 6 7 8 9\nxpc 18446744073709551615 2 3\ndebug 0\n";

    #[test]
    fn parses_every_exported_counter() {
        let s = parse(FILE).unwrap();
        assert_eq!(&s[0..4], &[10, 20, 30, 40]);
        assert_eq!(s[8..15], [1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(s[23..30], [1, 2, 3, 4, 5, 6, 7]);
        // read calls, then write calls: the file has writes first.
        assert_eq!(s[30..32], [200, 100]);
        assert_eq!(s[32..39], [5, 6, 7, 8, 9, 10, 11]);
    }

    #[test]
    fn rejects_wrong_counts_and_overflow() {
        assert!(parse("rw 1\n").is_err());
        assert!(parse("vnodes 1 2 3 4 5 6\n").is_err());
        assert!(parse("abt 4294967296 0 0 0\n").is_err());
        assert!(parse("qm x\n").is_err());
        assert!(parse("vnodes 1 2 3 4 5 6 7\nrmapbt 0\nlonely\n").is_ok());
    }

    #[test]
    fn server_fixture() {
        let mut out = MetricSet::new();
        XfsCollector {
            roots: fixture_roots("server"),
        }
        .collect(&mut out)
        .unwrap();
        let f = out.get("node_xfs_read_calls_total").unwrap();
        assert!(f.samples.iter().any(|s| s.labels[0].1 == "dm-0"));
        assert!(!f.samples.iter().any(|s| s.labels[0].1 == "stats"));
        assert_eq!(out.families.len(), 39);
    }

    #[test]
    fn broken_fixture_fails() {
        let mut out = MetricSet::new();
        let r = XfsCollector {
            roots: fixture_roots("broken"),
        }
        .collect(&mut out);
        assert!(r.is_err());
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in "\\PC*(\n\\PC*){0,8}") {
            let _ = parse(&text);
        }

        #[test]
        fn generated_file_parses_back(v in proptest::collection::vec(any::<u32>(), 39)) {
            let j = |r: std::ops::Range<usize>| v[r].iter().map(u32::to_string).collect::<Vec<_>>().join(" ");
            let text = format!(
                "extent_alloc {}\nabt {}\nblk_map {}\nbmbt {}\ndir {}\nig {}\nrw {} {}\nvnodes {} 0\nxpc 1 2 3\n",
                j(0..4), j(4..8), j(8..15), j(15..19), j(19..23), j(23..30), v[31], v[30], j(32..39)
            );
            let s = parse(&text).unwrap();
            let want: Vec<u64> = v.iter().map(|x| u64::from(*x)).collect();
            prop_assert_eq!(&s[..], &want[..]);
        }
    }
}
