//! The USB failure classifier over kernel messages ("usb 1-2.3: device descriptor read/64, error -71").
#![no_main]

use libfuzzer_sys::fuzz_target;
use sysmon_exporter::collector::usb::classify;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Some(failure) = classify::classify(&text) {
        // The port label is a root hub, a device path, or a port of a device path (the child
        // port of a hub may add one level): never arbitrary text from the message.
        let child_of_device = failure
            .port
            .rsplit_once('.')
            .is_some_and(|(hub, n)| classify::is_device_path(hub) && n.parse::<u32>().is_ok());
        assert!(
            classify::is_root_hub(&failure.port)
                || classify::is_device_path(&failure.port)
                || child_of_device,
            "{failure:?}"
        );
        assert!(failure.port.len() <= 40, "{failure:?}");
    }
    let _ = classify::kind_of(&text);
    let _ = classify::error_code(&text);
    if let Some((driver, device)) = text.split_once(' ') {
        let _ = classify::port_of(driver, device);
    }
});
