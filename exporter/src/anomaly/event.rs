//! The vocabulary shared by the anomaly engine, its journal, its JSON feed and the backtest:
//! what a sample looked like to the rules ([`Signals`]), and what the rules concluded ([`Event`],
//! [`Transition`]).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How urgent an anomaly is. Ordered: `Info < Warning < Critical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }

    pub fn parse(s: &str) -> Option<Severity> {
        match s {
            "info" => Some(Severity::Info),
            "warning" => Some(Severity::Warning),
            "critical" => Some(Severity::Critical),
            _ => None,
        }
    }
}

/// One anomaly: from the moment its rule fired for a subject until it cleared.
///
/// The identity of an anomaly is `(rule, subject)`: the same rule on two sensors is two anomalies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Unique and increasing across restarts (the journal remembers the last one).
    pub id: u64,
    pub rule: String,
    /// `cpu`, `memory`, `temperature`, `filesystem`, `usb`, `load`, `disk`, `network`.
    pub category: String,
    pub severity: Severity,
    /// What the anomaly is about: a sensor, a mount point, a USB port; `host` for host-wide rules.
    pub subject: String,
    /// One human sentence, e.g. "CPU busy 97.1% for 30s, above 90%".
    pub message: String,
    /// The value that made the rule fire (for a resolved event: still the firing value).
    pub value: f64,
    pub threshold: f64,
    pub started_at: DateTime<Utc>,
    /// `None` while the anomaly is active.
    pub resolved_at: Option<DateTime<Utc>>,
    /// The context the rule saw when it fired (signal name -> value).
    pub metrics: BTreeMap<String, f64>,
}

impl Event {
    pub fn is_active(&self) -> bool {
        self.resolved_at.is_none()
    }
}

/// A change of state, as written to the journal and sent on the feed's stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "event", rename_all = "lowercase")]
pub enum Transition {
    /// The anomaly began; `resolved_at` is `None`.
    Started(Event),
    /// The anomaly ended; the event carries its `resolved_at`.
    Resolved(Event),
}

impl Transition {
    pub fn event(&self) -> &Event {
        match self {
            Transition::Started(e) | Transition::Resolved(e) => e,
        }
    }
}

/// One reading of a signal that has several subjects (sensors, mounts, ports).
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    pub subject: String,
    pub value: f64,
    /// A limit the hardware itself declares (a sensor's critical temperature), when it has one.
    pub limit: Option<f64>,
}

/// What one sample looked like to the rules: derived host-level signals, computed from the
/// collectors' output (rates from counter deltas between two samples). `None` / empty when the
/// collector behind a signal is disabled or failed, or on the first sample for rates.
#[derive(Debug, Clone, PartialEq)]
pub struct Signals {
    pub at: DateTime<Utc>,
    /// Percentage of CPU time not idle or iowait since the previous sample, over all CPUs (0-100).
    pub cpu_busy_percent: Option<f64>,
    /// `(MemTotal - MemAvailable) / MemTotal`, in percent.
    pub memory_used_percent: Option<f64>,
    /// 1-minute load average divided by the number of CPUs.
    pub load1_per_cpu: Option<f64>,
    /// Bytes read plus written per second over all reported disks.
    pub disk_io_bytes_per_second: Option<f64>,
    /// Bytes received plus transmitted per second over all interfaces except loopback.
    pub network_bytes_per_second: Option<f64>,
    /// Every temperature sensor, subject `chip/sensor` (hwmon) or `thermal_zone<N>`, in celsius.
    pub temperatures_celsius: Vec<Reading>,
    /// Every reported filesystem, subject = mount point, used percent of the space non-root users
    /// can use: `(size - free) / (size - free + avail)`, as `df` computes it.
    pub filesystems_used_percent: Vec<Reading>,
    /// USB timeouts seen since the previous sample, subject = USB port path.
    pub usb_timeouts: Vec<Reading>,
    /// Steady growth of resident memory in MiB per hour, subject = process group (0 when the
    /// group's memory is not growing steadily).
    pub process_memory_growth_mib_per_hour: Vec<Reading>,
}

impl Signals {
    /// A sample where nothing was measured (the starting point of tests and the backtest).
    pub fn empty(at: DateTime<Utc>) -> Signals {
        Signals {
            at,
            cpu_busy_percent: None,
            memory_used_percent: None,
            load1_per_cpu: None,
            disk_io_bytes_per_second: None,
            network_bytes_per_second: None,
            temperatures_celsius: Vec::new(),
            filesystems_used_percent: Vec::new(),
            usb_timeouts: Vec::new(),
            process_memory_growth_mib_per_hour: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transition_json_shape() {
        let e = Event {
            id: 7,
            rule: "cpu_high".into(),
            category: "cpu".into(),
            severity: Severity::Critical,
            subject: "host".into(),
            message: "CPU busy".into(),
            value: 97.5,
            threshold: 90.0,
            started_at: DateTime::parse_from_rfc3339("2026-11-25T10:00:00Z")
                .unwrap()
                .into(),
            resolved_at: None,
            metrics: BTreeMap::from([("cpu_busy_percent".to_string(), 97.5)]),
        };
        let line = serde_json::to_string(&Transition::Started(e.clone())).unwrap();
        assert!(
            line.starts_with("{\"type\":\"started\",\"event\":{\"id\":7,"),
            "{line}"
        );
        assert!(line.contains("\"severity\":\"critical\""));
        assert!(line.contains("\"started_at\":\"2026-11-25T10:00:00Z\""));
        assert!(line.contains("\"resolved_at\":null"));
        let back: Transition = serde_json::from_str(&line).unwrap();
        assert_eq!(back, Transition::Started(e));
        assert!(Severity::Info < Severity::Critical);
    }
}
