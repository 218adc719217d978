//! /sys/class/infiniband/<device>/ports/<n>/{state,phys_state,rate,counters/*}.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sysmon_exporter::collector::infiniband;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = infiniband::parse_state(&text);
    let _ = infiniband::parse_rate(&text);
    if let Some(infiniband::CounterValue::Value(v)) = infiniband::parse_counter(&text) {
        assert_eq!(infiniband::parse_counter(&v.to_string()), Some(infiniband::CounterValue::Value(v)));
    }
});
