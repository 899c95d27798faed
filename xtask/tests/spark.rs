//! The Spark report (`jobs/spark/report.py`) against the analyzer's, on a real Spark
//! standalone cluster: a master and two workers on 127.0.0.1 started here, the job submitted
//! to that master with `spark-submit`, and its JSON equal to `analyzer report --format json`
//! (keys `date`, `tz`, `summary`, `pages`, `users`, `hourly`) on a generated day.
//!
//! The day is a New York day (UTC-5 in November), so it reads two UTC partitions and cuts both;
//! it has duplicates (across and inside objects), bots (page views and events), custom events,
//! a signed-in user on two devices, sessions across both local midnights, gaps of exactly
//! 30:00.000 and 30:00.001, two page views of one visitor in the same millisecond, external and
//! internal referrers, more than ten countries, non-ASCII and CSV-special paths, malformed rows,
//! a file without a page-hit header, and a partition outside the day that must not be read.
//! Besides equality with the analyzer, the facts the day was built with are checked directly,
//! so the two cannot agree on a wrong answer.
//!
//! The Parquet days come from `analyzer compact`.
//!
//! Run with `cargo xtask test` (or `cargo build -p analyzer && cargo test -p xtask --test spark
//! -- --include-ignored` after `cargo xtask setup`).

use pagehit::time::{format_ts, parse_date, MS_PER_DAY};
use pagehit::PageHit;
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::process::Command;
use std::time::Instant;
use xtask::spark::Cluster;
use xtask::traffic::Lcg;

/// The local day reported, and its zone.
const DATE: &str = "2026-11-25";
const TZ: &str = "America/New_York";
/// The UTC partitions it touches: [2026-11-25T05:00Z, 2026-11-26T05:00Z).
const PARTITIONS: [&str; 2] = ["2026-11-25", "2026-11-26"];
/// A partition with hit files that the day does not touch (never compacted, never read).
const OUTSIDE: &str = "2026-11-24";
const MIN: i64 = 60_000;
/// A 24-hour day (no daylight-saving change in New York on DATE).
const DAY: i64 = 24 * 60 * MIN;

/// Local midnight of DATE in New York, in ms.
fn day_start() -> i64 {
    parse_date(DATE).unwrap() * MS_PER_DAY + 5 * 60 * MIN
}

/// The generated day: every hit landed (duplicates included), by object key.
struct Day {
    objects: BTreeMap<String, String>,
    /// Every distinct hit, once.
    hits: Vec<PageHit>,
    /// Rows landed twice: (event_id, ts ms).
    duplicates: Vec<(String, i64)>,
    /// Malformed lines written into the day's partitions.
    malformed: u64,
}

fn event_id(n: u64) -> String {
    format!(
        "0193{:04x}-{:04x}-7{:03x}-8{:03x}-{:012x}",
        n >> 48,
        (n >> 32) & 0xffff,
        (n >> 20) & 0xfff,
        (n >> 8) & 0xfff,
        n
    )
}

fn hit(id: String, ts: i64, visitor: &str, user: &str, path: &str, event: &str) -> PageHit {
    PageHit {
        event_id: id,
        ts: format_ts(ts),
        host: "shop.example".into(),
        path: path.into(),
        action: "page".into(),
        method: "GET".into(),
        status: 200,
        user: user.into(),
        visitor: visitor.into(),
        user_agent: "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0".into(),
        event: event.into(),
        ..PageHit::default()
    }
}

const PATHS: [&str; 12] = [
    "/",
    "/products",
    "/about",
    "/blog",
    "/a,b",
    "/say \"hi\"",
    "/é",
    "/zoë",
    "/faq",
    "/contact",
    "/Z",
    "/z",
];
const USERS: [&str; 6] = ["alice", "bob", "carol", "dave", "Émile", "zoë"];
const REFERRERS: [&str; 12] = [
    "",
    "",
    "",
    "https://www.Google.com/search",
    "https://User@News.Example:8443/x",
    "https://shop.example/about",
    "https://SHOP.example:8080/",
    "android-app://com.example.app/",
    "not a url",
    "https://bücher.example/",
    "https:///nohost",
    "HTTP://Search.Example",
];
const COUNTRIES: [&str; 15] = [
    "", "DE", "US", "FR", "JP", "GB", "NL", "SE", "IT", "ES", "PL", "BR", "CA", "XX", "T1",
];

