//! `rapl`: energy counters of Intel's (and AMD's) Running Average Power Limit zones from
//! `<sysfs>/class/powercap/<zone>/` (Documentation/power/powercap/powercap.rst,
//! Documentation/ABI/testing/sysfs-class-powercap), as node_exporter's `rapl_linux.go` exports
//! them: per zone with a `name`, `energy_uj` / 10⁶ as the counter
//! `node_rapl_<name>_joules_total{index,path}`, or with `--collector.rapl.enable-zone-label` as
//! `node_rapl_joules_total{index,path,rapl_zone}`.
//!
//! The zone name loses a `-<N>` suffix, which becomes the `index` (`package-1` is `package`, index
//! 1); a name without one is indexed by how often it was seen before (two `dram` zones: 0 and 1).
//! Zones are taken in the order of their directory names; `path` is the zone's directory as
//! reached through the class (`<sysfs>/class/powercap/intel-rapl:0`). Characters not allowed in a
//! metric name become `_`. A directory without a readable `name` (the `intel-rapl` control type
//! itself) is not a zone. A zone without a readable `max_energy_range_uj` fails the collector
//! (node_exporter then publishes nothing; sysmon skips the zone). `energy_uj` is readable by root
//! only since Linux 5.10: when it cannot be read for lack of permission the collector stops
//! without an error, as node_exporter does. No `<sysfs>/class/powercap` is no data.

use std::collections::HashMap;
use std::io::ErrorKind;

use super::{
    read_u64, sorted_dir_entries, BuildContext, CollectError, Collector, Registration, Roots,
};
use crate::metrics::MetricSet;

pub const REGISTRATION: Registration = Registration {
    name: "rapl",
    default_enabled: true,
    help: "RAPL energy counters from /sys/class/powercap",
    flags: <Args as clap::Args>::augment_args,
    cadence: super::Cadence::Slow,
    isolation: super::Isolation::Inline,
    build,
};

/// Flags of the `rapl` collector.
#[derive(Debug, Clone, clap::Args)]
#[group(id = "rapl_flags")]
#[command(next_help_heading = "Collector rapl")]
pub struct Args {
    /// Export one node_rapl_joules_total with a rapl_zone label instead of one
    /// node_rapl_<zone>_joules_total per zone name.
    #[arg(
        id = "rapl_enable_zone_label",
        long = "collector.rapl.enable-zone-label"
    )]
    pub enable_zone_label: bool,
}

fn build(ctx: &BuildContext) -> Result<Box<dyn Collector>, String> {
    let args: Args = ctx.args()?;
    Ok(Box::new(RaplCollector {
        roots: ctx.roots.clone(),
        zone_label: args.enable_zone_label,
    }))
}

pub struct RaplCollector {
    roots: Roots,
    zone_label: bool,
}

/// The (index, name) of a zone named `name`, given how often each name was seen before (updated).
pub fn index_and_name(seen: &mut HashMap<String, i64>, name: &str) -> (i64, String) {
    let mut parts = name.split('-');
    let (index, base) = match (parts.next(), parts.next(), parts.next()) {
        (Some(base), Some(n), None) => match n.parse::<i64>() {
            Ok(index) => (index, base.to_string()),
            Err(_) => (seen.get(name).copied().unwrap_or(0), name.to_string()),
        },
        _ => (seen.get(name).copied().unwrap_or(0), name.to_string()),
    };
    seen.insert(base.clone(), index.wrapping_add(1));
    (index, base)
}

/// A metric name part with every run of characters outside `[A-Za-z0-9_]`, with the underscores
/// around it, replaced by one `_` (node_exporter's `SanitizeMetricName`).
pub fn sanitize_metric_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    // Underscores before this length were written by a replacement and are not taken again.
    let mut kept = 0;
    let mut chars = name.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_alphanumeric() || c == '_' {
            out.push(c);
            continue;
        }
        while out.len() > kept && out.ends_with('_') {
            out.pop();
        }
        while chars
            .peek()
            .is_some_and(|c| !(c.is_ascii_alphanumeric() || *c == '_'))
        {
            chars.next();
        }
        while chars.peek() == Some(&'_') {
            chars.next();
        }
        out.push('_');
        kept = out.len();
    }
    out
}

