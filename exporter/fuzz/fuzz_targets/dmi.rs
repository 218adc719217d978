//! /sys/class/dmi/id/* attributes (any bytes: firmware strings are not always UTF-8).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sysmon_exporter::collector::dmi;

fuzz_target!(|data: &[u8]| {
    let v = dmi::attribute_value(data);
    assert_eq!(v, v.trim(), "{v:?}");
    if let Ok(text) = std::str::from_utf8(data) {
        assert_eq!(dmi::valid_utf8(data), text);
    }
});
