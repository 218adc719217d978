//! /proc/stat: the per-CPU lines (cpu collector), the system-wide counters and the softirq line
//! (stat collector).
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
    if let Ok(Some(counts)) = stat::parse_softirq(&text) {
        // The counts are the ones on the line, in order.
        let line = text.lines().find(|l| l.split_whitespace().next() == Some("softirq")).unwrap();
        let printed: Vec<String> = counts.iter().map(u64::to_string).collect();
        let fields: Vec<&str> = line.split_whitespace().skip(2).take(10).collect();
        assert_eq!(fields.iter().map(|f| f.parse::<u64>().unwrap().to_string()).collect::<Vec<_>>(), printed);
    }
});
