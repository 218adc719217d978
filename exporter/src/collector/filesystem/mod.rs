//! `filesystem`: filesystem size and inode statistics, for the mounts listed in
//! `<procfs>/1/mountinfo` (or `<procfs>/self/mountinfo` when PID 1 is hidden), from statfs on each
//! mount point below `<rootfs>`.
//!
//! Names and labels follow node_exporter's `filesystem_linux.go` / `filesystem_common.go` as of
//! 1.12: every series carries `device`, `device_error`, `fstype` and `mountpoint`, and
//! `node_filesystem_mount_info` (1.9+) ties mount points to `major`/`minor` device numbers.
//!
//! statfs on a dead NFS server or a wedged FUSE daemon blocks in the kernel, uninterruptibly.
//! The calls therefore run on a worker thread and each is waited for at most
//! `--collector.filesystem.mount-timeout`; a mount whose call did not return in time is reported with `device_error="mountpoint timeout"`
//! and is not statted again until that call returns (node_exporter's "stuck mounts"), so a hung
//! mount costs one blocked thread (the worker, set aside and replaced), not one more per sample.

pub mod mountinfo;
pub mod statfs;

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use self::mountinfo::{is_read_only, parse_mountinfo_line, Mount};
use self::statfs::{statvfs_usage, StatRunner};
use super::filter::DeviceFilter;
use super::{BuildContext, CollectError, Collector, Registration, Roots};
use crate::metrics::MetricSet;

pub const REGISTRATION: Registration = Registration {
    name: "filesystem",
    default_enabled: true,
    help: "filesystem size and inode statistics from mountinfo and statfs",
    flags: <Args as clap::Args>::augment_args,
    cadence: super::Cadence::Slow,
    isolation: super::Isolation::Thread,
    build,
};

pub const DEFAULT_MOUNT_POINTS_EXCLUDE: &str =
    "^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)";
pub const DEFAULT_FS_TYPES_EXCLUDE: &str = "^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|erofs|sysfs|tracefs)$";

/// Flags of the `filesystem` collector.
#[derive(Debug, Clone, clap::Args)]
#[group(id = "filesystem_flags")]
#[command(next_help_heading = "Collector filesystem")]
pub struct Args {
    /// Regexp of mount points to exclude.
    // `ignored-mount-points` is node_exporter's deprecated spelling, still parsed by 1.12.
    #[arg(long = "collector.filesystem.mount-points-exclude", alias = "collector.filesystem.ignored-mount-points", value_name = "REGEX", default_value = DEFAULT_MOUNT_POINTS_EXCLUDE, conflicts_with = "filesystem_mount_points_include")]
    pub mount_points_exclude: String,
    /// Regexp of mount points to include (replaces the exclusion).
    #[arg(
        long = "collector.filesystem.mount-points-include",
        value_name = "REGEX",
        id = "filesystem_mount_points_include"
    )]
    pub mount_points_include: Option<String>,
    /// Regexp of filesystem types to exclude.
    // `ignored-fs-types` is node_exporter's deprecated spelling, still parsed by 1.12.
    #[arg(long = "collector.filesystem.fs-types-exclude", alias = "collector.filesystem.ignored-fs-types", value_name = "REGEX", default_value = DEFAULT_FS_TYPES_EXCLUDE, conflicts_with = "filesystem_fs_types_include")]
    pub fs_types_exclude: String,
    /// Regexp of filesystem types to include (replaces the exclusion).
    #[arg(
        long = "collector.filesystem.fs-types-include",
        value_name = "REGEX",
        id = "filesystem_fs_types_include"
    )]
    pub fs_types_include: Option<String>,
    /// How long to wait for statfs on one mount point before reporting it as timed out.
    #[arg(long = "collector.filesystem.mount-timeout", value_name = "DURATION", default_value = "500ms", value_parser = humantime::parse_duration)]
    pub mount_timeout: std::time::Duration,
    /// How many statfs calls to run at once (less than 1 counts as 1).
    #[arg(
        long = "collector.filesystem.stat-workers",
        id = "filesystem_stat_workers",
        value_name = "N",
        default_value_t = 4,
        allow_negative_numbers = true
    )]
    pub stat_workers: i64,
}

fn build(ctx: &BuildContext) -> Result<Box<dyn Collector>, String> {
    let args: Args = ctx.args()?;
    let mount_points = DeviceFilter::include_replaces_exclude(
        (
            "--collector.filesystem.mount-points-include",
            args.mount_points_include.as_deref(),
        ),
        (
            "--collector.filesystem.mount-points-exclude",
            Some(&args.mount_points_exclude),
        ),
    )?;
    let fs_types = DeviceFilter::include_replaces_exclude(
        (
            "--collector.filesystem.fs-types-include",
            args.fs_types_include.as_deref(),
        ),
        (
            "--collector.filesystem.fs-types-exclude",
            Some(&args.fs_types_exclude),
        ),
    )?;
    Ok(Box::new(FilesystemCollector {
        roots: ctx.roots.clone(),
        mount_points,
        fs_types,
        stats: StatRunner::new(Arc::new(statvfs_usage), args.mount_timeout)
            .with_workers(args.stat_workers),
    }))
}

