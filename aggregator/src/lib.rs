//! The aggregator: Kinesis records -> daily CSV objects in S3 or a folder.
//!
//! The workspace's stream reader (the `stream` crate) reads the shards for the polling
//! consumer from where [`source`] says (checkpoints, checked for gaps) -> [`transform`] groups a batch into per-day objects -> [`sink`] writes them
//! create-only and checkpoints. [`cmd`] holds the two drivers, `consume` and `lambda`, which
//! share everything below them.

pub mod cmd;
pub mod sink;
pub mod source;
pub mod transform;
