//! `uname`: kernel name, release, version, machine, host name and NIS domain name.
//!
//! node_exporter calls uname(2), which always describes the kernel the exporter runs on and its
//! UTS namespace. This collector reads the same strings from `<procfs>/sys/kernel/` instead, so it
//! follows `--path.procfs` (a host's /proc mounted into a container, a fixture tree):
//! `ostype`, `osrelease`, `version`, `hostname`, `domainname`, and `arch` (the machine, Linux 6.1+).
//! A field whose file does not exist (`arch` on older kernels) falls back to uname(2).

use std::ffi::CStr;

use super::{BuildContext, CollectError, Collector, Registration, Roots};
use crate::metrics::MetricSet;

pub const REGISTRATION: Registration = Registration {
    name: "uname",
    default_enabled: true,
    help: "kernel name, release, version and machine",
    flags: super::no_flags,
    cadence: super::Cadence::Slow,
    isolation: super::Isolation::Inline,
    build,
};

fn build(ctx: &BuildContext) -> Result<Box<dyn Collector>, String> {
    Ok(Box::new(UnameCollector {
        roots: ctx.roots.clone(),
    }))
}

pub struct UnameCollector {
    roots: Roots,
}

/// The label of node_uname_info, the file under `<procfs>/sys/kernel/` that holds it, and the same
/// field of uname(2) for the fallback. Labels are in node_exporter's (alphabetical) output order.
type UtsField = fn(&rustix::system::Uname) -> &CStr;
const FIELDS: [(&str, &str, UtsField); 6] = [
    ("domainname", "domainname", |u| u.domainname()),
    ("machine", "arch", |u| u.machine()),
    ("nodename", "hostname", |u| u.nodename()),
    ("release", "osrelease", |u| u.release()),
    ("sysname", "ostype", |u| u.sysname()),
    ("version", "version", |u| u.version()),
];

impl Collector for UnameCollector {
    fn collect(&self, out: &mut MetricSet) -> Result<(), CollectError> {
        let mut live: Option<rustix::system::Uname> = None;
        let mut error = None;
        let mut values: Vec<(&'static str, String)> = Vec::with_capacity(FIELDS.len());
        for (label, file, uts_field) in FIELDS {
            let path = self.roots.proc("sys/kernel").join(file);
            let value = match crate::collector::read_bytes(&path) {
                // One line, ending in a newline; the version string itself contains spaces.
                Ok(bytes) => String::from_utf8_lossy(&bytes)
                    .trim_end_matches('\n')
                    .to_string(),
                Err(e) => {
                    if e.kind() != std::io::ErrorKind::NotFound {
                        error.get_or_insert(CollectError::io(&path, e));
                    }
                    let uts = live.get_or_insert_with(rustix::system::uname);
                    uts_field(uts).to_string_lossy().into_owned()
                }
            };
            values.push((label, value));
        }
        let labels: Vec<(&'static str, &str)> =
            values.iter().map(|(l, v)| (*l, v.as_str())).collect();
        out.gauge(
            "node_uname_info",
            "Labeled system information as provided by the uname system call.",
        )
        .sample(&labels, 1.0);
        error.map_or(Ok(()), Err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(procfs: &std::path::Path) -> (MetricSet, Result<(), CollectError>) {
        let roots = Roots {
            procfs: procfs.to_path_buf(),
            ..Roots::default()
        };
        let mut out = MetricSet::new();
        let result = UnameCollector { roots }.collect(&mut out);
        (out, result)
    }

    fn label<'a>(set: &'a MetricSet, name: &str) -> &'a str {
        let sample = &set.get("node_uname_info").unwrap().samples[0];
        &sample.labels.iter().find(|(k, _)| *k == name).unwrap().1
    }

    #[test]
    fn reads_procfs_files() {
        let dir = tempfile::tempdir().unwrap();
        let kernel = dir.path().join("sys/kernel");
        std::fs::create_dir_all(&kernel).unwrap();
        for (file, text) in [
            ("ostype", "Linux\n"),
            ("osrelease", "6.8.0-45-generic\n"),
            (
                "version",
                "#45-Ubuntu SMP PREEMPT_DYNAMIC Fri Aug 30 12:02:04 UTC 2024\n",
            ),
            ("hostname", "thinkpad-x1\n"),
            ("domainname", "(none)\n"),
            ("arch", "aarch64\n"),
        ] {
            std::fs::write(kernel.join(file), text).unwrap();
        }
        let (set, result) = collect(dir.path());
        assert!(result.is_ok());
        assert_eq!(label(&set, "sysname"), "Linux");
        assert_eq!(label(&set, "release"), "6.8.0-45-generic");
        assert_eq!(
            label(&set, "version"),
            "#45-Ubuntu SMP PREEMPT_DYNAMIC Fri Aug 30 12:02:04 UTC 2024"
        );
        assert_eq!(label(&set, "machine"), "aarch64");
        assert_eq!(label(&set, "nodename"), "thinkpad-x1");
        assert_eq!(label(&set, "domainname"), "(none)");
    }

    #[test]
    fn missing_files_fall_back_to_uname() {
        let dir = tempfile::tempdir().unwrap();
        let kernel = dir.path().join("sys/kernel");
        std::fs::create_dir_all(&kernel).unwrap();
        std::fs::write(kernel.join("hostname"), "fixture-host\n").unwrap();
        // A directory where a file should be is an error, reported, with the fallback value.
        std::fs::create_dir(kernel.join("ostype")).unwrap();
        let (set, result) = collect(dir.path());
        let live = rustix::system::uname();
        assert_eq!(label(&set, "nodename"), "fixture-host");
        assert_eq!(label(&set, "machine"), live.machine().to_string_lossy());
        assert_eq!(label(&set, "release"), live.release().to_string_lossy());
        assert_eq!(label(&set, "sysname"), live.sysname().to_string_lossy());
        assert!(result.unwrap_err().to_string().contains("ostype"));
    }

    #[test]
    fn fixtures() {
        let base = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let (set, result) = collect(&base.join("vm/proc"));
        result.unwrap();
        assert_eq!(label(&set, "release"), "6.8.5-301.fc40.x86_64");
        assert_eq!(label(&set, "nodename"), "ci-runner-07");
        // server: a 5.14 kernel has no kernel/arch; the machine comes from uname(2).
        let (set, result) = collect(&base.join("server/proc"));
        result.unwrap();
        assert_eq!(label(&set, "nodename"), "db-prod-03");
        assert_eq!(
            label(&set, "machine"),
            rustix::system::uname().machine().to_string_lossy()
        );
        let (set, result) = collect(&base.join("broken/proc"));
        result.unwrap();
        assert_eq!(label(&set, "release"), "6.1.0-broken");
        assert_eq!(label(&set, "nodename"), "");
        assert_eq!(
            label(&set, "version"),
            rustix::system::uname().version().to_string_lossy()
        );
    }
}
