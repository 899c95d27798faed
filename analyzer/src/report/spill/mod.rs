//! What keeps the report's memory within its budget whatever the number of distinct values:
//! keyed tables that spill hash partitions of their keys to the spill folder and are merged
//! partition by partition, and lists sorted in runs on disk and read back merged, in order.
//!
//! A table (pages by path, sources, campaigns, referrer hosts, the signed-in page views by user)
//! holds its rows in memory until they pass its share of the budget; then every row goes to
//! one of [`PARTS`] files by a hash of its key, and memory is freed. At the end each partition
//! is read back alone and its rows added up by key (a key's rows are all in one partition), by
//! one worker per core, so the memory of the merge is a few partitions', not the table's. A
//! partition still too large is split again with another hash. The final lists go through a [`Sorter`]: rows sorted in
//! memory, written as sorted runs when they pass the budget, read back by a k-way merge.
//!
//! Nothing spills while everything fits: a day with a few thousand paths is worked out in
//! memory as before, with the same numbers either way (the tests force tiny budgets).

mod keyed;
mod records;
mod sorter;

pub use keyed::{joined, Keyed, Merged, Part};
pub use records::{
    close_parts, get_str, get_str_ref, get_varint, part_of, put_str, put_varint, RecordReader,
    RecordWriter, Written,
};
pub use sorter::{Row, Sorter};

use anyhow::{Context, Result};
use std::fs::File;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};
use std::sync::{Arc, Mutex};

/// Workers that merge a spilled table's partitions at once: one per core (the budget is shared
/// among them), at most eight.
pub fn workers() -> usize {
    rayon::current_num_threads().clamp(1, 8)
}

/// Hash partitions a spilled table is split into.
pub const PARTS: usize = 64;

/// A partition file this small is merged as it is, whatever the budget.
const SMALL_PIECE: u64 = 1 << 20;

/// Fewest rows a sorted run holds (so that a tiny budget cannot make a file per row).
const MIN_RUN: usize = 4096;

/// The default memory budget of the report's tables. The two buckets in memory of a compacted
/// day come on top, about 1 GiB when every page view has its own path, referrer and campaign:
/// measured on such a day of 10M hits, a report peaks at ~1.6 GiB with this budget (2.1 GiB
/// with 1 GiB, and no faster), under 2 GiB, half of a 4 GiB task.
pub const DEFAULT_BUDGET: u64 = 512 << 20;

/// The spill folder of one report: created on first use under the given folder (or the
/// system's temporary folder), removed with everything in it when dropped.
pub struct SpillDir {
    parent: PathBuf,
    path: Mutex<Option<PathBuf>>,
    next: AtomicU64,
}

impl SpillDir {
    /// A spill folder under `parent` (the system's temporary folder when `None`).
    pub fn new(parent: Option<PathBuf>) -> SpillDir {
        SpillDir {
            parent: parent.unwrap_or_else(std::env::temp_dir),
            path: Mutex::new(None),
            next: AtomicU64::new(0),
        }
    }

    /// Whether anything was spilled.
    pub fn used(&self) -> bool {
        self.path
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
    }

    /// A new file in the folder, named after `what`.
    fn create(&self, what: &str) -> Result<(PathBuf, File)> {
        let mut guard = self.path.lock().unwrap_or_else(|e| e.into_inner());
        if guard.is_none() {
            let stamp = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            let dir = self
                .parent
                .join(format!("analyzer-report-{}-{stamp}", std::process::id()));
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("creating the spill folder {}", dir.display()))?;
            *guard = Some(dir);
        }
        let dir = guard.as_ref().expect("just created");
        let n = self.next.fetch_add(1, AtomicOrdering::Relaxed);
        let path = dir.join(format!("{what}-{n}"));
        let file = File::create(&path)
            .with_context(|| format!("creating the spill file {}", path.display()))?;
        Ok((path, file))
    }
}

impl Drop for SpillDir {
    fn drop(&mut self) {
        if let Some(dir) = self.path.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Where spilled rows go and how much memory each table may hold.
#[derive(Clone)]
pub struct Spill {
    /// The folder.
    pub dir: Arc<SpillDir>,
    /// Bytes of the whole budget.
    pub budget: u64,
}

impl Spill {
    /// A budget of `budget` bytes spilling under `parent`.
    pub fn new(budget: u64, parent: Option<PathBuf>) -> Spill {
        Spill {
            dir: Arc::new(SpillDir::new(parent)),
            budget,
        }
    }

    /// `part` sixteenths of the budget, in bytes: each table's share.
    pub fn share(&self, part: u64) -> usize {
        usize::try_from(self.budget / 16 * part).unwrap_or(usize::MAX)
    }
}
