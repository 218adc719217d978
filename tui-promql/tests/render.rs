//! Rendering tests: each view drawn with ratatui's TestBackend from fixed query results (the
//! same samples Prometheus would answer), asserting on the text at its place on screen.

use std::time::Duration;

use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};
use ratatui::Terminal;

use sysmon_top::app::{App, AppEvent, Settings, View};
use sysmon_top::collect::{Batch, Status, Update};
use sysmon_top::model::{
    build_anomalies, build_fleet, build_history, build_host, Instants, Ranges,
};
use sysmon_top::prom::{Data, Labels, PromError, QueryResult, Sample, Series};
use sysmon_top::queries::{AnomalyQuery, FleetQuery, HistoryQuery, HostQuery};
use sysmon_top::ui;

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};

fn app(no_color: bool) -> App {
    App::new(Settings {
        url: "http://prom.example:9090/".into(),
        job: "sysmon".into(),
        refresh: Duration::from_secs(2),
        no_color,
    })
}

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

fn key(a: &mut App, c: KeyCode) {
    a.handle_event(AppEvent::Input(Event::Key(KeyEvent::new(
        c,
        KeyModifiers::NONE,
    ))));
}

/// Draws the app and returns the screen as lines (and the buffer for style checks).
fn draw(app: &App, w: u16, h: u16) -> (Vec<String>, Buffer) {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| ui::draw(f, app)).unwrap();
    let buf = t.backend().buffer().clone();
    let mut lines = Vec::new();
    for y in 0..h {
        let mut line = String::new();
        for x in 0..w {
            line.push_str(buf[(x, y)].symbol());
        }
        lines.push(line);
    }
    if std::env::var_os("SHOW_SCREENS").is_some() {
        eprintln!("{}", lines.join("\n"));
    }
    (lines, buf)
}

/// Column of `needle` in `line` counted in cells (characters), as the buffer lays them out.
fn col(line: &str, needle: &str) -> Option<usize> {
    line.find(needle).map(|b| line[..b].chars().count())
}

fn row_with<'a>(lines: &'a [String], needle: &str) -> (usize, &'a String) {
    lines
        .iter()
        .enumerate()
        .find(|(_, l)| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle:?} not on screen:\n{}", lines.join("\n")))
}

/// Three hosts as Prometheus answers the fleet queries: a laptop with a critical anomaly, a
/// server with memory at 95 %, a VM that is down.
fn fleet_results() -> Instants<FleetQuery> {
    let mut r = Instants::new();
    let up = |i: &str, v: f64| s(&[("instance", i), ("job", "sysmon")], v);
    r.insert(
        FleetQuery::Up,
        vec![
            up("10.0.0.1:10101", 1.0),
            up("10.0.0.2:10101", 1.0),
            up("10.0.0.3:10101", 0.0),
        ],
    );
    r.insert(
        FleetQuery::Mem,
        vec![up("10.0.0.1:10101", 0.3852), up("10.0.0.2:10101", 0.95)],
    );
    r.insert(
        FleetQuery::Cpu,
        vec![up("10.0.0.1:10101", 0.123), up("10.0.0.2:10101", 0.5)],
    );
    r.insert(
        FleetQuery::Temp,
        vec![up("10.0.0.1:10101", 52.0), up("10.0.0.2:10101", 61.0)],
    );
    r.insert(FleetQuery::Swap, vec![up("10.0.0.1:10101", 0.024)]);
    r.insert(
        FleetQuery::Fs,
        vec![up("10.0.0.1:10101", 0.716), up("10.0.0.2:10101", 0.2)],
    );
    r.insert(FleetQuery::Load, vec![up("10.0.0.1:10101", 0.07)]);
    r.insert(FleetQuery::Disk, vec![up("10.0.0.1:10101", 1234.0)]);
    r.insert(FleetQuery::NetRx, vec![up("10.0.0.1:10101", 2_500_000.0)]);
    r.insert(FleetQuery::NetTx, vec![up("10.0.0.1:10101", 40_000.0)]);
    r.insert(
        FleetQuery::Usb,
        vec![up("10.0.0.1:10101", 0.01), up("10.0.0.2:10101", 0.0)],
    );
    r.insert(
        FleetQuery::Anomalies,
        vec![up("10.0.0.1:10101", 1.0), up("10.0.0.2:10101", 0.0)],
    );
    r.insert(
        FleetQuery::ActiveAnomalies,
        vec![s(
            &[
                ("instance", "10.0.0.1:10101"),
                ("rule", "temperature_high"),
                ("severity", "critical"),
            ],
            1.0,
        )],
    );
    r.insert(
        FleetQuery::Uname,
        vec![
            s(
                &[("instance", "10.0.0.1:10101"), ("nodename", "thinkpad-x1")],
                1.0,
            ),
            s(
                &[("instance", "10.0.0.2:10101"), ("nodename", "db-prod-03")],
                1.0,
            ),
        ],
    );
    r
}

fn with_fleet(no_color: bool) -> App {
    let mut a = app(no_color);
    a.apply(Update::Fleet(batch(build_fleet(&fleet_results()))));
    a.apply(Update::Status(Status::Ok {
        elapsed: Duration::from_millis(3),
    }));
    a
}

