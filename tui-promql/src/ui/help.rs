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
use crate::app::App;
use crate::event::View;

/// The keys that work in every view.
pub const GLOBAL: &[(&str, &str)] = &[
    ("?", "this help (any key closes it)"),
    ("q, Ctrl-C", "quit (in the query view, q is text: Ctrl-C)"),
    (
        "Tab, Shift-Tab, 1-5",
        "next, previous view; a view by its number",
    ),
    ("r", "refresh now"),
    ("c", "switch context (config file; not while typing)"),
    ("mouse", "click a tab or a row, wheel scrolls"),
];

const FOOTNOTE: &str = "NO_COLOR=1 turns colours off; sysmon-top only speaks PromQL to Prometheus.";

/// Every key by section: `(section, [(keys, what)])`.
pub fn sections() -> Vec<Section> {
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

/// One column of the overlay: the sections' lines, each `col_w` wide at most. With `headings`
/// the section names are lines of their own (narrow columns); otherwise they are a column.
fn column_lines<'a>(
    secs: &[Section],
    headings: bool,
    sec_w: usize,
    key_w: usize,
    col_w: usize,
    theme: Theme,
) -> Vec<Line<'a>> {
    let lead = if headings { 1 } else { 1 + sec_w + 1 };
    let what_w = col_w.saturating_sub(lead + key_w + 1).max(8);
    let mut lines = Vec::new();
    for (section, keys) in secs {
        if headings {
            lines.push(Line::from(Span::styled(
                format!(" {section}"),
                theme.header(),
            )));
        }
        for (i, (key, what)) in keys.iter().enumerate() {
            let sec = if i == 0 { *section } else { "" };
            for (j, part) in wrap(what, what_w).into_iter().enumerate() {
                let (s, k) = if j == 0 { (sec, *key) } else { ("", "") };
                let first = if headings {
                    " ".to_string()
                } else {
                    format!(" {s:<sec_w$} ")
                };
                lines.push(Line::from(vec![
                    Span::styled(first, theme.header()),
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

type Section = (&'static str, &'static [(&'static str, &'static str)]);

/// Splits the sections in two at the boundary nearest the middle of `lines(sections)`.
fn halves(secs: &[Section], len: impl Fn(&[Section]) -> usize) -> (&[Section], &[Section]) {
    (1..secs.len())
        .map(|i| secs.split_at(i))
        .min_by_key(|(a, b)| len(a).max(len(b)))
        .unwrap_or((secs, &[]))
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
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
    // Borders take 2 lines and 2 columns, the footnote one more line (and a blank line before
    // it when there is room).
    let room_h = (area.height as usize).saturating_sub(3);
    let room_w = (area.width as usize).saturating_sub(2);
    // Layouts from the most readable: one column with the sections on the left; two such
    // columns; two columns with the sections as headings; one column with headings. The first
    // whose lines fit the height is drawn, else the last (which scrolls). A layout too narrow
    // for the key column and a dozen characters of description is not considered.
    let one_w = (1 + sec_w + 1 + key_w + 1 + what_w + 1).max(width(FOOTNOTE) + 2);
    let half = room_w / 2;
    let candidates = [
        (1, false, room_w.min(one_w)),
        (2, false, half),
        (2, true, half),
        (1, true, room_w),
    ];
    let mut layouts: Vec<(bool, usize, Vec<Vec<Line>>)> = Vec::new();
    for (cols, headings, col_w) in candidates {
        let lead = if headings { 1 } else { 1 + sec_w + 1 };
        if col_w < lead + key_w + 1 + 12 && !(cols == 1 && headings) {
            continue;
        }
        if cols == 1 {
            layouts.push((
                false,
                col_w,
                vec![column_lines(&secs, headings, sec_w, key_w, col_w, theme)],
            ));
        } else {
            let n = |s: &[Section]| column_lines(s, headings, sec_w, key_w, col_w, theme).len();
            let (a, b) = halves(&secs, n);
            layouts.push((
                true,
                col_w,
                vec![
                    column_lines(a, headings, sec_w, key_w, col_w, theme),
                    column_lines(b, headings, sec_w, key_w, col_w, theme),
                ],
            ));
        }
    }
    let fits = |cols: &Vec<Vec<Line>>| cols.iter().map(Vec::len).max().unwrap_or(0) <= room_h;
    let pick = layouts
        .iter()
        .position(|(_, _, c)| fits(c))
        .unwrap_or(layouts.len() - 1);
    let overflow = !fits(&layouts[pick].2);
    let (two, col_w, columns) = layouts.swap_remove(pick);
    let cols = if two { 2 } else { 1 };
    let lines_h = columns.iter().map(Vec::len).max().unwrap_or(0);
    // Too tall for the terminal even so: the lines scroll (never cut), and the footnote says so.
    let foot_text = if overflow {
        format!("↑↓ scroll, any other key closes. {FOOTNOTE}")
    } else {
        FOOTNOTE.to_string()
    };
    let foot = wrap(&foot_text, (cols * col_w).saturating_sub(2));
    let body_h = lines_h.min((area.height as usize).saturating_sub(2 + foot.len()));
    let max_scroll = lines_h.saturating_sub(body_h) as u16;
    let scroll = app.help_scroll.get().min(max_scroll);
    app.help_scroll.set(scroll);
    let gap = usize::from(body_h + 1 + foot.len() + 2 <= area.height as usize);
    let w = ((cols * col_w + 2) as u16).min(area.width);
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
        if x >= inner.x + inner.width {
            break;
        }
        let cw = (col_w as u16).min(inner.x + inner.width - x);
        frame.render_widget(
            Paragraph::new(lines).scroll((scroll, 0)),
            Rect::new(x, inner.y, cw, body_h as u16),
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
