//! `--memory-budget`: a report whose tables spill to disk gives the same bytes as one worked
//! out in memory, from the CSVs and from a compacted day, with and without `--compare`; the
//! files of `--out` hold every row whatever `--top` shows; the spill folder is left empty.

mod common;

use common::*;
use pagehit::{csv_header, PageHit};
use std::path::Path;

/// Distinct paths of the day: more than a sorted run's 4096 rows, so the lists go to disk.
const PATHS: u64 = 6_000;
const HITS: u64 = 9_000;

/// A day of many distinct paths, users, referrers and campaigns, in two CSV files: hit `i`
/// is on `/p/{i % PATHS}`, by visitor `i % 3000`, signed in as `u{i / 2}` when `i` is even.
fn write_wide_day(root: &Path, date: &str) {
    let header = csv_header();
    let mut files = [header.clone(), header];
    for i in 0..HITS {
        let hit = PageHit {
            event_id: format!("01936b2e-1f00-7abc-8def-{i:012x}"),
            ts: format!(
                "{date}T{:02}:{:02}:{:02}.000Z",
                i % 24,
                (i / 24) % 60,
                i % 60
            ),
            host: "shop.example".into(),
            path: format!("/p/{}", i % PATHS),
            action: "index".into(),
            method: "GET".into(),
            status: if i % 97 == 0 { 404 } else { 200 },
            user: if i % 2 == 0 {
                format!("u{}", (i / 2) % 4500)
            } else {
                String::new()
            },
            visitor: format!("{:016x}", i % 3000),
            referrer: format!("https://r{}.example/x", i % 5000),
            country: ["JP", "US", "DE"][(i % 3) as usize].into(),
            user_agent: "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0".into(),
            utm_source: if i % 3 == 0 {
                format!("s{}", i % 4999)
            } else {
                String::new()
            },
            utm_campaign: if i % 3 == 0 {
                format!("c{}", i % 4998)
            } else {
                String::new()
            },
            origin_ms: 7,
            ..PageHit::default()
        };
        hit.validate().expect("valid test hits");
        hit.write_csv_row(&mut files[(i % 2) as usize]);
    }
    for (n, body) in files.iter().enumerate() {
        let path = root.join(format!("hits/dt={date}/shardId-00000000000{n}-100.csv"));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, body).unwrap();
    }
}

fn report(root: &Path, extra: &[&str]) -> String {
    let mut args = vec!["report", "--source", root.to_str().unwrap()];
    args.extend(extra);
    ok(&analyzer(&args, &[]))
}

/// Files left under `dir`, relative.
fn left_in(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else {
                out.push(e.path().display().to_string());
            }
        }
    }
    out
}

#[test]
fn a_report_that_spills_is_byte_identical_to_one_in_memory() {
    let root = temp_dir("budget-same");
    write_wide_day(&root, "2026-11-25");
    write_wide_day(&root, "2026-11-24");
    let tmp = temp_dir("budget-spill");
    let tmp_arg = tmp.to_str().unwrap();
    let asks: [&[&str]; 3] = [
        &["--date", "2026-11-25", "--format", "json"],
        &["--date", "2026-11-25", "--format", "json", "--compare"],
        &["--date", "2026-11-25", "--format", "json", "--top", "7"],
    ];
    let mut in_memory = Vec::new();
    for ask in asks {
        let roomy = report(&root, ask);
        let mut tight = ask.to_vec();
        tight.extend(["--memory-budget", "0", "--tmp", tmp_arg]);
        assert_eq!(report(&root, &tight), roomy, "{ask:?} from the CSVs");
        assert!(left_in(&tmp).is_empty(), "{:?}", left_in(&tmp));
        in_memory.push(roomy);
    }

    // The numbers are those of the day as written.
    let json: serde_json::Value = serde_json::from_str(&in_memory[0]).unwrap();
    assert_eq!(json["summary"]["hits"], HITS);
    let pages = json["pages"].as_array().unwrap();
    assert_eq!(pages.len() as u64, PATHS);
    // 9000 hits on 6000 paths: /p/0 to /p/2999 have two page views each, the rest one.
    assert_eq!(pages[0]["path"], "/p/0");
    assert_eq!(pages[0]["hits"], 2);
    assert_eq!(pages[2999]["path"], "/p/999");
    assert_eq!(pages[3000]["hits"], 1);
    assert_eq!(json["users"].as_array().unwrap().len(), 4500);
    let top: serde_json::Value = serde_json::from_str(&in_memory[2]).unwrap();
    assert_eq!(top["pages"].as_array().unwrap().len(), 7);
    assert_eq!(top["pages"][6], pages[6]);

    // The same from the compacted day (four buckets), spilled or not.
    for date in ["2026-11-24", "2026-11-25"] {
        let args = [
            "compact",
            "--source",
            root.to_str().unwrap(),
            "--date",
            date,
            "--buckets",
            "4",
        ];
        ok(&analyzer(&args, &[]));
    }
    for (ask, want) in asks.iter().zip(&in_memory) {
        let mut tight = ask.to_vec();
        tight.extend(["--memory-budget", "0", "--tmp", tmp_arg]);
        assert_eq!(&report(&root, ask), want, "{ask:?} compacted");
        assert_eq!(&report(&root, &tight), want, "{ask:?} compacted, spilled");
        assert!(left_in(&tmp).is_empty(), "{:?}", left_in(&tmp));
    }
}

