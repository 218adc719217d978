//! Rendering tests of the processes view, the host view's processes panel and the fleet's top
//! process column, drawn with ratatui's TestBackend from fixed query results shaped as
//! Prometheus answers the `namedprocess_namegroup_*` queries.

use std::time::Duration;

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::TestBackend;
use ratatui::style::Color;
use ratatui::Terminal;

use sysmon_top::app::{App, AppEvent, Settings, View};
use sysmon_top::collect::{Batch, Command, Update};
use sysmon_top::model::{build_fleet, build_host, build_processes, Instants};
use sysmon_top::prom::Sample;
use sysmon_top::queries::{FleetQuery, HostQuery, ProcessQuery};
use sysmon_top::ui;

const HOST: &str = "10.0.0.2:10101";

fn s(labels: &[(&str, &str)], v: f64) -> Sample {
    Sample {
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        t: 1_700_000_000.0,
        v,
    }
}

fn batch<T>(data: T) -> Batch<T> {
    Batch {
        data,
        failed: vec![],
        warnings: vec![],
        elapsed: Duration::from_millis(3),
        at: 1_700_000_000.0,
        pending: vec![],
    }
}

fn key(a: &mut App, c: KeyCode) -> Vec<Command> {
    a.handle_event(AppEvent::Input(Event::Key(KeyEvent::new(
        c,
        KeyModifiers::NONE,
    ))))
}

fn draw(app: &App, w: u16, h: u16) -> (Vec<String>, ratatui::buffer::Buffer) {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| ui::draw(f, app)).unwrap();
    let buf = t.backend().buffer().clone();
    let lines = (0..h)
        .map(|y| (0..w).map(|x| buf[(x, y)].symbol()).collect::<String>())
        .collect::<Vec<_>>();
    if std::env::var_os("SHOW_SCREENS").is_some() {
        eprintln!("{}", lines.join("\n"));
    }
    (lines, buf)
}

fn row_with<'a>(lines: &'a [String], needle: &str) -> (usize, &'a String) {
    lines
        .iter()
        .enumerate()
        .find(|(_, l)| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle:?} not on screen:\n{}", lines.join("\n")))
}

fn col(line: &str, needle: &str) -> usize {
    let b = line
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not in {line}"));
    line[..b].chars().count()
}

/// A database server's groups: postgres (busy, 12 processes, a zombie), nginx, a java service
/// near its fd limit, and the exporter's `other` group.
fn process_results() -> Instants<ProcessQuery> {
    let g = |metric: &str, group: &str, extra: Option<(&str, &str)>, v: f64| {
        let name = format!("namedprocess_namegroup_{metric}");
        let mut l = vec![
            ("__name__", name.as_str()),
            ("groupname", group),
            ("instance", HOST),
            ("job", "sysmon"),
        ];
        if let Some(e) = extra {
            l.push(e);
        }
        s(&l, v)
    };
    let mut gauges = Vec::new();
    for (group, procs, threads, res, virt, swap, fds, fdr, start) in [
        (
            "postgres",
            12.0,
            14.0,
            2.1e9,
            9.4e9,
            0.0,
            410.0,
            0.4,
            1_699_000_000.0,
        ),
        (
            "nginx",
            5.0,
            5.0,
            48.0e6,
            310.0e6,
            0.0,
            96.0,
            0.09,
            1_699_990_000.0,
        ),
        (
            "java",
            1.0,
            212.0,
            3.5e9,
            12.0e9,
            1.2e8,
            3900.0,
            0.952,
            1_699_999_000.0,
        ),
        (
            "other",
            131.0,
            190.0,
            600.0e6,
            5.0e9,
            0.0,
            1200.0,
            0.2,
            1_690_000_000.0,
        ),
    ] {
        gauges.push(g("num_procs", group, None, procs));
        gauges.push(g("num_threads", group, None, threads));
        gauges.push(g("memory_bytes", group, Some(("memtype", "resident")), res));
        gauges.push(g("memory_bytes", group, Some(("memtype", "virtual")), virt));
        gauges.push(g("memory_bytes", group, Some(("memtype", "swapped")), swap));
        gauges.push(g("open_filedesc", group, None, fds));
        gauges.push(g("worst_fd_ratio", group, None, fdr));
        gauges.push(g("oldest_start_time_seconds", group, None, start));
    }
    gauges.push(g("states", "postgres", Some(("state", "Sleeping")), 11.0));
    gauges.push(g("states", "postgres", Some(("state", "Zombie")), 1.0));
    let mut r = Instants::new();
    r.insert(ProcessQuery::Gauges, gauges);
    let by = |v: &[(&str, f64)]| -> Vec<Sample> {
        v.iter()
            .map(|(gr, x)| s(&[("groupname", gr)], *x))
            .collect()
    };
    r.insert(
        ProcessQuery::Cpu,
        by(&[
            ("postgres", 1.5),
            ("nginx", 0.12),
            ("java", 0.8),
            ("other", 0.05),
        ]),
    );
    r.insert(
        ProcessQuery::ReadBytes,
        by(&[("postgres", 4.2e6), ("nginx", 0.0), ("java", 1000.0)]),
    );
    r.insert(
        ProcessQuery::WriteBytes,
        by(&[("postgres", 12.0e6), ("nginx", 52_000.0), ("java", 0.0)]),
    );
    r
}

