//! `selinux`: whether SELinux is enabled, its current mode and its configured boot mode, as
//! node_exporter's `selinux_linux.go` exports them: `node_selinux_enabled` (1 or 0), and when
//! enabled `node_selinux_config_mode` and `node_selinux_current_mode` (1 enforcing, 0 permissive,
//! -1 disabled or unknown).
//!
//! node_exporter asks the opencontainers `go-selinux` library about the live system
//! (`GetEnabled`, `DefaultEnforceMode`, `EnforceMode`), which reimplements what libselinux does
//! (`is_selinux_enabled`, `selinux_getenforcemode`, `security_getenforce`). sysmon reads the same
//! files, but through the configured roots, so it describes the monitored host (or a fixture):
//!
//! * **Where selinuxfs is.** go-selinux and libselinux first try `/sys/fs/selinux`, accepting it
//!   when statfs says it is a selinuxfs (`SELINUX_MAGIC`) mounted read-write; otherwise, when
//!   `/proc/filesystems` lists `selinuxfs`, the first read-write selinuxfs mount point in
//!   `/proc/self/mountinfo` (the 5th field of a line containing ` - selinuxfs `). sysmon tries
//!   `<sysfs>/fs/selinux`, accepted when it holds `enforce` (the directory is an empty mount point
//!   until selinuxfs is mounted on it) and statvfs does not say read-only (a container runtime
//!   mounts it read-only precisely so that libselinux inside reports SELinux disabled); then, when
//!   `<procfs>/filesystems` lists selinuxfs, the first selinuxfs line of `<procfs>/1/mountinfo`
//!   (`<procfs>/self/mountinfo` when PID 1 is hidden, as the `filesystem` collector) that is not
//!   mounted `ro` and whose directory (under `<sysfs>` for a mount point below `/sys`, else under
//!   `<rootfs>`) holds `enforce`.
//! * **Enabled** means selinuxfs was found and the process's own context is not `kernel` (the
//!   context every task has while no policy is loaded). go-selinux reads
//!   `/proc/thread-self/attr/current`; sysmon reads `<procfs>/thread-self/attr/current`, else
//!   `<procfs>/self/attr/current`; a context that cannot be read counts as not `kernel`, as in
//!   go-selinux. go-selinux decides this once per process; sysmon on every sample.
//! * **Current mode**: the decimal in `<selinuxfs>/enforce` (the kernel writes it without a
//!   newline), converted as Go's `strconv.Atoi` on the whole content; anything else is -1. sysmon
//!   also fails the collector then (after publishing the -1), where node_exporter reports success.
//! * **Configured mode**: `SELINUX=` of `<rootfs>/etc/selinux/config`, read as go-selinux reads
//!   it: lines trimmed, blank lines and lines starting with `#` or `;` skipped, split at the first
//!   `=`, the key compared exactly, double quotes trimmed from the value; `enforcing` is 1,
//!   `permissive` 0, anything else (`disabled`, a missing key or file) -1. (libselinux compares
//!   the value case-insensitively; go-selinux, and so node_exporter, does not.)

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use super::{BuildContext, CollectError, Collector, Registration, Roots};
use crate::metrics::MetricSet;

pub const REGISTRATION: Registration = Registration {
    name: "selinux",
    default_enabled: true,
    help: "SELinux status from selinuxfs and /etc/selinux/config",
    flags: super::no_flags,
    cadence: super::Cadence::Slow,
    isolation: super::Isolation::Inline,
    build,
};

fn build(ctx: &BuildContext) -> Result<Box<dyn Collector>, String> {
    Ok(Box::new(SelinuxCollector {
        roots: ctx.roots.clone(),
    }))
}

pub struct SelinuxCollector {
    roots: Roots,
}

/// go-selinux's (and libselinux's) mode numbers.
pub const ENFORCING: i64 = 1;
pub const PERMISSIVE: i64 = 0;
pub const DISABLED: i64 = -1;

/// `<selinuxfs>/enforce` converted as Go's `strconv.Atoi` on the whole content: an optional sign
/// and decimal digits, nothing else (not even a newline); `None` otherwise.
pub fn parse_enforce(bytes: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(bytes).ok()?;
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<i64>().ok()
}

