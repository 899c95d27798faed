//! The polling driver: reads every shard of a stream, one `GetRecords` call at a time, and
//! hands its caller one [`Step`] at a time.
//!
//! It keeps to Kinesis' rules for a polling reader: a shard is called at most once per
//! [`Options::min_call_gap`] while it is behind and once per [`Options::idle_gap`] when it is
//! caught up; a throttled call backs off (0.5 s doubling to 10 s); an expired iterator is
//! replaced from the last record read; children of a reshard are read only after their
//! parents ([`crate::shard::readable`]), and the shard list is read again every
//! [`Options::relist_every`] to find them. A failing call (Kinesis down) is retried with
//! backoff until it succeeds or the reader is asked to stop.
//!
//! Where a shard starts is the caller's: [`Positions`] (checkpoints for the aggregator, a
//! time for the dashboard). What the records mean is the caller's too; the reader never
//! writes anything.

use crate::api::{self, Fetched, Read, StartAt};
use crate::shard::{self, Shard};
use anyhow::Result;
use aws_sdk_kinesis::Client;
use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How a [`Reader`] paces itself.
#[derive(Debug, Clone)]
pub struct Options {
    /// Prefix of the reader's log lines (`aggregator`, `dashboard`).
    pub name: &'static str,
    /// Least time between two calls of one shard while it is behind (Kinesis allows 5 calls
    /// a second per shard, shared by every reader of the stream).
    pub min_call_gap: Duration,
    /// Time between two calls of a shard that is caught up.
    pub idle_gap: Duration,
    /// How often the shard list is read again, to find the children of a reshard.
    pub relist_every: Duration,
}

/// What the caller says of a shard the reader is about to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Position {
    /// Start reading here.
    From(StartAt),
    /// Read to its end before (a checkpoint says so): skip it, its children may start.
    Finished,
}

/// Where each shard starts: asked once per shard, when the reader first reads it (and again
/// if its iterator expires before any record was read).
pub trait Positions {
    /// The position of `shard`.
    fn position(&mut self, shard: &Shard) -> impl Future<Output = Result<Position>>;
}

/// One thing that happened on the stream.
#[derive(Debug)]
pub enum Step {
    /// Records of one shard, in sequence order (never empty). The reader has moved past them:
    /// the caller handles them before it asks for the next step.
    Records {
        /// The shard they come from.
        shard: String,
        /// The records.
        records: Vec<Fetched>,
        /// `MillisBehindLatest` of the call that read them.
        behind_ms: i64,
    },
    /// A closed shard was read to its end (after a reshard): its children may start once the
    /// caller asks for the next step.
    Ended {
        /// The shard.
        shard: String,
        /// The last sequence number read from it, if any.
        last_sequence: Option<String>,
    },
    /// Every readable shard is caught up (its last call returned nothing, at the tip) and no
    /// other shard became readable. Said once each time it becomes true.
    CaughtUp,
    /// The stop flag was set.
    Stopped,
}

/// One shard's reading.
#[derive(Default)]
struct ShardState {
    iterator: Option<String>,
    last_sequence: Option<String>,
    /// Started at a timestamp, and no record read since.
    from_timestamp: bool,
    next_call: Option<Instant>,
    throttle_backoff: Option<Duration>,
    caught_up: bool,
    behind_ms: i64,
    /// Every record that arrived before this time (ms since the epoch) has been read.
    read_to_ms: Option<i64>,
}

/// A polling reader of every shard of one stream.
pub struct Reader {
    client: Client,
    stream: String,
    options: Options,
    stop: Arc<AtomicBool>,
    shards: Vec<Shard>,
    listed_at: Instant,
    finished: HashSet<String>,
    states: HashMap<String, ShardState>,
    pending: VecDeque<Step>,
    /// [`Step::CaughtUp`] was said and nothing changed since.
    announced: bool,
}

impl Reader {
    /// Lists the stream's shards and gets ready to read them; errors only when asked to stop
    /// before the listing succeeded.
    pub async fn open(
        client: Client,
        stream: &str,
        options: Options,
        stop: Arc<AtomicBool>,
    ) -> Result<Reader> {
        let shards = persist(&stop, options.name, "listing shards", || {
            api::list_shards(&client, stream)
        })
        .await?;
        Ok(Reader {
            client,
            stream: stream.to_string(),
            options,
            stop,
            shards,
            listed_at: Instant::now(),
            finished: HashSet::new(),
            states: HashMap::new(),
            pending: VecDeque::new(),
            announced: false,
        })
    }

