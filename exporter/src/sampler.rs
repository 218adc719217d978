//! The sampler: runs the enabled collectors on a fixed interval on its own thread, and publishes
//! each sample as a [`Snapshot`].
//!
//! What a sample costs is what the exporter costs on an idle host, so a sample does only what it
//! must:
//!
//! * The anomaly rules' inputs are read every sample: by the collectors' signal readings
//!   ([`Collector::signals`], cheap reads of the few numbers the rules need), or from the output
//!   of collectors that run every sample ([`Cadence::EverySample`]). Full runs happen at most once
//!   per slow interval ([`Cadence::Slow`], the scrape interval by default) for every other
//!   collector, and their last output is served in between. After its first run, a slow collector
//!   on a thread of its own that reads no signals runs in the background: a later sample collects
//!   its result, so a long slow run never holds a sample up.
//! * Collectors that cannot hang (parsing a /proc file) run inline on the sampler thread; those
//!   that can (a driver's sysfs attribute, statfs) run on a long-lived thread of their own under
//!   the collector timeout ([`Isolation::Thread`]). A run that outlives the timeout keeps its busy
//!   flag and is skipped (reported failed) until it returns, so a hung read never piles up threads.
//! * Nothing is encoded until a scrape asks for a format: a collector's output is encoded once per
//!   format (a slow collector's output once per run, not per sample), and the full body once per
//!   sample and format.
//!
//! The exporter accounts its own cost: the thread CPU time of every collector's runs
//! (`sysmon_collector_cpu_seconds_total`), and of the anomaly engine and encoding
//! (`sysmon_exporter_cpu_seconds_total{stage}`).

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use tokio::sync::watch;

use crate::anomaly::signals::Readings;
use crate::collector::Collector;
use crate::metrics::{self, Format, MetricSet};
use crate::self_metrics;

/// How often a collector runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cadence {
    /// Every sample: the anomaly rules read its series.
    EverySample,
    /// At most once per slow interval; its last output is served in between.
    Slow,
}

/// Where a collector runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isolation {
    /// On the sampler thread: for collectors that only read kernel-generated files, which do not
    /// block.
    Inline,
    /// On a thread of its own, under the collector timeout: for reads that can hang.
    Thread,
}

/// What happened to one collector in its latest run, and what it produced. A slow collector's
/// outcome is shared by the snapshots between its runs, and so is its encoding.
#[derive(Debug)]
pub struct CollectorOutcome {
    pub name: &'static str,
    pub success: bool,
    pub duration: Duration,
    /// Why it failed, for the landing page and the log.
    pub error: Option<String>,
    /// When it last succeeded (this run or an earlier one).
    pub last_success: Option<SystemTime>,
    /// When this run started.
    pub ran_at: SystemTime,
    set: MetricSet,
    encoded: [OnceLock<String>; 2],
}

impl CollectorOutcome {
    /// The metrics of this run.
    pub fn metrics(&self) -> &MetricSet {
        &self.set
    }

    fn encoded(&self, format: Format) -> &str {
        self.encoded[format_index(format)].get_or_init(|| encode_set(&self.set, format))
    }
}

fn format_index(format: Format) -> usize {
    match format {
        Format::Text => 0,
        Format::OpenMetrics => 1,
    }
}

/// Thread CPU time spent encoding, over the process's life (encoding happens on whichever thread
/// serves the first scrape of a sample, so it is counted where it happens).
static ENCODE_CPU_NANOS: AtomicU64 = AtomicU64::new(0);

/// Encodes one collector's output; the render that asks for it counts the CPU time.
fn encode_set(set: &MetricSet, format: Format) -> String {
    let mut out = String::new();
    metrics::encode(&set.families, format, &mut out);
    out
}

/// CPU time of the calling thread (CLOCK_THREAD_CPUTIME_ID), for the cost accounting.
struct ThreadCpu(Duration);

