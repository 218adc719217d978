//! `kernel_hung`: the number of tasks the kernel's hung task detector has reported since boot,
//! from `<procfs>/sys/kernel/hung_task_detect_count` (Documentation/admin-guide/sysctl/kernel.rst,
//! "hung_task_detect_count"; Linux 6.13+, with CONFIG_DETECT_HUNG_TASK).
//!
//! As node_exporter's `kernel_hung_linux.go` (added in 1.11, enabled by default; 1.11.1 made a
//! missing file "no data"): one counter, `node_kernel_hung_tasks_total`. A kernel without the file
//! exports nothing and is not an error.

use std::io::ErrorKind;

use super::{read_string, BuildContext, CollectError, Collector, Registration, Roots};
use crate::metrics::MetricSet;

pub const REGISTRATION: Registration = Registration {
    name: "kernel_hung",
    default_enabled: true,
    help: "hung tasks detected since boot, from /proc/sys/kernel/hung_task_detect_count",
    flags: super::no_flags,
    cadence: super::Cadence::Slow,
    isolation: super::Isolation::Inline,
    build,
};

fn build(ctx: &BuildContext) -> Result<Box<dyn Collector>, String> {
    Ok(Box::new(KernelHungCollector {
        roots: ctx.roots.clone(),
    }))
}

pub struct KernelHungCollector {
    roots: Roots,
}

/// Parses the file: one decimal count, surrounded by white space at most.
pub fn parse(text: &str) -> Result<u64, String> {
    let t = text.trim();
    t.parse::<u64>()
        .map_err(|_| format!("expected an unsigned integer, found {t:?}"))
}

impl Collector for KernelHungCollector {
    fn collect(&self, out: &mut MetricSet) -> Result<(), CollectError> {
        let path = self.roots.proc("sys/kernel/hung_task_detect_count");
        let text = match read_string(&path) {
            Err(CollectError::Io { source, .. }) if source.kind() == ErrorKind::NotFound => {
                return Ok(());
            }
            other => other?,
        };
        let count = parse(&text).map_err(|e| CollectError::parse(&path, e))?;
        out.counter(
            "node_kernel_hung_tasks_total",
            "Tasks the kernel has detected as hung since boot.",
        )
        .sample(&[], count as f64);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::fixture_roots;
    use crate::collector::Roots;
    use proptest::prelude::*;

    #[test]
    fn parses() {
        assert_eq!(parse("0\n"), Ok(0));
        assert_eq!(parse("17"), Ok(17));
        assert!(parse("").is_err());
        assert!(parse("-3").is_err());
    }

    #[test]
    fn present_missing_and_malformed() {
        let dir = tempfile::tempdir().unwrap();
        let kernel = dir.path().join("sys/kernel");
        std::fs::create_dir_all(&kernel).unwrap();
        let roots = Roots {
            procfs: dir.path().to_path_buf(),
            ..Roots::default()
        };
        let c = KernelHungCollector {
            roots: roots.clone(),
        };
        let mut out = MetricSet::new();
        c.collect(&mut out).unwrap();
        assert_eq!(
            out.sample_count(),
            0,
            "no file on kernels before 6.13: no data"
        );

        std::fs::write(kernel.join("hung_task_detect_count"), "3\n").unwrap();
        c.collect(&mut out).unwrap();
        let fam = out.get("node_kernel_hung_tasks_total").unwrap();
        assert_eq!(fam.kind, crate::metrics::MetricType::Counter);
        assert_eq!(fam.samples[0].value, 3.0);

        let mut out = MetricSet::new();
        let err = KernelHungCollector {
            roots: fixture_roots("broken"),
        }
        .collect(&mut out)
        .unwrap_err();
        assert!(err.to_string().contains("hung_task_detect_count"), "{err}");
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,40}") {
            let _ = parse(&text);
        }

        #[test]
        fn well_formed_parses_back(n in any::<u64>()) {
            prop_assert_eq!(parse(&format!("{n}\n")), Ok(n));
        }
    }
}
