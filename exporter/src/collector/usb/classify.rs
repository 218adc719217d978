//! Which kernel log messages are USB failures, on which port, and of what kind.
//!
//! The texts are the kernel's own (drivers/usb/core/hub.c, message.c, config.c, generic.c and the
//! xHCI driver), printed with `dev_err`/`dev_warn`/`dev_info`, so every message starts with
//! `<driver or bus> <device name>: `. Four kinds of device name carry a USB location:
//!
//! | prefix                      | printed by                           | `port` label |
//! |-----------------------------|--------------------------------------|--------------|
//! | `usb 1-2.3: ...`            | a USB device (usbcore)               | `1-2.3`      |
//! | `usb usb1: ...`             | a root hub                           | `usb1`       |
//! | `usb usb1-port2: ...`       | a hub's port (usbcore's port device) | `1-2`        |
//! | `usb 1-2-port3: ...`        | a port of the hub at 1-2             | `1-2.3`      |
//! | `hub 1-0:1.0: ...`          | the hub driver, on the hub interface | `usb1`       |
//! | `usbhid 1-2.3:1.0: ...`     | any driver bound to an interface     | `1-2.3`      |
//!
//! So `port` is always the sysfs name of the device that is (or would be) on that port, the same
//! value as the inventory's `port` label. Older kernels printed port failures through the hub
//! interface ("hub 1-0:1.0: Cannot enable port 3.  Maybe the USB cable is bad?"); those name the
//! port in the text and are mapped the same way (`1-3`).
//!
//! The kind comes first from the error code, the most precise "why": -110 (ETIMEDOUT) and -62
//! (ETIME) are `timeout`, -71 (EPROTO), -84 (EILSEQ), -32 (EPIPE, a stall) and -75 (EOVERFLOW) are
//! `protocol` (bad cable, interference, a device that breaks the protocol). Without one of those
//! codes, the text says what failed: `address`, `enumeration`, `reset`, `over_current`,
//! `disconnect`. A USB-prefixed message with any other error code is `other`; a message with
//! neither a known text nor an error code (announcements such as "new high-speed USB device
//! number 3 using xhci_hcd") is not a failure and is not counted. Error numbers are the generic
//! Linux ones (x86, arm, riscv...); symbolic codes as printed by `%pe` ("-ETIMEDOUT") work too.

use std::sync::LazyLock;

use regex_lite::Regex;

/// What went wrong, as a small fixed set so that the `kind` label stays bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// The device or hub did not answer in time (-ETIMEDOUT, -ETIME).
    Timeout,
    /// The transfer failed at the protocol level (-EPROTO, -EILSEQ, -EPIPE, -EOVERFLOW), or the
    /// hub disabled the port because of interference.
    Protocol,
    /// The device would not take an address.
    Address,
    /// Reading descriptors, choosing a configuration or enabling the port failed.
    Enumeration,
    /// The device or port was reset (by a driver recovering from errors, or by the hub).
    Reset,
    /// A port or hub reported over-current.
    OverCurrent,
    /// A device went away ("USB disconnect, device number 4"), whether unplugged or dropped.
    Disconnect,
    /// Another USB failure carrying an error code.
    Other,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Timeout => "timeout",
            Kind::Protocol => "protocol",
            Kind::Address => "address",
            Kind::Enumeration => "enumeration",
            Kind::Reset => "reset",
            Kind::OverCurrent => "over_current",
            Kind::Disconnect => "disconnect",
            Kind::Other => "other",
        }
    }
}

/// A USB failure found in one log message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsbFailure {
    /// The port path (`1-2.3`) or root hub (`usb1`) the message is about.
    pub port: String,
    pub kind: Kind,
}

