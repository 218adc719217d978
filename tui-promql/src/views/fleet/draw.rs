//! Fleet view: every host in one table, worst first, coloured by thresholds.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState};
use ratatui::Frame;

use crate::app::App;
use crate::fmt;
use crate::model::{summarize, FleetRow, Severity};
use crate::ui::{thresholds as th, Theme};

/// The table's columns: header, width, and whether it is dropped on narrow terminals.
struct Col {
    title: &'static str,
    width: Constraint,
    optional: bool,
}

fn columns(width: u16, host_w: u16, name_w: u16) -> Vec<Col> {
    let c = |title, width, optional| Col {
        title,
        width,
        optional,
    };
    use Constraint::{Fill, Length};
    let all = vec![
        c("HOST", Length(host_w), false),
        c("NAME", Length(name_w), true),
        c("UP", Length(4), false),
        c("CPU", Length(6), false),
        c("LOAD/C", Length(6), true),
        c("MEM", Length(6), false),
        c("SWAP", Length(6), true),
        c("TEMP", Length(5), false),
        c("FS", Length(6), false),
        c("DISK", Length(7), true),
        c("NET ↓/↑", Length(15), true),
        c("USB", Length(4), true),
        c("ANOM", Length(5), false),
        c("TOP PROCESS", Fill(1), true),
    ];
    // The full table needs about 100 columns plus the names; drop optional ones when narrow.
    let fixed: u16 = 4 + 6 + 6 + 6 + 6 + 5 + 6 + 7 + 15 + 4 + 6 + 13;
    // The top process needs about 20 more; it goes first.
    let mut cols: Vec<Col> = if width >= fixed + host_w + name_w + 20 {
        all
    } else if width >= fixed + host_w + name_w {
        all.into_iter()
            .filter(|c| c.title != "TOP PROCESS")
            .collect()
    } else if width >= fixed + host_w {
        all.into_iter()
            .filter(|c| c.title != "NAME" && c.title != "TOP PROCESS")
            .collect()
    } else {
        all.into_iter().filter(|c| !c.optional).collect()
    };
    // The last column takes the rest of the line.
    if let Some(last) = cols.last_mut() {
        last.width = Fill(1);
    }
    cols
}

/// `down 3h, since 14:02 UTC` (the last successful scrape), or how long it has not been up at
/// all.
pub fn down_since(r: &FleetRow, now: f64) -> String {
    match r.down_since {
        Some(t) => format!(
            "down {}, since {} UTC",
            fmt::age((now - t).max(0.0)),
            &fmt::clock(t)[..5]
        ),
        None => format!(
            "down for over {}",
            fmt::prom_duration(crate::queries::DOWN_LOOKBACK)
        ),
    }
}

