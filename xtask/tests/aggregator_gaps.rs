//! The aggregator's checkpoints and leases against moto's Kinesis: a checkpoint past the
//! stream's retention, or of a stream created again, is a gap named with its range (never a
//! silent skip); an unreadable checkpoint stops the consumer naming its shard; two consumers
//! of one stream share it through a lease without duplicating an object, and a crashed
//! consumer's lease expires and is taken over.
//!
//! Run with `cargo xtask test`.

mod aggregator_support;

use aggregator_support::*;
use pagehit::PageHit;
use std::time::{Duration, Instant};
use xtask::kinesis;
use xtask::process::Service;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs moto: run `cargo xtask test`"]
async fn a_checkpoint_past_the_streams_retention_is_a_gap_named_with_its_range() {
    let (moto, kin) = moto_with_stream("trimmed", 1).await;
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
    let (moto, kin) = moto_with_stream("again", 1).await;
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
    let (moto, _kin) = moto_with_stream("broken", 2).await;
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
    let (moto, kin) = moto_with_stream("shared", 2).await;
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
    let (moto, kin) = moto_with_stream("crashed", 1).await;
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
