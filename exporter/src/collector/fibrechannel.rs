//! `fibrechannel`: Fibre Channel host ports from `<sysfs>/class/fc_host/host*/`
//! (Documentation/ABI/testing/sysfs-class-fc_host, drivers/scsi/scsi_transport_fc.c), as
//! node_exporter 1.12's `fibrechannel_linux.go` (enabled by default) exports them through
//! prometheus/procfs:
//!
//! * `node_fibrechannel_info{fc_host,speed,port_state,port_type,port_id,port_name,fabric_name,
//!   symbolic_name,supported_classes,supported_speeds,dev_loss_tmo}` 1 per host. Attributes are
//!   trimmed; the first two characters (`0x`) of `port_id`, `port_name` and `fabric_name` are
//!   dropped, as procfs does; a missing attribute (a driver may not expose one) is an empty label.
//! * counters `{fc_host}` from `statistics/`: `node_fibrechannel_dumped_frames_total`,
//!   `_error_frames_total`, `_invalid_crc_total`, `_rx_frames_total`, `_rx_words_total`,
//!   `_tx_frames_total`, `_tx_words_total`, `_seconds_since_last_reset_total`,
//!   `_invalid_tx_words_total`, `_link_failure_total`, `_loss_of_sync_total`,
//!   `_loss_of_signal_total`, `_nos_total`, `_fcp_packet_aborts_total`. The kernel prints them in
//!   hexadecimal (`0x1f`), parsed as Go's `ParseUint(s, 0, 64)`; a counter the HBA does not
//!   implement reads all ones (`0xffffffffffffffff`, -1 in the driver) and is not exported, nor is
//!   one whose file is missing.
//!
//! No `<sysfs>/class/fc_host` (no FC driver) is no data. A malformed or unreadable file fails the
//! collector; sysmon publishes the hosts read completely (node_exporter publishes none).

use std::io::ErrorKind;
use std::path::Path;

use super::infiniband::parse_go_uint;
use super::{
    sorted_dir_entries_if_present, AttrDir, BuildContext, CollectError, Collector, Registration,
    Roots,
};
use crate::metrics::MetricSet;

pub const REGISTRATION: Registration = Registration {
    name: "fibrechannel",
    default_enabled: true,
    help: "Fibre Channel host ports from /sys/class/fc_host",
    flags: super::no_flags,
    cadence: super::Cadence::Slow,
    isolation: super::Isolation::Thread,
    build,
};

fn build(ctx: &BuildContext) -> Result<Box<dyn Collector>, String> {
    Ok(Box::new(FibreChannelCollector {
        roots: ctx.roots.clone(),
    }))
}

pub struct FibreChannelCollector {
    roots: Roots,
}

/// The attributes that become labels of `node_fibrechannel_info` (after `fc_host`), in label
/// order: (file, label, whether procfs drops its first two characters).
pub const INFO: [(&str, &str, bool); 10] = [
    ("speed", "speed", false),
    ("port_state", "port_state", false),
    ("port_type", "port_type", false),
    ("port_id", "port_id", true),
    ("port_name", "port_name", true),
    ("fabric_name", "fabric_name", true),
    ("symbolic_name", "symbolic_name", false),
    ("supported_classes", "supported_classes", false),
    ("supported_speeds", "supported_speeds", false),
    ("dev_loss_tmo", "dev_loss_tmo", false),
];

