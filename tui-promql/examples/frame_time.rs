//! Time to draw one frame of each view (a measurement, not a test).
//!
//! ```sh
//! cargo run --release -p sysmon-top --example frame_time -- [--prometheus URL] [--hosts 50]
//! ```
//!
//! With `--prometheus`, the fleet, the first host and the anomalies come from that server (as the
//! collection task fetches them); without, a synthetic fleet of `--hosts` hosts is used. Each
//! frame goes through ratatui's crossterm backend into memory, so the figure includes the diff
//! and the escape-sequence encoding, not the terminal's own drawing. Two data sets alternate so
//! that every frame redraws most cells ("full"), and the same data is drawn again ("steady").

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ratatui::backend::CrosstermBackend;
use ratatui::layout::Rect;
use ratatui::{Terminal, TerminalOptions, Viewport};
use sysmon_top::app::{App, QueryOutcome, Settings, View};
use sysmon_top::collect::{fetch_anomalies, fetch_fleet, fetch_host, Batch, Update};
use sysmon_top::model::{build_fleet, build_history, build_host, Instants, Ranges};
use sysmon_top::prom::{ClientConfig, Data, Labels, PromClient, QueryResult, Sample, Series};
use sysmon_top::queries::{FleetQuery, HistoryQuery, HostQuery, Queries};
use sysmon_top::ui;

/// A sink that counts the bytes the backend would send to the terminal.
#[derive(Default, Clone)]
struct Counting(Arc<AtomicUsize>);