/// Builds the day: scenarios with known answers, then random traffic around them.
fn generate() -> Day {
    let start = day_start();
    let mut hits: Vec<PageHit> = Vec::new();
    let mut n = 0u64;
    let mut id = || {
        n += 1;
        event_id(n << 20)
    };

    let (noon, gap) = (10 * 60 * MIN, 7 * 60 * MIN);
    // (time from local midnight, visitor, user, path, event)
    #[rustfmt::skip]
    let scenes: [(i64, &str, &str, &str, &str); 13] = [
        // A session that began before the day: its first page view inside is an entry.
        (-10 * MIN, "a000000000000001", "", "/late", "pageview"),
        (5 * MIN, "a000000000000001", "", "/early-bird", "pageview"),
        (6 * MIN, "a000000000000001", "", "/", "signup"),
        // A session that goes on past the day: its last page view inside is an exit.
        (DAY - 20 * MIN, "b000000000000002", "", "/", "pageview"),
        (DAY - 5 * MIN, "b000000000000002", "", "/night", "pageview"),
        (DAY - 4 * MIN, "b000000000000002", "", "/", "cart:add"),
        (DAY + 10 * MIN, "b000000000000002", "", "/", "pageview"),
        // One user on two devices: one user session, three visitor sessions (c1 has two).
        (noon, "c100000000000001", "zoë", "/zoë", "pageview"),
        (noon + 20 * MIN, "c200000000000002", "zoë", "/about", "pageview"),
        (noon + 45 * MIN, "c100000000000001", "zoë", "/about", "pageview"),
        // 30:00.000 apart is one session, 30:00.001 apart two.
        (gap, "d000000000000001", "", "/gap", "pageview"),
        (gap + 30 * MIN, "d000000000000001", "", "/gap", "pageview"),
        (gap + 60 * MIN + 1, "d000000000000001", "", "/gap", "pageview"),
    ];
    for (at, visitor, user, path, event) in scenes {
        hits.push(hit(id(), start + at, visitor, user, path, event));
    }
    // Two page views in one millisecond: the smaller event_id comes first, whatever the file
    // order, so /tie-second (smaller id, written second) is the entry and /tie-first the exit.
    let t = start + 9 * 60 * MIN + 123;
    let tie = |id: u64, path: &str| hit(event_id(id), t, "e000000000000001", "", path, "pageview");
    hits.push(tie(0xffff_0000, "/tie-first"));
    hits.push(tie(0x1, "/tie-second"));
    // Equal hits on three paths whose UTF-8 byte order differs from UTF-16's.
    for (i, path) in ["/😀", "/\u{fffd}", "/\u{e000}"].into_iter().enumerate() {
        for k in 0..2 {
            let ts = start + (13 * 60 + 10 * i as i64 + k) * MIN;
            hits.push(hit(id(), ts, "e000000000000002", "", path, "pageview"));
        }
    }
    // A crawler: page views and an event, counted only in `bots`.
    for k in 0..3 {
        let mut h = hit(
            id(),
            start + (15 * 60 + k) * MIN,
            "f000000000000001",
            "",
            "/",
            "pageview",
        );
        h.bot = true;
        h.user_agent = "Mozilla/5.0 (compatible; Googlebot/2.1)".into();
        if k == 2 {
            h.event = "signup".into();
        }
        hits.push(h);
    }

    // Random traffic over both UTC days (so also outside the New York day).
    let mut rng = Lcg(20_261_125);
    let first = parse_date(PARTITIONS[0]).unwrap() * MS_PER_DAY;
    let visitors: Vec<String> = (0..30)
        .map(|v| format!("{:016x}", 0x5157_0000 + v * 7919))
        .collect();
    for _ in 0..1500 {
        let v = rng.below(visitors.len());
        // A third of the visitors are signed in; most users have two of them (devices).
        let user = if v.is_multiple_of(3) {
            USERS[(v / 3) % USERS.len()]
        } else {
            ""
        };
        let path = PATHS[(rng.below(64) as f64).sqrt() as usize % PATHS.len()];
        let ts = first + rng.below(2 * MS_PER_DAY as usize) as i64;
        let event = match rng.below(20) {
            0 => "signup",
            1 => "cart:add",
            _ => "pageview",
        };
        let mut h = hit(id(), ts, &visitors[v], user, path, event);
        h.referrer = rng.pick(&REFERRERS[..]).into();
        h.country = rng.pick(&COUNTRIES[..]).into();
        h.status = [200, 200, 200, 200, 301, 404, 503, 101][rng.below(8)];
        if rng.below(10) == 0 {
            h.host = "Shop.Example:8443".into();
        }
        if rng.below(20) == 0 {
            h.bot = true;
        }
        if rng.below(10) == 0 {
            h.utm_source = "newsletter".into();
        }
        hits.push(h);
    }

    // Land them: each UTC partition in three objects, every 30th hit landed twice (in
    // another object, or in the same one), a malformed row or two per object.
    let mut objects: BTreeMap<String, String> = BTreeMap::new();
    let mut duplicates = Vec::new();
    for (i, h) in hits.iter().enumerate() {
        let date = &h.ts[..10];
        let key = |shard: usize| format!("hits/dt={date}/shardId-00000000000{shard}-1-9.csv");
        let shard = i % 3;
        let mut row = String::new();
        h.write_csv_row(&mut row);
        let mut land = |key: String| {
            objects.entry(key).or_default().push_str(&row);
        };
        land(key(shard));
        if i % 30 == 7 {
            land(key((shard + i / 30) % 3));
            duplicates.push((h.event_id.clone(), pagehit::time::parse_ts(&h.ts).unwrap()));
        }
    }
    let mut bad = String::new();
    let mut h = hit(id(), start, "a000000000000001", "", "/", "pageview");
    h.ts = "2026-11-25 12:00:00".into();
    h.write_csv_row(&mut bad);
    for (key, body) in objects.iter_mut() {
        *body = format!("{}{body}", pagehit::csv_header());
        if PARTITIONS.iter().any(|p| key.contains(&format!("dt={p}/"))) {
            body.push_str("not,a,hit\n");
            body.push_str(&bad);
        }
    }
    let malformed = 2 * objects.len() as u64;
    objects.insert(
        format!("hits/dt={}/shardId-000000000009-1-1.csv", PARTITIONS[1]),
        "a,b,c\n1,2,3\n".into(),
    );
    let outside = format!("hits/dt={OUTSIDE}/shardId-000000000000-1-1.csv");
    objects.insert(outside, format!("{}not,a,hit\n", pagehit::csv_header()));
    Day {
        objects,
        hits,
        duplicates,
        malformed,
    }
}