/// The statistics: (file in `statistics/`, metric, help), in node_exporter's output order.
pub const COUNTERS: [(&str, &str, &str); 14] = [
    (
        "dumped_frames",
        "node_fibrechannel_dumped_frames_total",
        "Number of dumped frames.",
    ),
    (
        "error_frames",
        "node_fibrechannel_error_frames_total",
        "Number of frames received with errors.",
    ),
    (
        "invalid_crc_count",
        "node_fibrechannel_invalid_crc_total",
        "Number of frames received with an invalid Cyclic Redundancy Check.",
    ),
    (
        "rx_frames",
        "node_fibrechannel_rx_frames_total",
        "Number of frames received.",
    ),
    (
        "rx_words",
        "node_fibrechannel_rx_words_total",
        "Number of words received by the host port.",
    ),
    (
        "tx_frames",
        "node_fibrechannel_tx_frames_total",
        "Number of frames transmitted by the host port.",
    ),
    (
        "tx_words",
        "node_fibrechannel_tx_words_total",
        "Number of words transmitted by the host port.",
    ),
    (
        "seconds_since_last_reset",
        "node_fibrechannel_seconds_since_last_reset_total",
        "Number of seconds since the host port's statistics were last reset.",
    ),
    (
        "invalid_tx_word_count",
        "node_fibrechannel_invalid_tx_words_total",
        "Number of invalid words transmitted by the host port.",
    ),
    (
        "link_failure_count",
        "node_fibrechannel_link_failure_total",
        "Number of times the host port's link failed.",
    ),
    (
        "loss_of_sync_count",
        "node_fibrechannel_loss_of_sync_total",
        "Number of losses of bit or transmission-word synchronisation.",
    ),
    (
        "loss_of_signal_count",
        "node_fibrechannel_loss_of_signal_total",
        "Number of times the signal was lost.",
    ),
    (
        "nos_count",
        "node_fibrechannel_nos_total",
        "Number of Not_Operational primitive sequences received by the host port.",
    ),
    (
        "fcp_packet_aborts",
        "node_fibrechannel_fcp_packet_aborts_total",
        "Number of aborted FCP packets.",
    ),
];

/// One FC host as read from sysfs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Host {
    pub name: String,
    /// Values of [`INFO`], empty where the attribute does not exist.
    pub info: [String; 10],
    /// Values of [`COUNTERS`], `None` where the file does not exist or reads all ones.
    pub counters: [Option<u64>; 14],
}

/// An info attribute's label value: trimmed, and without its first two characters when `strip`
/// and it is longer than two (procfs's way of dropping `0x`).
pub fn info_value(text: &str, strip: bool) -> String {
    let t = text.trim();
    if strip && t.len() > 2 && t.is_char_boundary(2) {
        t[2..].to_string()
    } else {
        t.to_string()
    }
}

/// Parses a statistics file: `Ok(Some(v))`, `Ok(None)` for an unimplemented counter (all ones),
/// an error saying what was found when it is not an unsigned integer.
pub fn parse_statistic(text: &str) -> Result<Option<u64>, String> {
    match parse_go_uint(text.trim()) {
        Some(u64::MAX) => Ok(None),
        Some(v) => Ok(Some(v)),
        None => Err(format!(
            "expected an unsigned integer, found {:?}",
            text.trim()
        )),
    }
}

/// Reads the host directory `path`, named `name`.
pub fn read_host(path: &Path, name: &str) -> Result<Host, CollectError> {
    let mut host = Host {
        name: name.to_string(),
        ..Host::default()
    };
    let dir = AttrDir::open(path);
    for (slot, (file, _, strip)) in host.info.iter_mut().zip(INFO) {
        match dir.read(file) {
            Ok(bytes) => *slot = info_value(&String::from_utf8_lossy(&bytes), strip),
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(CollectError::io(path.join(file), e)),
        }
    }
    let stats_path = path.join("statistics");
    // procfs lists the directory first: a host without statistics/ is an error.
    std::fs::read_dir(&stats_path).map_err(|e| CollectError::io(&stats_path, e))?;
    let stats = AttrDir::open(&stats_path);
    for (slot, (file, _, _)) in host.counters.iter_mut().zip(COUNTERS) {
        let text = match stats.read(file) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            // Missing, or refused by the driver (EINVAL, EOPNOTSUPP): not exported.
            Err(e)
                if e.kind() == ErrorKind::NotFound
                    || e.kind() == ErrorKind::InvalidInput
                    || e.raw_os_error() == Some(rustix::io::Errno::OPNOTSUPP.raw_os_error()) =>
            {
                continue
            }
            Err(e) => return Err(CollectError::io(stats_path.join(file), e)),
        };
        *slot =
            parse_statistic(&text).map_err(|m| CollectError::parse(stats_path.join(file), m))?;
    }
    Ok(host)
}