/// The value of `key` in an SELinux config file, as go-selinux's `readConfig` finds it.
pub fn config_value<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines().find_map(|line| {
        let line = line.trim();
        if line.is_empty() || line.starts_with(['#', ';']) {
            return None;
        }
        let (k, v) = line.split_once('=')?;
        (k == key).then(|| v.trim_matches('"'))
    })
}

/// The configured boot mode from the text of /etc/selinux/config.
pub fn config_mode(text: &str) -> i64 {
    match config_value(text, "SELINUX") {
        Some("enforcing") => ENFORCING,
        Some("permissive") => PERMISSIVE,
        _ => DISABLED,
    }
}

/// The mount point of a selinuxfs line of mountinfo, as go-selinux takes it (the 5th field of a
/// line containing ` - selinuxfs `), decoded, and whether it is mounted read-only; `None` for
/// other lines.
pub fn selinuxfs_mount(line: &[u8]) -> Option<(PathBuf, bool)> {
    const TAG: &[u8] = b" - selinuxfs ";
    let tag = line.windows(TAG.len()).position(|w| w == TAG)?;
    let mut fields = line.splitn(6, |&b| b == b' ');
    let mount_point = fields.nth(4)?;
    let options = fields.next()?;
    let mut super_options = line[tag + TAG.len()..].split(|&b| b == b' ').nth(1)?;
    if super_options.ends_with(b"\n") {
        super_options = &super_options[..super_options.len() - 1];
    }
    let ro = |opts: &[u8]| opts.split(|&b| b == b',').any(|o| o == b"ro");
    let options = options.split(|&b| b == b' ').next().unwrap_or(options);
    let read_only = ro(options) || ro(super_options);
    use std::os::unix::ffi::OsStrExt;
    let path = super::filesystem::mountinfo::unescape(mount_point);
    Some((PathBuf::from(std::ffi::OsStr::from_bytes(&path)), read_only))
}

impl SelinuxCollector {
    /// Where this host's selinuxfs is mounted, under the roots (see the module documentation).
    fn find_selinuxfs(&self) -> Option<PathBuf> {
        let standard = self.roots.sys("fs/selinux");
        if usable(&standard) {
            return Some(standard);
        }
        let filesystems = crate::collector::read_bytes(self.roots.proc("filesystems")).ok()?;
        if !filesystems.windows(11).any(|w| w == b"\tselinuxfs\n") {
            return None;
        }
        let mountinfo = match crate::collector::read_bytes(self.roots.proc("1/mountinfo")) {
            Err(e) if e.kind() == ErrorKind::NotFound => {
                crate::collector::read_bytes(self.roots.proc("self/mountinfo")).ok()?
            }
            other => other.ok()?,
        };
        mountinfo
            .split(|&b| b == b'\n')
            .filter_map(selinuxfs_mount)
            .filter(|(_, read_only)| !read_only)
            .map(|(mount_point, _)| self.host_path(&mount_point))
            .find(|dir| usable(dir))
    }

    /// A host path under the roots: below `/sys` under `<sysfs>`, anything else under `<rootfs>`.
    fn host_path(&self, path: &Path) -> PathBuf {
        match path.strip_prefix("/sys") {
            Ok(rest) => self.roots.sys(rest),
            Err(_) => self.roots.root(path),
        }
    }

    /// Whether our own context is `kernel` (SELinux on, no policy loaded).
    fn context_is_kernel(&self) -> bool {
        let read = |rel: &str| crate::collector::read_bytes(self.roots.proc(rel));
        let context = match read("thread-self/attr/current") {
            Err(e) if e.kind() == ErrorKind::NotFound => read("self/attr/current"),
            other => other,
        };
        match context {
            Ok(bytes) => {
                let bytes = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
                bytes.strip_suffix(b"\0").unwrap_or(bytes) == b"kernel"
            }
            Err(_) => false,
        }
    }
}

/// Whether `dir` is a mounted selinuxfs we may use: it holds `enforce` (where go-selinux checks
/// the statfs magic, which a fixture tree or a copy cannot have), and it is not mounted read-only.
fn usable(dir: &Path) -> bool {
    if !dir.join("enforce").exists() {
        return false;
    }
    match rustix::fs::statvfs(dir) {
        Ok(st) => !st.f_flag.contains(rustix::fs::StatVfsMountFlags::RDONLY),
        Err(_) => false,
    }
}

