//! The exporter's own metrics: `sysmon_exporter_build_info` and the standard `process_*` metrics
//! that every Prometheus client library exports for its process.
//!
//! These describe this process, so they read the live `/proc/self`, never `--path.procfs`
//! (which may be a fixture tree or the host's /proc seen from a container).

use crate::metrics::MetricSet;

/// Version, git revision and compiler, fixed at build time by `build.rs`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub const REVISION: &str = env!("SYSMON_GIT_REVISION");
pub const RUSTC: &str = env!("SYSMON_RUSTC_VERSION");

/// Adds the exporter's build info and, with `process`, its process metrics to `set`. Read when a
/// scrape asks, not every sample. (`--web.disable-exporter-metrics` drops the process metrics and
/// keeps the build info, as node_exporter keeps its own.)
pub fn collect(set: &mut MetricSet, process: bool) {
    set.gauge(
        "sysmon_exporter_build_info",
        "A metric with a constant '1' value labeled by version, revision and rustc from which sysmon-exporter was built.",
    )
    .sample(&[("version", VERSION), ("revision", REVISION), ("rustc", RUSTC)], 1.0);
    // A process whose /proc/self cannot be read still exports build info; the process metrics
    // are simply absent, as client libraries do on platforms without procfs.
    if process {
        let _ = process_metrics(set);
    }
}

fn process_metrics(set: &mut MetricSet) -> Result<(), procfs::ProcError> {
    let me = procfs::process::Process::myself()?;
    let stat = me.stat()?;
    let ticks = procfs::ticks_per_second() as f64;
    set.counter(
        "process_cpu_seconds_total",
        "Total user and system CPU time spent in seconds.",
    )
    .sample(&[], (stat.utime + stat.stime) as f64 / ticks);
    let page_size = procfs::page_size() as f64;
    set.gauge(
        "process_resident_memory_bytes",
        "Resident memory size in bytes.",
    )
    .sample(&[], stat.rss as f64 * page_size);
    set.gauge(
        "process_virtual_memory_bytes",
        "Virtual memory size in bytes.",
    )
    .sample(&[], stat.vsize as f64);
    if let Ok(boot) = procfs::boot_time_secs() {
        set.gauge(
            "process_start_time_seconds",
            "Start time of the process since unix epoch in seconds.",
        )
        .sample(&[], boot as f64 + stat.starttime as f64 / ticks);
    }
    if let Ok(fds) = me.fd_count() {
        set.gauge("process_open_fds", "Number of open file descriptors.")
            .sample(&[], fds as f64);
    }
    if let Ok(limits) = me.limits() {
        if let procfs::process::LimitValue::Value(v) = limits.max_open_files.soft_limit {
            set.gauge(
                "process_max_fds",
                "Maximum number of open file descriptors.",
            )
            .sample(&[], v as f64);
        }
        let max_vm = match limits.max_address_space.soft_limit {
            procfs::process::LimitValue::Value(v) => v as f64,
            // client_golang reports an unlimited address space as the largest uint64.
            procfs::process::LimitValue::Unlimited => u64::MAX as f64,
        };
        set.gauge(
            "process_virtual_memory_max_bytes",
            "Maximum amount of virtual memory available in bytes.",
        )
        .sample(&[], max_vm);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn build_info_and_process_metrics_are_present() {
        let mut set = crate::metrics::MetricSet::new();
        super::collect(&mut set, true);
        let info = set.get("sysmon_exporter_build_info").unwrap();
        assert_eq!(
            info.samples[0].labels[0],
            ("version".into(), super::VERSION.to_string())
        );
        assert!(super::RUSTC.starts_with("rustc "), "{}", super::RUSTC);
        let rss = set.get("process_resident_memory_bytes").unwrap().samples[0].value;
        assert!(
            rss > 1e5,
            "resident memory of a test binary is more than 100 kB: {rss}"
        );
        assert!(set.get("process_open_fds").unwrap().samples[0].value >= 3.0);
    }

    #[test]
    fn without_runtime_metrics_only_build_info_is_left() {
        let mut set = crate::metrics::MetricSet::new();
        super::collect(&mut set, false);
        let names: Vec<&str> = set.families.iter().map(|f| f.name.as_ref()).collect();
        assert_eq!(names, vec!["sysmon_exporter_build_info"]);
    }
}
