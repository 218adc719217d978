//! Widget state and key handling. The app never does I/O: keys change its state and return
//! [`Command`]s for the collection task; [`Update`]s from that task change its data. Drawing
//! (`ui/`) only reads it.

use std::cell::Cell;
use std::time::{Duration, Instant};

use crossterm::event::{
    Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};

use crate::collect::{Batch, Command, Status, Update};
use crate::model::{
    filter_rows, sort_rows, AnomalyBoard, FleetRow, HostDetail, HostHistory, SortKey,
};
use crate::prom::{PromError, QueryResult};

/// The four views, in tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum View {
    Fleet,
    Host,
    Anomalies,
    Query,
}

impl View {
    pub const ALL: [View; 4] = [View::Fleet, View::Host, View::Anomalies, View::Query];

    pub fn title(self) -> &'static str {
        match self {
            View::Fleet => "Fleet",
            View::Host => "Host",
            View::Anomalies => "Anomalies",
            View::Query => "Query",
        }
    }

    pub fn index(self) -> usize {
        View::ALL.iter().position(|v| *v == self).unwrap_or(0)
    }
}

/// Everything the drawing loop reacts to, on one channel: keys and mouse, a clock tick (for
/// "updated 3 s ago" and retry countdowns), and data from the collection task.
#[derive(Debug)]
pub enum AppEvent {
    Input(Event),
    Tick,
    Update(Update),
}

/// The time ranges `+` and `-` step through.
pub const RANGES: [Duration; 9] = [
    Duration::from_secs(5 * 60),
    Duration::from_secs(15 * 60),
    Duration::from_secs(3600),
    Duration::from_secs(3 * 3600),
    Duration::from_secs(6 * 3600),
    Duration::from_secs(12 * 3600),
    Duration::from_secs(86400),
    Duration::from_secs(3 * 86400),
    Duration::from_secs(7 * 86400),
];

/// Index of 1 h in [`RANGES`], the default.
pub const DEFAULT_RANGE: usize = 2;

/// Fixed settings shown in the title bar.
#[derive(Debug, Clone)]
pub struct Settings {
    pub url: String,
    pub job: String,
    pub refresh: Duration,
    pub no_color: bool,
}

/// Whether Prometheus answers, and since when it does not.
#[derive(Debug, Clone, Default)]
pub struct Connection {
    pub error: Option<PromError>,
    pub attempt: u32,
    pub retry_at: Option<Instant>,
    pub last_ok: Option<Instant>,
    pub last_elapsed: Option<Duration>,
}

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

    fn resort(&mut self) {
        let key = self.sort_key();
        sort_rows(&mut self.rows, key, self.reverse);
    }

    fn clamp(&mut self) {
        let n = self.visible().len();
        if n == 0 {
            self.selected = 0;
        } else if self.selected >= n {
            self.selected = n - 1;
        }
    }
}

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

#[derive(Debug, Clone, Default)]
pub struct AnomalyState {
    pub board: AnomalyBoard,
    pub loaded: bool,
    pub selected: usize,
    pub failed: Vec<(String, PromError)>,
    pub warnings: Vec<String>,
    pub at: Option<f64>,
}

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

/// Where things were drawn, so a mouse click can be mapped back (written by `ui`).
#[derive(Debug, Default)]
pub struct HitAreas {
    /// `(x start, x end)` of each tab on the first line.
    pub tabs: Cell<[(u16, u16); 4]>,
    /// First screen line of the fleet table's body and the index of the first row shown.
    pub fleet_body: Cell<(u16, u16, usize)>,
}

/// The whole state of the terminal client.
#[derive(Debug)]
pub struct App {
    pub settings: Settings,
    pub view: View,
    pub show_help: bool,
    pub quit: bool,
    pub conn: Connection,
    pub fleet: FleetState,
    pub host: HostState,
    pub anomalies: AnomalyState,
    pub query: QueryState,
    /// Index into [`RANGES`]: the host view's range and the anomalies view's "recent".
    pub range_idx: usize,
    pub hit: HitAreas,
    /// Set by `ui` to the height of the scrollable list of the current view.
    pub page: Cell<u16>,
}

