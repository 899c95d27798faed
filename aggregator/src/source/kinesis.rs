//! Reading a stream shard by shard, as the polling consumer does: shard discovery with parent
//! -> child order after a reshard, shard iterators from checkpoints, and `GetRecords` calls
//! that tell throttling and expired iterators apart from real errors.

use anyhow::{Context, Result};
use aws_sdk_kinesis::types::ShardIteratorType;
use aws_sdk_kinesis::Client;
use std::collections::HashSet;

/// A shard and its lineage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shard {
    /// `shardId-000000000000`.
    pub id: String,
    /// The shard it was split or merged from.
    pub parent: Option<String>,
    /// The other parent of a merge.
    pub adjacent_parent: Option<String>,
    /// Set when the shard is closed (after a reshard): its last sequence number.
    pub ending_sequence: Option<String>,
}

impl Shard {
    /// Whether a checkpoint at `sequence` covers the whole of this closed shard.
    pub fn read_to_end(&self, sequence: Option<&str>) -> bool {
        match (&self.ending_sequence, sequence) {
            (Some(end), Some(seq)) => sequence_cmp(seq, end) != std::cmp::Ordering::Less,
            _ => false,
        }
    }
}

/// Orders sequence numbers, which are decimal integers too long for u128.
pub fn sequence_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let (a, b) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

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

/// Shards that may be read now: not finished, and every parent finished (or gone from the
/// stream past its retention). Reading children only after their parents keeps each
/// partition key's records in order and makes a reshard lose nothing.
pub fn readable<'a>(shards: &'a [Shard], finished: &HashSet<String>) -> Vec<&'a Shard> {
    let present: HashSet<&str> = shards.iter().map(|s| s.id.as_str()).collect();
    let done = |id: &Option<String>| match id {
        None => true,
        Some(p) => finished.contains(p) || !present.contains(p.as_str()),
    };
    shards
        .iter()
        .filter(|s| !finished.contains(&s.id) && done(&s.parent) && done(&s.adjacent_parent))
        .collect()
}

/// Where to start a shard that has no checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Start {
    /// The oldest record still in the stream.
    TrimHorizon,
    /// Only records put from now on.
    Latest,
}

/// An iterator after `after` (a checkpoint), else at `start`.
pub async fn shard_iterator(
    client: &Client,
    stream: &str,
    shard: &str,
    after: Option<&str>,
    start: Start,
) -> Result<Option<String>> {
    let req = client
        .get_shard_iterator()
        .stream_name(stream)
        .shard_id(shard);
    let req = match (after, start) {
        (Some(seq), _) => req
            .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
            .starting_sequence_number(seq),
        (None, Start::TrimHorizon) => req.shard_iterator_type(ShardIteratorType::TrimHorizon),
        (None, Start::Latest) => req.shard_iterator_type(ShardIteratorType::Latest),
    };
    let out = req
        .send()
        .await
        .with_context(|| format!("getting an iterator for {shard}"))?;
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
        records: Vec<Fetched>,
        next: Option<String>,
        behind_ms: i64,
    },
    /// `ProvisionedThroughputExceededException`: back off and call again.
    Throttled,
    /// The iterator is older than 5 minutes: get a new one from the checkpoint.
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

#[cfg(test)]
mod tests {
    use super::*;

    fn shard(id: &str, parent: Option<&str>, adjacent: Option<&str>) -> Shard {
        Shard {
            id: id.into(),
            parent: parent.map(Into::into),
            adjacent_parent: adjacent.map(Into::into),
            ending_sequence: None,
        }
    }

    #[test]
    fn closed_shards_end_at_their_ending_sequence() {
        let mut s = shard("0", None, None);
        assert!(!s.read_to_end(Some("99")), "an open shard never ends");
        s.ending_sequence = Some("49590338271490256608559692538361571095921575989136588898".into());
        assert!(!s.read_to_end(None));
        assert!(!s.read_to_end(Some(
            "49590338271490256608559692538361571095921575989136588897"
        )));
        assert!(s.read_to_end(Some(
            "49590338271490256608559692538361571095921575989136588898"
        )));
        assert!(s.read_to_end(Some(
            "49590338271490256608559692538361571095921575989136588899"
        )));
        assert!(
            !s.read_to_end(Some(
                "9959033827149025660855969253836157109592157598913658889"
            )),
            "shorter is smaller"
        );
        assert_eq!(sequence_cmp("007", "7"), std::cmp::Ordering::Equal);
    }

    fn ids(v: Vec<&Shard>) -> Vec<&str> {
        v.into_iter().map(|s| s.id.as_str()).collect()
    }

    #[test]
    fn children_wait_for_their_parents() {
        // 0 split into 1 and 2; 1 and 2 merged into 3.
        let shards = [
            shard("0", None, None),
            shard("1", Some("0"), None),
            shard("2", Some("0"), None),
            shard("3", Some("1"), Some("2")),
        ];
        let mut done = HashSet::new();
        assert_eq!(ids(readable(&shards, &done)), ["0"]);
        done.insert("0".to_string());
        assert_eq!(ids(readable(&shards, &done)), ["1", "2"]);
        done.insert("1".to_string());
        assert_eq!(
            ids(readable(&shards, &done)),
            ["2"],
            "a merge waits for both parents"
        );
        done.insert("2".to_string());
        assert_eq!(ids(readable(&shards, &done)), ["3"]);
    }

    #[test]
    fn parents_past_retention_do_not_block() {
        let shards = [shard("5", Some("expired"), None)];
        assert_eq!(ids(readable(&shards, &HashSet::new())), ["5"]);
    }
}
