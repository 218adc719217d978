//! /proc/net/sockstat and /proc/net/sockstat6.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sysmon_exporter::collector::sockstat;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let parsed = sockstat::parse(&text);
    let mut names = std::collections::HashSet::new();
    for p in &parsed.protocols {
        assert!(
            !p.name.is_empty() && p.name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
            "{:?}",
            p.name
        );
        assert!(names.insert(p.name), "{} twice", p.name);
    }
});
