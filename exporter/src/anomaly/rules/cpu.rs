//! CPU rules: sustained high CPU use (`cpu_high`) and a sudden jump between two samples (`cpu_jump`).

use super::{rule, Family, JumpTracker, Observation, RuleFamily, RuleSpec};
use crate::anomaly::event::{Severity, Signals};

const SPECS: &[RuleSpec] = &[
    RuleSpec {
        name: "cpu_high",
        category: "cpu",
        what: "CPU busy",
        unit: "%",
        range: (0.0, 100.0),
        defaults: rule(90.0, Severity::Critical, 30, 5.0, 10),
    },
    RuleSpec {
        name: "cpu_jump",
        category: "cpu",
        what: "CPU busy changed by",
        unit: " points",
        range: (0.0, 100.0),
        defaults: rule(40.0, Severity::Warning, 0, 10.0, 10),
    },
];

pub const FAMILY: Family = Family {
    rules: SPECS,
    section: None,
    decides: false,
    build: |_| Box::new(CpuRules::default()),
};

#[derive(Debug, Default)]
pub struct CpuRules {
    jump: JumpTracker,
}

impl RuleFamily for CpuRules {
    fn specs(&self) -> &'static [RuleSpec] {
        SPECS
    }

    fn observe(&mut self, signals: &Signals, out: &mut Vec<Observation>) {
        let busy = signals.cpu_busy_percent;
        let jump = self.jump.update(busy);
        if let Some(busy) = busy {
            let context = vec![("cpu_busy_percent".to_string(), busy)];
            out.push(Observation {
                rule: "cpu_high",
                subject: "host".into(),
                value: busy,
                context: context.clone(),
                decision: None,
            });
            if let Some(jump) = jump {
                out.push(Observation {
                    rule: "cpu_jump",
                    subject: "host".into(),
                    value: jump,
                    context,
                    decision: None,
                });
            }
        }
    }
}