#[test]
fn out_files_hold_every_row_whatever_top_shows() {
    let root = temp_dir("budget-out");
    write_wide_day(&root, "2026-11-25");
    let tmp = temp_dir("budget-out-spill");
    let (whole, topped) = (root.join("whole"), root.join("topped"));
    report(
        &root,
        &["--date", "2026-11-25", "--out", whole.to_str().unwrap()],
    );
    report(
        &root,
        &[
            "--date",
            "2026-11-25",
            "--top",
            "3",
            "--memory-budget",
            "0",
            "--tmp",
            tmp.to_str().unwrap(),
            "--out",
            topped.to_str().unwrap(),
        ],
    );
    let read = |dir: &Path, name: &str| {
        std::fs::read_to_string(dir.join("dt=2026-11-25").join(name)).unwrap()
    };
    for name in ["pages.csv", "users.csv"] {
        assert_eq!(read(&topped, name), read(&whole, name), "{name}");
    }
    let pages = read(&whole, "pages.csv");
    assert_eq!(pages.lines().count() as u64, 1 + PATHS);
    assert!(
        pages.lines().nth(1).unwrap().starts_with("/p/0,2,"),
        "{pages:.200}"
    );
    assert_eq!(read(&whole, "users.csv").lines().count(), 1 + 4500);
    // --top shows 3 rows in the summary's lists.
    let summary: serde_json::Value = serde_json::from_str(&read(&topped, "summary.json")).unwrap();
    assert_eq!(summary["sources"].as_array().unwrap().len(), 3);
    assert!(left_in(&tmp).is_empty(), "{:?}", left_in(&tmp));
}

#[test]
fn a_failure_while_counting_a_compacted_bucket_ends_the_report() {
    // Counting fails (its tables must spill, and the spill folder is a file) while the
    // reader holds the next bucket: the report must end with the error, not wait for ever.
    let root = temp_dir("budget-fails");
    write_wide_day(&root, "2026-11-25");
    let args = [
        "compact",
        "--source",
        root.to_str().unwrap(),
        "--date",
        "2026-11-25",
        "--buckets",
        "4",
    ];
    ok(&analyzer(&args, &[]));
    let not_a_folder = root.join("not-a-folder");
    std::fs::write(&not_a_folder, "").unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_analyzer"))
        .args([
            "report",
            "--source",
            root.to_str().unwrap(),
            "--date",
            "2026-11-25",
            "--format",
            "json",
            "--memory-budget",
            "0",
            "--tmp",
            not_a_folder.to_str().unwrap(),
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > std::time::Duration::from_secs(60) {
            let _ = child.kill();
            panic!("the report still runs a minute after counting failed");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(err.contains("not-a-folder"), "{err}");
}
