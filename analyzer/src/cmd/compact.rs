//! `analyzer compact`: landed CSV objects of UTC days -> one compacted run per day (Parquet
//! by visitor bucket), published by its `_current.json` (see [`crate::compacted`]).

use crate::cli::CompactArgs;
use crate::compacted::{buckets_for, Covers, Manifest, PartFile, FORMAT};
use crate::error::{NoData, Usage};
use crate::progress::Progress;
use crate::sink::compacted::{write_bucket, Spill, Written};
use crate::source::csv::{read_objects, ReadTotals};
use crate::source::{current_run, landed};
use anyhow::{Context, Result};
use pagehit::layout;
use std::collections::BTreeMap;
use store::Store;

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
    let tmp = args.tmp.clone().unwrap_or_else(std::env::temp_dir);
    let mut any = false;
    for date in period.partitions() {
        let outcome = compact_day(&rt, &store, &date, &tmp, args.buckets, &progress)
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

/// Compacts one UTC day.
pub fn compact_day(
    rt: &tokio::runtime::Runtime,
    store: &Store,
    date: &str,
    tmp: &std::path::Path,
    buckets: Option<u32>,
    progress: &Progress,
) -> Result<Outcome> {
    progress.step(&format!(
        "listing {}",
        store.display(&layout::hits_dir(date))
    ));
    let objects = rt.block_on(landed(store, date))?;
    if objects.is_empty() {
        return Ok(Outcome::NoData);
    }
    let keys: Vec<&str> = objects.iter().map(|o| o.key.as_str()).collect();
    if let Ok(Some(current)) = rt.block_on(current_run(store, date)) {
        if current.format == FORMAT && current.covers(&keys) {
            progress.clear();
            println!(
                "analyzer: dt={date} is up to date: compaction run {} covers its {} objects",
                current.run,
                objects.len()
            );
            return Ok(Outcome::UpToDate);
        }
    }

    let run = run_id();
    let buckets = buckets.unwrap_or_else(|| buckets_for(objects.iter().map(|o| o.size).sum()));
    let spill = Spill::create(tmp, &run, buckets)?;

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
        let local = tmp.join(format!("analyzer-compact-{run}-{bucket}.parquet"));
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

    // The commit: `_current.json`, written last.
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
    };
    let body = serde_json::to_vec(&manifest).expect("a manifest serialises");
    rt.block_on(store.put_typed(&layout::compacted_current(date), body, "application/json"))?;
    // For Athena's SymlinkTextInputFormat: the current run's files, one URL a line.
    let symlink: String = manifest
        .files
        .iter()
        .map(|f| format!("{}\n", store.display(&f.key)))
        .collect();
    rt.block_on(store.put_typed(&layout::compacted_symlink(date), symlink, "text/plain"))?;

    // Older runs go only now that the new one is current.
    let mine = layout::compacted_run_dir(date, &run);
    for object in rt.block_on(store.list(&layout::compacted_dir(date)))? {
        let old_run = object.key.contains("/run=") && !object.key.starts_with(&mine);
        if old_run {
            rt.block_on(store.delete(&object.key))?;
        }
    }
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
    Ok(Outcome::Compacted)
}
