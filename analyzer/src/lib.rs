//! The analyzer: turns the `hits/dt=YYYY-MM-DD/*.csv` partitions of one local day (from a folder
//! or `s3://`) into a page report, a user report and a summary, printed as a table, JSON, CSV,
//! Markdown or HTML and optionally written back to a folder or S3.
//!
//! The binary's `main` only parses the command line and maps errors to exit codes; each
//! subcommand lives in [`cmd`].

pub mod cli;
pub mod cmd;
pub mod day;
pub mod error;
pub mod location;
pub mod output;
pub mod progress;
pub mod report;
pub mod source;

/// Runs one parsed command line.
pub fn run(cli: cli::Cli) -> anyhow::Result<()> {
    match cli.command {
        cli::Command::Report(args) => cmd::report::run(args),
    }
}
