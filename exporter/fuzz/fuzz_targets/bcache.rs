//! /sys/fs/bcache values (`bch_hprint` numbers), `writeback_rate_debug` and `priority_stats`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sysmon_exporter::collector::bcache;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Some(v) = bcache::dehumanize(&text) {
        // A plain integer reads back as itself.
        if v < 1 << 53 {
            assert_eq!(bcache::dehumanize(&v.to_string()), Some(v));
        }
    }
    let _ = bcache::dehumanize_signed(&text);
    let _ = bcache::parse_writeback_rate_debug(&text);
    if let Ok((unused, metadata)) = bcache::parse_priority_stats(&text) {
        let again = format!("Unused:\t{unused}%\nMetadata:\t{metadata}%\n");
        assert_eq!(bcache::parse_priority_stats(&again), Ok((unused, metadata)));
    }
});
