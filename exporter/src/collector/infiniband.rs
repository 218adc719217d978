//! `infiniband`: InfiniBand (and RDMA) ports from `<sysfs>/class/infiniband/<device>/`
//! (Documentation/ABI/stable/sysfs-class-infiniband), as node_exporter 1.12's `infiniband_linux.go`
//! (enabled by default) exports them through prometheus/procfs:
//!
//! * `node_infiniband_info{device,board_id,firmware_version,hca_type}` 1 per device (`fw_ver` must
//!   exist; a missing `board_id` or `hca_type` is an empty label);
//! * per port (`{device,port}`): `node_infiniband_state_id` and `_physical_state_id` (the number
//!   before the colon of `state` / `phys_state`, "4: ACTIVE"), `_rate_bytes_per_second` (`rate`,
//!   "100 Gb/sec (2X HDR)", in Gb/s read as a 32-bit float, times 125,000,000);
//! * the counters of `ports/<n>/counters/` and, for kernels before 4.5, `counters_ext/` (the
//!   `legacy_*` metrics), each only when its file exists and is readable. `port_{rcv,xmit}_data`
//!   (and `_64`) count 4-octet words per lane: they are multiplied by 4, as node_exporter does.
//!   A counter reading "N/A (no PMA)" is skipped. Intel `irdma` devices have no `counters/`; it
//!   is not read for them.
//!
//! Counter values are parsed as Go's `ParseUint(s, 0, 64)` after trimming, so `0x` hexadecimal
//! is accepted too.
//!
//! No `<sysfs>/class/infiniband` (no RDMA driver) is no data. A malformed or unreadable attribute
//! fails the collector; sysmon then publishes the devices read completely (node_exporter publishes
//! nothing). prometheus/procfs also reads `hw_counters/` of `mlx5_*` and `irdma*` devices, failing
//! when it is missing or malformed, but node_exporter 1.12 exports none of it: sysmon does not read
//! it.

use std::io::ErrorKind;
use std::path::Path;

use super::{
    sorted_dir_entries, sorted_dir_entries_if_present, AttrDir, BuildContext, CollectError,
    Collector, Registration, Roots,
};
use crate::metrics::MetricSet;

pub const REGISTRATION: Registration = Registration {
    name: "infiniband",
    default_enabled: true,
    help: "InfiniBand ports from /sys/class/infiniband",
    flags: super::no_flags,
    cadence: super::Cadence::Slow,
    isolation: super::Isolation::Thread,
    build,
};

fn build(ctx: &BuildContext) -> Result<Box<dyn Collector>, String> {
    Ok(Box::new(InfinibandCollector {
        roots: ctx.roots.clone(),
    }))
}

pub struct InfinibandCollector {
    roots: Roots,
}

/// A port counter: its directory below the port, file, metric name (after `node_infiniband_`),
/// help, and whether the file counts 4-octet words (multiplied by 4).
pub struct CounterDef {
    pub dir: &'static str,
    pub file: &'static str,
    pub metric: &'static str,
    pub help: &'static str,
    pub words: bool,
}

const fn c(
    dir: &'static str,
    file: &'static str,
    metric: &'static str,
    help: &'static str,
    words: bool,
) -> CounterDef {
    CounterDef {
        dir,
        file,
        metric,
        help,
        words,
    }
}

const EXT: &str = "counters_ext";
const STD: &str = "counters";

