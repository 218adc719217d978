//! /sys/class/net/<bond>/bonding/slaves with its slaves' bonding_slave/mii_status: the first line
//! lists the slaves, each following line is the status of the next slave.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sysmon_exporter::collector::bonding;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (slaves, statuses) = text.split_once('\n').unwrap_or((&text, ""));
    let mut statuses = statuses.lines();
    if let Ok((count, active)) =
        bonding::count_slaves(slaves, |_| statuses.next().map(str::to_string).ok_or(()))
    {
        assert!(active <= count, "{active} > {count}");
        assert_eq!(count as usize, slaves.split_whitespace().count());
    }
});
