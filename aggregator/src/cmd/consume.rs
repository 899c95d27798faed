//! `aggregator consume`: poll every shard, land each batch, then checkpoint it.
//!
//! Order of effects per batch: objects (create-only) -> checkpoint. A crash between the two
//! re-reads the batch and writes the same keys, which already exist: no loss, no duplicates.
//! A batch that cannot land is retried in place with backoff until it lands or the process is
//! asked to stop; its checkpoint is never written before it lands.

use crate::sink::checkpoint::{self, Checkpoint};
use crate::sink::land::land;
use crate::source::kinesis::{self, Read, Start};
use crate::transform::batch::StreamRecord;
use anyhow::{bail, Result};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use store::{Location, Store};

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

/// Kinesis allows 5 GetRecords calls per second per shard.
const MIN_CALL_GAP: Duration = Duration::from_millis(200);
/// Poll interval for a shard that is caught up.
const IDLE_GAP: Duration = Duration::from_secs(1);

/// Totals for the summary line.
#[derive(Debug, Default)]
struct Totals {
    records: usize,
    hits: usize,
    rejected: usize,
    objects: usize,
    retried_objects: usize,
}

/// Per-shard reading state.
#[derive(Default)]
struct ShardState {
    iterator: Option<String>,
    last_sequence: Option<String>,
    next_call: Option<Instant>,
    throttle_backoff: Option<Duration>,
    caught_up: bool,
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
    let mut finished: HashSet<String> = HashSet::new();
    let mut states: HashMap<String, ShardState> = HashMap::new();
    let mut shards = persist(&stop, "listing shards", || {
        kinesis::list_shards(&client, &args.stream)
    })
    .await?;
    let mut last_listing = Instant::now();