impl Collector for SelinuxCollector {
    fn collect(&self, out: &mut MetricSet) -> Result<(), CollectError> {
        let selinuxfs = match self.find_selinuxfs() {
            Some(dir) if !self.context_is_kernel() => dir,
            _ => {
                out.gauge("node_selinux_enabled", ENABLED_HELP)
                    .sample(&[], 0.0);
                return Ok(());
            }
        };
        out.gauge("node_selinux_enabled", ENABLED_HELP)
            .sample(&[], 1.0);

        let mut error = None;
        let config_path = self.roots.root("/etc/selinux/config");
        let configured = match crate::collector::read_bytes(&config_path) {
            Ok(bytes) => config_mode(&String::from_utf8_lossy(&bytes)),
            Err(e) if e.kind() == ErrorKind::NotFound => DISABLED,
            Err(e) => {
                error = Some(CollectError::io(&config_path, e));
                DISABLED
            }
        };
        out.gauge(
            "node_selinux_config_mode",
            "SELinux mode configured for boot in /etc/selinux/config (1 enforcing, 0 permissive, -1 disabled).",
        )
        .sample(&[], configured as f64);

        let enforce_path = selinuxfs.join("enforce");
        let current = match crate::collector::read_bytes(&enforce_path) {
            Ok(bytes) => parse_enforce(&bytes).unwrap_or_else(|| {
                error.get_or_insert(CollectError::parse(
                    &enforce_path,
                    format!(
                        "expected 0 or 1 without a newline, found {:?}",
                        String::from_utf8_lossy(&bytes)
                    ),
                ));
                DISABLED
            }),
            Err(e) => {
                error.get_or_insert(CollectError::io(&enforce_path, e));
                DISABLED
            }
        };
        out.gauge(
            "node_selinux_current_mode",
            "Current SELinux mode (1 enforcing, 0 permissive, -1 unknown).",
        )
        .sample(&[], current as f64);
        match error {
            None => Ok(()),
            Some(e) => Err(e),
        }
    }
}

