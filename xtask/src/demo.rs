//! `cargo xtask demo`: the pipeline on the local stack, end to end, one progress line a stage.
//!
//! moto (Kinesis + S3) -> `wrangler dev` (the edge worker) -> a burst of page views ->
//! `aggregator consume` -> daily CSV objects in S3 -> `analyzer report --date today`. While the
//! burst lands, a watcher polls S3 and times each hit from the worker to its row in S3.

use anyhow::{bail, Context, Result};
use std::collections::HashSet;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use xtask::kinesis;
use xtask::moto::{self, Moto};
use xtask::process::Service;
use xtask::traffic;
use xtask::wrangler::{self, WranglerDev};
use xtask::{edge_build, paths, process::run as run_cmd, setup};

const STREAM: &str = "page-hits";
const BUCKET: &str = "demo-analytics";
/// Requests in the burst (about 90% page views).
const BURST: usize = 600;
/// The burst goes out in this many waves, [`WAVE_GAP`] apart.
const WAVES: usize = 12;
/// Time from the start of one wave to the start of the next.
const WAVE_GAP: Duration = Duration::from_millis(500);
/// How often the watcher lists S3: the resolution of the latency figures.
const WATCH_EVERY: Duration = Duration::from_millis(100);
/// How long the pipeline may take to land the whole burst before the demo gives up.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(90);

/// Runs the demo; every service it starts is stopped when it returns, on success or failure.
pub fn run() -> Result<()> {
    stage("installing missing tools", setup::ensure_tools)?;
    stage("building the edge worker (Rust -> Wasm)", edge_build::build)?;
    stage("building the aggregator and the analyzer", || {
        run_cmd(
            "cargo build -p aggregator -p analyzer",
            Command::new("cargo")
                .args(["build", "--quiet", "-p", "aggregator", "-p", "analyzer"])
                .current_dir(paths::root()),
        )
    })?;
    tokio::runtime::Runtime::new()?.block_on(pipeline())
}

fn stage<T>(what: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let t = Instant::now();
    eprintln!("demo: {what} ...");
    let out = f().with_context(|| format!("demo stage failed: {what}"))?;
    eprintln!("demo: {what}: done in {:.1}s", t.elapsed().as_secs_f64());
    Ok(out)
}