impl Collector for FibreChannelCollector {
    fn collect(&self, out: &mut MetricSet) -> Result<(), CollectError> {
        let class = self.roots.sys("class/fc_host");
        let Some(entries) = sorted_dir_entries_if_present(&class)? else {
            return Ok(());
        };
        let mut errors = Vec::new();
        for entry in entries {
            let name = entry.file_name().to_string_lossy().into_owned();
            let host = match read_host(&entry.path(), &name) {
                Ok(host) => host,
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            };
            let mut labels: Vec<(&'static str, &str)> = vec![("fc_host", &host.name)];
            labels.extend(
                INFO.iter()
                    .zip(&host.info)
                    .map(|((_, l, _), v)| (*l, v.as_str())),
            );
            out.gauge(
                "node_fibrechannel_info",
                "Non-numeric data from /sys/class/fc_host/<host>, value is always 1.",
            )
            .sample(&labels, 1.0);
            for (value, (_, metric, help)) in host.counters.iter().zip(COUNTERS) {
                if let Some(v) = value {
                    out.counter(metric, help)
                        .sample(&[("fc_host", &host.name)], *v as f64);
                }
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
        let r = FibreChannelCollector {
            roots: fixture_roots(machine),
        }
        .collect(&mut out);
        (out, r)
    }

    fn value(out: &MetricSet, name: &str, host: &str) -> Option<f64> {
        out.get(name)?
            .samples
            .iter()
            .find(|s| s.labels.iter().any(|(k, v)| k == "fc_host" && v == host))
            .map(|s| s.value)
    }

    fn label<'a>(out: &'a MetricSet, host: &str, name: &str) -> Option<&'a str> {
        out.get("node_fibrechannel_info")?
            .samples
            .iter()
            .find(|s| s.labels.iter().any(|(k, v)| k == "fc_host" && v == host))?
            .labels
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn server_hba() {
        let (out, r) = collect("server");
        r.unwrap();
        assert_eq!(out.get("node_fibrechannel_info").unwrap().samples.len(), 2);
        assert_eq!(label(&out, "host11", "port_state"), Some("Online"));
        assert_eq!(label(&out, "host12", "port_state"), Some("Linkdown"));
        assert_eq!(label(&out, "host11", "port_name"), Some("10000090fa8b2c4e"));
        assert_eq!(label(&out, "host11", "speed"), Some("16 Gbit"));
        assert_eq!(
            value(&out, "node_fibrechannel_rx_frames_total", "host11"),
            Some(f64::from(0x3a91_c4f2u32))
        );
        // lpfc reports no dumped-frames count: all ones.
        assert_eq!(
            value(&out, "node_fibrechannel_dumped_frames_total", "host11"),
            None
        );
        assert_eq!(
            value(&out, "node_fibrechannel_link_failure_total", "host12"),
            Some(3.0)
        );
    }

    #[test]
    fn no_fc_is_no_data() {
        for machine in ["laptop", "vm"] {
            let (out, r) = collect(machine);
            r.unwrap();
            assert_eq!(out.sample_count(), 0, "{machine}");
        }
    }

    #[test]
    fn broken_publishes_good_hosts() {
        let (out, r) = collect("broken");
        let err = r.unwrap_err().to_string();
        assert!(err.contains("host1/statistics/tx_frames"), "{err}");
        assert!(label(&out, "host0", "port_state").is_some());
        assert!(label(&out, "host1", "port_state").is_none());
        // host0 has no symbolic_name: an empty label.
        assert_eq!(label(&out, "host0", "symbolic_name"), Some(""));
    }

    #[test]
    fn values() {
        assert_eq!(info_value("0x10000090fa8b2c4e\n", true), "10000090fa8b2c4e");
        assert_eq!(info_value("0x\n", true), "0x");
        assert_eq!(info_value("Online\n", false), "Online");
        assert_eq!(parse_statistic("0x1f\n"), Ok(Some(31)));
        assert_eq!(parse_statistic("0xffffffffffffffff\n"), Ok(None));
        assert_eq!(parse_statistic("12"), Ok(Some(12)));
        assert!(parse_statistic("lots").unwrap_err().contains("\"lots\""));
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,40}", strip in any::<bool>()) {
            let _ = parse_statistic(&text);
            let _ = info_value(&text, strip);
        }

        #[test]
        fn generated_statistics_parse_back(v in 0..u64::MAX) {
            prop_assert_eq!(parse_statistic(&format!("{v:#x}\n")), Ok(Some(v)));
            prop_assert_eq!(parse_statistic(&format!("{v}")), Ok(Some(v)));
        }
    }
}
