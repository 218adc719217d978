//! /proc/cpuinfo (`--collector.cpu.info`), and the Go-style integers in it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sysmon_exporter::collector::cpu;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(info) = cpu::parse_cpuinfo(&text) {
        // A parsed file always has the processor its first line names.
        assert!(!info.cpus.is_empty());
        // Flags and bugs are single words.
        assert!(info
            .flags
            .iter()
            .chain(&info.bugs)
            .all(|w| !w.is_empty() && !w.contains(char::is_whitespace)));
    }
    // Every line's value goes through the integer parser too.
    for line in text.lines() {
        if let Some((_, value)) = line.split_once(": ") {
            if let Some(n) = cpu::parse_uint_any_base(value) {
                // A plain decimal prints back to itself.
                if value.len() > 1 && !value.starts_with('0') {
                    assert_eq!(n.to_string(), value);
                }
            }
        }
    }
});
