//! Reading a hwmon chip from sysfs: its sensors' attribute files (`<type><n>_<property>`,
//! Documentation/hwmon/sysfs-interface.rst), and the names node_exporter gives chips and sensors.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::collector::{sorted_dir_entries, CollectError};

/// Sensor types node_exporter reads; files of any other type are ignored.
const SENSOR_TYPES: &[&str] = &[
    "vrm",
    "beep_enable",
    "update_interval",
    "in",
    "cpu",
    "fan",
    "pwm",
    "temp",
    "curr",
    "power",
    "energy",
    "humidity",
    "intrusion",
    "freq",
];

/// sysfs attributes are at most a page long; reading once with a page-sized buffer is what the
/// kernel serves in one go, and never spins on a driver that keeps answering EAGAIN.
const MAX_ATTRIBUTE_BYTES: usize = 4096;

/// The attribute files of one sensor (`temp1`, `fan2`, ...): property ("input", "max", "label",
/// "" for a bare `pwm1`) to file content.
#[derive(Debug, Default, PartialEq)]
pub struct SensorData {
    pub kind: &'static str,
    pub props: BTreeMap<String, String>,
    /// The file each property was read from (the temperature signal reads it again).
    pub files: BTreeMap<String, PathBuf>,
}

/// Splits an attribute file name into (type, number, property) as node_exporter's
/// `^(?P<type>[^0-9]+)(?P<id>[0-9]*)?(_(?P<property>.+))?$` does: the type is everything before
/// the first digit (the whole name when there is none), the number the digits after it (0 when
/// absent), and the property whatever follows the next underscore. Returns None for names the
/// pattern rejects (`temp1input`, `temp1_`, a number too large for an i64).
pub fn explode_sensor_filename(name: &str) -> Option<(&str, i64, &str)> {
    let type_end = name
        .find(|c: char| c.is_ascii_digit())
        .unwrap_or(name.len());
    if type_end == 0 {
        return None;
    }
    let (kind, rest) = name.split_at(type_end);
    let digits_end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let (digits, rest) = rest.split_at(digits_end);
    let num = if digits.is_empty() {
        0
    } else {
        digits.parse::<i64>().ok()?
    };
    let property = match rest.strip_prefix('_') {
        Some(p) if !p.is_empty() => p,
        None if rest.is_empty() => "",
        _ => return None,
    };
    Some((kind, num, property))
}

/// Reads every attribute of a known sensor type in `dir` into `sensors`, keyed by type and number
/// ("temp1"). Attributes that cannot be read are left out; only an unreadable directory fails.
pub fn collect_sensor_files(
    dir: &Path,
    sensors: &mut BTreeMap<String, SensorData>,
) -> Result<(), CollectError> {
    for entry in sorted_dir_entries(dir)? {
        let file_name = entry.file_name();
        let Some(file_name) = file_name.to_str() else {
            continue;
        };
        let Some((kind, num, property)) = explode_sensor_filename(file_name) else {
            continue;
        };
        let Some(kind) = SENSOR_TYPES.iter().copied().find(|t| *t == kind) else {
            continue;
        };
        let Some(value) = read_attribute(&entry.path()) else {
            continue;
        };
        let data = sensors.entry(format!("{kind}{num}")).or_default();
        data.kind = kind;
        data.props.insert(property.to_string(), value);
        data.files.insert(property.to_string(), entry.path());
    }
    Ok(())
}

/// One attribute's content without surrounding newlines, invalid UTF-8 replaced; None when the
/// read fails (a directory such as `power/`, EIO, ENODATA, EAGAIN, permission denied).
fn read_attribute(path: &Path) -> Option<String> {
    let file = std::fs::File::open(path).ok()?;
    let mut buf = Vec::with_capacity(128);
    file.take(MAX_ATTRIBUTE_BYTES as u64)
        .read_to_end(&mut buf)
        .ok()?;
    let start = buf.iter().position(|&b| b != b'\n').unwrap_or(buf.len());
    let end = buf
        .iter()
        .rposition(|&b| b != b'\n')
        .map_or(start, |i| i + 1);
    Some(to_valid_utf8(buf.get(start..end).unwrap_or_default()))
}

