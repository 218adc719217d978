//! Anomalies view: the exporters' anomalies (active now, and recent) by severity, and the alerts
//! Prometheus holds in `ALERTS`. Its panels are drawn one after the other from `draw.rs`; a new
//! panel is a function there and its data a field of the board.

mod draw;

use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent};

pub use draw::draw;

use crate::app::App;
use crate::event::{Batch, Command, View};
use crate::fetch::run_instants;
use crate::fmt::now_unix;
use crate::model::{build_anomalies, AnomalyBoard};
use crate::prom::PromClient;
use crate::prom::PromError;
use crate::queries::{AnomalyQuery, Queries};

pub const HINTS: &[(&str, &str)] = &[
    ("?", "help"),
    ("↑↓", "select"),
    ("Enter", "open host"),
    ("+/-", "recent range"),
    ("r", "refresh"),
];

pub const HELP: &[(&str, &str)] = &[
    ("↑↓ j k", "select"),
    ("Enter", "open the host of the selected line"),
    ("+ -", "how far back \"recent\" goes"),
];

#[derive(Debug, Clone, Default)]
pub struct AnomalyState {
    pub board: AnomalyBoard,
    pub loaded: bool,
    pub selected: usize,
    pub failed: Vec<(String, PromError)>,
    pub warnings: Vec<String>,
    pub at: Option<f64>,
}

/// Keys of the anomalies view.
pub fn key(app: &mut App, k: KeyEvent) -> Vec<Command> {
    match k.code {
        KeyCode::Down | KeyCode::Char('j') => app.move_selection(1),
        KeyCode::Up | KeyCode::Char('k') => app.move_selection(-1),
        KeyCode::PageDown => app.move_selection(app.page()),
        KeyCode::PageUp => app.move_selection(-app.page()),
        KeyCode::Char('+') | KeyCode::Char('=') => app.change_range(true),
        KeyCode::Char('-') | KeyCode::Char('_') => app.change_range(false),
        KeyCode::Esc => app.set_view(View::Fleet),
        KeyCode::Enter => {
            let b = &app.anomalies.board;
            let i = app.anomalies.selected;
            let inst = if i < b.active.len() {
                Some(b.active[i].instance.clone())
            } else if i < b.active.len() + b.recent.len() {
                Some(b.recent[i - b.active.len()].instance.clone())
            } else {
                b.alerts
                    .get(i - b.active.len() - b.recent.len())
                    .map(|a| a.instance.clone())
            };
            match inst.filter(|s| !s.is_empty()) {
                Some(inst) => app.open_host(inst),
                None => Vec::new(),
            }
        }
        _ => Vec::new(),
    }
}

/// Lines that can be selected: active and recent anomalies, then alerts.
fn selectable(app: &App) -> usize {
    let b = &app.anomalies.board;
    b.active.len() + b.recent.len() + b.alerts.len()
}

pub fn scroll(app: &mut App, delta: i64) {
    let n = selectable(app);
    app.anomalies.selected = crate::views::step(app.anomalies.selected, delta, n);
}

pub fn apply(app: &mut App, b: Batch<AnomalyBoard>) {
    app.anomalies.board = b.data;
    app.anomalies.loaded = true;
    app.anomalies.failed = b.failed;
    app.anomalies.warnings = b.warnings;
    app.anomalies.at = Some(b.at);
    let n = app.anomalies.board.active.len() + app.anomalies.board.recent.len();
    if app.anomalies.selected >= n {
        app.anomalies.selected = n.saturating_sub(1);
    }
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
