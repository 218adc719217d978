//! /proc/stat: the per-CPU lines (cpu collector) and the system-wide counters (stat collector).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sysmon_exporter::collector::{cpu, stat};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(cpus) = cpu::parse_cpu_lines(&text) {
        // Folding a sample into fresh counters publishes exactly that sample's CPUs and values,
        // and folding it again changes nothing (counters never go backwards).
        let mut counters = cpu::CpuCounters::default();
        assert_eq!(counters.update(&cpus), &cpus);
        assert_eq!(counters.update(&cpus), &cpus);
    }
    let _ = stat::parse(&text);
});
