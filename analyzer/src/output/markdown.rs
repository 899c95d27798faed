//! `--format markdown`: GitHub-flavoured Markdown to paste into a ticket.

use super::{country_label, page_cells, percent, user_cells, visible};
use crate::report::Report;
use std::fmt::Write;

/// Escapes text for a Markdown table cell: markup characters get a backslash, `|` would end
/// the cell, `<` could start HTML, and control characters become visible escapes.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in visible(s).chars() {
        if matches!(
            ch,
            '\\' | '|' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '~' | '!' | '&'
        ) {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

fn table(out: &mut String, headers: &[&str], right: &[bool], rows: &[Vec<String>]) {
    let _ = writeln!(out, "| {} |", headers.join(" | "));
    let rule: Vec<&str> = right
        .iter()
        .map(|&r| if r { "---:" } else { "---" })
        .collect();
    let _ = writeln!(out, "| {} |", rule.join(" | "));
    for row in rows {
        let _ = writeln!(out, "| {} |", row.join(" | "));
    }
}

/// The report as Markdown.
pub fn render(r: &Report) -> String {
    let s = &r.summary;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Page-hit report for {} ({})\n",
        r.date,
        escape(&r.tz)
    );
    let bots = if s.bots_included {
        "bots (included)"
    } else {
        "bots (left out)"
    };
    let partitions: Vec<String> = s.partitions.iter().map(|p| format!("dt={p}")).collect();
    let rows = vec![
        vec!["hits".into(), s.hits.to_string()],
        vec!["users".into(), s.users.to_string()],
        vec!["visitors".into(), s.visitors.to_string()],
        vec!["sessions".into(), s.sessions.to_string()],
        vec!["bounce rate".into(), percent(s.bounce_rate)],
        vec![bots.into(), s.bots.to_string()],
        vec!["duplicates".into(), s.duplicates.to_string()],
        vec!["malformed rows".into(), s.malformed_rows.to_string()],
        vec![
            "files".into(),
            format!("{} ({})", s.files, partitions.join(", ")),
        ],
    ];
    out.push_str("## Summary\n\n");
    table(&mut out, &["metric", "value"], &[false, true], &rows);

    out.push_str("\n## Hits per hour\n\n");
    let hours: Vec<String> = (0..24).map(|h| format!("{h:02}")).collect();
    let counts: Vec<String> = r.hourly.iter().map(u64::to_string).collect();
    let hour_refs: Vec<&str> = hours.iter().map(String::as_str).collect();
    table(&mut out, &hour_refs, &[true; 24], &[counts]);

    out.push_str("\n## Status classes\n\n");
    let c = &s.status_classes;
    table(
        &mut out,
        &["1xx", "2xx", "3xx", "4xx", "5xx"],
        &[true; 5],
        &[vec![
            c.c1xx.to_string(),
            c.c2xx.to_string(),
            c.c3xx.to_string(),
            c.c4xx.to_string(),
            c.c5xx.to_string(),
        ]],
    );

    out.push_str("\n## Top referrer hosts\n\n");
    let rows: Vec<Vec<String>> = s
        .referrers
        .iter()
        .map(|x| vec![escape(&x.host), x.hits.to_string()])
        .collect();
    table(&mut out, &["host", "hits"], &[false, true], &rows);

    out.push_str("\n## Countries\n\n");
    let rows: Vec<Vec<String>> = s
        .countries
        .iter()
        .map(|x| vec![escape(country_label(&x.country)), x.hits.to_string()])
        .collect();
    table(&mut out, &["country", "hits"], &[false, true], &rows);

    out.push_str("\n## Pages\n\n");
    let rows = page_cells(r, escape);
    let mut right = vec![false];
    right.extend([true; 9]);
    table(
        &mut out,
        &[
            "path", "hits", "users", "visitors", "share", "entries", "exits", "bounces", "4xx",
            "5xx",
        ],
        &right,
        &rows,
    );

    out.push_str("\n## Users\n\n");
    let rows = user_cells(r, escape);
    table(
        &mut out,
        &[
            "user",
            "hits",
            "pages",
            "sessions",
            "first seen",
            "last seen",
            "top page",
        ],
        &[false, true, true, true, false, false, false],
        &rows,
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_cells() {
        assert_eq!(escape("/a|b_c*d"), "/a\\|b\\_c\\*d");
        assert_eq!(escape("x\ny"), "x\\\\ny");
        assert_eq!(escape("/日本"), "/日本");
    }
}
