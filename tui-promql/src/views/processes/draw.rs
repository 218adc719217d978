//! Drawing of the processes view, and of the host view's processes panel.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, HighlightSpacing, Paragraph, Row, Table, TableState};
use ratatui::Frame;

use crate::app::App;
use crate::fmt;
use crate::model::{totals, ProcessGroup};
use crate::ui::{thresholds as th, trunc, Theme};

/// Columns: header and width.
const COLUMNS: &[(&str, u16)] = &[
    ("CPU", 7),
    ("RES", 9),
    ("VIRT", 9),
    ("SWAP", 9),
    ("THR", 5),
    ("PROCS", 5),
    ("READ", 7),
    ("WRITE", 7),
    ("FDS", 6),
    ("FD%", 6),
    ("AGE", 6),
    ("STATES", 10),
];

/// The optional columns in the order a narrow terminal drops them.
const DROP_ORDER: &[&str] = &["VIRT", "STATES", "AGE", "SWAP", "FD%", "READ", "WRITE"];

/// CPU as top shows it: 100 % is one CPU busy.
fn cpu(v: Option<f64>) -> String {
    match v {
        Some(x) if x.is_finite() => format!("{:.1}%", x * 100.0),
        _ => "-".into(),
    }
}

fn mem(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), fmt::bytes)
}

/// Processes by state, the unusual ones: `2Z 1D` (zombies, uninterruptible waits).
fn states(g: &ProcessGroup) -> String {
    let mut parts = Vec::new();
    for (state, mark) in [("Zombie", "Z"), ("Waiting", "D"), ("Running", "R")] {
        if let Some(n) = g.states.get(state) {
            parts.push(format!("{n:.0}{mark}"));
        }
    }
    parts.join(" ")
}

