//! The command line (clap derive). Values are checked while parsing, so every usage mistake
//! exits 2 through clap.

use crate::period::DateArg;
use chrono_tz::Tz;
use clap::{Args, Parser, Subcommand, ValueEnum};
use store::Location;

const EXAMPLES: &str = "\
Examples:
  # Yesterday (UTC) from a local folder, as a table
  analyzer report --source ./data

  # A Tokyo day from S3 as JSON (reads hits/dt=2026-11-24 and dt=2026-11-25)
  analyzer report --source s3://my-bucket/analytics --date 2026-11-25 --tz Asia/Tokyo --format json

  # Top 20 pages and users as Markdown, bots included
  analyzer report --date today --format markdown --top 20 --include-bots

  # November in Berlin, compared with October, as a dashboard
  analyzer report --from 2026-11-01 --to 2026-11-30 --tz Europe/Berlin --compare --format html > nov.html

  # The nightly job: compact yesterday's UTC day, then report on it
  analyzer compact --source s3://my-bucket/analytics
  analyzer report --source s3://my-bucket/analytics --out s3://my-bucket/analytics/reports

  # crontab on a UTC server: yesterday's Tokyo report at 00:30 Tokyo time (15:30 UTC)
  ANALYZER_SOURCE=s3://my-bucket/analytics
  30 15 * * * analyzer report --tz Asia/Tokyo --out s3://my-bucket/analytics/reports

Exit codes: 0 done, 2 usage error, 3 no data (no hit files at all), 1 anything else.";

