//! `cargo xtask demo`: the pipeline on the local stack, end to end, one progress line a stage.
//!
//! moto (Kinesis + S3) -> `wrangler dev` (the edge worker) -> a burst of page views ->
//! `aggregator consume` -> daily CSV objects in S3 -> `analyzer report` of the burst's day. While
//! the burst lands, a watcher polls S3 and times each hit from the worker to its row in S3, and
//! `dashboard serve` (the live view, its own reader of the stream) counts it as it happens; the
//! demo prints its URL and, after the burst, one line of `/api/live` checked against what was sent.
//!
//! A burst of seconds makes a dull report (one hourly bar, no bounces), so the demo then puts a
//! labelled synthetic history ([`xtask::history`]: the 14 whole UTC days before, generated, on
//! its own host) on the same stream with `PutRecords`, lands it with the same aggregator
//! (`consume --once`, from the live consumer's checkpoints), compacts those days with
//! `analyzer compact` and prints the dashboard of their last week compared with the week before.
//!
//! `dashboard serve` also gets the bucket as `--source`: its `/history` explores the history and
//! the burst with filters. With `--serve` the demo then keeps moto, the worker, the aggregator
//! and the dashboard running until Ctrl-C, with a trickle of page views through the worker
//! ([`xtask::trickle`]) so that the live numbers move.

use anyhow::{bail, Context, Result};
use pagehit::time;
use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use xtask::dashboard::{count, Dashboard};
use xtask::history::{self, History, Plan};
use xtask::kinesis;
use xtask::moto::{self, Moto};
use xtask::process::Service;
use xtask::process::{joined, run as run_cmd};
use xtask::setup::{self, Tool};
use xtask::traffic;
use xtask::wrangler::{self, WranglerDev};
use xtask::{edge_build, paths};

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
/// Days in the dashboard's period, compared with as many before.
const COMPARED_DAYS: u32 = 7;
/// Rows of each list the history's table shows on the terminal (the files have them all).
const TOP_ROWS: u32 = 10;

/// `cargo xtask demo` options.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// After the demo, keep the stack and the dashboard running until Ctrl-C, with a trickle of
    /// synthetic page views through the worker so the live numbers move.
    #[arg(long)]
    serve: bool,
}

