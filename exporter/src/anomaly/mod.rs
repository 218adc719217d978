//! Anomaly detection inline in the exporter: rules evaluated on every sample, their state published
//! as `sysmon_anomaly_*` metrics, and every start and end of an anomaly recorded as an event.
//!
//! * [`event`]: the shared vocabulary (signals, events, transitions).
//! * [`adaptive`]: a threshold-free detector for one series (robust z-scores over a sliding window).
//! * [`signals`]: derives the signals the rules judge from the collectors' output.
//! * [`rules`]: one module per rule family; [`condition`]: hold and hysteresis.
//! * [`engine`]: runs the rules and publishes `sysmon_anomaly_*`; [`config`]: `[rules.*]`.
//! * [`hook`]: runs the engine after every sample and records its transitions.
pub mod adaptive;
pub mod condition;
pub mod config;
pub mod engine;
pub mod event;
pub mod hook;
pub mod rules;
pub mod signals;

pub use event::{Event, Reading, Severity, Signals, Transition};
