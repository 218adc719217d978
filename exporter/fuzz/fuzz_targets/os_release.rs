//! os-release files, VERSION_ID numbers and SUPPORT_END dates.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sysmon_exporter::collector::os;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let parsed = os::parse(&text);
    for key in parsed.vars.keys() {
        assert!(
            !key.is_empty() && !key.contains(char::is_whitespace),
            "{key:?}"
        );
    }
    for value in parsed
        .vars
        .values()
        .chain(std::iter::once(&text.to_string()))
    {
        if let Some(v) = os::major_minor(value) {
            assert!(v.is_finite() && v >= 0.0, "{value:?} -> {v}");
        }
        let _ = os::support_end(value);
    }
    // A well-formed date round-trips to midnight UTC.
    if let Some(secs) = os::support_end(text.trim()) {
        assert_eq!(secs % 86_400, 0);
    }
});
