//! /proc/meminfo.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sysmon_exporter::collector::meminfo;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(fields) = meminfo::parse(&text) {
        for f in &fields {
            // Values come from u64s (times 1024 for kB): finite and non-negative.
            assert!(f.value.is_finite() && f.value >= 0.0, "{f:?}");
            // The metric name part is always usable in a metric name.
            assert!(
                f.metric
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_'),
                "{f:?}"
            );
        }
        // A metric appears at most once (a repeated field keeps its last value).
        let mut names: Vec<&str> = fields.iter().map(|f| f.metric.as_str()).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len());
    }
});
