//! `dmi`: the machine's identity from the DMI/SMBIOS tables the kernel shows in
//! `<sysfs>/class/dmi/id/` (drivers/firmware/dmi-id.c; the SMBIOS
//! specification's system, baseboard, chassis and BIOS structures), as node_exporter's `dmi.go` exports it: one `node_dmi_info` 1
//! labelled by every attribute the kernel shows, among `bios_date`, `bios_release`, `bios_vendor`,
//! `bios_version`, `board_asset_tag`, `board_name`, `board_serial`, `board_vendor`,
//! `board_version`, `chassis_asset_tag`, `chassis_serial`, `chassis_vendor`, `chassis_version`,
//! `product_family`, `product_name`, `product_serial`, `product_sku`, `product_uuid`,
//! `product_version` and `system_vendor` (the file `sys_vendor`).
//!
//! Values are trimmed, and bytes that are not UTF-8 become U+FFFD (one per run, as Go's
//! `strings.ToValidUTF8`). The serial numbers and the UUID are readable by root only: an
//! attribute that cannot be read for lack of permission is left out, as node_exporter does; any
//! other read error fails the collector (node_exporter then refuses to start). Only regular files
//! count (not `power/`, `subsystem`), nor `modalias` and `uevent`. Without `<sysfs>/class/dmi`
//! (no DMI on this platform) there is no data. The tables do not change until the next boot, so
//! a complete read is kept and not repeated.

use std::io::ErrorKind;
use std::path::Path;
use std::sync::OnceLock;

use super::{
    sorted_dir_entries_if_present, BuildContext, CollectError, Collector, Registration, Roots,
};
use crate::metrics::MetricSet;

pub const REGISTRATION: Registration = Registration {
    name: "dmi",
    default_enabled: true,
    help: "DMI (SMBIOS) machine identity from /sys/class/dmi/id",
    flags: super::no_flags,
    cadence: super::Cadence::Slow,
    isolation: super::Isolation::Inline,
    build,
};

fn build(ctx: &BuildContext) -> Result<Box<dyn Collector>, String> {
    Ok(Box::new(DmiCollector {
        roots: ctx.roots.clone(),
        labels: OnceLock::new(),
    }))
}

pub struct DmiCollector {
    roots: Roots,
    /// The label pairs of the first complete read.
    labels: OnceLock<Vec<(&'static str, String)>>,
}

/// Files of `class/dmi/id` that node_exporter exports, with their label names, sorted by label.
pub const ATTRIBUTES: [(&str, &str); 20] = [
    ("bios_date", "bios_date"),
    ("bios_release", "bios_release"),
    ("bios_vendor", "bios_vendor"),
    ("bios_version", "bios_version"),
    ("board_asset_tag", "board_asset_tag"),
    ("board_name", "board_name"),
    ("board_serial", "board_serial"),
    ("board_vendor", "board_vendor"),
    ("board_version", "board_version"),
    ("chassis_asset_tag", "chassis_asset_tag"),
    ("chassis_serial", "chassis_serial"),
    ("chassis_vendor", "chassis_vendor"),
    ("chassis_version", "chassis_version"),
    ("product_family", "product_family"),
    ("product_name", "product_name"),
    ("product_serial", "product_serial"),
    ("product_sku", "product_sku"),
    ("product_uuid", "product_uuid"),
    ("product_version", "product_version"),
    ("sys_vendor", "system_vendor"),
];

/// Text from bytes as Go's `strings.ToValidUTF8(s, "\u{FFFD}")`: each run of bytes that are not
/// valid UTF-8 becomes one replacement character.
pub fn valid_utf8(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    let mut rest = bytes;
    let mut in_invalid_run = false;
    while !rest.is_empty() {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                out.push_str(s);
                break;
            }
            Err(e) => {
                let (good, bad) = rest.split_at(e.valid_up_to());
                if !good.is_empty() {
                    // Safe: `valid_up_to` bytes are valid UTF-8.
                    out.push_str(std::str::from_utf8(good).unwrap_or_default());
                    in_invalid_run = false;
                }
                let skip = e.error_len().unwrap_or(bad.len());
                if !in_invalid_run {
                    out.push('\u{FFFD}');
                    in_invalid_run = true;
                }
                rest = &bad[skip..];
            }
        }
    }
    out
}

/// A DMI attribute's value: trimmed, made valid UTF-8.
pub fn attribute_value(bytes: &[u8]) -> String {
    valid_utf8(bytes).trim().to_string()
}

/// Reads the DMI directory: `Ok(None)` if it does not exist, else the label pairs (sorted by
/// label name) of the attributes that could be read.
pub fn read_dmi(dir: &Path) -> Result<Option<Vec<(&'static str, String)>>, CollectError> {
    let Some(entries) = sorted_dir_entries_if_present(dir)? else {
        return Ok(None);
    };
    let mut labels = Vec::with_capacity(ATTRIBUTES.len());
    for entry in entries {
        if !entry.file_type().is_ok_and(|t| t.is_file()) {
            continue;
        }
        let file = entry.file_name();
        let Some((_, label)) = ATTRIBUTES
            .iter()
            .find(|(f, _)| file.as_encoded_bytes() == f.as_bytes())
        else {
            continue;
        };
        let path = entry.path();
        match crate::collector::read_bytes(&path) {
            Ok(bytes) => labels.push((*label, attribute_value(&bytes))),
            Err(e) if e.kind() == ErrorKind::PermissionDenied => continue,
            Err(e) => return Err(CollectError::io(path, e)),
        }
    }
    labels.sort_by_key(|(label, _)| *label);
    Ok(Some(labels))
}

