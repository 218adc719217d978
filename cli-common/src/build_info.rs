//! Build information for `--version`, gathered by a build script (`build.rs`):
//!
//! ```text
//! sysmon-exporter, version 0.1.0 (branch: main, revision: 6bd47e6a1b2c)
//!   build date:       20261206-02:31:07
//!   rustc version:    rustc 1.95.0 (59807616e 2026-04-14)
//!   target:           x86_64-unknown-linux-gnu
//! ```
//!
//! This is the layout of node_exporter's `--version` (Prometheus's `version.Print`), with Rust's
//! compiler and target triple where Go prints its version and platform. Nothing here uses the
//! network. From a source tarball without `.git` (or without git installed) the revision and
//! branch are "unknown"; `SYSMON_GIT_REVISION` and `SYSMON_GIT_BRANCH` set them for builds from
//! an export (the container build passes the revision that way). The build date is
//! `SOURCE_DATE_EPOCH` when set (reproducible builds, as Debian's tools set it), otherwise the
//! time the build script ran.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

/// What `--version` reports, besides the package version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildInfo {
    pub revision: String,
    pub branch: String,
    /// `YYYYMMDD-HH:MM:SS` in UTC, as Prometheus's tools print it.
    pub date: String,
    pub rustc: String,
    pub target: String,
}

impl BuildInfo {
    /// The `--version` text: the program's name and version, then one line per item.
    pub fn version_text(&self, program: &str, version: &str) -> String {
        format!(
            "{program}, version {version} (branch: {}, revision: {})\n  build date:       {}\n  rustc version:    {}\n  target:           {}\n",
            self.branch, self.revision, self.date, self.rustc, self.target
        )
    }
}

const UNKNOWN: &str = "unknown";

/// Runs git in `dir`; `None` when git is missing, `dir` is not in a repository, or git fails.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let mut cmd = Command::new("git");
    cmd.args(args);
    #[cfg(test)]
    if let Some(ceiling) = tests::CEILING.with(|c| c.borrow().clone()) {
        cmd.env("GIT_CEILING_DIRECTORIES", ceiling);
    }
    let out = cmd
        .current_dir(dir)
        // A repository owned by another user (a root build of a user's checkout) is refused by
        // git's safe.directory check; that only affects what --version says, so allow it here.
        .env("GIT_CONFIG_COUNT", "1")
        .env("GIT_CONFIG_KEY_0", "safe.directory")
        .env("GIT_CONFIG_VALUE_0", "*")
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!s.is_empty()).then_some(s)
}

/// The revision (12 hex digits) and branch of the checkout holding `dir`, "unknown" without one.
/// A detached HEAD's branch is "HEAD", as in Prometheus's builds.
pub fn git_revision_and_branch(dir: &Path) -> (String, String) {
    let revision = git(dir, &["rev-parse", "--short=12", "HEAD"]);
    let branch = revision
        .as_ref()
        .and_then(|_| git(dir, &["rev-parse", "--abbrev-ref", "HEAD"]));
    (
        revision.unwrap_or_else(|| UNKNOWN.into()),
        branch.unwrap_or_else(|| UNKNOWN.into()),
    )
}

/// The files whose change means another revision or branch: HEAD, the branch refs and the packed
/// refs, found through git so that a worktree (where `.git` is a file) is followed too. Empty
/// without a repository.
pub fn git_watch_paths(dir: &Path) -> Vec<PathBuf> {
    let mut paths = Vec::new();
    if let Some(head) = git(
        dir,
        &["rev-parse", "--path-format=absolute", "--git-path", "HEAD"],
    ) {
        paths.push(PathBuf::from(head));
    }
    if let Some(common) = git(
        dir,
        &["rev-parse", "--path-format=absolute", "--git-common-dir"],
    ) {
        let common = PathBuf::from(common);
        paths.push(common.join("refs/heads"));
        paths.push(common.join("packed-refs"));
    }
    paths.retain(|p| p.exists());
    paths
}

/// `rustc --version` of the compiler cargo uses (`$RUSTC`).
fn rustc_version() -> String {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "rustc unknown".into())
}

/// `YYYYMMDD-HH:MM:SS` (UTC) of `secs` since the epoch.
pub fn format_date(secs: u64) -> String {
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}{m:02}{d:02}-{:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// `YYYY-MM-DD` (UTC) of `secs`, for the man page's date.
pub fn format_day(secs: u64) -> String {
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Year, month and day of a day count since 1970-01-01 (Howard Hinnant's `civil_from_days`,
/// exact for the proleptic Gregorian calendar).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Seconds since the epoch of the build: `SOURCE_DATE_EPOCH` when set and valid, else now.
fn build_epoch() -> u64 {
    std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0)
        })
}

