//! Anomalies view: the exporters' anomalies (active now, and recent) by severity, and the alerts
//! Prometheus holds in `ALERTS`.

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
    let st = &app.anomalies;
    let b = &st.board;
    let recent = fmt::prom_duration(app.range());
    let [head, top, bottom] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Percentage(60),
        Constraint::Min(4),
    ])
    .areas(area);
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
    if !st.loaded {
        frame.render_widget(
            Paragraph::new(" waiting for the first answer from Prometheus…").style(theme.dim()),
            top,
        );
        return;
    }
    app.page.set(top.height.saturating_sub(3).max(1));

    // Exporter anomalies: active first, then recent.
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

    // Prometheus alerts.
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
