//! Adaptive rules: no threshold to set. One [`Detector`] per signal (and per temperature sensor)
//! learns what is normal for it from its own recent past and reports when it leaves that range.
//! All share `[rules.adaptive]`; each signal is its own rule so it has its own category.

use std::collections::HashMap;

use super::{rule, Decision, Family, Observation, RuleFamily, RuleSpec, RulesConfig};
use crate::anomaly::adaptive::{Detector, Params};
use crate::anomaly::event::{Severity, Signals};

/// `sysmon_anomaly_threshold` of an adaptive rule: scores are scaled so 1 is the detector's own
/// threshold (see [`crate::anomaly::adaptive::Verdict::score`]).
const SCORE_THRESHOLD: f64 = 1.0;

const fn spec(
    name: &'static str,
    category: &'static str,
    what: &'static str,
    unit: &'static str,
) -> RuleSpec {
    RuleSpec {
        name,
        category,
        what,
        unit,
        range: (SCORE_THRESHOLD, SCORE_THRESHOLD),
        defaults: rule(SCORE_THRESHOLD, Severity::Warning, 0, 0.0, 60),
    }
}

pub const SPECS: &[RuleSpec] = &[
    spec("adaptive_cpu", "cpu", "CPU busy", "%"),
    spec("adaptive_memory", "memory", "memory used", "%"),
    spec("adaptive_load", "load", "load per CPU", ""),
    spec("adaptive_disk", "disk", "disk I/O", " B/s"),
    spec("adaptive_network", "network", "network throughput", " B/s"),
    spec("adaptive_temperature", "temperature", "temperature", "°C"),
];

/// `[rules.adaptive]`: enables and holds every adaptive rule at once; `[rules.adaptive.detector]`
/// sets the detectors' parameters.
pub const SECTION: &str = "adaptive";

pub const FAMILY: Family = Family {
    rules: SPECS,
    section: Some(SECTION),
    decides: true,
    build: |config| Box::new(AdaptiveRules::new(config.adaptive.clone())),
};

pub struct AdaptiveRules {
    params: Params,
    detectors: HashMap<(&'static str, String), Detector>,
}

impl AdaptiveRules {
    pub fn new(params: Params) -> AdaptiveRules {
        AdaptiveRules {
            params,
            detectors: HashMap::new(),
        }
    }

    pub fn params(&self) -> &Params {
        &self.params
    }

    fn judge(&mut self, rule: &'static str, subject: &str, value: f64, out: &mut Vec<Observation>) {
        let spec = SPECS.iter().find(|s| s.name == rule).unwrap_or(&SPECS[0]);
        let params = &self.params;
        let detector = self
            .detectors
            .entry((rule, subject.to_string()))
            .or_insert_with(|| Detector::new(params.clone()));
        let verdict = detector.update(value);
        if !verdict.score.is_finite() {
            return; // warming up or a non-finite input: nothing to judge yet
        }
        let on = if subject == "host" {
            String::new()
        } else {
            format!(" on {subject}")
        };
        let message = format!(
            "{}{on} {value:.1}{} is unusual: typically {:.1}{} (score {:.1})",
            capitalised(spec.what),
            spec.unit,
            verdict.baseline,
            spec.unit,
            verdict.score
        );
        out.push(Observation {
            rule,
            subject: subject.to_string(),
            value: verdict.score,
            context: vec![
                ("value".to_string(), value),
                ("baseline".to_string(), verdict.baseline),
                ("level_z".to_string(), verdict.level_z),
            ],
            decision: Some(Decision {
                active: verdict.active,
                severity: verdict.severity,
                message,
            }),
        });
    }
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

impl RuleFamily for AdaptiveRules {
    fn specs(&self) -> &'static [RuleSpec] {
        SPECS
    }

    fn reload(&mut self, config: &RulesConfig) {
        // New detector parameters mean new detectors (they warm up again); unchanged ones keep
        // what they have learnt.
        if config.adaptive != self.params {
            *self = AdaptiveRules::new(config.adaptive.clone());
        }
    }

    fn observe(&mut self, s: &Signals, out: &mut Vec<Observation>) {
        let host = [
            ("adaptive_cpu", s.cpu_busy_percent),
            ("adaptive_memory", s.memory_used_percent),
            ("adaptive_load", s.load1_per_cpu),
            ("adaptive_disk", s.disk_io_bytes_per_second),
            ("adaptive_network", s.network_bytes_per_second),
        ];
        for (rule, value) in host {
            if let Some(v) = value {
                self.judge(rule, "host", v, out);
            }
        }
        for r in &s.temperatures_celsius {
            self.judge("adaptive_temperature", &r.subject, r.value, out);
        }
    }
}
