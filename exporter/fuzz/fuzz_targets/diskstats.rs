//! /proc/diskstats lines, udev database files (and the numbers in them) and the
//! `queue/rotational` attribute.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sysmon_exporter::collector::diskstats;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for line in text.lines() {
        if let Ok(stat) = diskstats::parse_line(line) {
            // 11 (before 4.18), 15 (discards) or 17 (flushes) statistics, never anything else.
            assert!(matches!(stat.stats.len(), 11 | 15 | 17), "{stat:?}");
            assert!(!stat.name.is_empty());
        }
    }
    for (key, value) in diskstats::parse_udev(&text) {
        // The ATA gauges' values: a number, never an overflow turned into infinity.
        if let Some(v) = diskstats::parse_float(&value) {
            assert!(v.is_finite() || value.to_ascii_lowercase().contains("inf"), "{key}={value}");
        }
    }
    let label = diskstats::rotational_label(Some(&text));
    assert!(label == "0" || label == "1");
});
