//! `btrfs`: per-filesystem Btrfs statistics from `<sysfs>/fs/btrfs/<uuid>/`
//! (Documentation/ABI/testing/sysfs-fs-btrfs), exported as node_exporter 1.12 does:
//!
//! * `node_btrfs_info{uuid,label}` and `node_btrfs_global_rsv_size_bytes{uuid}`;
//! * `node_btrfs_reserved_bytes{uuid,block_group_type}` for `data`, `metadata` and `system`, and
//!   per allocation profile (`single`, `dup`, `raid1`, ...: the subdirectories of
//!   `allocation/<type>/`) `node_btrfs_{used,size}_bytes` and `node_btrfs_allocation_ratio`
//!   `{uuid,block_group_type,mode}` (the ratio is the profile's, from the device count for
//!   RAID5/6, and 0 for profiles node_exporter does not know, such as `raid1c3`);
//! * from `commit_stats` (Linux 6.0+): `node_btrfs_commits_total`,
//!   `node_btrfs_commit_seconds_total`, `node_btrfs_last_commit_seconds`,
//!   `node_btrfs_max_commit_seconds`;
//! * `node_btrfs_device_size_bytes{uuid,device}` from `devices/<dev>/size` (512-byte sectors).
//!
//! node_exporter 1.12 also asks the mounted filesystem for per-device information through btrfs
//! ioctls (BTRFS_IOC_FS_INFO, DEV_INFO, GET_DEV_STATS on a file descriptor of the mount point):
//! when they answer it labels the device series with `btrfs_dev_uuid` and adds
//! `node_btrfs_device_unused_bytes` and `node_btrfs_device_errors_total{type}`. Those ioctls need
//! the real filesystem, not a tree of files, so sysmon exports the sysfs form (node_exporter's own
//! fallback when the ioctls fail); see the README.
//!
//! As node_exporter (procfs) does, a missing attribute reads 0 and an attribute that is not a
//! number reads 0; a directory that cannot be listed, an unreadable attribute or a malformed
//! `commit_stats` fails the filesystem.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use super::{BuildContext, CollectError, Collector, Registration, Roots};
use crate::metrics::MetricSet;

pub const REGISTRATION: Registration = Registration {
    name: "btrfs",
    default_enabled: true,
    help: "Btrfs allocation, device and commit statistics from /sys/fs/btrfs",
    flags: super::no_flags,
    cadence: super::Cadence::Slow,
    isolation: super::Isolation::Inline,
    build,
};

fn build(ctx: &BuildContext) -> Result<Box<dyn Collector>, String> {
    Ok(Box::new(BtrfsCollector {
        roots: ctx.roots.clone(),
    }))
}

pub struct BtrfsCollector {
    roots: Roots,
}

/// Commit statistics (`commit_stats`), in milliseconds.
#[derive(Debug, Default, PartialEq, Eq, Clone, Copy)]
pub struct CommitStats {
    pub commits: u64,
    pub last_commit_ms: u64,
    pub max_commit_ms: u64,
    pub total_commit_ms: u64,
}

/// Parses `commit_stats`: `key value` lines; every line must have exactly two fields and an
/// unsigned value; unknown keys (`cur_commit_ms`) are skipped.
pub fn parse_commit_stats(text: &str) -> Result<CommitStats, String> {
    let mut s = CommitStats::default();
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let (Some(key), Some(value), None) = (fields.next(), fields.next(), fields.next()) else {
            return Err(format!("expected \"key value\", found {line:?}"));
        };
        let value = value
            .parse::<u64>()
            .map_err(|_| format!("{key}: expected an unsigned integer, found {value:?}"))?;
        match key {
            "commits" => s.commits = value,
            "last_commit_ms" => s.last_commit_ms = value,
            "max_commit_ms" => s.max_commit_ms = value,
            "total_commit_ms" => s.total_commit_ms = value,
            _ => {}
        }
    }
    Ok(s)
}

