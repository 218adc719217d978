//! SELinux: selinuxfs `enforce`, /etc/selinux/config, selinuxfs lines of mountinfo.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sysmon_exporter::collector::selinux;

fuzz_target!(|data: &[u8]| {
    if let Some(v) = selinux::parse_enforce(data) {
        assert_eq!(selinux::parse_enforce(v.to_string().as_bytes()), Some(v));
    }
    let text = String::from_utf8_lossy(data);
    let mode = selinux::config_mode(&text);
    assert!((-1..=1).contains(&mode));
    for line in data.split(|&b| b == b'\n') {
        let _ = selinux::selinuxfs_mount(line);
    }
});