#[test]
fn fleet_table_worst_first_with_values_and_colours() {
    let a = with_fleet(false);
    let (lines, buf) = draw(&a, 140, 20);
    // Title line with the tabs, the job and the URL.
    assert!(
        lines[0].starts_with(" sysmon-top  1 Fleet   2 Host   3 Anomalies   4 Query"),
        "{}",
        lines[0]
    );
    assert!(
        lines[0].contains("job=sysmon · http://prom.example:9090/ · every 2s"),
        "{}",
        lines[0]
    );
    // No banner: the summary is on line 1, the table header on line 2.
    assert!(
        lines[1].starts_with(" 3 hosts · 1 down · 1 active anomalies · sort: worst first"),
        "{}",
        lines[1]
    );
    let header = &lines[2];
    let h_host = col(header, "HOST").unwrap();
    let h_mem = col(header, "MEM").unwrap();
    let h_temp = col(header, "TEMP").unwrap();
    assert_eq!(h_host, 1, "{header}");
    for c in [
        "NAME",
        "UP",
        "CPU",
        "LOAD/C",
        "SWAP",
        "FS",
        "DISK",
        "NET ↓/↑",
        "USB",
        "ANOM",
    ] {
        assert!(header.contains(c), "{c} missing: {header}");
    }
    // Worst first: the down VM, then the laptop with a critical anomaly, then the server.
    assert_eq!(col(&lines[3], "10.0.0.3:10101"), Some(1), "{}", lines[3]);
    assert!(lines[3].contains("DOWN"));
    assert!(
        lines[3].starts_with("▶"),
        "first row selected: {}",
        lines[3]
    );
    assert_eq!(col(&lines[4], "10.0.0.1:10101"), Some(1));
    assert_eq!(
        col(&lines[4], "38.5%"),
        Some(h_mem),
        "{}\n{}",
        header,
        lines[4]
    );
    assert_eq!(col(&lines[4], "52°C"), Some(h_temp));
    assert!(lines[4].contains("thinkpad-x1"));
    assert!(lines[4].contains("2.5M/s 40k/s"), "{}", lines[4]);
    assert!(
        lines[4].contains("1!"),
        "critical anomaly marked: {}",
        lines[4]
    );
    assert_eq!(col(&lines[5], "95.0%"), Some(h_mem));
    // 95 % memory is red, 38.5 % green.
    let y5 = 5u16;
    assert_eq!(buf[(h_mem as u16, y5)].fg, Color::Red);
    assert_eq!(buf[(h_mem as u16, 4)].fg, Color::Green);
    // The footer names the keys.
    assert!(
        lines[19].contains("? help")
            && lines[19].contains("/ filter")
            && lines[19].contains("s sort"),
        "{}",
        lines[19]
    );
}

#[test]
fn fleet_without_colour_keeps_meaning_in_text_and_bold() {
    let a = with_fleet(true);
    let (lines, buf) = draw(&a, 140, 20);
    for y in 0..20u16 {
        for x in 0..140u16 {
            let c = &buf[(x, y)];
            assert!(
                matches!(c.fg, Color::Reset) && matches!(c.bg, Color::Reset),
                "colour at {x},{y} with NO_COLOR: {:?} in {}",
                c.fg,
                lines[y as usize]
            );
        }
    }
    let x = col(&lines[5], "95.0%").unwrap() as u16;
    assert!(
        buf[(x, 5)].modifier.contains(Modifier::BOLD),
        "critical values are bold"
    );
}

#[test]
fn fleet_narrow_terminal_drops_optional_columns() {
    let a = with_fleet(false);
    let (lines, _) = draw(&a, 80, 16);
    let header = &lines[2];
    assert!(
        header.contains("HOST") && header.contains("MEM") && header.contains("ANOM"),
        "{header}"
    );
    assert!(
        !header.contains("NAME") && !header.contains("NET"),
        "{header}"
    );
    assert!(lines[4].contains("38.5%"));
}

#[test]
fn fleet_sort_filter_and_empty_states() {
    let mut a = with_fleet(false);
    key(&mut a, KeyCode::Char('s'));
    let (lines, _) = draw(&a, 140, 12);
    assert!(lines[1].contains("sort: host"), "{}", lines[1]);
    assert!(lines[3].contains("10.0.0.1:10101"), "{}", lines[3]);
    key(&mut a, KeyCode::Char('/'));
    for c in "db-".chars() {
        key(&mut a, KeyCode::Char(c));
    }
    let (lines, _) = draw(&a, 140, 12);
    assert!(lines[1].contains("filter \"db-\": 1 of 3"), "{}", lines[1]);
    assert!(lines[3].contains("db-prod-03"));
    assert!(lines[4].trim().is_empty(), "{}", lines[4]);
    assert!(
        lines[11].starts_with(" /db-▏"),
        "filter prompt in the footer: {}",
        lines[11]
    );
    for c in "zzz".chars() {
        key(&mut a, KeyCode::Char(c));
    }
    let (lines, _) = draw(&a, 140, 12);
    assert!(
        lines[2].contains("no host matches the filter \"db-zzz\""),
        "{}",
        lines[2]
    );

    // Prometheus answered, but there is no target for the job.
    let mut empty = app(false);
    empty.apply(Update::Fleet(batch(build_fleet(&Instants::new()))));
    let (lines, _) = draw(&empty, 100, 12);
    assert!(lines[1].starts_with(" 0 hosts · 0 down"), "{}", lines[1]);
    assert!(
        lines[2].contains("no hosts: Prometheus has no targets for job \"sysmon\""),
        "{}",
        lines[2]
    );
    // Nothing answered yet.
    let (lines, _) = draw(&app(false), 100, 12);
    assert!(
        lines[2].contains("waiting for the first answer from Prometheus"),
        "{}",
        lines[2]
    );
    assert!(lines[0].contains("connecting…"), "{}", lines[0]);
}

#[test]
fn error_banner_keeps_the_last_data() {
    let mut a = with_fleet(false);
    a.apply(Update::Status(Status::Unreachable {
        error: PromError::Connect {
            url: "http://prom.example:9090/api/v1/query".into(),
            reason: "tcp connect error: Connection refused (os error 111)".into(),
        },
        attempt: 2,
        retry_in: Duration::from_secs(4),
    }));
    let (lines, buf) = draw(&a, 140, 14);
    assert!(
        lines[1].starts_with(" ⚠ Prometheus unreachable: cannot connect to Prometheus at http://prom.example:9090/api/v1/query: tcp connect error: Connection refused"),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].starts_with("   retry 3 in 4s · showing data from 22:13:20 UTC ("),
        "{}",
        lines[2]
    );
    assert_eq!(buf[(3, 1)].bg, Color::Red);
    // The table is still there, two lines lower.
    assert!(lines[3].starts_with(" 3 hosts · 1 down"), "{}", lines[3]);
    assert!(
        lines[6].contains("10.0.0.1:10101") && lines[6].contains("38.5%"),
        "{}",
        lines[6]
    );
    // Back to normal when Prometheus answers again.
    a.apply(Update::Status(Status::Ok {
        elapsed: Duration::from_millis(2),
    }));
    let (lines, _) = draw(&a, 140, 14);
    assert!(lines[1].starts_with(" 3 hosts"), "{}", lines[1]);
}

