//! /sys/class/powercap/*/name: zone names, their index and metric name.
#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use sysmon_exporter::collector::rapl;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut seen = HashMap::new();
    for name in text.lines() {
        let (_, base) = rapl::index_and_name(&mut seen, name.trim());
        let metric = rapl::sanitize_metric_name(&base);
        assert!(
            metric.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
            "{metric:?}"
        );
    }
});
