//! /sys/fs/xfs/<device>/stats/stats.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sysmon_exporter::collector::xfs;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = xfs::parse(&text);
});
