//! Anomaly detection inline in the exporter: rules evaluated on every sample, their state published
//! as `sysmon_anomaly_*` metrics, and every start and end of an anomaly recorded as an event.
//!
//! * [`event`]: the shared vocabulary (signals, events, transitions).
pub mod event;

pub use event::{Event, Reading, Severity, Signals, Transition};
