//! `--format table`: aligned plain text for a terminal.

use super::{country_label, page_cells, percent, user_cells, visible};
use crate::report::Report;
use std::fmt::Write;
use unicode_width::UnicodeWidthStr;

/// Columns of text, left-aligned, or numbers, right-aligned.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Align {
    Left,
    Right,
}

/// Lays out `rows` under `headers`, two spaces between columns, widths by display width (so
/// CJK text lines up).
fn grid(headers: &[&str], aligns: &[Align], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.width()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.width());
        }
    }
    let mut out = String::new();
    let header: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            let pad = " ".repeat(widths[i] - cell.width());
            if i > 0 {
                line.push_str("  ");
            }
            match aligns[i] {
                Align::Left => {
                    line.push_str(cell);
                    line.push_str(&pad);
                }
                Align::Right => {
                    line.push_str(&pad);
                    line.push_str(cell);
                }
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The report as aligned text.
pub fn render(r: &Report) -> String {
    let s = &r.summary;
    let mut out = String::new();
    let _ = writeln!(out, "Page-hit report for {} ({})", r.date, r.tz);
    out.push('\n');
    let bots = if s.bots_included {
        "bots included"
    } else {
        "bots left out"
    };
    let partitions: Vec<String> = s.partitions.iter().map(|p| format!("dt={p}")).collect();
    let summary_rows = vec![
        vec!["hits".to_string(), s.hits.to_string()],
        vec!["users".to_string(), s.users.to_string()],
        vec!["visitors".to_string(), s.visitors.to_string()],
        vec!["sessions".to_string(), s.sessions.to_string()],
        vec!["bounce rate".to_string(), percent(s.bounce_rate)],
        vec![bots.to_string(), s.bots.to_string()],
        vec!["duplicates".to_string(), s.duplicates.to_string()],
        vec!["malformed rows".to_string(), s.malformed_rows.to_string()],
        vec![
            "files".to_string(),
            format!("{} ({})", s.files, partitions.join(", ")),
        ],
    ];
    out.push_str(&grid(
        &["SUMMARY", ""],
        &[Align::Left, Align::Left],
        &summary_rows,
    ));

    out.push('\n');
    let max = r.hourly.iter().copied().max().unwrap_or(0).max(1);
    let hour_rows: Vec<Vec<String>> = r
        .hourly
        .iter()
        .enumerate()
        .map(|(h, &n)| {
            // Bars of up to 40 characters; any hit shows at least one.
            let len = ((n * 40).div_ceil(max)) as usize;
            vec![format!("{h:02}"), n.to_string(), "#".repeat(len)]
        })
        .collect();
    out.push_str(&grid(
        &["HOUR", "HITS", ""],
        &[Align::Left, Align::Right, Align::Left],
        &hour_rows,
    ));

    out.push('\n');
    let status = &s.status_classes;
    let status_rows = vec![
        vec!["1xx".to_string(), status.c1xx.to_string()],
        vec!["2xx".to_string(), status.c2xx.to_string()],
        vec!["3xx".to_string(), status.c3xx.to_string()],
        vec!["4xx".to_string(), status.c4xx.to_string()],
        vec!["5xx".to_string(), status.c5xx.to_string()],
    ];
    out.push_str(&grid(
        &["STATUS", "HITS"],
        &[Align::Left, Align::Right],
        &status_rows,
    ));

    out.push('\n');
    let ref_rows: Vec<Vec<String>> = s
        .referrers
        .iter()
        .map(|x| vec![visible(&x.host).into_owned(), x.hits.to_string()])
        .collect();
    out.push_str(&grid(
        &["REFERRER HOST", "HITS"],
        &[Align::Left, Align::Right],
        &ref_rows,
    ));

    out.push('\n');
    let country_rows: Vec<Vec<String>> = s
        .countries
        .iter()
        .map(|x| {
            vec![
                visible(country_label(&x.country)).into_owned(),
                x.hits.to_string(),
            ]
        })
        .collect();
    out.push_str(&grid(
        &["COUNTRY", "HITS"],
        &[Align::Left, Align::Right],
        &country_rows,
    ));

    out.push('\n');
    let page_rows = page_cells(r, |s| visible(s).into_owned());
    let mut aligns = vec![Align::Left];
    aligns.extend([Align::Right; 9]);
    out.push_str(&grid(
        &[
            "PATH", "HITS", "USERS", "VISITORS", "SHARE", "ENTRIES", "EXITS", "BOUNCES", "4XX",
            "5XX",
        ],
        &aligns,
        &page_rows,
    ));

    out.push('\n');
    let user_rows = user_cells(r, |s| visible(s).into_owned());
    out.push_str(&grid(
        &[
            "USER",
            "HITS",
            "PAGES",
            "SESSIONS",
            "FIRST SEEN",
            "LAST SEEN",
            "TOP PAGE",
        ],
        &[
            Align::Left,
            Align::Right,
            Align::Right,
            Align::Right,
            Align::Left,
            Align::Left,
            Align::Left,
        ],
        &user_rows,
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_aligns_by_display_width() {
        let rows = vec![
            vec!["/日本".to_string(), "5".to_string()],
            vec!["/ab".to_string(), "12".to_string()],
        ];
        let text = grid(&["PATH", "HITS"], &[Align::Left, Align::Right], &rows);
        assert_eq!(text, "PATH   HITS\n/日本     5\n/ab      12\n");
    }
}
