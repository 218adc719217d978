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

    /// Whether a full run's output holds exactly the readings [`Collector::signals`] takes
    /// ([`Readings::from_sets`] of it agrees, which `exporter/tests/cadence.rs` checks on every
    /// fixture machine). A sample that runs such an inline collector fully then takes its
    /// readings from that run instead of reading the same files a second time (and reads them
    /// after all when the run fails).
    fn full_run_has_signals(&self) -> bool {
        false
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
    read_text(path).map_err(|e| CollectError::io(path, e))
}

/// The size of the first read of a whole file: every /proc and /sys file sysmon reads whole fits
/// in it on a small machine, so it takes one read and the read that finds the end.
const FIRST_READ: usize = 8 * 1024;

/// A whole file's bytes, as `std::fs::read` but in fewer system calls: no `statx` for a size
/// hint (a /proc file's size is 0 anyway) and one large first read, where the standard library
/// probes a /proc file with a 32-byte read and then reads in growing steps, about eight reads for
/// a 4 KiB file.
pub fn read_bytes(path: impl AsRef<Path>) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut bytes = Vec::with_capacity(FIRST_READ);
    loop {
        if bytes.len() == bytes.capacity() {
            bytes.reserve(bytes.capacity());
        }
        let start = bytes.len();
        let end = bytes.capacity();
        bytes.resize(end, 0);
        match file.read(&mut bytes[start..]) {
            Ok(0) => {
                bytes.truncate(start);
                return Ok(bytes);
            }
            Ok(n) => bytes.truncate(start + n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => bytes.truncate(start),
            Err(e) => return Err(e),
        }
    }
}

/// As [`read_bytes`], as text; a file that is not UTF-8 is an `InvalidData` error, as with
/// `std::fs::read_to_string`.
pub fn read_text(path: impl AsRef<Path>) -> std::io::Result<String> {
    String::from_utf8(read_bytes(path)?).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "stream did not contain valid UTF-8",
        )
    })
}

/// Reads a sysfs attribute: the file's contents without the trailing newline.
pub fn read_trimmed(path: impl AsRef<Path>) -> Result<String, CollectError> {
    let path = path.as_ref();
    let bytes = std::fs::File::open(path)
        .and_then(read_attribute)
        .map_err(|e| CollectError::io(path, e))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| CollectError::parse(path, "the file is not UTF-8 text"))?;
    Ok(text.trim_end_matches(['\n', '\r', ' ']).to_string())
}

/// The size of the first read of an attribute: a sysfs attribute is at most one page, and the
/// kernel hands all of it over in one read.
const ATTRIBUTE_READ: usize = 4096;

/// Reads a small file whole (at most 64 KiB), in as few system calls as it can: one read, where
/// `std::fs::read` takes a `statx` and a second read to find the end. A read that does not fill
/// the page is the whole attribute (sysfs, /proc/sys, and a small regular file such as a fixture's
/// all hand their contents over in one read); only a file that fills it is read on to its end.
/// Not for multi-record /proc files (/proc/net/*), whose reads can stop short at a record.
fn read_attribute(mut file: std::fs::File) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut page = [0u8; ATTRIBUTE_READ];
    let n = loop {
        match file.read(&mut page) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            other => break other?,
        }
    };
    let mut bytes = page[..n].to_vec();
    if n == ATTRIBUTE_READ {
        file.take(64 * 1024 - ATTRIBUTE_READ as u64)
            .read_to_end(&mut bytes)?;
    }
    Ok(bytes)
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
        read_attribute(self.open_attribute(name)?)
    }

    /// Opens the attribute for reading.
    pub fn open_attribute(&self, name: &str) -> std::io::Result<std::fs::File> {
        let Some(dir) = &self.fd else {
            return std::fs::File::open(self.path.join(name));
        };
        let fd = rustix::fs::openat(
            dir,
            name,
            rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )?;
        Ok(std::fs::File::from(fd))
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

#[cfg(test)]
mod read_tests {
    use super::*;

    /// Files around the sizes where the readers change strategy (the first read of an attribute,
    /// the first read of a whole file) come back whole and unchanged.
    #[test]
    fn whole_files_of_every_size_around_the_first_reads() {
        let dir = tempfile::tempdir().unwrap();
        for len in [
            0,
            1,
            ATTRIBUTE_READ - 1,
            ATTRIBUTE_READ,
            ATTRIBUTE_READ + 1,
            FIRST_READ - 1,
            FIRST_READ,
            FIRST_READ + 1,
            5 * FIRST_READ + 17,
        ] {
            let text: String = (0..len).map(|i| (b'a' + (i % 26) as u8) as char).collect();
            let path = dir.path().join(format!("f{len}"));
            std::fs::write(&path, &text).unwrap();
            assert_eq!(read_text(&path).unwrap(), text, "read_text, {len} bytes");
            assert_eq!(
                read_string(&path).unwrap(),
                text,
                "read_string, {len} bytes"
            );
            assert_eq!(
                read_trimmed(&path).unwrap(),
                text,
                "read_trimmed, {len} bytes"
            );
            let attrs = AttrDir::open(dir.path());
            assert_eq!(
                attrs.read(&format!("f{len}")).unwrap(),
                text.as_bytes(),
                "AttrDir::read, {len} bytes"
            );
        }
    }

    #[test]
    fn attribute_readers_trim_and_report_bad_text() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("value");
        std::fs::write(&path, "42\n").unwrap();
        assert_eq!(read_trimmed(&path).unwrap(), "42");
        assert_eq!(read_u64(&path).unwrap(), 42);
        std::fs::write(&path, b"\xff\xfe\n").unwrap();
        assert!(read_trimmed(&path)
            .unwrap_err()
            .to_string()
            .contains("not UTF-8"));
        assert_eq!(
            read_text(&path).unwrap_err().kind(),
            std::io::ErrorKind::InvalidData
        );
        let missing = dir.path().join("missing");
        assert_eq!(
            read_bytes(&missing).unwrap_err().kind(),
            std::io::ErrorKind::NotFound
        );
        assert!(read_trimmed(&missing)
            .unwrap_err()
            .to_string()
            .contains("missing"));
    }

    /// /proc files are not regular files: their size is 0 and they are generated as they are
    /// read; the readers get all of a real one.
    #[test]
    fn proc_files_are_read_whole() {
        let text = read_text("/proc/self/status").unwrap();
        assert!(text.contains("VmRSS:") && text.ends_with('\n'), "{text}");
        let maps = read_text("/proc/self/maps").unwrap();
        assert!(maps.lines().count() > 5 && maps.ends_with('\n'));
    }
}