#[test]
fn partial_results_and_warnings_are_shown_as_such() {
    let mut a = app(false);
    let mut b = batch(build_fleet(&fleet_results()));
    b.failed = vec![(
        "cpu".into(),
        PromError::Api {
            status: 422,
            error_type: "execution".into(),
            message: "query timed out in expression evaluation".into(),
        },
    )];
    b.warnings = vec!["store gateway 2 did not answer".into()];
    a.apply(Update::Fleet(b));
    let (lines, _) = draw(&a, 140, 14);
    assert!(
        lines[1].starts_with(
            " partial results: query \"cpu\" failed: Prometheus error (execution): query timed out"
        ),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].starts_with(
            " Prometheus warns (results may be partial): store gateway 2 did not answer"
        ),
        "{}",
        lines[2]
    );
}

fn host_results(instance: &str) -> Instants<HostQuery> {
    let mut r = Instants::new();
    let i = instance;
    r.insert(
        HostQuery::Info,
        vec![
            s(&[("__name__", "up"), ("instance", i)], 1.0),
            s(
                &[
                    ("__name__", "node_uname_info"),
                    ("instance", i),
                    ("nodename", "thinkpad-x1"),
                    ("release", "6.8.0-45-generic"),
                ],
                1.0,
            ),
            s(
                &[
                    ("__name__", "node_os_info"),
                    ("instance", i),
                    ("pretty_name", "Ubuntu 24.04.1 LTS"),
                ],
                1.0,
            ),
        ],
    );
    r.insert(
        HostQuery::Cores,
        (0..8)
            .map(|c| s(&[("cpu", &c.to_string())], c as f64 / 10.0))
            .collect(),
    );
    r.insert(
        HostQuery::Memory,
        vec![
            s(
                &[("__name__", "node_memory_MemTotal_bytes")],
                16_451_092_480.0,
            ),
            s(
                &[("__name__", "node_memory_MemAvailable_bytes")],
                10_113_576_960.0,
            ),
            s(
                &[("__name__", "node_memory_SwapTotal_bytes")],
                8_589_930_496.0,
            ),
            s(
                &[("__name__", "node_memory_SwapFree_bytes")],
                8_386_981_888.0,
            ),
        ],
    );
    let t = |n: &str, chip: &str, sensor: &str, v: f64| {
        s(&[("__name__", n), ("chip", chip), ("sensor", sensor)], v)
    };
    r.insert(
        HostQuery::Temps,
        vec![
            t(
                "node_hwmon_temp_celsius",
                "platform_coretemp_0",
                "temp1",
                52.0,
            ),
            t(
                "node_hwmon_temp_max_celsius",
                "platform_coretemp_0",
                "temp1",
                100.0,
            ),
            t(
                "node_hwmon_temp_crit_celsius",
                "platform_coretemp_0",
                "temp1",
                100.0,
            ),
            s(
                &[
                    ("__name__", "node_hwmon_sensor_label"),
                    ("chip", "platform_coretemp_0"),
                    ("sensor", "temp1"),
                    ("label", "Package id 0"),
                ],
                1.0,
            ),
            s(
                &[
                    ("__name__", "node_hwmon_chip_names"),
                    ("chip", "platform_coretemp_0"),
                    ("chip_name", "coretemp"),
                ],
                1.0,
            ),
            t("node_hwmon_temp_celsius", "nvme_nvme0", "temp1", 38.85),
            t("node_hwmon_temp_max_celsius", "nvme_nvme0", "temp1", 84.85),
            t("node_hwmon_temp_crit_celsius", "nvme_nvme0", "temp1", 89.85),
        ],
    );
    let f = |n: &str, mp: &str, v: f64| {
        s(
            &[
                ("__name__", n),
                ("mountpoint", mp),
                ("device", "/dev/nvme0n1p2"),
                ("fstype", "ext4"),
            ],
            v,
        )
    };
    r.insert(
        HostQuery::Filesystems,
        vec![
            f("node_filesystem_size_bytes", "/", 100e9),
            f("node_filesystem_avail_bytes", "/", 5e9),
            f("node_filesystem_size_bytes", "/boot", 1e9),
            f("node_filesystem_avail_bytes", "/boot", 0.6e9),
        ],
    );
    r.insert(
        HostQuery::Limits,
        vec![
            s(&[("__name__", "node_filefd_allocated")], 12832.0),
            s(
                &[("__name__", "node_filefd_maximum")],
                9_223_372_036_854_775_807.0,
            ),
            s(&[("__name__", "node_nf_conntrack_entries")], 1840.0),
            s(
                &[("__name__", "node_nf_conntrack_entries_limit")],
                262_144.0,
            ),
        ],
    );
    r.insert(
        HostQuery::Clock,
        vec![
            s(&[("__name__", "node_timex_sync_status")], 1.0),
            s(&[("__name__", "node_timex_offset_seconds")], 0.000412),
            s(&[("__name__", "node_timex_maxerror_seconds")], 0.0134),
        ],
    );
    r.insert(
        HostQuery::UsbDevices,
        vec![s(
            &[
                ("port", "1-1.2"),
                ("manufacturer", "Logitech"),
                ("product", "USB Optical Mouse"),
                ("speed", "1.5"),
            ],
            1.0,
        )],
    );
    r.insert(
        HostQuery::UsbErrors,
        vec![s(&[("port", "1-1.2"), ("kind", "timeout")], 3.0)],
    );
    r.insert(
        HostQuery::UsbErrorsRecent,
        vec![s(&[("port", "1-1.2"), ("kind", "timeout")], 2.0)],
    );
    let an = |n: &str, v: f64| {
        s(
            &[
                ("__name__", n),
                ("rule", "filesystem_full"),
                ("subject", "/"),
                ("severity", "warning"),
                ("category", "filesystem"),
            ],
            v,
        )
    };
    r.insert(
        HostQuery::Anomalies,
        vec![
            an("sysmon_anomaly_active", 1.0),
            an("sysmon_anomaly_value", 0.95),
            an("sysmon_anomaly_threshold", 0.9),
        ],
    );
    r
}

