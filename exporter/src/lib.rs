//! sysmon-exporter: a Prometheus exporter for Linux hosts.
//!
//! The binary (`src/main.rs`) wires these together: [`cli`] and [`config`] decide what runs,
//! [`collector`] reads the machine, [`sampler`] runs the collectors on an interval and publishes a
//! [`sampler::Snapshot`], and [`server`] serves the latest snapshot over HTTP.

pub mod anomaly;
pub mod cli;
pub mod collector;
pub mod compat;
pub mod config;
pub mod config_error;
pub mod json_response;
pub mod logging;
pub mod metrics;
pub mod sampler;
pub mod self_metrics;
pub mod server;
pub mod web;