impl ThreadCpu {
    fn now() -> Duration {
        let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
        Duration::new(
            t.tv_sec.max(0) as u64,
            t.tv_nsec.clamp(0, 999_999_999) as u32,
        )
    }
    fn start() -> ThreadCpu {
        ThreadCpu(ThreadCpu::now())
    }
    fn elapsed(&self) -> Duration {
        ThreadCpu::now().saturating_sub(self.0)
    }
    fn elapsed_nanos(&self) -> u64 {
        u64::try_from(self.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

/// CPU time spent by each part of the exporter, over the process's life.
#[derive(Debug, Clone, Default)]
pub struct CpuAccount {
    /// Per collector, in registry order.
    pub collectors: Vec<(&'static str, Duration)>,
    /// The sample hook (the anomaly engine).
    pub anomaly: Duration,
}

/// One published sample: every collector's latest outcome plus the hook's metrics. Bodies are
/// encoded when a scrape first asks for them, once per format.
#[derive(Debug)]
pub struct Snapshot {
    pub taken_at: SystemTime,
    /// Monotonic time of publication, for freshness checks.
    pub published: Instant,
    pub collectors: Vec<Arc<CollectorOutcome>>,
    /// How long the whole sample took, from start to publication.
    pub cycle_duration: Duration,
    pub cpu: CpuAccount,
    /// Whether the exporter's own runtime metrics are published (`--web.disable-exporter-metrics`
    /// turns them off).
    exporter_metrics: bool,
    /// Metrics of the sample hook (the anomaly engine), written out when a scrape renders them.
    hook: Box<dyn HookMetrics>,
    full: [OnceLock<Bytes>; 2],
    full_gzip: [OnceLock<Bytes>; 2],
}

impl Snapshot {
    /// The snapshot held before the first sample completes: no collector output, only the
    /// exporter's own metrics. A scrape waits for the first sample and gets this one only if
    /// that wait runs out (see `server::AppState::first_sample`).
    pub fn empty() -> Snapshot {
        Snapshot::initial(true)
    }

    /// As [`Snapshot::empty`], with or without the exporter's own runtime metrics.
    pub fn initial(exporter_metrics: bool) -> Snapshot {
        Snapshot {
            exporter_metrics,
            taken_at: SystemTime::UNIX_EPOCH,
            published: Instant::now(),
            collectors: Vec::new(),
            cycle_duration: Duration::ZERO,
            cpu: CpuAccount::default(),
            hook: Box::new(MetricSet::new()),
            full: Default::default(),
            full_gzip: Default::default(),
        }
    }

    /// Whether this is the snapshot served before the first sample (no collector has run yet).
    pub fn is_initial(&self) -> bool {
        self.taken_at == SystemTime::UNIX_EPOCH
    }

    /// The full body in `format`, encoded at most once per sample.
    pub fn body(&self, format: Format) -> Bytes {
        self.full[format_index(format)]
            .get_or_init(|| Bytes::from(self.render(format, |_| true)))
            .clone()
    }

    /// The full body gzip-compressed, compressed at most once per sample and only if asked for.
    pub fn body_gzip(&self, format: Format) -> Bytes {
        self.full_gzip[format_index(format)]
            .get_or_init(|| {
                let cpu = ThreadCpu::start();
                let zipped = gzip(&self.body(format));
                ENCODE_CPU_NANOS.fetch_add(cpu.elapsed_nanos(), Ordering::Relaxed);
                Bytes::from(zipped)
            })
            .clone()
    }

    /// A body restricted to the collectors `keep` accepts (for `collect[]` / `exclude[]`). The
    /// exporter's own process metrics are read now, once per scrape.
    pub fn render(&self, format: Format, keep: impl Fn(&str) -> bool) -> String {
        // One clock pair around the whole render, not one per collector's encoding (a system
        // call each, some hundred a scrape).
        let cpu = ThreadCpu::start();
        let kept: Vec<&CollectorOutcome> = self
            .collectors
            .iter()
            .map(|c| &**c)
            .filter(|c| keep(c.name))
            .collect();
        let mut out = String::with_capacity(
            kept.iter().map(|c| c.encoded(format).len()).sum::<usize>() + 4096,
        );
        for c in &kept {
            out.push_str(c.encoded(format));
        }
        let mut hook = MetricSet::new();
        self.hook.write(&mut hook);
        metrics::encode(&hook.families, format, &mut out);
        let mut meta = MetricSet::new();
        self.scrape_metrics(&kept, &mut meta);
        self_metrics::collect(&mut meta, self.exporter_metrics);
        metrics::encode(&meta.families, format, &mut out);
        if format == Format::OpenMetrics {
            out.push_str("# EOF\n");
        }
        ENCODE_CPU_NANOS.fetch_add(cpu.elapsed_nanos(), Ordering::Relaxed);
        out
    }

    /// node_exporter's per-collector duration and success, sysmon's per-collector CPU time and
    /// the cost of the sample as a whole.
    fn scrape_metrics(&self, kept: &[&CollectorOutcome], meta: &mut MetricSet) {
        let duration = meta.gauge(
            "node_scrape_collector_duration_seconds",
            "node_exporter: Duration of a collector scrape.",
        );
        for c in kept {
            duration.sample(&[("collector", c.name)], c.duration.as_secs_f64());
        }
        let success = meta.gauge(
            "node_scrape_collector_success",
            "node_exporter: Whether a collector succeeded.",
        );
        for c in kept {
            success.sample(&[("collector", c.name)], if c.success { 1.0 } else { 0.0 });
        }
        if !self.exporter_metrics {
            // node_exporter keeps its per-collector series and drops its own runtime metrics.
            return;
        }
        let cpu = meta.counter(
            "sysmon_collector_cpu_seconds_total",
            "Thread CPU time spent in each collector's runs since the exporter started.",
        );
        for (name, spent) in &self.cpu.collectors {
            if kept.iter().any(|c| c.name == *name) {
                cpu.sample(&[("collector", name)], spent.as_secs_f64());
            }
        }
        meta.counter(
            "sysmon_exporter_cpu_seconds_total",
            "Thread CPU time the exporter spent outside the collectors since it started, by stage: the anomaly engine, and encoding and compressing /metrics bodies.",
        )
        .sample(&[("stage", "anomaly")], self.cpu.anomaly.as_secs_f64())
        .sample(
            &[("stage", "encode")],
            Duration::from_nanos(ENCODE_CPU_NANOS.load(Ordering::Relaxed)).as_secs_f64(),
        );
        meta.gauge(
            "sysmon_exporter_sample_duration_seconds",
            "How long the last sample took, from start to publication.",
        )
        .sample(&[], self.cycle_duration.as_secs_f64());
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
        let mut own = MetricSet::new();
        self_metrics::collect(&mut own, true);
        for fam in own.families {
            names.extend(fam.exposition_names().into_iter().map(|n| n.into_owned()));
        }
        names
    })
}

/// Deflate states kept between scrapes, at most this many (more only while scrapes compress at
/// the same time).
const KEPT_DEFLATE_STATES: usize = 2;

/// Deflate states kept for reuse: a state is some 300 KiB, which allocated anew for each scrape
/// came from fresh pages the kernel had to map and zero, half the cost of compressing a body
/// (docs/performance.md). A kept one is reset, on pages already in place.
static DEFLATE_STATES: Mutex<Vec<flate2::Compress>> = Mutex::new(Vec::new());

/// gzip (RFC 1952) at a fast level: metrics text compresses ~5x even at level 1, and CPU is what
/// we save. The member is written by hand around a raw deflate stream so that the deflate state
/// can be reused: a fixed header (no name, no time, OS unknown), then the CRC-32 and length of
/// the input.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let taken = DEFLATE_STATES
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .pop();
    let mut deflate = match taken {
        Some(mut state) => {
            state.reset();
            state
        }
        None => flate2::Compress::new(flate2::Compression::fast(), false),
    };
    let mut out = Vec::with_capacity(data.len() / 4 + 64);
    out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
    loop {
        let consumed = usize::try_from(deflate.total_in()).unwrap_or(data.len());
        let input = data.get(consumed..).unwrap_or_default();
        if out.capacity() - out.len() < 64 {
            out.reserve(out.capacity().max(4096));
        }
        match deflate.compress_vec(input, &mut out, flate2::FlushCompress::Finish) {
            Ok(flate2::Status::StreamEnd) => break,
            Ok(_) => {}
            // Deflating into a Vec with room cannot fail; should it, the state is not kept.
            Err(_) => return Vec::new(),
        }
    }
    out.extend_from_slice(&crc32fast::hash(data).to_le_bytes());
    // ISIZE: the input's length modulo 2^32.
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    let mut kept = DEFLATE_STATES.lock().unwrap_or_else(|p| p.into_inner());
    if kept.len() < KEPT_DEFLATE_STATES {
        kept.push(deflate);
    }
    out
}

/// What a sample asks of one collector: a full run, its signal readings, or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Job {
    collect: bool,
    signals: Signals,
}

/// Whether a job takes the collector's signal readings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signals {
    No,
    Read,
    /// Taken from the full run's output ([`Collector::full_run_has_signals`]), or read when the
    /// run failed (its output may then lack them).
    FromRun,
}