fn history() -> Ranges<HistoryQuery> {
    let mut r = Ranges::new();
    let now = 1_700_000_000.0;
    let series = |f: &dyn Fn(f64) -> f64| {
        vec![Series {
            labels: Labels::new(),
            points: (0..120)
                .map(|i| (now - 3600.0 + i as f64 * 30.0, f(i as f64)))
                .collect(),
        }]
    };
    r.insert(HistoryQuery::Cpu, series(&|i| (i / 120.0).min(1.0)));
    r.insert(HistoryQuery::Mem, series(&|_| 0.385));
    r.insert(HistoryQuery::Swap, series(&|_| 0.024));
    r.insert(HistoryQuery::DiskRead, series(&|i| i * 1000.0));
    r.insert(HistoryQuery::DiskWrite, series(&|i| i * 500.0));
    r.insert(HistoryQuery::NetRx, series(&|_| 2.5e6));
    r.insert(HistoryQuery::NetTx, series(&|_| 4e4));
    r.insert(HistoryQuery::Temp, series(&|i| 40.0 + i / 10.0));
    r
}

fn open_host(
    a: &mut App,
    instance: &str,
    detail: Instants<HostQuery>,
    hist: Option<Ranges<HistoryQuery>>,
) {
    a.open_host(instance.to_string());
    a.apply(Update::Host {
        instance: instance.to_string(),
        detail: Box::new(batch(build_host(instance, &detail))),
        history: hist.map(|h| Box::new(batch(build_history(&h)))),
        range: a.range(),
    });
}

#[test]
fn host_view_shows_cpu_memory_sensors_filesystems_usb_anomalies() {
    let mut a = with_fleet(false);
    open_host(
        &mut a,
        "10.0.0.1:10101",
        host_results("10.0.0.1:10101"),
        Some(history()),
    );
    let (lines, buf) = draw(&a, 160, 44);
    assert!(
        lines[0].contains("▌2 Host") || lines[0].contains(" 2 Host "),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].starts_with(" thinkpad-x1 (10.0.0.1:10101) · up · Ubuntu 24.04.1 LTS · kernel 6.8.0-45-generic · range 1h (+/-)"),
        "{}",
        lines[1]
    );
    let (y, cpu) = row_with(&lines, "┌CPU 99.2%");
    assert_eq!(y, 2, "{cpu}");
    assert!(cpu.contains("┌8 cores"), "{cpu}");
    let (_, c7) = row_with(&lines, "cpu7");
    assert!(c7.contains("70.0%"), "{c7}");
    row_with(&lines, "Memory 38.5% · Swap 2.4%");
    row_with(&lines, "Disk r/w: read 119k/s write 60k/s");
    row_with(&lines, "Net ↓/↑: rx 2.5M/s tx 40k/s");
    row_with(&lines, "Hottest sensor 52°C");
    row_with(&lines, "-1h");
    // Sensors against their own limits.
    let (_, pkg) = row_with(&lines, "coretemp Package id 0");
    assert!(
        pkg.contains("52°C") && pkg.contains("max 100 crit 100"),
        "{pkg}"
    );
    let (_, nvme) = row_with(&lines, "nvme_nvme0 temp1");
    assert!(
        nvme.contains("39°C") && nvme.contains("max 85 crit 90"),
        "{nvme}"
    );
    // Filesystems, fullest coloured.
    let (fy, root) = row_with(&lines, "95.0%  4.7 GiB free of 93.1 GiB ext4");
    let x = col(root, "95.0%").unwrap() as u16;
    assert_eq!(buf[(x, fy as u16)].fg, Color::Red);
    row_with(&lines, "40.0%  572.2 MiB free of 953.7 MiB ext4");
    // USB device with its errors; the host's anomaly.
    let (_, usb) = row_with(&lines, "Logitech USB Optical Mouse");
    assert!(usb.contains("errors 3 (2 in 1h) (timeout 3)"), "{usb}");
    let (_, an) = row_with(&lines, "ACTIVE");
    assert!(
        an.contains("warning") && an.contains("filesystem_full on / (filesystem) value 0.95 > 0.9"),
        "{an}"
    );
    row_with(&lines, "Anomalies: 1 active, 0 recent (1h)");
    // Kernel limits and the clock, all well within bounds: green.
    row_with(&lines, "Limits and clock");
    let (fy, fd) = row_with(&lines, "file descriptors");
    assert!(fd.contains("0.0%  12.8k of 9.2E (fs.file-max)"), "{fd}");
    let x = col(fd, "0.0%").unwrap() as u16;
    assert_eq!(buf[(x, fy as u16)].fg, Color::Green);
    let (_, ct) = row_with(&lines, "conntrack");
    assert!(ct.contains("0.7%  1.8k of 262k (nf_conntrack_max)"), "{ct}");
    let (cy, clock) = row_with(&lines, "   clock ");
    assert!(
        clock.contains("synchronised · offset +412 µs · max error 13 ms"),
        "{clock}"
    );
    let x = col(clock, "synchronised").unwrap() as u16;
    assert_eq!(buf[(x, cy as u16)].fg, Color::Green);
}

