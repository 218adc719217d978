//! Filesystem rule: any mount fuller than the threshold (`filesystem_full`), one anomaly per mount.

use super::{rule, Family, Observation, RuleFamily, RuleSpec};
use crate::anomaly::event::{Severity, Signals};

const SPECS: &[RuleSpec] = &[RuleSpec {
    name: "filesystem_full",
    category: "filesystem",
    what: "filesystem used",
    unit: "%",
    range: (0.0, 100.0),
    defaults: rule(90.0, Severity::Warning, 60, 2.0, 60),
}];

pub const FAMILY: Family = Family {
    rules: SPECS,
    section: None,
    decides: false,
    build: |_| Box::new(FilesystemRules),
};

#[derive(Debug, Default)]
pub struct FilesystemRules;

impl RuleFamily for FilesystemRules {
    fn specs(&self) -> &'static [RuleSpec] {
        SPECS
    }

    fn observe(&mut self, signals: &Signals, out: &mut Vec<Observation>) {
        for r in &signals.filesystems_used_percent {
            out.push(Observation {
                rule: "filesystem_full",
                subject: r.subject.clone(),
                value: r.value,
                context: vec![("filesystem_used_percent".to_string(), r.value)],
                decision: None,
            });
        }
    }
}
