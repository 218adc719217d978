//! /sys/block/dm-*/ multipath attributes (`dm/suspended`, `size`) and path states.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sysmon_exporter::collector::dmmultipath;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Some(n) = dmmultipath::parse_uint(&text) {
        assert_eq!(dmmultipath::parse_uint(&n.to_string()), Some(n));
    }
    let _ = dmmultipath::path_is_active(text.trim());
});
