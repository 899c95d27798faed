//! Landing one batch of one shard: build its objects and write each with a create-only put,
//! then rewrite the shard's "last landed" marker of each day the batch had hits for.
//! Shared by the Lambda and the polling consumer, so both name and write objects the same way.
//!
//! The markers (`pagehit::layout::landed_marker`) are how a reader knows, from one listing of
//! a few markers, that no object of a day landed since it last looked: a compaction records
//! their versions, and a report that finds the same versions uses the compacted day without
//! listing every object. A marker is rewritten with new content after every batch, also when
//! its objects were already there (a batch repeated after a crash between its objects and its
//! marker), so an object is never older than the latest version of its day's marker of its
//! shard once its batch landed.

use crate::transform::batch::{build, Kind, StreamRecord};
use store::{Put, Store};

/// What landing a batch did.
#[derive(Debug, Default)]
pub struct Landed {
    /// Valid hits in the batch.
    pub hits: usize,
    /// Rejected records in the batch.
    pub rejected: usize,
    /// Objects newly written.
    pub created: usize,
    /// Objects that already existed (a retried batch).
    pub already_there: usize,
    /// The first record (index in the batch) whose object could not be written, and why.
    /// Everything before it landed; a retry must start there.
    pub failed: Option<(usize, anyhow::Error)>,
}

/// Writes the batch's objects under `store`; `records` must be non-empty and from one shard.
pub async fn land(store: &Store, shard: &str, records: &[StreamRecord<'_>]) -> Landed {
    let (Some(first), Some(last)) = (records.first(), records.last()) else {
        return Landed::default();
    };
    let batch = build(records);
    let mut landed = Landed {
        hits: batch.hits,
        rejected: batch.rejected,
        ..Landed::default()
    };
    let mut wrote = Vec::with_capacity(batch.objects.len());
    for object in &batch.objects {
        let key = object.key(shard, first.sequence, last.sequence);
        match store.put_new(&key, object.body.clone()).await {
            Ok(put) => {
                match put {
                    Put::Created => landed.created += 1,
                    Put::AlreadyThere => landed.already_there += 1,
                }
                wrote.push(object);
            }
            Err(e) => fail(&mut landed, object.first_index, e),
        }
    }
    // The markers of the days whose objects are there, also when another day's object failed:
    // the retry starts at that day's first record and may not hold this day's records again.
    for object in wrote.into_iter().filter(|o| o.kind == Kind::Hits) {
        let marker = Marker {
            last: object.key(shard, first.sequence, last.sequence),
            written_ms: now_ms(),
            nonce: nonce(),
        };
        let body = serde_json::to_vec(&marker).expect("a marker serialises");
        let key = pagehit::layout::landed_marker(&object.date, shard);
        if let Err(e) = store.put(&key, body).await {
            fail(&mut landed, object.first_index, e);
        }
    }
    landed
}

/// Keeps the earliest failing record: a retry must start there.
fn fail(landed: &mut Landed, index: usize, e: anyhow::Error) {
    if landed.failed.as_ref().is_none_or(|(i, _)| index < *i) {
        landed.failed = Some((index, e));
    }
}

/// A "last landed" marker's content: new every time, so that its version (an S3 ETag is the
/// MD5 of the content) changes with every write.
#[derive(Debug, serde::Serialize)]
struct Marker {
    /// The key of the batch's object of this day.
    last: String,
    /// When it was written, ms since the epoch.
    written_ms: i64,
    /// Random: two writes in the same millisecond still differ.
    nonce: u64,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn nonce() -> u64 {
    std::hash::BuildHasher::hash_one(&std::collections::hash_map::RandomState::new(), now_ms())
}
