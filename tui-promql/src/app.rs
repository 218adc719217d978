//! The state shared by every view and the keys that work everywhere. The app never does I/O:
//! keys change its state and return [`Command`]s for the collection task; [`Update`]s from that
//! task change its data. Each view's own state, keys and drawing are in `views/`; drawing only
//! reads the app.

use std::cell::Cell;
use std::time::{Duration, Instant};

use crossterm::event::{
    Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};

pub use crate::event::{AppEvent, View};
pub use crate::views::anomalies::AnomalyState;
pub use crate::views::fleet::FleetState;
pub use crate::views::host::HostState;
pub use crate::views::processes::ProcessesState;
pub use crate::views::query::{QueryOutcome, QueryState};

use crate::event::{Command, Status, Update};
use crate::prom::PromError;
use crate::views;

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

/// What a picker overlay chooses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PickerKind {
    /// A context of the config file (`c`).
    Context,
    /// A saved query of the config file (Ctrl-O in the query view).
    SavedQuery,
}

/// A list overlay to choose one item from: `(name, detail)` items.
#[derive(Debug, Clone, PartialEq)]
pub struct Picker {
    pub kind: PickerKind,
    pub items: Vec<(String, String)>,
    pub selected: usize,
}

/// Where things were drawn, so a mouse click can be mapped back (written by `ui`).
#[derive(Debug, Default)]
pub struct HitAreas {
    /// `(x start, x end)` of each tab on the first line.
    pub tabs: Cell<[(u16, u16); View::ALL.len()]>,
    /// First screen line of the fleet table's body and the index of the first row shown.
    pub fleet_body: Cell<(u16, u16, usize)>,
}

/// The whole state of the terminal client.
#[derive(Debug)]
pub struct App {
    pub settings: Settings,
    pub view: View,
    pub show_help: bool,
    /// First line of the help overlay shown, when it is taller than the terminal.
    pub help_scroll: Cell<u16>,
    pub quit: bool,
    pub conn: Connection,
    pub fleet: FleetState,
    pub host: HostState,
    pub anomalies: AnomalyState,
    pub query: QueryState,
    pub processes: ProcessesState,
    /// Index into [`RANGES`]: the host view's range and the anomalies view's "recent".
    pub range_idx: usize,
    pub hit: HitAreas,
    /// Set by `ui` to the height of the scrollable list of the current view.
    pub page: Cell<u16>,
    /// The contexts of the config file and the one in use (`None`: flags only).
    pub contexts: Vec<(String, String)>,
    pub context: Option<String>,
    /// The config file's saved queries: `(name, expr)`.
    pub saved_queries: Vec<(String, String)>,
    pub picker: Option<Picker>,
}

impl App {
    pub fn new(settings: Settings) -> Self {
        App {
            settings,
            view: View::Fleet,
            show_help: false,
            help_scroll: Cell::new(0),
            quit: false,
            conn: Connection::default(),
            fleet: FleetState::default(),
            host: HostState::default(),
            anomalies: AnomalyState::default(),
            query: QueryState {
                next_id: 1,
                ..QueryState::default()
            },
            processes: ProcessesState::default(),
            range_idx: DEFAULT_RANGE,
            hit: HitAreas::default(),
            page: Cell::new(10),
            contexts: Vec::new(),
            context: None,
            saved_queries: Vec::new(),
            picker: None,
        }
    }

    /// The config file's contexts (`(name, URL or why it cannot be used)`), the one in use, and
    /// its saved queries (also put in the query history, so ↑ reaches them).
    pub fn with_config(
        mut self,
        contexts: Vec<(String, String)>,
        current: Option<String>,
        saved_queries: Vec<(String, String)>,
    ) -> Self {
        self.contexts = contexts;
        self.context = current;
        self.query.history = saved_queries.iter().map(|(_, e)| e.clone()).collect();
        self.saved_queries = saved_queries;
        self
    }

