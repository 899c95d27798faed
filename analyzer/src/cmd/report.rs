//! `analyzer report`: plan what to read, read it into hit columns bucket by bucket, compute,
//! print and optionally write back.

use crate::cli::{Format, ReportArgs};
use crate::compacted::bucket_of;
use crate::error::Usage;
use crate::output;
use crate::period::Period;
use crate::progress::Progress;
use crate::report::agents::Agents;
use crate::report::compute::{self, Accumulator, Names, Options, Reading};
use crate::source::csv::{read_objects, ReadTotals};
use crate::source::{self, compacted, Partition, Plan};
use crate::transform::hits::{Caches, Dicts, Hits};
use anyhow::{bail, Context, Result};
use std::io::Write;
use store::{Object, Store};

/// Runs `analyzer report` to completion.
pub fn run(args: ReportArgs) -> Result<()> {
    let rt = super::runtime()?;
    let progress = Progress::stderr();
    let period = args
        .period
        .resolve(args.tz, chrono::Utc::now())
        .map_err(Usage)?;
    let store = rt.block_on(Store::open(&args.source))?;
    let note = |line: String| {
        progress.clear();
        eprintln!("analyzer: {line}");
    };

    progress.step(&format!("listing {} for {period}", args.source));
    let plan = rt.block_on(source::plan(&store, &period, &note))?;
    if plan.is_empty() {
        return Err(source::no_data(&store, &period).into());
    }
    let opts = Options {
        top: args.top.map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
        include_bots: args.include_bots,
    };
    let dicts = Dicts::default();
    let agents = Agents::default();
    let (current, reading) = accumulate(
        &rt, &store, &period, &plan, &dicts, &agents, opts, &progress,
    )?;
    if args.strict && (reading.malformed_rows > 0 || reading.unknown_header_files > 0) {
        bail!(
            "{} malformed rows and {} files with an unknown header in the {} files read for {period} (--strict); the first: {}",
            reading.malformed_rows,
            reading.unknown_header_files,
            reading.files,
            reading.first_problem.as_deref().unwrap_or("in a compacted day (see its _current.json)")
        );
    }

    let before = period.previous();
    let previous = if args.compare {
        progress.step(&format!("listing {} for {before}", args.source));
        let plan = rt.block_on(source::plan(&store, &before, &note))?;
        Some(accumulate(
            &rt, &store, &before, &plan, &dicts, &agents, opts, &progress,
        )?)
    } else {
        None
    };

    progress.step("computing the reports");
    let names = Names {
        path: dicts.path.snapshot(),
        user: dicts.user.snapshot(),
        country: dicts.country.snapshot(),
        source: dicts.source.snapshot(),
        ref_host: dicts.ref_host.snapshot(),
        campaign: dicts.campaign.snapshot(),
        event: dicts.event.snapshot(),
        browser: agents.browsers.snapshot(),
        os: agents.os.snapshot(),
    };
    let totals = crate::report::timed("finish", || current.finish(&names, &reading, opts))?;
    let previous = match previous {
        Some((acc, reading)) => Some((&before, acc.finish(&names, &reading, opts)?)),
        None => None,
    };
    let report = compute::report(&period, totals, previous, opts);

    if let Some(out) = &args.out {
        progress.step(&format!("writing the report files to {out}"));
        let out = rt.block_on(Store::create(out))?;
        rt.block_on(output::sink::write_report(&out, &report))?;
    }
    progress.finish();

    // With --out a scheduled job wants no stdout unless it asked for a format.
    let format = args.format.or(args.out.is_none().then_some(Format::Table));
    if let Some(format) = format {
        let text = output::render(&report, format);
        let mut stdout = std::io::stdout().lock();
        match stdout
            .write_all(text.as_bytes())
            .and_then(|()| stdout.flush())
        {
            // `analyzer report | head` closing the pipe early is not a failure.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            other => other.context("writing the report to stdout")?,
        }
    }
    Ok(())
}

/// Reads a period as `plan` says into an [`Accumulator`]: the CSV partitions whole, the
/// compacted ones bucket by bucket (the next bucket's files are fetched while one is computed).
#[allow(clippy::too_many_arguments)]
fn accumulate<'p>(
    rt: &tokio::runtime::Runtime,
    store: &Store,
    period: &'p Period,
    plan: &Plan,
    dicts: &Dicts,
    agents: &Agents,
    opts: Options,
    progress: &Progress,
) -> Result<(Accumulator<'p>, Reading)> {
    let mut acc = Accumulator::new(period, opts.include_bots);
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
                manifests.push(std::sync::Arc::new((**manifest).clone()));
            }
        }
    }
    let csv = crate::report::timed("read CSV", || {
        read_csv(rt, store, &objects, period, dicts, progress)
    })?;
    let (hits, totals) = csv;
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

    if manifests.is_empty() {
        progress.step(&format!("computing {} hits of {period}", hits.len()));
        acc.add(&hits, agents, &dicts.agent)?;
        return Ok((acc, reading));
    }

    // Some partitions are compacted: every visitor's rows, whatever they were read from, go
    // through in the same bucket.
    let groups = manifests.iter().map(|m| m.buckets).max().unwrap_or(1);
    let mut by_group: Vec<Vec<u32>> = vec![Vec::new(); groups as usize];
    for (r, &v) in hits.vis.iter().enumerate() {
        by_group[bucket_of(v, groups) as usize].push(r as u32);
    }
    let fetch = |group: u32| {
        let (store, manifests) = (store.clone(), manifests.clone());
        rt.spawn(async move {
            let mut files = Vec::with_capacity(manifests.len());
            for m in &manifests {
                files.push(compacted::fetch(&store, m, group, groups).await?);
            }
            anyhow::Ok(files)
        })
    };
    // One thread fetches and decodes the buckets (the next one's files are fetched while one
    // is decoded) while this one computes the bucket before: decoding is half of a compacted
    // day's work, and on its own it would leave cores idle between the parallel steps.
    let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Hits>>(1);
    let (hits, by_group) = (&hits, &by_group);
    std::thread::scope(|scope| {
        scope.spawn(move || {
            let mut next = Some(fetch(0));
            for group in 0..groups {
                let bucket = (|| {
                    let files = rt
                        .block_on(next.take().expect("fetched ahead"))
                        .context("fetching compacted files")??;
                    if group + 1 < groups {
                        next = Some(fetch(group + 1));
                    }
                    let mut bucket = hits.gather(&by_group[group as usize]);
                    for bytes in files {
                        bucket.append(compacted::decode(bytes, group, groups, period, dicts)?);
                    }
                    anyhow::Ok(bucket)
                })();
                let failed = bucket.is_err();
                // A send fails only when the computing side stopped on an error of its own.
                if tx.send(bucket).is_err() || failed {
                    break;
                }
            }
        });
        for group in 0..groups {
            progress.step(&format!(
                "computing bucket {} of {groups} of {period}",
                group + 1
            ));
            let bucket = rx.recv().context("the bucket reader stopped")??;
            acc.add(&bucket, agents, &dicts.agent)?;
        }
        anyhow::Ok(())
    })?;
    Ok((acc, reading))
}

/// Reads landed CSV objects: the rows of `period`, in object then line order.
fn read_csv(
    rt: &tokio::runtime::Runtime,
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
        rt.handle(),
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
