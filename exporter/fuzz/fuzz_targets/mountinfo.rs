//! /proc/self/mountinfo lines (any bytes: a mount point may be any path) and the octal unescaping.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sysmon_exporter::collector::filesystem::mountinfo;

fuzz_target!(|data: &[u8]| {
    for line in data.split(|&b| b == b'\n') {
        if let Ok(mount) = mountinfo::parse_mountinfo_line(line) {
            let _ = mountinfo::is_read_only(&mount);
        }
    }
    // Decoding never grows a field, and text without a backslash is left as it is.
    let decoded = mountinfo::unescape(data);
    assert!(decoded.len() <= data.len());
    if !data.contains(&b'\\') {
        assert_eq!(decoded, data);
    }
});
