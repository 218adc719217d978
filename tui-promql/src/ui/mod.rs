//! Drawing of the frame around the views (each view draws itself, in `views/`): a title line
//! with the tabs, a banner when something is wrong, the view, and a line of key hints; and the
//! themes and thresholds the views share. Drawing only reads the [`App`].

pub mod banner;
pub mod help;
pub mod picker;

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use crate::app::{App, View};
use crate::fmt;
use crate::model::Severity;

/// Smallest terminal the views are laid out for.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 12;

/// Styles, with or without colour (`NO_COLOR`). Without colour, bad values are bold and the
/// selection is reversed, so nothing depends on colour alone.
#[derive(Debug, Clone, Copy)]
pub struct Theme {
    pub color: bool,
}

impl Theme {
    pub fn new(no_color: bool) -> Self {
        Theme { color: !no_color }
    }

    fn fg(&self, c: Color) -> Style {
        if self.color {
            Style::default().fg(c)
        } else {
            Style::default()
        }
    }

    pub fn good(&self) -> Style {
        self.fg(Color::Green)
    }

    pub fn warn(&self) -> Style {
        if self.color {
            Style::default().fg(Color::Yellow)
        } else {
            Style::default().add_modifier(Modifier::UNDERLINED)
        }
    }

    pub fn bad(&self) -> Style {
        if self.color {
            Style::default().fg(Color::Red).add_modifier(Modifier::BOLD)
        } else {
            Style::default().add_modifier(Modifier::BOLD)
        }
    }

    pub fn dim(&self) -> Style {
        if self.color {
            Style::default().fg(Color::DarkGray)
        } else {
            Style::default()
        }
    }

    pub fn accent(&self) -> Style {
        self.fg(Color::Cyan)
    }

    pub fn header(&self) -> Style {
        self.fg(Color::Yellow).add_modifier(Modifier::BOLD)
    }

    pub fn selected(&self) -> Style {
        Style::default().add_modifier(Modifier::REVERSED)
    }

    pub fn banner_error(&self) -> Style {
        if self.color {
            Style::default()
                .fg(Color::White)
                .bg(Color::Red)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::default().add_modifier(Modifier::REVERSED | Modifier::BOLD)
        }
    }

    pub fn banner_warn(&self) -> Style {
        if self.color {
            Style::default().fg(Color::Black).bg(Color::Yellow)
        } else {
            Style::default().add_modifier(Modifier::REVERSED)
        }
    }

    /// Colour of a value against its warning and critical thresholds.
    pub fn level(&self, v: Option<f64>, warn: f64, crit: f64) -> Style {
        match v {
            Some(x) if x >= crit => self.bad(),
            Some(x) if x >= warn => self.warn(),
            Some(_) => self.good(),
            None => self.dim(),
        }
    }

    pub fn severity(&self, s: Severity) -> Style {
        match s {
            Severity::Critical => self.bad(),
            Severity::Warning => self.warn(),
            Severity::Info => self.accent(),
        }
    }

    /// Colours of the series of a chart, in order.
    pub fn series(&self, i: usize) -> Style {
        const C: [Color; 6] = [
            Color::Cyan,
            Color::Magenta,
            Color::Green,
            Color::Yellow,
            Color::Blue,
            Color::Red,
        ];
        self.fg(C[i % C.len()])
    }
}

/// Thresholds shared by the fleet and host views: (warning, critical).
pub mod thresholds {
    pub const CPU: (f64, f64) = (0.75, 0.9);
    pub const MEM: (f64, f64) = (0.8, 0.9);
    pub const SWAP: (f64, f64) = (0.5, 0.8);
    pub const FS: (f64, f64) = (0.8, 0.9);
    pub const LOAD: (f64, f64) = (1.0, 1.5);
    pub const TEMP: (f64, f64) = (70.0, 85.0);
    /// File handles and conntrack entries against their limits (the alerts fire at 80 %).
    pub const LIMIT: (f64, f64) = (0.8, 0.95);
    /// Clock offset either way, seconds (SysmonClockSkew's bound).
    pub const CLOCK_OFFSET: f64 = 0.05;
}

/// Draws one frame.
pub fn draw(frame: &mut Frame, app: &App) {
    let area = frame.area();
    let theme = Theme::new(app.settings.no_color);
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        draw_too_small(frame, area, theme);
        return;
    }
    let banner = banner::banner_lines(app, area.width);
    let [title, banner_area, main, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(banner.len() as u16),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(area);
    draw_title(frame, title, app, theme);
    banner::draw(frame, banner_area, &banner, theme);
    crate::views::draw(frame, main, app, theme);
    draw_footer(frame, footer, app, theme);
    if app.show_help {
        help::draw(frame, area, app, theme);
    }
    if let Some(p) = &app.picker {
        picker::draw(frame, area, p, theme);
    }
}

