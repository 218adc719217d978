//! `/sys/devices/system/cpu/cpu*/cpufreq/` attributes: frequencies in kHz and the governor lists.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sysmon_exporter::collector::cpufreq;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(khz) = cpufreq::parse_khz(&text) {
        // Only digits were read: the number prints back to the attribute without leading zeros.
        let digits = text.trim().trim_start_matches('0');
        assert_eq!(khz.to_string(), if digits.is_empty() { "0" } else { digits });
    }
    // First line: the governor in use; the rest: the available ones.
    let (governor, available) = text.split_once('\n').unwrap_or((&text, ""));
    let samples: Vec<_> = cpufreq::governors(governor, available).collect();
    // Only the governor in use is marked active, and no sample has an empty name.
    assert!(samples
        .iter()
        .all(|(g, active)| !g.is_empty() && *active == (*g == governor.trim())));
});
