//! The anomaly event store: the [`Journal`] on disk, the same events in memory for the JSON feed,
//! and a broadcast channel of transitions for its live stream.
//!
//! Shared through an `Arc` between the sampler (which records) and the HTTP handlers (which read).
//! Two locks keep readers fast: the journal's lock serialises writers and is held across the
//! `fsync`; the events' lock is only held to copy or update the map.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Utc};
use tokio::sync::broadcast;

use super::event::{Event, Severity, Transition};
use super::journal::{self, Journal, JournalError, Replay, Retention};
use super::rank::ScoreHistory;
use crate::metrics::MetricSet;

/// How many transitions a stream subscriber may fall behind before it is cut off.
const STREAM_CAPACITY: usize = 256;

/// Which events a query wants by state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StateFilter {
    #[default]
    All,
    Active,
    Resolved,
}

/// A query of the feed. Empty lists and `None` match everything.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub state: StateFilter,
    /// The least severe events wanted: `Warning` matches warning and critical events.
    pub min_severity: Option<Severity>,
    /// Events whose category is any of these.
    pub categories: Vec<String>,
    /// Events whose rule is any of these.
    pub rules: Vec<String>,
    /// Events still active at or ended at/after this time.
    pub since: Option<DateTime<Utc>>,
    /// Events started at or before this time.
    pub until: Option<DateTime<Utc>>,
    /// At most this many events, newest first.
    pub limit: usize,
}

impl Default for Query {
    fn default() -> Self {
        Query {
            state: StateFilter::All,
            min_severity: None,
            categories: Vec::new(),
            rules: Vec::new(),
            since: None,
            until: None,
            limit: 100,
        }
    }
}

impl Query {
    /// Whether `e` passes every filter (the limit aside). An event covers the time from its start
    /// to its end (to forever while active) and matches a time range it overlaps.
    pub fn matches(&self, e: &Event) -> bool {
        let state = match self.state {
            StateFilter::All => true,
            StateFilter::Active => e.is_active(),
            StateFilter::Resolved => !e.is_active(),
        };
        state
            && self.min_severity.is_none_or(|min| e.severity >= min)
            && (self.categories.is_empty() || self.categories.contains(&e.category))
            && (self.rules.is_empty() || self.rules.contains(&e.rule))
            && self
                .since
                .is_none_or(|since| e.resolved_at.is_none_or(|end| end >= since))
            && self.until.is_none_or(|until| e.started_at <= until)
    }
}

/// What the journal found when the store was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReplayReport {
    /// Lines read and applied.
    pub lines: usize,
    /// Unreadable lines before the last one (skipped).
    pub invalid_lines: usize,
    /// Whether the last line was unreadable (a write torn by a crash; skipped).
    pub torn_tail: bool,
    /// Resolved events dropped for age.
    pub expired: usize,
}