    /// Now looking at another Prometheus: the data of the last one goes, the view stays (the
    /// fleet instead of a host of the last one).
    pub fn switch_context(&mut self, name: String, settings: Settings) -> Vec<Command> {
        self.settings = Settings {
            no_color: self.settings.no_color,
            ..settings
        };
        self.context = Some(name);
        self.conn = Connection::default();
        self.fleet = FleetState::default();
        self.host = HostState::default();
        self.anomalies = AnomalyState::default();
        self.processes = ProcessesState::default();
        self.query.last = None;
        self.query.pending = None;
        self.query.metadata = None;
        if views::follows_host(self.view) {
            self.view = View::Fleet;
        }
        let mut cmds = vec![Command::SetView(self.view), Command::SetRange(self.range())];
        if self.view == View::Query {
            cmds.push(Command::LoadMetadata);
        }
        cmds
    }

    /// Keys of an open picker: move, choose, close.
    fn picker_key(&mut self, k: KeyEvent) -> Vec<Command> {
        let Some(p) = self.picker.as_mut() else {
            return Vec::new();
        };
        let n = p.items.len();
        match k.code {
            KeyCode::Down | KeyCode::Char('j') => p.selected = views::step(p.selected, 1, n),
            KeyCode::Up | KeyCode::Char('k') => p.selected = views::step(p.selected, -1, n),
            KeyCode::Enter => {
                let kind = p.kind;
                let item = p.items.get(p.selected).cloned();
                self.picker = None;
                if let Some((name, detail)) = item {
                    return match kind {
                        PickerKind::Context => vec![Command::SwitchContext(name)],
                        PickerKind::SavedQuery => {
                            self.query.input = detail;
                            self.query.cursor = self.query.input.chars().count();
                            self.query.editing = false;
                            views::query::run_query(self)
                        }
                    };
                }
            }
            _ => self.picker = None,
        }
        Vec::new()
    }

