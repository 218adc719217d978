//! Host view: CPU (history and per-core bars), memory and swap, temperatures against their own
//! limits, filesystems, disk and network history, file descriptors and conntrack against their
//! limits, the clock's synchronisation, USB devices with their errors, anomalies.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Chart, Dataset, GraphType, Paragraph};
use ratatui::Frame;

use crate::app::App;
use crate::fmt;
use crate::model::{Anomaly, ClockSync, HostDetail, HostHistory, StorageHealth, Usage};
use crate::ui::{bar_line, thresholds as th, trunc, Theme};

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
    let Some(instance) = app.host.instance.as_deref() else {
        frame.render_widget(
            Paragraph::new(" no host selected: pick one in the fleet view (1) and press Enter")
                .style(theme.dim()),
            area,
        );
        return;
    };
    let range = app.range();
    let [title, rest] = Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(area);
    let Some(d) = app.host.detail.as_ref() else {
        frame.render_widget(
            Paragraph::new(Line::from(vec![
                Span::styled(
                    format!(" {instance}"),
                    Style::default().add_modifier(Modifier::BOLD),
                ),
                Span::styled("  loading…", theme.dim()),
            ])),
            title,
        );
        return;
    };
    draw_title(frame, title, d, app, theme);
    let hist = &app.host.history;

    let wide = rest.width >= 120;
    let chart_h = if rest.height >= 30 {
        rest.height * 45 / 100
    } else {
        (rest.height / 2).max(6)
    };
    let [charts, lists] =
        Layout::vertical([Constraint::Length(chart_h), Constraint::Min(0)]).areas(rest);
    let now = app.host.at.unwrap_or_else(fmt::now_unix);
    let x = [now - range.as_secs_f64(), now];
    let xl = fmt::prom_duration(range);

    // Charts: CPU | cores on top, memory+swap | temperature, disk | network below.
    let [row1, row2] =
        Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(charts);
    let [cpu_a, cores_a] = Layout::horizontal(if wide {
        [Constraint::Percentage(50), Constraint::Percentage(50)]
    } else {
        [Constraint::Percentage(60), Constraint::Percentage(40)]
    })
    .areas(row1);
    let cpu_now = hist.cpu.last().map(|p| p.1).or(d.cpu_now());
    pct_chart(
        frame,
        cpu_a,
        &format!("CPU {}", fmt::pct(cpu_now)),
        &[("cpu", &hist.cpu)],
        x,
        &xl,
        theme,
    );
    draw_cores(frame, cores_a, d, theme);

    let row2_cols: Vec<Rect> = if wide {
        Layout::horizontal([Constraint::Ratio(1, 4); 4])
            .split(row2)
            .to_vec()
    } else {
        Layout::horizontal([Constraint::Ratio(1, 2); 2])
            .split(row2)
            .to_vec()
    };
    pct_chart(
        frame,
        row2_cols[0],
        &format!(
            "Memory {} · Swap {}",
            fmt::pct(d.mem_ratio()),
            if d.swap_total == Some(0.0) {
                "none".to_string()
            } else {
                fmt::pct(d.swap_ratio())
            }
        ),
        &[("mem", &hist.mem), ("swap", &hist.swap)],
        x,
        &xl,
        theme,
    );
    if wide {
        rate_chart(
            frame,
            row2_cols[1],
            "Disk r/w",
            &[("read", &hist.disk_read), ("write", &hist.disk_write)],
            x,
            &xl,
            theme,
        );
        rate_chart(
            frame,
            row2_cols[2],
            "Net ↓/↑",
            &[("rx", &hist.net_rx), ("tx", &hist.net_tx)],
            x,
            &xl,
            theme,
        );
        temp_chart(frame, row2_cols[3], d, hist, x, &xl, theme);
    } else {
        // Narrow: disk and network share one chart (rates), the temperature goes to the lists.
        rate_chart(
            frame,
            row2_cols[1],
            "Disk r/w · Net ↓/↑",
            &[
                ("disk read", &hist.disk_read),
                ("disk write", &hist.disk_write),
                ("net rx", &hist.net_rx),
                ("net tx", &hist.net_tx),
            ],
            x,
            &xl,
            theme,
        );
    }

    // Lists: sensors and filesystems | USB and anomalies; one column when narrow. They scroll.
    let (left, right) = list_lines(d, app, theme, lists.width);
    let scroll = app.host.scroll;
    app.page.set(lists.height.max(1));
    if wide {
        let [l, r] = Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
            .areas(lists);
        frame.render_widget(Paragraph::new(left).scroll((scroll, 0)), l);
        frame.render_widget(Paragraph::new(right).scroll((scroll, 0)), r);
    } else {
        let mut all = left;
        all.push(Line::from(""));
        all.extend(right);
        frame.render_widget(Paragraph::new(all).scroll((scroll, 0)), lists);
    }
}

