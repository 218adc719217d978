//! /proc/schedstat.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sysmon_exporter::collector::schedstat;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (cpus, _bad) = schedstat::parse(&text);
    for c in cpus {
        assert!(!c.cpu.is_empty() && c.cpu.bytes().all(|b| b.is_ascii_digit()));
        assert!(text.contains(&format!("cpu{}", c.cpu)));
    }
});
