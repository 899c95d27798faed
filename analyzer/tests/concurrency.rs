//! Nothing broken at rest: compactions of one day at the same time (in several interleavings,
//! in a folder and on moto S3), a report paused while a recompaction replaces its run, lost
//! and damaged runs, and the leftovers of killed runs. After each, every report equals the
//! report from the landed CSVs, byte for byte.
//!
//! The interleavings are forced with the analyzer's `ANALYZER_PAUSE` hook: a process reaching
//! the named point creates `<gate>.waiting` and waits until the test creates `<gate>`.

mod common;

use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const DAY: &str = "2026-11-25";

/// An analyzer process started in the background, paused at `point` when given one.
struct Running {
    child: Child,
    gate: Option<PathBuf>,
}

fn spawn(args: &[&str], env: &[(&str, &str)], pause: Option<(&str, &Path)>) -> Running {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_analyzer"));
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for var in [
        "ANALYZER_SOURCE",
        "ANALYZER_PAUSE",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_S3",
        "AWS_PROFILE",
    ] {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    if let Some((point, gate)) = pause {
        cmd.env("ANALYZER_PAUSE", format!("{point}:{}", gate.display()));
    }
    Running {
        child: cmd.spawn().expect("the analyzer binary runs"),
        gate: pause.map(|(_, g)| g.to_path_buf()),
    }
}

impl Running {
    /// Waits until the process is paused at its point.
    fn reached(&mut self) -> &mut Self {
        let gate = self.gate.clone().expect("started with a pause point");
        let waiting = PathBuf::from(format!("{}.waiting", gate.display()));
        let deadline = Instant::now() + Duration::from_secs(120);
        while !waiting.exists() {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("the process ended ({status}) before reaching its pause point");
            }
            assert!(Instant::now() < deadline, "never reached its pause point");
            std::thread::sleep(Duration::from_millis(20));
        }
        self
    }

    /// Lets a paused process go on.
    fn release(&mut self) -> &mut Self {
        std::fs::write(self.gate.as_ref().expect("paused"), "go").unwrap();
        self
    }

    fn finish(self) -> Output {
        self.child.wait_with_output().unwrap()
    }
}

fn src(root: &Path) -> &str {
    root.to_str().unwrap()
}

fn compact_args<'a>(root: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["compact", "--source", src(root), "--date", DAY];
    args.extend(extra);
    args
}

fn report(root: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["report", "--source", src(root), "--format", "json"];
    args.extend(extra);
    analyzer(&args, &[])
}

/// The periods the reports are compared on: one UTC day, and a Tokyo day across two
/// partitions with the previous period.
const PERIODS: [&[&str]; 2] = [
    &["--date", DAY],
    &["--date", DAY, "--tz", "Asia/Tokyo", "--compare"],
];

/// The reports of [`PERIODS`] straight from the landed CSVs (before any compaction).
fn csv_reports(root: &Path) -> Vec<String> {
    PERIODS.iter().map(|p| ok(&report(root, p))).collect()
}

/// Every report of [`PERIODS`] equals `want` and says nothing on stderr (the compacted day is
/// used as it is).
fn assert_reports(root: &Path, want: &[String]) {
    for (period, want) in PERIODS.iter().zip(want) {
        let out = report(root, period);
        assert_eq!(&ok(&out), want, "{period:?}");
        assert_eq!(stderr(&out), "", "{period:?}: the compacted day is used");
    }
}