fn app_on_host() -> App {
    let mut a = App::new(Settings {
        url: "http://prom.example:9090/".into(),
        job: "sysmon".into(),
        refresh: Duration::from_secs(2),
        no_color: false,
    });
    let mut f = Instants::new();
    f.insert(
        FleetQuery::Up,
        vec![
            s(&[("instance", "10.0.0.1:10101")], 1.0),
            s(&[("instance", HOST)], 1.0),
        ],
    );
    f.insert(
        FleetQuery::Uname,
        vec![s(&[("instance", HOST), ("nodename", "db-prod-03")], 1.0)],
    );
    f.insert(
        FleetQuery::TopProcess,
        vec![s(
            &[
                ("instance", HOST),
                ("job", "sysmon"),
                ("groupname", "postgres"),
            ],
            1.5,
        )],
    );
    a.apply(Update::Fleet(batch(build_fleet(&f))));
    a
}

#[test]
fn processes_view_lists_groups_busiest_first_and_sorts_and_filters() {
    let mut a = app_on_host();
    // Select the host in the fleet, then view 5: the collector is told which host and view.
    while a.fleet.selected_row().map(|r| r.instance.as_str()) != Some(HOST) {
        key(&mut a, KeyCode::Down);
    }
    let cmds = key(&mut a, KeyCode::Char('5'));
    assert_eq!(
        cmds,
        vec![
            Command::SelectHost(HOST.into()),
            Command::SetView(View::Processes)
        ]
    );
    let (lines, _) = draw(&a, 140, 20);
    assert!(lines[0].contains(" 5 Processes "), "{}", lines[0]);
    row_with(&lines, "db-prod-03 (10.0.0.2:10101)  loading…");

    // An answer for another host is dropped.
    a.apply(Update::Processes {
        instance: "10.0.0.1:10101".into(),
        groups: batch(build_processes(&process_results())),
    });
    assert!(!a.processes.loaded);
    a.apply(Update::Processes {
        instance: HOST.into(),
        groups: batch(build_processes(&process_results())),
    });
    let (lines, buf) = draw(&a, 140, 20);
    assert!(
        lines[1].starts_with(
            " db-prod-03 (10.0.0.2:10101) · 3 groups · 149 processes · 421 threads · CPU 247.0% · resident 5.8 GiB · 1 zombies · sort: cpu"
        ),
        "{}",
        lines[1]
    );
    let header = &lines[2];
    for c in [
        "GROUP", "CPU", "RES", "VIRT", "SWAP", "THR", "PROCS", "READ", "WRITE", "FDS", "FD%",
        "AGE", "STATES",
    ] {
        assert!(header.contains(c), "{c} missing: {header}");
    }
    // Busiest first, `other` after the named groups of less CPU.
    let order: Vec<usize> = ["postgres", "java", "nginx", "other"]
        .iter()
        .map(|g| row_with(&lines, &format!("{g} ")).0)
        .collect();
    assert_eq!(order, vec![3, 4, 5, 6], "{}", lines.join("\n"));
    assert!(lines[3].starts_with("▶postgres"), "{}", lines[3]);
    let pg = &lines[3];
    assert_eq!(col(pg, "150.0%"), col(header, "CPU"), "{header}\n{pg}");
    assert_eq!(col(pg, "2.0 GiB"), col(header, "RES"));
    assert_eq!(col(pg, "4.2M/s"), col(header, "READ"));
    assert_eq!(col(pg, "12M/s"), col(header, "WRITE"));
    assert_eq!(col(pg, "410"), col(header, "FDS"));
    assert!(
        pg.contains("40.0%") && pg.contains("12d") && pg.contains("1Z"),
        "{pg}"
    );
    // java's worst fd ratio is near its limit: red; postgres' CPU (150 % of one CPU) red too.
    let (jy, java) = row_with(&lines, " java ");
    assert!(
        java.contains("95.2%") && java.contains("114.4 MiB"),
        "{java}"
    );
    assert_eq!(buf[(col(java, "95.2%") as u16, jy as u16)].fg, Color::Red);

    // `s` sorts by resident memory: java first; `S` reverses.
    key(&mut a, KeyCode::Char('s'));
    let (lines, _) = draw(&a, 140, 20);
    assert!(lines[1].contains("sort: resident memory"), "{}", lines[1]);
    assert!(
        lines[3].contains(" java ") || lines[3].starts_with("▶java"),
        "{}",
        lines[3]
    );
    key(&mut a, KeyCode::Char('S'));
    let (lines, _) = draw(&a, 140, 20);
    assert!(lines[3].contains("nginx"), "{}", lines[3]);

    // `/` filters; `q` while typing is text; Esc clears the filter, then goes back to the fleet.
    key(&mut a, KeyCode::Char('/'));
    for c in "gINx".chars() {
        key(&mut a, KeyCode::Char(c));
    }
    assert!(!a.quit);
    key(&mut a, KeyCode::Enter);
    let (lines, _) = draw(&a, 140, 20);
    assert!(lines[1].contains("filter \"gINx\": 1 of 4"), "{}", lines[1]);
    assert!(lines[3].contains("nginx") && !lines[4].contains("postgres"));
    key(&mut a, KeyCode::Esc);
    assert_eq!(a.processes.visible().len(), 4);
    key(&mut a, KeyCode::Char('/'));
    for c in "zombie".chars() {
        key(&mut a, KeyCode::Char(c));
    }
    key(&mut a, KeyCode::Enter);
    assert_eq!(a.processes.visible()[0].name, "postgres");

    // Narrow: optional columns go, the figures stay under their headers.
    let (lines, _) = draw(&a, 70, 16);
    let header = &lines[2];
    assert!(
        !header.contains("VIRT") && !header.contains("STATES"),
        "{header}"
    );
    assert!(header.contains("CPU") && header.contains("FDS"), "{header}");
    let pg = &lines[3];
    assert_eq!(col(pg, "150.0%"), col(header, "CPU"), "{header}\n{pg}");

    // Next host: the selection moves, the view stays.
    let cmds = key(&mut a, KeyCode::Right);
    assert_eq!(cmds, vec![Command::SelectHost("10.0.0.1:10101".into())]);
    assert_eq!(a.view, View::Processes);
}

