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
    ("^O", "saved"),
    ("↑↓", "scroll"),
    ("^C", "quit"),
];

pub const EDIT_HINTS: &[(&str, &str)] = &[
    ("Enter", "run"),
    ("Tab", "complete"),
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
    /// Metric and label names for completion (`None` until the server answered).
    pub metadata: Option<Metadata>,
    /// The names the last Tab could complete to, when more than one (shown under the prompt).
    pub candidates: Vec<String>,
}

/// The server's metric names (`/api/v1/label/__name__/values`) and label names
/// (`/api/v1/labels`), sorted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metadata {
    pub metrics: Vec<String>,
    pub labels: Vec<String>,
}

impl Metadata {
    pub fn new(mut metrics: Vec<String>, mut labels: Vec<String>) -> Self {
        metrics.sort();
        metrics.dedup();
        labels.sort();
        labels.dedup();
        Metadata { metrics, labels }
    }
}

/// What Tab completes at character `cursor` of `input`: `(start of the word in characters,
/// the names it may become)`. Inside braces (`{...}`, or `by (...)`/`without (...)`/`on (...)`
/// /`ignoring (...)`) a word is a label name, elsewhere a metric name. An empty word completes
/// nothing (thousands of names are no help).
pub fn completions(input: &str, cursor: usize, meta: &Metadata) -> (usize, Vec<String>) {
    let chars: Vec<char> = input.chars().collect();
    let cursor = cursor.min(chars.len());
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    let mut start = cursor;
    while start > 0 && is_name(chars[start - 1]) {
        start -= 1;
    }
    let word: String = chars[start..cursor].iter().collect();
    if word.is_empty() || word.chars().next().is_some_and(|c| c.is_ascii_digit()) {
        return (start, Vec::new());
    }
    let before: String = chars[..start].iter().collect();
    let open_brace = before
        .rfind('{')
        .map(|i| before[i..].find('}').is_none())
        .unwrap_or(false);
    let grouping = {
        // `sum by (` ... an unclosed parenthesis right after a grouping keyword.
        let open = before.rfind('(');
        open.is_some_and(|i| {
            before[i..].find(')').is_none() && {
                let head = before[..i].trim_end();
                [
                    "by",
                    "without",
                    "on",
                    "ignoring",
                    "group_left",
                    "group_right",
                ]
                .iter()
                .any(|k| head.ends_with(k))
            }
        })
    };
    let pool = if open_brace || grouping {
        &meta.labels
    } else {
        &meta.metrics
    };
    let found = pool
        .iter()
        .filter(|n| n.starts_with(&word) && **n != word)
        .cloned()
        .collect();
    (start, found)
}

/// The longest common prefix of `names`.
fn common_prefix(names: &[String]) -> String {
    let Some(first) = names.first() else {
        return String::new();
    };
    let mut n = first.len();
    for s in names {
        n = n.min(
            first
                .bytes()
                .zip(s.bytes())
                .take_while(|(a, b)| a == b)
                .count(),
        );
    }
    first[..n].to_string()
}

/// Tab while editing: the word at the cursor becomes the only name it can be, or the longest
/// prefix the names share (and they are listed under the prompt).
fn complete(q: &mut QueryState) {
    let Some(meta) = &q.metadata else {
        return;
    };
    let (start, found) = completions(&q.input, q.cursor, meta);
    if found.is_empty() {
        q.candidates.clear();
        return;
    }
    let prefix = common_prefix(&found);
    let chars: Vec<char> = q.input.chars().collect();
    let word_len = q.cursor - start;
    if prefix.chars().count() > word_len {
        let mut s: String = chars[..start].iter().collect();
        s.push_str(&prefix);
        let after: String = chars[q.cursor..].iter().collect();
        q.cursor = start + prefix.chars().count();
        s.push_str(&after);
        q.input = s;
    }
    q.candidates = if found.len() == 1 { Vec::new() } else { found };
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
        KeyCode::Char('o') if k.modifiers.contains(KeyModifiers::CONTROL) => {
            if !app.saved_queries.is_empty() {
                let items = app.saved_queries.clone();
                app.open_picker(crate::app::PickerKind::SavedQuery, items, None);
            }
            Vec::new()
        }
        KeyCode::Down => app.move_selection(1),
        KeyCode::Up => app.move_selection(-1),
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
    if k.code != KeyCode::Tab {
        q.candidates.clear();
    }
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
            complete(q);
            return Vec::new();
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

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> Metadata {
        Metadata::new(
            vec![
                "node_cpu_seconds_total".into(),
                "node_memory_MemAvailable_bytes".into(),
                "node_memory_MemTotal_bytes".into(),
                "up".into(),
            ],
            vec![
                "instance".into(),
                "job".into(),
                "mode".into(),
                "mountpoint".into(),
            ],
        )
    }

    #[test]
    fn metric_names_outside_braces_label_names_inside() {
        let m = meta();
        assert_eq!(
            completions("rate(node_c", 11, &m),
            (5, vec!["node_cpu_seconds_total".to_string()])
        );
        assert_eq!(completions("node_memory_Mem", 15, &m).1.len(), 2);
        assert_eq!(completions("up{jo", 5, &m), (3, vec!["job".to_string()]));
        assert_eq!(
            completions("up{job=\"x\",mo", 13, &m).1,
            ["mode", "mountpoint"]
        );
        // After the closing brace: a metric again.
        assert_eq!(completions("up{job=\"x\"} / u", 15, &m).1, ["up"]);
        assert_eq!(completions("sum by (ins", 11, &m).1, ["instance"]);
        assert_eq!(completions("sum(rate(x[5m])) by (mo", 23, &m).1.len(), 2);
        // Nothing typed, a number, a whole name: nothing to offer.
        assert!(completions("rate(", 5, &m).1.is_empty());
        assert!(completions("1", 1, &m).1.is_empty());
        assert!(completions("up", 2, &m).1.is_empty());
    }

    #[test]
    fn tab_completes_the_word_at_the_cursor() {
        let mut q = QueryState {
            metadata: Some(meta()),
            input: "rate(node_c[5m])".into(),
            cursor: 11,
            ..QueryState::default()
        };
        complete(&mut q);
        assert_eq!(q.input, "rate(node_cpu_seconds_total[5m])");
        assert_eq!(q.cursor, 27);
        assert!(q.candidates.is_empty());
        // Two names: their common prefix, and both listed.
        let mut q = QueryState {
            metadata: Some(meta()),
            input: "node_m".into(),
            cursor: 6,
            ..QueryState::default()
        };
        complete(&mut q);
        assert_eq!(q.input, "node_memory_Mem");
        assert_eq!(q.candidates.len(), 2);
        // Without metadata (not loaded, or a server without the endpoints): nothing happens.
        let mut q = QueryState {
            input: "node_m".into(),
            cursor: 6,
            ..QueryState::default()
        };
        complete(&mut q);
        assert_eq!(q.input, "node_m");
    }
}
