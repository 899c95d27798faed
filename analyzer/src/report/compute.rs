//! The page report, the user report and the summary, from the loaded hits.
//!
//! Sessions: a session is a run of hits of one key in time order with no gap of more than 30
//! minutes; a gap of more than 30 minutes (30:00.001 or longer) starts a new one.
//! - Page entries, exits and bounces use **visitor** sessions: every hit has a visitor, so
//!   every hit belongs to exactly one of them, and the sums over pages add up (sum of entries =
//!   sum of exits = visitor sessions). A session's entry is its first hit, its exit its last,
//!   a bounce a session of one hit.
//! - The user report uses **user** sessions: all hits of a signed-in user, across their
//!   visitors (devices).
//! - The summary's `sessions` counts people: user sessions for signed-in hits plus visitor
//!   sessions over the anonymous hits; its `bounce_rate` is the share of those with one hit.

use super::load::{Dict, Loaded};
use super::model::{
    round6, CountryCount, PageRow, ReferrerCount, Report, StatusClasses, Summary, UserRow,
};
use super::pl;
use crate::day::Day;
use polars::prelude::*;
use std::collections::HashMap;

/// Inactivity that ends a session, in milliseconds.
pub const SESSION_GAP_MS: i64 = 30 * 60 * 1000;

/// What the report is asked for beyond the data itself.
#[derive(Debug, Clone)]
pub struct Options {
    /// Keep only the first N pages, users, referrer hosts and countries.
    pub top: Option<usize>,
    /// Whether bots were included when loading (reported in the summary).
    pub include_bots: bool,
    /// Number of files read.
    pub files: u64,
    /// The UTC partitions read.
    pub partitions: Vec<String>,
}

/// How many referrer hosts and countries the summary lists when `--top` is not given.
pub const DEFAULT_SUMMARY_TOP: usize = 10;

/// Adds `entry` and `exit` flags to a frame sorted by (`key`, `ts`, `eid`).
fn with_session_flags(lf: LazyFrame, key: &str) -> LazyFrame {
    let entry = col(key)
        .neq(col(key).shift(lit(1)))
        .or((col("ts") - col("ts").shift(lit(1))).gt(lit(SESSION_GAP_MS)))
        .fill_null(lit(true));
    lf.with_column(entry.alias("entry")).with_column(
        col("entry")
            .shift(lit(-1))
            .fill_null(lit(true))
            .alias("exit"),
    )
}

fn sort_by_key_then_time(lf: LazyFrame, key: &str) -> LazyFrame {
    // `eid` breaks ties between hits of the same millisecond, so entries and exits are
    // the same on every run.
    lf.sort([key, "ts", "eid"], SortMultipleOptions::default())
}

fn u64s(df: &DataFrame, name: &str) -> anyhow::Result<Vec<u64>> {
    let s = df.column(name)?.cast(&DataType::UInt64)?;
    Ok(s.u64()?.iter().map(|v| v.unwrap_or(0)).collect())
}

fn i64s(df: &DataFrame, name: &str) -> anyhow::Result<Vec<i64>> {
    let s = df.column(name)?.cast(&DataType::Int64)?;
    Ok(s.i64()?.iter().map(|v| v.unwrap_or(0)).collect())
}

/// The strings of a coded column (nulls as `""`).
fn strings(df: &DataFrame, name: &str, dict: &Dict) -> anyhow::Result<Vec<String>> {
    Ok(codes(df, name)?
        .into_iter()
        .map(|c| c.map_or("", |c| dict.name(c)).to_string())
        .collect())
}

fn codes(df: &DataFrame, name: &str) -> anyhow::Result<Vec<Option<u32>>> {
    let s = df.column(name)?.cast(&DataType::UInt32)?;
    Ok(s.u32()?.iter().collect())
}

fn count(df: &DataFrame, name: &str) -> anyhow::Result<u64> {
    Ok(u64s(df, name)?.first().copied().unwrap_or(0))
}

