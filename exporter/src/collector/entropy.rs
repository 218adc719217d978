//! `entropy`: the kernel random number generator's entropy estimate and pool size, from
//! `<procfs>/sys/kernel/random/entropy_avail` and `poolsize` (Documentation/admin-guide/sysctl/
//! kernel.rst, "random"). Exported as node_exporter's `entropy_linux.go`:
//! `node_entropy_available_bits` and `node_entropy_pool_size_bits` gauges. Since Linux 5.18 both
//! are constant (256 bits) on most machines; older kernels report a 4096-bit pool.
//!
//! Either file missing is an error, as in node_exporter (every kernel has them).

use super::{read_trimmed, BuildContext, CollectError, Collector, Registration, Roots};
use crate::metrics::MetricSet;

pub const REGISTRATION: Registration = Registration {
    name: "entropy",
    default_enabled: true,
    help: "available entropy from /proc/sys/kernel/random",
    flags: super::no_flags,
    cadence: super::Cadence::Slow,
    isolation: super::Isolation::Inline,
    build,
};

fn build(ctx: &BuildContext) -> Result<Box<dyn Collector>, String> {
    Ok(Box::new(EntropyCollector {
        roots: ctx.roots.clone(),
    }))
}

pub struct EntropyCollector {
    roots: Roots,
}

/// Parses one of the files: a decimal number of bits, surrounded by white space at most.
pub fn parse_bits(text: &str) -> Result<u64, String> {
    let t = text.trim();
    t.parse::<u64>()
        .map_err(|_| format!("expected an unsigned integer, found {t:?}"))
}

impl Collector for EntropyCollector {
    fn collect(&self, out: &mut MetricSet) -> Result<(), CollectError> {
        for (file, name, help) in [
            (
                "entropy_avail",
                "node_entropy_available_bits",
                "Bits of entropy the kernel estimates are available.",
            ),
            (
                "poolsize",
                "node_entropy_pool_size_bits",
                "Size of the kernel's entropy pool in bits.",
            ),
        ] {
            let path = self.roots.proc("sys/kernel/random").join(file);
            let text = read_trimmed(&path)?;
            let bits = parse_bits(&text).map_err(|e| CollectError::parse(&path, e))?;
            out.gauge(name, help).sample(&[], bits as f64);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::fixture_roots;
    use proptest::prelude::*;

    #[test]
    fn parses() {
        assert_eq!(parse_bits("256\n"), Ok(256));
        assert!(parse_bits("").is_err());
        assert!(parse_bits("-1").is_err());
        assert!(parse_bits("4096 bits").is_err());
    }

    #[test]
    fn fixtures() {
        for (machine, avail, pool) in [("laptop", 256.0, 256.0), ("server", 3724.0, 4096.0)] {
            let mut out = MetricSet::new();
            EntropyCollector {
                roots: fixture_roots(machine),
            }
            .collect(&mut out)
            .unwrap();
            assert_eq!(
                out.get("node_entropy_available_bits").unwrap().samples[0].value,
                avail
            );
            assert_eq!(
                out.get("node_entropy_pool_size_bits").unwrap().samples[0].value,
                pool
            );
        }
        // broken: entropy_avail is fine, poolsize is not.
        let mut out = MetricSet::new();
        let err = EntropyCollector {
            roots: fixture_roots("broken"),
        }
        .collect(&mut out)
        .unwrap_err();
        assert!(err.to_string().contains("poolsize"), "{err}");
        assert!(out.get("node_entropy_available_bits").is_some());
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,40}") {
            let _ = parse_bits(&text);
        }

        #[test]
        fn well_formed_parses_back(bits in any::<u64>()) {
            prop_assert_eq!(parse_bits(&format!("{bits}\n")), Ok(bits));
        }
    }
}
