//! Host collectors. One module per collector; each knows how to read one part of the machine
//! through the configured roots and nothing about HTTP, scheduling or encoding.
//!
//! Adding a collector: write the module (its flags, parsing, metrics and tests all live there),
//! implement [`Collector`], and add one line to [`REGISTRY`]. Flags reach the command line through
//! [`Registration::flags`]; the README's collector table, the oracle test, the fuzz and bench lists
//! are checked against the registry by `tests/registry.rs`.

use std::path::{Path, PathBuf};

use crate::anomaly::signals::Readings;
use crate::metrics::MetricSet;
pub use crate::sampler::{Cadence, Isolation};

pub mod arp;
pub mod bcache;
pub mod bonding;
pub mod btrfs;
pub mod conntrack;
pub mod cpu;
pub mod cpufreq;
pub mod diskstats;
pub mod dmi;
pub mod dmmultipath;
pub mod edac;
pub mod entropy;
pub mod fibrechannel;
pub mod filefd;
pub mod filesystem;
pub mod filter;
pub mod hwmon;
pub mod infiniband;
pub mod ipvs;
pub mod kept_open;
pub mod kernel_hung;
pub mod loadavg;
pub mod mdadm;
pub mod meminfo;
pub mod netclass;
pub mod netdev;
pub mod netstat;
pub mod nfs;
pub mod nfsd;
pub mod nvme;
pub mod os;
pub mod powersupplyclass;
pub mod pressure;
pub mod process;
pub mod processes;
pub mod rapl;
pub mod schedstat;
pub mod selinux;
pub mod sockstat;
pub mod softnet;
pub mod stat;
pub mod tapestats;
pub mod textfile;
pub mod thermal_zone;
pub mod time;
pub mod timex;
pub mod udp_queues;
pub mod uname;
pub mod usb;
pub mod vmstat;
pub mod watchdog;
pub mod xfs;
pub mod zfs;

/// Why a collector failed this sample. The message ends up in the log and on the landing page;
/// it should name the file and what was wrong with it.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    #[error("reading {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("parsing {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{0}")]
    Other(String),
}

impl CollectError {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        CollectError::Io {
            path: path.into(),
            source,
        }
    }

    pub fn parse(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        CollectError::Parse {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// A collector reads one part of the machine into a [`MetricSet`].
///
/// `collect` is blocking and runs on a worker thread under a timeout, so it may read files freely.
/// State that must survive between samples (for example, keeping CPU counters monotonic) lives
/// behind interior mutability, because a collector is shared with the sampler.
///
/// On error, the samples already added to `out` are still published (as node_exporter does),
/// and the collector is reported with `node_scrape_collector_success 0`.
pub trait Collector: Send + Sync {
    fn collect(&self, out: &mut MetricSet) -> Result<(), CollectError>;

    /// Whether the families come from outside the exporter (the `textfile` collector's files), so
    /// their names are not known in advance. The sampler drops such a family when its name is also
    /// exported by another collector or by the exporter itself, so no family is announced twice.
    fn foreign_families(&self) -> bool {
        false
    }

    /// Whether the collector reads the anomaly rules' inputs every sample with
    /// [`Collector::signals`], so that its full `collect` can run on the slow interval. Asked
    /// before every sample: a collector may say no while it has nothing to read (its rule inputs
    /// then come from its last full run's output, as for any other collector).
    fn reads_signals(&self) -> bool {
        false
    }

    /// Reads this collector's part of the anomaly rules' inputs, as cheaply as it can (no metric
    /// families, kept-open files, reused buffers). Called every sample when
    /// [`Collector::reads_signals`] says so; what is read before an error is kept.
    fn signals(&self, _readings: &mut Readings) -> Result<(), CollectError> {
        Ok(())
    }
}

/// Where collectors read the machine from. Tests point these at fixture trees.
#[derive(Debug, Clone)]
pub struct Roots {
    pub procfs: PathBuf,
    pub sysfs: PathBuf,
    pub rootfs: PathBuf,
}

impl Default for Roots {
    fn default() -> Self {
        Roots {
            procfs: PathBuf::from("/proc"),
            sysfs: PathBuf::from("/sys"),
            rootfs: PathBuf::from("/"),
        }
    }
}

impl Roots {
    pub fn proc(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.procfs.join(rel)
    }
    pub fn sys(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.sysfs.join(rel)
    }
    /// A path of the host's root filesystem, e.g. a mount point from mountinfo.
    pub fn root(&self, abs: impl AsRef<Path>) -> PathBuf {
        let abs = abs.as_ref();
        self.rootfs.join(abs.strip_prefix("/").unwrap_or(abs))
    }
}

/// Everything a collector may need to build itself: the roots, the settings and the parsed command
/// line. A collector's own `--collector.<name>.*` flags are read from it with [`BuildContext::args`].
pub struct BuildContext<'a> {
    pub roots: &'a Roots,
    pub cli: &'a crate::cli::Cli,
    /// Settings from the config file and flags (interval, storage path).
    pub settings: &'a crate::config::Settings,
}

impl BuildContext<'_> {
    /// The collector's own flags (the `clap::Args` struct its [`Registration::flags`] added).
    pub fn args<A: clap::FromArgMatches>(&self) -> Result<A, String> {
        A::from_arg_matches(&self.cli.matches).map_err(|e| e.to_string())
    }
}

