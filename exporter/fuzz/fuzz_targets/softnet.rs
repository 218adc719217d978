//! /proc/net/softnet_stat.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sysmon_exporter::collector::softnet;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let parsed = softnet::parse(&text);
    let mut cpus = std::collections::HashSet::new();
    for row in &parsed.rows {
        assert!(row.width >= 9, "{row:?}");
        assert!(cpus.insert(row.cpu), "CPU {} twice", row.cpu);
    }
    if let Some(v) = softnet::parse_hex_u32(&text) {
        assert_eq!(u32::from_str_radix(&format!("{v:x}"), 16), Ok(v));
    }
});
