//! The TOML configuration file (`--config.file`), parsed from memory.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use sysmon_exporter::config;

fuzz_target!(|data: &[u8]| {
    // The real loader reads the file as UTF-8 and refuses anything else before parsing.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match config::parse_str(Path::new("fuzz.toml"), text, &config::Overrides::default()) {
        Ok(settings) => {
            assert!(!settings.collector_timeout.is_zero());
            assert!(settings.collector_timeout <= settings.interval);
        }
        Err(e) => {
            // An error points inside the file (or at no line at all).
            let lines = text.split('\n').count();
            assert!(e.line <= lines, "{e} ({lines} lines)");
            assert!(!e.message.is_empty());
            let _ = e.to_string();
        }
    }
});