const ENABLED_HELP: &str = "1 if SELinux is enabled, 0 otherwise.";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::fixture_roots;
    use proptest::prelude::*;

    fn collect(roots: Roots) -> (MetricSet, Result<(), CollectError>) {
        let mut out = MetricSet::new();
        let r = SelinuxCollector { roots }.collect(&mut out);
        (out, r)
    }

    fn value(out: &MetricSet, name: &str) -> Option<f64> {
        Some(out.get(name)?.samples[0].value)
    }

    #[test]
    fn enforce_as_atoi() {
        assert_eq!(parse_enforce(b"1"), Some(1));
        assert_eq!(parse_enforce(b"0"), Some(0));
        assert_eq!(parse_enforce(b"+1"), Some(1));
        assert_eq!(parse_enforce(b"1\n"), None);
        assert_eq!(parse_enforce(b""), None);
        assert_eq!(parse_enforce(b"-"), None);
        assert_eq!(parse_enforce(b"enforcing"), None);
    }

    #[test]
    fn config_as_go_selinux() {
        let text = "# SELINUX=permissive\n\n; comment\nSELINUXTYPE=targeted\n  SELINUX=\"enforcing\"  \nSELINUX=permissive\n";
        assert_eq!(config_value(text, "SELINUXTYPE"), Some("targeted"));
        assert_eq!(config_mode(text), ENFORCING);
        assert_eq!(config_mode("SELINUX=permissive"), PERMISSIVE);
        assert_eq!(config_mode("SELINUX=disabled"), DISABLED);
        assert_eq!(config_mode("SELINUX=Enforcing"), DISABLED);
        assert_eq!(config_mode("SELINUX = enforcing"), DISABLED);
        assert_eq!(config_mode(""), DISABLED);
    }

    #[test]
    fn mountinfo_lines() {
        let (p, ro) = selinuxfs_mount(
            b"34 23 0:20 / /sys/fs/selinux rw,nosuid,noexec,relatime shared:8 - selinuxfs selinuxfs rw",
        )
        .unwrap();
        assert_eq!(p, Path::new("/sys/fs/selinux"));
        assert!(!ro);
        let (_, ro) =
            selinuxfs_mount(b"40 30 0:20 / /selinux ro,relatime - selinuxfs selinuxfs rw").unwrap();
        assert!(ro);
        assert!(selinuxfs_mount(b"22 1 0:21 / /proc rw - proc proc rw").is_none());
        assert!(selinuxfs_mount(b" - selinuxfs ").is_none());
    }

    #[test]
    fn fixtures() {
        let (out, r) = collect(fixture_roots("laptop"));
        r.unwrap();
        assert_eq!(value(&out, "node_selinux_enabled"), Some(0.0));
        assert_eq!(out.families.len(), 1);

        let (out, r) = collect(fixture_roots("server"));
        r.unwrap();
        assert_eq!(value(&out, "node_selinux_enabled"), Some(1.0));
        assert_eq!(value(&out, "node_selinux_config_mode"), Some(1.0));
        assert_eq!(value(&out, "node_selinux_current_mode"), Some(1.0));

        let (out, r) = collect(fixture_roots("vm"));
        r.unwrap();
        assert_eq!(value(&out, "node_selinux_config_mode"), Some(1.0));
        assert_eq!(value(&out, "node_selinux_current_mode"), Some(0.0));

        let (out, r) = collect(fixture_roots("broken"));
        assert!(r.unwrap_err().to_string().contains("enforce"));
        assert_eq!(value(&out, "node_selinux_current_mode"), Some(-1.0));
    }

    /// A host whose selinuxfs is mounted at the old `/selinux`, found through mountinfo.
    #[test]
    fn slow_path_through_mountinfo_and_kernel_context() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let roots = Roots {
            procfs: root.join("proc"),
            sysfs: root.join("sys"),
            rootfs: root.join("rootfs"),
        };
        std::fs::create_dir_all(root.join("proc/1")).unwrap();
        std::fs::create_dir_all(root.join("sys/fs/selinux")).unwrap();
        std::fs::create_dir_all(root.join("rootfs/selinux")).unwrap();
        std::fs::write(root.join("rootfs/selinux/enforce"), "1").unwrap();
        std::fs::write(
            root.join("proc/1/mountinfo"),
            "22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n\
             30 22 0:20 / /selinux rw,relatime - selinuxfs selinuxfs rw\n",
        )
        .unwrap();
        // Without selinuxfs in /proc/filesystems the mount table is not searched.
        let (out, _) = collect(roots.clone());
        assert_eq!(value(&out, "node_selinux_enabled"), Some(0.0));
        std::fs::write(
            root.join("proc/filesystems"),
            "nodev\tsysfs\nnodev\tselinuxfs\n",
        )
        .unwrap();
        let (out, r) = collect(roots.clone());
        r.unwrap();
        assert_eq!(value(&out, "node_selinux_enabled"), Some(1.0));
        assert_eq!(value(&out, "node_selinux_current_mode"), Some(1.0));
        assert_eq!(
            value(&out, "node_selinux_config_mode"),
            Some(-1.0),
            "no config file"
        );
        // No policy loaded yet: our context is "kernel".
        std::fs::create_dir_all(root.join("proc/self/attr")).unwrap();
        std::fs::write(root.join("proc/self/attr/current"), "kernel\0").unwrap();
        let (out, _) = collect(roots);
        assert_eq!(value(&out, "node_selinux_enabled"), Some(0.0));
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_input_never_panics(text in "[A-Z=\"#; a-z0-9\\n\\-+/]{0,200}") {
            let _ = config_mode(&text);
            let _ = parse_enforce(text.as_bytes());
            for line in text.lines() {
                let _ = selinuxfs_mount(line.as_bytes());
            }
        }

        #[test]
        fn well_formed_parse_back(mode in prop_oneof![Just("enforcing"), Just("permissive"), Just("disabled")], quoted in any::<bool>(), enforce in any::<i64>()) {
            let value = if quoted { format!("\"{mode}\"") } else { mode.to_string() };
            let text = format!("# comment\nSELINUXTYPE=targeted\nSELINUX={value}\n");
            let want = match mode { "enforcing" => ENFORCING, "permissive" => PERMISSIVE, _ => DISABLED };
            prop_assert_eq!(config_mode(&text), want);
            prop_assert_eq!(parse_enforce(enforce.to_string().as_bytes()), Some(enforce));
        }
    }
}
