//! From a request to the report: which partitions to read and how ([`source::plan`]), reading
//! them bucket by bucket of visitors, computing, and comparing. The one code path of
//! `analyzer report` and of any program that uses the analyzer as a library (the dashboard's
//! `/api/report`): build a [`Query`], call [`run`], render the [`Report`] with
//! [`crate::output`] (e.g. [`crate::output::json::write`]).

use super::agents::Agents;
use super::cache::Cache;
use super::compute::{self, Accumulator, Names, Options, Prepared, Reading, Totals};
use super::filter::Filters;
use super::spill::{Spill, DEFAULT_BUDGET};
use super::Report;
use crate::compacted::bucket_of;
use crate::period::Period;
use crate::progress::Progress;
use crate::source::csv::{read_objects, ReadTotals};
use crate::source::{self, compacted, Partition, Plan};
use crate::transform::hits::{Caches, Dicts, Hits, Shared};
use anyhow::{bail, Context, Result};
use std::path::PathBuf;
use std::sync::Arc;
use store::{Object, Store};

/// What a report is asked for.
#[derive(Debug, Clone)]
pub struct Query {
    /// The local days, in their zone.
    pub period: Period,
    /// Also the period of equal length just before (`previous`, `previous_hits`).
    pub compare: bool,
    /// Show only the first N rows of every list (`pages.csv` and `users.csv` stay whole).
    pub top: Option<usize>,
    /// Count bot hits in every number.
    pub include_bots: bool,
    /// Fail when a row of the files read is malformed or a file has an unknown header.
    pub strict: bool,
    /// Bytes the report's tables may hold before they spill to `tmp`.
    pub budget: u64,
    /// Where tables spill (the system's temporary folder when `None`).
    pub tmp: Option<PathBuf>,
    /// Count only what these keep (both periods with `compare`).
    pub filters: Filters,
}

impl Query {
    /// The report of `period` with the defaults of `analyzer report`.
    pub fn new(period: Period) -> Query {
        Query {
            period,
            compare: false,
            top: None,
            include_bots: false,
            strict: false,
            budget: DEFAULT_BUDGET,
            tmp: None,
            filters: Filters::default(),
        }
    }
}

/// Computes the report `query` asks for from `store`. `rt` runs the store's requests (call
/// this from a thread that may block on it); `note` receives the lines worth telling a person
/// (a partition read from its CSVs, and why).
pub fn run(
    rt: &tokio::runtime::Handle,
    store: &Store,
    query: &Query,
    progress: &Progress,
    note: &dyn Fn(String),
) -> Result<Report> {
    run_with(rt, store, query, None, progress, note)
}

