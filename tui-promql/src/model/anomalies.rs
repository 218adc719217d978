//! The anomalies view: the exporters' anomalies (active and recent), the signals the adaptive
//! detectors scored highest over the range, and Prometheus' alerts.

use std::collections::BTreeMap;

use super::{Instants, Severity};
use crate::prom::{Labels, Sample};
use crate::queries::AnomalyQuery;

/// An anomaly from the exporter's rules (`sysmon_anomaly_active`).
#[derive(Debug, Clone, PartialEq)]
pub struct Anomaly {
    pub instance: String,
    pub rule: String,
    pub category: String,
    pub severity: Severity,
    pub subject: String,
    pub active: bool,
    pub value: Option<f64>,
    pub threshold: Option<f64>,
    /// Unix time it was last seen active (recent ones).
    pub last_seen: Option<f64>,
}

pub(crate) fn anomaly_key(l: &Labels) -> (String, String, String) {
    (
        l.get("instance").cloned().unwrap_or_default(),
        l.get("rule").cloned().unwrap_or_default(),
        l.get("subject").cloned().unwrap_or_default(),
    )
}

pub(crate) fn anomaly_from(l: &Labels, active: bool) -> Anomaly {
    Anomaly {
        instance: l.get("instance").cloned().unwrap_or_default(),
        rule: l.get("rule").cloned().unwrap_or_default(),
        category: l.get("category").cloned().unwrap_or_default(),
        severity: Severity::parse(l.get("severity").map(String::as_str).unwrap_or("")),
        subject: l.get("subject").cloned().unwrap_or_default(),
        active,
        value: None,
        threshold: None,
        last_seen: None,
    }
}

pub(crate) fn sort_anomalies(v: &mut [Anomaly]) {
    v.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| {
                b.last_seen
                    .unwrap_or(0.0)
                    .total_cmp(&a.last_seen.unwrap_or(0.0))
            })
            .then_with(|| a.instance.cmp(&b.instance))
            .then_with(|| a.rule.cmp(&b.rule))
            .then_with(|| a.subject.cmp(&b.subject))
    });
}

/// The state of a Prometheus alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AlertState {
    Firing,
    Pending,
    /// Fired within the range, not firing now.
    Resolved,
}

impl AlertState {
    pub fn label(self) -> &'static str {
        match self {
            AlertState::Firing => "firing",
            AlertState::Pending => "pending",
            AlertState::Resolved => "resolved",
        }
    }
}

/// One alert from Prometheus' `ALERTS` series.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRow {
    pub name: String,
    pub state: AlertState,
    pub severity: Severity,
    pub instance: String,
    /// The other labels, `k=v` joined, for the detail column.
    pub details: String,
}

/// A signal an adaptive detector scored (`sysmon_anomaly_score`), over the view's range.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoredSignal {
    pub instance: String,
    pub rule: String,
    pub subject: String,
    /// Mean score over the range (1 is the detector's threshold).
    pub mean: f64,
    /// Highest score in the range.
    pub peak: Option<f64>,
}

/// The anomalies view: exporter anomalies (active and recent), Prometheus alerts, and the signals
/// the adaptive detectors found most unusual.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AnomalyBoard {
    pub active: Vec<Anomaly>,
    pub recent: Vec<Anomaly>,
    pub alerts: Vec<AlertRow>,
    /// Most anomalous first.
    pub ranked: Vec<ScoredSignal>,
}

impl AnomalyBoard {
    pub fn count_by_severity(&self) -> [usize; 3] {
        let mut c = [0; 3];
        for a in &self.active {
            c[a.severity as usize] += 1;
        }
        c
    }
}

