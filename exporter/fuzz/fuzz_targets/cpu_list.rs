//! Kernel CPU lists (`/sys/devices/system/cpu/isolated`: "0-3,8,10-11").
#![no_main]

use libfuzzer_sys::fuzz_target;
use sysmon_exporter::collector::cpu;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(cpus) = cpu::parse_cpu_list(&text) {
        // Every CPU number is below the parser's bound.
        assert!(cpus.iter().all(|&c| c < 1 << 16));
    }
});