/// The context for a failed stage: its name and the log to read.
fn failed(what: &str, log: &Path) -> String {
    format!("demo stage failed: {what} (log {})", log.display())
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

async fn pipeline() -> Result<()> {
    let moto = Moto::start()
        .await
        .context("demo stage failed: starting moto")?;
    let moto_log = moto.service.log_path().to_path_buf();
    let kin = kinesis::client(&moto.endpoint);
    kinesis::create_stream(&kin, STREAM, 2)
        .await
        .with_context(|| failed("creating the stream", &moto_log))?;
    moto.create_bucket(BUCKET)
        .await
        .with_context(|| failed("creating the bucket", &moto_log))?;
    eprintln!(
        "demo: moto at {}: stream {STREAM} (2 shards), bucket {BUCKET}; log {}",
        moto.endpoint,
        moto_log.display()
    );

    let vars = wrangler::collector_vars(STREAM, &moto.endpoint, "demo-salt");
    let dev = WranglerDev::start("demo", &vars)
        .await
        .context("demo stage failed: starting wrangler dev")?;
    let dev_log = dev.service.log_path().to_path_buf();
    eprintln!(
        "demo: edge worker under wrangler dev at {}; log {}",
        dev.url,
        dev_log.display()
    );

    let sink = format!("s3://{BUCKET}/analytics");
    let logs = paths::scratch("demo");
    let consume_log = logs.join("aggregator-consume.log");
    let mut consumer = Service::spawn(
        "aggregator consume",
        xtask::aggregator::command(&moto.endpoint)
            .args(["consume", "--stream", STREAM, "--sink", &sink]),
        &consume_log,
    )
    .with_context(|| failed("starting aggregator consume", &consume_log))?;
    eprintln!(
        "demo: aggregator consume is reading {STREAM} into {sink}; log {}",
        consume_log.display()
    );

    let store = moto.store(&sink).await?;
    let mut watcher = Watcher::default();
    watcher.poll(&store).await?; // nothing yet: a fresh bucket

    let visits = traffic::burst(BURST, 2026);
    let views = visits.iter().filter(|v| v.page_view).count();
    let t = Instant::now();
    // In waves over a few seconds, so the latencies sample the consumer's polling cycle
    // rather than one instant.
    let sending = tokio::spawn({
        let (url, visits) = (dev.url.clone(), visits.clone());
        async move {
            let mut answers = Vec::with_capacity(visits.len());
            for wave in visits.chunks(BURST / WAVES) {
                let next = tokio::time::Instant::now() + WAVE_GAP;
                answers.extend(traffic::send(&url, wave, 8).await?);
                tokio::time::sleep_until(next).await;
            }
            anyhow::Ok(answers)
        }
    });
    // Watch S3 while the burst is sent, so each row's arrival is seen when it happens.
    while !sending.is_finished() {
        watcher.poll(&store).await?;
        tokio::time::sleep(WATCH_EVERY).await;
    }
    let answers = sending
        .await?
        .with_context(|| failed("sending page views", &dev_log))?;
    let bad = answers.iter().filter(|(s, _)| *s != 200).count();
    if bad > 0 {
        bail!(
            "{}: {bad} requests were not answered 200",
            failed("sending page views", &dev_log)
        );
    }
    eprintln!(
        "demo: sent {} requests ({views} page views, {} assets) in {WAVES} waves, 8 at a time, in {:.1}s",
        visits.len(),
        visits.len() - views,
        t.elapsed().as_secs_f64(),
    );

    let deadline = Instant::now() + DRAIN_TIMEOUT;
    while watcher.rows() < views {
        consumer
            .check_alive()
            .with_context(|| failed("landing the hits in S3", &consume_log))?;
        if Instant::now() > deadline {
            bail!(
                "{}: {} of {views} page views in S3 after {DRAIN_TIMEOUT:?} (worker log {})",
                failed("landing the hits in S3", &consume_log),
                watcher.rows(),
                dev_log.display()
            );
        }
        tokio::time::sleep(WATCH_EVERY).await;
        watcher.poll(&store).await?;
    }
    consumer.signal(libc::SIGTERM);
    consumer.stop();
    eprintln!(
        "demo: aggregator landed all {views} page views in {} objects under {sink}/hits/; {}",
        watcher.objects.len(),
        last_line(&consumer.log())
    );
    if let Some(l) = Latency::of(&watcher.latencies_ms) {
        eprintln!(
            "demo: latency from the worker to the row in S3 over {} hits: p50 {:.2}s, p99 {:.2}s, max {:.2}s (goal p99 <= 3s)",
            watcher.latencies_ms.len(),
            l.p50,
            l.p99,
            l.max
        );
    }

    let out_dir = logs.join("reports");
    let analyzer_log = logs.join("analyzer.log");
    let report = moto::client_env(
        &mut Command::new(paths::workspace_bin("analyzer")),
        &moto.endpoint,
    )
    .args(["report", "--date", "today", "--source", &sink, "--out"])
    .arg(&out_dir)
    .args(["--format", "table"])
    .output()
    .context("demo stage failed: running analyzer report")?;
    std::fs::write(&analyzer_log, &report.stderr)?;
    if !report.status.success() {
        bail!(
            "{}: {}",
            failed("analyzer report --date today", &analyzer_log),
            report.status
        );
    }
    println!("{}", String::from_utf8_lossy(&report.stdout));
    let html: Vec<_> = std::fs::read_dir(&out_dir)?
        .filter_map(|d| d.ok())
        .map(|d| d.path().join("report.html"))
        .filter(|p| p.exists())
        .collect();
    for p in html {
        eprintln!("demo: HTML report written to {}", p.display());
    }
    eprintln!("demo: done; stopping moto, wrangler dev and the aggregator");
    Ok(())
}

fn last_line(log: &str) -> &str {
    log.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
}

/// Follows the hits/ objects in S3 as they appear.
#[derive(Default)]
struct Watcher {
    /// Objects seen so far.
    objects: HashSet<String>,
    /// Event ids seen so far (a replayed object must not count twice).
    events: HashSet<String>,
    /// Per hit: the moment its object was seen minus the worker's timestamp on the hit.
    latencies_ms: Vec<i64>,
}

impl Watcher {
    fn rows(&self) -> usize {
        self.events.len()
    }

    /// Lists the objects once and reads the new ones. A hit's `ts` is stamped by the worker as
    /// the request arrives, before it answers, so the figure is at least the true one.
    async fn poll(&mut self, store: &store::Store) -> Result<()> {
        let objects = store.list(pagehit::layout::HITS).await?;
        let seen_at = now_ms();
        for key in objects.into_iter().map(|o| o.key) {
            if !pagehit::layout::is_hit_object(&key) || self.objects.contains(&key) {
                continue;
            }
            let body = store.get(&key).await?.unwrap_or_default();
            let read = pagehit::csv::read_all(&body).with_context(|| format!("reading {key}"))?;
            for hit in read.hits {
                if self.events.insert(hit.event_id.clone()) {
                    let ts = pagehit::time::parse_ts(&hit.ts)
                        .with_context(|| format!("ts of a row of {key}"))?;
                    self.latencies_ms.push(seen_at - ts);
                }
            }
            self.objects.insert(key);
        }
        Ok(())
    }
}

/// p50 and p99 of a set of durations, in seconds.
struct Latency {
    p50: f64,
    p99: f64,
    max: f64,
}

impl Latency {
    fn of(ms: &[i64]) -> Option<Latency> {
        let mut v = ms.to_vec();
        v.sort_unstable();
        let at = |q: f64| {
            // nearest rank: the smallest value with at least q of the sample at or below it
            let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
            v[rank - 1] as f64 / 1000.0
        };
        (!v.is_empty()).then(|| Latency {
            p50: at(0.50),
            p99: at(0.99),
            max: at(1.0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let ms: Vec<i64> = (1..=100).rev().map(|s| s * 10).collect();
        let l = Latency::of(&ms).unwrap();
        assert_eq!((l.p50, l.p99, l.max), (0.5, 0.99, 1.0));
        let one = Latency::of(&[1234]).unwrap();
        assert_eq!((one.p50, one.p99), (1.234, 1.234));
        assert!(Latency::of(&[]).is_none());
    }
}