/// The text and style of one cell.
fn cell(title: &str, r: &FleetRow, theme: Theme) -> (String, Style) {
    let down = r.is_down();
    match title {
        "HOST" => (r.instance.clone(), Style::default()),
        "NAME" => (r.name.clone().unwrap_or_default(), theme.dim()),
        "UP" => match r.up {
            Some(true) => ("up".into(), theme.good()),
            Some(false) => ("DOWN".into(), theme.bad()),
            None => ("?".into(), theme.dim()),
        },
        _ if down => ("-".into(), theme.dim()),
        "CPU" => (fmt::pct(r.cpu), theme.level(r.cpu, th::CPU.0, th::CPU.1)),
        "LOAD/C" => (
            fmt::num(r.load_per_core),
            theme.level(r.load_per_core, th::LOAD.0, th::LOAD.1),
        ),
        "MEM" => (fmt::pct(r.mem), theme.level(r.mem, th::MEM.0, th::MEM.1)),
        "SWAP" => (
            fmt::pct(r.swap),
            theme.level(r.swap, th::SWAP.0, th::SWAP.1),
        ),
        "TEMP" => (
            fmt::celsius(r.temp),
            theme.level(r.temp, th::TEMP.0, th::TEMP.1),
        ),
        "FS" => (fmt::pct(r.fs), theme.level(r.fs, th::FS.0, th::FS.1)),
        "DISK" => (fmt::rate(r.disk), Style::default()),
        "NET ↓/↑" => (
            if r.net_rx.is_none() && r.net_tx.is_none() {
                "-".into()
            } else {
                format!("{} {}", fmt::rate(r.net_rx), fmt::rate(r.net_tx))
            },
            Style::default(),
        ),
        "USB" => match r.usb_errors {
            Some(x) if x > 0.0 => (
                // errors per 5 minutes: the window of the rate
                format!("{:.0}", (x * 300.0).max(1.0)),
                theme.warn(),
            ),
            Some(_) => ("0".into(), theme.good()),
            None => ("-".into(), theme.dim()),
        },
        "ANOM" => {
            let n = r.anomalies.unwrap_or(0.0);
            match (r.anomalies, r.worst_severity) {
                (None, _) => ("-".into(), theme.dim()),
                (Some(_), Some(sev)) if n > 0.0 => {
                    let mark = match sev {
                        Severity::Critical => "!",
                        Severity::Warning => "",
                        Severity::Info => "",
                    };
                    (format!("{n:.0}{mark}"), theme.severity(sev))
                }
                (Some(_), _) if n > 0.0 => (format!("{n:.0}"), theme.warn()),
                _ => ("0".into(), theme.good()),
            }
        }
        "TOP PROCESS" => match &r.top_process {
            // CPU as top shows it: 100 % is one CPU busy.
            Some((g, cpu)) => (format!("{g} {:.0}%", cpu * 100.0), Style::default()),
            None => ("-".into(), theme.dim()),
        },
        _ => (String::new(), Style::default()),
    }
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
    let [head, body] = Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(area);
    let f = &app.fleet;
    let s = summarize(&f.rows);
    let visible = f.visible();
    let mut spans = vec![
        Span::styled(
            format!(" {} hosts", s.hosts),
            Style::default().add_modifier(Modifier::BOLD),
        ),
        Span::raw(" · "),
        Span::styled(
            format!("{} down", s.down),
            if s.down > 0 {
                theme.bad()
            } else {
                theme.good()
            },
        ),
        Span::raw(" · "),
        Span::styled(
            format!("{} active anomalies", s.anomalies),
            if s.anomalies > 0 {
                theme.warn()
            } else {
                theme.good()
            },
        ),
        Span::raw(format!(
            " · sort: {}{}",
            f.sort_key().label(),
            if f.reverse { " (reversed)" } else { "" }
        )),
    ];
    if !f.pending.is_empty() {
        spans.push(Span::styled(
            format!(" · loading {}…", f.pending.join(", ")),
            theme.dim(),
        ));
    }
    if !f.filter.is_empty() {
        spans.push(Span::raw(format!(
            " · filter {:?}: {} of {}",
            f.filter,
            visible.len(),
            f.rows.len()
        )));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), head);

    if !f.loaded {
        let msg = if app.conn.error.is_some() {
            "no data: Prometheus has not answered yet"
        } else {
            "waiting for the first answer from Prometheus…"
        };
        frame.render_widget(Paragraph::new(format!(" {msg}")).style(theme.dim()), body);
        return;
    }
    if f.rows.is_empty() {
        let lines = vec![
            Line::from(Span::styled(
                format!(" no hosts: Prometheus has no targets for job {:?}", app.settings.job),
                theme.warn(),
            )),
            Line::from(
                " Is Prometheus scraping the exporters under that job name? Pick another with --job.",
            ),
        ];
        frame.render_widget(Paragraph::new(lines), body);
        return;
    }
    if visible.is_empty() {
        frame.render_widget(
            Paragraph::new(format!(
                " no host matches the filter {:?} (Esc clears it)",
                f.filter
            ))
            .style(theme.warn()),
            body,
        );
        return;
    }

    let host_w = visible
        .iter()
        .map(|r| r.instance.chars().count())
        .max()
        .unwrap_or(4)
        .clamp(14, 40) as u16;
    let name_w = visible
        .iter()
        .filter_map(|r| r.name.as_ref().map(|n| n.chars().count()))
        .max()
        .unwrap_or(4)
        .clamp(4, 24) as u16;
    let cols = columns(body.width, host_w, name_w);
    let header = Row::new(cols.iter().map(|c| Cell::from(c.title))).style(theme.header());
    let now = f.at.unwrap_or_else(fmt::now_unix);
    let rows: Vec<Row> = visible
        .iter()
        .map(|r| {
            let last = cols.len() - 1;
            Row::new(cols.iter().enumerate().map(|(i, c)| {
                // A host that is down says since when in the last (widest) column.
                let (text, style) = if i == last && r.is_down() {
                    (down_since(r, now), theme.bad())
                } else {
                    cell(c.title, r, theme)
                };
                Cell::from(Span::styled(text, style))
            }))
        })
        .collect();
    let widths: Vec<Constraint> = cols.iter().map(|c| c.width).collect();
    let table = Table::new(rows, widths)
        .header(header)
        .column_spacing(1)
        .row_highlight_style(theme.selected())
        .highlight_symbol("▶")
        .highlight_spacing(ratatui::widgets::HighlightSpacing::Always);
    let mut state = TableState::default().with_selected(Some(f.selected.min(visible.len() - 1)));
    frame.render_stateful_widget(table, body, &mut state);
    let body_rows = body.height.saturating_sub(1);
    app.page.set(body_rows.max(1));
    app.hit
        .fleet_body
        .set((body.y + 1, body_rows, state.offset()));
}
