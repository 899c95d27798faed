//! Where batches land: S3 or a folder, with create-only puts and per-shard checkpoints.

pub mod land;
pub mod store;
