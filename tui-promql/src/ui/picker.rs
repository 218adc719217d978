//! A list overlay to choose one item: a context of the config file (`c`), a saved query (Ctrl-O
//! in the query view).

use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, List, ListItem, ListState};
use ratatui::Frame;

use super::{trunc, Theme};
use crate::app::{Picker, PickerKind};

pub fn draw(frame: &mut Frame, area: Rect, p: &Picker, theme: Theme) {
    let title = match p.kind {
        PickerKind::Context => " contexts (Enter switches, Esc closes) ",
        PickerKind::SavedQuery => " saved queries (Enter runs, Esc closes) ",
    };
    let name_w = p
        .items
        .iter()
        .map(|(n, _)| n.chars().count())
        .max()
        .unwrap_or(0)
        .min(30);
    let natural = p
        .items
        .iter()
        .map(|(_, d)| name_w + 3 + d.chars().count())
        .max()
        .unwrap_or(0)
        .max(title.chars().count())
        + 4;
    let w = (natural as u16)
        .min(area.width.saturating_sub(2))
        .max(20.min(area.width));
    let h = (p.items.len() as u16 + 2).min(area.height);
    let r = Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    );
    let detail_w = (w as usize).saturating_sub(name_w + 6);
    let items: Vec<ListItem> = p
        .items
        .iter()
        .map(|(n, d)| {
            ListItem::new(Line::from(vec![
                Span::styled(
                    format!(" {:<name_w$} ", trunc(n, name_w)),
                    theme.accent().add_modifier(Modifier::BOLD),
                ),
                Span::styled(trunc(d, detail_w), theme.dim()),
            ]))
        })
        .collect();
    let list = List::new(items)
        .block(Block::bordered().title(title))
        .highlight_style(theme.selected())
        .highlight_symbol("▶");
    let mut state = ListState::default().with_selected(Some(p.selected));
    frame.render_widget(Clear, r);
    frame.render_stateful_widget(list, r, &mut state);
}