/// [`run`], reading the periods through `cache` when given: a period it holds (read from
/// the same objects) is counted from memory, one it does not is read, counted and kept. The
/// numbers are the same either way (the same [`Accumulator`] counts the same buckets).
pub fn run_with(
    rt: &tokio::runtime::Handle,
    store: &Store,
    query: &Query,
    cache: Option<&Cache>,
    progress: &Progress,
    note: &dyn Fn(String),
) -> Result<Report> {
    let period = &query.period;
    let opts = Options {
        top: query.top,
        include_bots: query.include_bots,
    };
    // With --compare each period has half of the budget.
    let budget = if query.compare {
        query.budget / 2
    } else {
        query.budget
    };
    let spill = Spill::new(budget, query.tmp.clone());
    // Both periods are read and counted alike.
    let count = |period: &Period, plan: &Plan| -> Result<(Totals, Reading)> {
        let mut acc = Accumulator::new(period, opts.include_bots, &query.filters, &spill);
        let cached = cache.and_then(|c| c.get_or_load(rt, store, period, plan, opts, progress));
        let (reading, names) = match cached {
            Some(loaded) => {
                let loaded = loaded?;
                for (i, bucket) in loaded.buckets.iter().enumerate() {
                    progress.step(&format!(
                        "counting bucket {} of {} of {period}",
                        i + 1,
                        loaded.buckets.len()
                    ));
                    acc.count(bucket, &loaded.agents)?;
                }
                (
                    loaded.reading.clone(),
                    names(&loaded.shared, &loaded.agents),
                )
            }
            None => {
                let mut each = |bucket: Prepared, agents: &Agents| acc.count(&bucket, agents);
                let (reading, shared, agents) =
                    read(rt, store, (period, plan), opts, false, progress, &mut each)?;
                (reading, names(&shared, &agents))
            }
        };
        let totals = super::timed("finish", || acc.finish(&names, &reading, opts))?;
        Ok((totals, reading))
    };
    progress.step(&format!("listing {} for {period}", store.location()));
    let plan = rt.block_on(source::plan(store, period, note))?;
    if plan.is_empty() {
        return Err(source::no_data(store, period).into());
    }
    let (totals, reading) = count(period, &plan)?;
    if query.strict && (reading.malformed_rows > 0 || reading.unknown_header_files > 0) {
        bail!(
            "{} malformed rows and {} files with an unknown header in the {} files read for {period} (--strict); the first: {}",
            reading.malformed_rows,
            reading.unknown_header_files,
            reading.files,
            reading.first_problem.as_deref().unwrap_or("in a compacted day (see its _current.json)")
        );
    }
    let before = period.previous();
    let previous = if query.compare {
        progress.step(&format!("listing {} for {before}", store.location()));
        let plan = rt.block_on(source::plan(store, &before, note))?;
        Some(count(&before, &plan)?)
    } else {
        None
    };

    progress.step("computing the reports");
    let previous = previous.map(|(totals, _)| (&before, totals));
    let mut report = compute::report(period, totals, previous, opts, &spill)?;
    report.filters = query.filters.expressions();
    Ok(report)
}

/// The names behind a period's shared codes.
fn names(shared: &Shared, agents: &Agents) -> Names {
    Names {
        country: shared.country.snapshot(),
        event: shared.event.snapshot(),
        browser: agents.browsers.snapshot(),
        os: agents.os.snapshot(),
    }
}