const REPORT_DETAILS: &str = "\
Reads every UTC partition the period touches: <SOURCE>/compacted/dt=YYYY-MM-DD/ when its current
compaction run covers every landed object of that day, else <SOURCE>/hits/dt=YYYY-MM-DD/*.csv
(with one line on stderr saying why, when a run exists but no longer covers the day). Keeps the
hits whose ts is in the period. Repeated rows are dropped; bot hits are left out unless
--include-bots (they are counted in the summary either way). A row is malformed when it is not a
valid hit by pagehit's rules; a file whose first line is not a page-hit header is not read; both
are counted (--strict: exit 1).

Page views (event = pageview) make the page, user, source, campaign, browser, OS, device and
time reports; custom events are listed apart with their conversion rate. Sessions end after more
than 30 minutes without a page view. Page entries, exits and bounces come from visitor sessions;
the user report counts sessions per signed-in user across devices; the summary's sessions count
people: per user for signed-in page views, per visitor for anonymous ones.

--out writes pages.csv, users.csv, summary.json and report.html to <OUT>/dt=YYYY-MM-DD/ (one
day) or <OUT>/range=FROM_TO/ (a period), each file complete or not at all; pages.csv and
users.csv hold every row, whatever --top shows.

Memory stays within --memory-budget whatever the number of distinct paths, users, sources,
campaigns or referrers: past it, those tables spill hash partitions to --tmp and are merged one
partition at a time, and long lists are sorted in runs on disk; every number stays exact. Text cells of CSV
files that start with = + - @ tab or CR get a leading ' so spreadsheets do not run them as
formulas; JSON keeps every value exactly as recorded.

S3 access uses the AWS SDK's settings: credentials from the environment, a profile or SSO login
(AWS_PROFILE), or a role; AWS_REGION; AWS_ENDPOINT_URL or AWS_ENDPOINT_URL_S3 for S3-compatible
stores and emulators.";

const COMPACT_DETAILS: &str = "\
Compacts UTC days (hit partitions are UTC: --date yesterday is the UTC day before today). Reads
<SOURCE>/hits/dt=YYYY-MM-DD/*.csv, drops repeated rows and malformed ones (counted), and writes
the day as plain Parquet (zstd) under <SOURCE>/compacted/dt=YYYY-MM-DD/run=<id>/, one file per
bucket of visitors, rows sorted by visitor and time; then <SOURCE>/compacted/dt=.../_current.json,
written last and only if no other compaction committed the day meanwhile, makes the run current.
Runs it replaced are deleted once they are older than --grace (reports may still be reading
them). The landed CSVs are not touched. A day whose current run already covers every landed
object is left as it is (its Athena symlink repaired and old runs deleted if needed).

Compactions of the same day may run at the same time (a retry, a backfill, the nightly job):
the one that commits second discards its own run and starts over, finding the day up to date.

Memory stays bounded whatever the day's size: rows are spilled by bucket to --tmp first (about
a fifth of the day's CSV size, zstd), then each bucket is sorted and written alone.";

/// The day or days a command covers: `--date`, or `--from` and `--to`.
#[derive(Debug, Clone, Args)]
pub struct PeriodArgs {
    /// The day: YYYY-MM-DD, today or yesterday.
    #[arg(long, value_parser = clap::value_parser!(DateArg), conflicts_with_all = ["from", "to"])]
    pub date: Option<DateArg>,

    /// The first day of a period (with --to): YYYY-MM-DD, today or yesterday.
    #[arg(long, value_parser = clap::value_parser!(DateArg), requires = "to")]
    pub from: Option<DateArg>,

    /// The last day of a period, inclusive (with --from); at most 366 days in all.
    #[arg(long, value_parser = clap::value_parser!(DateArg), requires = "from")]
    pub to: Option<DateArg>,
}

/// `analyzer --version`: the version (the first line, as clap prints it), then where the image
/// keeps the third-party licences (`Dockerfile.analyzer` copies there the file that
/// `cargo xtask licenses` writes; tests/version.rs checks they agree).
const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    "\nthird-party licences: /usr/share/doc/analyzer/THIRD-PARTY-LICENSES in the image (the \
     crates compiled in, and uap-core's user-agent regexes, Apache-2.0); \
     `cargo xtask licenses` writes them from the source"
);

/// `analyzer`: daily page and user reports from page-hit CSVs in a folder or on S3.
#[derive(Debug, Parser)]
#[command(name = "analyzer", version, long_version = LONG_VERSION, after_help = EXAMPLES)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Report on a local day or period: pages, users, sources, devices, events and a summary.
    #[command(after_help = EXAMPLES, after_long_help = format!("{REPORT_DETAILS}\n\n{EXAMPLES}"))]
    Report(ReportArgs),
    /// Compact UTC days of landed CSVs into Parquet, for reports that read less and scale.
    #[command(after_help = EXAMPLES, after_long_help = format!("{COMPACT_DETAILS}\n\n{EXAMPLES}"))]
    Compact(CompactArgs),
}

/// Options of `compact`.
#[derive(Debug, Args)]
pub struct CompactArgs {
    /// The UTC days [default: --date yesterday].
    #[command(flatten)]
    pub period: PeriodArgs,

    /// Where the hits are: s3://BUCKET/PREFIX or a folder (holding hits/dt=YYYY-MM-DD/).
    #[arg(long, env = "ANALYZER_SOURCE", value_parser = clap::value_parser!(Location))]
    pub source: Location,

    /// A local folder for the spill files [default: the system's temporary folder].
    #[arg(long, env = "ANALYZER_TMP")]
    pub tmp: Option<std::path::PathBuf>,

    /// Split each day into N visitor buckets (a power of two) [default: one per 256 MB of
    /// landed CSV].
    #[arg(long, value_parser = parse_buckets)]
    pub buckets: Option<u32>,

    /// Keep replaced runs (and files of runs that did not finish) this long before deleting
    /// them: longer than any report or Spark job reading a day takes (e.g. 6h, 30m, 0s).
    #[arg(long, default_value = "6h", value_parser = crate::compacted::parse_duration)]
    pub grace: std::time::Duration,
}

fn parse_buckets(s: &str) -> Result<u32, String> {
    let n: u32 = s
        .parse()
        .map_err(|_| format!("{s:?} is not a number of buckets"))?;
    if n.is_power_of_two() && n <= crate::compacted::MAX_BUCKETS {
        Ok(n)
    } else {
        Err(format!(
            "{n} buckets: give a power of two from 1 to {}",
            crate::compacted::MAX_BUCKETS
        ))
    }
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
    /// The local day or days, in --tz [default: --date yesterday].
    #[command(flatten)]
    pub period: PeriodArgs,

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
    /// under dt=YYYY-MM-DD/ (or range=FROM_TO/).
    #[arg(long, value_parser = clap::value_parser!(Location))]
    pub out: Option<Location>,

    /// Also compute the period of equal length just before, and the change.
    #[arg(long)]
    pub compare: bool,

    /// Show only the first N rows of every list [default: all, but 10 referrer hosts and
    /// countries in the summary]; pages.csv and users.csv of --out stay whole.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub top: Option<u64>,

    /// Count bot hits in every number instead of leaving them out.
    #[arg(long)]
    pub include_bots: bool,

    /// Count only what EXPR keeps; repeat it and all must hold. EXPR is DIM=V (is), DIM!=V
    /// (is not), DIM~T (contains, any case) or DIM!~T, with V1|V2 for any of several values
    /// and \ to escape = ~ | ! \. DIM: page, entry_page, exit_page, host, source, referrer,
    /// utm_source, utm_medium, utm_campaign, utm_content, utm_term, country, browser, os,
    /// device, event, user. Sessions, entries and bounces stay whole sessions (analyzer/README.md,
    /// "Filters"). Examples: --filter source=news.example --filter 'page~/blog|/docs'.
    #[arg(long = "filter", value_name = "EXPR", value_parser = parse_filter)]
    pub filters: Vec<crate::report::filter::Filter>,

    /// Fail (exit 1) when any row in the files read is malformed or any file has an unknown
    /// header.
    #[arg(long)]
    pub strict: bool,

    /// Memory the report's tables (pages, users, sources, campaigns, referrers) may hold
    /// before they spill to --tmp, e.g. 512MiB or 2GiB (0: everything spills); with --compare
    /// each period has half. The buckets being read come on top (up to ~1 GiB for a compacted
    /// day of unique paths).
    #[arg(long, env = "ANALYZER_MEMORY_BUDGET", default_value = "512MiB", value_parser = parse_size)]
    pub memory_budget: u64,

    /// A local folder for the spill files of tables past --memory-budget and for large --out
    /// files [default: the system's temporary folder].
    #[arg(long, env = "ANALYZER_TMP")]
    pub tmp: Option<std::path::PathBuf>,
}

/// A `--filter` expression.
fn parse_filter(s: &str) -> Result<crate::report::filter::Filter, String> {
    crate::report::filter::Filter::parse(s).map_err(|e| e.0)
}

/// A size in bytes: a number with an optional unit (B, KB, MB, GB, KiB, MiB, GiB; K, M and G
/// are the binary ones).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        _ => {
            return Err(format!(
                "{s:?} is not a size: use e.g. 512MiB, 2GiB or 1000000000"
            ))
        }
    };
    let n: f64 = number
        .parse()
        .map_err(|_| format!("{s:?} is not a size: use e.g. 512MiB, 2GiB or 1000000000"))?;
    let bytes = n * scale as f64;
    if !(0.0..1e18).contains(&bytes) {
        return Err(format!("{s:?} is too large a size"));
    }
    Ok(bytes as u64)
}

impl PeriodArgs {
    /// The local days these arguments name, in `tz` at instant `now`.
    pub fn resolve(
        &self,
        tz: Tz,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<crate::period::Period, String> {
        let (from, to) = match (self.date, self.from, self.to) {
            (_, Some(from), Some(to)) => (from.resolve(tz, now), to.resolve(tz, now)),
            (Some(date), _, _) => (date.resolve(tz, now), date.resolve(tz, now)),
            _ => {
                let day = DateArg::Yesterday.resolve(tz, now);
                (day, day)
            }
        };
        crate::period::Period::new(from, to, tz)
    }
}

/// A `--tz` value: an IANA time zone name.
pub fn parse_tz(s: &str) -> Result<Tz, String> {
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
        let Command::Report(args) = cli.command else {
            panic!("a report")
        };
        assert_eq!(args.tz, chrono_tz::Asia::Tokyo);
        assert_eq!(args.format, Some(Format::Json));
        assert_eq!(args.top, Some(5));
        assert!(args.include_bots && args.strict);
        // The CLI's default is the report's (the dashboard's reports use the constant).
        if std::env::var_os("ANALYZER_MEMORY_BUDGET").is_none() {
            assert_eq!(args.memory_budget, crate::report::spill::DEFAULT_BUDGET);
        }
    }

    #[test]
    fn sizes_parse_with_units() {
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("512M"), Ok(512 << 20));
        assert_eq!(parse_size("1.5GB"), Ok(1_500_000_000));
        assert_eq!(parse_size("65536"), Ok(65_536));
        assert_eq!(parse_size("0"), Ok(0));
        for bad in ["", "GiB", "1TiB", "12 apples", "-5", "1e30"] {
            assert!(parse_size(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn rejects_bad_values_as_usage_errors() {
        for bad in [
            ["--date", "2026-02-30"],
            ["--tz", "Mars/Olympus"],
            ["--top", "0"],
            ["--format", "xml"],
            ["--memory-budget", "lots"],
        ]
        .iter()
        .map(|b| b.to_vec())
        .chain([
            vec!["--from", "2026-01-01"],
            vec![
                "--date",
                "2026-01-01",
                "--from",
                "2026-01-01",
                "--to",
                "2026-01-02",
            ],
        ]) {
            let mut argv = vec!["analyzer", "report", "--source", "/d"];
            argv.extend(bad.iter().copied());
            let err = Cli::try_parse_from(argv).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{bad:?}");
        }
    }
}
