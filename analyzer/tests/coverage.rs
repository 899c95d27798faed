//! The cheap coverage check: a compacted day whose "last landed" markers (`_landed/dt=D/`,
//! rewritten by the aggregator after every batch) are at the versions its run recorded is read
//! from the run without listing the day's objects; a late batch moves its shard's marker, and
//! the report reads the CSVs again, byte for byte the same as a report of the CSVs.

mod common;

use common::*;
use serde_json::Value;
use std::path::Path;

const DAY: &str = "2026-11-25";

/// What the aggregator does after each batch: rewrite the shard's marker of the day with new
/// content (its version changes).
fn touch_marker(root: &Path, shard: &str) {
    let dir = root.join(format!("_landed/dt={DAY}"));
    std::fs::create_dir_all(&dir).unwrap();
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    // Written beside and renamed, as the aggregator's folder puts do: a new file each time.
    let staged = dir.join(format!("{shard}#1"));
    std::fs::write(&staged, format!("{{\"nonce\":{nonce}}}")).unwrap();
    std::fs::rename(staged, dir.join(shard)).unwrap();
}

fn report(root: &Path) -> std::process::Output {
    analyzer(
        &[
            "report",
            "--source",
            root.to_str().unwrap(),
            "--format",
            "json",
            "--date",
            DAY,
        ],
        &[],
    )
}

fn manifest(root: &Path) -> Value {
    let text =
        std::fs::read_to_string(root.join(format!("compacted/dt={DAY}/_current.json"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn land(root: &Path, name: &str, hits: &[pagehit::PageHit]) {
    let mut body = pagehit::csv_header();
    for h in hits {
        h.write_csv_row(&mut body);
    }
    std::fs::write(root.join(format!("hits/dt={DAY}/{name}")), body).unwrap();
}

#[test]
fn a_late_batch_moves_its_marker_and_the_report_reads_the_csvs_again() {
    let root = temp_dir("coverage");
    write_source(&root);
    for shard in ["shardId-000000000000", "shardId-000000000001"] {
        touch_marker(&root, shard);
    }
    let csv = ok(&report(&root));
    ok(&analyzer(
        &["compact", "--source", root.to_str().unwrap(), "--date", DAY],
        &[],
    ));
    let m = manifest(&root);
    assert_eq!(
        m["landed"].as_object().unwrap().len(),
        2,
        "the run records both markers: {m}"
    );
    let out = report(&root);
    assert_eq!(ok(&out), csv);
    assert_eq!(stderr(&out), "");

    // An object put by hand, with no marker moved, is not looked for: the objects are not
    // listed while the markers stand still (this is what makes the check cheap; only the
    // aggregator lands objects).
    let mut extra = hits()[1].hit();
    extra.event_id = "01936b2e-1f00-7abc-8def-000000000019".into();
    land(&root, "shardId-000000000001-950.csv", &[extra.clone()]);
    let out = report(&root);
    assert_eq!(
        ok(&out),
        csv,
        "read from the run, without listing the objects"
    );
    assert_eq!(stderr(&out), "");

    // A late batch of shard 1 lands and its marker moves: the report lists the objects, finds
    // what the run does not cover, and reads the CSVs.
    let mut late = hits()[0].hit();
    late.event_id = "01936b2e-1f00-7abc-8def-000000000018".into();
    late.path = "/late".into();
    land(&root, "shardId-000000000001-990.csv", &[late]);
    touch_marker(&root, "shardId-000000000001");
    let out = report(&root);
    let with_late = ok(&out);
    assert!(
        stderr(&out).contains(&format!(
            "reading dt={DAY} from its 5 CSV objects: 2 landed after its compaction run"
        )),
        "{}",
        stderr(&out)
    );
    let parsed: Value = serde_json::from_str(&with_late).unwrap();
    assert_eq!(
        parsed["summary"]["hits"], 14,
        "hit 18 and hit 19 are counted"
    );

    // Compacted again: the new run records the moved marker and the cheap check holds again.
    ok(&analyzer(
        &["compact", "--source", root.to_str().unwrap(), "--date", DAY],
        &[],
    ));
    assert_ne!(manifest(&root)["landed"], m["landed"]);
    let out = report(&root);
    assert_eq!(ok(&out), with_late);
    assert_eq!(stderr(&out), "");

    // A replay of batches already covered moves a marker without a new object: the report
    // lists, finds everything covered and reads the run; the next compaction is up to date
    // and records the markers anew.
    touch_marker(&root, "shardId-000000000000");
    let out = report(&root);
    assert_eq!(ok(&out), with_late);
    assert_eq!(stderr(&out), "");
    let said = ok(&analyzer(
        &["compact", "--source", root.to_str().unwrap(), "--date", DAY],
        &[],
    ));
    assert!(said.contains("is up to date"), "{said}");
    let now = manifest(&root);
    let marker_dir = root.join(format!("_landed/dt={DAY}"));
    assert_eq!(now["landed"].as_object().unwrap().len(), 2);
    assert!(marker_dir.join("shardId-000000000000").exists());
}

#[test]
fn a_day_without_markers_is_always_listed() {
    let root = temp_dir("coverage-none");
    write_source(&root);
    ok(&analyzer(
        &["compact", "--source", root.to_str().unwrap(), "--date", DAY],
        &[],
    ));
    assert!(manifest(&root).get("landed").is_none());
    // Objects landed by an older aggregator (or by hand): the late one is found by listing.
    let mut late = hits()[0].hit();
    late.event_id = "01936b2e-1f00-7abc-8def-000000000018".into();
    land(&root, "shardId-000000000003-900.csv", &[late]);
    let out = report(&root);
    ok(&out);
    assert!(
        stderr(&out).contains("1 landed after its compaction run"),
        "{}",
        stderr(&out)
    );
}