#[test]
fn host_view_limits_near_full_and_clock_not_synchronised() {
    let mut a = with_fleet(false);
    let mut r = host_results("10.0.0.1:10101");
    r.insert(
        HostQuery::Limits,
        vec![
            // fs.file-max lowered to 100000, 85 % taken: warning.
            s(&[("__name__", "node_filefd_allocated")], 85_000.0),
            s(&[("__name__", "node_filefd_maximum")], 100_000.0),
            // Conntrack 96 % full: critical.
            s(&[("__name__", "node_nf_conntrack_entries")], 62_915.0),
            s(&[("__name__", "node_nf_conntrack_entries_limit")], 65_536.0),
        ],
    );
    r.insert(
        HostQuery::Clock,
        vec![
            s(&[("__name__", "node_timex_sync_status")], 0.0),
            s(&[("__name__", "node_timex_offset_seconds")], -0.12),
            s(&[("__name__", "node_timex_maxerror_seconds")], 16.0),
        ],
    );
    open_host(&mut a, "10.0.0.1:10101", r, Some(history()));
    let (lines, buf) = draw(&a, 160, 44);
    let (fy, fd) = row_with(&lines, "file descriptors");
    assert!(fd.contains("85.0%  85.0k of 100k (fs.file-max)"), "{fd}");
    let x = col(fd, "85.0%").unwrap() as u16;
    assert_eq!(buf[(x, fy as u16)].fg, Color::Yellow);
    // The bar is filled to the share.
    assert!(fd.contains("███"), "{fd}");
    let (cy, ct) = row_with(&lines, "conntrack");
    assert!(
        ct.contains("96.0%  62.9k of 65.5k (nf_conntrack_max)"),
        "{ct}"
    );
    let x = col(ct, "96.0%").unwrap() as u16;
    assert_eq!(buf[(x, cy as u16)].fg, Color::Red);
    let (ky, clock) = row_with(&lines, "   clock ");
    assert!(
        clock.contains("NOT synchronised · offset -120 ms · max error 16.00 s"),
        "{clock}"
    );
    let x = col(clock, "NOT synchronised").unwrap() as u16;
    assert_eq!(buf[(x, ky as u16)].fg, Color::Red);
    // An offset beyond 50 ms either way is a warning of its own.
    let x = col(clock, "offset -120 ms").unwrap() as u16;
    assert_eq!(buf[(x, ky as u16)].fg, Color::Yellow);

    // Without colour the states stay readable: the words carry the meaning.
    let mut a = with_fleet(true);
    let mut r = host_results("10.0.0.1:10101");
    r.insert(
        HostQuery::Clock,
        vec![s(&[("__name__", "node_timex_sync_status")], 0.0)],
    );
    open_host(&mut a, "10.0.0.1:10101", r, Some(history()));
    let (lines, buf) = draw(&a, 160, 44);
    let (ky, clock) = row_with(&lines, "   clock ");
    assert!(
        clock
            .trim_end()
            .ends_with("clock            NOT synchronised"),
        "{clock}"
    );
    let x = col(clock, "NOT").unwrap() as u16;
    assert!(buf[(x, ky as u16)].modifier.contains(Modifier::BOLD));
}

/// A storage server's answer to the storage query: md0 whole, md1 degraded with a failed disk,
/// md2 degraded and recovering, md127 inactive; pool tank DEGRADED, rpool ONLINE; bond0 with one
/// of two links up, bond1 whole; EDAC with corrected and uncorrectable errors.
fn storage_results() -> Vec<Sample> {
    let mut out = Vec::new();
    let md = |out: &mut Vec<Sample>, dev: &str, state: &str, req: f64, act: f64, failed: f64| {
        for st in ["active", "inactive", "recovering", "resync", "check"] {
            out.push(s(
                &[
                    ("__name__", "node_md_state"),
                    ("device", dev),
                    ("state", st),
                ],
                if st == state { 1.0 } else { 0.0 },
            ));
        }
        out.push(s(
            &[("__name__", "node_md_disks_required"), ("device", dev)],
            req,
        ));
        out.push(s(
            &[
                ("__name__", "node_md_disks"),
                ("device", dev),
                ("state", "active"),
            ],
            act,
        ));
        out.push(s(
            &[
                ("__name__", "node_md_disks"),
                ("device", dev),
                ("state", "failed"),
            ],
            failed,
        ));
        out.push(s(
            &[
                ("__name__", "node_md_disks"),
                ("device", dev),
                ("state", "spare"),
            ],
            0.0,
        ));
    };
    md(&mut out, "md0", "active", 2.0, 2.0, 0.0);
    md(&mut out, "md1", "active", 2.0, 1.0, 1.0);
    md(&mut out, "md2", "recovering", 4.0, 3.0, 0.0);
    md(&mut out, "md10", "active", 2.0, 2.0, 0.0);
    md(&mut out, "md127", "inactive", 2.0, 0.0, 0.0);
    for (pool, state) in [("tank", "degraded"), ("rpool", "online")] {
        for st in ["online", "degraded", "faulted"] {
            out.push(s(
                &[
                    ("__name__", "node_zfs_zpool_state"),
                    ("zpool", pool),
                    ("state", st),
                ],
                if st == state { 1.0 } else { 0.0 },
            ));
        }
    }
    for (bond, slaves, active) in [("bond0", 2.0, 1.0), ("bond1", 2.0, 2.0)] {
        out.push(s(
            &[("__name__", "node_bonding_slaves"), ("master", bond)],
            slaves,
        ));
        out.push(s(
            &[("__name__", "node_bonding_active"), ("master", bond)],
            active,
        ));
    }
    for (mc, ce, ue) in [("0", 7.0, 0.0), ("1", 2.0, 1.0)] {
        out.push(s(
            &[
                ("__name__", "node_edac_correctable_errors_total"),
                ("controller", mc),
            ],
            ce,
        ));
        out.push(s(
            &[
                ("__name__", "node_edac_uncorrectable_errors_total"),
                ("controller", mc),
            ],
            ue,
        ));
    }
    out
}

