//! `aggregator consume`: poll every shard, land each batch, then checkpoint it.
//!
//! Order of effects per batch: objects (create-only) -> checkpoint. A crash between the two
//! re-reads the batch and writes the same keys, which already exist: no loss, no duplicates.
//! A batch that cannot land is retried in place with backoff until it lands or the process is
//! asked to stop; its checkpoint is never written before it lands. The reading itself (shard
//! order, pacing, throttling, expired iterators) is the workspace's one stream reader.

use crate::sink::checkpoint::{self, Checkpoint};
use crate::sink::land::land;
use crate::transform::batch::StreamRecord;
use anyhow::{bail, Result};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use store::{Location, Store};
use stream::{persist, Fetched, Position, Positions, Reader, Shard, StartAt, Step};

/// Arguments of `aggregator consume`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Kinesis stream to read.
    #[arg(long)]
    pub stream: String,
    /// Where to land objects and checkpoints: s3://BUCKET/PREFIX or a folder.
    #[arg(long, env = "AGGREGATOR_SINK", value_parser = clap::value_parser!(Location))]
    pub sink: Location,
    /// Where a shard without a checkpoint starts (children of a resharded shard always start
    /// at their beginning).
    #[arg(long, value_enum, default_value = "trim-horizon")]
    pub start: Start,
    /// Drain until every shard is caught up, print a summary, exit.
    #[arg(long)]
    pub once: bool,
}

/// Where a shard that has no checkpoint starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Start {
    /// The oldest record still in the stream.
    TrimHorizon,
    /// Only records put from now on.
    Latest,
}

/// Kinesis allows 5 GetRecords calls per second per shard.
const MIN_CALL_GAP: Duration = Duration::from_millis(200);
/// Poll interval for a shard that is caught up.
const IDLE_GAP: Duration = Duration::from_secs(1);
/// New shards appear after a reshard; the list is read again this often.
const RELIST_EVERY: Duration = Duration::from_secs(10);

/// Totals for the summary line.
#[derive(Debug, Default)]
struct Totals {
    records: usize,
    hits: usize,
    rejected: usize,
    objects: usize,
    retried_objects: usize,
}

/// Shards start from their checkpoints beside the data.
struct Checkpoints<'a> {
    store: &'a Store,
    stream: &'a str,
    start: Start,
    stop: &'a AtomicBool,
}

