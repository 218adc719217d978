//! The kernel-log reader: records (`prio,seq,usec,flags;message`), line splitting of a text log,
//! and the position state file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sysmon_exporter::collector::usb::kmsg;

fuzz_target!(|data: &[u8]| {
    let mut skipping = false;
    let mut lines = 0usize;
    let used = kmsg::split_lines(data, &mut skipping, |line| {
        assert!(!line.contains(&b'\n'));
        lines += 1;
        if let Ok(text) = std::str::from_utf8(line) {
            if let Some(r) = kmsg::parse_record(text) {
                assert!(r.level <= 7 && r.facility <= 0xff, "{r:?}");
                assert!(text.contains(r.message));
            }
        }
    });
    assert!(used <= data.len());

    let text = String::from_utf8_lossy(data);
    let _ = kmsg::parse_record(&text);
    if let Some(p) = kmsg::parse_position(&text) {
        // A position that was read back is written and read again unchanged, unless its source
        // holds a newline-free value that the format cannot carry (it never comes from a file).
        if !p.source.contains('\n') && !p.source.contains('\r') {
            assert_eq!(kmsg::parse_position(&kmsg::format_position(&p)), Some(p));
        }
    }
    let _ = kmsg::valid_boot_id(&text);
});
