//! Rule families: one module per family, each turning [`Signals`] into per-subject observations.
//! The engine decides from the observations and each rule's settings when an anomaly starts and
//! ends; a family only says what it sees.
//!
//! Each family module declares a [`Family`] (its rules' names, categories and defaults, its config
//! keys, how to build it) and [`FAMILIES`] lists them: the engine, the `[rules.*]` sections of the
//! config file and the tests that keep the docs' rule tables true all derive from that list.

use std::collections::BTreeMap;
use std::time::Duration;

use super::adaptive::Params;
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
    /// The active anomaly ended and a new one began with this sample (the engine resolves the
    /// current event and starts another).
    pub restart: bool,
}

/// A family of rules over the same signals.
pub trait RuleFamily: Send {
    fn specs(&self) -> &'static [RuleSpec];
    /// Appends this sample's observations. Called once per sample, in order.
    fn observe(&mut self, signals: &Signals, out: &mut Vec<Observation>);
    /// Takes new settings after a reload. A family with state that depends on them (the adaptive
    /// detectors and their parameters) starts afresh when they changed; the default keeps all.
    fn reload(&mut self, _config: &RulesConfig) {}
}

/// A rule family as registered: everything the engine, the configuration file, the docs and the
/// feed know about its rules comes from here, so adding a rule is a change to its family's module
/// (its [`RuleSpec`] and what `observe` reports) and nothing else.
pub struct Family {
    /// The family's rules: names, categories, defaults, valid thresholds.
    pub rules: &'static [RuleSpec],
    /// `[rules.<section>]` sets `enabled` and `clear_for` of every rule of the family at once
    /// (each rule's own `[rules.<name>]` still overrides it); `None`: no shared section.
    pub section: Option<&'static str>,
    /// The family decides itself when its rules fire (the adaptive detectors): their
    /// `[rules.<name>]` take only `enabled` and `clear_for`, there being no threshold to set.
    pub decides: bool,
    /// A new instance for these settings.
    pub build: fn(&RulesConfig) -> Box<dyn RuleFamily>,
}

/// Every rule family, in the order the engine runs them.
pub const FAMILIES: &[Family] = &[
    cpu::FAMILY,
    memory::FAMILY,
    temperature::FAMILY,
    filesystem::FAMILY,
    usb::FAMILY,
    process::FAMILY,
    adaptive::FAMILY,
];

/// Every rule's spec, in the order of [`FAMILIES`].
pub fn all_specs() -> impl Iterator<Item = &'static RuleSpec> {
    FAMILIES.iter().flat_map(|f| f.rules.iter())
}

/// The family a rule belongs to.
pub fn family_of(rule: &str) -> Option<&'static Family> {
    FAMILIES
        .iter()
        .find(|f| f.rules.iter().any(|r| r.name == rule))
}

/// The effective rule settings: every rule's, after the defaults and the config file.
#[derive(Debug, Clone, PartialEq)]
pub struct RulesConfig {
    /// Every rule's settings by name; for the rules of a family that decides itself (the
    /// adaptive detectors) only `enabled` and `clear_hold` apply.
    pub threshold: BTreeMap<&'static str, ThresholdRule>,
    /// The adaptive detectors' parameters (`[rules.adaptive.detector]`).
    pub adaptive: Params,
}

impl Default for RulesConfig {
    fn default() -> Self {
        RulesConfig {
            threshold: all_specs().map(|s| (s.name, s.defaults.clone())).collect(),
            adaptive: Params::default(),
        }
    }
}

impl RulesConfig {
    /// Whether any rule of `family` is enabled (a family with none is not run at all).
    pub fn any_enabled(&self, family: &Family) -> bool {
        family
            .rules
            .iter()
            .any(|r| self.threshold.get(r.name).is_some_and(|t| t.enabled))
    }
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
