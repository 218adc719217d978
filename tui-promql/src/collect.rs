//! The collection task: runs the queries of the current view off the drawing loop, on the
//! refresh interval, and sends what it got over the one channel the drawing loop reads
//! ([`AppEvent`]). When Prometheus is unreachable it says so ([`Status::Unreachable`]) and retries
//! with exponential backoff; the app keeps showing the last data it had.
//!
//! Ad-hoc queries of the query view run as their own tasks, so a slow fleet refresh never delays
//! them, and neither blocks key handling.

use std::time::{Duration, Instant};

use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

pub use crate::event::{Batch, Command, Status, Update};
pub use crate::fetch::{run_instants, run_instants_early, run_query, run_ranges};
pub use crate::views::anomalies::fetch_anomalies;
pub use crate::views::fleet::{fetch_fleet, fetch_fleet_early};
pub use crate::views::host::fetch_host;
pub use crate::views::processes::fetch_processes;

use crate::event::{AppEvent, View};
use crate::prom::{PromClient, PromError};
use crate::queries::{step_for, Queries};

/// The delay before retry number `attempt` (1-based): the refresh interval doubled per failure,
/// capped at 30 s (or the refresh interval when that is longer).
pub fn backoff(attempt: u32, refresh: Duration) -> Duration {
    let cap = Duration::from_secs(30).max(refresh);
    let base = refresh.max(Duration::from_millis(250));
    let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(16));
    base.saturating_mul(factor).min(cap)
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
                        Command::SwitchContext(_) => continue,
                        Command::LoadMetadata => {
                            let client = self.client.clone();
                            let ev = events.clone();
                            tokio::spawn(async move {
                                let (metrics, labels) = tokio::join!(
                                    client.label_values("__name__", None),
                                    client.label_names()
                                );
                                // Completion is a help, not a must: a server without these
                                // endpoints simply completes nothing.
                                let _ = ev.send(AppEvent::Update(Update::Metadata {
                                    metrics: metrics.map(|m| m.0).unwrap_or_default(),
                                    labels: labels.map(|l| l.0).unwrap_or_default(),
                                }));
                            });
                            continue;
                        }
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
    let view = crate::views::fetch(
        w.view,
        client,
        queries,
        w.host.as_deref(),
        w.range,
        history_due,
    );
    let (fleet, view) = tokio::join!(fleet, view);
    let fleet = fleet?;
    let _ = events.send(AppEvent::Update(Update::Fleet(fleet)));
    for v in view {
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