/// Builds the report from the loaded hits.
pub fn compute(loaded: Loaded, day: &Day, opts: &Options) -> anyhow::Result<Report> {
    // Sorting once by visitor and time serves the page report and the anonymous sessions.
    let by_visitor = super::timed("sort vis", || {
        pl(
            with_session_flags(sort_by_key_then_time(loaded.hits.lazy(), "vis"), "vis").collect(),
            "computing visitor sessions",
        )
    })?;
    let total = by_visitor.height() as u64;

    let dicts = &loaded.dicts;
    let pages = super::timed("pages", || pages(&by_visitor, total, opts.top, &dicts.path))?;
    let (users, user_sessions, user_bounces) =
        super::timed("users", || users(&by_visitor, day, opts.top, dicts))?;

    let anon = pl(
        with_session_flags(
            by_visitor
                .clone()
                .lazy()
                .filter(col("user").is_null())
                .select([col("vis"), col("ts")]),
            "vis",
        )
        .select([
            col("entry").sum().alias("sessions"),
            col("entry").and(col("exit")).sum().alias("bounces"),
        ])
        .collect(),
        "computing anonymous sessions",
    )?;
    let sessions = user_sessions + count(&anon, "sessions")?;
    let bounces = user_bounces + count(&anon, "bounces")?;

    let totals = pl(
        by_visitor
            .clone()
            .lazy()
            .select([
                col("user").drop_nulls().n_unique().alias("users"),
                col("vis").n_unique().alias("visitors"),
            ])
            .collect(),
        "counting users and visitors",
    )?;

    let summary_top = opts.top.unwrap_or(DEFAULT_SUMMARY_TOP);
    let referrers = super::timed("referrers", || {
        top_referrers(&by_visitor, summary_top, dicts)
    })?;
    let countries = top_counts(&by_visitor, "country", summary_top, &dicts.country)?
        .into_iter()
        .map(|(country, hits)| CountryCount { country, hits })
        .collect();

    let summary = Summary {
        hits: total,
        users: count(&totals, "users")?,
        visitors: count(&totals, "visitors")?,
        sessions,
        bounce_rate: if sessions == 0 {
            0.0
        } else {
            round6(bounces as f64 / sessions as f64)
        },
        bots: loaded.bots,
        bots_included: opts.include_bots,
        duplicates: loaded.duplicates,
        malformed_rows: loaded.malformed,
        unknown_header_files: 0,
        files: opts.files,
        partitions: opts.partitions.clone(),
        missing_partitions: Vec::new(),
        events: 0,
        referrers,
        countries,
        status_classes: status_classes(&by_visitor)?,
    };
    Ok(Report {
        date: day.date(),
        from: day.date(),
        to: day.date(),
        tz: day.tz.name().to_string(),
        summary,
        pages,
        users,
        hourly: hourly(&by_visitor, day)?,
        daily: Vec::new(),
        sources: Vec::new(),
        campaigns: Vec::new(),
        browsers: Vec::new(),
        os: Vec::new(),
        devices: Vec::new(),
        events: Vec::new(),
        previous: None,
    })
}

fn status_between(lo: i32, hi: i32) -> Expr {
    col("status")
        .gt_eq(lit(lo))
        .and(col("status").lt_eq(lit(hi)))
}

fn pages(
    by_visitor: &DataFrame,
    total: u64,
    top: Option<usize>,
    paths: &Dict,
) -> anyhow::Result<Vec<PageRow>> {
    let plan = by_visitor
        .clone()
        .lazy()
        .group_by([col("path")])
        .agg([
            len().alias("hits"),
            col("user").drop_nulls().n_unique().alias("users"),
            col("vis").n_unique().alias("visitors"),
            col("entry").sum().alias("entries"),
            col("exit").sum().alias("exits"),
            col("entry").and(col("exit")).sum().alias("bounces"),
            status_between(400, 499).sum().alias("errors_4xx"),
            status_between(500, 599).sum().alias("errors_5xx"),
        ])
        .sort(
            ["hits", "path"],
            SortMultipleOptions::default().with_order_descending_multi([true, false]),
        );
    let df = pl(limit(plan, top).collect(), "computing the page report")?;
    // Codes are in byte order of the paths, so sorting by code sorted by path.
    let path = strings(&df, "path", paths)?;
    let hits = u64s(&df, "hits")?;
    let users = u64s(&df, "users")?;
    let visitors = u64s(&df, "visitors")?;
    let entries = u64s(&df, "entries")?;
    let exits = u64s(&df, "exits")?;
    let bounces = u64s(&df, "bounces")?;
    let e4 = u64s(&df, "errors_4xx")?;
    let e5 = u64s(&df, "errors_5xx")?;
    Ok((0..df.height())
        .map(|i| PageRow {
            path: path[i].clone(),
            hits: hits[i],
            users: users[i],
            visitors: visitors[i],
            share: if total == 0 {
                0.0
            } else {
                round6(hits[i] as f64 / total as f64)
            },
            entries: entries[i],
            exits: exits[i],
            bounces: bounces[i],
            errors_4xx: e4[i],
            errors_5xx: e5[i],
            previous_hits: None,
        })
        .collect())
}

