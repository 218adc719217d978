//! `edac`: memory error counts from the EDAC subsystem, `<sysfs>/devices/system/edac/mc/mc<N>/`
//! (Documentation/admin-guide/ras.rst), as node_exporter 1.12's `edac_linux.go` exports them:
//!
//! * `node_edac_correctable_errors_total{controller}` and `_uncorrectable_` from the controller's
//!   `ce_count` and `ue_count`;
//! * `node_edac_csrow_correctable_errors_total{controller,csrow}` and `_uncorrectable_` from each
//!   legacy `csrow<M>/ce_count` and `ue_count`, plus `csrow="unknown"` from the controller's
//!   `ce_noinfo_count` and `ue_noinfo_count` (errors the driver could not place);
//! * `node_edac_channel_correctable_errors_total{controller,csrow,channel,dimm_label}` (1.12) from
//!   each `csrow<M>/ch<K>_ce_count`, and `_uncorrectable_` from `ch<K>_ue_count` where a kernel
//!   has it (mainline has not: 1.12.1 made it optional). `dimm_label` is `ch<K>_dimm_label`
//!   trimmed, without `#`, with `_` put before `csrow` and `channel` (the kernel's default label
//!   `mc#0csrow#1channel#0` becomes `mc0_csrow1_channel0`), or `unknown` without the file.
//!
//! Counts are decimal. A missing or malformed count stops that controller (what it had published
//! stays) and fails the collector; node_exporter stops at the first. No `edac/mc` (no EDAC driver)
//! is no data.

use std::io::ErrorKind;
use std::path::Path;

use super::{
    read_u64, sorted_dir_entries, BuildContext, CollectError, Collector, Registration, Roots,
};
use crate::metrics::MetricSet;

pub const REGISTRATION: Registration = Registration {
    name: "edac",
    default_enabled: true,
    help: "memory controller error counts from /sys/devices/system/edac",
    flags: super::no_flags,
    cadence: super::Cadence::Slow,
    isolation: super::Isolation::Inline,
    build,
};

fn build(ctx: &BuildContext) -> Result<Box<dyn Collector>, String> {
    Ok(Box::new(EdacCollector {
        roots: ctx.roots.clone(),
    }))
}

pub struct EdacCollector {
    roots: Roots,
}

const CE: &str = "node_edac_correctable_errors_total";
const CE_HELP: &str = "Total correctable memory errors.";
const UE: &str = "node_edac_uncorrectable_errors_total";
const UE_HELP: &str = "Total uncorrectable memory errors.";
const CSROW_CE: &str = "node_edac_csrow_correctable_errors_total";
const CSROW_CE_HELP: &str = "Total correctable memory errors for this csrow.";
const CSROW_UE: &str = "node_edac_csrow_uncorrectable_errors_total";
const CSROW_UE_HELP: &str = "Total uncorrectable memory errors for this csrow.";
const CHANNEL_CE: &str = "node_edac_channel_correctable_errors_total";
const CHANNEL_CE_HELP: &str = "Total correctable memory errors for this channel.";
const CHANNEL_UE: &str = "node_edac_channel_uncorrectable_errors_total";
const CHANNEL_UE_HELP: &str = "Total uncorrectable memory errors for this channel.";

/// The number of a `<prefix><digits>...` directory name as node_exporter matches it (glob
/// `<prefix>[0-9]*`, then the digits after the prefix), or `None` if the name does not start so.
pub fn numbered(name: &str, prefix: &str) -> Option<String> {
    let rest = name.strip_prefix(prefix)?;
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    (!digits.is_empty()).then_some(digits)
}

/// The channel number of a `ch<K>_ce_count` file name.
pub fn channel_of(file: &str) -> Option<&str> {
    let k = file.strip_prefix("ch")?.strip_suffix("_ce_count")?;
    (!k.is_empty() && k.bytes().all(|b| b.is_ascii_digit())).then_some(k)
}

