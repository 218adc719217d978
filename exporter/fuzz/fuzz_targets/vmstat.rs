//! /proc/vmstat.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sysmon_exporter::collector::vmstat;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (fields, _bad) = vmstat::parse(&text);
    for (name, _) in fields {
        assert!(
            !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':'),
            "{name:?} cannot be part of a metric name"
        );
    }
});