impl Write for Counting {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.fetch_add(buf.len(), Ordering::Relaxed);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn batch<T>(data: T) -> Batch<T> {
    Batch {
        data,
        failed: vec![],
        warnings: vec![],
        elapsed: Duration::ZERO,
        at: sysmon_top::fmt::now_unix(),
        pending: vec![],
    }
}

fn sample(labels: &[(&str, String)], v: f64) -> Sample {
    Sample {
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
        t: 0.0,
        v,
    }
}

/// Synthetic answers for `n` hosts; `seed` shifts every value so two sets differ everywhere.
fn synthetic(n: usize, seed: f64) -> App {
    let mut fleet = Instants::new();
    for q in FleetQuery::ALL {
        let mut v = Vec::new();
        for h in 0..n {
            let inst = format!("host-{h:02}.example:10101");
            let x = ((h as f64 * 0.137 + seed) % 1.0).abs();
            v.push(match q {
                FleetQuery::Uname => sample(
                    &[("instance", inst), ("nodename", format!("node{h:02}"))],
                    1.0,
                ),
                FleetQuery::ActiveAnomalies if h % 7 == 0 => {
                    sample(&[("instance", inst), ("severity", "warning".into())], 1.0)
                }
                FleetQuery::ActiveAnomalies => continue,
                FleetQuery::Up => {
                    sample(&[("instance", inst)], if h % 17 == 3 { 0.0 } else { 1.0 })
                }
                FleetQuery::Temp => sample(&[("instance", inst)], 40.0 + 50.0 * x),
                FleetQuery::Disk | FleetQuery::NetRx | FleetQuery::NetTx => {
                    sample(&[("instance", inst)], 1e7 * x)
                }
                _ => sample(&[("instance", inst)], x),
            });
        }
        fleet.insert(q, v);
    }
    let settings = Settings {
        url: "http://localhost:9090/".into(),
        job: "sysmon".into(),
        refresh: Duration::from_secs(2),
        no_color: false,
    };
    let mut a = App::new(settings.clone());
    a.apply(Update::Fleet(batch(build_fleet(&fleet))));
    let inst = "host-01.example:10101".to_string();
    let mut host = Instants::new();
    host.insert(
        HostQuery::Cores,
        (0..16)
            .map(|c| {
                sample(
                    &[("cpu", c.to_string())],
                    ((c as f64 * 0.07 + seed) % 1.0).abs(),
                )
            })
            .collect(),
    );
    host.insert(
        HostQuery::Temps,
        (0..12)
            .map(|s| {
                sample(
                    &[
                        ("__name__", "node_hwmon_temp_celsius".into()),
                        ("chip", "platform_coretemp_0".into()),
                        ("sensor", format!("temp{s}")),
                    ],
                    40.0 + s as f64 + seed * 10.0,
                )
            })
            .collect(),
    );
    let mut hist = Ranges::new();
    let now = sysmon_top::fmt::now_unix();
    for q in HistoryQuery::ALL {
        hist.insert(
            q,
            vec![Series {
                labels: Labels::new(),
                points: (0..240)
                    .map(|i| {
                        (
                            now - 3600.0 + i as f64 * 15.0,
                            ((i as f64 * 0.05 + seed).sin() + 1.0) / 2.0,
                        )
                    })
                    .collect(),
            }],
        );
    }
    a.open_host(inst.clone());
    a.apply(Update::Host {
        instance: inst.clone(),
        detail: Box::new(batch(build_host(&inst, &host))),
        history: Some(Box::new(batch(build_history(&hist)))),
        range: a.range(),
    });
    a.query.last = Some(QueryOutcome {
        expr: "rate(node_network_receive_bytes_total[5m])".into(),
        range: Some(Duration::from_secs(3600)),
        step: Some(Duration::from_secs(15)),
        result: Ok(QueryResult {
            data: Data::Matrix(hist.values().flatten().cloned().collect()),
            warnings: vec![],
            infos: vec![],
        }),
        elapsed: Duration::from_millis(5),
    });
    a
}

fn from_prometheus(url: &str) -> App {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let client = PromClient::new(&ClientConfig::new(url)).expect("client");
    let q = Queries::new("sysmon");
    let mut app = App::new(Settings {
        url: url.into(),
        job: "sysmon".into(),
        refresh: Duration::from_secs(2),
        no_color: false,
    });
    let fleet = rt.block_on(fetch_fleet(&client, &q)).expect("fleet");
    let first = fleet.data.first().map(|r| r.instance.clone());
    app.apply(Update::Fleet(fleet));
    if let Some(inst) = first {
        let (d, h) = rt.block_on(fetch_host(
            &client,
            &q,
            &inst,
            Duration::from_secs(3600),
            true,
        ));
        app.open_host(inst.clone());
        app.apply(Update::Host {
            instance: inst,
            detail: Box::new(d),
            history: h.map(Box::new),
            range: app.range(),
        });
    }
    app.apply(Update::Anomalies(rt.block_on(fetch_anomalies(
        &client,
        &q,
        Duration::from_secs(3600),
    ))));
    app
}

fn stats(mut v: Vec<Duration>) -> (f64, f64, f64) {
    v.sort();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let mean = v.iter().map(|d| us(*d)).sum::<f64>() / v.len() as f64;
    (mean, us(v[v.len() / 2]), us(v[v.len() * 99 / 100]))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let hosts: usize = arg("--hosts").and_then(|s| s.parse().ok()).unwrap_or(50);
    let (w, h) = (160u16, 48u16);
    let rounds = 500;
    let (mut a, mut b) = match arg("--prometheus") {
        Some(url) => (from_prometheus(&url), from_prometheus(&url)),
        None => (synthetic(hosts, 0.0), synthetic(hosts, 0.5)),
    };
    println!(
        "frame time, {w}x{h} terminal, {} hosts in the fleet, {rounds} frames per figure",
        a.fleet.rows.len()
    );
    println!(
        "{:<10} {:>22} {:>22} {:>12}",
        "view", "full: mean/p50/p99 µs", "steady: mean/p50/p99 µs", "bytes/full"
    );
    for view in [View::Fleet, View::Host, View::Anomalies, View::Query] {
        a.view = view;
        b.view = view;
        let sink = Counting::default();
        let mut term = Terminal::with_options(
            CrosstermBackend::new(sink.clone()),
            TerminalOptions {
                viewport: Viewport::Fixed(Rect::new(0, 0, w, h)),
            },
        )
        .unwrap();
        let mut full = Vec::with_capacity(rounds);
        let mut steady = Vec::with_capacity(rounds);
        let before = sink.0.load(Ordering::Relaxed);
        for i in 0..rounds {
            let app = if i % 2 == 0 { &a } else { &b };
            let t0 = Instant::now();
            term.draw(|f| ui::draw(f, app)).unwrap();
            full.push(t0.elapsed());
            let t0 = Instant::now();
            term.draw(|f| ui::draw(f, app)).unwrap();
            steady.push(t0.elapsed());
        }
        let bytes = (sink.0.load(Ordering::Relaxed) - before) / rounds;
        let (fm, fp50, fp99) = stats(full);
        let (sm, sp50, sp99) = stats(steady);
        println!(
            "{:<10} {:>8.0}/{:>5.0}/{:>6.0} {:>10.0}/{:>5.0}/{:>6.0} {:>12}",
            view.title(),
            fm,
            fp50,
            fp99,
            sm,
            sp50,
            sp99,
            bytes
        );
    }
}