/// A collector's registration: its name (as in `--collector.<name>`), whether it runs by default,
/// its own flags, and how to build it. A build error (a bad include/exclude regex, say) is a usage
/// error.
pub struct Registration {
    pub name: &'static str,
    pub default_enabled: bool,
    pub help: &'static str,
    /// Adds the collector's `--collector.<name>.*` flags to the command: `<Args as
    /// clap::Args>::augment_args` for a module with an `Args` struct, [`no_flags`] otherwise.
    pub flags: fn(clap::Command) -> clap::Command,
    /// How often it runs: [`Cadence::EverySample`] when an anomaly rule reads its series (see
    /// `anomaly/signals.rs`), [`Cadence::Slow`] otherwise.
    pub cadence: Cadence,
    /// [`Isolation::Thread`] when a read can hang (a driver's sysfs attribute, statfs, a file on
    /// a network filesystem), [`Isolation::Inline`] for kernel-generated /proc files.
    pub isolation: Isolation,
    pub build: fn(&BuildContext) -> Result<Box<dyn Collector>, String>,
}

/// [`Registration::flags`] of a collector without flags of its own.
pub fn no_flags(cmd: clap::Command) -> clap::Command {
    cmd
}

/// Every collector the exporter knows, in the order their metrics appear in the output.
pub const REGISTRY: &[Registration] = &[
    arp::REGISTRATION,
    bcache::REGISTRATION,
    bonding::REGISTRATION,
    btrfs::REGISTRATION,
    conntrack::REGISTRATION,
    cpu::REGISTRATION,
    cpufreq::REGISTRATION,
    diskstats::REGISTRATION,
    dmi::REGISTRATION,
    dmmultipath::REGISTRATION,
    edac::REGISTRATION,
    entropy::REGISTRATION,
    fibrechannel::REGISTRATION,
    filefd::REGISTRATION,
    filesystem::REGISTRATION,
    hwmon::REGISTRATION,
    infiniband::REGISTRATION,
    ipvs::REGISTRATION,
    kernel_hung::REGISTRATION,
    loadavg::REGISTRATION,
    mdadm::REGISTRATION,
    meminfo::REGISTRATION,
    netclass::REGISTRATION,
    netdev::REGISTRATION,
    netstat::REGISTRATION,
    nfs::REGISTRATION,
    nfsd::REGISTRATION,
    nvme::REGISTRATION,
    os::REGISTRATION,
    powersupplyclass::REGISTRATION,
    pressure::REGISTRATION,
    process::REGISTRATION,
    processes::REGISTRATION,
    rapl::REGISTRATION,
    schedstat::REGISTRATION,
    selinux::REGISTRATION,
    sockstat::REGISTRATION,
    softnet::REGISTRATION,
    stat::REGISTRATION,
    tapestats::REGISTRATION,
    textfile::REGISTRATION,
    thermal_zone::REGISTRATION,
    time::REGISTRATION,
    timex::REGISTRATION,
    udp_queues::REGISTRATION,
    uname::REGISTRATION,
    usb::REGISTRATION,
    vmstat::REGISTRATION,
    watchdog::REGISTRATION,
    xfs::REGISTRATION,
    zfs::REGISTRATION,
];

/// Looks up a registration by name.
pub fn registration(name: &str) -> Option<&'static Registration> {
    REGISTRY.iter().find(|r| r.name == name)
}

/// Reads a whole small file (a /proc or /sys file) as a string, with the path in the error.
pub fn read_string(path: impl AsRef<Path>) -> Result<String, CollectError> {
    let path = path.as_ref();
    std::fs::read_to_string(path).map_err(|e| CollectError::io(path, e))
}

