//! The web configuration file (`--web.config.file`, the exporter-toolkit's YAML), parsed from
//! memory. Loading certificates is not part of it (that needs files; see web/tls.rs).
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use sysmon_exporter::web::config::WebConfig;

fuzz_target!(|data: &[u8]| {
    // The real loader reads the file as UTF-8 and refuses anything else before parsing.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match WebConfig::parse(Path::new("/etc/sysmon/web.yml"), text) {
        Ok(config) => {
            // Every accepted header value is one a response can carry; every user has a hash.
            for (name, value) in &config.headers {
                assert!(!value.is_empty(), "{name}");
            }
            assert!(config.users.values().all(|h| !h.is_empty()));
            if let Some((interval, burst)) = config.rate_limit {
                assert!(!interval.is_zero() && burst >= 1);
            }
        }
        Err(e) => {
            assert!(!e.message.is_empty());
            let _ = e.to_string();
        }
    }
});
