//! Per-shard checkpoints of `aggregator consume`: the last sequence number whose batch landed,
//! kept beside the data (`pagehit::layout::checkpoint`) so that the sink is the only state.
//! With it, the time up to which the shard was read and the creation time of the stream it
//! was read from, so that a restart can tell whether records were lost in between.

use anyhow::Result;
use serde::{Deserialize, Serialize};
use store::Store;

/// A shard's position: everything up to and including `sequence_number` has landed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Last sequence number whose batch landed; empty when none did.
    pub sequence_number: String,
    /// The shard is closed (after a reshard) and was read to its end: its children may start.
    pub shard_end: bool,
    /// Every record that arrived before this time (ms since the epoch) has been read and
    /// landed. A restart whose stream no longer holds what followed knows what was lost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_to_ms: Option<i64>,
    /// Creation time of the stream it was read from (ms since the epoch): a stream deleted
    /// and created again under the same name has other sequence numbers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_created_ms: Option<i64>,
}

/// A checkpoint object that is there but cannot be read as one: retrying cannot mend it.
pub fn unreadable(store: &Store, shard: &str, key: &str, why: &str) -> anyhow::Error {
    anyhow::Error::new(stream::Permanent(format!(
        "the checkpoint of shard {shard} ({}) is unreadable: {why}; repair it, or delete it to read the shard again from --start",
        store.display(key)
    )))
}

/// Parses a checkpoint object's bytes.
pub fn parse(store: &Store, shard: &str, key: &str, bytes: &[u8]) -> Result<Checkpoint> {
    serde_json::from_slice(bytes).map_err(|e| unreadable(store, shard, key, &e.to_string()))
}

/// The shard's checkpoint, if one was written. A store failure is an error to retry; an
/// object that is not a checkpoint is a [`stream::Permanent`] error naming the shard.
pub async fn read(store: &Store, stream: &str, shard: &str) -> Result<Option<Checkpoint>> {
    let key = pagehit::layout::checkpoint(stream, shard);
    match store.get(&key).await? {
        Some(bytes) => Ok(Some(parse(store, shard, &key, &bytes)?)),
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
                read_to_ms: Some(1_000),
                stream_created_ms: Some(7),
            };
            write(&store, "s", "shardId-0", &cp).await.unwrap();
            assert_eq!(read(&store, "s", "shardId-0").await.unwrap(), Some(cp));
        }
        assert!(dir.path().join("out/_checkpoints/s/shardId-0").exists());
        // A checkpoint of an older version (without the times) still reads.
        store
            .put(
                "_checkpoints/s/shardId-1",
                r#"{"sequence_number":"5","shard_end":false}"#,
            )
            .await
            .unwrap();
        let old = read(&store, "s", "shardId-1").await.unwrap().unwrap();
        assert_eq!((old.read_to_ms, old.stream_created_ms), (None, None));
    }

    #[tokio::test]
    async fn an_unreadable_checkpoint_is_a_permanent_error_naming_the_shard() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::create(&store::Location::Dir(dir.path().join("out")))
            .await
            .unwrap();
        store
            .put("_checkpoints/s/shardId-000000000007", "{\"sequence")
            .await
            .unwrap();
        let err = read(&store, "s", "shardId-000000000007").await.unwrap_err();
        assert!(err.chain().any(|c| c.is::<stream::Permanent>()));
        let text = err.to_string();
        assert!(
            text.contains("checkpoint of shard shardId-000000000007")
                && text.contains("_checkpoints/s/shardId-000000000007")
                && text.contains("unreadable"),
            "{text}"
        );
    }
}