    /// The shards of the last listing.
    pub fn shards(&self) -> &[Shard] {
        &self.shards
    }

    /// The largest `MillisBehindLatest` of the shards still being read, from their last calls.
    pub fn behind_ms(&self) -> i64 {
        self.states
            .iter()
            .filter(|(id, _)| !self.finished.contains(*id))
            .map(|(_, s)| s.behind_ms)
            .max()
            .unwrap_or(0)
    }

    /// The time (ms since the epoch) before which every record of `shard` has been read, by
    /// this host's clock and the shard's `MillisBehindLatest`; `None` before its first call.
    /// A checkpoint that keeps it lets a later reader tell whether records may have passed
    /// the stream's retention unread.
    pub fn read_to_ms(&self, shard: &str) -> Option<i64> {
        self.states.get(shard).and_then(|s| s.read_to_ms)
    }

    /// The next step: waits until a shard may be called, calls it, and says what came of it.
    pub async fn next<P: Positions>(&mut self, positions: &mut P) -> Result<Step> {
        loop {
            if let Some(step) = self.pending.pop_front() {
                return Ok(step);
            }
            if self.stop.load(Ordering::Relaxed) {
                return Ok(Step::Stopped);
            }
            if self.listed_at.elapsed() >= self.options.relist_every {
                self.relist().await?;
            }
            let readable: Vec<Shard> = shard::readable(&self.shards, &self.finished)
                .into_iter()
                .cloned()
                .collect();
            if readable.is_empty() {
                // Every shard listed is closed and read to its end.
                if !self.announced {
                    self.announced = true;
                    return Ok(Step::CaughtUp);
                }
                tokio::time::sleep(self.options.idle_gap).await;
                self.relist().await?;
                continue;
            }
            let now = Instant::now();
            let call_at = |s: &Shard| self.states.get(&s.id).and_then(|st| st.next_call);
            let due = readable
                .iter()
                .filter(|s| call_at(s).is_none_or(|t| t <= now))
                .min_by_key(|s| call_at(s));
            if let Some(shard) = due {
                if let Some(step) = self.read(shard, positions).await? {
                    return Ok(step);
                }
                continue;
            }
            let caught_up = readable
                .iter()
                .all(|s| self.states.get(&s.id).is_some_and(|st| st.caught_up));
            if caught_up && !self.announced {
                self.announced = true;
                return Ok(Step::CaughtUp);
            }
            let wake = readable.iter().filter_map(call_at).min().unwrap_or(now);
            let nap = wake
                .saturating_duration_since(now)
                .min(self.options.idle_gap);
            tokio::time::sleep(nap).await;
        }
    }

    async fn relist(&mut self) -> Result<()> {
        let (client, stream) = (&self.client, self.stream.as_str());
        self.shards = persist(&self.stop, self.options.name, "listing shards", || {
            api::list_shards(client, stream)
        })
        .await?;
        self.listed_at = Instant::now();
        Ok(())
    }