/// The user report, plus the total user sessions and one-hit user sessions for the summary.
fn users(
    hits: &DataFrame,
    day: &Day,
    top: Option<usize>,
    dicts: &super::load::Dicts,
) -> anyhow::Result<(Vec<UserRow>, u64, u64)> {
    let signed_in = hits
        .clone()
        .lazy()
        .filter(col("user").is_not_null())
        .select([col("user"), col("ts"), col("eid"), col("path")]);
    let per_user = with_session_flags(sort_by_key_then_time(signed_in.clone(), "user"), "user")
        .group_by([col("user")])
        .agg([
            len().alias("hits"),
            col("path").n_unique().alias("pages"),
            col("entry").sum().alias("sessions"),
            col("entry").and(col("exit")).sum().alias("bounces"),
            col("ts").min().alias("first"),
            col("ts").max().alias("last"),
        ]);
    let totals = per_user.clone().select([
        col("sessions").sum().alias("sessions"),
        col("bounces").sum().alias("bounces"),
    ]);
    let listed = limit(
        per_user.sort(
            ["hits", "user"],
            SortMultipleOptions::default().with_order_descending_multi([true, false]),
        ),
        top,
    );
    // Most hit path per user; ties go to the smallest path so the answer is stable.
    let top_pages = signed_in
        .group_by([col("user"), col("path")])
        .agg([len().alias("n")])
        .group_by([col("user")])
        .agg([col("path")
            .sort_by(
                [col("n"), col("path")],
                SortMultipleOptions::default().with_order_descending_multi([true, false]),
            )
            .first()
            .alias("top_page")]);
    let mut frames = pl(
        collect_all([listed, totals, top_pages]),
        "computing the user report",
    )?;
    let top_pages = frames.pop().expect("three frames");
    let totals = frames.pop().expect("three frames");
    let listed = frames.pop().expect("three frames");

    let top_page: HashMap<Option<u32>, Option<u32>> = codes(&top_pages, "user")?
        .into_iter()
        .zip(codes(&top_pages, "top_page")?)
        .collect();
    let user = codes(&listed, "user")?;
    let hits = u64s(&listed, "hits")?;
    let pages = u64s(&listed, "pages")?;
    let sessions = u64s(&listed, "sessions")?;
    let first = i64s(&listed, "first")?;
    let last = i64s(&listed, "last")?;
    let rows = (0..listed.height())
        .map(|i| UserRow {
            top_page: top_page
                .get(&user[i])
                .copied()
                .flatten()
                .map_or("", |p| dicts.path.name(p))
                .to_string(),
            user: user[i].map_or("", |u| dicts.user.name(u)).to_string(),
            hits: hits[i],
            pages: pages[i],
            sessions: sessions[i],
            first_seen: day.format_local(first[i]),
            last_seen: day.format_local(last[i]),
        })
        .collect();
    Ok((
        rows,
        count(&totals, "sessions")?,
        count(&totals, "bounces")?,
    ))
}

/// Keeps the first `top` rows, or all of them. (Not "limit to the maximum" for all rows: the
/// streaming engine turns a sort + limit into a top-k that allocates for the whole limit.)
fn limit(lf: LazyFrame, top: Option<usize>) -> LazyFrame {
    match top {
        Some(n) => lf.limit(IdxSize::try_from(n).unwrap_or(IdxSize::MAX)),
        None => lf,
    }
}

fn collect_all(plans: impl IntoIterator<Item = LazyFrame>) -> PolarsResult<Vec<DataFrame>> {
    LazyFrame::collect_all_with_engine(
        plans.into_iter().map(|lf| lf.logical_plan).collect(),
        Engine::InMemory,
        OptFlags::default(),
    )
}

