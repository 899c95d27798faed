//! Landing one batch of one shard: build its objects and write each with a create-only put.
//! Shared by the Lambda and the polling consumer, so both name and write objects the same way.

use crate::transform::batch::{build, StreamRecord};
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
    for object in batch.objects {
        let key = object.key(shard, first.sequence, last.sequence);
        match store.put_new(&key, object.body).await {
            Ok(Put::Created) => landed.created += 1,
            Ok(Put::AlreadyThere) => landed.already_there += 1,
            Err(e) => {
                if landed
                    .failed
                    .as_ref()
                    .is_none_or(|(i, _)| object.first_index < *i)
                {
                    landed.failed = Some((object.first_index, e));
                }
            }
        }
    }
    landed
}
