//! /proc/pressure/{cpu,memory,io,irq}.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sysmon_exporter::collector::pressure;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(totals) = pressure::parse(&text) {
        if totals.some.is_some() {
            assert!(text.contains("some"));
        }
        if totals.full.is_some() {
            assert!(text.contains("full"));
        }
    }
});
