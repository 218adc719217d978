//! `dmmultipath`: device-mapper multipath maps from `<sysfs>/block/dm-*/` (Documentation/ABI/
//! testing/sysfs-block-dm, sysfs-block), as node_exporter 1.12's `dmmultipath_linux.go` exports
//! them (new in 1.12, **disabled by default** there and here). A map is a `dm-N` whose `dm/uuid`
//! starts with `mpath-`; its paths are the entries of its `slaves/`, each with the SCSI (`running`,
//! `offline`, `blocked`, `transport-offline`, ...) or NVMe (`live`, ...) state in
//! `<sysfs>/block/<path>/device/state`. Per map (`device` = `dm/name`, e.g. `mpatha`, and
//! `sysfs_name` = `dm-3`):
//!
//! * `node_dmmultipath_device_info{device,sysfs_name,uuid}` 1;
//! * `node_dmmultipath_device_active` (0 while `dm/suspended` is 1), `_device_size_bytes`
//!   (`size` in 512-byte sectors);
//! * `_device_paths`, `_device_paths_active` (state `running` or `live`), `_device_paths_failed`
//!   (any other state);
//! * `node_dmmultipath_path_state{device,path,state}` 1 per path.
//!
//! A `dm-N` without `dm/uuid` is not a device-mapper map and is skipped, as a map without
//! `slaves/` has no paths. No `<sysfs>/block` is no data. node_exporter reports any other missing
//! attribute as no data for the whole collector and any other error as a failure with nothing
//! published; sysmon publishes the maps read completely and fails naming the file.

use std::io::ErrorKind;
use std::path::Path;

use super::{sorted_dir_entries, BuildContext, CollectError, Collector, Registration, Roots};
use crate::metrics::MetricSet;

pub const REGISTRATION: Registration = Registration {
    name: "dmmultipath",
    default_enabled: false,
    help: "device-mapper multipath maps and their paths from /sys/block/dm-*",
    flags: super::no_flags,
    cadence: super::Cadence::Slow,
    isolation: super::Isolation::Thread,
    build,
};

fn build(ctx: &BuildContext) -> Result<Box<dyn Collector>, String> {
    Ok(Box::new(DmMultipathCollector {
        roots: ctx.roots.clone(),
    }))
}