/// Every counter node_exporter 1.12 exports, in its order.
pub const COUNTERS: [CounterDef; 29] = [
    c(EXT, "port_multicast_rcv_packets", "node_infiniband_legacy_multicast_packets_received_total", "Number of multicast packets received (counters_ext).", false),
    c(EXT, "port_multicast_xmit_packets", "node_infiniband_legacy_multicast_packets_transmitted_total", "Number of multicast packets transmitted (counters_ext).", false),
    c(EXT, "port_rcv_data_64", "node_infiniband_legacy_data_received_bytes_total", "Number of data octets received on all links (counters_ext).", true),
    c(EXT, "port_rcv_packets_64", "node_infiniband_legacy_packets_received_total", "Number of data packets received on all links (counters_ext).", false),
    c(EXT, "port_unicast_rcv_packets", "node_infiniband_legacy_unicast_packets_received_total", "Number of unicast packets received (counters_ext).", false),
    c(EXT, "port_unicast_xmit_packets", "node_infiniband_legacy_unicast_packets_transmitted_total", "Number of unicast packets transmitted (counters_ext).", false),
    c(EXT, "port_xmit_data_64", "node_infiniband_legacy_data_transmitted_bytes_total", "Number of data octets transmitted on all links (counters_ext).", true),
    c(EXT, "port_xmit_packets_64", "node_infiniband_legacy_packets_transmitted_total", "Number of data packets transmitted on all links (counters_ext).", false),
    c(STD, "excessive_buffer_overrun_errors", "node_infiniband_excessive_buffer_overrun_errors_total", "Number of times that OverrunErrors consecutive flow control update periods each had at least one overrun error.", false),
    c(STD, "link_downed", "node_infiniband_link_downed_total", "Number of times the link failed to recover from an error state and went down.", false),
    c(STD, "link_error_recovery", "node_infiniband_link_error_recovery_total", "Number of times the link recovered from an error state.", false),
    c(STD, "local_link_integrity_errors", "node_infiniband_local_link_integrity_errors_total", "Number of times the count of local physical errors exceeded the LocalPhyErrors threshold.", false),
    c(STD, "multicast_rcv_packets", "node_infiniband_multicast_packets_received_total", "Number of multicast packets received, errors included.", false),
    c(STD, "multicast_xmit_packets", "node_infiniband_multicast_packets_transmitted_total", "Number of multicast packets transmitted, errors included.", false),
    c(STD, "port_rcv_constraint_errors", "node_infiniband_port_constraint_errors_received_total", "Number of packets received on the switch physical port that were discarded.", false),
    c(STD, "port_xmit_constraint_errors", "node_infiniband_port_constraint_errors_transmitted_total", "Number of packets not transmitted from the switch physical port.", false),
    c(STD, "port_rcv_data", "node_infiniband_port_data_received_bytes_total", "Number of data octets received on all links.", true),
    c(STD, "port_xmit_data", "node_infiniband_port_data_transmitted_bytes_total", "Number of data octets transmitted on all links.", true),
    c(STD, "port_rcv_discards", "node_infiniband_port_discards_received_total", "Number of inbound packets discarded because the port was down or congested.", false),
    c(STD, "port_xmit_discards", "node_infiniband_port_discards_transmitted_total", "Number of outbound packets discarded because the port was down or congested.", false),
    c(STD, "port_rcv_errors", "node_infiniband_port_errors_received_total", "Number of packets with an error received on the port.", false),
    c(STD, "port_rcv_packets", "node_infiniband_port_packets_received_total", "Number of packets received on all VLs of the port, errors included.", false),
    c(STD, "port_xmit_packets", "node_infiniband_port_packets_transmitted_total", "Number of packets transmitted on all VLs of the port, errors included.", false),
    c(STD, "port_xmit_wait", "node_infiniband_port_transmit_wait_total", "Number of ticks during which the port had data to transmit but sent none for the whole tick.", false),
    c(STD, "unicast_rcv_packets", "node_infiniband_unicast_packets_received_total", "Number of unicast packets received, errors included.", false),
    c(STD, "unicast_xmit_packets", "node_infiniband_unicast_packets_transmitted_total", "Number of unicast packets transmitted, errors included.", false),
    c(STD, "port_rcv_remote_physical_errors", "node_infiniband_port_receive_remote_physical_errors_total", "Number of packets received on the port marked with the EBP (End of Bad Packet) delimiter.", false),
    c(STD, "port_rcv_switch_relay_errors", "node_infiniband_port_receive_switch_relay_errors_total", "Number of packets the switch could not forward.", false),
    c(STD, "symbol_error", "node_infiniband_symbol_error_total", "Number of minor link errors detected on one or more physical lanes.", false),
];

/// `VL15_dropped` is the one counter whose metric is not in [`COUNTERS`] order above (it comes
/// last in node_exporter's output too); kept apart so the table stays one block per directory.
const VL15: CounterDef = c(
    STD,
    "VL15_dropped",
    "node_infiniband_vl15_dropped_total",
    "Number of incoming VL15 packets dropped for lack of resources.",
    false,
);

/// Every counter definition, VL15 included.
pub fn counter_defs() -> impl Iterator<Item = &'static CounterDef> {
    COUNTERS.iter().chain(std::iter::once(&VL15))
}

