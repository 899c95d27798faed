//! `--out`: the report files under `<out>/dt=YYYY-MM-DD/` (one day) or
//! `<out>/range=FROM_TO/` (a period), in a folder or on S3, never half written.

use super::{csv, html, json};
use crate::report::Report;
use pagehit::layout;
use store::Store;

/// One report file: its name and its bytes.
pub struct ReportFile {
    /// File name inside `dt=YYYY-MM-DD/`.
    pub name: &'static str,
    /// MIME type, for S3 objects.
    pub content_type: &'static str,
    /// The content.
    pub body: String,
}

/// The four files `--out` writes.
pub fn report_files(report: &Report) -> Vec<ReportFile> {
    vec![
        ReportFile {
            name: "pages.csv",
            content_type: "text/csv; charset=utf-8",
            body: csv::pages(report),
        },
        ReportFile {
            name: "users.csv",
            content_type: "text/csv; charset=utf-8",
            body: csv::users(report),
        },
        ReportFile {
            name: "summary.json",
            content_type: "application/json",
            body: json::summary(report),
        },
        ReportFile {
            name: "report.html",
            content_type: "text/html; charset=utf-8",
            body: html::render(report),
        },
    ]
}

/// The folder (relative to `--out`) of a report: `dt=DATE/` for one day, `range=FROM_TO/`
/// for a period.
pub fn report_dir(report: &Report) -> String {
    if report.from == report.to {
        layout::report_day_dir(&report.from)
    } else {
        layout::report_range_dir(&report.from, &report.to)
    }
}

/// Writes the report files; returns where each one went. Each file is replaced whole or not
/// at all (a folder gets a temporary file renamed over the name; S3 one PUT per object).
pub async fn write_report(out: &Store, report: &Report) -> anyhow::Result<Vec<String>> {
    let dir = report_dir(report);
    let mut written = Vec::new();
    for f in report_files(report) {
        let rel = format!("{dir}{}", f.name);
        out.put_typed(&rel, f.body, f.content_type).await?;
        written.push(out.display(&rel));
    }
    Ok(written)
}
