//! /proc/net/arp.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sysmon_exporter::collector::arp;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(entries) = arp::parse(&text) {
        // Every entry is one line of six columns, the device the last one.
        let lines = text
            .lines()
            .filter(|l| l.split_whitespace().count() == 6)
            .count();
        let counted: u64 = entries.values().map(|&n| u64::from(n)).sum();
        assert_eq!(counted, lines as u64);
        for device in entries.keys() {
            assert!(!device.is_empty() && !device.contains(char::is_whitespace), "{device:?}");
        }
    }
    for word in text.split_whitespace() {
        let _ = arp::valid_hardware_address(word);
        if let Some(flags) = arp::parse_flags(word) {
            assert_eq!(u8::from_str_radix(&word[2..], 16), Ok(flags));
        }
    }
});
