//! The aggregator binary against moto's Kinesis and S3: partitions by day, rejects, shards,
//! reshards, restarts, crashes and shutdown.
//!
//! Run with `cargo xtask test`. Checkpoints past their stream and leases between consumers:
//! `aggregator_gaps.rs`.

mod aggregator_support;

use aggregator_support::*;
use pagehit::PageHit;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use xtask::kinesis;
use xtask::process::Service;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs moto: run `cargo xtask test`"]
async fn two_shards_land_by_each_hits_own_day_with_rejects_and_resume_from_checkpoints() {
    let (moto, kin) = moto_with_stream("hits", 2).await;
    // 40 hits from a minute before to a minute after midnight UTC, arriving "late".
    let hits: Vec<PageHit> = (0..40)
        .map(|n| hit(n, BEFORE_MIDNIGHT + i64::from(n) * 3_000))
        .collect();
    let mut missing_field: serde_json::Value = serde_json::from_str(&hits[0].to_json()).unwrap();
    missing_field.as_object_mut().unwrap().remove("visitor");
    let mut oversized: serde_json::Value = serde_json::from_str(&hits[1].to_json()).unwrap();
    oversized["path"] = format!("/{}", "x".repeat(3000)).into();
    let junk = vec![
        b"{\"event_id\": \"truncated".to_vec(),
        missing_field.to_string().into_bytes(),
        oversized.to_string().into_bytes(),
    ];
    kinesis::put_hits(&kin, "hits", &hits, &junk).await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let sink = dir.path().to_str().unwrap();
    let summary = consume_once(&moto, "hits", sink);
    assert!(
        summary.contains("43 records (40 hits, 3 rejected)"),
        "{summary}"
    );

    let landed = landed_hits(dir.path());
    assert_eq!(counts(&landed).len(), 40);
    assert!(
        counts(&landed).values().all(|&c| c == 1),
        "each hit exactly once"
    );
    for (date, h) in &landed {
        assert_eq!(
            date,
            h.utc_date(),
            "a hit lands in the partition of its own ts"
        );
        let original = hits.iter().find(|o| o.event_id == h.event_id).unwrap();
        assert_eq!(
            h, original,
            "every field round-trips, CSV-special characters and unicode included"
        );
    }
    let days: std::collections::BTreeSet<&str> = landed.iter().map(|(d, _)| d.as_str()).collect();
    assert_eq!(
        days.into_iter().collect::<Vec<_>>(),
        ["2026-11-26", "2026-11-27"]
    );
    let shard_files: std::collections::BTreeSet<String> = walk(dir.path().join("hits").as_path())
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy()[..20].to_string())
        .collect();
    assert_eq!(
        shard_files.len(),
        2,
        "both shards landed objects: {shard_files:?}"
    );

    let rejected = rejected_lines(dir.path());
    assert_eq!(rejected.len(), 3);
    let reasons: Vec<&str> = rejected
        .iter()
        .map(|r| r["reason"].as_str().unwrap())
        .collect();
    assert!(
        reasons
            .iter()
            .any(|r| r.starts_with("not a page-hit JSON object") && r.contains("EOF")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("missing field `visitor`")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("path is 3001 bytes, over the 2048-byte cap")),
        "{reasons:?}"
    );
    assert!(rejected
        .iter()
        .all(|r| r["data"].is_string() && r["sequence_number"].is_string()));

    // A second run starts from the checkpoints: only the new hits land, nothing repeats.
    let more: Vec<PageHit> = (40..55)
        .map(|n| hit(n, BEFORE_MIDNIGHT + 120_000))
        .collect();
    kinesis::put_hits(&kin, "hits", &more, &[]).await.unwrap();
    let summary = consume_once(&moto, "hits", sink);
    assert!(
        summary.contains("15 records (15 hits, 0 rejected)"),
        "{summary}"
    );
    let landed = landed_hits(dir.path());
    assert_eq!(counts(&landed).len(), 55);
    assert!(counts(&landed).values().all(|&c| c == 1));
    let summary = consume_once(&moto, "hits", sink);
    assert!(summary.contains("0 records"), "{summary}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs moto: run `cargo xtask test`"]
