//! `filesystem`: filesystem size and inode statistics, for the mounts listed in
//! `<procfs>/1/mountinfo` (or `<procfs>/self/mountinfo` when PID 1 is hidden), from statfs on each
//! mount point below `<rootfs>`.
//!
//! Names and labels follow node_exporter's `filesystem_linux.go` / `filesystem_common.go` as of
//! 1.12: every series carries `device`, `device_error`, `fstype` and `mountpoint`, and
//! `node_filesystem_mount_info` (1.9+) ties mount points to `major`/`minor` device numbers.
//!
//! statfs on a dead NFS server or a wedged FUSE daemon blocks in the kernel, uninterruptibly.
//! Each call therefore runs on its own thread and is waited for at most `--collector.filesystem.mount-timeout`;
//! a mount whose call did not return in time is reported with `device_error="mountpoint timeout"`
//! and is not statted again until that call returns (node_exporter's "stuck mounts"), so a hung
//! mount costs one blocked thread, not one more per sample.

use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::filter::DeviceFilter;
use super::{BuildContext, CollectError, Collector, Registration, Roots};
use crate::metrics::MetricSet;

pub const REGISTRATION: Registration = Registration {
    name: "filesystem",
    default_enabled: true,
    help: "filesystem size and inode statistics from mountinfo and statfs",
    flags: <Args as clap::Args>::augment_args,
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
        stats: StatRunner::new(Arc::new(statvfs_usage), args.mount_timeout),
    }))
}

pub struct FilesystemCollector {
    roots: Roots,
    mount_points: DeviceFilter,
    fs_types: DeviceFilter,
    stats: StatRunner,
}

/// One line of mountinfo (proc(5)), reduced to what the collector uses.
#[derive(Debug, Clone, PartialEq)]
pub struct Mount {
    pub major: u32,
    pub minor: u32,
    /// The mount point with the kernel's octal escapes decoded; raw bytes, as a path may be any.
    pub mount_point: PathBuf,
    /// Per-mount options ("rw,nosuid,relatime").
    pub options: String,
    pub fs_type: String,
    /// The mount source, node_exporter's `device` label, as the kernel prints it.
    pub source: String,
    /// Per-superblock options.
    pub super_options: String,
}

/// Parses one line of mountinfo:
/// `36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue`.
///
/// Hand-parsed rather than with procfs-core's `MountInfo::from_line`: that one needs UTF-8
/// lines, turns a "none" source into no source (node_exporter keeps `device="none"`), and leaves
/// the mount point escaped. Like the Go procfs parser node_exporter uses, the separator is looked
/// for as the fourth field from the end, after any number of optional fields.
pub fn parse_mountinfo_line(line: &[u8]) -> Result<Mount, String> {
    let fields: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
    let n = fields.len();
    if n < 10 {
        return Err(format!("expected at least 10 fields, found {n}"));
    }
    if fields[n - 4] != b"-" {
        return Err("expected \"-\" as the fourth field from the end".to_string());
    }
    let text = |field: &[u8]| String::from_utf8_lossy(field).into_owned();
    for (field, what) in [(fields[0], "mount ID"), (fields[1], "parent ID")] {
        if text(field).parse::<u64>().is_err() {
            return Err(format!(
                "{what}: expected an integer, found {:?}",
                text(field)
            ));
        }
    }
    let dev = text(fields[2]);
    let (major, minor) = dev
        .split_once(':')
        .and_then(|(ma, mi)| Some((ma.parse::<u32>().ok()?, mi.parse::<u32>().ok()?)))
        .ok_or_else(|| format!("expected major:minor, found {dev:?}"))?;
    Ok(Mount {
        major,
        minor,
        mount_point: PathBuf::from(OsStr::from_bytes(&unescape(fields[4]))),
        options: text(fields[5]),
        fs_type: text(fields[n - 3]),
        source: text(fields[n - 2]),
        super_options: text(fields[n - 1]),
    })
}

/// Decodes the kernel's octal escapes in a mountinfo path (`\040` for a space; the kernel also
/// escapes tab, newline and backslash). node_exporter decodes only space and tab; decoding all of
/// them keeps statfs working on such paths and changes nothing for the others.
pub fn unescape(field: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() {
        if let [b'\\', a @ b'0'..=b'3', b @ b'0'..=b'7', c @ b'0'..=b'7', ..] = field[i..] {
            out.push((a - b'0') * 64 + (b - b'0') * 8 + (c - b'0'));
            i += 4;
        } else {
            out.push(field[i]);
            i += 1;
        }
    }
    out
}