impl Job {
    /// Whether there is anything to do.
    fn any(self) -> bool {
        self.collect || self.signals != Signals::No
    }
}

/// What one run of a collector returned.
struct RunResult {
    set: MetricSet,
    error: Option<String>,
    /// The signal readings, when the job asked for them.
    readings: Option<Readings>,
    took: Duration,
    cpu: Duration,
}

/// Runs a collector's job on the calling thread, catching a panic and measuring its cost (the
/// isolated collectors' threads, one job per wake-up).
fn run_job(name: &str, collector: &dyn Collector, job: Job) -> RunResult {
    let cpu = ThreadCpu::start();
    let mut result = run_job_untimed(name, collector, job);
    result.cpu = cpu.elapsed();
    result
}

/// Runs a collector's job, measuring its wall time but not its CPU time (left zero): the inline
/// jobs of a sample share one CPU clock reading before and one after them, see
/// [`apportion_cpu`].
fn run_job_untimed(name: &str, collector: &dyn Collector, job: Job) -> RunResult {
    let begin = Instant::now();
    let mut set = MetricSet::new();
    let mut error = None;
    if job.collect {
        let result =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| collector.collect(&mut set)));
        error = match result {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(panic) => Some(format!("collector panicked: {}", panic_message(&panic))),
        };
    }
    let read_signals = match job.signals {
        Signals::No => false,
        Signals::Read => true,
        Signals::FromRun => error.is_some(),
    };
    let readings = read_signals.then(|| {
        let mut readings = Readings::default();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            collector.signals(&mut readings)
        }));
        // What was read before a failure is kept. The failure itself shows at the collector's
        // next full run, which reads the same files; logged quietly here, as it would repeat
        // every sample.
        match result {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::debug!(collector = name, error = %e, "signal readings failed"),
            Err(panic) => tracing::warn!(
                collector = name,
                panic = %panic_message(&panic),
                "signal readings panicked"
            ),
        }
        readings
    });
    RunResult {
        set,
        error,
        readings,
        took: begin.elapsed(),
        cpu: Duration::ZERO,
    }
}

/// Shares the thread CPU time `cpu` that a run of consecutive inline jobs took among them, in
/// proportion to their wall times. The thread-CPU clock is a real system call (the vDSO cannot
/// answer it), about as costly as a small collector's signal reading; an inline job reads /proc
/// or /sys without blocking, so its wall time is its CPU time plus what the scheduler took, and
/// the share is close to what a clock pair around each job would have measured.
fn apportion_cpu(cpu: Duration, results: &mut [(usize, RunResult)]) {
    let wall: f64 = results.iter().map(|(_, r)| r.took.as_secs_f64()).sum();
    if wall <= 0.0 {
        return;
    }
    for (_, result) in results.iter_mut() {
        result.cpu = cpu.mul_f64(result.took.as_secs_f64() / wall);
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_string())
}

/// A long-lived thread running one isolated collector on request. Runs are numbered so a result
/// that arrives after the sampler gave up on it is told apart from the next one.
struct Worker {
    requests: mpsc::Sender<(u64, Job)>,
    results: mpsc::Receiver<(u64, RunResult)>,
}

impl Worker {
    fn start(
        name: &'static str,
        collector: Arc<dyn Collector>,
        busy: Arc<AtomicBool>,
    ) -> std::io::Result<Worker> {
        let (requests, incoming) = mpsc::channel::<(u64, Job)>();
        let (outgoing, results) = mpsc::channel();
        std::thread::Builder::new()
            .name(format!("collector-{name}"))
            .spawn(move || {
                while let Ok((run, job)) = incoming.recv() {
                    let result = run_job(name, &*collector, job);
                    // Not busy any more before the result is out: a sampler that takes the
                    // result and dispatches the next job at once must not find this run still
                    // marked in flight.
                    busy.store(false, Ordering::Release);
                    if outgoing.send((run, result)).is_err() {
                        return;
                    }
                }
            })?;
        Ok(Worker { requests, results })
    }
}

/// A registered, enabled collector and what the sampler remembers of it.
pub struct Slot {
    pub name: &'static str,
    collector: Arc<dyn Collector>,
    /// The collector's families come from outside the exporter ([`Collector::foreign_families`]).
    foreign: bool,
    /// Whether this sample took the collector's signal readings ([`Collector::reads_signals`]).
    /// The signal readings this sample took, `None` when it took none
    /// ([`Collector::reads_signals`]).
    signal_readings: Option<Readings>,
    /// The rule inputs found in the latest outcome's output, taken once per outcome: the
    /// readings of a collector that takes no signal readings.
    outcome_readings: Readings,
    cadence: Cadence,
    isolation: Isolation,
    /// Set while an isolated run is in flight.
    busy: Arc<AtomicBool>,
    worker: Option<Worker>,
    runs: u64,
    last_run: Option<Instant>,
    /// A slow collector's run left to finish in the background: (run, when it was started, the
    /// sample's wall-clock time). Collected by a later sample, so a slow collector that takes
    /// long (netclass on thousands of interfaces) never holds a sample up.
    pending: Option<(u64, Instant, SystemTime)>,
    /// Whether this sample recorded a new outcome (a run of this sample, or a background run it
    /// collected), which the foreign-family filter must look at.
    fresh: bool,
    last_success: Option<SystemTime>,
    latest: Option<Arc<CollectorOutcome>>,
    cpu: Duration,
}

impl Slot {
    /// A collector that runs every sample on a thread of its own (the safe default).
    pub fn new(name: &'static str, collector: Box<dyn Collector>) -> Slot {
        Slot {
            name,
            foreign: collector.foreign_families(),
            signal_readings: None,
            outcome_readings: Readings::default(),
            collector: Arc::from(collector),
            cadence: Cadence::EverySample,
            isolation: Isolation::Thread,
            busy: Arc::new(AtomicBool::new(false)),
            worker: None,
            runs: 0,
            last_run: None,
            pending: None,
            fresh: false,
            last_success: None,
            latest: None,
            cpu: Duration::ZERO,
        }
    }

    pub fn with_cadence(mut self, cadence: Cadence) -> Slot {
        self.cadence = cadence;
        self
    }

    pub fn with_isolation(mut self, isolation: Isolation) -> Slot {
        self.isolation = isolation;
        self
    }