fn write(objects: &BTreeMap<String, String>, root: &Path) {
    for (key, body) in objects {
        let path = root.join(key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, body).unwrap();
    }
}

fn output_text(out: &std::process::Output) -> String {
    format!(
        "{}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Compacts the day's UTC partitions with `analyzer compact`.
fn compact(analyzer: &Path, source: &Path) {
    for date in PARTITIONS {
        let out = Command::new(analyzer)
            .arg("compact")
            .arg("--source")
            .arg(source)
            .args(["--date", date])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "compacting {date}: {}",
            output_text(&out)
        );
    }
}

/// What the day holds by construction, computed from the generated hits.
struct Truth {
    page_views: u64,
    events: u64,
    bots: u64,
    duplicates: u64,
}

fn truth(day: &Day) -> Truth {
    let (start, end) = (day_start(), day_start() + DAY);
    let inside = |ts: i64| ts >= start && ts < end;
    let mut t = Truth {
        page_views: 0,
        events: 0,
        bots: 0,
        duplicates: day.duplicates.iter().filter(|(_, ts)| inside(*ts)).count() as u64,
    };
    let mut seen = HashSet::new();
    for h in &day.hits {
        assert!(seen.insert(&h.event_id), "generated ids are unique");
        if !inside(pagehit::time::parse_ts(&h.ts).unwrap()) {
            continue;
        }
        match (h.bot, h.event == "pageview") {
            (true, _) => t.bots += 1,
            (false, true) => t.page_views += 1,
            (false, false) => t.events += 1,
        }
    }
    t
}

/// The keys both reports carry: the one-day contract (`filters` only under `--filter`).
fn contract(report: &Value) -> Value {
    let mut out = serde_json::Map::new();
    for key in [
        "date", "tz", "filters", "summary", "pages", "users", "hourly",
    ] {
        out.insert(key.into(), report[key].clone());
    }
    Value::Object(out)
}

/// The first difference between two JSON values, as a path and both sides.
fn first_difference(a: &Value, b: &Value, at: &str) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            keys.into_iter().find_map(|k| {
                let (l, r) = (
                    x.get(k).unwrap_or(&Value::Null),
                    y.get(k).unwrap_or(&Value::Null),
                );
                first_difference(l, r, &format!("{at}.{k}"))
            })
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (l, r))| first_difference(l, r, &format!("{at}[{i}]"))),
        _ if a == b => None,
        _ => Some(format!("{at}: analyzer {a}, spark {b}")),
    }
}