#[test]
fn host_view_storage_health_of_a_storage_server() {
    let mut a = with_fleet(false);
    let mut r = host_results("10.0.0.2:10101");
    r.insert(HostQuery::Storage, storage_results());
    open_host(&mut a, "10.0.0.2:10101", r, Some(history()));
    let (lines, buf) = draw(&a, 200, 50);
    row_with(&lines, " Storage health");
    // The whole arrays counted, those at fault named in natural order, wrapped within the
    // column (100 cells of 200) under the first item.
    let (ry, raid) = row_with(&lines, "   RAID ");
    assert!(
        raid.contains(
            "RAID             2 whole · md1 DEGRADED 1/2, 1 failed · md2 DEGRADED 3/4, recovering"
        ),
        "{raid}"
    );
    let x = col(raid, "md1 DEGRADED").unwrap() as u16;
    assert_eq!(buf[(x, ry as u16)].fg, Color::Red);
    let x = col(raid, "2 whole").unwrap() as u16;
    assert_eq!(buf[(x, ry as u16)].fg, Color::Green);
    let next = &lines[ry + 1];
    let x = col(next, "md127 INACTIVE").unwrap();
    assert_eq!(x, col(raid, "2 whole").unwrap(), "{raid}\n{next}");
    let (zy, zfs) = row_with(&lines, "   ZFS pools ");
    assert!(zfs.contains("1 ONLINE · tank DEGRADED"), "{zfs}");
    let x = col(zfs, "tank DEGRADED").unwrap() as u16;
    assert_eq!(buf[(x, zy as u16)].fg, Color::Red);
    // Only the degraded bond.
    let (by, bonds) = row_with(&lines, "   bonds ");
    assert!(bonds.contains("bond0 1/2 links up"), "{bonds}");
    assert!(!bonds.contains("bond1"), "{bonds}");
    let x = col(bonds, "bond0").unwrap() as u16;
    assert_eq!(buf[(x, by as u16)].fg, Color::Yellow);
    let (my, mem) = row_with(&lines, "   memory errors ");
    assert!(
        mem.contains("9 corrected, 1 uncorrectable (ECC, since boot)"),
        "{mem}"
    );
    let x = col(mem, "9 corrected").unwrap() as u16;
    assert_eq!(buf[(x, my as u16)].fg, Color::Red);

    // A whole storage host: every array and pool counted green, no bonds line (the bonds are
    // whole), no memory errors.
    let mut a = with_fleet(false);
    let mut r = host_results("10.0.0.2:10101");
    let whole: Vec<Sample> = storage_results()
        .into_iter()
        .filter(|x| {
            let dev = x.labels.get("device").map(String::as_str);
            let pool = x.labels.get("zpool").map(String::as_str);
            let name = x.labels["__name__"].as_str();
            let at_fault = matches!(dev, Some("md1" | "md2" | "md127")) || pool == Some("tank");
            let dropped =
                name.starts_with("node_edac_uncorrectable") || name.starts_with("node_bonding_");
            !(at_fault || dropped)
        })
        .map(|mut x| {
            if x.labels["__name__"] == "node_edac_correctable_errors_total" {
                x.v = 0.0;
            }
            x
        })
        .collect();
    r.insert(HostQuery::Storage, whole);
    open_host(&mut a, "10.0.0.2:10101", r, Some(history()));
    let (lines, buf) = draw(&a, 200, 50);
    let (ry, raid) = row_with(&lines, "   RAID ");
    assert!(raid.contains("2 arrays, all active and whole"), "{raid}");
    let x = col(raid, "2 arrays").unwrap() as u16;
    assert_eq!(buf[(x, ry as u16)].fg, Color::Green);
    let (_, zfs) = row_with(&lines, "   ZFS pools ");
    assert!(zfs.contains("1 ONLINE"), "{zfs}");
    assert!(!lines.iter().any(|l| l.contains("   bonds ")));
    let (_, mem) = row_with(&lines, "   memory errors ");
    assert!(mem.contains("0 corrected, 0 uncorrectable"), "{mem}");
}

#[test]
fn host_view_without_storage_hardware_shows_no_storage_line() {
    // The laptop of host_results has no arrays, pools, bonds or EDAC: no Storage query answer.
    let mut a = with_fleet(false);
    open_host(
        &mut a,
        "10.0.0.1:10101",
        host_results("10.0.0.1:10101"),
        Some(history()),
    );
    let (lines, _) = draw(&a, 160, 44);
    assert!(
        !lines.iter().any(|l| l.contains("Storage health")),
        "{}",
        lines.join("\n")
    );
    // Whole bonds alone are nothing to report either.
    let mut a = with_fleet(false);
    let mut r = host_results("10.0.0.1:10101");
    r.insert(
        HostQuery::Storage,
        vec![
            s(
                &[("__name__", "node_bonding_slaves"), ("master", "bond0")],
                2.0,
            ),
            s(
                &[("__name__", "node_bonding_active"), ("master", "bond0")],
                2.0,
            ),
        ],
    );
    open_host(&mut a, "10.0.0.1:10101", r, Some(history()));
    let (lines, _) = draw(&a, 160, 44);
    assert!(
        !lines
            .iter()
            .any(|l| l.contains("Storage health") || l.contains("   bonds ")),
        "{}",
        lines.join("\n")
    );
    // The Limits and clock section follows on as before.
    row_with(&lines, "   clock ");
    row_with(&lines, "USB devices (");
}

#[test]
fn host_view_host_down_and_no_sensors() {
    let mut a = with_fleet(false);
    let mut r = Instants::new();
    r.insert(
        HostQuery::Info,
        vec![s(
            &[("__name__", "up"), ("instance", "10.0.0.3:10101")],
            0.0,
        )],
    );
    open_host(&mut a, "10.0.0.3:10101", r, Some(Ranges::new()));
    let (lines, _) = draw(&a, 120, 36);
    assert!(
        lines[1].starts_with(" 10.0.0.3:10101 · DOWN: last scrape failed, showing its history"),
        "{}",
        lines[1]
    );
    row_with(&lines, "┌CPU -");
    row_with(&lines, "no history in this range");
    row_with(&lines, "┌0 cores");
    row_with(&lines, "no per-core data yet");
    row_with(&lines, "no temperature sensors on this host");
    row_with(&lines, "no filesystems reported");
    row_with(&lines, "no USB devices reported");
    row_with(&lines, "none in this range");
    // No timex, filefd or conntrack series: said so, never shown as 0 % or as unsynchronised.
    let (_, fd) = row_with(&lines, "file descriptors");
    assert!(fd.contains("not reported (no filefd collector?)"), "{fd}");
    let (_, ct) = row_with(&lines, "conntrack");
    assert!(ct.contains("not reported (no conntrack module?)"), "{ct}");
    let (_, clock) = row_with(&lines, "   clock ");
    assert!(clock.contains("sync unknown (no timex data)"), "{clock}");
    assert!(!clock.contains("offset"), "{clock}");
}

