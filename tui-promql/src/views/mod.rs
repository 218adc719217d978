//! The views. Each module under `views/` holds one view's state, its keys, the collection of its
//! data and its drawing (`draw.rs`); this file is the view list's dispatch. Adding a view: its
//! module, its variant in [`View`] (`event.rs`) with its `Update`, and one arm in each function
//! here; the help overlay collects the view's `HELP`.

pub mod anomalies;
pub mod fleet;
pub mod host;
pub mod processes;
pub mod query;

use crossterm::event::KeyEvent;
use ratatui::layout::Rect;
use ratatui::Frame;

use crate::app::App;
use crate::event::{Command, Update, View};
use crate::prom::PromError;
use crate::ui::Theme;
use crate::views::query::QueryOutcome;

/// `cur` moved by `delta` within `0..n`.
pub fn step(cur: usize, delta: i64, n: usize) -> usize {
    if n == 0 {
        return 0;
    }
    (cur as i64 + delta).clamp(0, n as i64 - 1) as usize
}

/// Takes in a view's data from the collection task (the app keeps the connection status).
pub fn apply(app: &mut App, u: Update) {
    match u {
        Update::Fleet(b) => fleet::apply(app, b),
        Update::Host {
            instance,
            detail,
            history,
            range,
        } => host::apply(app, instance, *detail, history.map(|h| *h), range),
        Update::Anomalies(b) => anomalies::apply(app, b),
        Update::Processes { instance, groups } => processes::apply(app, instance, groups),
        Update::Query {
            id,
            expr,
            range,
            step,
            result,
            elapsed,
        } => query::apply(
            app,
            id,
            QueryOutcome {
                expr,
                range,
                step,
                result,
                elapsed,
            },
        ),
        Update::Metadata { metrics, labels } => {
            app.query.metadata = Some(query::Metadata::new(metrics, labels));
        }
        Update::Status(_) => {}
    }
}

/// Draws the current view in `area`.
pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
    match app.view {
        View::Fleet => fleet::draw(frame, area, app, theme),
        View::Host => host::draw(frame, area, app, theme),
        View::Anomalies => anomalies::draw(frame, area, app, theme),
        View::Query => query::draw(frame, area, app, theme),
        View::Processes => processes::draw(frame, area, app, theme),
    }
}

/// Whether the current view is taking text (every key goes to it, `q` included).
pub fn editing(app: &App) -> bool {
    match app.view {
        View::Fleet => app.fleet.filter_editing,
        View::Query => app.query.editing,
        View::Processes => app.processes.filter_editing,
        View::Host | View::Anomalies => false,
    }
}

/// A key for the current view while it takes text.
pub fn edit(app: &mut App, k: KeyEvent) -> Vec<Command> {
    match app.view {
        View::Fleet => fleet::edit(app, k),
        View::Query => query::edit(app, k),
        View::Processes => processes::edit(app, k),
        View::Host | View::Anomalies => Vec::new(),
    }
}

/// Whether the current view takes this key before the keys that work everywhere (the query view
/// takes the characters that start a query, `q` and `r` included).
pub fn claims(app: &App, k: &KeyEvent) -> bool {
    match app.view {
        View::Query => query::starts_query(k),
        _ => false,
    }
}

/// A key the global keys did not take.
pub fn key(app: &mut App, k: KeyEvent) -> Vec<Command> {
    match app.view {
        View::Fleet => fleet::key(app, k),
        View::Host => host::key(app, k),
        View::Anomalies => anomalies::key(app, k),
        View::Query => query::key(app, k),
        View::Processes => processes::key(app, k),
    }
}

/// `r`: refresh now; the query view runs its query again.
pub fn refresh(app: &mut App) -> Vec<Command> {
    match app.view {
        View::Query => query::run_query(app),
        _ => vec![Command::RefreshNow],
    }
}

/// Moves the selection or scrolls by `delta` lines (arrows, wheel, pages).
pub fn scroll(app: &mut App, delta: i64) {
    match app.view {
        View::Fleet => fleet::scroll(app, delta),
        View::Host => host::scroll(app, delta),
        View::Anomalies => anomalies::scroll(app, delta),
        View::Query => query::scroll(app, delta),
        View::Processes => processes::scroll(app, delta),
    }
}

/// What switching to view `v` asks of the collection task besides `SetView`.
pub fn on_enter(app: &App, v: View) -> Vec<Command> {
    match v {
        View::Query if app.query.metadata.is_none() => vec![Command::LoadMetadata],
        _ => Vec::new(),
    }
}

/// Whether the view shows the selected host (the host view's): switching to it selects the
/// fleet's selected host when none is.
pub fn follows_host(v: View) -> bool {
    matches!(v, View::Host | View::Processes)
}

/// A left click below the title line.
pub fn click(app: &mut App, row: u16) -> Vec<Command> {
    match app.view {
        View::Fleet => fleet::click(app, row),
        _ => Vec::new(),
    }
}

/// The footer's key hints.
pub fn hints(app: &App) -> &'static [(&'static str, &'static str)] {
    match app.view {
        View::Fleet if app.fleet.filter_editing => fleet::EDIT_HINTS,
        View::Fleet => fleet::HINTS,
        View::Host => host::HINTS,
        View::Anomalies => anomalies::HINTS,
        View::Query if app.query.editing => query::EDIT_HINTS,
        View::Query => query::HINTS,
        View::Processes if app.processes.filter_editing => processes::EDIT_HINTS,
        View::Processes => processes::HINTS,
    }
}

/// The keys of one view for the help overlay.
pub fn help(v: View) -> &'static [(&'static str, &'static str)] {
    match v {
        View::Fleet => fleet::HELP,
        View::Host => host::HELP,
        View::Anomalies => anomalies::HELP,
        View::Query => query::HELP,
        View::Processes => processes::HELP,
    }
}

/// The errors and warnings of the data on screen now (for the banner).
pub fn problems(app: &App) -> (&[(String, PromError)], &[String]) {
    match app.view {
        View::Fleet => (&app.fleet.failed, &app.fleet.warnings),
        View::Host => (&app.host.failed, &app.host.warnings),
        View::Anomalies => (&app.anomalies.failed, &app.anomalies.warnings),
        View::Query => (&[], &[]),
        View::Processes => (&app.processes.failed, &app.processes.warnings),
    }
}

/// What the collection task fetches for the current view, besides the fleet it always fetches:
/// `host` is the selected host, `range` the time range, `history_due` whether the host's history
/// needs fetching again. The host view also fetches the host's process groups for its panel.
pub async fn fetch(
    view: View,
    client: &crate::prom::PromClient,
    queries: &crate::queries::Queries,
    host: Option<&str>,
    range: std::time::Duration,
    history_due: bool,
) -> Vec<crate::event::Update> {
    use crate::event::Update;
    let processes = |h: &str| {
        let h = h.to_string();
        async move {
            let groups = processes::fetch_processes(client, queries, &h).await;
            Update::Processes {
                instance: h,
                groups,
            }
        }
    };
    match (view, host) {
        (View::Host, Some(h)) => {
            let ((detail, history), procs) = tokio::join!(
                host::fetch_host(client, queries, h, range, history_due),
                processes(h)
            );
            vec![
                Update::Host {
                    instance: h.to_string(),
                    detail: Box::new(detail),
                    history: history.map(Box::new),
                    range,
                },
                procs,
            ]
        }
        (View::Processes, Some(h)) => vec![processes(h).await],
        (View::Anomalies, _) => vec![Update::Anomalies(
            anomalies::fetch_anomalies(client, queries, range).await,
        )],
        _ => Vec::new(),
    }
}
