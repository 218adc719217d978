//! thermal_zone and cooling_device integer attributes (`temp`, `cur_state`, `max_state`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sysmon_exporter::collector::thermal_zone;

fuzz_target!(|data: &[u8]| {
    // The collector reads an attribute as lossy UTF-8, trimmed.
    let text = String::from_utf8_lossy(data);
    let text = text.trim();
    if let Some(v) = thermal_zone::parse_int(text) {
        // A parsed value prints back to a number that parses to the same value.
        assert_eq!(thermal_zone::parse_int(&v.to_string()), Some(v));
    }
});
