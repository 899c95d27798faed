//! Where `consume` starts each shard: its checkpoint, checked against what the stream still
//! holds. A gap (records lost between the checkpoint and what the stream can give) is an
//! error naming the shard and the lost range, unless the operator accepts it.
//!
//! Three ways records are lost unread: the consumer was down (or behind) longer than the
//! stream's retention, so what followed its checkpoint was trimmed; a closed parent shard left
//! the stream (past retention) before it was read to its end; the stream was deleted and
//! created again under the same name (its sequence numbers start over, and the old stream's
//! unread records are gone).

use crate::sink::checkpoint::{self, Checkpoint};
use anyhow::Result;
use std::sync::atomic::AtomicBool;
use store::Store;
use stream::{persist, sequence_cmp, Position, Positions, Shard, StartAt, StreamInfo};

/// Where a shard that has no checkpoint starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Start {
    /// The oldest record still in the stream.
    TrimHorizon,
    /// Only records put from now on.
    Latest,
}

/// How far this host's clock may be off Kinesis' arrival times.
const CLOCK_MARGIN_MS: i64 = 300_000;

/// Records lost unread: what the error line says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gap {
    /// What followed the checkpoint was trimmed (past the stream's retention).
    PastRetention {
        /// The shard.
        shard: String,
        /// The checkpoint's sequence number (empty: the shard's start).
        after: String,
        /// The oldest record the shard still holds: its sequence number and arrival time.
        oldest: Option<(String, i64)>,
        /// Everything that arrived before this time was read (`None`: the checkpoint does
        /// not say, it is of an older version).
        read_to_ms: Option<i64>,
        /// The stream keeps records this long.
        retention_hours: i64,
        /// Records that arrived before this time are past retention.
        horizon_ms: i64,
    },
    /// The stream was deleted and created again since the checkpoint was written.
    Recreated {
        /// The shard.
        shard: String,
        /// The checkpoint's sequence number, in the old stream.
        after: String,
        /// Creation time of the stream the checkpoint was written for.
        was_ms: i64,
        /// Creation time of the stream now.
        now_ms: i64,
    },
    /// A parent shard left the stream before it was read to its end.
    ParentVanished {
        /// The parent.
        parent: String,
        /// The child about to be read.
        child: String,
        /// The parent's checkpoint.
        after: String,
    },
}

fn at(ms: i64) -> String {
    pagehit::time::format_ts(ms)
}

fn after(seq: &str) -> String {
    if seq.is_empty() {
        "its start".into()
    } else {
        format!("sequence number {seq}")
    }
}

impl std::fmt::Display for Gap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Gap::PastRetention {
                shard,
                after: seq,
                oldest,
                read_to_ms,
                retention_hours,
                horizon_ms,
            } => {
                let until = match oldest {
                    Some((s, t)) => format!(
                        "up to sequence number {s} (the oldest it still holds, arrived {})",
                        at(*t)
                    ),
                    None => "up to now (it holds no record any more)".into(),
                };
                let from = read_to_ms.map_or_else(
                    || "its checkpoint was written (an older checkpoint without its time)".into(),
                    at,
                );
                write!(
                    f,
                    "records lost in shard {shard}: after {} {until}; any record that arrived between {from} and {} is past the stream's {retention_hours}-hour retention and was never read (the consumer was down or behind for longer than that)",
                    after(seq),
                    at(*horizon_ms)
                )
            }
            Gap::Recreated {
                shard,
                after: seq,
                was_ms,
                now_ms,
            } => write!(
                f,
                "records lost in shard {shard}: the stream was deleted and created again (now created {}, the checkpoint is of the stream created {}); what the old stream held after {} and was not read is gone, and the checkpoint means nothing in the new stream",
                at(*now_ms),
                at(*was_ms),
                after(seq)
            ),
            Gap::ParentVanished {
                parent,
                child,
                after: seq,
            } => write!(
                f,
                "records lost in shard {parent}: it left the stream (past retention) before it was read to its end, after {}; its child {child} is next",
                after(seq)
            ),
        }
    }
}

impl std::error::Error for Gap {}

/// What `consume` says of a gap it was told to accept.
fn accepted(gap: &Gap) {
    eprintln!("aggregator: {gap} (--accept-gap: going on with what the stream holds)");
}

/// Shards start from their checkpoints beside the data, after a check for gaps.
pub struct Checkpoints<'a> {
    /// The sink.
    pub store: &'a Store,
    /// The stream's Kinesis client (for the oldest record of a shard).
    pub client: &'a aws_sdk_kinesis::Client,
    /// The stream.
    pub stream: &'a str,
    /// Its retention and creation time.
    pub info: StreamInfo,
    /// Where a shard without a checkpoint starts.
    pub start: Start,
    /// Go on after a gap (logged) instead of stopping with an error.
    pub accept_gap: bool,
    /// The stop flag (for retries of the sink and the stream).
    pub stop: &'a AtomicBool,
    /// This host's clock, ms since the epoch (a test sets it).
    pub now_ms: fn() -> i64,
}

