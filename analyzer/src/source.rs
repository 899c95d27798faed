//! Finding the hit files of a local day: the `hits/dt=YYYY-MM-DD/*.csv` objects of every UTC
//! partition the day touches, in a folder or under an S3 prefix.
//!
//! The files are listed before polars scans them: a glob that matches nothing is an error inside
//! polars, and "nothing there" must become exit 3 with the locations named, not a scan error.

use crate::day::Day;
use crate::error::NoData;
use crate::location::{s3_store, Location};
use anyhow::{bail, Context};
use object_store::path::Path as StorePath;
use object_store::ObjectStore;

/// The files found for a day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayFiles {
    /// What polars scans: local paths or `s3://bucket/key` URLs, sorted.
    pub files: Vec<String>,
    /// The UTC dates of the partitions looked at.
    pub partitions: Vec<String>,
}

/// The relative folder of one UTC partition, with a trailing slash.
pub fn partition_dir(utc_date: &str) -> String {
    format!("hits/dt={utc_date}/")
}

/// Lists the `.csv` files of every partition of `day` under `source`; [`NoData`] when there
/// are none at all.
pub async fn find_day_files(source: &Location, day: &Day) -> anyhow::Result<DayFiles> {
    let partitions = day.partitions();
    let mut files = Vec::new();
    match source {
        Location::Dir(root) => {
            // A missing root is a configuration mistake (exit 1), unlike a missing day (exit 3).
            if !root.is_dir() {
                bail!("the source folder {} does not exist", root.display());
            }
            for p in &partitions {
                let dir = root.join(partition_dir(p));
                let entries = match std::fs::read_dir(&dir) {
                    Ok(entries) => entries,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e).with_context(|| format!("listing {}", dir.display())),
                };
                let mut found = Vec::new();
                for entry in entries {
                    let entry = entry.with_context(|| format!("listing {}", dir.display()))?;
                    let name = entry.file_name();
                    let is_file = entry.file_type().map(|t| t.is_file()).unwrap_or(false);
                    if is_file && name.to_string_lossy().ends_with(".csv") {
                        found.push(entry.path().display().to_string());
                    }
                }
                found.sort();
                files.extend(found);
            }
        }
        Location::S3 { bucket, .. } => {
            let store = s3_store(bucket)?;
            for p in &partitions {
                let prefix = source.key(&partition_dir(p));
                let listed = store
                    .list_with_delimiter(Some(&StorePath::from(prefix.as_str())))
                    .await
                    .with_context(|| {
                        format!("listing {}", source.join_display(&partition_dir(p)))
                    })?;
                let mut found: Vec<String> = listed
                    .objects
                    .iter()
                    .map(|o| o.location.as_ref().to_string())
                    .filter(|key| key.ends_with(".csv"))
                    .map(|key| format!("s3://{bucket}/{key}"))
                    .collect();
                found.sort();
                files.extend(found);
            }
        }
    }
    if files.is_empty() {
        return Err(NoData {
            date: day.date(),
            tz: day.tz.name().to_string(),
            looked_at: partitions
                .iter()
                .map(|p| source.join_display(&partition_dir(p)))
                .collect(),
        }
        .into());
    }
    Ok(DayFiles { files, partitions })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lists_only_csv_files_of_the_days_partitions() {
        let root = std::env::temp_dir().join(format!("analyzer-source-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for (dir, name) in [
            ("hits/dt=2026-11-24", "b.csv"),
            ("hits/dt=2026-11-24", "a.csv"),
            ("hits/dt=2026-11-24", "notes.txt"),
            ("hits/dt=2026-11-25", "c.csv"),
            ("hits/dt=2026-11-26", "d.csv"),
        ] {
            std::fs::create_dir_all(root.join(dir)).unwrap();
            std::fs::write(root.join(dir).join(name), "").unwrap();
        }
        let source = Location::Dir(root.clone());
        let tokyo = Day::new(
            pagehit::time::parse_date("2026-11-25").unwrap(),
            "Asia/Tokyo".parse().unwrap(),
        );
        let found = find_day_files(&source, &tokyo).await.unwrap();
        let names: Vec<&str> = found
            .files
            .iter()
            .map(|f| f.rsplit('/').next().unwrap())
            .collect();
        assert_eq!(names, ["a.csv", "b.csv", "c.csv"]);
        assert_eq!(found.partitions, ["2026-11-24", "2026-11-25"]);

        let empty = Day::new(tokyo.epoch_day + 30, chrono_tz::Tz::UTC);
        let err = find_day_files(&source, &empty).await.unwrap_err();
        let no_data = err.downcast_ref::<NoData>().expect("NoData");
        assert_eq!(
            no_data.looked_at,
            [root.join("hits/dt=2026-12-25/").display().to_string()]
        );
        let missing = Location::Dir(root.join("nope"));
        let err = find_day_files(&missing, &tokyo).await.unwrap_err();
        assert!(err.downcast_ref::<NoData>().is_none());
        std::fs::remove_dir_all(&root).unwrap();
    }
}
