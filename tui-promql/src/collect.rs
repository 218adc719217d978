//! The collection task: runs the queries of the current view off the drawing loop, on the
//! refresh interval, and sends what it got over the one channel the drawing loop reads
//! ([`AppEvent`]). When Prometheus is unreachable it says so ([`Status::Unreachable`]) and retries
//! with exponential backoff; the app keeps showing the last data it had.
//!
//! Ad-hoc queries of the query view run as their own tasks, so a slow fleet refresh never delays
//! them, and neither blocks key handling.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tokio::task::JoinSet;

use crate::app::{AppEvent, View};
use crate::fmt::now_unix;
use crate::model::{
    build_anomalies, build_fleet, build_history, build_host, AnomalyBoard, FleetRow, HostDetail,
    HostHistory,
};
use crate::prom::{PromClient, PromError, QueryResult, Sample, Series};
use crate::queries::{step_for, AnomalyQuery, FleetQuery, HistoryQuery, HostQuery, Queries};

/// What the app asks of the collection task.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    SetView(View),
    SelectHost(String),
    /// The time range of the host view and of "recent" in the anomalies view.
    SetRange(Duration),
    RefreshNow,
    /// Runs one query of the query view: instant when `range` is `None`.
    RunQuery {
        id: u64,
        expr: String,
        range: Option<Duration>,
    },
    Shutdown,
}

/// Data of one refresh with what went wrong in it: `failed` queries (the rest is shown, marked
/// partial) and Prometheus' `warnings`.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch<T> {
    pub data: T,
    pub failed: Vec<(String, PromError)>,
    pub warnings: Vec<String>,
    pub elapsed: Duration,
    /// Unix seconds when the refresh started.
    pub at: f64,
    /// Queries still running: set on the early, partial fleet of the first load only.
    pub pending: Vec<String>,
}

impl<T> Batch<T> {
    pub fn is_partial(&self) -> bool {
        !self.failed.is_empty() || !self.warnings.is_empty()
    }
}

/// Whether Prometheus answers.
#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    Ok {
        elapsed: Duration,
    },
    Unreachable {
        error: PromError,
        attempt: u32,
        retry_in: Duration,
    },
}

/// What the collection task sends.
#[derive(Debug, Clone, PartialEq)]
pub enum Update {
    Fleet(Batch<Vec<FleetRow>>),
    Host {
        instance: String,
        detail: Box<Batch<HostDetail>>,
        /// `None` when the history was not due for a refresh (the app keeps the last one).
        history: Option<Box<Batch<HostHistory>>>,
        range: Duration,
    },
    Anomalies(Batch<AnomalyBoard>),
    Query {
        id: u64,
        expr: String,
        range: Option<Duration>,
        step: Option<Duration>,
        result: Result<QueryResult, PromError>,
        elapsed: Duration,
    },
    Status(Status),
}

/// The delay before retry number `attempt` (1-based): the refresh interval doubled per failure,
/// capped at 30 s (or the refresh interval when that is longer).
pub fn backoff(attempt: u32, refresh: Duration) -> Duration {
    let cap = Duration::from_secs(30).max(refresh);
    let base = refresh.max(Duration::from_millis(250));
    let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(16));
    base.saturating_mul(factor).min(cap)
}

/// Runs instant queries concurrently; returns results, failures and warnings.
pub async fn run_instants<K>(
    client: &PromClient,
    queries: Vec<(K, String, String)>,
) -> (
    BTreeMap<K, Vec<Sample>>,
    Vec<(String, PromError)>,
    Vec<String>,
)
where
    K: Ord + Copy + Send + 'static,
{
    run_instants_early(client, queries, None, |_, _| {}).await
}

