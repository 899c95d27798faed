//! `analyzer compact` and reports from compacted days: the same report byte for byte whichever
//! the day is read from, a run is published whole and replaced by a later one, late objects
//! make the report read the CSVs again, and the landed CSVs are never touched.

mod common;

use common::*;
use serde_json::Value;
use std::path::Path;

fn run(args: &[&str]) -> String {
    ok(&analyzer(args, &[]))
}

fn report(root: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "report",
        "--source",
        root.to_str().unwrap(),
        "--format",
        "json",
    ];
    args.extend(extra);
    analyzer(&args, &[])
}

fn compact(root: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["compact", "--source", root.to_str().unwrap()];
    args.extend(extra);
    analyzer(&args, &[])
}

fn manifest(root: &Path, date: &str) -> Value {
    let text =
        std::fs::read_to_string(root.join(format!("compacted/dt={date}/_current.json"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Every file under `dir`, relative, sorted.
fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn reports_from_compacted_days_are_byte_identical_to_reports_from_the_csvs() {
    let root = temp_dir("compact-same");
    write_source(&root);
    let periods: [&[&str]; 4] = [
        &["--date", "2026-11-25"],
        &["--date", "2026-11-25", "--tz", "Asia/Tokyo"],
        &[
            "--from",
            "2026-11-24",
            "--to",
            "2026-11-26",
            "--tz",
            "America/New_York",
            "--compare",
        ],
        &["--date", "2026-11-25", "--include-bots", "--top", "2"],
    ];
    let before: Vec<String> = periods.iter().map(|p| ok(&report(&root, p))).collect();
    let hits_before = tree(&root.join("hits"));

    // The 24th in one bucket, the 25th in four: a period spans both, read as four groups.
    assert!(compact(&root, &["--date", "2026-11-24"]).status.success());
    let out = compact(&root, &["--date", "2026-11-25", "--buckets", "4"]);
    let said = ok(&out);
    assert!(
        said.contains("dt=2026-11-25: 3 objects -> 14 hits in 4 Parquet files")
            && said.contains("3 duplicates and 3 malformed rows dropped"),
        "{said}"
    );
    let m = manifest(&root, "2026-11-25");
    assert_eq!(m["buckets"], 4);
    // Hits 1 to 13 and 17 have their ts on the 25th (UTC); three rows were repeats.
    assert_eq!(m["rows"], 14);
    assert_eq!(m["duplicates"], 3);
    assert_eq!(m["malformed_rows"], 3);
    assert_eq!(m["covers"]["objects"], 3);
    let files = m["files"].as_array().unwrap();
    assert_eq!(files.len(), 4);
    assert_eq!(
        files
            .iter()
            .map(|f| f["rows"].as_u64().unwrap())
            .sum::<u64>(),
        14
    );
    // The 26th is not compacted: those periods read it from its CSV.
    for (period, want) in periods.iter().zip(&before) {
        let got = report(&root, period);
        assert_eq!(&ok(&got), want, "{period:?}");
        assert_eq!(
            stderr(&got),
            "",
            "nothing to say: every partition is usable"
        );
    }
    assert_eq!(
        tree(&root.join("hits")),
        hits_before,
        "the landed CSVs are untouched"
    );
    let symlink =
        std::fs::read_to_string(root.join("compacted/_symlink/dt=2026-11-25/manifest")).unwrap();
    assert_eq!(symlink.lines().count(), 4);
    assert!(
        symlink.lines().all(|l| l.ends_with(".parquet")),
        "{symlink}"
    );

    // Compacting again with nothing new does nothing.
    let again = ok(&compact(&root, &["--date", "2026-11-25"]));
    assert!(again.contains("is up to date"), "{again}");
    assert_eq!(manifest(&root, "2026-11-25")["run"], m["run"]);
}

#[test]
fn a_late_object_sends_the_report_back_to_the_csvs_until_the_day_is_compacted_again() {
    let root = temp_dir("compact-late");
    write_source(&root);
    assert!(compact(&root, &["--date", "2026-11-25", "--buckets", "2"])
        .status
        .success());
    let first = manifest(&root, "2026-11-25");
    let first_run = first["run"].as_str().unwrap().to_string();

    // A replayed batch lands later: hit 18, new, and a repeat of hit 1.
    let late = root.join("hits/dt=2026-11-25/shardId-000000000003-900.csv");
    let mut body = pagehit::csv_header();
    let mut h = hits()[0].hit();
    h.write_csv_row(&mut body);
    h.event_id = "01936b2e-1f00-7abc-8def-000000000018".into();
    h.path = "/late".into();
    h.write_csv_row(&mut body);
    std::fs::write(&late, body).unwrap();

    let out = report(&root, &["--date", "2026-11-25"]);
    let text = ok(&out);
    assert!(
        stderr(&out).contains(
            "reading dt=2026-11-25 from its 4 CSV objects: 1 landed after its compaction run"
        ),
        "{}",
        stderr(&out)
    );
    let csv_report: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(csv_report["summary"]["hits"], 13);
    assert_eq!(csv_report["summary"]["duplicates"], 4);

    // Compacting again includes it and replaces the run; the old run's files go (at once,
    // with no grace period for readers of the old run).
    assert!(compact(
        &root,
        &["--date", "2026-11-25", "--buckets", "2", "--grace", "0s"]
    )
    .status
    .success());
    let second = manifest(&root, "2026-11-25");
    assert_ne!(second["run"], first["run"]);
    assert_eq!(second["covers"]["objects"], 4);
    let runs: Vec<String> = tree(&root.join("compacted/dt=2026-11-25"));
    assert!(
        runs.iter().all(|f| !f.contains(&first_run)),
        "the old run is deleted: {runs:?}"
    );
    let out = report(&root, &["--date", "2026-11-25"]);
    assert_eq!(stderr(&out), "");
    assert_eq!(ok(&out), text, "the same report from the new run");
}

#[test]
fn ids_left_unread_at_rest_change_no_order_and_no_repeat() {
    // A compacted file's rows are read without their event ids unless rows of two sources
    // may tie on visitor and time. Here: two hits of one visitor in one millisecond, landed
    // in reverse id order (the first by id enters the session), and one record landed in the
    // 24th's partition as well as in the 25th's (a foreign writer: the aggregator dates a hit
    // by its own ts), which a two-day report must count once, as it does from the CSVs.
    let root = temp_dir("compact-ids");
    let hit = |n: u32, ts: &'static str, path: &'static str| {
        H {
            n,
            ts,
            path,
            status: 200,
            user: "",
            visitor: "abababababababab",
            referrer: "",
            country: "FR",
            bot: false,
        }
        .hit()
    };
    let csv = |hits: &[PageHitRow]| {
        let mut body = pagehit::csv_header();
        for h in hits {
            h.write_csv_row(&mut body);
        }
        body
    };
    type PageHitRow = pagehit::PageHit;
    let twice = hit(43, "2026-11-25T12:00:00.000Z", "/twice");
    let days = [
        (
            "2026-11-24",
            csv(&[hit(40, "2026-11-24T20:00:00.000Z", "/24th"), twice.clone()]),
        ),
        (
            "2026-11-25",
            csv(&[
                hit(42, "2026-11-25T09:00:00.000Z", "/second-by-id"),
                hit(41, "2026-11-25T09:00:00.000Z", "/first-by-id"),
                twice,
            ]),
        ),
    ];
    for (date, body) in &days {
        let path = root.join(format!("hits/dt={date}/shardId-000000000000-1.csv"));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, body).unwrap();
    }
    let periods: [&[&str]; 2] = [
        &["--date", "2026-11-25"],
        &["--from", "2026-11-24", "--to", "2026-11-25"],
    ];
    let before: Vec<String> = periods.iter().map(|p| ok(&report(&root, p))).collect();
    let day: Value = serde_json::from_str(&before[0]).unwrap();
    let entry = |r: &Value, path: &str| {
        r["pages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["path"] == path)
            .map(|p| p["entries"].clone())
    };
    assert_eq!(entry(&day, "/first-by-id"), Some(1.into()));
    assert_eq!(entry(&day, "/second-by-id"), Some(0.into()));
    let both: Value = serde_json::from_str(&before[1]).unwrap();
    assert_eq!(both["summary"]["duplicates"], 1, "{both}");
    for date in ["2026-11-24", "2026-11-25"] {
        assert!(compact(&root, &["--date", date]).status.success());
    }
    for (period, want) in periods.iter().zip(&before) {
        let got = report(&root, period);
        assert_eq!(&ok(&got), want, "{period:?}");
        assert_eq!(stderr(&got), "", "read from the compacted days");
    }
}

#[test]
fn compact_exit_codes_and_usage() {
    let root = temp_dir("compact-codes");
    write_source(&root);
    let out = compact(&root, &["--date", "2026-12-01"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("hits/dt=2026-12-01/"),
        "{}",
        stderr(&out)
    );
    // A range compacts every day that has objects; days without are skipped.
    let out = ok(&compact(
        &root,
        &["--from", "2026-11-23", "--to", "2026-11-26"],
    ));
    assert_eq!(out.lines().count(), 3, "{out}");
    for bad in [["--buckets", "3"], ["--date", "tomorrow"]] {
        let out = compact(&root, &bad);
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {}", stderr(&out));
    }
    let help = run(&["compact", "--help"]);
    assert!(
        help.contains("_current.json") && help.contains("--buckets"),
        "{help}"
    );
}

#[test]
fn compacts_on_s3_and_reports_from_it() {
    let moto = Moto::start();
    moto.create_bucket("compact-bucket");
    let location = "s3://compact-bucket/site";
    let store = moto.store(location);
    for (rel, content) in files() {
        block_on(store.put(&rel, content)).unwrap();
    }
    let env_owned = moto.env();
    let env: Vec<(&str, &str)> = env_owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let report = |extra: &[&str]| {
        let mut args = vec!["report", "--source", location, "--format", "json"];
        args.extend(extra);
        ok(&analyzer(&args, &env))
    };
    let before = report(&["--date", "2026-11-25", "--tz", "Asia/Tokyo"]);
    for date in ["2026-11-24", "2026-11-25"] {
        let out = analyzer(
            &[
                "compact",
                "--source",
                location,
                "--date",
                date,
                "--buckets",
                "2",
            ],
            &env,
        );
        ok(&out);
    }
    let keys: Vec<String> = block_on(store.list("compacted/"))
        .unwrap()
        .into_iter()
        .map(|o| o.key)
        .collect();
    assert_eq!(
        keys.iter().filter(|k| k.ends_with(".parquet")).count(),
        4,
        "{keys:?}"
    );
    assert!(keys.contains(&"compacted/dt=2026-11-25/_current.json".to_string()));
    let symlink = String::from_utf8(
        block_on(store.get("compacted/_symlink/dt=2026-11-25/manifest"))
            .unwrap()
            .unwrap()
            .to_vec(),
    )
    .unwrap();
    assert!(
        symlink
            .lines()
            .all(|l| l.starts_with("s3://compact-bucket/site/compacted/dt=2026-11-25/run=")),
        "{symlink}"
    );
    assert_eq!(
        report(&["--date", "2026-11-25", "--tz", "Asia/Tokyo"]),
        before
    );
}
