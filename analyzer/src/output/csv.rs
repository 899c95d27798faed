//! `pages.csv`, `users.csv` and `--format csv`: RFC 4180 (pagehit's writer), with spreadsheet
//! formula injection neutralised in text cells.

use super::ratio;
use crate::report::model::{PageRow, UserRow};
use crate::report::Report;
use anyhow::{Context, Result};
use pagehit::csv::write_record;
use std::borrow::Cow;
use std::io::Write;

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

/// The page report as CSV, the rows shown (`--format csv`); with a comparison,
/// `previous_hits` is the last column (so readers that take columns by position still find the
/// others where they were).
pub fn pages(report: &Report) -> String {
    text(|w| write_pages(report, false, w))
}

/// Writes the page report as CSV: every row when `all` (`pages.csv`), else the rows shown.
pub fn write_pages(report: &Report, all: bool, out: &mut dyn Write) -> Result<()> {
    let compared = report.previous.is_some();
    let mut w = Lines::new(out);
    let mut header = PAGE_COLUMNS.to_vec();
    if compared {
        header.push(PREVIOUS_HITS_COLUMN);
    }
    w.record(header)?;
    let mut cells = Cells::default();
    let mut row = |p: &PageRow| {
        cells.clear();
        cells.text(&p.path);
        cells.num(p.hits);
        cells.num(p.users);
        cells.num(p.visitors);
        cells.next().push_str(&ratio(p.share));
        for n in [p.entries, p.exits, p.bounces, p.errors_4xx, p.errors_5xx] {
            cells.num(n);
        }
        if compared {
            cells.num(p.previous_hits.unwrap_or(0));
        }
        w.record(cells.iter())
    };
    if all {
        report.pages.each_all(&mut row)?;
    } else {
        report.pages.each(&mut row)?;
    }
    w.finish()
}

/// The user report as CSV, the rows shown.
pub fn users(report: &Report) -> String {
    text(|w| write_users(report, false, w))
}

/// Writes the user report as CSV: every row when `all` (`users.csv`), else the rows shown.
pub fn write_users(report: &Report, all: bool, out: &mut dyn Write) -> Result<()> {
    let mut w = Lines::new(out);
    w.record(USER_COLUMNS)?;
    let mut cells = Cells::default();
    let mut row = |u: &UserRow| {
        cells.clear();
        cells.text(&u.user);
        cells.num(u.hits);
        cells.num(u.pages);
        cells.num(u.sessions);
        cells.next().push_str(&u.first_seen);
        cells.next().push_str(&u.last_seen);
        cells.text(&u.top_page);
        w.record(cells.iter())
    };
    if all {
        report.users.each_all(&mut row)?;
    } else {
        report.users.each(&mut row)?;
    }
    w.finish()
}

/// A record's cells, their buffers kept from row to row: `pages.csv` of millions of rows
/// allocated a string per cell.
#[derive(Default)]
struct Cells {
    cells: Vec<String>,
    len: usize,
}

impl Cells {
    fn clear(&mut self) {
        self.len = 0;
    }

    /// The next cell, empty.
    fn next(&mut self) -> &mut String {
        if self.len == self.cells.len() {
            self.cells.push(String::new());
        }
        let cell = &mut self.cells[self.len];
        cell.clear();
        self.len += 1;
        cell
    }

    /// A text cell, [`neutralise`]d.
    fn text(&mut self, value: &str) {
        let cell = self.next();
        if let Cow::Owned(v) = neutralise(value) {
            cell.push_str(&v);
        } else {
            cell.push_str(value);
        }
    }

    fn num(&mut self, n: u64) {
        // itoa, not `write!`: the formatting machinery was a third of writing `pages.csv`.
        self.next().push_str(itoa::Buffer::new().format(n));
    }

    fn iter(&self) -> impl Iterator<Item = &str> {
        self.cells[..self.len].iter().map(String::as_str)
    }
}

/// CSV records through pagehit's writer, buffered onto `out`.
struct Lines<'a> {
    out: std::io::BufWriter<&'a mut dyn Write>,
    line: String,
}

impl<'a> Lines<'a> {
    fn new(out: &'a mut dyn Write) -> Lines<'a> {
        Lines {
            out: std::io::BufWriter::with_capacity(1 << 16, out),
            line: String::new(),
        }
    }

    fn record<'c>(&mut self, cells: impl IntoIterator<Item = &'c str>) -> Result<()> {
        self.line.clear();
        write_record(&mut self.line, cells);
        self.out
            .write_all(self.line.as_bytes())
            .context("writing CSV")
    }

    fn finish(mut self) -> Result<()> {
        self.out.flush().context("writing CSV")
    }
}

/// What `write` writes, as a string (for lists in memory).
fn text(write: impl FnOnce(&mut dyn Write) -> Result<()>) -> String {
    let mut bytes = Vec::new();
    if let Err(e) = write(&mut bytes) {
        panic!("rendering the report: {e:#}");
    }
    String::from_utf8(bytes).expect("CSV of UTF-8 strings")
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