/// This host's clock, ms since the epoch.
pub fn wall_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl Checkpoints<'_> {
    async fn checkpoint(&self, shard: &str) -> Result<Option<Checkpoint>> {
        persist(self.stop, "aggregator", "reading a checkpoint", || {
            checkpoint::read(self.store, self.stream, shard)
        })
        .await
    }

    /// A gap to stop at, or (accepted) to log and go on after.
    fn gap(&self, gap: Gap) -> Result<()> {
        if self.accept_gap {
            accepted(&gap);
            Ok(())
        } else {
            Err(gap.into())
        }
    }

    /// Whether records after `cp` were trimmed unread: the shard no longer holds the
    /// checkpoint's record, and the checkpoint does not show that everything up to the
    /// retention horizon had been read.
    async fn past_retention(&self, shard: &Shard, cp: &Checkpoint) -> Result<Option<Gap>> {
        let horizon_ms = (self.now_ms)() - self.info.retention_hours * 3_600_000;
        if cp.read_to_ms.is_some_and(|t| t >= horizon_ms) {
            return Ok(None);
        }
        let (client, stream, id) = (self.client, self.stream, shard.id.as_str());
        let oldest = persist(
            self.stop,
            "aggregator",
            "reading a shard's oldest record",
            || stream::api::oldest_record(client, stream, id),
        )
        .await?;
        let trimmed = match &oldest {
            Some(o) => {
                cp.sequence_number.is_empty()
                    || sequence_cmp(&o.sequence, &cp.sequence_number).is_gt()
            }
            None => true,
        };
        // An older checkpoint (no time in it) on a shard that holds nothing: no sign of loss,
        // and a quiet shard must not stop an upgraded consumer.
        if !trimmed || (cp.read_to_ms.is_none() && oldest.is_none()) {
            return Ok(None);
        }
        Ok(Some(Gap::PastRetention {
            shard: shard.id.clone(),
            after: cp.sequence_number.clone(),
            oldest: oldest.map(|o| (o.sequence, o.arrival_ms)),
            read_to_ms: cp.read_to_ms,
            retention_hours: self.info.retention_hours,
            horizon_ms,
        }))
    }
}