fn draw_title(frame: &mut Frame, area: Rect, d: &HostDetail, app: &App, theme: Theme) {
    let mut spans = vec![Span::styled(
        format!(
            " {}",
            d.nodename.clone().unwrap_or_else(|| d.instance.clone())
        ),
        Style::default().add_modifier(Modifier::BOLD),
    )];
    if d.nodename.is_some() {
        spans.push(Span::raw(format!(" ({})", d.instance)));
    }
    spans.push(Span::raw(" · "));
    spans.push(match d.up {
        Some(true) => Span::styled("up", theme.good()),
        Some(false) => {
            let since = app
                .fleet
                .rows
                .iter()
                .find(|r| r.instance == d.instance)
                .map(|r| crate::views::fleet::down_since(r, fmt::now_unix()))
                .map(|s| format!(" · {s}"))
                .unwrap_or_default();
            Span::styled(
                format!("DOWN: last scrape failed, showing its history{since}"),
                theme.bad(),
            )
        }
        None => Span::styled("not a scrape target", theme.dim()),
    });
    if let Some(os) = &d.os {
        spans.push(Span::raw(format!(" · {os}")));
    }
    if let Some(k) = &d.kernel {
        spans.push(Span::raw(format!(" · kernel {k}")));
    }
    if let Some(v) = &d.exporter_version {
        spans.push(Span::styled(format!(" · sysmon-exporter {v}"), theme.dim()));
    }
    spans.push(Span::styled(
        format!(" · range {} (+/-)", fmt::prom_duration(app.range())),
        theme.accent(),
    ));
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn x_axis<'a>(x: [f64; 2], label: &str, theme: Theme) -> Axis<'a> {
    Axis::default()
        .bounds(x)
        .style(theme.dim())
        .labels(vec![Line::from(format!("-{label}")), Line::from("now")])
}

fn datasets<'a>(series: &'a [(&str, &'a Vec<(f64, f64)>)], theme: Theme) -> Vec<Dataset<'a>> {
    series
        .iter()
        .enumerate()
        .map(|(i, (name, data))| {
            Dataset::default()
                .name(name.to_string())
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(theme.series(i))
                .data(data)
        })
        .collect()
}

fn no_data(series: &[(&str, &Vec<(f64, f64)>)]) -> bool {
    series.iter().all(|(_, d)| d.is_empty())
}

fn empty_block(frame: &mut Frame, area: Rect, title: &str, theme: Theme) {
    frame.render_widget(
        Paragraph::new(Span::styled("no history in this range", theme.dim()))
            .block(Block::bordered().title(title.to_string())),
        area,
    );
}

/// A 0-100 % chart.
fn pct_chart(
    frame: &mut Frame,
    area: Rect,
    title: &str,
    series: &[(&str, &Vec<(f64, f64)>)],
    x: [f64; 2],
    xl: &str,
    theme: Theme,
) {
    if no_data(series) {
        return empty_block(frame, area, title, theme);
    }
    let chart = Chart::new(datasets(series, theme))
        .block(Block::bordered().title(title.to_string()))
        .x_axis(x_axis(x, xl, theme))
        .y_axis(
            Axis::default()
                .bounds([0.0, 1.0])
                .style(theme.dim())
                .labels(vec![Line::from("0%"), Line::from("100%")]),
        )
        .legend_position(if series.len() > 1 {
            Some(ratatui::widgets::LegendPosition::TopLeft)
        } else {
            None
        });
    frame.render_widget(chart, area);
}

fn max_of(series: &[(&str, &Vec<(f64, f64)>)]) -> f64 {
    series
        .iter()
        .flat_map(|(_, d)| d.iter().map(|p| p.1))
        .fold(0.0f64, f64::max)
}

/// A bytes/s chart scaled to its maximum.
fn rate_chart(
    frame: &mut Frame,
    area: Rect,
    title: &str,
    series: &[(&str, &Vec<(f64, f64)>)],
    x: [f64; 2],
    xl: &str,
    theme: Theme,
) {
    if no_data(series) {
        return empty_block(frame, area, title, theme);
    }
    let top = max_of(series).max(1.0) * 1.1;
    let last: Vec<String> = series
        .iter()
        .map(|(n, d)| format!("{n} {}", fmt::rate(d.last().map(|p| p.1))))
        .collect();
    let chart = Chart::new(datasets(series, theme))
        .block(Block::bordered().title(format!("{title}: {}", last.join(" "))))
        .x_axis(x_axis(x, xl, theme))
        .y_axis(
            Axis::default()
                .bounds([0.0, top])
                .style(theme.dim())
                .labels(vec![Line::from("0"), Line::from(fmt::rate(Some(top)))]),
        )
        .legend_position(None);
    frame.render_widget(chart, area);
}

fn temp_chart(
    frame: &mut Frame,
    area: Rect,
    d: &HostDetail,
    hist: &HostHistory,
    x: [f64; 2],
    xl: &str,
    theme: Theme,
) {
    let series = [("hottest", &hist.temp)];
    let title = format!(
        "Hottest sensor {}",
        fmt::celsius(d.sensors.iter().map(|s| s.temp).reduce(f64::max))
    );
    if no_data(&series) {
        let msg = if d.sensors.is_empty() {
            "no temperature sensors"
        } else {
            "no history in this range"
        };
        frame.render_widget(
            Paragraph::new(Span::styled(msg, theme.dim())).block(Block::bordered().title(title)),
            area,
        );
        return;
    }
    let top = max_of(&series).max(50.0) * 1.1;
    let chart = Chart::new(datasets(&series, theme))
        .block(Block::bordered().title(title))
        .x_axis(x_axis(x, xl, theme))
        .y_axis(
            Axis::default()
                .bounds([0.0, top])
                .style(theme.dim())
                .labels(vec![Line::from("0"), Line::from(fmt::celsius(Some(top)))]),
        )
        .legend_position(None);
    frame.render_widget(chart, area);
}

/// Per-core bars in as many columns as needed.
fn draw_cores(frame: &mut Frame, area: Rect, d: &HostDetail, theme: Theme) {
    let block = Block::bordered().title(format!("{} cores", d.cores.len()));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if d.cores.is_empty() {
        frame.render_widget(
            Paragraph::new(Span::styled("no per-core data yet", theme.dim())),
            inner,
        );
        return;
    }
    let rows = inner.height.max(1) as usize;
    let ncols = d.cores.len().div_ceil(rows);
    let col_w = (inner.width as usize / ncols.max(1)).max(1);
    let label_w = d.cores.iter().map(|c| c.0.len()).max().unwrap_or(1) + 4;
    let bar_w = col_w.saturating_sub(label_w + 8).clamp(1, 40);
    for (ci, chunk) in d.cores.chunks(rows).enumerate() {
        let x = inner.x + (ci * col_w) as u16;
        if x >= inner.x + inner.width {
            break;
        }
        let lines: Vec<Line> = chunk
            .iter()
            .map(|(cpu, v)| {
                bar_line(
                    format!("cpu{cpu}"),
                    label_w,
                    Some(*v),
                    bar_w,
                    th::CPU,
                    theme,
                )
            })
            .collect();
        let w = (col_w as u16).min(inner.x + inner.width - x);
        frame.render_widget(
            Paragraph::new(lines),
            Rect::new(x, inner.y, w, inner.height),
        );
    }
}

fn heading<'a>(text: &str, theme: Theme) -> Line<'a> {
    Line::from(Span::styled(format!(" {text}"), theme.header()))
}

fn anomaly_line<'a>(a: &Anomaly, theme: Theme) -> Line<'a> {
    let vt = match (a.value, a.threshold) {
        (Some(v), Some(t)) => format!(" value {} > {}", fmt::num(Some(v)), fmt::num(Some(t))),
        (Some(v), None) => format!(" value {}", fmt::num(Some(v))),
        _ => String::new(),
    };
    Line::from(vec![
        Span::styled(
            format!("   {:<8}", a.severity.label()),
            theme.severity(a.severity),
        ),
        Span::raw(format!(" {} on {} ({}){vt}", a.rule, a.subject, a.category)),
    ])
}

/// Width of the names in the limits and clock lines.
const LIMIT_NAME_W: usize = 16;

/// One kernel resource against its limit: a bar and the share when the limit is known, the count
/// alone when it is not, and `absent` when the host does not report it.
fn usage_line<'a>(
    name: &str,
    u: Option<Usage>,
    limit_name: &str,
    absent: &str,
    bar_w: usize,
    theme: Theme,
) -> Line<'a> {
    let label = Span::raw(format!("   {name:<LIMIT_NAME_W$} "));
    let Some(u) = u else {
        return Line::from(vec![label, Span::styled(absent.to_string(), theme.dim())]);
    };
    let r = u.ratio();
    let style = theme.level(r, th::LIMIT.0, th::LIMIT.1);
    let of = match u.limit {
        Some(l) => format!(
            "  {} of {} ({limit_name})",
            fmt::count(Some(u.used)),
            fmt::count(Some(l))
        ),
        None => format!("  {} ({limit_name} not reported)", fmt::count(Some(u.used))),
    };
    Line::from(vec![
        label,
        Span::styled(fmt::bar(r.unwrap_or(0.0), bar_w), style),
        Span::styled(format!(" {:>6}", fmt::pct(r)), style),
        Span::styled(of, theme.dim()),
    ])
}

/// The clock: synchronised or not (unknown without timex data), its offset and maximum error.
fn clock_line<'a>(d: &HostDetail, theme: Theme) -> Line<'a> {
    let c = d.clock;
    let mut spans = vec![Span::raw(format!("   {:<LIMIT_NAME_W$} ", "clock"))];
    spans.push(match c.sync {
        ClockSync::Synced => Span::styled("synchronised", theme.good()),
        ClockSync::NotSynced => Span::styled("NOT synchronised", theme.bad()),
        ClockSync::Unknown => Span::styled("sync unknown (no timex data)", theme.dim()),
    });
    if let Some(o) = c.offset {
        let style = if o.abs() > th::CLOCK_OFFSET {
            theme.warn()
        } else {
            theme.dim()
        };
        spans.push(Span::styled(
            format!(" · offset {}", fmt::span(Some(o), true)),
            style,
        ));
    }
    if let Some(e) = c.max_error {
        spans.push(Span::styled(
            format!(" · max error {}", fmt::span(Some(e), false)),
            theme.dim(),
        ));
    }
    Line::from(spans)
}

/// A count without decimals (disks, links).
fn n(v: Option<f64>) -> String {
    v.map_or_else(|| "?".to_string(), |v| format!("{v:.0}"))
}

/// `label` and its items joined with " · ", wrapped onto continuation lines (indented under the
/// first item) so that no line is wider than `width` cells.
fn item_lines<'a>(
    label: &str,
    items: Vec<(String, Style)>,
    width: usize,
    theme: Theme,
) -> Vec<Line<'a>> {
    let indent = 3 + LIMIT_NAME_W + 1;
    let mut out = Vec::new();
    let mut spans = vec![Span::raw(format!("   {label:<LIMIT_NAME_W$} "))];
    let mut used = indent;
    let mut first = true;
    for (text, style) in items {
        let w = text.chars().count();
        if !first && used + 3 + w > width {
            out.push(Line::from(std::mem::take(&mut spans)));
            spans.push(Span::raw(" ".repeat(indent)));
            used = indent;
            first = true;
        }
        if !first {
            spans.push(Span::styled(" · ", theme.dim()));
            used += 3;
        }
        spans.push(Span::styled(text, style));
        used += w;
        first = false;
    }
    out.push(Line::from(spans));
    out
}