#[test]
fn host_view_narrow_and_loading() {
    let mut a = with_fleet(false);
    a.open_host("10.0.0.1:10101".into());
    let (lines, _) = draw(&a, 90, 30);
    assert!(
        lines[1].starts_with(" 10.0.0.1:10101  loading…"),
        "{}",
        lines[1]
    );
    a.apply(Update::Host {
        instance: "10.0.0.1:10101".into(),
        detail: Box::new(batch(build_host(
            "10.0.0.1:10101",
            &host_results("10.0.0.1:10101"),
        ))),
        history: Some(Box::new(batch(build_history(&history())))),
        range: a.range(),
    });
    let (lines, _) = draw(&a, 90, 40);
    row_with(&lines, "Disk r/w · Net ↓/↑");
    row_with(&lines, "coretemp Package id 0");
    row_with(&lines, "Logitech USB Optical Mouse");
    // An answer for another host is ignored.
    a.apply(Update::Host {
        instance: "10.0.0.2:10101".into(),
        detail: Box::new(batch(build_host("10.0.0.2:10101", &Instants::new()))),
        history: None,
        range: a.range(),
    });
    let (lines, _) = draw(&a, 90, 40);
    row_with(&lines, "thinkpad-x1 (10.0.0.1:10101)");
}

#[test]
fn anomalies_view_by_severity_with_alerts() {
    let mut a = with_fleet(false);
    let mut r = Instants::new();
    let l = |inst: &str, rule: &str, sev: &str, subj: &str| {
        s(
            &[
                ("instance", inst),
                ("rule", rule),
                ("severity", sev),
                ("subject", subj),
                ("category", "x"),
            ],
            1.0,
        )
    };
    r.insert(
        AnomalyQuery::Active,
        vec![
            l("10.0.0.2:10101", "memory_high", "warning", "host"),
            l(
                "10.0.0.1:10101",
                "temperature_high",
                "critical",
                "coretemp Package id 0",
            ),
        ],
    );
    r.insert(
        AnomalyQuery::Values,
        vec![s(
            &[
                ("instance", "10.0.0.1:10101"),
                ("rule", "temperature_high"),
                ("subject", "coretemp Package id 0"),
            ],
            97.0,
        )],
    );
    r.insert(
        AnomalyQuery::Thresholds,
        vec![s(
            &[
                ("instance", "10.0.0.1:10101"),
                ("rule", "temperature_high"),
                ("subject", "coretemp Package id 0"),
            ],
            90.0,
        )],
    );
    r.insert(
        AnomalyQuery::Recent,
        vec![l("10.0.0.3:10101", "usb_timeout", "warning", "1-1.2")],
    );
    r.insert(
        AnomalyQuery::Alerts,
        vec![s(
            &[
                ("alertname", "SysmonExporterDown"),
                ("alertstate", "firing"),
                ("severity", "critical"),
                ("instance", "10.0.0.3:10101"),
                ("job", "sysmon"),
            ],
            1.0,
        )],
    );
    let scored = |inst: &str, rule: &str, subj: &str, v: f64| {
        s(&[("instance", inst), ("rule", rule), ("subject", subj)], v)
    };
    r.insert(
        AnomalyQuery::ScoreMean,
        vec![
            scored("10.0.0.1:10101", "adaptive_cpu", "host", 0.12),
            scored("10.0.0.2:10101", "adaptive_memory", "host", 1.35),
        ],
    );
    r.insert(
        AnomalyQuery::ScorePeak,
        vec![scored("10.0.0.2:10101", "adaptive_memory", "host", 6.5)],
    );
    a.apply(Update::Anomalies(batch(build_anomalies(&r))));
    key(&mut a, KeyCode::Char('3'));
    assert_eq!(a.view, View::Anomalies);
    let (lines, buf) = draw(&a, 150, 24);
    assert!(
        lines[1].starts_with(" active: 1 critical, 1 warning, 0 info · recent (1h, +/-): 1 · alerts: 1 firing, 0 pending"),
        "{}",
        lines[1]
    );
    let (hy, header) = row_with(&lines, "STATE");
    assert!(
        header.contains("SEVERITY") && header.contains("THRESHOLD"),
        "{header}"
    );
    // Critical first, then warning, then the recent one.
    let first = &lines[hy + 1];
    assert!(
        first.contains("ACTIVE")
            && first.contains("critical")
            && first.contains("temperature_high"),
        "{first}"
    );
    assert!(first.contains("97") && first.contains("90"), "{first}");
    assert_eq!(
        buf[(col(first, "critical").unwrap() as u16, (hy + 1) as u16)].fg,
        Color::Red
    );
    assert!(lines[hy + 2].contains("memory_high"), "{}", lines[hy + 2]);
    assert!(
        lines[hy + 3].contains("recent") && lines[hy + 3].contains("within 1h"),
        "{}",
        lines[hy + 3]
    );
    // The ranking: highest mean score first, coloured past the detector's threshold.
    let (ry, _) = row_with(
        &lines,
        "Most anomalous signals over 1h (mean sysmon_anomaly_score; 1 is the detector's threshold)",
    );
    assert!(
        lines[ry + 1].contains("MEAN") && lines[ry + 1].contains("PEAK"),
        "{}",
        lines[ry + 1]
    );
    let top = &lines[ry + 2];
    assert!(
        top.contains("10.0.0.2:10101") && top.contains("adaptive_memory") && top.contains("1.35"),
        "{top}"
    );
    assert!(top.contains("6.5"), "{top}");
    assert_eq!(
        buf[(col(top, "1.35").unwrap() as u16, (ry + 2) as u16)].fg,
        Color::Red
    );
    let second = &lines[ry + 3];
    assert!(
        second.contains("adaptive_cpu") && second.contains("0.12"),
        "{second}"
    );
    let (_, alert) = row_with(&lines, "SysmonExporterDown");
    assert!(
        alert.contains("firing") && alert.contains("10.0.0.3:10101"),
        "{alert}"
    );
    // Enter opens the host of the selected (first) anomaly.
    key(&mut a, KeyCode::Enter);
    assert_eq!(a.view, View::Host);
    assert_eq!(a.host.instance.as_deref(), Some("10.0.0.1:10101"));

    // Nothing to report.
    let mut quiet = with_fleet(false);
    quiet.apply(Update::Anomalies(batch(build_anomalies(&Instants::new()))));
    key(&mut quiet, KeyCode::Char('3'));
    let (lines, _) = draw(&quiet, 120, 20);
    row_with(&lines, "no anomaly active or seen in the last 1h");
    row_with(&lines, "no alerts");
    row_with(&lines, "no adaptive scores in the last 1h");
}

