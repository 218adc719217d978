//! /proc/net/netstat, /proc/net/snmp (header/value line pairs) and /proc/net/snmp6.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sysmon_exporter::collector::netstat;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for parsed in [netstat::parse_pairs(&text), netstat::parse_snmp6(&text)] {
        for stat in &parsed.stats {
            // Protocol and field become part of a metric name.
            for name in [stat.protocol, stat.field] {
                assert!(
                    !name.is_empty()
                        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
                    "{name:?}"
                );
            }
            assert!(stat.value.is_finite(), "{stat:?}");
        }
    }
    if let Some(v) = netstat::parse_value(&text) {
        assert!(v.is_finite());
    }
});
