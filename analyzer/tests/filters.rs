//! `analyzer report --filter`: every dimension and operator on a day built for it, worked out
//! by hand (analyzer/README.md, "Filters", is the rule each expectation follows).
//!
//! 2026-11-25 (UTC), two hosts, four visitors:
//! - A (Chrome, Windows, US): 10:00 `/` from news.example, 10:05 `/pricing` and 10:10
//!   `/blog/one` clicked inside the site, a `signup` event on /pricing at 10:11; then, after
//!   the 30-minute gap, 11:00 `/` typed in (a second session, direct).
//! - B (Mobile Safari, iOS, JP): 09:00 docs.example `/docs` from a newsletter
//!   (utm_source=newsletter, medium email, campaign winter, content banner, term rust),
//!   09:02 `/docs/start` (internal), 09:03 shop.example `/pricing` with docs.example as the
//!   referrer: one session whose source is the newsletter's.
//! - C (Firefox, Linux, DE), signed in as zoë: 12:00 `/pricing` from search.example, a
//!   `signup` event at 12:01.
//! - D (Chrome, Windows, US): 13:00 `/blog/one` from news.example (a bounce).
//!
//! 2026-11-24 holds one page view (E, `/pricing`, direct) and one on docs.example, for
//! `--compare`.

mod common;

use common::*;
use pagehit::{csv_header, PageHit};
use serde_json::Value;
use std::path::Path;

const CHROME_WIN: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
const SAFARI_IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1";
const FIREFOX_LINUX: &str =
    "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0";

/// (time, host, path, visitor, user, agent, country, referrer, utm [source, medium, campaign,
/// content, term], event)
type Spec = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    [&'static str; 5],
    &'static str,
);

const A: &str = "aaaaaaaaaaaaaaaa";
const B: &str = "bbbbbbbbbbbbbbbb";
const C: &str = "cccccccccccccccc";
const D: &str = "dddddddddddddddd";
const E: &str = "eeeeeeeeeeeeeeee";
const SHOP: &str = "shop.example";
const DOCS: &str = "docs.example";
const NO_UTM: [&str; 5] = ["", "", "", "", ""];
const NEWSLETTER: [&str; 5] = ["newsletter", "email", "winter", "banner", "rust"];

#[rustfmt::skip]
fn specs() -> Vec<Spec> {
    vec![
        ("2026-11-25T10:00:00.000Z", SHOP, "/", A, "", CHROME_WIN, "US", "https://news.example/x", NO_UTM, "pageview"),
        ("2026-11-25T10:05:00.000Z", SHOP, "/pricing", A, "", CHROME_WIN, "US", "https://shop.example/", NO_UTM, "pageview"),
        ("2026-11-25T10:10:00.000Z", SHOP, "/blog/one", A, "", CHROME_WIN, "US", "https://shop.example/pricing", NO_UTM, "pageview"),
        ("2026-11-25T10:11:00.000Z", SHOP, "/pricing", A, "", CHROME_WIN, "US", "", NO_UTM, "signup"),
        ("2026-11-25T11:00:00.000Z", SHOP, "/", A, "", CHROME_WIN, "US", "", NO_UTM, "pageview"),
        ("2026-11-25T09:00:00.000Z", DOCS, "/docs", B, "", SAFARI_IPHONE, "JP", "", NEWSLETTER, "pageview"),
        ("2026-11-25T09:02:00.000Z", DOCS, "/docs/start", B, "", SAFARI_IPHONE, "JP", "https://docs.example/docs", NO_UTM, "pageview"),
        ("2026-11-25T09:03:00.000Z", SHOP, "/pricing", B, "", SAFARI_IPHONE, "JP", "https://docs.example/docs/start", NO_UTM, "pageview"),
        ("2026-11-25T12:00:00.000Z", SHOP, "/pricing", C, "zoë", FIREFOX_LINUX, "DE", "https://search.example/q", NO_UTM, "pageview"),
        ("2026-11-25T12:01:00.000Z", SHOP, "/pricing", C, "zoë", FIREFOX_LINUX, "DE", "", NO_UTM, "signup"),
        ("2026-11-25T13:00:00.000Z", SHOP, "/blog/one", D, "", CHROME_WIN, "US", "https://news.example/y", NO_UTM, "pageview"),
        ("2026-11-24T10:00:00.000Z", SHOP, "/pricing", E, "", CHROME_WIN, "US", "", NO_UTM, "pageview"),
        ("2026-11-24T10:01:00.000Z", DOCS, "/docs", E, "", CHROME_WIN, "US", "", NO_UTM, "pageview"),
    ]
}

