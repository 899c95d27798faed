//! `analyzer report`: list the day's files, load, compute, print and optionally write back.

use crate::cli::{Format, ReportArgs};
use crate::day::Day;
use crate::output;
use crate::progress::Progress;
use crate::report::{compute, load};
use crate::source;
use anyhow::{bail, Context};
use std::io::Write;

/// Runs `analyzer report` to completion.
pub fn run(args: ReportArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(run_async(args))
}

async fn run_async(args: ReportArgs) -> anyhow::Result<()> {
    let progress = Progress::stderr();
    let day = Day::new(args.date.resolve(args.tz, chrono::Utc::now()), args.tz);

    progress.step(&format!("listing {} for {day}", args.source));
    let found = source::find_day_files(&args.source, &day).await?;

    let include_bots = args.include_bots;
    let files = found.files.clone();
    // Loading blocks (parser threads; S3 objects fetched through this runtime's handle) and so
    // does polars' collect: keep both off the async workers.
    let (loaded, progress) = tokio::task::spawn_blocking(move || {
        let on_file = |i: usize, n: usize| {
            progress.step(&format!("reading file {} of {n} for {day}", i + 1));
        };
        let loaded = load::load(&files, &day, include_bots, &on_file);
        (loaded, progress)
    })
    .await
    .context("the reading task failed")?;
    let loaded = loaded?;
    if args.strict && loaded.malformed > 0 {
        bail!(
            "{} malformed rows in the {} files read for {day} (--strict)",
            loaded.malformed,
            found.files.len()
        );
    }

    progress.step(&format!(
        "computing reports on {} hits",
        loaded.hits.height()
    ));
    let opts = compute::Options {
        top: args.top.map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
        include_bots,
        files: found.files.len() as u64,
        partitions: found.partitions.clone(),
    };
    let report = tokio::task::spawn_blocking(move || compute::compute(loaded, &day, &opts))
        .await
        .context("the report task failed")??;

    if let Some(out) = &args.out {
        progress.step(&format!("writing the report files to {out}"));
        output::sink::write_report(out, &report).await?;
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