#[test]
fn processes_view_without_process_series_says_how_to_get_them() {
    let mut a = app_on_host();
    a.select_host(HOST.into());
    key(&mut a, KeyCode::Char('5'));
    a.apply(Update::Processes {
        instance: HOST.into(),
        groups: batch(Vec::new()),
    });
    let (lines, _) = draw(&a, 120, 12);
    row_with(
        &lines,
        "no process groups: this host exports no namedprocess_namegroup_* series",
    );
    row_with(&lines, "--collector.process");
}

#[test]
fn host_view_panel_and_fleet_top_process() {
    let mut a = app_on_host();
    let (lines, _) = draw(&a, 160, 12);
    let header = &lines[2];
    let (_, row) = row_with(&lines, HOST);
    assert_eq!(
        col(row, "postgres 150%"),
        col(header, "TOP PROCESS"),
        "{header}\n{row}"
    );
    let (_, other) = row_with(&lines, "10.0.0.1:10101");
    assert!(other.trim_end().ends_with('-'), "{other}");
    // Narrower: the top process goes first.
    let (lines, _) = draw(&a, 120, 12);
    assert!(
        !lines[2].contains("TOP PROCESS") && lines[2].contains("ANOM"),
        "{}",
        lines[2]
    );

    a.open_host(HOST.into());
    let mut h = Instants::new();
    h.insert(
        HostQuery::Info,
        vec![s(&[("__name__", "up"), ("instance", HOST)], 1.0)],
    );
    a.apply(Update::Host {
        instance: HOST.into(),
        detail: Box::new(batch(build_host(HOST, &h))),
        history: None,
        range: a.range(),
    });
    let (lines, _) = draw(&a, 160, 44);
    assert!(
        !lines.iter().any(|l| l.contains("Processes:")),
        "no panel before the groups arrive"
    );
    a.apply(Update::Processes {
        instance: HOST.into(),
        groups: batch(build_processes(&process_results())),
    });
    let (lines, _) = draw(&a, 160, 44);
    let (y, _) = row_with(&lines, "Processes: 3 groups, 149 processes, CPU 247.0%");
    assert!(lines[y + 1].contains("postgres") && lines[y + 1].contains("150.0%"));
    assert!(lines[y + 2].contains("java"), "{}", lines[y + 2]);
    assert!(lines[y + 3].contains("nginx"));
    assert!(
        !lines[y + 4].contains("other"),
        "the other group is not a group: {}",
        lines[y + 4]
    );
}
