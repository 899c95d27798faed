//! The demo's synthetic history through the real pipeline, as `cargo xtask demo` sends it: on a
//! moto Kinesis stream with `PutRecords`, landed by `aggregator consume`, compacted by
//! `analyzer compact`, reported by `analyzer report --from --to --compare`. The report must say
//! exactly what the generator made: page views, events, campaigns, devices, days, hours,
//! statuses, sessions and bounces.
//!
//! Needs the aggregator and analyzer binaries (`cargo build -p aggregator -p analyzer`, which
//! `cargo xtask test` does). Run with `cargo xtask test`.

use pagehit::time::format_date;
use serde_json::Value;
use std::collections::BTreeMap;
use std::process::Command;
use xtask::history::{self, Count, Plan, Tally};
use xtask::kinesis;
use xtask::moto::{self, Moto};
use xtask::paths;

/// 2026-11-09, a Monday: the days cover a newsletter Tuesday and the ads' second half.
const MONDAY: i64 = 20_766;

/// Runs a program pointed at moto; returns its stdout, failing with its stderr.
fn run(program: &str, moto: &Moto, args: &[&str]) -> String {
    let mut cmd = Command::new(paths::workspace_bin(program));
    let out = moto::client_env(&mut cmd, &moto.endpoint)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e} (build it: cargo build -p {program})"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn report(moto: &Moto, source: &str, from: i64, to: i64, extra: &[&str]) -> Value {
    let (from, to) = (format_date(from), format_date(to));
    let mut args = vec!["report", "--source", source, "--from", &from, "--to", &to];
    args.extend(["--format", "json"]);
    args.extend(extra);
    serde_json::from_str(&run("analyzer", moto, &args)).unwrap()
}

/// A report list as name -> (hits, visitors).
fn counts(list: &Value, name: impl Fn(&Value) -> String) -> BTreeMap<String, Count> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|row| {
            let n = |k: &str| row[k].as_u64().unwrap();
            let count = Count {
                hits: n("hits"),
                visitors: n("visitors"),
            };
            (name(row), count)
        })
        .collect()
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

/// Every number of the summary and the lists the history promises.
fn assert_report_says(r: &Value, t: &Tally, days: &[String]) {
    let s = &r["summary"];
    assert_eq!(u(&s["hits"]), t.page_views, "page views");
    assert_eq!(u(&s["events"]), t.events, "custom events");
    assert_eq!(u(&s["bots"]), t.bots, "bot hits");
    assert_eq!(u(&s["visitors"]), t.visitors, "visitors");
    assert_eq!(u(&s["users"]), t.users, "users");
    for clean in ["duplicates", "malformed_rows", "unknown_header_files"] {
        assert_eq!(u(&s[clean]), 0, "{clean}");
    }
    assert_eq!(s["partitions"], serde_json::json!(days));
    assert_eq!(s["missing_partitions"], serde_json::json!([]));
    let classes: Vec<u64> = ["1xx", "2xx", "3xx", "4xx", "5xx"]
        .iter()
        .map(|c| u(&s["status_classes"][c]))
        .collect();
    assert_eq!(classes, t.status_classes, "status classes");

    let hourly: Vec<u64> = r["hourly"].as_array().unwrap().iter().map(u).collect();
    assert_eq!(hourly, t.hourly, "page views per hour");
    let daily: BTreeMap<String, [u64; 3]> = r["daily"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let date = d["date"].as_str().unwrap().to_string();
            (date, [u(&d["hits"]), u(&d["users"]), u(&d["visitors"])])
        })
        .collect();
    let want: BTreeMap<String, [u64; 3]> = t
        .daily
        .iter()
        .map(|(d, day)| (d.clone(), [day.hits, day.users, day.visitors]))
        .collect();
    assert_eq!(daily, want, "days");

    let events = counts(&r["events"], |e| e["event"].as_str().unwrap().into());
    assert_eq!(events, t.by_event, "events");
    let campaigns = counts(&r["campaigns"], |c| {
        let f = |k: &str| c[k].as_str().unwrap().to_string();
        format!(
            "{}/{}/{}",
            f("utm_source"),
            f("utm_medium"),
            f("utm_campaign")
        )
    });
    let want: BTreeMap<String, Count> = t
        .campaigns
        .iter()
        .map(|((s, m, c), n)| (format!("{s}/{m}/{c}"), *n))
        .collect();
    assert_eq!(campaigns, want, "campaigns");
    let devices = counts(&r["devices"], |d| d["device"].as_str().unwrap().into());
    let want: BTreeMap<String, Count> =
        t.devices.iter().map(|(d, n)| (d.to_string(), *n)).collect();
    assert_eq!(devices, want, "devices");

    // Visitor sessions: every one has one entry page; a bounce is a session of one page view.
    let pages = r["pages"].as_array().unwrap();
    let sum = |k: &str| pages.iter().map(|p| u(&p[k])).sum::<u64>();
    assert_eq!(sum("entries"), t.sessions, "visitor sessions");
    assert_eq!(sum("bounces"), t.bounces, "bounces");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs moto and the binaries: run `cargo xtask test`"]
async fn the_history_lands_through_the_stream_and_the_report_says_what_was_generated() {
    let plan = Plan {
        first_day: MONDAY,
        days: 4,
        sessions_per_day: 120,
        seed: 2026,
    };
    let h = history::generate(plan);
    let moto = Moto::start().await.unwrap();
    let kin = kinesis::client(&moto.endpoint);
    kinesis::create_stream(&kin, "page-hits", 2).await.unwrap();
    moto.create_bucket("history").await.unwrap();
    let sink = "s3://history/analytics";

    // As the demo does: JSON records, the visitor as partition key, 500 per PutRecords call.
    kinesis::put_hits(&kin, "page-hits", &h.hits, &[])
        .await
        .unwrap();
    let landed = run(
        "aggregator",
        &moto,
        &["consume", "--stream", "page-hits", "--sink", sink, "--once"],
    );
    let n = h.hits.len();
    assert!(
        landed.contains(&format!("{n} records ({n} hits, 0 rejected)")),
        "{landed}"
    );

    let days: Vec<String> = (MONDAY..MONDAY + 4).map(format_date).collect();
    let whole = report(&moto, sink, MONDAY, MONDAY + 3, &[]);
    assert_report_says(&whole, &h.tally(MONDAY, MONDAY + 3), &days);

    let (first, last) = (days[0].as_str(), days[3].as_str());
    let compacted = run(
        "analyzer",
        &moto,
        &["compact", "--source", sink, "--from", first, "--to", last],
    );
    assert_eq!(compacted.matches("Parquet files").count(), 4, "{compacted}");
    // The report reads the compacted days now, and says the same.
    assert_eq!(report(&moto, sink, MONDAY, MONDAY + 3, &[]), whole);

    // The demo's dashboard: the later days compared with as many days before.
    let compared = report(&moto, sink, MONDAY + 2, MONDAY + 3, &["--compare"]);
    assert_report_says(&compared, &h.tally(MONDAY + 2, MONDAY + 3), &days[2..]);
    let before = h.tally(MONDAY, MONDAY + 1);
    let previous = &compared["previous"];
    assert_eq!(previous["from"], days[0].as_str());
    assert_eq!(previous["to"], days[1].as_str());
    assert_eq!(u(&previous["summary"]["hits"]), before.page_views);
    assert_eq!(u(&previous["summary"]["events"]), before.events);
    assert_eq!(u(&previous["summary"]["visitors"]), before.visitors);
}