/// [`run_instants`], calling `early(results so far, names still running)` once if the queries
/// are not all done after `early_after`.
pub async fn run_instants_early<K>(
    client: &PromClient,
    queries: Vec<(K, String, String)>,
    early_after: Option<Duration>,
    mut early: impl FnMut(&BTreeMap<K, Vec<Sample>>, Vec<String>),
) -> (
    BTreeMap<K, Vec<Sample>>,
    Vec<(String, PromError)>,
    Vec<String>,
)
where
    K: Ord + Copy + Send + 'static,
{
    let mut set = JoinSet::new();
    let mut running: Vec<String> = Vec::new();
    for (k, name, expr) in queries {
        let c = client.clone();
        running.push(name.clone());
        set.spawn(async move {
            let r = c.query(&expr, None).await.and_then(|r| {
                let w = r.warnings.clone();
                r.into_vector().map(|v| (v, w))
            });
            (k, name, r)
        });
    }
    let mut out = BTreeMap::new();
    let mut failed = Vec::new();
    let mut warnings = Vec::new();
    let deadline = early_after.map(|d| tokio::time::Instant::now() + d);
    let mut fired = deadline.is_none();
    loop {
        let j = tokio::select! {
            j = set.join_next() => j,
            _ = async { tokio::time::sleep_until(deadline.unwrap_or_else(tokio::time::Instant::now)).await }, if !fired => {
                fired = true;
                if !set.is_empty() {
                    early(&out, running.clone());
                }
                continue;
            }
        };
        let Some(j) = j else { break };
        let Ok((k, name, r)) = j else { continue };
        running.retain(|n| *n != name);
        match r {
            Ok((v, w)) => {
                out.insert(k, v);
                for x in w {
                    if !warnings.contains(&x) {
                        warnings.push(x);
                    }
                }
            }
            Err(e) => failed.push((name, e)),
        }
    }
    failed.sort_by(|a, b| a.0.cmp(&b.0));
    (out, failed, warnings)
}

/// Runs range queries concurrently from `start` to `end` every `step`.
pub async fn run_ranges<K>(
    client: &PromClient,
    queries: Vec<(K, String, String)>,
    start: f64,
    end: f64,
    step: f64,
) -> (
    BTreeMap<K, Vec<Series>>,
    Vec<(String, PromError)>,
    Vec<String>,
)
where
    K: Ord + Copy + Send + 'static,
{
    let mut set = JoinSet::new();
    for (k, name, expr) in queries {
        let c = client.clone();
        set.spawn(async move {
            let r = c.query_range(&expr, start, end, step).await.and_then(|r| {
                let w = r.warnings.clone();
                r.into_matrix().map(|m| (m, w))
            });
            (k, name, r)
        });
    }
    let mut out = BTreeMap::new();
    let mut failed = Vec::new();
    let mut warnings = Vec::new();
    while let Some(j) = set.join_next().await {
        let Ok((k, name, r)) = j else { continue };
        match r {
            Ok((m, w)) => {
                out.insert(k, m);
                for x in w {
                    if !warnings.contains(&x) {
                        warnings.push(x);
                    }
                }
            }
            Err(e) => failed.push((name, e)),
        }
    }
    failed.sort_by(|a, b| a.0.cmp(&b.0));
    (out, failed, warnings)
}

/// Runs the fleet queries once and builds the rows. `Err` when Prometheus could not be reached
/// at all (every query failed, at least one for a transport reason).
pub async fn fetch_fleet(
    client: &PromClient,
    queries: &Queries,
) -> Result<Batch<Vec<FleetRow>>, PromError> {
    fetch_fleet_early(client, queries, None, |_| {}).await
}

/// [`fetch_fleet`], handing `early` the rows known after `early_after` when some queries are still
/// running (and `up` has answered), so a first screen need not wait for the slowest query.
pub async fn fetch_fleet_early(
    client: &PromClient,
    queries: &Queries,
    early_after: Option<Duration>,
    mut early: impl FnMut(Batch<Vec<FleetRow>>),
) -> Result<Batch<Vec<FleetRow>>, PromError> {
    let at = now_unix();
    let t0 = Instant::now();
    let qs = FleetQuery::ALL
        .iter()
        .map(|q| (*q, q.name().to_string(), queries.fleet(*q)))
        .collect();
    let (res, failed, warnings) = run_instants_early(client, qs, early_after, |res, pending| {
        if res.contains_key(&FleetQuery::Up) {
            early(Batch {
                data: build_fleet(res),
                failed: Vec::new(),
                warnings: Vec::new(),
                elapsed: t0.elapsed(),
                at,
                pending,
            });
        }
    })
    .await;
    if res.is_empty() {
        if let Some((_, e)) = failed.iter().find(|(_, e)| e.is_transport()) {
            return Err(e.clone());
        }
    }
    Ok(Batch {
        data: build_fleet(&res),
        failed,
        warnings,
        elapsed: t0.elapsed(),
        at,
        pending: Vec::new(),
    })
}