/// Whether the mount is read-only, as node_exporter 1.12 decides it from mountinfo: `ro` in the
/// per-mount or the superblock options, or ext4's `emergency_ro` (Linux 6.15+, set instead of `ro`
/// when errors=remount-ro has triggered).
pub fn is_read_only(mount: &Mount) -> bool {
    mount.options.split(',').any(|o| o == "ro")
        || mount
            .super_options
            .split(',')
            .any(|o| o == "ro" || o == "emergency_ro")
}

/// What statfs says about one filesystem, in node_exporter's units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FsUsage {
    pub size: f64,
    pub free: f64,
    pub avail: f64,
    pub files: f64,
    pub files_free: f64,
}

/// The statfs call, injectable so tests can make it fail or hang.
pub type StatFn = Arc<dyn Fn(&Path) -> io::Result<FsUsage> + Send + Sync>;

/// statvfs on `path`. Block counts are multiplied by `f_bsize`, as node_exporter does with
/// statfs' `Bsize` (statvfs' `f_bsize` is that same field on Linux).
pub fn statvfs_usage(path: &Path) -> io::Result<FsUsage> {
    let s = rustix::fs::statvfs(path)?;
    let bsize = s.f_bsize as f64;
    Ok(FsUsage {
        size: s.f_blocks as f64 * bsize,
        free: s.f_bfree as f64 * bsize,
        avail: s.f_bavail as f64 * bsize,
        files: s.f_files as f64,
        files_free: s.f_ffree as f64,
    })
}

/// node_exporter's `device_error` label value for a mount whose statfs did not return in time.
pub const TIMEOUT_ERROR: &str = "mountpoint timeout";

