//! Wires the anomaly engine into the sampler: after every sample, derive the signals, evaluate the
//! rules, record each transition durably, and publish the engine's metrics with the snapshot.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use chrono::{DateTime, Utc};

use super::config::RulesConfig;
use super::engine::{Engine, EngineMetrics};
use super::event::Transition;
use super::signals::{Readings, SignalExtractor};
use crate::metrics::MetricSet;
use crate::sampler::{HookMetrics, SampleHook};

/// Where transitions go: the journal-backed store. `record` returns only once the transition is
/// durable (or has failed to be, in which case the sink still keeps it in memory and says so in
/// its metrics), so that an anomaly is never published before it is synced.
pub trait EventSink: Send + Sync {
    fn record(&self, transition: Transition) -> std::io::Result<()>;
    /// The sink's own metrics (journal health).
    fn metrics(&self, out: &mut MetricSet);
}

/// Rule settings waiting to be applied (from SIGHUP), and the outcome of the last reload.
#[derive(Debug)]
pub struct ReloadState {
    pending: Mutex<Option<RulesConfig>>,
    last_successful: AtomicBool,
    last_success_unix: AtomicU64,
}

impl Default for ReloadState {
    fn default() -> Self {
        ReloadState {
            pending: Mutex::new(None),
            last_successful: AtomicBool::new(true),
            last_success_unix: AtomicU64::new(unix_now()),
        }
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl ReloadState {
    /// A reload read a valid file: its rules apply from the next sample.
    pub fn succeeded(&self, rules: RulesConfig) {
        if let Ok(mut p) = self.pending.lock() {
            *p = Some(rules);
        }
        self.last_successful.store(true, Ordering::Release);
        self.last_success_unix.store(unix_now(), Ordering::Release);
    }

    /// A reload found an error: the running rules stay.
    pub fn failed(&self) {
        self.last_successful.store(false, Ordering::Release);
    }

    fn take(&self) -> Option<RulesConfig> {
        self.pending.lock().ok().and_then(|mut p| p.take())
    }

    fn metrics(&self, out: &mut MetricSet) {
        out.gauge(
            "sysmon_config_last_reload_successful",
            "Whether the last configuration reload attempt was successful.",
        )
        .sample(
            &[],
            if self.last_successful.load(Ordering::Acquire) {
                1.0
            } else {
                0.0
            },
        );
        out.gauge(
            "sysmon_config_last_reload_success_timestamp_seconds",
            "Timestamp of the last successful configuration load.",
        )
        .sample(&[], self.last_success_unix.load(Ordering::Acquire) as f64);
    }
}

pub struct AnomalyHook {
    extractor: SignalExtractor,
    engine: Engine,
    sink: Arc<dyn EventSink>,
    reload: Arc<ReloadState>,
}

impl AnomalyHook {
    pub fn new(engine: Engine, sink: Arc<dyn EventSink>, reload: Arc<ReloadState>) -> AnomalyHook {
        AnomalyHook {
            extractor: SignalExtractor::new(),
            engine,
            sink,
            reload,
        }
    }

    fn record_all(&self, transitions: Vec<Transition>) {
        for t in transitions {
            let (id, rule) = (t.event().id, t.event().rule.clone());
            if let Err(e) = self.sink.record(t) {
                tracing::error!(id, rule = %rule, error = %e, "anomaly event not written to the journal; kept in memory");
            }
        }
    }
}

impl SampleHook for AnomalyHook {
    fn after_sample(&mut self, readings: &Readings, at: SystemTime) -> Box<dyn HookMetrics> {
        let now: DateTime<Utc> = at.into();
        if let Some(rules) = self.reload.take() {
            let resolved = self.engine.reload(rules, now);
            self.record_all(resolved);
            tracing::info!("anomaly rules reloaded");
        }
        let signals = self.extractor.extract_readings(readings, now);
        let transitions = self.engine.evaluate(&signals);
        self.record_all(transitions);
        let mut health = MetricSet::new();
        self.sink.metrics(&mut health);
        self.reload.metrics(&mut health);
        Box::new(AnomalyMetrics {
            engine: self.engine.metrics_now(),
            health,
        })
    }
}

/// The anomaly metrics of one sample: the rules' series (label sets shared, values of the
/// sample) and the journal's and reload's health.
#[derive(Debug)]
struct AnomalyMetrics {
    engine: EngineMetrics,
    health: MetricSet,
}

impl HookMetrics for AnomalyMetrics {
    fn write(&self, out: &mut MetricSet) {
        self.engine.write(out);
        self.health.write(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Recorded(Mutex<Vec<Transition>>);
    impl EventSink for Recorded {
        fn record(&self, t: Transition) -> std::io::Result<()> {
            self.0.lock().unwrap().push(t);
            Ok(())
        }
        fn metrics(&self, _: &mut MetricSet) {}
    }

    fn written(metrics: Box<dyn HookMetrics>) -> MetricSet {
        let mut out = MetricSet::new();
        metrics.write(&mut out);
        out
    }

    fn memory_set(used_percent: f64) -> MetricSet {
        let mut set = MetricSet::new();
        set.gauge("node_memory_MemTotal_bytes", "")
            .sample(&[], 100.0);
        set.gauge("node_memory_MemAvailable_bytes", "")
            .sample(&[], 100.0 - used_percent);
        set
    }

    #[test]
    fn samples_become_transitions_and_metrics_and_reload_applies() {
        let sink = Arc::new(Recorded::default());
        let reload = Arc::new(ReloadState::default());
        let mut hook = AnomalyHook::new(
            Engine::new(RulesConfig::default(), 1),
            sink.clone(),
            reload.clone(),
        );
        let t0 = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_764_000_000);
        let secs = |s: u64| t0 + std::time::Duration::from_secs(s);
        let set = memory_set(50.0);
        let out = written(hook.after_sample(&Readings::from_sets(&[&set]), secs(0)));
        assert!(out.get("sysmon_anomaly_active").is_some());
        assert_eq!(
            out.get("sysmon_config_last_reload_successful")
                .unwrap()
                .samples[0]
                .value,
            1.0
        );

        // Lower the memory threshold to 40% with no hold: the next sample fires.
        let mut rules = RulesConfig::default();
        let m = rules.threshold.get_mut("memory_high").unwrap();
        m.threshold = 40.0;
        m.hold = std::time::Duration::ZERO;
        reload.succeeded(rules);
        hook.after_sample(&Readings::from_sets(&[&set]), secs(2));
        let recorded = sink.0.lock().unwrap().clone();
        assert_eq!(recorded.len(), 1, "{recorded:?}");
        assert_eq!(recorded[0].event().rule, "memory_high");

        reload.failed();
        let out = written(hook.after_sample(&Readings::from_sets(&[&set]), secs(4)));
        assert_eq!(
            out.get("sysmon_config_last_reload_successful")
                .unwrap()
                .samples[0]
                .value,
            0.0
        );
    }
}
