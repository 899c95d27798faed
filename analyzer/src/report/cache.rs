//! Periods read once and kept for the next report (the dashboard's history): a period's
//! buckets, decoded and prepared ([`Prepared`]: visitor order, repeats and bots dropped,
//! sessions' sources, agents classified), counted again under each new set of filters.
//!
//! An entry is used only by a report of the same period (days and zone) read from the same
//! objects ([`Plan::fingerprint`]: the landed keys and sizes, the compacted runs), so a day
//! that lands more hits or is compacted anew is read again; nothing else invalidates it.
//! Entries are dropped least recently used first to stay within the byte budget, to make
//! room for a period before it is read (from its estimated rows) as well as after; a period
//! larger than the whole budget is not kept (its report is computed as `analyzer report`
//! does, bucket by bucket).

use super::agents::Agents;
use super::compute::{Options, Prepared, Reading};
use crate::period::Period;
use crate::progress::Progress;
use crate::source::Plan;
use crate::transform::hits::Shared;
use anyhow::Result;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use store::Store;

/// Bytes a kept hit takes, about: its columns (63 bytes; its event id is not kept), its place
/// in the visitor order, page view or event lists, its agent class, a page view's kept marks
/// (4 bytes, [`super::base::Base`]) and its step for the filters (1 byte,
/// [`super::select::steps`]).
pub const ROW_BYTES: u64 = 85;

/// A period read and prepared.
pub struct Loaded {
    pub(crate) buckets: Vec<Prepared>,
    pub(crate) reading: Reading,
    pub(crate) shared: Arc<Shared>,
    pub(crate) agents: Agents,
    bytes: u64,
}

/// What an entry was read for.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Key {
    start_ms: i64,
    end_ms: i64,
    tz: String,
    include_bots: bool,
    plan: String,
}

struct Entry {
    key: Key,
    loaded: Arc<Loaded>,
    used: u64,
}

/// The kept periods, and the room promised to periods being read.
#[derive(Default)]
struct Held {
    entries: Vec<Entry>,
    /// Estimated bytes of the periods being read now, made room for before their read.
    reading: u64,
}

impl Held {
    /// Bytes of the periods kept.
    fn bytes(&self) -> u64 {
        self.entries.iter().map(|e| e.loaded.bytes).sum()
    }

    /// Drops the least recently used periods until `bytes` more fit in `budget` beside the
    /// periods kept and those being read.
    fn make_room(&mut self, bytes: u64, budget: u64) {
        let mut held = self.bytes();
        while held + self.reading + bytes > budget {
            let Some(oldest) = (0..self.entries.len()).min_by_key(|&i| self.entries[i].used) else {
                break;
            };
            held -= self.entries.swap_remove(oldest).loaded.bytes;
        }
    }
}

/// Room made for a period being read, given back when its read ends (or unwinds).
struct Promised<'a>(&'a Cache, u64);

impl Drop for Promised<'_> {
    fn drop(&mut self) {
        self.0.held().reading -= self.1;
    }
}

/// Kept periods, within a byte budget.
pub struct Cache {
    budget: u64,
    held: Mutex<Held>,
    clock: AtomicU64,
    found: AtomicU64,
    read: AtomicU64,
}

/// How a cache has been used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Periods counted from memory.
    pub found: u64,
    /// Periods read (and kept when they fit).
    pub read: u64,
    /// Bytes held now.
    pub bytes: u64,
    /// Periods held now.
    pub periods: usize,
}

impl Cache {
    /// An empty cache that holds at most `budget` bytes of prepared hits (0: keeps nothing).
    pub fn new(budget: u64) -> Cache {
        Cache {
            budget,
            held: Mutex::new(Held::default()),
            clock: AtomicU64::new(0),
            found: AtomicU64::new(0),
            read: AtomicU64::new(0),
        }
    }

    /// How it has been used so far.
    pub fn stats(&self) -> Stats {
        let held = self.held();
        Stats {
            found: self.found.load(Ordering::Relaxed),
            read: self.read.load(Ordering::Relaxed),
            bytes: held.bytes(),
            periods: held.entries.len(),
        }
    }

