//! Where a period's hits come from: for each UTC `dt=` partition it touches, the landed CSV
//! objects, or the compacted day when its current run covers every one of them.
//!
//! A compacted run is used only when no object landed after it (a late replay makes the
//! report read the CSVs again until the day is compacted anew), when its manifest passes
//! [`Manifest::problem`] and when its files are all there; otherwise the day is read from its
//! CSVs with one line on stderr saying why. Coverage is checked cheaply first: when the day's
//! "last landed" markers (one listing of a few shards) are at the versions the run recorded,
//! nothing landed since and the objects are not listed; else the objects are listed and
//! compared key by key. A day with no objects (and no usable run) is missing: exit 3 with the
//! locations named.

pub mod compacted;
pub mod csv;

use crate::compacted::Manifest;
use crate::error::NoData;
use crate::period::Period;
use anyhow::Result;
use pagehit::layout;
use store::{Object, Store, Version};

/// How one partition is read.
#[derive(Debug, Clone)]
pub enum Partition {
    /// No hit objects at all: missing, not zero.
    Missing,
    /// The landed CSV objects (sorted by key).
    Csv(Vec<Object>),
    /// The compacted day: its current run covers these landed objects.
    Compacted {
        /// The run.
        manifest: Box<Manifest>,
        /// How many landed objects there are (all covered).
        objects: u64,
    },
}

/// The partitions of a period and how each is read.
#[derive(Debug, Clone)]
pub struct Plan {
    /// `(UTC date, how)` for every partition the period touches, in date order.
    pub partitions: Vec<(String, Partition)>,
}

impl Plan {
    /// The dates of the partitions that have hit objects.
    pub fn present(&self) -> Vec<String> {
        self.partitions
            .iter()
            .filter(|(_, p)| !matches!(p, Partition::Missing))
            .map(|(d, _)| d.clone())
            .collect()
    }

    /// The dates of the partitions without any.
    pub fn missing(&self) -> Vec<String> {
        self.partitions
            .iter()
            .filter(|(_, p)| matches!(p, Partition::Missing))
            .map(|(d, _)| d.clone())
            .collect()
    }

    /// What the plan reads, as text: equal for two plans only when they read the same
    /// objects (landed keys and sizes, compacted runs). Landed objects are never rewritten
    /// under their key and a run's files never change, so equal text means equal rows.
    pub fn fingerprint(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        for (date, how) in &self.partitions {
            let _ = match how {
                Partition::Missing => writeln!(out, "{date} missing"),
                Partition::Csv(objects) => {
                    let _ = writeln!(out, "{date} csv {}", objects.len());
                    for o in objects {
                        let _ = writeln!(out, " {} {}", o.key, o.size);
                    }
                    Ok(())
                }
                Partition::Compacted { manifest, objects } => {
                    writeln!(out, "{date} run {} {objects}", manifest.run)
                }
            };
        }
        out
    }

    /// About how many hits the plan reads (the runs' rows; CSV objects by their size).
    pub fn rows_estimate(&self) -> u64 {
        self.partitions
            .iter()
            .map(|(_, how)| match how {
                Partition::Missing => 0,
                // gen_day's and the aggregator's rows are 200 to 300 bytes.
                Partition::Csv(objects) => objects.iter().map(|o| o.size / 200).sum(),
                Partition::Compacted { manifest, .. } => manifest.rows,
            })
            .sum()
    }

    /// Whether no partition has anything.
    pub fn is_empty(&self) -> bool {
        self.partitions
            .iter()
            .all(|(_, p)| matches!(p, Partition::Missing))
    }
}

/// The landed hit objects of one UTC day, sorted by key.
pub async fn landed(store: &Store, date: &str) -> Result<Vec<Object>> {
    let mut objects = store.list(&layout::hits_dir(date)).await?;
    objects.retain(|o| layout::is_hit_object(&o.key));
    Ok(objects)
}

/// A day's `_current.json` as found.
#[derive(Debug, Clone)]
pub enum Current {
    /// There is none: the day was never compacted.
    None,
    /// There is one, but it cannot be used: why, and its version (for a compaction that
    /// replaces it).
    Unusable {
        /// Why, as a phrase ("it has 0 buckets ...").
        why: String,
        /// The version of `_current.json` read.
        version: Version,
    },
    /// A manifest that passed [`Manifest::problem`], and its version.
    Usable {
        /// The manifest.
        manifest: Box<Manifest>,
        /// The version of `_current.json` read.
        version: Version,
    },
}

impl Current {
    /// The version of `_current.json` read, if there was one.
    pub fn version(&self) -> Option<&Version> {
        match self {
            Current::None => None,
            Current::Unusable { version, .. } | Current::Usable { version, .. } => Some(version),
        }
    }
}

/// Reads and checks the current compaction run of a day. A store failure is an error; a
/// damaged or foreign manifest is [`Current::Unusable`].
pub async fn current(store: &Store, date: &str) -> Result<Current> {
    let key = layout::compacted_current(date);
    let Some((bytes, version)) = store.get_versioned(&key).await? else {
        return Ok(Current::None);
    };
    Ok(match Manifest::parse(&bytes, date) {
        Ok(manifest) => Current::Usable {
            manifest: Box::new(manifest),
            version,
        },
        Err(why) => Current::Unusable { why, version },
    })
}