/// The `chip` label: stable across reboots, unlike the hwmonN number. In order of preference:
/// the parent device as "<parent dir>_<device dir>" (`platform_coretemp_0`, `nvme_nvme0`,
/// `thermal_thermal_zone0`), the driver's `name`, the hwmonN directory name.
pub fn chip_label(dir: &Path) -> Result<String, CollectError> {
    if let Ok(device) = std::fs::canonicalize(dir.join("device")) {
        let dev_name = device
            .file_name()
            .map(|n| clean_metric_name(n.as_encoded_bytes()));
        let dev_type = device
            .parent()
            .and_then(Path::file_name)
            .map(|n| clean_metric_name(n.as_encoded_bytes()));
        match (dev_type, dev_name) {
            (Some(t), Some(n)) if !t.is_empty() && !n.is_empty() => return Ok(format!("{t}_{n}")),
            (_, Some(n)) if !n.is_empty() => return Ok(n),
            _ => {}
        }
    }
    if let Some(name) = human_chip_name(dir) {
        return Ok(name);
    }
    let real = std::fs::canonicalize(dir).map_err(|e| CollectError::io(dir, e))?;
    real.file_name()
        .map(|n| clean_metric_name(n.as_encoded_bytes()))
        .filter(|n| !n.is_empty())
        .ok_or_else(|| {
            CollectError::Other(format!(
                "could not derive a chip name for {}",
                dir.display()
            ))
        })
}

/// What names one chip directory: its [`chip_label`], its [`human_chip_name`] and the name of its
/// `hwmonN` directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChipNaming {
    pub base: String,
    pub human: Option<String>,
    pub dir_name: String,
}

impl ChipNaming {
    /// Reads the naming of the chip at `dir` (an entry of `<sysfs>/class/hwmon`).
    pub fn read(dir: &Path) -> Result<ChipNaming, CollectError> {
        Ok(ChipNaming {
            base: chip_label(dir)?,
            human: human_chip_name(dir),
            dir_name: dir
                .file_name()
                .map(|n| clean_metric_name(n.as_encoded_bytes()))
                .unwrap_or_default(),
        })
    }
}

/// The `chip` label of every chip, as node_exporter 1.12 gives it (its "disambiguate colliding
/// chip labels" change). A driver may register several hwmon devices under one parent device
/// (`asus-nb-wmi` registers two; mt76 Wi-Fi cards one per band under the same `ieee80211/phyN`),
/// and [`chip_label`] then gives them all the same label. A label used by one chip only is kept;
/// a shared one gets a suffix: `_<name file>` when no other chip of the group has that name, else
/// `_<hwmonN>` (unique within a boot). The result is in the order of `chips`.
pub fn disambiguate(chips: &[ChipNaming]) -> Vec<String> {
    let mut groups: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, chip) in chips.iter().enumerate() {
        groups.entry(chip.base.as_str()).or_default().push(i);
    }
    chips
        .iter()
        .enumerate()
        .map(|(i, chip)| {
            let group = &groups[chip.base.as_str()];
            if group.len() < 2 {
                return chip.base.clone();
            }
            let unique_human = chip.human.as_ref().filter(|human| {
                group
                    .iter()
                    .all(|&j| j == i || chips[j].human.as_ref() != Some(*human))
            });
            match unique_human {
                Some(human) => format!("{}_{human}", chip.base),
                None if chip.dir_name.is_empty() => chip.base.clone(),
                None => format!("{}_{}", chip.base, chip.dir_name),
            }
        })
        .collect()
}

/// The driver's name for the chip (`coretemp`, `nvme`, `nct6779`), from the chip's `name` file.
pub fn human_chip_name(dir: &Path) -> Option<String> {
    let raw = crate::collector::read_bytes(dir.join("name")).ok()?;
    Some(clean_metric_name(&raw)).filter(|n| !n.is_empty())
}

/// node_exporter's cleanMetricName: lower case, every character outside `[a-z0-9:_]` becomes
/// `_` (each invalid UTF-8 byte too, as Go decodes them one by one), leading and trailing `_` trimmed.
pub fn clean_metric_name(raw: &[u8]) -> String {
    let mut out = String::with_capacity(raw.len());
    for chunk in raw.utf8_chunks() {
        for c in chunk.valid().chars() {
            // Go lowers rune by rune; the first char is what it gets (İ lowers to i).
            let lower = c.to_lowercase().next().unwrap_or(c);
            let keep = lower.is_ascii_lowercase()
                || lower.is_ascii_digit()
                || lower == ':'
                || lower == '_';
            out.push(if keep { lower } else { '_' });
        }
        out.extend(std::iter::repeat_n('_', chunk.invalid().len()));
    }
    out.trim_matches('_').to_string()
}

