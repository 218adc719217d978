//! /sys/class/scsi_tape/st*/stats/*: the first line is the file name, the rest its contents.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sysmon_exporter::collector::tapestats;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let text: &str = &text;
    let (file, value) = text.split_once('\n').unwrap_or((text, ""));
    let _ = tapestats::parse_stats([(file, value)]);
    if let Some(v) = tapestats::parse_uint(value) {
        if value.trim().bytes().all(|b| b.is_ascii_digit()) && !value.trim().starts_with('0') {
            assert_eq!(v.to_string(), value.trim());
        }
    }
    let _ = tapestats::is_drive(file);
});