fn page<'a>(report: &'a Value, path: &str) -> &'a Value {
    report["pages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["path"] == path)
        .unwrap_or_else(|| panic!("no page {path:?} in the report"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs pyspark, Java 17 and the analyzer binary: run `cargo xtask test`"]
async fn spark_report_on_a_standalone_cluster_equals_the_analyzers() {
    let started = Instant::now();
    // pyspark is this test's alone: installed here when missing (`cargo xtask test` did already).
    xtask::setup::ensure(&[xtask::setup::Tool::Spark]).unwrap();
    let analyzer = xtask::paths::workspace_bin("analyzer");
    assert!(
        analyzer.exists(),
        "build the analyzer first: cargo build -p analyzer"
    );
    // The cluster starts while the day is generated and compacted.
    let cluster = tokio::spawn(Cluster::start(2));

    // Kept when the test fails (the messages name it), removed when it passes.
    let scratch = tempfile::tempdir().unwrap().keep();
    let source = scratch.join("site");
    eprintln!("spark test: working in {}", scratch.display());
    let day = generate();
    write(&day.objects, &source);
    compact(&analyzer, &source);
    let compacted = started.elapsed();

    let analyzer_source = source.clone();
    let out = Command::new(&analyzer)
        .args([
            "report", "--date", DATE, "--tz", TZ, "--format", "json", "--source",
        ])
        .arg(&analyzer_source)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "analyzer report: {}",
        output_text(&out)
    );
    std::fs::write(scratch.join("analyzer-report.json"), &out.stdout).unwrap();
    let expected: Value = serde_json::from_slice(&out.stdout).unwrap();

    let cluster = cluster.await.unwrap().unwrap();
    let cluster_up = started.elapsed();
    let job = xtask::paths::root().join("jobs/spark/report.py");
    let out_file = scratch.join("spark-report.json");
    let source_arg = source.to_str().unwrap();
    let out = cluster
        .submit(
            &job,
            &[
                "--source",
                source_arg,
                "--date",
                DATE,
                "--tz",
                TZ,
                "--out",
                out_file.to_str().unwrap(),
            ],
        )
        .unwrap();
    assert!(
        out.status.success(),
        "spark-submit (cluster logs: {}): {}",
        cluster.logs(),
        output_text(&out)
    );
    let job_done = started.elapsed();
    let got: Value = serde_json::from_slice(&std::fs::read(&out_file).unwrap()).unwrap();

    // The facts the day was built with.
    let truth = truth(&day);
    let s = &got["summary"];
    assert_eq!(s["hits"], truth.page_views, "page views");
    assert_eq!(s["events"], truth.events, "custom events");
    assert_eq!(s["bots"], truth.bots, "bots");
    assert_eq!(s["duplicates"], truth.duplicates, "duplicates in the day");
    assert_eq!(
        s["malformed_rows"], day.malformed,
        "malformed rows of the two partitions"
    );
    assert_eq!(s["unknown_header_files"], 1);
    let files = day
        .objects
        .keys()
        .filter(|k| PARTITIONS.iter().any(|p| k.contains(&format!("dt={p}/"))))
        .count();
    assert_eq!(s["files"], files as u64);
    assert_eq!(s["partitions"], serde_json::json!(PARTITIONS));
    assert_eq!(s["missing_partitions"], serde_json::json!([]));
    assert_eq!(s["bots_included"], false);
    assert_eq!(
        (
            page(&got, "/early-bird")["entries"].as_u64(),
            page(&got, "/night")["exits"].as_u64()
        ),
        (Some(1), Some(1))
    );
    assert!(got["pages"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["path"] != "/late"));
    let (first, second) = (page(&got, "/tie-first"), page(&got, "/tie-second"));
    assert_eq!(
        (second["entries"].as_u64(), second["exits"].as_u64()),
        (Some(1), Some(0)),
        "same-millisecond tie"
    );
    assert_eq!(
        (first["entries"].as_u64(), first["exits"].as_u64()),
        (Some(0), Some(1)),
        "same-millisecond tie"
    );
    let gap = page(&got, "/gap");
    assert_eq!(
        (
            gap["hits"].as_u64(),
            gap["entries"].as_u64(),
            gap["bounces"].as_u64()
        ),
        (Some(3), Some(2), Some(1)),
        "30:00.000 vs 30:00.001"
    );
    let paths: Vec<&str> = got["pages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["path"].as_str().unwrap())
        .collect();
    let pos = |p: &str| paths.iter().position(|x| *x == p).unwrap();
    assert!(
        pos("/\u{e000}") < pos("/\u{fffd}") && pos("/\u{fffd}") < pos("/😀"),
        "UTF-8 byte order: {paths:?}"
    );
    assert_eq!(got["summary"]["countries"].as_array().unwrap().len(), 10);
    let hourly: u64 = got["hourly"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_u64().unwrap())
        .sum();
    assert_eq!(hourly, truth.page_views);
    for u in got["users"].as_array().unwrap() {
        let seen = u["first_seen"].as_str().unwrap();
        assert!(
            seen.starts_with("2026-11-2") && seen.ends_with("-05:00") && seen.len() == 29,
            "{seen}"
        );
    }

    // And the analyzer's report, key for key.
    let (expected, got) = (contract(&expected), contract(&got));
    if let Some(diff) = first_difference(&expected, &got, "report") {
        panic!(
            "the Spark report differs from the analyzer's at {diff} (data and reports in {})",
            scratch.display()
        );
    }

    // Under --filter: a hit filter, visit filters (the session's entry source and page), a
    // does-not-contain ignoring case, an any-of with an escaped value, and both kinds together.
    // The analyzer's numbers, and the facts of the day that a hit filter alone gives directly.
    // Each with its echo: the expressions normalized (a \ only where one is needed).
    let filtered: [(&[&str], &[&str]); 3] = [
        (&["page=/about|/zoë|/a,b"], &["page=/about|/zoë|/a,b"]),
        (
            &["source=newsletter|www.google.com", "page!~/Z|BLOG"],
            &["source=newsletter|www.google.com", "page!~/Z|BLOG"],
        ),
        (
            &["entry_page=/|/products|/late\\|x", "user=", "country!=\\DE"],
            &["entry_page=/|/products|/late\\|x", "user=", "country!=DE"],
        ),
    ];
    for (filters, normalized) in filtered {
        let args: Vec<String> = filters.iter().map(|f| format!("--filter={f}")).collect();
        let mut cmd = Command::new(&analyzer);
        cmd.args([
            "report", "--date", DATE, "--tz", TZ, "--format", "json", "--source",
        ])
        .arg(&analyzer_source)
        .args(&args);
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "analyzer report {filters:?}: {}",
            output_text(&out)
        );
        let expected: Value = serde_json::from_slice(&out.stdout).unwrap();
        let mut job_args = vec![
            "--source",
            source_arg,
            "--date",
            DATE,
            "--tz",
            TZ,
            "--out",
            out_file.to_str().unwrap(),
        ];
        job_args.extend(args.iter().map(String::as_str));
        let out = cluster.submit(&job, &job_args).unwrap();
        assert!(out.status.success(), "{filters:?}: {}", output_text(&out));
        let got: Value = serde_json::from_slice(&std::fs::read(&out_file).unwrap()).unwrap();
        assert_eq!(got["filters"], serde_json::json!(normalized), "the echo");
        let hits = got["summary"]["hits"].as_u64().unwrap();
        assert!(hits > 0, "{filters:?} counts something");
        let listed: u64 = got["pages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["hits"].as_u64().unwrap())
            .sum();
        assert_eq!(listed, hits, "{filters:?}: the pages add up");
        if filters.len() == 1 {
            let (start, end) = (day_start(), day_start() + DAY);
            let paths = ["/about", "/zoë", "/a,b"];
            let views = day
                .hits
                .iter()
                .filter(|h| !h.bot && h.event == "pageview" && paths.contains(&h.path.as_str()))
                .filter(|h| (start..end).contains(&pagehit::time::parse_ts(&h.ts).unwrap()))
                .count();
            assert_eq!(hits, views as u64, "page views of {paths:?}");
            assert!(got["pages"]
                .as_array()
                .unwrap()
                .iter()
                .all(|p| paths.contains(&p["path"].as_str().unwrap())));
            // zoë's three page views at noon are one user session: /zoë, /about, /about.
            let zoe = got["users"]
                .as_array()
                .unwrap()
                .iter()
                .find(|u| u["user"] == "zoë")
                .unwrap();
            assert!(zoe["hits"].as_u64().unwrap() >= 3, "{zoe}");
        }
        let (expected, got) = (contract(&expected), contract(&got));
        if let Some(diff) = first_difference(&expected, &got, "report") {
            panic!(
                "under {filters:?} the Spark report differs from the analyzer's at {diff} (data in {})",
                scratch.display()
            );
        }
    }

    // A day whose runs cannot be used is read from its landed CSVs, with the same numbers
    // (malformed rows, the file that is not a hit file and repeats included) and one line
    // saying why: a partition never compacted, and one whose manifest is damaged.
    let current = source.join(format!("compacted/dt={}/_current.json", PARTITIONS[1]));
    let mut damaged: Value = serde_json::from_slice(&std::fs::read(&current).unwrap()).unwrap();
    damaged["buckets"] = 0.into();
    std::fs::write(&current, damaged.to_string()).unwrap();
    for (date, tz, why) in [
        (DATE, TZ, format!("reading dt={} from its", PARTITIONS[1])),
        (
            OUTSIDE,
            "UTC",
            format!("reading dt={OUTSIDE} from its 1 CSV objects: it is not compacted"),
        ),
    ] {
        let out = Command::new(&analyzer)
            .args([
                "report", "--date", date, "--tz", tz, "--format", "json", "--source",
            ])
            .arg(&analyzer_source)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "analyzer report: {}",
            output_text(&out)
        );
        let expected: Value = serde_json::from_slice(&out.stdout).unwrap();
        let out = cluster
            .submit(
                &job,
                &[
                    "--source",
                    source_arg,
                    "--date",
                    date,
                    "--tz",
                    tz,
                    "--out",
                    out_file.to_str().unwrap(),
                ],
            )
            .unwrap();
        // Spark's Python runner sends the script's stderr to spark-submit's stdout.
        let said = output_text(&out);
        assert!(out.status.success(), "{said}");
        assert!(said.contains(&why), "{said}");
        let got: Value = serde_json::from_slice(&std::fs::read(&out_file).unwrap()).unwrap();
        if date == DATE {
            assert_eq!(got["summary"]["malformed_rows"], day.malformed);
            assert_eq!(got["summary"]["unknown_header_files"], 1);
        }
        let (expected, got) = (contract(&expected), contract(&got));
        if let Some(diff) = first_difference(&expected, &got, "report") {
            panic!(
                "{date}: the Spark report from the CSVs differs from the analyzer's at {diff} (data in {})",
                scratch.display()
            );
        }
    }
    eprintln!(
        "spark test: generated and compacted in {:.1} s, cluster up at {:.1} s, \
         report job done at {:.1} s, all done at {:.1} s",
        compacted.as_secs_f64(),
        cluster_up.as_secs_f64(),
        job_done.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    drop(cluster);
    std::fs::remove_dir_all(&scratch).unwrap();
}

/// The job's pure parts (rounding, dates, what to read, the SQL file, the JSON's key order):
/// `python3 -m unittest` in jobs/spark, without Spark, so it runs with every `cargo test`.
#[test]
fn the_jobs_python_unit_tests_pass() {
    let out = Command::new("python3")
        .args(["-m", "unittest", "-q"])
        .current_dir(xtask::paths::root().join("jobs/spark"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .expect("python3 starts");
    assert!(out.status.success(), "{}", output_text(&out));
}

/// report.sql under `--filter` on a hand-worked day (jobs/spark/test_sql.py), in a local Spark
/// of the project's `.venv-spark`: every rule of the filters with numbers worked out by hand.
#[test]
#[ignore = "needs pyspark and Java 17: run `cargo xtask test`"]
fn the_filter_rules_hold_on_a_hand_worked_day_in_local_spark() {
    xtask::setup::ensure(&[xtask::setup::Tool::Spark]).unwrap();
    let out = Command::new(xtask::spark::bin("python"))
        .args(["-m", "unittest", "-q", "test_sql"])
        .current_dir(xtask::paths::root().join("jobs/spark"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("SPARK_LOCAL_IP", "127.0.0.1")
        .output()
        .expect("the venv's python starts");
    let said = output_text(&out);
    assert!(out.status.success(), "{said}");
    assert!(!said.contains("skipped"), "pyspark must be there: {said}");
}