/// A `ch<K>_dimm_label` value as the `dimm_label` label.
pub fn dimm_label(text: &str) -> String {
    text.trim()
        .replace('#', "")
        .replace("csrow", "_csrow")
        .replace("channel", "_channel")
}

/// The entries of `dir` whose names are `<prefix><digits>...`, with their numbers, sorted.
fn numbered_entries(
    dir: &Path,
    prefix: &str,
) -> Result<Vec<(String, std::path::PathBuf)>, CollectError> {
    Ok(sorted_dir_entries(dir)?
        .into_iter()
        .filter_map(|e| {
            let n = numbered(e.file_name().to_str()?, prefix)?;
            Some((n, e.path()))
        })
        .collect())
}

fn collect_controller(out: &mut MetricSet, mc: &str, path: &Path) -> Result<(), CollectError> {
    let ce = read_u64(path.join("ce_count"))?;
    out.counter(CE, CE_HELP)
        .sample(&[("controller", mc)], ce as f64);
    let ce_noinfo = read_u64(path.join("ce_noinfo_count"))?;
    out.counter(CSROW_CE, CSROW_CE_HELP).sample(
        &[("controller", mc), ("csrow", "unknown")],
        ce_noinfo as f64,
    );
    let ue = read_u64(path.join("ue_count"))?;
    out.counter(UE, UE_HELP)
        .sample(&[("controller", mc)], ue as f64);
    let ue_noinfo = read_u64(path.join("ue_noinfo_count"))?;
    out.counter(CSROW_UE, CSROW_UE_HELP).sample(
        &[("controller", mc), ("csrow", "unknown")],
        ue_noinfo as f64,
    );

    for (csrow, csrow_path) in numbered_entries(path, "csrow")? {
        let labels = [("controller", mc), ("csrow", csrow.as_str())];
        let ce = read_u64(csrow_path.join("ce_count"))?;
        out.counter(CSROW_CE, CSROW_CE_HELP)
            .sample(&labels, ce as f64);
        let ue = read_u64(csrow_path.join("ue_count"))?;
        out.counter(CSROW_UE, CSROW_UE_HELP)
            .sample(&labels, ue as f64);

        for entry in sorted_dir_entries(&csrow_path)? {
            let file = entry.file_name();
            let Some(channel) = file.to_str().and_then(channel_of) else {
                continue;
            };
            let label = match crate::collector::read_bytes(
                csrow_path.join(format!("ch{channel}_dimm_label")),
            ) {
                Ok(bytes) => dimm_label(&String::from_utf8_lossy(&bytes)),
                Err(_) => "unknown".to_string(),
            };
            let labels = [
                ("controller", mc),
                ("csrow", csrow.as_str()),
                ("channel", channel),
                ("dimm_label", label.as_str()),
            ];
            let ce = read_u64(entry.path())?;
            out.counter(CHANNEL_CE, CHANNEL_CE_HELP)
                .sample(&labels, ce as f64);
            // Optional: mainline kernels have no per-channel uncorrectable count.
            if let Ok(ue) = read_u64(csrow_path.join(format!("ch{channel}_ue_count"))) {
                out.counter(CHANNEL_UE, CHANNEL_UE_HELP)
                    .sample(&labels, ue as f64);
            }
        }
    }
    Ok(())
}

