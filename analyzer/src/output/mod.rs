//! Rendering a [`Report`] (table, JSON, CSV, Markdown, HTML) and writing the `--out` files.
//!
//! Escaping belongs to each format: JSON escapes per JSON and otherwise keeps every value as
//! recorded; CSV files also neutralise spreadsheet formulas; Markdown and HTML escape their
//! markup; the terminal table shows control characters as escapes so a path cannot move the
//! cursor or change colours.
//!
//! What a section shows (its columns, labels, the change against `--compare`) is decided once
//! here, in the [`Section`] builders and [`headlines`]; table, Markdown and HTML only lay the
//! cells out and escape them their way.

pub mod csv;
pub mod html;
pub mod json;
pub mod markdown;
pub mod sink;
pub mod table;

use crate::cli::Format;
use crate::report::model::{Rows, Summary};
use crate::report::Report;

/// The report in `format`, as printed on stdout (for reports in memory: see [`write()`]).
pub fn render(report: &Report, format: Format) -> String {
    match format {
        Format::Table => table::render(report),
        Format::Json => json::report(report),
        Format::Csv => csv::pages(report),
        Format::Markdown => markdown::render(report),
        Format::Html => html::render(report),
    }
}

/// Writes the report in `format` to `out`, as `analyzer report` prints it: JSON and CSV as a
/// stream (lists kept on disk are read back row by row), the other formats rendered first.
pub fn write(report: &Report, format: Format, out: &mut dyn std::io::Write) -> anyhow::Result<()> {
    use anyhow::Context;
    match format {
        Format::Json => json::write(report, out),
        Format::Csv => csv::write_pages(report, false, out),
        _ => {
            let text = render(report, format);
            report.read_error()?;
            out.write_all(text.as_bytes()).context("writing the report")
        }
    }
}

/// How a format writes cells: free text (paths, names, hosts) escaped its way, counts plain or
/// with thousands separators.
#[derive(Clone, Copy)]
pub struct Style {
    /// Escapes a free-text cell for the format.
    pub text: fn(&str) -> String,
    /// Writes a count.
    pub int: fn(u64) -> String,
}

/// The terminal's and Markdown's counts: plain digits, as scripts and the JSON have them.
pub fn plain_int(n: u64) -> String {
    n.to_string()
}

/// A count with thousands separators, `4012345` -> `4,012,345`, for the dashboard.
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

/// One list of the report laid out as a table; each format renders it its own way.
pub struct Section {
    /// Stable name: the HTML section's `id`.
    pub id: &'static str,
    /// Heading.
    pub title: &'static str,
    /// Column headers, lowercase (the terminal table shows them in capitals).
    pub headers: Vec<&'static str>,
    /// Which columns hold numbers (right-aligned).
    pub numeric: Vec<bool>,
    /// The rows shown, cells escaped for the format.
    pub rows: Vec<Vec<String>>,
    /// Each shown row's page views (or hits), for the dashboard's in-cell bars.
    pub weights: Vec<u64>,
    /// Rows the report holds: more than `rows.len()` when only the top ones are shown.
    pub total: usize,
}

