//! `--out`: the report files under `<out>/dt=YYYY-MM-DD/` (one day) or
//! `<out>/range=FROM_TO/` (a period), in a folder or on S3, never half written.
//!
//! `pages.csv` and `users.csv` hold every row (whatever `--top` shows elsewhere) and can be
//! millions of rows: past [`IN_MEMORY_ROWS`] they are written as a stream to a local file and
//! uploaded from it in parts, so they are never built in memory.

use super::{csv, html, json};
use crate::report::Report;
use anyhow::{Context, Result};
use pagehit::layout;
use std::io::Write;
use std::path::Path;
use store::Store;

/// Rows of a CSV file up to which it is built in memory and sent in one PUT.
pub const IN_MEMORY_ROWS: u64 = 100_000;

/// One report file: its name, type and how it is written.
struct ReportFile {
    name: &'static str,
    content_type: &'static str,
    rows: u64,
    write: fn(&Report, &mut dyn Write) -> Result<()>,
}

/// The four files `--out` writes.
fn report_files(report: &Report) -> [ReportFile; 4] {
    [
        ReportFile {
            name: "pages.csv",
            content_type: "text/csv; charset=utf-8",
            rows: report.pages.total(),
            write: |r, w| csv::write_pages(r, true, w),
        },
        ReportFile {
            name: "users.csv",
            content_type: "text/csv; charset=utf-8",
            rows: report.users.total(),
            write: |r, w| csv::write_users(r, true, w),
        },
        ReportFile {
            name: "summary.json",
            content_type: "application/json",
            rows: report.sources.total() + report.campaigns.total(),
            write: json::write_summary,
        },
        ReportFile {
            name: "report.html",
            content_type: "text/html; charset=utf-8",
            rows: 0,
            write: |r, w| {
                let page = html::render(r);
                r.read_error()?;
                w.write_all(page.as_bytes()).context("writing report.html")
            },
        },
    ]
}

/// The folder (relative to `--out`) of a report: `dt=DATE/` for one day, `range=FROM_TO/`
/// for a period; a filtered report goes below it, in `filtered-HASH/` (a hash of its
/// filters), so that it never replaces the whole period's files (its `summary.json` lists the
/// filters).
pub fn report_dir(report: &Report) -> String {
    let dir = if report.from == report.to {
        layout::report_day_dir(&report.from)
    } else {
        layout::report_range_dir(&report.from, &report.to)
    };
    if report.filters.is_empty() {
        return dir;
    }
    // FNV-1a: stable across builds and machines, unlike the std hasher.
    let hash = report
        .filters
        .join("\n")
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
    format!("{dir}filtered-{:08x}/", hash >> 32)
}

/// Writes the report files; returns where each one went. Each file is replaced whole or not
/// at all (a folder gets a temporary file renamed over the name; S3 one PUT, or a multipart
/// upload, per object). Large files are first streamed to a file under `tmp`.
pub async fn write_report(out: &Store, report: &Report, tmp: &Path) -> Result<Vec<String>> {
    let dir = report_dir(report);
    let mut written = Vec::new();
    for f in report_files(report) {
        let rel = format!("{dir}{}", f.name);
        if f.rows <= IN_MEMORY_ROWS {
            let mut body = Vec::new();
            (f.write)(report, &mut body)?;
            out.put_typed(&rel, body, f.content_type).await?;
        } else {
            let local = tempfile_in(tmp, f.name)?;
            {
                let file = std::fs::File::create(&local.0)
                    .with_context(|| format!("creating {}", local.0.display()))?;
                let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
                (f.write)(report, &mut w)?;
                w.flush()
                    .with_context(|| format!("writing {}", local.0.display()))?;
            }
            out.put_file_typed(&rel, &local.0, f.content_type).await?;
        }
        written.push(out.display(&rel));
    }
    Ok(written)
}

/// A file name under `dir` for a local copy of `name`, removed when dropped.
fn tempfile_in(dir: &Path, name: &str) -> Result<TempPath> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    Ok(TempPath(dir.join(format!(
        ".analyzer-out-{}-{stamp}-{name}",
        std::process::id()
    ))))
}

/// A local file removed when dropped.
struct TempPath(std::path::PathBuf);

impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
