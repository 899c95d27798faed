//! `--format table`: aligned plain text for a terminal.

use super::{
    browsers, campaigns, compared_with, countries, daily, devices, events, headlines, hourly, os,
    pages, plain_int, read_rows, referrers, sources, status, title, users, Section, Style,
};
use crate::report::Report;
use std::fmt::Write;
use unicode_width::UnicodeWidthStr;

/// Columns of text, left-aligned, or numbers, right-aligned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    /// Text.
    Left,
    /// Numbers.
    Right,
}

/// Lays out `rows` under `headers`, two spaces between columns, widths by display width (so
/// CJK text lines up). Shared with the dashboard's text output.
pub fn grid(headers: &[&str], aligns: &[Align], rows: &[Vec<String>]) -> String {
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

/// The terminal's cell style: characters that would move the cursor, hide or reorder text
/// shown as escapes ([`pagehit::rules::visible_text`]), plain counts.
const STYLE: Style = Style {
    text: |s| pagehit::rules::visible_text(s).into_owned(),
    int: plain_int,
};

/// A section under its capitalised headers (an empty one shows its headers alone).
fn section(out: &mut String, s: &Section) {
    let headers: Vec<String> = s.headers.iter().map(|h| h.to_uppercase()).collect();
    let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
    let aligns: Vec<Align> = s
        .numeric
        .iter()
        .map(|&n| if n { Align::Right } else { Align::Left })
        .collect();
    out.push('\n');
    out.push_str(&grid(&headers, &aligns, &s.rows));
}

/// The report as aligned text: the summary, hours, then every list in full.
pub fn render(r: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", title(r));
    if let Some(filtered) = super::filtered_by(r) {
        let _ = writeln!(out, "{}", (STYLE.text)(&filtered));
    }
    if let Some(compared) = compared_with(r) {
        let _ = writeln!(out, "{compared}");
    }
    out.push('\n');

    // Headline numbers (with the previous period and the change when compared), then what
    // reading the files found, apart so long partition lists do not widen the numbers' column.
    let compared = r.previous.is_some();
    let rows: Vec<Vec<String>> = headlines(r, plain_int)
        .into_iter()
        .map(|h| {
            let mut row = vec![h.key.to_string(), h.value];
            if let Some((before, change)) = h.previous {
                row.extend([before, change.text]);
            }
            row
        })
        .collect();
    let (headers, aligns): (&[&str], &[Align]) = if compared {
        (
            &["SUMMARY", "", "PREVIOUS", "CHANGE"],
            &[Align::Left, Align::Right, Align::Right, Align::Left],
        )
    } else {
        (&["SUMMARY", ""], &[Align::Left, Align::Right])
    };
    out.push_str(&grid(headers, aligns, &rows));

    out.push('\n');
    let input: Vec<Vec<String>> = read_rows(&r.summary, plain_int)
        .into_iter()
        .map(|(k, v)| vec![k.to_string(), v])
        .collect();
    out.push_str(&grid(&["INPUT", ""], &[Align::Left, Align::Left], &input));

    // Hours with a bar of up to 40 characters each; any hit shows at least one.
    let mut hours = hourly(r, STYLE);
    let max = hours.weights.iter().copied().max().unwrap_or(0).max(1);
    for (row, &n) in hours.rows.iter_mut().zip(&hours.weights) {
        row.push("#".repeat((n * 40).div_ceil(max) as usize));
    }
    hours.headers.push("");
    hours.numeric.push(false);
    section(&mut out, &hours);

    let all = usize::MAX;
    for s in [
        daily(r, STYLE),
        status(r, STYLE),
        referrers(r, all, STYLE),
        countries(r, all, STYLE),
        super::hosts(r, all, STYLE),
        sources(r, all, STYLE),
        campaigns(r, all, STYLE),
        browsers(r, all, STYLE),
        os(r, all, STYLE),
        devices(r, all, STYLE),
        events(r, all, STYLE),
        pages(r, all, STYLE),
        users(r, all, STYLE),
    ] {
        section(&mut out, &s);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::fixture;

    #[test]
    fn grid_aligns_by_display_width() {
        let rows = vec![
            vec!["/日本".to_string(), "5".to_string()],
            vec!["/ab".to_string(), "12".to_string()],
        ];
        let text = grid(&["PATH", "HITS"], &[Align::Left, Align::Right], &rows);
        assert_eq!(text, "PATH   HITS\n/日本     5\n/ab      12\n");
    }

    fn has_lines(text: &str, lines: &[&str]) {
        for line in lines {
            assert!(
                text.lines().any(|l| l == *line),
                "missing {line:?} in\n{text}"
            );
        }
    }

    #[test]
    fn every_section_with_the_comparison() {
        let text = render(&fixture::report(true));
        has_lines(
            &text,
            &[
                "Page-hit report for 2026-11-23 to 2026-11-25 (Europe/Berlin)",
                "compared with 2026-11-20 to 2026-11-22",
                "SUMMARY             PREVIOUS  CHANGE",
                "hits          1204      1070  +134 (+12.5%)",
                "bounce rate  43.2%     45.0%  -1.8 pp",
                "events          52         0  new",
                "files                 9 (dt=2026-11-23 to dt=2026-11-25)",
                "missing partitions    dt=2026-11-22",
                "unknown header files  1",
                "bots (left out)       55",
                "14     500  ########################################",
                "DATE        HITS  USERS  VISITORS",
                "2026-11-24   404     21       160",
                "5xx       10",
                "news.example    400",
                "(unknown)   504",
                "newsletter     304        62        70",
                "CAMPAIGN   SOURCE      MEDIUM  HITS  VISITORS  SESSIONS",
                "(not set)  newsletter  email     54        12        15",
                "docs.shop.example   204        62",
                "Firefox   504       162",
                "Mac OS X   604       200",
                "mobile    204       112",
                "EVENT   HITS  VISITORS  CONVERSION",
                "signup    52        30        7.3%",
                "PATH          HITS  PREVIOUS         CHANGE  USERS  VISITORS  SHARE  ENTRIES  EXITS  BOUNCES  4XX  5XX",
                "/pricing       300         0            new     15       150  24.9%      100     75       60    1    0",
                "/a<b>&\"c'|*_   200       250   -50 (-20.0%)     10       100  16.6%       66     50       40    1    0",
                "/日本\\n        104       104      no change      5        52   8.6%       34     26       20    1    0",
                "<admin> & \"co\"     7      1         1  2026-11-24T09:00:00.000+01:00  2026-11-24T09:20:00.000+01:00  /",
            ],
        );
        assert!(
            !text.contains("/日本\n"),
            "a raw newline reached the terminal"
        );
    }

    #[test]
    fn without_comparison_no_previous_columns() {
        let text = render(&fixture::report(false));
        has_lines(
            &text,
            &[
                "hits          1204",
                "PATH          HITS  USERS  VISITORS  SHARE  ENTRIES  EXITS  BOUNCES  4XX  5XX",
            ],
        );
        assert!(!text.contains("compared with") && !text.contains("PREVIOUS"));
    }
}