    /// One call of `shard`; the step it makes, if any.
    async fn read<P: Positions>(
        &mut self,
        shard: &Shard,
        positions: &mut P,
    ) -> Result<Option<Step>> {
        let (client, stream, name) = (&self.client, self.stream.as_str(), self.options.name);
        let state = self.states.entry(shard.id.clone()).or_default();
        if state.iterator.is_none() {
            let start = match &state.last_sequence {
                Some(seq) => StartAt::After(seq.clone()),
                None => match positions.position(shard).await? {
                    Position::Finished => {
                        self.finished.insert(shard.id.clone());
                        self.announced = false;
                        return Ok(None);
                    }
                    Position::From(start) => start,
                },
            };
            state.from_timestamp = matches!(start, StartAt::Timestamp(_));
            state.iterator = persist(&self.stop, name, "getting a shard iterator", || {
                api::shard_iterator(client, stream, &shard.id, &start)
            })
            .await?;
            if state.iterator.is_none() {
                return Ok(Some(self.end(shard)));
            }
        }
        let iterator = state.iterator.clone().expect("set above");
        let read = persist(&self.stop, name, "GetRecords", || {
            api::get_records(client, &iterator)
        })
        .await?;
        let now = Instant::now();
        state.next_call = Some(now + self.options.min_call_gap);
        let (records, next, behind_ms) = match read {
            Read::Throttled => {
                let backoff = state
                    .throttle_backoff
                    .map(|d| (d * 2).min(Duration::from_secs(10)))
                    .unwrap_or(Duration::from_millis(500));
                eprintln!(
                    "{name}: {}: throttled (ProvisionedThroughputExceeded); backing off {backoff:?}",
                    shard.id
                );
                state.throttle_backoff = Some(backoff);
                state.next_call = Some(now + backoff);
                return Ok(None);
            }
            Read::Expired => {
                state.iterator = None;
                return Ok(None);
            }
            Read::Records {
                records,
                next,
                behind_ms,
            } => (records, next, behind_ms),
        };
        state.throttle_backoff = None;
        state.behind_ms = behind_ms;
        let wall = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        state.read_to_ms = Some(wall - behind_ms.max(0));
        if let Some(last) = records.last() {
            state.last_sequence = Some(last.sequence.clone());
            state.from_timestamp = false;
        }
        state.caught_up = records.is_empty() && behind_ms == 0;
        if state.caught_up {
            state.next_call = Some(now + self.options.idle_gap);
        }
        // The end of a closed shard: no next iterator; or (emulators that keep handing out
        // iterators) the last record read is its ending one; or it was started at a time
        // after its last record (nothing read, at the tip).
        let done = next.is_none()
            || shard.read_to_end(state.last_sequence.as_deref())
            || (shard.is_closed() && state.from_timestamp && state.caught_up);
        state.iterator = next;
        let got = !records.is_empty();
        let step = got.then(|| Step::Records {
            shard: shard.id.clone(),
            records,
            behind_ms,
        });
        if got {
            self.announced = false;
        }
        if done {
            let ended = self.end(shard);
            if step.is_none() {
                return Ok(Some(ended));
            }
            self.pending.push_back(ended);
        }
        Ok(step)
    }

    /// Marks `shard` read to its end.
    fn end(&mut self, shard: &Shard) -> Step {
        let state = self.states.entry(shard.id.clone()).or_default();
        state.iterator = None;
        self.finished.insert(shard.id.clone());
        self.announced = false;
        Step::Ended {
            shard: shard.id.clone(),
            last_sequence: state.last_sequence.clone(),
        }
    }
}

/// An error that retrying cannot mend (a position the stream does not hold, a checkpoint that
/// cannot be parsed): [`persist`] returns it at once instead of retrying forever.
#[derive(Debug)]
pub struct Permanent(pub String);

impl std::fmt::Display for Permanent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Permanent {}

/// Runs a stream or sink operation until it succeeds, with backoff (0.5 s doubling to 30 s):
/// an outage pauses the reader instead of ending it. Errors when asked to stop, and at once
/// for a [`Permanent`] error.
pub async fn persist<T, F, Fut>(stop: &AtomicBool, name: &str, what: &str, mut op: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let mut backoff = Duration::from_millis(500);
    loop {
        match op().await {
            Ok(v) => return Ok(v),
            Err(e) if e.chain().any(|c| c.is::<Permanent>()) => return Err(e),
            Err(e) if stop.load(Ordering::Relaxed) => {
                return Err(e.context(format!("stopping while {what}")))
            }
            Err(e) => {
                eprintln!("{name}: {what} failed, retrying in {backoff:?}: {e:#}");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn persist_retries_until_the_operation_succeeds() {
        let stop = AtomicBool::new(false);
        let mut calls = 0;
        let got = persist(&stop, "test", "counting", || {
            calls += 1;
            let n = calls;
            async move {
                if n < 2 {
                    anyhow::bail!("not yet")
                }
                Ok(n)
            }
        })
        .await
        .unwrap();
        assert_eq!(got, 2);
    }

    #[tokio::test]
    async fn persist_does_not_retry_what_cannot_mend() {
        let stop = AtomicBool::new(false);
        let mut calls = 0;
        let err = persist(&stop, "test", "reading", || {
            calls += 1;
            async { Err::<(), _>(anyhow::Error::new(Permanent("bad checkpoint".into()))) }
        })
        .await
        .unwrap_err();
        assert_eq!(calls, 1);
        assert_eq!(err.to_string(), "bad checkpoint");
    }

    #[tokio::test]
    async fn persist_gives_up_when_asked_to_stop() {
        let stop = AtomicBool::new(true);
        let err = persist(&stop, "test", "failing", || async {
            Err::<(), _>(anyhow::anyhow!("down"))
        })
        .await
        .unwrap_err();
        assert!(
            format!("{err:#}").contains("stopping while failing"),
            "{err:#}"
        );
    }
}