impl App {
    pub fn new(settings: Settings) -> Self {
        App {
            settings,
            view: View::Fleet,
            show_help: false,
            quit: false,
            conn: Connection::default(),
            fleet: FleetState::default(),
            host: HostState::default(),
            anomalies: AnomalyState::default(),
            query: QueryState {
                next_id: 1,
                ..QueryState::default()
            },
            range_idx: DEFAULT_RANGE,
            hit: HitAreas::default(),
            page: Cell::new(10),
        }
    }

    pub fn range(&self) -> Duration {
        RANGES[self.range_idx.min(RANGES.len() - 1)]
    }

    /// Handles one event; returns what the collection task must do.
    pub fn handle_event(&mut self, ev: AppEvent) -> Vec<Command> {
        match ev {
            AppEvent::Input(Event::Key(k)) => self.handle_key(k),
            AppEvent::Input(Event::Mouse(m)) => self.handle_mouse(m),
            AppEvent::Input(_) | AppEvent::Tick => Vec::new(),
            AppEvent::Update(u) => {
                self.apply(u);
                Vec::new()
            }
        }
    }

    /// Takes in data from the collection task.
    pub fn apply(&mut self, u: Update) {
        match u {
            Update::Fleet(b) => self.apply_fleet(b),
            Update::Host {
                instance,
                detail,
                history,
                range,
            } => {
                if self.host.instance.as_deref() != Some(instance.as_str()) {
                    return;
                }
                let detail = *detail;
                self.host.failed = detail.failed;
                self.host.warnings = detail.warnings;
                self.host.at = Some(detail.at);
                self.host.detail = Some(detail.data);
                if let Some(h) = history.map(|h| *h) {
                    self.host.failed.extend(h.failed);
                    for w in h.warnings {
                        if !self.host.warnings.contains(&w) {
                            self.host.warnings.push(w);
                        }
                    }
                    self.host.history = h.data;
                    self.host.history_range = Some(range);
                }
            }
            Update::Anomalies(b) => {
                self.anomalies.board = b.data;
                self.anomalies.loaded = true;
                self.anomalies.failed = b.failed;
                self.anomalies.warnings = b.warnings;
                self.anomalies.at = Some(b.at);
                let n = self.anomalies.board.active.len() + self.anomalies.board.recent.len();
                if self.anomalies.selected >= n {
                    self.anomalies.selected = n.saturating_sub(1);
                }
            }
            Update::Query {
                id,
                expr,
                range,
                step,
                result,
                elapsed,
            } => {
                if self.query.pending == Some(id) {
                    self.query.pending = None;
                    self.query.scroll = 0;
                    self.query.last = Some(QueryOutcome {
                        expr,
                        range,
                        step,
                        result,
                        elapsed,
                    });
                }
            }
            Update::Status(Status::Ok { elapsed }) => {
                self.conn.error = None;
                self.conn.attempt = 0;
                self.conn.retry_at = None;
                self.conn.last_ok = Some(Instant::now());
                self.conn.last_elapsed = Some(elapsed);
            }
            Update::Status(Status::Unreachable {
                error,
                attempt,
                retry_in,
            }) => {
                self.conn.error = Some(error);
                self.conn.attempt = attempt;
                self.conn.retry_at = Some(Instant::now() + retry_in);
            }
        }
    }

    fn apply_fleet(&mut self, b: Batch<Vec<FleetRow>>) {
        let keep = self.fleet.selected_row().map(|r| r.instance.clone());
        self.fleet.rows = b.data;
        self.fleet.loaded = true;
        self.fleet.failed = b.failed;
        self.fleet.warnings = b.warnings;
        self.fleet.at = Some(b.at);
        self.fleet.pending = b.pending;
        self.fleet.resort();
        if let Some(inst) = keep {
            if let Some(i) = self.fleet.visible().iter().position(|r| r.instance == inst) {
                self.fleet.selected = i;
            }
        }
        self.fleet.clamp();
    }