/// An attribute's value as node_exporter reads it: trimmed text, `""` when the file is missing.
fn read_attr(path: &Path) -> Result<String, CollectError> {
    match crate::collector::read_bytes(path) {
        Ok(bytes) => Ok(String::from_utf8_lossy(&bytes).trim().to_string()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(CollectError::io(path, e)),
    }
}

/// A numeric attribute: 0 when missing or not a number (as node_exporter).
fn read_value(path: &Path) -> Result<u64, CollectError> {
    Ok(read_attr(path)?.parse().unwrap_or(0))
}

/// Names in a directory, sorted.
fn list(path: &Path) -> Result<Vec<(String, PathBuf)>, CollectError> {
    Ok(super::sorted_dir_entries(path)?
        .into_iter()
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .collect())
}

/// The allocation ratio of a profile: bytes of disk per byte stored.
pub fn allocation_ratio(mode: &str, devices: usize) -> f64 {
    let n = devices as f64;
    match mode {
        "single" | "raid0" => 1.0,
        "dup" | "raid1" | "raid10" => 2.0,
        "raid5" => n / (n - 1.0),
        "raid6" => n / (n - 2.0),
        _ => 0.0,
    }
}

struct Layout {
    mode: String,
    used: u64,
    total: u64,
}

struct Filesystem {
    uuid: String,
    label: String,
    global_rsv_size: u64,
    commit: CommitStats,
    /// (block group type, reserved bytes, profiles)
    allocation: Vec<(&'static str, u64, Vec<Layout>)>,
    devices: Vec<(String, u64)>,
}

fn read_filesystem(dir: &Path) -> Result<Filesystem, CollectError> {
    let devices: Vec<(String, u64)> = list(&dir.join("devices"))?
        .into_iter()
        .map(|(name, path)| Ok((name, 512 * read_value(&path.join("size"))?)))
        .collect::<Result<_, CollectError>>()?;
    let label = read_attr(&dir.join("label"))?;
    let mut uuid = read_attr(&dir.join("metadata_uuid"))?;
    if uuid.is_empty() {
        uuid = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
    }
    // node_exporter lists `features` and fails the filesystem when it cannot.
    super::sorted_dir_entries(dir.join("features"))?;
    let global_rsv_size = read_value(&dir.join("allocation/global_rsv_size"))?;
    let mut allocation = Vec::with_capacity(3);
    for kind in ["data", "metadata", "system"] {
        let adir = dir.join("allocation").join(kind);
        let reserved = read_value(&adir.join("bytes_reserved"))?;
        let mut layouts = Vec::new();
        for (mode, path) in list(&adir)? {
            if !path.is_dir() {
                continue;
            }
            layouts.push(Layout {
                total: read_value(&path.join("total_bytes"))?,
                used: read_value(&path.join("used_bytes"))?,
                mode,
            });
        }
        allocation.push((kind, reserved, layouts));
    }
    let commit_path = dir.join("commit_stats");
    let commit = match crate::collector::read_text(&commit_path) {
        Ok(text) => parse_commit_stats(&text).map_err(|m| CollectError::parse(&commit_path, m))?,
        Err(e) if e.kind() == ErrorKind::NotFound => CommitStats::default(),
        Err(e) => return Err(CollectError::io(&commit_path, e)),
    };
    Ok(Filesystem {
        uuid,
        label,
        global_rsv_size,
        commit,
        allocation,
        devices,
    })
}

fn export(fs: &Filesystem, out: &mut MetricSet) {
    let uuid = fs.uuid.as_str();
    out.gauge("node_btrfs_info", "Filesystem information.")
        .sample(&[("uuid", uuid), ("label", &fs.label)], 1.0);
    out.gauge(
        "node_btrfs_global_rsv_size_bytes",
        "Size of the global reserve.",
    )
    .sample(&[("uuid", uuid)], fs.global_rsv_size as f64);
    out.counter(
        "node_btrfs_commits_total",
        "Number of transaction commits since mount.",
    )
    .sample(&[("uuid", uuid)], fs.commit.commits as f64);
    out.gauge(
        "node_btrfs_last_commit_seconds",
        "Duration of the latest commit, in seconds.",
    )
    .sample(&[("uuid", uuid)], fs.commit.last_commit_ms as f64 / 1000.0);
    out.gauge(
        "node_btrfs_max_commit_seconds",
        "Duration of the longest commit, in seconds.",
    )
    .sample(&[("uuid", uuid)], fs.commit.max_commit_ms as f64 / 1000.0);
    out.counter(
        "node_btrfs_commit_seconds_total",
        "Time spent in commits, in seconds.",
    )
    .sample(&[("uuid", uuid)], fs.commit.total_commit_ms as f64 / 1000.0);
    for (kind, reserved, layouts) in &fs.allocation {
        out.gauge(
            "node_btrfs_reserved_bytes",
            "Space reserved for a block group type.",
        )
        .sample(
            &[("uuid", uuid), ("block_group_type", kind)],
            *reserved as f64,
        );
        for l in layouts {
            let labels = [
                ("uuid", uuid),
                ("block_group_type", *kind),
                ("mode", l.mode.as_str()),
            ];
            out.gauge(
                "node_btrfs_used_bytes",
                "Space used by a block group type in a profile.",
            )
            .sample(&labels, l.used as f64);
            out.gauge(
                "node_btrfs_size_bytes",
                "Space allocated to a block group type in a profile.",
            )
            .sample(&labels, l.total as f64);
            out.gauge(
                "node_btrfs_allocation_ratio",
                "Bytes of disk per byte stored for a block group type in a profile.",
            )
            .sample(&labels, allocation_ratio(&l.mode, fs.devices.len()));
        }
    }
    for (device, size) in &fs.devices {
        out.gauge(
            "node_btrfs_device_size_bytes",
            "Size of a device of the filesystem.",
        )
        .sample(&[("uuid", uuid), ("device", device)], *size as f64);
    }
}

impl Collector for BtrfsCollector {
    fn collect(&self, out: &mut MetricSet) -> Result<(), CollectError> {
        let Ok(entries) = list(&self.roots.sys("fs/btrfs")) else {
            return Ok(());
        };
        let mut errors = Vec::new();
        // The filesystems are the `<uuid>` directories (node_exporter's `*-*`), not `features`.
        for (name, path) in entries {
            if !name.contains('-') {
                continue;
            }
            match read_filesystem(&path) {
                Ok(fs) => export(&fs, out),
                Err(e) => errors.push(e),
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

    #[test]
    fn commit_stats() {
        let s = parse_commit_stats(
            "commits 1234\ncur_commit_ms 0\nlast_commit_ms 12\nmax_commit_ms 950\ntotal_commit_ms 40500\n",
        )
        .unwrap();
        assert_eq!(
            s,
            CommitStats {
                commits: 1234,
                last_commit_ms: 12,
                max_commit_ms: 950,
                total_commit_ms: 40500
            }
        );
        assert!(parse_commit_stats("commits\n").is_err());
        assert!(parse_commit_stats("commits -1\n").is_err());
        assert!(parse_commit_stats("commits 1 2\n").is_err());
    }

    #[test]
    fn ratios() {
        assert_eq!(allocation_ratio("dup", 1), 2.0);
        assert_eq!(allocation_ratio("raid5", 4), 4.0 / 3.0);
        assert_eq!(allocation_ratio("raid1c3", 3), 0.0);
    }

    #[test]
    fn server_fixture() {
        let mut out = MetricSet::new();
        BtrfsCollector {
            roots: fixture_roots("server"),
        }
        .collect(&mut out)
        .unwrap();
        let info = out.get("node_btrfs_info").unwrap();
        assert_eq!(info.samples.len(), 1);
        let used = out.get("node_btrfs_used_bytes").unwrap();
        assert!(used
            .samples
            .iter()
            .any(|s| s.labels[1].1 == "metadata" && s.labels[2].1 == "dup"));
        assert!(out.get("node_btrfs_device_size_bytes").unwrap().samples[0].value > 0.0);
        // Linux 5.14 has no commit_stats: the commit series read 0, as in node_exporter.
        assert_eq!(
            out.get("node_btrfs_commits_total").unwrap().samples[0].value,
            0.0
        );
    }

    #[test]
    fn broken_fixture_fails() {
        let mut out = MetricSet::new();
        let r = BtrfsCollector {
            roots: fixture_roots("broken"),
        }
        .collect(&mut out);
        assert!(r.is_err());
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in "\\PC*(\n\\PC*){0,8}") {
            let _ = parse_commit_stats(&text);
        }

        #[test]
        fn generated_commit_stats_parse_back(a in any::<u64>(), b in any::<u64>(), c in any::<u64>(), d in any::<u64>()) {
            let text = format!("commits {a}\ncur_commit_ms 0\nlast_commit_ms {b}\nmax_commit_ms {c}\ntotal_commit_ms {d}\n");
            prop_assert_eq!(parse_commit_stats(&text).unwrap(), CommitStats {
                commits: a, last_commit_ms: b, max_commit_ms: c, total_commit_ms: d
            });
        }
    }
}