/// Runs the host view's instant queries (and its history when `history` is set).
pub async fn fetch_host(
    client: &PromClient,
    queries: &Queries,
    instance: &str,
    range: Duration,
    history: bool,
) -> (Batch<HostDetail>, Option<Batch<HostHistory>>) {
    let at = now_unix();
    let t0 = Instant::now();
    let qs = HostQuery::ALL
        .iter()
        .map(|q| (*q, format!("{q:?}"), queries.host(*q, instance, range)))
        .collect();
    let instant = run_instants(client, qs);
    let hist = async {
        if !history {
            return None;
        }
        let step = step_for(range, 240);
        let end = now_unix();
        let start = end - range.as_secs_f64();
        let hq = HistoryQuery::ALL
            .iter()
            .map(|q| {
                (
                    *q,
                    format!("history {q:?}"),
                    queries.history(*q, instance, step),
                )
            })
            .collect();
        let t1 = Instant::now();
        let (res, failed, warnings) = run_ranges(client, hq, start, end, step.as_secs_f64()).await;
        Some(Batch {
            data: build_history(&res),
            failed,
            warnings,
            elapsed: t1.elapsed(),
            at,
            pending: Vec::new(),
        })
    };
    let ((res, failed, warnings), hist) = tokio::join!(instant, hist);
    (
        Batch {
            data: build_host(instance, &res),
            failed,
            warnings,
            elapsed: t0.elapsed(),
            at,
            pending: Vec::new(),
        },
        hist,
    )
}

/// Runs the anomalies view's queries; `range` is how far back "recent" goes.
pub async fn fetch_anomalies(
    client: &PromClient,
    queries: &Queries,
    range: Duration,
) -> Batch<AnomalyBoard> {
    let at = now_unix();
    let t0 = Instant::now();
    let qs = AnomalyQuery::ALL
        .iter()
        .map(|q| (*q, format!("{q:?}"), queries.anomalies(*q, range)))
        .collect();
    let (res, failed, warnings) = run_instants(client, qs).await;
    Batch {
        data: build_anomalies(&res),
        failed,
        warnings,
        elapsed: t0.elapsed(),
        at,
        pending: Vec::new(),
    }
}

/// Runs one ad-hoc query: instant, or a range ending now with about 240 points.
pub async fn run_query(
    client: &PromClient,
    expr: &str,
    range: Option<Duration>,
    step: Option<Duration>,
) -> (Result<QueryResult, PromError>, Option<Duration>) {
    match range {
        None => (client.query(expr, None).await, None),
        Some(r) => {
            let step = step.unwrap_or_else(|| step_for(r, 240));
            let end = now_unix();
            let res = client
                .query_range(expr, end - r.as_secs_f64(), end, step.as_secs_f64())
                .await;
            (res, Some(step))
        }
    }
}

/// What the next refresh fetches.
#[derive(Debug, Clone)]
struct Wanted {
    view: View,
    host: Option<String>,
    range: Duration,
}

/// The collection task. Create it, then `tokio::spawn(collector.run(cmd_rx, event_tx))`.
pub struct Collector {
    client: PromClient,
    queries: Queries,
    refresh: Duration,
    wanted: Wanted,
}

impl Collector {
    pub fn new(client: PromClient, queries: Queries, refresh: Duration, range: Duration) -> Self {
        Collector {
            client,
            queries,
            refresh,
            wanted: Wanted {
                view: View::Fleet,
                host: None,
                range,
            },
        }
    }

    /// Spawns the task on the current runtime; returns the command sender.
    pub fn spawn(self, events: UnboundedSender<AppEvent>) -> UnboundedSender<Command> {
        let (tx, rx) = unbounded_channel();
        tokio::spawn(self.run(rx, events));
        tx
    }

