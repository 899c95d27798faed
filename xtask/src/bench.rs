//! Benchmarks: figures for the README, never pass/fail tests (these machines are shared and noisy).

use anyhow::{Context, Result};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use xtask::kinesis;
use xtask::moto::Moto;
use xtask::wrangler::{self, WranglerDev};
use xtask::{edge_build, setup};

mod analyzer;
mod dashboard;
mod live;

/// Which benchmark to run.
#[derive(clap::Subcommand)]
pub enum Which {
    /// Worker throughput with the collector on vs off (same build, same load, alternating rounds).
    Edge {
        /// Concurrent connections.
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        /// Seconds per round.
        #[arg(long, default_value_t = 8)]
        seconds: u64,
        /// Rounds per configuration (alternated: on, off, on, off, ...).
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// Where the collector puts records: `moto` (the emulator, sharing this machine's CPU)
        /// or `sink` (a minimal PutRecords responder, so only the worker's own cost is measured).
        #[arg(long, default_value = "moto")]
        kinesis: String,
    },
    /// `analyzer report --format json` vs DuckDB (and pandas) on the same generated day; with
    /// `--compacted` also `analyzer compact` and both reports from the Parquet day; with
    /// `--objects N` instead the small-file cost on moto S3 (N objects vs 8 vs N compacted).
    Analyzer(analyzer::Args),
    /// The history dashboard: a month of compacted days asked cold, then under 20 filters
    /// (answer times, peak RSS, every answer checked against `analyzer report`).
    Dashboard(dashboard::Args),
    /// The live view: ingest on one core and peak RSS (realistic, hostile, new agents),
    /// CPU on an idle stream, and hit-to-screen latency through the worker.
    Live(live::Args),
    /// Runs a program and prints its wall seconds and peak RSS: the analyzer benchmark's small
    /// measuring process (a child's peak RSS counts its parent's when it was started).
    #[command(hide = true)]
    Measure(analyzer::MeasureArgs),
}

/// Runs the chosen benchmark.
pub fn run(which: Which) -> Result<()> {
    match which {
        Which::Edge {
            concurrency,
            seconds,
            rounds,
            kinesis,
        } => {
            setup::ensure_for(setup::Task::Bench)?;
            let rt = tokio::runtime::Runtime::new()?;
            rt.block_on(edge(
                concurrency,
                Duration::from_secs(seconds),
                rounds,
                &kinesis,
            ))
        }
        // Only what it uses: the release analyzer, a venv with the peers, and moto for
        // `--objects` (which says to run `cargo xtask setup` when moto is missing).
        Which::Analyzer(args) => analyzer::run(args),
        Which::Dashboard(args) => dashboard::run(args),
        Which::Live(args) => live::run(args),
        Which::Measure(args) => analyzer::measure_child(args),
    }
}

/// One round's result.
struct Round {
    requests: u64,
    elapsed: Duration,
    latencies_us: Vec<u64>,
}

impl Round {
    fn rps(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }
}

