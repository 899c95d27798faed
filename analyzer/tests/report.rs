//! End-to-end tests of `analyzer report`: the binary run on a day of hits written by the test
//! with pagehit's CSV writer, from a folder and from moto S3, checking exact numbers in every
//! format and the exit codes.

mod common;

use common::*;
use serde_json::{json, Value};
use std::path::Path;

fn src(root: &Path) -> &str {
    root.to_str().unwrap()
}

/// The whole JSON report for UTC 2026-11-25, worked out by hand from `common::hits()`.
fn expected_utc() -> Value {
    json!({
        "date": "2026-11-25",
        "from": "2026-11-25",
        "to": "2026-11-25",
        "tz": "UTC",
        "summary": {
            "hits": 12,
            "users": 3,
            "visitors": 6,
            // users: zoë 1 (her phone bridges the laptop's gap), bob 1, @admin 1;
            // anonymous per visitor: c 2, g 1.
            "sessions": 6,
            // one-hit sessions: @admin, c's last hit, g.
            "bounce_rate": 0.5,
            "bots": 2,
            "bots_included": false,
            "duplicates": 3,
            "malformed_rows": 3,
            "unknown_header_files": 0,
            "files": 3,
            "partitions": ["2026-11-25"],
            "missing_partitions": [],
            "events": 0,
            "referrers": [
                {"host": "news.example", "hits": 2},
                {"host": "search.example", "hits": 2}
            ],
            "countries": [
                {"country": "DE", "hits": 4},
                {"country": "JP", "hits": 3},
                {"country": "US", "hits": 3},
                {"country": "", "hits": 1},
                {"country": "KR", "hits": 1}
            ],
            "status_classes": {"1xx": 0, "2xx": 8, "3xx": 1, "4xx": 1, "5xx": 2}
        },
        "pages": [
            {"path": "/", "hits": 5, "users": 3, "visitors": 4, "share": 0.416667,
             "entries": 4, "exits": 3, "bounces": 2, "errors_4xx": 0, "errors_5xx": 1},
            {"path": "/about", "hits": 3, "users": 1, "visitors": 3, "share": 0.25,
             "entries": 3, "exits": 3, "bounces": 3, "errors_4xx": 1, "errors_5xx": 0},
            {"path": CAFE, "hits": 3, "users": 2, "visitors": 2, "share": 0.25,
             "entries": 1, "exits": 1, "bounces": 0, "errors_4xx": 0, "errors_5xx": 0},
            {"path": ODD, "hits": 1, "users": 0, "visitors": 1, "share": 0.083333,
             "entries": 0, "exits": 1, "bounces": 0, "errors_4xx": 0, "errors_5xx": 1}
        ],
        "users": [
            {"user": ZOE, "hits": 4, "pages": 3, "sessions": 1,
             "first_seen": "2026-11-25T08:00:00.000+00:00",
             "last_seen": "2026-11-25T08:40:00.001+00:00", "top_page": "/about"},
            {"user": BOB, "hits": 3, "pages": 2, "sessions": 1,
             "first_seen": "2026-11-25T10:00:00.000+00:00",
             "last_seen": "2026-11-25T10:06:00.000+00:00", "top_page": CAFE},
            {"user": ADMIN, "hits": 1, "pages": 1, "sessions": 1,
             "first_seen": "2026-11-25T12:00:00.000+00:00",
             "last_seen": "2026-11-25T12:00:00.000+00:00", "top_page": "/"}
        ],
        "hourly": [0, 0, 0, 0, 0, 0, 0, 0, 4, 2, 3, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1],
        "daily": [{"date": "2026-11-25", "hits": 12, "users": 3, "visitors": 6}],
        // A session's page views count under its first one's source: zoë's visitor session
        // 1-2 came from search.example (hit 2's internal click is not a source), 3 (30:00.001
        // later) is direct; the anonymous visitor's 5-6 from news.example, 7 from
        // search.example; bob's 8-10 from news.example (news.example:8080 is news.example).
        "sources": [
            {"source": "news.example", "hits": 5, "visitors": 2, "sessions": 2},
            {"source": "(direct)", "hits": 4, "visitors": 4, "sessions": 4},
            {"source": "search.example", "hits": 3, "visitors": 2, "sessions": 2}
        ],
        "campaigns": [],
        "browsers": [{"browser": "Firefox", "hits": 12, "visitors": 6}],
        "os": [{"os": "Linux", "hits": 12, "visitors": 6}],
        "devices": [{"device": "desktop", "hits": 12, "visitors": 6}],
        "events": [],
        "hosts": [{"host": "shop.example", "hits": 12, "visitors": 6}]
    })
}

