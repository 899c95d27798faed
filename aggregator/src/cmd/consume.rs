//! `aggregator consume`: poll every shard, land each batch, then checkpoint it.
//!
//! Order of effects per batch: objects (create-only) -> the day's "last landed" markers ->
//! checkpoint. A crash between them re-reads the batch and writes the same keys, which already
//! exist: no loss, no duplicates. A batch that cannot land is retried in place with backoff
//! until it lands or the process is asked to stop; its checkpoint is never written before it
//! lands. The reading itself (shard order, pacing, throttling, expired iterators) is the
//! workspace's one stream reader; where each shard starts, and whether records were lost
//! before it, is [`crate::source`]'s. One consumer per stream and sink holds the lease
//! ([`crate::sink::lease`]); another waits or exits.

use crate::sink::checkpoint::{self, Checkpoint};
use crate::sink::land::land;
use crate::sink::lease::{holder_name, IfHeld, Lease};
use crate::source::{wall_ms, Checkpoints, Start};
use crate::transform::batch::StreamRecord;
use anyhow::{bail, Result};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use store::{Location, Store};
use stream::{persist, Fetched, Reader, Step};

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
    /// Go on after records were lost unread (a checkpoint past the stream's retention, a
    /// parent shard gone before its end, a stream created again): each gap is logged with its
    /// shard and range, then reading goes on from what the stream holds. Without it a gap
    /// stops the consumer with an error (exit 1).
    #[arg(long)]
    pub accept_gap: bool,
    /// When another consumer holds this stream and sink's lease: wait for it to stop (or for
    /// its lease to expire), or exit with an error naming it.
    #[arg(long, value_enum, default_value = "wait")]
    pub if_held: IfHeld,
    /// The lease's time to live in seconds: a consumer that stops renewing it (crashed) is
    /// replaced after this long.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(3..=3600))]
    pub lease_ttl: u64,
}

/// Kinesis allows 5 GetRecords calls per second per shard.
const MIN_CALL_GAP: Duration = Duration::from_millis(200);
/// Poll interval for a shard that is caught up.
const IDLE_GAP: Duration = Duration::from_secs(1);
/// New shards appear after a reshard; the list is read again this often.
const RELIST_EVERY: Duration = Duration::from_secs(10);
/// How often the lag line is logged (a CloudWatch metric filter alarms on it, and on its
/// absence).
const LAG_EVERY: Duration = Duration::from_secs(60);
/// How often the checkpoints of quiet shards record that they were read up to now.
const REFRESH_EVERY: Duration = Duration::from_secs(600);

/// Totals for the summary line.
#[derive(Debug, Default)]
struct Totals {
    records: usize,
    hits: usize,
    rejected: usize,
    objects: usize,
    retried_objects: usize,
}

/// Runs the consumer until drained (`--once`) or stopped (SIGTERM / Ctrl-C).
pub async fn run(args: Args) -> Result<()> {
    // One AWS configuration for both clients: S3 and Kinesis see the same region, endpoint
    // and credentials.
    let config = store::aws::load_config().await;
    let client = aws_sdk_kinesis::Client::new(&config);
    let store = crate::sink::open(&args.sink, &config).await?;
    let stop = Arc::new(AtomicBool::new(false));
    watch_signals(stop.clone());

    let lease = Lease::take(
        &store,
        &args.stream,
        &holder_name(),
        Duration::from_secs(args.lease_ttl),
        args.if_held,
        stop.clone(),
    )
    .await?;
    let consumed = consume(&args, &client, &store, &lease, &stop).await;
    if let Err(e) = lease.release().await {
        eprintln!("aggregator: {e:#}");
    }
    consumed
}

