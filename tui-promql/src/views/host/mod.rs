//! Host view: one host in detail, its history drawn over the time range (`+`/`-`).

mod draw;

use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent};

pub use draw::draw;

use crate::app::App;
use crate::event::{Batch, Command, View};
use crate::fetch::{run_instants, run_ranges};
use crate::fmt::now_unix;
use crate::model::{build_history, build_host, HostDetail, HostHistory};
use crate::prom::{PromClient, PromError};
use crate::queries::{step_for, HistoryQuery, HostQuery, Queries};

pub const HINTS: &[(&str, &str)] = &[
    ("?", "help"),
    ("Esc", "fleet"),
    ("←→/hl", "prev/next host"),
    ("+/-", "range"),
    ("↑↓", "scroll"),
    ("r", "refresh"),
];

pub const HELP: &[(&str, &str)] = &[
    ("+ -", "widen or narrow the time range (5m … 7d)"),
    ("← → h l", "previous or next host"),
    ("↑↓ j k", "scroll the lists"),
    ("Esc", "back to the fleet"),
];

#[derive(Debug, Clone, Default)]
pub struct HostState {
    pub instance: Option<String>,
    pub detail: Option<HostDetail>,
    pub history: HostHistory,
    /// Range the history was drawn for.
    pub history_range: Option<Duration>,
    pub failed: Vec<(String, PromError)>,
    pub warnings: Vec<String>,
    pub scroll: u16,
    pub at: Option<f64>,
}

/// Keys of the host view.
pub fn key(app: &mut App, k: KeyEvent) -> Vec<Command> {
    match k.code {
        KeyCode::Esc | KeyCode::Backspace => app.set_view(View::Fleet),
        KeyCode::Char('+') | KeyCode::Char('=') => app.change_range(true),
        KeyCode::Char('-') | KeyCode::Char('_') => app.change_range(false),
        KeyCode::Down | KeyCode::Char('j') => app.move_selection(1),
        KeyCode::Up | KeyCode::Char('k') => app.move_selection(-1),
        KeyCode::PageDown => app.move_selection(app.page()),
        KeyCode::PageUp => app.move_selection(-app.page()),
        KeyCode::Home | KeyCode::Char('g') => {
            app.host.scroll = 0;
            Vec::new()
        }
        KeyCode::Left | KeyCode::Char('h') => neighbour(app, -1),
        KeyCode::Right | KeyCode::Char('l') => neighbour(app, 1),
        _ => Vec::new(),
    }
}

/// Opens the previous or next host of the fleet table.
fn neighbour(app: &mut App, delta: i64) -> Vec<Command> {
    let cur = app.host.instance.clone();
    match app.neighbour_instance(cur.as_deref(), delta) {
        Some(inst) => app.open_host(inst),
        None => Vec::new(),
    }
}

pub fn scroll(app: &mut App, delta: i64) {
    app.host.scroll = (app.host.scroll as i64 + delta).clamp(0, 200) as u16;
}

/// Takes in a refresh of the host shown (an answer for another host is dropped).
pub fn apply(
    app: &mut App,
    instance: String,
    detail: Batch<HostDetail>,
    history: Option<Batch<HostHistory>>,
    range: Duration,
) {
    if app.host.instance.as_deref() != Some(instance.as_str()) {
        return;
    }
    app.host.failed = detail.failed;
    app.host.warnings = detail.warnings;
    app.host.at = Some(detail.at);
    app.host.detail = Some(detail.data);
    if let Some(h) = history {
        app.host.failed.extend(h.failed);
        for w in h.warnings {
            if !app.host.warnings.contains(&w) {
                app.host.warnings.push(w);
            }
        }
        app.host.history = h.data;
        app.host.history_range = Some(range);
    }
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
