//! /proc/<pid>/stat and /proc/<pid>/task/<tid>/stat.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sysmon_exporter::collector::processes;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(stat) = processes::parse_stat(&text) {
        assert!(!stat.state.is_empty());
        assert!(text.contains(&stat.num_threads.to_string()));
    }
});
