//! `filefd`: file handle usage from `<procfs>/sys/fs/file-nr` (Documentation/admin-guide/sysctl/fs.rst):
//! three tab-separated numbers, the allocated file handles, the allocated but unused ones (always
//! 0 since Linux 2.6) and the maximum (`fs.file-max`). Exported as node_exporter's
//! `filefd_linux.go`: `node_filefd_allocated` and `node_filefd_maximum` gauges; the unused count
//! is skipped.

use super::{read_string, BuildContext, CollectError, Collector, Registration, Roots};
use crate::metrics::MetricSet;

pub const REGISTRATION: Registration = Registration {
    name: "filefd",
    default_enabled: true,
    help: "file handle usage from /proc/sys/fs/file-nr",
    flags: super::no_flags,
    cadence: super::Cadence::Slow,
    isolation: super::Isolation::Inline,
    build,
};

fn build(ctx: &BuildContext) -> Result<Box<dyn Collector>, String> {
    Ok(Box::new(FilefdCollector {
        roots: ctx.roots.clone(),
    }))
}

pub struct FilefdCollector {
    roots: Roots,
}

/// The two values of file-nr node_exporter exports, each parsed on its own so that a malformed one
/// does not hide the other.
#[derive(Debug, Clone, PartialEq)]
pub struct FileNr {
    pub allocated: Result<u64, String>,
    pub maximum: Result<u64, String>,
}

/// Parses file-nr ("5408\t0\t9223372036854775807\n"). As node_exporter, the fields are separated
/// by tabs (the kernel prints `%lu\t%lu\t%lu`); fewer than three is an error.
pub fn parse(text: &str) -> Result<FileNr, String> {
    let mut fields = text.trim().split('\t');
    let (Some(allocated), Some(_unused), Some(maximum)) =
        (fields.next(), fields.next(), fields.next())
    else {
        return Err(format!(
            "expected three tab-separated numbers, found {:?}",
            text.trim()
        ));
    };
    let number = |what: &str, field: &str| {
        field
            .parse::<u64>()
            .map_err(|_| format!("{what}: expected an unsigned integer, found {field:?}"))
    };
    Ok(FileNr {
        allocated: number("allocated", allocated),
        maximum: number("maximum", maximum),
    })
}

impl Collector for FilefdCollector {
    fn collect(&self, out: &mut MetricSet) -> Result<(), CollectError> {
        let path = self.roots.proc("sys/fs/file-nr");
        let text = read_string(&path)?;
        let nr = parse(&text).map_err(|e| CollectError::parse(&path, e))?;
        let mut first_error = None;
        for (name, help, value) in [
            (
                "node_filefd_allocated",
                "Number of allocated file handles (first field of file-nr).",
                nr.allocated,
            ),
            (
                "node_filefd_maximum",
                "Maximum number of file handles, fs.file-max (third field of file-nr).",
                nr.maximum,
            ),
        ] {
            match value {
                Ok(v) => {
                    out.gauge(name, help).sample(&[], v as f64);
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            None => Ok(()),
            Some(e) => Err(CollectError::parse(&path, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::fixture_roots;
    use proptest::prelude::*;

    #[test]
    fn parses_kernel_format() {
        let nr = parse("5408\t0\t9223372036854775807\n").unwrap();
        assert_eq!(nr.allocated, Ok(5408));
        assert_eq!(nr.maximum, Ok(9223372036854775807));
    }

    #[test]
    fn rejects_malformed() {
        assert!(parse("").is_err());
        assert!(parse("5408 0 100").is_err(), "spaces are not the separator");
        let nr = parse("x\t0\t100").unwrap();
        assert!(nr.allocated.is_err());
        assert_eq!(nr.maximum, Ok(100));
    }

    #[test]
    fn fixtures() {
        for machine in ["laptop", "server", "vm"] {
            let mut out = MetricSet::new();
            FilefdCollector {
                roots: fixture_roots(machine),
            }
            .collect(&mut out)
            .unwrap();
            assert_eq!(out.sample_count(), 2, "{machine}");
        }
        let mut out = MetricSet::new();
        let err = FilefdCollector {
            roots: fixture_roots("broken"),
        }
        .collect(&mut out)
        .unwrap_err();
        assert!(err.to_string().contains("file-nr"), "{err}");
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_text_never_panics(text in "[0-9x \\t\\n-]{0,60}") {
            let _ = parse(&text);
        }

        #[test]
        fn well_formed_parses_back(a in any::<u64>(), u in any::<u64>(), m in any::<u64>()) {
            let nr = parse(&format!("{a}\t{u}\t{m}\n")).unwrap();
            prop_assert_eq!(nr.allocated, Ok(a));
            prop_assert_eq!(nr.maximum, Ok(m));
        }
    }
}
