//! Takes a snapshot when something may have changed (records added, or a second passed, in
//! which minutes roll and visitors stop being "now") and publishes it, rendered once for every
//! watcher, at most once a second and only when its numbers changed.

use crate::snapshot::Snapshot;
use crate::source::Feed;
use crate::view::page;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// Least time between two published snapshots.
pub const MIN_GAP: Duration = Duration::from_secs(1);

/// A published snapshot and its renderings.
#[derive(Debug)]
pub struct Published {
    /// The snapshot.
    pub snapshot: Snapshot,
    /// Its JSON (the `/api/live` contract).
    pub json: String,
    /// Its panels as HTML (what the live page swaps in).
    pub html: String,
}

impl Published {
    /// Renders `snapshot` once.
    pub fn new(snapshot: Snapshot) -> Published {
        Published {
            json: serde_json::to_string(&snapshot).expect("a snapshot always serialises"),
            html: page::panels(&snapshot),
            snapshot,
        }
    }
}

/// Publishes `feed`'s snapshots into `tx` until `stop` is set.
pub async fn run(feed: Arc<Feed>, tx: watch::Sender<Arc<Published>>, stop: Arc<AtomicBool>) {
    let mut last_sent = Instant::now() - MIN_GAP;
    while !stop.load(Ordering::Relaxed) {
        tokio::select! {
            _ = feed.changed.notified() => {}
            _ = tokio::time::sleep(MIN_GAP) => {}
        }
        tokio::time::sleep_until(last_sent + MIN_GAP).await;
        let snapshot = feed.snapshot(crate::now_ms());
        if tx.borrow().snapshot.same_numbers(&snapshot) {
            continue;
        }
        tx.send_replace(Arc::new(Published::new(snapshot)));
        last_sent = Instant::now();
    }
}
