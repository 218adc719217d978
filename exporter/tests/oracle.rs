//! Oracle test against the real node_exporter: run Debian's `prometheus-node-exporter` and
//! sysmon-exporter on the same fixture machine, and require that every series both export (same
//! name, same labels) has the same value. Each intended difference is listed below with its reason.

mod common;

use std::collections::BTreeMap;

use common::{
    fixture, node_exporter_binary, parse_exposition, start_node_exporter, start_sysmon, SeriesKey,
};
use sysmon_exporter::collector::diskstats::DEFAULT_DEVICE_EXCLUDE;
use sysmon_exporter::collector::filesystem::{
    DEFAULT_FS_TYPES_EXCLUDE, DEFAULT_MOUNT_POINTS_EXCLUDE,
};
use sysmon_exporter::collector::netstat::DEFAULT_FIELDS as NETSTAT_DEFAULT_FIELDS;
use sysmon_exporter::collector::REGISTRY;

/// Collectors both exporters have: every registered collector that Debian's node_exporter also
/// lists in its `--help` (`--collector.<name>  Enable the <name> collector`). Derived, so a new
/// collector is compared as soon as it is registered.
fn shared_collectors() -> Vec<&'static str> {
    let help = std::process::Command::new(node_exporter_binary())
        .arg("--help")
        .output()
        .expect("node_exporter --help runs");
    // kingpin prints usage on stderr.
    let help =
        String::from_utf8_lossy(&help.stderr).into_owned() + &String::from_utf8_lossy(&help.stdout);
    REGISTRY
        .iter()
        .map(|r| r.name)
        .filter(|name| help.contains(&format!("Enable the {name} collector")))
        .collect()
}

/// Series (by name prefix) whose values legitimately differ, and why.
const INTENDED_DIFFERENCES: &[(&str, &str)] = &[
    ("node_scrape_collector_duration_seconds", "timing of two different programs"),
    ("process_", "two different processes"),
    ("go_", "node_exporter's Go runtime; sysmon has none"),
    ("promhttp_", "node_exporter's HTTP handler internals"),
    ("node_exporter_build_info", "node_exporter's own build"),
    ("node_time_seconds", "read at two different moments"),
    (
        "node_filesystem_free_bytes",
        "statfs of the live filesystem the fixtures sit on, which changes between the two reads",
    ),
    ("node_filesystem_avail_bytes", "as node_filesystem_free_bytes"),
    ("node_filesystem_files_free", "as node_filesystem_free_bytes"),
    (
        "node_scrape_collector_success",
        "a missing /proc/pressure, neither /proc/net/udp nor udp6, or a conntrack without \
         /proc/net/stat/nf_conntrack, or a machine without class/nvme, power_supply, powercap or \
         scsi_tape, is 'no data' or a failure (success 0) for node_exporter, not a failure for \
         sysmon",
    ),
    (
        "node_network_receive_nohandler_total",
        "1.12's default netdev source (netlink; sysmon reads the same rtnl_link_stats64 from \
         /sys/class/net/*/statistics) has rx_nohandler; 1.5's /proc/net/dev path, which the oracle \
         must use (its netlink reads the live kernel, not the fixture), has no such column",
    ),
    (
        "node_uname_info",
        "node_exporter calls uname(2) on the live kernel; sysmon reads <procfs>/sys/kernel",
    ),
    (
        "node_timex_",
        "adjtimex(2) of the live kernel (no fixture can hold it), read by the two at different moments; \
         their names and labels are still required to match (see `check`)",
    ),
    (
        "node_edac_channel_",
        "added in node_exporter 1.12 (per-channel counts of the legacy csrow layout, with the DIMM \
         label); 1.5 has no such series",
    ),
    (
        "node_selinux_",
        "node_exporter asks go-selinux about the live system (the test host, where SELinux is off); \
         sysmon reads selinuxfs and /etc/selinux/config through the roots (the fixture)",
    ),
];