    fn held(&self) -> std::sync::MutexGuard<'_, Held> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The prepared buckets of `period` as `plan` reads them: kept ones, or read now and
    /// kept. `None` when the period would not fit in the budget: the caller reads it bucket
    /// by bucket without keeping it.
    pub(crate) fn get_or_load(
        &self,
        rt: &tokio::runtime::Handle,
        store: &Store,
        period: &Period,
        plan: &Plan,
        opts: Options,
        progress: &Progress,
    ) -> Option<Result<Arc<Loaded>>> {
        let key = Key {
            start_ms: period.start_ms,
            end_ms: period.end_ms,
            tz: period.tz.name().to_string(),
            include_bots: opts.include_bots,
            plan: plan.fingerprint(),
        };
        let now = self.clock.fetch_add(1, Ordering::Relaxed);
        let estimate = plan.rows_estimate().saturating_mul(ROW_BYTES);
        {
            let mut held = self.held();
            if let Some(e) = held.entries.iter_mut().find(|e| e.key == key) {
                e.used = now;
                self.found.fetch_add(1, Ordering::Relaxed);
                return Some(Ok(e.loaded.clone()));
            }
            if estimate > self.budget {
                return None;
            }
            // Room is made before the read, not after: else the periods kept and the one
            // read would be in memory together, up to twice the budget.
            held.make_room(estimate, self.budget);
            held.reading += estimate;
        }
        let promised = Promised(self, estimate);
        self.read.fetch_add(1, Ordering::Relaxed);
        let mut buckets = Vec::new();
        let mut keep = |bucket: Prepared, _: &Agents| {
            buckets.push(bucket);
            Ok(())
        };
        let read = super::query::read(rt, store, (period, plan), opts, true, progress, &mut keep);
        drop(promised);
        let (reading, shared, agents) = match read {
            Ok(read) => read,
            Err(e) => return Some(Err(e)),
        };
        let bytes = buckets.iter().map(|b| b.len() as u64 * ROW_BYTES).sum();
        let loaded = Arc::new(Loaded {
            buckets,
            reading,
            shared,
            agents,
            bytes,
        });
        if bytes <= self.budget {
            let mut held = self.held();
            // Another report may have read the same period meanwhile.
            held.entries.retain(|e| e.key != key);
            held.make_room(bytes, self.budget);
            held.entries.push(Entry {
                key,
                loaded: loaded.clone(),
                used: now,
            });
        }
        Some(Ok(loaded))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A kept period of `bytes`, last used at `used`.
    fn entry(used: u64, bytes: u64) -> Entry {
        Entry {
            key: Key {
                start_ms: used as i64,
                end_ms: used as i64 + 1,
                tz: "UTC".into(),
                include_bots: false,
                plan: String::new(),
            },
            loaded: Arc::new(Loaded {
                buckets: Vec::new(),
                reading: Reading::default(),
                shared: Arc::new(Shared::default()),
                agents: Agents::default(),
                bytes,
            }),
            used,
        }
    }

    fn used(held: &Held) -> Vec<u64> {
        let mut used: Vec<u64> = held.entries.iter().map(|e| e.used).collect();
        used.sort_unstable();
        used
    }

    #[test]
    fn room_is_made_least_recently_used_first_beside_the_reads_under_way() {
        let mut held = Held {
            entries: vec![entry(3, 40), entry(1, 30), entry(2, 20)],
            reading: 0,
        };
        held.make_room(10, 100);
        assert_eq!(used(&held), [1, 2, 3], "90 + 10 fit");
        held.make_room(20, 100);
        assert_eq!(used(&held), [2, 3], "the oldest dropped, and no more");
        held.reading = 30;
        held.make_room(20, 100);
        assert_eq!(used(&held), [3], "a read under way holds its room");
        held.make_room(200, 100);
        assert!(held.entries.is_empty(), "more than the budget: all dropped");
    }
}
