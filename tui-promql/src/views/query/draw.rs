//! Query view: a PromQL prompt with history; a table for instant results, a chart for ranges,
//! Prometheus' own message when the query is wrong.

use ratatui::layout::{Constraint, Layout, Position, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Cell, Chart, Dataset, GraphType, Paragraph, Row, Table, Wrap};
use ratatui::Frame;

use crate::app::App;
use crate::fmt;
use crate::prom::{series_name, Data, PromError, Series};
use crate::ui::{trunc, Theme};

/// Series drawn in one chart at most (the rest are listed).
const MAX_CHART_SERIES: usize = 8;

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
    let q = &app.query;
    let [prompt, status, result] = Layout::vertical([
        Constraint::Length(3),
        Constraint::Length(1),
        Constraint::Min(1),
    ])
    .areas(area);
    let mode = match q.range {
        None => "instant".to_string(),
        Some(r) => format!("range {}", fmt::prom_duration(r)),
    };
    let title = format!(
        "PromQL ({mode}; +/- changes){}",
        if q.editing {
            " · editing"
        } else {
            " · Enter to edit"
        }
    );
    let border = if q.editing {
        theme.accent()
    } else {
        theme.dim()
    };
    let block = Block::bordered().title(title).border_style(border);
    let inner = block.inner(prompt);
    // Keep the cursor in view on long queries.
    let w = inner.width.saturating_sub(1) as usize;
    let skip = q.cursor.saturating_sub(w);
    let shown: String = q.input.chars().skip(skip).take(w + 1).collect();
    let text = if q.input.is_empty() && !q.editing {
        Span::styled(
            "type a query, e.g. up or rate(node_cpu_seconds_total[5m]); Enter runs it",
            theme.dim(),
        )
    } else {
        Span::raw(shown)
    };
    frame.render_widget(Paragraph::new(Line::from(text)).block(block), prompt);
    if q.editing {
        frame.set_cursor_position(Position::new(inner.x + (q.cursor - skip) as u16, inner.y));
    }

    let status_line = if !q.candidates.is_empty() {
        let shown: Vec<&str> = q.candidates.iter().take(12).map(String::as_str).collect();
        let more = q.candidates.len().saturating_sub(shown.len());
        Line::from(vec![
            Span::styled(format!(" {} names: ", q.candidates.len()), theme.accent()),
            Span::raw(trunc(
                &format!(
                    "{}{}",
                    shown.join("  "),
                    if more > 0 {
                        format!("  … {more} more")
                    } else {
                        String::new()
                    }
                ),
                (status.width as usize).saturating_sub(12),
            )),
        ])
    } else if q.pending.is_some() {
        Line::from(Span::styled(" running…", theme.accent()))
    } else if let Some(o) = &q.last {
        let what = match &o.result {
            Ok(r) => {
                let n = match &r.data {
                    Data::Vector(v) => format!("{} series", v.len()),
                    Data::Matrix(m) => format!(
                        "{} series, {} points",
                        m.len(),
                        m.iter().map(|s| s.points.len()).sum::<usize>()
                    ),
                    Data::Scalar(..) => "scalar".into(),
                    Data::Str(..) => "string".into(),
                };
                let step = o
                    .step
                    .map(|s| format!(", step {}", fmt::prom_duration(s)))
                    .unwrap_or_default();
                format!(" {n}{step} in {} ms", o.elapsed.as_millis())
            }
            Err(_) => format!(" failed after {} ms", o.elapsed.as_millis()),
        };
        Line::from(vec![
            Span::raw(what),
            Span::styled(format!("  · {}", trunc(&o.expr, 80)), theme.dim()),
        ])
    } else {
        Line::from(Span::styled(
            format!(" {} queries in history (↑ while editing)", q.history.len()),
            theme.dim(),
        ))
    };
    frame.render_widget(Paragraph::new(status_line), status);

    let Some(o) = &q.last else {
        if !app.saved_queries.is_empty() {
            let mut lines = vec![Line::from(
                " Saved queries (Ctrl-O picks one; ↑ while editing reaches them too):",
            )];
            for (name, expr) in &app.saved_queries {
                lines.push(Line::from(vec![
                    Span::styled(format!("   {name}: "), theme.accent()),
                    Span::raw(expr.clone()),
                ]));
            }
            frame.render_widget(Paragraph::new(lines).style(theme.dim()), result);
            return;
        }
        let help = vec![
            Line::from(" Examples:"),
            Line::from(format!("   up{{job=\"{}\"}}", app.settings.job)),
            Line::from("   instance:node_cpu_utilisation:rate5m"),
            Line::from("   topk(5, node_hwmon_temp_celsius)"),
            Line::from("   sysmon_anomaly_active == 1"),
            Line::from(" + switches to a range query (chart), - back to instant (table)."),
        ];
        frame.render_widget(Paragraph::new(help).style(theme.dim()), result);
        return;
    };
    match &o.result {
        Err(e) => draw_error(frame, result, e, theme),
        Ok(r) => {
            let (res_area, warn_area) = if r.warnings.is_empty() && r.infos.is_empty() {
                (result, None)
            } else {
                let [a, b] =
                    Layout::vertical([Constraint::Min(1), Constraint::Length(2)]).areas(result);
                (a, Some(b))
            };
            match &r.data {
                Data::Vector(v) => {
                    let header =
                        Row::new(["SERIES", "VALUE"].map(Cell::from)).style(theme.header());
                    let skip = q.scroll.min(v.len().saturating_sub(1));
                    let rows: Vec<Row> = v
                        .iter()
                        .skip(skip)
                        .map(|s| {
                            Row::new(vec![
                                Cell::from(series_name(&s.labels)),
                                Cell::from(fmt::value(s.v)),
                            ])
                        })
                        .collect();
                    app.page.set(res_area.height.saturating_sub(2).max(1));
                    if v.is_empty() {
                        frame.render_widget(
                            Paragraph::new(" empty result: no series match").style(theme.warn()),
                            res_area,
                        );
                    } else {
                        frame.render_widget(
                            Table::new(rows, [Constraint::Fill(1), Constraint::Length(24)])
                                .header(header)
                                .block(Block::bordered().title("instant vector")),
                            res_area,
                        );
                    }
                }
                Data::Scalar(_, v) => frame.render_widget(
                    Paragraph::new(format!(" scalar {}", fmt::value(*v))),
                    res_area,
                ),
                Data::Str(_, s) => {
                    frame.render_widget(Paragraph::new(format!(" string {s:?}")), res_area)
                }
                Data::Matrix(m) => draw_matrix(frame, res_area, m, o.range, app, theme),
            }
            if let Some(wa) = warn_area {
                let text: Vec<String> = r.warnings.iter().chain(r.infos.iter()).cloned().collect();
                frame.render_widget(
                    Paragraph::new(format!(" Prometheus says: {}", text.join("; ")))
                        .style(theme.warn())
                        .wrap(Wrap { trim: true }),
                    wa,
                );
            }
        }
    }
}

