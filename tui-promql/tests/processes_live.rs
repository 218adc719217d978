//! The processes view against real answers: Debian's prometheus-process-exporter (the series
//! sysmon-exporter's `process` collector exports under the same names) watching this machine,
//! a real Prometheus scraping it, three sleeping processes of a known command name started by
//! the test. The view's queries must find that group with its 3 processes, 3 threads, their
//! memory and file descriptors; the fleet's top process and the drawn view come from the same
//! answers.

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use sysmon_top::app::{App, Settings};
use sysmon_top::collect::{fetch_fleet, fetch_processes, Update};
use sysmon_top::queries::Queries;
use sysmon_top::ui;

const GROUP: &str = "sysmontopslp";

fn process_exporter() -> PathBuf {
    sysmon_stack_tests::tool("prometheus-process-exporter", "prometheus-process-exporter")
}

/// Children killed on drop.
/// The temporary directory holds the copied binary while they run.
struct Sleepers(Vec<Child>, #[allow(dead_code)] tempfile::TempDir);

impl Drop for Sleepers {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Three `sleep`s under a command name of their own (a copy of the binary).
fn sleepers() -> Sleepers {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join(GROUP);
    let sleep = ["/usr/bin/sleep", "/bin/sleep"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("sleep(1)");
    std::fs::copy(sleep, &bin).unwrap();
    let children = (0..3)
        .map(|_| {
            Command::new(&bin)
                .arg("600")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    Sleepers(children, dir)
}

#[test]
fn processes_view_from_process_exporter_through_prometheus() {
    let sleepers = sleepers();

    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("process-exporter.yml");
    // One group per command name, as sysmon-exporter's default.
    std::fs::write(
        &cfg,
        "process_names:\n  - name: \"{{.Comm}}\"\n    cmdline: ['.+']\n",
    )
    .unwrap();
    let port = free_port();
    let mut cmd = Command::new(process_exporter());
    cmd.arg(format!("-web.listen-address=127.0.0.1:{port}"))
        .arg(format!("-config.path={}", cfg.display()));
    let mut pe = Proc::spawn(
        "process-exporter",
        cmd,
        dir.path().join("process-exporter.log"),
    );
    wait_for(
        "process-exporter's /metrics with the sleepers",
        Duration::from_secs(20),
        || matches!(http_get(port, "/metrics"), Some((200, b)) if b.contains(GROUP)),
    );
    let prom = Prometheus::start(&[port], None);
    let instance = format!("127.0.0.1:{port}");
    // Rates need two scrapes in the window.
    wait_for(
        "two scrapes of the CPU counters",
        Duration::from_secs(30),
        || {
            !prom
                .query(&format!(
                    "count_over_time(namedprocess_namegroup_cpu_seconds_total{{groupname=\"{GROUP}\",mode=\"user\"}}[1m]) >= 2"
                ))
                .is_empty()
        },
    );

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let client = prom.client();
    let q = Queries::new("sysmon");
    let b = rt.block_on(fetch_processes(&client, &q, &instance));
    assert!(b.failed.is_empty(), "{:?}", b.failed);
    assert!(b.data.len() > 3, "one group per command name: {:?}", b.data);
    let g = b
        .data
        .iter()
        .find(|g| g.name == GROUP)
        .unwrap_or_else(|| panic!("{GROUP} missing: {:?}", b.data));
    assert_eq!(g.procs, Some(3.0));
    assert_eq!(g.threads, Some(3.0));
    // sleep(1) maps a few hundred KiB to a few MiB.
    let res = g.resident.expect("resident memory");
    assert!(res > 100e3 && res < 64e6, "{res}");
    assert!(g.virtual_bytes.unwrap() > res);
    // Their open files as the kernel lists them (stdin, stdout, stderr, and whatever the test
    // harness leaves inheritable, such as cargo's jobserver pipe), counted once they have settled
    // (right after exec a process may still hold a file it is about to close).
    let fds: usize = sleepers
        .0
        .iter()
        .map(|c| {
            std::fs::read_dir(format!("/proc/{}/fd", c.id()))
                .unwrap()
                .count()
        })
        .sum();
    assert!(fds >= 9, "{fds}");
    assert_eq!(
        g.open_fds,
        Some(fds as f64),
        "open files of the sleepers: {:?}",
        sleepers
            .0
            .iter()
            .map(|c| std::fs::read_dir(format!("/proc/{}/fd", c.id()))
                .unwrap()
                .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
                .collect::<Vec<_>>())
            .collect::<Vec<_>>()
    );
    assert!(g.worst_fd_ratio.unwrap() > 0.0 && g.worst_fd_ratio.unwrap() < 0.01);
    let cpu = g.cpu.expect("cpu rate");
    assert!(
        (0.0..0.05).contains(&cpu),
        "sleepers do not burn CPU: {cpu}"
    );
    assert_eq!(g.read, Some(0.0));
    let age = sysmon_top::fmt::now_unix() - g.oldest_start.expect("start time");
    assert!(
        (0.0..120.0).contains(&age),
        "started by this test: {age} s ago"
    );
    assert_eq!(g.states.get("Sleeping"), Some(&3.0), "{:?}", g.states);

    // Completion's names from the metadata endpoints of this real Prometheus.
    let (metrics, _) = rt
        .block_on(client.label_values("__name__", None))
        .expect("/api/v1/label/__name__/values");
    let (labels, _) = rt.block_on(client.label_names()).expect("/api/v1/labels");
    assert!(labels.contains(&"groupname".to_string()), "{labels:?}");
    let meta = sysmon_top::views::query::Metadata::new(metrics, labels);
    assert_eq!(
        sysmon_top::views::query::completions("rate(namedprocess_namegroup_cpu_s", 33, &meta).1,
        ["namedprocess_namegroup_cpu_seconds_total"]
    );
    assert_eq!(
        sysmon_top::views::query::completions("namedprocess_namegroup_num_procs{grou", 37, &meta).1,
        ["groupname"]
    );

    // The fleet's top process: the busiest named group of this host.
    let fleet = rt.block_on(fetch_fleet(&client, &q)).unwrap();
    assert!(fleet.failed.is_empty(), "{:?}", fleet.failed);
    let row = fleet
        .data
        .iter()
        .find(|r| r.instance == instance)
        .expect("host row");
    let (top, top_cpu) = row.top_process.clone().expect("top process");
    assert_ne!(top, "other");
    assert!(top_cpu > 0.0, "{top} {top_cpu}");
    let (code, out, err) = run_top(&["--prometheus", &prom.url(), "--once"]);
    assert_eq!(code, 0, "{err}");
    let top_cell = cell(&out, &instance, "TOP_PROCESS");
    assert!(
        top_cell.ends_with('%') && !top_cell.starts_with('-'),
        "{out}"
    );

    // The same answers drawn.
    let mut app = App::new(Settings {
        url: prom.url(),
        job: "sysmon".into(),
        refresh: Duration::from_secs(2),
        no_color: true,
    });
    app.apply(Update::Fleet(fleet));
    app.select_host(instance.clone());
    app.view = sysmon_top::app::View::Processes;
    app.apply(Update::Processes {
        instance: instance.clone(),
        groups: b,
    });
    let mut t = Terminal::new(TestBackend::new(140, 60)).unwrap();
    t.draw(|f| ui::draw(f, &app)).unwrap();
    let buf = t.backend().buffer().clone();
    let lines: Vec<String> = (0..60)
        .map(|y| (0..140).map(|x| buf[(x, y)].symbol()).collect())
        .collect();
    let screen = lines.join("\n");
    assert!(lines[1].contains(&instance), "{screen}");
    // Filter to the sleepers: their row with 3 threads, 3 processes, 9 fds.
    for c in "/sysmontop".chars() {
        app.handle_event(sysmon_top::app::AppEvent::Input(
            crossterm::event::Event::Key(crossterm::event::KeyEvent::new(
                crossterm::event::KeyCode::Char(c),
                crossterm::event::KeyModifiers::NONE,
            )),
        ));
    }
    t.draw(|f| ui::draw(f, &app)).unwrap();
    let buf = t.backend().buffer().clone();
    let row: String = (0..140).map(|x| buf[(x, 3)].symbol()).collect::<String>();
    assert!(row.starts_with(&format!("▶{GROUP}")), "{row}");
    let cells: Vec<&str> = row.split_whitespace().collect();
    // GROUP CPU RES VIRT SWAP THR PROCS READ WRITE FDS ...
    assert!(cells.windows(2).any(|w| w == ["3", "3"]), "{row}");
    assert!(cells.contains(&fds.to_string().as_str()), "{row}");

    // The fleet exported: JSON with raw numbers, CSV with a header.
    let (code, out, err) = run_top(&["--prometheus", &prom.url(), "--once", "--output", "json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    let host = v
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["instance"] == instance.as_str())
        .expect("host in the JSON");
    assert_eq!(host["up"], true);
    assert_eq!(host["down_since"], serde_json::Value::Null);
    assert!(host["top_process"].is_string(), "{host}");
    assert!(host["top_process_cpu"].as_f64().unwrap() > 0.0, "{host}");
    let (code, out, err) = run_top(&["--prometheus", &prom.url(), "--once", "--output", "csv"]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("instance,name,up,down_since,"),
        "{out}"
    );
    assert!(
        lines[1].starts_with(&format!("{instance},,true,,")),
        "{out}"
    );
    let (code, _, err) = run_top(&["--prometheus", &prom.url(), "--output", "csv"]);
    assert_eq!(code, 2, "--output needs --once: {err}");

    // The exporter stops: the host is down, since its last successful scrape.
    pe.kill();
    let stopped = sysmon_top::fmt::now_unix();
    wait_for("up == 0", Duration::from_secs(20), || {
        !prom
            .query(&format!("up{{instance=\"{instance}\"}} == 0"))
            .is_empty()
    });
    let (code, out, err) = run_top(&["--prometheus", &prom.url(), "--once", "--output", "json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let since = v[0]["down_since"]
        .as_f64()
        .unwrap_or_else(|| panic!("no down_since: {out} {err}"));
    assert!(
        since <= stopped + 1.0 && since > stopped - 20.0,
        "last up {since}, stopped at {stopped}"
    );
    let (code, out, _) = run_top(&["--prometheus", &prom.url(), "--once"]);
    assert_eq!(code, 0);
    assert_eq!(
        cell(&out, &instance, "UP"),
        format!("DOWN since {} UTC", sysmon_top::fmt::clock(since)),
        "{out}"
    );
}
