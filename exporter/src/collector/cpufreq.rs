//! `cpufreq`: per-CPU frequency scaling state from `<sysfs>/devices/system/cpu/cpu*/cpufreq/`
//! (Documentation/admin-guide/pm/cpufreq.rst): the hardware frequency and its limits
//! (`cpuinfo_*_freq`), the frequency the scaling driver reports and the policy limits
//! (`scaling_*_freq`), and the governor in use among the available ones.
//!
//! As node_exporter does:
//! * the kernel's kHz are exported in Hz;
//! * CPUs listed in `devices/system/cpu/offline` are skipped (reading an offline CPU's inactive
//!   policy fails with EBUSY), as are CPUs without a `cpufreq` directory (a VM, a CPU without a
//!   driver): a machine without any is "no data", not an error;
//! * a frequency attribute that is missing or not readable (`cpuinfo_cur_freq` is root-only, and
//!   intel_pstate has none) leaves its metric out; one that does not hold a number fails the
//!   collector;
//! * `node_cpu_scaling_governor{cpu,governor}` is 1 for the governor in use and 0 for every
//!   other one in `scaling_available_governors`.
//!
//! Differences, both only on trees a kernel does not produce: a missing `offline` file means no
//! CPU is offline (node_exporter's library fails), and the attributes sysmon does not export
//! (`scaling_driver`, `related_cpus`, `scaling_setspeed`) are not read, so their absence is no error.

use std::io::ErrorKind;

use super::cpu::{cpu_dirs, parse_cpu_list};
use super::{read_string, AttrDir, BuildContext, CollectError, Collector, Registration, Roots};
use crate::metrics::MetricSet;

pub const REGISTRATION: Registration = Registration {
    name: "cpufreq",
    default_enabled: true,
    help: "CPU frequency scaling from /sys/devices/system/cpu/cpu*/cpufreq",
    flags: super::no_flags,
    cadence: super::Cadence::Slow,
    isolation: super::Isolation::Thread,
    build,
};

fn build(ctx: &BuildContext) -> Result<Box<dyn Collector>, String> {
    Ok(Box::new(CpufreqCollector {
        roots: ctx.roots.clone(),
    }))
}

pub struct CpufreqCollector {
    roots: Roots,
}

/// The frequency attributes, in kHz, each with the metric it becomes (in that order in the output).
pub const FREQUENCIES: [(&str, &str, &str); 6] = [
    (
        "cpuinfo_cur_freq",
        "node_cpu_frequency_hertz",
        "Current CPU thread frequency in hertz.",
    ),
    (
        "cpuinfo_min_freq",
        "node_cpu_frequency_min_hertz",
        "Minimum CPU thread frequency in hertz.",
    ),
    (
        "cpuinfo_max_freq",
        "node_cpu_frequency_max_hertz",
        "Maximum CPU thread frequency in hertz.",
    ),
    (
        "scaling_cur_freq",
        "node_cpu_scaling_frequency_hertz",
        "Current scaled CPU thread frequency in hertz.",
    ),
    (
        "scaling_min_freq",
        "node_cpu_scaling_frequency_min_hertz",
        "Minimum scaled CPU thread frequency in hertz.",
    ),
    (
        "scaling_max_freq",
        "node_cpu_scaling_frequency_max_hertz",
        "Maximum scaled CPU thread frequency in hertz.",
    ),
];

/// One CPU's cpufreq state.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct CpuFreq {
    /// The CPU number, as in `cpuN`.
    pub cpu: String,
    /// [`FREQUENCIES`] in kHz; `None` where the attribute is absent or unreadable.
    pub khz: [Option<u64>; 6],
    /// `scaling_governor`.
    pub governor: String,
    /// `scaling_available_governors`, as printed (space-separated).
    pub available_governors: String,
}

/// Parses a frequency attribute: one decimal number of kHz (surrounding blanks allowed).
pub fn parse_khz(text: &str) -> Result<u64, String> {
    let t = text.trim();
    // `u64::from_str` would take a leading '+'; the kernel never prints one.
    if t.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(v) = t.parse() {
            return Ok(v);
        }
    }
    Err(format!("expected a frequency in kHz, found {t:?}"))
}

