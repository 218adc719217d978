//! The host view: one instance in detail (sensors, filesystems, limits, clock, storage health,
//! USB, anomalies) and its history.

use std::collections::BTreeMap;

use super::anomalies::{anomaly_from, anomaly_key, sort_anomalies, Anomaly};
use super::{finite, natural, Instants, Ranges};
use crate::prom::Sample;
use crate::queries::{HistoryQuery, HostQuery};

/// One temperature sensor with its own limits.
#[derive(Debug, Clone, PartialEq)]
pub struct Sensor {
    /// `chip` label (`platform_coretemp_0`) or `thermal_zone<N>`.
    pub chip: String,
    /// Driver name (`coretemp`) when known.
    pub chip_name: Option<String>,
    pub sensor: String,
    /// Human label (`Package id 0`) when known.
    pub label: Option<String>,
    pub temp: f64,
    pub max: Option<f64>,
    pub crit: Option<f64>,
}

impl Sensor {
    /// The name shown: `coretemp Package id 0`, falling back to chip and sensor.
    pub fn display_name(&self) -> String {
        let chip = self.chip_name.clone().unwrap_or_else(|| self.chip.clone());
        match &self.label {
            Some(l) => format!("{chip} {l}"),
            None => format!("{chip} {}", self.sensor),
        }
    }

    /// The limit to compare against: crit, else max.
    pub fn limit(&self) -> Option<f64> {
        self.crit.or(self.max)
    }
}

/// A limit a driver reports that is not a real limit: 65261.85 °C (0xFFFF as millidegrees plus
/// the NVMe Kelvin offset), or at or below absolute zero.
fn plausible_limit(v: f64) -> Option<f64> {
    (v.is_finite() && v > 0.0 && v < 500.0).then_some(v)
}

#[derive(Debug, Clone, PartialEq)]
pub struct Filesystem {
    pub mountpoint: String,
    pub device: String,
    pub fstype: String,
    pub size: f64,
    pub avail: f64,
    pub readonly: bool,
}

impl Filesystem {
    pub fn used_ratio(&self) -> Option<f64> {
        (self.size > 0.0).then(|| 1.0 - self.avail / self.size)
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct UsbDevice {
    pub port: String,
    pub bus: String,
    pub devnum: String,
    pub vendor_id: String,
    pub product_id: String,
    pub manufacturer: String,
    pub product: String,
    /// Mbit/s as the kernel reports it.
    pub speed: String,
    pub errors_total: f64,
    pub errors_recent: f64,
    /// `(kind, total, recent)`
    pub kinds: Vec<(String, f64, f64)>,
}

impl UsbDevice {
    pub fn display_name(&self) -> String {
        let name = [self.manufacturer.as_str(), self.product.as_str()]
            .iter()
            .filter(|s| !s.is_empty())
            .cloned()
            .collect::<Vec<_>>()
            .join(" ");
        if name.is_empty() {
            format!("{}:{}", self.vendor_id, self.product_id)
        } else {
            name
        }
    }
}

/// USB errors on a port that has no device now (it was unplugged, or never enumerated).
#[derive(Debug, Clone, PartialEq)]
pub struct UsbErrorRow {
    pub port: String,
    pub kind: String,
    pub total: f64,
    pub recent: f64,
}

/// A kernel resource with a limit: file handles against fs.file-max, conntrack entries against
/// nf_conntrack_max.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Usage {
    pub used: f64,
    /// `None` when the limit is not reported.
    pub limit: Option<f64>,
}

impl Usage {
    /// Share of the limit used; `None` without a (positive) limit.
    pub fn ratio(&self) -> Option<f64> {
        self.limit.filter(|l| *l > 0.0).map(|l| self.used / l)
    }
}

/// Whether the kernel says a time daemon keeps its clock synchronised (`node_timex_sync_status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClockSync {
    /// No timex data for the host (collector off, plain exporter without it, not scraped yet).
    #[default]
    Unknown,
    Synced,
    NotSynced,
}

/// The kernel clock's discipline, from the timex collector.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Clock {
    pub sync: ClockSync,
    /// Offset from the time source, seconds (sign kept).
    pub offset: Option<f64>,
    /// The kernel's bound on the clock's error, seconds.
    pub max_error: Option<f64>,
}

