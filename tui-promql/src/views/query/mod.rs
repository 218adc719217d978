//! Query view: a PromQL prompt with history; a table for instant results, a chart for ranges,
//! Prometheus' own message when the query is wrong.

mod draw;

use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

pub use draw::draw;

use crate::app::{App, RANGES};
use crate::event::{Command, View};
use crate::prom::{PromError, QueryResult};

pub const HINTS: &[(&str, &str)] = &[
    ("?", "help"),
    ("type", "new query"),
    ("Enter", "edit"),
    ("+/-", "instant/range"),
    ("^R", "run again"),
    ("↑↓", "scroll"),
    ("^C", "quit"),
];

pub const EDIT_HINTS: &[(&str, &str)] = &[
    ("Enter", "run"),
    ("↑↓", "history"),
    ("Esc", "stop editing"),
    ("^U", "clear"),
];

pub const HELP: &[(&str, &str)] = &[
    (
        "a letter, (, {, …",
        "starts a new query; Enter or / edits the one shown",
    ),
    ("Enter, Ctrl-R", "run the query (editing), run it again"),
    (
        "↑↓ (editing), Tab",
        "query history, complete a metric or label name",
    ),
    ("+ -", "range query (chart) or instant (table)"),
    ("Esc", "stop editing"),
];

/// The answer to the last query of the query view.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryOutcome {
    pub expr: String,
    pub range: Option<Duration>,
    pub step: Option<Duration>,
    pub result: Result<QueryResult, PromError>,
    pub elapsed: Duration,
}

#[derive(Debug, Clone, Default)]
pub struct QueryState {
    pub input: String,
    /// Cursor position in characters.
    pub cursor: usize,
    pub editing: bool,
    pub history: Vec<String>,
    pub history_pos: Option<usize>,
    /// `None`: instant query; otherwise a range query over this long, ending now.
    pub range: Option<Duration>,
    pub last: Option<QueryOutcome>,
    pub pending: Option<u64>,
    pub next_id: u64,
    pub scroll: usize,
}

/// The ranges of the query view: instant, then the host ranges.
fn range_step(app: &mut App, wider: bool) {
    let idx = app
        .query
        .range
        .and_then(|r| RANGES.iter().position(|x| *x == r));
    app.query.range = match (idx, wider) {
        (None, true) => Some(RANGES[0]),
        (None, false) => None,
        (Some(i), true) => Some(RANGES[(i + 1).min(RANGES.len() - 1)]),
        (Some(0), false) => None,
        (Some(i), false) => Some(RANGES[i - 1]),
    };
}

/// Keys of the query view when not editing.
pub fn key(app: &mut App, k: KeyEvent) -> Vec<Command> {
    match k.code {
        KeyCode::Enter | KeyCode::Char('/') => {
            app.query.editing = true;
            app.query.cursor = app.query.input.chars().count();
            Vec::new()
        }
        // Typing starts a new query (the last one stays in the history, ↑ brings it back).
        KeyCode::Char(c) if starts_query(&k) => {
            let q = &mut app.query;
            q.editing = true;
            q.input = c.to_string();
            q.cursor = 1;
            q.history_pos = None;
            Vec::new()
        }
        KeyCode::Char('+') | KeyCode::Char('=') => {
            range_step(app, true);
            rerun_if_any(app)
        }
        KeyCode::Char('-') | KeyCode::Char('_') => {
            range_step(app, false);
            rerun_if_any(app)
        }
        KeyCode::Down | KeyCode::Char('j') => app.move_selection(1),
        KeyCode::Up | KeyCode::Char('k') => app.move_selection(-1),
        KeyCode::PageDown => app.move_selection(app.page()),
        KeyCode::PageUp => app.move_selection(-app.page()),
        KeyCode::Esc => app.set_view(View::Fleet),
        _ => Vec::new(),
    }
}

