//! OpenZFS kstats: module-wide named kstats, a pool's io, a dataset's objset, a pool's state.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sysmon_exporter::collector::zfs;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = zfs::parse_named_kstat(&text, |name, value| {
        assert!(!name.is_empty() && value.is_finite());
    });
    let _ = zfs::parse_pool_io(&text, |column, value| {
        assert!(!column.is_empty() && value >= 0.0);
    });
    let _ = zfs::parse_objset(&text, |_, name, value| {
        assert!(!name.is_empty() && value >= 0.0);
    });
    let _ = zfs::parse_state(&text);
});