    /// Switches view, telling the collection task what to fetch.
    pub fn set_view(&mut self, v: View) -> Vec<Command> {
        if v == self.view {
            return Vec::new();
        }
        self.view = v;
        let mut cmds = Vec::new();
        if v == View::Host && self.host.instance.is_none() {
            if let Some(r) = self.fleet.selected_row() {
                let inst = r.instance.clone();
                cmds.extend(self.open_host_cmds(inst));
            }
        }
        cmds.push(Command::SetView(v));
        cmds
    }

    fn open_host_cmds(&mut self, instance: String) -> Vec<Command> {
        if self.host.instance.as_deref() != Some(instance.as_str()) {
            self.host = HostState {
                instance: Some(instance.clone()),
                ..HostState::default()
            };
        }
        vec![Command::SelectHost(instance)]
    }

    /// Opens the host view on `instance`.
    pub fn open_host(&mut self, instance: String) -> Vec<Command> {
        let mut cmds = self.open_host_cmds(instance);
        self.view = View::Host;
        cmds.push(Command::SetView(View::Host));
        cmds
    }

    fn change_range(&mut self, wider: bool) -> Vec<Command> {
        let old = self.range_idx;
        if wider {
            self.range_idx = (self.range_idx + 1).min(RANGES.len() - 1);
        } else {
            self.range_idx = self.range_idx.saturating_sub(1);
        }
        if old == self.range_idx {
            Vec::new()
        } else {
            vec![Command::SetRange(self.range())]
        }
    }

