//! hwmon: attribute file names, chip and sensor labels (cleaned into metric names) and attribute
//! values through node_exporter's naming and scaling rules.
//!
//! Input: the first line is an attribute file name, the second a label, every further line a
//! `property=value` pair of one sensor. The same lines, read as "<base> <name> <hwmonN>", are
//! the chips whose labels `disambiguate` makes.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use sysmon_exporter::collector::hwmon;

fn valid_name_part(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b':' || b == b'_')
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.split('\n');
    let file_name = lines.next().unwrap_or_default();
    let label = lines.next().unwrap_or_default();

    // Chip labels: every line a chip, "<base> <name> <dir>"; the labels keep their chips' order,
    // and a label is its base alone or the base with a suffix.
    let chips: Vec<hwmon::sysfs::ChipNaming> = text
        .split('\n')
        .map(|line| {
            let mut words = line.split(' ');
            hwmon::sysfs::ChipNaming {
                base: words.next().unwrap_or_default().to_string(),
                human: words.next().map(str::to_string).filter(|h| !h.is_empty()),
                dir_name: words.next().unwrap_or_default().to_string(),
            }
        })
        .collect();
    let labels = hwmon::sysfs::disambiguate(&chips);
    assert_eq!(labels.len(), chips.len());
    for (chip, label) in chips.iter().zip(&labels) {
        assert!(label.starts_with(&chip.base), "{chip:?} {label}");
    }

    let cleaned = hwmon::sysfs::clean_metric_name(data);
    assert!(valid_name_part(&cleaned), "{cleaned:?}");
    assert!(!cleaned.starts_with('_') && !cleaned.ends_with('_'));

    let kind = match hwmon::sysfs::explode_sensor_filename(file_name) {
        Some((kind, num, property)) => {
            assert!(!kind.is_empty() && num >= 0);
            assert!(file_name.starts_with(kind) && file_name.ends_with(property));
            kind
        }
        None => "temp",
    };
    let mut props = BTreeMap::new();
    props.insert("label".to_string(), label.to_string());
    for line in lines {
        let (property, value) = line.split_once('=').unwrap_or((line, ""));
        props.insert(property.to_string(), value.to_string());
    }
    for m in hwmon::sensor_metrics(kind, &props) {
        assert!(m.name.starts_with("node_hwmon_"), "{m:?}");
        if let Some(sensor) = &m.sensor {
            assert!(valid_name_part(sensor), "{m:?}");
        }
    }
});