/// The `device_error` label for a failed statfs: node_exporter puts Go's error text there, which
/// for a system call is the C library's message starting in lower case
/// ("no such file or directory", "permission denied").
pub fn error_label(err: &io::Error) -> String {
    let text = err.to_string();
    let text = match text.rsplit_once(" (os error ") {
        Some((message, _)) if err.raw_os_error().is_some() => message,
        _ => text.as_str(),
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Runs statfs calls on their own threads under a timeout and remembers the mount points whose
/// call has not returned ("stuck"): those are reported as timed out, without a new call, until the
/// hung call returns. At most one thread per stuck mount point is ever blocked.
pub struct StatRunner {
    stat: StatFn,
    timeout: Duration,
    stuck: Arc<Mutex<HashSet<PathBuf>>>,
}

enum Pending {
    Stuck,
    Failed(String),
    Running(mpsc::Receiver<io::Result<FsUsage>>),
}

/// Locks the stuck set; a panic elsewhere while it was held leaves a usable set behind.
fn lock(stuck: &Mutex<HashSet<PathBuf>>) -> MutexGuard<'_, HashSet<PathBuf>> {
    stuck
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl StatRunner {
    pub fn new(stat: StatFn, timeout: Duration) -> StatRunner {
        StatRunner {
            stat,
            timeout,
            stuck: Arc::new(Mutex::new(HashSet::new())),
        }
    }

    /// statfs on every path, concurrently, all within one timeout. Each result is the usage or
    /// the `device_error` label.
    pub fn stat_all(&self, paths: &[PathBuf]) -> Vec<Result<FsUsage, String>> {
        let deadline = Instant::now() + self.timeout;
        let pending: Vec<Pending> = paths.iter().map(|p| self.start(p)).collect();
        pending
            .into_iter()
            .zip(paths)
            .map(|(pending, path)| self.finish(pending, path, deadline))
            .collect()
    }

    /// How many mount points currently have a hung call.
    pub fn stuck_count(&self) -> usize {
        lock(&self.stuck).len()
    }

    fn start(&self, path: &Path) -> Pending {
        if lock(&self.stuck).contains(path) {
            return Pending::Stuck;
        }
        let (tx, rx) = mpsc::sync_channel(1);
        let stat = Arc::clone(&self.stat);
        let stuck = Arc::clone(&self.stuck);
        let path = path.to_path_buf();
        let spawned = std::thread::Builder::new()
            .name("statfs".to_string())
            .stack_size(128 * 1024)
            .spawn(move || {
                let result = stat(&path);
                // Under the lock, so that the collector, which also checks for a result under
                // the lock before marking the mount stuck, either gets this result or has
                // already marked the mount and sees it unmarked here.
                let mut stuck = lock(&stuck);
                stuck.remove(&path);
                // The collector has stopped listening when it gave up; nothing to do then.
                let _ = tx.send(result);
            });
        match spawned {
            Ok(_) => Pending::Running(rx),
            Err(e) => Pending::Failed(error_label(&e)),
        }
    }

    fn finish(&self, pending: Pending, path: &Path, deadline: Instant) -> Result<FsUsage, String> {
        let rx = match pending {
            Pending::Stuck => return Err(TIMEOUT_ERROR.to_string()),
            Pending::Failed(label) => return Err(label),
            Pending::Running(rx) => rx,
        };
        let result = match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(result) => result,
            Err(RecvTimeoutError::Timeout) => {
                let mut stuck = lock(&self.stuck);
                match rx.try_recv() {
                    Ok(result) => result,
                    Err(_) => {
                        stuck.insert(path.to_path_buf());
                        return Err(TIMEOUT_ERROR.to_string());
                    }
                }
            }
            Err(RecvTimeoutError::Disconnected) => {
                return Err("statfs thread ended without a result".to_string());
            }
        };
        result.map_err(|e| error_label(&e))
    }
}

impl FilesystemCollector {
    /// Reads PID 1's mount table, the host's when procfs is the host's; falls back to our own
    /// when PID 1 is hidden (hidepid), as node_exporter does.
    fn read_mountinfo(&self) -> Result<(PathBuf, Vec<u8>), CollectError> {
        let init = self.roots.proc("1/mountinfo");
        match std::fs::read(&init) {
            Ok(bytes) => Ok((init, bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let own = self.roots.proc("self/mountinfo");
                let bytes = std::fs::read(&own).map_err(|e| CollectError::io(&own, e))?;
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
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn parses_mountinfo_lines() {
        let m = parse_mountinfo_line(
            b"65 24 253:2 / /home rw,relatime shared:34 master:2 - ext4 /dev/mapper/vgubuntu-home rw,errors=remount-ro",
        )
        .unwrap();
        assert_eq!((m.major, m.minor), (253, 2));
        assert_eq!(m.mount_point, PathBuf::from("/home"));
        assert_eq!(m.options, "rw,relatime");
        assert_eq!(m.fs_type, "ext4");
        assert_eq!(m.source, "/dev/mapper/vgubuntu-home");
        assert_eq!(m.super_options, "rw,errors=remount-ro");

        // No optional fields, a "none" source and an escaped space.
        let m =
            parse_mountinfo_line(b"90 24 0:50 / /media/My\\040Disk rw - tmpfs none rw").unwrap();
        assert_eq!(m.mount_point, PathBuf::from("/media/My Disk"));
        assert_eq!(m.source, "none");
    }

    #[test]
    fn rejects_malformed_mountinfo_lines() {
        for line in [
            &b"61 24 259:2 / /boot rw,relatime shared:32 - ext4"[..],
            b"61 24 259:2 / /boot rw,relatime shared:32 ext4 /dev/nvme0n1p2 rw",
            b"61 24 sda / /boot rw,relatime shared:32 - ext4 /dev/nvme0n1p2 rw",
            b"61 24 259 / /boot rw,relatime shared:32 - ext4 /dev/nvme0n1p2 rw",
            b"x 24 259:2 / /boot rw,relatime shared:32 - ext4 /dev/nvme0n1p2 rw",
            b"",
        ] {
            assert!(
                parse_mountinfo_line(line).is_err(),
                "{}",
                String::from_utf8_lossy(line)
            );
        }
    }

    #[test]
    fn unescapes_kernel_octal_escapes() {
        assert_eq!(unescape(br"/a\040b\011c\012d\134e"), b"/a b\tc\nd\\e");
        // Not an escape: left as is.
        assert_eq!(unescape(br"/a\9b\04"), br"/a\9b\04");
        // Non-UTF-8 bytes survive.
        assert_eq!(unescape(b"/x\xff"), b"/x\xff");
    }

    #[test]
    fn read_only_from_mount_or_superblock_options() {
        let mount = |options: &str, super_options: &str| Mount {
            major: 8,
            minor: 1,
            mount_point: PathBuf::from("/"),
            options: options.to_string(),
            fs_type: "ext4".to_string(),
            source: "/dev/sda1".to_string(),
            super_options: super_options.to_string(),
        };
        assert!(is_read_only(&mount("ro,relatime", "rw")));
        assert!(is_read_only(&mount("rw,relatime", "ro,errors=remount-ro")));
        assert!(is_read_only(&mount("rw", "rw,emergency_ro")));
        assert!(!is_read_only(&mount("rw,relatime", "rw,errors=remount-ro")));
        assert!(!is_read_only(&mount("rw,proto=tcp,rootcontext=x", "rw")));
    }

    #[test]
    fn error_labels_read_like_node_exporters() {
        assert_eq!(
            error_label(&io::Error::from_raw_os_error(2)),
            "no such file or directory"
        );
        assert_eq!(
            error_label(&io::Error::from_raw_os_error(13)),
            "permission denied"
        );
        assert_eq!(
            error_label(&io::Error::other("Boom (os error 1)")),
            "boom (os error 1)"
        );
    }

    fn usage(size: f64) -> FsUsage {
        FsUsage {
            size,
            free: 1.0,
            avail: 1.0,
            files: 1.0,
            files_free: 1.0,
        }
    }

    /// A statfs that hangs on "/hang" until released, and counts its calls there.
    struct Hanging {
        runner: StatRunner,
        release: mpsc::Sender<()>,
        hang_calls: Arc<AtomicUsize>,
    }

    fn hanging_runner() -> Hanging {
        let (release, wait) = mpsc::channel::<()>();
        let wait = Mutex::new(wait);
        let hang_calls = Arc::new(AtomicUsize::new(0));
        let calls = Arc::clone(&hang_calls);
        let stat: StatFn = Arc::new(move |path: &Path| {
            if path == Path::new("/hang") {
                calls.fetch_add(1, Ordering::SeqCst);
                let _ = wait.lock().unwrap().recv();
                return Ok(usage(2.0));
            }
            if path == Path::new("/missing") {
                return Err(io::Error::from_raw_os_error(2));
            }
            Ok(usage(1.0))
        });
        Hanging {
            runner: StatRunner::new(stat, Duration::from_millis(250)),
            release,
            hang_calls,
        }
    }

    #[test]
    fn reports_results_and_errors() {
        let h = hanging_runner();
        let results = h
            .runner
            .stat_all(&[PathBuf::from("/ok"), PathBuf::from("/missing")]);
        assert_eq!(results[0], Ok(usage(1.0)));
        assert_eq!(results[1], Err("no such file or directory".to_string()));
        assert_eq!(h.runner.stuck_count(), 0);
    }

    #[test]
    fn hung_statfs_times_out_and_is_not_repeated_until_it_returns() {
        let h = hanging_runner();
        let paths = [PathBuf::from("/hang"), PathBuf::from("/ok")];

        // The hung call does not hold back the others.
        let first = h.runner.stat_all(&paths);
        assert_eq!(first[0], Err(TIMEOUT_ERROR.to_string()));
        assert_eq!(first[1], Ok(usage(1.0)));
        assert_eq!(h.runner.stuck_count(), 1);

        // While stuck: reported as timed out without another call (no second blocked thread).
        let second = h.runner.stat_all(&paths);
        assert_eq!(second[0], Err(TIMEOUT_ERROR.to_string()));
        assert_eq!(second[1], Ok(usage(1.0)));
        assert_eq!(h.hang_calls.load(Ordering::SeqCst), 1);

        // Once the hung call returns, the mount is no longer stuck and is statted again.
        h.release.send(()).unwrap();
        for _ in 0..500 {
            if h.runner.stuck_count() == 0 {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(h.runner.stuck_count(), 0);
        h.release.send(()).unwrap();
        let third = h.runner.stat_all(&paths);
        assert_eq!(third[0], Ok(usage(2.0)));
        assert_eq!(h.hang_calls.load(Ordering::SeqCst), 2);
    }

    fn collector(roots: Roots, stat: StatFn) -> FilesystemCollector {
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
            stats: StatRunner::new(stat, Duration::from_secs(5)),
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
        let c = collector(roots.clone(), stat);
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
        let mut c = collector(roots, stat);
        c.stats.timeout = Duration::from_millis(250);
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
        let c = collector(roots, Arc::new(|_: &Path| Ok(usage(1.0))));
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
        let c = collector(roots, Arc::new(|_: &Path| Ok(usage(1.0))));
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