pub fn build_anomalies(res: &Instants<AnomalyQuery>) -> AnomalyBoard {
    let empty = Vec::new();
    let get = |q: AnomalyQuery| res.get(&q).unwrap_or(&empty);
    let values: BTreeMap<_, f64> = get(AnomalyQuery::Values)
        .iter()
        .filter(|s| s.v.is_finite())
        .map(|s| (anomaly_key(&s.labels), s.v))
        .collect();
    let thresholds: BTreeMap<_, f64> = get(AnomalyQuery::Thresholds)
        .iter()
        .filter(|s| s.v.is_finite())
        .map(|s| (anomaly_key(&s.labels), s.v))
        .collect();
    let last_seen: BTreeMap<_, f64> = get(AnomalyQuery::RecentLastSeen)
        .iter()
        .filter(|s| s.v.is_finite())
        .map(|s| (anomaly_key(&s.labels), s.v))
        .collect();
    let mut active: Vec<Anomaly> = get(AnomalyQuery::Active)
        .iter()
        .map(|s| {
            let k = anomaly_key(&s.labels);
            let mut a = anomaly_from(&s.labels, true);
            a.value = values.get(&k).copied();
            a.threshold = thresholds.get(&k).copied();
            a
        })
        .collect();
    let mut recent: Vec<Anomaly> = get(AnomalyQuery::Recent)
        .iter()
        .map(|s| {
            let mut a = anomaly_from(&s.labels, false);
            a.last_seen = last_seen.get(&anomaly_key(&s.labels)).copied();
            a
        })
        .collect();
    sort_anomalies(&mut active);
    sort_anomalies(&mut recent);

    let alert = |s: &Sample, state: AlertState| {
        let details = s
            .labels
            .iter()
            .filter(|(k, _)| {
                !matches!(
                    k.as_str(),
                    "__name__" | "alertname" | "alertstate" | "severity" | "instance" | "job"
                )
            })
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ");
        AlertRow {
            name: s.labels.get("alertname").cloned().unwrap_or_default(),
            state,
            severity: Severity::parse(s.labels.get("severity").map(String::as_str).unwrap_or("")),
            instance: s.labels.get("instance").cloned().unwrap_or_default(),
            details,
        }
    };
    let mut alerts: Vec<AlertRow> = get(AnomalyQuery::Alerts)
        .iter()
        .filter(|s| s.v >= 1.0)
        .map(|s| {
            let st = if s.labels.get("alertstate").map(String::as_str) == Some("firing") {
                AlertState::Firing
            } else {
                AlertState::Pending
            };
            alert(s, st)
        })
        .collect();
    alerts.extend(
        get(AnomalyQuery::AlertsRecent)
            .iter()
            .map(|s| alert(s, AlertState::Resolved)),
    );
    alerts.sort_by(|a, b| {
        a.state
            .cmp(&b.state)
            .then_with(|| b.severity.cmp(&a.severity))
            .then_with(|| a.name.cmp(&b.name))
            .then_with(|| a.instance.cmp(&b.instance))
    });
    AnomalyBoard {
        active,
        recent,
        alerts,
        ranked: build_ranking(res),
    }
}

