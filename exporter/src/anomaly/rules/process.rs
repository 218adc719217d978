//! Process rule: a process group whose resident memory grows steadily for a long time
//! (`process_memory_growth`), one anomaly per group. The trend (a least-squares fit over the
//! `process` collector's `growth_window`, with a least R², most steps rising) is the collector's
//! `sysmon_process_memory_growth_bytes_per_second`, so a spike or a sawtooth reads 0; the rule fires
//! when the steady growth stays above the threshold (MiB per hour) for `for`.

use super::{rule, Family, Observation, RuleFamily, RuleSpec};
use crate::anomaly::event::{Severity, Signals};

const SPECS: &[RuleSpec] = &[RuleSpec {
    name: "process_memory_growth",
    category: "process",
    what: "resident memory growing steadily by",
    unit: " MiB/h",
    range: (0.0, 1_000_000.0),
    // 10 MiB/h, steady over the collector's hour-long window, for 30 more minutes; clears once
    // the growth stops (the trend then reads 0) for 10 minutes.
    defaults: rule(10.0, Severity::Warning, 1800, 5.0, 600),
}];

pub const FAMILY: Family = Family {
    rules: SPECS,
    section: None,
    decides: false,
    build: |_| Box::new(ProcessRules),
};

#[derive(Debug, Default)]
pub struct ProcessRules;

impl RuleFamily for ProcessRules {
    fn specs(&self) -> &'static [RuleSpec] {
        SPECS
    }

    fn observe(&mut self, signals: &Signals, out: &mut Vec<Observation>) {
        for r in &signals.process_memory_growth_mib_per_hour {
            out.push(Observation {
                rule: "process_memory_growth",
                subject: r.subject.clone(),
                value: r.value,
                context: vec![("resident_growth_mib_per_hour".to_string(), r.value)],
                decision: None,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anomaly::config::RulesConfig;
    use crate::anomaly::engine::Engine;
    use crate::anomaly::event::Reading;
    use chrono::{TimeZone, Utc};

    fn sample(secs: i64, growth: f64) -> Signals {
        let mut s = Signals::empty(Utc.timestamp_opt(1_700_000_000 + secs, 0).unwrap());
        s.process_memory_growth_mib_per_hour = vec![Reading {
            subject: "billing".to_string(),
            value: growth,
            limit: None,
        }];
        s
    }

    #[test]
    fn fires_after_steady_growth_for_the_hold_and_clears_when_it_stops() {
        let mut e = Engine::new(RulesConfig::default(), 1);
        // Growth above 10 MiB/h, but not yet for 30 minutes.
        assert!(e.evaluate(&sample(0, 40.0)).is_empty());
        assert!(e.evaluate(&sample(1000, 40.0)).is_empty());
        let started = e.evaluate(&sample(1801, 40.0));
        assert_eq!(started.len(), 1, "{started:?}");
        let crate::anomaly::event::Transition::Started(event) = &started[0] else {
            panic!("{started:?}");
        };
        assert_eq!(
            (event.rule.as_str(), event.subject.as_str()),
            ("process_memory_growth", "billing")
        );
        assert_eq!(event.severity, Severity::Warning);
        // The trend reads 0 once the growth stops; it clears after 10 minutes.
        assert!(e.evaluate(&sample(2000, 0.0)).is_empty());
        assert_eq!(e.evaluate(&sample(2601, 0.0)).len(), 1);
    }

    #[test]
    fn slow_growth_does_not_fire() {
        let mut e = Engine::new(RulesConfig::default(), 1);
        for t in 0..100 {
            assert!(e.evaluate(&sample(t * 60, 5.0)).is_empty());
        }
    }
}
