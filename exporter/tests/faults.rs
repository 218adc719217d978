//! Fault injection into the real, running exporter: files that vanish between listing and reading,
//! a directory it may not read, a filesystem whose statfs hangs (a FUSE filesystem this test
//! mounts), a journal whose disk is full or turns read-only, and SIGKILL in a storm of anomaly
//! transitions. Each test checks that the exporter keeps serving and says what went wrong.
//!
//! Several tests mount filesystems (FUSE, tmpfs, an ext4 image on a loop device) and so need root;
//! they fail with a clear message otherwise, rather than pass without testing anything. Every mount
//! is undone when its guard drops, also when the test fails.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{
    eventually, feed, fixture, free_port, parse_exposition, root_args, Running, SeriesKey,
};

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

/// A writable copy of a fixture machine, removed when dropped.
struct Machine {
    _dir: tempfile::TempDir,
    root: PathBuf,
    /// Cumulative CPU ticks written so far: (busy, idle) per CPU.
    ticks: (u64, u64),
}

impl Machine {
    fn copy(name: &str) -> Machine {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join(name);
        run(Command::new("cp").arg("-a").arg(fixture(name)).arg(&root));
        Machine {
            _dir: dir,
            root,
            ticks: (1_000_000, 1_000_000),
        }
    }

    /// Atomically replaces a file, as the kernel's files never show a half-written state.
    fn write(&self, rel: &str, contents: &str) {
        write_atomic(&self.root.join(rel), contents);
    }

    /// Advances every CPU of the laptop by `busy` user ticks and `idle` idle ticks.
    fn cpu_step(&mut self, busy: u64, idle: u64) {
        self.ticks.0 += busy;
        self.ticks.1 += idle;
        let text = laptop_stat(self.ticks);
        self.write("proc/stat", &text);
    }
}

fn write_atomic(path: &Path, contents: &str) {
    let path = std::fs::canonicalize(path).unwrap_or(path.to_path_buf());
    let tmp = path.with_extension("tmp-write");
    std::fs::write(&tmp, contents).unwrap();
    std::fs::rename(&tmp, &path).unwrap();
}

/// The laptop's proc/stat with all eight CPUs at the given cumulative (busy, idle) ticks.
fn laptop_stat((busy, idle): (u64, u64)) -> String {
    let original = std::fs::read_to_string(fixture("laptop").join("proc/stat")).unwrap();
    let mut out = format!("cpu  {} 0 0 {} 0 0 0 0 0 0\n", busy * 8, idle * 8);
    for cpu in 0..8 {
        out.push_str(&format!("cpu{cpu} {busy} 0 0 {idle} 0 0 0 0 0 0\n"));
    }
    for line in original.lines().filter(|l| !l.starts_with("cpu")) {
        out.push_str(line);
        out.push('\n');
    }
    out
}