/// Builds a section from the first `limit` of `items`; `cells` turns one item into its row and
/// its weight.
fn section<T>(
    id: &'static str,
    title: &'static str,
    columns: &[(&'static str, bool)],
    items: &[T],
    limit: usize,
    cells: impl Fn(&T) -> (Vec<String>, u64),
) -> Section {
    let (rows, weights) = items.iter().take(limit).map(cells).unzip();
    Section {
        id,
        title,
        headers: columns.iter().map(|c| c.0).collect(),
        numeric: columns.iter().map(|c| c.1).collect(),
        rows,
        weights,
        total: items.len(),
    }
}

/// [`section`] of a [`Rows`] list: the rows in memory are read in place; a list on disk is
/// read up to `limit` rows.
fn rows_section<T: Clone>(
    id: &'static str,
    title: &'static str,
    columns: &[(&'static str, bool)],
    items: &Rows<T>,
    limit: usize,
    cells: impl Fn(&T) -> (Vec<String>, u64),
) -> Section {
    match items.in_memory() {
        Some(rows) => section(id, title, columns, rows, limit, cells),
        None => {
            let mut s = section(id, title, columns, &items.first(limit), limit, cells);
            s.total = items.len();
            s
        }
    }
}

const TEXT: bool = false;
const NUM: bool = true;

/// The page report (with `previous` and `change` after `hits` when the report has a comparison).
pub fn pages(r: &Report, limit: usize, st: Style) -> Section {
    let compared = r.previous.is_some();
    let mut columns = vec![("path", TEXT), ("hits", NUM)];
    if compared {
        columns.extend([("previous", NUM), ("change", NUM)]);
    }
    columns.extend([
        ("users", NUM),
        ("visitors", NUM),
        ("share", NUM),
        ("entries", NUM),
        ("exits", NUM),
        ("bounces", NUM),
        ("4xx", NUM),
        ("5xx", NUM),
    ]);
    rows_section("pages", "Pages", &columns, &r.pages, limit, |p| {
        let mut row = vec![(st.text)(&p.path), (st.int)(p.hits)];
        if compared {
            let before = p.previous_hits.unwrap_or(0);
            row.push((st.int)(before));
            row.push(count_change(p.hits, before, st.int).text);
        }
        row.extend([
            (st.int)(p.users),
            (st.int)(p.visitors),
            percent(p.share),
            (st.int)(p.entries),
            (st.int)(p.exits),
            (st.int)(p.bounces),
            (st.int)(p.errors_4xx),
            (st.int)(p.errors_5xx),
        ]);
        (row, p.hits)
    })
}

/// The user report.
pub fn users(r: &Report, limit: usize, st: Style) -> Section {
    let columns = [
        ("user", TEXT),
        ("hits", NUM),
        ("pages", NUM),
        ("sessions", NUM),
        ("first seen", TEXT),
        ("last seen", TEXT),
        ("top page", TEXT),
    ];
    rows_section("users", "Users", &columns, &r.users, limit, |u| {
        let row = vec![
            (st.text)(&u.user),
            (st.int)(u.hits),
            (st.int)(u.pages),
            (st.int)(u.sessions),
            (st.text)(&u.first_seen),
            (st.text)(&u.last_seen),
            (st.text)(&u.top_page),
        ];
        (row, u.hits)
    })
}

/// Page views per local clock hour, all 24 (`00` to `23`).
pub fn hourly(r: &Report, st: Style) -> Section {
    let hours: Vec<(usize, u64)> = r.hourly.iter().copied().enumerate().collect();
    let columns = [("hour", TEXT), ("hits", NUM)];
    section(
        "hourly",
        "Hits per hour",
        &columns,
        &hours,
        24,
        |&(h, n)| (vec![format!("{h:02}"), (st.int)(n)], n),
    )
}

/// Page views, users and visitors per local day of the period.
pub fn daily(r: &Report, st: Style) -> Section {
    let columns = [
        ("date", TEXT),
        ("hits", NUM),
        ("users", NUM),
        ("visitors", NUM),
    ];
    section("daily", "Days", &columns, &r.daily, usize::MAX, |d| {
        let row = vec![
            (st.text)(&d.date),
            (st.int)(d.hits),
            (st.int)(d.users),
            (st.int)(d.visitors),
        ];
        (row, d.hits)
    })
}

/// Where visits came from (the source of each session's first page view).
pub fn sources(r: &Report, limit: usize, st: Style) -> Section {
    let columns = [
        ("source", TEXT),
        ("hits", NUM),
        ("visitors", NUM),
        ("sessions", NUM),
    ];
    rows_section("sources", "Sources", &columns, &r.sources, limit, |x| {
        let row = vec![
            (st.text)(&x.source),
            (st.int)(x.hits),
            (st.int)(x.visitors),
            (st.int)(x.sessions),
        ];
        (row, x.hits)
    })
}

/// Page views by the host they were served for.
pub fn hosts(r: &Report, limit: usize, st: Style) -> Section {
    let columns = [("host", TEXT), ("hits", NUM), ("visitors", NUM)];
    section("hosts", "Hosts", &columns, &r.hosts, limit, |x| {
        let row = vec![(st.text)(&x.host), (st.int)(x.hits), (st.int)(x.visitors)];
        (row, x.hits)
    })
}

/// Label for a campaign field that was not set.
pub const NOT_SET: &str = "(not set)";

fn or_not_set(s: &str) -> &str {
    if s.is_empty() {
        NOT_SET
    } else {
        s
    }
}

/// Page views with campaign parameters; the campaign first, since it names the row.
pub fn campaigns(r: &Report, limit: usize, st: Style) -> Section {
    let columns = [
        ("campaign", TEXT),
        ("source", TEXT),
        ("medium", TEXT),
        ("hits", NUM),
        ("visitors", NUM),
        ("sessions", NUM),
    ];
    rows_section(
        "campaigns",
        "Campaigns",
        &columns,
        &r.campaigns,
        limit,
        |c| {
            let row = vec![
                (st.text)(or_not_set(&c.utm_campaign)),
                (st.text)(or_not_set(&c.utm_source)),
                (st.text)(or_not_set(&c.utm_medium)),
                (st.int)(c.hits),
                (st.int)(c.visitors),
                (st.int)(c.sessions),
            ];
            (row, c.hits)
        },
    )
}

/// Page views by browser family.
pub fn browsers(r: &Report, limit: usize, st: Style) -> Section {
    let columns = [("browser", TEXT), ("hits", NUM), ("visitors", NUM)];
    section("browsers", "Browsers", &columns, &r.browsers, limit, |x| {
        let row = vec![
            (st.text)(&x.browser),
            (st.int)(x.hits),
            (st.int)(x.visitors),
        ];
        (row, x.hits)
    })
}

/// Page views by operating system family.
pub fn os(r: &Report, limit: usize, st: Style) -> Section {
    let columns = [("os", TEXT), ("hits", NUM), ("visitors", NUM)];
    section("os", "Operating systems", &columns, &r.os, limit, |x| {
        let row = vec![(st.text)(&x.os), (st.int)(x.hits), (st.int)(x.visitors)];
        (row, x.hits)
    })
}

/// Page views by device class.
pub fn devices(r: &Report, limit: usize, st: Style) -> Section {
    let columns = [("device", TEXT), ("hits", NUM), ("visitors", NUM)];
    section("devices", "Devices", &columns, &r.devices, limit, |x| {
        let row = vec![(st.text)(&x.device), (st.int)(x.hits), (st.int)(x.visitors)];
        (row, x.hits)
    })
}

/// Custom events with their conversion rate.
pub fn events(r: &Report, limit: usize, st: Style) -> Section {
    let columns = [
        ("event", TEXT),
        ("hits", NUM),
        ("visitors", NUM),
        ("conversion", NUM),
    ];
    section("events", "Events", &columns, &r.events, limit, |e| {
        let row = vec![
            (st.text)(&e.event),
            (st.int)(e.hits),
            (st.int)(e.visitors),
            percent(e.conversion_rate),
        ];
        (row, e.hits)
    })
}

/// Top external referrer hosts.
pub fn referrers(r: &Report, limit: usize, st: Style) -> Section {
    let columns = [("referrer host", TEXT), ("hits", NUM)];
    let list = &r.summary.referrers;
    section("referrers", "Referrer hosts", &columns, list, limit, |x| {
        (vec![(st.text)(&x.host), (st.int)(x.hits)], x.hits)
    })
}

/// Top countries.
pub fn countries(r: &Report, limit: usize, st: Style) -> Section {
    let columns = [("country", TEXT), ("hits", NUM)];
    let list = &r.summary.countries;
    section("countries", "Countries", &columns, list, limit, |x| {
        let row = vec![(st.text)(country_label(&x.country)), (st.int)(x.hits)];
        (row, x.hits)
    })
}

/// Page views by status class, all five always.
pub fn status(r: &Report, st: Style) -> Section {
    let c = &r.summary.status_classes;
    let classes = [
        ("1xx", c.c1xx),
        ("2xx", c.c2xx),
        ("3xx", c.c3xx),
        ("4xx", c.c4xx),
        ("5xx", c.c5xx),
    ];
    let columns = [("status", TEXT), ("hits", NUM)];
    section(
        "status",
        "Status classes",
        &columns,
        &classes,
        5,
        |&(k, n)| (vec![k.to_string(), (st.int)(n)], n),
    )
}

/// Whether a number went up, down or stayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trend {
    /// Higher than before.
    Up,
    /// Lower than before.
    Down,
    /// The same.
    Flat,
}

/// A value's change against the previous period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// `+134 (+12.5%)`, `-3 (-50.0%)`, `new` (nothing before), `no change`; rates in points.
    pub text: String,
    /// Its direction.
    pub trend: Trend,
}

/// The change from `before` to `now`: absolute and relative, `new` when `before` is 0.
pub fn count_change(now: u64, before: u64, int: fn(u64) -> String) -> Change {
    let trend = match now.cmp(&before) {
        std::cmp::Ordering::Greater => Trend::Up,
        std::cmp::Ordering::Less => Trend::Down,
        std::cmp::Ordering::Equal => Trend::Flat,
    };
    let text = if now == before {
        "no change".to_string()
    } else if before == 0 {
        "new".to_string()
    } else {
        let sign = if now > before { '+' } else { '-' };
        let rel = (now as f64 - before as f64) / before as f64 * 100.0;
        format!(
            "{sign}{} ({sign}{:.1}%)",
            int(now.abs_diff(before)),
            rel.abs()
        )
    };
    Change { text, trend }
}

/// The change of a rate (0..1), in percentage points: a relative change of a rate misleads.
pub fn rate_change(now: f64, before: f64) -> Change {
    let points = (now - before) * 100.0;
    // Compared as shown (one decimal), so "+0.0 pp" never appears.
    let shown = format!("{:.1}", points.abs());
    if shown == "0.0" {
        return Change {
            text: "no change".into(),
            trend: Trend::Flat,
        };
    }
    let (sign, trend) = if points > 0.0 {
        ('+', Trend::Up)
    } else {
        ('-', Trend::Down)
    };
    Change {
        text: format!("{sign}{shown} pp"),
        trend,
    }
}

/// A headline number of the period, with the previous period's value and the change when the
/// report has a comparison.
pub struct Headline {
    /// Its name in the summary, as the text formats label it (`hits`, `bounce rate`).
    pub key: &'static str,
    /// Its name on the dashboard (`Page views`).
    pub label: &'static str,
    /// The value, written for the format.
    pub value: String,
    /// With `--compare`: the previous value and the change.
    pub previous: Option<(String, Change)>,
    /// Whether going up is good news (bounce rate: no), for colouring the change.
    pub up_is_good: bool,
}

/// Page views, visitors, users, sessions, bounce rate and events, in that order.
pub fn headlines(r: &Report, int: fn(u64) -> String) -> Vec<Headline> {
    let s = &r.summary;
    let before = r.previous.as_ref().map(|p| &p.summary);
    let count = |key, label, pick: fn(&Summary) -> u64| Headline {
        key,
        label,
        value: int(pick(s)),
        previous: before.map(|b| (int(pick(b)), count_change(pick(s), pick(b), int))),
        up_is_good: true,
    };
    vec![
        count("hits", "Page views", |s| s.hits),
        count("visitors", "Visitors", |s| s.visitors),
        count("users", "Users", |s| s.users),
        count("sessions", "Sessions", |s| s.sessions),
        Headline {
            key: "bounce rate",
            label: "Bounce rate",
            value: percent(s.bounce_rate),
            previous: before.map(|b| {
                (
                    percent(b.bounce_rate),
                    rate_change(s.bounce_rate, b.bounce_rate),
                )
            }),
            up_is_good: false,
        },
        count("events", "Events", |s| s.events),
    ]
}

/// The period as people read it: `2026-11-25`, or `2026-11-01 to 2026-11-30`.
pub fn period(from: &str, to: &str) -> String {
    if from == to {
        from.to_string()
    } else {
        format!("{from} to {to}")
    }
}

/// The report's title, e.g. `Page-hit report for 2026-11-25 (UTC)`.
pub fn title(r: &Report) -> String {
    format!("Page-hit report for {} ({})", period(&r.from, &r.to), r.tz)
}

/// `filtered by page=/blog, source=news.example` when the report counts under filters (the
/// values are as given: escape them where they are shown).
pub fn filtered_by(r: &Report) -> Option<String> {
    (!r.filters.is_empty()).then(|| format!("filtered by {}", r.filters.join(", ")))
}

/// `compared with 2026-11-24` when the report has a comparison.
pub fn compared_with(r: &Report) -> Option<String> {
    r.previous
        .as_ref()
        .map(|p| format!("compared with {}", period(&p.from, &p.to)))
}

/// `dt=` partitions, with runs of three or more consecutive days written as one range
/// (`dt=2026-11-01 to dt=2026-11-30`), so a year's report keeps a short line.
pub fn partition_list(days: &[String]) -> String {
    use chrono::NaiveDate;
    let date = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
    let next_day = |s: &str| date(s).and_then(|d| d.succ_opt());
    let mut runs: Vec<(&str, &str, usize)> = Vec::new();
    for d in days {
        match runs.last_mut() {
            Some((_, last, len)) if next_day(last).is_some() && next_day(last) == date(d) => {
                *last = d;
                *len += 1;
            }
            _ => runs.push((d, d, 1)),
        }
    }
    let mut parts = Vec::new();
    for (first, last, len) in runs {
        match len {
            1 => parts.push(format!("dt={first}")),
            2 => parts.push(format!("dt={first}, dt={last}")),
            _ => parts.push(format!("dt={first} to dt={last}")),
        }
    }
    parts.join(", ")
}

/// What reading the files found, as (label, value) pairs: files and partitions read, missing
/// partitions, and what was dropped or refused.
pub fn read_rows(s: &Summary, int: fn(u64) -> String) -> Vec<(&'static str, String)> {
    let missing = if s.missing_partitions.is_empty() {
        "none".to_string()
    } else {
        partition_list(&s.missing_partitions)
    };
    let bots = if s.bots_included {
        "bots (included)"
    } else {
        "bots (left out)"
    };
    vec![
        (
            "files",
            format!("{} ({})", int(s.files), partition_list(&s.partitions)),
        ),
        ("missing partitions", missing),
        ("duplicates", int(s.duplicates)),
        ("malformed rows", int(s.malformed_rows)),
        ("unknown header files", int(s.unknown_header_files)),
        (bots, int(s.bots)),
    ]
}

/// `s` as people should see it (control, format, line and paragraph separator characters as
/// visible escapes): the one rule, [`pagehit::rules::visible_text`], under its old name here.
pub use pagehit::rules::visible_text as visible;

/// A ratio as a percentage with one decimal: `0.3333` -> `33.3%`.
pub fn percent(ratio: f64) -> String {
    format!("{:.1}%", ratio * 100.0)
}

/// A ratio as JSON writes it (`0.25`, `1.0`), so CSV files and JSON show the same number.
pub fn ratio(x: f64) -> String {
    serde_json::to_string(&x).unwrap_or_else(|_| "0.0".into())
}

/// The label for an unknown country.
pub fn country_label(code: &str) -> &str {
    if code.is_empty() {
        "(unknown)"
    } else {
        code
    }
}

#[cfg(test)]
pub(crate) mod fixture;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(visible("/a\nb\u{1b}[31m"), "/a\\nb\\u{1b}[31m");
        assert!(matches!(visible("/café"), std::borrow::Cow::Borrowed(_)));
        assert_eq!(percent(1.0 / 3.0), "33.3%");
        assert_eq!(ratio(0.25), "0.25");
        assert_eq!(ratio(1.0), "1.0");
        assert_eq!(country_label(""), "(unknown)");
    }

    #[test]
    fn thousands_separators() {
        for (n, want) in [
            (0, "0"),
            (999, "999"),
            (1000, "1,000"),
            (4_012_345, "4,012,345"),
            (u64::MAX, "18,446,744,073,709,551,615"),
        ] {
            assert_eq!(grouped(n), want);
        }
    }

    #[test]
    fn changes_are_absolute_and_relative_and_new_from_zero() {
        let c = count_change(1204, 1070, grouped);
        assert_eq!((c.text.as_str(), c.trend), ("+134 (+12.5%)", Trend::Up));
        let c = count_change(3, 6, plain_int);
        assert_eq!((c.text.as_str(), c.trend), ("-3 (-50.0%)", Trend::Down));
        let c = count_change(2_500, 0, grouped);
        assert_eq!((c.text.as_str(), c.trend), ("new", Trend::Up));
        let c = count_change(0, 0, grouped);
        assert_eq!((c.text.as_str(), c.trend), ("no change", Trend::Flat));
        let c = count_change(0, 7, grouped);
        assert_eq!(c.text, "-7 (-100.0%)");
        assert_eq!(rate_change(0.5, 0.4).text, "+10.0 pp");
        assert_eq!(rate_change(0.4, 0.5).trend, Trend::Down);
        assert_eq!(rate_change(0.40001, 0.4).text, "no change");
    }

    #[test]
    fn partitions_compact_runs_of_three_days_or_more() {
        let days = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(partition_list(&[]), "");
        assert_eq!(partition_list(&days(&["2026-11-25"])), "dt=2026-11-25");
        assert_eq!(
            partition_list(&days(&["2026-11-24", "2026-11-25"])),
            "dt=2026-11-24, dt=2026-11-25"
        );
        assert_eq!(
            partition_list(&days(&[
                "2026-02-27",
                "2026-02-28",
                "2026-03-01",
                "2026-03-03",
                "junk"
            ])),
            "dt=2026-02-27 to dt=2026-03-01, dt=2026-03-03, dt=junk"
        );
    }

    #[test]
    fn headlines_carry_the_previous_period() {
        let r = fixture::report(true);
        let h = headlines(&r, grouped);
        let keys: Vec<&str> = h.iter().map(|x| x.key).collect();
        assert_eq!(
            keys,
            [
                "hits",
                "visitors",
                "users",
                "sessions",
                "bounce rate",
                "events"
            ]
        );
        assert_eq!(h[0].value, "1,204");
        let (before, change) = h[0].previous.clone().unwrap();
        assert_eq!(
            (before.as_str(), change.text.as_str()),
            ("1,070", "+134 (+12.5%)")
        );
        assert!(!h[4].up_is_good);
        assert_eq!(h[5].previous.as_ref().unwrap().1.text, "new");
        assert!(headlines(&fixture::report(false), grouped)
            .iter()
            .all(|x| x.previous.is_none()));
    }

    #[test]
    fn sections_cap_rows_but_keep_the_total() {
        let r = fixture::report(true);
        let st = Style {
            text: |s| s.to_string(),
            int: plain_int,
        };
        let p = pages(&r, 2, st);
        assert_eq!((p.rows.len(), p.total), (2, r.pages.len()));
        assert_eq!(p.headers[..4], ["path", "hits", "previous", "change"]);
        assert_eq!(p.rows[0][..4], ["/", "600", "500", "+100 (+20.0%)"]);
        assert_eq!(p.weights, [600, 300]);
        let p = pages(&fixture::report(false), usize::MAX, st);
        assert_eq!(p.headers[..3], ["path", "hits", "users"]);
        let c = campaigns(&r, 10, st);
        assert_eq!(c.rows[1][..3], ["(not set)", "newsletter", "email"]);
    }
}
