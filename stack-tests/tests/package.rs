//! The Debian packages on this machine: `scripts/build-deb.sh` builds them (debug profile, so the
//! test takes seconds after a `cargo build`; the binaries are stripped as in a release package),
//! lintian checks them, then `dpkg -i` installs them, the installed exporter runs as the
//! package's user against the live host and is scraped, `systemd-analyze` checks the installed
//! unit, an upgrade to a rebuilt package with a changed conffile keeps the user's edit, and
//! removing and purging leaves nothing behind but what Debian policy keeps (the system user).
//!
//! Needs root (dpkg). Safe to run again and after a failure: the packages it builds carry a
//! `~test` version, a left-over one from an interrupted run is purged first, and an installed
//! sysmon package that is not the test's own stops the test rather than being touched. A
//! policy-rc.d keeps the package from starting its service (which would take port 10101) on a
//! machine that runs systemd.

mod native_stack;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use native_stack::{eventually, free_port, get, Proc};
use sysmon_stack_tests::{repo_root, tool};

const PACKAGES: [&str; 2] = ["sysmon-exporter", "sysmon-top"];
const VERSION: &str = "0.1.0-1~test1";
const UPGRADE: &str = "0.1.0-1~test2";
const POLICY_RC_D: &str = "/usr/sbin/policy-rc.d";

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}\n{}",
        out.status,
        text(&out)
    );
    out
}

/// The installed version of `pkg` and its dpkg status, when dpkg knows it.
fn dpkg_status(pkg: &str) -> Option<(String, String)> {
    let out = Command::new("dpkg-query")
        .args(["-W", "-f", "${Version}\t${db:Status-Abbrev}", pkg])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8_lossy(&out.stdout).to_string();
    let (v, st) = s.split_once('\t')?;
    (!st.trim().is_empty() && !st.starts_with("un")).then(|| (v.into(), st.trim().into()))
}

/// Purges what a run of this test installed, and the policy-rc.d it made, also on panic.
struct Cleanup {
    made_policy: bool,
}

impl Cleanup {
    fn purge() {
        for pkg in PACKAGES {
            if dpkg_status(pkg).is_some_and(|(v, _)| v.contains("~test")) {
                let _ = Command::new("dpkg")
                    .args(["--purge", pkg])
                    .stdin(Stdio::null())
                    .output();
            }
        }
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        Self::purge();
        if self.made_policy {
            let _ = std::fs::remove_file(POLICY_RC_D);
        }
    }
}

/// Every path under `roots` (not following links), but the folders where dpkg, apt, man-db and
/// logs keep their own books.
fn snapshot(roots: &[&str]) -> BTreeSet<PathBuf> {
    const BOOKKEEPING: [&str; 5] = [
        "/var/lib/dpkg",
        "/var/lib/apt",
        "/var/cache",
        "/var/log",
        "/var/lib/lintian",
    ];
    fn walk(dir: &Path, out: &mut BTreeSet<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if BOOKKEEPING.iter().any(|b| p.starts_with(b)) {
                continue;
            }
            let is_dir = e.file_type().map(|t| t.is_dir()).unwrap_or(false);
            out.insert(p.clone());
            if is_dir {
                walk(&p, out);
            }
        }
    }
    let mut out = BTreeSet::new();
    for r in roots {
        walk(Path::new(r), &mut out);
    }
    out
}

/// Roots whose contents the packages touch.
const WATCHED: [&str; 5] = [
    "/etc",
    "/usr/bin",
    "/usr/lib/systemd",
    "/usr/share",
    "/var/lib",
];

/// `KEY=value` of `key` in a shell-style defaults file, without its quotes.
fn default_args(file: &str, key: &str) -> Vec<String> {
    let text = std::fs::read_to_string(file).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with(&format!("{key}=")))
        .unwrap_or_else(|| panic!("{file} does not set {key}:\n{text}"));
    line[key.len() + 1..]
        .trim_matches('"')
        .split_whitespace()
        .map(String::from)
        .collect()
}

