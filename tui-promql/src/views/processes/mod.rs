//! Processes view: the process groups of the selected host (the host view's host) with their CPU,
//! memory, threads, I/O and file descriptors, sorted and filtered like the fleet table.

mod draw;

use std::time::Instant;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

pub use draw::{draw, panel_lines};

use crate::app::App;
use crate::event::{Batch, Command, View};
use crate::fetch::run_instants;
use crate::fmt::now_unix;
use crate::model::{build_processes, filter_groups, sort_groups, ProcessGroup, ProcessSort};
use crate::prom::{PromClient, PromError};
use crate::queries::{ProcessQuery, Queries};

pub const HINTS: &[(&str, &str)] = &[
    ("?", "help"),
    ("Esc", "fleet"),
    ("←→/hl", "prev/next host"),
    ("↑↓", "select"),
    ("/", "filter"),
    ("s", "sort"),
    ("Enter", "host view"),
];

pub const EDIT_HINTS: &[(&str, &str)] =
    &[("Enter", "keep filter"), ("Esc", "clear"), ("↑↓", "move")];

pub const HELP: &[(&str, &str)] = &[
    ("↑↓ j k, PgUp PgDn, g G", "select a process group"),
    (
        "/, Esc",
        "filter by name (\"zombie\": groups with zombies); Esc clears",
    ),
    ("s, S", "next sort column, reverse the order"),
    ("← → h l, Enter", "previous or next host; the host view"),
];

#[derive(Debug, Clone, Default)]
pub struct ProcessesState {
    /// Host the groups are of.
    pub instance: Option<String>,
    /// Sorted by the current key.
    pub groups: Vec<ProcessGroup>,
    pub loaded: bool,
    pub selected: usize,
    pub filter: String,
    pub filter_editing: bool,
    pub sort: Option<ProcessSort>,
    pub reverse: bool,
    pub failed: Vec<(String, PromError)>,
    pub warnings: Vec<String>,
    pub at: Option<f64>,
}

impl ProcessesState {
    pub fn sort_key(&self) -> ProcessSort {
        self.sort.unwrap_or(ProcessSort::Cpu)
    }

    /// Groups after the filter, in display order.
    pub fn visible(&self) -> Vec<&ProcessGroup> {
        filter_groups(&self.groups, &self.filter)
    }

    fn resort(&mut self) {
        let key = self.sort_key();
        sort_groups(&mut self.groups, key, self.reverse);
    }

    fn clamp(&mut self) {
        let n = self.visible().len();
        self.selected = self.selected.min(n.saturating_sub(1));
    }
}

/// Keys of the processes view (not while typing the filter).
pub fn key(app: &mut App, k: KeyEvent) -> Vec<Command> {
    let p = &mut app.processes;
    match k.code {
        KeyCode::Down | KeyCode::Char('j') => return app.move_selection(1),
        KeyCode::Up | KeyCode::Char('k') => return app.move_selection(-1),
        KeyCode::PageDown => return app.move_selection(app.page()),
        KeyCode::PageUp => return app.move_selection(-app.page()),
        KeyCode::Home | KeyCode::Char('g') => p.selected = 0,
        KeyCode::End | KeyCode::Char('G') => return app.move_selection(i64::from(u32::MAX)),
        KeyCode::Char('/') => p.filter_editing = true,
        KeyCode::Char('s') => {
            p.sort = Some(p.sort_key().next());
            p.reverse = false;
            p.resort();
            p.selected = 0;
        }
        KeyCode::Char('S') => {
            p.reverse = !p.reverse;
            p.resort();
        }
        KeyCode::Esc if !p.filter.is_empty() => {
            p.filter.clear();
            p.clamp();
        }
        KeyCode::Esc => return app.set_view(View::Fleet),
        KeyCode::Left | KeyCode::Char('h') => return neighbour(app, -1),
        KeyCode::Right | KeyCode::Char('l') => return neighbour(app, 1),
        KeyCode::Enter => {
            if let Some(h) = app.host.instance.clone() {
                return app.open_host(h);
            }
        }
        _ => {}
    }
    Vec::new()
}

/// Keys while typing the filter.
pub fn edit(app: &mut App, k: KeyEvent) -> Vec<Command> {
    let p = &mut app.processes;
    match k.code {
        KeyCode::Enter => p.filter_editing = false,
        KeyCode::Esc => {
            p.filter_editing = false;
            p.filter.clear();
        }
        KeyCode::Backspace => {
            p.filter.pop();
        }
        KeyCode::Down => return app.move_selection(1),
        KeyCode::Up => return app.move_selection(-1),
        KeyCode::Char(c) if !k.modifiers.contains(KeyModifiers::CONTROL) => {
            p.filter.push(c);
            p.selected = 0;
        }
        _ => {}
    }
    app.processes.clamp();
    Vec::new()
}

/// Shows the processes of the previous or next host of the fleet table.
fn neighbour(app: &mut App, delta: i64) -> Vec<Command> {
    let cur = app.host.instance.clone();
    match app.neighbour_instance(cur.as_deref(), delta) {
        Some(inst) => app.select_host(inst),
        None => Vec::new(),
    }
}

pub fn scroll(app: &mut App, delta: i64) {
    let n = app.processes.visible().len();
    app.processes.selected = crate::views::step(app.processes.selected, delta, n);
}

/// Takes in the groups of `instance`; an answer for a host no longer shown is dropped.
pub fn apply(app: &mut App, instance: String, b: Batch<Vec<ProcessGroup>>) {
    if app.host.instance.as_deref() != Some(instance.as_str()) {
        return;
    }
    let p = &mut app.processes;
    if p.instance.as_deref() != Some(instance.as_str()) {
        p.selected = 0;
    }
    let keep = p.visible().get(p.selected).map(|g| g.name.clone());
    p.instance = Some(instance);
    p.groups = b.data;
    p.loaded = true;
    p.failed = b.failed;
    p.warnings = b.warnings;
    p.at = Some(b.at);
    p.resort();
    if let Some(name) = keep {
        if let Some(i) = p.visible().iter().position(|g| g.name == name) {
            p.selected = i;
        }
    }
    p.clamp();
}

/// Runs the processes queries of one host.
pub async fn fetch_processes(
    client: &PromClient,
    queries: &Queries,
    instance: &str,
) -> Batch<Vec<ProcessGroup>> {
    let at = now_unix();
    let t0 = Instant::now();
    let qs = ProcessQuery::ALL
        .iter()
        .map(|q| {
            (
                *q,
                format!("processes {q:?}"),
                queries.processes(*q, instance),
            )
        })
        .collect();
    let (res, failed, warnings) = run_instants(client, qs).await;
    Batch {
        data: build_processes(&res),
        failed,
        warnings,
        elapsed: t0.elapsed(),
        at,
        pending: Vec::new(),
    }
}