/// Message texts and their kind, checked in order when the error code alone does not decide.
/// Substrings of the kernel's format strings, as they appear in the log.
const TEXT_KINDS: &[(&str, Kind)] = &[
    // usb_disconnect()
    ("USB disconnect, device number", Kind::Disconnect),
    // port_event() and hub_event(): "over-current change #1", "over-current condition";
    // older kernels: "over-current change on port 1", "over-current condition on port 1".
    ("over-current", Kind::OverCurrent),
    // hub_port_init(): "device not accepting address 5, error -71"; xHCI: "Device not responding
    // to setup address."
    ("not accepting address", Kind::Address),
    ("not responding to setup address", Kind::Address),
    // hub_port_init() when a driver or error recovery resets a device: "reset high-speed USB
    // device number 3 using xhci_hcd", "reset SuperSpeed USB device number 2 using xhci_hcd".
    ("USB device number", Kind::Reset),
    // hub_port_reset(): "cannot reset (err = -32)", "cannot warm reset (err = -32)".
    ("cannot reset", Kind::Reset),
    ("cannot warm reset", Kind::Reset),
    // hub_port_connect(), halfway through its retries.
    ("attempt power cycle", Kind::Reset),
    // port_event(): the hub shut a port down, typically electromagnetic interference.
    ("disabled by hub (EMI?)", Kind::Protocol),
    // hub_port_init(), hub_port_reset(), hub_port_connect(), usb_enumerate_device(),
    // usb_get_configuration(), usb_set_configuration() and friends.
    ("device descriptor read/", Kind::Enumeration),
    ("Cannot enable", Kind::Enumeration),
    ("unable to enumerate USB device", Kind::Enumeration),
    ("connect-debounce failed", Kind::Enumeration),
    ("can't set config #", Kind::Enumeration),
    ("can't read configurations", Kind::Enumeration),
    ("unable to read config index", Kind::Enumeration),
    ("string descriptor 0 read error", Kind::Enumeration),
    ("Invalid ep0 maxpacket", Kind::Enumeration),
    ("device reset changed", Kind::Enumeration),
    ("got a wrong device descriptor", Kind::Enumeration),
    ("can't restore configuration", Kind::Enumeration),
    ("failed to restore interface", Kind::Enumeration),
    ("hub failed to enable device", Kind::Enumeration),
    ("can't connect bus-powered hub", Kind::Enumeration),
];

/// A negative error code after "error", "err =", "error=", "status", or after ": " / "--> "
/// ("device descriptor read/64, error -71", "cannot reset (err = -110)",
/// "can't restore configuration #1 (error=-110)", "unable to read config index 0
/// descriptor/start: -71", "can't add hid device: -71", "resubmit --> -71").
static ERROR_CODE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?:\b(?i:error(?:\s+code)?|err|status|ret|result)\s*[=:]?\s*\(?\s*|[:>]\s*)-([0-9]{1,4}|E[A-Z0-9]{2,16})\b",
    )
    .expect("the error code pattern is valid")
});

/// The error code a message carries, as a positive number or a symbolic name ("110",
/// "ETIMEDOUT"); the last one wins when there are several (the outcome comes last).
pub fn error_code(text: &str) -> Option<&str> {
    ERROR_CODE
        .captures_iter(text)
        .last()
        .and_then(|c| c.get(1))
        .map(|m| m.as_str())
}

fn kind_of_code(code: &str) -> Kind {
    match code {
        "110" | "62" | "ETIMEDOUT" | "ETIME" => Kind::Timeout,
        "71" | "84" | "32" | "75" | "EPROTO" | "EILSEQ" | "EPIPE" | "EOVERFLOW" => Kind::Protocol,
        _ => Kind::Other,
    }
}

/// The kind of failure a message text (after the device prefix) reports, if it is one.
pub fn kind_of(text: &str) -> Option<Kind> {
    // The device's own strings, announced at enumeration ("Product: ..."), are chosen by whoever
    // made the device: never read error codes or texts out of them.
    if ["Product: ", "Manufacturer: ", "SerialNumber: "]
        .iter()
        .any(|p| text.starts_with(p))
    {
        return None;
    }
    let code = error_code(text).map(kind_of_code);
    if let Some(kind @ (Kind::Timeout | Kind::Protocol)) = code {
        return Some(kind);
    }
    // An explicit timeout without a code ("timed out", "Timeout while waiting"); not any mention
    // of a timeout ("Failed to set U1 timeout to 0x7f" is about link power management).
    let lower = text.to_ascii_lowercase();
    if lower.contains("timed out") || lower.contains("timeout while") {
        return Some(Kind::Timeout);
    }
    if let Some((_, kind)) = TEXT_KINDS.iter().find(|(t, _)| text.contains(t)) {
        // "new high-speed USB device number 3" announces a device; only "reset ..." is a reset.
        if *kind == Kind::Reset && text.contains("USB device number") && !text.starts_with("reset ")
        {
            return code;
        }
        return Some(*kind);
    }
    code
}