/// The JSON report for Asia/Tokyo 2026-11-25 (15:00Z on the 24th to 15:00Z on the 25th).
fn expected_tokyo() -> Value {
    json!({
        "date": "2026-11-25",
        "from": "2026-11-25",
        "to": "2026-11-25",
        "tz": "Asia/Tokyo",
        "summary": {
            "hits": 11,
            "users": 3,
            "visitors": 5,
            "sessions": 5,
            "bounce_rate": 0.4,
            "bots": 2,
            "bots_included": false,
            "duplicates": 3,
            "malformed_rows": 3,
            "unknown_header_files": 0,
            "files": 4,
            "partitions": ["2026-11-24", "2026-11-25"],
            "missing_partitions": [],
            "events": 0,
            "referrers": [
                {"host": "news.example", "hits": 2},
                {"host": "search.example", "hits": 1}
            ],
            "countries": [
                {"country": "DE", "hits": 4},
                {"country": "JP", "hits": 3},
                {"country": "US", "hits": 3},
                {"country": "", "hits": 1}
            ],
            "status_classes": {"1xx": 0, "2xx": 7, "3xx": 1, "4xx": 1, "5xx": 2}
        },
        "pages": [
            {"path": "/", "hits": 5, "users": 3, "visitors": 4, "share": 0.454545,
             "entries": 4, "exits": 3, "bounces": 2, "errors_4xx": 0, "errors_5xx": 1},
            {"path": CAFE, "hits": 3, "users": 2, "visitors": 2, "share": 0.272727,
             "entries": 1, "exits": 1, "bounces": 0, "errors_4xx": 0, "errors_5xx": 0},
            {"path": "/about", "hits": 2, "users": 1, "visitors": 2, "share": 0.181818,
             "entries": 2, "exits": 2, "bounces": 2, "errors_4xx": 1, "errors_5xx": 0},
            {"path": ODD, "hits": 1, "users": 0, "visitors": 1, "share": 0.090909,
             "entries": 0, "exits": 1, "bounces": 0, "errors_4xx": 0, "errors_5xx": 1}
        ],
        "users": [
            {"user": ZOE, "hits": 4, "pages": 3, "sessions": 1,
             "first_seen": "2026-11-25T17:00:00.000+09:00",
             "last_seen": "2026-11-25T17:40:00.001+09:00", "top_page": "/about"},
            {"user": BOB, "hits": 3, "pages": 2, "sessions": 1,
             "first_seen": "2026-11-25T19:00:00.000+09:00",
             "last_seen": "2026-11-25T19:06:00.000+09:00", "top_page": CAFE},
            {"user": ADMIN, "hits": 1, "pages": 1, "sessions": 1,
             "first_seen": "2026-11-25T21:00:00.000+09:00",
             "last_seen": "2026-11-25T21:00:00.000+09:00", "top_page": "/"}
        ],
        "hourly": [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 2, 3, 0, 1, 0, 0],
        "daily": [{"date": "2026-11-25", "hits": 11, "users": 3, "visitors": 5}],
        // As in UTC, but hit 14 (direct) opens the anonymous visitor's Tokyo day and hit 7 is
        // the next day's.
        "sources": [
            {"source": "news.example", "hits": 5, "visitors": 2, "sessions": 2},
            {"source": "(direct)", "hits": 4, "visitors": 4, "sessions": 4},
            {"source": "search.example", "hits": 2, "visitors": 1, "sessions": 1}
        ],
        "campaigns": [],
        "browsers": [{"browser": "Firefox", "hits": 11, "visitors": 5}],
        "os": [{"os": "Linux", "hits": 11, "visitors": 5}],
        "devices": [{"device": "desktop", "hits": 11, "visitors": 5}],
        "events": [],
        "hosts": [{"host": "shop.example", "hits": 11, "visitors": 5}]
    })
}

