//! The sampler: runs every enabled collector on a fixed interval, each isolated on its own worker
//! thread and bounded by a timeout, encodes the result once, and publishes it as a [`Snapshot`].
//!
//! The cost of the exporter is set by the interval, not by the number of scrapers: `/metrics` only
//! copies the latest snapshot's bytes.

use std::collections::HashSet;
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use tokio::sync::watch;

use crate::collector::Collector;
use crate::metrics::{self, Format, MetricSet};
use crate::self_metrics;

/// What happened to one collector in one sample.
#[derive(Debug, Clone)]
pub struct CollectorOutcome {
    pub name: &'static str,
    pub success: bool,
    pub duration: Duration,
    /// Why it failed, for the landing page and the log.
    pub error: Option<String>,
    /// When it last succeeded (this sample or an earlier one).
    pub last_success: Option<SystemTime>,
    text: String,
    openmetrics: String,
}

/// One published sample: every collector's encoded output plus the exporter's own metrics.
#[derive(Debug)]
pub struct Snapshot {
    pub taken_at: SystemTime,
    /// Monotonic time of publication, for freshness checks.
    pub published: Instant,
    pub collectors: Vec<CollectorOutcome>,
    /// How long the whole sample took, from start to publication.
    pub cycle_duration: Duration,
    /// Metrics of the sample hook (the anomaly engine), encoded once.
    hook_text: String,
    hook_openmetrics: String,
    exporter_text: String,
    exporter_openmetrics: String,
    // `Bytes` so every response shares the one encoding instead of copying it.
    full_text: Bytes,
    full_openmetrics: Bytes,
    full_text_gzip: OnceLock<Bytes>,
    full_openmetrics_gzip: OnceLock<Bytes>,
}

impl Snapshot {
    /// The snapshot served before the first sample completes: no collector output, only the
    /// exporter's own metrics, so `/metrics` answers from the first moment.
    pub fn empty() -> Snapshot {
        Snapshot::assemble(
            Vec::new(),
            &MetricSet::new(),
            Duration::ZERO,
            Instant::now(),
        )
    }

    fn assemble(
        collectors: Vec<CollectorOutcome>,
        hook: &MetricSet,
        cycle: Duration,
        started: Instant,
    ) -> Snapshot {
        let exporter = self_metrics::collect(cycle);
        let mut exporter_text = String::new();
        metrics::encode(&exporter.families, Format::Text, &mut exporter_text);
        let mut exporter_openmetrics = String::new();
        metrics::encode(
            &exporter.families,
            Format::OpenMetrics,
            &mut exporter_openmetrics,
        );
        let mut hook_text = String::new();
        metrics::encode(&hook.families, Format::Text, &mut hook_text);
        let mut hook_openmetrics = String::new();
        metrics::encode(&hook.families, Format::OpenMetrics, &mut hook_openmetrics);
        let mut snap = Snapshot {
            taken_at: SystemTime::now(),
            published: started + cycle,
            collectors,
            cycle_duration: cycle,
            hook_text,
            hook_openmetrics,
            exporter_text,
            exporter_openmetrics,
            full_text: Bytes::new(),
            full_openmetrics: Bytes::new(),
            full_text_gzip: OnceLock::new(),
            full_openmetrics_gzip: OnceLock::new(),
        };
        snap.full_text = Bytes::from(snap.render(Format::Text, |_| true));
        snap.full_openmetrics = Bytes::from(snap.render(Format::OpenMetrics, |_| true));
        snap
    }

    /// The full body in `format`, encoded once per sample.
    pub fn body(&self, format: Format) -> Bytes {
        match format {
            Format::Text => self.full_text.clone(),
            Format::OpenMetrics => self.full_openmetrics.clone(),
        }
    }

