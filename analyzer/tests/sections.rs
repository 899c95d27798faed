//! The sections web-analytics users ask for: sources, campaigns, browsers, OS, devices,
//! custom events, any period (across a daylight-saving change), and the comparison with the
//! period before. A small New York week, worked out by hand.

mod common;

use common::*;
use pagehit::{csv_header, PageHit, COLUMNS, V1_COLUMNS};
use serde_json::{json, Value};
use std::path::Path;

const CHROME_WIN: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
const SAFARI_IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1";
const SAFARI_IPAD: &str = "Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";
const FIREFOX_LINUX: &str =
    "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0";

struct Spec {
    n: u32,
    ts: &'static str,
    path: &'static str,
    visitor: &'static str,
    user: &'static str,
    agent: &'static str,
    referrer: &'static str,
    utm: [&'static str; 3],
    event: &'static str,
}

fn hit(s: &Spec) -> PageHit {
    let h = PageHit {
        event_id: format!("01936b2e-1f00-7abc-8def-{:012x}", s.n),
        ts: s.ts.into(),
        host: "shop.example".into(),
        path: s.path.into(),
        action: "x".into(),
        method: "GET".into(),
        status: 200,
        user: s.user.into(),
        visitor: s.visitor.into(),
        referrer: s.referrer.into(),
        country: "US".into(),
        user_agent: s.agent.into(),
        bot: false,
        origin_ms: 3,
        event: s.event.into(),
        utm_source: s.utm[0].into(),
        utm_medium: s.utm[1].into(),
        utm_campaign: s.utm[2].into(),
        ..PageHit::default()
    };
    h.validate().unwrap();
    h
}

const V1: &str = "1111111111111111";
const V2: &str = "2222222222222222";
const V3: &str = "3333333333333333";
const V4: &str = "4444444444444444";
const NO_UTM: [&str; 3] = ["", "", ""];
const MAIL: [&str; 3] = ["newsletter", "email", "march"];

/// New York: 2026-03-08 springs forward (02:00 EST -> 03:00 EDT), so the 8th has 23 hours.
/// The period is the 7th to the 9th; the 4th to the 6th is the period before.
#[rustfmt::skip]
fn specs() -> Vec<Spec> {
    let s = |n, ts, path, visitor, user, agent, referrer, utm, event| Spec { n, ts, path, visitor, user, agent, referrer, utm, event };
    vec![
        // The period before: two page views of / and one of /pricing.
        s(1, "2026-03-05T15:00:00.000Z", "/", V1, "", CHROME_WIN, "", NO_UTM, "pageview"),
        s(2, "2026-03-05T15:01:00.000Z", "/pricing", V1, "", CHROME_WIN, "", NO_UTM, "pageview"),
        s(3, "2026-03-06T15:00:00.000Z", "/", V2, "", SAFARI_IPHONE, "", NO_UTM, "pageview"),
        // The 7th (EST, UTC-5): a campaign visit that signs up.
        s(10, "2026-03-07T14:00:00.000Z", "/", V1, "", CHROME_WIN, "https://mail.example/x", MAIL, "pageview"),
        s(11, "2026-03-07T14:05:00.000Z", "/pricing", V1, "", CHROME_WIN, "https://shop.example/", NO_UTM, "pageview"),
        s(12, "2026-03-07T14:06:00.000Z", "/pricing", V1, "", CHROME_WIN, "", NO_UTM, "signup"),
        // 04:30Z on the 8th is still the 7th (23:30 EST); 05:30Z is 00:30 EST on the 8th;
        // 07:30Z is 03:30 EDT (the hour 02 does not exist that day).
        s(20, "2026-03-08T04:30:00.000Z", "/", V2, "amy", SAFARI_IPHONE, "https://news.example/a", NO_UTM, "pageview"),
        s(21, "2026-03-08T05:30:00.000Z", "/docs", V2, "amy", SAFARI_IPHONE, "", NO_UTM, "pageview"),
        s(22, "2026-03-08T07:30:00.000Z", "/docs", V3, "amy", SAFARI_IPAD, "", NO_UTM, "pageview"),
        s(23, "2026-03-08T07:31:00.000Z", "/docs", V3, "amy", SAFARI_IPAD, "", NO_UTM, "cart:add"),
        // The 9th (EDT, UTC-4): its last minute is 03:59Z on the 10th.
        s(30, "2026-03-10T03:59:00.000Z", "/", V4, "", FIREFOX_LINUX, "https://news.example/b", NO_UTM, "pageview"),
        s(31, "2026-03-10T04:00:00.000Z", "/late", V4, "", FIREFOX_LINUX, "", NO_UTM, "pageview"),
    ]
}

/// Writes the hits, one file a UTC day; the 5th's in the record's first version (14 columns:
/// its hits read as page views without campaigns).
fn write(root: &Path) {
    let mut by_file: std::collections::BTreeMap<String, String> = Default::default();
    for s in specs() {
        let h = hit(&s);
        let date = &h.ts[..10];
        let old = date == "2026-03-05";
        let name = if old { "v1" } else { "v2" };
        let key = format!("hits/dt={date}/{name}.csv");
        let body = by_file.entry(key).or_insert_with(|| {
            if old {
                format!("{}\n", COLUMNS[..V1_COLUMNS].join(","))
            } else {
                csv_header()
            }
        });
        let mut row = String::new();
        h.write_csv_row(&mut row);
        if old {
            // Quoted user agents hold commas: keep everything up to origin_ms.
            let cut = row
                .trim_end()
                .rsplitn(COLUMNS.len() - V1_COLUMNS + 1, ',')
                .last()
                .unwrap();
            row = format!("{cut}\n");
        }
        body.push_str(&row);
    }
    for (key, body) in by_file {
        let path = root.join(key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, body).unwrap();
    }
}

fn report(root: &Path, extra: &[&str]) -> Value {
    let mut args = vec![
        "report",
        "--source",
        root.to_str().unwrap(),
        "--format",
        "json",
        "--tz",
        "America/New_York",
    ];
    args.extend(extra);
    serde_json::from_str(&ok(&analyzer(&args, &[]))).unwrap()
}

#[test]
fn a_week_across_daylight_saving_with_every_section_and_the_period_before() {
    let root = temp_dir("sections");
    write(&root);
    let r = report(
        &root,
        &["--from", "2026-03-07", "--to", "2026-03-09", "--compare"],
    );
    assert_eq!(
        (r["date"].as_str(), r["from"].as_str(), r["to"].as_str()),
        (Some("2026-03-07"), Some("2026-03-07"), Some("2026-03-09"))
    );
    let s = &r["summary"];
    // Page views 10, 11, 20, 21, 22, 30; events 12, 23; 31 is after the period.
    assert_eq!(s["hits"], 6);
    assert_eq!(s["events"], 2);
    assert_eq!(s["visitors"], 4);
    assert_eq!(s["users"], 1);
    // Signed-in amy has three sessions of one page view each (20, 21, 22 are an hour and
    // two hours apart); anonymous V1 one of two (10, 11), V4 one of one (30).
    assert_eq!(s["sessions"], 5);
    assert_eq!(s["bounce_rate"], 0.8);
    assert_eq!(
        s["partitions"],
        json!(["2026-03-07", "2026-03-08", "2026-03-10"])
    );
    assert_eq!(s["missing_partitions"], json!(["2026-03-09"]));
    assert_eq!(
        r["daily"],
        json!([
            {"date": "2026-03-07", "hits": 3, "users": 1, "visitors": 2},
            {"date": "2026-03-08", "hits": 2, "users": 1, "visitors": 2},
            {"date": "2026-03-09", "hits": 1, "users": 0, "visitors": 1}
        ])
    );
    let mut hourly = [0u64; 24];
    hourly[9] = 2; // 10, 11 at 09:0x EST
    hourly[23] = 2; // 20 at 23:30 EST, 30 at 23:59 EDT
    hourly[0] = 1; // 21
    hourly[3] = 1; // 22 at 03:30 EDT
    assert_eq!(r["hourly"], json!(hourly));
    assert_eq!(
        r["sources"],
        // Sessions' sources: 11 is an internal click in the newsletter visit 10 opened; 21
        // comes an hour after 20, a new (direct) visit.
        json!([
            {"source": "(direct)", "hits": 2, "visitors": 2, "sessions": 2},
            {"source": "news.example", "hits": 2, "visitors": 2, "sessions": 2},
            {"source": "newsletter", "hits": 2, "visitors": 1, "sessions": 1}
        ])
    );
    assert_eq!(
        r["campaigns"],
        json!([{"utm_source": "newsletter", "utm_medium": "email", "utm_campaign": "march", "hits": 2, "visitors": 1, "sessions": 1}])
    );
    assert_eq!(
        r["devices"],
        json!([
            {"device": "desktop", "hits": 3, "visitors": 2},
            {"device": "mobile", "hits": 2, "visitors": 1},
            {"device": "tablet", "hits": 1, "visitors": 1}
        ])
    );
    assert_eq!(
        r["browsers"],
        json!([
            {"browser": "Mobile Safari", "hits": 3, "visitors": 2},
            {"browser": "Chrome", "hits": 2, "visitors": 1},
            {"browser": "Firefox", "hits": 1, "visitors": 1}
        ])
    );
    assert_eq!(
        r["os"],
        json!([
            {"os": "iOS", "hits": 3, "visitors": 2},
            {"os": "Windows", "hits": 2, "visitors": 1},
            {"os": "Linux", "hits": 1, "visitors": 1}
        ])
    );
    assert_eq!(
        r["events"],
        json!([
            {"event": "cart:add", "hits": 1, "visitors": 1, "conversion_rate": 0.25},
            {"event": "signup", "hits": 1, "visitors": 1, "conversion_rate": 0.25}
        ])
    );
    // The period before: the 4th to the 6th; the 5th is a version-1 file.
    assert_eq!(r["previous"]["from"], "2026-03-04");
    assert_eq!(r["previous"]["to"], "2026-03-06");
    assert_eq!(r["previous"]["summary"]["hits"], 3);
    assert_eq!(
        r["previous"]["summary"]["missing_partitions"],
        json!(["2026-03-04"])
    );
    let previous = |path: &str| {
        r["pages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["path"] == path)
            .unwrap()["previous_hits"]
            .clone()
    };
    assert_eq!(previous("/"), 2);
    assert_eq!(previous("/pricing"), 1);
    assert_eq!(previous("/docs"), 0);

    // Without --compare there is no "previous" and pages have no previous_hits.
    let plain = report(&root, &["--from", "2026-03-07", "--to", "2026-03-09"]);
    assert!(plain.get("previous").is_none());
    assert!(plain["pages"][0].get("previous_hits").is_none());

    // --out writes a range under range=FROM_TO/.
    let out = root.join("out");
    ok(&analyzer(
        &[
            "report",
            "--source",
            root.to_str().unwrap(),
            "--tz",
            "America/New_York",
            "--from",
            "2026-03-07",
            "--to",
            "2026-03-09",
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
    ));
    for f in ["pages.csv", "users.csv", "summary.json", "report.html"] {
        assert!(
            out.join("range=2026-03-07_2026-03-09").join(f).is_file(),
            "{f}"
        );
    }
}

#[test]
fn a_period_with_no_files_at_all_is_missing_not_zero() {
    let root = temp_dir("sections-missing");
    write(&root);
    let out = analyzer(
        &[
            "report",
            "--source",
            root.to_str().unwrap(),
            "--from",
            "2026-04-01",
            "--to",
            "2026-04-03",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let out = analyzer(
        &[
            "report",
            "--source",
            root.to_str().unwrap(),
            "--from",
            "2026-01-01",
            "--to",
            "2027-01-05",
        ],
        &[],
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "over 366 days: {}",
        stderr(&out)
    );
}