/// The current compaction run of a day, if there is one this program can use.
pub async fn current_run(store: &Store, date: &str) -> Result<Option<Manifest>> {
    Ok(match current(store, date).await? {
        Current::Usable { manifest, .. } => Some(*manifest),
        Current::None | Current::Unusable { .. } => None,
    })
}

/// Why the files of `manifest`'s run are not all there as it lists them, if they are not
/// (one listing of the run's folder: a missing file, or one of another size).
pub async fn missing_files(store: &Store, manifest: &Manifest) -> Result<Option<String>> {
    let found = store
        .list_entries(&layout::compacted_run_dir(&manifest.date, &manifest.run))
        .await?;
    let sizes: std::collections::HashMap<&str, u64> =
        found.iter().map(|e| (e.key.as_str(), e.size)).collect();
    let mut missing = manifest
        .files
        .iter()
        .filter(|f| !sizes.contains_key(f.key.as_str()));
    if let Some(first) = missing.next() {
        return Ok(Some(format!(
            "{} of its {} files are missing (the first: {})",
            1 + missing.count(),
            manifest.files.len(),
            store.display(&first.key)
        )));
    }
    if let Some(f) = manifest
        .files
        .iter()
        .find(|f| sizes[f.key.as_str()] != f.bytes)
    {
        return Ok(Some(format!(
            "{} has {} bytes, the run says {}",
            store.display(&f.key),
            sizes[f.key.as_str()],
            f.bytes
        )));
    }
    Ok(None)
}

/// The versions of a day's "last landed" markers, by shard; `None` when the store gives no
/// version for one of them (then they cannot tell that nothing changed).
pub async fn landed_markers(
    store: &Store,
    date: &str,
) -> Result<Option<std::collections::BTreeMap<String, String>>> {
    let dir = layout::landed_dir(date);
    let mut markers = std::collections::BTreeMap::new();
    for e in store.list_entries(&dir).await? {
        let Some(version) = e.version else {
            return Ok(None);
        };
        let shard = e.key.strip_prefix(&dir).unwrap_or(&e.key).to_string();
        markers.insert(shard, version.0);
    }
    Ok(Some(markers))
}

/// Whether nothing landed on `date` since `manifest`'s compaction: its markers are all still
/// at the versions it recorded (one listing of the day's markers, not of its objects).
async fn nothing_landed_since(store: &Store, date: &str, manifest: &Manifest) -> Result<bool> {
    if manifest.landed.is_empty() {
        return Ok(false);
    }
    Ok(landed_markers(store, date).await?.as_ref() == Some(&manifest.landed))
}

/// Lists every partition of `period` and decides how to read it. `note` receives one line per
/// partition whose compacted run cannot be used, saying why.
pub async fn plan(store: &Store, period: &Period, note: &dyn Fn(String)) -> Result<Plan> {
    let mut partitions = Vec::new();
    for date in period.partitions() {
        // The cheap check first: a compacted day whose markers did not move since its
        // compaction is read from its run without listing its objects.
        let found = current(store, &date).await;
        if let Ok(Current::Usable { manifest, .. }) = &found {
            if nothing_landed_since(store, &date, manifest).await?
                && missing_files(store, manifest).await?.is_none()
            {
                partitions.push((
                    date,
                    Partition::Compacted {
                        objects: manifest.covers.objects,
                        manifest: manifest.clone(),
                    },
                ));
                continue;
            }
        }
        let objects = landed(store, &date).await?;
        if objects.is_empty() {
            partitions.push((date, Partition::Missing));
            continue;
        }
        let csv = |why: String| {
            note(format!(
                "reading dt={date} from its {} CSV objects: {why}",
                objects.len()
            ));
            Partition::Csv(objects.clone())
        };
        let how = match found {
            Ok(Current::None) => Partition::Csv(objects.clone()),
            Ok(Current::Unusable { why, .. }) => csv(format!(
                "its compaction manifest {} cannot be used: {why}",
                store.display(&layout::compacted_current(&date))
            )),
            Ok(Current::Usable { manifest: m, .. }) => {
                let keys: Vec<&str> = objects.iter().map(|o| o.key.as_str()).collect();
                if !m.covers(&keys) {
                    let new = keys
                        .iter()
                        .filter(|k| {
                            m.covers
                                .keys
                                .binary_search_by(|c| c.as_str().cmp(k))
                                .is_err()
                        })
                        .count();
                    csv(format!(
                        "{new} landed after its compaction run {} (run `analyzer compact --date {date}` again)",
                        m.run
                    ))
                } else {
                    match missing_files(store, &m).await {
                        Ok(None) => Partition::Compacted {
                            objects: objects.len() as u64,
                            manifest: m,
                        },
                        Ok(Some(why)) => csv(format!(
                            "its compaction run {} is incomplete: {why} (run `analyzer compact --date {date}` again)",
                            m.run
                        )),
                        Err(e) => csv(format!(
                            "the files of its compaction run {} cannot be listed: {e:#}",
                            m.run
                        )),
                    }
                }
            }
            Err(e) => csv(format!("its compacted run is unreadable: {e:#}")),
        };
        partitions.push((date, how));
    }
    crate::failpoint::pause_at("after-plan");
    Ok(Plan { partitions })
}

/// [`NoData`] for a period without any hit objects.
pub fn no_data(store: &Store, period: &Period) -> NoData {
    NoData {
        what: period.to_string(),
        looked_at: period
            .partitions()
            .iter()
            .map(|p| store.display(&layout::hits_dir(p)))
            .collect(),
    }
}