/// Optional metrics both exporters have, turned on on both sides so they are compared too.
const OPTIONAL_ON_BOTH: &[&str] = &[
    "--collector.cpu.info",
    "--collector.cpu.info.flags-include=^(aes|avx2|sse4_2|hypervisor|vmx)$",
    "--collector.cpu.info.bugs-include=^spectre_",
    "--collector.stat.softirq",
    "--collector.bcache.priorityStats",
];

/// Labels that current upstream node_exporter added after Debian's 1.5.0, which sysmon follows.
/// They are removed from both sides before comparing, so the values are still compared.
const LABELS_NEWER_THAN_1_5: &[(&str, &str)] = &[
    ("node_filesystem_", "device_error"),
    ("node_network_info", "adminstate"),
    ("node_disk_info", "rotational"),
    // Newer upstream falls back to SCSI_IDENT_SERIAL and ID_SERIAL when ID_SERIAL_SHORT is absent.
    ("node_disk_info", "serial"),
];

fn without_newer_labels(series: BTreeMap<SeriesKey, f64>) -> BTreeMap<SeriesKey, f64> {
    series
        .into_iter()
        .map(|(mut key, value)| {
            key.labels.retain(|(label, _)| {
                !LABELS_NEWER_THAN_1_5
                    .iter()
                    .any(|(prefix, l)| key.name.starts_with(prefix) && label == l)
            });
            (key, value)
        })
        .collect()
}

/// node_exporter 1.5 labels each line of /proc/net/softnet_stat with its position (`cpu="37"` is
/// the 38th line); 1.12, which sysmon follows, with the CPU number the kernel prints in the 13th
/// column since Linux 5.10. They differ once a CPU is offline (the server's CPU 37: its 38th line
/// is CPU 38). Relabel node_exporter's series from position to CPU number, read from the fixture
/// here independently of sysmon's parser, so the values are still compared.
fn softnet_cpu_numbers(
    root: &std::path::Path,
    series: BTreeMap<SeriesKey, f64>,
) -> BTreeMap<SeriesKey, f64> {
    let text = std::fs::read_to_string(root.join("proc/net/softnet_stat")).unwrap_or_default();
    let cpu_of_line: Vec<String> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(position, line)| match line.split_whitespace().nth(12) {
            Some(cpu) => u32::from_str_radix(cpu, 16).unwrap().to_string(),
            None => position.to_string(),
        })
        .collect();
    series
        .into_iter()
        .map(|(mut key, value)| {
            if key.name.starts_with("node_softnet_") {
                for (label, v) in key.labels.iter_mut() {
                    if label == "cpu" {
                        *v = cpu_of_line[v.parse::<usize>().unwrap()].clone();
                    }
                }
            }
            (key, value)
        })
        .collect()
}

/// node_exporter 1.5's procfs reads two NFS lines misaligned, which later releases fixed and 1.12
/// (so sysmon) reads right:
/// * nfsd `proc4ops`: 1.5 skips SETCLIENTID and SETCLIENTID_CONFIRM (operations 35 and 36), so
///   its `Verify`, `Write` and `RelLockOwner` hold operations 35, 36 and 37 (node_exporter #2824
///   added the two and realigned the rest). Its values are moved to the names of the operations
///   they count; its misnamed `Write`/`RelLockOwner` of operations 38/39 do not exist in 1.5.
/// * nfs `proc4`: 1.5 reads GETDEVICEINFO as `LayoutGet` and LAYOUTGET as `GetDeviceInfo`
///   (prometheus/procfs#725): swapped back.
///
/// The values are still compared, under the names 1.12 gives them.
fn nfs_fixed_names(series: BTreeMap<SeriesKey, f64>) -> BTreeMap<SeriesKey, f64> {
    series
        .into_iter()
        .map(|(mut key, value)| {
            let renames: &[(&str, &str)] = match key.name.as_str() {
                "node_nfsd_requests_total" => &[
                    ("Verify", "SetClientID"),
                    ("Write", "SetClientIDConfirm"),
                    ("RelLockOwner", "Verify"),
                ],
                "node_nfs_requests_total" => &[
                    ("LayoutGet", "GetDeviceInfo"),
                    ("GetDeviceInfo", "LayoutGet"),
                ],
                _ => return (key, value),
            };
            if !key.labels.iter().any(|(l, v)| l == "proto" && v == "4") {
                return (key, value);
            }
            for (label, v) in key.labels.iter_mut() {
                if label == "method" {
                    if let Some((_, to)) = renames.iter().find(|(from, _)| from == v) {
                        *v = to.to_string();
                    }
                }
            }
            (key, value)
        })
        .collect()
}