    /// The full body gzip-compressed, compressed at most once per sample and only if asked for.
    pub fn body_gzip(&self, format: Format) -> Bytes {
        let cell = match format {
            Format::Text => &self.full_text_gzip,
            Format::OpenMetrics => &self.full_openmetrics_gzip,
        };
        cell.get_or_init(|| Bytes::from(gzip(&self.body(format))))
            .clone()
    }

    /// A body restricted to the collectors `keep` accepts (for `collect[]` / `exclude[]`).
    pub fn render(&self, format: Format, keep: impl Fn(&str) -> bool) -> String {
        let kept: Vec<&CollectorOutcome> =
            self.collectors.iter().filter(|c| keep(c.name)).collect();
        let mut out = String::with_capacity(
            kept.iter().map(|c| c.text.len()).sum::<usize>() + self.exporter_text.len() + 1024,
        );
        for c in &kept {
            out.push_str(match format {
                Format::Text => &c.text,
                Format::OpenMetrics => &c.openmetrics,
            });
        }
        out.push_str(match format {
            Format::Text => &self.hook_text,
            Format::OpenMetrics => &self.hook_openmetrics,
        });
        let mut scrape = MetricSet::new();
        for c in &kept {
            scrape
                .gauge(
                    "node_scrape_collector_duration_seconds",
                    "node_exporter: Duration of a collector scrape.",
                )
                .sample(&[("collector", c.name)], c.duration.as_secs_f64());
        }
        for c in &kept {
            scrape
                .gauge(
                    "node_scrape_collector_success",
                    "node_exporter: Whether a collector succeeded.",
                )
                .sample(&[("collector", c.name)], if c.success { 1.0 } else { 0.0 });
        }
        metrics::encode(&scrape.families, format, &mut out);
        out.push_str(match format {
            Format::Text => &self.exporter_text,
            Format::OpenMetrics => &self.exporter_openmetrics,
        });
        if format == Format::OpenMetrics {
            out.push_str("# EOF\n");
        }
        out
    }
}

/// Names the exporter serves besides the collectors' families: the per-collector scrape metrics
/// and its own process and build metrics.
fn reserved_names() -> &'static [String] {
    static NAMES: OnceLock<Vec<String>> = OnceLock::new();
    NAMES.get_or_init(|| {
        let mut names: Vec<String> = vec![
            "node_scrape_collector_duration_seconds".to_string(),
            "node_scrape_collector_success".to_string(),
        ];
        for fam in self_metrics::collect(Duration::ZERO).families {
            names.extend(fam.exposition_names().into_iter().map(|n| n.into_owned()));
        }
        names
    })
}

/// gzip at a fast level: metrics text compresses ~10x even at level 1, and CPU is what we save.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(data.len() / 6),
        flate2::Compression::fast(),
    );
    // Writing into a Vec cannot fail.
    let _ = enc.write_all(data);
    enc.finish().unwrap_or_default()
}

/// One collector's output in both exposition formats.
#[derive(Default)]
struct Encoded {
    text: String,
    openmetrics: String,
}

impl Encoded {
    fn of(set: &MetricSet) -> Encoded {
        let mut text = String::new();
        metrics::encode(&set.families, Format::Text, &mut text);
        let mut openmetrics = String::new();
        metrics::encode(&set.families, Format::OpenMetrics, &mut openmetrics);
        Encoded { text, openmetrics }
    }
}

/// A registered, enabled collector and what the sampler remembers of it.
pub struct Slot {
    pub name: &'static str,
    collector: Arc<dyn Collector>,
    /// The collector's families come from outside the exporter ([`Collector::foreign_families`]).
    foreign: bool,
    /// Set while a run is in flight. A run that outlives its timeout keeps it set, and the
    /// collector is skipped (and reported failed) until that run returns, so a hung read never
    /// piles up threads.
    busy: Arc<AtomicBool>,
    last_success: Option<SystemTime>,
}

