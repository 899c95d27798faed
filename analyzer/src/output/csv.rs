//! `pages.csv`, `users.csv` and `--format csv`: RFC 4180 (pagehit's writer), with spreadsheet
//! formula injection neutralised in text cells.

use super::ratio;
use crate::report::Report;
use pagehit::csv::write_record;
use std::borrow::Cow;

/// Header of `pages.csv`.
pub const PAGE_COLUMNS: [&str; 10] = [
    "path",
    "hits",
    "users",
    "visitors",
    "share",
    "entries",
    "exits",
    "bounces",
    "errors_4xx",
    "errors_5xx",
];

/// Header of `users.csv`.
pub const USER_COLUMNS: [&str; 7] = [
    "user",
    "hits",
    "pages",
    "sessions",
    "first_seen",
    "last_seen",
    "top_page",
];

/// A text cell that a spreadsheet would run as a formula (starts with `=`, `+`, `-`, `@`, tab
/// or CR) gets a leading `'`, which spreadsheets show as text. Only for CSV files: every other
/// format keeps values exactly.
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => Cow::Owned(format!("'{cell}")),
        _ => Cow::Borrowed(cell),
    }
}

/// The column `pages.csv` gains, last, when the report has a comparison (`--compare`).
pub const PREVIOUS_HITS_COLUMN: &str = "previous_hits";

/// The page report as CSV; with a comparison, `previous_hits` is the last column (so readers
/// that take columns by position still find the others where they were).
pub fn pages(report: &Report) -> String {
    let compared = report.previous.is_some();
    let mut out = String::new();
    let mut header = PAGE_COLUMNS.to_vec();
    if compared {
        header.push(PREVIOUS_HITS_COLUMN);
    }
    write_record(&mut out, header);
    for p in &report.pages {
        let path = neutralise(&p.path);
        let mut cells = vec![
            path.to_string(),
            p.hits.to_string(),
            p.users.to_string(),
            p.visitors.to_string(),
            ratio(p.share),
            p.entries.to_string(),
            p.exits.to_string(),
            p.bounces.to_string(),
            p.errors_4xx.to_string(),
            p.errors_5xx.to_string(),
        ];
        if compared {
            cells.push(p.previous_hits.unwrap_or(0).to_string());
        }
        write_record(&mut out, cells.iter().map(String::as_str));
    }
    out
}

/// The user report as CSV.
pub fn users(report: &Report) -> String {
    let mut out = String::new();
    write_record(&mut out, USER_COLUMNS);
    for u in &report.users {
        let cells = [
            neutralise(&u.user).into_owned(),
            u.hits.to_string(),
            u.pages.to_string(),
            u.sessions.to_string(),
            u.first_seen.clone(),
            u.last_seen.clone(),
            neutralise(&u.top_page).into_owned(),
        ];
        write_record(&mut out, cells.iter().map(String::as_str));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::fixture;

    #[test]
    fn neutralises_formula_starts_only() {
        for (cell, want) in [
            ("=SUM(A1)", "'=SUM(A1)"),
            ("+1", "'+1"),
            ("-1", "'-1"),
            ("@cmd", "'@cmd"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("/a=b", "/a=b"),
            ("", ""),
            ("ünï", "ünï"),
        ] {
            assert_eq!(neutralise(cell), want, "{cell:?}");
        }
    }

    #[test]
    fn previous_hits_column_only_with_a_comparison() {
        let compared = pages(&fixture::report(true));
        let lines: Vec<&str> = compared.lines().collect();
        assert_eq!(
            lines[0],
            "path,hits,users,visitors,share,entries,exits,bounces,errors_4xx,errors_5xx,previous_hits"
        );
        assert_eq!(lines[1], "/,600,30,300,0.498339,200,150,120,1,0,500");
        assert_eq!(lines[2], "/pricing,300,15,150,0.249169,100,75,60,1,0,0");
        assert_eq!(
            lines[3],
            "\"/a<b>&\"\"c'|*_\",200,10,100,0.166113,66,50,40,1,0,250"
        );
        // The last page's path holds a newline, so its record spans two lines.
        assert!(
            compared.ends_with(",104,5,52,0.086379,34,26,20,1,0,104\n"),
            "{compared}"
        );

        let plain = pages(&fixture::report(false));
        assert!(plain.starts_with(
            "path,hits,users,visitors,share,entries,exits,bounces,errors_4xx,errors_5xx\n"
        ));
        assert!(!plain.contains("previous_hits"));
        assert!(plain.contains("\n/,600,30,300,0.498339,200,150,120,1,0\n"));
        // users.csv is the same either way.
        assert_eq!(
            users(&fixture::report(true)),
            users(&fixture::report(false))
        );
    }
}
