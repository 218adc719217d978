//! The interactive loop: sets the terminal up (and always restores it: on exit, on error and on
//! panic), starts the collection task and an input thread, and draws whenever the one event
//! channel delivers something.

use std::io::{stdout, Stdout};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use crossterm::cursor::Show;
use crossterm::event::{self, DisableMouseCapture, EnableMouseCapture};
use crossterm::execute;
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;
use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};

use crate::app::{App, AppEvent, Settings};
use crate::collect::{Collector, Command};
use crate::prom::PromClient;
use crate::queries::Queries;
use crate::ui;

/// Puts the terminal back: raw mode off, main screen, mouse released, cursor shown. Safe to call
/// more than once and when setup got only half way.
pub fn restore_terminal() {
    let _ = disable_raw_mode();
    let _ = execute!(stdout(), DisableMouseCapture, LeaveAlternateScreen, Show);
}

/// Restores the terminal when dropped, whatever way the loop ends.
struct TerminalGuard;

impl TerminalGuard {
    fn enter() -> anyhow::Result<Self> {
        // Restore before the default hook prints the panic, or the message lands on the
        // alternate screen and vanishes.
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore_terminal();
            prev(info);
        }));
        enable_raw_mode().context("cannot switch the terminal to raw mode")?;
        let guard = TerminalGuard;
        execute!(stdout(), EnterAlternateScreen, EnableMouseCapture)
            .context("cannot set up the terminal")?;
        Ok(guard)
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore_terminal();
    }
}

/// Reads keys, mouse and resizes into the event channel, with a tick every second so clocks and
/// countdowns move. Stops when `stop` is set or the channel closes.
fn spawn_input(
    tx: UnboundedSender<AppEvent>,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut last_tick = Instant::now();
        while !stop.load(Ordering::Relaxed) {
            match event::poll(Duration::from_millis(200)) {
                Ok(true) => match event::read() {
                    Ok(ev) => {
                        if tx.send(AppEvent::Input(ev)).is_err() {
                            return;
                        }
                    }
                    Err(_) => return,
                },
                Ok(false) => {}
                Err(_) => return,
            }
            if last_tick.elapsed() >= Duration::from_secs(1) {
                last_tick = Instant::now();
                if tx.send(AppEvent::Tick).is_err() {
                    return;
                }
            }
        }
    })
}

/// Starts a collection task whose updates reach the drawing loop only while it is the latest
/// one: after a context switch, answers of the old server still in flight are dropped.
fn spawn_collector(
    rt: &tokio::runtime::Runtime,
    collector: Collector,
    events: &UnboundedSender<AppEvent>,
    generation: &Arc<AtomicU64>,
) -> UnboundedSender<Command> {
    let _ctx = rt.enter();
    let mine = generation.fetch_add(1, Ordering::SeqCst) + 1;
    let (tx, mut rx) = unbounded_channel::<AppEvent>();
    let out = events.clone();
    let current = generation.clone();
    tokio::spawn(async move {
        while let Some(ev) = rx.recv().await {
            if current.load(Ordering::SeqCst) != mine {
                return;
            }
            if out.send(ev).is_err() {
                return;
            }
        }
    });
    collector.spawn(tx)
}

/// The config file's contexts: the one in use, every one with what it resolves to (or why it
/// cannot be used), and the saved queries.
#[derive(Debug, Default)]
pub struct Contexts {
    pub current: Option<String>,
    pub all: Vec<(String, Result<crate::cli::Target, String>)>,
    pub saved_queries: Vec<(String, String)>,
}

/// Runs the interactive client until the user quits.
pub fn run(
    settings: Settings,
    client: PromClient,
    queries: Queries,
    contexts: Contexts,
) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let refresh = settings.refresh;
    let guard = TerminalGuard::enter()?;
    let mut terminal: Terminal<CrosstermBackend<Stdout>> =
        Terminal::new(CrosstermBackend::new(stdout())).context("cannot open the terminal")?;

    let (ev_tx, mut ev_rx) = unbounded_channel::<AppEvent>();
    let generation = Arc::new(AtomicU64::new(0));
    let mut cmd_tx = spawn_collector(
        &rt,
        Collector::new(
            client,
            queries,
            refresh,
            crate::app::RANGES[crate::app::DEFAULT_RANGE],
        ),
        &ev_tx,
        &generation,
    );
    let stop = Arc::new(AtomicBool::new(false));
    let input = spawn_input(ev_tx.clone(), stop.clone());

    let listed = contexts
        .all
        .iter()
        .map(|(n, t)| {
            let detail = match t {
                Ok(t) => format!("{} (job {})", t.client.url, t.job),
                Err(e) => format!("cannot be used: {e}"),
            };
            (n.clone(), detail)
        })
        .collect();
    let mut app = App::new(settings).with_config(
        listed,
        contexts.current.clone(),
        contexts.saved_queries.clone(),
    );
    if std::env::var_os("SYSMON_TOP_PANIC_AFTER_DRAW").is_some() {
        // For the test that the terminal is restored after a panic (tests/pty.rs): a real
        // panic, on the drawing thread, after the terminal was set up and drawn on.
        terminal
            .draw(|f| ui::draw(f, &app))
            .context("cannot draw")?;
        panic!("SYSMON_TOP_PANIC_AFTER_DRAW is set: panicking as asked");
    }
    let result = (|| -> anyhow::Result<()> {
        loop {
            terminal
                .draw(|f| ui::draw(f, &app))
                .context("cannot draw")?;
            let Some(ev) = ev_rx.blocking_recv() else {
                return Ok(());
            };
            let mut cmds = app.handle_event(ev);
            // Take everything already queued before drawing again.
            while let Ok(ev) = ev_rx.try_recv() {
                cmds.extend(app.handle_event(ev));
            }
            for c in cmds {
                match c {
                    Command::SwitchContext(name) => {
                        let target = contexts
                            .all
                            .iter()
                            .find(|(n, _)| *n == name)
                            .map(|(_, t)| t.clone());
                        let started = match target {
                            Some(Ok(t)) => PromClient::new(&t.client)
                                .map(|client| (t, client))
                                .map_err(|e| e.to_string()),
                            Some(Err(e)) => Err(e),
                            None => Err(format!("no context {name:?}")),
                        };
                        match started {
                            Ok((t, client)) => {
                                // The old collection task stops; a new one asks the new server.
                                let _ = cmd_tx.send(Command::Shutdown);
                                let url = client.base_url().to_string();
                                cmd_tx = spawn_collector(
                                    &rt,
                                    Collector::new(
                                        client,
                                        Queries::new(&t.job),
                                        t.refresh,
                                        app.range(),
                                    ),
                                    &ev_tx,
                                    &generation,
                                );
                                let settings = Settings {
                                    url,
                                    job: t.job.clone(),
                                    refresh: t.refresh,
                                    no_color: app.settings.no_color,
                                };
                                for c in app.switch_context(name, settings) {
                                    let _ = cmd_tx.send(c);
                                }
                            }
                            Err(e) => {
                                app.conn.error = Some(crate::prom::PromError::Setup(format!(
                                    "context {name:?}: {e}"
                                )));
                            }
                        }
                    }
                    c => {
                        let _ = cmd_tx.send(c);
                    }
                }
            }
            if app.quit {
                return Ok(());
            }
        }
    })();
    stop.store(true, Ordering::Relaxed);
    let _ = cmd_tx.send(Command::Shutdown);
    drop(guard);
    let _ = input.join();
    rt.shutdown_timeout(Duration::from_millis(200));
    result
}
