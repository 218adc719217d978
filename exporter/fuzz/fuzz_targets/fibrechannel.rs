//! /sys/class/fc_host/<host>/ attributes and statistics/*.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sysmon_exporter::collector::fibrechannel;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(Some(v)) = fibrechannel::parse_statistic(&text) {
        assert_ne!(v, u64::MAX);
    }
    let _ = fibrechannel::info_value(&text, true);
    let _ = fibrechannel::info_value(&text, false);
});
