//! The aggregator binary against moto's Kinesis and S3: partitions by day, rejects, shards,
//! reshards, restarts, crashes and shutdown.
//!
//! Run with `cargo xtask test`.

use pagehit::{time, PageHit};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use xtask::kinesis;
use xtask::moto::Moto;
use xtask::process::Service;

/// 2026-11-26T23:59:00.000Z: a minute before midnight UTC.
const BEFORE_MIDNIGHT: i64 = 1_795_737_540_000;

fn hit(n: u32, ts_ms: i64) -> PageHit {
    let paths = ["/", "/about", "/a,b\"c/café", "/日本語", "/products"];
    PageHit {
        event_id: format!("01936b2e-{:04x}-7abc-8def-{n:012}", n % 0xffff),
        ts: time::format_ts(ts_ms),
        host: "shop.example".into(),
        path: paths[n as usize % paths.len()].into(),
        action: "x".into(),
        method: "GET".into(),
        status: 200,
        user: if n.is_multiple_of(3) {
            format!("Zoë \"{n}\", Jr.")
        } else {
            String::new()
        },
        visitor: format!("{:016x}", 0x1234_5678_9abc_0000u64 + u64::from(n % 97)),
        referrer: String::new(),
        country: "DE".into(),
        user_agent: "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0".into(),
        bot: n.is_multiple_of(10),
        origin_ms: n,
        ..PageHit::default()
    }
}

/// Every hit landed under `dir/hits`, with its day partition.
fn landed_hits(dir: &Path) -> Vec<(String, PageHit)> {
    xtask::aggregator::landed_hits(dir).unwrap()
}

fn rejected_lines(dir: &Path) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    let rejected = dir.join("rejected");
    if !rejected.exists() {
        return out;
    }
    for day in std::fs::read_dir(rejected).unwrap() {
        for file in std::fs::read_dir(day.unwrap().path()).unwrap() {
            let text = std::fs::read_to_string(file.unwrap().path()).unwrap();
            out.extend(
                text.lines()
                    .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()),
            );
        }
    }
    out
}

/// How many times each event id landed.
fn counts(landed: &[(String, PageHit)]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for (_, h) in landed {
        *m.entry(h.event_id.clone()).or_insert(0) += 1;
    }
    m
}