    fn due(&self, now: Instant, slow_interval: Duration) -> bool {
        if self.pending.is_some() {
            return false;
        }
        match (self.cadence, self.last_run) {
            (Cadence::EverySample, _) | (Cadence::Slow, None) => true,
            // A little slack, so a run due at the same tick as the interval is not put off by
            // one whole sample because the ticks jitter.
            (Cadence::Slow, Some(last)) => {
                now.duration_since(last) + Duration::from_millis(100) >= slow_interval
            }
        }
    }

    /// Sends a job to the collector's thread; the error says why it could not start.
    fn dispatch(&mut self, job: Job) -> Result<u64, String> {
        if self.busy.swap(true, Ordering::AcqRel) {
            return Err("previous run has not returned yet (hung read?)".to_string());
        }
        if self.worker.is_none() {
            match Worker::start(
                self.name,
                Arc::clone(&self.collector),
                Arc::clone(&self.busy),
            ) {
                Ok(w) => self.worker = Some(w),
                Err(e) => {
                    self.busy.store(false, Ordering::Release);
                    return Err(format!("cannot start the collector's thread: {e}"));
                }
            }
        }
        self.runs += 1;
        let run = self.runs;
        let worker = self.worker.as_ref().expect("started above");
        // Results of runs the sampler gave up on are stale now.
        while worker.results.try_recv().is_ok() {}
        if worker.requests.send((run, job)).is_err() {
            self.worker = None;
            self.busy.store(false, Ordering::Release);
            return Err("the collector's thread has stopped".to_string());
        }
        Ok(run)
    }

    /// The result of a background run if it has arrived.
    fn poll(&mut self, run: u64) -> Option<RunResult> {
        let worker = self.worker.as_ref()?;
        loop {
            match worker.results.try_recv() {
                Ok((n, result)) if n == run => return Some(result),
                Ok(_) => continue,
                Err(mpsc::TryRecvError::Empty) => return None,
                Err(mpsc::TryRecvError::Disconnected) => {
                    self.worker = None;
                    return Some(failed_run("the collector's thread has stopped".to_string()));
                }
            }
        }
    }

    /// Waits for the result of `run` until `deadline`.
    fn wait(&mut self, run: u64, deadline: Instant, timeout: Duration) -> RunResult {
        let Some(worker) = &self.worker else {
            return failed_run("the collector's thread has stopped".to_string());
        };
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match worker.results.recv_timeout(left) {
                Ok((n, result)) if n == run => return result,
                Ok(_) => continue,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let mut r = failed_run(format!("timed out after {timeout:?}"));
                    r.took = timeout;
                    return r;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    self.worker = None;
                    return failed_run("the collector's thread has stopped".to_string());
                }
            }
        }
    }

    /// Records a job's result: its readings, and for a full run the collector's latest outcome.
    fn record(&mut self, job: Job, mut result: RunResult, started: Instant, ran_at: SystemTime) {
        self.cpu += result.cpu;
        match job.signals {
            // A job that did not run (timed out, still busy) leaves no readings: a stale value
            // must not pass for a current one.
            Signals::Read => {
                self.signal_readings = Some(result.readings.take().unwrap_or_default())
            }
            // Read only if the run failed; otherwise they come from the run's output, which
            // `record_outcome` turns into `outcome_readings`.
            Signals::FromRun => self.signal_readings = result.readings.take(),
            Signals::No => {}
        }
        if job.collect {
            self.record_outcome(result, started, ran_at);
        }
    }

    fn record_outcome(&mut self, result: RunResult, started: Instant, ran_at: SystemTime) {
        self.fresh = true;
        self.last_run = Some(started);
        if let Some(e) = &result.error {
            tracing::warn!(collector = self.name, error = %e, "collector failed");
        } else {
            self.last_success = Some(ran_at);
        }
        // Families from outside the exporter (textfile) never feed the rules.
        self.outcome_readings = if self.foreign {
            Readings::default()
        } else {
            Readings::from_sets(&[&result.set])
        };
        self.latest = Some(Arc::new(CollectorOutcome {
            name: self.name,
            success: result.error.is_none(),
            duration: result.took,
            error: result.error,
            last_success: self.last_success,
            ran_at,
            set: result.set,
            encoded: Default::default(),
        }));
    }
}

fn failed_run(error: String) -> RunResult {
    RunResult {
        set: MetricSet::new(),
        error: Some(error),
        readings: None,
        took: Duration::ZERO,
        cpu: Duration::ZERO,
    }
}

/// Runs after every sample on the sample's signal readings, before the snapshot is published
/// (the anomaly engine). The metrics it returns are published with the snapshot.
pub trait SampleHook: Send {
    fn after_sample(&mut self, readings: &Readings, at: SystemTime) -> Box<dyn HookMetrics>;
}

/// The metrics a hook publishes with one sample, as the hook captured them then, written out only
/// when a scrape renders the sample: at a 2 s sample interval and a 15 s scrape interval most
/// samples are never scraped, so a hook can capture its values cheaply and leave the label sets
/// and families to the scrape.
pub trait HookMetrics: Send + Sync + std::fmt::Debug {
    /// Adds the metrics to `out`.
    fn write(&self, out: &mut MetricSet);
}

impl HookMetrics for MetricSet {
    fn write(&self, out: &mut MetricSet) {
        out.families.extend(self.families.iter().cloned());
    }
}

pub struct Sampler {
    slots: Vec<Slot>,
    timeout: Duration,
    slow_interval: Duration,
    hook: Option<Box<dyn SampleHook>>,
    hook_cpu: Duration,
    /// Publish the exporter's own runtime metrics (off with `--web.disable-exporter-metrics`).
    exporter_metrics: bool,
    /// Foreign families already logged as clashing, so a lasting clash is logged once.
    clashes_logged: HashSet<String>,
}

impl Sampler {
    /// `timeout` bounds each isolated collector's run; slow collectors run every
    /// `slow_interval` (see [`Sampler::with_slow_interval`]; by default every sample).
    pub fn new(slots: Vec<Slot>, timeout: Duration) -> Sampler {
        Sampler {
            slots,
            timeout,
            slow_interval: Duration::ZERO,
            hook: None,
            hook_cpu: Duration::ZERO,
            exporter_metrics: true,
            clashes_logged: HashSet::new(),
        }
    }

    /// Whether snapshots carry the exporter's own runtime metrics (`process_*`, CPU accounting,
    /// sample duration).
    pub fn with_exporter_metrics(mut self, on: bool) -> Sampler {
        self.exporter_metrics = on;
        self
    }

    pub fn with_slow_interval(mut self, slow_interval: Duration) -> Sampler {
        self.slow_interval = slow_interval;
        self
    }