fn cell(title: &str, g: &ProcessGroup, now: f64, theme: Theme) -> (String, Style) {
    match title {
        "CPU" => (cpu(g.cpu), theme.level(g.cpu, th::CPU.0, th::CPU.1)),
        "RES" => (mem(g.resident), Style::default()),
        "VIRT" => (mem(g.virtual_bytes), theme.dim()),
        "SWAP" => (
            mem(g.swapped),
            if g.swapped.unwrap_or(0.0) > 0.0 {
                theme.warn()
            } else {
                theme.dim()
            },
        ),
        "THR" => (fmt::count(g.threads), Style::default()),
        "PROCS" => (fmt::count(g.procs), Style::default()),
        "READ" => (fmt::rate(g.read), Style::default()),
        "WRITE" => (fmt::rate(g.write), Style::default()),
        "FDS" => (fmt::count(g.open_fds), Style::default()),
        "FD%" => (
            fmt::pct(g.worst_fd_ratio),
            theme.level(g.worst_fd_ratio, th::LIMIT.0, th::LIMIT.1),
        ),
        "AGE" => (
            g.oldest_start
                .map_or_else(|| "-".to_string(), |t| fmt::age((now - t).max(0.0))),
            theme.dim(),
        ),
        "STATES" => (
            states(g),
            if g.zombies() > 0.0 {
                theme.warn()
            } else {
                theme.dim()
            },
        ),
        _ => (String::new(), Style::default()),
    }
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
    let [head, body] = Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(area);
    let Some(instance) = app.host.instance.as_deref() else {
        frame.render_widget(
            Paragraph::new(" no host selected: pick one in the fleet view (1) and press Enter")
                .style(theme.dim()),
            area,
        );
        return;
    };
    let p = &app.processes;
    let name = app
        .fleet
        .rows
        .iter()
        .find(|r| r.instance == instance)
        .and_then(|r| r.name.clone());
    let mut spans = vec![Span::styled(
        match &name {
            Some(n) => format!(" {n} ({instance})"),
            None => format!(" {instance}"),
        },
        Style::default().add_modifier(Modifier::BOLD),
    )];
    let loaded = p.loaded && p.instance.as_deref() == Some(instance);
    if !loaded {
        spans.push(Span::styled("  loading…", theme.dim()));
        frame.render_widget(Paragraph::new(Line::from(spans)), head);
        return;
    }
    let t = totals(&p.groups);
    let visible = p.visible();
    if p.filter_editing || !p.filter.is_empty() {
        spans.push(Span::styled(
            format!(
                " · filter {:?}{}: {} of {}",
                p.filter,
                if p.filter_editing { "▏" } else { "" },
                visible.len(),
                p.groups.len()
            ),
            theme.accent(),
        ));
    }
    spans.push(Span::raw(format!(
        " · {} groups · {} processes · {} threads · CPU {} · resident {}",
        t.groups,
        fmt::count(Some(t.procs)),
        fmt::count(Some(t.threads)),
        cpu(Some(t.cpu)),
        fmt::bytes(t.resident),
    )));
    if t.zombies > 0.0 {
        spans.push(Span::styled(
            format!(" · {:.0} zombies", t.zombies),
            theme.warn(),
        ));
    }
    spans.push(Span::raw(format!(
        " · sort: {}{}",
        p.sort_key().label(),
        if p.reverse { " (reversed)" } else { "" }
    )));
    frame.render_widget(Paragraph::new(Line::from(spans)), head);

    if p.groups.is_empty() {
        let lines = vec![
            Line::from(Span::styled(
                " no process groups: this host exports no namedprocess_namegroup_* series",
                theme.warn(),
            )),
            Line::from(
                " Enable sysmon-exporter's process collector (--collector.process) or run process-exporter under this job.",
            ),
        ];
        frame.render_widget(Paragraph::new(lines), body);
        return;
    }
    if visible.is_empty() {
        frame.render_widget(
            Paragraph::new(format!(
                " no group matches the filter {:?} (Esc clears it)",
                p.filter
            ))
            .style(theme.warn()),
            body,
        );
        return;
    }
    let name_w = visible
        .iter()
        .map(|g| g.name.chars().count())
        .max()
        .unwrap_or(5)
        .clamp(12, 32) as u16;
    // Drop optional columns, least useful first, until the table fits.
    let mut cols: Vec<(&str, u16)> = COLUMNS.to_vec();
    let mut drop_order = DROP_ORDER.iter();
    let need =
        |cols: &[(&str, u16)]| -> u16 { 2 + name_w + cols.iter().map(|c| c.1 + 1).sum::<u16>() };
    while need(&cols) > body.width {
        match drop_order.next() {
            Some(t) => cols.retain(|c| c.0 != *t),
            None => break,
        }
    }
    let header =
        Row::new(std::iter::once(Cell::from("GROUP")).chain(cols.iter().map(|c| Cell::from(c.0))))
            .style(theme.header());
    let now = p.at.unwrap_or_else(fmt::now_unix);
    let rows: Vec<Row> = visible
        .iter()
        .map(|g| {
            let name_style = if g.is_other() {
                theme.dim()
            } else {
                Style::default()
            };
            Row::new(
                std::iter::once(Cell::from(Span::styled(
                    trunc(&g.name, name_w as usize),
                    name_style,
                )))
                .chain(cols.iter().map(|c| {
                    let (text, style) = cell(c.0, g, now, theme);
                    Cell::from(Span::styled(text, style))
                })),
            )
        })
        .collect();
    let widths: Vec<Constraint> = std::iter::once(Constraint::Length(name_w))
        .chain(cols.iter().map(|c| Constraint::Length(c.1)))
        .collect();
    let table = Table::new(rows, widths)
        .header(header)
        .column_spacing(1)
        .row_highlight_style(theme.selected())
        .highlight_symbol("▶")
        .highlight_spacing(HighlightSpacing::Always);
    let mut state = TableState::default().with_selected(Some(p.selected.min(visible.len() - 1)));
    frame.render_stateful_widget(table, body, &mut state);
    app.page.set(body.height.saturating_sub(1).max(1));
}

/// The host view's panel: the busiest groups (at most `n`) with CPU, resident memory, threads
/// and I/O; nothing when the host exports no process groups.
pub fn panel_lines<'a>(groups: &[ProcessGroup], n: usize, theme: Theme) -> Vec<Line<'a>> {
    if groups.is_empty() {
        return Vec::new();
    }
    let mut top: Vec<&ProcessGroup> = groups.iter().filter(|g| !g.is_other()).collect();
    top.sort_by(|a, b| {
        b.cpu
            .unwrap_or(0.0)
            .total_cmp(&a.cpu.unwrap_or(0.0))
            .then_with(|| a.name.cmp(&b.name))
    });
    let t = totals(groups);
    let mut out = vec![Line::from(Span::styled(
        format!(
            " Processes: {} groups, {} processes, CPU {} (5 the processes view)",
            t.groups,
            fmt::count(Some(t.procs)),
            cpu(Some(t.cpu))
        ),
        theme.header(),
    ))];
    for g in top.into_iter().take(n) {
        out.push(Line::from(vec![
            Span::raw(format!("   {:<16} ", trunc(&g.name, 16))),
            Span::styled(
                format!("{:>7}", cpu(g.cpu)),
                theme.level(g.cpu, th::CPU.0, th::CPU.1),
            ),
            Span::raw(format!(
                "  res {:>9}  {:>4} thr  r {:>7} w {:>7}",
                mem(g.resident),
                fmt::count(g.threads),
                fmt::rate(g.read),
                fmt::rate(g.write)
            )),
        ]));
    }
    out
}
