//! Where a period's hits come from: for each UTC `dt=` partition it touches, the landed CSV
//! objects, or the compacted day when its current run covers every one of them.
//!
//! The objects are listed before anything is read, so that "nothing there" is exit 3 with the
//! locations named, and so that a compacted run is used only when no object landed after it
//! (a late replay makes the report read the CSVs again until the day is compacted anew).

pub mod compacted;
pub mod csv;

use crate::compacted::Manifest;
use crate::error::NoData;
use crate::period::Period;
use anyhow::{Context, Result};
use pagehit::layout;
use store::{Object, Store};

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

/// The current compaction run of a day, if there is one this program can read.
pub async fn current_run(store: &Store, date: &str) -> Result<Option<Manifest>> {
    let key = layout::compacted_current(date);
    let Some(bytes) = store.get(&key).await? else {
        return Ok(None);
    };
    let manifest: Manifest = serde_json::from_slice(&bytes)
        .with_context(|| format!("reading {}", store.display(&key)))?;
    Ok(Some(manifest))
}

/// Lists every partition of `period` and decides how to read it. `note` receives one line per
/// partition whose compacted run cannot be used, saying why.
pub async fn plan(store: &Store, period: &Period, note: &dyn Fn(String)) -> Result<Plan> {
    let mut partitions = Vec::new();
    for date in period.partitions() {
        let objects = landed(store, &date).await?;
        if objects.is_empty() {
            partitions.push((date, Partition::Missing));
            continue;
        }
        let how = match current_run(store, &date).await {
            Ok(Some(m)) if m.format != crate::compacted::FORMAT => {
                note(format!(
                    "reading dt={date} from its {} CSV objects: its compacted run has format {} (this analyzer reads {})",
                    objects.len(),
                    m.format,
                    crate::compacted::FORMAT
                ));
                Partition::Csv(objects)
            }
            Ok(Some(m)) => {
                let keys: Vec<&str> = objects.iter().map(|o| o.key.as_str()).collect();
                if m.covers(&keys) {
                    Partition::Compacted {
                        objects: objects.len() as u64,
                        manifest: Box::new(m),
                    }
                } else {
                    let new = keys
                        .iter()
                        .filter(|k| {
                            m.covers
                                .keys
                                .binary_search_by(|c| c.as_str().cmp(k))
                                .is_err()
                        })
                        .count();
                    note(format!(
                        "reading dt={date} from its {} CSV objects: {new} landed after its compaction run {} (run `analyzer compact --date {date}` again)",
                        objects.len(),
                        m.run
                    ));
                    Partition::Csv(objects)
                }
            }
            Ok(None) => Partition::Csv(objects),
            Err(e) => {
                note(format!(
                    "reading dt={date} from its {} CSV objects: its compacted run is unreadable: {e:#}",
                    objects.len()
                ));
                Partition::Csv(objects)
            }
        };
        partitions.push((date, how));
    }
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