fn json_report(root: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["report", "--source", src(root), "--format", "json"];
    args.extend(extra);
    let text = ok(&analyzer(&args, &[]));
    serde_json::from_str(&text).unwrap()
}

#[test]
fn utc_day_from_a_folder_as_json() {
    let root = temp_dir("utc-json");
    write_source(&root);
    let got = json_report(&root, &["--date", "2026-11-25"]);
    assert_eq!(got, expected_utc());
    // The contract's top-level keys, in order.
    let text = ok(&analyzer(
        &[
            "report",
            "--source",
            src(&root),
            "--date",
            "2026-11-25",
            "--format",
            "json",
        ],
        &[],
    ));
    let keys: Vec<usize> = ["date", "tz", "summary", "pages", "users", "hourly"]
        .iter()
        .map(|k| text.find(&format!("\n  \"{k}\": ")).unwrap())
        .collect();
    assert!(keys.windows(2).all(|w| w[0] < w[1]), "{text}");
}

#[test]
fn tokyo_day_reads_two_partitions_and_cuts_at_local_midnight() {
    let root = temp_dir("tokyo");
    write_source(&root);
    let got = json_report(&root, &["--date", "2026-11-25", "--tz", "Asia/Tokyo"]);
    assert_eq!(got, expected_tokyo());
}

#[test]
fn bots_are_counted_in_when_included() {
    let root = temp_dir("bots");
    write_source(&root);
    let got = json_report(&root, &["--date", "2026-11-25", "--include-bots"]);
    let s = &got["summary"];
    assert_eq!(s["hits"], 14);
    assert_eq!(s["bots"], 2);
    assert_eq!(s["bots_included"], true);
    assert_eq!(s["visitors"], 7);
    // The crawler's two hits a second apart are one anonymous session.
    assert_eq!(s["sessions"], 7);
    assert_eq!(s["duplicates"], 3);
    assert_eq!(got["pages"][0]["path"], "/");
    assert_eq!(got["pages"][0]["hits"], 6);
    assert_eq!(got["pages"][0]["entries"], 5);
    assert_eq!(got["pages"][1]["path"], "/about");
    assert_eq!(got["pages"][1]["hits"], 4);
    assert_eq!(got["pages"][1]["exits"], 4);
    assert_eq!(got["hourly"][11], 2);
}