    /// Sets the hook run after every sample.
    pub fn with_hook(mut self, hook: Box<dyn SampleHook>) -> Sampler {
        self.hook = Some(hook);
        self
    }

    /// Runs every collector that is due once and builds the snapshot.
    pub fn sample(&mut self) -> Snapshot {
        let started = Instant::now();
        let ran_at = SystemTime::now();
        let deadline = started + self.timeout;
        let due: Vec<bool> = self
            .slots
            .iter()
            .map(|s| s.due(started, self.slow_interval))
            .collect();

        let jobs: Vec<Job> = self
            .slots
            .iter()
            .zip(&due)
            .map(|(s, due)| Job {
                collect: *due,
                signals: match (s.collector.reads_signals(), *due) {
                    (false, _) => Signals::No,
                    // The files are read once: the full run's output holds the readings.
                    (true, true)
                        if s.isolation == Isolation::Inline
                            && s.collector.full_run_has_signals() =>
                    {
                        Signals::FromRun
                    }
                    (true, _) => Signals::Read,
                },
            })
            .collect();
        for slot in &mut self.slots {
            slot.fresh = false;
            slot.signal_readings = None;
        }
        // Slow runs left in the background by earlier samples: done, or over their time.
        for slot in &mut self.slots {
            let Some((run, at, at_wall)) = slot.pending else {
                continue;
            };
            if let Some(result) = slot.poll(run) {
                slot.pending = None;
                // The run's thread CPU counts as a foreground run's does.
                slot.cpu += result.cpu;
                slot.record_outcome(result, at, at_wall);
            } else if at.elapsed() >= self.timeout {
                slot.pending = None;
                let mut r = failed_run(format!("timed out after {:?}", self.timeout));
                r.took = self.timeout;
                slot.record_outcome(r, at, at_wall);
            }
        }

        // Isolated jobs first, so they proceed while the inline ones run here. A slow
        // collector's run after its first goes on in the background (unless the sample needs its
        // signal readings); its last output is served until a later sample collects the new one.
        let mut dispatched = Vec::new();
        for (i, slot) in self.slots.iter_mut().enumerate() {
            let job = jobs[i];
            if !job.any() || slot.isolation != Isolation::Thread {
                continue;
            }
            let background = slot.cadence == Cadence::Slow && slot.latest.is_some();
            match slot.dispatch(job) {
                Ok(run) if background && job.signals == Signals::No => {
                    slot.pending = Some((run, started, ran_at));
                }
                Ok(run) => dispatched.push((i, run)),
                Err(e) => slot.record(job, failed_run(e), started, ran_at),
            }
        }
        let inline_cpu = ThreadCpu::start();
        let mut inline_results = Vec::new();
        for (i, slot) in self.slots.iter().enumerate() {
            let job = jobs[i];
            if job.any() && slot.isolation == Isolation::Inline {
                inline_results.push((i, run_job_untimed(slot.name, &*slot.collector, job)));
            }
        }
        apportion_cpu(inline_cpu.elapsed(), &mut inline_results);
        for (i, result) in inline_results {
            self.slots[i].record(jobs[i], result, started, ran_at);
        }
        for (i, run) in dispatched {
            let slot = &mut self.slots[i];
            let result = slot.wait(run, deadline, self.timeout);
            slot.record(jobs[i], result, started, ran_at);
        }

        if self.slots.iter().any(|s| s.foreign) {
            self.drop_foreign_clashes();
        }
        let collectors: Vec<Arc<CollectorOutcome>> =
            self.slots.iter().filter_map(|s| s.latest.clone()).collect();
        let hook = self.run_hook(ran_at);
        Snapshot {
            taken_at: ran_at,
            published: Instant::now(),
            cycle_duration: started.elapsed(),
            cpu: CpuAccount {
                collectors: self.slots.iter().map(|s| (s.name, s.cpu)).collect(),
                anomaly: self.hook_cpu,
            },
            collectors,
            exporter_metrics: self.exporter_metrics,
            hook,
            full: Default::default(),
            full_gzip: Default::default(),
        }
    }

    /// Drops the families of foreign collectors that ran this sample whose names the exporter's
    /// own families take (in either format, see [`metrics::MetricFamily::exposition_names`]), or
    /// that are under the exporter's `sysmon_` prefix, so no family is announced twice.
    fn drop_foreign_clashes(&mut self) {
        if !self.slots.iter().any(|s| s.foreign && s.fresh) {
            return;
        }
        let mut taken: HashSet<String> = reserved_names().iter().cloned().collect();
        for slot in self.slots.iter().filter(|s| !s.foreign) {
            for fam in slot.latest.iter().flat_map(|o| &o.set.families) {
                taken.extend(fam.exposition_names().into_iter().map(|n| n.into_owned()));
            }
        }
        for slot in &mut self.slots {
            if !slot.foreign || !slot.fresh {
                continue;
            }
            // Recorded this sample, so not shared with a published snapshot yet.
            let Some(outcome) = slot.latest.as_mut().and_then(Arc::get_mut) else {
                continue;
            };
            let logged = &mut self.clashes_logged;
            outcome.set.families.retain(|fam| {
                let clash = fam.name.starts_with("sysmon_")
                    || fam
                        .exposition_names()
                        .iter()
                        .any(|n| taken.contains(n.as_ref()));
                if clash && logged.insert(fam.name.clone()) {
                    tracing::warn!(
                        collector = slot.name,
                        family = %fam.name,
                        "family dropped: the exporter exports a family of that name itself"
                    );
                }
                !clash
            });
        }
    }

    /// The sample's signal readings: those the signal-reading collectors took this sample, and
    /// the rest from the other collectors' latest output.
    fn readings(&self) -> Readings {
        let mut readings = Readings::default();
        for slot in &self.slots {
            readings.merge(
                slot.signal_readings
                    .as_ref()
                    .unwrap_or(&slot.outcome_readings),
            );
        }
        readings
    }

