//! The banner under the title: Prometheus unreachable (with the retry countdown and the age of
//! the data still shown), partial results, Prometheus' warnings, a slow Prometheus.

use std::time::Instant;

use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::{trunc, Theme};
use crate::app::App;
use crate::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Error,
    Warning,
}

/// The banner's lines (none when all is well), at most two, each cut to `width`.
pub fn banner_lines(app: &App, width: u16) -> Vec<(Kind, String)> {
    let w = width as usize;
    let mut out = Vec::new();
    if let Some(err) = &app.conn.error {
        let retry = match app.conn.retry_at {
            Some(t) => {
                let left = t.saturating_duration_since(Instant::now()).as_secs_f64();
                format!(
                    "retry {} in {}",
                    app.conn.attempt + 1,
                    fmt::age(left.ceil())
                )
            }
            None => "retrying".into(),
        };
        let data = match (app.fleet.at, app.conn.last_ok) {
            (Some(at), _) => format!(
                "showing data from {} UTC ({} ago)",
                fmt::clock(at),
                fmt::age(fmt::now_unix() - at)
            ),
            _ => "no data yet".into(),
        };
        out.push((
            Kind::Error,
            trunc(&format!(" ⚠ Prometheus unreachable: {err}"), w),
        ));
        out.push((Kind::Error, trunc(&format!("   {retry} · {data}"), w)));
        return out;
    }
    let (failed, warnings) = app.view_problems();
    if !failed.is_empty() {
        let (name, e) = &failed[0];
        let more = if failed.len() > 1 {
            format!(" (+{} more)", failed.len() - 1)
        } else {
            String::new()
        };
        out.push((
            Kind::Warning,
            trunc(
                &format!(" partial results: query {name:?} failed: {e}{more}"),
                w,
            ),
        ));
    }
    if !warnings.is_empty() {
        out.push((
            Kind::Warning,
            trunc(
                &format!(
                    " Prometheus warns (results may be partial): {}",
                    warnings.join("; ")
                ),
                w,
            ),
        ));
    }
    if out.is_empty() {
        if let Some(el) = app.conn.last_elapsed {
            if el > app.settings.refresh {
                out.push((
                    Kind::Warning,
                    trunc(
                        &format!(
                            " slow Prometheus: the last refresh took {:.1} s (refresh every {})",
                            el.as_secs_f64(),
                            fmt::prom_duration(app.settings.refresh)
                        ),
                        w,
                    ),
                ));
            }
        }
    }
    out.truncate(2);
    out
}

pub fn draw(frame: &mut Frame, area: Rect, lines: &[(Kind, String)], theme: Theme) {
    if area.height == 0 {
        return;
    }
    let text: Vec<Line> = lines
        .iter()
        .map(|(k, s)| {
            let style = match k {
                Kind::Error => theme.banner_error(),
                Kind::Warning => theme.banner_warn(),
            };
            Line::styled(format!("{s:<width$}", width = area.width as usize), style)
        })
        .collect();
    frame.render_widget(Paragraph::new(text), area);
}
