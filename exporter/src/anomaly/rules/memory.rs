//! Memory rules: memory nearly exhausted (`memory_high`) and a sudden jump in use (`memory_jump`).

use super::{rule, Family, JumpTracker, Observation, RuleFamily, RuleSpec};
use crate::anomaly::event::{Severity, Signals};

const SPECS: &[RuleSpec] = &[
    RuleSpec {
        name: "memory_high",
        category: "memory",
        what: "memory used",
        unit: "%",
        range: (0.0, 100.0),
        defaults: rule(95.0, Severity::Critical, 30, 2.0, 10),
    },
    RuleSpec {
        name: "memory_jump",
        category: "memory",
        what: "memory use changed by",
        unit: " points",
        range: (0.0, 100.0),
        defaults: rule(20.0, Severity::Warning, 0, 5.0, 10),
    },
];

pub const FAMILY: Family = Family {
    rules: SPECS,
    section: None,
    decides: false,
    build: |_| Box::new(MemoryRules::default()),
};

#[derive(Debug, Default)]
pub struct MemoryRules {
    jump: JumpTracker,
}

impl RuleFamily for MemoryRules {
    fn specs(&self) -> &'static [RuleSpec] {
        SPECS
    }

    fn observe(&mut self, signals: &Signals, out: &mut Vec<Observation>) {
        let used = signals.memory_used_percent;
        let jump = self.jump.update(used);
        if let Some(used) = used {
            let context = vec![("memory_used_percent".to_string(), used)];
            out.push(Observation {
                rule: "memory_high",
                subject: "host".into(),
                value: used,
                context: context.clone(),
                decision: None,
            });
            if let Some(jump) = jump {
                out.push(Observation {
                    rule: "memory_jump",
                    subject: "host".into(),
                    value: jump,
                    context,
                    decision: None,
                });
            }
        }
    }
}