    /// Runs the hook on the sample's readings. A panic inside it is logged and the hook is kept
    /// for the next sample.
    fn run_hook(&mut self, at: SystemTime) -> Box<dyn HookMetrics> {
        if self.hook.is_none() {
            return Box::new(MetricSet::new());
        }
        let cpu = ThreadCpu::start();
        let readings = self.readings();
        let hook = self.hook.as_mut().expect("checked above");
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            hook.after_sample(&readings, at)
        }));
        self.hook_cpu += cpu.elapsed();
        result.unwrap_or_else(|_| {
            tracing::error!("the sample hook panicked; its metrics are missing from this sample");
            Box::new(MetricSet::new())
        })
    }

    /// Starts sampling every `interval` on a thread of its own, publishing each snapshot on `tx`,
    /// until the returned handle is stopped or every receiver is gone.
    pub fn spawn(
        mut self,
        interval: Duration,
        tx: watch::Sender<Arc<Snapshot>>,
    ) -> std::io::Result<SamplerHandle> {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("sampler".to_string())
            .spawn(move || {
                let mut next = Instant::now();
                loop {
                    let snapshot = self.sample();
                    tracing::debug!(
                        duration_us = snapshot.cycle_duration.as_micros() as u64,
                        "sample published"
                    );
                    if tx.send(Arc::new(snapshot)).is_err() {
                        return;
                    }
                    // A slow sample delays the next one instead of bursting to catch up.
                    next = (next + interval).max(Instant::now());
                    // Parked, not waiting on a channel: a channel's timed receive spins and
                    // yields before it sleeps, a cost paid every sample.
                    loop {
                        if stopped.load(Ordering::Acquire) {
                            return;
                        }
                        let left = next.saturating_duration_since(Instant::now());
                        if left.is_zero() {
                            break;
                        }
                        std::thread::park_timeout(left);
                    }
                }
            })?;
        Ok(SamplerHandle { stop, thread })
    }
}

/// The running sampler thread.
pub struct SamplerHandle {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl SamplerHandle {
    /// Stops sampling after the sample in progress, and waits for that.
    pub fn stop(self) {
        self.stop.store(true, Ordering::Release);
        self.thread.thread().unpark();
        let _ = self.thread.join();
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

    #[test]
    fn failures_are_isolated_and_reported() {
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
        let snap = sampler.sample();
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
        assert!(
            text.contains("sysmon_collector_cpu_seconds_total{collector=\"good\"} "),
            "{text}"
        );
        assert!(text.contains("sysmon_exporter_cpu_seconds_total{stage=\"anomaly\"} "));
        let hangs = snap.collectors.iter().find(|c| c.name == "hangs").unwrap();
        assert!(hangs.error.as_deref().unwrap().contains("timed out"));

        // While the hung run has not returned, the collector is skipped, not started again.
        let snap = sampler.sample();
        let hangs = snap.collectors.iter().find(|c| c.name == "hangs").unwrap();
        assert!(hangs.error.as_deref().unwrap().contains("has not returned"));

        // Once it returns, the next sample runs it again.
        release.send(()).unwrap();
        release.send(()).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        let snap = sampler.sample();
        let hangs = snap.collectors.iter().find(|c| c.name == "hangs").unwrap();
        assert!(hangs.success, "{:?}", hangs.error);
    }

    /// Publishes the readings it was handed.
    struct ReadingsHook;
    impl SampleHook for ReadingsHook {
        fn after_sample(&mut self, readings: &Readings, _: SystemTime) -> Box<dyn HookMetrics> {
            let mut out = MetricSet::new();
            out.gauge("test_hook_load1", "The load1 reading.")
                .sample(&[], readings.load1.unwrap_or(f64::NAN));
            out.gauge("test_hook_memory", "The MemTotal reading.")
                .sample(&[], readings.memory_total_bytes.unwrap_or(f64::NAN));
            Box::new(out)
        }
    }

    /// Publishes node_load1 in its full runs.
    struct Load(f64);
    impl Collector for Load {
        fn collect(&self, out: &mut MetricSet) -> Result<(), CollectError> {
            out.gauge("node_load1", "Load.").sample(&[], self.0);
            Ok(())
        }
    }

    /// A signal-reading collector: counts its full runs and its signal readings apart, and
    /// reports the reading count as MemTotal.
    #[derive(Default)]
    struct Signalling {
        runs: std::sync::atomic::AtomicU64,
        readings: std::sync::atomic::AtomicU64,
    }
    impl Collector for Signalling {
        fn collect(&self, out: &mut MetricSet) -> Result<(), CollectError> {
            let n = self.runs.fetch_add(1, Ordering::Relaxed) + 1;
            out.counter("test_runs_total", "Runs.")
                .sample(&[], n as f64);
            Ok(())
        }
        fn reads_signals(&self) -> bool {
            true
        }
        fn signals(&self, readings: &mut Readings) -> Result<(), CollectError> {
            let n = self.readings.fetch_add(1, Ordering::Relaxed) + 1;
            readings.memory_total_bytes = Some(n as f64);
            Ok(())
        }
    }

    #[test]
    fn hook_gets_readings_of_every_sample_and_publishes_its_metrics() {
        for isolation in [Isolation::Inline, Isolation::Thread] {
            let mut sampler = Sampler::new(
                vec![
                    Slot::new("load", Box::new(Load(1.5))),
                    Slot::new("signals", Box::new(Signalling::default()))
                        .with_cadence(Cadence::Slow)
                        .with_isolation(isolation),
                ],
                Duration::from_secs(1),
            )
            .with_slow_interval(Duration::from_secs(3600))
            .with_hook(Box::new(ReadingsHook));
            for n in 1..=3 {
                let snap = sampler.sample();
                let text = String::from_utf8(snap.body(Format::Text).to_vec()).unwrap();
                assert!(text.contains("test_hook_load1 1.5\n"), "{text}");
                // The signal readings are new every sample, the full run happened once.
                assert!(
                    text.contains(&format!("test_hook_memory {n}\n")),
                    "{isolation:?}: {text}"
                );
                assert_eq!(runs(&snap, "signals"), 1.0, "{isolation:?}");
                // Filtering by collector keeps the hook's metrics: they belong to no collector.
                assert!(snap
                    .render(Format::Text, |c| c == "load")
                    .contains("test_hook_load1 1.5\n"));
            }
        }
    }

    /// What `Shared` counts and whether its runs fail.
    #[derive(Default)]
    struct RunHoldsSignals {
        inner: Signalling,
        fail: AtomicBool,
    }

    /// A signal-reading collector whose full runs publish its reading too (as node_memory_
    /// MemTotal_bytes, 1000 + the run count); its runs fail while `fail` is set. Shared with
    /// the test, which looks at the counts.
    struct Shared(Arc<RunHoldsSignals>);
    impl Collector for Shared {
        fn collect(&self, out: &mut MetricSet) -> Result<(), CollectError> {
            let n = self.0.inner.runs.fetch_add(1, Ordering::Relaxed) + 1;
            out.gauge("node_memory_MemTotal_bytes", "Memory.")
                .sample(&[], 1000.0 + n as f64);
            if self.0.fail.load(Ordering::Relaxed) {
                return Err(CollectError::Other("failed on purpose".into()));
            }
            Ok(())
        }
        fn reads_signals(&self) -> bool {
            true
        }
        fn signals(&self, readings: &mut Readings) -> Result<(), CollectError> {
            self.0.inner.signals(readings)
        }
        fn full_run_has_signals(&self) -> bool {
            true
        }
    }

    #[test]
    fn a_full_run_that_holds_the_signals_is_not_read_twice() {
        let collector = Arc::new(RunHoldsSignals::default());
        let mut sampler = Sampler::new(
            vec![Slot::new("mem", Box::new(Shared(Arc::clone(&collector))))
                .with_cadence(Cadence::Slow)
                .with_isolation(Isolation::Inline)],
            Duration::from_secs(1),
        )
        .with_slow_interval(Duration::from_secs(3600))
        .with_hook(Box::new(ReadingsHook));
        let memory = |snap: &Snapshot| {
            let text = String::from_utf8(snap.body(Format::Text).to_vec()).unwrap();
            text.lines()
                .find_map(|l| l.strip_prefix("test_hook_memory "))
                .unwrap()
                .to_string()
        };
        // The first sample runs it fully: the reading is the run's, and no signal was read.
        let snap = sampler.sample();
        assert_eq!(memory(&snap), "1001");
        assert_eq!(collector.inner.readings.load(Ordering::Relaxed), 0);
        // The next samples only read the signals.
        assert_eq!(memory(&sampler.sample()), "1");
        assert_eq!(memory(&sampler.sample()), "2");
        // A failed full run: the signals are read after all.
        let mut sampler = Sampler::new(
            vec![Slot::new("mem", Box::new(Shared(Arc::clone(&collector))))
                .with_isolation(Isolation::Inline)],
            Duration::from_secs(1),
        )
        .with_hook(Box::new(ReadingsHook));
        collector.fail.store(true, Ordering::Relaxed);
        assert_eq!(memory(&sampler.sample()), "3");
        collector.fail.store(false, Ordering::Relaxed);
        assert_eq!(memory(&sampler.sample()), "1003");
        assert_eq!(collector.inner.readings.load(Ordering::Relaxed), 3);
    }

    #[test]
    fn gzip_members_decode_to_their_input_with_reused_states() {
        use std::io::Read as _;
        // Empty, tiny, a body that compresses well, and one that does not (so the output grows
        // past its first allocation).
        let mut noise = Vec::new();
        let mut x: u32 = 1;
        for _ in 0..200_000 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            noise.push((x >> 16) as u8);
        }
        let text = "node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"} 1234.5\n".repeat(2000);
        for round in 0..3 {
            for data in [&b""[..], b"x", text.as_bytes(), &noise] {
                let zipped = gzip(data);
                assert_eq!(&zipped[..3], &[0x1f, 0x8b, 8], "a gzip member");
                let mut back = Vec::new();
                // The decoder checks the CRC-32 and the length in the trailer.
                flate2::read::GzDecoder::new(&zipped[..])
                    .read_to_end(&mut back)
                    .unwrap();
                assert_eq!(back, data, "round {round}, {} bytes", data.len());
            }
        }
        assert!(gzip(text.as_bytes()).len() < text.len() / 5);
        assert!(DEFLATE_STATES.lock().unwrap().len() <= KEPT_DEFLATE_STATES);
    }

