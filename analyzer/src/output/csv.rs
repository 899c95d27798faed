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

/// The page report as CSV.
pub fn pages(report: &Report) -> String {
    let mut out = String::new();
    write_record(&mut out, PAGE_COLUMNS);
    for p in &report.pages {
        let path = neutralise(&p.path);
        let cells = [
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
}
