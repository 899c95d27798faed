//! `analyzer compact`: landed CSV objects of UTC days -> one compacted run per day (Parquet
//! by visitor bucket), published by its `_current.json` (see [`crate::compacted`] for the
//! commit rule, which makes compactions of one day at the same time safe).

use crate::cli::CompactArgs;
use crate::compacted::{buckets_for, Covers, Manifest, PartFile, FORMAT};
use crate::error::{NoData, Usage};
use crate::progress::Progress;
use crate::sink::compacted::{remove_dead_spills, write_bucket, Spill, Written};
use crate::source::csv::{read_objects, ReadTotals};
use crate::source::{current, landed, landed_markers, missing_files, Current};
use anyhow::{bail, Context, Result};
use pagehit::layout;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;
use store::{Store, Swap};

/// What compacting one day did.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// No landed objects.
    NoData,
    /// The current run already covers every landed object.
    UpToDate,
    /// A new run is current.
    Compacted,
}

/// How a day is compacted.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The local folder for the runs' own folders (spill files, Parquet before upload).
    pub tmp: PathBuf,
    /// Buckets per day; `None`: from the day's size.
    pub buckets: Option<u32>,
    /// How long replaced runs and the files of dead runs are kept.
    pub grace: Duration,
}

/// How often a compaction that lost the commit to another one starts over before it gives up.
const ATTEMPTS: u32 = 3;

/// Runs `analyzer compact` to completion.
pub fn run(args: CompactArgs) -> Result<()> {
    let rt = super::runtime()?;
    let progress = Progress::stderr();
    // Partitions are UTC days.
    let period = args
        .period
        .resolve(chrono_tz::Tz::UTC, chrono::Utc::now())
        .map_err(Usage)?;
    let store = rt.block_on(Store::open(&args.source))?;
    let settings = Settings {
        tmp: args.tmp.clone().unwrap_or_else(std::env::temp_dir),
        buckets: args.buckets,
        grace: args.grace,
    };
    let removed = remove_dead_spills(&settings.tmp);
    if removed > 0 {
        eprintln!(
            "analyzer: removed {removed} folders left in {} by compactions that did not finish",
            settings.tmp.display()
        );
    }
    let mut any = false;
    for date in period.partitions() {
        let outcome = compact_day(&rt, &store, &date, &settings, &progress)
            .with_context(|| format!("compacting {}", store.display(&layout::hits_dir(&date))))?;
        any |= outcome != Outcome::NoData;
    }
    progress.finish();
    if !any {
        return Err(NoData {
            what: format!("{period} to compact"),
            looked_at: period
                .partitions()
                .iter()
                .map(|d| store.display(&layout::hits_dir(d)))
                .collect(),
        }
        .into());
    }
    Ok(())
}

/// A new run's id: its start time (sortable) and a random suffix.
fn run_id() -> String {
    let now = chrono::Utc::now();
    let noise =
        std::hash::BuildHasher::hash_one(&std::collections::hash_map::RandomState::new(), now);
    format!("{}-{:08x}", now.format("%Y%m%dT%H%M%S%.3fZ"), noise as u32)
}

/// Compacts one UTC day. A run that loses the commit to another compaction of the day starts
/// over (up to `ATTEMPTS` times), so the day ends compacted by one of them.
pub fn compact_day(
    rt: &tokio::runtime::Runtime,
    store: &Store,
    date: &str,
    settings: &Settings,
    progress: &Progress,
) -> Result<Outcome> {
    for attempt in 1..=ATTEMPTS {
        match attempt_day(rt, store, date, settings, progress)? {
            Attempt::Done(outcome) => return Ok(outcome),
            Attempt::Lost(why) => {
                progress.clear();
                let then = if attempt < ATTEMPTS {
                    "starting over"
                } else {
                    "giving up"
                };
                eprintln!("analyzer: dt={date}: {why}; {then}");
            }
        }
    }
    bail!(
        "another compaction of dt={date} committed first {ATTEMPTS} times in a row: something keeps compacting this day (a loop of retries?)"
    )
}

