//! Anomaly detection inline in the exporter: rules evaluated on every sample, their state published
//! as `sysmon_anomaly_*` metrics, and every start and end of an anomaly recorded as an event.
//!
//! * [`event`]: the shared vocabulary (signals, events, transitions).
//! * [`adaptive`]: a threshold-free detector for one series (level, change and time-of-day scores
//!   over period means, gated by rarity); [`zscore`]: the first one, kept for comparison;
//!   [`evaluation`]: event-wise scoring on labelled series.
//! * [`signals`]: derives the signals the rules judge from the collectors' output.
//! * [`rules`]: one module per rule family; [`condition`]: hold and hysteresis.
//! * [`engine`]: runs the rules and publishes `sysmon_anomaly_*`; [`config`]: `[rules.*]`.
//! * [`hook`]: runs the engine after every sample and records its transitions.
//! * [`journal`]: the crash-safe journal of transitions; [`store`]: the journal plus the events in
//!   memory and a live stream; [`api`]: the JSON feed `/api/v1/anomalies` with Server-Sent Events.
//! * [`rank`]: a day of per-minute score aggregates per adaptive signal, ranked for
//!   `/api/v1/anomalies/rank`.
//! * [`backtest`]: the `backtest` subcommand, the same rules over recorded series.
pub mod adaptive;
pub mod api;
pub mod backtest;
pub mod condition;
pub mod config;
pub mod engine;
pub mod evaluation;
pub mod event;
pub mod hook;
pub mod journal;
pub mod rank;
pub mod rules;
pub mod signals;
pub mod store;
pub mod zscore;

pub use event::{Event, Reading, Severity, Signals, Transition};
