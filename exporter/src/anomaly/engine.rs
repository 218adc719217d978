//! The rule engine: runs every rule family on each sample's signals, keeps one [`Condition`] per
//! rule and subject, turns condition changes into [`Transition`]s, and publishes the state of every
//! evaluated rule and subject as `sysmon_anomaly_*` metrics.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::condition::{Change, Condition};
use super::config::RulesConfig;
use super::event::{Event, Signals, Transition};
use super::rank::ScoreHistory;
use super::rules::{self, Family, Observation, RuleFamily, RuleSpec, ThresholdRule, FAMILIES};
use crate::metrics::{LabelName, MetricSet, MetricType, Part, Sample};

/// A subject not reported for this long (an unplugged device, an unmounted filesystem) is
/// forgotten, and its anomaly, if active, resolved. Shorter gaps (a collector failing for a few
/// samples) keep the state as it was.
const FORGET_AFTER: Duration = Duration::from_secs(300);

#[derive(Debug, Clone)]
struct State {
    category: &'static str,
    condition: Condition,
    /// The active anomaly, if any.
    event: Option<Event>,
    last_value: f64,
    last_seen: DateTime<Utc>,
    activations: u64,
    /// The rule's family decides itself and its value is a score (`sysmon_anomaly_score`).
    scored: bool,
}

