//! `--out`: the report files under `<out>/dt=YYYY-MM-DD/`, in a folder or on S3, never half
//! written.
//!
//! A folder gets each file written to a hidden temporary name in the same folder, synced, then
//! renamed over the final name (a rename within a filesystem is atomic). S3 gets one PUT per
//! object, which S3 makes visible whole or not at all.

use super::{csv, html, json};
use crate::location::{s3_store, Location};
use crate::report::Report;
use anyhow::Context;
use object_store::path::Path as StorePath;
use object_store::{Attribute, Attributes, ObjectStore, PutOptions, PutPayload};
use std::io::Write;
use std::path::Path;

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

/// The folder (relative to `--out`) that holds a day's files.
pub fn day_dir(date: &str) -> String {
    format!("dt={date}/")
}

/// Writes the report files; returns where each one went.
pub async fn write_report(out: &Location, report: &Report) -> anyhow::Result<Vec<String>> {
    let files = report_files(report);
    let rel = day_dir(&report.date);
    let mut written = Vec::new();
    match out {
        Location::Dir(root) => {
            let dir = root.join(&rel);
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("creating the folder {}", dir.display()))?;
            for f in &files {
                let path = dir.join(f.name);
                write_atomically(&path, f.body.as_bytes())
                    .with_context(|| format!("writing {}", path.display()))?;
                written.push(path.display().to_string());
            }
        }
        Location::S3 { bucket, .. } => {
            let store = s3_store(bucket)?;
            for f in &files {
                let key = out.key(&format!("{rel}{}", f.name));
                let mut attributes = Attributes::new();
                attributes.insert(Attribute::ContentType, f.content_type.into());
                let opts = PutOptions {
                    attributes,
                    ..PutOptions::default()
                };
                let payload = PutPayload::from(f.body.clone().into_bytes());
                store
                    .put_opts(&StorePath::from(key.as_str()), payload, opts)
                    .await
                    .with_context(|| format!("uploading s3://{bucket}/{key}"))?;
                written.push(format!("s3://{bucket}/{key}"));
            }
        }
    }
    Ok(written)
}

/// Writes `bytes` to a temporary file next to `path`, syncs it, and renames it to `path`, so a
/// reader sees the old file or the complete new one. The temporary file is removed on failure.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp_file() {
        let dir = std::env::temp_dir().join(format!("analyzer-sink-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("pages.csv");
        write_atomically(&path, b"old").unwrap();
        write_atomically(&path, b"new").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["pages.csv"]);
        // A target that cannot be replaced (a folder) fails and cleans up after itself.
        std::fs::create_dir_all(dir.join("taken.csv/inner")).unwrap();
        assert!(write_atomically(&dir.join("taken.csv"), b"x").is_err());
        assert!(!dir
            .join(".taken.csv.tmp-".to_string() + &std::process::id().to_string())
            .exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
