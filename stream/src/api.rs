//! The Kinesis calls a polling reader makes: `ListShards`, `GetShardIterator`, `GetRecords`,
//! with throttling and expired iterators told apart from real errors.

use crate::shard::Shard;
use anyhow::{Context, Result};
use aws_sdk_kinesis::primitives::DateTime;
use aws_sdk_kinesis::types::ShardIteratorType;
use aws_sdk_kinesis::Client;

/// Every shard of the stream, open and closed (paginated `ListShards`).
pub async fn list_shards(client: &Client, stream: &str) -> Result<Vec<Shard>> {
    let mut shards = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let req = match &token {
            // With a token, the stream name must not be sent.
            Some(t) => client.list_shards().next_token(t),
            None => client.list_shards().stream_name(stream),
        };
        let page = req
            .send()
            .await
            .with_context(|| format!("listing the shards of {stream}"))?;
        shards.extend(page.shards().iter().map(|s| {
            Shard {
                id: s.shard_id().to_string(),
                parent: s.parent_shard_id().map(str::to_string),
                adjacent_parent: s.adjacent_parent_shard_id().map(str::to_string),
                ending_sequence: s
                    .sequence_number_range()
                    .and_then(|r| r.ending_sequence_number())
                    .map(str::to_string),
            }
        }));
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            return Ok(shards);
        }
    }
}

/// What the reader needs to know of the stream itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamInfo {
    /// How long it keeps records, in hours.
    pub retention_hours: i64,
    /// When it was created, ms since the epoch: a stream deleted and created again under the
    /// same name has other sequence numbers, and its checkpoints mean nothing in it.
    pub created_ms: i64,
}

/// `DescribeStreamSummary`: the stream's retention and creation time.
pub async fn describe(client: &Client, stream: &str) -> Result<StreamInfo> {
    let out = client
        .describe_stream_summary()
        .stream_name(stream)
        .send()
        .await
        .with_context(|| format!("describing the stream {stream}"))?;
    let summary = out
        .stream_description_summary()
        .with_context(|| format!("describing the stream {stream}: no summary in the answer"))?;
    Ok(StreamInfo {
        retention_hours: i64::from(summary.retention_period_hours()),
        created_ms: summary.stream_creation_timestamp().to_millis().unwrap_or(0),
    })
}

/// The oldest record `shard` still holds (from its trim horizon), or `None` when it holds
/// none. A few calls at most: `GetRecords` may answer empty pages before the first record.
pub async fn oldest_record(client: &Client, stream: &str, shard: &str) -> Result<Option<Fetched>> {
    let Some(mut iterator) = shard_iterator(client, stream, shard, &StartAt::TrimHorizon).await?
    else {
        return Ok(None);
    };
    for _ in 0..100 {
        match get_records(client, &iterator).await? {
            Read::Records {
                mut records,
                next,
                behind_ms,
            } => {
                if !records.is_empty() {
                    return Ok(Some(records.swap_remove(0)));
                }
                match next {
                    Some(n) if behind_ms > 0 => iterator = n,
                    // At the tip (or the end of a closed shard) with nothing read: empty.
                    _ => return Ok(None),
                }
            }
            Read::Throttled => tokio::time::sleep(std::time::Duration::from_millis(500)).await,
            Read::Expired => {
                match shard_iterator(client, stream, shard, &StartAt::TrimHorizon).await? {
                    Some(i) => iterator = i,
                    None => return Ok(None),
                }
            }
        }
    }
    anyhow::bail!("{shard}: no record found from its trim horizon after 100 calls")
}

/// Where a shard's reading starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartAt {
    /// The oldest record still in the stream.
    TrimHorizon,
    /// Only records put from now on.
    Latest,
    /// The first record that arrived at or after this time (ms since the Unix epoch).
    Timestamp(i64),
    /// Just after this sequence number (a checkpoint).
    After(String),
}

/// An iterator of `shard` at `start`; `None` when Kinesis gives none (a closed shard read to
/// its end).
pub async fn shard_iterator(
    client: &Client,
    stream: &str,
    shard: &str,
    start: &StartAt,
) -> Result<Option<String>> {
    let req = client
        .get_shard_iterator()
        .stream_name(stream)
        .shard_id(shard);
    let req = match start {
        StartAt::TrimHorizon => req.shard_iterator_type(ShardIteratorType::TrimHorizon),
        StartAt::Latest => req.shard_iterator_type(ShardIteratorType::Latest),
        StartAt::Timestamp(ms) => req
            .shard_iterator_type(ShardIteratorType::AtTimestamp)
            .timestamp(DateTime::from_millis(*ms)),
        StartAt::After(seq) => req
            .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
            .starting_sequence_number(seq),
    };
    let out = match req.send().await {
        Ok(out) => out,
        // A position the shard does not hold (a sequence number of another stream: it was
        // deleted and created again) is not an outage: retrying cannot help.
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_invalid_argument_exception()) =>
        {
            return Err(anyhow::Error::new(crate::reader::Permanent(format!(
                "getting an iterator for {shard} at {start:?}: {}",
                aws_sdk_kinesis::error::DisplayErrorContext(&e)
            ))))
        }
        Err(e) => return Err(e).with_context(|| format!("getting an iterator for {shard}")),
    };
    Ok(out.shard_iterator().map(str::to_string))
}

/// One record as `GetRecords` returned it.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// Sequence number.
    pub sequence: String,
    /// Arrival time, ms since the epoch.
    pub arrival_ms: i64,
    /// Payload.
    pub data: Vec<u8>,
}

/// The outcome of one `GetRecords` call.
#[derive(Debug)]
pub enum Read {
    /// Records (possibly none), the next iterator (`None`: the shard is closed and read to its
    /// end) and how far behind the tip this shard is.
    Records {
        /// The records, in sequence order.
        records: Vec<Fetched>,
        /// The iterator to call with next.
        next: Option<String>,
        /// `MillisBehindLatest`.
        behind_ms: i64,
    },
    /// `ProvisionedThroughputExceededException`: back off and call again.
    Throttled,
    /// The iterator is older than 5 minutes: get a new one.
    Expired,
}

/// Calls `GetRecords` once.
pub async fn get_records(client: &Client, iterator: &str) -> Result<Read> {
    match client
        .get_records()
        .shard_iterator(iterator)
        .limit(10_000)
        .send()
        .await
    {
        Ok(out) => Ok(Read::Records {
            records: out
                .records()
                .iter()
                .map(|r| Fetched {
                    sequence: r.sequence_number().to_string(),
                    arrival_ms: r
                        .approximate_arrival_timestamp()
                        .and_then(|t| t.to_millis().ok())
                        .unwrap_or(0),
                    data: r.data().as_ref().to_vec(),
                })
                .collect(),
            next: out.next_shard_iterator().map(str::to_string),
            behind_ms: out.millis_behind_latest().unwrap_or(0),
        }),
        Err(e) => {
            let service = e.as_service_error();
            if service.is_some_and(|s| s.is_provisioned_throughput_exceeded_exception()) {
                return Ok(Read::Throttled);
            }
            if service.is_some_and(|s| s.is_expired_iterator_exception()) {
                return Ok(Read::Expired);
            }
            Err(e).context("GetRecords")
        }
    }
}