/// The `node_cpu_scaling_governor` samples of one CPU: every available governor, with whether it
/// is the one in use. Nothing when no governor is set.
pub fn governors<'a>(
    governor: &'a str,
    available: &'a str,
) -> impl Iterator<Item = (&'a str, bool)> + 'a {
    let governor = governor.trim();
    available
        .split_whitespace()
        .filter(move |_| !governor.is_empty())
        .map(move |g| (g, g == governor))
}

/// Reads one CPU's `cpufreq` directory.
pub fn read_cpufreq(cpu: &str, dir: &AttrDir) -> Result<CpuFreq, CollectError> {
    let mut freq = CpuFreq {
        cpu: cpu.to_string(),
        ..CpuFreq::default()
    };
    for (slot, (attr, _, _)) in freq.khz.iter_mut().zip(FREQUENCIES) {
        let path = || dir.path().join(attr);
        match dir.read(attr) {
            Ok(bytes) => {
                let text = String::from_utf8_lossy(&bytes);
                *slot = Some(parse_khz(&text).map_err(|m| CollectError::parse(path(), m))?);
            }
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::PermissionDenied) => {}
            Err(e) => return Err(CollectError::io(path(), e)),
        }
    }
    // Every cpufreq policy has these two; a missing one is a damaged tree.
    let text = |attr: &str| -> Result<String, CollectError> {
        dir.read(attr)
            .map(|b| String::from_utf8_lossy(&b).trim().to_string())
            .map_err(|e| CollectError::io(dir.path().join(attr), e))
    };
    freq.governor = text("scaling_governor")?;
    freq.available_governors = text("scaling_available_governors")?;
    Ok(freq)
}

impl CpufreqCollector {
    fn read_all(&self) -> Result<Vec<CpuFreq>, CollectError> {
        let offline_path = self.roots.sys("devices/system/cpu/offline");
        let offline = match read_string(&offline_path) {
            Ok(text) => parse_cpu_list(&text)
                .map_err(|message| CollectError::parse(&offline_path, message))?,
            Err(CollectError::Io { source, .. }) if source.kind() == ErrorKind::NotFound => {
                Vec::new()
            }
            Err(e) => return Err(e),
        };
        let mut cpus = Vec::new();
        for (number, path) in cpu_dirs(&self.roots)? {
            if number
                .parse::<u32>()
                .is_ok_and(|n| offline.binary_search(&n).is_ok())
            {
                continue;
            }
            let dir = path.join("cpufreq");
            match std::fs::metadata(&dir) {
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::NotFound => continue,
                Err(e) => return Err(CollectError::io(dir, e)),
            }
            cpus.push(read_cpufreq(&number, &AttrDir::open(&dir))?);
        }
        // Numeric order, as node_exporter's output (cpu_dirs sorts by name: cpu10 before cpu2).
        cpus.sort_by_key(|c| c.cpu.parse::<u32>().unwrap_or(u32::MAX));
        Ok(cpus)
    }
}