    while !stop.load(Ordering::Relaxed) {
        // New shards appear after a reshard; look again now and then.
        if last_listing.elapsed() > Duration::from_secs(10) {
            shards = persist(&stop, "listing shards", || {
                kinesis::list_shards(&client, &args.stream)
            })
            .await?;
            last_listing = Instant::now();
        }
        let readable: Vec<String> = kinesis::readable(&shards, &finished)
            .into_iter()
            .map(|s| s.id.clone())
            .collect();
        if readable.is_empty() {
            if args.once {
                break; // every shard closed and read to its end
            }
            tokio::time::sleep(IDLE_GAP).await;
            shards = persist(&stop, "listing shards", || {
                kinesis::list_shards(&client, &args.stream)
            })
            .await?;
            continue;
        }
        let has_parent: HashSet<String> = shards
            .iter()
            .filter(|s| s.parent.is_some() || s.adjacent_parent.is_some())
            .map(|s| s.id.clone())
            .collect();

        for shard in &readable {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            let state = states.entry(shard.clone()).or_default();
            if state.next_call.is_some_and(|t| Instant::now() < t) {
                continue;
            }
            if state.iterator.is_none() {
                let cp = persist(&stop, "reading a checkpoint", || {
                    checkpoint::read(&store, &args.stream, shard)
                })
                .await?;
                if cp.as_ref().is_some_and(|c| c.shard_end) {
                    finished.insert(shard.clone());
                    continue;
                }
                let after = cp.map(|c| c.sequence_number).filter(|s| !s.is_empty());
                state.last_sequence = after.clone();
                // A child shard must start at its beginning, or records between the reshard
                // and now are lost.
                let start = if has_parent.contains(shard) {
                    Start::TrimHorizon
                } else {
                    args.start
                };
                state.iterator = persist(&stop, "getting a shard iterator", || {
                    kinesis::shard_iterator(&client, &args.stream, shard, after.as_deref(), start)
                })
                .await?;
                if state.iterator.is_none() {
                    mark_finished(&store, &args.stream, shard, state, &mut finished, &stop).await?;
                    continue;
                }
            }
            let iterator = state.iterator.clone().expect("set above");
            let read = persist(&stop, "GetRecords", || {
                kinesis::get_records(&client, &iterator)
            })
            .await?;
            state.next_call = Some(Instant::now() + MIN_CALL_GAP);
            match read {
                Read::Throttled => {
                    let backoff = state
                        .throttle_backoff
                        .map(|d| (d * 2).min(Duration::from_secs(10)))
                        .unwrap_or(Duration::from_millis(500));
                    eprintln!("aggregator: {shard}: throttled (ProvisionedThroughputExceeded); backing off {backoff:?}");
                    state.throttle_backoff = Some(backoff);
                    state.next_call = Some(Instant::now() + backoff);
                }
                Read::Expired => state.iterator = None,
                Read::Records {
                    records,
                    next,
                    behind_ms,
                } => {
                    state.throttle_backoff = None;
                    if !records.is_empty() {
                        land_until_done(&store, shard, &records, &stop, &mut totals).await?;
                        failpoint_before_checkpoint(shard).await;
                        let last = records.last().expect("non-empty").sequence.clone();
                        let cp = Checkpoint {
                            sequence_number: last.clone(),
                            shard_end: false,
                        };
                        persist(&stop, "writing a checkpoint", || {
                            checkpoint::write(&store, &args.stream, shard, &cp)
                        })
                        .await?;
                        state.last_sequence = Some(last);
                    }
                    state.caught_up = records.is_empty() && behind_ms == 0;
                    if state.caught_up {
                        state.next_call =
                            Some(Instant::now() + if args.once { MIN_CALL_GAP } else { IDLE_GAP });
                    }
                    // The end of a closed shard: no next iterator, or (emulators that keep
                    // handing out iterators) a checkpoint at its ending sequence number.
                    let closed_and_done = shards
                        .iter()
                        .find(|s| &s.id == shard)
                        .is_some_and(|s| s.read_to_end(state.last_sequence.as_deref()));
                    match next {
                        Some(n) if !closed_and_done => state.iterator = Some(n),
                        _ => {
                            mark_finished(&store, &args.stream, shard, state, &mut finished, &stop)
                                .await?
                        }
                    }
                }
            }
        }

        if args.once {
            let open: Vec<&String> = readable.iter().filter(|s| !finished.contains(*s)).collect();
            let newly_readable = kinesis::readable(&shards, &finished).len() != open.len();
            if !newly_readable
                && open
                    .iter()
                    .all(|s| states.get(*s).is_some_and(|st| st.caught_up))
            {
                break;
            }
        }
        // Sleep until the earliest shard may be called again.
        let wake = states.values().filter_map(|s| s.next_call).min();
        if let Some(wake) = wake {
            let now = Instant::now();
            if wake > now {
                tokio::time::sleep((wake - now).min(IDLE_GAP)).await;
            }
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

/// Test hook for the crash test: with `AGGREGATOR_FAILPOINT=before-checkpoint` the process
/// announces that a batch's objects are written and waits, checkpoint unwritten, for the test
/// to SIGKILL it. Inert otherwise.
async fn failpoint_before_checkpoint(shard: &str) {
    if std::env::var("AGGREGATOR_FAILPOINT").as_deref() == Ok("before-checkpoint") {
        eprintln!("aggregator: failpoint: objects of a {shard} batch written, checkpoint not; waiting to be killed");
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
}

/// A shard read to its end: checkpoint that, so its children may start.
async fn mark_finished(
    store: &Store,
    stream: &str,
    shard: &str,
    state: &mut ShardState,
    finished: &mut HashSet<String>,
    stop: &AtomicBool,
) -> Result<()> {
    let cp = Checkpoint {
        sequence_number: state.last_sequence.clone().unwrap_or_default(),
        shard_end: true,
    };
    persist(stop, "writing a checkpoint", || {
        checkpoint::write(store, stream, shard, &cp)
    })
    .await?;
    state.iterator = None;
    finished.insert(shard.to_string());
    Ok(())
}

/// Runs a stream or sink operation until it succeeds, with backoff (0.5 s doubling to 30 s):
/// an S3 or Kinesis outage pauses the consumer instead of ending it. Errors only when asked to
/// stop, which is safe: nothing is checkpointed past what has landed.
async fn persist<T, F, Fut>(stop: &AtomicBool, what: &str, mut op: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let mut backoff = Duration::from_millis(500);
    loop {
        match op().await {
            Ok(v) => return Ok(v),
            Err(e) if stop.load(Ordering::Relaxed) => {
                return Err(e.context(format!("stopping while {what}")))
            }
            Err(e) => {
                eprintln!("aggregator: {what} failed, retrying in {backoff:?}: {e:#}");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        }
    }
}

/// Lands a batch, retrying with backoff while the sink fails; errors only when asked to stop
/// before the batch landed (it is then read again on the next start).
async fn land_until_done(
    store: &Store,
    shard: &str,
    fetched: &[kinesis::Fetched],
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