/// Non-null values of `column` by hits: hits descending, then value; the first `n`.
fn top_counts(
    hits: &DataFrame,
    column: &str,
    n: usize,
    dict: &Dict,
) -> anyhow::Result<Vec<(String, u64)>> {
    let plan = hits
        .clone()
        .lazy()
        .filter(col(column).is_not_null())
        .group_by([col(column)])
        .agg([len().alias("hits")])
        .sort(
            ["hits", column],
            SortMultipleOptions::default().with_order_descending_multi([true, false]),
        );
    let df = pl(limit(plan, Some(n)).collect(), "counting hits by value")?;
    Ok(strings(&df, column, dict)?
        .into_iter()
        .zip(u64s(&df, "hits")?)
        .collect())
}

/// The host of a referring URL, lowercase: `https://User@News.Example:8443/x` ->
/// `news.example`; `None` for anything that is not `scheme://host...`.
pub fn referrer_host(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let mut chars = scheme.chars();
    let scheme_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '.' | '-'));
    if !scheme_ok {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = host_port.split(':').next().unwrap_or("");
    (!host.is_empty()).then(|| host.to_lowercase())
}

/// Top external referrer hosts: hits grouped by (referrer, host) in polars, then the referrer's
/// host worked out once per distinct pair; a referrer on the hit's own host is internal.
fn top_referrers(
    hits: &DataFrame,
    n: usize,
    dicts: &super::load::Dicts,
) -> anyhow::Result<Vec<ReferrerCount>> {
    let df = pl(
        hits.clone()
            .lazy()
            .filter(col("referrer").is_not_null())
            .group_by([col("referrer"), col("host")])
            .agg([len().alias("hits")])
            .collect(),
        "counting referrers",
    )?;
    let mut by_host: HashMap<String, u64> = HashMap::new();
    let referrers = strings(&df, "referrer", &dicts.referrer)?;
    let hosts = strings(&df, "host", &dicts.host)?;
    for ((referrer, host), count) in referrers.iter().zip(&hosts).zip(u64s(&df, "hits")?) {
        let Some(ref_host) = referrer_host(referrer) else {
            continue;
        };
        let own = host.split(':').next().unwrap_or("").to_lowercase();
        if ref_host != own {
            *by_host.entry(ref_host).or_default() += count;
        }
    }
    let mut top: Vec<ReferrerCount> = by_host
        .into_iter()
        .map(|(host, hits)| ReferrerCount { host, hits })
        .collect();
    top.sort_by(|a, b| b.hits.cmp(&a.hits).then_with(|| a.host.cmp(&b.host)));
    top.truncate(n);
    Ok(top)
}

fn status_classes(hits: &DataFrame) -> anyhow::Result<StatusClasses> {
    let df = pl(
        hits.clone()
            .lazy()
            .select([
                status_between(100, 199).sum().alias("1"),
                status_between(200, 299).sum().alias("2"),
                status_between(300, 399).sum().alias("3"),
                status_between(400, 499).sum().alias("4"),
                status_between(500, 599).sum().alias("5"),
            ])
            .collect(),
        "counting status classes",
    )?;
    Ok(StatusClasses {
        c1xx: count(&df, "1")?,
        c2xx: count(&df, "2")?,
        c3xx: count(&df, "3")?,
        c4xx: count(&df, "4")?,
        c5xx: count(&df, "5")?,
    })
}

