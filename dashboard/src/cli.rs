//! The command line (clap derive). Values are checked while parsing, so every usage mistake
//! exits 2 through clap.

use crate::window::{self, MAX_MINUTES};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;

const EXAMPLES: &str = "\
Examples:
  # What is happening on the site now, in the terminal (q or Ctrl-C quits)
  dashboard live --stream page-hits

  # One snapshot for a script or cron: catch up with every shard, print, exit
  dashboard live --stream page-hits --once --format json

  # The live page on http://127.0.0.1:8080/ (loopback only: nobody else can reach it)
  dashboard serve --stream page-hits

  # The history of the landed days too: any period, filters, /api/report (JSON as the analyzer's)
  dashboard serve --stream page-hits --source s3://my-bucket/hits-prefix --tz Europe/Berlin

  # Reachable from other machines: a token is required (Authorization: Bearer, or the login form)
  DASHBOARD_TOKEN=$(openssl rand -hex 32) dashboard serve --stream page-hits --listen 0.0.0.0:8080

Exit codes: 0 done, 2 usage error, 1 anything else.";

const WINDOW_DETAILS: &str = "\
Reads every shard of the stream from --window-minutes (plus the 30-minute session gap, to know
where sessions started) before now, then polls each shard about once a second, following
reshards. Counts are exact, by each hit's own ts, over UTC minute buckets: the current minute and
the ones before it. `visitors_now` and each page's `now` are the visitors with a page view in the
last 5 minutes, each on the page of their latest one. Crawlers, repeated records, records that
are not valid hits and hits outside the window are counted apart and left out of the rest. Each
list counts at most --max-values distinct values by name (the rest as `(other)`), so a flood of
unique paths cannot exhaust memory. Nothing is written anywhere.

Kinesis settings come from the AWS SDK: credentials from the environment, a profile or a role;
AWS_REGION; AWS_ENDPOINT_URL or AWS_ENDPOINT_URL_KINESIS for an emulator.";

/// The live view of the page-hit stream.
#[derive(Debug, Parser)]
#[command(
    name = "dashboard",
    version,
    about = "What is happening on the site now: exact sliding windows of the page-hit stream, \
             in a terminal, as JSON, or as a live web page",
    after_help = EXAMPLES
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// The live view in the terminal (or one snapshot with --once).
    #[command(after_long_help = WINDOW_DETAILS)]
    Live(LiveArgs),
    /// The live page over HTTP: GET / (the page), /api/live (the snapshot), /api/live/events
    /// (Server-Sent Events), /healthz.
    #[command(after_long_help = WINDOW_DETAILS)]
    Serve(ServeArgs),
}

/// How to count the live window (shared by every subcommand).
#[derive(Debug, Clone, Args)]
pub struct WindowArgs {
    /// Minutes in the window (1 to 60): the current UTC minute and the ones before it.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_MINUTES)))]
    pub window_minutes: u32,
    /// Rows of each list.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub top: u32,
    /// Distinct values each list counts by name at once; the rest are `(other)`.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
    pub max_values: u32,
}

impl WindowArgs {
    /// The window's options.
    pub fn options(&self) -> window::Options {
        window::Options {
            minutes: self.window_minutes,
            top: self.top as usize,
            max_values: self.max_values as usize,
        }
    }
}

/// `dashboard live`.
#[derive(Debug, Args)]
pub struct LiveArgs {
    /// The Kinesis stream of page hits.
    #[arg(long, env = "DASHBOARD_STREAM")]
    pub stream: String,
    #[command(flatten)]
    pub window: WindowArgs,
    /// Catch up with every shard, print one snapshot and exit.
    #[arg(long)]
    pub once: bool,
    /// How --once prints the snapshot (without --once, a terminal gets the live view and
    /// anything else one JSON line per change).
    #[arg(long, value_enum, default_value = "table", requires = "once")]
    pub format: Format,
}

/// How a snapshot is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned text.
    Table,
    /// The snapshot's JSON (the contract of /api/live).
    Json,
}

/// `dashboard serve`: the live view (`--stream`), the history (`--source`), or both.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("input").required(true).multiple(true).args(["stream", "source"])))]
pub struct ServeArgs {
    /// The Kinesis stream of page hits: the live view on `/`.
    #[arg(long, env = "DASHBOARD_STREAM")]
    pub stream: Option<String>,
    /// Where the landed hits are (s3://BUCKET/PREFIX or a folder holding hits/dt=YYYY-MM-DD/):
    /// the history on `/history`, any period with filters, and `/api/report`.
    #[arg(long, env = "DASHBOARD_SOURCE", value_parser = clap::value_parser!(store::Location))]
    pub source: Option<store::Location>,
    /// The time zone of the history when a URL gives none (IANA, e.g. Europe/Berlin).
    #[arg(long, default_value = "UTC", value_parser = analyzer::cli::parse_tz)]
    pub tz: chrono_tz::Tz,
    /// Memory the history may keep periods in once read, e.g. 512MiB or 3GiB (0: none): a
    /// period it holds answers a new filter from memory; one past it is read anew for each
    /// request. About 100 bytes a hit (30 days of 1M hits take ~2.9 GB).
    #[arg(long, env = "DASHBOARD_CACHE_MEMORY", default_value = "1GiB", value_parser = analyzer::cli::parse_size)]
    pub cache_memory: u64,
    /// Memory the tables of a report (pages, users, sources, campaigns, referrers) may hold
    /// before they spill to the temporary folder, as `analyzer report --memory-budget`; one
    /// report runs at a time, beside the kept periods. A month of a busy site's signed-in page
    /// views spills at 512MiB, which costs a click about a second and a half.
    #[arg(long, env = "DASHBOARD_MEMORY_BUDGET", default_value = "1GiB", value_parser = analyzer::cli::parse_size)]
    pub memory_budget: u64,
    #[command(flatten)]
    pub window: WindowArgs,
    /// Address to listen on. Anything but a loopback address requires DASHBOARD_TOKEN.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn bad_values_are_usage_errors() {
        for args in [
            &[
                "dashboard",
                "live",
                "--stream",
                "s",
                "--window-minutes",
                "0",
            ][..],
            &[
                "dashboard",
                "live",
                "--stream",
                "s",
                "--window-minutes",
                "61",
            ],
            &["dashboard", "live", "--stream", "s", "--format", "json"],
            &["dashboard", "serve", "--stream", "s", "--listen", "nowhere"],
            &["dashboard", "live"],
            &["dashboard", "serve"],
            &["dashboard", "serve", "--source", "/d", "--tz", "Mars/Base"],
        ] {
            let err = Cli::try_parse_from(args).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{args:?}: {err}");
        }
        let ok = Cli::try_parse_from([
            "dashboard",
            "live",
            "--stream",
            "s",
            "--once",
            "--format",
            "json",
        ]);
        assert!(ok.is_ok());
    }
}
