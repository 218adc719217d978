//! /proc/sys/fs/file-nr.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sysmon_exporter::collector::filefd;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(nr) = filefd::parse(&text) {
        if let Ok(allocated) = nr.allocated {
            assert!(text.contains(&allocated.to_string()));
        }
    }
});