fn run(cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

fn require_root(what: &str) {
    assert!(
        rustix::process::geteuid().is_root(),
        "this test mounts {what} and must run as root (it does not skip: a skipped fault test \
         proves nothing)"
    );
}

/// Starts the exporter on `root` with stderr appended to `log`, and waits until it has published
/// a sample. Unlike `common::start_sysmon`, the log is kept for the test to read, and no storage
/// path is added (pass `--storage.path`).
fn start_logged(root: &Path, extra: &[String], log: &Path) -> Running {
    let bin = env!("CARGO_BIN_EXE_sysmon-exporter");
    let mut last = None;
    for _attempt in 0..3 {
        let port = free_port();
        let stderr = OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        let child = Command::new(bin)
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .args(root_args(root))
            .arg(format!("--path.kmsg={}", root.join("kmsg").display()))
            .arg("--log.level=warn")
            .args(extra)
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("start sysmon-exporter");
        let mut running = Running {
            child,
            port,
            name: "sysmon-exporter".into(),
            state: None,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = running.child.try_wait() {
                last = Some(status);
                break;
            }
            if let Ok(resp) = ureq::get(&running.url("/health"))
                .timeout(Duration::from_secs(2))
                .call()
            {
                let body = resp.into_string().unwrap_or_default();
                if body.contains("\"collectors\":") && !body.contains("\"collectors\":0") {
                    return running;
                }
            }
            assert!(
                Instant::now() < deadline,
                "sysmon-exporter not ready within 30 s; log:\n{}",
                read_log(log)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    panic!(
        "sysmon-exporter exited before it was ready, three times; last status {last:?}; log:\n{}",
        read_log(log)
    )
}

fn read_log(log: &Path) -> String {
    std::fs::read_to_string(log).unwrap_or_default()
}

/// GET with a bound on the time; the status and body, or a panic naming the failure.
fn get(e: &Running, path: &str) -> (u16, String) {
    match ureq::get(&e.url(path))
        .timeout(Duration::from_secs(10))
        .call()
    {
        Ok(r) => (r.status(), r.into_string().unwrap()),
        Err(ureq::Error::Status(code, r)) => (code, r.into_string().unwrap_or_default()),
        Err(err) => panic!("GET {path}: {err}"),
    }
}

fn get_ok(e: &Running, path: &str) -> String {
    let (status, body) = get(e, path);
    assert_eq!(status, 200, "GET {path}: {body}");
    body
}

fn scrape(e: &Running) -> BTreeMap<SeriesKey, f64> {
    parse_exposition(&get_ok(e, "/metrics"))
}

fn value(series: &BTreeMap<SeriesKey, f64>, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    series
        .iter()
        .find(|(k, _)| {
            k.name == name
                && labels
                    .iter()
                    .all(|(n, v)| k.labels.iter().any(|(kn, kv)| kn == n && kv == v))
        })
        .map(|(_, v)| *v)
}

fn success(series: &BTreeMap<SeriesKey, f64>, collector: &str) -> Option<f64> {
    value(
        series,
        "node_scrape_collector_success",
        &[("collector", collector)],
    )
}

fn health(e: &Running) -> serde_json::Value {
    serde_json::from_str(&get_ok(e, "/health")).unwrap()
}

fn assert_alive(e: &mut Running, log: &Path) {
    if let Ok(Some(status)) = e.child.try_wait() {
        panic!("the exporter exited ({status}); log:\n{}", read_log(log));
    }
}

/// A small xorshift generator: the kill moments and churn pauses only need to vary, and the seed
/// is printed so a failing run can be repeated.
struct Rng(u64);

impl Rng {
    fn from_time() -> Rng {
        let seed = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
            | 1;
        eprintln!("random seed {seed}");
        Rng(seed)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

// ---------------------------------------------------------------------------------------------
// Files vanishing between listing and reading
// ---------------------------------------------------------------------------------------------

/// A device directory under `sys/devices` and every symlink elsewhere in `sys` that leads into it,
/// removed and put back again and again, one file at a time, so that the exporter meets every
/// half-gone state: a link listed whose target is gone, a directory listed whose attributes are not.
struct Unplugger {
    device: PathBuf,
    backup: PathBuf,
    links: Vec<(PathBuf, PathBuf)>,
}

impl Unplugger {
    fn new(sys: &Path, device: &Path, backup: &Path) -> Unplugger {
        let device = std::fs::canonicalize(device).unwrap();
        run(Command::new("cp").arg("-a").arg(&device).arg(backup));
        let mut links = Vec::new();
        collect_links(sys, &device, &mut links);
        assert!(!links.is_empty(), "no link leads into {}", device.display());
        Unplugger {
            device,
            backup: backup.to_path_buf(),
            links,
        }
    }

    fn unplug(&self) {
        for (link, _) in &self.links {
            let _ = std::fs::remove_file(link);
        }
        let _ = std::fs::remove_dir_all(&self.device);
    }

    fn plug(&self) {
        for (link, target) in &self.links {
            let _ = std::os::unix::fs::symlink(target, link);
        }
        copy_tree(&self.backup, &self.device);
    }
}

/// Symlinks under `dir` (not following links) that resolve into `into`, with their targets.
fn collect_links(dir: &Path, into: &Path, out: &mut Vec<(PathBuf, PathBuf)>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        let kind = entry.file_type().unwrap();
        if kind.is_symlink() {
            if let Ok(resolved) = std::fs::canonicalize(&path) {
                if resolved.starts_with(into) && !path.starts_with(into) {
                    out.push((path.clone(), std::fs::read_link(&path).unwrap()));
                }
            }
        } else if kind.is_dir() {
            collect_links(&path, into, out);
        }
    }
}

/// Copies a tree file by file (links as links), creating each directory before its contents.
fn copy_tree(from: &Path, to: &Path) {
    let _ = std::fs::create_dir(to);
    let Ok(entries) = std::fs::read_dir(from) else {
        return;
    };
    for entry in entries.flatten() {
        let src = entry.path();
        let dst = to.join(entry.file_name());
        let kind = entry.file_type().unwrap();
        if kind.is_symlink() {
            let _ = std::os::unix::fs::symlink(std::fs::read_link(&src).unwrap(), &dst);
        } else if kind.is_dir() {
            copy_tree(&src, &dst);
        } else {
            let _ = std::fs::copy(&src, &dst);
        }
    }
}

#[test]
fn devices_vanishing_while_sampled_fail_nothing_else() {
    let m = Machine::copy("laptop");
    let sys = m.root.join("sys");
    let spare = tempfile::tempdir().unwrap();
    // A USB device (with its interfaces), and the USB disk behind /sys/block/sda.
    let usb = Unplugger::new(
        &sys,
        &sys.join("bus/usb/devices/1-6"),
        &spare.path().join("usb"),
    );
    let disk = Unplugger::new(&sys, &sys.join("block/sda"), &spare.path().join("disk"));
    let log = spare.path().join("exporter.log");
    let state = spare.path().join("state");
    let mut e = start_logged(
        &m.root,
        &[
            "--sampler.interval=100ms".into(),
            "--sampler.slow-interval=100ms".into(),
            "--sampler.collector-timeout=100ms".into(),
            format!("--storage.path={}", state.display()),
        ],
        &log,
    );

    let stop = Arc::new(AtomicBool::new(false));
    let cycles = Arc::new(AtomicU64::new(0));
    let churn = {
        let (stop, cycles) = (Arc::clone(&stop), Arc::clone(&cycles));
        std::thread::spawn(move || {
            let mut rng = Rng::from_time();
            while !stop.load(Ordering::Relaxed) {
                usb.unplug();
                std::thread::sleep(Duration::from_millis(rng.below(30)));
                disk.unplug();
                std::thread::sleep(Duration::from_millis(rng.below(30)));
                usb.plug();
                std::thread::sleep(Duration::from_millis(rng.below(30)));
                disk.plug();
                std::thread::sleep(Duration::from_millis(rng.below(30)));
                cycles.fetch_add(1, Ordering::Relaxed);
            }
            // Leave the machine whole.
            usb.plug();
            disk.plug();
        })
    };

    let mut usb_failures = 0;
    let mut samples = BTreeSet::new();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(5) {
        assert_alive(&mut e, &log);
        let series = scrape(&e);
        for ok in ["cpu", "meminfo", "loadavg", "stat", "netdev", "hwmon"] {
            assert_eq!(success(&series, ok), Some(1.0), "{ok} is unaffected");
        }
        if success(&series, "usb") == Some(0.0) {
            usb_failures += 1;
        }
        let page = get_ok(&e, "/");
        assert!(!page.contains("panicked"), "a collector panicked:\n{page}");
        samples.insert(health(&e)["last_sample"].as_str().unwrap().to_string());
        std::thread::sleep(Duration::from_millis(20));
    }
    stop.store(true, Ordering::Relaxed);
    churn.join().unwrap();
    assert_alive(&mut e, &log);
    let log_text = read_log(&log);
    assert!(!log_text.contains("panicked"), "log:\n{log_text}");
    let failures: BTreeSet<&str> = log_text
        .lines()
        .filter(|l| l.contains("collector failed"))
        .collect();
    eprintln!("distinct collector failures logged: {failures:#?}");
    eprintln!(
        "{} unplug cycles, {} samples seen, usb failed in {usb_failures} scrapes",
        cycles.load(Ordering::Relaxed),
        samples.len()
    );
    assert!(cycles.load(Ordering::Relaxed) >= 10, "the churn ran");
    assert!(samples.len() >= 5, "samples kept being published");

    // With the devices back, every collector succeeds again and sees them.
    eventually(
        "usb and diskstats recover",
        || {},
        || {
            let s = scrape(&e);
            success(&s, "usb") == Some(1.0)
                && success(&s, "diskstats") == Some(1.0)
                && value(&s, "sysmon_usb_device_info", &[("port", "1-6")]).is_some()
        },
    );
}

// ---------------------------------------------------------------------------------------------
// Permission denied on a directory
// ---------------------------------------------------------------------------------------------

#[test]
fn unreadable_hwmon_directory_fails_only_hwmon() {
    let m = Machine::copy("laptop");
    run(Command::new("chmod").args(["-R", "a+rX"]).arg(&m.root));
    // Traversable ancestors for the unprivileged user.
    let mut dir = m.root.parent();
    while let Some(d) = dir {
        if d == Path::new("/") {
            break;
        }
        let mode = std::fs::metadata(d).unwrap().permissions().mode();
        let _ = std::fs::set_permissions(d, std::fs::Permissions::from_mode(mode | 0o055));
        dir = d.parent();
    }
    let class = m.root.join("sys/class/hwmon");
    std::fs::set_permissions(&class, std::fs::Permissions::from_mode(0o000)).unwrap();

    let as_nobody: &[&str] = if rustix::process::geteuid().is_root() {
        &[
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
        ]
    } else {
        &[]
    };
    let e = common::start_sysmon_as(as_nobody, &m.root, &[]);
    let series = scrape(&e);
    assert_eq!(success(&series, "hwmon"), Some(0.0), "hwmon fails");
    for ok in [
        "cpu",
        "meminfo",
        "loadavg",
        "stat",
        "thermal_zone",
        "netclass",
    ] {
        assert_eq!(success(&series, ok), Some(1.0), "{ok} is unaffected");
    }
    assert!(!series.keys().any(|k| k.name.starts_with("node_hwmon_")));
    let page = get_ok(&e, "/");
    assert!(
        page.contains("Permission denied"),
        "the landing page says why hwmon failed:\n{page}"
    );
}

// ---------------------------------------------------------------------------------------------
// A filesystem whose statfs hangs
// ---------------------------------------------------------------------------------------------

/// A FUSE filesystem with an empty root whose statfs blocks while `hang` is set.
struct HangFs {
    gate: Arc<Gate>,
}

#[derive(Default)]
struct Gate {
    hang: Mutex<bool>,
    released: Condvar,
    statfs_calls: AtomicU64,
}

impl Gate {
    fn release(&self) {
        *self.hang.lock().unwrap() = false;
        self.released.notify_all();
    }
}

const HUNG_BLOCKS: u64 = 1000;
const HUNG_BSIZE: u32 = 4096;

impl fuser::Filesystem for HangFs {
    fn getattr(
        &self,
        _req: &fuser::Request,
        ino: fuser::INodeNo,
        _fh: Option<fuser::FileHandle>,
        reply: fuser::ReplyAttr,
    ) {
        if ino != fuser::INodeNo::ROOT {
            return reply.error(fuser::Errno::ENOENT);
        }
        let attr = fuser::FileAttr {
            ino: fuser::INodeNo::ROOT,
            size: 0,
            blocks: 0,
            atime: UNIX_EPOCH,
            mtime: UNIX_EPOCH,
            ctime: UNIX_EPOCH,
            crtime: UNIX_EPOCH,
            kind: fuser::FileType::Directory,
            perm: 0o755,
            nlink: 2,
            uid: 0,
            gid: 0,
            rdev: 0,
            flags: 0,
            blksize: HUNG_BSIZE,
        };
        reply.attr(&Duration::from_secs(1), &attr);
    }

    fn statfs(&self, _req: &fuser::Request, _ino: fuser::INodeNo, reply: fuser::ReplyStatfs) {
        self.gate.statfs_calls.fetch_add(1, Ordering::SeqCst);
        let mut hang = self.gate.hang.lock().unwrap();
        while *hang {
            hang = self.gate.released.wait(hang).unwrap();
        }
        drop(hang);
        reply.statfs(
            HUNG_BLOCKS,
            HUNG_BLOCKS / 2,
            HUNG_BLOCKS / 4,
            100,
            50,
            HUNG_BSIZE,
            255,
            HUNG_BSIZE,
        );
    }
}

/// The mounted FUSE filesystem: on drop, releases any hung call, then unmounts (lazily, by
/// `umount -l`, should the orderly unmount fail).
struct FuseMount {
    gate: Arc<Gate>,
    session: Option<fuser::BackgroundSession>,
    path: PathBuf,
}

impl FuseMount {
    fn mount(path: &Path) -> FuseMount {
        require_root("a FUSE filesystem");
        std::fs::create_dir_all(path).unwrap();
        let gate = Arc::new(Gate::default());
        *gate.hang.lock().unwrap() = true;
        let mut config = fuser::Config::default();
        config
            .mount_options
            .push(fuser::MountOption::FSName("sysmon-hang".into()));
        // A second thread answers getattr while the first is held in statfs.
        config.n_threads = Some(2);
        let session = fuser::spawn_mount(
            HangFs {
                gate: Arc::clone(&gate),
            },
            path,
            &config,
        )
        .unwrap_or_else(|e| panic!("cannot mount FUSE at {}: {e}", path.display()));
        FuseMount {
            gate,
            session: Some(session),
            path: path.to_path_buf(),
        }
    }
}

impl Drop for FuseMount {
    fn drop(&mut self) {
        self.gate.release();
        if let Some(session) = self.session.take() {
            if session.umount_and_join().is_ok() {
                return;
            }
        }
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

#[test]
fn hung_statfs_times_out_and_the_rest_stays_prompt() {
    let m = Machine::copy("laptop");
    let mount_point = m.root.join("rootfs/mnt/hung");
    let fuse = FuseMount::mount(&mount_point);
    // The fixture's mount table gains the FUSE mount.
    let mountinfo = m.root.join("proc/1/mountinfo");
    let mut table = std::fs::read_to_string(&mountinfo).unwrap();
    table.push_str("900 24 0:900 / /mnt/hung rw,nosuid,nodev,relatime shared:900 - fuse.sysmonhang sysmon-hang rw,user_id=0,group_id=0\n");
    write_atomic(&mountinfo, &table);

    let spare = tempfile::tempdir().unwrap();
    let log = spare.path().join("exporter.log");
    // Declared after the mount, so dropped (killed) before it is unmounted.
    let mut e = start_logged(
        &m.root,
        &[
            "--sampler.interval=500ms".into(),
            "--sampler.slow-interval=500ms".into(),
            "--sampler.collector-timeout=500ms".into(),
            "--collector.filesystem.mount-timeout=200ms".into(),
            format!("--storage.path={}", spare.path().join("state").display()),
        ],
        &log,
    );
    let hung = [("mountpoint", "/mnt/hung"), ("device", "sysmon-hang")];
    let timed_out = [
        ("mountpoint", "/mnt/hung"),
        ("device_error", "mountpoint timeout"),
    ];

    // While statfs hangs: /metrics answers, every sample is published with the other collectors'
    // results, and the mount is reported as timed out.
    let mut samples: Vec<String> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while samples.len() < 8 {
        assert!(Instant::now() < deadline, "samples stopped: {samples:?}");
        assert_alive(&mut e, &log);
        let h = health(&e);
        assert_eq!(h["status"], "ok", "{h}");
        let series = scrape(&e);
        for ok in ["cpu", "meminfo", "loadavg", "stat", "diskstats", "hwmon"] {
            assert_eq!(success(&series, ok), Some(1.0), "{ok} is unaffected");
        }
        let last = h["last_sample"].as_str().unwrap().to_string();
        if samples.last() != Some(&last) {
            if samples.len() >= 2 {
                // Once the first timeout is behind it, every sample shows the mount timed out.
                assert_eq!(
                    value(&series, "node_filesystem_device_error", &timed_out),
                    Some(1.0),
                    "the hung mount is reported"
                );
                assert_eq!(
                    value(&series, "node_filesystem_size_bytes", &hung),
                    None,
                    "no size for a mount that did not answer"
                );
                // The root filesystem is still measured.
                assert!(value(
                    &series,
                    "node_filesystem_size_bytes",
                    &[("mountpoint", "/")]
                )
                .is_some());
            }
            samples.push(last);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut sorted = samples.clone();
    sorted.sort();
    assert_eq!(samples, sorted, "sample timestamps advance");
    assert_eq!(
        fuse.gate.statfs_calls.load(Ordering::SeqCst),
        1,
        "a stuck mount is not statted again while its call hangs"
    );

    // Released: the call returns and the mount is measured normally.
    fuse.gate.release();
    eventually(
        "the mount reports normally",
        || {},
        || {
            let series = scrape(&e);
            value(
                &series,
                "node_filesystem_device_error",
                &[("mountpoint", "/mnt/hung"), ("device_error", "")],
            ) == Some(0.0)
                && value(&series, "node_filesystem_size_bytes", &hung)
                    == Some((HUNG_BLOCKS * HUNG_BSIZE as u64) as f64)
        },
    );
    assert!(!scrape(&e)
        .keys()
        .any(|k| k.name == "node_filesystem_device_error"
            && k.labels
                .contains(&("device_error".into(), "mountpoint timeout".into()))));
    assert_alive(&mut e, &log);
    drop(e);
    drop(fuse);
}

// ---------------------------------------------------------------------------------------------
// The journal's disk full, or turned read-only
// ---------------------------------------------------------------------------------------------

/// A filesystem mounted by the test, unmounted (lazily) when dropped.
struct TestMount {
    path: PathBuf,
}

impl TestMount {
    fn tmpfs(path: &Path, size: &str) -> TestMount {
        require_root("a tmpfs");
        std::fs::create_dir_all(path).unwrap();
        run(Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0700")])
            .arg("sysmon-test")
            .arg(path));
        TestMount {
            path: path.to_path_buf(),
        }
    }

    /// An ext4 image on a loop device (detached again at unmount), mounted `errors=remount-ro`.
    fn ext4(image: &Path, path: &Path) -> TestMount {
        require_root("an ext4 image on a loop device");
        File::create(image)
            .unwrap()
            .set_len(8 * 1024 * 1024)
            .unwrap();
        run(Command::new("mkfs.ext4").arg("-q").arg("-F").arg(image));
        std::fs::create_dir_all(path).unwrap();
        run(Command::new("mount")
            .args(["-t", "ext4", "-o", "loop,errors=remount-ro"])
            .arg(image)
            .arg(path));
        TestMount {
            path: path.to_path_buf(),
        }
    }

    /// The ext4 superblock's sysfs directory (`/sys/fs/ext4/loopN`) for this mount.
    fn ext4_sysfs(&self) -> PathBuf {
        let out = Command::new("findmnt")
            .args(["-n", "-o", "SOURCE"])
            .arg(&self.path)
            .output()
            .unwrap();
        let source = String::from_utf8(out.stdout).unwrap();
        let name = Path::new(source.trim())
            .file_name()
            .unwrap_or_else(|| panic!("no source for {}", self.path.display()))
            .to_owned();
        Path::new("/sys/fs/ext4").join(name)
    }
}

impl Drop for TestMount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

const STORM_RULES: &str = r#"
[rules.cpu_high]
for = "0s"
clear_for = "0s"

[rules.cpu_jump]
for = "0s"
clear_for = "0s"

[rules.temperature_high]
for = "0s"
clear_for = "0s"

[rules.adaptive]
enabled = false
"#;

fn journal_metrics(e: &Running) -> (f64, f64) {
    let s = scrape(e);
    (
        value(&s, "sysmon_anomaly_journal_writable", &[]).expect("journal_writable"),
        value(&s, "sysmon_anomaly_journal_errors_total", &[]).expect("journal_errors_total"),
    )
}

/// Drives the CPU busy and idle until `n` more cpu_high events than `before` are in the feed.
fn drive_transitions(m: &mut Machine, e: &Running, before: usize, n: usize) -> Vec<u64> {
    let mut busy = false;
    let mut ids = Vec::new();
    eventually(
        "anomaly transitions",
        || {
            busy = !busy;
            if busy {
                m.cpu_step(100, 0)
            } else {
                m.cpu_step(1, 100)
            }
            std::thread::sleep(Duration::from_millis(150));
        },
        || {
            ids = feed(e, "?state=all&rule=cpu_high&limit=1000")
                .iter()
                .map(|ev| ev["id"].as_u64().unwrap())
                .collect();
            ids.len() >= before + n
        },
    );
    ids
}

/// The exporter on a storage path whose journal stops being writable after a first event: it
/// keeps serving, keeps the events in memory, and says so in its metrics and its log.
fn journal_failure_keeps_serving(
    m: &mut Machine,
    storage: &Path,
    scratch: &Path,
    break_disk: impl FnOnce(),
    expected_error: &str,
) {
    let config = scratch.join("sysmon.toml");
    std::fs::write(&config, STORM_RULES).unwrap();
    let log = scratch.join("exporter.log");
    let mut e = start_logged(
        &m.root,
        &[
            "--sampler.interval=100ms".into(),
            "--sampler.slow-interval=100ms".into(),
            "--sampler.collector-timeout=100ms".into(),
            format!("--config.file={}", config.display()),
            format!("--storage.path={}", storage.display()),
        ],
        &log,
    );
    m.cpu_step(1, 100);
    let first = drive_transitions(m, &e, 0, 1);
    assert_eq!(
        journal_metrics(&e),
        (1.0, 0.0),
        "the journal works at first"
    );

    break_disk();
    // A write may still fit in the journal's last block: go on until one fails.
    let mut busy = false;
    eventually(
        "a journal write fails",
        || {
            busy = !busy;
            if busy {
                m.cpu_step(100, 0)
            } else {
                m.cpu_step(1, 100)
            }
            std::thread::sleep(Duration::from_millis(150));
        },
        || journal_metrics(&e).0 == 0.0,
    );
    let (_, errors_before) = journal_metrics(&e);
    let known = feed(&e, "?state=all&rule=cpu_high&limit=1000").len();
    let ids = drive_transitions(m, &e, known, 3);
    assert_alive(&mut e, &log);
    let (writable, errors) = journal_metrics(&e);
    assert_eq!(writable, 0.0, "sysmon_anomaly_journal_writable says it");
    assert!(
        errors >= errors_before + 3.0,
        "each failed write is counted: {errors_before} then {errors}"
    );
    // The feed still lists every event, old and new (kept in memory).
    for id in first.iter().chain(&ids) {
        let one = get_ok(&e, &format!("/api/v1/anomalies/{id}"));
        assert!(one.contains("\"success\""), "{one}");
    }
    // And the metrics and health keep answering.
    for _ in 0..5 {
        let s = scrape(&e);
        assert_eq!(success(&s, "cpu"), Some(1.0));
        assert_eq!(health(&e)["status"], "ok");
        std::thread::sleep(Duration::from_millis(100));
    }
    let log_text = read_log(&log);
    assert!(
        log_text.contains("anomaly event not written to the journal")
            && log_text.contains(expected_error),
        "the log says the journal cannot be written ({expected_error}):\n{log_text}"
    );
    assert!(!log_text.contains("panicked"), "log:\n{log_text}");
}

#[test]
fn journal_disk_full_keeps_serving() {
    let mut m = Machine::copy("laptop");
    let scratch = tempfile::tempdir().unwrap();
    let disk = TestMount::tmpfs(&scratch.path().join("disk"), "256k");
    let storage = disk.path.join("state");
    let filler = disk.path.join("filler");
    journal_failure_keeps_serving(
        &mut m,
        &storage,
        scratch.path(),
        || {
            // Fill every last block.
            let mut f = File::create(&filler).unwrap();
            let block = vec![0u8; 4096];
            while f.write_all(&block).is_ok() {}
            while f.write_all(&block[..1]).is_ok() {}
            let _ = f.sync_all();
        },
        "No space left on device",
    );
    drop(disk);
}

#[test]
fn journal_read_only_keeps_serving() {
    let mut m = Machine::copy("laptop");
    let scratch = tempfile::tempdir().unwrap();
    let disk = TestMount::ext4(
        &scratch.path().join("disk.img"),
        &scratch.path().join("disk"),
    );
    let storage = disk.path.join("state");
    let trigger = disk.ext4_sysfs().join("trigger_fs_error");
    let disk_path = disk.path.clone();
    journal_failure_keeps_serving(
        &mut m,
        &storage,
        scratch.path(),
        || {
            // What the kernel does on an I/O error with errors=remount-ro. (A plain
            // `mount -o remount,ro` is refused while the journal is open for writing.)
            std::fs::write(&trigger, "sysmon fault test\n")
                .unwrap_or_else(|e| panic!("write {}: {e}", trigger.display()));
            let out = Command::new("findmnt")
                .args(["-n", "-o", "OPTIONS"])
                .arg(&disk_path)
                .output()
                .unwrap();
            let options = String::from_utf8_lossy(&out.stdout);
            assert!(
                options
                    .split(',')
                    .any(|o| o.trim() == "ro" || o.trim() == "emergency_ro"),
                "the filesystem is read-only now: {options}"
            );
        },
        "Read-only file system",
    );
    drop(disk);
}

// ---------------------------------------------------------------------------------------------
// kill -9 in a storm of anomaly transitions
// ---------------------------------------------------------------------------------------------

/// Journal lines: every line but possibly a torn last one parses; returns the ids of the
/// `started` lines in file order.
fn check_journal(path: &Path) -> Vec<u64> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let mut started = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let parsed: Result<serde_json::Value, _> = serde_json::from_str(line);
        let Ok(v) = parsed else {
            assert_eq!(
                i + 1,
                lines.len(),
                "journal line {} is damaged but not the last: {line:?}",
                i + 1
            );
            assert!(
                !text.ends_with('\n'),
                "a torn line is the unterminated last one"
            );
            continue;
        };
        match v["type"].as_str() {
            Some("started") => started.push(v["event"]["id"].as_u64().unwrap()),
            Some("resolved") | Some("checkpoint") => {}
            other => panic!("journal line {}: unknown type {other:?}", i + 1),
        }
    }
    started
}

#[test]
fn sigkill_in_a_storm_of_transitions_loses_nothing() {
    let scratch = tempfile::tempdir().unwrap();
    let m = Machine::copy("laptop");
    let config = scratch.path().join("sysmon.toml");
    std::fs::write(&config, STORM_RULES).unwrap();
    let storage = scratch.path().join("state");
    let log = scratch.path().join("exporter.log");
    let args = [
        "--sampler.interval=100ms".to_string(),
        "--sampler.slow-interval=100ms".to_string(),
        "--sampler.collector-timeout=100ms".into(),
        format!("--config.file={}", config.display()),
        format!("--storage.path={}", storage.display()),
    ];

    // The CPU flips between idle and busy, and five sensors between cool and hot, about every
    // sample, for the whole test: a dozen transitions a second.
    let stop = Arc::new(AtomicBool::new(false));
    let flipper = {
        let stop = Arc::clone(&stop);
        let stat = m.root.join("proc/stat");
        let hwmon = std::fs::canonicalize(m.root.join("sys/class/hwmon/hwmon3")).unwrap();
        let mut ticks = m.ticks;
        std::thread::spawn(move || {
            // The test may have failed and removed the machine: the writes just fail then.
            let put = |path: &Path, text: &str| {
                let tmp = path.with_extension("tmp-write");
                if std::fs::write(&tmp, text).is_ok() {
                    let _ = std::fs::rename(&tmp, path);
                }
            };
            let mut busy = false;
            while !stop.load(Ordering::Relaxed) {
                busy = !busy;
                if busy {
                    ticks.0 += 100;
                } else {
                    ticks.1 += 100;
                }
                put(&stat, &laptop_stat(ticks));
                for sensor in 1..=5 {
                    let temp = if busy { "97000\n" } else { "45000\n" };
                    put(&hwmon.join(format!("temp{sensor}_input")), temp);
                }
                std::thread::sleep(Duration::from_millis(110));
            }
        })
    };

    let mut rng = Rng::from_time();
    let mut seen: BTreeSet<u64> = BTreeSet::new();
    let mut last_max = 0;
    for round in 0..5 {
        let mut e = start_logged(&m.root, &args, &log);
        // After a restart the old events are all there, and new ids continue after them.
        let after: Vec<u64> = feed(&e, "?state=all&limit=1000")
            .iter()
            .map(|ev| ev["id"].as_u64().unwrap())
            .collect();
        let after_set: BTreeSet<u64> = after.iter().copied().collect();
        assert_eq!(after.len(), after_set.len(), "ids are unique: {after:?}");
        let lost: Vec<_> = seen.difference(&after_set).collect();
        assert!(
            lost.is_empty(),
            "round {round}: events lost across SIGKILL: {lost:?}"
        );

        // Watch the feed for a random while, then kill at a random moment.
        let watch = Duration::from_millis(800 + rng.below(1500));
        let begun = Instant::now();
        while begun.elapsed() < watch {
            for ev in feed(&e, "?state=all&limit=1000") {
                let id = ev["id"].as_u64().unwrap();
                // A new event is numbered after everything the journal held at the restart.
                assert!(
                    after_set.contains(&id) || after_set.last().is_none_or(|max| id > *max),
                    "round {round}: new id {id} is not above the replayed ids"
                );
                seen.insert(id);
            }
            std::thread::sleep(Duration::from_millis(rng.below(60)));
        }
        std::thread::sleep(Duration::from_millis(rng.below(100)));
        e.child.kill().unwrap(); // SIGKILL
        e.child.wait().unwrap();
        drop(e);

        let started = check_journal(&storage.join("anomalies.jsonl"));
        assert!(
            started.windows(2).all(|w| w[0] < w[1]),
            "round {round}: journal ids increase: {started:?}"
        );
        let max = seen.iter().next_back().copied().unwrap_or(0);
        assert!(
            max > last_max,
            "round {round}: new events were recorded (max id {max}, before {last_max})"
        );
        last_max = max;
        eprintln!(
            "round {round}: {} events seen so far, journal has {} started lines",
            seen.len(),
            started.len()
        );
    }
    stop.store(true, Ordering::Relaxed);
    flipper.join().unwrap();

    // One last restart: everything ever seen is there, once.
    let e = start_logged(&m.root, &args, &log);
    let all: Vec<u64> = feed(&e, "?state=all&limit=1000")
        .iter()
        .map(|ev| ev["id"].as_u64().unwrap())
        .collect();
    let set: BTreeSet<u64> = all.iter().copied().collect();
    assert_eq!(all.len(), set.len(), "ids are unique");
    assert!(
        seen.is_subset(&set),
        "nothing lost: {:?}",
        seen.difference(&set)
    );
    let log_text = read_log(&log);
    assert!(!log_text.contains("panicked"), "log:\n{log_text}");
}

/// The issue's "fills a filesystem": a small tmpfs mounted in the machine's rootfs and listed in
/// its mountinfo is filled past 90%, which fires `filesystem_full` for that mount point only, and
/// emptied again, which clears it.
#[test]
fn filling_a_filesystem_fires_filesystem_full_for_that_mount() {
    let m = Machine::copy("laptop");
    let mount_point = m.root.join("rootfs/srv/fill");
    let _mount = TestMount::tmpfs(&mount_point, "1m");
    let mountinfo = m.root.join("proc/1/mountinfo");
    let mut table = std::fs::read_to_string(&mountinfo).unwrap();
    table.push_str(
        "999 1 0:99 / /srv/fill rw,relatime shared:999 - tmpfs sysmon-test rw,size=1024k\n",
    );
    std::fs::write(&mountinfo, table).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sysmon.toml");
    std::fs::write(
        &config,
        "[rules.filesystem_full]\nfor = \"0s\"\nclear_for = \"0s\"\n[rules.adaptive]\nenabled = false\n",
    )
    .unwrap();
    let e = start_logged(
        &m.root,
        &[
            format!("--config.file={}", config.display()),
            format!("--storage.path={}", dir.path().join("state").display()),
            "--sampler.interval=100ms".into(),
            "--sampler.slow-interval=100ms".into(),
            "--sampler.collector-timeout=100ms".into(),
        ],
        &dir.path().join("exporter.log"),
    );
    let active = |subject: &str| {
        value(
            &scrape(&e),
            "sysmon_anomaly_active",
            &[("rule", "filesystem_full"), ("subject", subject)],
        )
    };
    eventually(
        "/srv/fill evaluated",
        || {},
        || active("/srv/fill") == Some(0.0),
    );

    // 950 KiB of a 1 MiB tmpfs: about 93% used.
    let filler = mount_point.join("filler");
    std::fs::write(&filler, vec![0u8; 950 * 1024]).unwrap();
    eventually(
        "filesystem_full fires",
        || {},
        || active("/srv/fill") == Some(1.0),
    );
    let events = feed(&e, "?state=active&rule=filesystem_full");
    assert_eq!(events.len(), 1, "only the filled mount: {events:?}");
    assert_eq!(events[0]["subject"], "/srv/fill");
    assert_eq!(events[0]["severity"], "warning");
    assert!(events[0]["value"].as_f64().unwrap() > 90.0, "{events:?}");

    std::fs::remove_file(&filler).unwrap();
    eventually(
        "filesystem_full clears",
        || {},
        || active("/srv/fill") == Some(0.0),
    );
    assert!(feed(&e, "?state=active&rule=filesystem_full").is_empty());
}
