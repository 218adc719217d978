//! Files the exporter may not read (permission denied) make their collector fail alone.
//!
//! git cannot store unreadable files, so the test copies a fixture machine, takes read permission
//! away from some files, and runs the exporter as an unprivileged user when the test runs as root
//! (root reads any file regardless of its mode).

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use common::{fixture, parse_exposition, start_sysmon_as};

#[test]
fn permission_denied_fails_only_that_collector() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("laptop");
    let status = Command::new("cp")
        .arg("-a")
        .arg(fixture("laptop"))
        .arg(&root)
        .status()
        .unwrap();
    assert!(status.success());
    // Everything readable and traversable by the unprivileged user...
    let status = Command::new("chmod")
        .args(["-R", "a+rX"])
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(status.success());
    // ...except these two files (netdev reads the interfaces' sysfs statistics by default).
    for file in [
        "proc/meminfo",
        "sys/class/net/wlp0s20f3/statistics/rx_bytes",
    ] {
        std::fs::set_permissions(root.join(file), std::fs::Permissions::from_mode(0o000)).unwrap();
    }

    let as_nobody: &[&str] = if rustix::process::geteuid().is_root() {
        &[
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
        ]
    } else {
        &[]
    };
    let exporter = start_sysmon_as(as_nobody, &root, &[]);
    let series = parse_exposition(&exporter.get("/metrics"));
    let success = |c: &str| {
        series
            .iter()
            .find(|(k, _)| k.name == "node_scrape_collector_success" && k.labels[0].1 == c)
            .map(|(_, v)| *v)
            .unwrap_or_else(|| panic!("no success series for {c}"))
    };
    assert_eq!(success("meminfo"), 0.0);
    assert_eq!(success("netdev"), 0.0);
    for ok in ["cpu", "loadavg", "stat", "hwmon", "netclass"] {
        assert_eq!(success(ok), 1.0, "{ok} is unaffected");
    }
    assert!(series.keys().any(|k| k.name == "node_load1"));
    assert!(!series.keys().any(|k| k.name.starts_with("node_memory_")));
    let page = exporter.get("/");
    assert!(
        page.contains("Permission denied"),
        "the landing page says why meminfo failed"
    );
}

/// Root-only hardware attributes: the DMI serial numbers and UUID, and the RAPL energy counters
/// (root-only since Linux 5.10). node_exporter run unprivileged leaves the DMI ones out of
/// `node_dmi_info` and reads no RAPL zone; neither is a failure. sysmon does the same.
#[test]
fn root_only_hardware_attributes_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("laptop");
    let status = Command::new("cp")
        .arg("-a")
        .arg(fixture("laptop"))
        .arg(&root)
        .status()
        .unwrap();
    assert!(status.success());
    let status = Command::new("chmod")
        .args(["-R", "a+rX"])
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(status.success());
    let dmi = root.join("sys/devices/virtual/dmi/id");
    for (file, value) in [
        ("product_serial", "PF3ABCDE\n"),
        ("product_uuid", "4c4c4544-0042-5310-8052-b4c04f4e3432\n"),
        ("board_serial", "L1HF1AB00CD\n"),
        ("chassis_serial", "PF3ABCDE\n"),
    ] {
        std::fs::write(dmi.join(file), value).unwrap();
        std::fs::set_permissions(dmi.join(file), std::fs::Permissions::from_mode(0o000)).unwrap();
    }
    let powercap = root.join("sys/devices/virtual/powercap/intel-rapl");
    for zone in [
        "intel-rapl:0",
        "intel-rapl:0/intel-rapl:0:0",
        "intel-rapl:0/intel-rapl:0:1",
        "intel-rapl:1",
    ] {
        std::fs::set_permissions(
            powercap.join(zone).join("energy_uj"),
            std::fs::Permissions::from_mode(0o000),
        )
        .unwrap();
    }

    let as_nobody: &[&str] = if rustix::process::geteuid().is_root() {
        &[
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
        ]
    } else {
        &[]
    };
    let exporter = start_sysmon_as(as_nobody, &root, &[]);
    let series = parse_exposition(&exporter.get("/metrics"));
    let success = |c: &str| {
        series
            .iter()
            .find(|(k, _)| k.name == "node_scrape_collector_success" && k.labels[0].1 == c)
            .map(|(_, v)| *v)
            .unwrap_or_else(|| panic!("no success series for {c}"))
    };
    assert_eq!(success("dmi"), 1.0);
    assert_eq!(success("rapl"), 1.0);
    let dmi_info = series
        .keys()
        .find(|k| k.name == "node_dmi_info")
        .expect("node_dmi_info");
    assert!(
        dmi_info
            .labels
            .iter()
            .any(|(k, v)| k == "system_vendor" && v == "LENOVO"),
        "{dmi_info}"
    );
    assert!(
        !dmi_info
            .labels
            .iter()
            .any(|(k, _)| k.ends_with("_serial") || k == "product_uuid"),
        "{dmi_info}"
    );
    assert!(!series.keys().any(|k| k.name.starts_with("node_rapl_")));
}