fn intended(key: &SeriesKey) -> Option<&'static str> {
    INTENDED_DIFFERENCES
        .iter()
        .find(|(prefix, _)| key.name.starts_with(prefix))
        .map(|(_, why)| *why)
}

struct Comparison {
    compared: usize,
    /// Names of the families with at least one series compared.
    compared_families: std::collections::BTreeSet<String>,
    mismatches: Vec<String>,
    only_sysmon: Vec<SeriesKey>,
    only_node: Vec<SeriesKey>,
    /// The `node_timex_*` series of (sysmon, node_exporter).
    timex: (Vec<SeriesKey>, Vec<SeriesKey>),
}

fn compare(machine: &str) -> Comparison {
    let root = fixture(machine);
    // Debian's node_exporter 1.5.0 has older defaults than current upstream, which sysmon follows:
    // give it upstream's exclusions and netstat fields (1.8 added TCPOFOQueue, 1.9 TCPRcvQDrop),
    // and make netdev read /proc/net/dev (its netlink mode reads the live kernel, not the
    // fixture). sysmon's default netdev source is the fixture's /sys/class/net/*/statistics, which
    // the kernel fills from the same counters as /proc/net/dev: comparing the two checks that
    // sysmon folds the detailed counters as the kernel does.
    // (`root_args` gives both exporters the fixture's udev database.)
    let flags = [
        format!("--collector.filesystem.mount-points-exclude={DEFAULT_MOUNT_POINTS_EXCLUDE}"),
        format!("--collector.filesystem.fs-types-exclude={DEFAULT_FS_TYPES_EXCLUDE}"),
        format!("--collector.diskstats.device-exclude={DEFAULT_DEVICE_EXCLUDE}"),
        format!("--collector.netstat.fields={NETSTAT_DEFAULT_FIELDS}"),
        "--collector.netdev.device-exclude=".to_string(),
        "--no-collector.netdev.netlink".to_string(),
    ]
    .into_iter()
    .chain(OPTIONAL_ON_BOTH.iter().map(|f| f.to_string()))
    .collect::<Vec<_>>();
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let shared = shared_collectors();
    let node = start_node_exporter(&root, &shared, &flags);
    let sysmon_flags: Vec<String> = std::iter::once("--collector.disable-defaults".to_string())
        .chain(shared.iter().map(|c| format!("--collector.{c}")))
        .chain(OPTIONAL_ON_BOTH.iter().map(|f| f.to_string()))
        .collect();
    let sysmon_flags: Vec<&str> = sysmon_flags.iter().map(String::as_str).collect();
    let sysmon = start_sysmon(&root, &sysmon_flags);
    let theirs = nfs_fixed_names(softnet_cpu_numbers(
        &root,
        without_newer_labels(parse_exposition(&node.get("/metrics"))),
    ));
    let ours = without_newer_labels(parse_exposition(&sysmon.get("/metrics")));
    let mut c = diff(&ours, &theirs);
    c.timex = (timex_keys(&ours), timex_keys(&theirs));
    c
}

/// The timex series (name and labels) of one side: values differ, names must not.
fn timex_keys(series: &BTreeMap<SeriesKey, f64>) -> Vec<SeriesKey> {
    series
        .keys()
        .filter(|k| k.name.starts_with("node_timex_"))
        .cloned()
        .collect()
}