/// The journal, the events in memory, and the stream of transitions. Share it in an `Arc`.
pub struct Store {
    journal: Mutex<Journal>,
    events: Mutex<BTreeMap<u64, Event>>,
    next_id: AtomicU64,
    /// `None` once [`Store::close_stream`] has been called.
    stream: Mutex<Option<broadcast::Sender<Transition>>>,
    replay: ReplayReport,
    retention: Retention,
    errors: AtomicU64,
    writable: AtomicBool,
    compactions: AtomicU64,
    journal_bytes: AtomicU64,
    /// The adaptive scores of the last day, which the engine records and the feed ranks.
    scores: Arc<ScoreHistory>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The data behind these locks stays consistent even if a holder panicked mid-way (every
    // update is a single insert or a swap), so a poisoned lock is still usable.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Store {
    /// Opens the journal in `dir` (creating the directory, mode 0700), replays it and, when the
    /// replay found damage or expired events, rewrites it cleanly. A failed rewrite is not an
    /// error (it is retried on the next write and shows in the metrics); a directory that cannot
    /// be created or read, or a journal another exporter holds, is.
    pub fn open(dir: &Path, retention: Retention) -> Result<Store, JournalError> {
        let (mut journal, replay) = Journal::open(dir, retention)?;
        let Replay {
            mut events,
            next_id,
            lines,
            invalid_lines,
            torn_tail,
            expired,
        } = replay;
        let mut writable = true;
        let mut errors = 0;
        let mut compactions = 0;
        if journal.needs_rewrite() || journal.oversized() {
            match journal.compact(&mut events, next_id, Utc::now()) {
                Ok(()) => compactions += 1,
                Err(e) => {
                    tracing::warn!(journal = %journal.path().display(), error = %e, "cannot rewrite the anomaly journal; will retry on the next event");
                    writable = false;
                    errors += 1;
                }
            }
        }
        let (tx, _) = broadcast::channel(STREAM_CAPACITY);
        Ok(Store {
            journal_bytes: AtomicU64::new(journal.len()),
            retention: journal.retention(),
            journal: Mutex::new(journal),
            events: Mutex::new(events),
            next_id: AtomicU64::new(next_id),
            stream: Mutex::new(Some(tx)),
            replay: ReplayReport {
                lines,
                invalid_lines,
                torn_tail,
                expired,
            },
            errors: AtomicU64::new(errors),
            writable: AtomicBool::new(writable),
            compactions: AtomicU64::new(compactions),
            scores: Arc::new(ScoreHistory::new()),
        })
    }

    /// Replaces the stream's capacity: how many transitions a subscriber may fall behind before
    /// it is cut off (default 256). Call before anyone subscribes.
    pub fn with_stream_capacity(self, capacity: usize) -> Store {
        *lock(&self.stream) = Some(broadcast::channel(capacity.max(1)).0);
        self
    }

    /// The score history the engine records into (see [`super::engine::Engine::with_scores`]).
    pub fn scores(&self) -> Arc<ScoreHistory> {
        Arc::clone(&self.scores)
    }

    /// The id the next new event should get: one past the highest id ever recorded (across
    /// restarts). It does not reserve the id; whoever records events numbers them (the engine
    /// seeds its own counter from this), and [`Store::record`] keeps this past every id it sees.
    pub fn next_id(&self) -> u64 {
        self.next_id.load(Ordering::Acquire)
    }

    /// Records a transition: journal first (synced to disk), then memory, then the stream.
    ///
    /// Blocks for the `fsync`. When the journal cannot be written (disk full, read-only) the
    /// error is returned and counted, but the event is still kept in memory and streamed: the
    /// anomaly happened, and the feed shows it; the next write rewrites the whole journal from
    /// memory, so nothing is missing on disk once it is writable again.
    pub fn record(&self, t: Transition) -> io::Result<()> {
        let mut journal = lock(&self.journal);
        let id = t.event().id;
        self.next_id
            .fetch_max(id.saturating_add(1), Ordering::AcqRel);
        let now = Utc::now();
        let result = if journal.needs_rewrite() {
            self.rewrite(&mut journal, Some(t.clone()), now)
        } else {
            let appended = journal.append(&t);
            {
                let mut events = lock(&self.events);
                journal::apply(&mut events, t.clone());
                journal::prune_expired(&mut events, self.retention.max_age, now);
            }
            if appended.is_ok() && journal.oversized() {
                // The transition itself is durable: a failed compaction is only counted and
                // retried when the journal next grows.
                if let Err(e) = self.rewrite(&mut journal, None, now) {
                    tracing::warn!(journal = %journal.path().display(), error = %e, "cannot compact the anomaly journal");
                    self.errors.fetch_add(1, Ordering::Relaxed);
                }
            }
            appended
        };
        match &result {
            Ok(()) => self.writable.store(true, Ordering::Release),
            Err(_) => {
                self.writable.store(false, Ordering::Release);
                self.errors.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.journal_bytes.store(journal.len(), Ordering::Release);
        // Sent while the journal lock is held, so the stream's order is the journal's order.
        if let Some(tx) = lock(&self.stream).as_ref() {
            // An error only means nobody is listening.
            let _ = tx.send(t);
        }
        result
    }

    /// Rewrites the journal from memory (plus `pending`, not yet in memory), applying retention
    /// to memory too. Memory is updated only after the disk, so a reader never sees an event
    /// that a crash could still lose (unless the disk failed, in which case memory is the truth).
    fn rewrite(
        &self,
        journal: &mut Journal,
        pending: Option<Transition>,
        now: DateTime<Utc>,
    ) -> io::Result<()> {
        let mut next = lock(&self.events).clone();
        if let Some(t) = pending {
            journal::apply(&mut next, t);
        }
        let result = journal.compact(&mut next, self.next_id(), now);
        if result.is_ok() {
            self.compactions.fetch_add(1, Ordering::Relaxed);
        }
        *lock(&self.events) = next;
        result
    }

    /// Events matching `q`, newest first (by start time, then id), at most `q.limit`.
    pub fn query(&self, q: &Query) -> Vec<Event> {
        let mut found: Vec<Event> = lock(&self.events)
            .values()
            .filter(|e| q.matches(e))
            .cloned()
            .collect();
        found.sort_by_key(|e| std::cmp::Reverse((e.started_at, e.id)));
        found.truncate(q.limit);
        found
    }

    /// Whether any event held was raised by `rule` (an event may outlive its rule: a journal
    /// written by an older version).
    pub fn holds_rule(&self, rule: &str) -> bool {
        lock(&self.events).values().any(|e| e.rule == rule)
    }

    /// Whether any event held is of `category`.
    pub fn holds_category(&self, category: &str) -> bool {
        lock(&self.events).values().any(|e| e.category == category)
    }

    /// One event by id.
    pub fn get(&self, id: u64) -> Option<Event> {
        lock(&self.events).get(&id).cloned()
    }

    /// Every active event, oldest id first (for the engine to adopt after a restart).
    pub fn active(&self) -> Vec<Event> {
        lock(&self.events)
            .values()
            .filter(|e| e.is_active())
            .cloned()
            .collect()
    }

    /// A receiver of every transition recorded from now on. After [`Store::close_stream`] it is
    /// closed from the start.
    pub fn subscribe(&self) -> broadcast::Receiver<Transition> {
        match lock(&self.stream).as_ref() {
            Some(tx) => tx.subscribe(),
            None => broadcast::channel(1).1,
        }
    }

    /// Ends every stream subscription (their receivers see the channel closed), so that
    /// long-lived HTTP streams finish and a graceful shutdown can complete.
    pub fn close_stream(&self) {
        lock(&self.stream).take();
    }

    /// What the journal held when the store was opened.
    pub fn replay_report(&self) -> ReplayReport {
        self.replay
    }

    /// The store's metrics: journal health and size, and how many events it holds.
    pub fn metrics(&self, out: &mut MetricSet) {
        let (active, resolved) = {
            // Not the journal's lock: that one is held across fsyncs.
            let mut events = lock(&self.events);
            journal::prune_expired(&mut events, self.retention.max_age, Utc::now());
            let active = events.values().filter(|e| e.is_active()).count();
            (active, events.len() - active)
        };
        out.gauge(
            "sysmon_anomaly_journal_writable",
            "Whether the last write to the anomaly journal succeeded (1) or failed (0).",
        )
        .sample(
            &[],
            if self.writable.load(Ordering::Acquire) {
                1.0
            } else {
                0.0
            },
        );
        out.counter(
            "sysmon_anomaly_journal_errors_total",
            "Writes to the anomaly journal that failed (the events stay in memory).",
        )
        .sample(&[], self.errors.load(Ordering::Relaxed) as f64);
        out.gauge(
            "sysmon_anomaly_journal_size_bytes",
            "Size of the anomaly journal file.",
        )
        .sample(&[], self.journal_bytes.load(Ordering::Acquire) as f64);
        out.counter(
            "sysmon_anomaly_journal_compactions_total",
            "Rewrites of the anomaly journal (retention, or repair after damage or a failed write).",
        )
        .sample(&[], self.compactions.load(Ordering::Relaxed) as f64);
        out.gauge(
            "sysmon_anomaly_journal_invalid_lines",
            "Unreadable lines skipped when the anomaly journal was opened, a torn last line included.",
        )
        .sample(
            &[],
            (self.replay.invalid_lines + usize::from(self.replay.torn_tail)) as f64,
        );
        out.gauge(
            "sysmon_anomaly_events",
            "Anomaly events held in the event feed, by state.",
        )
        .sample(&[("state", "active")], active as f64)
        .sample(&[("state", "resolved")], resolved as f64);
        let subscribers = lock(&self.stream)
            .as_ref()
            .map_or(0, broadcast::Sender::receiver_count);
        out.gauge(
            "sysmon_anomaly_stream_subscribers",
            "Clients connected to the anomaly event stream.",
        )
        .sample(&[], subscribers as f64);
    }
}

impl super::hook::EventSink for Store {
    fn record(&self, transition: Transition) -> io::Result<()> {
        Store::record(self, transition)
    }

    fn metrics(&self, out: &mut MetricSet) {
        Store::metrics(self, out)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use chrono::TimeDelta;

    /// An event for tests, with subject `host`.
    pub(crate) fn event(
        id: u64,
        rule: &str,
        category: &str,
        severity: Severity,
        start: DateTime<Utc>,
        end: Option<DateTime<Utc>>,
    ) -> Event {
        Event {
            id,
            rule: rule.into(),
            category: category.into(),
            severity,
            subject: "host".into(),
            message: format!("{rule} {id}"),
            value: 1.0,
            threshold: 0.5,
            started_at: start,
            resolved_at: end,
            metrics: BTreeMap::new(),
        }
    }

    /// A store holding a fixed set of events (times relative to now, so none expire):
    /// 1 cpu_high warning 10h..9h ago; 2 memory_high critical 8h ago..active;
    /// 3 temp_high info 7h..6h ago; 4 cpu_high critical 5h ago..active; 5 disk_full warning 5h..4h ago.
    pub(crate) fn sample_store(dir: &Path) -> (Store, DateTime<Utc>) {
        let store = Store::open(dir, Retention::default()).unwrap();
        let base = Utc::now() - TimeDelta::hours(10);
        let h = |n: i64| base + TimeDelta::hours(n);
        let rows = [
            (1, "cpu_high", "cpu", Severity::Warning, 0, Some(1)),
            (2, "memory_high", "memory", Severity::Critical, 2, None),
            (3, "temp_high", "temperature", Severity::Info, 3, Some(4)),
            (4, "cpu_high", "cpu", Severity::Critical, 5, None),
            (5, "disk_full", "filesystem", Severity::Warning, 5, Some(6)),
        ];
        for (id, rule, cat, sev, start, end) in rows {
            let e = event(id, rule, cat, sev, h(start), None);
            store.record(Transition::Started(e.clone())).unwrap();
            if let Some(end) = end {
                let mut r = e;
                r.resolved_at = Some(h(end));
                store.record(Transition::Resolved(r)).unwrap();
            }
        }
        (store, base)
    }

    fn ids(events: &[Event]) -> Vec<u64> {
        events.iter().map(|e| e.id).collect()
    }

    #[test]
    fn query_filters_and_orders_newest_first() {
        let tmp = tempfile::tempdir().unwrap();
        let (store, base) = sample_store(tmp.path());
        let h = |n: i64| base + TimeDelta::hours(n);
        let q = |f: &dyn Fn(&mut Query)| {
            let mut q = Query::default();
            f(&mut q);
            ids(&store.query(&q))
        };
        // 4 and 5 start together: the higher id first.
        assert_eq!(q(&|_| {}), [5, 4, 3, 2, 1]);
        assert_eq!(q(&|q| q.state = StateFilter::Active), [4, 2]);
        assert_eq!(q(&|q| q.state = StateFilter::Resolved), [5, 3, 1]);
        assert_eq!(
            q(&|q| q.min_severity = Some(Severity::Warning)),
            [5, 4, 2, 1]
        );
        assert_eq!(q(&|q| q.min_severity = Some(Severity::Critical)), [4, 2]);
        assert_eq!(q(&|q| q.categories = vec!["cpu".into()]), [4, 1]);
        assert_eq!(
            q(&|q| q.categories = vec!["cpu".into(), "temperature".into()]),
            [4, 3, 1]
        );
        assert_eq!(q(&|q| q.rules = vec!["disk_full".into()]), [5]);
        // since: events ongoing at or after 4h30 (3 ended at 4h, 1 at 1h).
        assert_eq!(
            q(&|q| q.since = Some(h(4) + TimeDelta::minutes(30))),
            [5, 4, 2]
        );
        // since exactly at an end: that event still overlaps.
        assert_eq!(q(&|q| q.since = Some(h(4))), [5, 4, 3, 2]);
        // until: events started at or before 3h.
        assert_eq!(q(&|q| q.until = Some(h(3))), [3, 2, 1]);
        assert_eq!(
            q(&|q| {
                q.since = Some(h(1) + TimeDelta::minutes(1));
                q.until = Some(h(2) + TimeDelta::minutes(1));
            }),
            [2]
        );
        assert_eq!(q(&|q| q.limit = 2), [5, 4]);
        assert_eq!(
            q(&|q| {
                q.state = StateFilter::Resolved;
                q.min_severity = Some(Severity::Warning);
                q.rules = vec!["cpu_high".into()];
            }),
            [1]
        );
    }

    #[test]
    fn get_record_and_reopen() {
        let tmp = tempfile::tempdir().unwrap();
        let (store, _) = sample_store(tmp.path());
        assert_eq!(store.next_id(), 6);
        let e = store.get(3).unwrap();
        assert_eq!(e.rule, "temp_high");
        assert!(e.resolved_at.is_some());
        assert!(store.get(99).is_none());
        assert_eq!(ids(&store.active()), [2, 4]);
        let before = store.query(&Query::default());
        drop(store);
        let store = Store::open(tmp.path(), Retention::default()).unwrap();
        assert_eq!(store.query(&Query::default()), before);
        assert_eq!(store.next_id(), 6);
        assert_eq!(store.replay_report().lines, 8);
        assert_eq!(store.replay_report().invalid_lines, 0);
    }

    #[tokio::test]
    async fn subscribers_see_transitions_in_order_and_close() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(tmp.path(), Retention::default()).unwrap();
        let mut rx = store.subscribe();
        let now = Utc::now();
        let e = event(1, "cpu_high", "cpu", Severity::Warning, now, None);
        store.record(Transition::Started(e.clone())).unwrap();
        let mut r = e.clone();
        r.resolved_at = Some(now);
        store.record(Transition::Resolved(r.clone())).unwrap();
        assert_eq!(rx.recv().await.unwrap(), Transition::Started(e));
        assert_eq!(rx.recv().await.unwrap(), Transition::Resolved(r));
        store.close_stream();
        assert!(matches!(
            rx.recv().await,
            Err(broadcast::error::RecvError::Closed)
        ));
        assert!(matches!(
            store.subscribe().recv().await,
            Err(broadcast::error::RecvError::Closed)
        ));
    }

    fn family_value(set: &MetricSet, name: &str) -> f64 {
        set.get(name).unwrap().samples[0].value
    }

    #[test]
    fn failed_writes_keep_events_in_memory_and_repair_the_journal() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("state");
        let store = Store::open(&dir, Retention::default()).unwrap();
        let now = Utc::now();
        let e1 = event(1, "cpu_high", "cpu", Severity::Warning, now, None);
        store.record(Transition::Started(e1.clone())).unwrap();

        // The disk fills up: the append fails, the event stays in memory and the metrics say so.
        let full = std::fs::OpenOptions::new()
            .append(true)
            .open("/dev/full")
            .unwrap();
        lock(&store.journal).redirect_for_tests(full);
        let e2 = event(2, "memory_high", "memory", Severity::Critical, now, None);
        let err = store.record(Transition::Started(e2.clone())).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOSPC), "{err}");
        assert_eq!(store.get(2), Some(e2));
        let mut m = MetricSet::new();
        store.metrics(&mut m);
        assert_eq!(family_value(&m, "sysmon_anomaly_journal_writable"), 0.0);
        assert_eq!(family_value(&m, "sysmon_anomaly_journal_errors_total"), 1.0);

        // The directory disappears: the repairing rewrite fails too.
        let moved = tmp.path().join("moved");
        std::fs::rename(&dir, &moved).unwrap();
        let e3 = event(3, "temp_high", "temperature", Severity::Info, now, None);
        assert!(store.record(Transition::Started(e3.clone())).is_err());
        assert_eq!(store.get(3), Some(e3));
        assert_eq!(store.next_id(), 4);

        // It comes back: the next transition rewrites the journal with everything in memory.
        std::fs::rename(&moved, &dir).unwrap();
        let mut r1 = e1;
        r1.resolved_at = Some(now);
        store.record(Transition::Resolved(r1.clone())).unwrap();
        let mut m = MetricSet::new();
        store.metrics(&mut m);
        assert_eq!(family_value(&m, "sysmon_anomaly_journal_writable"), 1.0);
        assert_eq!(family_value(&m, "sysmon_anomaly_journal_errors_total"), 2.0);
        assert_eq!(
            family_value(&m, "sysmon_anomaly_journal_compactions_total"),
            1.0
        );
        let before = store.query(&Query::default());
        drop(store);
        let store = Store::open(&dir, Retention::default()).unwrap();
        assert_eq!(ids(&store.query(&Query::default())), [3, 2, 1]);
        assert_eq!(store.query(&Query::default()), before);
        assert_eq!(store.get(1), Some(r1));
        assert_eq!(store.next_id(), 4);
    }

