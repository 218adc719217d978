//! /proc/mdstat and the md sysfs `raid_disks` attribute.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sysmon_exporter::collector::mdadm;
use sysmon_exporter::metrics::MetricSet;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut out = MetricSet::new();
    for array in mdadm::parse_mdstat(&text) {
        if let Ok(md) = array {
            assert!(!md.name.is_empty());
            assert!(md.disks_failed >= 0 && md.disks_spare >= 0 && md.disks_down >= 0);
            mdadm::export_mdstat(&md, &mut out);
        }
    }
    if let Ok(Some(n)) = mdadm::parse_raid_disks(&text) {
        assert_eq!(mdadm::parse_raid_disks(&n.to_string()), Ok(Some(n)));
    }
});
