//! /proc/net/rpc/nfsd.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sysmon_exporter::collector::nfsd;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = nfsd::parse_server(&text);
});