/// The storage-health lines: md arrays, ZFS pools, degraded bonds and EDAC memory errors, one line
/// each (wrapped when long), for what the host has; none at all for a host without any of it.
/// Arrays and pools at fault are named; the healthy ones are counted.
fn storage_lines<'a>(st: &StorageHealth, width: usize, theme: Theme) -> Vec<Line<'a>> {
    if st.is_empty() {
        return Vec::new();
    }
    let mut out = vec![heading("Storage health", theme)];
    if !st.arrays.is_empty() {
        let mut items = Vec::new();
        let mut whole = 0;
        for a in &st.arrays {
            if a.state == "inactive" {
                items.push((format!("{} INACTIVE", a.device), theme.bad()));
            } else if a.degraded() {
                let syncing = if matches!(a.state.as_str(), "recovering" | "resync") {
                    format!(", {}", a.state)
                } else {
                    String::new()
                };
                let failed = if a.has_failed_disk() {
                    format!(", {} failed", n(a.failed))
                } else {
                    String::new()
                };
                items.push((
                    format!(
                        "{} DEGRADED {}/{}{failed}{syncing}",
                        a.device,
                        n(a.active),
                        n(a.required)
                    ),
                    theme.bad(),
                ));
            } else if a.has_failed_disk() {
                items.push((
                    format!("{} {} failed disk", a.device, n(a.failed)),
                    theme.warn(),
                ));
            } else if matches!(a.state.as_str(), "recovering" | "resync" | "check") {
                items.push((format!("{} {}", a.device, a.state), theme.warn()));
            } else {
                whole += 1;
            }
        }
        if whole == st.arrays.len() {
            items.push((
                format!("{whole} arrays, all active and whole"),
                theme.good(),
            ));
        } else if whole > 0 {
            items.insert(0, (format!("{whole} whole"), theme.good()));
        }
        out.extend(item_lines("RAID", items, width, theme));
    }
    if !st.pools.is_empty() {
        let online = st.pools.iter().filter(|(_, s)| s == "online").count();
        let mut items = Vec::new();
        if online > 0 {
            items.push((format!("{online} ONLINE"), theme.good()));
        }
        for (pool, state) in st.pools.iter().filter(|(_, s)| s != "online") {
            let state = if state.is_empty() {
                "state unknown".to_string()
            } else {
                state.to_uppercase()
            };
            items.push((format!("{pool} {state}"), theme.bad()));
        }
        out.extend(item_lines("ZFS pools", items, width, theme));
    }
    let degraded: Vec<(String, Style)> = st
        .bonds
        .iter()
        .filter(|b| b.degraded())
        .map(|b| {
            let style = if b.active == 0.0 {
                theme.bad()
            } else {
                theme.warn()
            };
            (
                format!("{} {:.0}/{:.0} links up", b.master, b.active, b.slaves),
                style,
            )
        })
        .collect();
    if !degraded.is_empty() {
        out.extend(item_lines("bonds", degraded, width, theme));
    }
    if let Some((corrected, uncorrectable)) = st.memory_errors {
        let style = if uncorrectable > 0.0 {
            theme.bad()
        } else if corrected > 0.0 {
            theme.warn()
        } else {
            theme.good()
        };
        let mut line = item_lines(
            "memory errors",
            vec![(
                format!("{corrected:.0} corrected, {uncorrectable:.0} uncorrectable"),
                style,
            )],
            width,
            theme,
        );
        if let Some(l) = line.last_mut() {
            l.spans
                .push(Span::styled(" (ECC, since boot)", theme.dim()));
        }
        out.extend(line);
    }
    out
}