fn run_query(a: &mut App, expr: &str) -> u64 {
    key(a, KeyCode::Char('4'));
    key(a, KeyCode::Enter);
    for c in expr.chars() {
        key(a, KeyCode::Char(c));
    }
    key(a, KeyCode::Enter);
    a.query.pending.expect("query sent")
}

#[test]
fn query_view_error_table_and_chart() {
    let mut a = with_fleet(false);
    let id = run_query(&mut a, "rate(up[5m]");
    let (lines, _) = draw(&a, 120, 20);
    row_with(&lines, "rate(up[5m]");
    row_with(&lines, "running…");
    a.apply(Update::Query {
        id,
        expr: "rate(up[5m]".into(),
        range: None,
        step: None,
        result: Err(PromError::Api {
            status: 400,
            error_type: "bad_data".into(),
            message: "invalid parameter \"query\": 1:12: parse error: unclosed left parenthesis"
                .into(),
        }),
        elapsed: Duration::from_millis(4),
    });
    let (lines, buf) = draw(&a, 120, 20);
    let (ey, _) = row_with(&lines, "Prometheus rejected the query (bad_data)");
    let (my, msg) = row_with(&lines, "1:12: parse error: unclosed left parenthesis");
    assert_eq!(my, ey + 1);
    assert_eq!(
        buf[(col(msg, "parse").unwrap() as u16, my as u16)].fg,
        Color::Red
    );

    // Run again (the prompt keeps the last query); the answer is a vector.
    let id = run_query(&mut a, "");
    a.apply(Update::Query {
        id,
        expr: "up".into(),
        range: None,
        step: None,
        result: Ok(QueryResult {
            data: Data::Vector(vec![
                s(
                    &[
                        ("__name__", "up"),
                        ("instance", "10.0.0.1:10101"),
                        ("job", "sysmon"),
                    ],
                    1.0,
                ),
                s(
                    &[
                        ("__name__", "up"),
                        ("instance", "10.0.0.3:10101"),
                        ("job", "sysmon"),
                    ],
                    0.0,
                ),
            ]),
            warnings: vec![],
            infos: vec![],
        }),
        elapsed: Duration::from_millis(4),
    });
    let (lines, _) = draw(&a, 120, 20);
    row_with(&lines, "2 series in 4 ms");
    let (hy, header) = row_with(&lines, "SERIES");
    let vx = col(header, "VALUE").unwrap();
    let r1 = &lines[hy + 1];
    assert!(
        r1.contains("up{instance=\"10.0.0.1:10101\", job=\"sysmon\"}"),
        "{r1}"
    );
    assert_eq!(r1.chars().nth(vx), Some('1'), "{r1}");
    assert_eq!(lines[hy + 2].chars().nth(vx), Some('0'));

    // A range query draws a chart with a legend.
    key(&mut a, KeyCode::Char('+'));
    let id = a.query.pending.unwrap();
    a.apply(Update::Query {
        id,
        expr: "up".into(),
        range: Some(Duration::from_secs(300)),
        step: Some(Duration::from_secs(2)),
        result: Ok(QueryResult {
            data: Data::Matrix(vec![Series {
                labels: [("instance".to_string(), "10.0.0.1:10101".to_string())]
                    .into_iter()
                    .collect(),
                points: (0..150)
                    .map(|i| (1_700_000_000.0 + i as f64 * 2.0, (i % 10) as f64))
                    .collect(),
            }]),
            warnings: vec!["some samples were dropped".into()],
            infos: vec![],
        }),
        elapsed: Duration::from_millis(9),
    });
    let (lines, _) = draw(&a, 120, 24);
    assert!(
        lines[1].contains("PromQL (range 5m; +/- changes)"),
        "{}",
        lines[1]
    );
    row_with(&lines, "1 series, 150 points, step 2s in 9 ms");
    row_with(&lines, "┌range 5m");
    row_with(
        &lines,
        "━━ {instance=\"10.0.0.1:10101\"}  last 9 min 0 max 9",
    );
    row_with(&lines, "Prometheus says: some samples were dropped");
    assert!(
        lines
            .iter()
            .any(|l| l.chars().any(|c| ('\u{2800}'..='\u{28FF}').contains(&c))),
        "braille chart drawn"
    );
}

#[test]
fn help_overlay_and_too_small_terminal() {
    let mut a = with_fleet(false);
    key(&mut a, KeyCode::Char('?'));
    let (lines, _) = draw(&a, 100, 30);
    let (_, title) = row_with(&lines, "sysmon-top keys");
    assert!(title.contains('┌'));
    row_with(&lines, "widen or narrow the time range (5m … 7d)");
    row_with(&lines, "NO_COLOR=1 turns colours off");
    key(&mut a, KeyCode::Char('x'));
    assert!(!a.show_help);

    let (lines, _) = draw(&a, 40, 8);
    let (y, l) = row_with(&lines, "terminal too small");
    assert_eq!(l.trim(), "terminal too small");
    assert_eq!(lines[y + 1].trim(), "40x8, need 60x12");
    // Resizing back draws the view again.
    let (lines, _) = draw(&a, 100, 14);
    assert!(lines[1].starts_with(" 3 hosts"));
}

#[test]
fn early_fleet_of_the_first_load_says_what_is_still_loading() {
    let mut a = app(false);
    let mut r = fleet_results();
    r.remove(&FleetQuery::Cpu);
    let mut b = batch(build_fleet(&r));
    b.pending = vec!["cpu".into()];
    a.apply(Update::Fleet(b));
    let (lines, _) = draw(&a, 140, 12);
    assert!(
        lines[1].contains("sort: worst first · loading cpu…"),
        "{}",
        lines[1]
    );
    let cpu = col(&lines[2], "CPU").unwrap();
    assert_eq!(lines[4].chars().nth(cpu), Some('-'), "{}", lines[4]);
    // The complete batch replaces it.
    a.apply(Update::Fleet(batch(build_fleet(&fleet_results()))));
    let (lines, _) = draw(&a, 140, 12);
    assert!(!lines[1].contains("loading"), "{}", lines[1]);
    assert!(lines[4].contains("12.3%"), "{}", lines[4]);
}