/// Hits per local clock hour. On a 25-hour daylight-saving day the repeated hour holds both.
fn hourly(hits: &DataFrame, day: &Day) -> anyhow::Result<[u64; 24]> {
    let tz = TimeZone::opt_try_new(Some(day.tz.name()))?.unwrap_or(TimeZone::UTC);
    let df = pl(
        hits.clone()
            .lazy()
            .select([col("ts")
                .cast(DataType::Datetime(
                    TimeUnit::Milliseconds,
                    Some(TimeZone::UTC),
                ))
                .dt()
                .convert_time_zone(tz)
                .dt()
                .hour()
                .alias("hour")])
            .group_by([col("hour")])
            .agg([len().alias("hits")])
            .collect(),
        "counting hits per hour",
    )?;
    let mut out = [0u64; 24];
    for (h, n) in i64s(&df, "hour")?.into_iter().zip(u64s(&df, "hits")?) {
        if let Some(slot) = out.get_mut(h as usize) {
            *slot += n;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day() -> Day {
        Day::new(
            pagehit::time::parse_date("2026-11-25").unwrap(),
            chrono_tz::Tz::UTC,
        )
    }

    fn opts() -> Options {
        Options {
            top: None,
            include_bots: false,
            files: 1,
            partitions: vec!["2026-11-25".into()],
        }
    }

    fn loaded(rows: &[(u64, i64, &str, Option<&str>, u64)]) -> Loaded {
        use crate::report::load::Dicts;
        let base = day().start_ms;
        // The loader's types: paths, users, referrers, hosts and countries are codes.
        let dicts = Dicts {
            path: Dict::new(rows.iter().map(|r| r.2.to_string()).collect()),
            user: Dict::new(rows.iter().filter_map(|r| r.3.map(String::from)).collect()),
            referrer: Dict::default(),
            host: Dict::new(vec!["shop.example".into()]),
            country: Dict::new(vec!["DE".into()]),
        };
        let hits = df!(
            "eid" => rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            "ts" => rows.iter().map(|r| base + r.1).collect::<Vec<_>>(),
            "path" => rows.iter().map(|r| dicts.path.code(r.2)).collect::<Vec<_>>(),
            "status" => rows.iter().map(|_| 200i32).collect::<Vec<_>>(),
            "user" => rows.iter().map(|r| r.3.and_then(|u| dicts.user.code(u))).collect::<Vec<_>>(),
            "vis" => rows.iter().map(|r| r.4).collect::<Vec<_>>(),
            "bot" => rows.iter().map(|_| false).collect::<Vec<_>>(),
            "referrer" => rows.iter().map(|_| None::<u32>).collect::<Vec<_>>(),
            "host" => rows.iter().map(|_| 0u32).collect::<Vec<_>>(),
            "country" => rows.iter().map(|_| 0u32).collect::<Vec<_>>(),
        )
        .unwrap();
        Loaded {
            hits,
            dicts,
            malformed: 0,
            duplicates: 0,
            bots: 0,
        }
    }

    #[test]
    fn referrer_hosts() {
        for (url, host) in [
            ("https://User@News.Example:8443/x?y#z", Some("news.example")),
            ("http://search.example", Some("search.example")),
            ("android-app://com.example.app/", Some("com.example.app")),
            ("https://bücher.example/", Some("bücher.example")),
            ("search.example/x", None),
            ("://x", None),
            ("1http://x", None),
            ("https:///path", None),
            ("", None),
        ] {
            assert_eq!(referrer_host(url).as_deref(), host, "{url}");
        }
    }

    #[test]
    fn an_empty_day_has_zeros_not_nan() {
        let report = compute(loaded(&[]), &day(), &opts()).unwrap();
        assert_eq!(report.summary.hits, 0);
        assert_eq!(report.summary.sessions, 0);
        assert_eq!(report.summary.bounce_rate, 0.0);
        assert!(report.pages.is_empty() && report.users.is_empty());
        assert_eq!(report.hourly, [0; 24]);
    }

    #[test]
    fn ties_are_broken_by_name_and_same_millisecond_hits_by_event_id() {
        let min = 60_000;
        let report = compute(
            loaded(&[
                // u: one hit on /b and one on /a -> top page /a (the smaller path).
                (9, 0, "/b", Some("u"), 1),
                (8, min, "/a", Some("u"), 1),
                // Same millisecond on one visitor: eid 5 sorts first, so it is the entry.
                (6, 10 * min, "/y", None, 2),
                (5, 10 * min, "/x", None, 2),
            ]),
            &day(),
            &opts(),
        )
        .unwrap();
        assert_eq!(report.users[0].top_page, "/a");
        let page = |p: &str| report.pages.iter().find(|r| r.path == p).unwrap();
        assert_eq!((page("/x").entries, page("/x").exits), (1, 0));
        assert_eq!((page("/y").entries, page("/y").exits), (0, 1));
        // Equal hits: paths in byte order.
        let paths: Vec<&str> = report.pages.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["/a", "/b", "/x", "/y"]);
        assert_eq!(report.summary.sessions, 2);
        assert_eq!(report.pages[0].share, 0.25);
    }
}
