//! /proc/sys/kernel/hung_task_detect_count.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sysmon_exporter::collector::kernel_hung;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(count) = kernel_hung::parse(&text) {
        assert_eq!(kernel_hung::parse(&format!("{count}\n")), Ok(count));
    }
});