impl Slot {
    pub fn new(name: &'static str, collector: Box<dyn Collector>) -> Slot {
        Slot {
            name,
            foreign: collector.foreign_families(),
            collector: Arc::from(collector),
            busy: Arc::new(AtomicBool::new(false)),
            last_success: None,
        }
    }
}

/// Clears the busy flag when a run ends, even if the collector panicked.
struct BusyGuard(Arc<AtomicBool>);

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// Runs after every sample on what the collectors produced, before the snapshot is published
/// (the anomaly engine). It runs inline, so it must be cheap; the metrics it returns are published
/// with the snapshot.
pub trait SampleHook: Send {
    fn after_sample(
        &mut self,
        collected: &[(&'static str, &MetricSet)],
        at: SystemTime,
    ) -> MetricSet;
}

pub struct Sampler {
    slots: Vec<Slot>,
    timeout: Duration,
    hook: Option<Box<dyn SampleHook>>,
    /// Foreign families already logged as clashing, so a lasting clash is logged once.
    clashes_logged: HashSet<String>,
}

impl Sampler {
    pub fn new(slots: Vec<Slot>, timeout: Duration) -> Sampler {
        Sampler {
            slots,
            timeout,
            hook: None,
            clashes_logged: HashSet::new(),
        }
    }

    /// Sets the hook run after every sample.
    pub fn with_hook(mut self, hook: Box<dyn SampleHook>) -> Sampler {
        self.hook = Some(hook);
        self
    }

    /// Runs every collector once, concurrently, and builds the snapshot.
    pub async fn sample(&mut self) -> Snapshot {
        let started = Instant::now();
        let deadline = tokio::time::Instant::from_std(started + self.timeout);
        let mut runs = Vec::with_capacity(self.slots.len());
        for slot in &self.slots {
            if slot.busy.swap(true, Ordering::AcqRel) {
                runs.push(None);
                continue;
            }
            let collector = Arc::clone(&slot.collector);
            let guard = BusyGuard(Arc::clone(&slot.busy));
            runs.push(Some(tokio::task::spawn_blocking(move || {
                let _guard = guard;
                let begin = Instant::now();
                let mut set = MetricSet::new();
                let result = collector.collect(&mut set);
                let took = begin.elapsed();
                // Encoding here, on the collector's worker thread, keeps it off the runtime
                // workers that answer scrapes, and encodes the collectors in parallel.
                let encoded = Encoded::of(&set);
                (set, encoded, result, took)
            })));
        }

        let mut outcomes = Vec::with_capacity(self.slots.len());
        let mut sets = Vec::with_capacity(self.slots.len());
        for (slot, run) in self.slots.iter_mut().zip(runs) {
            let (set, encoded, error, duration) = match run {
                None => (
                    MetricSet::new(),
                    Encoded::default(),
                    Some("previous run has not returned yet (hung read?)".to_string()),
                    Duration::ZERO,
                ),
                Some(handle) => match tokio::time::timeout_at(deadline, handle).await {
                    Ok(Ok((set, enc, Ok(()), d))) => (set, enc, None, d),
                    Ok(Ok((set, enc, Err(e), d))) => (set, enc, Some(e.to_string()), d),
                    Ok(Err(join_error)) => (
                        MetricSet::new(),
                        Encoded::default(),
                        Some(format!("collector panicked: {join_error}")),
                        started.elapsed(),
                    ),
                    Err(_) => (
                        MetricSet::new(),
                        Encoded::default(),
                        Some(format!("timed out after {:?}", self.timeout)),
                        self.timeout,
                    ),
                },
            };
            let success = error.is_none();
            if let Some(e) = &error {
                tracing::warn!(collector = slot.name, error = %e, "collector failed");
            } else {
                slot.last_success = Some(SystemTime::now());
            }
            outcomes.push(CollectorOutcome {
                name: slot.name,
                success,
                duration,
                error,
                last_success: slot.last_success,
                text: encoded.text,
                openmetrics: encoded.openmetrics,
            });
            sets.push((slot.name, set));
        }
        if self.slots.iter().any(|s| s.foreign) {
            self.drop_foreign_clashes(&mut outcomes, &mut sets);
        }
        let hook_metrics = self.run_hook(sets).await;
        // Assembling encodes and concatenates the whole body: off the runtime workers too.
        let assembled = tokio::task::spawn_blocking(move || {
            Snapshot::assemble(outcomes, &hook_metrics, started.elapsed(), started)
        })
        .await;
        assembled.unwrap_or_else(|e| {
            tracing::error!(error = %e, "assembling the snapshot failed");
            Snapshot::empty()
        })
    }

    /// Drops the families of foreign collectors whose names the exporter's own families take (in
    /// either format, see [`metrics::MetricFamily::exposition_names`]), or that are under the
    /// exporter's `sysmon_` prefix, and re-encodes that collector when it lost one.
    fn drop_foreign_clashes(
        &mut self,
        outcomes: &mut [CollectorOutcome],
        sets: &mut [(&'static str, MetricSet)],
    ) {
        let mut taken: HashSet<String> = reserved_names().iter().cloned().collect();
        for ((_, set), slot) in sets.iter().zip(&self.slots) {
            if !slot.foreign {
                for fam in &set.families {
                    taken.extend(fam.exposition_names().into_iter().map(|n| n.into_owned()));
                }
            }
        }
        for ((outcome, (_, set)), slot) in outcomes.iter_mut().zip(sets.iter_mut()).zip(&self.slots)
        {
            if !slot.foreign {
                continue;
            }
            let before = set.families.len();
            set.families.retain(|fam| {
                let clash = fam.name.starts_with("sysmon_")
                    || fam
                        .exposition_names()
                        .iter()
                        .any(|n| taken.contains(n.as_ref()));
                if clash && self.clashes_logged.insert(fam.name.clone()) {
                    tracing::warn!(
                        collector = slot.name,
                        family = %fam.name,
                        "family dropped: the exporter exports a family of that name itself"
                    );
                }
                !clash
            });
            if set.families.len() != before {
                let encoded = Encoded::of(set);
                outcome.text = encoded.text;
                outcome.openmetrics = encoded.openmetrics;
            }
        }
    }

    /// Runs the hook on the collectors' output. The hook may block (the anomaly journal syncs to
    /// disk before an event is published), so it runs on the blocking pool, not on a runtime
    /// worker; a panic inside it is logged and the hook is kept for the next sample.
    async fn run_hook(&mut self, sets: Vec<(&'static str, MetricSet)>) -> MetricSet {
        let Some(mut hook) = self.hook.take() else {
            return MetricSet::new();
        };
        let at = SystemTime::now();
        let run = tokio::task::spawn_blocking(move || {
            let view: Vec<(&'static str, &MetricSet)> =
                sets.iter().map(|(name, set)| (*name, set)).collect();
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                hook.after_sample(&view, at)
            }));
            (hook, result)
        });
        match run.await {
            Ok((hook, result)) => {
                self.hook = Some(hook);
                result.unwrap_or_else(|_| {
                    tracing::error!(
                        "the sample hook panicked; its metrics are missing from this sample"
                    );
                    MetricSet::new()
                })
            }
            Err(e) => {
                tracing::error!(error = %e, "the sample hook could not run; anomaly detection stopped");
                MetricSet::new()
            }
        }
    }

    /// Samples every `interval` and publishes each snapshot until the receiver side is gone or
    /// `shutdown` fires.
    pub async fn run(
        mut self,
        interval: Duration,
        tx: watch::Sender<Arc<Snapshot>>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let mut ticker = tokio::time::interval(interval);
        // A slow sample delays the next one instead of bursting to catch up.
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = shutdown.changed() => return,
            }
            let snapshot = self.sample().await;
            tracing::debug!(
                duration_us = snapshot.cycle_duration.as_micros() as u64,
                "sample published"
            );
            if tx.send(Arc::new(snapshot)).is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::CollectError;

    struct Fixed(f64);
    impl Collector for Fixed {
        fn collect(&self, out: &mut MetricSet) -> Result<(), CollectError> {
            out.gauge("test_value", "A value.").sample(&[], self.0);
            Ok(())
        }
    }

    struct Failing;
    impl Collector for Failing {
        fn collect(&self, out: &mut MetricSet) -> Result<(), CollectError> {
            out.gauge("test_partial", "Written before failing.")
                .sample(&[], 1.0);
            Err(CollectError::Other("broken on purpose".into()))
        }
    }

    struct Panicking;
    impl Collector for Panicking {
        fn collect(&self, _: &mut MetricSet) -> Result<(), CollectError> {
            panic!("collector bug")
        }
    }

    /// Blocks until the test releases it, like a read from a dead NFS mount.
    struct Hanging(std::sync::Mutex<std::sync::mpsc::Receiver<()>>);
    impl Collector for Hanging {
        fn collect(&self, out: &mut MetricSet) -> Result<(), CollectError> {
            let _ = self.0.lock().unwrap().recv();
            out.gauge("test_hung", "Returned late.").sample(&[], 1.0);
            Ok(())
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn failures_are_isolated_and_reported() {
        let (release, hold) = std::sync::mpsc::channel();
        let mut sampler = Sampler::new(
            vec![
                Slot::new("good", Box::new(Fixed(42.0))),
                Slot::new("bad", Box::new(Failing)),
                Slot::new("panics", Box::new(Panicking)),
                Slot::new("hangs", Box::new(Hanging(std::sync::Mutex::new(hold)))),
            ],
            Duration::from_millis(200),
        );
        let snap = sampler.sample().await;
        let text = String::from_utf8(snap.body(Format::Text).to_vec()).unwrap();
        assert!(text.contains("test_value 42\n"), "{text}");
        assert!(
            text.contains("test_partial 1\n"),
            "partial output is kept: {text}"
        );
        assert!(text.contains("node_scrape_collector_success{collector=\"good\"} 1\n"));
        assert!(text.contains("node_scrape_collector_success{collector=\"bad\"} 0\n"));
        assert!(text.contains("node_scrape_collector_success{collector=\"panics\"} 0\n"));
        assert!(text.contains("node_scrape_collector_success{collector=\"hangs\"} 0\n"));
        assert!(text.contains("sysmon_exporter_build_info{"), "{text}");
        let hangs = snap.collectors.iter().find(|c| c.name == "hangs").unwrap();
        assert!(hangs.error.as_deref().unwrap().contains("timed out"));

        // While the hung run has not returned, the collector is skipped, not started again.
        let snap = sampler.sample().await;
        let hangs = snap.collectors.iter().find(|c| c.name == "hangs").unwrap();
        assert!(hangs.error.as_deref().unwrap().contains("has not returned"));

        // Once it returns, the next sample runs it again.
        release.send(()).unwrap();
        release.send(()).unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let snap = sampler.sample().await;
        let hangs = snap.collectors.iter().find(|c| c.name == "hangs").unwrap();
        assert!(hangs.success, "{:?}", hangs.error);
    }

    /// Counts the collectors it saw and publishes that.
    struct CountingHook;
    impl SampleHook for CountingHook {
        fn after_sample(
            &mut self,
            collected: &[(&'static str, &MetricSet)],
            _: SystemTime,
        ) -> MetricSet {
            let mut out = MetricSet::new();
            let values: f64 = collected
                .iter()
                .filter_map(|(_, set)| set.get("test_value"))
                .map(|f| f.samples[0].value)
                .sum();
            out.gauge("test_hook_sum", "Sum of test_value.")
                .sample(&[], values);
            out
        }
    }

    #[tokio::test]
    async fn hook_sees_every_collector_and_publishes_its_metrics() {
        let mut sampler = Sampler::new(
            vec![
                Slot::new("a", Box::new(Fixed(1.5))),
                Slot::new("b", Box::new(Fixed(2.0))),
            ],
            Duration::from_secs(1),
        )
        .with_hook(Box::new(CountingHook));
        let snap = sampler.sample().await;
        let text = String::from_utf8(snap.body(Format::Text).to_vec()).unwrap();
        assert!(text.contains("test_hook_sum 3.5\n"), "{text}");
        // Filtering by collector keeps the hook's metrics: they belong to no collector.
        assert!(snap
            .render(Format::Text, |n| n == "a")
            .contains("test_hook_sum 3.5\n"));
    }

    #[tokio::test]
    async fn filtered_render_and_openmetrics_eof() {
        let mut sampler = Sampler::new(
            vec![
                Slot::new("a", Box::new(Fixed(1.0))),
                Slot::new("b", Box::new(Failing)),
            ],
            Duration::from_secs(1),
        );
        let snap = sampler.sample().await;
        let only_a = snap.render(Format::Text, |n| n == "a");
        assert!(only_a.contains("test_value 1\n"));
        assert!(!only_a.contains("test_partial"));
        assert!(!only_a.contains("collector=\"b\""));
        let om = String::from_utf8(snap.body(Format::OpenMetrics).to_vec()).unwrap();
        assert!(om.ends_with("# EOF\n"));
        assert_eq!(om.matches("# EOF").count(), 1);
        let gz = snap.body_gzip(Format::Text);
        let mut decoded = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gz[..]), &mut decoded)
            .unwrap();
        assert_eq!(decoded.as_bytes(), snap.body(Format::Text));
    }

    /// Families from files, some named like the exporter's own.
    struct Foreign;
    impl Collector for Foreign {
        fn collect(&self, out: &mut MetricSet) -> Result<(), CollectError> {
            out.gauge("test_value", "Clashes with Fixed.")
                .sample(&[], 7.0);
            out.gauge("test_value_total", "No clash in either format.")
                .sample(&[], 1.0);
            out.counter("test", "OpenMetrics family name of a counter test_total.")
                .sample(&[], 1.0);
            out.gauge("process_open_fds", "The exporter's own.")
                .sample(&[], 1.0);
            out.gauge("sysmon_anything", "The exporter's namespace.")
                .sample(&[], 1.0);
            out.gauge("kept", "No clash.").sample(&[], 3.0);
            Ok(())
        }
        fn foreign_families(&self) -> bool {
            true
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn foreign_families_never_shadow_the_exporters() {
        let mut sampler = Sampler::new(
            vec![
                Slot::new("fixed", Box::new(Fixed(42.0))),
                Slot::new("files", Box::new(Foreign)),
            ],
            Duration::from_secs(5),
        );
        let snap = sampler.sample().await;
        let text = String::from_utf8(snap.body(Format::Text).to_vec()).unwrap();
        assert_eq!(text.matches("# TYPE test_value gauge").count(), 1, "{text}");
        assert!(text.contains("\ntest_value 42\n") && !text.contains("test_value 7"));
        assert_eq!(
            text.matches("# TYPE process_open_fds ").count(),
            1,
            "{text}"
        );
        assert!(!text.contains("sysmon_anything"));
        assert!(text.contains("\nkept 3\n"), "{text}");
        assert!(text.contains("\ntest_value_total 1\n"), "{text}");
        // A counter `test` would be announced as `test` in OpenMetrics, which is free here.
        assert!(text.contains("\ntest 1\n"), "{text}");
        let om = String::from_utf8(snap.body(Format::OpenMetrics).to_vec()).unwrap();
        assert_eq!(om.matches("# TYPE test_value ").count(), 1, "{om}");
        // The collector's own success is not affected.
        assert!(snap.collectors.iter().all(|c| c.success));
    }
}