pub struct FilesystemCollector {
    roots: Roots,
    mount_points: DeviceFilter,
    fs_types: DeviceFilter,
    stats: StatRunner,
}
impl FilesystemCollector {
    /// Reads PID 1's mount table, the host's when procfs is the host's; falls back to our own
    /// when PID 1 is hidden (hidepid), as node_exporter does.
    fn read_mountinfo(&self) -> Result<(PathBuf, Vec<u8>), CollectError> {
        let init = self.roots.proc("1/mountinfo");
        match crate::collector::read_bytes(&init) {
            Ok(bytes) => Ok((init, bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let own = self.roots.proc("self/mountinfo");
                let bytes =
                    crate::collector::read_bytes(&own).map_err(|e| CollectError::io(&own, e))?;
                Ok((own, bytes))
            }
            Err(e) => Err(CollectError::io(&init, e)),
        }
    }

    /// A mount point as seen from the host: when the mount table is our own and the host's
    /// root is mounted at `--path.rootfs` (a container), the prefix is stripped, as node_exporter does.
    fn host_mount_point(&self, mount_point: &Path) -> PathBuf {
        if self.roots.rootfs == Path::new("/") {
            return mount_point.to_path_buf();
        }
        match mount_point.strip_prefix(&self.roots.rootfs) {
            Ok(rest) => Path::new("/").join(rest),
            Err(_) => mount_point.to_path_buf(),
        }
    }
}

/// A mount the collector reports, after filtering.
struct Entry {
    mount: Mount,
    mount_point: String,
    stat_index: usize,
}

impl Collector for FilesystemCollector {
    fn collect(&self, out: &mut MetricSet) -> Result<(), CollectError> {
        let (path, bytes) = self.read_mountinfo()?;

        let mut bad_lines = Vec::new();
        let mut entries: Vec<Entry> = Vec::new();
        let mut seen: HashMap<(String, String, String), usize> = HashMap::new();
        let mut stat_paths: Vec<PathBuf> = Vec::new();
        let mut stat_slot: HashMap<PathBuf, usize> = HashMap::new();
        for (index, line) in bytes.split(|&b| b == b'\n').enumerate() {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let mut mount = match parse_mountinfo_line(line) {
                Ok(mount) => mount,
                Err(message) => {
                    bad_lines.push(format!("line {}: {message}", index + 1));
                    continue;
                }
            };
            mount.mount_point = self.host_mount_point(&mount.mount_point);
            let mount_point = mount.mount_point.to_string_lossy().into_owned();
            if self.mount_points.ignored(&mount_point) || self.fs_types.ignored(&mount.fs_type) {
                continue;
            }
            // One statfs per path, however many mounts are stacked on it.
            let next = stat_paths.len();
            let stat_index = *stat_slot.entry(mount.mount_point.clone()).or_insert(next);
            if stat_index == next {
                stat_paths.push(self.roots.root(&mount.mount_point));
            }
            // A (device, mount point, type) seen again is the same filesystem mounted again on
            // the same path (a bind mount of a directory onto itself, made read-only, say):
            // node_exporter reports it once; the later mount is the one visible at the path,
            // so its options win.
            let key = (
                mount.source.clone(),
                mount_point.clone(),
                mount.fs_type.clone(),
            );
            match seen.get(&key) {
                Some(&i) => {
                    if let Some(existing) = entries.get_mut(i) {
                        existing.mount = mount;
                    }
                }
                None => {
                    seen.insert(key, entries.len());
                    entries.push(Entry {
                        mount,
                        mount_point,
                        stat_index,
                    });
                }
            }
        }

        let results = self.stats.stat_all(&stat_paths);
        for entry in &entries {
            let mount = &entry.mount;
            let result = results
                .get(entry.stat_index)
                .cloned()
                .unwrap_or_else(|| Err(String::new()));
            let error = result.as_ref().err().map(String::as_str).unwrap_or("");
            let labels = [
                ("device", mount.source.as_str()),
                ("device_error", error),
                ("fstype", mount.fs_type.as_str()),
                ("mountpoint", entry.mount_point.as_str()),
            ];
            out.gauge(
                "node_filesystem_device_error",
                "Whether an error occurred while getting statistics for the filesystem.",
            )
            .sample(&labels, if result.is_err() { 1.0 } else { 0.0 });
            out.gauge(
                "node_filesystem_readonly",
                "Whether the filesystem is mounted read-only.",
            )
            .sample(&labels, if is_read_only(mount) { 1.0 } else { 0.0 });
            let Ok(usage) = result else { continue };
            out.gauge("node_filesystem_size_bytes", "Filesystem size in bytes.")
                .sample(&labels, usage.size);
            out.gauge(
                "node_filesystem_free_bytes",
                "Free space on the filesystem in bytes.",
            )
            .sample(&labels, usage.free);
            out.gauge(
                "node_filesystem_avail_bytes",
                "Space on the filesystem available to unprivileged users in bytes.",
            )
            .sample(&labels, usage.avail);
            out.gauge(
                "node_filesystem_files",
                "Total file nodes (inodes) of the filesystem.",
            )
            .sample(&labels, usage.files);
            out.gauge(
                "node_filesystem_files_free",
                "Free file nodes (inodes) of the filesystem.",
            )
            .sample(&labels, usage.files_free);
            let (major, minor) = (mount.major.to_string(), mount.minor.to_string());
            out.gauge(
                "node_filesystem_mount_info",
                "Which device is mounted where.",
            )
            .sample(
                &[
                    ("device", mount.source.as_str()),
                    ("major", &major),
                    ("minor", &minor),
                    ("mountpoint", entry.mount_point.as_str()),
                ],
                1.0,
            );
        }

        super::malformed_lines(&path, &bad_lines)
    }
}

#[cfg(test)]
mod tests {
    use super::statfs::{FsUsage, StatFn};
    use super::*;
    use std::path::Path;
    use std::sync::mpsc;
    use std::sync::Mutex;
    use std::time::Duration;

