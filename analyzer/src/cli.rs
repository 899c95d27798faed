//! The command line (clap derive). Values are checked while parsing, so every usage mistake
//! exits 2 through clap.

use crate::day::DateArg;
use crate::location::Location;
use chrono_tz::Tz;
use clap::{Args, Parser, Subcommand, ValueEnum};

const EXAMPLES: &str = "\
Examples:
  # Yesterday (UTC) from a local folder, as a table
  analyzer report --source ./data

  # A Tokyo day from S3 as JSON (reads hits/dt=2026-11-24 and dt=2026-11-25)
  analyzer report --source s3://my-bucket/analytics --date 2026-11-25 --tz Asia/Tokyo --format json

  # Top 20 pages and users as Markdown, bots included
  analyzer report --date today --format markdown --top 20 --include-bots

  # crontab on a UTC server: yesterday's Tokyo report at 00:30 Tokyo time (15:30 UTC)
  ANALYZER_SOURCE=s3://my-bucket/analytics
  30 15 * * * analyzer report --tz Asia/Tokyo --out s3://my-bucket/analytics/reports

Exit codes: 0 done, 2 usage error, 3 no data for that day (no hit files), 1 anything else.";

const REPORT_DETAILS: &str = "\
Reads <SOURCE>/hits/dt=YYYY-MM-DD/*.csv for every UTC date the local day touches and keeps the
hits whose ts is in that day. Duplicate event_ids are dropped; bot hits are left out unless
--include-bots (they are counted in the summary either way). A row is malformed when event_id,
path or visitor is empty, ts is not YYYY-MM-DDTHH:MM:SS.mmmZ, status is not a number from 100 to
599 or bot is not true/false; malformed rows in the files read are counted (--strict: exit 1).

Sessions end after more than 30 minutes without a hit. Page entries, exits and bounces come from
visitor sessions (every hit has a visitor): an entry is a session's first hit, an exit its last, a
bounce a one-hit session. The user report counts sessions per signed-in user across devices. The
summary's sessions count people: per user for signed-in hits, per visitor for anonymous hits;
its bounce_rate is the share of those sessions with one hit.

--out writes pages.csv, users.csv, summary.json and report.html to <OUT>/dt=YYYY-MM-DD/, each
file complete or not at all. Text cells of CSV files that start with = + - @ tab or CR get a
leading ' so spreadsheets do not run them as formulas; JSON keeps every value exactly as recorded.

S3 access uses the usual AWS variables: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION and
AWS_ENDPOINT_URL (for S3-compatible stores and emulators).";

/// `analyzer`: daily page and user reports from page-hit CSVs in a folder or on S3.
#[derive(Debug, Parser)]
#[command(name = "analyzer", version, after_help = EXAMPLES)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Report on one local day: pages, signed-in users and a summary.
    #[command(after_help = EXAMPLES, after_long_help = format!("{REPORT_DETAILS}\n\n{EXAMPLES}"))]
    Report(ReportArgs),
}

/// Output formats of `report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned text for a terminal.
    Table,
    /// The documented JSON contract (date, tz, summary, pages, users, hourly).
    Json,
    /// The page report as CSV (the same bytes as pages.csv).
    Csv,
    /// GitHub-flavoured Markdown tables, to paste into a ticket.
    Markdown,
    /// One self-contained HTML page with inline SVG charts.
    Html,
}

/// Options of `report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The local day: YYYY-MM-DD, today or yesterday (in --tz).
    #[arg(long, default_value = "yesterday", value_parser = clap::value_parser!(DateArg))]
    pub date: DateArg,

    /// Where the hits are: s3://BUCKET/PREFIX or a folder (holding hits/dt=YYYY-MM-DD/).
    #[arg(long, env = "ANALYZER_SOURCE", value_parser = clap::value_parser!(Location))]
    pub source: Location,

    /// IANA time zone the day is counted in, e.g. Asia/Tokyo.
    #[arg(long, default_value = "UTC", value_parser = parse_tz)]
    pub tz: Tz,

    /// Output on stdout [default: table; none when --out is given].
    #[arg(long, value_enum)]
    pub format: Option<Format>,

    /// Also write pages.csv, users.csv, summary.json and report.html to DIR|s3://BUCKET/PREFIX,
    /// under dt=YYYY-MM-DD/.
    #[arg(long, value_parser = clap::value_parser!(Location))]
    pub out: Option<Location>,

    /// Keep only the first N pages, users, referrer hosts and countries [default: all pages and
    /// users, 10 referrer hosts and countries].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub top: Option<u64>,

    /// Count bot hits in every number instead of leaving them out.
    #[arg(long)]
    pub include_bots: bool,

    /// Fail (exit 1) when any row in the files read is malformed.
    #[arg(long)]
    pub strict: bool,
}

fn parse_tz(s: &str) -> Result<Tz, String> {
    s.parse::<Tz>()
        .map_err(|_| format!("{s:?} is not an IANA time zone name (e.g. UTC, Europe/Berlin)"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn parses_a_full_command_line() {
        let cli = Cli::try_parse_from([
            "analyzer",
            "report",
            "--date",
            "2026-11-25",
            "--source",
            "s3://b/p",
            "--tz",
            "Asia/Tokyo",
            "--format",
            "json",
            "--top",
            "5",
            "--include-bots",
            "--strict",
        ])
        .unwrap();
        let Command::Report(args) = cli.command;
        assert_eq!(args.tz, chrono_tz::Asia::Tokyo);
        assert_eq!(args.format, Some(Format::Json));
        assert_eq!(args.top, Some(5));
        assert!(args.include_bots && args.strict);
    }

    #[test]
    fn rejects_bad_values_as_usage_errors() {
        for bad in [
            ["--date", "2026-02-30"],
            ["--tz", "Mars/Olympus"],
            ["--top", "0"],
            ["--format", "xml"],
        ] {
            let mut argv = vec!["analyzer", "report", "--source", "/d"];
            argv.extend(bad);
            let err = Cli::try_parse_from(argv).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{bad:?}");
        }
    }
}