impl Positions for Checkpoints<'_> {
    async fn position(&mut self, shard: &Shard) -> Result<Position> {
        let cp = self.checkpoint(&shard.id).await?;
        if let Some(c) = &cp {
            if c.shard_end {
                return Ok(Position::Finished);
            }
            if let Some(was_ms) = c.stream_created_ms.filter(|&t| t != self.info.created_ms) {
                self.gap(Gap::Recreated {
                    shard: shard.id.clone(),
                    after: c.sequence_number.clone(),
                    was_ms,
                    now_ms: self.info.created_ms,
                })?;
                return Ok(Position::From(StartAt::TrimHorizon));
            }
            if let Some(gap) = self.past_retention(shard, c).await? {
                self.gap(gap)?;
                return Ok(Position::From(StartAt::TrimHorizon));
            }
        }
        // A child starts only once its parents were read to their ends; a parent whose
        // checkpoint says otherwise left the stream before that.
        if shard.is_child() && cp.is_none() {
            for parent in [&shard.parent, &shard.adjacent_parent]
                .into_iter()
                .flatten()
            {
                if let Some(p) = self.checkpoint(parent).await?.filter(|p| !p.shard_end) {
                    self.gap(Gap::ParentVanished {
                        parent: parent.clone(),
                        child: shard.id.clone(),
                        after: p.sequence_number,
                    })?;
                }
            }
        }
        Ok(match cp {
            Some(c) if !c.sequence_number.is_empty() => {
                Position::From(StartAt::After(c.sequence_number))
            }
            // Read before and found empty up to a time: what arrived since (with a margin for
            // the difference between this host's clock and Kinesis' arrival times).
            Some(Checkpoint {
                read_to_ms: Some(t),
                ..
            }) => Position::From(StartAt::Timestamp(t - CLOCK_MARGIN_MS)),
            // A child shard must start at its beginning, or records between the reshard
            // and now are lost.
            _ if shard.is_child() => Position::From(StartAt::TrimHorizon),
            _ => Position::From(match self.start {
                Start::TrimHorizon => StartAt::TrimHorizon,
                Start::Latest => StartAt::Latest,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> aws_sdk_kinesis::Client {
        // Never called in these tests: no checkpoint here needs the stream's oldest record.
        let config = aws_sdk_kinesis::Config::builder()
            .behavior_version(aws_sdk_kinesis::config::BehaviorVersion::latest())
            .region(aws_sdk_kinesis::config::Region::new("us-east-1"))
            .endpoint_url("http://127.0.0.1:9")
            .build();
        aws_sdk_kinesis::Client::from_conf(config)
    }

    fn shard(id: &str, parent: Option<&str>) -> Shard {
        Shard {
            id: id.into(),
            parent: parent.map(Into::into),
            adjacent_parent: None,
            ending_sequence: None,
        }
    }

    const NOW: i64 = 1_800_000_000_000;

    async fn with(
        checkpoints: &[(&str, Checkpoint)],
        accept_gap: bool,
        shard: Shard,
    ) -> Result<Position> {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::create(&store::Location::Dir(dir.path().join("sink")))
            .await
            .unwrap();
        for (id, cp) in checkpoints {
            checkpoint::write(&store, "s", id, cp).await.unwrap();
        }
        let client = client();
        let stop = AtomicBool::new(false);
        let mut positions = Checkpoints {
            store: &store,
            client: &client,
            stream: "s",
            info: StreamInfo {
                retention_hours: 24,
                created_ms: 1_000,
            },
            start: Start::Latest,
            accept_gap,
            stop: &stop,
            now_ms: || NOW,
        };
        positions.position(&shard).await
    }

    fn cp(seq: &str, end: bool, read_to_ms: Option<i64>, created: Option<i64>) -> Checkpoint {
        Checkpoint {
            sequence_number: seq.into(),
            shard_end: end,
            read_to_ms,
            stream_created_ms: created,
        }
    }

    #[tokio::test]
    async fn a_fresh_checkpoint_starts_after_its_record() {
        let got = with(
            &[("a", cp("42", false, Some(NOW - 60_000), Some(1_000)))],
            false,
            shard("a", None),
        )
        .await
        .unwrap();
        assert_eq!(got, Position::From(StartAt::After("42".into())));
        let got = with(
            &[("a", cp("", false, Some(NOW), Some(1_000)))],
            false,
            shard("a", None),
        )
        .await
        .unwrap();
        assert_eq!(
            got,
            Position::From(StartAt::Timestamp(NOW - CLOCK_MARGIN_MS)),
            "read empty up to a time: what arrived since"
        );
        let got = with(&[], false, shard("a", None)).await.unwrap();
        assert_eq!(got, Position::From(StartAt::Latest), "--start");
    }

    #[tokio::test]
    async fn a_recreated_stream_is_a_gap_unless_accepted() {
        let checkpoints = [("a", cp("42", false, Some(NOW), Some(999)))];
        let err = with(&checkpoints, false, shard("a", None))
            .await
            .unwrap_err();
        let gap = err.downcast_ref::<Gap>().expect("a gap");
        assert!(matches!(gap, Gap::Recreated { .. }));
        let text = err.to_string();
        assert!(
            text.contains("records lost in shard a")
                && text.contains("after sequence number 42")
                && text.contains("created again"),
            "{text}"
        );
        let got = with(&checkpoints, true, shard("a", None)).await.unwrap();
        assert_eq!(got, Position::From(StartAt::TrimHorizon));
    }

    #[tokio::test]
    async fn a_parent_that_left_before_its_end_is_a_gap_unless_accepted() {
        let checkpoints = [("p", cp("77", false, Some(NOW), Some(1_000)))];
        let err = with(&checkpoints, false, shard("c", Some("p")))
            .await
            .unwrap_err();
        assert_eq!(
            err.downcast_ref::<Gap>(),
            Some(&Gap::ParentVanished {
                parent: "p".into(),
                child: "c".into(),
                after: "77".into()
            })
        );
        assert!(err.to_string().contains("records lost in shard p"), "{err}");
        let got = with(&checkpoints, true, shard("c", Some("p")))
            .await
            .unwrap();
        assert_eq!(got, Position::From(StartAt::TrimHorizon));
        // Read to its end: no gap.
        let ended = [("p", cp("77", true, Some(NOW), Some(1_000)))];
        let got = with(&ended, false, shard("c", Some("p"))).await.unwrap();
        assert_eq!(got, Position::From(StartAt::TrimHorizon));
    }

    #[tokio::test]
    async fn an_unreadable_checkpoint_stops_at_once_naming_the_shard() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::create(&store::Location::Dir(dir.path().join("sink")))
            .await
            .unwrap();
        store
            .put("_checkpoints/s/shardId-000000000003", "garbage")
            .await
            .unwrap();
        let client = client();
        let stop = AtomicBool::new(false);
        let mut positions = Checkpoints {
            store: &store,
            client: &client,
            stream: "s",
            info: StreamInfo {
                retention_hours: 24,
                created_ms: 1_000,
            },
            start: Start::TrimHorizon,
            accept_gap: true,
            stop: &stop,
            now_ms: wall_ms,
        };
        let err = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            positions.position(&shard("shardId-000000000003", None)),
        )
        .await
        .expect("not retried forever")
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("checkpoint of shard shardId-000000000003"),
            "{err}"
        );
    }
}
