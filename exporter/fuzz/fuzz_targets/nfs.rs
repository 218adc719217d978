//! /proc/net/rpc/nfs.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sysmon_exporter::collector::nfs;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = nfs::parse_client(&text);
});
