//! /proc/sys/kernel/random/entropy_avail and poolsize.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sysmon_exporter::collector::entropy;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(bits) = entropy::parse_bits(&text) {
        assert_eq!(entropy::parse_bits(&bits.to_string()), Ok(bits));
    }
});