impl Collector for RaplCollector {
    fn collect(&self, out: &mut MetricSet) -> Result<(), CollectError> {
        let class = self.roots.sys("class/powercap");
        let entries = match sorted_dir_entries(&class) {
            Ok(entries) => entries,
            Err(CollectError::Io { source, .. })
                if matches!(
                    source.kind(),
                    ErrorKind::NotFound | ErrorKind::PermissionDenied
                ) =>
            {
                return Ok(())
            }
            Err(e) => return Err(e),
        };
        let mut seen = HashMap::new();
        let mut first_error = None;
        for entry in entries {
            let zone = entry.path();
            let Ok(raw) = crate::collector::read_bytes(zone.join("name")) else {
                continue;
            };
            let (index, name) = index_and_name(&mut seen, String::from_utf8_lossy(&raw).trim());
            if let Err(e) = read_u64(zone.join("max_energy_range_uj")) {
                first_error.get_or_insert(e);
                continue;
            }
            let energy = match read_u64(zone.join("energy_uj")) {
                Ok(v) => v,
                Err(CollectError::Io { source, .. })
                    if source.kind() == ErrorKind::PermissionDenied =>
                {
                    break;
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                    continue;
                }
            };
            let index = index.to_string();
            let path = zone.to_string_lossy();
            let joules = energy as f64 / 1e6;
            if self.zone_label {
                out.counter("node_rapl_joules_total", "Current RAPL value in joules")
                    .sample(
                        &[("index", &index), ("path", &path), ("rapl_zone", &name)],
                        joules,
                    );
            } else {
                out.counter(
                    &format!("node_rapl_{}_joules_total", sanitize_metric_name(&name)),
                    &format!("Current RAPL {name} value in joules"),
                )
                .sample(&[("index", &index), ("path", &path)], joules);
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

    fn collect(machine: &str, zone_label: bool) -> (MetricSet, Result<(), CollectError>) {
        let mut out = MetricSet::new();
        let r = RaplCollector {
            roots: fixture_roots(machine),
            zone_label,
        }
        .collect(&mut out);
        (out, r)
    }

    fn samples(out: &MetricSet, name: &str) -> Vec<(String, f64)> {
        out.get(name)
            .map(|f| {
                f.samples
                    .iter()
                    .map(|s| {
                        let index = s.labels.iter().find(|(k, _)| k == "index").unwrap();
                        (index.1.clone(), s.value)
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn laptop_zones() {
        let (out, r) = collect("laptop", false);
        r.unwrap();
        assert_eq!(
            samples(&out, "node_rapl_package_joules_total"),
            vec![("0".into(), 48211.987345)]
        );
        assert_eq!(samples(&out, "node_rapl_core_joules_total").len(), 1);
        assert_eq!(samples(&out, "node_rapl_uncore_joules_total").len(), 1);
        assert_eq!(samples(&out, "node_rapl_psys_joules_total").len(), 1);
        let path = &out.get("node_rapl_core_joules_total").unwrap().samples[0].labels[1].1;
        assert!(
            path.ends_with("laptop/sys/class/powercap/intel-rapl:0:0"),
            "{path}"
        );
    }

    #[test]
    fn server_two_packages_with_zone_label() {
        let (out, r) = collect("server", true);
        r.unwrap();
        let family = out.get("node_rapl_joules_total").unwrap();
        let got: Vec<(String, String)> = family
            .samples
            .iter()
            .map(|s| (s.labels[2].1.clone(), s.labels[0].1.clone()))
            .collect();
        assert_eq!(
            got,
            [
                ("package", "0"),
                ("dram", "0"),
                ("package", "1"),
                ("dram", "1")
            ]
            .map(|(z, i)| (z.to_string(), i.to_string()))
        );
    }

    #[test]
    fn vm_has_none_and_broken_fails_alone() {
        let (out, r) = collect("vm", false);
        r.unwrap();
        assert_eq!(out.sample_count(), 0);
        let (out, r) = collect("broken", false);
        let err = r.unwrap_err().to_string();
        assert!(err.contains("intel-rapl:0:0/energy_uj"), "{err}");
        assert_eq!(samples(&out, "node_rapl_package_joules_total").len(), 1);
    }

    #[test]
    fn names_and_indexes() {
        let mut seen = HashMap::new();
        assert_eq!(
            index_and_name(&mut seen, "package-0"),
            (0, "package".into())
        );
        assert_eq!(index_and_name(&mut seen, "dram"), (0, "dram".into()));
        assert_eq!(index_and_name(&mut seen, "dram"), (1, "dram".into()));
        assert_eq!(index_and_name(&mut seen, "package"), (1, "package".into()));
        assert_eq!(index_and_name(&mut seen, "a-b-c"), (0, "a-b-c".into()));
        assert_eq!(sanitize_metric_name("package"), "package");
        assert_eq!(sanitize_metric_name("a-b"), "a_b");
        assert_eq!(sanitize_metric_name("a_-_b"), "a_b");
        assert_eq!(sanitize_metric_name("a-_-b"), "a__b");
        assert_eq!(sanitize_metric_name("x.y z"), "x_y_z");
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_names_never_panic(name in "\\PC{0,30}") {
            let mut seen = HashMap::new();
            let (_, base) = index_and_name(&mut seen, &name);
            let clean = sanitize_metric_name(&base);
            prop_assert!(clean.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
        }

        #[test]
        fn generated_names_parse_back(base in "[a-z]{1,10}", n in 0i64..64) {
            let mut seen = HashMap::new();
            prop_assert_eq!(index_and_name(&mut seen, &format!("{base}-{n}")), (n, base.clone()));
            prop_assert_eq!(index_and_name(&mut seen, &base), (n + 1, base.clone()));
            prop_assert_eq!(sanitize_metric_name(&base), base);
        }
    }
}