/// Whether this key, outside editing, starts typing a query: any character but the view's own
/// keys (`+ = - _` change the range, `/` edits the query shown) and the keys that work
/// everywhere that cannot begin a query (`?`, the view digits).
pub fn starts_query(k: &KeyEvent) -> bool {
    if k.modifiers
        .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
    {
        return false;
    }
    match k.code {
        KeyCode::Char(c) => !matches!(c, '?' | '+' | '=' | '-' | '_' | '/' | '1'..='9'),
        _ => false,
    }
}

fn rerun_if_any(app: &mut App) -> Vec<Command> {
    if app.query.input.trim().is_empty() {
        Vec::new()
    } else {
        run_query(app)
    }
}

/// Sends the query in the prompt and records it in the history.
pub fn run_query(app: &mut App) -> Vec<Command> {
    let expr = app.query.input.trim().to_string();
    if expr.is_empty() {
        return Vec::new();
    }
    if app.query.history.last() != Some(&expr) {
        app.query.history.push(expr.clone());
        if app.query.history.len() > 200 {
            app.query.history.remove(0);
        }
    }
    app.query.history_pos = None;
    let id = app.query.next_id;
    app.query.next_id += 1;
    app.query.pending = Some(id);
    vec![Command::RunQuery {
        id,
        expr,
        range: app.query.range,
    }]
}

/// Keys while editing the prompt.
pub fn edit(app: &mut App, k: KeyEvent) -> Vec<Command> {
    let q = &mut app.query;
    let len = q.input.chars().count();
    q.cursor = q.cursor.min(len);
    let byte_at = |s: &str, i: usize| s.char_indices().nth(i).map(|(b, _)| b).unwrap_or(s.len());
    let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
    match k.code {
        KeyCode::Enter => {
            q.editing = false;
            return run_query(app);
        }
        KeyCode::Esc => q.editing = false,
        KeyCode::Tab => {
            q.editing = false;
            return app.set_view(View::Fleet);
        }
        KeyCode::Left => q.cursor = q.cursor.saturating_sub(1),
        KeyCode::Right => q.cursor = (q.cursor + 1).min(len),
        KeyCode::Home => q.cursor = 0,
        KeyCode::End => q.cursor = len,
        KeyCode::Char('a') if ctrl => q.cursor = 0,
        KeyCode::Char('e') if ctrl => q.cursor = len,
        KeyCode::Char('u') if ctrl => {
            q.input.clear();
            q.cursor = 0;
        }
        KeyCode::Backspace if q.cursor > 0 => {
            let b = byte_at(&q.input, q.cursor - 1);
            q.input.remove(b);
            q.cursor -= 1;
        }
        KeyCode::Delete if q.cursor < len => {
            let b = byte_at(&q.input, q.cursor);
            q.input.remove(b);
        }
        KeyCode::Up if !q.history.is_empty() => {
            let pos = match q.history_pos {
                None => q.history.len() - 1,
                Some(p) => p.saturating_sub(1),
            };
            q.history_pos = Some(pos);
            q.input = q.history[pos].clone();
            q.cursor = q.input.chars().count();
        }
        KeyCode::Down => match q.history_pos {
            Some(p) if p + 1 < q.history.len() => {
                q.history_pos = Some(p + 1);
                q.input = q.history[p + 1].clone();
                q.cursor = q.input.chars().count();
            }
            Some(_) => {
                q.history_pos = None;
                q.input.clear();
                q.cursor = 0;
            }
            None => {}
        },
        KeyCode::Char(c) if !ctrl => {
            let b = byte_at(&q.input, q.cursor);
            q.input.insert(b, c);
            q.cursor += 1;
        }
        _ => {}
    }
    Vec::new()
}

pub fn scroll(app: &mut App, delta: i64) {
    app.query.scroll = (app.query.scroll as i64 + delta).max(0) as usize;
}

/// Takes in the answer to a query; only the last one sent is kept.
pub fn apply(app: &mut App, id: u64, outcome: QueryOutcome) {
    if app.query.pending == Some(id) {
        app.query.pending = None;
        app.query.scroll = 0;
        app.query.last = Some(outcome);
    }
}
