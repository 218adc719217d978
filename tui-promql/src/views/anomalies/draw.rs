//! Anomalies view: the exporters' anomalies (active now, and recent) by severity, the signals the
//! adaptive detectors found most unusual over the range, and the alerts Prometheus holds in
//! `ALERTS`. The view is a summary line and panels laid out one under the other; each panel is a
//! function `(frame, area, app, theme)`, so a new panel is a function here and a slot in
//! [`draw`]'s layout.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table, TableState};
use ratatui::Frame;

use crate::app::App;
use crate::fmt;
use crate::model::AlertState;
use crate::ui::Theme;

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
    // The ranking: its rows and a border and header, at most a third of the view.
    let ranked = app.anomalies.board.ranked.len();
    let rank_height = (ranked.clamp(1, 10) as u16 + 3).min(area.height / 3);
    let [head, top, rank, bottom] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Percentage(50),
        Constraint::Length(rank_height),
        Constraint::Min(4),
    ])
    .areas(area);
    draw_summary(frame, head, app, theme);
    if !app.anomalies.loaded {
        frame.render_widget(
            Paragraph::new(" waiting for the first answer from Prometheus…").style(theme.dim()),
            top,
        );
        return;
    }
    draw_exporter_anomalies(frame, top, app, theme);
    draw_ranking(frame, rank, app, theme);
    draw_alerts(frame, bottom, app, theme);
}

/// How many anomalies of each severity, how many recent ones, how many alerts.
fn draw_summary(frame: &mut Frame, head: Rect, app: &App, theme: Theme) {
    let b = &app.anomalies.board;
    let recent = fmt::prom_duration(app.range());
    let [_, warn, crit] = b.count_by_severity();
    let info = b.active.len() - warn - crit;
    let firing = b
        .alerts
        .iter()
        .filter(|a| a.state == AlertState::Firing)
        .count();
    let pending = b
        .alerts
        .iter()
        .filter(|a| a.state == AlertState::Pending)
        .count();
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::raw(" active: "),
            Span::styled(
                format!("{crit} critical"),
                if crit > 0 { theme.bad() } else { theme.good() },
            ),
            Span::raw(", "),
            Span::styled(
                format!("{warn} warning"),
                if warn > 0 { theme.warn() } else { theme.good() },
            ),
            Span::raw(format!(
                ", {info} info · recent ({recent}, +/-): {}",
                b.recent.len()
            )),
            Span::raw(format!(" · alerts: {firing} firing, {pending} pending")),
        ])),
        head,
    );
}

/// Number of selectable lines of the exporter anomalies' panel (the alerts' follow).
fn exporter_lines(app: &App) -> usize {
    app.anomalies.board.active.len() + app.anomalies.board.recent.len()
}

/// The exporters' anomalies: active first, then recent.
fn draw_exporter_anomalies(frame: &mut Frame, top: Rect, app: &App, theme: Theme) {
    let st = &app.anomalies;
    let b = &st.board;
    let recent = fmt::prom_duration(app.range());
    app.page.set(top.height.saturating_sub(3).max(1));
    let header = Row::new(
        [
            "STATE",
            "SEVERITY",
            "HOST",
            "RULE",
            "CATEGORY",
            "SUBJECT",
            "VALUE",
            "THRESHOLD",
            "LAST SEEN",
        ]
        .map(Cell::from),
    )
    .style(theme.header());
    let now = fmt::now_unix();
    let mut rows: Vec<Row> = Vec::new();
    for a in b.active.iter().chain(b.recent.iter()) {
        let state = if a.active {
            Span::styled("ACTIVE", theme.bad())
        } else {
            Span::styled("recent", theme.dim())
        };
        let seen = if a.active {
            "now".to_string()
        } else {
            a.last_seen
                .map(|t| format!("{} ago", fmt::age(now - t)))
                .unwrap_or_else(|| format!("within {recent}"))
        };
        rows.push(Row::new(vec![
            Cell::from(state),
            Cell::from(Span::styled(a.severity.label(), theme.severity(a.severity))),
            Cell::from(a.instance.clone()),
            Cell::from(a.rule.clone()),
            Cell::from(a.category.clone()),
            Cell::from(a.subject.clone()),
            Cell::from(fmt::num(a.value)),
            Cell::from(fmt::num(a.threshold)),
            Cell::from(seen),
        ]));
    }
    let n_anom = rows.len();
    let title = format!(
        "Anomalies from the exporters (sysmon_anomaly_active): {} active, {} recent",
        b.active.len(),
        b.recent.len()
    );
    if rows.is_empty() {
        frame.render_widget(
            Paragraph::new(Span::styled(
                format!(" no anomaly active or seen in the last {recent}"),
                theme.good(),
            ))
            .block(Block::bordered().title(title)),
            top,
        );
    } else {
        let widths = [
            Constraint::Length(6),
            Constraint::Length(8),
            Constraint::Min(14),
            Constraint::Min(12),
            Constraint::Length(11),
            Constraint::Min(10),
            Constraint::Length(9),
            Constraint::Length(9),
            Constraint::Length(10),
        ];
        let table = Table::new(rows, widths)
            .header(header)
            .block(Block::bordered().title(title))
            .row_highlight_style(theme.selected());
        let mut state = TableState::default();
        if st.selected < n_anom {
            state.select(Some(st.selected));
        }
        frame.render_stateful_widget(table, top, &mut state);
    }
}