    #[test]
    fn filtered_render_and_openmetrics_eof() {
        let mut sampler = Sampler::new(
            vec![
                Slot::new("a", Box::new(Fixed(1.0))),
                Slot::new("b", Box::new(Failing)),
            ],
            Duration::from_secs(1),
        );
        let snap = sampler.sample();
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

    /// Counts its runs and publishes the count.
    struct Counting(std::sync::atomic::AtomicU64);
    impl Collector for Counting {
        fn collect(&self, out: &mut MetricSet) -> Result<(), CollectError> {
            let n = self.0.fetch_add(1, Ordering::Relaxed) + 1;
            out.counter("test_runs_total", "Runs.")
                .sample(&[], n as f64);
            Ok(())
        }
    }

    fn runs(snap: &Snapshot, collector: &str) -> f64 {
        let c = snap
            .collectors
            .iter()
            .find(|c| c.name == collector)
            .unwrap();
        c.metrics().get("test_runs_total").unwrap().samples[0].value
    }

    #[test]
    fn slow_collectors_keep_their_last_output_between_runs() {
        let mut sampler = Sampler::new(
            vec![
                Slot::new("fast", Box::new(Counting(Default::default())))
                    .with_isolation(Isolation::Inline),
                Slot::new("slow", Box::new(Counting(Default::default())))
                    .with_cadence(Cadence::Slow)
                    .with_isolation(Isolation::Inline),
                Slot::new("slow_thread", Box::new(Counting(Default::default())))
                    .with_cadence(Cadence::Slow),
            ],
            Duration::from_secs(1),
        )
        .with_slow_interval(Duration::from_millis(300));
        let first = sampler.sample();
        let second = sampler.sample();
        assert_eq!(runs(&first, "fast"), 1.0);
        assert_eq!(runs(&second, "fast"), 2.0);
        for slow in ["slow", "slow_thread"] {
            assert_eq!(runs(&first, slow), 1.0);
            assert_eq!(runs(&second, slow), 1.0, "{slow} ran again too early");
            // Between runs the snapshot shares the same outcome, encoding included.
            let a = first.collectors.iter().find(|c| c.name == slow).unwrap();
            let b = second.collectors.iter().find(|c| c.name == slow).unwrap();
            assert!(Arc::ptr_eq(a, b));
        }
        let body = String::from_utf8(second.body(Format::Text).to_vec()).unwrap();
        assert!(body.contains("node_scrape_collector_success{collector=\"slow\"} 1\n"));
        std::thread::sleep(Duration::from_millis(300));
        let third = sampler.sample();
        assert_eq!(runs(&third, "fast"), 3.0);
        assert_eq!(runs(&third, "slow"), 2.0);
        // On its own thread, the second run goes on in the background and a later sample
        // collects it.
        let mut later = sampler.sample();
        for _ in 0..100 {
            if runs(&later, "slow_thread") == 2.0 {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
            later = sampler.sample();
        }
        assert_eq!(runs(&later, "slow_thread"), 2.0);
    }

    /// Spends 20 ms of its thread's CPU time in every run, and counts its runs.
    struct Spinning(std::sync::atomic::AtomicU64);
    impl Collector for Spinning {
        fn collect(&self, out: &mut MetricSet) -> Result<(), CollectError> {
            let cpu = || rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
            let start = cpu();
            let spent = |now: rustix::time::Timespec| {
                Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
                    .saturating_sub(Duration::new(start.tv_sec as u64, start.tv_nsec as u32))
            };
            while spent(cpu()) < Duration::from_millis(20) {}
            let n = self.0.fetch_add(1, Ordering::Relaxed) + 1;
            out.counter("test_runs_total", "Runs.")
                .sample(&[], n as f64);
            Ok(())
        }
    }

    /// Does nothing: a collector whose runs cost next to no CPU.
    struct Idle;
    impl Collector for Idle {
        fn collect(&self, _: &mut MetricSet) -> Result<(), CollectError> {
            Ok(())
        }
    }

    #[test]
    fn inline_jobs_share_their_cpu_by_wall_time() {
        let mut sampler = Sampler::new(
            vec![
                Slot::new("idle_before", Box::new(Idle)).with_isolation(Isolation::Inline),
                Slot::new("spin", Box::new(Spinning(Default::default())))
                    .with_isolation(Isolation::Inline),
                Slot::new("idle_after", Box::new(Idle)).with_isolation(Isolation::Inline),
            ],
            Duration::from_secs(1),
        );
        let mut snap = sampler.sample();
        for _ in 0..2 {
            snap = sampler.sample();
        }
        let cpu = |name: &str| {
            snap.cpu
                .collectors
                .iter()
                .find(|(n, _)| *n == name)
                .unwrap()
                .1
        };
        // Three runs of 20 ms of CPU each, minus at most what the scheduler took of their wall
        // time from the spinner's share; the idle collectors get next to nothing.
        assert!(
            cpu("spin") >= Duration::from_millis(45),
            "{:?}",
            cpu("spin")
        );
        for idle in ["idle_before", "idle_after"] {
            assert!(cpu(idle) < cpu("spin") / 10, "{idle}: {:?}", cpu(idle));
        }
    }

    #[test]
    fn background_runs_count_their_cpu() {
        let mut sampler = Sampler::new(
            vec![Slot::new("spin", Box::new(Spinning(Default::default())))
                .with_cadence(Cadence::Slow)
                .with_isolation(Isolation::Thread)],
            Duration::from_secs(1),
        )
        .with_slow_interval(Duration::from_millis(1));
        let mut snap = sampler.sample();
        for _ in 0..500 {
            if runs(&snap, "spin") >= 4.0 {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
            snap = sampler.sample();
        }
        let recorded = runs(&snap, "spin");
        assert!(recorded >= 4.0, "{recorded} runs");
        // Every recorded run, the background ones too, spent its 20 ms.
        let cpu = snap
            .cpu
            .collectors
            .iter()
            .find(|(n, _)| *n == "spin")
            .unwrap()
            .1;
        assert!(
            cpu >= Duration::from_millis(20) * recorded as u32,
            "{cpu:?} for {recorded} runs"
        );
    }

    #[test]
    fn inline_panics_are_caught() {
        let mut sampler = Sampler::new(
            vec![
                Slot::new("panics", Box::new(Panicking)).with_isolation(Isolation::Inline),
                Slot::new("good", Box::new(Fixed(1.0))).with_isolation(Isolation::Inline),
            ],
            Duration::from_secs(1),
        );
        let snap = sampler.sample();
        let panics = snap.collectors.iter().find(|c| c.name == "panics").unwrap();
        assert!(!panics.success);
        assert!(panics.error.as_deref().unwrap().contains("collector bug"));
        let text = String::from_utf8(snap.body(Format::Text).to_vec()).unwrap();
        assert!(text.contains("test_value 1\n"));
    }

    #[test]
    fn spawned_sampler_publishes_and_stops() {
        let sampler = Sampler::new(
            vec![Slot::new("a", Box::new(Counting(Default::default())))],
            Duration::from_secs(1),
        );
        let (tx, mut rx) = watch::channel(Arc::new(Snapshot::empty()));
        let handle = sampler.spawn(Duration::from_millis(20), tx).unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while runs_or_zero(&rx.borrow_and_update()) < 3.0 {
            assert!(Instant::now() < deadline, "sampler did not publish");
            std::thread::sleep(Duration::from_millis(10));
        }
        handle.stop();
    }

    fn runs_or_zero(snap: &Snapshot) -> f64 {
        snap.collectors
            .first()
            .and_then(|c| c.metrics().get("test_runs_total"))
            .map_or(0.0, |f| f.samples[0].value)
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

    #[test]
    fn foreign_families_never_shadow_the_exporters() {
        let mut sampler = Sampler::new(
            vec![
                Slot::new("fixed", Box::new(Fixed(42.0))),
                Slot::new("files", Box::new(Foreign)).with_cadence(Cadence::Slow),
            ],
            Duration::from_secs(5),
        )
        .with_slow_interval(Duration::from_millis(50));
        for _ in 0..6 {
            // Later samples serve the slow collector's filtered output again, and collect its
            // background re-runs, which are filtered too.
            std::thread::sleep(Duration::from_millis(30));
            let snap = sampler.sample();
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
    /// Takes a while, like netclass on thousands of interfaces.
    struct Slow(std::sync::atomic::AtomicU64);
    impl Collector for Slow {
        fn collect(&self, out: &mut MetricSet) -> Result<(), CollectError> {
            std::thread::sleep(Duration::from_millis(150));
            let n = self.0.fetch_add(1, Ordering::Relaxed) + 1;
            out.counter("test_runs_total", "Runs.")
                .sample(&[], n as f64);
            Ok(())
        }
    }

    #[test]
    fn slow_runs_after_the_first_do_not_hold_samples_up() {
        let mut sampler = Sampler::new(
            vec![Slot::new("slow", Box::new(Slow(Default::default()))).with_cadence(Cadence::Slow)],
            Duration::from_secs(1),
        )
        .with_slow_interval(Duration::from_millis(100));
        // The first run is waited for: every collector is in the first sample.
        let first = sampler.sample();
        assert_eq!(runs(&first, "slow"), 1.0);
        std::thread::sleep(Duration::from_millis(120));
        // The second starts in the background: the sample is prompt and serves the last output.
        let begin = Instant::now();
        let second = sampler.sample();
        assert!(
            begin.elapsed() < Duration::from_millis(100),
            "{:?}",
            begin.elapsed()
        );
        assert_eq!(runs(&second, "slow"), 1.0);
        // A later sample collects it.
        std::thread::sleep(Duration::from_millis(250));
        let third = sampler.sample();
        assert_eq!(runs(&third, "slow"), 2.0);
    }
}
