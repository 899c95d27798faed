//! The whole pipeline under faults, with exact assertions on the final report:
//! browser traffic -> edge worker (wrangler dev) -> fault-injecting proxy -> Kinesis (moto) ->
//! aggregator consume (SIGKILLed mid-stream, S3 cut off for a while) -> S3 (moto) ->
//! analyzer report. A batch of records is also replayed onto the stream.
//!
//! Run with `cargo xtask e2e` (or as part of `cargo xtask test`).

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use store::Store;
use xtask::faults::{KinesisFaults, TcpSwitch};
use xtask::kinesis;
use xtask::moto::{self, Moto};
use xtask::process::Service;
use xtask::traffic::{self, Visit};
use xtask::wrangler::{self, WranglerDev};

const STREAM: &str = "e2e-hits";
const BUCKET: &str = "e2e-analytics";

fn today_utc() -> String {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    pagehit::time::format_date(ms.div_euclid(pagehit::time::MS_PER_DAY))
}

/// Starts `aggregator consume` (long-running) with Kinesis at moto and S3 behind the switch.
fn start_consumer(moto: &Moto, s3: &TcpSwitch, log: &std::path::Path) -> Service {
    let mut cmd = xtask::aggregator::command(&moto.endpoint);
    cmd.env("AWS_ENDPOINT_URL_S3", &s3.endpoint).args([
        "consume",
        "--stream",
        STREAM,
        "--sink",
        &format!("s3://{BUCKET}/site"),
    ]);
    Service::spawn("aggregator consume", &mut cmd, log).unwrap()
}

/// Objects under the site's hits/ prefix, read through moto directly.
async fn hit_objects(site: &Store) -> Vec<String> {
    let objects = site.list(pagehit::layout::HITS).await.unwrap_or_default();
    objects.into_iter().map(|o| o.key).collect()
}

async fn send_all(base: &str, visits: &[Visit]) {
    let answers = traffic::send(base, visits, 12).await.unwrap();
    assert!(
        answers.iter().all(|(s, _)| *s == 200),
        "the worker answered every request"
    );
}

