//! /sys/class/watchdog/*/ numeric attributes (Go's ParseInt with base 0).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sysmon_exporter::collector::watchdog;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Some(v) = watchdog::parse_int(&text) {
        assert_eq!(watchdog::parse_int(&v.to_string()), Some(v));
        if v >= 0 {
            assert_eq!(watchdog::parse_int(&format!("{v:#x}")), Some(v));
        }
    }
});
