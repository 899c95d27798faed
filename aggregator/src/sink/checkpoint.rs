//! Per-shard checkpoints of `aggregator consume`: the last sequence number whose batch landed,
//! kept beside the data (`pagehit::layout::checkpoint`) so that the sink is the only state.

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use store::Store;

/// A shard's position: everything up to and including `sequence_number` has landed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Last sequence number whose batch landed; empty when none did.
    pub sequence_number: String,
    /// The shard is closed (after a reshard) and was read to its end: its children may start.
    pub shard_end: bool,
}

/// The shard's checkpoint, if one was written.
pub async fn read(store: &Store, stream: &str, shard: &str) -> Result<Option<Checkpoint>> {
    let key = pagehit::layout::checkpoint(stream, shard);
    match store.get(&key).await? {
        Some(bytes) => {
            Ok(Some(serde_json::from_slice(&bytes).with_context(|| {
                format!("reading checkpoint {}", store.display(&key))
            })?))
        }
        None => Ok(None),
    }
}

/// Records the shard's position (overwriting); call only after the batch's objects landed.
pub async fn write(store: &Store, stream: &str, shard: &str, cp: &Checkpoint) -> Result<()> {
    let body = serde_json::to_vec(cp).expect("a checkpoint serialises");
    store
        .put(&pagehit::layout::checkpoint(stream, shard), body)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn checkpoints_are_overwritten_beside_the_data() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::create(&store::Location::Dir(dir.path().join("out")))
            .await
            .unwrap();
        assert_eq!(read(&store, "s", "shardId-0").await.unwrap(), None);
        for (seq, end) in [("42", false), ("43", true)] {
            let cp = Checkpoint {
                sequence_number: seq.into(),
                shard_end: end,
            };
            write(&store, "s", "shardId-0", &cp).await.unwrap();
            assert_eq!(read(&store, "s", "shardId-0").await.unwrap(), Some(cp));
        }
        assert!(dir.path().join("out/_checkpoints/s/shardId-0").exists());
    }
}
