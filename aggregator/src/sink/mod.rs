//! Where batches land (a `store::Store`: S3 or a folder) with create-only puts, the days'
//! "last landed" markers, and the polling consumer's per-shard checkpoints and lease.

pub mod checkpoint;
pub mod land;
pub mod lease;

use store::{Location, Store};

/// Opens the sink with the AWS configuration of the program's Kinesis client (so S3 and
/// Kinesis agree on region, endpoint and credentials); a folder is created when missing.
pub async fn open(sink: &Location, config: &aws_config::SdkConfig) -> anyhow::Result<Store> {
    if let Location::Dir(_) = sink {
        return Store::create(sink).await;
    }
    Store::open_with(sink, Some(config)).await
}