/// A copy of `deb` with version `version` and `edit` applied to its unpacked tree: what a rebuilt
/// package of a later version looks like to dpkg.
fn rebuilt(deb: &Path, version: &str, dir: &Path, edit: impl FnOnce(&Path)) -> PathBuf {
    let tree = dir.join("tree");
    let _ = std::fs::remove_dir_all(&tree);
    run(Command::new("dpkg-deb").arg("-R").arg(deb).arg(&tree));
    let control = tree.join("DEBIAN/control");
    let c = std::fs::read_to_string(&control).unwrap();
    let c: String = c
        .lines()
        .map(|l| {
            if l.starts_with("Version: ") {
                format!("Version: {version}\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    std::fs::write(&control, c).unwrap();
    edit(&tree);
    // cargo-deb writes no md5sums; were there one, the edited file's sum would need updating.
    assert!(!tree.join("DEBIAN/md5sums").exists());
    let out = dir.join(format!("sysmon-exporter_{version}_amd64.deb"));
    run(Command::new("dpkg-deb")
        .args(["--root-owner-group", "-Zxz", "-z1", "-b"])
        .arg(&tree)
        .arg(&out));
    out
}

/// The packages, built once for both tests of this file (they run at the same time: lintian
/// while the other installs), with the debug profile, into a folder of cargo's for tests.
fn packages() -> &'static [PathBuf] {
    static DEBS: OnceLock<Vec<PathBuf>> = OnceLock::new();
    DEBS.get_or_init(|| {
        let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("package-test");
        let _ = std::fs::remove_dir_all(&out_dir);
        std::fs::create_dir_all(&out_dir).unwrap();
        let mut build = Command::new("bash");
        // Cargo's variables for this test (CARGO_PKG_*, CARGO_MANIFEST_DIR, ...) would make the
        // script's cargo see another environment than a developer's and build everything again.
        for (k, _) in std::env::vars() {
            if (k.starts_with("CARGO_") && k != "CARGO_HOME" && k != "CARGO_TARGET_DIR")
                || k == "CARGO"
            {
                build.env_remove(k);
            }
        }
        let out = run(build
            .arg(repo_root().join("scripts/build-deb.sh"))
            .env("SYSMON_DEB_PROFILE", "dev")
            .env("SYSMON_DEB_FAST", "1")
            .env("SYSMON_DEB_LINTIAN", "0")
            .env("SYSMON_DEB_VERSION", VERSION)
            .env("SYSMON_DEB_OUT", &out_dir));
        let debs: Vec<PathBuf> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(PathBuf::from)
            .collect();
        assert_eq!(debs.len(), 2, "{}", text(&out));
        assert!(debs[0].to_string_lossy().contains("sysmon-exporter_"));
        debs
    })
}

#[test]
fn packages_are_lintian_clean() {
    let debs = packages();
    let lintian = Command::new(tool("lintian", "lintian"))
        .args(["--fail-on", "error,warning", "--info", "--display-info"])
        .args(debs)
        .output()
        .unwrap();
    assert!(
        lintian.status.success()
            && !text(&lintian).lines().any(|l| {
                l.starts_with(['E', 'W', 'I'])
                    && l.as_bytes().get(1) == Some(&b':')
                    // The override for bytes of the release build's data that lintian reads as a
                    // misspelling; this debug build has no such bytes.
                    && !l.contains("unused-override spelling-error-in-binary")
            }),
        "lintian: every tag is fixed or overridden with a reason:\n{}",
        text(&lintian)
    );
}

#[test]
fn package_installs_runs_upgrades_and_purges_cleanly() {
    assert!(
        rustix::process::geteuid().is_root(),
        "this test installs Debian packages with dpkg and must run as root (it does not skip)"
    );
    for pkg in PACKAGES {
        if let Some((v, st)) = dpkg_status(pkg) {
            assert!(
                v.contains("~test"),
                "{pkg} {v} ({st}) is installed on this machine and is not this test's: \
                 the test will not replace it"
            );
        }
    }
    // An interrupted earlier run's packages go first.
    Cleanup::purge();
    let made_policy = !Path::new(POLICY_RC_D).exists();
    if made_policy {
        std::fs::write(
            POLICY_RC_D,
            "#!/bin/sh\n# sysmon package test: start no service\nexit 101\n",
        )
        .unwrap();
        std::fs::set_permissions(
            POLICY_RC_D,
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
    }
    let _cleanup = Cleanup { made_policy };
    let before = snapshot(&WATCHED);

    let work = tempfile::tempdir().unwrap();
    let debs = packages();
    let exporter_deb = debs[0].clone();

    // ---- install
    run(Command::new("dpkg").arg("-i").args(debs));
    for pkg in PACKAGES {
        assert_eq!(
            dpkg_status(pkg),
            Some((VERSION.into(), "ii".into())),
            "{pkg} installed"
        );
    }
    for f in [
        "/usr/bin/sysmon-exporter",
        "/usr/bin/sysmon-top",
        "/usr/lib/systemd/system/sysmon-exporter.service",
        "/etc/default/sysmon-exporter",
        "/etc/sysmon/sysmon.toml",
        "/usr/share/man/man1/sysmon-exporter.1.gz",
        "/usr/share/man/man1/sysmon-top.1.gz",
        "/usr/share/bash-completion/completions/sysmon-exporter",
        "/usr/share/zsh/vendor-completions/_sysmon-top",
        "/usr/share/fish/vendor_completions.d/sysmon-top.fish",
        "/usr/share/doc/sysmon-exporter/copyright",
        "/usr/share/doc/sysmon-top/changelog.Debian.gz",
    ] {
        assert!(Path::new(f).exists(), "{f} not installed");
    }
    let conffiles =
        run(Command::new("dpkg-query").args(["-W", "-f", "${Conffiles}", "sysmon-exporter"]));
    for f in ["/etc/default/sysmon-exporter", "/etc/sysmon/sysmon.toml"] {
        assert!(
            text(&conffiles).contains(f),
            "{f} is not a conffile: {}",
            text(&conffiles)
        );
    }
    let passwd = run(Command::new("getent").args(["passwd", "sysmon"]));
    let fields: Vec<String> = text(&passwd).trim().split(':').map(String::from).collect();
    let uid: u32 = fields[2].parse().unwrap();
    assert!(uid < 1000, "sysmon is a system user: {fields:?}");
    assert_eq!(fields[5], "/var/lib/sysmon");
    run(Command::new("getent").args(["group", "sysmon"]));
    let version = run(Command::new("/usr/bin/sysmon-top").arg("--version"));
    assert!(text(&version).starts_with(&format!(
        "sysmon-top, version {}",
        env!("CARGO_PKG_VERSION")
    )));
    let man = run(Command::new("man").args(["-w", "sysmon-exporter"]));
    assert_eq!(
        text(&man).trim(),
        "/usr/share/man/man1/sysmon-exporter.1.gz"
    );

    // ---- the installed exporter, as the package's user with the packaged defaults, on the live
    // host; on a free loopback port (a later flag wins), stopped at the end.
    let port = free_port();
    std::fs::create_dir_all("/var/lib/sysmon").unwrap();
    run(Command::new("chown").args(["sysmon:sysmon", "/var/lib/sysmon"]));
    let log = work.path().join("exporter.log");
    let mut args = default_args("/etc/default/sysmon-exporter", "SYSMON_EXPORTER_ARGS");
    args.push(format!("--web.listen-address=127.0.0.1:{port}"));
    args.push("--storage.path=/var/lib/sysmon".into());
    let exporter = Proc(
        Command::new("setpriv")
            .args(["--reuid=sysmon", "--regid=sysmon", "--clear-groups", "--"])
            .arg("/usr/bin/sysmon-exporter")
            .args(&args)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    let url = format!("http://127.0.0.1:{port}");
    let metrics = eventually(
        "the installed exporter to serve a sample",
        Duration::from_secs(30),
        || {},
        || match get(&format!("{url}/metrics")) {
            Ok((200, body)) if body.contains("node_cpu_seconds_total{") => Some(body),
            _ => None,
        },
        || {
            format!(
                "{:?}\n{}",
                get(&format!("{url}/health")),
                std::fs::read_to_string(&log).unwrap_or_default()
            )
        },
    );
    for series in [
        "node_memory_MemTotal_bytes ",
        "node_filesystem_size_bytes{",
        "node_network_receive_bytes_total{",
        "sysmon_anomaly_threshold{",
        "sysmon_anomaly_journal_writable 1",
        "sysmon_exporter_build_info{",
    ] {
        assert!(metrics.contains(series), "no {series} from the live host");
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert!(
        metrics.contains(&format!("nodename=\"{}\"", host.trim())),
        "not this host's uname"
    );
    let (status, health) = get(&format!("{url}/health")).unwrap();
    assert_eq!(status, 200, "{health}");
    let mut exporter = exporter;
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(exporter.0.id() as i32).unwrap(),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    let status = exporter.0.wait().unwrap();
    assert!(status.success(), "exit after SIGTERM: {status}");
    assert!(
        Path::new("/var/lib/sysmon/anomalies.jsonl").exists()
            || std::fs::read_dir("/var/lib/sysmon")
                .unwrap()
                .next()
                .is_some(),
        "the exporter kept no state in its storage path"
    );

    // ---- the installed unit
    let verify = Command::new(tool("systemd-analyze", "systemd"))
        .args(["verify", "/usr/lib/systemd/system/sysmon-exporter.service"])
        .output()
        .unwrap();
    let ours: Vec<String> = text(&verify)
        .lines()
        .filter(|l| l.contains("sysmon-exporter.service"))
        .map(String::from)
        .collect();
    assert!(
        verify.status.success() && ours.is_empty(),
        "systemd-analyze verify: {}\n{}",
        verify.status,
        text(&verify)
    );
    let security = run(Command::new(tool("systemd-analyze", "systemd")).args([
        "security",
        "--offline=yes",
        "--no-pager",
        "/usr/lib/systemd/system/sysmon-exporter.service",
    ]));
    let score: f64 = text(&security)
        .lines()
        .find_map(|l| l.split("sysmon-exporter.service: ").nth(1))
        .and_then(|r| r.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{}", text(&security)));
    assert!(score <= 2.1, "installed unit's exposure {score}");

    // ---- upgrade: the user edited sysmon.toml, the new package changes it and /etc/default.
    let toml = "/etc/sysmon/sysmon.toml";
    let shipped = std::fs::read_to_string(toml).unwrap();
    let edited = shipped.replace("retention = \"30d\"", "retention = \"14d\"");
    assert_ne!(edited, shipped);
    std::fs::write(toml, &edited).unwrap();
    let new_toml = format!("{shipped}\n# A key added by the next version.\n");
    let new_default = format!(
        "{}\n# Changed by the next version.\n",
        std::fs::read_to_string("/etc/default/sysmon-exporter").unwrap()
    );
    let upgrade = rebuilt(&exporter_deb, UPGRADE, work.path(), |tree| {
        std::fs::write(tree.join("etc/sysmon/sysmon.toml"), &new_toml).unwrap();
        std::fs::write(tree.join("etc/default/sysmon-exporter"), &new_default).unwrap();
    });
    // Non-interactively, without a choice made in advance, dpkg cannot ask which version to keep:
    // it stops at the prompt for lack of input and leaves the package unconfigured, the edited
    // file untouched.
    let no_choice = Command::new("dpkg")
        .arg("-i")
        .arg(&upgrade)
        .stdin(Stdio::null())
        .env("DEBIAN_FRONTEND", "noninteractive")
        .output()
        .unwrap();
    assert!(!no_choice.status.success(), "{}", text(&no_choice));
    assert!(
        text(&no_choice).contains("sysmon.toml"),
        "dpkg names the conffile: {}",
        text(&no_choice)
    );
    assert_eq!(std::fs::read_to_string(toml).unwrap(), edited);
    let (_, st) = dpkg_status("sysmon-exporter").unwrap();
    assert_ne!(st, "ii", "configured without an answer");
    // With --force-confold (what `apt-get -o Dpkg::Options::=--force-confold` passes), the
    // user's file stays and the new one is put beside it; a file the user did not edit is
    // replaced by the new version without a question. (The upgrade above is unpacked; this
    // finishes it, as `dpkg -i --force-confold` would have at once.)
    run(Command::new("dpkg").args([
        "--configure",
        "--force-confold",
        "--force-confdef",
        "sysmon-exporter",
    ]));
    assert_eq!(
        dpkg_status("sysmon-exporter"),
        Some((UPGRADE.into(), "ii".into()))
    );
    assert_eq!(
        std::fs::read_to_string(toml).unwrap(),
        edited,
        "the user's edit survives"
    );
    assert_eq!(
        std::fs::read_to_string(format!("{toml}.dpkg-dist")).unwrap(),
        new_toml,
        "the new version is put beside it"
    );
    assert_eq!(
        std::fs::read_to_string("/etc/default/sysmon-exporter").unwrap(),
        new_default,
        "an unedited conffile follows the package"
    );
    assert!(
        Path::new("/var/lib/sysmon").exists(),
        "an upgrade keeps the state"
    );

    // ---- remove: the conffiles stay; purge: nothing stays but the system user.
    run(Command::new("dpkg").arg("-r").args(PACKAGES));
    assert_eq!(
        dpkg_status("sysmon-exporter").map(|(_, s)| s),
        Some("rc".into()),
        "sysmon-exporter removed, its conffiles kept"
    );
    assert_eq!(
        dpkg_status("sysmon-top"),
        None,
        "sysmon-top has no conffiles to keep"
    );
    assert!(!Path::new("/usr/bin/sysmon-exporter").exists());
    assert!(Path::new(toml).exists(), "remove keeps the conffiles");
    run(Command::new("dpkg").arg("--purge").args(PACKAGES));
    for pkg in PACKAGES {
        assert_eq!(dpkg_status(pkg), None, "{pkg} purged");
    }
    let after = snapshot(&WATCHED);
    // adduser rewrites these and keeps the previous copy as a backup.
    let policy_keeps: BTreeSet<PathBuf> = [
        "/etc/passwd-",
        "/etc/group-",
        "/etc/shadow-",
        "/etc/gshadow-",
    ]
    .iter()
    .map(PathBuf::from)
    .collect();
    let left: Vec<&PathBuf> = after
        .difference(&before)
        .filter(|p| !policy_keeps.contains(*p))
        .collect();
    assert!(left.is_empty(), "left behind after purge: {left:#?}");
    let gone: Vec<&PathBuf> = before.difference(&after).collect();
    assert!(
        gone.is_empty(),
        "the packages removed what they did not install: {gone:#?}"
    );
    // Debian keeps a system user on purge (its uid may still own files elsewhere).
    assert!(
        Command::new("getent")
            .args(["passwd", "sysmon"])
            .output()
            .unwrap()
            .status
            .success(),
        "the system user is kept"
    );
}