fn draw_too_small(frame: &mut Frame, area: Rect, theme: Theme) {
    let msg = vec![
        Line::from(Span::styled("terminal too small", theme.bad())),
        Line::from(format!(
            "{}x{}, need {}x{}",
            area.width, area.height, MIN_WIDTH, MIN_HEIGHT
        )),
        Line::from("q quits"),
    ];
    let h = (msg.len() as u16).min(area.height);
    let y = area.y + area.height.saturating_sub(h) / 2;
    frame.render_widget(
        Paragraph::new(msg).alignment(ratatui::layout::Alignment::Center),
        Rect::new(area.x, y, area.width, h),
    );
}

fn draw_title(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
    let mut spans = vec![Span::styled(
        " sysmon-top ",
        theme.accent().add_modifier(Modifier::BOLD),
    )];
    let mut x = area.x + 12;
    let mut tabs = [(0u16, 0u16); View::ALL.len()];
    for (i, v) in View::ALL.iter().enumerate() {
        let label = format!(" {} {} ", i + 1, v.title());
        let w = label.chars().count() as u16;
        tabs[i] = (x, x + w);
        x += w + 1;
        let style = if *v == app.view {
            theme.selected().add_modifier(Modifier::BOLD)
        } else {
            Style::default()
        };
        spans.push(Span::styled(label, style));
        spans.push(Span::raw(" "));
    }
    app.hit.tabs.set(tabs);
    if let Some(c) = &app.context {
        spans.push(Span::styled(
            format!("[{c}] "),
            theme.accent().add_modifier(Modifier::BOLD),
        ));
    }
    let left_w: u16 = spans.iter().map(|s| s.width() as u16).sum();
    let updated = match app.conn.last_ok {
        Some(t) => format!("updated {} ago", fmt::age(t.elapsed().as_secs_f64())),
        None => "connecting…".to_string(),
    };
    // Right side, least important first: dropped from the front when space is short.
    let mut parts = vec![
        format!("job={}", app.settings.job),
        app.settings.url.clone(),
        format!("every {}", fmt::prom_duration(app.settings.refresh)),
        updated,
    ];
    let room = area.width.saturating_sub(left_w) as usize;
    let mut right = parts.join(" · ") + " ";
    while right.chars().count() > room && parts.len() > 1 {
        parts.remove(0);
        right = parts.join(" · ") + " ";
    }
    let right = format!("{:>room$}", trunc(&right, room));
    spans.push(Span::styled(right, theme.dim()));
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn draw_footer(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
    let hints = crate::views::hints(app);
    let mut spans = Vec::new();
    if app.view == View::Fleet && (app.fleet.filter_editing || !app.fleet.filter.is_empty()) {
        spans.push(Span::styled(
            format!(" /{}", app.fleet.filter),
            theme.accent().add_modifier(Modifier::BOLD),
        ));
        if app.fleet.filter_editing {
            spans.push(Span::styled("▏", theme.accent()));
        }
        spans.push(Span::raw("  "));
    }
    for (k, what) in hints {
        spans.push(Span::styled(
            format!(" {k}"),
            theme.accent().add_modifier(Modifier::BOLD),
        ));
        spans.push(Span::raw(format!(" {what} ")));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// A horizontal bar with its percentage, coloured by thresholds: `▕████▌   ▏ 45.0%`.
pub fn bar_line<'a>(
    label: String,
    label_w: usize,
    ratio: Option<f64>,
    bar_w: usize,
    th: (f64, f64),
    theme: Theme,
) -> Line<'a> {
    let style = theme.level(ratio, th.0, th.1);
    Line::from(vec![
        Span::raw(format!("{label:<label_w$}")),
        Span::styled(fmt::bar(ratio.unwrap_or(0.0), bar_w), style),
        Span::styled(format!(" {:>6}", fmt::pct(ratio)), style),
    ])
}

/// Truncates `s` to `w` characters with an ellipsis.
pub fn trunc(s: &str, w: usize) -> String {
    if s.chars().count() <= w {
        s.to_string()
    } else if w == 0 {
        String::new()
    } else {
        let mut t: String = s.chars().take(w - 1).collect();
        t.push('…');
        t
    }
}
