//! The USB device inventory from `<sysfs>/bus/usb/devices` (Documentation/ABI/stable/sysfs-bus-usb
//! and testing/sysfs-bus-usb): one [`Device`] per device directory, root hubs included, with each
//! attribute checked and device-supplied strings made safe for a label.

use std::io;
use std::path::Path;

use super::classify::{is_device_path, is_root_hub};
use crate::collector::{sorted_dir_entries, CollectError, Roots};

/// Device strings (manufacturer, product) are cut to this many characters for the label.
const MAX_STRING_CHARS: usize = 128;

/// One USB device as sysfs describes it. Fields that could not be read or made no sense are empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Device {
    /// The sysfs name: `1-2.3`, or `usb1` for a root hub.
    pub port: String,
    pub bus: String,
    pub devnum: String,
    pub vendor_id: String,
    pub product_id: String,
    pub manufacturer: String,
    pub product: String,
    pub serial: String,
    pub speed: String,
    pub class: String,
    pub version: String,
}

/// What identifies one attachment of a device, for telling connects and disconnects apart.
pub type DeviceKey = (String, String, String, String, String);

impl Device {
    pub fn key(&self) -> DeviceKey {
        (
            self.port.clone(),
            self.devnum.clone(),
            self.vendor_id.clone(),
            self.product_id.clone(),
            self.serial.clone(),
        )
    }

    /// The bus number: from `busnum`, or from the name if `busnum` was unusable.
    pub(super) fn bus_number(&self) -> Option<u32> {
        self.bus.parse().ok().or_else(|| {
            let name = self.port.strip_prefix("usb").unwrap_or(&self.port);
            name.split('-').next()?.parse().ok()
        })
    }
}

/// A decimal number attribute (`busnum`, `devnum`).
pub fn parse_number(s: &str) -> Option<String> {
    let s = s.trim();
    s.parse::<u32>().ok().map(|n| n.to_string())
}

/// A hex attribute of a fixed width (`idVendor` "046d", `bDeviceClass` "09"), in lower case.
pub fn parse_hex(s: &str, width: usize) -> Option<String> {
    let s = s.trim();
    (s.len() == width && s.bytes().all(|b| b.is_ascii_hexdigit())).then(|| s.to_ascii_lowercase())
}

/// `speed`: Mbit/s as the kernel writes it ("1.5", "480", "20000"), "unknown", or the old
/// wireless USB range "53.3-480".
pub fn parse_speed(s: &str) -> Option<String> {
    let s = s.trim();
    let numeric = !s.is_empty()
        && s.len() <= 16
        && s.bytes().next().is_some_and(|b| b.is_ascii_digit())
        && s.bytes()
            .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-');
    (numeric || s == "unknown").then(|| s.to_string())
}

/// `version`: the device's bcdUSB, printed "%2x.%02x" (" 2.00", " 3.20"), trimmed.
pub fn parse_version(s: &str) -> Option<String> {
    let s = s.trim();
    let (major, minor) = s.split_once('.')?;
    let hex = |p: &str| p.bytes().all(|b| b.is_ascii_hexdigit());
    ((1..=2).contains(&major.len()) && minor.len() == 2 && hex(major) && hex(minor))
        .then(|| s.to_string())
}

/// A string the device supplies (manufacturer, product, serial): any bytes at all, so made valid
/// UTF-8, stripped of control characters and surrounding blanks, and cut to a sane length.
pub fn clean_string(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw)
        .chars()
        .filter(|c| !c.is_control())
        .collect::<String>()
        .trim()
        .chars()
        .take(MAX_STRING_CHARS)
        .collect::<String>()
        // Cutting may end the string at a blank: trim again.
        .trim_end()
        .to_string()
}

/// Reads an attribute's bytes; `None` if it does not exist.
fn read_attr(path: &Path) -> io::Result<Option<Vec<u8>>> {
    use std::io::Read;
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut buf = Vec::with_capacity(64);
    file.take(4096).read_to_end(&mut buf)?;
    Ok(Some(buf))
}

