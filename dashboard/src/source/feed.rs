//! The window shared between the stream's reader (which adds records) and the views (which
//! take snapshots), with what the reader knows of the stream (how far behind it is, whether it
//! caught up) and a signal that something was added.

use crate::snapshot::Snapshot;
use crate::window::{Options, Window};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::Notify;

/// The live window and the reader's state.
pub struct Feed {
    window: Mutex<Window>,
    behind_ms: AtomicI64,
    caught_up: AtomicBool,
    /// Woken whenever records were added or the reader caught up.
    pub changed: Notify,
}

impl Feed {
    /// An empty window with `options`.
    pub fn new(options: Options) -> Arc<Feed> {
        Arc::new(Feed {
            window: Mutex::new(Window::new(options)),
            behind_ms: AtomicI64::new(0),
            caught_up: AtomicBool::new(false),
            changed: Notify::new(),
        })
    }

    /// The window, to add to (a poisoned lock is recovered: the window's state is always
    /// consistent between calls).
    pub fn window(&self) -> MutexGuard<'_, Window> {
        self.window.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The reader's latest `MillisBehindLatest` (the largest over its shards).
    pub fn set_behind(&self, ms: i64) {
        self.behind_ms.store(ms, Ordering::Relaxed);
    }

    /// The reader has read every shard up to its tip once.
    pub fn set_caught_up(&self) {
        self.caught_up.store(true, Ordering::Relaxed);
        self.changed.notify_one();
    }

    /// Whether the reader caught up once.
    pub fn caught_up(&self) -> bool {
        self.caught_up.load(Ordering::Relaxed)
    }

    /// The snapshot at `now`.
    pub fn snapshot(&self, now: i64) -> Snapshot {
        let behind = self.behind_ms.load(Ordering::Relaxed);
        let caught_up = self.caught_up();
        self.window().snapshot(now, behind, caught_up)
    }
}
