//! EDAC directory and file names (`mc<N>`, `csrow<N>`, `ch<K>_ce_count`) and `ch<K>_dimm_label`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sysmon_exporter::collector::edac;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for prefix in ["mc", "csrow"] {
        if let Some(n) = edac::numbered(&text, prefix) {
            assert!(!n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()), "{n:?}");
        }
    }
    if let Some(k) = edac::channel_of(&text) {
        assert!(k.bytes().all(|b| b.is_ascii_digit()), "{k:?}");
    }
    let label = edac::dimm_label(&text);
    assert!(!label.contains('#'), "{label:?}");
});
