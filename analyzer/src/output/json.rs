//! The `--format json` contract and `summary.json`.
//!
//! Top-level keys `date`, `tz`, `summary`, `pages`, `users`, `hourly`, in that order; the
//! fields of each are those of [`crate::report::model`]. Strings are exactly as recorded.

use crate::report::model::{Report, Summary};
use serde::Serialize;

/// The full report as pretty-printed JSON, newline-terminated.
pub fn report(report: &Report) -> String {
    to_json(report)
}

/// What `summary.json` holds: the report without the page and user lists (those are in
/// `pages.csv` and `users.csv`).
#[derive(Serialize)]
struct SummaryFile<'a> {
    date: &'a str,
    tz: &'a str,
    summary: &'a Summary,
    hourly: &'a [u64; 24],
}

/// `summary.json`: `date`, `tz`, `summary`, `hourly`.
pub fn summary(report: &Report) -> String {
    to_json(&SummaryFile {
        date: &report.date,
        tz: &report.tz,
        summary: &report.summary,
        hourly: &report.hourly,
    })
}

fn to_json<T: Serialize>(value: &T) -> String {
    let mut s = serde_json::to_string_pretty(value).expect("plain data always serialises");
    s.push('\n');
    s
}
