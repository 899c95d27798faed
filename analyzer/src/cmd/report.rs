//! `analyzer report`: the command line to a [`Query`], the report computed by
//! [`query::run`], printed and optionally written back.

use crate::cli::{Format, ReportArgs};
use crate::error::Usage;
use crate::output;
use crate::progress::Progress;
use crate::report::query::{self, Query};
use anyhow::{Context, Result};
use store::Store;

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
    let query = Query {
        period,
        compare: args.compare,
        top: args.top.map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
        include_bots: args.include_bots,
        strict: args.strict,
        budget: args.memory_budget,
        tmp: args.tmp.clone(),
        filters: crate::report::filter::Filters(args.filters.clone()),
    };
    let report = query::run(rt.handle(), &store, &query, &progress, &note)?;

    if let Some(out) = &args.out {
        progress.step(&format!("writing the report files to {out}"));
        let out = rt.block_on(Store::create(out))?;
        let tmp = args.tmp.clone().unwrap_or_else(std::env::temp_dir);
        rt.block_on(output::sink::write_report(&out, &report, &tmp))?;
    }
    progress.finish();

    // With --out a scheduled job wants no stdout unless it asked for a format.
    let format = args.format.or(args.out.is_none().then_some(Format::Table));
    if let Some(format) = format {
        let mut stdout = std::io::stdout().lock();
        let written = output::write(&report, format, &mut stdout).and_then(|()| {
            std::io::Write::flush(&mut stdout).context("writing the report to stdout")
        });
        if let Err(e) = written {
            // `analyzer report | head` closing the pipe early is not a failure.
            let pipe = e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
                    || c.downcast_ref::<serde_json::Error>()
                        .and_then(|j| j.io_error_kind())
                        == Some(std::io::ErrorKind::BrokenPipe)
            });
            if !pipe {
                return Err(e.context("writing the report to stdout"));
            }
        }
    }
    Ok(())
}
