//! USB rule: timeouts on a port since the previous sample (`usb_timeout`), one anomaly per port.
//! It fires on the first timeout and clears after a quiet spell, so a device that keeps timing out
//! is one long anomaly rather than one per sample.

use super::{rule, Family, Observation, RuleFamily, RuleSpec};
use crate::anomaly::event::{Severity, Signals};

const SPECS: &[RuleSpec] = &[RuleSpec {
    name: "usb_timeout",
    category: "usb",
    what: "USB timeouts since the last sample",
    unit: "",
    range: (0.0, 1e6),
    defaults: rule(0.0, Severity::Critical, 0, 0.0, 60),
}];

pub const FAMILY: Family = Family {
    rules: SPECS,
    section: None,
    decides: false,
    build: |_| Box::new(UsbRules),
};

#[derive(Debug, Default)]
pub struct UsbRules;

impl RuleFamily for UsbRules {
    fn specs(&self) -> &'static [RuleSpec] {
        SPECS
    }

    fn observe(&mut self, signals: &Signals, out: &mut Vec<Observation>) {
        for r in &signals.usb_timeouts {
            out.push(Observation {
                rule: "usb_timeout",
                subject: r.subject.clone(),
                value: r.value,
                context: vec![("usb_timeouts".to_string(), r.value)],
                decision: None,
            });
        }
    }
}