impl Collector for CpufreqCollector {
    fn collect(&self, out: &mut MetricSet) -> Result<(), CollectError> {
        let cpus = self.read_all()?;
        for (i, (_, name, help)) in FREQUENCIES.iter().enumerate() {
            let family = out.gauge(name, help);
            for c in &cpus {
                if let Some(khz) = c.khz[i] {
                    family.sample(&[("cpu", &c.cpu)], khz as f64 * 1000.0);
                }
            }
        }
        let family = out.gauge(
            "node_cpu_scaling_governor",
            "Current enabled CPU frequency governor.",
        );
        for c in &cpus {
            for (governor, active) in governors(&c.governor, &c.available_governors) {
                family.sample(
                    &[("cpu", &c.cpu), ("governor", governor)],
                    if active { 1.0 } else { 0.0 },
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::fixture_roots;
    use proptest::prelude::*;

    fn write(dir: &std::path::Path, rel: &str, text: &str) {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn collector_at(dir: &std::path::Path) -> CpufreqCollector {
        CpufreqCollector {
            roots: Roots {
                procfs: dir.join("proc"),
                sysfs: dir.join("sys"),
                rootfs: dir.join("rootfs"),
            },
        }
    }

    fn samples(out: &MetricSet, name: &str) -> Vec<(Vec<String>, f64)> {
        out.get(name)
            .map(|f| {
                f.samples
                    .iter()
                    .map(|s| (s.labels.iter().map(|(_, v)| v.clone()).collect(), s.value))
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn parses_khz() {
        assert_eq!(parse_khz("2800000\n"), Ok(2_800_000));
        assert_eq!(parse_khz(" 400000 "), Ok(400_000));
        assert!(parse_khz("<unknown>\n").is_err());
        assert!(parse_khz("+5").is_err());
        assert!(parse_khz("").is_err());
        assert!(parse_khz("99999999999999999999").is_err());
    }

    #[test]
    fn governor_samples() {
        let g: Vec<_> = governors("powersave", "performance powersave \n").collect();
        assert_eq!(g, vec![("performance", false), ("powersave", true)]);
        assert_eq!(governors("", "performance powersave").count(), 0);
        assert_eq!(governors("schedutil", "").count(), 0);
    }

    #[test]
    fn laptop_has_intel_pstate_without_a_current_hardware_frequency() {
        let c = CpufreqCollector {
            roots: fixture_roots("laptop"),
        };
        let mut out = MetricSet::new();
        c.collect(&mut out).unwrap();
        // intel_pstate has no cpuinfo_cur_freq.
        assert!(samples(&out, "node_cpu_frequency_hertz").is_empty());
        let max = samples(&out, "node_cpu_frequency_max_hertz");
        assert_eq!(max.len(), 8);
        assert_eq!(max[0], (vec!["0".to_string()], 4.7e9));
        let gov = samples(&out, "node_cpu_scaling_governor");
        assert_eq!(gov.len(), 16);
        assert_eq!(
            gov[0..2],
            [
                (vec!["0".into(), "performance".into()], 0.0),
                (vec!["0".into(), "powersave".into()], 1.0)
            ]
        );
    }

    #[test]
    fn server_skips_the_offline_cpu_and_vm_has_no_data() {
        let c = CpufreqCollector {
            roots: fixture_roots("server"),
        };
        let mut out = MetricSet::new();
        c.collect(&mut out).unwrap();
        let cur = samples(&out, "node_cpu_frequency_hertz");
        assert_eq!(cur.len(), 63);
        assert!(cur.iter().all(|(l, _)| l[0] != "37"));
        // Numeric order.
        assert_eq!(cur[2].0, vec!["2".to_string()]);

        let c = CpufreqCollector {
            roots: fixture_roots("vm"),
        };
        let mut out = MetricSet::new();
        c.collect(&mut out).unwrap();
        assert_eq!(out.sample_count(), 0);
    }

    #[test]
    fn broken_fails() {
        let c = CpufreqCollector {
            roots: fixture_roots("broken"),
        };
        let err = c.collect(&mut MetricSet::new()).unwrap_err().to_string();
        assert!(err.contains("cpufreq"), "{err}");
    }

    #[test]
    fn offline_cpus_unreadable_and_missing_attributes() {
        let tmp = tempfile::tempdir().unwrap();
        let d = "sys/devices/system/cpu";
        for cpu in 0..3 {
            for (attr, v) in [
                ("scaling_cur_freq", "1200000"),
                ("cpuinfo_max_freq", "3000000"),
                ("scaling_governor", "schedutil"),
                ("scaling_available_governors", "performance schedutil"),
            ] {
                write(tmp.path(), &format!("{d}/cpu{cpu}/cpufreq/{attr}"), v);
            }
        }
        // cpu2 is offline (its policy would answer EBUSY): skipped.
        write(tmp.path(), &format!("{d}/offline"), "2\n");
        write(
            tmp.path(),
            &format!("{d}/cpu2/cpufreq/scaling_cur_freq"),
            "x",
        );
        let c = collector_at(tmp.path());
        let mut out = MetricSet::new();
        c.collect(&mut out).unwrap();
        assert_eq!(
            samples(&out, "node_cpu_scaling_frequency_hertz"),
            vec![(vec!["0".into()], 1.2e9), (vec!["1".into()], 1.2e9)]
        );
        assert!(samples(&out, "node_cpu_scaling_frequency_min_hertz").is_empty());

        // Without an `offline` file every CPU is read, so cpu2's garbage fails the collector.
        std::fs::remove_file(tmp.path().join(format!("{d}/offline"))).unwrap();
        let err = c.collect(&mut MetricSet::new()).unwrap_err().to_string();
        assert!(err.contains("cpu2/cpufreq/scaling_cur_freq"), "{err}");

        // A damaged offline list fails too.
        write(tmp.path(), &format!("{d}/offline"), "two\n");
        assert!(c.collect(&mut MetricSet::new()).is_err());
        write(tmp.path(), &format!("{d}/offline"), "\n");
        write(
            tmp.path(),
            &format!("{d}/cpu2/cpufreq/scaling_cur_freq"),
            "800000\n",
        );

        // A missing governor file is a damaged policy.
        std::fs::remove_file(
            tmp.path()
                .join(format!("{d}/cpu1/cpufreq/scaling_governor")),
        )
        .unwrap();
        let err = c.collect(&mut MetricSet::new()).unwrap_err().to_string();
        assert!(err.contains("scaling_governor"), "{err}");
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn parse_khz_never_panics(text in "\\PC{0,40}") {
            let _ = parse_khz(&text);
        }

        #[test]
        fn parse_khz_round_trips(v in any::<u64>(), pad in "[ \t\n]{0,3}") {
            prop_assert_eq!(parse_khz(&format!("{pad}{v}{pad}")), Ok(v));
        }

        #[test]
        fn governors_mark_exactly_the_current_one(
            names in proptest::collection::btree_set("[a-z]{1,12}", 1..6),
            pick in any::<proptest::sample::Index>(),
        ) {
            let names: Vec<String> = names.into_iter().collect();
            let current = pick.get(&names).clone();
            let available = format!("{} \n", names.join(" "));
            let g: Vec<_> = governors(&current, &available).collect();
            prop_assert_eq!(g.len(), names.len());
            prop_assert_eq!(g.iter().filter(|(_, active)| *active).count(), 1);
            prop_assert!(g.iter().any(|(name, active)| *active && *name == current));
        }
    }
}
