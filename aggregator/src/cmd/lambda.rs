//! `aggregator lambda`: the AWS Lambda handler for a Kinesis event source mapping.
//!
//! Each invocation lands its batch with the same core as `consume`. With
//! `ReportBatchItemFailures` on the mapping, a batch that lands only in part answers with the
//! first record it could not land; Lambda retries from there. Checkpoints are the mapping's.

use crate::sink::land::land;
use crate::transform::batch::StreamRecord;
use aws_lambda_events::event::kinesis::{KinesisEvent, KinesisEventRecord};
use aws_lambda_events::event::streams::KinesisEventResponse;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use store::{Location, Store};

/// Environment variable naming where to land objects (`s3://BUCKET/PREFIX`).
pub const SINK_ENV: &str = "AGGREGATOR_SINK";

/// Starts the Lambda runtime loop.
pub async fn run() -> anyhow::Result<()> {
    let sink = std::env::var(SINK_ENV)
        .map_err(|_| anyhow::anyhow!("{SINK_ENV} is not set (e.g. s3://my-bucket/analytics)"))?;
    let sink: Location = sink
        .parse()
        .map_err(|e| anyhow::anyhow!("{SINK_ENV}: {e}"))?;
    let config = store::aws::load_config().await;
    let store = crate::sink::open(&sink, &config).await?;
    let store = &store;
    lambda_runtime::run(service_fn(move |event| handle(store, event)))
        .await
        .map_err(|e| anyhow::anyhow!("lambda runtime: {e}"))
}

/// The shard of a record: the part of its `eventID` before the colon.
fn shard_of(record: &KinesisEventRecord) -> &str {
    record
        .event_id
        .as_deref()
        .and_then(|id| id.split_once(':').map(|(shard, _)| shard))
        .unwrap_or("shardId-unknown")
}

/// Handles one event: lands each shard's records; reports the first record not landed.
pub async fn handle(
    store: &Store,
    event: LambdaEvent<KinesisEvent>,
) -> Result<KinesisEventResponse, Error> {
    let records = &event.payload.records;
    let mut response = KinesisEventResponse::default();
    // An event normally holds one shard's records; group anyway, keeping order.
    let mut shards: Vec<&str> = Vec::new();
    for r in records {
        if !shards.contains(&shard_of(r)) {
            shards.push(shard_of(r));
        }
    }
    for shard in shards {
        let group: Vec<&KinesisEventRecord> =
            records.iter().filter(|r| shard_of(r) == shard).collect();
        let batch: Vec<StreamRecord<'_>> = group
            .iter()
            .map(|r| StreamRecord {
                sequence: &r.kinesis.sequence_number,
                arrival_ms: r.kinesis.approximate_arrival_timestamp.timestamp_millis(),
                data: &r.kinesis.data,
            })
            .collect();
        let landed = land(store, shard, &batch).await;
        let line = serde_json::json!({
            "event": "batch",
            "shard": shard,
            "records": batch.len(),
            "hits": landed.hits,
            "rejected": landed.rejected,
            "objects_created": landed.created,
            "objects_already_there": landed.already_there,
            "failed_from": landed.failed.as_ref().map(|(i, _)| batch[*i].sequence),
            "error": landed.failed.as_ref().map(|(_, e)| format!("{e:#}")),
        });
        println!("{line}");
        if let Some((index, _)) = landed.failed {
            response.add_failure(batch[index].sequence);
        }
    }
    Ok(response)
}
