//! /proc/loadavg.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sysmon_exporter::collector::loadavg;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Some(loads) = loadavg::parse(&text) {
        assert!(
            loads.iter().all(|l| l.is_finite() && *l >= 0.0),
            "{loads:?}"
        );
    }
});
