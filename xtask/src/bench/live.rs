//! `cargo xtask bench live`: the live view's figures (release builds).
//!
//! - Ingest on one core: decode + validate + count, records a second, and peak RSS, on three
//!   shapes (`dashboard/examples/ingest.rs`): realistic, hostile (every hit a new visitor on a
//!   new path: 1M distinct visitors and 1M distinct paths in the window), and one new user
//!   agent per hit.
//! - CPU while the stream is idle: `dashboard serve` on an empty stream, its CPU time over a
//!   stretch of wall time (from /proc).
//! - Hit-to-screen latency: page views sent through the worker under `wrangler dev` into moto,
//!   each on its own path; for each, the first Server-Sent Event that lists its path, minus
//!   the `ts` the worker stamped on it (read back from the stream). Same machine, same clock.

use anyhow::{bail, Context, Result};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use xtask::kinesis;
use xtask::moto::{self, Moto};
use xtask::process::{free_port, run as run_cmd, wait_ready, Service};
use xtask::wrangler::{self, WranglerDev};
use xtask::{edge_build, paths, setup};

/// Options of `cargo xtask bench live`.
#[derive(clap::Args)]
pub struct Args {
    /// Records per ingest shape (the `agents` shape parses each agent: a tenth of this).
    #[arg(long, default_value_t = 1_000_000)]
    records: usize,
    /// Page views sent through the worker for the latency figures.
    #[arg(long, default_value_t = 600)]
    page_views: usize,
    /// Page views a second while measuring latency.
    #[arg(long, default_value_t = 20)]
    rate: u32,
    /// Seconds of idle stream over which the dashboard's CPU is measured.
    #[arg(long, default_value_t = 30)]
    idle_seconds: u64,
}

/// Runs the benchmark and prints its figures.
pub fn run(args: Args) -> Result<()> {
    setup::ensure_for(setup::Task::Bench)?;
    edge_build::build()?;
    eprintln!("bench live: cargo build --release -p dashboard --bin dashboard --example ingest");
    run_cmd(
        "building the release dashboard",
        Command::new("cargo")
            .args(["build", "--release", "-p", "dashboard"])
            .args(["--bin", "dashboard", "--example", "ingest"])
            .current_dir(paths::root()),
    )?;
    let release = paths::target_dir().join("release");
    println!(
        "bench live, {} UTC, load average {}",
        pagehit::time::format_ts(now_ms()),
        std::fs::read_to_string("/proc/loadavg")?.trim()
    );
    for (shape, records) in [
        ("realistic", args.records),
        ("hostile", args.records),
        ("agents", args.records / 10),
    ] {
        let out = Command::new(release.join("examples/ingest"))
            .args(["--shape", shape, "--records", &records.to_string()])
            .output()
            .context("running the ingest example")?;
        if !out.status.success() {
            bail!("ingest {shape}: {}", String::from_utf8_lossy(&out.stderr));
        }
        let v: Value = serde_json::from_slice(&out.stdout)?;
        println!(
            "ingest {shape:9}: {:>9} records in {:.2} s = {:>9.0} records/s on one core; snapshot {:.1} ms; \
             peak RSS {:.0} MiB; {} visitors, {} pages listed",
            v["records"], v["seconds"].as_f64().unwrap_or(0.0),
            v["records_per_second"].as_f64().unwrap_or(0.0),
            v["snapshot_ms"].as_f64().unwrap_or(0.0),
            v["peak_rss_mib"].as_f64().unwrap_or(0.0),
            v["visitors"], v["pages_listed"]
        );
    }
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(stack(&args, &release.join("dashboard")))
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// `dashboard serve` (release) on a free port.
async fn serve(
    binary: &std::path::Path,
    endpoint: &str,
    stream: &str,
) -> Result<(Service, String)> {
    let port = free_port();
    let dir = paths::scratch("bench-live");
    let mut cmd = Command::new(binary);
    moto::client_env(&mut cmd, endpoint);
    cmd.args(["serve", "--stream", stream, "--top", "10000", "--listen"])
        .arg(format!("127.0.0.1:{port}"));
    let mut service = Service::spawn("dashboard serve", &mut cmd, &dir.join("dashboard.log"))?;
    let url = format!("http://127.0.0.1:{port}");
    wait_ready(
        &mut service,
        &format!("{url}/healthz"),
        Duration::from_secs(60),
    )
    .await?;
    Ok((service, url))
}

/// CPU seconds (user + system) of process `pid` and its threads so far.
fn cpu_seconds(pid: u32) -> Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name (which may hold spaces) end with ')'.
    let rest = stat.rsplit_once(')').context("/proc stat")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>()? + fields[12].parse::<f64>()?;
    Ok(ticks / 100.0)
}