/// Prometheus' alerts: firing, pending, and resolved within the range.
fn draw_alerts(frame: &mut Frame, bottom: Rect, app: &App, theme: Theme) {
    let st = &app.anomalies;
    let b = &st.board;
    let recent = fmt::prom_duration(app.range());
    let n_anom = exporter_lines(app);
    let firing = b
        .alerts
        .iter()
        .filter(|a| a.state == AlertState::Firing)
        .count();
    let pending = b
        .alerts
        .iter()
        .filter(|a| a.state == AlertState::Pending)
        .count();
    let title = format!(
        "Prometheus alerts (ALERTS): {firing} firing, {pending} pending, resolved within {recent}"
    );
    if b.alerts.is_empty() {
        frame.render_widget(
            Paragraph::new(Span::styled(" no alerts", theme.good()))
                .block(Block::bordered().title(title)),
            bottom,
        );
        return;
    }
    let header = Row::new(["STATE", "SEVERITY", "ALERT", "HOST", "LABELS"].map(Cell::from))
        .style(theme.header());
    let rows: Vec<Row> = b
        .alerts
        .iter()
        .map(|a| {
            let st_style = match a.state {
                AlertState::Firing => theme.bad(),
                AlertState::Pending => theme.warn(),
                AlertState::Resolved => theme.dim(),
            };
            Row::new(vec![
                Cell::from(Span::styled(a.state.label(), st_style)),
                Cell::from(Span::styled(a.severity.label(), theme.severity(a.severity))),
                Cell::from(a.name.clone()),
                Cell::from(a.instance.clone()),
                Cell::from(Span::styled(a.details.clone(), Style::default())),
            ])
        })
        .collect();
    let widths = [
        Constraint::Length(8),
        Constraint::Length(8),
        Constraint::Min(22),
        Constraint::Min(14),
        Constraint::Fill(1),
    ];
    let table = Table::new(rows, widths)
        .header(header)
        .block(Block::bordered().title(title))
        .row_highlight_style(theme.selected());
    let mut state = TableState::default();
    if st.selected >= n_anom {
        state.select(Some(st.selected - n_anom));
    }
    frame.render_stateful_widget(table, bottom, &mut state);
}

/// The signals with the highest mean adaptive score over the range (`sysmon_anomaly_score`), what
/// the exporter's `GET /api/v1/anomalies/rank` gives for one host.
fn draw_ranking(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
    let ranked = &app.anomalies.board.ranked;
    let recent = fmt::prom_duration(app.range());
    let title = format!(
        "Most anomalous signals over {recent} (mean sysmon_anomaly_score; 1 is the detector's threshold)"
    );
    if ranked.is_empty() {
        frame.render_widget(
            Paragraph::new(Span::styled(
                format!(" no adaptive scores in the last {recent}"),
                theme.dim(),
            ))
            .block(Block::bordered().title(title)),
            area,
        );
        return;
    }
    let style = |score: f64| {
        if score >= 1.0 {
            theme.bad()
        } else if score >= 0.5 {
            theme.warn()
        } else {
            theme.good()
        }
    };
    let header =
        Row::new(["HOST", "RULE", "SUBJECT", "MEAN", "PEAK"].map(Cell::from)).style(theme.header());
    let rows: Vec<Row> = ranked
        .iter()
        .map(|r| {
            let peak = match r.peak {
                Some(p) => Cell::from(Span::styled(fmt::num(Some(p)), style(p))),
                None => Cell::from("-"),
            };
            Row::new(vec![
                Cell::from(r.instance.clone()),
                Cell::from(r.rule.clone()),
                Cell::from(r.subject.clone()),
                Cell::from(Span::styled(fmt::num(Some(r.mean)), style(r.mean))),
                peak,
            ])
        })
        .collect();
    let widths = [
        Constraint::Min(14),
        Constraint::Min(20),
        Constraint::Min(12),
        Constraint::Length(8),
        Constraint::Length(8),
    ];
    frame.render_widget(
        Table::new(rows, widths)
            .header(header)
            .block(Block::bordered().title(title)),
        area,
    );
}