/// An md RAID array (`node_md_*`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RaidArray {
    pub device: String,
    /// The state set to 1 in `node_md_state` (active, inactive, recovering, resync, check);
    /// empty when none is.
    pub state: String,
    pub required: Option<f64>,
    pub active: Option<f64>,
    pub failed: Option<f64>,
}

impl RaidArray {
    /// Fewer active disks than the layout needs (and not inactive, which says more).
    pub fn degraded(&self) -> bool {
        matches!((self.active, self.required), (Some(a), Some(r)) if a < r)
            && self.state != "inactive"
    }

    pub fn has_failed_disk(&self) -> bool {
        self.failed.is_some_and(|f| f > 0.0)
    }

    /// Inactive, degraded or with a failed disk: what the storage alerts fire on.
    pub fn at_fault(&self) -> bool {
        self.state == "inactive" || self.degraded() || self.has_failed_disk()
    }
}

/// A bonding interface (`node_bonding_slaves`, `node_bonding_active`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Bond {
    pub master: String,
    pub slaves: f64,
    pub active: f64,
}

impl Bond {
    pub fn degraded(&self) -> bool {
        self.active < self.slaves
    }
}

/// Storage and hardware health of one host: md arrays, ZFS pools, bonds, EDAC memory errors.
/// Everything empty (and [`StorageHealth::is_empty`]) on a host without that hardware.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StorageHealth {
    /// Sorted by device, naturally (md2 before md10).
    pub arrays: Vec<RaidArray>,
    /// `(pool, state)`, state lower-case as exported (online, degraded...); empty state when no
    /// state series is set. Sorted by pool.
    pub pools: Vec<(String, String)>,
    pub bonds: Vec<Bond>,
    /// Memory errors counted since boot over all EDAC controllers: (corrected, uncorrectable);
    /// `None` without EDAC.
    pub memory_errors: Option<(f64, f64)>,
}

impl StorageHealth {
    /// Nothing worth a line: no arrays, no pools, no memory controllers, no degraded bond.
    pub fn is_empty(&self) -> bool {
        self.arrays.is_empty()
            && self.pools.is_empty()
            && self.memory_errors.is_none()
            && !self.bonds.iter().any(Bond::degraded)
    }
}

/// Everything the host view shows about one instance.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HostDetail {
    pub instance: String,
    pub up: Option<bool>,
    pub nodename: Option<String>,
    pub os: Option<String>,
    pub kernel: Option<String>,
    pub exporter_version: Option<String>,
    /// `(cpu, utilisation 0-1)` sorted by CPU number.
    pub cores: Vec<(String, f64)>,
    pub mem_total: Option<f64>,
    pub mem_available: Option<f64>,
    pub swap_total: Option<f64>,
    pub swap_free: Option<f64>,
    pub sensors: Vec<Sensor>,
    pub filesystems: Vec<Filesystem>,
    /// File handles allocated against fs.file-max; `None` when not reported.
    pub file_descriptors: Option<Usage>,
    /// Connection tracking entries against nf_conntrack_max; `None` when not reported.
    pub conntrack: Option<Usage>,
    pub clock: Clock,
    pub storage: StorageHealth,
    pub usb: Vec<UsbDevice>,
    pub usb_orphan_errors: Vec<UsbErrorRow>,
    pub anomalies_active: Vec<Anomaly>,
    pub anomalies_recent: Vec<Anomaly>,
}

impl HostDetail {
    pub fn mem_ratio(&self) -> Option<f64> {
        match (self.mem_total, self.mem_available) {
            (Some(t), Some(a)) if t > 0.0 => Some(1.0 - a / t),
            _ => None,
        }
    }

    pub fn swap_ratio(&self) -> Option<f64> {
        match (self.swap_total, self.swap_free) {
            (Some(t), Some(f)) if t > 0.0 => Some(1.0 - f / t),
            _ => None,
        }
    }

    pub fn cpu_now(&self) -> Option<f64> {
        let v: Vec<f64> = self.cores.iter().map(|c| c.1).collect();
        (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
    }
}

/// History for the host charts: `(unix seconds, value)` per figure, gaps removed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HostHistory {
    pub cpu: Vec<(f64, f64)>,
    pub mem: Vec<(f64, f64)>,
    pub swap: Vec<(f64, f64)>,
    pub disk_read: Vec<(f64, f64)>,
    pub disk_write: Vec<(f64, f64)>,
    pub net_rx: Vec<(f64, f64)>,
    pub net_tx: Vec<(f64, f64)>,
    pub temp: Vec<(f64, f64)>,
}

