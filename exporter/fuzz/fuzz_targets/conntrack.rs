//! /proc/net/stat/nf_conntrack and the nf_conntrack_count / nf_conntrack_max sysctls.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sysmon_exporter::collector::conntrack;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(stats) = conntrack::parse_stats(&text) {
        // Sums that are not all zero come from at least one line of 16 or 17 columns.
        if stats != conntrack::Stats::default() {
            assert!(text
                .lines()
                .skip(1)
                .any(|l| (16..=17).contains(&l.split_whitespace().count())));
        }
    }
    if let Some(v) = conntrack::parse_sysctl(&text) {
        // A sysctl value is the file's only word, in decimal.
        assert_eq!(text.trim().parse::<u64>(), Ok(v));
    }
});