fn diff(ours: &BTreeMap<SeriesKey, f64>, theirs: &BTreeMap<SeriesKey, f64>) -> Comparison {
    let mut c = Comparison {
        compared: 0,
        compared_families: Default::default(),
        mismatches: Vec::new(),
        only_sysmon: Vec::new(),
        only_node: Vec::new(),
        timex: (Vec::new(), Vec::new()),
    };
    for (key, ours_v) in ours {
        match theirs.get(key) {
            Some(theirs_v) => {
                if intended(key).is_some() {
                    continue;
                }
                c.compared += 1;
                c.compared_families.insert(key.name.clone());
                let same = ours_v == theirs_v
                    || (ours_v.is_nan() && theirs_v.is_nan())
                    || (ours_v - theirs_v).abs() <= 1e-9 * ours_v.abs().max(theirs_v.abs());
                if !same {
                    c.mismatches
                        .push(format!("{key}: sysmon {ours_v} node_exporter {theirs_v}"));
                }
            }
            None => c.only_sysmon.push(key.clone()),
        }
    }
    c.only_node = theirs
        .keys()
        .filter(|k| !ours.contains_key(k) && intended(k).is_none())
        .cloned()
        .collect();
    c
}

fn families(keys: &[SeriesKey]) -> Vec<&str> {
    let mut names: Vec<&str> = keys.iter().map(|k| k.name.as_str()).collect();
    names.dedup();
    names
}

fn check(machine: &str, minimum_compared: usize) {
    let c = compare(machine);
    eprintln!(
        "{machine}: {} series compared equal, {} timex series on both sides; families only in sysmon: {:?}; only in node_exporter: {:?}",
        c.compared,
        c.timex.0.len(),
        families(&c.only_sysmon),
        families(&c.only_node)
    );
    assert!(
        c.mismatches.is_empty(),
        "{machine}: values differ from node_exporter:\n{}",
        c.mismatches.join("\n")
    );
    // Both read the same kernel, so both have the series or
    // (adjtimex refused) neither has.
    assert_eq!(
        c.timex.0, c.timex.1,
        "{machine}: node_timex_* series differ (sysmon, node_exporter)"
    );
    assert!(
        c.compared >= minimum_compared,
        "{machine}: only {} series in common with node_exporter (expected at least {minimum_compared})",
        c.compared
    );
}

#[test]
fn shared_collectors_come_from_both_sides() {
    let shared = shared_collectors();
    // The collectors sysmon had before the parity work, all of which node_exporter 1.5 has.
    for name in [
        "cpu",
        "diskstats",
        "filesystem",
        "meminfo",
        "netdev",
        "uname",
    ] {
        assert!(shared.contains(&name), "{name} missing from {shared:?}");
    }
    // Added for node_exporter parity and compared from the start.
    for name in [
        "arp",
        "conntrack",
        "bonding",
        "infiniband",
        "fibrechannel",
        "ipvs",
    ] {
        assert!(shared.contains(&name), "{name} missing from {shared:?}");
    }
    assert!(!shared.contains(&"usb"), "usb is sysmon's own collector");
    // Kernel collectors node_exporter 1.5 already had; processes is off by default on both sides
    // and compared because both are started with --collector.<name> for every shared collector.
    for name in [
        "entropy",
        "filefd",
        "processes",
        "schedstat",
        "selinux",
        "vmstat",
    ] {
        assert!(shared.contains(&name), "{name} missing from {shared:?}");
    }
}

