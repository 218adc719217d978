//! /sys/class/net integer attributes, parsed like Go's strconv.ParseInt(s, 0, 64).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sysmon_exporter::collector::netclass;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Some(v) = netclass::parse_int(text.trim()) {
        // A parsed value round-trips through decimal and hexadecimal (as `flags` is printed).
        assert_eq!(netclass::parse_int(&v.to_string()), Some(v));
        let sign = if v < 0 { "-" } else { "" };
        let hex = format!("{sign}{:#x}", v.unsigned_abs());
        assert_eq!(netclass::parse_int(&hex), Some(v), "{hex}");
        let _ = netclass::admin_state(Some(v));
    }
});
