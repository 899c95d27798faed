//! The analyzer: turns the landed hit objects of a local day or period (`hits/dt=.../*.csv`,
//! or the compacted Parquet days `analyzer compact` makes of them, from a folder or `s3://`)
//! into page, user, source, device and event reports, printed as a table, JSON, CSV, Markdown or
//! HTML and optionally written back to a folder or S3.
//!
//! The binary's `main` only parses the command line and maps errors to exit codes; each
//! subcommand lives in [`cmd`]. The flow: [`source`] (what to read) -> [`transform`] (rows into
//! compact columns) -> [`report`] (computing) -> [`output`] (rendering, `--out`); `compact`
//! writes through [`sink`].

pub mod cli;
pub mod cmd;
pub mod compacted;
pub mod error;
pub mod failpoint;
pub mod output;
pub mod period;
pub mod progress;
pub mod report;
pub mod sink;
pub mod source;
pub mod transform;

/// Runs one parsed command line.
pub fn run(cli: cli::Cli) -> anyhow::Result<()> {
    match cli.command {
        cli::Command::Report(args) => cmd::report::run(args),
        cli::Command::Compact(args) => cmd::compact::run(args),
    }
}