/// The kernel collectors' series are really compared, not only present on one side.
#[test]
fn kernel_collectors_are_compared() {
    let c = compare("laptop");
    assert!(c.mismatches.is_empty(), "{:?}", c.mismatches);
    for family in [
        "node_vmstat_pgfault",
        "node_vmstat_oom_kill",
        "node_filefd_allocated",
        "node_filefd_maximum",
        "node_entropy_available_bits",
        "node_entropy_pool_size_bits",
        "node_schedstat_running_seconds_total",
        "node_schedstat_waiting_seconds_total",
        "node_schedstat_timeslices_total",
        "node_processes_pids",
        "node_processes_threads",
        "node_processes_state",
        "node_processes_threads_state",
        "node_processes_max_threads",
        "node_processes_max_processes",
    ] {
        assert!(
            c.compared_families.contains(family),
            "{family} was not compared; compared: {:?}",
            c.compared_families
        );
    }
}

/// The filesystem-statistics collectors' series are compared on the server (btrfs, xfs, ZFS).
#[test]
fn filesystem_statistics_are_compared() {
    let c = compare("server");
    assert!(c.mismatches.is_empty(), "{:?}", c.mismatches);
    for family in [
        "node_btrfs_info",
        "node_btrfs_used_bytes",
        "node_btrfs_size_bytes",
        "node_btrfs_allocation_ratio",
        "node_btrfs_reserved_bytes",
        "node_btrfs_global_rsv_size_bytes",
        "node_btrfs_device_size_bytes",
        "node_xfs_read_calls_total",
        "node_xfs_write_calls_total",
        "node_xfs_inode_operation_attempts_total",
        "node_xfs_vnode_remove_total",
        "node_zfs_arc_hits",
        "node_zfs_abd_scatter_cnt",
        "node_zfs_fm_erpt_dropped",
        "node_zfs_zil_zil_commit_count",
        "node_zfs_zpool_nread",
        "node_zfs_zpool_dataset_writes",
    ] {
        assert!(
            c.compared_families.contains(family),
            "{family} was not compared; compared: {:?}",
            c.compared_families
        );
    }
}

/// The hardware-health collectors' series are really compared on the machines that have the
/// hardware, not only present on one side.
#[test]
fn hardware_collectors_are_compared() {
    for (machine, expected) in [
        (
            "laptop",
            &[
                "node_dmi_info",
                "node_nvme_info",
                "node_power_supply_info",
                "node_power_supply_capacity",
                "node_power_supply_charge_ampere",
                "node_power_supply_voltage_volt",
                "node_power_supply_online",
                "node_rapl_package_joules_total",
                "node_rapl_core_joules_total",
                "node_rapl_uncore_joules_total",
            ][..],
        ),
        (
            "server",
            &[
                "node_dmi_info",
                "node_edac_correctable_errors_total",
                "node_edac_uncorrectable_errors_total",
                "node_edac_csrow_correctable_errors_total",
                "node_edac_csrow_uncorrectable_errors_total",
                "node_rapl_package_joules_total",
                "node_rapl_dram_joules_total",
                "node_tape_io_now",
                "node_tape_io_time_seconds_total",
                "node_tape_reads_completed_total",
                "node_tape_written_bytes_total",
            ][..],
        ),
        ("vm", &["node_dmi_info"][..]),
    ] {
        let c = compare(machine);
        assert!(c.mismatches.is_empty(), "{machine}: {:?}", c.mismatches);
        for family in expected {
            assert!(
                c.compared_families.contains(*family),
                "{machine}: {family} was not compared; only in node_exporter: {:?}",
                families(&c.only_node)
            );
        }
    }
}

#[test]
fn laptop_agrees_with_node_exporter() {
    check("laptop", 150);
}

#[test]
fn server_agrees_with_node_exporter() {
    check("server", 600);
}

#[test]
fn vm_agrees_with_node_exporter() {
    check("vm", 80);
}