pub struct DmMultipathCollector {
    roots: Roots,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultipathPath {
    pub device: String,
    pub state: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultipathMap {
    pub name: String,
    pub sysfs_name: String,
    pub uuid: String,
    pub suspended: bool,
    pub size_bytes: u64,
    pub paths: Vec<MultipathPath>,
}

/// A healthy, usable path: SCSI `running` or NVMe `live`.
pub fn path_is_active(state: &str) -> bool {
    state == "running" || state == "live"
}

/// Parses a sysfs unsigned integer as Go's `ReadUintFromFile` (white space trimmed, decimal).
pub fn parse_uint(text: &str) -> Option<u64> {
    let t = text.trim();
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    t.parse().ok()
}

fn read_attr(path: &Path) -> Result<String, CollectError> {
    crate::collector::read_text(path)
        .map(|s| s.trim().to_string())
        .map_err(|e| CollectError::io(path, e))
}

fn read_uint(path: &Path) -> Result<u64, CollectError> {
    let text = read_attr(path)?;
    parse_uint(&text).ok_or_else(|| {
        CollectError::parse(
            path,
            format!("expected an unsigned integer, found {text:?}"),
        )
    })
}

/// Reads `<block>/<sysfs_name>` if it is a multipath map (`Ok(None)` if it is not one).
pub fn read_map(block: &Path, sysfs_name: &str) -> Result<Option<MultipathMap>, CollectError> {
    let dev = block.join(sysfs_name);
    let uuid = match read_attr(&dev.join("dm/uuid")) {
        Ok(uuid) => uuid,
        Err(CollectError::Io { source, .. }) if source.kind() == ErrorKind::NotFound => {
            return Ok(None)
        }
        Err(e) => return Err(e),
    };
    if !uuid.starts_with("mpath-") {
        return Ok(None);
    }
    let name = read_attr(&dev.join("dm/name"))?;
    let suspended = read_uint(&dev.join("dm/suspended"))? == 1;
    let size_bytes = read_uint(&dev.join("size"))?.saturating_mul(512);
    let mut paths = Vec::new();
    match sorted_dir_entries(dev.join("slaves")) {
        Ok(entries) => {
            for entry in entries {
                let path = entry.file_name().to_string_lossy().into_owned();
                let state = read_attr(&block.join(&path).join("device/state"))?;
                paths.push(MultipathPath {
                    device: path,
                    state,
                });
            }
        }
        Err(CollectError::Io { source, .. }) if source.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    Ok(Some(MultipathMap {
        name,
        sysfs_name: sysfs_name.to_string(),
        uuid,
        suspended,
        size_bytes,
        paths,
    }))
}

/// Adds one map's series.
pub fn export_map(map: &MultipathMap, out: &mut MetricSet) {
    let labels = [
        ("device", map.name.as_str()),
        ("sysfs_name", map.sysfs_name.as_str()),
    ];
    out.gauge(
        "node_dmmultipath_device_info",
        "Identity of a device-mapper multipath map; always 1.",
    )
    .sample(
        &[
            ("device", map.name.as_str()),
            ("sysfs_name", map.sysfs_name.as_str()),
            ("uuid", map.uuid.as_str()),
        ],
        1.0,
    );
    out.gauge(
        "node_dmmultipath_device_active",
        "1 if the multipath map is active, 0 if it is suspended.",
    )
    .sample(&labels, if map.suspended { 0.0 } else { 1.0 });
    out.gauge(
        "node_dmmultipath_device_size_bytes",
        "Size of the multipath map in bytes (sysfs size times 512).",
    )
    .sample(&labels, map.size_bytes as f64);
    let active = map
        .paths
        .iter()
        .filter(|p| path_is_active(&p.state))
        .count();
    let family = out.gauge(
        "node_dmmultipath_path_state",
        "State of a path of a multipath map, from its device/state (running or live when usable); always 1.",
    );
    for p in &map.paths {
        family.sample(
            &[
                ("device", map.name.as_str()),
                ("path", p.device.as_str()),
                ("state", p.state.as_str()),
            ],
            1.0,
        );
    }
    out.gauge(
        "node_dmmultipath_device_paths",
        "Number of paths of the multipath map.",
    )
    .sample(&labels, map.paths.len() as f64);
    out.gauge(
        "node_dmmultipath_device_paths_active",
        "Number of paths of the multipath map in a usable state (SCSI running or NVMe live).",
    )
    .sample(&labels, active as f64);
    out.gauge(
        "node_dmmultipath_device_paths_failed",
        "Number of paths of the multipath map in any other state.",
    )
    .sample(&labels, (map.paths.len() - active) as f64);
}

impl Collector for DmMultipathCollector {
    fn collect(&self, out: &mut MetricSet) -> Result<(), CollectError> {
        let block = self.roots.sys("block");
        let entries = match sorted_dir_entries(&block) {
            Ok(entries) => entries,
            Err(CollectError::Io { source, .. })
                if matches!(
                    source.kind(),
                    ErrorKind::NotFound | ErrorKind::PermissionDenied
                ) =>
            {
                return Ok(())
            }
            Err(e) => return Err(e),
        };
        let mut errors = Vec::new();
        for entry in entries {
            let name = entry.file_name();
            let Some(name) = name.to_str().filter(|n| n.starts_with("dm-")) else {
                continue;
            };
            match read_map(&block, name) {
                Ok(Some(map)) => export_map(&map, out),
                Ok(None) => {}
                Err(e) => errors.push(e),
            }
        }
        super::first_error(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::fixture_roots;
    use proptest::prelude::*;

    fn write(root: &Path, rel: &str, text: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    fn value(out: &MetricSet, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        out.get(name)?
            .samples
            .iter()
            .find(|s| {
                labels
                    .iter()
                    .all(|(k, v)| s.labels.iter().any(|(sk, sv)| sk == k && sv == v))
            })
            .map(|s| s.value)
    }

    #[test]
    fn server_fixture() {
        let collector = DmMultipathCollector {
            roots: fixture_roots("server"),
        };
        let mut out = MetricSet::new();
        collector.collect(&mut out).unwrap();
        let map = [("device", "mpatha"), ("sysfs_name", "dm-10")];
        assert_eq!(
            value(&out, "node_dmmultipath_device_paths", &map),
            Some(2.0)
        );
        assert_eq!(
            value(&out, "node_dmmultipath_device_paths_active", &map),
            Some(1.0)
        );
        assert_eq!(
            value(&out, "node_dmmultipath_device_paths_failed", &map),
            Some(1.0)
        );
        assert_eq!(
            value(&out, "node_dmmultipath_device_active", &map),
            Some(1.0)
        );
        assert_eq!(
            value(&out, "node_dmmultipath_device_size_bytes", &map),
            Some(4398046511104.0)
        );
        assert_eq!(
            value(
                &out,
                "node_dmmultipath_path_state",
                &[("path", "sdx"), ("state", "transport-offline")]
            ),
            Some(1.0)
        );
        // The LVM maps (dm-0 to dm-9) are not multipath maps.
        assert_eq!(
            out.get("node_dmmultipath_device_info")
                .unwrap()
                .samples
                .len(),
            1
        );
    }

    #[test]
    fn suspended_nvme_map_and_bad_files() {
        let dir = tempfile::tempdir().unwrap();
        let block = dir.path().join("block");
        write(&block, "dm-0/dm/uuid", "mpath-eui.0025385b71b0c2a1\n");
        write(&block, "dm-0/dm/name", "nvme-san\n");
        write(&block, "dm-0/dm/suspended", "1\n");
        write(&block, "dm-0/size", "2048\n");
        std::fs::create_dir_all(block.join("dm-0/slaves/nvme1n1")).unwrap();
        std::fs::create_dir_all(block.join("dm-0/slaves/nvme2n1")).unwrap();
        write(&block, "nvme1n1/device/state", "live\n");
        write(&block, "nvme2n1/device/state", "connecting\n");
        // Not device-mapper at all, an LVM map, and a map without paths.
        std::fs::create_dir_all(block.join("dm-1")).unwrap();
        write(&block, "dm-2/dm/uuid", "LVM-abc\n");
        write(&block, "dm-3/dm/uuid", "mpath-3600a0980\n");
        write(&block, "dm-3/dm/name", "mpathb\n");
        write(&block, "dm-3/dm/suspended", "0\n");
        write(&block, "dm-3/size", "0\n");
        // A map whose size is a word.
        write(&block, "dm-4/dm/uuid", "mpath-3600a0981\n");
        write(&block, "dm-4/dm/name", "mpathc\n");
        write(&block, "dm-4/dm/suspended", "0\n");
        write(&block, "dm-4/size", "big\n");
        let collector = DmMultipathCollector {
            roots: Roots {
                procfs: dir.path().join("proc"),
                sysfs: dir.path().to_path_buf(),
                rootfs: dir.path().to_path_buf(),
            },
        };
        let mut out = MetricSet::new();
        let err = collector.collect(&mut out).unwrap_err().to_string();
        assert!(err.contains("dm-4/size"), "{err}");
        let a = [("device", "nvme-san")];
        assert_eq!(value(&out, "node_dmmultipath_device_active", &a), Some(0.0));
        assert_eq!(
            value(&out, "node_dmmultipath_device_paths_active", &a),
            Some(1.0)
        );
        assert_eq!(
            value(&out, "node_dmmultipath_device_paths_failed", &a),
            Some(1.0)
        );
        assert_eq!(
            value(&out, "node_dmmultipath_device_size_bytes", &a),
            Some(1048576.0)
        );
        assert_eq!(
            value(
                &out,
                "node_dmmultipath_device_paths",
                &[("device", "mpathb")]
            ),
            Some(0.0)
        );
        assert_eq!(
            out.get("node_dmmultipath_device_info")
                .unwrap()
                .samples
                .len(),
            2
        );
    }

    #[test]
    fn no_block_directory_is_no_data() {
        let dir = tempfile::tempdir().unwrap();
        let collector = DmMultipathCollector {
            roots: Roots {
                procfs: dir.path().join("proc"),
                sysfs: dir.path().join("sys"),
                rootfs: dir.path().to_path_buf(),
            },
        };
        let mut out = MetricSet::new();
        collector.collect(&mut out).unwrap();
        assert_eq!(out.sample_count(), 0);
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in "\\PC*") {
            let _ = parse_uint(&text);
            let _ = path_is_active(&text);
        }

        #[test]
        fn numbers_parse_back(n in any::<u64>(), pad in "[ \t\n]{0,3}") {
            prop_assert_eq!(parse_uint(&format!("{pad}{n}{pad}")), Some(n));
        }
    }
}
