//! /sys/fs/btrfs/<uuid>/commit_stats.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sysmon_exporter::collector::btrfs;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = btrfs::parse_commit_stats(&text);
    let _ = btrfs::allocation_ratio(&text, data.len());
});