/// One port as read from sysfs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Port {
    pub number: u32,
    pub state_id: u32,
    pub phys_state_id: u32,
    pub rate_bytes: u64,
    /// Values of [`counter_defs`], in its order; `None` when the file does not exist.
    pub counters: Vec<Option<u64>>,
}

/// One device as read from sysfs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Device {
    pub name: String,
    pub board_id: String,
    pub firmware_version: String,
    pub hca_type: String,
    pub ports: Vec<Port>,
}

/// Parses `state` / `phys_state` ("4: ACTIVE", "5: LinkUp"): exactly one colon, a decimal number
/// before it (white space around it ignored). Returns the number.
pub fn parse_state(text: &str) -> Option<u32> {
    let (id, name) = text.split_once(':')?;
    if name.contains(':') {
        return None;
    }
    parse_decimal_u32(id.trim())
}

/// A decimal `u32` as Go's `ParseUint(s, 10, 32)`: digits only, no sign.
fn parse_decimal_u32(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Parses `rate` ("100 Gb/sec (2X HDR)", "2.5 Gb/sec (1X SDR)") into bytes per second: the text
/// before the first space, read as a 32-bit float in Gb/s, times 125,000,000 (truncated).
pub fn parse_rate(text: &str) -> Option<u64> {
    let (value, _) = text.split_once(' ')?;
    let gbits: f32 = value.trim().parse().ok()?;
    if !gbits.is_finite() || gbits < 0.0 {
        return None;
    }
    let bytes = f64::from(gbits) * 125_000_000.0;
    (bytes < u64::MAX as f64).then_some(bytes as u64)
}

/// An unsigned integer as Go's `strconv.ParseUint(s, 0, 64)`: decimal, `0x` hexadecimal, `0o` or
/// leading-`0` octal, `0b` binary (no sign, no underscores).
pub fn parse_go_uint(s: &str) -> Option<u64> {
    let lower = s.get(..2).map(str::to_ascii_lowercase);
    let (digits, radix) = match lower.as_deref() {
        Some("0x") => (&s[2..], 16),
        Some("0o") => (&s[2..], 8),
        Some("0b") => (&s[2..], 2),
        _ if s.len() > 1 && s.starts_with('0') => (&s[1..], 8),
        _ => (s, 10),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

/// What a counter file says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CounterValue {
    Value(u64),
    /// "N/A (no PMA)": the port has no performance management agent; skipped.
    NotAvailable,
}

/// Parses a counter file's text (trimmed, Go `ParseUint(s, 0, 64)`), or recognises "N/A (no PMA)".
pub fn parse_counter(text: &str) -> Option<CounterValue> {
    let t = text.trim();
    match parse_go_uint(t) {
        Some(v) => Some(CounterValue::Value(v)),
        None if t.contains("N/A (no PMA)") => Some(CounterValue::NotAvailable),
        None => None,
    }
}

/// Reads an attribute, trimmed; `Ok(None)` when it does not exist.
fn read_optional(dir: &AttrDir, name: &str) -> Result<Option<String>, CollectError> {
    match dir.read(name) {
        Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).trim().to_string())),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(CollectError::io(dir.path().join(name), e)),
    }
}

fn read_required(dir: &AttrDir, name: &str) -> Result<String, CollectError> {
    dir.read(name)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .map_err(|e| CollectError::io(dir.path().join(name), e))
}

/// Whether a read error means "this counter is not there" (procfs skips these): missing, no
/// permission, EINVAL or EOPNOTSUPP from the driver.
fn skippable(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::NotFound | ErrorKind::PermissionDenied | ErrorKind::InvalidInput
    ) || e.raw_os_error() == Some(rustix::io::Errno::OPNOTSUPP.raw_os_error())
}

