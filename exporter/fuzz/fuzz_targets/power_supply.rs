//! /sys/class/power_supply/* attributes: the first line is the attribute's file name, the rest
//! its contents.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sysmon_exporter::collector::powersupplyclass;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let text: &str = &text;
    let (file, value) = text.split_once('\n').unwrap_or((text, ""));
    if let Ok(ps) = powersupplyclass::parse_supply([(file, value.trim())]) {
        assert_eq!(ps.numbers.len(), powersupplyclass::NUMBERS.len());
    }
});