    #[test]
    fn metrics_count_events_by_state() {
        let tmp = tempfile::tempdir().unwrap();
        let (store, _) = sample_store(tmp.path());
        let mut m = MetricSet::new();
        store.metrics(&mut m);
        let events = m.get("sysmon_anomaly_events").unwrap();
        assert_eq!(
            events.samples[0].labels,
            [("state".into(), "active".to_string())]
        );
        assert_eq!(events.samples[0].value, 2.0);
        assert_eq!(events.samples[1].value, 3.0);
        assert_eq!(family_value(&m, "sysmon_anomaly_journal_writable"), 1.0);
        assert_eq!(family_value(&m, "sysmon_anomaly_journal_errors_total"), 0.0);
        assert_eq!(
            family_value(&m, "sysmon_anomaly_journal_invalid_lines"),
            0.0
        );
        let size = std::fs::metadata(tmp.path().join(journal::JOURNAL_FILE))
            .unwrap()
            .len();
        assert_eq!(
            family_value(&m, "sysmon_anomaly_journal_size_bytes"),
            size as f64
        );
        let _rx = store.subscribe();
        let mut m = MetricSet::new();
        store.metrics(&mut m);
        assert_eq!(family_value(&m, "sysmon_anomaly_stream_subscribers"), 1.0);
    }
}