/// Runs the demo; every service it starts is stopped when it returns, on success or failure.
pub fn run(args: Args) -> Result<()> {
    stage("installing the build's missing tools", || {
        setup::ensure(&[Tool::WasmTarget])
    })?;
    // Side by side: the Wasm's single-threaded LTO and links leave a core the native build
    // takes (each has a target folder of its own, so cargo's locks do not serialise them), and
    // `npm ci` (whose wasm-opt and esbuild the worker needs after compiling) and moto's pip
    // install wait on the network more than on a core.
    let others = setup::Task::Demo.needs_but(&[Tool::WasmTarget, Tool::NpmPackages]);
    stage(
        "building the edge worker (Rust -> Wasm) and, beside it, the aggregator, the analyzer \
         and the dashboard, and installing what else the demo runs",
        || {
            std::thread::scope(|s| {
                let npm = s.spawn(|| setup::ensure(&[Tool::NpmPackages]));
                let tools = s.spawn(|| setup::ensure(&others));
                let edge = s.spawn(move || {
                    edge_build::build_when(|| joined(npm, "installing the npm packages"))
                });
                let native = run_cmd(
                    "cargo build -p aggregator -p analyzer -p dashboard",
                    Command::new("cargo")
                        .args([
                            "build",
                            "--quiet",
                            "-p",
                            "aggregator",
                            "-p",
                            "analyzer",
                            "-p",
                            "dashboard",
                        ])
                        .current_dir(paths::root()),
                );
                joined(edge, "building the edge worker")?;
                joined(tools, "installing the demo's tools")?;
                native
            })
        },
    )?;
    tokio::runtime::Runtime::new()?.block_on(pipeline(args.serve))
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

async fn pipeline(serve: bool) -> Result<()> {
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

    let dashboard = Dashboard::serve(&moto.endpoint, STREAM, &["--source", &sink], &[])
        .await
        .context("demo stage failed: starting dashboard serve")?;
    eprintln!(
        "demo: the live view: open {}/ (dashboard serve, reading {STREAM}); the history with \
         filters: {}/history; log {}",
        dashboard.url,
        dashboard.url,
        dashboard.service.log_path().display()
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

    live_line(&dashboard, &visits).await?;

    let (live, burst_day) = live_report(&moto.endpoint, &sink, &watcher.days, &logs)?;
    let t = Instant::now();
    let history = put_history(&kin, &moto.endpoint, &sink, &logs, burst_day).await?;
    let past = history_dashboard(&moto.endpoint, &sink, &history, &logs)?;
    eprintln!(
        "demo: {}; generated, put, landed, compacted and reported in {:.1}s",
        history.label(),
        t.elapsed().as_secs_f64()
    );
    eprintln!(
        "demo: the live burst's report: {} (folder {})",
        live.html.display(),
        live.folder.display()
    );
    eprintln!(
        "demo: the synthetic history's dashboard, {}: {} (folder {}: pages.csv, users.csv, summary.json)",
        past.period,
        past.html.display(),
        past.folder.display()
    );
    if serve {
        serve_until_interrupted(&moto.endpoint, &sink, &dev.url, &dashboard, &history, &logs)
            .await?;
    }
    eprintln!("demo: done; stopping moto, wrangler dev, the aggregator and the dashboard");
    Ok(())
}

/// `--serve`: the aggregator consuming again, a trickle of page views through the worker, and
/// the URLs, until Ctrl-C (or SIGTERM).
async fn serve_until_interrupted(
    endpoint: &str,
    sink: &str,
    worker: &str,
    dashboard: &Dashboard,
    history: &History,
    logs: &Path,
) -> Result<()> {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::Arc;
    let consume_log = logs.join("aggregator-consume-serve.log");
    let mut consumer = Service::spawn(
        "aggregator consume",
        xtask::aggregator::command(endpoint).args(["consume", "--stream", STREAM, "--sink", sink]),
        &consume_log,
    )
    .with_context(|| failed("starting aggregator consume again", &consume_log))?;
    let (stop, sent) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicU64::new(0)),
    );
    let trickle = tokio::spawn(xtask::trickle::run(
        worker.to_string(),
        xtask::trickle::Pace::default(),
        stop.clone(),
        sent.clone(),
    ));
    let from = time::format_date(history.plan.first_day);
    eprintln!(
        "demo: serving until Ctrl-C, with about two page views a second through the worker:\n\
         demo:   the live view    {url}/\n\
         demo:   the history      {url}/history?from={from}&to=today&tz=UTC\n\
         demo:   the API          {url}/api/report?date=today\n\
         demo:   the worker       {worker}/ (any path is a page view)",
        url = dashboard.url
    );
    let mut tick = tokio::time::interval(Duration::from_secs(30));
    tick.tick().await;
    loop {
        tokio::select! {
            _ = wait_for_stop() => break,
            _ = tick.tick() => {
                consumer
                    .check_alive()
                    .with_context(|| failed("aggregator consume", &consume_log))?;
                let live = dashboard.live().await.map(|s| count(&s, "hits")).unwrap_or(0);
                eprintln!(
                    "demo: {} page views trickled in so far; the live view counts {live} in its window",
                    sent.load(Ordering::Relaxed)
                );
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    let _ = trickle.await;
    consumer.signal(libc::SIGTERM);
    consumer.stop();
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
async fn wait_for_stop() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async {
            match term.as_mut() {
                Some(t) => { t.recv().await; }
                None => std::future::pending::<()>().await,
            }
        } => {}
    }
}

/// Waits until the live view counts every page view of the burst that is not a crawler's,
/// then prints one line of its snapshot and how it compares with what was sent.
async fn live_line(dashboard: &Dashboard, visits: &[traffic::Visit]) -> Result<()> {
    let human: Vec<&traffic::Visit> = visits.iter().filter(|v| v.page_view && !v.bot).collect();
    let views = human.len() as u64;
    let visitors = human
        .iter()
        .map(|v| &v.user_agent)
        .collect::<HashSet<_>>()
        .len() as u64;
    let s = dashboard
        .wait_for(Duration::from_secs(30), |s| count(s, "hits") >= views)
        .await
        .with_context(|| failed("the live view", dashboard.service.log_path()))?;
    let (hits, seen) = (count(&s, "hits"), count(&s, "visitors"));
    let lag = s["lag_ms"]
        .as_i64()
        .map_or("-".into(), |l| format!("{:.1} s", l as f64 / 1000.0));
    eprintln!(
        "demo: live view ({}/api/live): {} visitors now (last 5 min), {hits} page views and {seen} visitors in the last {} minutes, {} crawler hits left out, newest hit {lag} old; sent {views} page views from {visitors} visitors: {}",
        dashboard.url,
        count(&s, "visitors_now"),
        s["window_minutes"],
        count(&s, "bots"),
        if hits == views && seen == visitors { "they match" } else { "MISMATCH" }
    );
    if hits != views || seen != visitors {
        bail!("the live view counts {hits} page views from {seen} visitors; {views} from {visitors} were sent");
    }
    Ok(())
}

/// A report the demo wrote with `--out`.
struct Written {
    /// What it covers, in words.
    period: String,
    /// The folder `--out` wrote (`dt=DAY/` or `range=FROM_TO/`) and the dashboard in it.
    folder: PathBuf,
    html: PathBuf,
}

/// Prints the report of the live burst's UTC day (two, if it ran over midnight), named by the
/// hits' own days rather than `today`, so a demo started at 23:59 still reports what it sent.
/// Returns it and the burst's first day (days since the epoch).
fn live_report(
    endpoint: &str,
    sink: &str,
    days: &BTreeSet<i64>,
    logs: &Path,
) -> Result<(Written, i64)> {
    let (Some(&first), Some(&last)) = (days.first(), days.last()) else {
        bail!("no hit of the burst was seen in S3");
    };
    let (from, to) = (time::format_date(first), time::format_date(last));
    let period = if first == last {
        vec!["--date", &from]
    } else {
        vec!["--from", &from, "--to", &to]
    };
    let out = logs.join("reports/live");
    let mut args = period.clone();
    args.extend(["--format", "table", "--out", path_str(&out)?]);
    let table = analyzer_report(endpoint, sink, &args, &logs.join("analyzer-live.log"))
        .with_context(|| format!("demo stage failed: analyzer report {}", period.join(" ")))?;
    println!("== {from} (UTC): the live burst through the worker ==\n");
    println!("{table}");
    let folder = written(&out)?;
    let written = Written {
        period: from,
        html: folder.join("report.html"),
        folder,
    };
    Ok((written, first))
}

/// Generates the synthetic history of the days before `today` (days since the epoch), puts it
/// on the stream as the worker puts hits, and lands it with the same aggregator, which drains
/// the stream from the checkpoints where the live consumer stopped.
async fn put_history(
    kin: &aws_sdk_kinesis::Client,
    endpoint: &str,
    sink: &str,
    logs: &Path,
    today: i64,
) -> Result<History> {
    let t = Instant::now();
    let history = history::generate(Plan::demo(today));
    eprintln!(
        "demo: {} ({:.1}s to generate)",
        history.label(),
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    kinesis::put_hits(kin, STREAM, &history.hits, &[])
        .await
        .context("demo stage failed: putting the synthetic history on the stream")?;
    eprintln!(
        "demo: put the {} synthetic hits on {STREAM} like the worker does (PutRecords, JSON, partition key = visitor) in {:.1}s",
        history.hits.len(),
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let log = logs.join("aggregator-history.log");
    let landed = xtask::aggregator::command(endpoint)
        .args(["consume", "--stream", STREAM, "--sink", sink, "--once"])
        .output()
        .context("demo stage failed: running aggregator consume --once")?;
    std::fs::write(&log, [&landed.stdout[..], &landed.stderr[..]].concat())?;
    if !landed.status.success() {
        bail!(
            "{}: {}",
            failed("landing the synthetic history", &log),
            landed.status
        );
    }
    eprintln!(
        "demo: {} ({:.1}s with start-up)",
        last_line(&String::from_utf8_lossy(&landed.stdout)),
        t.elapsed().as_secs_f64()
    );
    Ok(history)
}

/// Compacts the history's days, writes the dashboard of its last week compared with the week
/// before, and prints that report's top rows. Only whole UTC days of the history are in it, so
/// both periods are complete and the live burst (another day, one hour) stays apart.
fn history_dashboard(
    endpoint: &str,
    sink: &str,
    history: &History,
    logs: &Path,
) -> Result<Written> {
    let plan = &history.plan;
    let (first, last) = (
        time::format_date(plan.first_day),
        time::format_date(plan.last_day()),
    );
    let t = Instant::now();
    let log = logs.join("analyzer-compact.log");
    let compacted = analyzer(endpoint)
        .args(["compact", "--source", sink, "--from", &first, "--to", &last])
        .output()
        .context("demo stage failed: running analyzer compact")?;
    std::fs::write(
        &log,
        [&compacted.stdout[..], &compacted.stderr[..]].concat(),
    )?;
    if !compacted.status.success() {
        bail!("{}: {}", failed("analyzer compact", &log), compacted.status);
    }
    eprintln!(
        "demo: analyzer compact --from {first} --to {last}: {} UTC days to Parquet under {sink}/compacted/ in {:.1}s; log {}",
        plan.days,
        t.elapsed().as_secs_f64(),
        log.display()
    );

    let week = i64::from(plan.days.min(2 * COMPARED_DAYS) / 2);
    let from = time::format_date(plan.last_day() - week + 1);
    let period = ["--from", &from, "--to", &last, "--compare"];
    let what = format!("analyzer report {}", period.join(" "));
    let t = Instant::now();
    let out = logs.join("reports/history");
    let log = logs.join("analyzer-history.log");
    // Every row goes to the files; the terminal gets the top rows, as the dashboard does.
    analyzer_report(
        endpoint,
        sink,
        &[&period[..], &["--out", path_str(&out)?]].concat(),
        &log,
    )
    .with_context(|| format!("demo stage failed: {what} --out"))?;
    let top = TOP_ROWS.to_string();
    let table = analyzer_report(
        endpoint,
        sink,
        &[&period[..], &["--format", "table", "--top", &top]].concat(),
        &log,
    )
    .with_context(|| format!("demo stage failed: {what} --format table"))?;
    eprintln!(
        "demo: {what}: the dashboard and the top {TOP_ROWS} rows in {:.1}s",
        t.elapsed().as_secs_f64()
    );
    let title = format!("{from} to {last} (UTC) compared with the {week} days before");
    println!(
        "== {title}: SYNTHETIC HISTORY, generated, not real traffic (top {TOP_ROWS} rows) ==\n"
    );
    println!("{table}");
    let folder = written(&out)?;
    Ok(Written {
        period: title,
        html: folder.join("report.html"),
        folder,
    })
}

/// The analyzer binary pointed at moto.
fn analyzer(endpoint: &str) -> Command {
    let mut cmd = Command::new(paths::workspace_bin("analyzer"));
    moto::client_env(&mut cmd, endpoint);
    cmd
}

/// `analyzer report --source SINK ARGS`: its stdout; its stderr goes to `log`.
fn analyzer_report(endpoint: &str, sink: &str, args: &[&str], log: &Path) -> Result<String> {
    let run = analyzer(endpoint)
        .args(["report", "--source", sink])
        .args(args)
        .output()
        .context("running analyzer report")?;
    std::fs::write(log, &run.stderr)?;
    if !run.status.success() {
        bail!("{} (log {})", run.status, log.display());
    }
    Ok(String::from_utf8_lossy(&run.stdout).into_owned())
}

/// The one folder `--out OUT` wrote: `dt=DAY/` or `range=FROM_TO/`, as the analyzer names it.
fn written(out: &Path) -> Result<PathBuf> {
    std::fs::read_dir(out)?
        .filter_map(|d| d.ok())
        .map(|d| d.path())
        .find(|p| p.join("report.html").exists())
        .with_context(|| format!("no report.html under {}", out.display()))
}

fn path_str(p: &Path) -> Result<&str> {
    p.to_str()
        .with_context(|| format!("{} is not UTF-8", p.display()))
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
    /// The UTC days of the hits (days since the epoch).
    days: BTreeSet<i64>,
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
                    self.days.insert(ts.div_euclid(time::MS_PER_DAY));
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
