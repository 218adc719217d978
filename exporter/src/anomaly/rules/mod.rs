//! Rule families: one module per family, each turning [`Signals`] into per-subject observations.
//! The engine decides from the observations and each rule's settings when an anomaly starts and
//! ends; a family only says what it sees.

use std::time::Duration;

use super::event::{Severity, Signals};

pub mod adaptive;
pub mod cpu;
pub mod filesystem;
pub mod memory;
pub mod process;
pub mod temperature;
pub mod usb;

/// A threshold rule's settings, after defaults and the config file.
#[derive(Debug, Clone, PartialEq)]
pub struct ThresholdRule {
    pub enabled: bool,
    /// The value must be above this to fire.
    pub threshold: f64,
    pub severity: Severity,
    /// How long the value must stay above the threshold before the anomaly starts.
    pub hold: Duration,
    /// The anomaly clears once the value is at or below `threshold - clear_margin`...
    pub clear_margin: f64,
    /// ...for this long.
    pub clear_hold: Duration,
}

/// A rule's fixed description and its default settings.
#[derive(Debug, Clone)]
pub struct RuleSpec {
    pub name: &'static str,
    pub category: &'static str,
    /// What is measured, for messages: "CPU busy", "memory used".
    pub what: &'static str,
    /// Unit appended to values in messages: "%", "°C", " points".
    pub unit: &'static str,
    /// Valid thresholds, checked when the config is read.
    pub range: (f64, f64),
    pub defaults: ThresholdRule,
}

/// What a family saw for one rule and one subject in one sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    pub rule: &'static str,
    pub subject: String,
    pub value: f64,
    /// Further numbers worth keeping with the event (`metrics` in the feed).
    pub context: Vec<(String, f64)>,
    /// Set by families that decide themselves whether the value is anomalous (the adaptive
    /// detectors); `None` for threshold rules, which the engine judges against their threshold.
    pub decision: Option<Decision>,
}

/// A family's own verdict on an observation.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub active: bool,
    pub severity: Severity,
    pub message: String,
}

/// A family of rules over the same signals.
pub trait RuleFamily: Send {
    fn specs(&self) -> &'static [RuleSpec];
    /// Appends this sample's observations. Called once per sample, in order.
    fn observe(&mut self, signals: &Signals, out: &mut Vec<Observation>);
}

/// Every threshold rule family, in the order their metrics are published. The adaptive family
/// is built separately, from its detector parameters.
pub fn threshold_families() -> Vec<Box<dyn RuleFamily>> {
    vec![
        Box::new(cpu::CpuRules::default()),
        Box::new(memory::MemoryRules::default()),
        Box::new(temperature::TemperatureRules),
        Box::new(filesystem::FilesystemRules),
        Box::new(usb::UsbRules),
        Box::new(process::ProcessRules),
    ]
}

/// Every rule's spec: the threshold rules', then the adaptive ones.
pub fn all_specs() -> Vec<&'static RuleSpec> {
    threshold_families()
        .iter()
        .flat_map(|f| f.specs().iter())
        .chain(adaptive::SPECS.iter())
        .collect()
}

/// The absolute change of a host-wide value between two samples, for the jump rules.
#[derive(Debug, Default)]
pub(crate) struct JumpTracker {
    previous: Option<f64>,
}

impl JumpTracker {
    /// The absolute change since the previous reading; `None` for the first reading or a gap.
    pub(crate) fn update(&mut self, now: Option<f64>) -> Option<f64> {
        let jump = match (self.previous, now) {
            (Some(p), Some(n)) => Some((n - p).abs()),
            _ => None,
        };
        self.previous = now;
        jump
    }
}

pub(crate) const fn rule(
    threshold: f64,
    severity: Severity,
    hold_secs: u64,
    clear_margin: f64,
    clear_hold_secs: u64,
) -> ThresholdRule {
    ThresholdRule {
        enabled: true,
        threshold,
        severity,
        hold: Duration::from_secs(hold_secs),
        clear_margin,
        clear_hold: Duration::from_secs(clear_hold_secs),
    }
}