/// Reads a period as `plan` says and hands each bucket of visitors, prepared, to `each` (with
/// the period's agent classes): the CSV partitions as one bucket, the compacted ones bucket by
/// bucket (the next bucket's files are fetched while one is counted); `lay_out` when the
/// buckets are kept and counted again (see [`Prepared::new`]). Returns what reading
/// found and the period's shared codes and agent classes.
pub(crate) fn read(
    rt: &tokio::runtime::Handle,
    store: &Store,
    (period, plan): (&Period, &Plan),
    opts: Options,
    lay_out: bool,
    progress: &Progress,
    each: &mut dyn FnMut(Prepared, &Agents) -> Result<()>,
) -> Result<(Reading, Arc<Shared>, Agents)> {
    let codes = (Arc::new(Shared::default()), Agents::default());
    let (shared, agents) = (&codes.0, &codes.1);
    let mut reading = Reading {
        partitions: plan.present(),
        missing_partitions: plan.missing(),
        ..Reading::default()
    };
    let mut objects: Vec<Object> = Vec::new();
    let mut manifests = Vec::new();
    for (_, how) in &plan.partitions {
        match how {
            Partition::Missing => {}
            Partition::Csv(o) => objects.extend(o.iter().cloned()),
            Partition::Compacted { manifest, objects } => {
                reading.files += objects;
                reading.malformed_rows += manifest.malformed_rows;
                reading.unknown_header_files += manifest.unknown_header_files;
                reading.duplicates += manifest.duplicates_between(period.start_ms, period.end_ms);
                manifests.push(Arc::new((**manifest).clone()));
            }
        }
    }
    let csv_dicts = Dicts::new(shared.clone());
    let (hits, totals) = super::timed("read CSV", || {
        read_csv(rt, store, &objects, period, &csv_dicts, progress)
    })?;
    reading.files += totals.files;
    reading.malformed_rows += totals.malformed;
    reading.unknown_header_files += totals.unknown_header_files;
    reading.first_problem.clone_from(&totals.first_problem);
    if let Some(problem) = &totals.first_problem {
        if totals.unknown_header_files > 0 {
            progress.clear();
            eprintln!(
                "analyzer: {} files not read (not page-hit files); the first: {problem}",
                totals.unknown_header_files
            );
        }
    }
    let prepare =
        |hits: Hits, dicts: Dicts| Prepared::new(hits, dicts, agents, opts.include_bots, lay_out);

    if manifests.is_empty() {
        progress.step(&format!("computing {} hits of {period}", hits.len()));
        each(prepare(hits, csv_dicts)?, agents)?;
        return Ok((reading, codes.0, codes.1));
    }

    // Some partitions are compacted: every visitor's rows, whatever they were read from, go
    // through in the same bucket, with the bucket's dictionaries.
    let groups = manifests.iter().map(|m| m.buckets).max().unwrap_or(1);
    let mut by_group: Vec<Vec<u32>> = vec![Vec::new(); groups as usize];
    for (r, &v) in hits.vis.iter().enumerate() {
        by_group[bucket_of(v, groups) as usize].push(r as u32);
    }
    // One thread fetches and decodes the buckets (the next one's files are fetched while one
    // is decoded) while this one computes the bucket before: decoding is half of a compacted
    // day's work, and on its own it would leave cores idle between the parallel steps. The
    // channel holds nothing: a decoded bucket waits in the reader's hands until this thread
    // takes it, so at most two buckets are in memory (a queue of one made that three, ~25% of
    // the peak on a day of unique paths).
    let (tx, rx) = std::sync::mpsc::sync_channel::<Result<(Hits, Dicts)>>(0);
    let (hits, by_group, csv_dicts, files_of) = (&hits, &by_group, &csv_dicts, &manifests);
    std::thread::scope(|scope| {
        scope.spawn(move || {
            // The files in the order they are decoded (bucket by bucket, a day after another),
            // fetched up to AHEAD ahead, several at once: decoding starts with the first file,
            // not once a whole bucket's files are in memory, and a store's latency is paid in
            // parallel.
            let mut order = (0..groups).flat_map(|g| files_of.iter().map(move |m| (g, m.clone())));
            let mut ahead = std::collections::VecDeque::new();
            let mut fetch_next = |ahead: &mut std::collections::VecDeque<_>| {
                if let Some((group, m)) = order.next() {
                    let store = store.clone();
                    ahead.push_back(
                        rt.spawn(async move { compacted::fetch(&store, &m, group, groups).await }),
                    );
                }
            };
            for _ in 0..AHEAD {
                fetch_next(&mut ahead);
            }
            // A bucket: the landed rows of its visitors, then its compacted files' rows, their
            // ids read only when `ids` (else `None` when sources may tie: read again with ids).
            let fill = |group: u32,
                        ids: bool,
                        next: &mut dyn FnMut() -> Result<bytes::Bytes>|
             -> Result<Option<(Hits, Dicts)>> {
                let dicts = Dicts::new(shared.clone());
                let landed = &by_group[group as usize];
                // Room for every row the files hold (an upper bound: rows outside the period
                // or the group leave room that is never touched, so never resident), so the
                // columns are written once, where they stay.
                let mut rows = landed.len() as u64;
                for m in files_of {
                    rows += compacted::file_for(m, group, groups)?.rows;
                }
                let ids_for = if ids { rows } else { landed.len() as u64 };
                let mut room = Hits::room(rows as usize, ids_for as usize);
                let landed_rows = landed.len();
                let mut landed = hits.gather(landed);
                landed.recode(csv_dicts, &dicts);
                room.append(&landed);
                drop(landed);
                if !ids {
                    room.without_ids();
                }
                let mut spans = Vec::with_capacity(files_of.len());
                for m in files_of {
                    let bytes = next()?;
                    // A day compacted into as many buckets as there are groups: its file
                    // holds this group's visitors alone, no row's visitor is tested.
                    let of = if m.buckets == groups {
                        (0, 1)
                    } else {
                        (group, groups)
                    };
                    spans.extend(compacted::decode(
                        bytes, of, period, &dicts, &mut room, ids,
                    )?);
                }
                let bucket = room.finish();
                // The landed rows come first in the room.
                if !ids && compacted::ranges_meet(&bucket.ts[..landed_rows], &spans) {
                    return Ok(None);
                }
                Ok(Some((bucket, dicts)))
            };
            for group in 0..groups {
                let bucket = (|| {
                    let mut queued = || {
                        let file = ahead.pop_front().expect("one fetch a file");
                        fetch_next(&mut ahead);
                        rt.block_on(file).context("fetching compacted files")?
                    };
                    if let Some(bucket) = fill(group, false, &mut queued)? {
                        return Ok(bucket);
                    }
                    // Rows of two sources may tie: the bucket again, with every row's id.
                    let mut files = files_of.iter();
                    let mut again = || {
                        let m = files.next().expect("one fetch a file").clone();
                        rt.block_on(compacted::fetch(store, &m, group, groups))
                    };
                    Ok(fill(group, true, &mut again)?.expect("read with ids"))
                })();
                let failed = bucket.is_err();
                // A send fails only when the computing side stopped on an error of its own.
                if tx.send(bucket).is_err() || failed {
                    break;
                }
            }
        });
        // Owned here, so that an error of this side drops it: the reader's next send then
        // fails and it stops, where it waited for ever.
        let rx = rx;
        for group in 0..groups {
            progress.step(&format!(
                "computing bucket {} of {groups} of {period}",
                group + 1
            ));
            let (bucket, dicts) = rx.recv().context("the bucket reader stopped")??;
            each(prepare(bucket, dicts)?, agents)?;
        }
        anyhow::Ok(())
    })?;
    Ok((reading, codes.0, codes.1))
}

