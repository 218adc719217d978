//! The help overlay (`?`).

use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};
use ratatui::Frame;

use super::Theme;

/// Every key, by where it works.
pub const KEYS: &[(&str, &str, &str)] = &[
    ("everywhere", "?", "this help (any key closes it)"),
    ("", "q, Ctrl-C", "quit"),
    ("", "Tab, Shift-Tab, 1-4", "Fleet, Host, Anomalies, Query"),
    ("", "r", "refresh now (Query: run again)"),
    ("", "mouse", "click a tab or a row, wheel scrolls"),
    ("Fleet", "↑↓ j k, PgUp PgDn, g G", "select a host"),
    ("", "Enter, →, l", "open the host"),
    (
        "",
        "/",
        "filter by name (\"down\" shows hosts that are down)",
    ),
    ("", "s, S", "next sort column, reverse the order"),
    ("", "Esc", "clear the filter"),
    ("Host", "+ -", "widen or narrow the time range (5m … 7d)"),
    ("", "← → h l", "previous or next host"),
    ("", "↑↓ j k", "scroll the lists"),
    ("", "Esc", "back to the fleet"),
    ("Anomalies", "↑↓ j k", "select"),
    ("", "Enter", "open the host of the selected line"),
    ("", "+ -", "how far back \"recent\" goes"),
    ("Query", "Enter, i, /", "edit the query; Enter runs it"),
    ("", "↑↓ (editing)", "query history"),
    ("", "+ -", "range query (chart) or instant (table)"),
    ("", "Esc", "stop editing"),
];

pub fn draw(frame: &mut Frame, area: Rect, theme: Theme) {
    let w = area.width.min(78);
    let h = (KEYS.len() as u16 + 4).min(area.height);
    let r = Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    );
    let mut lines = Vec::new();
    for (section, key, what) in KEYS {
        lines.push(Line::from(vec![
            Span::styled(format!(" {section:<10}"), theme.header()),
            Span::styled(
                format!("{key:<24}"),
                theme.accent().add_modifier(Modifier::BOLD),
            ),
            Span::raw(what.to_string()),
        ]));
    }
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled(
        " NO_COLOR=1 turns colours off; sysmon-top only speaks PromQL to Prometheus.",
        theme.dim(),
    )));
    frame.render_widget(Clear, r);
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" sysmon-top keys ")),
        r,
    );
}