    fn usage(size: f64) -> FsUsage {
        FsUsage {
            size,
            free: 1.0,
            avail: 1.0,
            files: 1.0,
            files_free: 1.0,
        }
    }

    fn collector(roots: Roots, stat: StatFn, timeout: Duration) -> FilesystemCollector {
        FilesystemCollector {
            roots,
            mount_points: DeviceFilter::include_replaces_exclude(
                ("b", None),
                ("a", Some(DEFAULT_MOUNT_POINTS_EXCLUDE)),
            )
            .unwrap(),
            fs_types: DeviceFilter::include_replaces_exclude(
                ("d", None),
                ("c", Some(DEFAULT_FS_TYPES_EXCLUDE)),
            )
            .unwrap(),
            stats: StatRunner::new(stat, timeout),
        }
    }

    fn labels_of(set: &MetricSet, name: &str) -> Vec<(String, f64)> {
        set.get(name)
            .map(|f| {
                f.samples
                    .iter()
                    .map(|s| {
                        let l: Vec<String> =
                            s.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
                        (l.join(","), s.value)
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn collects_filters_dedupes_and_falls_back_to_self() {
        let dir = tempfile::tempdir().unwrap();
        let roots = Roots {
            procfs: dir.path().join("proc"),
            sysfs: dir.path().join("sys"),
            rootfs: dir.path().join("root"),
        };
        // No proc/1: the collector reads proc/self/mountinfo.
        std::fs::create_dir_all(roots.proc("self")).unwrap();
        std::fs::write(
            roots.proc("self/mountinfo"),
            "24 1 253:1 / / rw,relatime shared:1 - ext4 /dev/mapper/root rw\n\
             25 24 0:22 / /sys rw,nosuid shared:7 - sysfs sysfs rw\n\
             26 24 7:0 / /snap/core/1 ro,nodev shared:30 - squashfs /dev/loop0 ro\n\
             27 24 253:1 /srv /srv rw,relatime shared:1 - ext4 /dev/mapper/root rw\n\
             28 27 253:1 /srv /srv ro,relatime shared:1 - ext4 /dev/mapper/root rw\n\
             29 24 0:40 / /mnt/My\\040Disk rw - exfat /dev/sdb1 rw\n\
             30 24 0:41 / /gone rw - ext4\n\
             31 24 0:42 / /gone rw - xfs /dev/sdc1 rw\n",
        )
        .unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let seen_in_stat = Arc::clone(&seen);
        let stat: StatFn = Arc::new(move |path: &Path| {
            seen_in_stat.lock().unwrap().push(path.to_path_buf());
            if path.ends_with("gone") {
                Err(io::Error::from_raw_os_error(2))
            } else {
                Ok(usage(4096.0))
            }
        });
        let c = collector(roots.clone(), stat, Duration::from_secs(5));
        let mut out = MetricSet::new();
        let err = c.collect(&mut out).unwrap_err().to_string();
        assert!(
            err.contains("self/mountinfo") && err.contains("line 7"),
            "{err}"
        );

        // One statfs per distinct path, under the rootfs.
        let seen = seen.lock().unwrap().clone();
        assert_eq!(
            seen.iter().filter(|p| p.starts_with(&roots.rootfs)).count(),
            4,
            "{seen:?}"
        );

        assert_eq!(
            labels_of(&out, "node_filesystem_readonly"),
            vec![
                ("device=/dev/mapper/root,device_error=,fstype=ext4,mountpoint=/".to_string(), 0.0),
                ("device=/dev/mapper/root,device_error=,fstype=ext4,mountpoint=/srv".to_string(), 1.0),
                ("device=/dev/sdb1,device_error=,fstype=exfat,mountpoint=/mnt/My Disk".to_string(), 0.0),
                (
                    "device=/dev/sdc1,device_error=no such file or directory,fstype=xfs,mountpoint=/gone".to_string(),
                    0.0
                ),
            ]
        );
        let errors = labels_of(&out, "node_filesystem_device_error");
        assert_eq!(
            errors.iter().map(|e| e.1).collect::<Vec<_>>(),
            vec![0.0, 0.0, 0.0, 1.0]
        );
        // No usage and no mount_info for the failed mount.
        assert_eq!(labels_of(&out, "node_filesystem_size_bytes").len(), 3);
        assert_eq!(
            labels_of(&out, "node_filesystem_mount_info")[0],
            (
                "device=/dev/mapper/root,major=253,minor=1,mountpoint=/".to_string(),
                1.0
            )
        );
    }

    #[test]
    fn hung_mount_is_reported_with_the_timeout_label() {
        let dir = tempfile::tempdir().unwrap();
        let roots = Roots {
            procfs: dir.path().join("proc"),
            sysfs: dir.path().join("sys"),
            rootfs: dir.path().join("root"),
        };
        std::fs::create_dir_all(roots.proc("1")).unwrap();
        std::fs::write(
            roots.proc("1/mountinfo"),
            "24 1 8:1 / / rw shared:1 - ext4 /dev/sda1 rw\n\
             40 24 0:50 / /mnt/nfs ro shared:9 - nfs4 nas:/export ro,vers=4.2\n",
        )
        .unwrap();
        // The NFS mount's statfs blocks until `release` is dropped at the end of the test.
        let (release, wait) = mpsc::channel::<()>();
        let wait = Mutex::new(wait);
        let stat: StatFn = Arc::new(move |path: &Path| {
            if path.ends_with("mnt/nfs") {
                let _ = wait.lock().unwrap().recv();
            }
            Ok(usage(1.0))
        });
        let c = collector(roots, stat, Duration::from_millis(250));
        let mut out = MetricSet::new();
        c.collect(&mut out).unwrap();
        assert_eq!(
            labels_of(&out, "node_filesystem_device_error"),
            vec![
                ("device=/dev/sda1,device_error=,fstype=ext4,mountpoint=/".to_string(), 0.0),
                (
                    "device=nas:/export,device_error=mountpoint timeout,fstype=nfs4,mountpoint=/mnt/nfs".to_string(),
                    1.0
                ),
            ]
        );
        assert_eq!(labels_of(&out, "node_filesystem_readonly")[1].1, 1.0);
        assert_eq!(labels_of(&out, "node_filesystem_size_bytes").len(), 1);
        drop(release);
    }

    #[test]
    fn missing_mount_table_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let roots = Roots {
            procfs: dir.path().to_path_buf(),
            sysfs: dir.path().to_path_buf(),
            rootfs: dir.path().to_path_buf(),
        };
        let c = collector(
            roots,
            Arc::new(|_: &Path| Ok(usage(1.0))),
            Duration::from_secs(5),
        );
        let err = c.collect(&mut MetricSet::new()).unwrap_err().to_string();
        assert!(err.contains("self/mountinfo"), "{err}");
    }

    #[test]
    fn strips_rootfs_prefix_from_own_mount_table() {
        let dir = tempfile::tempdir().unwrap();
        let roots = Roots {
            procfs: dir.path().to_path_buf(),
            sysfs: dir.path().to_path_buf(),
            rootfs: PathBuf::from("/host"),
        };
        let c = collector(
            roots,
            Arc::new(|_: &Path| Ok(usage(1.0))),
            Duration::from_secs(5),
        );
        assert_eq!(
            c.host_mount_point(Path::new("/host/home")),
            PathBuf::from("/home")
        );
        assert_eq!(c.host_mount_point(Path::new("/host")), PathBuf::from("/"));
        assert_eq!(
            c.host_mount_point(Path::new("/hostile")),
            PathBuf::from("/hostile")
        );
    }
}