impl Positions for Checkpoints<'_> {
    async fn position(&mut self, shard: &Shard) -> Result<Position> {
        let cp = persist(self.stop, "aggregator", "reading a checkpoint", || {
            checkpoint::read(self.store, self.stream, &shard.id)
        })
        .await?;
        Ok(match cp {
            Some(c) if c.shard_end => Position::Finished,
            Some(c) if !c.sequence_number.is_empty() => {
                Position::From(StartAt::After(c.sequence_number))
            }
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

/// Runs the consumer until drained (`--once`) or stopped (SIGTERM / Ctrl-C).
pub async fn run(args: Args) -> Result<()> {
    // One AWS configuration for both clients: S3 and Kinesis see the same region, endpoint
    // and credentials.
    let config = aws_config::load_from_env().await;
    let client = aws_sdk_kinesis::Client::new(&config);
    let store = crate::sink::open(&args.sink, &config).await?;
    let stop = Arc::new(AtomicBool::new(false));
    watch_signals(stop.clone());

    let started = Instant::now();
    let mut totals = Totals::default();
    let options = stream::Options {
        name: "aggregator",
        min_call_gap: MIN_CALL_GAP,
        // Draining wants to know soon that a shard is caught up.
        idle_gap: if args.once { MIN_CALL_GAP } else { IDLE_GAP },
        relist_every: RELIST_EVERY,
    };
    let mut reader = Reader::open(client, &args.stream, options, stop.clone()).await?;
    let mut positions = Checkpoints {
        store: &store,
        stream: &args.stream,
        start: args.start,
        stop: &stop,
    };
    loop {
        match reader.next(&mut positions).await? {
            Step::Records { shard, records, .. } => {
                land_until_done(&store, &shard, &records, &stop, &mut totals).await?;
                failpoint_before_checkpoint(&shard).await;
                let cp = Checkpoint {
                    sequence_number: records.last().expect("non-empty").sequence.clone(),
                    shard_end: false,
                };
                write_checkpoint(&store, &args.stream, &shard, &cp, &stop).await?;
            }
            // A shard read to its end: checkpoint that, so its children may start.
            Step::Ended {
                shard,
                last_sequence,
            } => {
                let cp = Checkpoint {
                    sequence_number: last_sequence.unwrap_or_default(),
                    shard_end: true,
                };
                write_checkpoint(&store, &args.stream, &shard, &cp, &stop).await?;
            }
            Step::CaughtUp if args.once => break,
            Step::CaughtUp => {}
            Step::Stopped => break,
        }
    }

    let stopped = if stop.load(Ordering::Relaxed) {
        " (stopped by signal)"
    } else {
        ""
    };
    println!(
        "aggregator: {} records ({} hits, {} rejected) from {}, {} objects written ({} already there) under {}, in {:.1}s{stopped}",
        totals.records,
        totals.hits,
        totals.rejected,
        args.stream,
        totals.objects,
        totals.retried_objects,
        store.location(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn write_checkpoint(
    store: &Store,
    stream: &str,
    shard: &str,
    cp: &Checkpoint,
    stop: &AtomicBool,
) -> Result<()> {
    persist(stop, "aggregator", "writing a checkpoint", || {
        checkpoint::write(store, stream, shard, cp)
    })
    .await
}

/// Test hook for the crash test: with `AGGREGATOR_FAILPOINT=before-checkpoint` the process
/// announces that a batch's objects are written and waits, checkpoint unwritten, for the test
/// to SIGKILL it. Inert otherwise.
async fn failpoint_before_checkpoint(shard: &str) {
    if std::env::var("AGGREGATOR_FAILPOINT").as_deref() == Ok("before-checkpoint") {
        eprintln!("aggregator: failpoint: objects of a {shard} batch written, checkpoint not; waiting to be killed");
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
}

/// Lands a batch, retrying with backoff while the sink fails; errors only when asked to stop
/// before the batch landed (it is then read again on the next start).
async fn land_until_done(
    store: &Store,
    shard: &str,
    fetched: &[Fetched],
    stop: &AtomicBool,
    totals: &mut Totals,
) -> Result<()> {
    let records: Vec<StreamRecord<'_>> = fetched
        .iter()
        .map(|f| StreamRecord {
            sequence: &f.sequence,
            arrival_ms: f.arrival_ms,
            data: &f.data,
        })
        .collect();
    let mut backoff = Duration::from_millis(500);
    loop {
        let landed = land(store, shard, &records).await;
        match landed.failed {
            None => {
                totals.records += records.len();
                totals.hits += landed.hits;
                totals.rejected += landed.rejected;
                totals.objects += landed.created;
                totals.retried_objects += landed.already_there;
                return Ok(());
            }
            Some((_, e)) => {
                if stop.load(Ordering::Relaxed) {
                    bail!("stopping with a batch of {shard} not landed (it will be read again): {e:#}");
                }
                eprintln!("aggregator: {shard}: batch of {} records not landed, retrying in {backoff:?}: {e:#}", records.len());
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        }
    }
}

/// SIGTERM (ECS, systemd) and Ctrl-C set `stop`; the batch in hand finishes first.
fn watch_signals(stop: Arc<AtomicBool>) {
    tokio::spawn(async move {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("aggregator: cannot watch SIGTERM: {e}");
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        eprintln!("aggregator: stopping after the batch in hand");
        stop.store(true, Ordering::Relaxed);
    });
}