pub struct Engine {
    /// Every registered family with its running instance.
    families: Vec<(&'static Family, Box<dyn RuleFamily>)>,
    specs: BTreeMap<&'static str, RuleSpec>,
    config: RulesConfig,
    states: BTreeMap<(&'static str, String), State>,
    next_id: u64,
    /// Where the scores of the families that decide themselves go, for the feed's ranking.
    scores: Option<Arc<ScoreHistory>>,
    /// The label sets of the published series, while `states` and the rules are unchanged (set
    /// to `None` wherever a state is added or removed or the rules are reloaded).
    rows: Option<Arc<MetricRows>>,
}

fn duration_text(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

impl Engine {
    /// An engine with `config`, numbering new events from `next_id`.
    pub fn new(config: RulesConfig, next_id: u64) -> Engine {
        let families = FAMILIES.iter().map(|f| (f, (f.build)(&config))).collect();
        let specs = rules::all_specs().map(|s| (s.name, s.clone())).collect();
        Engine {
            families,
            specs,
            config,
            states: BTreeMap::new(),
            next_id: next_id.max(1),
            scores: None,
            rows: None,
        }
    }

    /// Records every score of the rules that decide themselves (the adaptive detectors) in
    /// `scores`, which `GET /api/v1/anomalies/rank` ranks.
    pub fn with_scores(mut self, scores: Arc<ScoreHistory>) -> Engine {
        self.scores = Some(scores);
        self
    }

    /// Takes over anomalies that were active when the exporter last stopped (from the journal), so
    /// they continue, or resolve once their condition has cleared, instead of staying open forever.
    pub fn adopt(&mut self, active: Vec<Event>, now: DateTime<Utc>) {
        self.rows = None;
        for event in active {
            let Some(spec) = self.specs.get(event.rule.as_str()) else {
                continue;
            };
            self.next_id = self.next_id.max(event.id + 1);
            self.states.insert(
                (spec.name, event.subject.clone()),
                State {
                    category: spec.category,
                    condition: Condition::active(),
                    last_value: event.value,
                    last_seen: now,
                    activations: 0,
                    scored: rules::family_of(spec.name).is_some_and(|f| f.decides),
                    event: Some(event),
                },
            );
        }
    }

    /// Replaces the rule settings. Conditions of rules that stay enabled carry on; anomalies of
    /// rules now disabled are resolved.
    pub fn reload(&mut self, config: RulesConfig, now: DateTime<Utc>) -> Vec<Transition> {
        self.rows = None;
        for (registered, family) in &mut self.families {
            if !self.config.any_enabled(registered) {
                // It was not run while all its rules were off: what it remembers is stale.
                *family = (registered.build)(&config);
            } else {
                family.reload(&config);
            }
        }
        self.config = config;
        let disabled: Vec<(&'static str, String)> = self
            .states
            .keys()
            .filter(|(rule, _)| !self.rule(rule).is_some_and(|r| r.enabled))
            .cloned()
            .collect();
        let mut out = Vec::new();
        for key in disabled {
            if let Some(state) = self.states.remove(&key) {
                if let Some(t) = resolve(state, now, "rule disabled") {
                    out.push(t);
                }
            }
        }
        out
    }

    fn rule(&self, name: &str) -> Option<&ThresholdRule> {
        self.config.threshold.get(name)
    }

    /// Evaluates one sample and returns the anomalies that started or ended with it.
    pub fn evaluate(&mut self, signals: &Signals) -> Vec<Transition> {
        let now = signals.at;
        let mut observations = Vec::new();
        for (registered, family) in &mut self.families {
            // A family whose rules are all disabled costs nothing (no detector updates).
            if self.config.any_enabled(registered) {
                family.observe(signals, &mut observations);
            }
        }
        let mut out = Vec::new();
        for obs in observations {
            let Some(rule) = self.config.threshold.get(obs.rule).cloned() else {
                continue;
            };
            if !rule.enabled || !obs.value.is_finite() {
                continue;
            }
            let Some(spec) = self.specs.get(obs.rule).cloned() else {
                continue;
            };
            let key = (spec.name, obs.subject.clone());
            if !self.states.contains_key(&key) {
                self.rows = None;
            }
            let state = self.states.entry(key).or_insert_with(|| State {
                category: spec.category,
                condition: Condition::default(),
                event: None,
                last_value: obs.value,
                last_seen: now,
                activations: 0,
                scored: obs.decision.is_some(),
            });
            state.last_value = obs.value;
            state.last_seen = now;
            if let (Some(scores), Some(_)) = (&self.scores, &obs.decision) {
                let over = obs.value > rule.threshold;
                scores.record(spec.name, spec.category, &obs.subject, obs.value, over, now);
            }
            // A family that decides itself (the adaptive detectors) has already applied its own
            // persistence; the engine still holds the clear, so a detector that flickers at the
            // end of an anomaly does not open a new one each time.
            if obs.decision.as_ref().is_some_and(|d| d.restart && d.active) {
                if let Some(mut event) = state.event.take() {
                    event.resolved_at = Some(now);
                    out.push(Transition::Resolved(event));
                    state.condition = Condition::default();
                }
            }
            let (firing, cleared, hold) = match &obs.decision {
                Some(d) => (d.active, !d.active, Duration::ZERO),
                None => (
                    obs.value > rule.threshold,
                    obs.value <= rule.threshold - rule.clear_margin,
                    rule.hold,
                ),
            };
            match state
                .condition
                .update(firing, cleared, now, hold, rule.clear_hold)
            {
                Change::None => {
                    if let Some(event) = &mut state.event {
                        // Keep the worst value seen while the anomaly lasts.
                        event.value = event.value.max(obs.value);
                    }
                }
                Change::Fired => {
                    let event = new_event(self.next_id, &spec, &rule, &obs, now);
                    self.next_id += 1;
                    state.activations += 1;
                    state.event = Some(event.clone());
                    out.push(Transition::Started(event));
                }
                Change::Cleared => {
                    if let Some(mut event) = state.event.take() {
                        event.resolved_at = Some(now);
                        out.push(Transition::Resolved(event));
                    }
                }
            }
        }
        // Forget subjects that have not been reported for a long time.
        let stale: Vec<_> = self
            .states
            .iter()
            .filter(|(_, s)| (now - s.last_seen).to_std().unwrap_or(Duration::ZERO) > FORGET_AFTER)
            .map(|(k, _)| k.clone())
            .collect();
        for key in stale {
            self.rows = None;
            if let Some(state) = self.states.remove(&key) {
                if let Some(t) = resolve(state, now, "no longer reported") {
                    out.push(t);
                }
            }
        }
        out
    }

    /// Anomalies active now.
    pub fn active(&self) -> impl Iterator<Item = &Event> {
        self.states.values().filter_map(|s| s.event.as_ref())
    }

    /// Writes every evaluated rule and subject as `sysmon_anomaly_*` series into `out`.
    pub fn metrics(&self, out: &mut MetricSet) {
        self.metric_values(Arc::new(self.metric_rows())).write(out);
    }

    /// The engine's series as of now, cheaply: the values are copied, the label sets are shared
    /// with earlier samples until a subject appears or goes or the rules are reloaded. The
    /// families are built only if a scrape renders them (see [`EngineMetrics::write`]).
    pub fn metrics_now(&mut self) -> EngineMetrics {
        let rows = match &self.rows {
            Some(rows) => Arc::clone(rows),
            None => Arc::clone(self.rows.insert(Arc::new(self.metric_rows()))),
        };
        self.metric_values(rows)
    }

    /// The label sets of the series, in the order of `states` (the order [`Engine::metric_values`]
    /// reads the values in).
    fn metric_rows(&self) -> MetricRows {
        let mut rows = Vec::with_capacity(self.states.len());
        for ((rule, subject), state) in &self.states {
            let Some(cfg) = self.rule(rule) else { continue };
            let labels: Vec<(LabelName, String)> = vec![
                ("rule".into(), rule.to_string()),
                ("category".into(), state.category.to_string()),
                ("severity".into(), cfg.severity.as_str().to_string()),
                ("subject".into(), subject.clone()),
            ];
            // The scores alone, without the severity a rule's settings give, so that a query can
            // rank every scored signal of a host over a range (the anomalies dashboard does).
            let score_labels = state.scored.then(|| {
                vec![
                    ("rule".into(), rule.to_string()),
                    ("category".into(), state.category.to_string()),
                    ("subject".into(), subject.clone()),
                ]
            });
            rows.push(MetricRow {
                labels,
                score_labels,
            });
        }
        MetricRows(rows)
    }

    fn metric_values(&self, rows: Arc<MetricRows>) -> EngineMetrics {
        let mut values = Vec::with_capacity(rows.0.len());
        for ((rule, _), state) in &self.states {
            let Some(cfg) = self.rule(rule) else { continue };
            let active = if state.condition.is_active() {
                1.0
            } else {
                0.0
            };
            values.push([
                active,
                state.last_value,
                cfg.threshold,
                state.activations as f64,
            ]);
        }
        debug_assert_eq!(values.len(), rows.0.len(), "rows out of date");
        EngineMetrics { rows, values }
    }
}

/// The label sets of one rule and subject's series.
#[derive(Debug)]
struct MetricRow {
    /// rule, category, severity, subject: the four `sysmon_anomaly_*` families.
    labels: Vec<(LabelName, String)>,
    /// rule, category, subject: `sysmon_anomaly_score`, for the rules that score.
    score_labels: Option<Vec<(LabelName, String)>>,
}

#[derive(Debug)]
struct MetricRows(Vec<MetricRow>);

/// The engine's series at one sample: shared label sets and that sample's values.
#[derive(Debug)]
pub struct EngineMetrics {
    rows: Arc<MetricRows>,
    /// Per row: active, value, threshold, activations.
    values: Vec<[f64; 4]>,
}

const FAMILIES_OF_EVERY_RULE: [(&str, &str, MetricType); 4] = [
    (
        "sysmon_anomaly_active",
        "Whether the anomaly rule is firing for the subject (1) or not (0).",
        MetricType::Gauge,
    ),
    (
        "sysmon_anomaly_value",
        "The value the anomaly rule saw for the subject in the last sample it was reported.",
        MetricType::Gauge,
    ),
    (
        "sysmon_anomaly_threshold",
        "The threshold the anomaly rule compares the value with.",
        MetricType::Gauge,
    ),
    (
        "sysmon_anomaly_activations_total",
        "How many times the anomaly rule started firing for the subject since the exporter started.",
        MetricType::Counter,
    ),
];

impl EngineMetrics {
    /// Writes the `sysmon_anomaly_*` families.
    pub fn write(&self, out: &mut MetricSet) {
        let rows = &self.rows.0;
        for (i, (name, help, kind)) in FAMILIES_OF_EVERY_RULE.into_iter().enumerate() {
            let family = out.family(name, help, kind);
            family.samples.reserve(rows.len());
            for (row, values) in rows.iter().zip(&self.values) {
                family.samples.push(Sample {
                    labels: row.labels.clone(),
                    value: values[i],
                    part: Part::Value,
                });
            }
        }
        let family = out.family(
            "sysmon_anomaly_score",
            "The anomaly score the adaptive detector gave the signal in the last sample it was reported (1 is the detector's threshold).",
            MetricType::Gauge,
        );
        for (row, values) in rows.iter().zip(&self.values) {
            if let Some(labels) = &row.score_labels {
                family.samples.push(Sample {
                    labels: labels.clone(),
                    value: values[1],
                    part: Part::Value,
                });
            }
        }
    }
}

fn new_event(
    id: u64,
    spec: &RuleSpec,
    rule: &ThresholdRule,
    obs: &Observation,
    now: DateTime<Utc>,
) -> Event {
    if let Some(d) = &obs.decision {
        return Event {
            id,
            rule: spec.name.to_string(),
            category: spec.category.to_string(),
            severity: d.severity,
            subject: obs.subject.clone(),
            message: d.message.clone(),
            value: obs.value,
            threshold: rule.threshold,
            started_at: now,
            resolved_at: None,
            metrics: finite(&obs.context),
        };
    }
    let on = if obs.subject == "host" {
        String::new()
    } else {
        format!(" on {}", obs.subject)
    };
    let held = if rule.hold.is_zero() {
        String::new()
    } else {
        format!(" for {}", duration_text(rule.hold))
    };
    let message = format!(
        "{}{on} {:.1}{}, above {}{}{held}",
        capitalise(spec.what),
        obs.value,
        spec.unit,
        rule.threshold,
        spec.unit
    );
    Event {
        id,
        rule: spec.name.to_string(),
        category: spec.category.to_string(),
        severity: rule.severity,
        subject: obs.subject.clone(),
        message,
        value: obs.value,
        threshold: rule.threshold,
        started_at: now,
        resolved_at: None,
        metrics: finite(&obs.context),
    }
}

/// Context values that can be written to JSON and read back (JSON has no NaN or infinity).
fn finite(context: &[(String, f64)]) -> std::collections::BTreeMap<String, f64> {
    context
        .iter()
        .filter(|(_, v)| v.is_finite())
        .cloned()
        .collect()
}

fn resolve(state: State, now: DateTime<Utc>, why: &str) -> Option<Transition> {
    let mut event = state.event?;
    event.resolved_at = Some(now);
    event.message = format!("{} (resolved: {why})", event.message);
    Some(Transition::Resolved(event))
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anomaly::event::{Reading, Severity};

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_764_000_000 + s, 0).unwrap()
    }

    fn cpu(s: i64, busy: f64) -> Signals {
        let mut sig = Signals::empty(at(s));
        sig.cpu_busy_percent = Some(busy);
        sig
    }

    #[test]
    fn cpu_high_fires_after_hold_and_clears_with_hysteresis() {
        let mut e = Engine::new(RulesConfig::default(), 1);
        let mut events = Vec::new();
        // 2 s samples: 30 s above 90% before it fires.
        for i in 0..=15 {
            events.extend(e.evaluate(&cpu(i * 2, 97.0)));
        }
        let fired: Vec<_> = events
            .iter()
            .filter(|t| matches!(t, Transition::Started(_)))
            .collect();
        assert_eq!(fired.len(), 1, "{events:?}");
        let started = fired[0].event();
        assert_eq!(
            (started.rule.as_str(), started.subject.as_str()),
            ("cpu_high", "host")
        );
        assert_eq!(started.severity, Severity::Critical);
        assert_eq!(started.started_at, at(30));
        assert!(
            started
                .message
                .contains("CPU busy 97.0%, above 90% for 30s"),
            "{}",
            started.message
        );
        // 87% is inside the 5-point band: stays active.
        for i in 16..30 {
            assert!(e.evaluate(&cpu(i * 2, 87.0)).is_empty());
        }
        // Below 85% for 10 s clears it.
        let mut later = Vec::new();
        for i in 30..37 {
            later.extend(e.evaluate(&cpu(i * 2, 20.0)));
        }
        // (The drop from 87% to 20% is also a cpu_jump, which is not what this test is about.)
        let resolved: Vec<_> = later
            .iter()
            .filter(|t| matches!(t, Transition::Resolved(_)) && t.event().rule == "cpu_high")
            .collect();
        assert_eq!(resolved.len(), 1, "{later:?}");
        assert_eq!(resolved[0].event().resolved_at, Some(at(70)));
        assert_eq!(resolved[0].event().id, started.id);
    }

    #[test]
    fn jump_rule_and_per_subject_identity() {
        let mut e = Engine::new(RulesConfig::default(), 10);
        assert!(e.evaluate(&cpu(0, 10.0)).is_empty());
        let t = e.evaluate(&cpu(2, 70.0));
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].event().rule, "cpu_jump");
        assert_eq!(t[0].event().id, 10);

        let mut hot = Signals::empty(at(4));
        hot.temperatures_celsius = vec![
            Reading {
                subject: "coretemp/temp1".into(),
                value: 95.0,
                limit: Some(100.0),
            },
            Reading {
                subject: "nvme/temp1".into(),
                value: 40.0,
                limit: None,
            },
        ];
        e.evaluate(&hot);
        let mut hot2 = hot.clone();
        hot2.at = at(14);
        let t = e.evaluate(&hot2);
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].event().subject, "coretemp/temp1");
        assert_eq!(t[0].event().metrics["sensor_critical_celsius"], 100.0);

        let mut m = MetricSet::new();
        e.metrics(&mut m);
        let active = m.get("sysmon_anomaly_active").unwrap();
        let find = |rule: &str, subject: &str| {
            active
                .samples
                .iter()
                .find(|s| s.labels[0].1 == rule && s.labels[3].1 == subject)
                .map(|s| s.value)
        };
        assert_eq!(find("temperature_high", "coretemp/temp1"), Some(1.0));
        assert_eq!(
            find("temperature_high", "nvme/temp1"),
            Some(0.0),
            "evaluated subjects are present at 0"
        );
        assert_eq!(find("cpu_high", "host"), Some(0.0));
        let thresholds = m.get("sysmon_anomaly_threshold").unwrap();
        assert!(thresholds.samples.iter().any(|s| s.value == 85.0));
    }

    #[test]
    fn reload_disabling_a_rule_resolves_its_anomaly_and_adopt_resumes() {
        let mut e = Engine::new(RulesConfig::default(), 1);
        e.evaluate(&cpu(0, 10.0));
        let started = e.evaluate(&cpu(2, 80.0));
        assert_eq!(started.len(), 1);
        let mut cfg = RulesConfig::default();
        cfg.threshold.get_mut("cpu_jump").unwrap().enabled = false;
        let t = e.reload(cfg.clone(), at(3));
        assert_eq!(t.len(), 1);
        assert!(matches!(&t[0], Transition::Resolved(ev) if ev.message.contains("rule disabled")));

        // A restarted engine adopts the journal's active anomaly and resolves it once clear.
        let mut open = started[0].event().clone();
        open.rule = "cpu_high".into();
        let mut e2 = Engine::new(cfg, 1);
        e2.adopt(vec![open.clone()], at(10));
        assert_eq!(e2.active().count(), 1);
        let mut out = Vec::new();
        for i in 0..6 {
            out.extend(e2.evaluate(&cpu(10 + i * 2, 5.0)));
        }
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].event().id, open.id);
        // New events continue after the adopted id.
        assert!(e2.next_id > open.id);
    }

    /// Rules with a detector that learns in minutes rather than days, for short tests.
    fn quick_adaptive() -> RulesConfig {
        let mut cfg = RulesConfig::default();
        cfg.adaptive.period = Duration::from_secs(60);
        cfg.adaptive.warmup = Duration::from_secs(600);
        cfg
    }

    /// 40 minutes of a quiet machine at 2 s, then from `jump_at` memory (and, with `cpu_too`,
    /// CPU) jump and stay for 10 minutes. Returns every transition.
    fn quiet_then_jump(cpu_too: bool) -> Vec<Transition> {
        let mut e = Engine::new(quick_adaptive(), 1);
        let mut out = Vec::new();
        for i in 0..1500 {
            let jumped = i >= 1200;
            let mut sig = Signals::empty(at(i * 2));
            let wobble = (i % 5) as f64 * 0.2;
            sig.memory_used_percent = Some(if jumped { 70.0 } else { 40.0 + wobble });
            sig.cpu_busy_percent = Some(if jumped && cpu_too {
                95.0
            } else {
                12.0 + wobble
            });
            out.extend(e.evaluate(&sig));
        }
        out
    }

    #[test]
    fn adaptive_rule_fires_on_a_level_change_and_not_on_noise() {
        let all = quiet_then_jump(false);
        let started: Vec<_> = all
            .iter()
            .filter(|t| {
                matches!(t, Transition::Started(_)) && t.event().rule.starts_with("adaptive_")
            })
            .collect();
        assert_eq!(started.len(), 1, "only the memory jump: {all:?}");
        let ev = started[0].event();
        assert_eq!(ev.rule, "adaptive_memory");
        assert_eq!(
            (ev.category.as_str(), ev.subject.as_str()),
            ("memory", "host")
        );
        // A single signal is information, not a page.
        assert_eq!(ev.severity, crate::anomaly::Severity::Info);
        // The jump at 40:00 is judged when its first 1-minute period is complete.
        assert!(
            ev.started_at >= at(2400) && ev.started_at <= at(2400 + 120),
            "{}",
            ev.started_at
        );
        assert!(
            ev.value >= 1.0,
            "score is at least the threshold: {}",
            ev.value
        );
        assert!(ev.message.contains("is unusual"), "{}", ev.message);
        assert_eq!(ev.metrics["value"], 70.0);
    }

    #[test]
    fn adaptive_host_fires_when_several_signals_are_anomalous_together() {
        let all = quiet_then_jump(true);
        let rules: Vec<&str> = all
            .iter()
            .filter(|t| matches!(t, Transition::Started(_)))
            .map(|t| t.event().rule.as_str())
            .filter(|r| r.starts_with("adaptive_"))
            .collect();
        assert!(
            rules.contains(&"adaptive_cpu") && rules.contains(&"adaptive_memory"),
            "{rules:?}"
        );
        let host: Vec<_> = all
            .iter()
            .filter(|t| t.event().rule == "adaptive_host")
            .collect();
        assert_eq!(
            host.len(),
            1,
            "one host-wide anomaly, still active: {host:?}"
        );
        let ev = host[0].event();
        assert_eq!(ev.severity, crate::anomaly::Severity::Critical);
        assert_eq!(ev.metrics["anomalous_signals"], 2.0);
        assert!(
            ev.message.contains("cpu") && ev.message.contains("memory"),
            "{}",
            ev.message
        );
    }

    #[test]
    fn adaptive_rules_can_be_switched_off() {
        // Disabled by config: no adaptive series at all.
        let mut cfg = RulesConfig::default();
        for spec in crate::anomaly::rules::adaptive::SPECS {
            cfg.threshold.get_mut(spec.name).unwrap().enabled = false;
        }
        let mut e = Engine::new(cfg, 1);
        let mut sig = Signals::empty(at(0));
        sig.memory_used_percent = Some(40.0);
        e.evaluate(&sig);
        let mut m = MetricSet::new();
        e.metrics(&mut m);
        assert!(m
            .get("sysmon_anomaly_active")
            .unwrap()
            .samples
            .iter()
            .all(|s| !s.labels[0].1.starts_with("adaptive_")));
    }

    #[test]
    fn adaptive_scores_are_published_and_recorded_for_the_ranking() {
        let scores = Arc::new(ScoreHistory::new());
        let mut e = Engine::new(quick_adaptive(), 1).with_scores(Arc::clone(&scores));
        // 40 quiet minutes, then memory jumps and stays for 10 (as in `quiet_then_jump`).
        for i in 0..1500 {
            let wobble = (i % 5) as f64 * 0.2;
            let mut sig = cpu(i * 2, 12.0 + wobble);
            sig.memory_used_percent = Some(if i >= 1200 { 70.0 } else { 40.0 + wobble });
            e.evaluate(&sig);
        }
        let mut m = MetricSet::new();
        e.metrics(&mut m);
        let score = m.get("sysmon_anomaly_score").unwrap();
        let rules: Vec<&str> = score
            .samples
            .iter()
            .map(|s| s.labels[0].1.as_str())
            .collect();
        // The scored rules only (no threshold rule), the host-wide consensus among them (its
        // score is the share of the signals it needs that are anomalous).
        assert_eq!(
            rules,
            ["adaptive_cpu", "adaptive_host", "adaptive_memory"],
            "scored rules only"
        );
        assert_eq!(score.samples[0].labels.len(), 3, "rule, category, subject");
        let ranked = scores.rank(at(0), at(3000), 10);
        assert_eq!(ranked[0].rule, "adaptive_memory", "{ranked:?}");
        assert!(ranked[0].max_score >= 1.0, "{ranked:?}");
        assert!(
            ranked[0].anomalous_ratio > 0.0 && ranked[0].anomalous_ratio <= 0.25,
            "{ranked:?}"
        );
        let cpu_rank = ranked.iter().find(|r| r.rule == "adaptive_cpu").unwrap();
        assert_eq!(cpu_rank.anomalous_ratio, 0.0, "{ranked:?}");
        let recorded = ranked[0].samples;
        // Disabled, the adaptive family is not run: no new scores.
        let mut cfg = quick_adaptive();
        for spec in crate::anomaly::rules::adaptive::SPECS {
            cfg.threshold.get_mut(spec.name).unwrap().enabled = false;
        }
        e.reload(cfg, at(3000));
        for i in 1500..1600 {
            e.evaluate(&cpu(i * 2, 30.0));
        }
        let after = scores.rank(at(0), at(4000), 10);
        let memory = after.iter().find(|r| r.rule == "adaptive_memory").unwrap();
        assert_eq!(memory.samples, recorded);
    }

    /// The series a sample publishes through the shared label sets are exactly those written from
    /// scratch, as subjects come and go and the rules are reloaded.
    #[test]
    fn published_series_follow_subjects_and_reloads() {
        let mut e = Engine::new(RulesConfig::default(), 1);
        let same = |e: &mut Engine| {
            let mut fresh = MetricSet::new();
            e.metrics(&mut fresh);
            let mut shared = MetricSet::new();
            e.metrics_now().write(&mut shared);
            assert_eq!(
                format!("{:?}", fresh.families),
                format!("{:?}", shared.families)
            );
            shared
        };
        let usb_rows = |m: &MetricSet| {
            m.families
                .iter()
                .flat_map(|f| &f.samples)
                .filter(|s| s.labels.iter().any(|(_, v)| v == "1-2"))
                .count()
        };
        let mut s = Signals::empty(at(0));
        s.memory_used_percent = Some(40.0);
        e.evaluate(&s);
        assert_eq!(usb_rows(&same(&mut e)), 0);
        // A USB port appears: new rows.
        s.at = at(2);
        s.usb_timeouts = vec![Reading {
            subject: "1-2".into(),
            value: 0.0,
            limit: None,
        }];
        e.evaluate(&s);
        assert_eq!(
            usb_rows(&same(&mut e)),
            4,
            "active, value, threshold, activations"
        );
        // Values change, rows stay.
        s.at = at(4);
        s.memory_used_percent = Some(99.0);
        s.usb_timeouts[0].value = 2.0;
        e.evaluate(&s);
        assert_eq!(usb_rows(&same(&mut e)), 4);
        // A reload changes a label (the severity) and the threshold.
        let mut cfg = RulesConfig::default();
        let m = cfg.threshold.get_mut("memory_high").unwrap();
        m.severity = crate::anomaly::Severity::Warning;
        m.threshold = 50.0;
        e.reload(cfg, at(6));
        s.at = at(6);
        e.evaluate(&s);
        let reloaded = same(&mut e);
        let memory_high = reloaded
            .get("sysmon_anomaly_active")
            .unwrap()
            .samples
            .iter()
            .find(|s| s.labels[0].1 == "memory_high")
            .unwrap();
        assert_eq!(memory_high.labels[2].1, "warning", "the reloaded severity");
        // The port goes and is forgotten: its rows go.
        s.usb_timeouts.clear();
        for t in [8, 400, 800] {
            s.at = at(t);
            e.evaluate(&s);
        }
        assert_eq!(usb_rows(&same(&mut e)), 0);
    }

    #[test]
    fn vanished_subject_is_forgotten_after_a_while() {
        let mut e = Engine::new(RulesConfig::default(), 1);
        let mut s = Signals::empty(at(0));
        s.usb_timeouts = vec![Reading {
            subject: "1-2".into(),
            value: 0.0,
            limit: None,
        }];
        e.evaluate(&s);
        s.at = at(2);
        s.usb_timeouts[0].value = 3.0;
        assert_eq!(e.evaluate(&s).len(), 1, "one timeout fires at once");
        // The device disappears: nothing changes for a while, then the anomaly is resolved.
        assert!(e.evaluate(&Signals::empty(at(100))).is_empty());
        let t = e.evaluate(&Signals::empty(at(400)));
        assert_eq!(t.len(), 1);
        assert!(t[0].event().message.contains("no longer reported"));
    }
}