/// Reads the counters of one directory (`counters` or `counters_ext`) into `values`. A missing
/// `counters_ext` is normal; a missing `counters` is an error (procfs's behaviour).
fn read_counters(
    port_path: &Path,
    dir_name: &str,
    values: &mut [Option<u64>],
) -> Result<(), CollectError> {
    let path = port_path.join(dir_name);
    let entries = match std::fs::read_dir(&path) {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound && dir_name == EXT => return Ok(()),
        Err(e) => return Err(CollectError::io(&path, e)),
    };
    let dir = AttrDir::open(&path);
    for entry in entries {
        let entry = entry.map_err(|e| CollectError::io(&path, e))?;
        if !entry.file_type().map(|t| t.is_file()).unwrap_or(false) {
            continue;
        }
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(index) = counter_defs().position(|d| d.dir == dir_name && d.file == name) else {
            continue;
        };
        let text = match dir.read(name) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) if skippable(&e) => continue,
            Err(e) => return Err(CollectError::io(path.join(name), e)),
        };
        match parse_counter(&text) {
            Some(CounterValue::Value(v)) => {
                let words = counter_defs().nth(index).is_some_and(|d| d.words);
                values[index] = Some(if words { v.wrapping_mul(4) } else { v });
            }
            Some(CounterValue::NotAvailable) => {}
            None => {
                return Err(CollectError::parse(
                    path.join(name),
                    format!("expected an unsigned integer, found {:?}", text.trim()),
                ))
            }
        }
    }
    Ok(())
}

/// Reads port `number` of the device `device`, in the directory `path`.
pub fn read_port(path: &Path, device: &str, number: &str) -> Result<Port, CollectError> {
    let number = parse_decimal_u32(number).ok_or_else(|| {
        CollectError::parse(path, format!("expected a port number, found {number:?}"))
    })?;
    let dir = AttrDir::open(path);
    let state = |name: &str| -> Result<u32, CollectError> {
        let text = read_required(&dir, name)?;
        parse_state(&text).ok_or_else(|| {
            CollectError::parse(
                path.join(name),
                format!("expected \"<id>: <name>\", found {:?}", text.trim()),
            )
        })
    };
    let state_id = state("state")?;
    let phys_state_id = state("phys_state")?;
    let rate_text = read_required(&dir, "rate")?;
    let rate_bytes = parse_rate(&rate_text).ok_or_else(|| {
        CollectError::parse(
            path.join("rate"),
            format!(
                "expected \"<Gb/s> Gb/sec (<width>)\", found {:?}",
                rate_text.trim()
            ),
        )
    })?;
    let mut counters = vec![None; counter_defs().count()];
    if !device.starts_with("irdma") {
        read_counters(path, STD, &mut counters)?;
        read_counters(path, EXT, &mut counters)?;
    }
    Ok(Port {
        number,
        state_id,
        phys_state_id,
        rate_bytes,
        counters,
    })
}

/// Reads the device directory `path`, named `name`.
pub fn read_device(path: &Path, name: &str) -> Result<Device, CollectError> {
    let dir = AttrDir::open(path);
    let firmware_version = read_required(&dir, "fw_ver")?.trim().to_string();
    let board_id = read_optional(&dir, "board_id")?.unwrap_or_default();
    let hca_type = read_optional(&dir, "hca_type")?.unwrap_or_default();
    let mut ports = Vec::new();
    for entry in sorted_dir_entries(path.join("ports"))? {
        let number = entry.file_name().to_string_lossy().into_owned();
        ports.push(read_port(&entry.path(), name, &number)?);
    }
    ports.sort_by_key(|p| p.number);
    Ok(Device {
        name: name.to_string(),
        board_id,
        firmware_version,
        hca_type,
        ports,
    })
}

impl InfinibandCollector {
    fn publish(device: &Device, out: &mut MetricSet) {
        out.gauge(
            "node_infiniband_info",
            "Non-numeric data from /sys/class/infiniband/<device>, value is always 1.",
        )
        .sample(
            &[
                ("device", &device.name),
                ("board_id", &device.board_id),
                ("firmware_version", &device.firmware_version),
                ("hca_type", &device.hca_type),
            ],
            1.0,
        );
        for port in &device.ports {
            let number = port.number.to_string();
            let labels = [("device", device.name.as_str()), ("port", number.as_str())];
            out.gauge(
                "node_infiniband_state_id",
                "State of the InfiniBand port (0: no change, 1: down, 2: init, 3: armed, 4: active, 5: act defer).",
            )
            .sample(&labels, f64::from(port.state_id));
            out.gauge(
                "node_infiniband_physical_state_id",
                "Physical state of the InfiniBand port (0: no change, 1: sleep, 2: polling, 3: disabled, 4: port configuration training, 5: link up, 6: link error recovery, 7: phy test).",
            )
            .sample(&labels, f64::from(port.phys_state_id));
            out.gauge(
                "node_infiniband_rate_bytes_per_second",
                "Maximum signal transfer rate of the port.",
            )
            .sample(&labels, port.rate_bytes as f64);
            for (def, value) in counter_defs().zip(&port.counters) {
                if let Some(v) = value {
                    out.counter(def.metric, def.help).sample(&labels, *v as f64);
                }
            }
        }
    }
}