    /// Opens a picker of `items`, the `current` one selected.
    pub fn open_picker(
        &mut self,
        kind: PickerKind,
        items: Vec<(String, String)>,
        current: Option<&str>,
    ) {
        let selected = current
            .and_then(|c| items.iter().position(|(n, _)| n == c))
            .unwrap_or(0);
        self.picker = Some(Picker {
            kind,
            items,
            selected,
        });
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
            // The views' own data.
            u => views::apply(self, u),
        }
    }

    /// Switches view, telling the collection task what to fetch.
    pub fn set_view(&mut self, v: View) -> Vec<Command> {
        if v == self.view {
            return Vec::new();
        }
        self.view = v;
        let mut cmds = Vec::new();
        if views::follows_host(v) && self.host.instance.is_none() {
            if let Some(r) = self.fleet.selected_row() {
                let inst = r.instance.clone();
                cmds.extend(self.select_host(inst));
            }
        }
        cmds.push(Command::SetView(v));
        cmds.extend(views::on_enter(self, v));
        cmds
    }

    /// Makes `instance` the selected host (of the host and processes views) without switching
    /// view.
    pub fn select_host(&mut self, instance: String) -> Vec<Command> {
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
        let mut cmds = self.select_host(instance);
        self.view = View::Host;
        cmds.push(Command::SetView(View::Host));
        cmds
    }

    /// The host `delta` rows before or after `current` in the fleet table (in its current order
    /// and filter, wrapping around), selected there.
    pub fn neighbour_instance(&mut self, current: Option<&str>, delta: i64) -> Option<String> {
        let vis = self.fleet.visible();
        if vis.is_empty() {
            return None;
        }
        let cur = current
            .and_then(|h| vis.iter().position(|r| r.instance == h))
            .unwrap_or(0) as i64;
        let n = vis.len() as i64;
        let i = (cur + delta).rem_euclid(n) as usize;
        let inst = vis[i].instance.clone();
        self.fleet.selected = i;
        Some(inst)
    }

    /// `+`/`-`: the shared time range (host history, "recent" anomalies).
    pub fn change_range(&mut self, wider: bool) -> Vec<Command> {
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
                    Vec::new()
                } else {
                    views::click(self, m.row)
                }
            }
            _ => Vec::new(),
        }
    }

    /// Moves the selection (or scrolls) of the current view.
    pub fn move_selection(&mut self, delta: i64) -> Vec<Command> {
        views::scroll(self, delta);
        Vec::new()
    }

    /// The height of the current view's list, for PgUp/PgDn.
    pub fn page(&self) -> i64 {
        self.page.get().max(1) as i64
    }

    /// Handles one key press: the view taking text gets every key; then the keys that work
    /// everywhere; then the view's own.
    pub fn handle_key(&mut self, k: KeyEvent) -> Vec<Command> {
        if k.kind == KeyEventKind::Release {
            return Vec::new();
        }
        let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl && matches!(k.code, KeyCode::Char('c')) {
            self.quit = true;
            return vec![Command::Shutdown];
        }
        if self.picker.is_some() {
            return self.picker_key(k);
        }
        if self.show_help {
            match k.code {
                KeyCode::Char('q') => {
                    self.quit = true;
                    return vec![Command::Shutdown];
                }
                // The arrows scroll a help taller than the terminal; any other key closes it.
                KeyCode::Down | KeyCode::Char('j') => self
                    .help_scroll
                    .set(self.help_scroll.get().saturating_add(1)),
                KeyCode::Up | KeyCode::Char('k') => self
                    .help_scroll
                    .set(self.help_scroll.get().saturating_sub(1)),
                KeyCode::PageDown => self
                    .help_scroll
                    .set(self.help_scroll.get().saturating_add(10)),
                KeyCode::PageUp => self
                    .help_scroll
                    .set(self.help_scroll.get().saturating_sub(10)),
                _ => {
                    self.show_help = false;
                    self.help_scroll.set(0);
                }
            }
            return Vec::new();
        }
        if views::editing(self) {
            return views::edit(self, k);
        }
        if views::claims(self, &k) {
            return views::key(self, k);
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
            KeyCode::Char(c @ '1'..='9') => {
                let i = (c as u8 - b'1') as usize;
                return match View::ALL.get(i) {
                    Some(v) => self.set_view(*v),
                    None => Vec::new(),
                };
            }
            KeyCode::Char('r') => return views::refresh(self),
            KeyCode::Char('c') => {
                if !self.contexts.is_empty() {
                    let items = self.contexts.clone();
                    let cur = self.context.clone();
                    self.open_picker(PickerKind::Context, items, cur.as_deref());
                }
                return Vec::new();
            }
            _ => {}
        }
        views::key(self, k)
    }

    /// The errors and warnings of the data on screen now (for the banner).
    pub fn view_problems(&self) -> (&[(String, PromError)], &[String]) {
        views::problems(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Batch;
    use crate::model::{FleetRow, SortKey};

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
    fn typing_in_the_query_view_starts_a_query_and_loses_no_key() {
        let mut a = app();
        a.handle_event(key(KeyCode::Char('4')));
        // Every character of the query is text, `q` and `r` included.
        for c in "quantile(0.9, rate(up[5m]))".chars() {
            a.handle_event(key(KeyCode::Char(c)));
        }
        assert!(!a.quit);
        assert!(a.query.editing);
        assert_eq!(a.query.input, "quantile(0.9, rate(up[5m]))");
        let cmds = a.handle_event(key(KeyCode::Enter));
        assert!(
            matches!(&cmds[..], [Command::RunQuery { expr, .. }] if expr.starts_with("quantile"))
        );
        // Typing again starts a new query; the last one is in the history.
        a.handle_event(key(KeyCode::Char('u')));
        assert_eq!(a.query.input, "u");
        a.handle_event(key(KeyCode::Esc));
        // Outside editing, `+` is still the range, `?` the help, digits the views.
        let cmds = a.handle_event(key(KeyCode::Char('+')));
        assert!(matches!(
            &cmds[..],
            [Command::RunQuery { range: Some(_), .. }]
        ));
        a.handle_event(key(KeyCode::Char('?')));
        assert!(a.show_help);
        a.handle_event(key(KeyCode::Esc));
        a.handle_event(key(KeyCode::Char('1')));
        assert_eq!(a.view, View::Fleet);
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
