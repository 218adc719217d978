//! /proc/net/udp and /proc/net/udp6.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sysmon_exporter::collector::udp_queues;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(sums) = udp_queues::parse(&text) {
        // At most one socket per line after the header.
        assert!(sums.sockets as usize <= text.lines().count().saturating_sub(1));
    }
});