fn write(root: &Path) {
    let mut files: std::collections::BTreeMap<String, String> = Default::default();
    for (n, (ts, host, path, visitor, user, agent, country, referrer, utm, event)) in
        specs().into_iter().enumerate()
    {
        let h = PageHit {
            event_id: format!("01936b2e-1f00-7abc-8def-{n:012x}"),
            ts: ts.into(),
            host: host.into(),
            path: path.into(),
            action: "x".into(),
            method: "GET".into(),
            status: 200,
            user: user.into(),
            visitor: visitor.into(),
            referrer: referrer.into(),
            country: country.into(),
            user_agent: agent.into(),
            origin_ms: 3,
            event: event.into(),
            utm_source: utm[0].into(),
            utm_medium: utm[1].into(),
            utm_campaign: utm[2].into(),
            utm_content: utm[3].into(),
            utm_term: utm[4].into(),
            ..PageHit::default()
        };
        h.validate().unwrap();
        let body = files
            .entry(format!("hits/dt={}/part.csv", &ts[..10]))
            .or_insert_with(csv_header);
        h.write_csv_row(body);
    }
    for (key, body) in files {
        let path = root.join(key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, body).unwrap();
    }
}

fn report(root: &Path, filters: &[&str], extra: &[&str]) -> Value {
    let mut args = vec![
        "report",
        "--source",
        root.to_str().unwrap(),
        "--date",
        "2026-11-25",
        "--format",
        "json",
    ];
    for f in filters {
        args.extend(["--filter", f]);
    }
    args.extend(extra);
    serde_json::from_str(&ok(&analyzer(&args, &[]))).unwrap()
}

/// (page views, visitors, sessions) of the summary.
fn headline(r: &Value) -> (u64, u64, u64) {
    let s = &r["summary"];
    let n = |k: &str| s[k].as_u64().unwrap_or_else(|| panic!("{k} in {s}"));
    (n("hits"), n("visitors"), n("sessions"))
}

/// `name -> [hits, visitors, sessions?]` of a list keyed by `key`.
fn list(r: &Value, name: &str, key: &str) -> Vec<(String, Vec<u64>)> {
    r[name]
        .as_array()
        .unwrap_or_else(|| panic!("{name} in {r}"))
        .iter()
        .map(|row| {
            let nums = [
                "hits", "visitors", "sessions", "entries", "exits", "bounces",
            ]
            .iter()
            .filter_map(|k| row[*k].as_u64())
            .collect();
            (row[key].as_str().unwrap().to_string(), nums)
        })
        .collect()
}

fn named(rows: &[(&str, &[u64])]) -> Vec<(String, Vec<u64>)> {
    rows.iter()
        .map(|(n, v)| (n.to_string(), v.to_vec()))
        .collect()
}