/// Reads one device directory. Returns `None` if the device went away while being read (it was
/// unplugged after the listing), and the first problem with its attributes, if any.
pub fn read_device(dir: &Path, name: &str) -> (Option<Device>, Option<CollectError>) {
    let mut device = Device {
        port: name.to_string(),
        ..Device::default()
    };
    let mut error = None;
    // Attributes every device has, and how each is checked.
    type Check = fn(&str) -> Option<String>;
    let required: [(&str, &str, Check, &mut String); 7] = [
        ("busnum", "a decimal number", parse_number, &mut device.bus),
        (
            "devnum",
            "a decimal number",
            parse_number,
            &mut device.devnum,
        ),
        (
            "idVendor",
            "4 hex digits",
            |s| parse_hex(s, 4),
            &mut device.vendor_id,
        ),
        (
            "idProduct",
            "4 hex digits",
            |s| parse_hex(s, 4),
            &mut device.product_id,
        ),
        ("speed", "a speed in Mbit/s", parse_speed, &mut device.speed),
        (
            "bDeviceClass",
            "2 hex digits",
            |s| parse_hex(s, 2),
            &mut device.class,
        ),
        (
            "version",
            "a version such as 2.00",
            parse_version,
            &mut device.version,
        ),
    ];
    let mut missing = false;
    for (attr, expected, parse, field) in required {
        let path = dir.join(attr);
        match read_attr(&path) {
            Ok(Some(raw)) => {
                let text = String::from_utf8_lossy(&raw);
                match parse(&text) {
                    Some(v) => *field = v,
                    None => {
                        error.get_or_insert_with(|| {
                            CollectError::parse(
                                &path,
                                format!("expected {expected}, found {:?}", text.trim()),
                            )
                        });
                    }
                }
            }
            Ok(None) => missing = true,
            Err(e) => {
                error.get_or_insert_with(|| CollectError::io(&path, e));
            }
        }
    }
    // A required attribute missing, and nothing else wrong, means the device is being added or
    // removed right now: sysfs shows its directory a moment before its attributes exist and
    // after they are gone. Skip it this sample; the next one sees it whole or not at all.
    // (Missing attributes next to garbage ones are damage, reported with the garbage.)
    if missing && error.is_none() {
        tracing::debug!(device = name, "USB device incomplete, skipped this sample");
        return (None, None);
    }
    if missing && !dir.is_dir() {
        return (None, None);
    }
    // Strings exist only if the device has them; an unreadable one is left empty.
    for (attr, field) in [
        ("manufacturer", &mut device.manufacturer),
        ("product", &mut device.product),
        ("serial", &mut device.serial),
    ] {
        if let Ok(Some(raw)) = read_attr(&dir.join(attr)) {
            *field = clean_string(&raw);
        }
    }
    (Some(device), error)
}

/// Every device under `<sysfs>/bus/usb/devices`, in name order, and the first problem met.
/// `Ok(empty)` on a machine without USB.
pub fn inventory(roots: &Roots) -> Result<(Vec<Device>, Option<CollectError>), CollectError> {
    let dir = roots.sys("bus/usb/devices");
    let entries = match sorted_dir_entries(&dir) {
        Ok(e) => e,
        Err(CollectError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
            return Ok((Vec::new(), None));
        }
        Err(e) => return Err(e),
    };
    let mut devices = Vec::new();
    let mut first_error = None;
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        // Interfaces ("1-2:1.0") and anything that is not a device name are skipped.
        if !(is_root_hub(&name) || is_device_path(&name)) {
            continue;
        }
        let (device, error) = read_device(&entry.path(), &name);
        if first_error.is_none() {
            first_error = error;
        }
        devices.extend(device);
    }
    Ok((devices, first_error))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_parsers() {
        assert_eq!(parse_number("12\n").as_deref(), Some("12"));
        assert_eq!(parse_number("abc"), None);
        assert_eq!(parse_number("-1"), None);
        assert_eq!(parse_hex("046D\n", 4).as_deref(), Some("046d"));
        assert_eq!(parse_hex("46d", 4), None);
        assert_eq!(parse_hex("zzzz", 4), None);
        assert_eq!(parse_hex("09", 2).as_deref(), Some("09"));
        for ok in [
            "1.5", "12", "480", "5000", "10000", "20000", "unknown", "53.3-480",
        ] {
            assert_eq!(parse_speed(ok).as_deref(), Some(ok));
        }
        for bad in ["", "fast", "-1", ".5", "480 Mbps", "1234567890123456789"] {
            assert_eq!(parse_speed(bad), None, "{bad:?}");
        }
        assert_eq!(parse_version(" 2.00\n").as_deref(), Some("2.00"));
        assert_eq!(parse_version(" 3.20").as_deref(), Some("3.20"));
        assert_eq!(parse_version("10.00").as_deref(), Some("10.00"));
        for bad in ["", "2", "2.0", "garbage", "123.00", "2.000", "x.00"] {
            assert_eq!(parse_version(bad), None, "{bad:?}");
        }
        assert_eq!(clean_string(b" SanDisk 3.2Gen1\n"), "SanDisk 3.2Gen1");
        assert_eq!(
            clean_string(b"\xff\xfe\x00\x1bACME\x07 Corp\xc3\x28"),
            "\u{fffd}\u{fffd}ACME Corp\u{fffd}("
        );
        assert_eq!(clean_string(&[b'a'; 1000]).len(), MAX_STRING_CHARS);
    }
}
