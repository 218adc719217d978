//! /proc/net/if_inet6 (netdev's address-info) and the sysfs statistics counters.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sysmon_exporter::collector::netdev;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (addresses, bad_lines) = netdev::parse_if_inet6(&text);
    let lines = text.lines().filter(|l| !l.trim().is_empty()).count();
    assert_eq!(addresses.len() + bad_lines.len(), lines);
    for a in &addresses {
        // The address prints back as an address, the netmask is a prefix length.
        assert!(a.address.parse::<std::net::IpAddr>().is_ok(), "{a:?}");
        assert!(a.netmask.parse::<u32>().is_ok_and(|n| n <= 128), "{a:?}");
        assert!(!a.device.is_empty(), "{a:?}");
    }
    if let Some(v) = netdev::parse_counter(data) {
        assert_eq!(std::str::from_utf8(data).unwrap().trim_end().parse::<u64>(), Ok(v));
    }
});
