//! The dashboard: the live view of the page-hit stream. It reads every shard of the Kinesis
//! stream itself ([`source`]), keeps exact counts over a sliding window of minutes
//! ([`window`]) and shows them ([`snapshot`]) in a terminal, as JSON, or as a web page that
//! updates itself ([`server`]); with `--source`, any period of the landed days with filters,
//! computed by the analyzer as a library ([`history`]). It writes nothing anywhere: no
//! checkpoint, no object.
//!
//! The binary's `main` only parses the command line and maps errors to exit codes; each
//! subcommand lives in [`cmd`].

pub mod alloc;
pub mod cli;
pub mod cmd;
pub mod history;
pub mod server;
pub mod snapshot;
pub mod source;
pub mod view;
pub mod window;

/// Runs one parsed command line.
pub fn run(cli: cli::Cli) -> anyhow::Result<()> {
    match cli.command {
        cli::Command::Live(args) => cmd::live::run(args),
        cli::Command::Serve(args) => cmd::serve::run(args),
    }
}

/// Milliseconds since the Unix epoch: the clock every window call is given.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
