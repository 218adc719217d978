//! Rendering tests of everyday use: a host that is down says since when (fleet and host view),
//! the help overlay fits its text at every size without cutting a line and keeps its key column
//! aligned, typing in the query view starts a query.

use std::time::Duration;

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

use sysmon_top::app::{App, AppEvent, Settings};
use sysmon_top::collect::{Batch, Update};
use sysmon_top::model::{build_host, set_down_since, FleetRow, Instants};
use sysmon_top::prom::Sample;
use sysmon_top::queries::HostQuery;
use sysmon_top::ui;

fn app() -> App {
    App::new(Settings {
        url: "http://prom.example:9090/".into(),
        job: "sysmon".into(),
        refresh: Duration::from_secs(2),
        no_color: true,
    })
}

fn batch<T>(data: T, at: f64) -> Batch<T> {
    Batch {
        data,
        failed: vec![],
        warnings: vec![],
        elapsed: Duration::from_millis(3),
        at,
        pending: vec![],
    }
}

fn key(a: &mut App, c: KeyCode) {
    a.handle_event(AppEvent::Input(Event::Key(KeyEvent::new(
        c,
        KeyModifiers::NONE,
    ))));
}

fn draw(app: &App, w: u16, h: u16) -> Vec<String> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| ui::draw(f, app)).unwrap();
    let buf = t.backend().buffer().clone();
    let lines: Vec<String> = (0..h)
        .map(|y| (0..w).map(|x| buf[(x, y)].symbol()).collect())
        .collect();
    if std::env::var_os("SHOW_SCREENS").is_some() {
        eprintln!("{}", lines.join("\n"));
    }
    lines
}

fn row_with<'a>(lines: &'a [String], needle: &str) -> (usize, &'a String) {
    lines
        .iter()
        .enumerate()
        .find(|(_, l)| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle:?} not on screen:\n{}", lines.join("\n")))
}

const NOW: f64 = 1_700_000_000.0;

fn fleet_with_a_down_host() -> Vec<FleetRow> {
    let mut rows = vec![
        FleetRow {
            instance: "10.0.0.1:10101".into(),
            up: Some(true),
            cpu: Some(0.2),
            ..FleetRow::default()
        },
        FleetRow {
            instance: "10.0.0.3:10101".into(),
            name: Some("ci-runner-07".into()),
            up: Some(false),
            ..FleetRow::default()
        },
        FleetRow {
            instance: "10.0.0.4:10101".into(),
            up: Some(false),
            ..FleetRow::default()
        },
    ];
    // Last up 3 h 12 min before the data; the other host not within the lookback.
    let last_up = Sample {
        labels: [("instance".to_string(), "10.0.0.3:10101".to_string())]
            .into_iter()
            .collect(),
        t: NOW,
        v: NOW - 3.0 * 3600.0 - 12.0 * 60.0,
    };
    set_down_since(&mut rows, &[last_up]);
    rows
}

#[test]
fn a_down_host_says_since_when() {
    let rows = fleet_with_a_down_host();
    assert_eq!(rows[1].down_since, Some(NOW - 11520.0));
    assert_eq!(rows[0].down_since, None, "only hosts that are down");
    let mut a = app();
    a.apply(Update::Fleet(batch(rows, NOW)));
    // Wide and narrow: the last column says it either way.
    for w in [160, 80] {
        let lines = draw(&a, w, 12);
        let (_, r) = row_with(&lines, "10.0.0.3:10101");
        assert!(r.contains("DOWN"), "{r}");
        assert!(r.contains("down 3h, since 19:01 UTC"), "width {w}: {r}");
        let (_, r) = row_with(&lines, "10.0.0.4:10101");
        assert!(r.contains("down for over 1d"), "width {w}: {r}");
    }
    // The host view's title too.
    a.open_host("10.0.0.3:10101".into());
    let mut h = Instants::new();
    h.insert(
        HostQuery::Info,
        vec![Sample {
            labels: [
                ("__name__".to_string(), "up".to_string()),
                ("instance".to_string(), "10.0.0.3:10101".to_string()),
            ]
            .into_iter()
            .collect(),
            t: NOW,
            v: 0.0,
        }],
    );
    a.apply(Update::Host {
        instance: "10.0.0.3:10101".into(),
        detail: Box::new(batch(build_host("10.0.0.3:10101", &h), NOW)),
        history: None,
        range: a.range(),
    });
    let lines = draw(&a, 160, 30);
    assert!(
        lines[1]
            .starts_with(" 10.0.0.3:10101 · DOWN: last scrape failed, showing its history · down "),
        "{}",
        lines[1]
    );
}