impl Collector for InfinibandCollector {
    fn collect(&self, out: &mut MetricSet) -> Result<(), CollectError> {
        let class = self.roots.sys("class/infiniband");
        let Some(entries) = sorted_dir_entries_if_present(&class)? else {
            return Ok(());
        };
        let mut errors = Vec::new();
        for entry in entries {
            let name = entry.file_name().to_string_lossy().into_owned();
            match read_device(&entry.path(), &name) {
                Ok(device) => Self::publish(&device, out),
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

    fn collect(machine: &str) -> (MetricSet, Result<(), CollectError>) {
        let mut out = MetricSet::new();
        let r = InfinibandCollector {
            roots: fixture_roots(machine),
        }
        .collect(&mut out);
        (out, r)
    }

    fn value(out: &MetricSet, name: &str, device: &str, port: &str) -> Option<f64> {
        out.get(name)?
            .samples
            .iter()
            .find(|s| {
                s.labels.iter().any(|(k, v)| k == "device" && v == device)
                    && s.labels.iter().any(|(k, v)| k == "port" && v == port)
            })
            .map(|s| s.value)
    }

    #[test]
    fn parses_states_and_rates() {
        assert_eq!(parse_state("4: ACTIVE\n"), Some(4));
        assert_eq!(parse_state("5: LinkUp"), Some(5));
        assert_eq!(parse_state(" 1 :DOWN"), Some(1));
        assert_eq!(parse_state("ACTIVE"), None);
        assert_eq!(parse_state("4 ACTIVE"), None);
        assert_eq!(parse_state("+4: ACTIVE"), None);
        assert_eq!(parse_state("4: A:B"), None);
        assert_eq!(parse_rate("100 Gb/sec (2X HDR)\n"), Some(12_500_000_000));
        assert_eq!(parse_rate("2.5 Gb/sec (1X SDR)"), Some(312_500_000));
        assert_eq!(parse_rate("56 Gb/sec (4X FDR)"), Some(7_000_000_000));
        assert_eq!(parse_rate("100"), None);
        assert_eq!(parse_rate("fast Gb/sec"), None);
        assert_eq!(parse_rate("-1 Gb/sec"), None);
    }

    #[test]
    fn parses_counters_as_go() {
        assert_eq!(parse_counter("12345\n"), Some(CounterValue::Value(12345)));
        assert_eq!(parse_counter("0x10"), Some(CounterValue::Value(16)));
        assert_eq!(parse_counter("010"), Some(CounterValue::Value(8)));
        assert_eq!(parse_counter("0"), Some(CounterValue::Value(0)));
        assert_eq!(
            parse_counter("N/A (no PMA)\n"),
            Some(CounterValue::NotAvailable)
        );
        assert_eq!(parse_counter("-1"), None);
        assert_eq!(parse_counter("+1"), None);
        assert_eq!(parse_counter(""), None);
        assert_eq!(parse_counter("18446744073709551616"), None);
    }

    #[test]
    fn server_hca() {
        let (out, r) = collect("server");
        r.unwrap();
        let info = out.get("node_infiniband_info").unwrap();
        assert_eq!(info.samples.len(), 2);
        assert!(info.samples[0]
            .labels
            .contains(&("hca_type".into(), "MT4123".to_string())));
        assert_eq!(
            value(&out, "node_infiniband_state_id", "mlx5_0", "1"),
            Some(4.0)
        );
        assert_eq!(
            value(&out, "node_infiniband_state_id", "mlx5_1", "1"),
            Some(1.0)
        );
        assert_eq!(
            value(&out, "node_infiniband_rate_bytes_per_second", "mlx5_0", "1"),
            Some(12_500_000_000.0)
        );
        // port_xmit_data counts 4-octet words.
        let words: f64 = std::fs::read_to_string(
            fixture_roots("server").sys("class/infiniband/mlx5_0/ports/1/counters/port_xmit_data"),
        )
        .unwrap()
        .trim()
        .parse()
        .unwrap();
        assert_eq!(
            value(
                &out,
                "node_infiniband_port_data_transmitted_bytes_total",
                "mlx5_0",
                "1"
            ),
            Some(words * 4.0)
        );
        // No counters_ext on a 5.14 kernel, and no port_rcv_discards file in the kernel's list.
        assert!(out
            .get("node_infiniband_legacy_data_received_bytes_total")
            .is_none());
        assert!(out
            .get("node_infiniband_port_discards_received_total")
            .is_none());
        assert!(out.get("node_infiniband_vl15_dropped_total").is_some());
    }

    #[test]
    fn no_rdma_is_no_data() {
        for machine in ["laptop", "vm"] {
            let (out, r) = collect(machine);
            r.unwrap();
            assert_eq!(out.sample_count(), 0, "{machine}");
        }
    }

    #[test]
    fn broken_publishes_good_devices() {
        let (out, r) = collect("broken");
        let err = r.unwrap_err().to_string();
        assert!(err.contains("mlx5_0/ports/1/state"), "{err}");
        assert!(err.contains("qib0/ports/1/counters/symbol_error"), "{err}");
        let info = out.get("node_infiniband_info").unwrap();
        assert_eq!(info.samples.len(), 1, "{info:?}");
        // mlx4_0's counter reading "N/A (no PMA)" is skipped, the others are published.
        assert_eq!(
            value(&out, "node_infiniband_symbol_error_total", "mlx4_0", "1"),
            None
        );
        assert!(value(&out, "node_infiniband_link_downed_total", "mlx4_0", "1").is_some());
    }

    #[test]
    fn legacy_counters_and_irdma() {
        let tmp = tempfile::tempdir().unwrap();
        let dev = |name: &str| tmp.path().join("class/infiniband").join(name);
        for name in ["mlx4_0", "irdma0"] {
            let port = dev(name).join("ports/1");
            std::fs::create_dir_all(port.join("counters_ext")).unwrap();
            std::fs::create_dir_all(port.join("counters")).unwrap();
            std::fs::write(dev(name).join("fw_ver"), "2.42.5000\n").unwrap();
            std::fs::write(port.join("state"), "4: ACTIVE\n").unwrap();
            std::fs::write(port.join("phys_state"), "5: LinkUp\n").unwrap();
            std::fs::write(port.join("rate"), "40 Gb/sec (4X QDR)\n").unwrap();
            std::fs::write(port.join("counters_ext/port_rcv_data_64"), "100\n").unwrap();
            std::fs::write(port.join("counters/link_downed"), "3\n").unwrap();
        }
        let mut out = MetricSet::new();
        InfinibandCollector {
            roots: Roots {
                sysfs: tmp.path().to_path_buf(),
                ..Roots::default()
            },
        }
        .collect(&mut out)
        .unwrap();
        assert_eq!(
            value(
                &out,
                "node_infiniband_legacy_data_received_bytes_total",
                "mlx4_0",
                "1"
            ),
            Some(400.0)
        );
        assert_eq!(
            value(&out, "node_infiniband_link_downed_total", "irdma0", "1"),
            None
        );
        assert_eq!(
            value(&out, "node_infiniband_state_id", "irdma0", "1"),
            Some(4.0)
        );
        let info = out.get("node_infiniband_info").unwrap();
        assert!(info.samples[0]
            .labels
            .contains(&("board_id".into(), String::new())));
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,40}") {
            let _ = parse_state(&text);
            let _ = parse_rate(&text);
            let _ = parse_counter(&text);
        }

        #[test]
        fn generated_attributes_parse_back(id in 0u32..8, half in any::<bool>(), gbits in 0u32..1000, v in any::<u64>()) {
            prop_assert_eq!(parse_state(&format!("{id}: SOMETHING\n")), Some(id));
            let rate = if half { format!("{gbits}.5") } else { gbits.to_string() };
            let want = (gbits as u64) * 125_000_000 + if half { 62_500_000 } else { 0 };
            prop_assert_eq!(parse_rate(&format!("{rate} Gb/sec (4X EDR)\n")), Some(want));
            prop_assert_eq!(parse_counter(&format!("{v}\n")), Some(CounterValue::Value(v)));
            prop_assert_eq!(parse_counter(&format!("{v:#x}")), Some(CounterValue::Value(v)));
        }
    }
}
