//! Fleet view: every host in one table, worst first, coloured by thresholds; sorted and filtered
//! by keys. Its rows feed the other views (the host list, the previous/next host).

mod draw;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

pub use draw::{down_since, draw};

use crate::app::App;
use crate::event::{Batch, Command};
use crate::fetch::run_instants_early;
use crate::fmt::now_unix;
use crate::model::{
    build_fleet, filter_rows, set_down_since, sort_rows, FleetRow, Instants, SortKey,
};
use crate::prom::{PromClient, PromError};
use crate::queries::{Fallback, FleetQuery, Queries};

/// Footer hints.
pub const HINTS: &[(&str, &str)] = &[
    ("?", "help"),
    ("q", "quit"),
    ("↑↓/jk", "select"),
    ("Enter", "open host"),
    ("/", "filter"),
    ("s", "sort"),
    ("r", "refresh"),
    ("Tab", "views"),
];

/// Footer hints while typing the filter.
pub const EDIT_HINTS: &[(&str, &str)] =
    &[("Enter", "keep filter"), ("Esc", "clear"), ("↑↓", "move")];

/// The help overlay's lines for this view: (keys, what they do).
pub const HELP: &[(&str, &str)] = &[
    ("↑↓ j k, PgUp PgDn, g G", "select a host"),
    ("Enter, →, l", "open the host"),
    (
        "/, Esc",
        "filter by name (\"down\": the hosts down); Esc clears it",
    ),
    ("s, S", "next sort column, reverse the order"),
];

#[derive(Debug, Clone, Default)]
pub struct FleetState {
    /// Sorted by the current key.
    pub rows: Vec<FleetRow>,
    pub loaded: bool,
    pub selected: usize,
    pub filter: String,
    pub filter_editing: bool,
    pub sort: Option<SortKey>,
    pub reverse: bool,
    pub failed: Vec<(String, PromError)>,
    pub warnings: Vec<String>,
    /// Unix seconds of the data shown.
    pub at: Option<f64>,
    /// Queries of the first load still running (their columns show `-` until they answer).
    pub pending: Vec<String>,
}

impl FleetState {
    pub fn sort_key(&self) -> SortKey {
        self.sort.unwrap_or(SortKey::Worst)
    }

    /// Rows after the filter, in display order.
    pub fn visible(&self) -> Vec<&FleetRow> {
        filter_rows(&self.rows, &self.filter)
    }

    pub fn selected_row(&self) -> Option<&FleetRow> {
        self.visible().get(self.selected).copied()
    }

    pub(crate) fn resort(&mut self) {
        let key = self.sort_key();
        sort_rows(&mut self.rows, key, self.reverse);
    }

    pub(crate) fn clamp(&mut self) {
        let n = self.visible().len();
        if n == 0 {
            self.selected = 0;
        } else if self.selected >= n {
            self.selected = n - 1;
        }
    }
}

/// Keys of the fleet table (not while typing the filter).
pub fn key(app: &mut App, k: KeyEvent) -> Vec<Command> {
    match k.code {
        KeyCode::Down | KeyCode::Char('j') => app.move_selection(1),
        KeyCode::Up | KeyCode::Char('k') => app.move_selection(-1),
        KeyCode::PageDown => app.move_selection(app.page()),
        KeyCode::PageUp => app.move_selection(-app.page()),
        KeyCode::Home | KeyCode::Char('g') => {
            app.fleet.selected = 0;
            Vec::new()
        }
        KeyCode::End | KeyCode::Char('G') => app.move_selection(i64::from(u32::MAX)),
        KeyCode::Enter | KeyCode::Right | KeyCode::Char('l') => match app.fleet.selected_row() {
            Some(r) => {
                let inst = r.instance.clone();
                app.open_host(inst)
            }
            None => Vec::new(),
        },
        KeyCode::Char('/') => {
            app.fleet.filter_editing = true;
            Vec::new()
        }
        KeyCode::Char('s') => {
            app.fleet.sort = Some(app.fleet.sort_key().next());
            app.fleet.reverse = false;
            app.fleet.resort();
            app.fleet.selected = 0;
            Vec::new()
        }
        KeyCode::Char('S') => {
            app.fleet.reverse = !app.fleet.reverse;
            app.fleet.resort();
            Vec::new()
        }
        KeyCode::Esc => {
            app.fleet.filter.clear();
            app.fleet.clamp();
            Vec::new()
        }
        _ => Vec::new(),
    }
}

/// Keys while typing the filter: text, except Enter (keep), Esc (clear) and the arrows.
pub fn edit(app: &mut App, k: KeyEvent) -> Vec<Command> {
    match k.code {
        KeyCode::Enter => app.fleet.filter_editing = false,
        KeyCode::Esc => {
            app.fleet.filter_editing = false;
            app.fleet.filter.clear();
        }
        KeyCode::Backspace => {
            app.fleet.filter.pop();
        }
        KeyCode::Down => {
            return app.move_selection(1);
        }
        KeyCode::Up => {
            return app.move_selection(-1);
        }
        KeyCode::Char(c) if !k.modifiers.contains(KeyModifiers::CONTROL) => {
            app.fleet.filter.push(c);
            app.fleet.selected = 0;
        }
        _ => {}
    }
    app.fleet.clamp();
    Vec::new()
}

/// Moves the selection by `delta` rows.
pub fn scroll(app: &mut App, delta: i64) {
    let n = app.fleet.visible().len();
    app.fleet.selected = crate::views::step(app.fleet.selected, delta, n);
}