/// Reads a sysfs attribute: the file's contents without the trailing newline.
pub fn read_trimmed(path: impl AsRef<Path>) -> Result<String, CollectError> {
    read_string(path).map(|s| s.trim_end_matches(['\n', '\r', ' ']).to_string())
}

/// Reads a sysfs attribute that holds one integer.
pub fn read_u64(path: impl AsRef<Path>) -> Result<u64, CollectError> {
    let path = path.as_ref();
    let text = read_trimmed(path)?;
    text.trim().parse::<u64>().map_err(|_| {
        CollectError::parse(
            path,
            format!("expected an unsigned integer, found {text:?}"),
        )
    })
}

/// Reads a sysfs attribute that holds one signed integer (temperatures can be negative).
pub fn read_i64(path: impl AsRef<Path>) -> Result<i64, CollectError> {
    let path = path.as_ref();
    let text = read_trimmed(path)?;
    text.trim()
        .parse::<i64>()
        .map_err(|_| CollectError::parse(path, format!("expected an integer, found {text:?}")))
}

/// As [`sorted_dir_entries`], but a directory that does not exist (a kernel without the feature,
/// a machine without the hardware) is `None`: "no data" for the collectors, not a failure.
pub fn sorted_dir_entries_if_present(
    dir: &Path,
) -> Result<Option<Vec<std::fs::DirEntry>>, CollectError> {
    match sorted_dir_entries(dir) {
        Ok(entries) => Ok(Some(entries)),
        Err(CollectError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Lists the entries of a directory, sorted by name so output order is stable.
pub fn sorted_dir_entries(path: impl AsRef<Path>) -> Result<Vec<std::fs::DirEntry>, CollectError> {
    let path = path.as_ref();
    let mut entries: Vec<_> = std::fs::read_dir(path)
        .map_err(|e| CollectError::io(path, e))?
        .filter_map(|e| e.ok())
        .collect();
    entries.sort_by_key(|e| e.file_name());
    Ok(entries)
}

/// A sysfs directory opened once, whose attributes are then read relative to it (`openat`):
/// reading twenty attributes of one device then resolves its path, with the symlinks in it, once
/// instead of twenty times.
pub struct AttrDir {
    path: PathBuf,
    fd: Option<std::os::fd::OwnedFd>,
}

impl AttrDir {
    /// Opens `path`. If it cannot be opened, reads fall back to full paths and report their own
    /// errors.
    pub fn open(path: &Path) -> AttrDir {
        use rustix::fs::{Mode, OFlags};
        let fd = rustix::fs::open(
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .ok();
        AttrDir {
            path: path.to_path_buf(),
            fd,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The attribute's bytes (at most 64 KiB: sysfs attributes are one page).
    pub fn read(&self, name: &str) -> std::io::Result<Vec<u8>> {
        use std::io::Read;
        let Some(dir) = &self.fd else {
            return std::fs::read(self.path.join(name));
        };
        let fd = rustix::fs::openat(
            dir,
            name,
            rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )?;
        let mut buf = Vec::with_capacity(64);
        std::fs::File::from(fd)
            .take(64 * 1024)
            .read_to_end(&mut buf)?;
        Ok(buf)
    }
}

/// The error for a file with malformed lines: the first one, and how many more there were.
/// (The well-formed lines have been published already.)
pub fn malformed_lines(path: &Path, bad_lines: &[String]) -> Result<(), CollectError> {
    match bad_lines {
        [] => Ok(()),
        _ => Err(CollectError::parse(path, malformed_summary(bad_lines))),
    }
}

/// The first of a file's malformed parts, and how many more there were.
pub fn malformed_summary(bad: &[String]) -> String {
    match bad {
        [] => String::new(),
        [only] => only.clone(),
        [first, rest @ ..] => format!("{first} (and {} more malformed lines)", rest.len()),
    }
}

/// The result of a collector that reads several files: `Ok` when none failed, else one error
/// naming every failure (each already names its file).
pub fn first_error(errors: Vec<CollectError>) -> Result<(), CollectError> {
    match errors.len() {
        0 => Ok(()),
        1 => Err(errors.into_iter().next().expect("one error")),
        _ => Err(CollectError::Other(
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        )),
    }
}

/// The roots of a fixture machine in `tests/fixtures/` (for the collectors' unit tests).
#[cfg(test)]
pub fn fixture_roots(machine: &str) -> Roots {
    let base = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(machine);
    Roots {
        procfs: base.join("proc"),
        sysfs: base.join("sys"),
        rootfs: base.join("rootfs"),
    }
}