impl Collector for DmiCollector {
    fn collect(&self, out: &mut MetricSet) -> Result<(), CollectError> {
        let labels = match self.labels.get() {
            Some(labels) => labels,
            None => match read_dmi(&self.roots.sys("class/dmi/id"))? {
                Some(labels) => self.labels.get_or_init(|| labels),
                None => return Ok(()),
            },
        };
        if labels.is_empty() {
            return Ok(());
        }
        let pairs: Vec<(&'static str, &str)> =
            labels.iter().map(|(k, v)| (*k, v.as_str())).collect();
        out.gauge(
            "node_dmi_info",
            "A metric with a constant '1' value labeled by the DMI attributes of the machine \
             (bios_date, bios_release, bios_vendor, bios_version, board_asset_tag, board_name, \
             board_serial, board_vendor, board_version, chassis_asset_tag, chassis_serial, \
             chassis_vendor, chassis_version, product_family, product_name, product_serial, \
             product_sku, product_uuid, product_version, system_vendor) the kernel provides.",
        )
        .sample(&pairs, 1.0);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::fixture_roots;
    use proptest::prelude::*;

    fn collect(machine: &str) -> (MetricSet, Result<(), CollectError>) {
        let mut out = MetricSet::new();
        let r = DmiCollector {
            roots: fixture_roots(machine),
            labels: OnceLock::new(),
        }
        .collect(&mut out);
        (out, r)
    }

    fn labels(out: &MetricSet) -> Vec<(String, String)> {
        out.get("node_dmi_info").unwrap().samples[0]
            .labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn laptop_thinkpad() {
        let (out, r) = collect("laptop");
        r.unwrap();
        let l = labels(&out);
        assert!(
            l.contains(&("system_vendor".into(), "LENOVO".into())),
            "{l:?}"
        );
        assert!(
            l.contains(&("bios_version".into(), "N32ET91W (1.67 )".into())),
            "{l:?}"
        );
        assert!(
            l.contains(&("product_family".into(), "ThinkPad X1 Carbon Gen 9".into())),
            "{l:?}"
        );
        // chassis_type, ec_firmware_release, modalias and uevent are not labels.
        assert!(
            !l.iter()
                .any(|(k, _)| k == "chassis_type" || k == "modalias"),
            "{l:?}"
        );
    }

    #[test]
    fn server_keeps_empty_values_and_vm_is_qemu() {
        let (out, r) = collect("server");
        r.unwrap();
        assert!(labels(&out).contains(&("product_version".into(), String::new())));
        let (out, r) = collect("vm");
        r.unwrap();
        assert!(labels(&out).contains(&("system_vendor".into(), "QEMU".into())));
    }

    #[test]
    fn broken_values_are_made_valid() {
        let (out, r) = collect("broken");
        r.unwrap();
        let l = labels(&out);
        assert!(
            l.contains(&("board_vendor".into(), "Gigabyte\u{FFFD}Tech".into())),
            "{l:?}"
        );
        assert!(l.contains(&("bios_version".into(), "F12".into())), "{l:?}");
    }

    #[test]
    fn no_dmi_directory_is_no_data() {
        let mut out = MetricSet::new();
        let roots = Roots {
            sysfs: std::path::PathBuf::from("/nonexistent-sysmon-test"),
            ..fixture_roots("vm")
        };
        DmiCollector {
            roots,
            labels: OnceLock::new(),
        }
        .collect(&mut out)
        .unwrap();
        assert_eq!(out.sample_count(), 0);
    }

    #[test]
    fn unreadable_attributes_are_left_out() {
        use std::os::unix::fs::PermissionsExt;
        if rustix::process::geteuid().is_root() {
            // Permissions do not stop root: nothing to test.
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("sys_vendor"), "ACME\n").unwrap();
        let serial = dir.path().join("product_serial");
        std::fs::write(&serial, "SECRET\n").unwrap();
        std::fs::set_permissions(&serial, std::fs::Permissions::from_mode(0o000)).unwrap();
        let l = read_dmi(dir.path()).unwrap().unwrap();
        assert_eq!(l, vec![("system_vendor", "ACME".to_string())]);
    }

    #[test]
    fn invalid_runs_collapse() {
        assert_eq!(valid_utf8(b"a\xff\xfe\xfdb"), "a\u{FFFD}b");
        assert_eq!(valid_utf8(b"\xffa\xff"), "\u{FFFD}a\u{FFFD}");
        assert_eq!(valid_utf8("é".as_bytes()), "é");
        assert_eq!(valid_utf8(b"\xc3"), "\u{FFFD}");
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let v = attribute_value(&bytes);
            let doubled = v.contains("\u{FFFD}\u{FFFD}");
            let had_replacement = bytes.windows(3).any(|w| w == "\u{FFFD}".as_bytes());
            prop_assert!(!doubled || had_replacement);
        }

        #[test]
        fn valid_text_parses_back(v in "[^\\s]([^\\n]{0,30}[^\\s])?") {
            prop_assert_eq!(attribute_value(format!("  {v}\n").as_bytes()), v);
        }
    }
}