/// What one attempt at a day did.
enum Attempt {
    Done(Outcome),
    /// Another compaction committed first (or deleted this run's files): this run's files
    /// are gone again and nothing of it is current. Why, for the log.
    Lost(String),
}

fn attempt_day(
    rt: &tokio::runtime::Runtime,
    store: &Store,
    date: &str,
    settings: &Settings,
    progress: &Progress,
) -> Result<Attempt> {
    // The version of `_current.json` read here is the one the commit must still find.
    let found = rt.block_on(current(store, date))?;
    // The markers before the objects: any object listed after this was landed before a
    // newer version of its marker (the aggregator writes objects, then the marker).
    let markers = rt
        .block_on(landed_markers(store, date))?
        .unwrap_or_default();
    progress.step(&format!(
        "listing {}",
        store.display(&layout::hits_dir(date))
    ));
    let objects = rt.block_on(landed(store, date))?;
    if objects.is_empty() {
        return Ok(Attempt::Done(Outcome::NoData));
    }
    let keys: Vec<&str> = objects.iter().map(|o| o.key.as_str()).collect();
    match &found {
        Current::Usable { manifest, .. } if manifest.covers(&keys) => {
            match rt.block_on(missing_files(store, manifest))? {
                None => {
                    if manifest.landed != markers && !markers.is_empty() {
                        // Objects covered already landed again (a replay): the markers moved.
                        // Recording them keeps reports on the cheap coverage check; losing
                        // this race to another commit changes nothing.
                        let updated = Manifest {
                            landed: markers.clone(),
                            ..(**manifest).clone()
                        };
                        let body = serde_json::to_vec(&updated).expect("a manifest serialises");
                        rt.block_on(store.put_if(
                            &layout::compacted_current(date),
                            body,
                            found.version(),
                            "application/json",
                        ))?;
                    }
                    repair(rt, store, manifest, settings.grace)?;
                    progress.clear();
                    println!(
                        "analyzer: dt={date} is up to date: compaction run {} covers its {} objects",
                        manifest.run,
                        objects.len()
                    );
                    return Ok(Attempt::Done(Outcome::UpToDate));
                }
                Some(why) => {
                    progress.clear();
                    eprintln!(
                        "analyzer: dt={date}: the current compaction run {} is incomplete ({why}): compacting the day again",
                        manifest.run
                    );
                }
            }
        }
        Current::Unusable { why, .. } => {
            progress.clear();
            eprintln!(
                "analyzer: dt={date}: {} cannot be used ({why}): compacting the day again",
                store.display(&layout::compacted_current(date))
            );
        }
        Current::Usable { .. } | Current::None => {}
    }

    let run = run_id();
    let buckets = settings
        .buckets
        .unwrap_or_else(|| buckets_for(objects.iter().map(|o| o.size).sum()));
    let spill = Spill::create(&settings.tmp, &run, buckets)?;
    // Pass 1: every valid row to its bucket's spill file.
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(objects.len());
    let mut writers: Vec<_> = (0..threads).map(|_| spill.writer()).collect();
    let outcomes = crate::report::timed("spill", || {
        let outcomes = read_objects(
            store,
            rt.handle(),
            &objects,
            &mut writers,
            &|i, n| progress.step(&format!("dt={date}: reading object {} of {n}", i + 1)),
            &|w, i, row| w.push(i, row),
        )?;
        for w in writers {
            w.finish()?;
        }
        anyhow::Ok(outcomes)
    })?;
    let names: Vec<String> = objects.iter().map(|o| store.display(&o.key)).collect();
    let read = ReadTotals::of(&outcomes, &names);

    // Pass 2: each bucket ordered, deduplicated and written as Parquet, one bucket per core
    // at a time (sorting and building a bucket are single-threaded; memory stays bounded by
    // `threads` buckets, not by the day).
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(buckets as usize);
    let next = std::sync::atomic::AtomicU32::new(0);
    let stop = std::sync::atomic::AtomicBool::new(false);
    let write_one = |bucket: u32| -> Result<(PartFile, Written)> {
        progress.step(&format!(
            "dt={date}: writing bucket {} of {buckets}",
            bucket + 1
        ));
        let local = spill.parquet(bucket);
        let spilled = spill.read(bucket)?;
        let written = write_bucket(&spilled, &local);
        drop(spilled);
        spill.remove(bucket);
        let uploaded = written.and_then(|written| {
            let key = layout::compacted_part(date, &run, bucket, buckets);
            rt.block_on(store.put_file(&key, &local))?;
            let bytes = std::fs::metadata(&local).map(|m| m.len()).unwrap_or(0);
            let file = PartFile {
                key,
                bucket,
                rows: written.rows,
                bytes,
            };
            Ok((file, written))
        });
        let _ = std::fs::remove_file(&local);
        uploaded
    };
    let parts: Vec<Result<Vec<(PartFile, Written)>>> =
        crate::report::timed("write buckets", || {
            std::thread::scope(|scope| {
                let handles: Vec<_> = (0..workers)
                    .map(|_| {
                        scope.spawn(|| {
                            let mut done = Vec::new();
                            loop {
                                let bucket =
                                    next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                                if bucket >= buckets
                                    || stop.load(std::sync::atomic::Ordering::Relaxed)
                                {
                                    return Ok(done);
                                }
                                match write_one(bucket) {
                                    Ok(part) => done.push(part),
                                    Err(e) => {
                                        stop.store(true, std::sync::atomic::Ordering::Relaxed);
                                        return Err(e);
                                    }
                                }
                            }
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().expect("a bucket writer panicked"))
                    .collect()
            })
        });
    let mut written: Vec<(PartFile, Written)> = Vec::with_capacity(buckets as usize);
    for part in parts {
        written.extend(part?);
    }
    written.sort_by_key(|(file, _)| file.bucket);
    let mut files = Vec::with_capacity(buckets as usize);
    let mut duplicates: BTreeMap<u64, u64> = BTreeMap::new();
    let mut rows = 0;
    for (file, w) in written {
        rows += w.rows;
        for (minute, n) in w.duplicates_by_minute {
            *duplicates.entry(minute).or_default() += n;
        }
        files.push(file);
    }

    // The commit object, written last.
    let manifest = Manifest {
        format: FORMAT,
        date: date.to_string(),
        run: run.clone(),
        created: pagehit::time::format_ts(chrono::Utc::now().timestamp_millis()),
        buckets,
        files,
        rows,
        covers: Covers {
            objects: objects.len() as u64,
            keys: keys.iter().map(|k| k.to_string()).collect(),
        },
        duplicates: duplicates.values().sum(),
        duplicates_by_minute: duplicates.into_iter().map(|(m, n)| [m, n]).collect(),
        malformed_rows: read.malformed,
        unknown_header_files: read.unknown_header_files,
        landed: markers,
    };
    let body = serde_json::to_vec(&manifest).expect("a manifest serialises");
    drop(spill);

    // Nothing may have deleted this run's files while it wrote them (a compaction that took
    // longer than the grace period): a run is committed only whole.
    if let Some(why) = rt.block_on(missing_files(store, &manifest))? {
        discard(rt, store, date, &run)?;
        return Ok(Attempt::Lost(format!(
            "the files of run {run} were deleted while it ran ({why}; it took longer than the grace period?)"
        )));
    }
    crate::failpoint::pause_at("before-commit");
    // The commit: `_current.json`, written last, only over the version read at the start.
    let current_key = layout::compacted_current(date);
    let swap =
        rt.block_on(store.put_if(&current_key, body, found.version(), "application/json"))?;
    if swap == Swap::Lost {
        discard(rt, store, date, &run)?;
        let winner = match rt.block_on(current(store, date)) {
            Ok(Current::Usable { manifest, .. }) => format!("run {}", manifest.run),
            _ => "another run".to_string(),
        };
        return Ok(Attempt::Lost(format!(
            "another compaction committed {winner} while this one ran; this run ({run}) is discarded"
        )));
    }
    repair(rt, store, &manifest, settings.grace)?;
    progress.clear();
    println!(
        "analyzer: dt={date}: {} objects -> {} hits in {buckets} Parquet files (run {run}); {} duplicates and {} malformed rows dropped{}",
        objects.len(),
        manifest.rows,
        manifest.duplicates,
        manifest.malformed_rows,
        if manifest.unknown_header_files > 0 {
            format!(", {} files with an unknown header not read", manifest.unknown_header_files)
        } else {
            String::new()
        }
    );
    Ok(Attempt::Done(Outcome::Compacted))
}

/// After a commit, or for a day found up to date: the Athena symlink names the current run's
/// files, and runs that `_current.json` (read again now) does not name are deleted once they
/// are past the grace period.
fn repair(
    rt: &tokio::runtime::Runtime,
    store: &Store,
    committed: &Manifest,
    grace: Duration,
) -> Result<()> {
    let date = committed.date.as_str();
    // Read again: another compaction may have committed since, and its run is never deleted.
    let manifest = match rt.block_on(current(store, date))? {
        Current::Usable { manifest, .. } => *manifest,
        // Replaced by something unusable since: leave every run alone.
        Current::None | Current::Unusable { .. } => return Ok(()),
    };
    // For Athena's SymlinkTextInputFormat: the current run's files, one URL a line.
    let symlink: String = manifest
        .files
        .iter()
        .map(|f| format!("{}\n", store.display(&f.key)))
        .collect();
    let symlink_key = layout::compacted_symlink(date);
    let written = rt.block_on(store.get(&symlink_key))?;
    if written.as_deref() != Some(symlink.as_bytes()) {
        rt.block_on(store.put_typed(&symlink_key, symlink, "text/plain"))?;
    }

    let entries = rt.block_on(store.list_entries(&layout::compacted_dir(date)))?;
    let now = chrono::Utc::now().timestamp_millis();
    let grace_ms = i64::try_from(grace.as_millis()).unwrap_or(i64::MAX);
    let old = |ms: i64| now.saturating_sub(ms) >= grace_ms;
    let current_key = layout::compacted_current(date);
    let committed_at = entries
        .iter()
        .find(|e| e.key == current_key)
        .map_or(now, |e| e.modified_ms);
    // The runs' folders and their newest file.
    let mut runs: BTreeMap<String, i64> = BTreeMap::new();
    for e in &entries {
        if let Some(run) = run_of(date, &e.key) {
            let newest = runs.entry(run.to_string()).or_insert(i64::MIN);
            *newest = (*newest).max(e.modified_ms);
        }
    }
    let mut kept = 0;
    for (run, newest) in runs {
        if run == manifest.run {
            continue;
        }
        // Replaced before the current commit (readers may still be on it), or a run still
        // being written (its newest file is recent): not yet.
        if !(old(committed_at) && old(newest)) {
            kept += 1;
            continue;
        }
        let folder = layout::compacted_run_dir(date, &run);
        for e in entries.iter().filter(|e| e.key.starts_with(&folder)) {
            rt.block_on(store.delete(&e.key))?;
        }
    }
    if kept > 0 {
        eprintln!(
            "analyzer: dt={date}: {kept} replaced or unfinished runs kept until they are {} old (--grace)",
            humanize(grace)
        );
    }
    Ok(())
}

/// The run id of a key under `compacted/dt=DATE/run=ID/`.
fn run_of<'k>(date: &str, key: &'k str) -> Option<&'k str> {
    let rest = key.strip_prefix(&layout::compacted_dir(date))?;
    let rest = rest.strip_prefix("run=")?;
    rest.split_once('/').map(|(run, _)| run)
}

/// Deletes the files of this process's own run, which is not current and never will be.
fn discard(rt: &tokio::runtime::Runtime, store: &Store, date: &str, run: &str) -> Result<()> {
    for object in rt.block_on(store.list(&layout::compacted_run_dir(date, run)))? {
        rt.block_on(store.delete(&object.key))?;
    }
    Ok(())
}

/// `6h`, `30m`, `90s`: a grace period as the user writes it.
fn humanize(d: Duration) -> String {
    let s = d.as_secs();
    if s > 0 && s.is_multiple_of(3600) {
        format!("{}h", s / 3600)
    } else if s > 0 && s.is_multiple_of(60) {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}