/// The scrollable lists: (left column, right column).
fn list_lines<'a>(
    d: &HostDetail,
    app: &App,
    theme: Theme,
    width: u16,
) -> (Vec<Line<'a>>, Vec<Line<'a>>) {
    let col_w = if width >= 120 { width / 2 } else { width } as usize;
    let mut left = Vec::new();
    // Temperatures, each against its own limit.
    left.push(heading(
        &format!("Temperatures ({})", d.sensors.len()),
        theme,
    ));
    if d.sensors.is_empty() {
        left.push(Line::from(Span::styled(
            "   no temperature sensors on this host",
            theme.dim(),
        )));
    }
    let name_w = d
        .sensors
        .iter()
        .map(|s| s.display_name().chars().count())
        .max()
        .unwrap_or(10)
        .min(col_w.saturating_sub(40).max(10));
    let bar_w = col_w.saturating_sub(name_w + 34).clamp(4, 20);
    for s in &d.sensors {
        let limit = s.limit();
        let style = match (s.crit, s.max) {
            (Some(c), _) if s.temp >= c => theme.bad(),
            (_, Some(m)) if s.temp >= m => theme.warn(),
            (None, None) => theme.level(Some(s.temp), th::TEMP.0, th::TEMP.1),
            _ => theme.good(),
        };
        let ratio = limit.map(|l| s.temp / l).unwrap_or(s.temp / 100.0);
        let limits = match (s.max, s.crit) {
            (Some(m), Some(c)) => format!("max {m:.0} crit {c:.0}"),
            (Some(m), None) => format!("max {m:.0}"),
            (None, Some(c)) => format!("crit {c:.0}"),
            (None, None) => "no limit".into(),
        };
        left.push(Line::from(vec![
            Span::raw(format!("   {:<name_w$} ", trunc(&s.display_name(), name_w))),
            Span::styled(fmt::bar(ratio, bar_w), style),
            Span::styled(format!(" {:>5}", fmt::celsius(Some(s.temp))), style),
            Span::styled(format!("  {limits}"), theme.dim()),
        ]));
    }
    left.push(Line::from(""));
    left.push(heading(
        &format!("Filesystems ({})", d.filesystems.len()),
        theme,
    ));
    if d.filesystems.is_empty() {
        left.push(Line::from(Span::styled(
            "   no filesystems reported",
            theme.dim(),
        )));
    }
    let mp_w = d
        .filesystems
        .iter()
        .map(|f| f.mountpoint.chars().count())
        .max()
        .unwrap_or(10)
        .min(col_w.saturating_sub(44).max(8));
    let fbar = col_w.saturating_sub(mp_w + 40).clamp(4, 20);
    for f in &d.filesystems {
        let r = f.used_ratio();
        let style = theme.level(r, th::FS.0, th::FS.1);
        left.push(Line::from(vec![
            Span::raw(format!("   {:<mp_w$} ", trunc(&f.mountpoint, mp_w))),
            Span::styled(fmt::bar(r.unwrap_or(0.0), fbar), style),
            Span::styled(format!(" {:>6}", fmt::pct(r)), style),
            Span::styled(
                format!(
                    "  {} free of {} {}{}",
                    fmt::bytes(f.avail),
                    fmt::bytes(f.size),
                    f.fstype,
                    if f.readonly { " ro" } else { "" }
                ),
                theme.dim(),
            ),
        ]));
    }
    if width < 120 {
        left.push(Line::from(""));
        left.push(heading(
            &format!(
                "Hottest sensor {}",
                fmt::celsius(app.host.history.temp.last().map(|p| p.1))
            ),
            theme,
        ));
    }

    let mut right = Vec::new();
    right.push(heading("Limits and clock", theme));
    let lbar = col_w.saturating_sub(64).clamp(4, 16);
    right.push(usage_line(
        "file descriptors",
        d.file_descriptors,
        "fs.file-max",
        "not reported (no filefd collector?)",
        lbar,
        theme,
    ));
    right.push(usage_line(
        "conntrack",
        d.conntrack,
        "nf_conntrack_max",
        "not reported (no conntrack module?)",
        lbar,
        theme,
    ));
    right.push(clock_line(d, theme));
    let storage = storage_lines(&d.storage, col_w, theme);
    if !storage.is_empty() {
        right.push(Line::from(""));
        right.extend(storage);
    }
    // The busiest process groups, when the host exports them (and they are of this host).
    if app.processes.instance.as_deref() == Some(d.instance.as_str()) {
        let procs = crate::views::processes::panel_lines(&app.processes.groups, 5, theme);
        if !procs.is_empty() {
            right.push(Line::from(""));
            right.extend(procs);
        }
    }
    right.push(Line::from(""));
    right.push(heading(&format!("USB devices ({})", d.usb.len()), theme));
    if d.usb.is_empty() {
        right.push(Line::from(Span::styled(
            "   no USB devices reported (no sysmon usb collector?)",
            theme.dim(),
        )));
    }
    let recent = fmt::prom_duration(app.range());
    for u in &d.usb {
        let err_style = if u.errors_recent > 0.0 {
            theme.bad()
        } else if u.errors_total > 0.0 {
            theme.warn()
        } else {
            theme.dim()
        };
        let kinds = if u.kinds.is_empty() {
            String::new()
        } else {
            format!(
                " ({})",
                u.kinds
                    .iter()
                    .map(|(k, t, _)| format!("{k} {t:.0}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        right.push(Line::from(vec![
            Span::raw(format!(
                "   {:<8} {:<28} {:>6}M ",
                u.port,
                trunc(&u.display_name(), 28),
                u.speed
            )),
            Span::styled(
                format!(
                    "errors {:.0} ({:.0} in {recent}){kinds}",
                    u.errors_total, u.errors_recent
                ),
                err_style,
            ),
        ]));
    }
    for e in &d.usb_orphan_errors {
        right.push(Line::from(Span::styled(
            format!(
                "   {:<8} (no device now)  {} errors {:.0} ({:.0} in {recent})",
                e.port, e.kind, e.total, e.recent
            ),
            theme.warn(),
        )));
    }
    right.push(Line::from(""));
    right.push(heading(
        &format!(
            "Anomalies: {} active, {} recent ({recent})",
            d.anomalies_active.len(),
            d.anomalies_recent.len()
        ),
        theme,
    ));
    if d.anomalies_active.is_empty() && d.anomalies_recent.is_empty() {
        right.push(Line::from(Span::styled(
            "   none in this range",
            theme.good(),
        )));
    }
    for a in &d.anomalies_active {
        let mut l = anomaly_line(a, theme);
        l.spans.insert(0, Span::styled("   ACTIVE", theme.bad()));
        right.push(l);
    }
    for a in &d.anomalies_recent {
        let mut l = anomaly_line(a, theme);
        l.spans.insert(0, Span::styled("   recent", theme.dim()));
        right.push(l);
    }
    (left, right)
}
