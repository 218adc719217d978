//! /proc/net/dev.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sysmon_exporter::collector::netdev;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let parsed = netdev::parse(&text);
    for name in parsed.devices.keys() {
        // The interface name is trimmed, non-empty and ends before the first colon.
        assert!(
            !name.is_empty() && name.trim() == name && !name.contains(':'),
            "{name:?}"
        );
    }
    // Every line after the two header lines is either a device or a bad line.
    let lines = text
        .lines()
        .skip(2)
        .filter(|l| !l.trim().is_empty())
        .count();
    assert!(parsed.devices.len() + parsed.bad_lines.len() <= lines);
});
