//! Where batches land (a `store::Store`: S3 or a folder) with create-only puts, and the
//! polling consumer's per-shard checkpoints.

pub mod checkpoint;
pub mod land;

use store::{Location, Store};

/// Opens the sink with the AWS configuration of the program's Kinesis client (so S3 and
/// Kinesis agree on region, endpoint and credentials); a folder is created when missing.
pub async fn open(sink: &Location, config: &aws_config::SdkConfig) -> anyhow::Result<Store> {
    if let Location::Dir(_) = sink {
        return Store::create(sink).await;
    }
    Store::open_with(sink, Some(config)).await
}
