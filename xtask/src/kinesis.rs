//! Kinesis helpers for tests and the demo: a client for an emulator, stream creation, and
//! reading every shard back.

use anyhow::{bail, Context, Result};
use aws_sdk_kinesis::types::{ShardIteratorType, StreamStatus};
use aws_sdk_kinesis::Client;
use std::time::{Duration, Instant};

/// Region and credentials every local service is given.
pub const REGION: &str = "us-east-1";
/// Access key id for the emulators.
pub const ACCESS_KEY_ID: &str = "test";
/// Secret key for the emulators.
pub const SECRET_ACCESS_KEY: &str = "test";

/// A client for the Kinesis emulator at `endpoint` with test credentials (never the metadata
/// service, which this sandbox refuses).
pub fn client(endpoint: &str) -> Client {
    Client::new(&crate::moto::sdk_config(endpoint))
}

/// [`client`] for streams in `region` (a deployed stack's).
pub fn client_in(endpoint: &str, region: &str) -> Client {
    let config = aws_sdk_kinesis::config::Builder::from(&crate::moto::sdk_config(endpoint))
        .region(aws_sdk_kinesis::config::Region::new(region.to_string()))
        .build();
    Client::from_conf(config)
}

/// Creates `stream` with `shards` shards and waits until it is active.
pub async fn create_stream(client: &Client, stream: &str, shards: i32) -> Result<()> {
    client
        .create_stream()
        .stream_name(stream)
        .shard_count(shards)
        .send()
        .await
        .with_context(|| format!("creating stream {stream}"))?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let desc = client
            .describe_stream_summary()
            .stream_name(stream)
            .send()
            .await?;
        if desc.stream_description_summary().map(|s| s.stream_status())
            == Some(&StreamStatus::Active)
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("stream {stream} not active after 30 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One record read back from the stream.
#[derive(Debug, Clone)]
pub struct StreamRecord {
    /// Shard it was on.
    pub shard_id: String,
    /// Partition key it was put with.
    pub partition_key: String,
    /// Payload.
    pub data: Vec<u8>,
}

/// Reads every record on every shard of `stream`, from the trim horizon to the end.
pub async fn read_all(client: &Client, stream: &str) -> Result<Vec<StreamRecord>> {
    let shards = client.list_shards().stream_name(stream).send().await?;
    let mut out = Vec::new();
    for shard in shards.shards() {
        let mut iterator = client
            .get_shard_iterator()
            .stream_name(stream)
            .shard_id(shard.shard_id())
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await?
            .shard_iterator()
            .map(str::to_string);
        while let Some(it) = iterator.take() {
            let page = client
                .get_records()
                .shard_iterator(it)
                .limit(10_000)
                .send()
                .await?;
            let records = page.records();
            for r in records {
                out.push(StreamRecord {
                    shard_id: shard.shard_id().to_string(),
                    partition_key: r.partition_key().unwrap_or_default().to_string(),
                    data: r.data().as_ref().to_vec(),
                });
            }
            // An empty page means this shard is read to its end (moto reports no lag ever).
            if !records.is_empty() {
                iterator = page.next_shard_iterator().map(str::to_string);
            }
        }
    }
    Ok(out)
}

/// Puts `hits` (as the edge does: JSON, visitor as partition key) and raw `junk` records.
pub async fn put_hits(
    client: &Client,
    stream: &str,
    hits: &[pagehit::PageHit],
    junk: &[Vec<u8>],
) -> Result<()> {
    use aws_sdk_kinesis::primitives::Blob;
    use aws_sdk_kinesis::types::PutRecordsRequestEntry;
    let mut entries: Vec<PutRecordsRequestEntry> = hits
        .iter()
        .map(|h| {
            PutRecordsRequestEntry::builder()
                .data(Blob::new(h.to_json()))
                .partition_key(h.partition_key())
                .build()
                .expect("data and key are set")
        })
        .collect();
    for (i, j) in junk.iter().enumerate() {
        entries.push(
            PutRecordsRequestEntry::builder()
                .data(Blob::new(j.clone()))
                .partition_key(format!("junk-{i}"))
                .build()
                .expect("data and key are set"),
        );
    }
    for chunk in entries.chunks(500) {
        let out = client
            .put_records()
            .stream_name(stream)
            .set_records(Some(chunk.to_vec()))
            .send()
            .await
            .context("PutRecords")?;
        if out.failed_record_count().unwrap_or(0) > 0 {
            bail!("{} records failed", out.failed_record_count().unwrap_or(0));
        }
    }
    Ok(())
}

/// Polls until at least `count` records are on the stream (or `timeout`), then returns them all.
pub async fn wait_for_records(
    client: &Client,
    stream: &str,
    count: usize,
    timeout: Duration,
) -> Result<Vec<StreamRecord>> {
    let deadline = Instant::now() + timeout;
    loop {
        let records = read_all(client, stream).await?;
        if records.len() >= count || Instant::now() > deadline {
            return Ok(records);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