pub fn build_history(res: &Ranges<HistoryQuery>) -> HostHistory {
    let get = |q: HistoryQuery| -> Vec<(f64, f64)> {
        res.get(&q)
            .and_then(|s| s.first())
            .map(|s| {
                s.points
                    .iter()
                    .copied()
                    .filter(|p| p.1.is_finite())
                    .collect()
            })
            .unwrap_or_default()
    };
    HostHistory {
        cpu: get(HistoryQuery::Cpu),
        mem: get(HistoryQuery::Mem),
        swap: get(HistoryQuery::Swap),
        disk_read: get(HistoryQuery::DiskRead),
        disk_write: get(HistoryQuery::DiskWrite),
        net_rx: get(HistoryQuery::NetRx),
        net_tx: get(HistoryQuery::NetTx),
        temp: get(HistoryQuery::Temp),
    }
}

fn cpu_number(s: &str) -> (u64, String) {
    (s.parse().unwrap_or(u64::MAX), s.to_string())
}

/// Builds the host view's model from its instant queries (history is added separately).
pub fn build_host(instance: &str, res: &Instants<HostQuery>) -> HostDetail {
    let mut d = HostDetail {
        instance: instance.to_string(),
        ..HostDetail::default()
    };
    let empty = Vec::new();
    let get = |q: HostQuery| res.get(&q).unwrap_or(&empty);
    let name = |s: &Sample| s.labels.get("__name__").cloned().unwrap_or_default();
    let label = |s: &Sample, k: &str| s.labels.get(k).cloned().unwrap_or_default();

    for s in get(HostQuery::Info) {
        match name(s).as_str() {
            "up" => d.up = Some(s.v >= 1.0),
            "node_uname_info" => {
                d.nodename = Some(label(s, "nodename")).filter(|n| !n.is_empty());
                d.kernel = Some(label(s, "release")).filter(|n| !n.is_empty());
            }
            "node_os_info" => {
                d.os = Some(label(s, "pretty_name"))
                    .filter(|n| !n.is_empty())
                    .or_else(|| Some(label(s, "name")).filter(|n| !n.is_empty()));
            }
            "sysmon_exporter_build_info" => {
                d.exporter_version = Some(label(s, "version")).filter(|n| !n.is_empty());
            }
            _ => {}
        }
    }

    let mut cores: Vec<(String, f64)> = get(HostQuery::Cores)
        .iter()
        .filter(|s| s.v.is_finite())
        .map(|s| (label(s, "cpu"), s.v.clamp(0.0, 1.0)))
        .collect();
    cores.sort_by_key(|c| cpu_number(&c.0));
    d.cores = cores;

    for s in get(HostQuery::Memory) {
        let v = finite(s.v);
        match name(s).as_str() {
            "node_memory_MemTotal_bytes" => d.mem_total = v,
            "node_memory_MemAvailable_bytes" => d.mem_available = v,
            "node_memory_SwapTotal_bytes" => d.swap_total = v,
            "node_memory_SwapFree_bytes" => d.swap_free = v,
            _ => {}
        }
    }

    // Sensors: hwmon first (with limits, labels, driver names), thermal zones where no hwmon
    // chip reports the same zone.
    let mut sensors: BTreeMap<(String, String), Sensor> = BTreeMap::new();
    let mut limits: Vec<(String, String, &str, f64)> = Vec::new();
    let mut labels: BTreeMap<(String, String), String> = BTreeMap::new();
    let mut chip_names: BTreeMap<String, String> = BTreeMap::new();
    let mut zones: Vec<Sensor> = Vec::new();
    for s in get(HostQuery::Temps) {
        let chip = label(s, "chip");
        let sensor = label(s, "sensor");
        match name(s).as_str() {
            "node_hwmon_temp_celsius" if s.v.is_finite() => {
                sensors.insert(
                    (chip.clone(), sensor.clone()),
                    Sensor {
                        chip,
                        chip_name: None,
                        sensor,
                        label: None,
                        temp: s.v,
                        max: None,
                        crit: None,
                    },
                );
            }
            "node_hwmon_temp_max_celsius" => limits.push((chip, sensor, "max", s.v)),
            "node_hwmon_temp_crit_celsius" => limits.push((chip, sensor, "crit", s.v)),
            "node_hwmon_sensor_label" => {
                let l = label(s, "label");
                if !l.is_empty() {
                    labels.insert((chip, sensor), l);
                }
            }
            "node_hwmon_chip_names" => {
                let n = label(s, "chip_name");
                if !n.is_empty() {
                    chip_names.insert(chip, n);
                }
            }
            "node_thermal_zone_temp" if s.v.is_finite() => {
                let zone = label(s, "zone");
                zones.push(Sensor {
                    chip: format!("thermal_zone{zone}"),
                    chip_name: Some(format!("thermal_zone{zone}")),
                    sensor: label(s, "type"),
                    label: Some(label(s, "type")).filter(|t| !t.is_empty()),
                    temp: s.v,
                    max: None,
                    crit: None,
                });
            }
            _ => {}
        }
    }
    for (chip, sensor, kind, v) in limits {
        if let Some(sn) = sensors.get_mut(&(chip, sensor)) {
            let v = plausible_limit(v);
            if kind == "max" {
                sn.max = v;
            } else {
                sn.crit = v;
            }
        }
    }
    for ((chip, sensor), sn) in sensors.iter_mut() {
        sn.label = labels.get(&(chip.clone(), sensor.clone())).cloned();
        sn.chip_name = chip_names.get(chip).cloned();
    }
    let mut out: Vec<Sensor> = sensors.into_values().collect();
    let hwmon_has_thermal = out
        .iter()
        .any(|s| s.chip.starts_with("thermal_thermal_zone"));
    if !hwmon_has_thermal {
        out.extend(zones);
    }
    out.sort_by(|a, b| {
        a.chip
            .cmp(&b.chip)
            .then_with(|| natural(&a.sensor).cmp(&natural(&b.sensor)))
    });
    d.sensors = out;

    let mut fs: BTreeMap<(String, String), Filesystem> = BTreeMap::new();
    for s in get(HostQuery::Filesystems) {
        let key = (label(s, "mountpoint"), label(s, "device"));
        let e = fs.entry(key.clone()).or_insert_with(|| Filesystem {
            mountpoint: key.0.clone(),
            device: key.1.clone(),
            fstype: label(s, "fstype"),
            size: f64::NAN,
            avail: f64::NAN,
            readonly: false,
        });
        match name(s).as_str() {
            "node_filesystem_size_bytes" => e.size = s.v,
            "node_filesystem_avail_bytes" => e.avail = s.v,
            "node_filesystem_readonly" => e.readonly = s.v >= 1.0,
            _ => {}
        }
    }
    d.filesystems = fs
        .into_values()
        .filter(|f| f.size.is_finite() && f.avail.is_finite())
        .collect();

    // Kernel limits: a figure without its count is not reported; a count without its limit is
    // shown without a share.
    let (mut fd, mut fd_max, mut ct, mut ct_max) = (None, None, None, None);
    for s in get(HostQuery::Limits) {
        let v = finite(s.v);
        match name(s).as_str() {
            "node_filefd_allocated" => fd = v,
            "node_filefd_maximum" => fd_max = v,
            "node_nf_conntrack_entries" => ct = v,
            "node_nf_conntrack_entries_limit" => ct_max = v,
            _ => {}
        }
    }
    d.file_descriptors = fd.map(|used| Usage {
        used,
        limit: fd_max,
    });
    d.conntrack = ct.map(|used| Usage {
        used,
        limit: ct_max,
    });
    for s in get(HostQuery::Clock) {
        let v = finite(s.v);
        match name(s).as_str() {
            "node_timex_sync_status" => {
                d.clock.sync = match v {
                    Some(x) if x >= 1.0 => ClockSync::Synced,
                    Some(_) => ClockSync::NotSynced,
                    None => ClockSync::Unknown,
                }
            }
            "node_timex_offset_seconds" => d.clock.offset = v,
            "node_timex_maxerror_seconds" => d.clock.max_error = v,
            _ => {}
        }
    }

    d.storage = build_storage(get(HostQuery::Storage));

    // USB devices, with the errors counted on their port.
    let mut errs: BTreeMap<(String, String), (f64, f64)> = BTreeMap::new();
    for s in get(HostQuery::UsbErrors) {
        errs.entry((label(s, "port"), label(s, "kind")))
            .or_default()
            .0 += finite(s.v).unwrap_or(0.0);
    }
    for s in get(HostQuery::UsbErrorsRecent) {
        errs.entry((label(s, "port"), label(s, "kind")))
            .or_default()
            .1 += finite(s.v).unwrap_or(0.0);
    }
    let mut usb: Vec<UsbDevice> = get(HostQuery::UsbDevices)
        .iter()
        .map(|s| UsbDevice {
            port: label(s, "port"),
            bus: label(s, "bus"),
            devnum: label(s, "devnum"),
            vendor_id: label(s, "vendor_id"),
            product_id: label(s, "product_id"),
            manufacturer: label(s, "manufacturer"),
            product: label(s, "product"),
            speed: label(s, "speed"),
            ..UsbDevice::default()
        })
        .collect();
    usb.sort_by_cached_key(|u| natural(&u.port));
    for ((port, kind), (total, recent)) in errs {
        if let Some(dev) = usb.iter_mut().find(|u| u.port == port) {
            dev.errors_total += total;
            dev.errors_recent += recent;
            dev.kinds.push((kind, total, recent));
        } else {
            d.usb_orphan_errors.push(UsbErrorRow {
                port,
                kind,
                total,
                recent,
            });
        }
    }
    d.usb = usb;

    // Anomalies: active now, and recent (active at some time in the range, not now).
    let mut by_key: BTreeMap<(String, String, String), Anomaly> = BTreeMap::new();
    for s in get(HostQuery::Anomalies) {
        let key = anomaly_key(&s.labels);
        let e = by_key
            .entry(key)
            .or_insert_with(|| anomaly_from(&s.labels, false));
        match name(s).as_str() {
            "sysmon_anomaly_active" => e.active = s.v >= 1.0,
            "sysmon_anomaly_value" => e.value = finite(s.v),
            "sysmon_anomaly_threshold" => e.threshold = finite(s.v),
            _ => {}
        }
    }
    let mut active: Vec<Anomaly> = by_key.values().filter(|a| a.active).cloned().collect();
    let mut recent: Vec<Anomaly> = get(HostQuery::AnomaliesRecent)
        .iter()
        .filter(|s| {
            !by_key
                .get(&anomaly_key(&s.labels))
                .is_some_and(|a| a.active)
        })
        .map(|s| {
            let mut a = anomaly_from(&s.labels, false);
            if let Some(known) = by_key.get(&anomaly_key(&s.labels)) {
                a.value = known.value;
                a.threshold = known.threshold;
            }
            a
        })
        .collect();
    sort_anomalies(&mut active);
    sort_anomalies(&mut recent);
    d.anomalies_active = active;
    d.anomalies_recent = recent;
    d
}