/// A click on the table's body: selects the row, a second click on it opens the host.
pub fn click(app: &mut App, row: u16) -> Vec<Command> {
    let (top, height, offset) = app.hit.fleet_body.get();
    if row >= top && row < top + height {
        let i = offset + (row - top) as usize;
        if i < app.fleet.visible().len() {
            if app.fleet.selected == i {
                if let Some(r) = app.fleet.selected_row() {
                    let inst = r.instance.clone();
                    return app.open_host(inst);
                }
            }
            app.fleet.selected = i;
        }
    }
    Vec::new()
}

/// Takes in a refresh, keeping the selected host selected.
pub fn apply(app: &mut App, b: Batch<Vec<FleetRow>>) {
    let keep = app.fleet.selected_row().map(|r| r.instance.clone());
    app.fleet.rows = b.data;
    app.fleet.loaded = true;
    app.fleet.failed = b.failed;
    app.fleet.warnings = b.warnings;
    app.fleet.at = Some(b.at);
    app.fleet.pending = b.pending;
    app.fleet.resort();
    if let Some(inst) = keep {
        if let Some(i) = app.fleet.visible().iter().position(|r| r.instance == inst) {
            app.fleet.selected = i;
        }
    }
    app.fleet.clamp();
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
    let mut early_sent = false;
    let mut early_once = |res: &Instants<FleetQuery>, pending: Vec<String>| {
        if !early_sent && res.contains_key(&FleetQuery::Up) {
            early_sent = true;
            early(Batch {
                data: build_fleet(res),
                failed: Vec::new(),
                warnings: Vec::new(),
                elapsed: t0.elapsed(),
                at,
                pending,
            });
        }
    };
    // First the recording rules alone (and the columns without one).
    let qs = FleetQuery::ALL
        .iter()
        .map(|q| (*q, q.name().to_string(), queries.fleet(*q)))
        .collect();
    let (mut res, mut failed, mut warnings) =
        run_instants_early(client, qs, early_after, |res, pending| {
            early_once(res, pending)
        })
        .await;
    // Then the raw expressions, for the hosts each rule did not answer for.
    let qs = fallbacks(queries, &res, &failed);
    if !qs.is_empty() {
        let first = res.clone();
        let left = early_after.map(|d| d.saturating_sub(t0.elapsed()));
        let (more, more_failed, more_warnings) =
            run_instants_early(client, qs, left, |partial, pending| {
                early_once(&merge(first.clone(), partial.clone()), pending)
            })
            .await;
        res = merge(res, more);
        failed.extend(more_failed);
        failed.sort_by(|a, b| a.0.cmp(&b.0));
        for w in more_warnings {
            if !warnings.contains(&w) {
                warnings.push(w);
            }
        }
    }
    if res.is_empty() {
        if let Some((_, e)) = failed.iter().find(|(_, e)| e.is_transport()) {
            return Err(e.clone());
        }
    }
    let mut rows = build_fleet(&res);
    // Since when the hosts that are down are down: one more query, for those hosts only.
    let down: Vec<String> = rows
        .iter()
        .filter(|r| r.is_down())
        .map(|r| r.instance.clone())
        .collect();
    if !down.is_empty() {
        match client.query(&queries.last_up(&down), None).await {
            Ok(r) => {
                if let Ok(v) = r.into_vector() {
                    set_down_since(&mut rows, &v);
                }
            }
            Err(e) => failed.push(("down since".to_string(), e)),
        }
    }
    Ok(Batch {
        data: rows,
        failed,
        warnings,
        elapsed: t0.elapsed(),
        at,
        pending: Vec::new(),
    })
}

/// The fallback queries of the rule-backed columns whose rule answered: for the hosts `up` knows
/// and the rule did not answer for (none: no query), every host when the rule answered nothing,
/// and the job less the rule's hosts when `up` did not answer. A column whose rule query failed
/// stays failed: its fallback would only fail the same way.
fn fallbacks(
    queries: &Queries,
    res: &Instants<FleetQuery>,
    failed: &[(String, PromError)],
) -> Vec<(FleetQuery, String, String)> {
    let up: Option<BTreeSet<&str>> = res.get(&FleetQuery::Up).map(|v| {
        v.iter()
            .filter_map(|s| s.labels.get("instance").map(String::as_str))
            .collect()
    });
    let mut out = Vec::new();
    for q in FleetQuery::ALL {
        if failed.iter().any(|(name, _)| name == q.name()) {
            continue;
        }
        let Some(answer) = res.get(&q) else { continue };
        let covered: BTreeSet<&str> = answer
            .iter()
            .filter_map(|s| s.labels.get("instance").map(String::as_str))
            .collect();
        let missing: Vec<String>;
        let hosts = if covered.is_empty() {
            Fallback::Job
        } else if let Some(up) = &up {
            missing = up.difference(&covered).map(|s| s.to_string()).collect();
            if missing.is_empty() {
                continue;
            }
            Fallback::Instances(&missing)
        } else {
            Fallback::Unknown
        };
        if let Some(expr) = queries.fleet_fallback(q, hosts) {
            out.push((q, q.name().to_string(), expr));
        }
    }
    out
}

/// `first` with the samples of `more` added, column by column.
fn merge(mut first: Instants<FleetQuery>, more: Instants<FleetQuery>) -> Instants<FleetQuery> {
    for (q, v) in more {
        first.entry(q).or_default().extend(v);
    }
    first
}