    pub async fn run(
        mut self,
        mut cmds: UnboundedReceiver<Command>,
        events: UnboundedSender<AppEvent>,
    ) {
        let (done_tx, mut done_rx) = unbounded_channel::<Result<(), PromError>>();
        let mut next = tokio::time::Instant::now();
        let mut inflight = false;
        let mut cycle_started = tokio::time::Instant::now();
        let mut again = false;
        let mut failures: u32 = 0;
        // Whether a complete fleet has been sent (the first load may send an early one).
        let mut loaded = false;
        // (instance, range, when) of the last history fetch.
        let mut last_history: Option<(String, Duration, Instant)> = None;
        loop {
            tokio::select! {
                cmd = cmds.recv() => {
                    let Some(cmd) = cmd else { return };
                    match cmd {
                        Command::Shutdown => return,
                        Command::RunQuery { id, expr, range } => {
                            let client = self.client.clone();
                            let ev = events.clone();
                            tokio::spawn(async move {
                                let t0 = Instant::now();
                                let (result, step) = run_query(&client, &expr, range, None).await;
                                let _ = ev.send(AppEvent::Update(Update::Query {
                                    id, expr, range, step, result, elapsed: t0.elapsed(),
                                }));
                            });
                            continue;
                        }
                        Command::SetView(v) => self.wanted.view = v,
                        Command::SelectHost(h) => self.wanted.host = Some(h),
                        Command::SetRange(r) => self.wanted.range = r,
                        Command::RefreshNow => { last_history = None; }
                    }
                    if inflight {
                        again = true;
                    } else {
                        next = tokio::time::Instant::now();
                    }
                }
                done = done_rx.recv() => {
                    inflight = false;
                    let now = tokio::time::Instant::now();
                    match done {
                        Some(Ok(())) => {
                            failures = 0;
                            loaded = true;
                            next = (cycle_started + self.refresh).max(now);
                        }
                        Some(Err(error)) => {
                            failures = failures.saturating_add(1);
                            last_history = None;
                            let retry_in = backoff(failures, self.refresh);
                            let _ = events.send(AppEvent::Update(Update::Status(Status::Unreachable {
                                error, attempt: failures, retry_in,
                            })));
                            next = now + retry_in;
                        }
                        None => return,
                    }
                    if again {
                        again = false;
                        next = now;
                    }
                }
                _ = tokio::time::sleep_until(next), if !inflight => {
                    inflight = true;
                    cycle_started = tokio::time::Instant::now();
                    let w = self.wanted.clone();
                    let history_due = match (&w.host, &last_history) {
                        (Some(h), Some((lh, lr, when))) => {
                            h != lh || *lr != w.range
                                || when.elapsed() >= self.refresh.max(step_for(w.range, 240))
                        }
                        _ => true,
                    };
                    if w.view == View::Host && history_due {
                        if let Some(h) = &w.host {
                            last_history = Some((h.clone(), w.range, Instant::now()));
                        }
                    }
                    let client = self.client.clone();
                    let queries = self.queries.clone();
                    let ev = events.clone();
                    let done = done_tx.clone();
                    let first = !loaded;
                    tokio::spawn(async move {
                        let r = cycle(&client, &queries, &w, history_due, first, &ev).await;
                        let _ = done.send(r);
                    });
                }
            }
            if events.is_closed() {
                return;
            }
        }
    }
}

/// One refresh: the fleet always (it feeds the host list and the status), plus the current view.
async fn cycle(
    client: &PromClient,
    queries: &Queries,
    w: &Wanted,
    history_due: bool,
    first: bool,
    events: &UnboundedSender<AppEvent>,
) -> Result<(), PromError> {
    let t0 = Instant::now();
    // The first screen shows what has answered after 150 ms; later refreshes replace the
    // screen only when complete, so values do not flicker.
    let early_after = first.then(|| Duration::from_millis(150));
    let fleet = fetch_fleet_early(client, queries, early_after, |b| {
        let _ = events.send(AppEvent::Update(Update::Fleet(b)));
    });
    let view = async {
        match (w.view, &w.host) {
            (View::Host, Some(h)) => {
                let (detail, history) = fetch_host(client, queries, h, w.range, history_due).await;
                Some(Update::Host {
                    instance: h.clone(),
                    detail: Box::new(detail),
                    history: history.map(Box::new),
                    range: w.range,
                })
            }
            (View::Anomalies, _) => Some(Update::Anomalies(
                fetch_anomalies(client, queries, w.range).await,
            )),
            _ => None,
        }
    };
    let (fleet, view) = tokio::join!(fleet, view);
    let fleet = fleet?;
    let _ = events.send(AppEvent::Update(Update::Fleet(fleet)));
    if let Some(v) = view {
        let _ = events.send(AppEvent::Update(v));
    }
    let _ = events.send(AppEvent::Update(Update::Status(Status::Ok {
        elapsed: t0.elapsed(),
    })));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let r = Duration::from_secs(2);
        assert_eq!(backoff(1, r), Duration::from_secs(2));
        assert_eq!(backoff(2, r), Duration::from_secs(4));
        assert_eq!(backoff(4, r), Duration::from_secs(16));
        assert_eq!(backoff(5, r), Duration::from_secs(30));
        assert_eq!(backoff(100, r), Duration::from_secs(30));
        assert_eq!(backoff(3, Duration::from_secs(60)), Duration::from_secs(60));
        assert_eq!(
            backoff(1, Duration::from_millis(10)),
            Duration::from_millis(250)
        );
    }
}