fn draw_error(frame: &mut Frame, area: Rect, e: &PromError, theme: Theme) {
    let (title, body) = match e {
        PromError::Api {
            error_type,
            message,
            ..
        } => (
            format!("Prometheus rejected the query ({error_type})"),
            message.clone(),
        ),
        other => ("query failed".to_string(), other.to_string()),
    };
    frame.render_widget(
        Paragraph::new(body)
            .style(theme.bad())
            .wrap(Wrap { trim: false })
            .block(Block::bordered().title(title).border_style(theme.bad())),
        area,
    );
}

fn draw_matrix(
    frame: &mut Frame,
    area: Rect,
    m: &[Series],
    range: Option<std::time::Duration>,
    app: &App,
    theme: Theme,
) {
    if m.is_empty() {
        frame.render_widget(
            Paragraph::new(" empty result: no series match in this range").style(theme.warn()),
            area,
        );
        return;
    }
    let shown = &m[..m.len().min(MAX_CHART_SERIES)];
    let legend_h = (shown.len() as u16 + 2).min(area.height / 2);
    let [chart_a, legend_a] =
        Layout::vertical([Constraint::Min(4), Constraint::Length(legend_h)]).areas(area);
    let data: Vec<Vec<(f64, f64)>> = shown
        .iter()
        .map(|s| {
            s.points
                .iter()
                .copied()
                .filter(|p| p.1.is_finite())
                .collect()
        })
        .collect();
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    let (mut t0, mut t1) = (f64::INFINITY, f64::NEG_INFINITY);
    for d in &data {
        for (t, v) in d {
            lo = lo.min(*v);
            hi = hi.max(*v);
            t0 = t0.min(*t);
            t1 = t1.max(*t);
        }
    }
    if !lo.is_finite() {
        frame.render_widget(
            Paragraph::new(" every point is NaN or infinite").style(theme.warn()),
            area,
        );
        return;
    }
    if hi <= lo {
        hi = lo + 1.0;
        lo -= 1.0;
    }
    if t1 <= t0 {
        t1 = t0 + 1.0;
    }
    let datasets: Vec<Dataset> = data
        .iter()
        .enumerate()
        .map(|(i, d)| {
            Dataset::default()
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(theme.series(i))
                .data(d)
        })
        .collect();
    let rl = range.map(fmt::prom_duration).unwrap_or_default();
    let chart = Chart::new(datasets)
        .block(Block::bordered().title(format!("range {rl}")))
        .x_axis(
            Axis::default()
                .bounds([t0, t1])
                .style(theme.dim())
                .labels(vec![Line::from(fmt::clock(t0)), Line::from(fmt::clock(t1))]),
        )
        .y_axis(
            Axis::default()
                .bounds([lo, hi])
                .style(theme.dim())
                .labels(vec![
                    Line::from(fmt::num(Some(lo))),
                    Line::from(fmt::num(Some(hi))),
                ]),
        )
        .legend_position(None);
    frame.render_widget(chart, chart_a);
    let mut lines: Vec<Line> = shown
        .iter()
        .zip(&data)
        .enumerate()
        .map(|(i, (s, d))| {
            let last = d.last().map(|p| p.1);
            let min = d.iter().map(|p| p.1).reduce(f64::min);
            let max = d.iter().map(|p| p.1).reduce(f64::max);
            Line::from(vec![
                Span::styled("━━ ", theme.series(i)),
                Span::raw(format!(
                    "{}  last {} min {} max {}",
                    series_name(&s.labels),
                    fmt::num(last),
                    fmt::num(min),
                    fmt::num(max)
                )),
            ])
        })
        .collect();
    if m.len() > shown.len() {
        lines.push(Line::from(Span::styled(
            format!("… and {} more series not drawn", m.len() - shown.len()),
            theme.dim(),
        )));
    }
    app.page.set(legend_a.height.max(1));
    frame.render_widget(
        Paragraph::new(lines)
            .scroll((app.query.scroll as u16, 0))
            .style(Style::default().add_modifier(Modifier::empty())),
        legend_a,
    );
}