/// The storage-health figures of one host from the answer to [`HostQuery::Storage`].
fn build_storage(samples: &[Sample]) -> StorageHealth {
    let mut arrays: BTreeMap<String, RaidArray> = BTreeMap::new();
    let mut pools: BTreeMap<String, String> = BTreeMap::new();
    let mut bonds: BTreeMap<String, Bond> = BTreeMap::new();
    let mut memory: Option<(f64, f64)> = None;
    for s in samples {
        let get = |k: &str| s.labels.get(k).cloned().unwrap_or_default();
        let v = finite(s.v);
        match s.labels.get("__name__").map(String::as_str).unwrap_or("") {
            "node_md_state" => {
                let a = arrays.entry(get("device")).or_default();
                if v == Some(1.0) {
                    a.state = get("state");
                }
            }
            "node_md_disks_required" => arrays.entry(get("device")).or_default().required = v,
            "node_md_disks" => {
                let a = arrays.entry(get("device")).or_default();
                match get("state").as_str() {
                    "active" => a.active = v,
                    "failed" => a.failed = v,
                    _ => {}
                }
            }
            "node_zfs_zpool_state" => {
                let p = pools.entry(get("zpool")).or_default();
                if v == Some(1.0) {
                    *p = get("state");
                }
            }
            "node_bonding_slaves" => {
                bonds.entry(get("master")).or_default().slaves = v.unwrap_or(0.0)
            }
            "node_bonding_active" => {
                bonds.entry(get("master")).or_default().active = v.unwrap_or(0.0)
            }
            "node_edac_correctable_errors_total" => {
                memory.get_or_insert((0.0, 0.0)).0 += v.unwrap_or(0.0)
            }
            "node_edac_uncorrectable_errors_total" => {
                memory.get_or_insert((0.0, 0.0)).1 += v.unwrap_or(0.0)
            }
            _ => {}
        }
    }
    let mut arrays: Vec<RaidArray> = arrays
        .into_iter()
        .map(|(device, a)| RaidArray { device, ..a })
        .collect();
    arrays.sort_by_cached_key(|a| natural(&a.device));
    StorageHealth {
        arrays,
        pools: pools.into_iter().collect(),
        bonds: bonds
            .into_iter()
            .map(|(master, b)| Bond { master, ..b })
            .collect(),
        memory_errors: memory,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::tests::sample;
    use crate::prom::{Labels, Series};

    #[test]
    fn host_detail_sensors_with_labels_limits_and_junk_limits() {
        let mut r = Instants::new();
        r.insert(
            HostQuery::Temps,
            vec![
                sample(
                    &[
                        ("__name__", "node_hwmon_temp_celsius"),
                        ("chip", "platform_coretemp_0"),
                        ("sensor", "temp1"),
                    ],
                    52.0,
                ),
                sample(
                    &[
                        ("__name__", "node_hwmon_temp_crit_celsius"),
                        ("chip", "platform_coretemp_0"),
                        ("sensor", "temp1"),
                    ],
                    100.0,
                ),
                sample(
                    &[
                        ("__name__", "node_hwmon_sensor_label"),
                        ("chip", "platform_coretemp_0"),
                        ("sensor", "temp1"),
                        ("label", "Package id 0"),
                    ],
                    1.0,
                ),
                sample(
                    &[
                        ("__name__", "node_hwmon_chip_names"),
                        ("chip", "platform_coretemp_0"),
                        ("chip_name", "coretemp"),
                    ],
                    1.0,
                ),
                sample(
                    &[
                        ("__name__", "node_hwmon_temp_celsius"),
                        ("chip", "nvme_nvme0"),
                        ("sensor", "temp2"),
                    ],
                    38.85,
                ),
                sample(
                    &[
                        ("__name__", "node_hwmon_temp_max_celsius"),
                        ("chip", "nvme_nvme0"),
                        ("sensor", "temp2"),
                    ],
                    65261.85,
                ),
                sample(
                    &[
                        ("__name__", "node_thermal_zone_temp"),
                        ("zone", "0"),
                        ("type", "acpitz"),
                    ],
                    48.0,
                ),
            ],
        );
        let d = build_host("h:1", &r);
        assert_eq!(d.sensors.len(), 3);
        let nvme = &d.sensors[0];
        assert_eq!(nvme.chip, "nvme_nvme0");
        assert_eq!(nvme.max, None, "65261.85 °C is not a limit");
        let core = &d.sensors[1];
        assert_eq!(core.display_name(), "coretemp Package id 0");
        assert_eq!(core.limit(), Some(100.0));
        assert_eq!(d.sensors[2].display_name(), "thermal_zone0 acpitz");
    }

    #[test]
    fn host_detail_without_sensors_memory_fs_usb_anomalies() {
        let mut r = Instants::new();
        r.insert(
            HostQuery::Memory,
            vec![
                sample(&[("__name__", "node_memory_MemTotal_bytes")], 100.0),
                sample(&[("__name__", "node_memory_MemAvailable_bytes")], 25.0),
                sample(&[("__name__", "node_memory_SwapTotal_bytes")], 0.0),
                sample(&[("__name__", "node_memory_SwapFree_bytes")], 0.0),
            ],
        );
        r.insert(
            HostQuery::Filesystems,
            vec![
                sample(
                    &[
                        ("__name__", "node_filesystem_size_bytes"),
                        ("mountpoint", "/"),
                        ("device", "/dev/vda1"),
                        ("fstype", "ext4"),
                    ],
                    1000.0,
                ),
                sample(
                    &[
                        ("__name__", "node_filesystem_avail_bytes"),
                        ("mountpoint", "/"),
                        ("device", "/dev/vda1"),
                        ("fstype", "ext4"),
                    ],
                    100.0,
                ),
            ],
        );
        r.insert(
            HostQuery::UsbDevices,
            vec![
                sample(
                    &[
                        ("port", "1-10"),
                        ("product", "Hub"),
                        ("vendor_id", "1d6b"),
                        ("product_id", "0002"),
                    ],
                    1.0,
                ),
                sample(
                    &[
                        ("port", "1-2"),
                        ("manufacturer", "Logitech"),
                        ("product", "USB Mouse"),
                    ],
                    1.0,
                ),
            ],
        );
        r.insert(
            HostQuery::UsbErrors,
            vec![
                sample(&[("port", "1-2"), ("kind", "timeout")], 3.0),
                sample(&[("port", "3-1"), ("kind", "reset")], 1.0),
            ],
        );
        r.insert(
            HostQuery::UsbErrorsRecent,
            vec![sample(&[("port", "1-2"), ("kind", "timeout")], 2.0)],
        );
        let act = |name: &str, rule: &str, v: f64| {
            sample(
                &[
                    ("__name__", name),
                    ("rule", rule),
                    ("subject", "host"),
                    ("severity", "critical"),
                    ("category", "memory"),
                ],
                v,
            )
        };
        r.insert(
            HostQuery::Anomalies,
            vec![
                act("sysmon_anomaly_active", "memory_high", 1.0),
                act("sysmon_anomaly_value", "memory_high", 0.97),
                act("sysmon_anomaly_threshold", "memory_high", 0.9),
                act("sysmon_anomaly_active", "cpu_high", 0.0),
            ],
        );
        r.insert(
            HostQuery::AnomaliesRecent,
            vec![
                sample(
                    &[
                        ("rule", "memory_high"),
                        ("subject", "host"),
                        ("severity", "critical"),
                    ],
                    1.0,
                ),
                sample(
                    &[
                        ("rule", "cpu_high"),
                        ("subject", "host"),
                        ("severity", "warning"),
                    ],
                    1.0,
                ),
            ],
        );
        let d = build_host("h:1", &r);
        assert!(d.sensors.is_empty());
        assert_eq!(d.mem_ratio(), Some(0.75));
        assert_eq!(d.swap_ratio(), None, "no swap");
        assert_eq!(d.filesystems[0].used_ratio(), Some(0.9));
        assert_eq!(d.usb[0].port, "1-2", "natural port order");
        assert_eq!(d.usb[0].display_name(), "Logitech USB Mouse");
        assert_eq!(d.usb[0].errors_total, 3.0);
        assert_eq!(d.usb[0].errors_recent, 2.0);
        assert_eq!(d.usb[1].display_name(), "Hub");
        assert_eq!(d.usb_orphan_errors.len(), 1);
        assert_eq!(d.anomalies_active.len(), 1);
        assert_eq!(d.anomalies_active[0].value, Some(0.97));
        assert_eq!(d.anomalies_recent.len(), 1);
        assert_eq!(d.anomalies_recent[0].rule, "cpu_high");
    }

    #[test]
    fn history_drops_gaps() {
        let mut r = Ranges::new();
        r.insert(
            HistoryQuery::Cpu,
            vec![Series {
                labels: Labels::new(),
                points: vec![(1.0, 0.5), (2.0, f64::NAN), (3.0, 0.25)],
            }],
        );
        let h = build_history(&r);
        assert_eq!(h.cpu, vec![(1.0, 0.5), (3.0, 0.25)]);
        assert!(h.mem.is_empty());
    }

    #[test]
    fn host_storage_health_arrays_pools_bonds_and_memory_errors() {
        let mut r = Instants::new();
        let md = |name: &str, dev: &str, state: Option<&str>, v: f64| {
            let mut l = vec![("__name__", name), ("device", dev)];
            if let Some(st) = state {
                l.push(("state", st));
            }
            sample(&l, v)
        };
        r.insert(
            HostQuery::Storage,
            vec![
                // md10 after md9; md9 inactive is not also degraded.
                md("node_md_state", "md10", Some("active"), 1.0),
                md("node_md_state", "md10", Some("inactive"), 0.0),
                md("node_md_disks_required", "md10", None, 2.0),
                md("node_md_disks", "md10", Some("active"), 1.0),
                md("node_md_disks", "md10", Some("failed"), 1.0),
                md("node_md_state", "md9", Some("inactive"), 1.0),
                md("node_md_disks_required", "md9", None, 2.0),
                md("node_md_disks", "md9", Some("active"), 0.0),
                // A pool whose state matches none of the exported ones.
                sample(
                    &[
                        ("__name__", "node_zfs_zpool_state"),
                        ("zpool", "tank"),
                        ("state", "online"),
                    ],
                    0.0,
                ),
                sample(
                    &[("__name__", "node_bonding_slaves"), ("master", "bond0")],
                    2.0,
                ),
                sample(
                    &[("__name__", "node_bonding_active"), ("master", "bond0")],
                    2.0,
                ),
                sample(
                    &[
                        ("__name__", "node_edac_correctable_errors_total"),
                        ("controller", "0"),
                    ],
                    3.0,
                ),
                sample(
                    &[
                        ("__name__", "node_edac_uncorrectable_errors_total"),
                        ("controller", "0"),
                    ],
                    f64::NAN,
                ),
            ],
        );
        let st = build_host("h:1", &r).storage;
        let names: Vec<&str> = st.arrays.iter().map(|a| a.device.as_str()).collect();
        assert_eq!(names, ["md9", "md10"]);
        assert_eq!(st.arrays[0].state, "inactive");
        assert!(!st.arrays[0].degraded() && st.arrays[0].at_fault());
        assert!(st.arrays[1].degraded() && st.arrays[1].has_failed_disk());
        assert_eq!(st.pools, [("tank".to_string(), String::new())]);
        assert!(!st.bonds[0].degraded());
        assert_eq!(st.memory_errors, Some((3.0, 0.0)));
        assert!(!st.is_empty());

        // Nothing, or whole bonds alone: nothing to show.
        assert!(build_host("h:1", &Instants::new()).storage.is_empty());
        let mut r = Instants::new();
        r.insert(
            HostQuery::Storage,
            vec![
                sample(
                    &[("__name__", "node_bonding_slaves"), ("master", "bond0")],
                    2.0,
                ),
                sample(
                    &[("__name__", "node_bonding_active"), ("master", "bond0")],
                    2.0,
                ),
            ],
        );
        assert!(build_host("h:1", &r).storage.is_empty());
    }

    #[test]
    fn host_limits_and_clock_present_absent_and_partial() {
        let mut r = Instants::new();
        r.insert(
            HostQuery::Limits,
            vec![
                sample(&[("__name__", "node_filefd_allocated")], 12832.0),
                sample(
                    &[("__name__", "node_filefd_maximum")],
                    9_223_372_036_854_775_807.0,
                ),
                // Conntrack count without its limit: shown, without a share.
                sample(&[("__name__", "node_nf_conntrack_entries")], 214.0),
            ],
        );
        r.insert(
            HostQuery::Clock,
            vec![
                sample(&[("__name__", "node_timex_sync_status")], 0.0),
                sample(&[("__name__", "node_timex_offset_seconds")], -0.0123),
                sample(&[("__name__", "node_timex_maxerror_seconds")], 16.0),
            ],
        );
        let d = build_host("h:1", &r);
        let fd = d.file_descriptors.unwrap();
        assert_eq!(fd.used, 12832.0);
        assert!(fd.ratio().unwrap() < 1e-12);
        let ct = d.conntrack.unwrap();
        assert_eq!((ct.used, ct.limit, ct.ratio()), (214.0, None, None));
        assert_eq!(d.clock.sync, ClockSync::NotSynced);
        assert_eq!(d.clock.offset, Some(-0.0123));
        assert_eq!(d.clock.max_error, Some(16.0));

        // Nothing reported: unknown, not zero and not unsynchronised.
        let d = build_host("h:1", &Instants::new());
        assert_eq!(d.file_descriptors, None);
        assert_eq!(d.conntrack, None);
        assert_eq!(d.clock, Clock::default());
        assert_eq!(d.clock.sync, ClockSync::Unknown);

        // A limit of 0 gives no share; a NaN status is unknown; synced is 1.
        let mut r = Instants::new();
        r.insert(
            HostQuery::Limits,
            vec![
                sample(&[("__name__", "node_nf_conntrack_entries")], 5.0),
                sample(&[("__name__", "node_nf_conntrack_entries_limit")], 0.0),
                sample(&[("__name__", "node_filefd_maximum")], 100.0),
            ],
        );
        r.insert(
            HostQuery::Clock,
            vec![sample(&[("__name__", "node_timex_sync_status")], f64::NAN)],
        );
        let d = build_host("h:1", &r);
        assert_eq!(d.conntrack.unwrap().ratio(), None);
        assert_eq!(
            d.file_descriptors, None,
            "a limit without a count is not reported"
        );
        assert_eq!(d.clock.sync, ClockSync::Unknown);
        r.insert(
            HostQuery::Clock,
            vec![sample(&[("__name__", "node_timex_sync_status")], 1.0)],
        );
        assert_eq!(build_host("h:1", &r).clock.sync, ClockSync::Synced);
    }
}
