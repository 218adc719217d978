//! `nvme`: NVMe controllers from `<sysfs>/class/nvme/<name>/` (Documentation/ABI/testing/
//! sysfs-class-nvme), as node_exporter's `nvme_linux.go` exports them: one
//! `node_nvme_info{device,firmware_revision,model,serial,state}` 1 per controller.
//!
//! Each of `firmware_rev`, `model`, `serial` and `state` is read with white space trimmed (the
//! controller pads `model` and `serial` with spaces). A controller missing one of them, or one that
//! cannot be read, fails the collector; node_exporter then publishes nothing, sysmon publishes the
//! controllers that were read and names the file. No `<sysfs>/class/nvme` (no NVMe driver loaded)
//! is no data.

use std::path::Path;

use super::{
    sorted_dir_entries_if_present, AttrDir, BuildContext, CollectError, Collector, Registration,
    Roots,
};
use crate::metrics::MetricSet;

pub const REGISTRATION: Registration = Registration {
    name: "nvme",
    default_enabled: true,
    help: "NVMe controllers from /sys/class/nvme",
    flags: super::no_flags,
    cadence: super::Cadence::Slow,
    isolation: super::Isolation::Inline,
    build,
};

fn build(ctx: &BuildContext) -> Result<Box<dyn Collector>, String> {
    Ok(Box::new(NvmeCollector {
        roots: ctx.roots.clone(),
    }))
}

pub struct NvmeCollector {
    roots: Roots,
}

/// The attributes read, in the order of the info labels after `device`.
const ATTRIBUTES: [(&str, &str); 4] = [
    ("firmware_rev", "firmware_revision"),
    ("model", "model"),
    ("serial", "serial"),
    ("state", "state"),
];

/// One controller's identity.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NvmeController {
    pub firmware_revision: String,
    pub model: String,
    pub serial: String,
    pub state: String,
}

/// The value of a sysfs attribute as node_exporter reads it: the bytes as text, white space
/// trimmed at both ends.
pub fn attribute_value(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).trim().to_string()
}

/// Reads one controller directory.
pub fn read_controller(path: &Path) -> Result<NvmeController, CollectError> {
    let dir = AttrDir::open(path);
    let mut values: [String; 4] = Default::default();
    for (slot, (file, _)) in values.iter_mut().zip(ATTRIBUTES) {
        let bytes = dir
            .read(file)
            .map_err(|e| CollectError::io(path.join(file), e))?;
        *slot = attribute_value(&bytes);
    }
    let [firmware_revision, model, serial, state] = values;
    Ok(NvmeController {
        firmware_revision,
        model,
        serial,
        state,
    })
}

impl Collector for NvmeCollector {
    fn collect(&self, out: &mut MetricSet) -> Result<(), CollectError> {
        let class = self.roots.sys("class/nvme");
        let Some(entries) = sorted_dir_entries_if_present(&class)? else {
            return Ok(());
        };
        let mut first_error = None;
        for entry in entries {
            let name = entry.file_name().to_string_lossy().into_owned();
            match read_controller(&entry.path()) {
                Ok(c) => {
                    out.gauge(
                        "node_nvme_info",
                        "Non-numeric data from /sys/class/nvme/<device>, value is always 1.",
                    )
                    .sample(
                        &[
                            ("device", &name),
                            ("firmware_revision", &c.firmware_revision),
                            ("model", &c.model),
                            ("serial", &c.serial),
                            ("state", &c.state),
                        ],
                        1.0,
                    );
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::fixture_roots;
    use proptest::prelude::*;

    fn collect(machine: &str) -> (MetricSet, Result<(), CollectError>) {
        let mut out = MetricSet::new();
        let r = NvmeCollector {
            roots: fixture_roots(machine),
        }
        .collect(&mut out);
        (out, r)
    }

    fn label<'a>(labels: &'a [(crate::metrics::LabelName, String)], name: &str) -> &'a str {
        labels
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no label {name} in {labels:?}"))
    }

    #[test]
    fn laptop_controller_with_padding_trimmed() {
        let (out, r) = collect("laptop");
        r.unwrap();
        let info = out.get("node_nvme_info").unwrap();
        assert_eq!(info.samples.len(), 1);
        let l = &info.samples[0].labels;
        assert_eq!(label(l, "device"), "nvme0");
        assert_eq!(label(l, "model"), "Samsung SSD 980 PRO 1TB");
        assert_eq!(label(l, "serial"), "S5GXNX0T412345K");
        assert_eq!(label(l, "firmware_revision"), "5B2QGXA7");
        assert_eq!(label(l, "state"), "live");
    }

    #[test]
    fn server_and_vm_have_none() {
        for machine in ["server", "vm"] {
            let (out, r) = collect(machine);
            r.unwrap();
            assert_eq!(out.sample_count(), 0, "{machine}");
        }
    }

    #[test]
    fn broken_publishes_the_complete_controller_and_fails() {
        let (out, r) = collect("broken");
        let err = r.unwrap_err().to_string();
        assert!(err.contains("nvme1") && err.contains("serial"), "{err}");
        assert_eq!(out.get("node_nvme_info").unwrap().samples.len(), 1);
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = attribute_value(&bytes);
        }

        #[test]
        fn padded_values_parse_back(v in "[A-Za-z0-9][A-Za-z0-9 ._-]{0,30}[A-Za-z0-9]", pad in 0usize..8) {
            let text = format!("{v}{}\n", " ".repeat(pad));
            prop_assert_eq!(attribute_value(text.as_bytes()), v);
        }
    }
}