/// Classifies one kernel message ("usb 1-2.3: device descriptor read/64, error -110").
/// `None` for anything that is not a USB failure, including garbage.
pub fn classify(message: &str) -> Option<UsbFailure> {
    let (head, text) = message.split_once(": ")?;
    let (driver, device) = head.split_once(' ')?;
    let mut port = port_of(driver, device)?;
    if driver == "hub" {
        // Older kernels: "hub 1-0:1.0: Cannot enable port 3.  Maybe the USB cable is bad?"
        if let Some(n) = port_number_in(text) {
            port = child_port(&port, n)?;
        }
    }
    let kind = kind_of(text)?;
    Some(UsbFailure { port, kind })
}

/// The port label for the device name of a message prefix, or `None` if the name is not a USB
/// one. usbcore ("usb") and the hub driver ("hub") print every kind of name; any other driver is
/// only trusted with an interface name (`1-2:1.0`), because `<number>-<number>` alone is also
/// how I2C devices are named ("at24 1-0050").
pub fn port_of(driver: &str, device: &str) -> Option<String> {
    if let Some(dev) = interface_device(device) {
        return Some(dev);
    }
    if driver != "usb" && driver != "hub" {
        return None;
    }
    if let Some((hub, n)) = device.rsplit_once("-port") {
        let n = small_number(n)?;
        let hub = if is_root_hub(hub) || is_device_path(hub) {
            hub
        } else {
            return None;
        };
        return child_port(hub, n);
    }
    (is_root_hub(device) || is_device_path(device)).then(|| device.to_string())
}

/// For an interface name (`1-2.3:1.0`, or `1-0:1.0` on a root hub) the device it belongs to.
fn interface_device(name: &str) -> Option<String> {
    let (dev, intf) = name.split_once(':')?;
    let (config, number) = intf.split_once('.')?;
    small_number(config)?;
    small_number(number)?;
    if let Some(bus) = dev.strip_suffix("-0") {
        return small_number(bus)
            .filter(|b| *b > 0)
            .map(|_| format!("usb{bus}"));
    }
    is_device_path(dev).then(|| dev.to_string())
}

/// The device path of port `n` of the hub `hub` ("usb1" + 2 = "1-2", "1-2" + 3 = "1-2.3").
fn child_port(hub: &str, n: u32) -> Option<String> {
    if n == 0 {
        return None;
    }
    match hub.strip_prefix("usb") {
        Some(bus) if small_number(bus).is_some() => Some(format!("{bus}-{n}")),
        _ if is_device_path(hub) => Some(format!("{hub}.{n}")),
        _ => None,
    }
}

/// "port 3" in an old-style hub message ("Cannot enable port 3.", "over-current condition on
/// port 1"), not "ports" or "port_status".
fn port_number_in(text: &str) -> Option<u32> {
    let mut rest = text;
    while let Some(i) = rest.find("port ") {
        let before_ok = rest[..i]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_ascii_alphanumeric() && c != '_');
        let after = &rest[i + 5..];
        let digits: &str = &after[..after
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(after.len())];
        if before_ok {
            if let Some(n) = small_number(digits) {
                return Some(n);
            }
        }
        rest = after;
    }
    None
}

/// A root hub's name: "usb" and its bus number.
pub fn is_root_hub(name: &str) -> bool {
    name.strip_prefix("usb")
        .and_then(small_number)
        .is_some_and(|bus| bus > 0)
}

/// A device's port path: bus number, '-', then up to seven port numbers joined by '.'
/// ("1-2", "3-1.4.2"). USB allows at most five hubs in a row, so seven is generous, and the
/// bound keeps a forged name from making a huge label.
pub fn is_device_path(name: &str) -> bool {
    let Some((bus, ports)) = name.split_once('-') else {
        return false;
    };
    if !positive(bus) {
        return false;
    }
    let mut count = 0;
    for p in ports.split('.') {
        count += 1;
        if count > 7 || !positive(p) {
            return false;
        }
    }
    true
}

/// A bus or port number: bus and port numbers start at 1.
fn positive(s: &str) -> bool {
    small_number(s).is_some_and(|n| n > 0)
}