/// `aggregator consume --once`; returns its summary line.
fn consume_once(moto: &Moto, stream: &str, sink: &str) -> String {
    let out = xtask::aggregator::command(&moto.endpoint)
        .args(["consume", "--stream", stream, "--sink", sink, "--once"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "consume failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs moto: run `cargo xtask test`"]
async fn two_shards_land_by_each_hits_own_day_with_rejects_and_resume_from_checkpoints() {
    let moto = Moto::start().await.unwrap();
    let kin = kinesis::client(&moto.endpoint);
    kinesis::create_stream(&kin, "hits", 2).await.unwrap();
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

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs moto: run `cargo xtask test`"]
async fn a_reshard_is_read_parent_first_without_loss() {
    let moto = Moto::start().await.unwrap();
    let kin = kinesis::client(&moto.endpoint);
    kinesis::create_stream(&kin, "resharded", 1).await.unwrap();
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
    let moto = Moto::start().await.unwrap();
    let kin = kinesis::client(&moto.endpoint);
    kinesis::create_stream(&kin, "crashy", 1).await.unwrap();
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
    let moto = Moto::start().await.unwrap();
    let kin = kinesis::client(&moto.endpoint);
    kinesis::create_stream(&kin, "to-s3", 1).await.unwrap();
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
    let moto = Moto::start().await.unwrap();
    let kin = kinesis::client(&moto.endpoint);
    kinesis::create_stream(&kin, "watched", 1).await.unwrap();
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

fn wait_with_timeout(
    child: &mut std::process::Child,
    timeout: Duration,
) -> std::process::ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("did not exit within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
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

/// `aggregator consume --once` with extra arguments; the whole output.
fn consume_with(moto: &Moto, stream: &str, sink: &str, extra: &[&str]) -> std::process::Output {
    xtask::aggregator::command(&moto.endpoint)
        .args(["consume", "--stream", stream, "--sink", sink, "--once"])
        .args(extra)
        .output()
        .unwrap()
}

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs moto: run `cargo xtask test`"]
async fn a_checkpoint_past_the_streams_retention_is_a_gap_named_with_its_range() {
    let moto = Moto::start().await.unwrap();
    let kin = kinesis::client(&moto.endpoint);
    kinesis::create_stream(&kin, "trimmed", 1).await.unwrap();
    let hits: Vec<PageHit> = (0..10).map(|n| hit(n, BEFORE_MIDNIGHT)).collect();
    kinesis::put_hits(&kin, "trimmed", &hits, &[])
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sink = dir.path().to_str().unwrap();
    consume_once(&moto, "trimmed", sink);
    let key = dir.path().join("_checkpoints/trimmed/shardId-000000000000");
    let cp: serde_json::Value = serde_json::from_slice(&std::fs::read(&key).unwrap()).unwrap();
    assert!(
        cp["read_to_ms"].as_i64().unwrap() > now_ms() - 120_000,
        "the checkpoint says up to when the shard was read: {cp}"
    );
    assert!(cp["stream_created_ms"].as_i64().is_some(), "{cp}");

    // The consumer was down for two days: its checkpoint names a record the stream (24 h
    // retention) no longer holds, older than anything it has.
    let mut old = cp.clone();
    old["sequence_number"] = "0".into();
    old["read_to_ms"] = (now_ms() - 48 * 3_600_000).into();
    std::fs::write(&key, old.to_string()).unwrap();
    let more: Vec<PageHit> = (10..15).map(|n| hit(n, BEFORE_MIDNIGHT)).collect();
    kinesis::put_hits(&kin, "trimmed", &more, &[])
        .await
        .unwrap();
    let out = consume_with(&moto, "trimmed", sink, &[]);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.contains("aggregator: error: records lost in shard shardId-000000000000: after sequence number 0 up to sequence number 1 (the oldest it still holds")
            && said.contains("24-hour retention"),
        "{said}"
    );
    assert_eq!(
        counts(&landed_hits(dir.path())).len(),
        10,
        "nothing read past the gap"
    );

    // Told to go on: the line is logged and what the stream holds is read.
    let out = consume_with(&moto, "trimmed", sink, &["--accept-gap"]);
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    assert!(
        said.contains("records lost in shard shardId-000000000000")
            && said.contains("--accept-gap: going on"),
        "{said}"
    );
    assert_eq!(counts(&landed_hits(dir.path())).len(), 15);
    let out = consume_with(&moto, "trimmed", sink, &[]);
    assert!(
        out.status.success(),
        "the gap is behind it now: {}",
        text(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs moto: run `cargo xtask test`"]
async fn a_stream_created_again_is_a_gap_not_a_silent_skip() {
    let moto = Moto::start().await.unwrap();
    let kin = kinesis::client(&moto.endpoint);
    kinesis::create_stream(&kin, "again", 1).await.unwrap();
    let first: Vec<PageHit> = (0..20).map(|n| hit(n, BEFORE_MIDNIGHT)).collect();
    kinesis::put_hits(&kin, "again", &first, &[]).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sink = dir.path().to_str().unwrap();
    consume_once(&moto, "again", sink);
    kin.delete_stream()
        .stream_name("again")
        .send()
        .await
        .unwrap();
    // Creation times are kept to the second: the new stream must be another second's.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    kinesis::create_stream(&kin, "again", 1).await.unwrap();
    // Fewer records than the old checkpoint's sequence number: after it there is nothing.
    let second: Vec<PageHit> = (100..105).map(|n| hit(n, BEFORE_MIDNIGHT)).collect();
    kinesis::put_hits(&kin, "again", &second, &[])
        .await
        .unwrap();
    let out = consume_with(&moto, "again", sink, &[]);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.contains(
            "records lost in shard shardId-000000000000: the stream was deleted and created again"
        ) && said.contains("after sequence number 20"),
        "{said}"
    );
    let out = consume_with(&moto, "again", sink, &["--accept-gap"]);
    assert!(out.status.success(), "{}", text(&out));
    let c = counts(&landed_hits(dir.path()));
    for h in &second {
        assert_eq!(
            c.get(&h.event_id),
            Some(&1),
            "the new stream is read from its start"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs moto: run `cargo xtask test`"]
async fn an_unreadable_checkpoint_stops_the_consumer_naming_the_shard() {
    let moto = Moto::start().await.unwrap();
    let kin = kinesis::client(&moto.endpoint);
    kinesis::create_stream(&kin, "broken", 2).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cp = dir.path().join("_checkpoints/broken/shardId-000000000001");
    std::fs::create_dir_all(cp.parent().unwrap()).unwrap();
    std::fs::write(&cp, "{\"sequence_num").unwrap();
    let started = Instant::now();
    let out = consume_with(&moto, "broken", dir.path().to_str().unwrap(), &[]);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.contains("the checkpoint of shard shardId-000000000001")
            && said.contains("is unreadable"),
        "{said}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "an error, not an endless retry"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs moto: run `cargo xtask test`"]
async fn two_consumers_at_once_one_holds_the_lease_and_no_object_is_duplicated() {
    let moto = Moto::start().await.unwrap();
    let kin = kinesis::client(&moto.endpoint);
    kinesis::create_stream(&kin, "shared", 2).await.unwrap();
    let hits: Vec<PageHit> = (0..200).map(|n| hit(n, BEFORE_MIDNIGHT)).collect();
    kinesis::put_hits(&kin, "shared", &hits[..100], &[])
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sink = dir.path().to_str().unwrap().to_string();
    let consumer = |name: &str, extra: &[&str]| {
        let mut cmd = xtask::aggregator::command(&moto.endpoint);
        cmd.args(["consume", "--stream", "shared", "--sink", &sink])
            .args(extra);
        Service::spawn(name, &mut cmd, &dir.path().join(format!("{name}.log"))).unwrap()
    };
    let mut a = consumer("a", &[]);
    // a holds the lease once it has checkpointed.
    let checkpoint = dir.path().join("_checkpoints/shared/shardId-000000000000");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !checkpoint.exists() {
        a.check_alive().unwrap();
        assert!(
            Instant::now() < deadline,
            "a never checkpointed: {}",
            a.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let lease: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("_checkpoints/shared/_lease.json")).unwrap(),
    )
    .unwrap();
    let holder = lease["holder"].as_str().unwrap().to_string();

    // A second one told to exit names the holder.
    let out = consume_with(&moto, "shared", &sink, &["--if-held", "exit"]);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.contains("another consumer holds") && said.contains(&holder),
        "{said}"
    );
    // A second one that waits reads nothing while a runs.
    let mut b = consumer("b", &[]);
    b.wait_for_log("waiting until it is released", Duration::from_secs(30))
        .await
        .unwrap();
    kinesis::put_hits(&kin, "shared", &hits[100..], &[])
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while counts(&landed_hits(dir.path())).len() < 200 {
        a.check_alive().unwrap();
        assert!(Instant::now() < deadline, "a did not land everything");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let c = counts(&landed_hits(dir.path()));
    assert!(c.values().all(|&n| n == 1), "each hit landed once: {c:?}");
    assert!(
        !b.log().contains("records ("),
        "b read nothing: {}",
        b.log()
    );
    // a stops (SIGTERM releases the lease): b takes over at once and finds nothing new.
    a.stop();
    let objects = walk(&dir.path().join("hits")).len();
    kinesis::put_hits(&kin, "shared", &[hit(501, BEFORE_MIDNIGHT)], &[])
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while counts(&landed_hits(dir.path())).len() < 201 {
        assert!(
            Instant::now() < deadline,
            "b did not take over: {}",
            b.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        walk(&dir.path().join("hits")).len(),
        objects + 1,
        "b went on from a's checkpoints: one new object, nothing landed again"
    );
    drop(b);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs moto: run `cargo xtask test`"]
async fn a_crashed_consumers_lease_expires_and_is_taken_over() {
    let moto = Moto::start().await.unwrap();
    let kin = kinesis::client(&moto.endpoint);
    kinesis::create_stream(&kin, "crashed", 1).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sink = dir.path().to_str().unwrap().to_string();
    let mut cmd = xtask::aggregator::command(&moto.endpoint);
    cmd.args([
        "consume",
        "--stream",
        "crashed",
        "--sink",
        &sink,
        "--lease-ttl",
        "3",
    ]);
    let a = Service::spawn("a", &mut cmd, &dir.path().join("a.log")).unwrap();
    let lease = dir.path().join("_checkpoints/crashed/_lease.json");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !lease.exists() {
        assert!(Instant::now() < deadline, "no lease taken: {}", a.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    a.signal(libc::SIGKILL);
    drop(a);
    let held: serde_json::Value = serde_json::from_slice(&std::fs::read(&lease).unwrap()).unwrap();
    assert_eq!(held["released"], false, "a crash releases nothing");

    kinesis::put_hits(&kin, "crashed", &[hit(1, BEFORE_MIDNIGHT)], &[])
        .await
        .unwrap();
    let started = Instant::now();
    let out = consume_with(&moto, "crashed", &sink, &["--lease-ttl", "3"]);
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    assert!(
        said.contains("waiting until it is released")
            && said.contains("took over")
            && said.contains(held["holder"].as_str().unwrap()),
        "{said}"
    );
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "taken over only after the lease ran out"
    );
    assert_eq!(counts(&landed_hits(dir.path())).len(), 1);
    let after: serde_json::Value = serde_json::from_slice(&std::fs::read(&lease).unwrap()).unwrap();
    assert_eq!(after["released"], true, "a clean exit releases it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs moto: run `cargo xtask test`"]
async fn a_late_batch_after_compaction_is_seen_through_the_landed_markers() {
    let moto = Moto::start().await.unwrap();
    let kin = kinesis::client(&moto.endpoint);
    kinesis::create_stream(&kin, "late", 2).await.unwrap();
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