/// The adaptive scores' ranking: the highest mean first, each with its peak when Prometheus gave
/// one; ties in a stable order (host, rule, subject) so the table does not shuffle on refresh.
fn build_ranking(res: &Instants<AnomalyQuery>) -> Vec<ScoredSignal> {
    let empty = Vec::new();
    let get = |q: AnomalyQuery| res.get(&q).unwrap_or(&empty);
    let peaks: BTreeMap<_, f64> = get(AnomalyQuery::ScorePeak)
        .iter()
        .filter(|s| s.v.is_finite())
        .map(|s| (anomaly_key(&s.labels), s.v))
        .collect();
    let mut ranked: Vec<ScoredSignal> = get(AnomalyQuery::ScoreMean)
        .iter()
        .filter(|s| s.v.is_finite())
        .map(|s| {
            let key = anomaly_key(&s.labels);
            let peak = peaks.get(&key).copied();
            let (instance, rule, subject) = key;
            ScoredSignal {
                instance,
                rule,
                subject,
                mean: s.v,
                peak,
            }
        })
        .collect();
    ranked.sort_by(|a, b| {
        b.mean.total_cmp(&a.mean).then_with(|| {
            (&a.instance, &a.rule, &a.subject).cmp(&(&b.instance, &b.rule, &b.subject))
        })
    });
    ranked
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::tests::sample;

    #[test]
    fn anomaly_board_orders_by_severity_and_splits_alerts() {
        let mut r = Instants::new();
        let l = |inst: &str, rule: &str, sev: &str| {
            vec![
                ("instance", inst.to_string()),
                ("rule", rule.to_string()),
                ("subject", "host".to_string()),
                ("severity", sev.to_string()),
            ]
        };
        let mk = |v: Vec<(&str, String)>, x: f64| Sample {
            labels: v.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
            t: 0.0,
            v: x,
        };
        r.insert(
            AnomalyQuery::Active,
            vec![
                mk(l("a", "cpu_high", "warning"), 1.0),
                mk(l("b", "memory_high", "critical"), 1.0),
            ],
        );
        r.insert(
            AnomalyQuery::Values,
            vec![mk(l("a", "cpu_high", "warning"), 0.99)],
        );
        r.insert(
            AnomalyQuery::Recent,
            vec![mk(l("c", "usb_timeout", "warning"), 1.0)],
        );
        r.insert(
            AnomalyQuery::RecentLastSeen,
            vec![mk(l("c", "usb_timeout", "warning"), 1234.0)],
        );
        r.insert(
            AnomalyQuery::Alerts,
            vec![
                sample(
                    &[
                        ("alertname", "SysmonExporterDown"),
                        ("alertstate", "pending"),
                        ("severity", "critical"),
                        ("instance", "x"),
                    ],
                    1.0,
                ),
                sample(
                    &[
                        ("alertname", "SysmonAnomaly"),
                        ("alertstate", "firing"),
                        ("severity", "warning"),
                        ("rule", "cpu_high"),
                    ],
                    1.0,
                ),
            ],
        );
        r.insert(
            AnomalyQuery::AlertsRecent,
            vec![sample(
                &[
                    ("alertname", "SysmonUsbErrorsRising"),
                    ("severity", "warning"),
                ],
                1.0,
            )],
        );
        let b = build_anomalies(&r);
        assert_eq!(b.active[0].rule, "memory_high");
        assert_eq!(b.active[1].value, Some(0.99));
        assert_eq!(b.count_by_severity(), [0, 1, 1]);
        assert_eq!(b.recent[0].last_seen, Some(1234.0));
        let names: Vec<(&str, AlertState)> = b
            .alerts
            .iter()
            .map(|a| (a.name.as_str(), a.state))
            .collect();
        assert_eq!(
            names,
            vec![
                ("SysmonAnomaly", AlertState::Firing),
                ("SysmonExporterDown", AlertState::Pending),
                ("SysmonUsbErrorsRising", AlertState::Resolved)
            ]
        );
        assert_eq!(b.alerts[0].details, "rule=cpu_high");
    }

    #[test]
    fn ranking_is_highest_mean_first_with_the_peak_when_known() {
        let mut r = Instants::new();
        let l = |inst: &'static str, rule: &'static str| {
            [("instance", inst), ("rule", rule), ("subject", "host")]
        };
        r.insert(
            AnomalyQuery::ScoreMean,
            vec![
                sample(&l("b", "adaptive_cpu"), 0.4),
                sample(&l("a", "adaptive_memory"), 1.2),
                sample(&l("a", "adaptive_cpu"), 0.4),
                sample(&l("c", "adaptive_disk"), f64::NAN),
            ],
        );
        r.insert(
            AnomalyQuery::ScorePeak,
            vec![sample(&l("a", "adaptive_memory"), 3.5)],
        );
        let ranked = build_anomalies(&r).ranked;
        let order: Vec<(&str, &str, Option<f64>)> = ranked
            .iter()
            .map(|s| (s.instance.as_str(), s.rule.as_str(), s.peak))
            .collect();
        // NaN means are dropped; equal means in host order, so a refresh does not reorder them.
        assert_eq!(
            order,
            vec![
                ("a", "adaptive_memory", Some(3.5)),
                ("a", "adaptive_cpu", None),
                ("b", "adaptive_cpu", None)
            ]
        );
    }
}
