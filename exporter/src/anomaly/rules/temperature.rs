//! Temperature rule: any sensor above the threshold (`temperature_high`), one anomaly per sensor.

use super::{rule, Family, Observation, RuleFamily, RuleSpec};
use crate::anomaly::event::{Severity, Signals};

const SPECS: &[RuleSpec] = &[RuleSpec {
    name: "temperature_high",
    category: "temperature",
    what: "temperature",
    unit: "°C",
    range: (-50.0, 250.0),
    defaults: rule(85.0, Severity::Critical, 10, 5.0, 10),
}];

pub const FAMILY: Family = Family {
    rules: SPECS,
    section: None,
    decides: false,
    build: |_| Box::new(TemperatureRules),
};

#[derive(Debug, Default)]
pub struct TemperatureRules;

impl RuleFamily for TemperatureRules {
    fn specs(&self) -> &'static [RuleSpec] {
        SPECS
    }

    fn observe(&mut self, signals: &Signals, out: &mut Vec<Observation>) {
        for r in &signals.temperatures_celsius {
            let mut context = vec![("temperature_celsius".to_string(), r.value)];
            if let Some(limit) = r.limit {
                context.push(("sensor_critical_celsius".to_string(), limit));
            }
            out.push(Observation {
                rule: "temperature_high",
                subject: r.subject.clone(),
                value: r.value,
                context,
                decision: None,
            });
        }
    }
}
