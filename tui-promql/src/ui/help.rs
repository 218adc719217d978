//! The help overlay (`?`): the keys that work everywhere, then each view's own (its `HELP`), in
//! a box sized to its text. The key column is as wide as the widest key; a description too long
//! for the box wraps under itself instead of being cut; when the lines do not fit the height, the
//! sections flow into a second column.

use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};
use ratatui::Frame;

use super::Theme;
use crate::event::View;

/// The keys that work in every view.
pub const GLOBAL: &[(&str, &str)] = &[
    ("?", "this help (any key closes it)"),
    ("q, Ctrl-C", "quit"),
    (
        "Tab, Shift-Tab, 1-9",
        "switch view (in the order of the tabs)",
    ),
    ("r", "refresh now (Query: run again)"),
    ("mouse", "click a tab or a row, wheel scrolls"),
];

const FOOTNOTE: &str = "NO_COLOR=1 turns colours off; sysmon-top only speaks PromQL to Prometheus.";

/// Every key by section: `(section, [(keys, what)])`.
pub fn sections() -> Vec<(&'static str, &'static [(&'static str, &'static str)])> {
    let mut out = vec![("everywhere", GLOBAL)];
    for v in View::ALL {
        out.push((v.title(), crate::views::help(v)));
    }
    out
}

fn width(s: &str) -> usize {
    s.chars().count()
}

/// Splits `text` into lines of at most `w` characters at spaces (a word longer than `w` is cut).
fn wrap(text: &str, w: usize) -> Vec<String> {
    let w = w.max(1);
    let mut out = Vec::new();
    let mut cur = String::new();
    for word in text.split(' ') {
        let fits = if cur.is_empty() {
            width(word) <= w
        } else {
            width(&cur) + 1 + width(word) <= w
        };
        if !fits && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(word);
        while width(&cur) > w {
            let head: String = cur.chars().take(w).collect();
            cur = cur.chars().skip(w).collect();
            out.push(head);
        }
    }
    if !cur.is_empty() || out.is_empty() {
        out.push(cur);
    }
    out
}

/// One column of the overlay: the sections' lines, each `col_w` wide at most.
fn column_lines<'a>(
    secs: &[(&'static str, &'static [(&'static str, &'static str)])],
    sec_w: usize,
    key_w: usize,
    col_w: usize,
    theme: Theme,
) -> Vec<Line<'a>> {
    let what_w = col_w.saturating_sub(1 + sec_w + 1 + key_w + 1).max(8);
    let mut lines = Vec::new();
    for (section, keys) in secs {
        for (i, (key, what)) in keys.iter().enumerate() {
            let sec = if i == 0 { *section } else { "" };
            for (j, part) in wrap(what, what_w).into_iter().enumerate() {
                let (s, k) = if j == 0 { (sec, *key) } else { ("", "") };
                lines.push(Line::from(vec![
                    Span::styled(format!(" {s:<sec_w$} "), theme.header()),
                    Span::styled(
                        format!("{k:<key_w$} "),
                        theme.accent().add_modifier(Modifier::BOLD),
                    ),
                    Span::raw(part),
                ]));
            }
        }
    }
    lines
}

pub fn draw(frame: &mut Frame, area: Rect, theme: Theme) {
    let secs = sections();
    let sec_w = secs.iter().map(|(s, _)| width(s)).max().unwrap_or(0);
    let key_w = secs
        .iter()
        .flat_map(|(_, k)| k.iter().map(|(k, _)| width(k)))
        .max()
        .unwrap_or(0);
    let what_w = secs
        .iter()
        .flat_map(|(_, k)| k.iter().map(|(_, w)| width(w)))
        .max()
        .unwrap_or(0);
    let natural_w = 1 + sec_w + 1 + key_w + 1 + what_w + 1;
    let n_lines: usize = secs.iter().map(|(_, k)| k.len()).sum();
    // Borders take 2 lines and 2 columns, the footnote one more line (and a blank line before
    // it when there is room).
    let room_h = (area.height as usize).saturating_sub(3);
    let room_w = (area.width as usize).saturating_sub(2);
    // Two columns when one is too tall and the terminal is wide enough for two.
    let two = n_lines > room_h && room_w >= 2 * natural_w.min(room_w / 2).max(60);
    let (cols, col_w) = if two {
        (2, (room_w / 2).min(natural_w))
    } else {
        (1, room_w.min(natural_w.max(width(FOOTNOTE) + 2)))
    };
    let columns: Vec<Vec<Line>> = if two {
        // Split at a section boundary near the middle.
        let half = n_lines.div_ceil(2);
        let mut acc = 0;
        let mut split = secs.len();
        for (i, (_, k)) in secs.iter().enumerate() {
            if acc >= half {
                split = i;
                break;
            }
            acc += k.len();
        }
        vec![
            column_lines(&secs[..split], sec_w, key_w, col_w, theme),
            column_lines(&secs[split..], sec_w, key_w, col_w, theme),
        ]
    } else {
        vec![column_lines(&secs, sec_w, key_w, col_w, theme)]
    };
    let body_h = columns.iter().map(Vec::len).max().unwrap_or(0);
    let foot = wrap(FOOTNOTE, (cols * col_w).saturating_sub(2));
    let w = ((cols * col_w + 2) as u16).min(area.width);
    let gap = usize::from(body_h + 1 + foot.len() + 2 <= area.height as usize);
    let h = ((body_h + gap + foot.len() + 2) as u16).min(area.height);
    let r = Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    );
    frame.render_widget(Clear, r);
    let block = Block::bordered().title(" sysmon-top keys ");
    let inner = block.inner(r);
    frame.render_widget(block, r);
    for (i, lines) in columns.into_iter().enumerate() {
        let x = inner.x + (i * col_w) as u16;
        let cw = (col_w as u16).min(inner.x + inner.width - x);
        frame.render_widget(
            Paragraph::new(lines),
            Rect::new(x, inner.y, cw, inner.height),
        );
    }
    let foot_y = inner.y + (body_h + gap) as u16;
    if foot_y < inner.y + inner.height {
        let lines: Vec<Line> = foot
            .into_iter()
            .map(|l| Line::from(Span::styled(format!(" {l}"), theme.dim())))
            .collect();
        frame.render_widget(
            Paragraph::new(lines),
            Rect::new(
                inner.x,
                foot_y,
                inner.width,
                inner.y + inner.height - foot_y,
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_keeps_words_and_cuts_only_long_ones() {
        assert_eq!(wrap("a bb ccc", 4), vec!["a bb", "ccc"]);
        assert_eq!(wrap("abcdefgh", 3), vec!["abc", "def", "gh"]);
        assert_eq!(wrap("", 5), vec![""]);
    }
}