#[test]
fn top_limits_pages_users_and_summary_lists() {
    let root = temp_dir("top");
    write_source(&root);
    let got = json_report(&root, &["--date", "2026-11-25", "--top", "1"]);
    let paths: Vec<&str> = got["pages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["/"]);
    assert_eq!(got["users"].as_array().unwrap().len(), 1);
    assert_eq!(got["users"][0]["user"], ZOE);
    assert_eq!(
        got["summary"]["countries"],
        json!([{"country": "DE", "hits": 4}])
    );
    assert_eq!(
        got["summary"]["referrers"],
        json!([{"host": "news.example", "hits": 2}])
    );
    // Shares and totals still refer to the whole day.
    assert_eq!(got["pages"][0]["share"], 0.416667);
    assert_eq!(got["summary"]["hits"], 12);
}

const PAGES_CSV: &str =
    "path,hits,users,visitors,share,entries,exits,bounces,errors_4xx,errors_5xx\n\
/,5,3,4,0.416667,4,3,2,0,1\n\
/about,3,1,3,0.25,3,3,3,1,0\n\
/café/日本,3,2,2,0.25,1,1,0,0,0\n\
\"/a,b\"\"c%0D%0Ad\",1,0,1,0.083333,0,1,0,0,1\n";

const USERS_CSV: &str = "user,hits,pages,sessions,first_seen,last_seen,top_page\n\
zoë,4,3,1,2026-11-25T08:00:00.000+00:00,2026-11-25T08:40:00.001+00:00,/about\n\
\"bob, \"\"the builder\"\"\",3,2,1,2026-11-25T10:00:00.000+00:00,2026-11-25T10:06:00.000+00:00,/café/日本\n\
'@admin,1,1,1,2026-11-25T12:00:00.000+00:00,2026-11-25T12:00:00.000+00:00,/\n";

#[test]
fn csv_format_is_the_page_report() {
    let root = temp_dir("csv");
    write_source(&root);
    let out = ok(&analyzer(
        &[
            "report",
            "--source",
            src(&root),
            "--date",
            "2026-11-25",
            "--format",
            "csv",
        ],
        &[],
    ));
    assert_eq!(out, PAGES_CSV);
}

fn expected_summary_json() -> Value {
    let mut v = expected_utc();
    let obj = v.as_object_mut().unwrap();
    obj.remove("pages");
    obj.remove("users");
    v
}

fn check_out_files(get: impl Fn(&str) -> String) {
    assert_eq!(get("pages.csv"), PAGES_CSV);
    assert_eq!(get("users.csv"), USERS_CSV);
    let summary: Value = serde_json::from_str(&get("summary.json")).unwrap();
    assert_eq!(summary, expected_summary_json());
    let html = get("report.html");
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    assert!(html.contains(">@admin</th>"), "{html}");
}

#[test]
fn out_folder_gets_four_complete_files_and_stdout_stays_empty() {
    let root = temp_dir("out");
    write_source(&root);
    let out_dir = root.join("reports");
    let out = analyzer(
        &[
            "report",
            "--source",
            src(&root),
            "--date",
            "2026-11-25",
            "--out",
            src(&out_dir),
        ],
        &[],
    );
    assert_eq!(ok(&out), "");
    assert_eq!(stderr(&out), "", "stderr is not a terminal: no progress");
    let day = out_dir.join("dt=2026-11-25");
    let mut names: Vec<String> = std::fs::read_dir(&day)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["pages.csv", "report.html", "summary.json", "users.csv"]
    );
    check_out_files(|name| std::fs::read_to_string(day.join(name)).unwrap());

    // Running again replaces the files; asking for a format still prints it.
    let out = analyzer(
        &[
            "report",
            "--source",
            src(&root),
            "--date",
            "2026-11-25",
            "--out",
            src(&out_dir),
            "--format",
            "csv",
        ],
        &[],
    );
    assert_eq!(ok(&out), PAGES_CSV);
    assert_eq!(std::fs::read_dir(&day).unwrap().count(), 4);
}