async fn a_reshard_is_read_parent_first_without_loss() {
    let (moto, kin) = moto_with_stream("resharded", 1).await;
    let before: Vec<PageHit> = (0..60).map(|n| hit(n, BEFORE_MIDNIGHT)).collect();
    kinesis::put_hits(&kin, "resharded", &before, &[])
        .await
        .unwrap();
    kin.update_shard_count()
        .stream_name("resharded")
        .target_shard_count(2)
        .scaling_type(aws_sdk_kinesis::types::ScalingType::UniformScaling)
        .send()
        .await
        .unwrap();
    let after: Vec<PageHit> = (60..120).map(|n| hit(n, BEFORE_MIDNIGHT + 1000)).collect();
    kinesis::put_hits(&kin, "resharded", &after, &[])
        .await
        .unwrap();
    let shards = kin
        .list_shards()
        .stream_name("resharded")
        .send()
        .await
        .unwrap();
    assert!(
        shards.shards().len() >= 3,
        "parent and children: {:?}",
        shards.shards()
    );

    let dir = tempfile::tempdir().unwrap();
    let summary = consume_once(&moto, "resharded", dir.path().to_str().unwrap());
    assert!(summary.contains("120 records"), "{summary}");
    let landed = landed_hits(dir.path());
    assert_eq!(counts(&landed).len(), 120);
    assert!(counts(&landed).values().all(|&c| c == 1));
    let parent = std::fs::read_to_string(
        dir.path()
            .join("_checkpoints/resharded/shardId-000000000000"),
    )
    .unwrap();
    let parent: serde_json::Value = serde_json::from_str(&parent).unwrap();
    assert_eq!(
        parent["shard_end"], true,
        "the parent was read to its end before its children"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs moto: run `cargo xtask test`"]
async fn sigkill_between_objects_and_checkpoint_repeats_rows_but_loses_none() {
    let (moto, kin) = moto_with_stream("crashy", 1).await;
    let first: Vec<PageHit> = (0..30).map(|n| hit(n, BEFORE_MIDNIGHT)).collect();
    kinesis::put_hits(&kin, "crashy", &first, &[])
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sink = dir.path().to_str().unwrap().to_string();

    let log = dir.path().join("aggregator.log");
    let mut cmd = xtask::aggregator::command(&moto.endpoint);
    cmd.args(["consume", "--stream", "crashy", "--sink", &sink])
        .env("AGGREGATOR_FAILPOINT", "before-checkpoint");
    let mut service = Service::spawn("aggregator", &mut cmd, &log).unwrap();
    service
        .wait_for_log("failpoint: objects", Duration::from_secs(60))
        .await
        .expect("the aggregator reaches the failpoint");
    service.signal(libc::SIGKILL);
    drop(service);
    assert!(
        !dir.path()
            .join("_checkpoints/crashy/shardId-000000000000")
            .exists(),
        "killed before the checkpoint"
    );
    assert_eq!(
        counts(&landed_hits(dir.path())).len(),
        30,
        "the batch's objects were written"
    );

    // More records arrive while it is down; the restart re-reads the first batch.
    let second: Vec<PageHit> = (30..50).map(|n| hit(n, BEFORE_MIDNIGHT)).collect();
    kinesis::put_hits(&kin, "crashy", &second, &[])
        .await
        .unwrap();
    consume_once(&moto, "crashy", &sink);
    let c = counts(&landed_hits(dir.path()));
    assert_eq!(c.len(), 50, "no hit lost");
    for h in &second {
        assert_eq!(c[&h.event_id], 1, "records after the crash land once");
    }
    assert!(c.values().all(|&n| n <= 2), "at most repeated once: {c:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs moto: run `cargo xtask test`"]
async fn lands_in_moto_s3_and_stops_cleanly_on_sigterm() {
    let (moto, kin) = moto_with_stream("to-s3", 1).await;
    moto.create_bucket("analytics-bucket").await.unwrap();
    let hits: Vec<PageHit> = (0..25).map(|n| hit(n, BEFORE_MIDNIGHT + 90_000)).collect();
    kinesis::put_hits(&kin, "to-s3", &hits, &[]).await.unwrap();

    // Long-running, as on ECS: SIGTERM finishes the batch in hand, checkpoints and exits 0.
    let mut child = xtask::aggregator::command(&moto.endpoint)
        .args([
            "consume",
            "--stream",
            "to-s3",
            "--sink",
            "s3://analytics-bucket/site-a",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let http = reqwest::Client::new();
    let list_url = format!(
        "{}/analytics-bucket?list-type=2&prefix=site-a/",
        moto.endpoint
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let listing = http
            .get(&list_url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if listing.contains("site-a/_checkpoints/to-s3/shardId-000000000000") {
            break;
        }
        assert!(Instant::now() < deadline, "nothing landed in S3: {listing}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let status = wait_with_timeout(&mut child, Duration::from_secs(20));
    assert!(status.success(), "exit status after SIGTERM: {status}");
    let mut summary = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut summary)
        .unwrap();
    assert!(
        summary.contains("25 records") && summary.contains("stopped by signal"),
        "{summary}"
    );

    let store = moto.store("s3://analytics-bucket/site-a").await.unwrap();
    let keys: Vec<String> = store
        .list("hits")
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.key)
        .collect();
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert!(
        keys[0].starts_with("hits/dt=2026-11-27/shardId-000000000000-"),
        "{keys:?}"
    );
    let body = String::from_utf8(store.get(&keys[0]).await.unwrap().unwrap().to_vec()).unwrap();
    let read = pagehit::csv::read_all(body.as_bytes()).unwrap();
    assert_eq!((read.hits.len(), read.malformed), (25, 0));
    let mut got: Vec<PageHit> = read.hits;
    got.sort_by(|a, b| a.event_id.cmp(&b.event_id));
    let mut want = hits.clone();
    want.sort_by(|a, b| a.event_id.cmp(&b.event_id));
    assert_eq!(got, want);
}

/// The line `ConsumerLagMetricFilter` (infra/template.yaml, `{ $.event = "lag" }`,
/// value `$.behind_ms`) turns into the metric its alarm watches: a whole JSON object on one
/// line, logged every minute while the consumer runs, also when nothing arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs moto: run `cargo xtask test`"]
async fn the_lag_line_the_alarm_reads_is_logged_every_minute() {
    let (moto, kin) = moto_with_stream("watched", 1).await;
    let sink = tempfile::tempdir().unwrap();
    let hits: Vec<PageHit> = (0..5).map(|n| hit(n, now_ms())).collect();
    kinesis::put_hits(&kin, "watched", &hits, &[])
        .await
        .unwrap();
    let mut child = xtask::aggregator::command(&moto.endpoint)
        .args(["consume", "--stream", "watched", "--sink"])
        .arg(sink.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let (tx, rx) = std::sync::mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut said = Vec::new();
    let mut lags = Vec::new();
    while lags.len() < 2 {
        match rx.recv_timeout(Duration::from_secs(150).saturating_sub(started.elapsed())) {
            Ok(line) => {
                if line.contains("\"lag\"") {
                    lags.push((started.elapsed(), line.clone()));
                }
                said.push(line);
            }
            Err(_) => {
                let _ = child.kill();
                panic!("fewer than two lag lines in 150 s: {said:#?}");
            }
        }
    }
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let status = wait_with_timeout(&mut child, Duration::from_secs(20));
    assert!(status.success(), "exit status after SIGTERM: {status}");
    for (_, line) in &lags {
        let v: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("the lag line is not one JSON object ({e}): {line}"));
        let fields = v.as_object().expect("an object");
        assert_eq!(fields.len(), 2, "{line}");
        assert_eq!(v["event"], "lag", "{line}");
        // Caught up on an idle stream: far below any alarm threshold (an hour).
        let behind = v["behind_ms"]
            .as_i64()
            .expect("behind_ms is a whole number");
        assert!((0..60_000).contains(&behind), "{line}");
    }
    // About a minute apart (the alarm's five-minute periods each hold several).
    let apart = lags[1].0 - lags[0].0;
    assert!(
        apart >= Duration::from_secs(50) && apart <= Duration::from_secs(80),
        "{apart:?} between {lags:?}"
    );
    // The five hits landed meanwhile: the consumer was working, not only logging.
    assert_eq!(landed_hits(sink.path()).len(), 5);
}

#[test]
#[ignore = "needs the aggregator binary: run `cargo xtask test`"]
fn a_bad_sink_is_a_clear_error() {
    let out = Command::new(xtask::aggregator::binary())
        .args([
            "consume",
            "--stream",
            "s",
            "--sink",
            "gs://bucket/x",
            "--once",
        ])
        .output()
        .unwrap();
    // A sink that is neither a folder nor s3:// is a usage error, found while parsing.
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("only s3:// URLs and local folders are supported"),
        "{err}"
    );
    let out = Command::new(xtask::aggregator::binary())
        .args(["consume", "--bogus"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "usage errors exit 2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs moto: run `cargo xtask test`"]
async fn a_late_batch_after_compaction_is_seen_through_the_landed_markers() {
    let (moto, kin) = moto_with_stream("late", 2).await;
    moto.create_bucket("late-bucket").await.unwrap();
    let sink = "s3://late-bucket/site";
    let day: Vec<PageHit> = (0..60)
        .map(|n| hit(n, BEFORE_MIDNIGHT - 3_600_000))
        .collect();
    kinesis::put_hits(&kin, "late", &day, &[]).await.unwrap();
    consume_once(&moto, "late", sink);
    let store = moto.store(sink).await.unwrap();
    let markers = store.list("_landed/dt=2026-11-26/").await.unwrap();
    assert!(!markers.is_empty(), "the consumer wrote the day's markers");

    let analyzer = |args: &[&str]| {
        let mut cmd = Command::new(xtask::paths::workspace_bin("analyzer"));
        xtask::moto::client_env(&mut cmd, &moto.endpoint);
        cmd.args(args).output().unwrap()
    };
    let report = || {
        analyzer(&[
            "report",
            "--source",
            sink,
            "--date",
            "2026-11-26",
            "--format",
            "json",
        ])
    };
    let compact = analyzer(&["compact", "--source", sink, "--date", "2026-11-26"]);
    assert!(compact.status.success(), "{}", text(&compact));
    let out = report();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "",
        "the compacted day is used"
    );
    let before: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();

    // A late replay lands through the consumer (a new record of that day).
    kinesis::put_hits(&kin, "late", &[hit(901, BEFORE_MIDNIGHT - 1_000)], &[])
        .await
        .unwrap();
    consume_once(&moto, "late", sink);
    let out = report();
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("1 landed after its compaction run"),
        "{}",
        text(&out)
    );
    let after: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        after["summary"]["hits"].as_u64().unwrap(),
        before["summary"]["hits"].as_u64().unwrap() + 1,
        "the late hit is counted"
    );
}
