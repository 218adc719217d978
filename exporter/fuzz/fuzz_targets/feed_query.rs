//! The query string of `GET /api/v1/anomalies` (state, severity, category, rule, since, until,
//! limit), as any client may send it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sysmon_exporter::anomaly::api;

fuzz_target!(|data: &[u8]| {
    // axum hands the handler the raw query as a &str; a percent-escape may still decode to any bytes.
    let text = String::from_utf8_lossy(data);
    match api::parse_query(Some(&text)) {
        Ok(q) => {
            assert!((1..=api::MAX_LIMIT).contains(&q.limit));
            if let (Some(since), Some(until)) = (q.since, q.until) {
                assert!(since <= until);
            }
            assert!(q.categories.iter().chain(&q.rules).all(|n| !n.is_empty()));
        }
        Err(message) => assert!(!message.is_empty()),
    }
});