#[test]
fn markdown_has_the_numbers_and_escapes_markup() {
    let root = temp_dir("md");
    write_source(&root);
    let md = ok(&analyzer(
        &[
            "report",
            "--source",
            src(&root),
            "--date",
            "2026-11-25",
            "--format",
            "markdown",
        ],
        &[],
    ));
    for line in [
        "# Page\\-hit report for 2026\\-11\\-25 \\(UTC\\)",
        "| hits | 12 |",
        "| users | 3 |",
        "| visitors | 6 |",
        "| sessions | 6 |",
        "| bounce rate | 50.0% |",
        "| bots \\(left out\\) | 2 |",
        "| duplicates | 3 |",
        "| malformed rows | 3 |",
        "| files | 3 \\(dt\\=2026\\-11\\-25\\) |",
        "| 0 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 4 | 2 | 3 | 0 | 1 | 0 | 0 | 1 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 1 |",
        "| 0 | 8 | 1 | 1 | 2 |",
        "| news\\.example | 2 |",
        "| search\\.example | 2 |",
        "| DE | 4 |",
        "| \\(unknown\\) | 1 |",
        "| \\/ | 5 | 3 | 4 | 41.7% | 4 | 3 | 2 | 0 | 1 |",
        "| \\/about | 3 | 1 | 3 | 25.0% | 3 | 3 | 3 | 1 | 0 |",
        "| \\/café\\/日本 | 3 | 2 | 2 | 25.0% | 1 | 1 | 0 | 0 | 0 |",
        "| \\/a\\,b\\\"c\\%0D\\%0Ad | 1 | 0 | 1 | 8.3% | 0 | 1 | 0 | 0 | 1 |",
        "| zoë | 4 | 3 | 1 | 2026\\-11\\-25T08\\:00\\:00\\.000\\+00\\:00 | 2026\\-11\\-25T08\\:40\\:00\\.001\\+00\\:00 | \\/about |",
        "| bob\\, \\\"the builder\\\" | 3 | 2 | 1 | 2026\\-11\\-25T10\\:00\\:00\\.000\\+00\\:00 | 2026\\-11\\-25T10\\:06\\:00\\.000\\+00\\:00 | \\/café\\/日本 |",
        "| \\@admin | 1 | 1 | 1 | 2026\\-11\\-25T12\\:00\\:00\\.000\\+00\\:00 | 2026\\-11\\-25T12\\:00\\:00\\.000\\+00\\:00 | \\/ |",
    ] {
        assert!(md.lines().any(|l| l == line), "missing {line:?} in\n{md}");
    }
}

#[test]
fn table_has_the_numbers() {
    let root = temp_dir("table");
    write_source(&root);
    // No --format and no --out: a table.
    let table = ok(&analyzer(
        &["report", "--source", src(&root), "--date", "2026-11-25"],
        &[],
    ));
    for line in [
        "Page-hit report for 2026-11-25 (UTC)",
        "hits            12",
        "sessions         6",
        "bounce rate  50.0%",
        "bots (left out)       2",
        "duplicates            3",
        "malformed rows        3",
        "files                 3 (dt=2026-11-25)",
        "08       4  ########################################",
        "23       1  ##########",
        "news.example       2",
        "PATH           HITS  USERS  VISITORS  SHARE  ENTRIES  EXITS  BOUNCES  4XX  5XX",
        "/                 5      3         4  41.7%        4      3        2    0    1",
        "/about            3      1         3  25.0%        3      3        3    1    0",
        "/café/日本        3      2         2  25.0%        1      1        0    0    0",
        "/a,b\"c%0D%0Ad     1      0         1   8.3%        0      1        0    0    1",
        "USER                HITS  PAGES  SESSIONS  FIRST SEEN                     LAST SEEN                      TOP PAGE",
        "zoë                    4      3         1  2026-11-25T08:00:00.000+00:00  2026-11-25T08:40:00.001+00:00  /about",
        "@admin                 1      1         1  2026-11-25T12:00:00.000+00:00  2026-11-25T12:00:00.000+00:00  /",
    ] {
        assert!(table.lines().any(|l| l == line), "missing {line:?} in\n{table}");
    }
}

/// The page's design is tested where it is made (`output::html`, and in a real browser by
/// `tests/dashboard.rs`); here: what reaches it from the data is escaped and nothing is fetched.
#[test]
fn html_is_self_contained_with_escaped_values() {
    let root = temp_dir("html");
    write_source(&root);
    let html = ok(&analyzer(
        &[
            "report",
            "--source",
            src(&root),
            "--date",
            "2026-11-25",
            "--format",
            "html",
        ],
        &[],
    ));
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    for recorded in [BOB, ODD] {
        assert!(
            !html.contains(recorded),
            "{recorded:?} unescaped in\n{html}"
        );
    }
    assert!(
        html.contains("bob, &quot;the builder&quot;")
            || html.contains("bob, &#34;the builder&#34;")
    );
    for external in [
        "<script src",
        "src=\"http",
        "href=\"http",
        "url(",
        "@import",
    ] {
        assert!(
            !html.contains(external),
            "{external} in a self-contained page"
        );
    }
}

