//! /sys/class/nvme/* identity attributes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sysmon_exporter::collector::nvme;

fuzz_target!(|data: &[u8]| {
    let v = nvme::attribute_value(data);
    assert_eq!(v, v.trim(), "{v:?}");
});