async fn stack(args: &Args, binary: &std::path::Path) -> Result<()> {
    let moto = Moto::start().await?;
    let kin = kinesis::client(&moto.endpoint);

    // Idle: an empty stream of two shards.
    kinesis::create_stream(&kin, "idle", 2).await?;
    let (idle, _) = serve(binary, &moto.endpoint, "idle").await?;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let pid = idle.pid();
    let (cpu0, t0) = (cpu_seconds(pid)?, Instant::now());
    tokio::time::sleep(Duration::from_secs(args.idle_seconds)).await;
    let cpu = cpu_seconds(pid)? - cpu0;
    let wall = t0.elapsed().as_secs_f64();
    println!(
        "idle stream (2 shards, each polled once a second): {:.3} CPU seconds over {wall:.0} s = {:.2}% of one core",
        cpu,
        100.0 * cpu / wall
    );
    drop(idle);

    // Latency: through the worker.
    kinesis::create_stream(&kin, "latency", 2).await?;
    let dev = WranglerDev::start(
        "bench-live",
        &wrangler::collector_vars("latency", &moto.endpoint, "bench-salt"),
    )
    .await?;
    let (_dash, url) = serve(binary, &moto.endpoint, "latency").await?;
    // Wait until the reader caught up, then listen.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let s: Value = serde_json::from_str(
            &reqwest::get(format!("{url}/api/live"))
                .await?
                .text()
                .await?,
        )?;
        if s["caught_up"] == true {
            break;
        }
        if Instant::now() > deadline {
            bail!("the dashboard did not catch up: {s}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let first_seen: Arc<Mutex<HashMap<String, i64>>> = Arc::default();
    let events = Arc::new(Mutex::new(0usize));
    let listener = tokio::spawn({
        let (first_seen, events) = (first_seen.clone(), events.clone());
        let url = format!("{url}/api/live/events");
        async move {
            let mut resp = reqwest::get(url).await?;
            let mut buffer = String::new();
            while let Some(chunk) = resp.chunk().await? {
                let at = now_ms();
                buffer.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(end) = buffer.find("\n\n") {
                    let event: String = buffer.drain(..end + 2).collect();
                    let Some(data) = event.lines().find_map(|l| l.strip_prefix("data: ")) else {
                        continue;
                    };
                    let s: Value = serde_json::from_str(data)?;
                    *events.lock().unwrap() += 1;
                    let mut seen = first_seen.lock().unwrap();
                    for p in s["pages"].as_array().into_iter().flatten() {
                        if let Some(path) = p["path"].as_str() {
                            seen.entry(path.to_string()).or_insert(at);
                        }
                    }
                }
            }
            anyhow::Ok(())
        }
    });
    let http = reqwest::Client::new();
    let gap = Duration::from_secs_f64(1.0 / f64::from(args.rate.max(1)));
    let started = Instant::now();
    for i in 0..args.page_views {
        let next = tokio::time::Instant::now() + gap;
        let resp = http
            .get(format!("{}/bench/{i}", dev.url))
            .header(
                "user-agent",
                format!(
                    "Mozilla/5.0 (X11; Linux x86_64; bench {}) Firefox/140.0",
                    i % 50
                ),
            )
            .send()
            .await?;
        resp.bytes().await?;
        tokio::time::sleep_until(next).await;
    }
    let sent_in = started.elapsed().as_secs_f64();
    let records =
        kinesis::wait_for_records(&kin, "latency", args.page_views, Duration::from_secs(60))
            .await?;
    let mut ts_of: BTreeMap<String, i64> = BTreeMap::new();
    for r in &records {
        let hit = pagehit::PageHit::from_json(&r.data)?;
        ts_of.insert(
            hit.path.clone(),
            pagehit::time::parse_ts(&hit.ts).unwrap_or(0),
        );
    }
    // Let the last hits reach the page.
    let deadline = Instant::now() + Duration::from_secs(15);
    while first_seen.lock().unwrap().len() < ts_of.len() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    listener.abort();
    let seen = first_seen.lock().unwrap().clone();
    let mut latencies: Vec<i64> = ts_of
        .iter()
        .filter_map(|(path, ts)| seen.get(path).map(|at| at - ts))
        .collect();
    latencies.sort_unstable();
    let missing = ts_of.len() - latencies.len();
    if latencies.is_empty() {
        bail!("no page view reached the live page");
    }
    let at = |q: f64| {
        let rank = ((q * latencies.len() as f64).ceil() as usize).clamp(1, latencies.len());
        latencies[rank - 1] as f64 / 1000.0
    };
    println!(
        "hit to screen over {} page views through wrangler dev and moto ({:.0}/s for {sent_in:.0} s, {} SSE events): \
         p50 {:.2} s, p99 {:.2} s, max {:.2} s (goal p99 <= 2 s){}",
        latencies.len(),
        args.page_views as f64 / sent_in,
        *events.lock().unwrap(),
        at(0.5),
        at(0.99),
        at(1.0),
        if missing > 0 {
            format!("; {missing} never shown")
        } else {
            String::new()
        }
    );
    Ok(())
}