/// A decimal number of one to three digits (bus, port, configuration and interface numbers).
fn small_number(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 3 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(message: &str) -> Option<(String, &'static str)> {
        classify(message).map(|f| (f.port, f.kind.as_str()))
    }

    fn some(port: &str, kind: &'static str) -> Option<(String, &'static str)> {
        Some((port.to_string(), kind))
    }

    #[test]
    fn timeouts_are_timeouts_whatever_the_text() {
        assert_eq!(
            c("usb 1-2.3: device descriptor read/64, error -110"),
            some("1-2.3", "timeout")
        );
        assert_eq!(
            c("usb 1-1: device not accepting address 5, error -62"),
            some("1-1", "timeout")
        );
        assert_eq!(
            c("usb 1-1: can't set config #1, error -110"),
            some("1-1", "timeout")
        );
        assert_eq!(
            c("usb 2-3: can't restore configuration #1 (error=-110)"),
            some("2-3", "timeout")
        );
        assert_eq!(
            c("hub 1-0:1.0: hub_ext_port_status failed (err = -110)"),
            some("usb1", "timeout")
        );
        assert_eq!(
            c("usb 1-4: device descriptor read/all, error -ETIMEDOUT"),
            some("1-4", "timeout")
        );
        assert_eq!(
            c("uvcvideo 1-6:1.0: Failed to query (GET_CUR) UVC control 11 on unit 2: -110 (exp. 1)."),
            some("1-6", "timeout")
        );
    }

    #[test]
    fn protocol_errors() {
        assert_eq!(
            c("usb 1-2: device descriptor read/64, error -71"),
            some("1-2", "protocol")
        );
        assert_eq!(
            c("usb 1-2: device descriptor read/all, error -71"),
            some("1-2", "protocol")
        );
        assert_eq!(
            c("usb 3-1: device not accepting address 5, error -71"),
            some("3-1", "protocol")
        );
        assert_eq!(
            c("usbhid 3-1:1.0: can't add hid device: -71"),
            some("3-1", "protocol")
        );
        assert_eq!(
            c("usb 1-1: unable to read config index 0 descriptor/start: -32"),
            some("1-1", "protocol")
        );
        assert_eq!(
            c("usb usb1-port3: disabled by hub (EMI?), re-enabling..."),
            some("1-3", "protocol")
        );
    }

    #[test]
    fn texts_decide_without_a_telling_code() {
        assert_eq!(
            c("usb 1-1: Device not responding to setup address."),
            some("1-1", "address")
        );
        assert_eq!(
            c("usb 1-5: device not accepting address 9, error -22"),
            some("1-5", "address")
        );
        assert_eq!(
            c("usb usb2-port3: Cannot enable. Maybe the USB cable is bad?"),
            some("2-3", "enumeration")
        );
        assert_eq!(
            c("usb usb1-port4: unable to enumerate USB device"),
            some("1-4", "enumeration")
        );
        assert_eq!(
            c("usb 1-1-port2: connect-debounce failed"),
            some("1-1.2", "enumeration")
        );
        assert_eq!(
            c("usb 1-1: Invalid ep0 maxpacket: 0"),
            some("1-1", "enumeration")
        );
        assert_eq!(
            c("usb 1-1: reset high-speed USB device number 3 using xhci_hcd"),
            some("1-1", "reset")
        );
        assert_eq!(
            c("usb 2-1: reset SuperSpeed USB device number 2 using xhci_hcd"),
            some("2-1", "reset")
        );
        assert_eq!(
            c("usb usb1-port2: attempt power cycle"),
            some("1-2", "reset")
        );
        assert_eq!(
            c("usb 1-2-port1: over-current change #1"),
            some("1-2.1", "over_current")
        );
        assert_eq!(
            c("usb usb1-port2: over-current condition"),
            some("1-2", "over_current")
        );
        assert_eq!(
            c("hub 2-1:1.0: over-current condition"),
            some("2-1", "over_current")
        );
        assert_eq!(
            c("usb 1-1.4: USB disconnect, device number 4"),
            some("1-1.4", "disconnect")
        );
        assert_eq!(
            c("usb usb3: USB disconnect, device number 1"),
            some("usb3", "disconnect")
        );
        assert_eq!(
            c("usb 1-3: can't set config #1, error -19"),
            some("1-3", "enumeration")
        );
        assert_eq!(c("hub 1-1:1.0: activate --> -19"), some("1-1", "other"));
    }

    #[test]
    fn old_hub_messages_name_the_port_in_the_text() {
        assert_eq!(
            c("hub 1-0:1.0: Cannot enable port 3.  Maybe the USB cable is bad?"),
            some("1-3", "enumeration")
        );
        assert_eq!(
            c("hub 2-1:1.0: over-current condition on port 4"),
            some("2-1.4", "over_current")
        );
        assert_eq!(
            c("hub 1-0:1.0: unable to enumerate USB device on port 5"),
            some("1-5", "enumeration")
        );
        // "ports" is not a port number.
        assert_eq!(c("hub 1-0:1.0: 4 ports detected"), None);
    }

    #[test]
    fn announcements_and_other_subsystems_are_not_failures() {
        for m in [
            "usb 1-1: new high-speed USB device number 3 using xhci_hcd",
            "usb 2-1: new SuperSpeed USB device number 2 using xhci_hcd",
            "usb 1-1: New USB device found, idVendor=05e3, idProduct=0608, bcdDevice=60.90",
            "usb 1-1: Product: USB2.0 Hub",
            "usb 1-1: Product: Gadget error -110",
            "usb 1-1: SerialNumber: timeout",
            "hub 1-1:1.0: USB hub found",
            "usb-storage 2-3:1.0: USB Mass Storage device detected",
            // I2C and PCI devices look alike but are not USB.
            "at24 1-0050: error -110 reading eeprom",
            "xhci_hcd 0000:00:14.0: Timeout while waiting for setup device command",
            "ata1: SATA link down (SStatus 0 SControl 300)",
            "usb 1-1 no colon here error -110",
            "",
            ": error -110",
            "usb : error -110",
            "usb 0-1: device descriptor read/64, error -110",
            "usb 1-0: device descriptor read/64, error -110",
            "usb 1-1.2.3.4.5.6.7.8: device descriptor read/64, error -110",
            "usb 1-1234: device descriptor read/64, error -110",
            "usb usb0: USB disconnect, device number 1",
            "usb usb1-port0: over-current condition",
        ] {
            assert_eq!(c(m), None, "{m:?}");
        }
    }

    #[test]
    fn error_codes() {
        assert_eq!(
            error_code("device descriptor read/64, error -71"),
            Some("71")
        );
        assert_eq!(error_code("cannot reset (err = -32)"), Some("32"));
        assert_eq!(error_code("(error=-110)"), Some("110"));
        assert_eq!(error_code("read error: -EPROTO"), Some("EPROTO"));
        assert_eq!(error_code("resubmit --> -71"), Some("71"));
        assert_eq!(error_code("over-current change #1"), None);
        assert_eq!(error_code("device number 4"), None);
        assert_eq!(error_code("error -99999"), None);
        assert_eq!(
            error_code("Failed to set U1 timeout to 0x7f,error code -32"),
            Some("32")
        );
        assert_eq!(
            c("usb 1-1: Failed to set U1 timeout to 0x7f,error code -32"),
            some("1-1", "protocol")
        );
        assert_eq!(
            c("usb 1-1: Failed to set U2 timeout to 0xff, which is a reserved value."),
            None
        );
    }

    #[test]
    fn port_names() {
        assert_eq!(port_of("usb", "usb1").as_deref(), Some("usb1"));
        assert_eq!(port_of("usb", "1-2.3").as_deref(), Some("1-2.3"));
        assert_eq!(port_of("usb", "usb2-port10").as_deref(), Some("2-10"));
        assert_eq!(port_of("usb", "1-2.3-port4").as_deref(), Some("1-2.3.4"));
        assert_eq!(port_of("hub", "1-0:1.0").as_deref(), Some("usb1"));
        assert_eq!(port_of("btusb", "1-10:1.0").as_deref(), Some("1-10"));
        assert_eq!(port_of("at24", "1-0050"), None);
        assert_eq!(port_of("usb", "1-2:x.0"), None);
        assert_eq!(port_of("usb", "usbx-port1"), None);
        assert_eq!(port_of("usb", "\u{fffd}\u{fffd}"), None);
    }

    #[test]
    fn garbage_never_panics() {
        let junk = [
            "usb \u{0}\u{1}: -",
            "hub 1-0:1.0: port ",
            "hub 1-0:1.0: port 99999 over-current",
            "usb 1-1: error -",
            "usb 1-1: \u{fffd}error -1\u{fffd}",
            "usb 1-1:: error --110",
        ];
        for m in junk {
            let _ = classify(m);
        }
        let long = format!("usb 1-1: {} error -110", "x".repeat(100_000));
        assert_eq!(c(&long), some("1-1", "timeout"));
    }
}
