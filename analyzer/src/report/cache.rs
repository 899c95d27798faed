//! Periods read once and kept for the next report (the dashboard's history): a period's
//! buckets, decoded and prepared ([`Prepared`]: visitor order, repeats and bots dropped,
//! sessions' sources, agents classified), counted again under each new set of filters.
//!
//! An entry is used only by a report of the same period (days and zone) read from the same
//! objects ([`Plan::fingerprint`]: the landed keys and sizes, the compacted runs), so a day
//! that lands more hits or is compacted anew is read again; nothing else invalidates it.
//! Entries are dropped least recently used first to stay within the byte budget; a period
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

/// Kept periods, within a byte budget.
pub struct Cache {
    budget: u64,
    /// Told `true` when a period starts to be read, `false` when it has been (see
    /// [`Cache::on_reading`]).
    reading_hook: Option<fn(bool)>,
    entries: Mutex<Vec<Entry>>,
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
            reading_hook: None,
            entries: Mutex::new(Vec::new()),
            clock: AtomicU64::new(0),
            found: AtomicU64::new(0),
            read: AtomicU64::new(0),
        }
    }

    /// Calls `hook(true)` before a period is read and `hook(false)` after (whether it could be
    /// read or not): a server may run its allocator one way while a period is read and decoded
    /// (the peak of its memory) and another while periods are counted from memory.
    pub fn on_reading(mut self, hook: fn(bool)) -> Cache {
        self.reading_hook = Some(hook);
        self
    }

    /// How it has been used so far.
    pub fn stats(&self) -> Stats {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        Stats {
            found: self.found.load(Ordering::Relaxed),
            read: self.read.load(Ordering::Relaxed),
            bytes: entries.iter().map(|e| e.loaded.bytes).sum(),
            periods: entries.len(),
        }
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
        {
            let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(e) = entries.iter_mut().find(|e| e.key == key) {
                e.used = now;
                self.found.fetch_add(1, Ordering::Relaxed);
                return Some(Ok(e.loaded.clone()));
            }
        }
        if plan.rows_estimate().saturating_mul(ROW_BYTES) > self.budget {
            return None;
        }
        self.read.fetch_add(1, Ordering::Relaxed);
        let mut buckets = Vec::new();
        let mut keep = |bucket: Prepared, _: &Agents| {
            buckets.push(bucket);
            Ok(())
        };
        let hook = |reading: bool| {
            if let Some(h) = self.reading_hook {
                h(reading);
            }
        };
        hook(true);
        let read = super::query::read(rt, store, (period, plan), opts, true, progress, &mut keep);
        hook(false);
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
            let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            // Another report may have read the same period meanwhile.
            entries.retain(|e| e.key != key);
            let mut held: u64 = entries.iter().map(|e| e.loaded.bytes).sum();
            while held + bytes > self.budget {
                let Some(oldest) = (0..entries.len()).min_by_key(|&i| entries[i].used) else {
                    break;
                };
                held -= entries.swap_remove(oldest).loaded.bytes;
            }
            entries.push(Entry {
                key,
                loaded: loaded.clone(),
                used: now,
            });
        }
        Some(Ok(loaded))
    }
}