/// Compacted files fetched ahead of the one being decoded.
const AHEAD: usize = 6;

/// Reads landed CSV objects: the rows of `period`, in object then line order.
fn read_csv(
    rt: &tokio::runtime::Handle,
    store: &Store,
    objects: &[Object],
    period: &Period,
    dicts: &Dicts,
    progress: &Progress,
) -> Result<(Hits, ReadTotals)> {
    if objects.is_empty() {
        return Ok((Hits::default(), ReadTotals::default()));
    }
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(objects.len());
    // Per thread: its dictionary caches, and the rows of each object it read (the size of a
    // row in a file is about 270 bytes: room is made for an object's rows at once).
    let mut states: Vec<(Caches, Vec<(usize, Hits)>)> = (0..threads)
        .map(|_| (Caches::default(), Vec::new()))
        .collect();
    let outcomes = read_objects(
        store,
        rt,
        objects,
        &mut states,
        &|i, n| progress.step(&format!("reading object {} of {n} for {period}", i + 1)),
        &|(caches, parts), i, row| {
            if !period.contains(row.ts_ms) {
                return;
            }
            if parts.last().is_none_or(|(f, _)| *f != i) {
                let rows = (objects[i].size / 200) as usize;
                parts.push((i, Hits::with_capacity(rows)));
            }
            if let Some((_, hits)) = parts.last_mut() {
                hits.push(dicts, caches, &row.hit, row.ts_ms);
            }
        },
    )?;
    let names: Vec<String> = objects.iter().map(|o| store.display(&o.key)).collect();
    let totals = ReadTotals::of(&outcomes, &names);
    let mut parts: Vec<(usize, Hits)> = states.into_iter().flat_map(|(_, p)| p).collect();
    parts.sort_by_key(|(i, _)| *i);
    Ok((
        Hits::concat(parts.into_iter().map(|(_, h)| h).collect()),
        totals,
    ))
}