/// For a build script: gathers the build information of the package being built and hands it
/// to the program as environment variables (`SYSMON_GIT_REVISION`, `SYSMON_GIT_BRANCH`,
/// `SYSMON_BUILD_DATE`, `SYSMON_BUILD_DAY`, `SYSMON_RUSTC_VERSION`, `SYSMON_TARGET`) and as the
/// file `$OUT_DIR/version.txt` (the whole `--version` text, which an environment variable could
/// not carry: it has several lines). Tells cargo to run it again when the checkout moves.
pub fn emit(program: &str) {
    let manifest_dir =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("run by cargo as a build script"));
    let (git_revision, git_branch) = git_revision_and_branch(&manifest_dir);
    let non_empty = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    let epoch = build_epoch();
    let info = BuildInfo {
        revision: non_empty("SYSMON_GIT_REVISION").unwrap_or(git_revision),
        branch: non_empty("SYSMON_GIT_BRANCH").unwrap_or(git_branch),
        date: format_date(epoch),
        rustc: rustc_version(),
        target: std::env::var("TARGET").unwrap_or_else(|_| UNKNOWN.into()),
    };
    let version = std::env::var("CARGO_PKG_VERSION").unwrap_or_else(|_| UNKNOWN.into());
    for (k, v) in [
        ("SYSMON_GIT_REVISION", &info.revision),
        ("SYSMON_GIT_BRANCH", &info.branch),
        ("SYSMON_BUILD_DATE", &info.date),
        ("SYSMON_BUILD_DAY", &format_day(epoch)),
        ("SYSMON_RUSTC_VERSION", &info.rustc),
        ("SYSMON_TARGET", &info.target),
    ] {
        println!("cargo:rustc-env={k}={v}");
    }
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("run by cargo as a build script"));
    std::fs::write(
        out.join("version.txt"),
        info.version_text(program, &version),
    )
    .expect("write $OUT_DIR/version.txt");
    for k in [
        "SYSMON_GIT_REVISION",
        "SYSMON_GIT_BRANCH",
        "SOURCE_DATE_EPOCH",
    ] {
        println!("cargo:rerun-if-env-changed={k}");
    }
    println!("cargo:rerun-if-changed=build.rs");
    for p in git_watch_paths(&manifest_dir) {
        println!("cargo:rerun-if-changed={}", p.display());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    thread_local! {
        /// `GIT_CEILING_DIRECTORIES` for the git commands this test thread runs.
        pub(super) static CEILING: std::cell::RefCell<Option<PathBuf>> = const { std::cell::RefCell::new(None) };
    }

    #[test]
    fn dates_are_utc_calendar_dates() {
        assert_eq!(format_date(0), "19700101-00:00:00");
        // 2000-02-29 12:34:56 UTC, a leap day of a century leap year.
        assert_eq!(format_date(951_827_696), "20000229-12:34:56");
        // 2024-12-31 23:59:59 UTC.
        assert_eq!(format_date(1_735_689_599), "20241231-23:59:59");
        assert_eq!(format_day(1_735_689_600), "2025-01-01");
    }

    #[test]
    fn version_text_has_node_exporters_layout() {
        let info = BuildInfo {
            revision: "0123456789ab".into(),
            branch: "main".into(),
            date: "20261206-02:31:07".into(),
            rustc: "rustc 1.95.0".into(),
            target: "x86_64-unknown-linux-gnu".into(),
        };
        assert_eq!(
            info.version_text("sysmon-top", "0.1.0"),
            "sysmon-top, version 0.1.0 (branch: main, revision: 0123456789ab)\n  build date:       20261206-02:31:07\n  rustc version:    rustc 1.95.0\n  target:           x86_64-unknown-linux-gnu\n"
        );
    }

    #[test]
    fn outside_a_checkout_revision_and_branch_are_unknown() {
        // A directory that is in no git repository, like an unpacked source tarball.
        let dir = std::env::temp_dir().join(format!("sysmon-no-git-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // Git must not look above it (the temporary folder could be inside a checkout).
        CEILING.with(|c| *c.borrow_mut() = Some(dir.parent().unwrap().to_path_buf()));
        let got = git_revision_and_branch(&dir);
        let watched = git_watch_paths(&dir);
        CEILING.with(|c| *c.borrow_mut() = None);
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(got, ("unknown".to_string(), "unknown".to_string()));
        assert!(watched.is_empty(), "{watched:?}");
    }

    #[test]
    fn inside_this_checkout_revision_is_hex() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        let (rev, branch) = git_revision_and_branch(dir);
        if rev == "unknown" {
            // Built from a tarball: nothing to compare with.
            return;
        }
        assert_eq!(rev.len(), 12, "{rev}");
        assert!(rev.chars().all(|c| c.is_ascii_hexdigit()), "{rev}");
        assert!(!branch.is_empty());
        assert!(git_watch_paths(dir).iter().any(|p| p.ends_with("HEAD")));
    }
}