/// `analyzer report --format json` for `date`.
fn report(moto: &Moto, date: &str) -> serde_json::Value {
    let out = moto::client_env(
        &mut Command::new(xtask::paths::workspace_bin("analyzer")),
        &moto.endpoint,
    )
    .args([
        "report",
        "--date",
        date,
        "--source",
        &format!("s3://{BUCKET}/site"),
        "--format",
        "json",
    ])
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "analyzer failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs moto and wrangler dev: run `cargo xtask e2e`"]
async fn every_accepted_page_view_is_counted_exactly_once_through_faults() {
    let day_at_start = today_utc();
    let moto = Moto::start().await.unwrap();
    let kin = kinesis::client(&moto.endpoint);
    kinesis::create_stream(&kin, STREAM, 2).await.unwrap();
    moto.create_bucket(BUCKET).await.unwrap();
    let site = moto.store(&format!("s3://{BUCKET}/site")).await.unwrap();

    // Throttle every 4th PutRecords call, fail every 5th new entry: the worker must resend.
    let faults = KinesisFaults::start(&moto.endpoint, 4, 5).await.unwrap();
    let s3 = TcpSwitch::start(&moto.endpoint).await.unwrap();
    let vars = wrangler::collector_vars(STREAM, &faults.endpoint, "e2e");
    let dev = WranglerDev::start("e2e", &vars).await.unwrap();
    let logs = tempfile::tempdir().unwrap();
    let mut consumer = start_consumer(&moto, &s3, &logs.path().join("consume-1.log"));

    // Burst 1, then the aggregator dies mid-stream (SIGKILL) while burst 2 is being sent.
    let visits = traffic::burst(900, 2026);
    let (b1, rest) = visits.split_at(300);
    let (b2, b3) = rest.split_at(300);
    send_all(&dev.url, b1).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while hit_objects(&site).await.is_empty() {
        assert!(
            Instant::now() < deadline,
            "nothing landed: {}",
            consumer.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let sending = tokio::spawn({
        let (url, b2) = (dev.url.clone(), b2.to_vec());
        async move { send_all(&url, &b2).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    consumer.signal(libc::SIGKILL);
    consumer.stop();
    sending.await.unwrap();
    let mut consumer = start_consumer(&moto, &s3, &logs.path().join("consume-2.log"));

    // S3 unreachable while burst 3 arrives: the aggregator backs off, then catches up.
    s3.set_up(false);
    send_all(&dev.url, b3).await;
    consumer
        .wait_for_log("retrying in", Duration::from_secs(60))
        .await
        .expect("the aggregator retries while S3 is down");
    tokio::time::sleep(Duration::from_secs(3)).await;
    s3.set_up(true);

    // A replayed PutRecords batch: the first 50 records on the stream, put again.
    let views = visits.iter().filter(|v| v.page_view).count();
    let on_stream = kinesis::wait_for_records(&kin, STREAM, views, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(
        on_stream.len(),
        views,
        "the worker put every page view exactly once"
    );
    let replay: Vec<pagehit::PageHit> = on_stream[..50]
        .iter()
        .map(|r| pagehit::PageHit::from_json(&r.data).unwrap())
        .collect();
    kinesis::put_hits(&kin, STREAM, &replay, &[]).await.unwrap();

    // Drain: stop the consumer (SIGTERM finishes its batch), then one --once pass.
    tokio::time::sleep(Duration::from_secs(3)).await;
    consumer.signal(libc::SIGTERM);
    consumer.stop();
    let out = xtask::aggregator::command(&moto.endpoint)
        .args([
            "consume",
            "--stream",
            STREAM,
            "--sink",
            &format!("s3://{BUCKET}/site"),
            "--once",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The report, for every day the test touched (it may run across midnight UTC).
    let mut days = vec![day_at_start];
    if today_utc() != days[0] {
        days.push(today_utc());
    }
    let mut pages: BTreeMap<String, u64> = BTreeMap::new();
    let mut users: BTreeMap<String, u64> = BTreeMap::new();
    let (mut hits, mut bots, mut duplicates) = (0, 0, 0);
    for day in &days {
        let r = report(&moto, day);
        hits += r["summary"]["hits"].as_u64().unwrap();
        bots += r["summary"]["bots"].as_u64().unwrap();
        duplicates += r["summary"]["duplicates"].as_u64().unwrap();
        for p in r["pages"].as_array().unwrap() {
            *pages
                .entry(p["path"].as_str().unwrap().to_string())
                .or_default() += p["hits"].as_u64().unwrap();
        }
        for u in r["users"].as_array().unwrap() {
            *users
                .entry(u["user"].as_str().unwrap().to_string())
                .or_default() += u["hits"].as_u64().unwrap();
        }
    }

    // Exactly what was sent: page views by path and by user, bots counted apart.
    let human: Vec<&Visit> = visits.iter().filter(|v| v.page_view && !v.bot).collect();
    let mut want_pages: BTreeMap<String, u64> = BTreeMap::new();
    let mut want_users: BTreeMap<String, u64> = BTreeMap::new();
    for v in &human {
        *want_pages.entry(v.path.clone()).or_default() += 1;
        if !v.user.is_empty() {
            *want_users.entry(v.user.clone()).or_default() += 1;
        }
    }
    assert_eq!(pages, want_pages, "hits per page");
    assert_eq!(users, want_users, "hits per user");
    assert_eq!(hits, human.len() as u64);
    assert_eq!(
        bots,
        visits.iter().filter(|v| v.page_view && v.bot).count() as u64
    );
    assert!(
        duplicates >= 50,
        "the replayed batch was dropped as duplicates ({duplicates})"
    );

    use std::sync::atomic::Ordering::Relaxed;
    assert!(
        faults.injected.throttled_calls.load(Relaxed) > 0
            && faults.injected.failed_entries.load(Relaxed) > 0
    );
    assert!(!dev.service.log().contains("hit_not_delivered"));
}