#[test]
fn sources_are_those_of_the_visit_and_hosts_are_listed() {
    let dir = temp_dir("filters-whole");
    write(&dir);
    let r = report(&dir, &[], &[]);
    assert!(r.get("filters").is_none(), "no filters, no key: {r}");
    // 9 page views; sessions: A's two, B's, D's (anonymous) and zoë's one.
    assert_eq!(headline(&r), (9, 4, 5));
    // Internal clicks are not a source: every page view counts under its session's entry.
    assert_eq!(
        list(&r, "sources", "source"),
        named(&[
            ("news.example", &[4, 2, 2]),
            ("newsletter", &[3, 1, 1]),
            ("(direct)", &[1, 1, 1]),
            ("search.example", &[1, 1, 1]),
        ])
    );
    assert_eq!(
        list(&r, "hosts", "host"),
        named(&[("shop.example", &[7, 4]), ("docs.example", &[2, 1])])
    );
    let campaigns = r["campaigns"].as_array().unwrap();
    assert_eq!(campaigns.len(), 1, "{campaigns:?}");
    assert_eq!(campaigns[0]["utm_campaign"], "winter");
    assert_eq!(
        (&campaigns[0]["hits"], &campaigns[0]["sessions"]),
        (&3.into(), &1.into())
    );
    // The summary's referrers stay each page view's own (B's last one came from docs.example).
    let referrers = list(&r["summary"], "referrers", "host");
    assert_eq!(
        referrers,
        named(&[
            ("news.example", &[2]),
            ("docs.example", &[1]),
            ("search.example", &[1])
        ])
    );
}

#[test]
fn a_page_filter_counts_its_page_views_and_keeps_their_sessions_whole() {
    let dir = temp_dir("filters-page");
    write(&dir);
    let r = report(&dir, &["page=/pricing"], &[]);
    assert_eq!(r["filters"], serde_json::json!(["page=/pricing"]));
    // a2, b3, c1; sessions A's first and B's (whole: three page views, no bounce) and zoë's.
    assert_eq!(headline(&r), (3, 3, 3));
    assert_eq!(r["summary"]["bounce_rate"].as_f64(), Some(0.333333));
    // Entries and exits count where the kept session enters or leaves on this page.
    assert_eq!(
        list(&r, "pages", "path"),
        named(&[("/pricing", &[3, 3, 1, 2, 1])])
    );
    assert_eq!(
        list(&r, "sources", "source"),
        named(&[
            ("news.example", &[1, 1, 1]),
            ("newsletter", &[1, 1, 1]),
            ("search.example", &[1, 1, 1]),
        ])
    );
    // The signups were on /pricing: both kept.
    assert_eq!(r["events"][0]["hits"], 2);
    assert_eq!(r["users"][0]["user"], "zoë");
    assert_eq!(
        r["hourly"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_u64)
            .sum::<u64>(),
        3
    );
}

#[test]
fn every_dimension_and_operator() {
    let dir = temp_dir("filters-each");
    write(&dir);
    // (filters, page views, visitors, sessions)
    let cases: &[(&[&str], u64, u64, u64)] = &[
        (&["page!=/pricing"], 6, 3, 4),
        (&["page~/BLOG"], 2, 2, 2),
        (&["page!~blog|docs"], 5, 3, 4),
        (&["entry_page=/docs"], 3, 1, 1),
        (&["exit_page=/blog/one"], 4, 2, 2),
        (&["host=docs.example"], 2, 1, 1),
        (&["source=news.example"], 4, 2, 2),
        (&["source=(internal)"], 0, 0, 0),
        (&["referrer=news.example"], 4, 2, 2),
        (&["referrer="], 4, 2, 2),
        (&["utm_source=newsletter"], 3, 1, 1),
        (&["utm_medium=email"], 3, 1, 1),
        (&["utm_campaign~WINT"], 3, 1, 1),
        (&["utm_content=banner"], 3, 1, 1),
        (&["utm_term=rust"], 3, 1, 1),
        (&["utm_source="], 6, 3, 4),
        (&["country=JP|DE"], 4, 2, 2),
        (&["country!=US"], 4, 2, 2),
        (&["browser=Firefox"], 1, 1, 1),
        (&["os~ios"], 3, 1, 1),
        (&["device=mobile"], 3, 1, 1),
        (&["user=zoë"], 1, 1, 1),
        (&["user="], 8, 3, 4),
        (&["event=pageview"], 9, 4, 5),
        (&["event=signup"], 0, 0, 0),
        // All must hold: A's first session has /pricing; D's has not.
        (&["source=news.example", "page=/pricing"], 1, 1, 1),
    ];
    // A few runs at a time: each is a process that loads the user-agent rules.
    for chunk in cases.chunks(4) {
        std::thread::scope(|s| {
            for (filters, hits, visitors, sessions) in chunk {
                let dir = &dir;
                s.spawn(move || {
                    let r = report(dir, filters, &[]);
                    assert_eq!(
                        headline(&r),
                        (*hits, *visitors, *sessions),
                        "--filter {filters:?}"
                    );
                    let echoed: Vec<String> = filters.iter().map(|f| f.to_string()).collect();
                    assert_eq!(r["filters"], serde_json::json!(echoed), "{filters:?}");
                });
            }
        });
    }
    // A custom-event filter keeps the events alone.
    let r = report(&dir, &["event=signup"], &[]);
    assert_eq!(r["events"][0]["hits"], 2);
    // A host filter gives one site alone.
    let r = report(&dir, &["host=docs.example"], &[]);
    assert_eq!(
        list(&r, "hosts", "host"),
        named(&[("docs.example", &[2, 1])])
    );
    assert_eq!(
        list(&r, "pages", "path"),
        named(&[
            ("/docs", &[1, 1, 1, 0, 0]),
            ("/docs/start", &[1, 1, 0, 0, 0])
        ])
    );
}