/// The lines inside the help's box (without the footnote), scrolled through when it is taller
/// than the terminal: the first screen's, then the one line each step down adds.
fn help_lines(a: &mut App, w: u16, h: u16) -> (Vec<String>, bool) {
    let inside = |lines: &[String]| -> Vec<String> {
        let all = lines.join("\n");
        let top = row_with(lines, "sysmon-top keys").0;
        let bottom = (top..lines.len())
            .find(|y| lines[*y].contains('└'))
            .unwrap_or_else(|| panic!("no bottom border:\n{all}"));
        let foot = (top + 1..bottom)
            .find(|y| lines[*y].contains("NO_COLOR=1") || lines[*y].contains("↑↓ scroll"))
            .unwrap_or_else(|| panic!("no footnote:\n{all}"));
        let mut inside = lines[top + 1..foot].to_vec();
        if inside
            .last()
            .is_some_and(|l| l.trim_matches(['│', ' ']).is_empty())
        {
            inside.pop();
        }
        inside
    };
    let first = draw(a, w, h);
    let overflow = first.iter().any(|l| l.contains("↑↓ scroll"));
    let mut out = inside(&first);
    if overflow {
        for _ in 0..200 {
            let before = a.help_scroll.get();
            key(a, KeyCode::Down);
            let lines = draw(a, w, h);
            if a.help_scroll.get() == before {
                break;
            }
            out.push(inside(&lines).last().unwrap().clone());
        }
    }
    (out, overflow)
}

/// Every key and every word of its description is in the help's lines, and the keys of one
/// column start at the same x.
fn assert_help_fits(inside: &[String]) {
    let all = inside.join("\n");
    let mut key_x: Vec<usize> = Vec::new();
    for (_, keys) in ui::help::sections() {
        for (k, what) in keys {
            // A line with the key and, after it, the description's first words, whose next
            // lines hold every word of it (wrapped, not cut). Candidates with more of the first
            // words first: the same keys of two views are told apart so.
            let words: Vec<&str> = what.split(' ').collect();
            let whole = |y: usize| {
                let text = inside[y..]
                    .iter()
                    .take(5)
                    .map(|l| l.as_str())
                    .collect::<Vec<_>>()
                    .join(" ");
                words.iter().all(|w| text.contains(w))
            };
            let found = (1..=words.len()).rev().find_map(|n| {
                let start = words[..n].join(" ");
                inside.iter().enumerate().find(|(y, l)| {
                    l.find(&format!(" {k} "))
                        .is_some_and(|i| l[i + k.len() + 2..].trim_start().starts_with(&start))
                        && whole(*y)
                })
            });
            let (_, l) = found.unwrap_or_else(|| panic!("{k:?}: {what:?} missing or cut:\n{all}"));
            key_x.push(l[..l.find(&format!(" {k} ")).unwrap()].chars().count() + 1);
        }
    }
    key_x.sort();
    key_x.dedup();
    assert!(key_x.len() <= 2, "key columns at {key_x:?}:\n{all}");
}

#[test]
fn help_fits_its_text_at_every_size() {
    let mut a = app();
    a.apply(Update::Fleet(batch(fleet_with_a_down_host(), NOW)));
    for (w, h, scrolls) in [
        (160, 50, false),
        (100, 30, false),
        (80, 40, false),
        (100, 24, true),
        (80, 24, true),
        (60, 12, true),
    ] {
        key(&mut a, KeyCode::Char('?'));
        let (lines, overflow) = help_lines(&mut a, w, h);
        assert_eq!(overflow, scrolls, "{w}x{h}:\n{}", lines.join("\n"));
        assert_help_fits(&lines);
        key(&mut a, KeyCode::Char('x'));
        assert!(!a.show_help);
    }
    key(&mut a, KeyCode::Char('?'));
    // One column when there is room: the keys in one aligned column.
    let lines = draw(&a, 100, 30);
    let xs: Vec<usize> = ["Enter, →, l", "+ -", "s, S"]
        .iter()
        .map(|k| {
            let (_, l) = row_with(&lines, k);
            l[..l.find(k).unwrap()].chars().count()
        })
        .collect();
    assert!(xs.windows(2).all(|w| w[0] == w[1]), "{xs:?}");
}

#[test]
fn typing_in_the_query_view_shows_the_query_being_typed() {
    let mut a = app();
    key(&mut a, KeyCode::Char('4'));
    let lines = draw(&a, 100, 20);
    row_with(&lines, "type a query, e.g. up");
    for c in "rate(up[5m])".chars() {
        key(&mut a, KeyCode::Char(c));
    }
    let lines = draw(&a, 100, 20);
    let (_, prompt) = row_with(&lines, "│rate(up[5m])");
    assert!(prompt.contains("rate(up[5m])"), "{prompt}");
    row_with(&lines, "editing");
    assert!(!a.quit);
}

fn key_mod(a: &mut App, c: KeyCode, m: KeyModifiers) -> Vec<sysmon_top::collect::Command> {
    a.handle_event(AppEvent::Input(Event::Key(KeyEvent::new(c, m))))
}

fn with_config() -> App {
    app().with_config(
        vec![
            ("lab".into(), "http://lab:9090/ (job sysmon)".into()),
            (
                "prod".into(),
                "https://prom.example.com/prometheus/ (job node)".into(),
            ),
            (
                "broken".into(),
                "cannot be used: cannot read the password file /nope".into(),
            ),
        ],
        Some("prod".into()),
        vec![
            (
                "busiest CPUs".into(),
                "topk(5, instance:node_cpu_utilisation:rate5m)".into(),
            ),
            ("down".into(), "up == 0".into()),
        ],
    )
}