async fn consume(
    args: &Args,
    client: &aws_sdk_kinesis::Client,
    store: &Store,
    lease: &Lease,
    stop: &Arc<AtomicBool>,
) -> Result<()> {
    let started = Instant::now();
    let mut totals = Totals::default();
    let info = persist(stop, "aggregator", "describing the stream", || {
        stream::api::describe(client, &args.stream)
    })
    .await?;
    let options = stream::Options {
        name: "aggregator",
        min_call_gap: MIN_CALL_GAP,
        // Draining wants to know soon that a shard is caught up.
        idle_gap: if args.once { MIN_CALL_GAP } else { IDLE_GAP },
        relist_every: RELIST_EVERY,
    };
    let mut reader = Reader::open(client.clone(), &args.stream, options, stop.clone()).await?;
    let mut positions = Checkpoints {
        store,
        client,
        stream: &args.stream,
        info,
        start: args.start,
        accept_gap: args.accept_gap,
        stop,
        now_ms: wall_ms,
    };
    // The checkpoint last written per shard (to refresh quiet shards' times).
    let mut written: HashMap<String, Checkpoint> = HashMap::new();
    let mut lag_at = Instant::now() + LAG_EVERY;
    let mut refresh_at = Instant::now() + REFRESH_EVERY;
    loop {
        let tick = lag_at.min(refresh_at);
        // The reader is cancel-safe at its waits: a tick drops the call in hand, and the
        // next call starts it again from the same iterator.
        let step = tokio::select! {
            step = reader.next(&mut positions) => Some(step?),
            () = tokio::time::sleep_until(tick.into()) => None,
        };
        let Some(step) = step else {
            if Instant::now() >= lag_at {
                eprintln!(
                    "{}",
                    serde_json::json!({"event": "lag", "behind_ms": reader.behind_ms()})
                );
                lag_at = Instant::now() + LAG_EVERY;
            }
            if Instant::now() >= refresh_at {
                refresh(
                    store,
                    &args.stream,
                    &reader,
                    &mut written,
                    info.created_ms,
                    lease,
                    stop,
                )
                .await?;
                refresh_at = Instant::now() + REFRESH_EVERY;
            }
            continue;
        };
        match step {
            Step::Records { shard, records, .. } => {
                lease.check().await?;
                land_until_done(store, &shard, &records, stop, &mut totals).await?;
                failpoint_before_checkpoint(&shard).await;
                let cp = Checkpoint {
                    sequence_number: records.last().expect("non-empty").sequence.clone(),
                    shard_end: false,
                    read_to_ms: reader.read_to_ms(&shard),
                    stream_created_ms: Some(info.created_ms),
                };
                lease.check().await?;
                write_checkpoint(store, &args.stream, &shard, &cp, stop).await?;
                written.insert(shard, cp);
            }
            // A shard read to its end: checkpoint that, so its children may start.
            Step::Ended {
                shard,
                last_sequence,
            } => {
                let cp = Checkpoint {
                    sequence_number: last_sequence.unwrap_or_default(),
                    shard_end: true,
                    read_to_ms: reader.read_to_ms(&shard),
                    stream_created_ms: Some(info.created_ms),
                };
                lease.check().await?;
                write_checkpoint(store, &args.stream, &shard, &cp, stop).await?;
                written.insert(shard, cp);
            }
            Step::CaughtUp if args.once => break,
            Step::CaughtUp => {}
            Step::Stopped => break,
        }
    }
    if !stop.load(Ordering::Relaxed) || args.once {
        refresh(
            store,
            &args.stream,
            &reader,
            &mut written,
            info.created_ms,
            lease,
            stop,
        )
        .await?;
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

/// Records in the checkpoints of shards read since their last checkpoint (quiet ones above
/// all) the time up to which they were read, so a restart can tell what the stream's
/// retention may have taken in between.
async fn refresh(
    store: &Store,
    stream: &str,
    reader: &Reader,
    written: &mut HashMap<String, Checkpoint>,
    created_ms: i64,
    lease: &Lease,
    stop: &AtomicBool,
) -> Result<()> {
    for shard in reader.shards() {
        let Some(read_to) = reader.read_to_ms(&shard.id) else {
            continue;
        };
        let cp = match written.get(&shard.id) {
            Some(cp) if cp.shard_end || cp.read_to_ms >= Some(read_to) => continue,
            Some(cp) => Checkpoint {
                read_to_ms: Some(read_to),
                ..cp.clone()
            },
            // Read and found empty since this process started: its checkpoint (if any) is
            // still as it was, so it is read before it is refreshed.
            None => match checkpoint::read(store, stream, &shard.id).await? {
                Some(cp) if cp.shard_end => continue,
                Some(cp) => Checkpoint {
                    read_to_ms: Some(read_to),
                    stream_created_ms: Some(created_ms),
                    ..cp
                },
                None => Checkpoint {
                    sequence_number: String::new(),
                    shard_end: false,
                    read_to_ms: Some(read_to),
                    stream_created_ms: Some(created_ms),
                },
            },
        };
        lease.check().await?;
        write_checkpoint(store, stream, &shard.id, &cp, stop).await?;
        written.insert(shard.id.clone(), cp);
    }
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