/// Go's strings.ToValidUTF8(s, "\u{FFFD}"): each run of invalid bytes becomes one replacement
/// character (used for label values, which must be UTF-8).
fn to_valid_utf8(raw: &[u8]) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut in_invalid_run = false;
    for chunk in raw.utf8_chunks() {
        if !chunk.valid().is_empty() {
            out.push_str(chunk.valid());
            in_invalid_run = false;
        }
        if !chunk.invalid().is_empty() && !in_invalid_run {
            out.push('\u{FFFD}');
            in_invalid_run = true;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explodes_sensor_file_names_like_node_exporter() {
        assert_eq!(
            explode_sensor_filename("temp1_input"),
            Some(("temp", 1, "input"))
        );
        assert_eq!(
            explode_sensor_filename("temp10_crit_alarm"),
            Some(("temp", 10, "crit_alarm"))
        );
        assert_eq!(explode_sensor_filename("pwm1"), Some(("pwm", 1, "")));
        assert_eq!(
            explode_sensor_filename("in0_input"),
            Some(("in", 0, "input"))
        );
        assert_eq!(
            explode_sensor_filename("temp01_max"),
            Some(("temp", 1, "max"))
        );
        assert_eq!(
            explode_sensor_filename("update_interval"),
            Some(("update_interval", 0, ""))
        );
        assert_eq!(
            explode_sensor_filename("beep_enable"),
            Some(("beep_enable", 0, ""))
        );
        // No digit: the whole name is the type, as the greedy pattern makes it.
        assert_eq!(
            explode_sensor_filename("temp_input"),
            Some(("temp_input", 0, ""))
        );
        assert_eq!(explode_sensor_filename("power"), Some(("power", 0, "")));
        assert_eq!(
            explode_sensor_filename("trip_point_0_temp"),
            Some(("trip_point_", 0, "temp"))
        );
        assert_eq!(explode_sensor_filename("temp1input"), None);
        assert_eq!(explode_sensor_filename("temp1_"), None);
        assert_eq!(explode_sensor_filename("1temp"), None);
        assert_eq!(explode_sensor_filename(""), None);
        assert_eq!(
            explode_sensor_filename("temp99999999999999999999_input"),
            None
        );
    }

    #[test]
    fn cleans_names_like_node_exporter() {
        assert_eq!(clean_metric_name(b"coretemp\n"), "coretemp");
        assert_eq!(clean_metric_name(b"Package id 0"), "package_id_0");
        assert_eq!(clean_metric_name(b"coretemp.0"), "coretemp_0");
        assert_eq!(clean_metric_name(b"0000:00:06.0"), "0000:00:06_0");
        assert_eq!(clean_metric_name(b"LNXSYBUS:00"), "lnxsybus:00");
        assert_eq!(clean_metric_name(b"__--__"), "");
        assert_eq!(clean_metric_name("Ünit".as_bytes()), "nit");
        assert_eq!(clean_metric_name("KELVIN \u{212A}".as_bytes()), "kelvin_k");
        assert_eq!(clean_metric_name(b"a\xff\xfeb"), "a__b");
    }

    #[test]
    fn unreadable_attributes_are_left_out() {
        let dir = tempfile::tempdir().unwrap();
        // A read that fails (here EISDIR; on hardware EIO or ENODATA) drops only that attribute.
        std::fs::create_dir(dir.path().join("temp1_input")).unwrap();
        std::fs::create_dir(dir.path().join("power")).unwrap();
        std::fs::write(dir.path().join("temp1_max"), "\n90000\n").unwrap();
        std::fs::write(dir.path().join("temp1_label"), "CPU \n").unwrap();
        std::fs::write(dir.path().join("name"), "k10temp\n").unwrap();
        std::fs::write(dir.path().join("uevent"), "").unwrap();
        let mut sensors = BTreeMap::new();
        collect_sensor_files(dir.path(), &mut sensors).unwrap();
        assert_eq!(sensors.len(), 1);
        let temp1 = &sensors["temp1"];
        assert_eq!(temp1.kind, "temp");
        // Only newlines are trimmed, as node_exporter does.
        assert_eq!(temp1.props, props(&[("max", "90000"), ("label", "CPU ")]));
        assert!(collect_sensor_files(&dir.path().join("missing"), &mut sensors).is_err());
    }

    #[test]
    fn valid_utf8_replaces_runs_once() {
        assert_eq!(to_valid_utf8(b"Core 0"), "Core 0");
        assert_eq!(to_valid_utf8(b"a\xff\xfeb\xffc"), "a\u{FFFD}b\u{FFFD}c");
    }

    fn naming(base: &str, human: Option<&str>, dir_name: &str) -> ChipNaming {
        ChipNaming {
            base: base.to_string(),
            human: human.map(str::to_string),
            dir_name: dir_name.to_string(),
        }
    }

    #[test]
    fn unique_labels_are_kept_and_shared_ones_get_a_suffix() {
        let chips = [
            naming("platform_coretemp_0", Some("coretemp"), "hwmon0"),
            // asus-nb-wmi: two hwmon devices under one platform device, told apart by name.
            naming("platform_asus_nb_wmi", Some("asus"), "hwmon1"),
            naming(
                "platform_asus_nb_wmi",
                Some("asus_custom_fan_curve"),
                "hwmon2",
            ),
            // Same parent and same name: only the hwmonN directory tells them apart.
            naming("ieee80211_phy0", Some("mt7996_phy0"), "hwmon3"),
            naming("ieee80211_phy0", Some("mt7996_phy0"), "hwmon4"),
            naming("ieee80211_phy0", Some("mt7996_phy0_2"), "hwmon5"),
            naming("ieee80211_phy0", None, "hwmon6"),
        ];
        assert_eq!(
            disambiguate(&chips),
            [
                "platform_coretemp_0",
                "platform_asus_nb_wmi_asus",
                "platform_asus_nb_wmi_asus_custom_fan_curve",
                "ieee80211_phy0_hwmon3",
                "ieee80211_phy0_hwmon4",
                "ieee80211_phy0_mt7996_phy0_2",
                "ieee80211_phy0_hwmon6",
            ]
        );
        assert!(disambiguate(&[]).is_empty());
    }

    #[test]
    fn names_chips_from_their_parent_device() {
        let dir = tempfile::tempdir().unwrap();
        let phy = dir
            .path()
            .join("devices/pci0000:00/0000:00:14.3/ieee80211/phy0");
        let hwmon = phy.join("hwmon7");
        std::fs::create_dir_all(&hwmon).unwrap();
        std::os::unix::fs::symlink("../../phy0", hwmon.join("device")).unwrap();
        std::fs::write(hwmon.join("name"), "iwlwifi_1\n").unwrap();
        let naming = ChipNaming::read(&hwmon).unwrap();
        assert_eq!(naming.base, "ieee80211_phy0");
        assert_eq!(naming.human.as_deref(), Some("iwlwifi_1"));
        assert_eq!(naming.dir_name, "hwmon7");
        // No device link: the name file; neither: the directory name.
        let bare = dir.path().join("devices/virtual/hwmon/hwmon8");
        std::fs::create_dir_all(&bare).unwrap();
        assert_eq!(chip_label(&bare).unwrap(), "hwmon8");
        std::fs::write(bare.join("name"), "Virtual Sensor\n").unwrap();
        assert_eq!(chip_label(&bare).unwrap(), "virtual_sensor");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: 200,
            failure_persistence: None,
            ..Default::default()
        })]

        /// A label used once is kept; every chip of a shared label gets a distinct suffixed one.
        #[test]
        fn disambiguated_labels_are_distinct(
            chips in proptest::collection::vec(
                (0..4usize, proptest::option::of(0..3usize)),
                0..12,
            )
        ) {
            let chips: Vec<ChipNaming> = chips
                .iter()
                .enumerate()
                .map(|(i, (base, human))| ChipNaming {
                    base: format!("platform_chip{base}"),
                    human: human.map(|h| format!("name{h}")),
                    dir_name: format!("hwmon{i}"),
                })
                .collect();
            let labels = disambiguate(&chips);
            proptest::prop_assert_eq!(labels.len(), chips.len());
            for (i, (chip, label)) in chips.iter().zip(&labels).enumerate() {
                let shared = chips.iter().filter(|c| c.base == chip.base).count() > 1;
                if shared {
                    let suffix = label.strip_prefix(&format!("{}_", chip.base));
                    proptest::prop_assert!(suffix.is_some(), "{label}");
                } else {
                    proptest::prop_assert_eq!(label, &chip.base);
                }
                for other in &labels[i + 1..] {
                    proptest::prop_assert_ne!(label, other);
                }
            }
        }
    }

    fn props(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }
}