#[test]
fn compare_filters_both_periods_and_out_files_say_they_are_filtered() {
    let dir = temp_dir("filters-compare");
    write(&dir);
    let r = report(&dir, &["page=/pricing"], &["--compare"]);
    assert_eq!(r["previous"]["summary"]["hits"], 1);
    let whole = report(&dir, &[], &["--compare"]);
    assert_eq!(whole["previous"]["summary"]["hits"], 2);

    let out = dir.join("out");
    let args = [
        "report",
        "--source",
        dir.to_str().unwrap(),
        "--date",
        "2026-11-25",
        "--out",
        out.to_str().unwrap(),
    ];
    ok(&analyzer(&args, &[]));
    let mut filtered = args.to_vec();
    filtered.extend(["--filter", "country=JP"]);
    ok(&analyzer(&filtered, &[]));
    let day = out.join("dt=2026-11-25");
    let whole: Value =
        serde_json::from_str(&std::fs::read_to_string(day.join("summary.json")).unwrap()).unwrap();
    assert_eq!(whole["summary"]["hits"], 9, "the whole day's files stay");
    let sub: Vec<_> = std::fs::read_dir(&day)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(sub.len(), 1, "{sub:?}");
    let name = sub[0].file_name().unwrap().to_str().unwrap().to_string();
    assert!(name.starts_with("filtered-"), "{name}");
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(sub[0].join("summary.json")).unwrap())
            .unwrap();
    assert_eq!(summary["filters"], serde_json::json!(["country=JP"]));
    assert_eq!(summary["summary"]["hits"], 3);
    let html = std::fs::read_to_string(sub[0].join("report.html")).unwrap();
    assert!(html.contains("filtered by country=JP"), "the page says so");
}

#[test]
fn shown_filters_are_escaped_and_bad_ones_are_usage_errors() {
    let dir = temp_dir("filters-bad");
    write(&dir);
    let src = dir.to_str().unwrap();
    let base = ["report", "--source", src, "--date", "2026-11-25"];
    for (bad, says) in [
        ("pages=/", "is not a dimension"),
        ("country", "is not a filter"),
        ("page=/a\\", "escapes nothing"),
    ] {
        let mut args = base.to_vec();
        args.extend(["--filter", bad]);
        let out = analyzer(&args, &[]);
        assert_eq!(out.status.code(), Some(2), "{bad}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains(says), "{bad}: {err}");
        if !bad.ends_with('\\') {
            assert!(err.contains("entry_page, exit_page, host, source"), "{err}");
        }
    }
    let mut args = base.to_vec();
    args.extend(["--filter", "page=<script>", "--format", "markdown"]);
    let md = ok(&analyzer(&args, &[]));
    assert!(!md.contains("<script>"), "{md}");
    assert!(md.contains("filtered by page"), "{md}");
}
