//! Adaptive rules: no threshold to set. One [`Detector`] per signal (and per temperature sensor)
//! learns what is normal for it from its own past and reports when it does something it has not
//! done before. All share `[rules.adaptive]`; each signal is its own rule so it has its own
//! category. A single signal's anomaly is `info`: worth a look, not a page.
//!
//! `adaptive_host` is the consensus (Netdata's "node anomaly rate" idea): it fires, as `critical`,
//! while at least [`Params::host_signals`] of the host's signals (CPU, memory, load, disk,
//! network, any temperature sensor) are anomalous at once. Independent blips rarely coincide;
//! something that moves several signals together is what a routing rule should page on.

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
    RuleSpec {
        name: "adaptive_host",
        category: "host",
        what: "anomalous signals",
        unit: "",
        range: (SCORE_THRESHOLD, SCORE_THRESHOLD),
        defaults: rule(SCORE_THRESHOLD, Severity::Critical, 0, 0.0, 60),
    },
];

/// The signals the consensus counts, by rule (every temperature sensor counts as one signal).
const HOST_SIGNALS: [&str; 6] = [
    "adaptive_cpu",
    "adaptive_memory",
    "adaptive_load",
    "adaptive_disk",
    "adaptive_network",
    "adaptive_temperature",
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

    fn judge(
        &mut self,
        rule: &'static str,
        subject: &str,
        at: f64,
        value: f64,
        out: &mut Vec<Observation>,
    ) -> bool {
        let spec = SPECS.iter().find(|s| s.name == rule).unwrap_or(&SPECS[0]);
        let params = &self.params;
        let detector = self
            .detectors
            .entry((rule, subject.to_string()))
            .or_insert_with(|| Detector::new(params.clone()));
        let verdict = detector.update(at, value);
        if !verdict.score.is_finite() || !value.is_finite() {
            return verdict.active; // a non-finite input: nothing to judge
        }
        let active = verdict.active;
        // The message and the context only ever reach an event, which only an active verdict
        // starts: built then, not on every sample of every signal.
        let (message, context) = if active {
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
            let context = vec![
                ("value".to_string(), value),
                ("baseline".to_string(), verdict.baseline),
                ("level".to_string(), verdict.level),
                ("change".to_string(), verdict.change),
                ("season".to_string(), verdict.season),
            ];
            (message, context)
        } else {
            (String::new(), Vec::new())
        };
        out.push(Observation {
            rule,
            subject: subject.to_string(),
            value: verdict.score,
            context,
            decision: Some(Decision {
                active,
                severity: Severity::Info,
                message,
                // One anomaly ended and the next began within the same period.
                restart: verdict.started && verdict.ended,
            }),
        });
        active
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
        let at = s.at.timestamp_millis() as f64 / 1000.0;
        let mut anomalous: Vec<&'static str> = Vec::new();
        for (rule, value) in host {
            if let Some(v) = value {
                if self.judge(rule, "host", at, v, out) {
                    anomalous.push(rule);
                }
            }
        }
        let mut hot = false;
        for r in &s.temperatures_celsius {
            hot |= self.judge("adaptive_temperature", &r.subject, at, r.value, out);
        }
        if hot {
            anomalous.push("adaptive_temperature");
        }
        debug_assert!(anomalous.iter().all(|r| HOST_SIGNALS.contains(r)));
        let count = anomalous.len();
        let active = count >= self.params.host_signals;
        // As for the signals' own rules: the text only for a verdict that can start an event.
        let (message, context) = if active {
            let names: Vec<&str> = anomalous
                .iter()
                .map(|r| r.trim_start_matches("adaptive_"))
                .collect();
            (
                format!(
                    "{count} signals of this host are anomalous together: {}",
                    names.join(", ")
                ),
                vec![("anomalous_signals".to_string(), count as f64)],
            )
        } else {
            (String::new(), Vec::new())
        };
        out.push(Observation {
            rule: "adaptive_host",
            subject: "host".to_string(),
            value: count as f64 / self.params.host_signals as f64,
            context,
            decision: Some(Decision {
                active,
                severity: Severity::Critical,
                message,
                restart: false,
            }),
        });
    }
}
