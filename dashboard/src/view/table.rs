//! A snapshot as aligned text (`dashboard live --once --format table`), laid out by the
//! report's own `grid` and with recorded text made visible by its own rule.

use crate::snapshot::Snapshot;
use analyzer::output::table::{grid, Align};
use analyzer::output::{country_label, visible};
use std::fmt::Write;

/// The whole snapshot: totals, minutes, then each list.
pub fn render(s: &Snapshot) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Live at {}: the last {} minutes (UTC minute buckets), \"now\" = the last {} minutes",
        s.now, s.window_minutes, s.now_minutes
    );
    let lag = s
        .lag_ms
        .map_or("no hit read yet".to_string(), |l| format!("{l} ms"));
    let totals = [
        ("visitors now", s.visitors_now.to_string()),
        ("page views", s.hits.to_string()),
        ("visitors", s.visitors.to_string()),
        ("signed-in users", s.users.to_string()),
        ("bots left out", s.bots.to_string()),
        ("repeats dropped", s.duplicates.to_string()),
        ("not valid hits", s.rejected.to_string()),
        ("outside the window", s.outside_window.to_string()),
        ("lag (now - newest hit)", lag),
        ("behind the stream's tip", format!("{} ms", s.behind_ms)),
    ];
    let rows: Vec<Vec<String>> = totals
        .iter()
        .map(|(k, v)| vec![k.to_string(), v.clone()])
        .collect();
    out.push('\n');
    out.push_str(&grid(
        &["TOTAL", "VALUE"],
        &[Align::Left, Align::Right],
        &rows,
    ));
    let minutes: Vec<Vec<String>> = s
        .per_minute
        .iter()
        .map(|m| vec![m.minute.clone(), m.hits.to_string(), m.visitors.to_string()])
        .collect();
    out.push('\n');
    out.push_str(&grid(
        &["MINUTE", "HITS", "VISITORS"],
        &[Align::Left, Align::Right, Align::Right],
        &minutes,
    ));
    let pages: Vec<Vec<String>> = s
        .pages
        .iter()
        .map(|p| {
            vec![
                visible(&p.path).into_owned(),
                p.hits.to_string(),
                p.visitors.to_string(),
                p.now.to_string(),
            ]
        })
        .collect();
    out.push('\n');
    out.push_str(&grid(
        &["PATH", "HITS", "VISITORS", "NOW"],
        &[Align::Left, Align::Right, Align::Right, Align::Right],
        &pages,
    ));
    for (head, rows) in lists(s) {
        out.push('\n');
        out.push_str(&grid(
            &[head, "HITS", "VISITORS"],
            &[Align::Left, Align::Right, Align::Right],
            &rows,
        ));
    }
    out
}

/// Every list but pages as (header, rows of name, hits, visitors), names made visible.
pub fn lists(s: &Snapshot) -> Vec<(&'static str, Vec<Vec<String>>)> {
    let row = |name: &str, hits: u64, visitors: u64| {
        vec![
            visible(name).into_owned(),
            hits.to_string(),
            visitors.to_string(),
        ]
    };
    vec![
        (
            "SOURCE",
            s.sources
                .iter()
                .map(|r| row(&r.source, r.hits, r.visitors))
                .collect(),
        ),
        (
            "COUNTRY",
            s.countries
                .iter()
                .map(|r| row(country_label(&r.country), r.hits, r.visitors))
                .collect(),
        ),
        (
            "DEVICE",
            s.devices
                .iter()
                .map(|r| row(&r.device, r.hits, r.visitors))
                .collect(),
        ),
        (
            "BROWSER",
            s.browsers
                .iter()
                .map(|r| row(&r.browser, r.hits, r.visitors))
                .collect(),
        ),
        (
            "OS",
            s.os.iter()
                .map(|r| row(&r.os, r.hits, r.visitors))
                .collect(),
        ),
        (
            "EVENT",
            s.events
                .iter()
                .map(|r| row(&r.event, r.hits, r.visitors))
                .collect(),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::window::{Options, Window};

    #[test]
    fn totals_and_lists_are_laid_out() {
        let mut w = Window::new(Options::default());
        let now = 1_796_428_200_000;
        let hit = pagehit::PageHit {
            event_id: pagehit::rules::uuid_text(7),
            ts: pagehit::time::format_ts(now),
            host: "h.example".into(),
            path: "/x%0A<tr>".into(),
            action: "x".into(),
            method: "GET".into(),
            status: 200,
            visitor: "00000000000000aa".into(),
            ..pagehit::PageHit::default()
        };
        w.add_record(hit.to_json().as_bytes(), now, now);
        let text = render(&w.snapshot(now, 0, true));
        assert!(text.contains("/x%0A<tr>"), "{text}");
        assert!(
            text.lines()
                .any(|l| l.starts_with("page views") && l.ends_with(" 1")),
            "{text}"
        );
    }
}