/// Requests the demo pages from `concurrency` connections for `duration`.
async fn load(url: &str, concurrency: usize, duration: Duration) -> Result<Round> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()?;
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let pages = [
        "/",
        "/about",
        "/products",
        "/blog",
        "/faq",
        "/contact",
        "/services",
        "/portfolio",
    ];
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..concurrency {
        let (client, stop, count, latencies) = (
            client.clone(),
            stop.clone(),
            count.clone(),
            latencies.clone(),
        );
        let url = url.to_string();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            let mut i = worker;
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                let resp = client
                    .get(format!("{url}{}", pages[i % pages.len()]))
                    .header(
                        "user-agent",
                        format!("Mozilla/5.0 (bench {worker}) Firefox/140.0"),
                    )
                    .header("cookie", format!("user=user{}", i % 50))
                    .send()
                    .await;
                if let Ok(r) = resp {
                    if r.status().is_success() && r.bytes().await.is_ok() {
                        count.fetch_add(1, Ordering::Relaxed);
                        mine.push(t.elapsed().as_micros() as u64);
                    }
                }
                i += concurrency;
            }
            latencies.lock().unwrap().extend(mine);
        }));
    }
    tokio::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await?;
    }
    let elapsed = started.elapsed();
    let mut latencies_us = std::mem::take(&mut *latencies.lock().unwrap());
    latencies_us.sort_unstable();
    Ok(Round {
        requests: count.load(Ordering::Relaxed),
        elapsed,
        latencies_us,
    })
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize] as f64 / 1000.0
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// A minimal Kinesis `PutRecords` responder (HTTP/1.1 keep-alive) that accepts every record
/// and counts them: the cheapest possible peer, so a benchmark sees only the worker's cost.
async fn null_sink() -> Result<(String, Arc<AtomicU64>)> {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let endpoint = format!("http://{}", listener.local_addr()?);
    let records = Arc::new(AtomicU64::new(0));
    let counter = records.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut reader = BufReader::new(stream);
                loop {
                    let mut len = 0usize;
                    let mut line = String::new();
                    let mut first = true;
                    loop {
                        line.clear();
                        if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
                            return;
                        }
                        if line == "\r\n" && !first {
                            break;
                        }
                        first = false;
                        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                            len = v.trim().parse().unwrap_or(0);
                        }
                    }
                    let mut body = vec![0; len];
                    if reader.read_exact(&mut body).await.is_err() {
                        return;
                    }
                    let n = String::from_utf8_lossy(&body)
                        .matches("PartitionKey")
                        .count();
                    counter.fetch_add(n as u64, Ordering::Relaxed);
                    let recs =
                        vec![r#"{"SequenceNumber":"1","ShardId":"shardId-000000000000"}"#; n]
                            .join(",");
                    let answer = format!(r#"{{"FailedRecordCount":0,"Records":[{recs}]}}"#);
                    let resp = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.1\r\ncontent-length: {}\r\n\r\n{answer}",
                        answer.len()
                    );
                    if reader.get_mut().write_all(resp.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    Ok((endpoint, records))
}

async fn edge(concurrency: usize, duration: Duration, rounds: usize, target: &str) -> Result<()> {
    eprintln!("bench: building the edge worker");
    edge_build::build()?;
    let moto = Moto::start().await?;
    let kin = kinesis::client(&moto.endpoint);
    kinesis::create_stream(&kin, "bench", 4).await?;
    let (sink_endpoint, sink_count) = null_sink().await?;
    let endpoint = match target {
        "moto" => moto.endpoint.clone(),
        "sink" => sink_endpoint,
        other => anyhow::bail!("--kinesis takes moto or sink, not {other:?}"),
    };
    let mut vars = wrangler::collector_vars("bench", &endpoint, "bench");
    let on = WranglerDev::start("bench-on", &vars).await?;
    vars.push(("COLLECTOR", "off".to_string()));
    let off = WranglerDev::start("bench-off", &vars).await?;

    // Warm both isolates (JIT, Wasm compile) before measuring.
    let mut sent_on = load(&on.url, concurrency, Duration::from_secs(2))
        .await?
        .requests;
    load(&off.url, concurrency, Duration::from_secs(2)).await?;

    let (mut on_rps, mut off_rps) = (Vec::new(), Vec::new());
    let (mut on_lat, mut off_lat) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let a = load(&on.url, concurrency, duration).await?;
        let b = load(&off.url, concurrency, duration).await?;
        eprintln!(
            "bench: round {}: collector on {:.0} req/s, off {:.0} req/s",
            round + 1,
            a.rps(),
            b.rps()
        );
        sent_on += a.requests;
        on_rps.push(a.rps());
        off_rps.push(b.rps());
        on_lat.extend(a.latencies_us);
        off_lat.extend(b.latencies_us);
    }
    on_lat.sort_unstable();
    off_lat.sort_unstable();
    let sent = kinesis::read_all(&kin, "bench")
        .await
        .context("reading the bench stream")?;
    let (on_med, off_med) = (median(on_rps), median(off_rps));
    println!("edge throughput, wrangler dev {} on 127.0.0.1, {concurrency} connections, {rounds}x{}s rounds alternated", xtask::wrangler::version(), duration.as_secs());
    println!("| collector | req/s (median) | p50 ms | p99 ms |");
    println!("|---|---|---|---|");
    println!(
        "| on (PutRecords to {target}) | {on_med:.0} | {:.1} | {:.1} |",
        percentile(&on_lat, 0.5),
        percentile(&on_lat, 0.99)
    );
    println!(
        "| off | {off_med:.0} | {:.1} | {:.1} |",
        percentile(&off_lat, 0.5),
        percentile(&off_lat, 0.99)
    );
    let landed = sent.len() as u64 + sink_count.load(Ordering::Relaxed);
    println!(
        "throughput ratio on/off: {:.2} (goal >= 0.90)",
        on_med / off_med
    );
    println!("page views answered with the collector on: {sent_on}; hits landed: {landed}");
    Ok(())
}