#[test]
fn diff_reports_mismatches_and_ignores_intended_differences() {
    let key = |name: &str| SeriesKey {
        name: name.into(),
        labels: vec![],
    };
    let ours = BTreeMap::from([
        (key("a"), 1.0),
        (key("b"), 2.0),
        (key("node_time_seconds"), 5.0),
        (key("c"), 0.1),
    ]);
    let theirs = BTreeMap::from([
        (key("a"), 1.0),
        (key("b"), 3.0),
        (key("node_time_seconds"), 6.0),
        (key("d"), 1.0),
    ]);
    let c = diff(&ours, &theirs);
    assert_eq!(c.compared, 2);
    assert_eq!(c.compared_families.len(), 2);
    assert_eq!(c.mismatches.len(), 1);
    assert!(c.mismatches[0].starts_with("b{}"));
    assert_eq!(c.only_sysmon, vec![key("c")]);
    assert_eq!(c.only_node, vec![key("d")]);
}

/// The network and storage-fabric collectors' series are compared on the server (the machine
/// with a degraded bond, an InfiniBand HCA, an FC HBA and an IPVS director), and neither side has
/// a series of theirs the other lacks.
#[test]
fn fabric_collectors_are_compared() {
    let c = compare("server");
    assert!(c.mismatches.is_empty(), "{:?}", c.mismatches);
    for family in [
        "node_bonding_slaves",
        "node_bonding_active",
        "node_infiniband_info",
        "node_infiniband_state_id",
        "node_infiniband_physical_state_id",
        "node_infiniband_rate_bytes_per_second",
        "node_infiniband_port_data_received_bytes_total",
        "node_infiniband_port_data_transmitted_bytes_total",
        "node_infiniband_symbol_error_total",
        "node_infiniband_vl15_dropped_total",
        "node_fibrechannel_info",
        "node_fibrechannel_rx_frames_total",
        "node_fibrechannel_link_failure_total",
        "node_ipvs_connections_total",
        "node_ipvs_incoming_bytes_total",
        "node_ipvs_backend_connections_active",
        "node_ipvs_backend_connections_inactive",
        "node_ipvs_backend_weight",
    ] {
        assert!(
            c.compared_families.contains(family),
            "{family} was not compared; compared: {:?}",
            c.compared_families
        );
    }
    let fabric = |k: &&SeriesKey| {
        [
            "node_bonding_",
            "node_infiniband_",
            "node_fibrechannel_",
            "node_ipvs_",
        ]
        .iter()
        .any(|p| k.name.starts_with(p))
    };
    let only_sysmon: Vec<_> = c.only_sysmon.iter().filter(fabric).collect();
    let only_node: Vec<_> = c.only_node.iter().filter(fabric).collect();
    assert!(only_sysmon.is_empty(), "only in sysmon: {only_sysmon:?}");
    assert!(only_node.is_empty(), "only in node_exporter: {only_node:?}");
}

/// The block-storage collectors (issue 10) on the server, which has every kind of md array and a
/// bcache set: every family node_exporter 1.5 also has is compared value by value.
#[test]
fn storage_collectors_are_compared() {
    let c = compare("server");
    assert!(c.mismatches.is_empty(), "{:?}", c.mismatches);
    for family in [
        "node_md_state",
        "node_md_disks",
        "node_md_disks_required",
        "node_md_blocks",
        "node_md_blocks_synced",
        "node_bcache_average_key_size_sectors",
        "node_bcache_btree_cache_size_bytes",
        "node_bcache_btree_read_average_duration_seconds",
        "node_bcache_cache_read_races_total",
        "node_bcache_dirty_data_bytes",
        "node_bcache_dirty_target_bytes",
        "node_bcache_writeback_rate",
        "node_bcache_writeback_rate_proportional_term",
        "node_bcache_bypassed_bytes_total",
        "node_bcache_cache_hits_total",
        "node_bcache_cache_readaheads_total",
        "node_bcache_written_bytes_total",
        "node_bcache_metadata_written_bytes_total",
        "node_bcache_io_errors",
        "node_bcache_priority_stats_unused_percent",
        "node_bcache_priority_stats_metadata_percent",
    ] {
        assert!(
            c.compared_families.contains(family),
            "{family} was not compared; compared: {:?}",
            c.compared_families
        );
    }
}