#[test]
fn context_picker_switches_and_the_title_names_the_context() {
    use sysmon_top::collect::Command;
    let mut a = with_config();
    a.apply(Update::Fleet(batch(fleet_with_a_down_host(), NOW)));
    let lines = draw(&a, 140, 20);
    assert!(lines[0].contains(" 5 Processes  [prod] "), "{}", lines[0]);
    key(&mut a, KeyCode::Char('c'));
    let lines = draw(&a, 140, 20);
    let (y, _) = row_with(&lines, "contexts (Enter switches, Esc closes)");
    assert!(lines[y + 1].contains("lab") && lines[y + 1].contains("http://lab:9090/ (job sysmon)"));
    let (_, cur) = row_with(&lines, "▶ prod");
    assert!(
        cur.contains("https://prom.example.com/prometheus/ (job node)"),
        "{cur}"
    );
    row_with(
        &lines,
        "cannot be used: cannot read the password file /nope",
    );
    key(&mut a, KeyCode::Up);
    let cmds = key_mod(&mut a, KeyCode::Enter, KeyModifiers::NONE);
    assert_eq!(cmds, vec![Command::SwitchContext("lab".into())]);
    assert!(a.picker.is_none());
    // The drawing loop starts the new collector and tells the app: old data goes.
    a.open_host("10.0.0.1:10101".into());
    let cmds = a.switch_context(
        "lab".into(),
        Settings {
            url: "http://lab:9090/".into(),
            job: "sysmon".into(),
            refresh: Duration::from_secs(5),
            no_color: false,
        },
    );
    assert_eq!(
        a.view,
        sysmon_top::app::View::Fleet,
        "the host was of the other server"
    );
    assert!(a.fleet.rows.is_empty() && a.host.instance.is_none());
    assert!(cmds.contains(&Command::SetView(sysmon_top::app::View::Fleet)));
    assert!(a.settings.no_color, "display flags stay");
    let lines = draw(&a, 140, 20);
    assert!(
        lines[0].contains("[lab]") && lines[0].contains("every 5s"),
        "{}",
        lines[0]
    );
    // Esc closes the picker without switching.
    key(&mut a, KeyCode::Char('c'));
    assert!(key_mod(&mut a, KeyCode::Esc, KeyModifiers::NONE).is_empty());
    assert!(a.picker.is_none());
}

#[test]
fn saved_queries_and_completion_in_the_query_view() {
    use sysmon_top::collect::Command;
    let mut a = with_config();
    let cmds = key_mod(&mut a, KeyCode::Char('4'), KeyModifiers::NONE);
    assert!(cmds.contains(&Command::LoadMetadata), "{cmds:?}");
    let lines = draw(&a, 120, 20);
    row_with(&lines, "Saved queries (Ctrl-O picks one");
    row_with(
        &lines,
        "busiest CPUs: topk(5, instance:node_cpu_utilisation:rate5m)",
    );
    key_mod(&mut a, KeyCode::Char('o'), KeyModifiers::CONTROL);
    let lines = draw(&a, 120, 20);
    row_with(&lines, "saved queries (Enter runs, Esc closes)");
    key(&mut a, KeyCode::Down);
    let cmds = key_mod(&mut a, KeyCode::Enter, KeyModifiers::NONE);
    assert!(
        matches!(&cmds[..], [Command::RunQuery { expr, .. }] if expr == "up == 0"),
        "{cmds:?}"
    );
    // Saved queries are in the history too.
    key(&mut a, KeyCode::Char('/'));
    key(&mut a, KeyCode::Up);
    assert_eq!(a.query.input, "up == 0");

    // Completion from the server's names.
    a.apply(Update::Metadata {
        metrics: vec![
            "node_memory_MemTotal_bytes".into(),
            "node_memory_MemAvailable_bytes".into(),
            "node_load1".into(),
        ],
        labels: vec!["instance".into(), "job".into()],
    });
    key_mod(&mut a, KeyCode::Char('u'), KeyModifiers::CONTROL);
    for c in "node_m".chars() {
        key(&mut a, KeyCode::Char(c));
    }
    key(&mut a, KeyCode::Tab);
    assert_eq!(a.query.input, "node_memory_Mem");
    let lines = draw(&a, 120, 20);
    let (_, l) = row_with(&lines, "2 names:");
    assert!(
        l.contains("node_memory_MemAvailable_bytes  node_memory_MemTotal_bytes"),
        "{l}"
    );
    for c in "T".chars() {
        key(&mut a, KeyCode::Char(c));
    }
    key(&mut a, KeyCode::Tab);
    assert_eq!(a.query.input, "node_memory_MemTotal_bytes");
    for c in "{in".chars() {
        key(&mut a, KeyCode::Char(c));
    }
    key(&mut a, KeyCode::Tab);
    assert_eq!(a.query.input, "node_memory_MemTotal_bytes{instance");
    let lines = draw(&a, 120, 20);
    assert!(
        !lines.iter().any(|l| l.contains("names:")),
        "one name: no list"
    );
    assert_eq!(
        a.view,
        sysmon_top::app::View::Query,
        "Tab no longer leaves the view"
    );
}