#[test]
fn source_comes_from_the_environment() {
    let root = temp_dir("env");
    write_source(&root);
    let out = analyzer(
        &["report", "--date", "2026-11-25", "--format", "csv"],
        &[("ANALYZER_SOURCE", src(&root))],
    );
    assert_eq!(ok(&out), PAGES_CSV);
}

#[test]
fn a_day_without_files_exits_3_naming_the_location() {
    let root = temp_dir("nodata");
    write_source(&root);
    let out = analyzer(
        &[
            "report",
            "--source",
            src(&root),
            "--date",
            "2026-12-01",
            "--tz",
            "Europe/Berlin",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(stdout(&out), "");
    let err = stderr(&out);
    // Berlin's 2026-12-01 starts at 23:00Z on 30 November.
    assert!(
        err.contains(&format!("{}/hits/dt=2026-11-30/", src(&root))),
        "{err}"
    );
    assert!(
        err.contains(&format!("{}/hits/dt=2026-12-01/", src(&root))),
        "{err}"
    );
    assert!(
        err.contains("no data for 2026-12-01 (Europe/Berlin)"),
        "{err}"
    );
    // The default day is yesterday: an empty source has no data for it either.
    let empty = temp_dir("nodata-empty");
    let out = analyzer(&["report", "--source", src(&empty)], &[]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
}

#[test]
fn a_missing_source_folder_is_an_error_not_missing_data() {
    let root = temp_dir("nosource");
    let out = analyzer(
        &[
            "report",
            "--source",
            src(&root.join("nope")),
            "--date",
            "2026-11-25",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("does not exist"), "{}", stderr(&out));
}

#[test]
fn usage_errors_exit_2() {
    let root = temp_dir("usage");
    for args in [
        vec!["report", "--source", src(&root), "--bogus"],
        vec!["report", "--source", src(&root), "--date", "25.11.2026"],
        vec!["report", "--source", src(&root), "--tz", "Mars/Olympus"],
        vec!["report", "--source", src(&root), "--format", "xml"],
        vec!["report", "--source", src(&root), "--top", "0"],
        vec!["report", "--source", "gs://bucket/x"],
        vec!["report"],
        vec!["nope"],
    ] {
        let out = analyzer(&args, &[]);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert_eq!(stdout(&out), "", "{args:?}");
    }
}

#[test]
fn strict_makes_malformed_rows_fatal() {
    let root = temp_dir("strict");
    write_source(&root);
    let out = analyzer(
        &[
            "report",
            "--source",
            src(&root),
            "--date",
            "2026-11-25",
            "--strict",
            "--format",
            "json",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "");
    assert!(
        stderr(&out).contains(
            "3 malformed rows and 0 files with an unknown header in the 3 files read for 2026-11-25 (UTC) (--strict); the first: "
        ) && stderr(&out).contains("shardId-000000000000-200.csv line 7: status is not a whole number"),
        "{}",
        stderr(&out)
    );
    // A clean day passes --strict.
    let out = analyzer(
        &[
            "report",
            "--source",
            src(&root),
            "--date",
            "2026-11-26",
            "--strict",
            "--format",
            "json",
        ],
        &[],
    );
    let v: Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(v["summary"]["hits"], 1);
    assert_eq!(v["summary"]["malformed_rows"], 0);
}

#[test]
fn help_shows_examples_with_a_cron_line() {
    for args in [vec!["--help"], vec!["report", "--help"]] {
        let help = ok(&analyzer(&args, &[]));
        assert!(help.contains("30 15 * * *"), "{help}");
        assert!(help.contains("--format json"), "{help}");
        assert!(help.contains("Exit codes"), "{help}");
    }
    let long = ok(&analyzer(&["report", "--help"], &[]));
    assert!(long.contains("30 minutes"), "{long}");
}

fn upload(moto: &Moto, location: &str) {
    let store = moto.store(location);
    for (rel, content) in files() {
        block_on(store.put(&rel, content)).unwrap();
    }
}

fn get_object(moto: &Moto, location: &str, rel: &str) -> String {
    let store = moto.store(location);
    let bytes = block_on(store.get(rel)).unwrap().unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

fn list_keys(moto: &Moto, location: &str, dir: &str) -> Vec<String> {
    let store = moto.store(location);
    block_on(store.list(dir))
        .unwrap()
        .into_iter()
        .map(|o| o.key)
        .collect()
}

#[test]
fn reads_from_and_writes_to_s3() {
    let moto = Moto::start();
    moto.create_bucket("hits-bucket");
    upload(&moto, "s3://hits-bucket/analytics");
    let env_owned = moto.env();
    let env: Vec<(&str, &str)> = env_owned.iter().map(|(k, v)| (*k, v.as_str())).collect();

    let run = |extra: &[&str]| {
        let mut args = vec![
            "report",
            "--source",
            "s3://hits-bucket/analytics",
            "--format",
            "json",
        ];
        args.extend(extra);
        let text = ok(&analyzer(&args, &env));
        serde_json::from_str::<Value>(&text).unwrap()
    };
    assert_eq!(run(&["--date", "2026-11-25"]), expected_utc());

    // Credentials, region and endpoint from a named profile, as `aws configure` or an SSO login
    // leave them (the AWS SDK's chain, not only environment variables).
    let home = temp_dir("aws-profile");
    std::fs::write(
        home.join("credentials"),
        "[analytics]\naws_access_key_id = test\naws_secret_access_key = test\n",
    )
    .unwrap();
    std::fs::write(
        home.join("config"),
        format!(
            "[profile analytics]\nregion = us-east-1\nendpoint_url = {}\n",
            moto.endpoint
        ),
    )
    .unwrap();
    let credentials = home.join("credentials");
    let config = home.join("config");
    let profile_env = [
        ("AWS_PROFILE", "analytics"),
        ("AWS_SHARED_CREDENTIALS_FILE", credentials.to_str().unwrap()),
        ("AWS_CONFIG_FILE", config.to_str().unwrap()),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ];
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_analyzer"));
    cmd.args([
        "report",
        "--source",
        "s3://hits-bucket/analytics",
        "--format",
        "json",
        "--date",
        "2026-11-25",
    ]);
    for var in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_REGION",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_S3",
    ] {
        cmd.env_remove(var);
    }
    cmd.envs(profile_env);
    let out = cmd.output().unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&ok(&out)).unwrap(),
        expected_utc()
    );
    assert_eq!(
        run(&["--date", "2026-11-25", "--tz", "Asia/Tokyo"]),
        expected_tokyo()
    );

    // --out to S3: one object per file, the same bytes as in a folder.
    let out = analyzer(
        &[
            "report",
            "--source",
            "s3://hits-bucket/analytics",
            "--date",
            "2026-11-25",
            "--out",
            "s3://hits-bucket/analytics/reports/",
        ],
        &env,
    );
    assert_eq!(ok(&out), "");
    assert_eq!(
        list_keys(
            &moto,
            "s3://hits-bucket/analytics/reports",
            "dt=2026-11-25/"
        ),
        [
            "dt=2026-11-25/pages.csv",
            "dt=2026-11-25/report.html",
            "dt=2026-11-25/summary.json",
            "dt=2026-11-25/users.csv",
        ]
    );
    check_out_files(|name| {
        get_object(
            &moto,
            "s3://hits-bucket/analytics/reports",
            &format!("dt=2026-11-25/{name}"),
        )
    });

    // No objects for the day: exit 3 naming the S3 location.
    let out = analyzer(
        &[
            "report",
            "--source",
            "s3://hits-bucket/analytics",
            "--date",
            "2026-12-01",
        ],
        &env,
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("s3://hits-bucket/analytics/hits/dt=2026-12-01/"),
        "{}",
        stderr(&out)
    );
    // A bucket that does not exist is a failure, not "no data".
    let out = analyzer(
        &[
            "report",
            "--source",
            "s3://no-such-bucket/x",
            "--date",
            "2026-11-25",
        ],
        &env,
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
}
