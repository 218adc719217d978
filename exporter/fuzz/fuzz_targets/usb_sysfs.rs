//! USB device attributes from sysfs: numbers, hex ids, speed, version and device strings.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sysmon_exporter::collector::usb;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Some(n) = usb::sysfs::parse_number(&text) {
        assert_eq!(usb::sysfs::parse_number(&n).as_ref(), Some(&n));
    }
    for width in [2, 4] {
        if let Some(h) = usb::sysfs::parse_hex(&text, width) {
            assert_eq!(h.len(), width);
            assert_eq!(usb::sysfs::parse_hex(&h, width).as_ref(), Some(&h));
        }
    }
    if let Some(s) = usb::sysfs::parse_speed(&text) {
        assert!(s.len() <= 16);
    }
    if let Some(v) = usb::sysfs::parse_version(&text) {
        assert!(v.len() <= 5);
    }
    let cleaned = usb::sysfs::clean_string(data);
    assert!(!cleaned.chars().any(char::is_control));
    assert_eq!(cleaned.trim(), cleaned);
});