fn manifest(root: &Path) -> Value {
    let text =
        std::fs::read_to_string(root.join(format!("compacted/dt={DAY}/_current.json"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn current_run(root: &Path) -> String {
    manifest(root)["run"].as_str().unwrap().to_string()
}

/// The run folders of the day, sorted.
fn runs(root: &Path) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(root.join(format!("compacted/dt={DAY}")))
        .map(|d| {
            d.flatten()
                .filter_map(|e| {
                    e.file_name()
                        .to_str()
                        .and_then(|n| n.strip_prefix("run="))
                        .map(str::to_string)
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// A late replayed batch: hit 18 (new) and a repeat of hit 1.
fn land_late_object(root: &Path) {
    let late = root.join(format!("hits/dt={DAY}/shardId-000000000003-900.csv"));
    let mut body = pagehit::csv_header();
    let mut h = hits()[0].hit();
    h.write_csv_row(&mut body);
    h.event_id = "01936b2e-1f00-7abc-8def-000000000018".into();
    h.path = "/late".into();
    h.write_csv_row(&mut body);
    std::fs::write(late, body).unwrap();
}

fn said(out: &Output) -> String {
    format!("{}{}", stdout(out), stderr(out))
}

#[test]
fn two_compactions_paused_before_their_commits_both_succeed_and_one_run_is_current() {
    let root = temp_dir("race-two");
    write_source(&root);
    let want = csv_reports(&root);
    let (ga, gb) = (root.join("gate-a"), root.join("gate-b"));
    let mut a = spawn(
        &compact_args(&root, &["--buckets", "4"]),
        &[],
        Some(("before-commit", &ga)),
    );
    let mut b = spawn(
        &compact_args(&root, &["--buckets", "2"]),
        &[],
        Some(("before-commit", &gb)),
    );
    a.reached();
    b.reached();
    assert_eq!(runs(&root).len(), 2, "both wrote their files");
    a.release();
    let a = a.finish();
    ok(&a);
    let winner = current_run(&root);
    b.release();
    let b = b.finish();
    ok(&b);
    let b_said = said(&b);
    assert!(
        b_said.contains(&format!(
            "another compaction committed run {winner} while this one ran"
        )) && b_said.contains("is discarded; starting over")
            && b_said.contains(&format!("dt={DAY} is up to date: compaction run {winner}")),
        "{b_said}"
    );
    assert_eq!(current_run(&root), winner, "the first commit stands");
    assert_eq!(manifest(&root)["buckets"], 4);
    assert_eq!(
        runs(&root),
        std::slice::from_ref(&winner),
        "the loser removed its own files"
    );
    assert_reports(&root, &want);
}

#[test]
fn a_compaction_that_commits_after_another_finished_loses_and_finds_the_day_up_to_date() {
    let root = temp_dir("race-overtaken");
    write_source(&root);
    let gate = root.join("gate");
    // The first compaction paused before its commit; a second one starts, runs and commits.
    let mut slow = spawn(
        &compact_args(&root, &[]),
        &[],
        Some(("before-commit", &gate)),
    );
    slow.reached();
    let fast = analyzer(&compact_args(&root, &["--buckets", "2"]), &[]);
    ok(&fast);
    let winner = current_run(&root);
    // A late object lands; the slow one (which did not read it) goes on.
    land_late_object(&root);
    let want = csv_reports(&root);
    slow.release();
    let slow = slow.finish();
    ok(&slow);
    let slow_said = said(&slow);
    assert!(
        slow_said.contains(&format!("another compaction committed run {winner}")),
        "{slow_said}"
    );
    // Starting over, it found an object the winner does not cover and compacted again.
    let now = current_run(&root);
    assert_ne!(now, winner, "{slow_said}");
    assert_eq!(manifest(&root)["covers"]["objects"], 4);
    assert_reports(&root, &want);
    // The replaced run is kept for the grace period (6h by default): a report may be on it.
    assert_eq!(runs(&root).len(), 2, "{:?}", runs(&root));
    // Past the grace period (here: none), the next compaction deletes it.
    let again = ok(&analyzer(&compact_args(&root, &["--grace", "0s"]), &[]));
    assert!(again.contains("is up to date"), "{again}");
    assert_eq!(runs(&root), [now]);
    assert_reports(&root, &want);
}

#[test]
fn three_compactions_at_once_released_in_another_order_leave_one_whole_run() {
    let root = temp_dir("race-three");
    write_source(&root);
    let want = csv_reports(&root);
    let gates: Vec<PathBuf> = (0..3).map(|i| root.join(format!("gate-{i}"))).collect();
    let buckets = ["1", "2", "8"];
    let mut running: Vec<Running> = gates
        .iter()
        .zip(buckets)
        .map(|(g, b)| {
            spawn(
                &compact_args(&root, &["--buckets", b]),
                &[],
                Some(("before-commit", g)),
            )
        })
        .collect();
    for r in running.iter_mut() {
        r.reached();
    }
    assert_eq!(runs(&root).len(), 3);
    // The last one started commits first, then the first, then the second.
    let mut outs = Vec::new();
    for i in [2, 0, 1] {
        running[i].release();
        // Let it commit or lose before the next one goes.
        while running[i].child.try_wait().unwrap().is_none() {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    for r in running {
        outs.push(r.finish());
    }
    for out in &outs {
        ok(out);
    }
    assert_eq!(manifest(&root)["buckets"], 8, "the first commit stands");
    for i in [0, 1] {
        assert!(
            said(&outs[i]).contains("is discarded; starting over")
                && said(&outs[i]).contains("is up to date"),
            "{}",
            said(&outs[i])
        );
    }
    assert_eq!(runs(&root), [current_run(&root)]);
    assert_reports(&root, &want);
}

#[test]
fn compactions_at_once_on_s3_commit_with_if_match() {
    let moto = Moto::start();
    moto.create_bucket("race-bucket");
    let location = "s3://race-bucket/site";
    let store = moto.store(location);
    for (rel, content) in files() {
        block_on(store.put(&rel, content)).unwrap();
    }
    let env_owned = moto.env();
    let env: Vec<(&str, &str)> = env_owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let run = |args: &[&str]| analyzer(args, &env);
    let report = || {
        ok(&run(&[
            "report", "--source", location, "--format", "json", "--date", DAY,
        ]))
    };
    let want = report();
    let dir = temp_dir("race-s3");
    let (ga, gb) = (dir.join("gate-a"), dir.join("gate-b"));
    let compact = ["compact", "--source", location, "--date", DAY];
    let mut a = spawn(&compact, &env, Some(("before-commit", &ga)));
    let mut b = spawn(&compact, &env, Some(("before-commit", &gb)));
    a.reached();
    b.reached();
    // The second to start commits first this time.
    b.release();
    let b = b.finish();
    ok(&b);
    a.release();
    let a = a.finish();
    ok(&a);
    assert!(
        said(&a).contains("is discarded; starting over") && said(&a).contains("is up to date"),
        "{}",
        said(&a)
    );
    let keys: Vec<String> = block_on(store.list(&format!("compacted/dt={DAY}/")))
        .unwrap()
        .into_iter()
        .map(|o| o.key)
        .collect();
    let run_folders: std::collections::BTreeSet<&str> = keys
        .iter()
        .filter_map(|k| k.split("/run=").nth(1)?.split('/').next())
        .collect();
    assert_eq!(run_folders.len(), 1, "{keys:?}");
    let out = run(&[
        "report", "--source", location, "--format", "json", "--date", DAY,
    ]);
    assert_eq!(ok(&out), want);
    assert_eq!(stderr(&out), "");
}

#[test]
fn a_report_paused_while_a_recompaction_replaces_its_run_finishes_from_the_old_run() {
    let root = temp_dir("paused-report");
    write_source(&root);
    let before_late = csv_reports(&root);
    ok(&analyzer(&compact_args(&root, &["--buckets", "2"]), &[]));
    let first = current_run(&root);
    let gate = root.join("gate");
    let mut args = vec!["report", "--source", src(&root), "--format", "json"];
    args.extend(PERIODS[0]);
    let mut paused = spawn(&args, &[], Some(("after-plan", &gate)));
    paused.reached();
    // While it waits: a late replay lands and the day is compacted again.
    land_late_object(&root);
    let after_late = csv_reports(&root);
    ok(&analyzer(&compact_args(&root, &["--buckets", "4"]), &[]));
    assert_ne!(current_run(&root), first);
    paused.release();
    let out = paused.finish();
    assert_eq!(
        ok(&out),
        before_late[0],
        "the report planned on the first run reads it whole: {}",
        stderr(&out)
    );
    assert_reports(&root, &after_late);
}

#[test]
fn a_lost_part_sends_reports_to_the_csvs_and_the_next_compaction_repairs_the_day() {
    let root = temp_dir("lost-part");
    write_source(&root);
    let want = csv_reports(&root);
    ok(&analyzer(&compact_args(&root, &["--buckets", "4"]), &[]));
    let m = manifest(&root);
    let lost = m["files"][2]["key"].as_str().unwrap().to_string();
    std::fs::remove_file(root.join(&lost)).unwrap();
    for (period, want) in PERIODS.iter().zip(&want) {
        let out = report(&root, period);
        assert_eq!(&ok(&out), want, "{period:?}");
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "one line says why: {err}");
        assert!(
            err.contains(&format!(
                "reading dt={DAY} from its 3 CSV objects: its compaction run {} is incomplete: 1 of its 4 files are missing",
                m["run"].as_str().unwrap()
            )) && err.contains(&lost),
            "{err}"
        );
    }
    let again = analyzer(&compact_args(&root, &["--grace", "0s"]), &[]);
    ok(&again);
    assert!(
        stderr(&again).contains("is incomplete")
            && stderr(&again).contains("compacting the day again"),
        "{}",
        stderr(&again)
    );
    assert_ne!(manifest(&root)["run"], m["run"]);
    assert_reports(&root, &want);
}

#[test]
fn damaged_manifests_are_not_trusted_and_the_next_compaction_replaces_them() {
    let root = temp_dir("damaged");
    write_source(&root);
    let want = csv_reports(&root);
    ok(&analyzer(&compact_args(&root, &["--buckets", "2"]), &[]));
    let good = manifest(&root);
    let run = good["run"].as_str().unwrap().to_string();
    let path = root.join(format!("compacted/dt={DAY}/_current.json"));
    let with = |f: &dyn Fn(&mut Value)| {
        let mut m = good.clone();
        f(&mut m);
        m.to_string()
    };
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "zero buckets",
            with(&|m| m["buckets"] = 0.into()),
            "it has 0 buckets",
        ),
        (
            "a huge bucket count",
            with(&|m| m["buckets"] = 2_147_483_648u64.into()),
            "it has 2147483648 buckets",
        ),
        (
            "not a power of two",
            with(&|m| m["buckets"] = 3.into()),
            "it has 3 buckets",
        ),
        (
            "garbage",
            "{\"format\": 1, \"run\": [".to_string(),
            "it is not a compaction manifest",
        ),
        (
            "a foreign key",
            with(&|m| {
                m["files"][1]["key"] = "hits/dt=2026-11-25/shardId-000000000000-200.csv".into()
            }),
            "is not a Parquet file of its own run folder",
        ),
        (
            "a key climbing out of its run",
            with(&|m| {
                m["files"][0]["key"] =
                    format!("compacted/dt={DAY}/run={run}/../../dt=2026-11-24/x.parquet").into()
            }),
            "is not a Parquet file of its own run folder",
        ),
        (
            "a missing file entry",
            with(&|m| {
                m["files"].as_array_mut().unwrap().pop();
            }),
            "it lists 1 files for 2 buckets",
        ),
        (
            "wrong row counts",
            with(&|m| m["rows"] = 999.into()),
            "its files hold 14 rows but it says 999",
        ),
        (
            "another day",
            with(&|m| m["date"] = "2026-11-24".into()),
            "it names the day",
        ),
    ];
    for (case, body, why) in &cases {
        std::fs::write(&path, body).unwrap();
        for (period, want) in PERIODS.iter().zip(&want) {
            let out = report(&root, period);
            assert_eq!(&ok(&out), want, "{case}: {period:?}");
            let err = stderr(&out);
            assert_eq!(err.lines().count(), 1, "{case}: one line says why: {err}");
            assert!(
                err.contains("cannot be used") && err.contains(why),
                "{case}: {err}"
            );
        }
    }
    // The next compaction replaces the damaged manifest (its version is the one it read).
    let again = analyzer(&compact_args(&root, &[]), &[]);
    ok(&again);
    assert!(
        stderr(&again).contains("cannot be used"),
        "{}",
        stderr(&again)
    );
    assert_ne!(manifest(&root)["run"], good["run"]);
    assert_reports(&root, &want);
}

#[test]
fn up_to_date_repairs_the_symlink_and_deletes_replaced_runs_past_the_grace_period() {
    let root = temp_dir("up-to-date");
    write_source(&root);
    let want = csv_reports(&root);
    ok(&analyzer(&compact_args(&root, &["--buckets", "2"]), &[]));
    let first = current_run(&root);
    let symlink = root.join(format!("compacted/_symlink/dt={DAY}/manifest"));
    let first_symlink = std::fs::read_to_string(&symlink).unwrap();
    // Recompacted after a late replay: the first run stays (grace), the symlink moves on.
    land_late_object(&root);
    let want_late = csv_reports(&root);
    ok(&analyzer(&compact_args(&root, &["--buckets", "4"]), &[]));
    let second = current_run(&root);
    assert_eq!(runs(&root).len(), 2);
    assert_eq!(
        std::fs::read_to_string(&symlink).unwrap().lines().count(),
        4
    );
    // A crash after the commit would have left the symlink on the first run.
    std::fs::write(&symlink, &first_symlink).unwrap();
    let again = ok(&analyzer(&compact_args(&root, &[]), &[]));
    assert!(again.contains("is up to date"), "{again}");
    let repaired = std::fs::read_to_string(&symlink).unwrap();
    assert_eq!(repaired.lines().count(), 4);
    assert!(
        repaired
            .lines()
            .all(|l| l.contains(&format!("run={second}/"))),
        "{repaired}"
    );
    assert_eq!(
        runs(&root).len(),
        2,
        "within the grace period the old run stays"
    );
    let again = ok(&analyzer(&compact_args(&root, &["--grace", "0s"]), &[]));
    assert!(again.contains("is up to date"), "{again}");
    assert_eq!(runs(&root), std::slice::from_ref(&second));
    assert!(!runs(&root).contains(&first));
    assert_reports(&root, &want_late);
    let _ = want;
}

#[test]
fn a_killed_compactions_folder_is_removed_by_the_next_one_and_a_live_ones_is_not() {
    let root = temp_dir("spill-left");
    write_source(&root);
    let tmp = root.join("tmp");
    let dead = tmp.join("analyzer-compact-20261201T000000.000Z-deadbeef");
    std::fs::create_dir_all(&dead).unwrap();
    std::fs::write(dead.join("lock"), "").unwrap();
    std::fs::write(dead.join("bucket-00000.zst"), "left over").unwrap();
    let live = tmp.join("analyzer-compact-20261201T000001.000Z-0000beef");
    std::fs::create_dir_all(&live).unwrap();
    let held = std::fs::File::create(live.join("lock")).unwrap();
    held.lock().unwrap();
    let foreign = tmp.join("someone-elses");
    std::fs::create_dir_all(&foreign).unwrap();

    // A compaction paused before its commit: its local files are all in its own private
    // folder, none directly in the shared tmp folder.
    let gate = root.join("gate");
    let tmp_arg = tmp.to_str().unwrap();
    let mut paused = spawn(
        &compact_args(&root, &["--tmp", tmp_arg, "--buckets", "4"]),
        &[],
        Some(("before-commit", &gate)),
    );
    paused.reached();
    let mut names: Vec<String> = std::fs::read_dir(&tmp)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "analyzer-compact-20261201T000001.000Z-0000beef".to_string(),
            "someone-elses".into()
        ],
        "the dead run's folder is gone; this run's own folder is removed once its files are uploaded"
    );
    paused.release();
    let out = paused.finish();
    ok(&out);
    assert!(
        stderr(&out).contains(&format!("removed 1 folders left in {tmp_arg}")),
        "{}",
        stderr(&out)
    );
    assert!(live.exists() && foreign.exists());
    drop(held);
    // Its lock released (its run died), the next compaction removes it too.
    let out = analyzer(
        &[
            "compact",
            "--source",
            src(&root),
            "--date",
            "2026-11-24",
            "--tmp",
            tmp_arg,
        ],
        &[],
    );
    ok(&out);
    assert!(!live.exists(), "{}", stderr(&out));
    assert!(foreign.exists(), "not a compaction's folder: left alone");
}