    pub fn handle_mouse(&mut self, m: MouseEvent) -> Vec<Command> {
        match m.kind {
            MouseEventKind::ScrollDown => self.move_selection(1),
            MouseEventKind::ScrollUp => self.move_selection(-1),
            MouseEventKind::Down(MouseButton::Left) => {
                if m.row == 0 {
                    let tabs = self.hit.tabs.get();
                    if let Some(i) = tabs
                        .iter()
                        .position(|(a, b)| m.column >= *a && m.column < *b)
                    {
                        return self.set_view(View::ALL[i]);
                    }
                } else if self.view == View::Fleet {
                    let (top, height, offset) = self.hit.fleet_body.get();
                    if m.row >= top && m.row < top + height {
                        let i = offset + (m.row - top) as usize;
                        if i < self.fleet.visible().len() {
                            if self.fleet.selected == i {
                                // A second click on the selected row opens it.
                                if let Some(r) = self.fleet.selected_row() {
                                    let inst = r.instance.clone();
                                    return self.open_host(inst);
                                }
                            }
                            self.fleet.selected = i;
                        }
                    }
                }
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    fn move_selection(&mut self, delta: i64) -> Vec<Command> {
        let step = |cur: usize, n: usize| -> usize {
            if n == 0 {
                return 0;
            }
            (cur as i64 + delta).clamp(0, n as i64 - 1) as usize
        };
        match self.view {
            View::Fleet => {
                let n = self.fleet.visible().len();
                self.fleet.selected = step(self.fleet.selected, n);
            }
            View::Host => {
                self.host.scroll = (self.host.scroll as i64 + delta).clamp(0, 200) as u16;
            }
            View::Anomalies => {
                let n = self.anomalies.board.active.len()
                    + self.anomalies.board.recent.len()
                    + self.anomalies.board.alerts.len();
                self.anomalies.selected = step(self.anomalies.selected, n);
            }
            View::Query => {
                self.query.scroll = (self.query.scroll as i64 + delta).max(0) as usize;
            }
        }
        Vec::new()
    }

    /// Handles one key press.
    pub fn handle_key(&mut self, k: KeyEvent) -> Vec<Command> {
        if k.kind == KeyEventKind::Release {
            return Vec::new();
        }
        let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl && matches!(k.code, KeyCode::Char('c')) {
            self.quit = true;
            return vec![Command::Shutdown];
        }
        if self.show_help {
            match k.code {
                KeyCode::Char('q') => {
                    self.quit = true;
                    return vec![Command::Shutdown];
                }
                _ => self.show_help = false,
            }
            return Vec::new();
        }
        if self.view == View::Query && self.query.editing {
            return self.edit_query(k);
        }
        if self.view == View::Fleet && self.fleet.filter_editing {
            return self.edit_filter(k);
        }
        match k.code {
            KeyCode::Char('q') => {
                self.quit = true;
                return vec![Command::Shutdown];
            }
            KeyCode::Char('?') => {
                self.show_help = true;
                return Vec::new();
            }
            KeyCode::Tab => {
                let next = View::ALL[(self.view.index() + 1) % View::ALL.len()];
                return self.set_view(next);
            }
            KeyCode::BackTab => {
                let n = View::ALL.len();
                let prev = View::ALL[(self.view.index() + n - 1) % n];
                return self.set_view(prev);
            }
            KeyCode::Char(c @ '1'..='4') => {
                let i = (c as u8 - b'1') as usize;
                return self.set_view(View::ALL[i]);
            }
            KeyCode::Char('r') => {
                if self.view == View::Query {
                    return self.run_query();
                }
                return vec![Command::RefreshNow];
            }
            _ => {}
        }
        match self.view {
            View::Fleet => self.fleet_key(k),
            View::Host => self.host_key(k),
            View::Anomalies => self.anomalies_key(k),
            View::Query => self.query_key(k),
        }
    }

    fn page(&self) -> i64 {
        self.page.get().max(1) as i64
    }

    fn fleet_key(&mut self, k: KeyEvent) -> Vec<Command> {
        match k.code {
            KeyCode::Down | KeyCode::Char('j') => self.move_selection(1),
            KeyCode::Up | KeyCode::Char('k') => self.move_selection(-1),
            KeyCode::PageDown => self.move_selection(self.page()),
            KeyCode::PageUp => self.move_selection(-self.page()),
            KeyCode::Home | KeyCode::Char('g') => {
                self.fleet.selected = 0;
                Vec::new()
            }
            KeyCode::End | KeyCode::Char('G') => self.move_selection(i64::from(u32::MAX)),
            KeyCode::Enter | KeyCode::Right | KeyCode::Char('l') => {
                match self.fleet.selected_row() {
                    Some(r) => {
                        let inst = r.instance.clone();
                        self.open_host(inst)
                    }
                    None => Vec::new(),
                }
            }
            KeyCode::Char('/') => {
                self.fleet.filter_editing = true;
                Vec::new()
            }
            KeyCode::Char('s') => {
                self.fleet.sort = Some(self.fleet.sort_key().next());
                self.fleet.reverse = false;
                self.fleet.resort();
                self.fleet.selected = 0;
                Vec::new()
            }
            KeyCode::Char('S') => {
                self.fleet.reverse = !self.fleet.reverse;
                self.fleet.resort();
                Vec::new()
            }
            KeyCode::Esc => {
                self.fleet.filter.clear();
                self.fleet.clamp();
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    fn edit_filter(&mut self, k: KeyEvent) -> Vec<Command> {
        match k.code {
            KeyCode::Enter => self.fleet.filter_editing = false,
            KeyCode::Esc => {
                self.fleet.filter_editing = false;
                self.fleet.filter.clear();
            }
            KeyCode::Backspace => {
                self.fleet.filter.pop();
            }
            KeyCode::Down => {
                return self.move_selection(1);
            }
            KeyCode::Up => {
                return self.move_selection(-1);
            }
            KeyCode::Char(c) if !k.modifiers.contains(KeyModifiers::CONTROL) => {
                self.fleet.filter.push(c);
                self.fleet.selected = 0;
            }
            _ => {}
        }
        self.fleet.clamp();
        Vec::new()
    }

    fn host_key(&mut self, k: KeyEvent) -> Vec<Command> {
        match k.code {
            KeyCode::Esc | KeyCode::Backspace => self.set_view(View::Fleet),
            KeyCode::Char('+') | KeyCode::Char('=') => self.change_range(true),
            KeyCode::Char('-') | KeyCode::Char('_') => self.change_range(false),
            KeyCode::Down | KeyCode::Char('j') => self.move_selection(1),
            KeyCode::Up | KeyCode::Char('k') => self.move_selection(-1),
            KeyCode::PageDown => self.move_selection(self.page()),
            KeyCode::PageUp => self.move_selection(-self.page()),
            KeyCode::Home | KeyCode::Char('g') => {
                self.host.scroll = 0;
                Vec::new()
            }
            KeyCode::Left | KeyCode::Char('h') => self.neighbour_host(-1),
            KeyCode::Right | KeyCode::Char('l') => self.neighbour_host(1),
            _ => Vec::new(),
        }
    }

    /// Opens the previous or next host of the fleet table (in its current order and filter).
    fn neighbour_host(&mut self, delta: i64) -> Vec<Command> {
        let vis = self.fleet.visible();
        if vis.is_empty() {
            return Vec::new();
        }
        let cur = self
            .host
            .instance
            .as_deref()
            .and_then(|h| vis.iter().position(|r| r.instance == h))
            .unwrap_or(0) as i64;
        let n = vis.len() as i64;
        let i = (cur + delta).rem_euclid(n) as usize;
        let inst = vis[i].instance.clone();
        self.fleet.selected = i;
        self.open_host(inst)
    }

    fn anomalies_key(&mut self, k: KeyEvent) -> Vec<Command> {
        match k.code {
            KeyCode::Down | KeyCode::Char('j') => self.move_selection(1),
            KeyCode::Up | KeyCode::Char('k') => self.move_selection(-1),
            KeyCode::PageDown => self.move_selection(self.page()),
            KeyCode::PageUp => self.move_selection(-self.page()),
            KeyCode::Char('+') | KeyCode::Char('=') => self.change_range(true),
            KeyCode::Char('-') | KeyCode::Char('_') => self.change_range(false),
            KeyCode::Esc => self.set_view(View::Fleet),
            KeyCode::Enter => {
                let b = &self.anomalies.board;
                let i = self.anomalies.selected;
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
                    Some(inst) => self.open_host(inst),
                    None => Vec::new(),
                }
            }
            _ => Vec::new(),
        }
    }

    /// The ranges of the query view: instant, then the host ranges.
    fn query_range_step(&mut self, wider: bool) {
        let idx = self
            .query
            .range
            .and_then(|r| RANGES.iter().position(|x| *x == r));
        self.query.range = match (idx, wider) {
            (None, true) => Some(RANGES[0]),
            (None, false) => None,
            (Some(i), true) => Some(RANGES[(i + 1).min(RANGES.len() - 1)]),
            (Some(0), false) => None,
            (Some(i), false) => Some(RANGES[i - 1]),
        };
    }

    fn query_key(&mut self, k: KeyEvent) -> Vec<Command> {
        match k.code {
            KeyCode::Enter | KeyCode::Char('i') | KeyCode::Char('e') | KeyCode::Char('/') => {
                self.query.editing = true;
                self.query.cursor = self.query.input.chars().count();
                Vec::new()
            }
            KeyCode::Char('+') | KeyCode::Char('=') => {
                self.query_range_step(true);
                self.rerun_if_any()
            }
            KeyCode::Char('-') | KeyCode::Char('_') => {
                self.query_range_step(false);
                self.rerun_if_any()
            }
            KeyCode::Down | KeyCode::Char('j') => self.move_selection(1),
            KeyCode::Up | KeyCode::Char('k') => self.move_selection(-1),
            KeyCode::PageDown => self.move_selection(self.page()),
            KeyCode::PageUp => self.move_selection(-self.page()),
            KeyCode::Esc => self.set_view(View::Fleet),
            _ => Vec::new(),
        }
    }

    fn rerun_if_any(&mut self) -> Vec<Command> {
        if self.query.input.trim().is_empty() {
            Vec::new()
        } else {
            self.run_query()
        }
    }

    /// Sends the query in the prompt and records it in the history.
    pub fn run_query(&mut self) -> Vec<Command> {
        let expr = self.query.input.trim().to_string();
        if expr.is_empty() {
            return Vec::new();
        }
        if self.query.history.last() != Some(&expr) {
            self.query.history.push(expr.clone());
            if self.query.history.len() > 200 {
                self.query.history.remove(0);
            }
        }
        self.query.history_pos = None;
        let id = self.query.next_id;
        self.query.next_id += 1;
        self.query.pending = Some(id);
        vec![Command::RunQuery {
            id,
            expr,
            range: self.query.range,
        }]
    }

    fn edit_query(&mut self, k: KeyEvent) -> Vec<Command> {
        let q = &mut self.query;
        let len = q.input.chars().count();
        q.cursor = q.cursor.min(len);
        let byte_at =
            |s: &str, i: usize| s.char_indices().nth(i).map(|(b, _)| b).unwrap_or(s.len());
        let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
        match k.code {
            KeyCode::Enter => {
                q.editing = false;
                return self.run_query();
            }
            KeyCode::Esc => q.editing = false,
            KeyCode::Tab => {
                q.editing = false;
                return self.set_view(View::Fleet);
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

    /// The errors and warnings of the data on screen now (for the banner).
    pub fn view_problems(&self) -> (&[(String, PromError)], &[String]) {
        match self.view {
            View::Fleet => (&self.fleet.failed, &self.fleet.warnings),
            View::Host => (&self.host.failed, &self.host.warnings),
            View::Anomalies => (&self.anomalies.failed, &self.anomalies.warnings),
            View::Query => (&[], &[]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::FleetRow;

    fn app() -> App {
        App::new(Settings {
            url: "http://localhost:9090".into(),
            job: "sysmon".into(),
            refresh: Duration::from_secs(2),
            no_color: true,
        })
    }

    fn key(c: KeyCode) -> AppEvent {
        AppEvent::Input(Event::Key(KeyEvent::new(c, KeyModifiers::NONE)))
    }

    fn rows(names: &[&str]) -> Update {
        Update::Fleet(Batch {
            data: names
                .iter()
                .map(|n| FleetRow {
                    instance: n.to_string(),
                    up: Some(true),
                    ..FleetRow::default()
                })
                .collect(),
            failed: vec![],
            warnings: vec![],
            elapsed: Duration::ZERO,
            at: 0.0,
            pending: vec![],
        })
    }

    #[test]
    fn views_switch_with_tab_and_digits_and_tell_the_collector() {
        let mut a = app();
        assert_eq!(
            a.handle_event(key(KeyCode::Tab)),
            vec![Command::SetView(View::Host)]
        );
        assert_eq!(a.view, View::Host);
        a.handle_event(key(KeyCode::Char('4')));
        assert_eq!(a.view, View::Query);
        a.handle_event(key(KeyCode::BackTab));
        assert_eq!(a.view, View::Anomalies);
        a.handle_event(key(KeyCode::Char('?')));
        assert!(a.show_help);
        a.handle_event(key(KeyCode::Esc));
        assert!(!a.show_help);
        assert_eq!(
            a.handle_event(key(KeyCode::Char('q'))),
            vec![Command::Shutdown]
        );
        assert!(a.quit);
    }

    #[test]
    fn enter_opens_the_selected_host_and_selection_follows_updates() {
        let mut a = app();
        a.apply(rows(&["a:1", "b:1", "c:1"]));
        a.handle_event(key(KeyCode::Char('j')));
        a.handle_event(key(KeyCode::Down));
        assert_eq!(a.fleet.selected_row().unwrap().instance, "c:1");
        a.apply(rows(&["c:1", "a:1"]));
        assert_eq!(a.fleet.selected_row().unwrap().instance, "c:1");
        let cmds = a.handle_event(key(KeyCode::Enter));
        assert_eq!(
            cmds,
            vec![
                Command::SelectHost("c:1".into()),
                Command::SetView(View::Host)
            ]
        );
        assert_eq!(a.view, View::Host);
        let cmds = a.handle_event(key(KeyCode::Char('+')));
        assert_eq!(cmds, vec![Command::SetRange(Duration::from_secs(3 * 3600))]);
        for _ in 0..20 {
            a.handle_event(key(KeyCode::Char('-')));
        }
        assert_eq!(a.range(), Duration::from_secs(300));
        a.handle_event(key(KeyCode::Char('l')));
        assert_eq!(a.host.instance.as_deref(), Some("a:1"));
        a.handle_event(key(KeyCode::Esc));
        assert_eq!(a.view, View::Fleet);
    }

    #[test]
    fn filter_and_sort_keys() {
        let mut a = app();
        a.apply(rows(&["alpha:1", "beta:1"]));
        a.handle_event(key(KeyCode::Char('/')));
        for c in "bet".chars() {
            a.handle_event(key(KeyCode::Char(c)));
        }
        // 'q' while typing a filter is text, not quit.
        assert!(!a.quit);
        assert_eq!(a.fleet.visible().len(), 1);
        a.handle_event(key(KeyCode::Enter));
        assert!(!a.fleet.filter_editing);
        assert_eq!(a.fleet.filter, "bet");
        a.handle_event(key(KeyCode::Esc));
        assert_eq!(a.fleet.visible().len(), 2);
        a.handle_event(key(KeyCode::Char('s')));
        assert_eq!(a.fleet.sort_key(), SortKey::Host);
        assert_eq!(a.fleet.rows[0].instance, "alpha:1");
        a.handle_event(key(KeyCode::Char('S')));
        assert_eq!(a.fleet.rows[0].instance, "beta:1");
    }

    #[test]
    fn query_prompt_edits_runs_and_keeps_history() {
        let mut a = app();
        a.handle_event(key(KeyCode::Char('4')));
        a.handle_event(key(KeyCode::Enter));
        assert!(a.query.editing);
        for c in "up q".chars() {
            a.handle_event(key(KeyCode::Char(c)));
        }
        a.handle_event(key(KeyCode::Backspace));
        a.handle_event(key(KeyCode::Backspace));
        assert!(!a.quit, "q typed into the prompt");
        let cmds = a.handle_event(key(KeyCode::Enter));
        assert_eq!(
            cmds,
            vec![Command::RunQuery {
                id: 1,
                expr: "up".into(),
                range: None
            }]
        );
        let cmds = a.handle_event(key(KeyCode::Char('+')));
        assert_eq!(
            cmds,
            vec![Command::RunQuery {
                id: 2,
                expr: "up".into(),
                range: Some(Duration::from_secs(300))
            }]
        );
        a.apply(Update::Query {
            id: 1,
            expr: "up".into(),
            range: None,
            step: None,
            result: Err(PromError::Setup("x".into())),
            elapsed: Duration::ZERO,
        });
        assert!(a.query.last.is_none(), "a stale answer is dropped");
        a.handle_event(key(KeyCode::Enter));
        a.handle_event(key(KeyCode::Char('u')));
        a.handle_event(AppEvent::Input(Event::Key(KeyEvent::new(
            KeyCode::Char('u'),
            KeyModifiers::CONTROL,
        ))));
        assert_eq!(a.query.input, "");
        a.handle_event(key(KeyCode::Up));
        assert_eq!(a.query.input, "up");
    }

    #[test]
    fn status_updates_set_and_clear_the_error() {
        let mut a = app();
        a.apply(rows(&["a:1"]));
        a.apply(Update::Status(Status::Unreachable {
            error: PromError::Connect {
                url: "u".into(),
                reason: "Connection refused".into(),
            },
            attempt: 2,
            retry_in: Duration::from_secs(4),
        }));
        assert!(a.conn.error.is_some());
        assert_eq!(a.fleet.rows.len(), 1, "last data kept");
        a.apply(Update::Status(Status::Ok {
            elapsed: Duration::from_millis(5),
        }));
        assert!(a.conn.error.is_none());
    }
}
