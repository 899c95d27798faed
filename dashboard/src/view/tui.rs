//! The terminal view (`dashboard live` on a terminal): the latest published snapshot redrawn
//! about once a second, `top`-style, with ratatui. `q`, Esc or Ctrl-C quits; the terminal is
//! restored as it was (also after a panic, by ratatui's hook).

use crate::snapshot::Snapshot;
use crate::view::publish::Published;
use crate::view::table::lists;
use analyzer::output::visible;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Row, Sparkline, Table};
use ratatui::Frame;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Runs the view until the user quits; blocking (call it from a blocking thread).
pub fn run(rx: watch::Receiver<Arc<Published>>) -> anyhow::Result<()> {
    let mut terminal = ratatui::init();
    let result = (|| -> anyhow::Result<()> {
        loop {
            let published = rx.borrow().clone();
            terminal.draw(|f| draw(f, &published.snapshot))?;
            // Redraw at least once a second; keys are handled at once.
            if event::poll(Duration::from_millis(1000))? {
                if let Event::Key(key) = event::read()? {
                    let ctrl_c = key.code == KeyCode::Char('c')
                        && key.modifiers.contains(KeyModifiers::CONTROL);
                    let quit = matches!(key.code, KeyCode::Char('q') | KeyCode::Esc) || ctrl_c;
                    if key.kind == KeyEventKind::Press && quit {
                        return Ok(());
                    }
                }
            }
        }
    })();
    ratatui::restore();
    result
}

/// One frame.
pub fn draw(f: &mut Frame, s: &Snapshot) {
    let [head, chart, body] = Layout::vertical([
        Constraint::Length(4),
        Constraint::Length(6),
        Constraint::Min(5),
    ])
    .areas(f.area());
    let lag = s.lag_ms.map_or("no hit read yet".to_string(), |l| {
        format!("{:.1} s", l as f64 / 1000.0)
    });
    let state = if s.caught_up {
        "caught up"
    } else {
        "reading the window's past"
    };
    let header = vec![
        Line::from(format!(
            "visitors now (last {} min): {}   page views (last {} min): {}   visitors: {}   users: {}",
            s.now_minutes, s.visitors_now, s.window_minutes, s.hits, s.visitors, s.users
        ))
        .style(Style::new().add_modifier(Modifier::BOLD)),
        Line::from(format!(
            "{} UTC · newest hit {lag} old · stream {state}, {} ms behind · bots {} · repeats {} · \
             not valid {} · outside {} · q quits",
            s.now.get(11..19).unwrap_or(&s.now),
            s.behind_ms,
            s.bots,
            s.duplicates,
            s.rejected,
            s.outside_window
        )),
    ];
    f.render_widget(
        Paragraph::new(header).block(Block::bordered().title(" Live ")),
        head,
    );
    let per_minute: Vec<u64> = s.per_minute.iter().map(|m| m.hits).collect();
    f.render_widget(
        Sparkline::default()
            .block(Block::bordered().title(" Page views per minute (oldest left) "))
            .data(&per_minute),
        chart,
    );
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(body);
    let pages: Vec<Row> = s
        .pages
        .iter()
        .map(|p| {
            Row::new(vec![
                visible(&p.path).into_owned(),
                p.now.to_string(),
                p.visitors.to_string(),
                p.hits.to_string(),
            ])
        })
        .collect();
    f.render_widget(
        Table::new(
            pages,
            [
                Constraint::Min(10),
                Constraint::Length(6),
                Constraint::Length(9),
                Constraint::Length(8),
            ],
        )
        .header(Row::new(["PATH", "NOW", "VISITORS", "VIEWS"]).style(bold()))
        .block(Block::bordered().title(" Pages ")),
        left,
    );
    let sections = lists(s);
    let heights: Vec<Constraint> = sections.iter().map(|_| Constraint::Fill(1)).collect();
    let areas = Layout::vertical(heights).split(right);
    for ((head, rows), area) in sections.into_iter().zip(areas.iter()) {
        list(f, *area, head, rows);
    }
}

fn list(f: &mut Frame, area: Rect, head: &str, rows: Vec<Vec<String>>) {
    let rows: Vec<Row> = rows.into_iter().map(Row::new).collect();
    f.render_widget(
        Table::new(
            rows,
            [
                Constraint::Min(8),
                Constraint::Length(8),
                Constraint::Length(9),
            ],
        )
        .header(Row::new([head, "HITS", "VISITORS"]).style(bold())),
        area,
    );
}

fn bold() -> Style {
    Style::new().add_modifier(Modifier::BOLD)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::window::{Options, Window};
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;

    #[test]
    fn a_frame_shows_the_numbers() {
        let mut w = Window::new(Options::default());
        let now = 1_796_428_200_000;
        for (i, path) in ["/", "/about", "/"].iter().enumerate() {
            let hit = pagehit::PageHit {
                event_id: pagehit::rules::uuid_text(i as u128 + 1),
                ts: pagehit::time::format_ts(now - 1000),
                host: "h.example".into(),
                path: path.to_string(),
                action: "x".into(),
                method: "GET".into(),
                status: 200,
                visitor: format!("{:016x}", i + 1),
                ..pagehit::PageHit::default()
            };
            w.add_record(hit.to_json().as_bytes(), now, now);
        }
        let s = w.snapshot(now, 0, true);
        let mut terminal = Terminal::new(TestBackend::new(140, 30)).unwrap();
        terminal.draw(|f| draw(f, &s)).unwrap();
        let screen: String = terminal
            .backend()
            .buffer()
            .content()
            .iter()
            .map(|c| c.symbol())
            .collect();
        assert!(screen.contains("visitors now (last 5 min): 3"), "{screen}");
        assert!(screen.contains("page views (last 30 min): 3"), "{screen}");
        assert!(screen.contains("/about"), "{screen}");
    }
}
