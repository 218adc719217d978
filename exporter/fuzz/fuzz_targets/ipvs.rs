//! /proc/net/ip_vs, /proc/net/ip_vs_stats and the --collector.ipvs.backend-labels flag.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sysmon_exporter::collector::ipvs;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = ipvs::parse_stats(&text);
    let services = ipvs::parse_services(&text);
    for b in &services.backends {
        let _ = ipvs::go_ip_string(&b.remote_address);
    }
    if let Ok(labels) = ipvs::parse_labels(&text) {
        assert!(labels.len() <= ipvs::FULL_LABELS.len());
    }
});