impl Collector for EdacCollector {
    fn collect(&self, out: &mut MetricSet) -> Result<(), CollectError> {
        let mc_dir = self.roots.sys("devices/system/edac/mc");
        let controllers = match numbered_entries(&mc_dir, "mc") {
            Ok(c) => c,
            Err(CollectError::Io { source, .. }) if source.kind() == ErrorKind::NotFound => {
                return Ok(())
            }
            Err(e) => return Err(e),
        };
        let mut first_error = None;
        for (mc, path) in controllers {
            if let Err(e) = collect_controller(out, &mc, &path) {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::fixture_roots;
    use proptest::prelude::*;

    fn collect(machine: &str) -> (MetricSet, Result<(), CollectError>) {
        let mut out = MetricSet::new();
        let r = EdacCollector {
            roots: fixture_roots(machine),
        }
        .collect(&mut out);
        (out, r)
    }

    fn value(out: &MetricSet, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        out.get(name)?
            .samples
            .iter()
            .find(|s| {
                labels
                    .iter()
                    .all(|(k, v)| s.labels.iter().any(|(sk, sv)| sk == k && sv == v))
            })
            .map(|s| s.value)
    }

    #[test]
    fn server_two_controllers() {
        let (out, r) = collect("server");
        r.unwrap();
        assert_eq!(value(&out, CE, &[("controller", "0")]), Some(17.0));
        assert_eq!(value(&out, CE, &[("controller", "1")]), Some(0.0));
        assert_eq!(
            value(&out, CSROW_CE, &[("controller", "0"), ("csrow", "unknown")]),
            Some(2.0)
        );
        assert_eq!(
            value(&out, CSROW_CE, &[("controller", "0"), ("csrow", "0")]),
            Some(12.0)
        );
        assert_eq!(
            value(
                &out,
                CHANNEL_CE,
                &[
                    ("controller", "0"),
                    ("csrow", "0"),
                    ("channel", "1"),
                    ("dimm_label", "CPU_SrcID0_MC0_Chan1_DIMM0")
                ]
            ),
            Some(12.0)
        );
        // 2 controllers × 2 csrows × 3 channels; no per-channel ue_count in the kernel.
        assert_eq!(out.get(CHANNEL_CE).unwrap().samples.len(), 12);
        assert!(out.get(CHANNEL_UE).is_none());
        assert_eq!(out.get(CSROW_UE).unwrap().samples.len(), 6);
    }

    #[test]
    fn laptop_and_vm_have_no_edac() {
        for machine in ["laptop", "vm"] {
            let (out, r) = collect(machine);
            r.unwrap();
            assert_eq!(out.sample_count(), 0, "{machine}");
        }
    }

    #[test]
    fn broken_controllers_fail_alone() {
        let (out, r) = collect("broken");
        let err = r.unwrap_err().to_string();
        assert!(err.contains("mc0/csrow0/ue_count"), "{err}");
        // mc0 published up to its bad csrow count; mc1's empty ce_count published nothing.
        assert_eq!(value(&out, CE, &[("controller", "0")]), Some(4.0));
        assert_eq!(value(&out, CE, &[("controller", "1")]), None);
    }

    #[test]
    fn labels_and_names() {
        assert_eq!(dimm_label("mc#0csrow#1channel#0\n"), "mc0_csrow1_channel0");
        assert_eq!(dimm_label(" DIMM_A1 "), "DIMM_A1");
        assert_eq!(numbered("mc12", "mc").as_deref(), Some("12"));
        assert_eq!(numbered("mc", "mc"), None);
        assert_eq!(numbered("power", "mc"), None);
        assert_eq!(channel_of("ch3_ce_count"), Some("3"));
        assert_eq!(channel_of("ch_ce_count"), None);
        assert_eq!(channel_of("ch3_ue_count"), None);
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_names_never_panic(name in "\\PC{0,20}", label in "\\PC{0,40}") {
            let _ = numbered(&name, "mc");
            let _ = channel_of(&name);
            let _ = dimm_label(&label);
        }

        #[test]
        fn generated_names_parse_back(n in 0u32..1000, k in 0u32..16) {
            let mc = format!("mc{n}");
            prop_assert_eq!(numbered(&mc, "mc"), Some(n.to_string()));
            let file = format!("ch{k}_ce_count");
            let k = k.to_string();
            prop_assert_eq!(channel_of(&file), Some(k.as_str()));
            let label = format!("mc#{n}csrow#{k}channel#0");
            prop_assert_eq!(dimm_label(&label), format!("mc{n}_csrow{k}_channel0"));
        }
    }
}
