//! The dashboard's reader of the stream: every shard from a time, no checkpoints.
//!
//! Each shard starts `AT_TIMESTAMP` the window's length plus the session gap before now, so a
//! (re)start shows the whole window at once and knows where the sessions in it began. The
//! reading (shard order, reshards, pacing, throttling, expired iterators) is `stream::Reader`'s,
//! shared with the aggregator; caught-up shards are polled once a second, so the dashboard
//! takes at most one of the five reads a second a shard allows.

use super::Feed;
use analyzer::report::sessions::SESSION_GAP_MS;
use anyhow::{Context, Result};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;
use stream::{Position, Positions, Reader, Shard, StartAt, Step};

/// Least time between two calls of one shard while it is behind (the warm-up).
const MIN_CALL_GAP: Duration = Duration::from_millis(200);
/// Time between two calls of a caught-up shard: Kinesis' advice for a polling reader.
const IDLE_GAP: Duration = Duration::from_secs(1);
/// How often the shard list is read again to find the children of a reshard.
const RELIST_EVERY: Duration = Duration::from_secs(10);

/// Every shard starts at the same time.
struct From(i64);

impl Positions for From {
    async fn position(&mut self, _shard: &Shard) -> Result<Position> {
        Ok(Position::From(StartAt::Timestamp(self.0)))
    }
}

/// Where reading starts for a window of `minutes` at `now`.
pub fn start_ms(now: i64, minutes: u32) -> i64 {
    now - i64::from(minutes) * 60_000 - SESSION_GAP_MS
}

/// How the reader ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Until {
    /// Once every shard is caught up (`--once`).
    CaughtUp,
    /// When `stop` is set.
    Stopped,
}

/// Reads `stream` into `feed` until `until`; errors only on a failure that retrying cannot
/// mend (the stream's listing is retried while Kinesis is down).
pub async fn read(
    client: aws_sdk_kinesis::Client,
    stream: String,
    feed: Arc<Feed>,
    stop: Arc<AtomicBool>,
    until: Until,
) -> Result<()> {
    let minutes = feed.window().options().minutes;
    let mut positions = From(start_ms(crate::now_ms(), minutes));
    let options = stream::Options {
        name: "dashboard",
        min_call_gap: MIN_CALL_GAP,
        idle_gap: if until == Until::CaughtUp {
            MIN_CALL_GAP
        } else {
            IDLE_GAP
        },
        relist_every: RELIST_EVERY,
    };
    let mut reader = Reader::open(client, &stream, options, stop).await?;
    loop {
        match reader.next(&mut positions).await? {
            Step::Records { records, .. } => {
                let now = crate::now_ms();
                {
                    let mut window = feed.window();
                    for r in &records {
                        window.add_record(&r.data, r.arrival_ms, now);
                    }
                }
                feed.set_behind(reader.behind_ms());
                feed.changed.notify_one();
            }
            Step::Ended { .. } => feed.set_behind(reader.behind_ms()),
            Step::CaughtUp => {
                feed.set_behind(reader.behind_ms());
                feed.set_caught_up();
                if until == Until::CaughtUp {
                    return Ok(());
                }
            }
            Step::Stopped => return Ok(()),
        }
    }
}

/// A Kinesis client from the AWS SDK's default chain (environment, profile, role, endpoint).
pub async fn client() -> aws_sdk_kinesis::Client {
    let config = store::aws::load_config().await;
    aws_sdk_kinesis::Client::new(&config)
}

/// Fails at once, with the stream's name, when the stream cannot be listed (a wrong name,
/// region, endpoint or credentials); later outages are retried by the reader instead.
pub async fn check_stream(client: &aws_sdk_kinesis::Client, stream: &str) -> Result<()> {
    stream::api::list_shards(client, stream)
        .await
        .with_context(|| {
            format!("cannot read the stream {stream} (check its name, AWS_REGION, credentials and endpoint)")
        })
        .map(|_| ())
}

/// Compiles the user-agent regexes now, on a blocking thread, so that the first hit read does
/// not wait for them (seconds in a debug build) while it holds the window.
pub fn warm_up() {
    tokio::task::spawn_blocking(|| analyzer::report::agents::describe(""));
}
